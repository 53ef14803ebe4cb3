#!/usr/bin/env python3
"""Baseline for the router benchmark: Python librouteros doing the work the way
Mikhmon does it, one round trip per user.

usage: librouteros_baseline.py HOST PORT ADD_COUNT PREFIX
Prints `add_s=<seconds> list_s=<seconds> listed=<n> cpu_s=<seconds> disconnect_s=<seconds>
disconnected=<n>` on one line (every active session removed, one round trip each).
"""
import sys
import time

import librouteros


def main() -> int:
    host, port, count, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    api = librouteros.connect(host=host, port=port, username="admin", password="")
    users = api.path("ip", "hotspot", "user")
    start = time.perf_counter()
    for i in range(count):
        users.add(name=f"{prefix}{i:05d}", password="x", profile="default", comment="bench")
    add_s = time.perf_counter() - start
    cpu0 = time.process_time()
    start = time.perf_counter()
    listed = sum(1 for _ in users.select(".id", "name", "bytes-in", "bytes-out"))
    list_s = time.perf_counter() - start
    cpu_s = time.process_time() - cpu0
    active = api.path("ip", "hotspot", "active")
    start = time.perf_counter()
    ids = [row[".id"] for row in active.select(".id")]
    for i in ids:
        active.remove(i)
    disconnect_s = time.perf_counter() - start
    print(f"add_s={add_s:.4f} list_s={list_s:.4f} listed={listed} cpu_s={cpu_s:.4f} "
          f"disconnect_s={disconnect_s:.4f} disconnected={len(ids)}")
    api.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
