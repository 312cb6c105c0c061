// Interop peer for zkctl's lock/election tests: the REAL Apache Curator 5.4 recipes (Debian's
// libcurator-recipes-java), driven from the test through stdin/stdout.
//
// Usage: java -cp CLASSPATH CuratorPeer CONNECT MODE PATH [ARGS]
//   mutex-hold PATH               InterProcessMutex.acquire(); print "acquired <node>"; hold until stdin EOF
//   mutex-try PATH                acquire(0 ms): print "acquired <node>" (then release) or "busy"
//   mutex-wait PATH TIMEOUT_MS    acquire(TIMEOUT_MS): "acquired <node>" and hold until stdin EOF, or "timeout"
//   mutex-revocable PATH          InterProcessMutex made revocable (makeRevocable) then acquire(); print
//                                 "acquired <node>"; when revocation is requested (node data set to __REVOKE__)
//                                 print "revoke-requested" and release(), print "released"; or release on stdin EOF
//   revoke NODE_PATH              Revoker.attemptRevoke(client, NODE_PATH); print "revoke-sent"
//   read-hold PATH / write-hold PATH
//                                 InterProcessReadWriteLock(PATH).readLock() / .writeLock().acquire(); print
//                                 "acquired <own node>"; hold until stdin EOF
//   read-wait PATH TIMEOUT_MS / write-wait PATH TIMEOUT_MS
//                                 acquire(TIMEOUT_MS): "acquired <own node>" and hold until stdin EOF, or "timeout"
//   read-try PATH / write-try PATH
//                                 acquire(0 ms): "acquired <own node>" (then release) or "busy"
//   latch PATH ID                 LeaderLatch(PATH, ID): print "leader <node>" when elected, "follower" when it
//                                 loses leadership; close() on stdin EOF
//   selector PATH ID              LeaderSelector(PATH) with id ID: takeLeadership prints "leader <node>" and
//                                 returns on stdin EOF; close() then
// While running, each stdin line is a query answered on one stdout line (read after a sync of PATH):
//   participants  -> "participants <json array of node names, in Curator's order>"
//   ids           -> "ids <json array of participant ids, in order>"                (latch, selector)
//   leader        -> "leader-id <id of getLeader()>"                                 (latch, selector)
//   has           -> "has <true|false>" (hasLeadership / isAcquiredInThisProcess)
//   (read/write locks: participants lists the nodes of that side only, as Curator's getParticipantNodes does)
// On stdin EOF: release / close, close the client, print "closed" and exit 0. Errors: message on stderr, exit 2.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.framework.recipes.leader.Participant;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.LockInternals;
import org.apache.curator.framework.recipes.locks.Revoker;
import org.apache.curator.framework.recipes.locks.StandardLockInternalsDriver;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.utils.ZKPaths;

public class CuratorPeer {
    static synchronized void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    static String json(Collection<String> items) {
        StringBuilder b = new StringBuilder("[");
        for (String s : items) {
            if (b.length() > 1) b.append(',');
            b.append('"').append(s.replace("\\", "\\\\").replace("\"", "\\\"")).append('"');
        }
        return b.append(']').toString();
    }

    static List<String> names(Collection<String> paths) {
        List<String> out = new ArrayList<>();
        for (String p : paths) out.add(ZKPaths.getNodeFromPath(p));
        return out;
    }

    static List<String> ids(Collection<Participant> ps) {
        List<String> out = new ArrayList<>();
        for (Participant p : ps) out.add(p.getId());
        return out;
    }

    /**
     * Participant nodes (full paths) in Curator's own order: what LeaderLatch.getParticipants (lockName
     * "latch-") and LeaderSelector/InterProcessMutex.getParticipantNodes (lockName "lock-") read.
     */
    static Collection<String> nodes(CuratorFramework client, String path, String lockName) throws Exception {
        return LockInternals.getParticipantNodes(client, path, lockName, new StandardLockInternalsDriver());
    }

    /** The two sides of InterProcessReadWriteLock, with their own node exposed (getLockPath is protected). */
    static class PeerReadLock extends InterProcessReadWriteLock.ReadLock {
        PeerReadLock(CuratorFramework c, String path, InterProcessReadWriteLock.WriteLock w) { super(c, path, null, w); }
        String ours() { return getLockPath(); }
    }

    static class PeerWriteLock extends InterProcessReadWriteLock.WriteLock {
        PeerWriteLock(CuratorFramework c, String path) { super(c, path, null); }
        String ours() { return getLockPath(); }
    }

    interface Query {
        String answer(String q) throws Exception;
    }

    /**
     * Answer stdin queries until EOF. Each answer is read after a sync of PATH, so it sees every change
     * the ensemble committed before the query (the test's other clients may talk to other servers).
     */
    static void serve(CuratorFramework client, String path, Query q) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null; ) {
            line = line.trim();
            if (line.isEmpty()) continue;
            CountDownLatch synced = new CountDownLatch(1);
            client.sync().inBackground((c, e) -> synced.countDown()).forPath(path);
            if (!synced.await(15, TimeUnit.SECONDS)) throw new IllegalStateException("sync " + path + " timed out");
            String a = q.answer(line);
            say(a != null ? a : "unknown " + line);
        }
    }

    public static void main(String[] a) throws Exception {
        String connect = a[0], mode = a[1], path = a[2];
        CuratorFramework client = CuratorFrameworkFactory.builder()
            .connectString(connect)
            .sessionTimeoutMs(15_000)
            .connectionTimeoutMs(10_000)
            .retryPolicy(new ExponentialBackoffRetry(200, 3))
            .build();
        client.start();
        try {
            if (!client.blockUntilConnected(20, TimeUnit.SECONDS)) throw new IllegalStateException("cannot connect to " + connect);
            switch (mode) {
                case "mutex-hold":
                case "mutex-try":
                case "mutex-wait": {
                    InterProcessMutex m = new InterProcessMutex(client, path);
                    boolean got;
                    if (mode.equals("mutex-hold")) {
                        m.acquire();
                        got = true;
                    } else {
                        long ms = mode.equals("mutex-try") ? 0 : Long.parseLong(a[3]);
                        got = m.acquire(ms, TimeUnit.MILLISECONDS);
                    }
                    if (!got) {
                        say(mode.equals("mutex-try") ? "busy" : "timeout");
                        break;
                    }
                    // The holder is the first participant (Curator's order): that is our node.
                    say("acquired " + ZKPaths.getNodeFromPath(m.getParticipantNodes().iterator().next()));
                    if (!mode.equals("mutex-try")) {
                        serve(client, path, q -> {
                            if (q.equals("participants")) return "participants " + json(names(m.getParticipantNodes()));
                            if (q.equals("has")) return "has " + m.isAcquiredInThisProcess();
                            return null;
                        });
                    }
                    m.release();
                    break;
                }
                case "mutex-revocable": {
                    InterProcessMutex m = new InterProcessMutex(client, path);
                    CountDownLatch done = new CountDownLatch(1);
                    java.util.concurrent.atomic.AtomicBoolean revoked = new java.util.concurrent.atomic.AtomicBoolean();
                    // The listener runs on Curator's event thread; release() must come from the owning (main) thread.
                    m.makeRevocable(forLock -> {
                        revoked.set(true);
                        done.countDown();
                    });
                    m.acquire();
                    say("acquired " + ZKPaths.getNodeFromPath(m.getParticipantNodes().iterator().next()));
                    Thread eof = new Thread(() -> {
                        try {
                            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
                            while (in.readLine() != null) { /* no queries in this mode */ }
                        } catch (Exception ignored) { }
                        done.countDown();
                    });
                    eof.setDaemon(true);
                    eof.start();
                    done.await();
                    if (revoked.get()) say("revoke-requested");
                    m.release();
                    say("released");
                    break;
                }
                case "revoke": {
                    Revoker.attemptRevoke(client, path);
                    say("revoke-sent");
                    break;
                }
                case "read-hold":
                case "read-wait":
                case "read-try":
                case "write-hold":
                case "write-wait":
                case "write-try": {
                    // As InterProcessReadWriteLock(client, path) builds them (one write lock, a read lock that knows it).
                    PeerWriteLock w = new PeerWriteLock(client, path);
                    InterProcessMutex m = mode.startsWith("read") ? new PeerReadLock(client, path, w) : w;
                    boolean got;
                    if (mode.endsWith("-hold")) {
                        m.acquire();
                        got = true;
                    } else {
                        long ms = mode.endsWith("-try") ? 0 : Long.parseLong(a[3]);
                        got = m.acquire(ms, TimeUnit.MILLISECONDS);
                    }
                    if (!got) {
                        say(mode.endsWith("-try") ? "busy" : "timeout");
                        break;
                    }
                    String ours = m instanceof PeerReadLock ? ((PeerReadLock) m).ours() : ((PeerWriteLock) m).ours();
                    say("acquired " + ZKPaths.getNodeFromPath(ours));
                    if (!mode.endsWith("-try")) {
                        serve(client, path, q -> {
                            if (q.equals("participants")) return "participants " + json(names(m.getParticipantNodes()));
                            if (q.equals("has")) return "has " + m.isAcquiredInThisProcess();
                            return null;
                        });
                    }
                    m.release();
                    break;
                }
                case "latch": {
                    LeaderLatch latch = new LeaderLatch(client, path, a[3]);
                    latch.addListener(new LeaderLatchListener() {
                        @Override public void isLeader() { say("leader " + ZKPaths.getNodeFromPath(latch.getOurPath())); }
                        @Override public void notLeader() { say("follower"); }
                    });
                    latch.start();
                    serve(client, path, q -> {
                        if (q.equals("participants")) return "participants " + json(names(nodes(client, path, "latch-")));
                        if (q.equals("ids")) return "ids " + json(ids(latch.getParticipants()));
                        if (q.equals("leader")) return "leader-id " + latch.getLeader().getId();
                        if (q.equals("has")) return "has " + latch.hasLeadership();
                        return null;
                    });
                    latch.close();
                    break;
                }
                case "selector": {
                    CountDownLatch eof = new CountDownLatch(1);
                    LeaderSelector sel = new LeaderSelector(client, path, new LeaderSelectorListenerAdapter() {
                        @Override public void takeLeadership(CuratorFramework c) throws Exception {
                            // A selector leads while holding its mutex: its node is the first participant.
                            say("leader " + ZKPaths.getNodeFromPath(nodes(client, path, "lock-").iterator().next()));
                            eof.await();
                        }
                    });
                    sel.setId(a[3]);
                    sel.start();
                    serve(client, path, q -> {
                        if (q.equals("participants")) return "participants " + json(names(nodes(client, path, "lock-")));
                        if (q.equals("ids")) return "ids " + json(ids(sel.getParticipants()));
                        if (q.equals("leader")) return "leader-id " + sel.getLeader().getId();
                        if (q.equals("has")) return "has " + sel.hasLeadership();
                        return null;
                    });
                    eof.countDown();
                    sel.close();
                    break;
                }
                default:
                    throw new IllegalArgumentException("unknown mode " + mode);
            }
        } catch (Exception e) {
            System.err.println("CuratorPeer: " + e);
            client.close();
            System.exit(2);
        }
        client.close();
        say("closed");
        System.exit(0);
    }
}
