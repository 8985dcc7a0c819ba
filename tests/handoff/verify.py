#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""verify.py DATA ACKLOG - checks the verified writer's file in the store:
every record up to the highest acknowledged seq is there, at its offset,
with a good checksum. Prints the figures; exits 1 on any missing or bad
record."""
import sys
import zlib

REC = 64


def main():
    data = open(sys.argv[1], "rb").read()
    acks = [int(x) for x in open(sys.argv[2]).read().split()]
    top = max(acks) if acks else 0
    bad = []
    for seq in range(1, top + 1):
        rec = data[(seq - 1) * REC:seq * REC]
        head = rec[:54]
        ok = (len(rec) == REC and rec.endswith(b"\n") and head[:10] == b"%010d" % seq
              and rec[55:63] == b"%08x" % zlib.crc32(head))
        if not ok:
            bad.append(seq)
    print("acknowledged %d records, %d in the store file (%d bytes), %d missing or bad%s"
          % (top, len(data) // REC, len(data), len(bad),
             (": first " + ", ".join(map(str, bad[:5]))) if bad else ""))
    sys.exit(1 if bad or top == 0 else 0)


if __name__ == "__main__":
    main()
