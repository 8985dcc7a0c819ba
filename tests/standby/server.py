#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""server.py - the outside world of the standby tests: a server that sbapp
connects to (tcp, unix) or sends to (udp). For every connection (or udp
peer hello) it writes one JSON line to EVENTS when it is accepted, and one
when its requests are answered: the hello, the wall time of the first
correct answer, whether all answers were correct, and (--rate) the getpid
rate the app measured.

  server.py tcp PORTFILE EVENTS ROUNDS [--requests N] [--rate MS]
  server.py unix PATH EVENTS ROUNDS ...
  server.py udp PORTFILE EVENTS ROUNDS ...
"""
import argparse
import json
import os
import random
import socket
import sys
import threading
import time

M = (1 << 64) - 1
lock = threading.Lock()
rate_lock = threading.Lock()


def splitmix64(x):
    x = (x + 0x9e3779b97f4a7c15) & M
    x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & M
    x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & M
    return x ^ (x >> 31)


def value(i, rounds):
    x = i
    for _ in range(rounds):
        x = splitmix64(x)
    return x


def emit(path, rec):
    with lock, open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")


def serve_stream(conn, n, args):
    f = conn.makefile("rw")
    peer = conn.getpeername()
    rec = {"conn": n, "accepted": time.time(), "peer": peer[0] if isinstance(peer, tuple) else ""}
    emit(args.events, dict(rec, event="accepted"))
    rec["hello"] = f.readline().strip()
    ok, first = True, None
    rng = random.Random(n)
    for _ in range(args.requests):
        i = rng.randrange(1 << 20)
        f.write("GET %d\n" % i)
        f.flush()
        got = f.readline().split()
        good = len(got) == 2 and int(got[0]) == i and int(got[1]) == value(i, args.rounds)
        if first is None:
            first = time.time()
        ok = ok and good
    rec.update(first_answer=first, correct=ok, event="served")
    if args.rate:
        emit(args.events, dict(rec, event="ready"))
        while args.rate_gate and not os.path.exists(args.rate_gate):
            time.sleep(0.02)  # the test opens the gate when all are ready
        # best of seven, one connection at a time, taking turns: the machine
        # is shared and noisy, and so both apps see the same noise
        for _ in range(7):
            with rate_lock:
                f.write("RATE %d\n" % args.rate)
                f.flush()
                parts = f.readline().split()
            rec["rate"] = max(rec.get("rate", 0), float(parts[1]))
            rec["ns_per_call"] = min(rec.get("ns_per_call", 1e9), float(parts[2]))
            time.sleep(0.01)
    emit(args.events, rec)
    f.read()  # keep the connection until the app or the test ends it


def run_stream(args, family):
    s = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_UNIX:
        s.bind(args.where)
    else:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((args.host, 0))
        with open(args.where + ".tmp", "w") as f:
            f.write(str(s.getsockname()[1]))
        os.rename(args.where + ".tmp", args.where)
    s.listen(16)
    n = 0
    while True:
        conn, _ = s.accept()
        n += 1
        threading.Thread(target=serve_stream, args=(conn, n, args), daemon=True).start()


def run_udp(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((args.host, 0))
    with open(args.where + ".tmp", "w") as f:
        f.write(str(s.getsockname()[1]))
    os.rename(args.where + ".tmp", args.where)
    n = 0
    while True:
        data, peer = s.recvfrom(256)
        if not data.startswith(b"hello"):
            continue
        n += 1
        emit(args.events, {"conn": n, "accepted": time.time(), "event": "accepted",
                           "hello": data.decode(), "peer": peer[0]})
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.bind((args.host, 0))
        c.settimeout(10)
        ok, first = True, None
        for k in range(args.requests):
            i = random.Random(n * 1000 + k).randrange(1 << 20)
            c.sendto(b"GET %d" % i, peer)
            got = c.recvfrom(256)[0].split()
            good = len(got) == 2 and int(got[0]) == i and int(got[1]) == value(i, args.rounds)
            first = first or time.time()
            ok = ok and good
        emit(args.events, {"conn": n, "event": "served", "first_answer": first, "correct": ok})


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["tcp", "unix", "udp"])
    p.add_argument("where")
    p.add_argument("events")
    p.add_argument("rounds", type=int)
    p.add_argument("--requests", type=int, default=20)
    p.add_argument("--rate", type=int, default=0)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--rate-gate", help="measure RATE only once this file exists")
    args = p.parse_args()
    if args.mode == "tcp":
        run_stream(args, socket.AF_INET)
    elif args.mode == "unix":
        run_stream(args, socket.AF_UNIX)
    else:
        run_udp(args)


if __name__ == "__main__":
    sys.exit(main())
