#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""writer.py DATA ACKLOG [--rss MB] [--interval S] - the verified writer of
the handoff tests: an app that must not notice that it moved.

Record seq (1, 2, ...) is 64 bytes at offset (seq - 1) * 64 of DATA, opened
O_RDWR (so CRIU checks its size at restore): "%010d " + payload + " %08x\n"
with a CRC-32 over the first 54 bytes. Every 8th record is followed by an
fsync. After each write (and fsync) that succeeded, its seq goes to ACKLOG
(outside the mount, O_APPEND): everything acknowledged there must be in the
store afterwards. Any error is printed to stderr as "ERROR ..." and the
writer goes on. --rss MB keeps that much memory resident (for the
benchmark). --echo PORT also serves a TCP echo on PORT (one line back
for each line) for the established-connection test."""
import os
import socket
import sys
import threading
import time
import zlib

REC = 64


def record(seq):
    head = ("%010d " % seq) + ("%043x" % (seq * 2654435761))[:43]
    assert len(head) == 54
    return ("%s %08x\n" % (head, zlib.crc32(head.encode()))).encode()


def echo_serve(port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(4)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=echo_conn, args=(conn,), daemon=True).start()


def echo_conn(conn):
    f = conn.makefile("rwb", buffering=0)
    try:
        for line in f:
            f.write(line)
    except (ConnectionResetError, BrokenPipeError):
        pass  # the client went away: its side checks the connection
    except OSError as e:
        sys.stderr.write("ERROR echo: %s\n" % e)
        sys.stderr.flush()


def main():
    data, acklog = sys.argv[1], sys.argv[2]
    rss_mb = 0
    interval = 0.002
    args = sys.argv[3:]
    while args:
        if args[0] == "--rss":
            rss_mb = int(args[1])
        elif args[0] == "--interval":
            interval = float(args[1])
        elif args[0] == "--echo":
            threading.Thread(target=echo_serve, args=(int(args[1]),), daemon=True).start()
        args = args[2:]
    ballast = bytearray(rss_mb << 20)
    for i in range(0, len(ballast), 4096):  # make every page resident
        ballast[i] = 1
    fd = os.open(data, os.O_RDWR | os.O_CREAT, 0o644)
    ack = os.open(acklog, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    seq = os.fstat(fd).st_size // REC
    while True:
        seq += 1
        try:
            if os.pwrite(fd, record(seq), (seq - 1) * REC) != REC:
                raise OSError("short write")
            if seq % 8 == 0:
                os.fsync(fd)
            os.write(ack, b"%d\n" % seq)
        except OSError as e:
            sys.stderr.write("ERROR %s at record %d\n" % (e, seq))
            sys.stderr.flush()
            seq -= 1
            time.sleep(0.1)
        time.sleep(interval)


if __name__ == "__main__":
    main()
