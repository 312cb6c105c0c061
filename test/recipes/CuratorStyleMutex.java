// A Java peer for zkctl's interop tests, using ONLY the ZooKeeper Java client (Debian's zookeeper.jar).
// It follows Apache Curator's InterProcessMutex protocol as Curator's source writes it - it is NOT Curator:
//   - node: create(<path>/_c_<UUID.randomUUID()>-lock-, data, EPHEMERAL_SEQUENTIAL), parents as containers
//     (CreateBuilderImpl withProtection: PROTECTED_PREFIX "_c_" + uuid + '-'; LockInternals: path + "lock-")
//   - data: InetAddress.getLocalHost().getHostAddress() (CuratorFrameworkFactory's default data)
//   - order: children sorted by StandardLockInternalsDriver.standardFixForSorting(name, "lock-")
//   - holds when its index < 1; otherwise getData(previous, watcher) and wait
// Usage: java -cp zookeeper.jar:DIR CuratorStyleMutex HOSTS PATH hold|try|wait [TIMEOUT_MS]
//   hold: acquire, print "acquired <node>", hold until stdin closes, delete the node
//   try:  print "acquired <node>" (and release) or "busy" (and delete our node)
//   wait: like hold but give up after TIMEOUT_MS: print "timeout"
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;

public class CuratorStyleMutex {
    static final String LOCK_NAME = "lock-";

    static String standardFixForSorting(String str, String lockName) {
        int index = str.lastIndexOf(lockName);
        if (index >= 0) {
            index += lockName.length();
            return index <= str.length() ? str.substring(index) : "";
        }
        return str;
    }

    static void mkdirsContainers(ZooKeeper zk, String path) throws Exception {
        StringBuilder cur = new StringBuilder();
        for (String part : path.substring(1).split("/")) {
            cur.append('/').append(part);
            try {
                zk.create(cur.toString(), new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER);
            } catch (KeeperException.NodeExistsException e) {
                // fine
            }
        }
    }

    public static void main(String[] args) throws Exception {
        String hosts = args[0], path = args[1], mode = args[2];
        long timeoutMs = args.length > 3 ? Long.parseLong(args[3]) : Long.MAX_VALUE;
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(hosts, 30000, e -> { if (e.getState() == Watcher.Event.KeeperState.SyncConnected) connected.countDown(); });
        if (!connected.await(15, TimeUnit.SECONDS)) throw new IOException("cannot connect to " + hosts);
        byte[] data = InetAddress.getLocalHost().getHostAddress().getBytes(StandardCharsets.UTF_8);
        String prefix = "_c_" + UUID.randomUUID() + "-" + LOCK_NAME;
        mkdirsContainers(zk, path);
        String ours = zk.create(path + "/" + prefix, data, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL_SEQUENTIAL);
        String ourName = ours.substring(path.length() + 1);
        long deadline = timeoutMs == Long.MAX_VALUE ? Long.MAX_VALUE : System.currentTimeMillis() + timeoutMs;
        while (true) {
            List<String> children = new ArrayList<>(zk.getChildren(path, false));
            children.sort((a, b) -> standardFixForSorting(a, LOCK_NAME).compareTo(standardFixForSorting(b, LOCK_NAME)));
            int idx = children.indexOf(ourName);
            if (idx < 0) throw new IllegalStateException("our node vanished: " + ourName);
            if (idx < 1) break;
            if (mode.equals("try")) {
                zk.delete(ours, -1);
                System.out.println("busy");
                zk.close();
                return;
            }
            CountDownLatch gone = new CountDownLatch(1);
            try {
                zk.getData(path + "/" + children.get(idx - 1), e -> gone.countDown(), null);
            } catch (KeeperException.NoNodeException e) {
                continue;
            }
            long left = deadline - System.currentTimeMillis();
            if (left <= 0 || !gone.await(Math.min(left, 3_600_000L), TimeUnit.MILLISECONDS)) {
                if (System.currentTimeMillis() >= deadline) {
                    zk.delete(ours, -1);
                    System.out.println("timeout");
                    zk.close();
                    return;
                }
            }
        }
        System.out.println("acquired " + ourName);
        System.out.flush();
        if (!mode.equals("try")) {
            while (System.in.read() >= 0) { /* hold until stdin closes */ }
        }
        zk.delete(ours, -1);
        zk.close();
    }
}
