#!/usr/bin/env python3
"""Peer for tests/bench/routeros-peers.sh: Python routeros-api (socialwifi), one round
trip per command, as its API offers.

usage: routeros_api_peer.py HOST PORT ADD_COUNT PREFIX
Prints `add_s=… list_s=… listed=… cpu_s=…` on one line.
"""
import sys
import time

import routeros_api


def main() -> int:
    host, port, count, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    pool = routeros_api.RouterOsApiPool(host, username="admin", password="", port=port, plaintext_login=True)
    users = pool.get_api().get_resource("/ip/hotspot/user")
    start = time.perf_counter()
    for i in range(count):
        users.add(name=f"{prefix}{i:05d}", password="x", profile="default", comment="bench")
    add_s = time.perf_counter() - start
    cpu0 = time.process_time()
    start = time.perf_counter()
    listed = len(users.call("print", {".proplist": ".id,name,bytes-in,bytes-out"}))
    list_s = time.perf_counter() - start
    cpu_s = time.process_time() - cpu0
    active = pool.get_api().get_resource("/ip/hotspot/active")
    start = time.perf_counter()
    ids = [row["id"] for row in active.call("print", {".proplist": ".id"})]
    for i in ids:
        active.remove(id=i)
    disconnect_s = time.perf_counter() - start
    print(f"add_s={add_s:.4f} list_s={list_s:.4f} listed={listed} cpu_s={cpu_s:.4f} "
          f"disconnect_s={disconnect_s:.4f} disconnected={len(ids)}")
    pool.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
