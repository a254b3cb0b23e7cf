// Kafka's ZooKeeper usage, replayed through the real Java client (org.apache.zookeeper 3.8).
// Run: java -cp <zookeeper classpath>:<dir> KafkaFlows host:port
// Prints one "STEP <name> OK <detail>" line per step; any failure prints "STEP <name> FAIL ..."
// and exits 1. The znode layout and op shapes follow Kafka's KafkaZkClient / ZkData
// (registerBroker = multi(create EPHEMERAL null data, setData JSON), controller epoch bumped by a
// versioned setData inside a multi, partition state updated by conditional setData, config
// change notifications as persistent sequential nodes).

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.zookeeper.AsyncCallback;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

public final class KafkaFlows {
    private static final long WAIT_S = 20;
    private static final List<ACL> OPEN = ZooDefs.Ids.OPEN_ACL_UNSAFE;
    private static String current = "setup";

    private KafkaFlows() {
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String str(byte[] b) {
        return b == null ? "null" : new String(b, StandardCharsets.UTF_8);
    }

    private static void ok(String detail) {
        System.out.println("STEP " + current + " OK " + detail);
        System.out.flush();
    }

    private static void check(boolean cond, String what) {
        if (!cond) {
            throw new AssertionError(what);
        }
    }

    private static String statLine(Stat s) {
        return String.format("czxid=0x%x mzxid=0x%x pzxid=0x%x ctime=%d mtime=%d version=%d cversion=%d "
                + "aversion=%d ephemeralOwner=0x%x dataLength=%d numChildren=%d", s.getCzxid(), s.getMzxid(),
                s.getPzxid(), s.getCtime(), s.getMtime(), s.getVersion(), s.getCversion(), s.getAversion(),
                s.getEphemeralOwner(), s.getDataLength(), s.getNumChildren());
    }

    /** A session whose watcher queues every event; connect() waits for SyncConnected. */
    private static final class Session implements Watcher {
        final BlockingQueue<WatchedEvent> events = new LinkedBlockingQueue<>();
        final CountDownLatch connected = new CountDownLatch(1);
        final ZooKeeper zk;

        Session(String hosts) throws Exception {
            zk = new ZooKeeper(hosts, 10000, this);
            check(connected.await(WAIT_S, TimeUnit.SECONDS), "session did not connect to " + hosts);
        }

        @Override
        public void process(WatchedEvent event) {
            if (event.getType() == Event.EventType.None) {
                if (event.getState() == Event.KeeperState.SyncConnected) {
                    connected.countDown();
                }
                return;
            }
            events.add(event);
        }
    }

    /** Queue of events for one-shot watchers passed explicitly to an API call. */
    private static final class Catcher implements Watcher {
        final BlockingQueue<WatchedEvent> events = new LinkedBlockingQueue<>();

        @Override
        public void process(WatchedEvent event) {
            if (event.getType() != Event.EventType.None) {
                events.add(event);
            }
        }

        WatchedEvent next() throws InterruptedException {
            WatchedEvent e = events.poll(WAIT_S, TimeUnit.SECONDS);
            check(e != null, "no watch event within " + WAIT_S + " s");
            return e;
        }
    }

    private static String brokerJson(int id, int port) {
        return "{\"features\":{},\"listener_security_protocol_map\":{\"PLAINTEXT\":\"PLAINTEXT\"},"
                + "\"endpoints\":[\"PLAINTEXT://localhost:" + port + "\"],\"jmx_port\":-1,\"port\":" + port
                + ",\"host\":\"localhost\",\"version\":5,\"timestamp\":\"" + System.currentTimeMillis() + "\"}";
    }

    /** Kafka's CheckedEphemeral: create with null data and set the payload in one transaction. */
    private static Stat registerBroker(ZooKeeper zk, int id, int port) throws Exception {
        String path = "/brokers/ids/" + id;
        List<OpResult> res = zk.multi(Arrays.asList(
                Op.create(path, null, OPEN, CreateMode.EPHEMERAL),
                Op.setData(path, utf8(brokerJson(id, port)), 0)));
        check(res.size() == 2, "multi returned " + res.size() + " results");
        check(res.get(0) instanceof OpResult.CreateResult, "first result " + res.get(0));
        check(((OpResult.CreateResult) res.get(0)).getPath().equals(path), "created path");
        check(res.get(1) instanceof OpResult.SetDataResult, "second result " + res.get(1));
        return ((OpResult.SetDataResult) res.get(1)).getStat();
    }

    /**
     * ZooKeeper promises a session its own writes in order, not another session's: a server may
     * lag the commit another session was answered on (Programmer's Guide, "Consistency
     * Guarantees"). Over a multi-server connect string, a session syncs before it reads what
     * another session wrote, as a client that needs it must.
     */
    private static void catchUp(ZooKeeper zk, String path) throws InterruptedException {
        CountDownLatch synced = new CountDownLatch(1);
        AtomicInteger rc = new AtomicInteger(-999);
        zk.sync(path, (r, p, ctx) -> {
            rc.set(r);
            synced.countDown();
        }, null);
        check(synced.await(WAIT_S, TimeUnit.SECONDS), "sync before a cross-session read");
        check(rc.get() == 0, "sync rc=" + rc.get());
    }

    private static void ensurePersistent(ZooKeeper zk, String... paths) throws Exception {
        for (String p : paths) {
            try {
                zk.create(p, null, OPEN, CreateMode.PERSISTENT);
            } catch (KeeperException.NodeExistsException e) {
                // Kafka's createRecursive tolerates existing parents the same way.
            }
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: KafkaFlows host:port");
            System.exit(2);
        }
        String hosts = args[0];
        try {
            run(hosts);
        } catch (Throwable t) {
            System.out.println("STEP " + current + " FAIL " + t);
            t.printStackTrace(System.err);
            System.out.flush();
            System.exit(1);
        }
        System.out.println("ALL OK");
        System.exit(0);
    }

    private static void run(String hosts) throws Exception {
        current = "connect";
        Session admin = new Session(hosts);
        Session broker1 = new Session(hosts);
        Session broker2 = new Session(hosts);
        ZooKeeper zk = admin.zk;
        ok("sessions=0x" + Long.toHexString(admin.zk.getSessionId()) + ",0x"
                + Long.toHexString(broker1.zk.getSessionId()) + ",0x" + Long.toHexString(broker2.zk.getSessionId()));

        current = "layout";
        ensurePersistent(zk, "/brokers", "/brokers/ids", "/brokers/topics", "/config", "/config/changes",
                "/admin", "/isr_change_notification");
        ok("persistent parents created");

        current = "broker_register";
        Stat s1 = registerBroker(broker1.zk, 1, 9092);
        check(s1.getVersion() == 1, "version after create+setData " + s1.getVersion());
        check(s1.getEphemeralOwner() == broker1.zk.getSessionId(), "ephemeral owner");
        check(s1.getCzxid() == s1.getMzxid(), "create and setData share one zxid in a multi");
        Stat got = new Stat();
        catchUp(zk, "/brokers/ids/1");
        byte[] data = zk.getData("/brokers/ids/1", false, got);
        check(str(data).equals(str(zk.getData("/brokers/ids/1", false, null))), "stable data");
        check(str(data).contains("\"endpoints\":[\"PLAINTEXT://localhost:9092\"]"), "json payload " + str(data));
        check(got.getDataLength() == data.length, "dataLength");
        ok("version=" + got.getVersion() + " dataLength=" + got.getDataLength());

        current = "null_data_roundtrip";
        zk.create("/admin/null_node", null, OPEN, CreateMode.PERSISTENT);
        Stat ns = new Stat();
        catchUp(broker2.zk, "/admin/null_node");
        byte[] nd = broker2.zk.getData("/admin/null_node", false, ns);
        check(nd == null, "null data came back as " + (nd == null ? "null" : nd.length + " bytes"));
        check(ns.getDataLength() == 0, "dataLength of null data " + ns.getDataLength());
        zk.create("/admin/empty_node", new byte[0], OPEN, CreateMode.PERSISTENT);
        catchUp(broker2.zk, "/admin/empty_node");
        byte[] ed = broker2.zk.getData("/admin/empty_node", false, null);
        check(ed != null && ed.length == 0, "empty data came back as " + (ed == null ? "null" : ed.length));
        ok("null->null empty->0 bytes");

        current = "broker_child_watch";
        Catcher childWatch = new Catcher();
        List<String> before = zk.getChildren("/brokers/ids", childWatch);
        check(before.equals(Collections.singletonList("1")), "children " + before);
        registerBroker(broker2.zk, 2, 9093);
        WatchedEvent ev = childWatch.next();
        check(ev.getType() == Watcher.Event.EventType.NodeChildrenChanged, "event " + ev);
        check("/brokers/ids".equals(ev.getPath()), "event path " + ev.getPath());
        ok("NodeChildrenChanged on register path=" + ev.getPath());

        current = "controller_election";
        Stat epochStat = new Stat();
        try {
            zk.create("/controller_epoch", utf8("0"), OPEN, CreateMode.PERSISTENT);
        } catch (KeeperException.NodeExistsException e) {
            // A rerun against a reused server keeps the old epoch.
        }
        byte[] epochData = zk.getData("/controller_epoch", false, epochStat);
        int epoch = Integer.parseInt(str(epochData));
        String ctrl = "{\"version\":1,\"brokerid\":1,\"timestamp\":\"" + System.currentTimeMillis() + "\"}";
        List<OpResult> won = broker1.zk.multi(Arrays.asList(
                Op.create("/controller", utf8(ctrl), OPEN, CreateMode.EPHEMERAL),
                Op.setData("/controller_epoch", utf8(Integer.toString(epoch + 1)), epochStat.getVersion())));
        Stat newEpoch = ((OpResult.SetDataResult) won.get(1)).getStat();
        check(newEpoch.getVersion() == epochStat.getVersion() + 1, "epoch version bumped");
        ok("controller=1 epoch=" + (epoch + 1) + " epochZkVersion=" + newEpoch.getVersion());

        current = "controller_lost_race";
        try {
            broker2.zk.multi(Arrays.asList(
                    Op.create("/controller", utf8("{\"brokerid\":2}"), OPEN, CreateMode.EPHEMERAL),
                    Op.setData("/controller_epoch", utf8(Integer.toString(epoch + 1)), epochStat.getVersion())));
            throw new AssertionError("second controller multi succeeded");
        } catch (KeeperException.NodeExistsException e) {
            List<OpResult> rs = e.getResults();
            check(rs != null && rs.size() == 2, "error results " + rs);
            check(((OpResult.ErrorResult) rs.get(0)).getErr() == KeeperException.Code.NODEEXISTS.intValue(),
                    "first op err");
            check(((OpResult.ErrorResult) rs.get(1)).getErr() == KeeperException.Code.RUNTIMEINCONSISTENCY.intValue(),
                    "second op err " + ((OpResult.ErrorResult) rs.get(1)).getErr());
        }
        try {
            broker2.zk.multi(Arrays.asList(
                    Op.check("/controller_epoch", epochStat.getVersion()),
                    Op.setData("/controller_epoch", utf8("99"), -1)));
            throw new AssertionError("stale epoch check succeeded");
        } catch (KeeperException.BadVersionException e) {
            check(e.getPath() == null || e.getPath().equals("/controller_epoch"), "path " + e.getPath());
        }
        catchUp(zk, "/controller_epoch");
        check(str(zk.getData("/controller_epoch", false, null)).equals(Integer.toString(epoch + 1)),
                "epoch unchanged after failed multi");
        ok("NODEEXISTS+RUNTIMEINCONSISTENCY then BADVERSION; epoch kept");

        current = "topic_create";
        String topic = "/brokers/topics/orders";
        String assignment = "{\"version\":3,\"partitions\":{\"0\":[1,2],\"1\":[2,1]},"
                + "\"adding_replicas\":{},\"removing_replicas\":{}}";
        zk.create(topic, utf8(assignment), OPEN, CreateMode.PERSISTENT);
        List<Op> parts = new ArrayList<>();
        parts.add(Op.create(topic + "/partitions", null, OPEN, CreateMode.PERSISTENT));
        for (int p = 0; p < 2; p++) {
            String pp = topic + "/partitions/" + p;
            int leader = p == 0 ? 1 : 2;
            parts.add(Op.create(pp, null, OPEN, CreateMode.PERSISTENT));
            parts.add(Op.create(pp + "/state", utf8("{\"controller_epoch\":" + (epoch + 1) + ",\"leader\":"
                    + leader + ",\"version\":1,\"leader_epoch\":0,\"isr\":[1,2]}"), OPEN, CreateMode.PERSISTENT));
        }
        List<OpResult> made = zk.multi(parts);
        check(made.size() == 5, "results " + made.size());
        List<String> partitions = zk.getChildren(topic + "/partitions", false);
        Collections.sort(partitions);
        check(partitions.equals(Arrays.asList("0", "1")), "partitions " + partitions);
        ok("partitions=" + partitions);

        current = "isr_update";
        String state0 = topic + "/partitions/0/state";
        Stat st = new Stat();
        zk.getData(state0, false, st);
        int v0 = st.getVersion();
        Stat afterIsr = zk.setData(state0, utf8("{\"controller_epoch\":" + (epoch + 1)
                + ",\"leader\":1,\"version\":1,\"leader_epoch\":1,\"isr\":[1]}"), v0);
        check(afterIsr.getVersion() == v0 + 1, "version after ISR shrink");
        try {
            zk.setData(state0, utf8("{\"isr\":[1,2]}"), v0);
            throw new AssertionError("stale-version setData succeeded");
        } catch (KeeperException.BadVersionException e) {
            check(e.code() == KeeperException.Code.BADVERSION, "code");
        }
        check(str(zk.getData(state0, false, null)).contains("\"isr\":[1]"), "ISR after failed update");
        ok("version " + v0 + "->" + afterIsr.getVersion() + ", stale write BADVERSION");

        current = "config_change_sequential";
        String c1 = zk.create("/config/changes/config_change_", utf8("{\"version\":2,\"entity_path\":\"topics/orders\"}"),
                OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
        String c2 = zk.create("/config/changes/config_change_", utf8("{\"version\":2,\"entity_path\":\"brokers/1\"}"),
                OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
        check(c1.matches("/config/changes/config_change_\\d{10}"), "sequential name " + c1);
        long n1 = Long.parseLong(c1.substring(c1.length() - 10));
        long n2 = Long.parseLong(c2.substring(c2.length() - 10));
        check(n2 == n1 + 1, "sequence " + n1 + "," + n2);
        ok(c1 + " " + c2);

        current = "children2_async";
        CountDownLatch done = new CountDownLatch(1);
        AtomicInteger rcHolder = new AtomicInteger(-999);
        AtomicReference<List<String>> kids = new AtomicReference<>();
        AtomicReference<Stat> kidStat = new AtomicReference<>();
        zk.getChildren("/config/changes", false, (AsyncCallback.Children2Callback) (rc, path, ctx, children, stat) -> {
            rcHolder.set(rc);
            kids.set(children);
            kidStat.set(stat);
            check("ctx-token".equals(ctx), "ctx");
            done.countDown();
        }, "ctx-token");
        check(done.await(WAIT_S, TimeUnit.SECONDS), "Children2Callback not called");
        check(rcHolder.get() == 0, "rc " + rcHolder.get());
        check(kids.get().size() == 2 && kidStat.get().getNumChildren() == 2, "children " + kids.get());
        check(kidStat.get().getCversion() >= 2, "cversion " + kidStat.get().getCversion());
        ok("children=" + kids.get().size() + " cversion=" + kidStat.get().getCversion()
                + " pzxid=0x" + Long.toHexString(kidStat.get().getPzxid()));

        current = "broker_session_close_watch";
        Catcher dieWatch = new Catcher();
        List<String> live = zk.getChildren("/brokers/ids", dieWatch);
        Collections.sort(live);
        check(live.equals(Arrays.asList("1", "2")), "live brokers " + live);
        broker2.zk.close();
        WatchedEvent died = dieWatch.next();
        check(died.getType() == Watcher.Event.EventType.NodeChildrenChanged, "event " + died);
        List<String> after = zk.getChildren("/brokers/ids", false);
        check(after.equals(Collections.singletonList("1")), "after close " + after);
        ok("NodeChildrenChanged path=" + died.getPath() + " remaining=" + after);

        current = "create2_stat";
        Stat cs = new Stat();
        String created = zk.create("/admin/create2", utf8("abc"), OPEN, CreateMode.PERSISTENT, cs);
        check(created.equals("/admin/create2"), "path");
        check(cs.getCzxid() == cs.getMzxid() && cs.getCzxid() == cs.getPzxid(), "zxids " + statLine(cs));
        check(cs.getVersion() == 0 && cs.getDataLength() == 3 && cs.getEphemeralOwner() == 0, statLine(cs));
        ok(statLine(cs));

        current = "create_container";
        String cont = zk.create("/admin/container", null, OPEN, CreateMode.CONTAINER);
        Stat contStat = zk.exists(cont, false);
        check(contStat != null, "container exists");
        // Containers are stored with owner Long.MIN_VALUE, but clients see 0 (DataNode.copyStat ->
        // getClientEphemeralOwner hides container/TTL markers).
        check(contStat.getEphemeralOwner() == 0,
                "container owner 0x" + Long.toHexString(contStat.getEphemeralOwner()));
        zk.create(cont + "/child", null, OPEN, CreateMode.PERSISTENT);
        ok("ephemeralOwner=0x" + Long.toHexString(contStat.getEphemeralOwner()));

        current = "exists_watch";
        Catcher existsWatch = new Catcher();
        check(zk.exists("/admin/later", existsWatch) == null, "absent node has a stat");
        broker1.zk.create("/admin/later", utf8("x"), OPEN, CreateMode.PERSISTENT);
        WatchedEvent ce = existsWatch.next();
        check(ce.getType() == Watcher.Event.EventType.NodeCreated && "/admin/later".equals(ce.getPath()), "" + ce);
        Catcher dataWatch = new Catcher();
        check(zk.exists("/admin/later", dataWatch) != null, "present");
        broker1.zk.setData("/admin/later", utf8("y"), -1);
        WatchedEvent de = dataWatch.next();
        check(de.getType() == Watcher.Event.EventType.NodeDataChanged, "" + de);
        ok("NodeCreated then NodeDataChanged");

        current = "digest_acl";
        Session secure = new Session(hosts);
        secure.zk.addAuthInfo("digest", utf8("kafka:secret"));
        secure.zk.create("/admin/secured", utf8("s"), ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
        List<ACL> acl = secure.zk.getACL("/admin/secured", new Stat());
        String expectedId = DigestAuthenticationProvider.generateDigest("kafka:secret");
        check(acl.size() == 1 && acl.get(0).getId().getScheme().equals("digest")
                && acl.get(0).getId().getId().equals(expectedId) && acl.get(0).getPerms() == ZooDefs.Perms.ALL,
                "acl " + acl);
        catchUp(zk, "/admin/secured");
        try {
            zk.getData("/admin/secured", false, null);
            throw new AssertionError("read without auth succeeded");
        } catch (KeeperException.NoAuthException e) {
            check(e.code() == KeeperException.Code.NOAUTH, "code");
        }
        try {
            zk.setACL("/admin/secured", OPEN, -1);
            throw new AssertionError("setACL without auth succeeded");
        } catch (KeeperException.NoAuthException e) {
            check(e.code() == KeeperException.Code.NOAUTH, "code");
        }
        List<ACL> readable = new ArrayList<>(acl);
        readable.add(new ACL(ZooDefs.Perms.READ, new Id("world", "anyone")));
        Stat aclStat = secure.zk.setACL("/admin/secured", readable, 0);
        check(aclStat.getAversion() == 1, "aversion " + aclStat.getAversion());
        catchUp(zk, "/admin/secured");
        check(str(zk.getData("/admin/secured", false, null)).equals("s"), "read after world:anyone READ");
        try {
            secure.zk.setACL("/admin/secured", OPEN, 0);
            throw new AssertionError("stale aversion setACL succeeded");
        } catch (KeeperException.BadVersionException e) {
            check(e.code() == KeeperException.Code.BADVERSION, "code");
        }
        secure.zk.close();
        ok("id=" + expectedId + " aversion=" + aclStat.getAversion());

        current = "sync";
        CountDownLatch synced = new CountDownLatch(1);
        AtomicInteger syncRc = new AtomicInteger(-999);
        AtomicReference<String> syncPath = new AtomicReference<>();
        zk.sync("/brokers", (rc, path, ctx) -> {
            syncRc.set(rc);
            syncPath.set(path);
            synced.countDown();
        }, null);
        check(synced.await(WAIT_S, TimeUnit.SECONDS), "sync callback");
        check(syncRc.get() == 0 && "/brokers".equals(syncPath.get()), "sync rc=" + syncRc.get() + " " + syncPath.get());
        ok("rc=0 path=" + syncPath.get());

        current = "stat_printout";
        Stat root = zk.exists("/brokers/topics/orders/partitions/0/state", false);
        check(root != null && root.getVersion() == 1, "state stat");
        ok(statLine(root));

        current = "session_close";
        broker1.zk.close();
        catchUp(zk, "/");
        check(zk.exists("/controller", false) == null, "controller ephemeral gone after close");
        check(zk.getChildren("/brokers/ids", false).isEmpty(), "no brokers left");
        admin.zk.close();
        ok("ephemerals removed");
    }
}
