#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""modeltest.py - model-based randomized test of lifeboatfs path-failure absorption.

Several threads each run a random sequence of file-system operations in their
own subdirectory of the mount (--mnt) and, first, of a native mirror dir
(--mirror), which is the model: the mirror's result (return value or errno)
is what the mount must return, op by op. While they run, a controller
injects a path failure (--fail-cmd), optionally kills and remounts the
daemon mid-outage (--kill-cmd), and heals the path (--heal-cmd). Afterwards
it waits for the status file to say healthy and compares the mount and the
real store dir (--store) with the mirror: names, types, sizes, contents,
modes, link counts, symlink targets.

Exit status: 0 pass, 1 a difference or an unpredicted error (each printed
with seed, thread, op index and op), 2 bad usage or setup trouble.
"""
import argparse
import ctypes
import errno
import hashlib
import json
import mmap
import os
import random
import stat
import subprocess
import sys
import threading
import time

LIBC = ctypes.CDLL(None, use_errno=True)
MS_SYNC = 4
MAX_HANDLES = 4
MAX_FILE = 192 * 1024
MAX_IO = 24 * 1024
FILE_MODES = (0o644, 0o600, 0o640, 0o755, 0o444, 0o664)
DIR_MODES = (0o755, 0o700, 0o750, 0o775)
READONLY_OPS = ('read', 'hread', 'stat', 'hstat', 'listdir', 'readlink')


def now():
    return time.monotonic()


def errname(e):
    return errno.errorcode.get(e, str(e))


def fmt_res(r):
    if isinstance(r, tuple) and r and r[0] == 'err':
        return 'error %s' % errname(r[1])
    return repr(r)


class Failure(Exception):
    pass


class Interrupted(Exception):
    """A read-only op that the daemon's SIGKILL cut off: skip it."""


def step(name, fn, *args):
    """fn(*args), with an OSError naming the call that failed (open, fsync...)."""
    try:
        return fn(*args)
    except OSError as e:
        raise OSError(e.errno, '%s: %s' % (name, e.strerror)) from None


class Handle:
    def __init__(self, mnt_fd, mir_fd, path, flags):
        self.mnt_fd, self.mir_fd, self.path, self.flags = mnt_fd, mir_fd, path, flags


class Run:
    """State shared by the workers and the controller."""

    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.ops_done = 0
        self.t0 = now()
        self.phase = 'healthy'		# healthy, outage, healed, killed
        self.failures = []
        self.pause = threading.Event()
        self.resume = threading.Event()
        self.resume.set()
        self.kill_epoch = 0
        self.states_seen = set()
        self.last_status = None
        self.notes = []
        self.trace = []		# one line per op, in the order they ended
        self.trace_f = open(args.trace, 'w', buffering=1) if args.trace else None

    def log(self, line):
        """One trace line, on disk at once: a SIGBUS must not lose it."""
        self.trace.append(line)
        if self.trace_f:
            with self.lock:
                self.trace_f.write(line + '\n')

    def count_op(self):
        with self.lock:
            self.ops_done += 1
            return self.ops_done

    def fail(self, msg):
        with self.lock:
            self.failures.append(msg)
        print('FAIL: ' + msg, file=sys.stderr, flush=True)

    def read_status(self):
        if not self.args.status:
            return None
        try:
            with open(self.args.status) as f:
                st = json.load(f)
        except (OSError, ValueError):
            return None
        self.last_status = st
        s = st.get('state')
        if s:
            self.states_seen.add(s)
        return st


class Worker(threading.Thread):
    def __init__(self, run, tid):
        super().__init__(name='worker-%d' % tid, daemon=True)
        a = run.args
        self.run_, self.tid = run, tid
        self.rng = random.Random('%d/%d' % (a.seed, tid))
        self.rel = 't%d' % tid
        self.mnt = os.path.join(a.mnt, self.rel)
        self.mir = os.path.join(a.mirror, self.rel)
        self.handles = {}
        self.next_name = 0
        self.next_hid = 0
        self.index = 0
        self.cur = None		# (desc, start time, kill epoch) of the op in flight
        self.parked = False
        self.finished = False
        self.stopped = False
        self.done = {}		# op name -> times it ran

    # ---- helpers -------------------------------------------------------
    def name(self, prefix):
        self.next_name += 1
        return '%s%d' % (prefix, self.next_name)

    def scan(self):
        """Sorted lists of the thread's files, dirs ('' = its root), symlinks."""
        files, dirs, links = [], [''], []
        stack = ['']
        while stack:
            d = stack.pop()
            for n in sorted(os.listdir(os.path.join(self.mir, d))):
                p = os.path.join(d, n)
                m = os.lstat(os.path.join(self.mir, p)).st_mode
                if stat.S_ISDIR(m):
                    dirs.append(p)
                    stack.append(p)
                elif stat.S_ISLNK(m):
                    links.append(p)
                else:
                    files.append(p)
        return sorted(files), sorted(dirs), sorted(links)

    def data(self, n):
        return self.rng.randbytes(n)

    def both(self, desc, fn, readonly=False):
        """Runs fn(root_or_side) on the mirror, then on the mount; compares."""
        res = []
        detail = None
        for side in ('mir', 'mnt'):
            while True:
                epoch = self.run_.kill_epoch
                self.cur = (desc, now(), epoch)
                try:
                    r = fn(side)
                except OSError as e:
                    r = ('err', e.errno)
                    detail = e.strerror	# names the failing call where fn says it
                finally:
                    self.cur = None
                if side == 'mnt' and isinstance(r, tuple) and r[:1] == ('err',) and \
                        epoch != self.run_.kill_epoch:
                    if readonly:
                        raise Interrupted(desc)
                    raise Failure('%s: in flight while lifeboatfs was killed (a mutation '
                                  'blocked during the outage), got %s' % (desc, fmt_res(r)))
                break
            res.append(r)
        self.run_.log('%8.3f t%d op#%d %-7s %s -> %s%s' % (
            now() - self.run_.t0, self.tid, self.index, self.run_.phase, desc, fmt_res(res[0])[:60],
            '' if res[0] == res[1] else ' MOUNT GOT ' + fmt_res(res[1])[:60]))
        if res[0] != res[1]:
            raise Failure('%s: expected %s (native), got %s%s' % (
                desc, fmt_res(res[0]), fmt_res(res[1]),
                ' (%s)' % detail if isinstance(res[1], tuple) and res[1][:1] == ('err',) and
                detail else ''))
        return res[0]

    def root(self, side):
        return self.mir if side == 'mir' else self.mnt

    def hfd(self, h, side):
        return h.mir_fd if side == 'mir' else h.mnt_fd

    def pick(self, seq):
        return self.rng.choice(seq) if seq else None

    def drop_cache(self, fd, side):
        if side == 'mnt':
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            except OSError:
                pass

    # ---- operations: each returns a description, raises Failure --------
    def op_create(self, files, dirs, links):
        d = self.pick(dirs)
        # now and then an existing name: EEXIST must pass through unchanged
        if files and self.rng.random() < 0.08:
            p = self.pick(files)
        else:
            p = os.path.join(d, self.name('f'))
        mode = self.pick(FILE_MODES)
        init = self.data(self.rng.randrange(0, 9000)) if self.rng.random() < 0.7 else b''
        keep = len(self.handles) < MAX_HANDLES and self.rng.random() < 0.4 and mode & 0o200
        desc = 'create %s mode %o with %d bytes%s' % (p, mode, len(init), ' (kept open)' if keep
                                                     else '')
        fds = {}

        def fn(side):
            flags = os.O_CREAT | os.O_EXCL | (os.O_RDWR if keep else os.O_WRONLY)
            fd = os.open(os.path.join(self.root(side), p), flags, mode)
            n = os.write(fd, init) if init else 0
            if keep:
                fds[side] = fd
            else:
                os.close(fd)
            return n
        r = self.both(desc, fn)
        if keep and 'mir' in fds and 'mnt' in fds:
            self.next_hid += 1
            self.handles[self.next_hid] = Handle(fds['mnt'], fds['mir'], p, 0)
        else:
            for fd in fds.values():
                os.close(fd)
        return desc if r is not None else desc

    def op_open(self, files, dirs, links):
        if not files or len(self.handles) >= MAX_HANDLES:
            return None
        p = self.pick(files)
        if not os.stat(os.path.join(self.mir, p)).st_mode & 0o200:
            return None
        append = self.rng.random() < 0.3
        trunc = not append and self.rng.random() < 0.1
        flags = os.O_RDWR | (os.O_APPEND if append else 0) | (os.O_TRUNC if trunc else 0)
        desc = 'open %s%s%s' % (p, ' O_APPEND' if append else '', ' O_TRUNC' if trunc else '')
        fds = {}

        def fn(side):
            fds[side] = os.open(os.path.join(self.root(side), p), flags)
            return 0
        try:
            self.both(desc, fn)
        finally:
            if len(fds) == 2:
                self.next_hid += 1
                self.handles[self.next_hid] = Handle(fds['mnt'], fds['mir'], p, flags)
            else:
                for fd in fds.values():
                    os.close(fd)
        return desc

    def op_close(self, files, dirs, links):
        if not self.handles:
            return None
        hid = self.pick(sorted(self.handles))
        h = self.handles.pop(hid)
        desc = 'close handle of %s' % h.path
        self.both(desc, lambda side: os.close(self.hfd(h, side)) or 0)
        return desc

    def op_write(self, files, dirs, links):
        h = None
        if self.handles and self.rng.random() < 0.6:
            h = self.handles[self.pick(sorted(self.handles))]
        elif not files:
            return None
        p = h.path if h else self.pick(files)
        if not h and not os.stat(os.path.join(self.mir, p)).st_mode & 0o200:
            return None
        size = os.fstat(h.mir_fd).st_size if h else os.stat(os.path.join(self.mir, p)).st_size
        off = self.rng.randrange(0, min(size + 4096, MAX_FILE))
        buf = self.data(self.rng.randrange(1, MAX_IO))
        desc = 'pwrite %s%s off %d len %d' % ('handle of ' if h else '', p, off, len(buf))

        def fn(side):
            if h:
                return os.pwrite(self.hfd(h, side), buf, off) if not h.flags & os.O_APPEND \
                    else os.write(self.hfd(h, side), buf)
            fd = os.open(os.path.join(self.root(side), p), os.O_WRONLY)
            try:
                return os.pwrite(fd, buf, off)
            finally:
                os.close(fd)
        self.both(desc, fn)
        return desc

    def op_append(self, files, dirs, links):
        if not files:
            return None
        p = self.pick(files)
        if not os.stat(os.path.join(self.mir, p)).st_mode & 0o200:
            return None
        buf = self.data(self.rng.randrange(1, 6000))
        desc = 'append %s len %d' % (p, len(buf))

        def fn(side):
            fd = os.open(os.path.join(self.root(side), p), os.O_WRONLY | os.O_APPEND)
            try:
                n = os.write(fd, buf)
                return (n, os.lseek(fd, 0, os.SEEK_CUR))
            finally:
                os.close(fd)
        self.both(desc, fn)
        return desc

    def op_truncate(self, files, dirs, links):
        h = None
        if self.handles and self.rng.random() < 0.4:
            h = self.handles[self.pick(sorted(self.handles))]
        elif not files:
            return None
        p = h.path if h else self.pick(files)
        if not h and not os.stat(os.path.join(self.mir, p)).st_mode & 0o200:
            return None
        length = self.rng.choice((0, self.rng.randrange(0, MAX_FILE), self.rng.randrange(0, 5000)))
        desc = '%struncate %s to %d' % ('f' if h else '', p, length)

        def fn(side):
            if h:
                os.ftruncate(self.hfd(h, side), length)
            else:
                os.truncate(os.path.join(self.root(side), p), length)
            return 0
        self.both(desc, fn)
        return desc

    def op_mmap(self, files, dirs, links):
        if self.run_.args.kill_cmd and self.run_.phase in ('outage', 'killed'):
            return None	# a page fault cut off by SIGKILL of the daemon is a SIGBUS
        cands = [f for f in files
                 if os.stat(os.path.join(self.mir, f)).st_size > 0 and
                 os.stat(os.path.join(self.mir, f)).st_mode & 0o200]
        if not cands:
            return None
        p = self.pick(cands)
        size = os.stat(os.path.join(self.mir, p)).st_size
        length = min(size, 64 * 1024)
        off = self.rng.randrange(0, length)
        buf = self.data(self.rng.randrange(1, min(length - off, 8192) + 1))
        sync = self.rng.random() < 0.5
        desc = 'mmap write %s off %d len %d%s' % (p, off, len(buf), ' + msync' if sync else '')
        if self.run_.args.kill_cmd:
            # The page-ins of the mapping are reads the outage may hold and
            # a kill may cut off: do them first, as a read (the mirror is
            # untouched yet), so the write itself finds its pages cached.
            def prefault(side):
                with open(os.path.join(self.root(side), p), 'rb') as f:
                    return len(os.pread(f.fileno(), length, 0))
            self.both('page-in for ' + desc, prefault, readonly=True)
        self.run_.log('%8.3f t%d op#%d %-7s begin %s (a SIGBUS here kills the test)' % (
            now() - self.run_.t0, self.tid, self.index, self.run_.phase, desc))

        def fn(side):
            # The copy into the mapping and msync go through ctypes, which
            # lets go of the GIL: a page fault that waits for the path must
            # not stop the other threads and the controller.
            fd = os.open(os.path.join(self.root(side), p), os.O_RDWR)
            try:
                m = mmap.mmap(fd, length, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
                c = ctypes.c_char.from_buffer(m)
                try:
                    addr = ctypes.addressof(c)
                    ctypes.memmove(addr + off, buf, len(buf))
                    if sync and LIBC.msync(ctypes.c_void_p(addr), ctypes.c_size_t(length),
                                           MS_SYNC) != 0:
                        e = ctypes.get_errno()
                        raise OSError(e, os.strerror(e))
                finally:
                    del c
                    m.close()
                return hashlib.sha1(os.pread(fd, length, 0)).hexdigest()
            finally:
                os.close(fd)
        self.both(desc, fn)
        return desc

    def op_sync(self, files, dirs, links):
        kind = self.rng.choice(('fsync', 'fdatasync', 'fsync-path', 'fsyncdir'))
        if kind in ('fsync', 'fdatasync') and self.handles:
            h = self.handles[self.pick(sorted(self.handles))]
            desc = '%s handle of %s' % (kind, h.path)
            f = os.fsync if kind == 'fsync' else os.fdatasync
            self.both(desc, lambda side: f(self.hfd(h, side)) or 0)
            return desc
        if kind == 'fsyncdir':
            p = self.pick(dirs)
            flags = os.O_RDONLY | os.O_DIRECTORY
        else:
            if not files:
                return None
            p = self.pick(files)
            flags = os.O_RDONLY
        desc = '%s %s' % (kind, p or '.')

        def fn(side):
            fd = step('open', os.open, os.path.join(self.root(side), p), flags)
            try:
                step('fsync', os.fsync, fd)
                return 0
            finally:
                os.close(fd)
        self.both(desc, fn)
        return desc

    def op_read(self, files, dirs, links):
        if self.handles and self.rng.random() < 0.4:
            h = self.handles[self.pick(sorted(self.handles))]
            desc = 'read handle of %s' % h.path

            def fn(side):
                fd = self.hfd(h, side)
                self.drop_cache(fd, side)
                st = os.fstat(fd)
                b = os.pread(fd, MAX_FILE * 2, 0)
                return (st.st_size, len(b), hashlib.sha1(b).hexdigest())
            self.both(desc, fn, readonly=True)
            return desc
        if not files:
            return None
        p = self.pick(files)
        desc = 'read %s' % p

        def fn2(side):
            fd = os.open(os.path.join(self.root(side), p), os.O_RDONLY)
            try:
                self.drop_cache(fd, side)
                b = b''
                while True:
                    c = os.read(fd, 65536)
                    if not c:
                        break
                    b += c
                return (len(b), hashlib.sha1(b).hexdigest())
            finally:
                os.close(fd)
        self.both(desc, fn2, readonly=True)
        return desc

    def op_stat(self, files, dirs, links):
        p = self.pick(files + dirs + links)
        desc = 'lstat %s' % (p or '.')

        def fn(side):
            st = os.lstat(os.path.join(self.root(side), p))
            r = (stat.S_IFMT(st.st_mode), oct(stat.S_IMODE(st.st_mode)), st.st_nlink)
            if not stat.S_ISDIR(st.st_mode):
                r += (st.st_size,)
            if stat.S_ISLNK(st.st_mode):
                r += (os.readlink(os.path.join(self.root(side), p)),)
            return r
        self.both(desc, fn, readonly=True)
        return desc

    def op_listdir(self, files, dirs, links):
        p = self.pick(dirs)
        desc = 'listdir %s' % (p or '.')

        def fn(side):
            fd = step('open', os.open, os.path.join(self.root(side), p),
                      os.O_RDONLY | os.O_DIRECTORY)
            try:
                return sorted(step('getdents', os.listdir, fd))
            finally:
                os.close(fd)
        self.both(desc, fn, readonly=True)
        return desc

    def op_unlink(self, files, dirs, links):
        cands = files + links
        if not cands:
            return None
        p = self.pick(cands)
        if self.rng.random() < 0.05:
            p = p + '.missing'	# ENOENT passes through
        desc = 'unlink %s' % p
        self.both(desc, lambda side: os.unlink(os.path.join(self.root(side), p)) or 0)
        return desc

    def op_mkdir(self, files, dirs, links):
        d = self.pick(dirs)
        if len(dirs) > 12:
            return None
        p = os.path.join(d, self.name('d'))
        mode = self.pick(DIR_MODES)
        desc = 'mkdir %s mode %o' % (p, mode)
        self.both(desc, lambda side: os.mkdir(os.path.join(self.root(side), p), mode) or 0)
        return desc

    def op_rmdir(self, files, dirs, links):
        cands = [d for d in dirs if d]
        if not cands:
            return None
        p = self.pick(cands)	# may be non-empty: ENOTEMPTY passes through
        desc = 'rmdir %s' % p
        self.both(desc, lambda side: os.rmdir(os.path.join(self.root(side), p)) or 0)
        return desc

    def op_rename(self, files, dirs, links):
        if self.rng.random() < 0.3:
            cands = [d for d in dirs if d]
            if not cands:
                return None
            src = self.pick(cands)
            # never into itself, below itself or onto one of its ancestors
            targets = [d for d in dirs if d != src and not d.startswith(src + '/') and
                       not src.startswith(d + '/')]
            over = [d for d in targets if d]
            if over and self.rng.random() < 0.2:
                dst = self.pick(over)	# onto a dir: fine if empty, else ENOTEMPTY
            else:
                dst = os.path.join(self.pick([d for d in dirs if d != src and
                                              not d.startswith(src + '/')]), self.name('d'))
        else:
            cands = files + links
            if not cands:
                return None
            src = self.pick(cands)
            if self.rng.random() < 0.3 and len(files) > 1:
                dst = self.pick([f for f in files if f != src] or [src])	# replaces
            else:
                dst = os.path.join(self.pick(dirs), self.name('f'))
        desc = 'rename %s -> %s' % (src, dst)
        self.both(desc, lambda side: os.rename(os.path.join(self.root(side), src),
                                               os.path.join(self.root(side), dst)) or 0)
        return desc

    def op_link(self, files, dirs, links):
        if not files:
            return None
        src = self.pick(files)
        dst = os.path.join(self.pick(dirs), self.name('h'))
        if self.rng.random() < 0.05 and len(files) > 1:
            dst = self.pick(files)	# EEXIST
        desc = 'link %s -> %s' % (src, dst)
        self.both(desc, lambda side: os.link(os.path.join(self.root(side), src),
                                             os.path.join(self.root(side), dst)) or 0)
        return desc

    def op_symlink(self, files, dirs, links):
        d = self.pick(dirs)
        target = self.rng.choice(('f%d' % self.rng.randrange(1, 60), 'nowhere/x',
                                  'd%d/f%d' % (self.rng.randrange(60), self.rng.randrange(60))))
        p = os.path.join(d, self.name('l'))
        desc = 'symlink %s -> %s' % (p, target)
        self.both(desc, lambda side: os.symlink(target, os.path.join(self.root(side), p)) or 0)
        return desc

    def op_chmod(self, files, dirs, links):
        if self.rng.random() < 0.3:
            p = self.pick([d for d in dirs if d])
            if p is None:
                return None
            mode = self.pick(DIR_MODES)
        else:
            p = self.pick(files)
            if p is None:
                return None
            mode = self.pick(FILE_MODES)
        desc = 'chmod %s %o' % (p, mode)
        self.both(desc, lambda side: os.chmod(os.path.join(self.root(side), p), mode) or 0)
        return desc

    OPS = (('create', 14), ('open', 5), ('close', 5), ('write', 16), ('append', 8),
           ('truncate', 5), ('mmap', 5), ('sync', 8), ('read', 12), ('stat', 7),
           ('listdir', 5), ('unlink', 5), ('mkdir', 5), ('rmdir', 3), ('rename', 7),
           ('link', 4), ('symlink', 3), ('chmod', 4))

    # ---- the loop -----------------------------------------------------
    def close_handles(self):
        for hid in sorted(self.handles):
            h = self.handles.pop(hid)
            self.both('close handle of %s' % h.path, lambda side: os.close(self.hfd(h, side)) or 0)

    def drop_handles(self):
        for hid in sorted(self.handles):
            h = self.handles.pop(hid)
            for fd in (h.mnt_fd, h.mir_fd):
                try:
                    os.close(fd)
                except OSError:
                    pass

    def park(self):
        """Kill mode: close everything on the mount and wait for the remount."""
        self.close_handles()
        self.parked = True
        self.run_.resume.wait()
        self.parked = False

    def setup(self):
        desc = 'mkdir %s' % self.rel
        for side, root in (('mir', self.mir), ('mnt', self.mnt)):
            try:
                os.mkdir(root, 0o755)
            except OSError as e:
                raise Failure('%s on the %s: %s' % (desc, side, os.strerror(e.errno)))

    def run(self):
        r = self.run_
        names = [n for n, _ in self.OPS]
        weights = [w for _, w in self.OPS]
        try:
            self.setup()
            epoch = r.kill_epoch
            for self.index in range(r.args.ops):
                if r.pause.is_set():
                    self.park()
                r.resume.wait()
                if epoch != r.kill_epoch:
                    self.drop_handles()	# they belong to the killed daemon's mount
                    epoch = r.kill_epoch
                op = self.rng.choices(names, weights)[0]
                files, dirs, links = self.scan()
                try:
                    if getattr(self, 'op_' + op)(files, dirs, links):
                        self.done[op] = self.done.get(op, 0) + 1
                except Interrupted as e:
                    print('# thread %d op#%d: %s cut off by the kill, skipped' %
                          (self.tid, self.index, e), flush=True)
                r.count_op()
            self.close_handles()
        except Failure as e:
            r.fail('seed=%d thread=%d op#%d (global ~%d, phase %s): %s' %
                   (r.args.seed, self.tid, self.index, r.ops_done, r.phase, e))
            self.stopped = True
        except Exception as e:	# a bug in the test itself
            r.fail('seed=%d thread=%d op#%d: test error %r' % (r.args.seed, self.tid,
                                                                self.index, e))
            self.stopped = True
        finally:
            self.finished = True
            for h in self.handles.values():
                for fd in (h.mnt_fd, h.mir_fd):
                    try:
                        os.close(fd)
                    except OSError:
                        pass


def parse_at(s, total, rng, lo, hi):
    """'N' = after N ops in all, 'Ns' = N seconds from the start, '' = random."""
    if s is None or s == '':
        return ('ops', rng.randrange(int(total * lo), max(int(total * hi), int(total * lo) + 1)))
    if s.endswith('s'):
        return ('secs', float(s[:-1]))
    return ('ops', int(s))


def reached(run, at, since=None):
    kind, v = at
    if kind == 'ops':
        return run.ops_done >= v
    return now() - run.t0 >= v


def noticed(run):
    """True once the daemon showed the outage (always without a status file)."""
    return not run.args.status or 'absorbing' in run.states_seen


def shell(run, what, cmd):
    t = now()
    p = subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    out = p.stdout.strip().replace('\n', ' | ')
    print('# %s at op %d (%.2fs): %s -> rc %d %s' % (what, run.ops_done, t - run.t0, cmd,
                                                    p.returncode, out[:300]), flush=True)
    if p.returncode != 0:
        run.fail('seed=%d: %s command failed (rc %d): %s' % (run.args.seed, what, p.returncode,
                                                            out[:500]))
    return p.returncode


def watchdog(run, workers, stop):
    while not stop.wait(1.0):
        for w in workers:
            cur = w.cur
            if cur and now() - cur[1] > run.args.op_timeout:
                st = run.read_status()
                print('FAIL: seed=%d thread=%d op#%d (phase %s): %s hangs for %.0fs; status %s' %
                      (run.args.seed, w.tid, w.index, run.phase, cur[0], now() - cur[1],
                       json.dumps(st)), file=sys.stderr, flush=True)
                for o in workers:
                    if o.cur:
                        print('  in flight: thread %d op#%d %s (%.1fs)' %
                              (o.tid, o.index, o.cur[0], now() - o.cur[1]), file=sys.stderr)
                sys.stderr.flush()
                if run.args.abort_cmd:	# threads stuck in the mount keep us from exiting
                    subprocess.run(run.args.abort_cmd, shell=True)
                os._exit(1)


def do_kill(run, workers):
    """Parks the workers, runs the kill command, lets them go on."""
    run.pause.set()
    run.resume.clear()
    deadline = now() + run.args.park_timeout
    while now() < deadline and not all(w.parked or w.finished for w in workers):
        time.sleep(0.01)
    busy = [w for w in workers if not (w.parked or w.finished)]
    for w in busy:
        cur = w.cur
        print('# kill: thread %d still in op#%d %s' % (w.tid, w.index, cur[0] if cur else '?'),
              flush=True)
    run.kill_epoch += 1
    run.phase = 'killed'
    shell(run, 'kill+heal+remount', run.args.kill_cmd)
    run.pause.clear()
    run.resume.set()


def control(run, workers, rng):
    a = run.args
    total = a.ops * a.threads
    fail_at = parse_at(a.fail_at, total, rng, 0.1, 0.45) if a.fail_cmd else None
    heal_at = None
    if a.fail_cmd:
        if a.heal_at:
            heal_at = parse_at(a.heal_at, total, rng, 0, 0)
        else:
            heal_at = ('ops', fail_at[1] + rng.randrange(max(total // 10, 1), max(total // 3, 2))) \
                if fail_at[0] == 'ops' else ('secs', fail_at[1] + rng.uniform(0.3, 1.5))
    min_outage = rng.uniform(0, min(0.6, a.max_outage))
    print('# seed %d: %d threads x %d ops, fail at %s, heal at %s (outage >= %.2fs)%s' %
          (a.seed, a.threads, a.ops, fail_at, heal_at, min_outage,
           ', kill mid-outage' if a.kill_cmd else ''), flush=True)
    failed_t = fail_ops = kill_at = None
    while not all(w.finished for w in workers):
        run.read_status()
        if fail_at and failed_t is None and reached(run, fail_at):
            run.phase = 'outage'
            shell(run, 'fail', a.fail_cmd)
            run.states_seen.discard('absorbing')
            failed_t, fail_ops = now(), run.ops_done
            if heal_at[0] == 'ops':
                kill_at = ('ops', fail_ops + max((heal_at[1] - fail_ops) // 2, 1))
            else:
                kill_at = ('secs', (fail_at[1] + heal_at[1]) / 2)
        elif run.phase == 'outage' and a.kill_cmd:
            if (reached(run, kill_at) and now() - failed_t >= min_outage and noticed(run)) or \
                    now() - failed_t > a.max_outage:
                do_kill(run, workers)
                run.phase = 'healed'
        elif run.phase == 'outage':
            if (reached(run, heal_at) and now() - failed_t >= min_outage and noticed(run)) or \
                    now() - failed_t > a.max_outage:
                run.phase = 'healed'
                shell(run, 'heal', a.heal_cmd)
        time.sleep(0.005)
    # the workers are done: end an outage that is still on
    if run.phase == 'outage':
        run.kill_epoch += 1
        shell(run, 'kill+heal+remount (after the ops)' if a.kill_cmd else 'heal (after the ops)',
              a.kill_cmd or a.heal_cmd)
        run.phase = 'healed'
    elif fail_at and failed_t is None:
        run.notes.append('the fault was never injected (fail-at %s not reached)' % (fail_at,))


def wait_healthy(run):
    a = run.args
    if not a.status:
        return True
    deadline = now() + a.settle_timeout
    ops_end_ms = time.time() * 1000
    st = None
    while now() < deadline:
        st = run.read_status()
        # The store holds it all once the queue is flushed: a failure no op
        # saw may have rolled back what the queue holds until the flusher
        # finds it. A status written before the ops ended proves nothing.
        if st and st.get('state') == 'healthy' and \
                st.get('replay_done', 0) == st.get('replay_total', 0) and \
                st.get('queue_records', 0) == 0 and st.get('written_ms', 0) > ops_end_ms:
            return True
        time.sleep(0.02)
    run.fail('seed=%d: status not healthy %.0fs after the ops: %s' % (a.seed, a.settle_timeout,
                                                                     json.dumps(st)))
    return False


def tree(root, label, errs):
    """relpath -> (type, mode, size, nlink, content hash or target)."""
    out = {}

    def walk(rel):
        try:
            names = sorted(os.listdir(os.path.join(root, rel)))
        except OSError as e:
            errs.append('%s: listdir %s: %s' % (label, rel or '.', os.strerror(e.errno)))
            return
        for n in names:
            p = os.path.join(rel, n)
            full = os.path.join(root, p)
            try:
                st = os.lstat(full)
                m = st.st_mode
                if stat.S_ISDIR(m):
                    out[p] = ('dir', oct(stat.S_IMODE(m)), None, st.st_nlink, None)
                    walk(p)
                elif stat.S_ISLNK(m):
                    out[p] = ('symlink', None, st.st_size, st.st_nlink, os.readlink(full))
                elif stat.S_ISREG(m):
                    h = hashlib.sha1()
                    with open(full, 'rb') as f:
                        while True:
                            c = f.read(1 << 16)
                            if not c:
                                break
                            h.update(c)
                    out[p] = ('file', oct(stat.S_IMODE(m)), st.st_size, st.st_nlink, h.hexdigest())
                else:
                    out[p] = ('other', oct(stat.S_IMODE(m)), None, st.st_nlink, None)
            except OSError as e:
                errs.append('%s: %s: %s' % (label, p, os.strerror(e.errno)))
    walk('')
    return out


def compare(model, other, label, limit=20):
    diffs = []
    fields = ('type', 'mode', 'size', 'nlink', 'content/target')
    for p in sorted(set(model) | set(other)):
        if p not in other:
            diffs.append('%s: missing %s %s' % (label, model[p][0], p))
        elif p not in model:
            diffs.append('%s: unexpected %s %s' % (label, other[p][0], p))
        elif model[p] != other[p]:
            for i, f in enumerate(fields):
                if model[p][i] != other[p][i]:
                    diffs.append('%s: %s: %s expected %s, got %s' % (label, p, f, model[p][i],
                                                                   other[p][i]))
    return diffs


def history(run, diffs):
    """Prints the ops that named the first differing paths (their basenames)."""
    seen = []
    for d in diffs:
        parts = d.split(': ')
        path = parts[1].split(' ')[-1] if len(parts) > 1 else ''
        if path and '/' in path and path not in seen:
            seen.append(path)
        if len(seen) == 3:
            break
    for path in seen:
        tid, base = path.split('/')[0], os.path.basename(path)
        lines = [t for t in run.trace if (' %s op#' % tid) in t and
                 any(w == base or w.endswith('/' + base) for w in t.replace(',', ' ').split())]
        print('HISTORY of %s (ops of %s naming %s, time in s):' % (path, tid, base), file=sys.stderr)
        for t in lines[-20:]:
            print('  ' + t, file=sys.stderr)


def final_compare(run):
    a = run.args
    if a.drop_caches:
        try:
            with open('/proc/sys/vm/drop_caches', 'w') as f:
                f.write('3\n')
        except OSError as e:
            print('# cannot drop caches: %s' % e, flush=True)
    errs = []
    model = tree(a.mirror, 'mirror', errs)
    diffs = []
    for root, label in ((a.mnt, 'mount'), (a.store, 'store')):
        if root:
            diffs += compare(model, tree(root, label, errs), label)
    for e in errs:
        run.fail('seed=%d: final check: %s' % (a.seed, e))
    if diffs:
        for d in diffs[:25]:
            print('DIFF: seed=%d %s' % (a.seed, d), file=sys.stderr)
        history(run, diffs)
        if len(diffs) > 25:
            print('DIFF: ... %d more' % (len(diffs) - 25), file=sys.stderr)
        run.fail('seed=%d: %d differences after recovery (first: %s)' % (a.seed, len(diffs),
                                                                         diffs[0]))
    return not diffs and not errs


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--mnt', required=True, help='dir on the lifeboatfs mount to work in')
    p.add_argument('--mirror', required=True, help='native dir that is the model')
    p.add_argument('--store', help='the same dir on the real store, compared at the end')
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--threads', type=int, default=3)
    p.add_argument('--ops', type=int, default=200, help='ops per thread')
    p.add_argument('--fail-cmd', help='shell command that injects the path failure')
    p.add_argument('--heal-cmd', help='shell command that heals it')
    p.add_argument('--kill-cmd', help='SIGKILL lifeboatfs, heal, remount with the same journal')
    p.add_argument('--fail-at', help='N ops in all, or Ns seconds; random by default')
    p.add_argument('--heal-at', help='N ops in all, or Ns seconds; random by default')
    p.add_argument('--max-outage', type=float, default=3.0,
                   help='heal after this many seconds even if heal-at is not reached')
    p.add_argument('--status', help="lifeboatfs's status=PATH file")
    p.add_argument('--settle-timeout', type=float, default=60.0)
    p.add_argument('--op-timeout', type=float, default=60.0, help='an op this slow is a hang')
    p.add_argument('--park-timeout', type=float, default=10.0)
    p.add_argument('--abort-cmd', help='shell command that aborts the mount after a hang '
                   '(e.g. umount -f MNT), so that stuck threads let the test exit')
    p.add_argument('--drop-caches', action='store_true', help='drop kernel caches before the '
                   'final check (global)')
    p.add_argument('--trace', help='write every op and its result here')
    p.add_argument('--compare-only', action='store_true',
                   help='no ops: wait healthy and compare --mnt/--store with --mirror')
    a = p.parse_args()
    if a.fail_cmd and not a.heal_cmd and not a.kill_cmd:
        p.error('--fail-cmd needs --heal-cmd or --kill-cmd')
    os.umask(0o022)
    run = Run(a)
    if a.compare_only:
        ok = wait_healthy(run) and final_compare(run)
        return 0 if ok and not run.failures else 1
    for d in (a.mnt, a.mirror):
        if not os.path.isdir(d):
            print('modeltest: %s is not a directory' % d, file=sys.stderr)
            return 2
    rng = random.Random('ctl/%d' % a.seed)
    workers = [Worker(run, t) for t in range(a.threads)]
    stop = threading.Event()
    threading.Thread(target=watchdog, args=(run, workers, stop), daemon=True).start()
    for w in workers:
        w.start()
    control(run, workers, rng)
    for w in workers:
        w.join()
    stop.set()
    elapsed = now() - run.t0
    wait_healthy(run)
    final_compare(run)
    st = run.last_status or {}
    print('# seed %d: %d ops in %.1fs, states seen %s, absorbed %s, hold_longest_ms %s%s' %
          (a.seed, run.ops_done, elapsed, sorted(run.states_seen), st.get('absorbed'),
           st.get('hold_longest_ms'), ''.join('; note: ' + n for n in run.notes)), flush=True)
    done = {}
    for w in workers:
        for k, v in w.done.items():
            done[k] = done.get(k, 0) + v
    print('# seed %d: ops run: %s' % (a.seed, ' '.join('%s=%d' % kv for kv in sorted(done.items()))))
    if a.fail_cmd and a.status and 'absorbing' not in run.states_seen and \
            'recovering' not in run.states_seen:
        print('# seed %d: note: status never showed the outage (absorbing/recovering)' % a.seed,
              flush=True)
    if run.failures:
        print('FAILED: seed=%d, %d failures; rerun: %s' % (a.seed, len(run.failures),
                                                          ' '.join(sys.argv)), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
