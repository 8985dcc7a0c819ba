#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# absorb.sh - what a path failure costs: 4 KiB write latency while healthy
# and while absorbing (journal on local disk), and the time from the path's
# return to healthy, per MiB of journal. A benchmark that prints figures,
# not a test. Root, /dev/fuse, a built tree (ninja -C build).
#
#   contrib/bench/absorb.sh [--writes N] [--mib M]
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
LIFEBOATFS=${LIFEBOATFS:-$top/build/fs/lifeboatfs}
FAULTFS=${FAULTFS:-$top/build/tests/faultfs/faultfs}
FAULTCTL=${FAULTCTL:-$top/build/tests/faultfs/faultctl}
WRITES=2000
MIB=64

while (($#)); do
	case $1 in
	--writes) WRITES=$2; shift 2 ;;
	--mib) MIB=$2; shift 2 ;;
	*) echo "usage: $0 [--writes N] [--mib M]" >&2; exit 2 ;;
	esac
done

work=$(mktemp -d /tmp/lifeboat-bench-absorb.XXXXXX)
pids=()
cleanup()
{
	fusermount3 -u "$work/mnt" 2>/dev/null || umount -l "$work/mnt" 2>/dev/null || true
	fusermount3 -u "$work/faulty" 2>/dev/null || umount -l "$work/faulty" 2>/dev/null || true
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/store" "$work/faulty" "$work/mnt"
"$FAULTFS" "$work/store" "$work/faulty" --ctl "$work/ctl" -f 2>"$work/faultfs.log" &
pids+=($!)
for _ in $(seq 50); do mountpoint -q "$work/faulty" && break; sleep 0.1; done
"$LIFEBOATFS" "$work/faulty" "$work/mnt" -f \
	-o "journal=$work/journal,status=$work/status,probe_interval=0.05" 2>"$work/lifeboatfs.log" &
pids+=($!)
for _ in $(seq 50); do mountpoint -q "$work/mnt" && break; sleep 0.1; done

state()
{
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["state"])' "$work/status"
}

# 4 KiB pwrite latencies (microseconds), median and 99th percentile.
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

echo "# lifeboatfs absorb benchmark, $(date -u '+%F %H:%M') UTC, $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
echo "4 KiB write, healthy (through faultfs):  $(latencies "$work/mnt/healthy" "$WRITES")"
"$FAULTCTL" "$work/ctl" fail EIO all >/dev/null
echo x >"$work/mnt/trigger"	# the first mutation meets the failure
for _ in $(seq 100); do [[ $(state) == absorbing ]] && break; sleep 0.05; done
echo "4 KiB write, absorbing (journal fdatasync per write): $(latencies "$work/mnt/absorbed" "$WRITES")"

dd if=/dev/urandom of="$work/mnt/bulk" bs=1M count="$MIB" status=none
jbytes=$(stat -c %s "$work/journal")
start=$(date +%s.%N)
"$FAULTCTL" "$work/ctl" heal >/dev/null
until [[ $(state) == healthy ]]; do sleep 0.01; done
end=$(date +%s.%N)
python3 -c "
import sys
s, e, j = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]) / 2**20
print('recovery: %.1f MiB of journal replayed in %.3f s, %.1f ms per MiB' % (j, e - s, (e - s) * 1000 / j))
" "$start" "$end" "$jbytes"
