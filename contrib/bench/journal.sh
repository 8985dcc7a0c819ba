#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# journal.sh - what the iSCSI journal costs. Durable append latency (median,
# 99th percentile) and throughput for 4 KiB and 1 MiB records over a
# loopback iSCSI session to tgtd (LUN on a file), beside the same appends to
# a local journal file with fdatasync, both on the same disk; then 4 KiB
# write latency of a lifeboatfs mount absorbing a path failure with its
# journal on iSCSI and on a local file, and the replay of M MiB written
# while absorbing once the path returns. A benchmark that prints figures, not
# a test. Root, tgtd, /dev/fuse, a built tree (ninja -C build).
#
#   contrib/bench/journal.sh [--build DIR] [--count4k N] [--count1m N] [--writes N] [--mib M]
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$top/build
COUNT4K=2000
COUNT1M=200
WRITES=2000
MIB=64

while (($#)); do
	case $1 in
	--build) BUILD=$(realpath "$2"); shift 2 ;;
	--count4k) COUNT4K=$2; shift 2 ;;
	--count1m) COUNT1M=$2; shift 2 ;;
	--writes) WRITES=$2; shift 2 ;;
	--mib) MIB=$2; shift 2 ;;
	*) echo "usage: $0 [--build DIR] [--count4k N] [--count1m N] [--writes N] [--mib M]" >&2; exit 2 ;;
	esac
done
((EUID == 0)) || { echo "journal.sh: needs root" >&2; exit 1; }
command -v tgtd >/dev/null || { echo "journal.sh: tgtd not installed (package tgt)" >&2; exit 1; }

# the tests' harness starts and stops tgtd and the absorb stack for us
export LIFEBOATFS=${LIFEBOATFS:-$BUILD/fs/lifeboatfs}
export FAULTFS=${FAULTFS:-$BUILD/tests/faultfs/faultfs}
export FAULTCTL=${FAULTCTL:-$BUILD/tests/faultfs/faultctl}
export LIFEBOAT=${LIFEBOAT:-$BUILD/daemon/lifeboat}
export JWRITER=${JWRITER:-$BUILD/tests/iscsi/jwriter}
export ABSORB_LB_OPTS="probe_interval=0.05"
IS_LUN_SIZE=1G
IS_TIMEOUT=60
source "$top/tests/iscsi/lib-iscsi.sh"
is_init bench-journal
# the work dir is on /tmp; make sure the LUN and the local journal share a disk
[[ "$(stat -f -c %T "$LB_WORK")" != tmpfs ]] || lb_fail "'$LB_WORK' is on tmpfs: fdatasync would be free"

cc -O2 -Wall -I "$top/include" -o "$LB_WORK/journal-bench" "$top/contrib/bench/journal-bench.c" \
	"$BUILD/lib/liblifeboat.a" $(pkg-config --cflags --libs libiscsi libxxhash) -lpthread ||
	lb_fail "cannot build journal-bench"
is_tgtd_start

echo "# lifeboat journal benchmark, $(date -u '+%F %H:%M') UTC, $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
echo "# iSCSI: tgtd on loopback, LUN on a file in $LB_WORK; file: fdatasync in the same dir"
for spec in "4096 $COUNT4K" "1048576 $COUNT1M"; do
	read -r size count <<<"$spec"
	label=$([[ $size == 4096 ]] && echo "4 KiB" || echo "1 MiB")
	printf '%-6s iSCSI: %s\n' "$label" "$("$LB_WORK/journal-bench" "$IS_URL" "$size" "$count")"
	printf '%-6s file:  %s\n' "$label" "$("$LB_WORK/journal-bench" "$LB_WORK/local.journal" "$size" "$count")"
	rm -f "$LB_WORK/local.journal"
done

# absorbing-mode write latency (the measurement of contrib/bench/absorb.sh)
latencies()
{
	python3 - "$1" "$2" <<'EOF'
import os, sys, time
path, n = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
buf = os.urandom(4096)
lat = []
for i in range(n):
    t = time.perf_counter_ns()
    os.pwrite(fd, buf, (i % 256) * 4096)
    lat.append((time.perf_counter_ns() - t) / 1000)
os.close(fd)
lat.sort()
print('median %.1f us, p99 %.1f us' % (lat[len(lat) // 2], lat[int(len(lat) * 0.99)]))
EOF
}

# absorbing JOURNAL WHAT N: one mount; names of its own (a name a fresh mount
# has never seen waits for the store while absorbing)
absorbing()
{
	local journal=$1 what=$2 n=$3

	AB_JOURNAL=$journal
	ab_stack_up >/dev/null 2>&1
	echo "4 KiB write, healthy, journal $what: $(latencies "$AB_MNT/healthy$n" "$WRITES")"
	ab_ctl fail EIO all >/dev/null
	echo x >"$AB_MNT/trigger$n"
	is_wait_status 'state == "absorbing"' 10
	echo "4 KiB write, absorbing, journal $what: $(latencies "$AB_MNT/absorbed$n" "$WRITES")"
	dd if=/dev/urandom of="$AB_MNT/bulk$n" bs=1M count="$MIB" status=none
	local start end
	start=$(date +%s.%N)
	ab_ctl heal >/dev/null
	is_wait_status 'state == "healthy"' 60
	end=$(date +%s.%N)
	python3 -c 'import sys; s, e, m = map(float, sys.argv[1:4]); print("recovery, journal %s: %d MiB written while absorbing replayed in %.2f s, %.1f ms per MiB" % (sys.argv[4], m, e - s, (e - s) * 1000 / m))' \
		"$start" "$end" "$MIB" "$what"
	lb_umount "$AB_MNT"
	lb_wait_exit "$AB_LB_PID" >/dev/null
	lb_force_umount "$AB_FAULTY"
	lb_wait_exit "$AB_FAULTFS_PID" >/dev/null
	LB_MOUNTS=()
}
absorbing "$(is_url 1 "$IS_INIT_A")" "on iSCSI" 1
absorbing "$LB_WORK/local2.journal" "in a local file" 2
