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
benchmark)."""
import os
import sys
import time
import zlib

REC = 64


def record(seq):
    head = ("%010d " % seq) + ("%043x" % (seq * 2654435761))[:43]
    assert len(head) == 54
    return ("%s %08x\n" % (head, zlib.crc32(head.encode()))).encode()


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
