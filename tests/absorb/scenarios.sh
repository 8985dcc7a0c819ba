#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# scenarios.sh - deterministic absorb scenarios: fixed op sequences with
# exact expected results, on the stack of lib-absorb.sh
#
#   real store -> faultfs -> lifeboatfs (-o journal=,status=,flush_interval=,
#                                           hold=,on_hold_timeout=wait)
#
# Each run gets a fresh stack, store, mirror and journal. An app (Python,
# written to the work dir) applies every op to a native mirror first, then
# to the mount; both must give the expected result (OK or the errno named),
# so a wrong expectation shows on the mirror. Reads compare the bytes with
# the mirror. Control ops (fail, heal, kill, waits for the status file) run
# once. Each scenario checks: no error the app did not expect, reads during
# the outage return what the app wrote, status absorbing -> healthy after the
# heal (replay_done == replay_total), and the REAL store (and the mount)
# equal to the mirror: names, types, modes, sizes, contents.
#
#   s1-eio        unsynced writes survive `fail EIO all` (it rolls back);
#                 the failure is found by a write on an open handle
#   s1-lookup     the failure found by a lookup: a create of a new name in
#                 a dir made through the mount must not wait for the path
#   s2-enotconn   s1 with ENOTCONN
#   s2-etimedout  s1 with ETIMEDOUT
#   s2-erofs      s1 with EROFS (a path failure: the store was writable)
#   s2-eio-write  s1 with `fail EIO write`: reads of old data work meanwhile
#   s3-kill       SIGKILL lifeboatfs mid-outage, heal, remount with the same
#                 journal: the store is complete before the mount serves
#   s4-hold       a read of synced data only the store has waits for the
#                 path (>= ~2 s, released by a background heal), right bytes
#   s5-apperr     ENOENT, EEXIST, ENOTEMPTY, EISDIR, ENOTDIR unchanged,
#                 healthy and absorbing
#   s6-journal    `lifeboat journal inspect` lists records (> 0) and
#                 `lifeboat journal verify` exits 0 during the outage
#   s7-stall      the path hangs (`stall all`): the write that finds it is
#                 answered within path_timeout plus a little, absorbed,
#                 and its stuck store call lands before the replay
#   s7-stall-eio  a hang that ends in EIO with unsynced data rolled back
#   s8-stall-close a read left behind in a hang is answered by its rescue
#                 from the overlay, and the file is closed (released) while
#                 the stuck read is still out: when it comes back, the file
#                 and its inode must still be there for it (under ASan a use
#                 after free shows here; before the fix it crashed the mount)
#
# Each scenario runs SCEN_REPEAT (3) times in a row. Environment:
# SCEN_ONLY="s1-eio s4-hold" (a subset), SCEN_REPEAT, SCEN_OP_LIMIT (s an op
# may take before it counts as hung, 20), LIFEBOAT (the lifeboat CLI).
set -uo pipefail
ABSORB_LB_OPTS=${ABSORB_LB_OPTS:-queue_budget=256K,flush_interval=0.5,hold=30,on_hold_timeout=wait,path_timeout=2}
source "$(dirname "$0")/lib-absorb.sh"

REPEAT=${SCEN_REPEAT:-3}
OP_LIMIT=${SCEN_OP_LIMIT:-20}
ALL="s1-eio s1-lookup s2-enotconn s2-etimedout s2-erofs s2-eio-write s3-kill s4-hold s5-apperr s6-journal s7-stall s7-stall-eio s8-stall-close"
ONLY=${SCEN_ONLY:-$ALL}

ab_init absorb-scenarios
LIFEBOAT=$(realpath "${LIFEBOAT:-$AB_DIR/../../build/daemon/lifeboat}" 2>/dev/null) || true
[[ -x "$LIFEBOAT" ]] || lb_fail "lifeboat CLI not built ('$LIFEBOAT'): set LIFEBOAT"
ab_absorb_supported || lb_fail "'$LB_FS' has no absorb options (journal=, status=...)"
trap ab_cleanup EXIT

APP=$LB_WORK/scenario-app.py
cat >"$APP" <<'PYEOF'
#!/usr/bin/env python3
"""Runs one scenario (ops on stdin) on a native mirror and on the mount.

Op lines: [EXPECT] OP ARGS...   (EXPECT: an errno name; default OK)
file ops, mirror first, then the mount (paths relative to the roots):
  create P | write P OFF LEN SEED [sync] | append P LEN SEED [sync]
  truncate P SIZE | fsync P | fsyncdir P | mkdir P | rmdir P | unlink P
  rename A B | chmod P MODE | open-w P | create-excl P
  read P [MIN_S] (bytes equal the mirror's; with MIN_S: held until a bgheal)
  stat P | ls P
  hopen H P [r] | hwrite H OFF LEN SEED | hread H [MIN_S] | hclose H
control ops, once:
  fail ARGS... | stall ARGS... | heal | bgheal S | state STATE [T] | seen STATE
  within S (the last file op took <= S s on the mount)
  settle [T] | kill | inspect | compare store|mount | mark TEXT | sleep S
"""
import errno
import hashlib
import json
import os
import random
import stat
import subprocess
import sys
import threading
import time

A = dict(a.split('=', 1) for a in sys.argv[1:])
MIR, MNT, STORE = A['mirror'], A['mount'], A['store']
OP_LIMIT = float(A.get('op_limit', '20'))
fails = []
handles = {}
states = []		# (t, state) transitions seen by the poller
t_start = time.monotonic()
cur = {'op': None, 't': 0.0}
bg = {}			# 'healed': when the last background heal was done
last = {'dt': 0.0, 'line': ''}


def log(msg):
    print('[%6.2f] %s' % (time.monotonic() - t_start, msg), flush=True)


def fail(msg):
    fails.append(msg)
    log('FAIL: ' + msg)


def status():
    try:
        with open(A['status']) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def poller():
    last = None
    while True:
        s = status().get('state')
        if s and s != last:
            states.append((time.monotonic() - t_start, s))
            last = s
        time.sleep(0.02)


def watchdog():
    while True:
        time.sleep(0.5)
        op, t = cur['op'], cur['t']
        if op and time.monotonic() - t > OP_LIMIT:
            log('HUNG: op "%s" in flight for %.1f s; status: %s' %
                (op, time.monotonic() - t, json.dumps(status())))
            # heal, so the op in flight ends and the process can exit
            log('heal: ' + ctl('heal'))
            log('RESULT: FAIL (hung)')
            os._exit(3)


def data(n, seed):
    return random.Random(int(seed)).randbytes(int(n))


def errname(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def drop_cache(fd):
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except OSError:
        pass


def wr(p, off, n, seed, flags, sync):
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | flags, 0o644)
    try:
        b = data(n, seed)
        if flags & os.O_APPEND:
            os.write(fd, b)
        else:
            os.pwrite(fd, b, int(off))
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def readall(p):
    fd = os.open(p, os.O_RDONLY)
    try:
        drop_cache(fd)
        out = bytearray()
        while True:
            c = os.read(fd, 1 << 16)
            if not c:
                return bytes(out)
            out += c
    finally:
        os.close(fd)


def fsync_path(p, d):
    fd = os.open(p, os.O_RDONLY | (os.O_DIRECTORY if d else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def statinfo(p):
    st = os.lstat(p)
    if stat.S_ISDIR(st.st_mode):
        return ('dir', oct(stat.S_IMODE(st.st_mode)))
    return ('file' if stat.S_ISREG(st.st_mode) else 'other', oct(stat.S_IMODE(st.st_mode)),
            st.st_size, st.st_nlink)


def hread(h, side):
    fd = handles[h][side]
    drop_cache(fd)
    out, off = bytearray(), 0
    while True:
        c = os.pread(fd, 1 << 16, off)
        if not c:
            return bytes(out)
        out += c
        off += len(c)


def hopen(p, side, h, mode):
    flags = os.O_RDONLY if mode == 'r' else os.O_RDWR | os.O_CREAT
    handles.setdefault(h, {})[side] = os.open(p, flags, 0o644)


def drop_all_caches():
    """For a read that must reach lifeboatfs: the page cache may still hold
    the pages written through another fd."""
    try:
        with open('/proc/sys/vm/drop_caches', 'w') as f:
            f.write('1\n')
    except OSError as e:
        log('cannot drop caches: %s' % e)


def file_op(op, args, root, side):
    """Runs op on one side; returns its result value (compared across sides)."""
    P = lambda i: os.path.join(root, args[i])
    if op == 'create':
        os.close(os.open(P(0), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
    elif op == 'create-excl':
        os.close(os.open(P(0), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    elif op == 'open-w':
        os.close(os.open(P(0), os.O_WRONLY))
    elif op == 'write':
        wr(P(0), args[1], args[2], args[3], 0, len(args) > 4)
    elif op == 'append':
        wr(P(0), 0, args[1], args[2], os.O_APPEND, len(args) > 3)
    elif op == 'truncate':
        os.truncate(P(0), int(args[1]))
    elif op == 'fsync':
        fsync_path(P(0), False)
    elif op == 'fsyncdir':
        fsync_path(P(0), True)
    elif op == 'mkdir':
        os.mkdir(P(0), 0o755)
    elif op == 'rmdir':
        os.rmdir(P(0))
    elif op == 'unlink':
        os.unlink(P(0))
    elif op == 'rename':
        os.rename(P(0), P(1))
    elif op == 'chmod':
        os.chmod(P(0), int(args[1], 8))
    elif op == 'read':
        if side == 'mount' and len(args) > 1:
            drop_all_caches()
        return readall(P(0))
    elif op == 'stat':
        return statinfo(P(0))
    elif op == 'ls':
        return sorted(os.listdir(P(0)))
    elif op == 'hopen':
        hopen(os.path.join(root, args[1]), side, args[0], args[2] if len(args) > 2 else 'rw')
    elif op == 'hwrite':
        os.pwrite(handles[args[0]][side], data(args[2], args[3]), int(args[1]))
    elif op == 'hread':
        if side == 'mount' and len(args) > 1:
            drop_all_caches()
        return hread(args[0], side)
    elif op == 'hclose':
        os.close(handles[args[0]].pop(side))
    else:
        raise SystemExit('unknown op ' + op)
    return None


def show(v):
    if isinstance(v, bytes):
        return '%d bytes sha1 %s' % (len(v), hashlib.sha1(v).hexdigest()[:12])
    return repr(v)


def run_file_op(line, expect, op, args):
    got = {}
    for side, root in (('mirror', MIR), ('mount', MNT)):
        t0 = time.monotonic()
        try:
            val, res = file_op(op, args, root, side), 'OK'
        except OSError as e:
            val, res = None, errname(e)
        t1 = time.monotonic()
        dt = t1 - t0
        got[side] = (res, val, dt)
        if res != expect:
            fail('%s: %s: expected %s, got %s%s' % (line, side, expect, res,
                 ' (the test is wrong)' if side == 'mirror' else ''))
    (rm, vm, _), (rn, vn, dt) = got['mirror'], got['mount']
    last['dt'], last['line'] = dt, line
    if rm == rn == 'OK' and vm != vn:
        fail('%s: mount returned %s, the app wrote %s' % (line, show(vn), show(vm)))
    if op in ('read', 'hread'):
        # MIN_S given: the read must have been held until the background
        # heal, which came while it waited (a duration alone is fragile:
        # the op may start a while after its bgheal on a loaded machine)
        want = float(args[1]) if len(args) > 1 else 0
        healed = bg.get('healed')
        if want and not (healed and t1 - dt <= healed <= t1):
            fail('%s: done in %.2f s on the mount, not held until the background heal' %
                 (line, dt))
    return '%s in %.3f s%s' % (rn, dt, ', ' + show(vn) if vn is not None else '')


def ctl(*args):
    r = subprocess.run([A['faultctl'], A['ctl']] + list(args), capture_output=True, text=True)
    if r.returncode != 0:
        fail('faultctl %s: rc %d: %s%s' % (' '.join(args), r.returncode, r.stdout, r.stderr))
    return r.stdout.strip()


def wait_state(want, t):
    t0 = time.monotonic()
    while time.monotonic() - t0 < t:
        if status().get('state') == want:
            return 'state %s after %.2f s' % (want, time.monotonic() - t0)
        time.sleep(0.02)
    fail('status not %s within %.0f s: %s' % (want, t, json.dumps(status())))
    return 'timeout'


def status_mtime():
    try:
        return os.stat(A['status']).st_mtime_ns
    except OSError:
        return 0


def settle(t):
    """Healthy, replay done, queue empty, in a status written after this
    call began (the daemon rewrites it every second)."""
    t0, w0 = time.monotonic(), time.time_ns()
    while time.monotonic() - t0 < t:
        s = status()
        if status_mtime() > w0 and s.get('state') == 'healthy' and s.get('replay_done', 0) == s.get('replay_total', 0) \
                and s.get('queue_records', 0) == 0:
            return 'healthy, replay %s/%s, queue empty after %.2f s' % (
                s.get('replay_done'), s.get('replay_total'), time.monotonic() - t0)
        time.sleep(0.02)
    fail('not settled (healthy, replay done, queue empty) within %.0f s: %s' % (t, json.dumps(status())))
    return 'timeout'


def tree(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            full = os.path.join(dirpath, n)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            m = oct(stat.S_IMODE(st.st_mode))
            if stat.S_ISDIR(st.st_mode):
                out[rel] = ('dir', m)
            elif stat.S_ISREG(st.st_mode):
                with open(full, 'rb') as f:
                    out[rel] = ('file', m, st.st_size, hashlib.sha1(f.read()).hexdigest()[:12])
            else:
                out[rel] = ('other', m)
    return out


def compare(which):
    root = STORE if which == 'store' else MNT
    try:
        want, got = tree(MIR), tree(root)
    except OSError as e:
        fail('compare %s: %s' % (which, e))
        return 'error'
    n = 0
    for p in sorted(set(want) | set(got)):
        if want.get(p) != got.get(p):
            fail('%s differs from the mirror at %s: expected %s, got %s' %
                 (which, p, want.get(p, 'nothing'), got.get(p, 'nothing')))
            n += 1
    return '%d entries, %d differ' % (len(want), n)


def inspect():
    j, lb = A['journal'], A['lifeboat']
    r = subprocess.run([lb, 'journal', 'inspect', j], capture_output=True, text=True)
    lines = r.stdout.strip().splitlines()
    last = lines[-1] if lines else ''
    recs = sum(1 for l in lines[1:-1] if l.strip())
    try:
        count = int(last.split()[0])
    except (IndexError, ValueError):
        count = -1
    if r.returncode != 0 or count <= 0 or recs != count:
        fail('journal inspect: rc %d, count %d, %d record lines: %s %s' %
             (r.returncode, count, recs, r.stdout[-500:], r.stderr[-500:]))
    for l in lines[:6]:
        log('  | ' + l)
    v = subprocess.run([lb, 'journal', 'verify', j], capture_output=True, text=True)
    if v.returncode != 0:
        fail('journal verify: rc %d: %s %s' % (v.returncode, v.stdout, v.stderr))
    return 'inspect: %d records (rc %d); verify rc %d: %s' % (count, r.returncode, v.returncode,
                                                            v.stdout.strip())


def main():
    threading.Thread(target=poller, daemon=True).start()
    threading.Thread(target=watchdog, daemon=True).start()
    for raw in sys.stdin:
        line = raw.split('#', 1)[0].strip()
        if not line:
            continue
        w = line.split()
        expect = 'OK'
        if w[0].startswith('E') and w[0][1:].isupper():
            expect, w = w[0], w[1:]
        op, args = w[0], w[1:]
        cur['op'], cur['t'] = line, time.monotonic()
        if op in ('fail', 'stall'):
            res = ctl(op, *args)
        elif op == 'heal':
            res = ctl('heal')
        elif op == 'bgheal':
            def later(s=float(args[0])):
                time.sleep(s)
                bg['healed'] = time.monotonic()	# before: a held op ends after it
                log('background heal: ' + ctl('heal'))
            threading.Thread(target=later, daemon=True).start()
            res = 'heal in %s s' % args[0]
        elif op == 'state':
            res = wait_state(args[0], float(args[1]) if len(args) > 1 else 10)
        elif op == 'seen':
            # the status poller samples the file: give it a few periods
            until = time.monotonic() + 3
            while args[0] not in [s for _, s in states] and time.monotonic() < until:
                time.sleep(0.05)
            res = 'states seen: %s' % ' -> '.join('%s@%.2f' % (s, t) for t, s in states)
            if args[0] not in [s for _, s in states]:
                fail('state %s never seen: %s' % (args[0], res))
        elif op == 'settle':
            res = settle(float(args[0]) if args else 30)
        elif op == 'kill':
            r = subprocess.run([A['kill_script']], capture_output=True, text=True)
            res = 'kill script rc %d: %s' % (r.returncode, (r.stdout + r.stderr).strip().replace('\n', ' '))
            if r.returncode != 0:
                fail(res)
        elif op == 'inspect':
            res = inspect()
        elif op == 'compare':
            res = compare(args[0])
        elif op == 'within':
            res = '"%s" took %.2f s on the mount' % (last['line'], last['dt'])
            if last['dt'] > float(args[0]):
                fail('%s, expected <= %s s (it waited for the path)' % (res, args[0]))
        elif op == 'mark':
            res = ''
        elif op == 'sleep':
            time.sleep(float(args[0]))
            res = ''
        else:
            res = run_file_op(line, expect, op, args)
        cur['op'] = None
        log('%s: %s' % (line, res))
    for h in list(handles):
        for side in list(handles[h]):
            os.close(handles[h].pop(side))
    log('states seen: %s' % ' -> '.join('%s@%.2f' % (s, t) for t, s in states))
    if fails:
        log('RESULT: FAIL (%d)' % len(fails))
        for f in fails:
            print('  - ' + f)
        return 1
    log('RESULT: PASS')
    return 0


if __name__ == '__main__':
    sys.exit(main())
PYEOF

# ---------------------------------------------------------------- scenarios

# the healthy part of s1/s2/s3: synced and unsynced data, names never synced
ops_before()
{
	cat <<'EOF'
mark healthy
mkdir d
hopen K d/keep
hwrite K 0 100 8
write d/synced 0 10000 1 sync
fsyncdir d
fsyncdir .
write d/unsynced 0 7000 2
create d/empty
mkdir d/sub
write d/sub/a 0 3000 3
append d/synced 500 4
write d/trunc 0 9000 5 sync
truncate d/trunc 4000
write d/grow 0 100 6
truncate d/grow 20000
chmod d/unsynced 600
mkdir e
write e/x 0 1234 7
EOF
}

# outage mutations, then reads the overlay holds (no store needed). The
# failure is found by a write on an open handle (a mutation: absorbed at
# once); s1-lookup covers a lookup finding it.
ops_outage()
{
	cat <<'EOF'
mark outage
hwrite K 100 200 9
within 2
state absorbing 10
write d/new1 0 5000 10
append d/new1 3000 11
write d/new2 0 2000 12 sync
mkdir d/newdir
write d/newdir/f 0 4096 13
mkdir d/newdir/deep
create d/newdir/deep/empty2
write d/tmp 0 100 14
unlink d/tmp
write d/ren-src 0 2500 15
rename d/ren-src d/ren-dst
mkdir d/rdir
write d/rdir/x 0 10 16
rename d/rdir d/rdir2
mkdir d/gone-dir
rmdir d/gone-dir
truncate d/new2 1000
write d/new2 1500 100 17
chmod d/new1 640
truncate d/trunc 0
write d/trunc 0 3000 18
append e/x 100 19
hwrite K 50 100 20
read d/new1
read d/new2
read d/newdir/f
read d/ren-dst
read d/rdir2/x
read d/trunc
ls d/newdir
ls d/newdir/deep
ls d/rdir2
stat d/new1
stat d/new2
EOF
}

# reads that may need the store: a background heal releases them
ops_store_reads()
{
	cat <<'EOF'
mark reads that may wait for the path
hclose K
bgheal 2
read d/synced
read d/unsynced
read d/sub/a
read d/grow
read e/x
read d/empty
ls d
ls .
state healthy 20
settle 30
seen absorbing
compare store
compare mount
EOF
}

ops_s1()
{
	ops_before
	echo "fail $1"
	ops_outage
	ops_store_reads
}

# the path hangs: the first write waits path_timeout (2 s), not for the path
ops_s7()
{
	ops_before
	echo "stall all $1"
	ops_outage | sed -e 's/^within 2$/within 4/'
	ops_store_reads
}

# a file opened while absorbing (no store fd), read after a later hang: the
# read opens its store fd, finds the hang and is left behind
ops_s8()
{
	cat <<'EOF'
mark healthy
mkdir d
fsyncdir .
mark a first outage: a file made and opened while absorbing
fail EIO all
hopen H d/fresh
hwrite H 0 5000 81
heal
state healthy 20
settle 30
mark healthy: the same file rewritten through another handle, queued
hopen W d/fresh
hwrite W 0 5000 82
hread W
mark the path hangs; a read through the first handle finds it
stall all then=EIO
hread H
within 4
seen absorbing
mark closed while the read left behind is still stuck
hclose H
write d/after 0 100 83
sleep 0.5
heal
hclose W
state healthy 20
settle 30
compare store
compare mount
EOF
}

# fail EIO write: reads of old data work during the outage, no heal needed
ops_s2_write()
{
	ops_before
	echo "fail EIO write"
	ops_outage
	cat <<'EOF'
mark reads of old data while only writes fail
read d/synced
read d/sub/a
read d/grow
ls d
ls .
EOF
	ops_store_reads
}

ops_s3()
{
	ops_before
	echo "fail EIO all"
	ops_outage
	cat <<'EOF'
mark kill mid-outage, heal, remount with the same journal
hclose K
kill
mark the replay ran before the mount served
compare store
settle 30
compare store
compare mount
mark after the remount
read d/new1
read d/synced
write d/after 0 777 30 sync
append d/new2 50 31
settle 30
compare store
compare mount
EOF
}

ops_s4()
{
	cat <<'EOF'
mark healthy: synced data only the store has
mkdir h
write h/f 0 50000 40 sync
write h/g 0 30000 41 sync
fsyncdir h
fsyncdir .
settle 10
hopen H h/f r
mark held read on an open handle
fail EIO all
bgheal 2
hread H 1.8
seen absorbing
state healthy 20
settle 30
hclose H
mark held read by path
fail EIO all
bgheal 2
read h/g 1.8
state healthy 20
settle 30
compare store
compare mount
EOF
}

ops_s5()
{
	cat <<'EOF'
mark healthy
mkdir a
hopen K a/keep
write a/f 0 100 50 sync
mkdir a/full
write a/full/x 0 10 51 sync
mkdir a/emptyd
fsyncdir a/full
fsyncdir a
fsyncdir .
write a/gone 0 10 52
unlink a/gone
ENOENT stat a/gone
ENOENT read a/gone
ENOENT unlink a/gone
ENOENT rename a/gone a/zz
ENOENT stat a/nodir/x
EEXIST mkdir a/full
EEXIST create-excl a/f
ENOTEMPTY rmdir a/full
ENOTEMPTY rename a/emptyd a/full
EISDIR open-w a/full
EISDIR unlink a/full
EISDIR rename a/f a/emptyd
ENOTDIR rmdir a/f
ENOTDIR stat a/f/x
ENOTDIR mkdir a/f/x
ENOTDIR rename a/emptyd a/f
mark absorbing
fail EIO all
hwrite K 0 10 56
state absorbing 10
write a/o1 0 10 53
unlink a/o1
ENOENT stat a/o1
ENOENT read a/o1
ENOENT unlink a/o1
ENOENT rename a/o1 a/zz
unlink a/f
ENOENT stat a/f
ENOENT read a/f
ENOENT unlink a/f
mkdir a/od
EEXIST mkdir a/od
mkdir a/od2
write a/od2/x 0 10 54
ENOTEMPTY rmdir a/od2
ENOTEMPTY rename a/od a/od2
EISDIR open-w a/od
EISDIR unlink a/od
write a/of 0 10 55
EISDIR rename a/of a/od
EEXIST create-excl a/of
ENOTDIR rmdir a/of
ENOTDIR stat a/of/x
ENOTDIR mkdir a/of/x
ENOTDIR rename a/od a/of
ENOENT stat a/od/missing
read a/od2/x
hclose K
heal
state healthy 20
settle 30
seen absorbing
compare store
compare mount
EOF
}

ops_s6()
{
	cat <<'EOF'
mark healthy
mkdir j
hopen K j/keep
write j/a 0 1000 60 sync
fsyncdir j
fsyncdir .
mark outage
fail EIO all
hwrite K 0 500 63
state absorbing 10
write j/b 0 3000 61
mkdir j/c
write j/c/d 0 100 62
rename j/b j/b2
truncate j/b2 1000
state absorbing 10
inspect
read j/b2
read j/c/d
hclose K
heal
state healthy 20
settle 30
seen absorbing
compare store
compare mount
EOF
}

# the failure found by a lookup: the first op after the fault creates a
# name in a dir made through the mount (the mount knows the name is
# absent). A background heal after 8 s ends the wait if there is one.
ops_s1_lookup()
{
	cat <<'EOF'
mark healthy, everything flushed
mkdir L
write L/a 0 100 70 sync
fsyncdir L
fsyncdir .
settle 10
mark outage, found by a lookup
fail EIO all
bgheal 8
write L/new 0 100 71
within 2
mkdir L/newdir
write L/newdir/x 0 50 72
read L/new
seen absorbing
state healthy 20
settle 30
compare store
compare mount
EOF
}

scenario_ops()
{
	case $1 in
	s1-eio) ops_s1 "EIO all" ;;
	s1-lookup) ops_s1_lookup ;;
	s2-enotconn) ops_s1 "ENOTCONN all" ;;
	s2-etimedout) ops_s1 "ETIMEDOUT all" ;;
	s2-erofs) ops_s1 "EROFS all" ;;
	s2-eio-write) ops_s2_write ;;
	s3-kill) ops_s3 ;;
	s4-hold) ops_s4 ;;
	s5-apperr) ops_s5 ;;
	s6-journal) ops_s6 ;;
	s7-stall) ops_s7 "" ;;
	s7-stall-eio) ops_s7 "then=EIO" ;;
	s8-stall-close) ops_s8 ;;
	*) lb_fail "unknown scenario '$1' (known: $ALL)" ;;
	esac
}

# ---------------------------------------------------------------- driver

# ab_stack_down: heal, unmount both, stop both daemons (ours, by PID) and
# forget their PIDs so that cleanup never signals a reused one.
stack_down()
{
	local p keep=()

	ab_ctl heal >/dev/null 2>&1
	lb_force_umount "$AB_MNT"
	lb_stop_pid "$AB_LB_PID"
	lb_force_umount "$AB_FAULTY"
	lb_stop_pid "$AB_FAULTFS_PID"
	for p in "${LB_PIDS[@]}"; do
		[[ "$p" == "$AB_LB_PID" || "$p" == "$AB_FAULTFS_PID" ]] || keep+=("$p")
	done
	LB_PIDS=("${keep[@]}")
}

# run_one NAME N: a fresh stack in $LB_WORK/NAME.N, the scenario's ops.
run_one()
{
	local name=$1 n=$2 dir=$LB_WORK/$1.$2 rc kill_script

	AB_STORE=$dir/store AB_FAULTY=$dir/faulty AB_MNT=$dir/mnt AB_MIRROR=$dir/mirror
	AB_CTL=$dir/faultfs.ctl AB_JOURNAL=$dir/journal AB_STATUS=$dir/status.json
	AB_PIDFILE=$dir/lifeboatfs.pid
	mkdir -p "$AB_STORE" "$AB_FAULTY" "$AB_MNT" "$AB_MIRROR"
	ab_stack_up
	kill_script=$(ab_kill_script) || return 1
	scenario_ops "$name" >"$dir/ops"
	timeout -s KILL $((OP_LIMIT * 3 + 120)) python3 "$APP" mirror="$AB_MIRROR" mount="$AB_MNT" \
		store="$AB_STORE" status="$AB_STATUS" ctl="$AB_CTL" faultctl="$FAULTCTL" \
		kill_script="$kill_script" journal="$AB_JOURNAL" lifeboat="$LIFEBOAT" \
		op_limit="$OP_LIMIT" <"$dir/ops" >"$dir/app.log" 2>&1
	rc=$?
	ab_adopt_pid
	ab_lb_died "after $name #$n" && rc=1
	stack_down
	return $rc
}

declare -A PASSED
bad=0
for name in $ONLY; do
	PASSED[$name]=0
	for ((i = 1; i <= REPEAT; i++)); do
		if run_one "$name" "$i"; then
			PASSED[$name]=$((PASSED[$name] + 1))
			lb_log "$name #$i: PASS ($(grep -c '' "$LB_WORK/$name.$i/ops") ops)"
			grep -E 'hread|read h/g|inspect:' "$LB_WORK/$name.$i/app.log" | sed 's/^/#   /' >&2
		else
			bad=$((bad + 1))
			echo "FAIL: $name #$i: app log '$LB_WORK/$name.$i/app.log':" >&2
			grep -E 'FAIL|HUNG|^  - ' "$LB_WORK/$name.$i/app.log" | head -n 30 | sed 's/^/    /' >&2
		fi
	done
done
for name in $ONLY; do
	echo "# $name: ${PASSED[$name]}/$REPEAT" >&2
done
((bad == 0)) || lb_fail "$bad of $(($(wc -w <<<"$ONLY") * REPEAT)) scenario runs failed"
echo PASS
