#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""echo-client.py ADDR PORT COUNTFILE - one TCP connection to the app's echo
service, a numbered line every 10 ms, each answer checked. Writes the count
of good answers to COUNTFILE; any error (reset, wrong answer, a reconnect
would be needed) is printed as "ERROR ..." and ends the client."""
import socket
import sys
import time


def main():
    addr, port, countfile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    s = socket.create_connection((addr, port), timeout=60)
    f = s.makefile("rwb", buffering=0)
    n = 0
    try:
        while True:
            n += 1
            f.write(b"%d\n" % n)
            got = f.readline()
            if got != b"%d\n" % n:
                raise OSError("answer %r to line %d" % (got, n))
            if n % 10 == 0:
                with open(countfile + ".tmp", "w") as c:
                    c.write("%d\n" % n)
                import os
                os.replace(countfile + ".tmp", countfile)
            time.sleep(0.01)
    except (OSError, socket.timeout) as e:
        sys.stderr.write("ERROR after %d answers: %s\n" % (n - 1, e))
        sys.exit(1)


if __name__ == "__main__":
    main()
