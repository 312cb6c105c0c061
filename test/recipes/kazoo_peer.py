#!/usr/bin/python3
"""A kazoo (python-zk) peer for zkctl's interop tests. Run with Debian's /usr/bin/python3 (kazoo 2.8).

usage: kazoo_peer.py HOSTS MODE PATH [ID] [OPTIONS]
  lock-hold        acquire kazoo Lock(PATH, ID), print "acquired <node>", hold until stdin closes
  lock-try         print "acquired" / "busy" for a non-blocking acquire (released at once)
  lock-try-curator same, with extra_lock_patterns=["-lock-"] (kazoo then also sees Curator-format nodes)
  lock-wait SECS   blocking acquire with a timeout: print "acquired <node>" or "timeout"
  rlock-hold / wlock-hold
                   acquire kazoo ReadLock / WriteLock(PATH, ID), print "acquired <node>", hold until stdin closes
  rlock-wait SECS / wlock-wait SECS
                   acquire with a timeout: "acquired <node>" and hold until stdin closes, or "timeout"
  rlock-try / wlock-try
                   non-blocking acquire: "acquired <node>" (released at once) or "busy"
  election-hold    kazoo Election(PATH, ID).run(...): print "leader" once elected, lead until stdin closes
  contenders       print the kazoo Lock contenders (identifiers) as JSON
"""
import json
import sys
import threading

from kazoo.client import KazooClient
from kazoo.exceptions import LockTimeout


def main():
    hosts, mode, path = sys.argv[1], sys.argv[2], sys.argv[3]
    ident = sys.argv[4] if len(sys.argv) > 4 else "py"
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=15)
    try:
        if mode == "lock-hold":
            lock = zk.Lock(path, ident)
            lock.acquire()
            print("acquired", lock.node, flush=True)
            sys.stdin.read()
            lock.release()
        elif mode in ("lock-try", "lock-try-curator"):
            extra = ("-lock-",) if mode == "lock-try-curator" else ()
            lock = zk.Lock(path, ident, extra_lock_patterns=extra)
            got = lock.acquire(blocking=False)
            print("acquired" if got else "busy", flush=True)
            if got:
                lock.release()
        elif mode == "lock-wait":
            secs = float(sys.argv[5])
            lock = zk.Lock(path, ident)
            try:
                lock.acquire(timeout=secs)
                print("acquired", lock.node, flush=True)
                lock.release()
            except LockTimeout:
                print("timeout", flush=True)
        elif mode[:6] in ("rlock-", "wlock-"):
            lock = (zk.ReadLock if mode[0] == "r" else zk.WriteLock)(path, ident)
            how = mode[6:]
            try:
                if how == "hold":
                    got = lock.acquire()
                elif how == "wait":
                    got = lock.acquire(timeout=float(sys.argv[5]))
                elif how == "try":
                    got = lock.acquire(blocking=False)
                else:
                    raise SystemExit("unknown mode " + mode)
            except LockTimeout:
                print("timeout", flush=True)
                return
            if not got:
                print("busy", flush=True)
                return
            print("acquired", lock.node, flush=True)
            if how != "try":
                sys.stdin.read()
            lock.release()
        elif mode == "election-hold":
            election = zk.Election(path, ident)
            done = threading.Event()

            def lead():
                print("leader", flush=True)
                done.wait()

            t = threading.Thread(target=election.run, args=(lead,), daemon=True)
            t.start()
            sys.stdin.read()
            done.set()
            election.cancel()
            t.join(10)
        elif mode == "contenders":
            print(json.dumps(zk.Lock(path).contenders(), separators=(",", ":")), flush=True)
        else:
            raise SystemExit("unknown mode " + mode)
    finally:
        zk.stop()
        zk.close()


if __name__ == "__main__":
    main()
