#!/usr/bin/python3
"""A kazoo TreeCache reader of a zkctl config, for the layout interop test (Debian's kazoo 2.8).

usage: kazoo_treecache.py HOSTS PATH FINAL_VERSION TIMEOUT_SECS
Caches PATH with kazoo.recipe.cache.TreeCache (node by node, as applications do), prints "ready"
once the cache is initialized, then after every cache event takes the configuration as the cache
holds it: the publish record's version and the document, from PATH's data when the record says
"layout":"document", else from the cached children of PATH (the nodes layout, one level deep).
Stops once the final version is seen (or at the timeout) and prints one JSON line:
{"states": [{"version": N, "doc": {...}}, ...], "final": true|false}.
"""
import json
import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.recipe.cache import TreeCache, TreeEvent


def main():
    hosts, path, final, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=15)
    cache = TreeCache(zk, path)
    states = []
    lock = threading.Lock()
    ready = threading.Event()
    done = threading.Event()

    def snapshot():
        node = cache.get_data(path)
        if node is None or not node.data:
            return None
        rec = json.loads(node.data.decode("utf-8"))
        if rec.get("layout") == "document":
            return {"version": rec["version"], "doc": rec["document"]}
        doc = {}
        for name in cache.get_children(path) or []:
            if name.startswith(".zkctl"):
                continue
            child = cache.get_data(path + "/" + name)
            if child is not None and child.data:
                doc[name] = json.loads(child.data.decode("utf-8"))
        return {"version": rec["version"], "doc": doc}

    def listener(event):
        if event.event_type == TreeEvent.INITIALIZED:
            ready.set()
            return
        if not ready.is_set():
            return
        try:
            s = snapshot()
        except Exception as e:  # a reader that cannot parse what it sees: report it as a state
            s = {"version": -1, "doc": {"error": str(e)}}
        if s is None:
            return
        with lock:
            states.append(s)
        if s["version"] >= final:
            done.set()

    cache.listen(listener)
    cache.start()
    if not ready.wait(15):
        raise SystemExit("TreeCache did not initialize")
    print("ready", flush=True)
    end = time.time() + timeout
    while not done.is_set() and time.time() < end:
        done.wait(0.05)
    cache.close()
    with lock:
        print(json.dumps({"states": states, "final": done.is_set()}, separators=(",", ":")), flush=True)
    zk.stop()
    zk.close()


if __name__ == "__main__":
    main()
