// A Java-client writer kept open through a rolling replacement of the ensemble's servers.
// Run: java -cp <zookeeper classpath>:<dir> MixedWriter connectString parent sessionTimeoutMs
// One session for the whole run. Until a line "stop" (or EOF) on stdin it creates
// parent/j00000, parent/j00001, ... and after each acknowledged create bumps parent's data with
// a versioned setData. Output, one record a line, flushed at once:
//   SESSION 0x<id> <negotiated timeout>   once connected
//   STATE <KeeperState>                   every connection state event (reconnects are fine)
//   ACK <name>                            create acknowledged
//   UNKNOWN <name> <error code>           create failed: the name's fate is unknown
//   SETDATA <version>                     versioned setData acknowledged, new version
//   FINAL 0x<id> expired=<bool> acked=<n> unknown=<n>
// Exit 0 unless the session never connected.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;

public final class MixedWriter {
    private static final AtomicBoolean STOP = new AtomicBoolean(false);
    private static final AtomicBoolean EXPIRED = new AtomicBoolean(false);

    private MixedWriter() {
    }

    private static synchronized void out(String line) {
        System.out.println(line);
        System.out.flush();
    }

    private static void pause(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public static void main(String[] args) throws Exception {
        String connect = args[0];
        String parent = args[1];
        int timeoutMs = Integer.parseInt(args[2]);
        CountDownLatch connected = new CountDownLatch(1);
        Watcher watcher = (WatchedEvent e) -> {
            if (e.getType() != Watcher.Event.EventType.None) {
                return;
            }
            out("STATE " + e.getState());
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            } else if (e.getState() == Watcher.Event.KeeperState.Expired) {
                EXPIRED.set(true);
            }
        };
        ZooKeeper zk = new ZooKeeper(connect, timeoutMs, watcher);
        if (!connected.await(30, TimeUnit.SECONDS)) {
            out("FINAL 0x0 expired=false acked=0 unknown=0 (never connected)");
            System.exit(2);
        }
        long session = zk.getSessionId();
        out("SESSION 0x" + Long.toHexString(session) + " " + zk.getSessionTimeout());

        Thread stdin = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(
                    new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null && !line.trim().equals("stop")) {
                    // keep reading until told to stop
                }
            } catch (Exception ignored) {
                // EOF or a broken pipe: stop as well
            }
            STOP.set(true);
        });
        stdin.setDaemon(true);
        stdin.start();

        int acked = 0;
        int unknown = 0;
        int version = -2;  // parent's dataVersion as last acknowledged; -2: not read yet
        int n = 0;
        while (!STOP.get() && !EXPIRED.get()) {
            try {
                if (version == -2) {
                    try {
                        zk.create(parent, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE,
                                  CreateMode.PERSISTENT);
                    } catch (KeeperException.NodeExistsException ignored) {
                        // made by an earlier try whose reply was lost
                    }
                    Stat st = zk.exists(parent, false);
                    version = st.getVersion();
                }
            } catch (KeeperException e) {
                pause(50);
                continue;
            }
            String name = String.format("j%05d", n++);
            try {
                zk.create(parent + "/" + name, name.getBytes(StandardCharsets.UTF_8),
                          ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
                acked++;
                out("ACK " + name);
            } catch (KeeperException e) {
                unknown++;
                out("UNKNOWN " + name + " " + e.code());
                pause(50);
                continue;
            }
            try {
                Stat st = zk.setData(parent, name.getBytes(StandardCharsets.UTF_8), version);
                version = st.getVersion();
                out("SETDATA " + version);
            } catch (KeeperException e) {
                // Connection loss (the update may or may not have happened) or BadVersion
                // after such a loss: read the version again before the next update.
                version = -2;
            }
            pause(5);  // a steady writer, not a load generator: the box is shared
        }
        out("FINAL 0x" + Long.toHexString(session) + " expired=" + EXPIRED.get()
            + " acked=" + acked + " unknown=" + unknown);
        zk.close(5000);
        System.exit(0);
    }
}
