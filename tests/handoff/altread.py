#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# altread.py - helpers of altread.sh.
#   reader GO FILE OFF LEN...: opens FILE (lookup and open while the path
#       is healthy), prints "open", waits until the file GO exists, then
#       reads each OFF LEN pair and prints "OFF LEN SHA256 MILLISECONDS".
#   ask SOCKET MOUNT PATH: one raw request on lifeboatd's alternate read
#       socket; prints "err=N len=M".
import hashlib
import os
import socket
import struct
import sys
import time

MAGIC = 0x4452414c


def reader(go, path, pairs):
    fd = os.open(path, os.O_RDONLY)
    print("open", flush=True)
    while not os.path.exists(go):
        time.sleep(0.01)
    for off, length in pairs:
        t0 = time.monotonic()
        data = b""
        while len(data) < length:
            chunk = os.pread(fd, length - len(data), off + len(data))
            if not chunk:
                break
            data += chunk
        ms = (time.monotonic() - t0) * 1000
        print(off, len(data), hashlib.sha256(data).hexdigest(), "%.1f" % ms, flush=True)


def ask(sock_path, mount, path):
    m, p = mount.encode(), path.encode()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sock_path)
    s.sendall(struct.pack("=IHHIIQIIQ", MAGIC, 1, 0, len(m), len(p), 0, 4096, 0, 0) + m + p)
    hdr = b""
    while len(hdr) < 16:
        c = s.recv(16 - len(hdr))
        if not c:
            break
        hdr += c
    magic, err, length, _ = struct.unpack("=IIII", hdr)
    print("err=%d len=%d" % (err, length))


if sys.argv[1] == "reader":
    nums = [int(x) for x in sys.argv[4:]]
    reader(sys.argv[2], sys.argv[3], list(zip(nums[0::2], nums[1::2])))
else:
    ask(sys.argv[2], sys.argv[3], sys.argv[4])
