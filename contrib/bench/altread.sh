#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# altread.sh - what a read costs on a node whose path to the store failed,
# served through its peer (lifeboatfs -o alt_read): latency of reads of
# 4 KiB, 128 KiB and 1 MiB at offsets never read before (medians and
# maxima), and the rate of one sequential read of a file, against the same
# reads on the healthy peer's own mount. Two nodes as in tests/handoff
# (network namespaces joined by veth, one mount namespace each, a shared
# store, node a's path through faultfs, failed with EIO). A benchmark that
# prints figures, not a test. Root, /dev/fuse, a built tree.
#
#   contrib/bench/altread.sh [--reads N] [--mib M] [--build DIR]
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
READS=50
MIB=64
while (($#)); do
	case $1 in
	--reads) READS=$2; shift 2 ;;
	--mib) MIB=$2; shift 2 ;;
	--build) HO_BUILD=$2; shift 2 ;;
	*) echo "usage: $0 [--reads N] [--mib M] [--build DIR]" >&2; exit 2 ;;
	esac
done
HO_BUILD=${HO_BUILD:-$top/build}
source "$top/tests/handoff/lib-handoff.sh"

# the reads: a process that opens its files, waits for GO, reads, prints
ho_init bench-altread
cat >"$HO_W/reads.py" <<'PY'
import os, random, statistics, sys, time
go, seq, rnd, reads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
fs, fr = os.open(seq, os.O_RDONLY), os.open(rnd, os.O_RDONLY)
size = os.fstat(fr).st_size
print("open", flush=True)
while not os.path.exists(go):
    time.sleep(0.01)
offsets = list(range(0, size, 1 << 20))
random.seed(1)
random.shuffle(offsets)
for length in (4096, 128 << 10, 1 << 20):
    ms = []
    for _ in range(reads):
        off = offsets.pop()	# a MiB never read before: not in the page cache
        t0 = time.monotonic()
        n = len(os.pread(fr, length, off))
        ms.append((time.monotonic() - t0) * 1000)
        assert n == length
    print("  %7d bytes: median %.2f ms, max %.2f ms (%d reads)" %
          (length, statistics.median(ms), max(ms), reads), flush=True)
t0, total = time.monotonic(), 0
while True:
    b = os.read(fs, 1 << 20)
    if not b:
        break
    total += len(b)
s = time.monotonic() - t0
print("  sequential read of %d MiB: %.0f MiB/s" % (total >> 20, total / 1048576 / s), flush=True)
PY
ho_net_up
mkdir -p "$HO_W/store"
# a fresh MiB per random read, a file per node: nothing comes from a page cache
head -c $(((3 * READS + 1) << 20)) /dev/urandom >"$HO_W/store/random-a"
cp "$HO_W/store/random-a" "$HO_W/store/random-b"
head -c $((MIB << 20)) /dev/urandom >"$HO_W/store/seq-a"
cp "$HO_W/store/seq-a" "$HO_W/store/seq-b"
ho_faultfs_up
HO_FS_OPTS_a="alt_read=$HO_STATE/a/altread.sock"
ho_node_start a b "$HO_W/faulty"
ho_node_start b a "$HO_W/store"

run() # NODE LABEL [cut]
{
	local n=$1 v="HO_NODE_PID_$1"

	rm -f "$HO_W/go-$n"
	nsenter -t "${!v}" -m -n -- python3 "$HO_W/reads.py" "$HO_W/go-$n" \
		"$HO_W/mnt/seq-$n" "$HO_W/mnt/random-$n" "$READS" >"$HO_W/out-$n" 2>&1 &
	for ((i = 0; i < 100; i++)); do
		[[ "$(head -n 1 "$HO_W/out-$n")" == open ]] && break
		sleep 0.1
	done
	[[ -n "${3:-}" ]] && { ho_faultctl fail EIO >/dev/null || ho_fail "faultctl fail"; }
	touch "$HO_W/go-$n"
	wait $!
	echo "$2:"
	tail -n +2 "$HO_W/out-$n"
}

run b "b, its own healthy mount (the baseline)"
run a "a, path failed (EIO), through b" cut
grep -q "store path failed: absorbing" "$HO_W/log/lifeboatfs-a.log" || ho_fail "a did not absorb"
HO_OK=1
