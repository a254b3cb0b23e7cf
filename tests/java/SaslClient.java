// A Java client that logs in with SASL through JAAS (the file named by
// -Djava.security.auth.login.config, section Client), as Kafka brokers do.
// Run: java -cp <zookeeper classpath>:<dir> -Djava.security.auth.login.config=F SaslClient
//      connectString path
// Output, one record a line:
//   STATE <KeeperState>            every connection state event until the first settles it
//   WHOAMI <scheme>:<user> ...      whoAmI, sorted
//   CREATE <path> | CREATE_ERR <code>   create path with ACL sasl:<authenticated user>, ALL
//   ACL <perms> <scheme>:<id> ...   getACL of path
//   GET <code>                      getData of path (0 = allowed)
//   DELETE <code>
// Exit 0 once done, 2 when the client never connected.

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;

public final class SaslClient {
    private SaslClient() {
    }

    private static synchronized void out(String line) {
        System.out.println(line);
        System.out.flush();
    }

    public static void main(String[] args) throws Exception {
        String connect = args[0];
        String path = args[1];
        CountDownLatch settled = new CountDownLatch(1);
        Watcher watcher = (WatchedEvent e) -> {
            if (e.getType() != Watcher.Event.EventType.None) {
                return;
            }
            out("STATE " + e.getState());
            Watcher.Event.KeeperState s = e.getState();
            if (s == Watcher.Event.KeeperState.SaslAuthenticated
                    || s == Watcher.Event.KeeperState.AuthFailed) {
                settled.countDown();
            }
        };
        ZooKeeper zk = new ZooKeeper(connect, 30000, watcher);
        if (!settled.await(20, TimeUnit.SECONDS)) {
            out("NOT_SETTLED");
        }
        try {
            List<String> who = new ArrayList<>();
            for (ClientInfo ci : zk.whoAmI()) {
                who.add(ci.getAuthScheme() + ":" + ci.getUser());
            }
            Collections.sort(who);
            out("WHOAMI " + String.join(" ", who));
        } catch (RuntimeException e) {
            out("WHOAMI_ERR " + e.getClass().getSimpleName());
        }
        try {
            List<ACL> acl = new ArrayList<>();
            acl.add(new ACL(31, new Id("sasl", args.length > 2 ? args[2] : "bob")));
            out("CREATE " + zk.create(path, "x".getBytes(), acl, CreateMode.PERSISTENT));
        } catch (KeeperException e) {
            out("CREATE_ERR " + e.code().intValue());
        }
        try {
            Stat st = new Stat();
            List<String> acls = new ArrayList<>();
            for (ACL a : zk.getACL(path, st)) {
                acls.add(a.getPerms() + " " + a.getId().getScheme() + ":" + a.getId().getId());
            }
            out("ACL " + String.join(" ", acls));
        } catch (KeeperException e) {
            out("ACL_ERR " + e.code().intValue());
        }
        try {
            zk.getData(path, false, null);
            out("GET 0");
        } catch (KeeperException e) {
            out("GET " + e.code().intValue());
        }
        try {
            zk.delete(path, -1);
            out("DELETE 0");
        } catch (KeeperException e) {
            out("DELETE " + e.code().intValue());
        }
        zk.close();
    }
}
