#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# handoff-local.sh - what a local checkpoint and restore of a process set
# costs through lifeboatd: freeze (cgroup v1 freezer), sync (syncfs of the
# mounts and the working directory), dump (CRIU into the image directory)
# and restore (CRIU, restored init a child of lifeboatd), for a process
# with SIZE_MB (default 100) MiB resident, ROUNDS (default 5) rounds; prints
# every round and the medians. No network: the transfer and the peer's
# steps are measured by contrib/bench/handoff.sh.
#
# Usage, as root, after a build: contrib/bench/handoff-local.sh [BUILD_DIR]
# (default build-daemon). IMG_DIR picks where images go (default a temp dir
# under /var/tmp; its file system is printed).
set -euo pipefail

build=${1:-build-daemon}
size_mb=${SIZE_MB:-100}
rounds=${ROUNDS:-5}
lifeboatd=$build/daemon/lifeboatd
lifeboat=$build/daemon/lifeboat

die() { echo "handoff-local: $*" >&2; exit 1; }

((EUID == 0)) || die "must run as root"
[[ -x "$lifeboatd" && -x "$lifeboat" ]] || die "no lifeboatd/lifeboat in '$build' (build first)"
[[ -x /usr/local/lib/lifeboat/criu/sbin/criu ]] || die "no CRIU (run contrib/install-criu.sh)"

w=$(mktemp -d /var/tmp/lifeboat-bench-local.XXXXXX)
img=${IMG_DIR:-$w/img}
cg=lifeboat-bench-$$
pid=
export LIFEBOAT_SOCKET=$w/run/control.sock

cleanup()
{
	set +e
	"$lifeboat" stop mem --timeout 2 >/dev/null 2>&1
	[[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	for h in freezer cpuacct memory; do
		rmdir /sys/fs/cgroup/$h/$cg/mem /sys/fs/cgroup/$h/$cg 2>/dev/null
	done
	rm -rf --one-file-system "$w"
}
trap cleanup EXIT

cat >"$w/lifeboat.conf" <<CONF
[node]
name = bench
control_socket = $LIFEBOAT_SOCKET
state_dir = $w/state
log_dir = $w/logs
cgroup_parent = $cg
criu_log_level = 1
CONF
"$lifeboatd" -c "$w/lifeboat.conf" >"$w/lifeboatd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do "$lifeboat" ping >/dev/null 2>&1 && break; sleep 0.05; done

# SIZE_MB of distinct, non-zero pages (zero pages would tell nothing), then idle
mkdir -p "$w/app"
"$lifeboat" run --name mem --cwd "$w/app" -- python3 -c '
import os, sys, time
n = int(sys.argv[1]) << 20
b = bytearray(os.urandom(n))
print("resident", len(b), flush=True)
while True:
    time.sleep(0.05)
    b[0] = (b[0] + 1) & 255
' "$size_mb" >/dev/null
for _ in $(seq 200); do grep -q resident "$w/logs/mem.stdout" 2>/dev/null && break; sleep 0.1; done
grep -q resident "$w/logs/mem.stdout" || die "the memory hog did not start: $(cat "$w/logs/mem.stderr")"

rss_mb()
{
	local init child
	init=$("$lifeboat" ps --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["procsets"][0]["pid"])')
	child=$(cat /proc/"$init"/task/*/children | awk '{ print $1 }')
	awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$child/status"
}

echo "handoff-local: $(nproc) cores, $(uname -r), images in $(dirname "$img") ($(findmnt -n -o FSTYPE -T "$(dirname "$img")"))"
echo "process: python3 with ${size_mb} MiB of random bytes, RSS $(rss_mb) MiB"
printf '%-6s %10s %10s %10s %12s %10s %12s\n' round freeze_ms sync_ms dump_ms restore_ms image_MiB total_ms
: >"$w/rows"
for r in $(seq "$rounds"); do
	c=$("$lifeboat" checkpoint mem --dir "$img" --json)
	s=$("$lifeboat" restore mem --json)
	mib=$(du -sm "$img" | awk '{ print $1 }')
	python3 - "$r" "$mib" "$c" "$s" <<'PY' | tee -a "$w/rows"
import json, sys
c, s = json.loads(sys.argv[3]), json.loads(sys.argv[4])
f, y, d, rs = (c["freeze_us"] / 1e3, c["sync_us"] / 1e3, c["dump_us"] / 1e3, s["restore_us"] / 1e3)
print("%-6s %10.2f %10.2f %10.1f %12.1f %10s %12.1f" % (sys.argv[1], f, y, d, rs, sys.argv[2], f + y + d + rs))
PY
	sleep 0.5
done
echo "process after $rounds rounds: RSS $(rss_mb) MiB, state $("$lifeboat" ps --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["procsets"][0]["state"])')"
python3 - "$w/rows" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
cols = ["freeze_ms", "sync_ms", "dump_ms", "restore_ms", "image_MiB", "total_ms"]
med = [statistics.median(float(r[i + 1]) for r in rows) for i in range(len(cols))]
print("median " + " ".join("%s=%.2f" % (c, m) for c, m in zip(cols, med)))
print("dump rate %.0f MiB/s, restore rate %.0f MiB/s (image MiB / time)" %
      (med[4] / (med[2] / 1e3), med[4] / (med[3] / 1e3)))
PY
