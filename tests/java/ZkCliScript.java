// zkCli's own command classes (ZooKeeperMain.executeLine: setquota, listquota, delquota, get,
// ...) run over one session, one command per stdin line, so a whole zkCli session costs one
// JVM start. Run: java -cp <zookeeper classpath>:<dir> ZkCliScript host:port < commands
// Prints "> <command>" before each command and "rc=<zkCli exit code>" after it; the commands'
// stderr goes to stdout so the transcript keeps zkCli's order of lines.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.ZooKeeperMain;

public final class ZkCliScript {
    private ZkCliScript() {
    }

    /** ZooKeeperMain over an existing session, with its exit code readable. */
    static final class Cli extends ZooKeeperMain {
        Cli(ZooKeeper zk) {
            super(zk);
        }

        int exitCode() {
            return exitCode;
        }
    }

    public static void main(String[] args) throws Exception {
        // Before ZooKeeperMain's command objects capture System.err.
        System.setErr(System.out);
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(args[0], 30000, event -> {
            if (event.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        });
        if (!connected.await(30, TimeUnit.SECONDS)) {
            System.out.println("NOT CONNECTED");
            System.exit(2);
        }
        Cli cli = new Cli(zk);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            System.out.println("> " + line);
            cli.executeLine(line);
            System.out.println("rc=" + cli.exitCode());
            System.out.flush();
        }
        zk.close();
        System.exit(0);
    }
}
