#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""errcheck.py - run one file-system call and check the errno it returns.

    errcheck.py EXPECT OP PATH [ARG]

EXPECT is OK or an errno name (ENOENT, EEXIST, ...). OP is one of: read,
create-excl, open-w, mkdir, rmdir, unlink, rename PATH NEW, link PATH NEW,
fill PATH MAX_MIB (write 1 MiB blocks to a new file until an error or
MAX_MIB, then fsync), stat. Prints 'ok OP PATH: got X' or 'mismatch OP PATH: expected E,
got X'; exit 0 on a match, 1 otherwise.
"""
import errno
import os
import sys
import time


def fill(path, max_mib):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        block = b'\xa5' * (1 << 20)
        for _ in range(int(max_mib or 4096)):
            os.write(fd, block)
        os.fsync(fd)
    finally:
        os.close(fd)


OPS = {
    'read': lambda p, a: os.close(os.open(p, os.O_RDONLY)),
    'create-excl': lambda p, a: os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)),
    'open-w': lambda p, a: os.close(os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)),
    'mkdir': lambda p, a: os.mkdir(p),
    'rmdir': lambda p, a: os.rmdir(p),
    'unlink': lambda p, a: os.unlink(p),
    'rename': lambda p, a: os.rename(p, a),
    'link': lambda p, a: os.link(p, a),
    'fill': lambda p, a: fill(p, a),
    'stat': lambda p, a: os.stat(p),
}


def main():
    if len(sys.argv) < 4 or sys.argv[2] not in OPS:
        print(__doc__, file=sys.stderr)
        return 2
    expect, op, path = sys.argv[1:4]
    arg = sys.argv[4] if len(sys.argv) > 4 else None
    t0 = time.monotonic()
    try:
        OPS[op](path, arg)
        got = 'OK'
    except OSError as e:
        got = errno.errorcode.get(e.errno, str(e.errno))
    what = '%s %s%s (%.0f ms)' % (op, path, ' ' + arg if arg else '',
                                  (time.monotonic() - t0) * 1000)
    if got == expect:
        print('ok %s: got %s' % (what, got))
        return 0
    print('mismatch %s: expected %s, got %s' % (what, expect, got))
    return 1


if __name__ == '__main__':
    sys.exit(main())
