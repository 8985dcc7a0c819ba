#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# iohelper.py - small I/O and locking workers for the concurrency tests.
#
#   disjoint FILE IDX NPROC NBLOCKS   write blocks IDX, IDX+NPROC, ... with byte IDX
#   overlap FILE IDX NBLOCKS ROUNDS   rewrite every block with byte IDX, ROUNDS times
#   append FILE IDX COUNT             append COUNT fixed-size records via O_APPEND
#   verify-blocks FILE NPROC NBLOCKS MODE   MODE disjoint|overlap: check block contents
#   verify-log FILE NPROC COUNT       every writer's records present, whole, in order
#   count KIND FILE N                 increment the counter in FILE N times under a
#                                     KIND lock: flock, posix or ofd
#   hold KIND FILE SECONDS            take the lock, print "locked", hold it, release
#   try KIND FILE                     exit 0 if the lock is free now, 1 if held
import fcntl
import os
import struct
import sys
import time

BLOCK = 4096
RECORD = 64


def die(msg):
    sys.stderr.write("iohelper: %s\n" % msg)
    sys.exit(1)


def write_all(fd, data, off=None):
    """pwrite/write that fails loudly on a short write."""
    n = os.pwrite(fd, data, off) if off is not None else os.write(fd, data)
    if n != len(data):
        die("short write: %d of %d bytes" % (n, len(data)))


def disjoint(path, idx, nproc, nblocks):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    for b in range(idx, nblocks, nproc):
        write_all(fd, bytes([idx + 1]) * BLOCK, b * BLOCK)
    os.close(fd)


def overlap(path, idx, nblocks, rounds):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    for _ in range(rounds):
        for b in range(nblocks):
            write_all(fd, bytes([idx + 1]) * BLOCK, b * BLOCK)
    os.close(fd)


def append(path, idx, count):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for seq in range(count):
        rec = ("writer %03d seq %08d " % (idx, seq)).ljust(RECORD - 1, "x") + "\n"
        write_all(fd, rec.encode())
    os.close(fd)


def verify_blocks(path, nproc, nblocks, mode):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) != nblocks * BLOCK:
        die("%s: size %d, expected %d" % (path, len(data), nblocks * BLOCK))
    for b in range(nblocks):
        blk = data[b * BLOCK:(b + 1) * BLOCK]
        want = b % nproc + 1 if mode == "disjoint" else blk[0]
        # A write of one aligned block is atomic against other writes: a
        # mixed block means a torn or lost write.
        if blk != bytes([want]) * BLOCK or not 1 <= want <= nproc:
            die("%s: block %d is not %d repeated (first byte %d)" % (path, b, want, blk[0]))


def verify_log(path, nproc, count):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) != nproc * count * RECORD:
        die("%s: size %d, expected %d" % (path, len(data), nproc * count * RECORD))
    nxt = [0] * nproc
    for i in range(0, len(data), RECORD):
        fields = data[i:i + RECORD].decode(errors="replace").split()
        try:
            w, seq = int(fields[1]), int(fields[3])
        except (IndexError, ValueError):
            die("%s: torn record at offset %d" % (path, i))
        if w >= nproc or seq != nxt[w]:
            die("%s: writer %d record %d out of order at offset %d" % (path, w, seq, i))
        nxt[w] += 1


def ofd_lock(fd, ltype, wait):
    # struct flock on x86_64/aarch64: short, short, off_t, off_t, pid_t (+pad)
    arg = struct.pack("hhqqi4x", ltype, os.SEEK_SET, 0, 0, 0)
    fcntl.fcntl(fd, fcntl.F_OFD_SETLKW if wait else fcntl.F_OFD_SETLK, arg)


def lock(kind, fd, wait=True):
    if kind == "flock":
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    elif kind == "posix":
        fcntl.lockf(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    elif kind == "ofd":
        ofd_lock(fd, fcntl.F_WRLCK, wait)
    else:
        die("unknown lock kind '%s'" % kind)


def unlock(kind, fd):
    if kind == "flock":
        fcntl.flock(fd, fcntl.LOCK_UN)
    elif kind == "posix":
        fcntl.lockf(fd, fcntl.LOCK_UN)
    else:
        ofd_lock(fd, fcntl.F_UNLCK, True)


def count(kind, path, n):
    fd = os.open(path, os.O_RDWR)
    for _ in range(n):
        lock(kind, fd)
        cur = int(os.pread(fd, 32, 0).decode() or "0")
        os.sched_yield()	# widen the window a missing lock would open
        write_all(fd, ("%d\n" % (cur + 1)).encode().ljust(32, b" "), 0)
        unlock(kind, fd)
    os.close(fd)


def hold(kind, path, seconds):
    fd = os.open(path, os.O_RDWR)
    lock(kind, fd)
    print("locked", flush=True)
    time.sleep(seconds)
    unlock(kind, fd)
    os.close(fd)


def try_lock(kind, path):
    fd = os.open(path, os.O_RDWR)
    try:
        lock(kind, fd, wait=False)
    except (BlockingIOError, PermissionError):
        return 1
    return 0


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "disjoint":
        disjoint(args[0], int(args[1]), int(args[2]), int(args[3]))
    elif cmd == "overlap":
        overlap(args[0], int(args[1]), int(args[2]), int(args[3]))
    elif cmd == "append":
        append(args[0], int(args[1]), int(args[2]))
    elif cmd == "verify-blocks":
        verify_blocks(args[0], int(args[1]), int(args[2]), args[3])
    elif cmd == "verify-log":
        verify_log(args[0], int(args[1]), int(args[2]))
    elif cmd == "count":
        count(args[0], args[1], int(args[2]))
    elif cmd == "hold":
        hold(args[0], args[1], float(args[2]))
    elif cmd == "try":
        return try_lock(args[0], args[1])
    else:
        die("unknown command '%s'" % cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
