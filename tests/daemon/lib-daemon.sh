#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# lib-daemon.sh - shared by the tests of suite `daemon`: a private work dir,
# a lifeboatd on a temporary config and socket (never /run/lifeboat), its
# own cgroup parent, optionally a lifeboatfs mount; everything started here
# is stopped and removed on exit, also on failure (logs printed then).
#
# Environment (set by meson): LIFEBOATD, LIFEBOAT, LIFEBOATFS, WRITER.
set -euo pipefail

readonly LD_CRIU=/usr/local/lib/lifeboat/criu/sbin/criu

LD_NAME=${LD_NAME:-daemon}
LD_W=
LD_PID=
LD_FS_PID=
LD_MNT=
LD_OK=0

fail()
{
	echo "FAIL: $*" >&2
	exit 1
}

skip()
{
	echo "SKIP: $*" >&2
	exit 77
}

log()
{
	echo "[$(date +%T.%N | cut -c1-12)] $*"
}

ld_cleanup()
{
	local rc=$? pid

	set +e
	if [[ -n "$LD_PID" ]] && kill -0 "$LD_PID" 2>/dev/null; then
		for name in $("$LIFEBOAT" ps --json 2>/dev/null | python3 -c '
import json, sys
for p in json.load(sys.stdin)["procsets"]:
    if p["state"] == "running":
        print(p["name"])' 2>/dev/null); do
			"$LIFEBOAT" stop "$name" --timeout 2 >/dev/null 2>&1
		done
		kill "$LD_PID" 2>/dev/null
		wait "$LD_PID" 2>/dev/null
	fi
	# whatever is left of our process sets: by our own cgroup parent only
	for hier in freezer cpuacct memory; do
		local parent=/sys/fs/cgroup/$hier/$LD_CG_PARENT
		[[ -d "$parent" ]] || continue
		for cg in "$parent"/*/; do
			[[ -d "$cg" ]] || continue
			[[ "$hier" == freezer ]] && echo THAWED >"$cg/freezer.state" 2>/dev/null
			for pid in $(cat "$cg/cgroup.procs" 2>/dev/null); do
				kill -KILL "$pid" 2>/dev/null
			done
			sleep 0.1
			rmdir "$cg" 2>/dev/null
		done
		rmdir "$parent" 2>/dev/null
	done
	if [[ -n "$LD_MNT" ]] && mountpoint -q "$LD_MNT"; then
		fusermount3 -u "$LD_MNT" 2>/dev/null || umount -l "$LD_MNT"
	fi
	if [[ -n "$LD_FS_PID" ]]; then
		kill "$LD_FS_PID" 2>/dev/null
		wait "$LD_FS_PID" 2>/dev/null
	fi
	if ((rc != 0 && rc != 77)) || ((LD_OK == 0 && rc == 0)); then
		echo "--- logs of $LD_W" >&2
		for f in "$LD_W"/lifeboatd.log "$LD_W"/lifeboatfs.log "$LD_W"/logs/*; do
			[[ -f "$f" ]] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
		done
		for f in "$LD_W"/state/images/*/*.log; do
			[[ -f "$f" ]] && { echo "--- $f" >&2; grep -E 'Error|Warn' "$f" | tail -n 15 >&2; }
		done
	fi
	if [[ -n "$LD_W" ]]; then
		# nothing may stay mounted below the work dir (a killed criu's
		# cgroup yard holds the host's cgroups: rm must never walk into it)
		findmnt -rn -o TARGET | grep "^$LD_W/" | sort -r | while read -r m; do
			echo "cleanup: unmounting leftover '$m'" >&2
			umount -l "$m"
		done
		rm -rf --one-file-system "$LD_W"
	fi
	exit "$rc"
}

# ld_init: root, cgroup v1 freezer, a work dir and the cleanup trap.
ld_init()
{
	((EUID == 0)) || skip "needs root (process sets, cgroups, PID namespaces)"
	[[ -d /sys/fs/cgroup/freezer ]] || skip "no cgroup v1 freezer hierarchy at /sys/fs/cgroup/freezer"
	for v in LIFEBOATD LIFEBOAT; do
		[[ -x "${!v:-}" ]] || fail "\$$v is not set to an executable (run through meson test)"
	done
	LD_W=$(mktemp -d "/tmp/lifeboat-$LD_NAME.XXXXXX")
	LD_CG_PARENT="lifeboat-test-$LD_NAME-$$"
	export LIFEBOAT_SOCKET="$LD_W/run/control.sock"
	trap ld_cleanup EXIT
	mkdir -p "$LD_W/work"
}

ld_need_criu()
{
	[[ -x "$LD_CRIU" ]] || skip "no CRIU at $LD_CRIU (contrib/install-criu.sh installs it)"
}

# ld_config [LINES...]: the config with a [node] section and extra lines.
ld_config()
{
	{
		echo "[node]"
		echo "name = test-$LD_NAME"
		echo "control_socket = $LIFEBOAT_SOCKET"
		echo "state_dir = $LD_W/state"
		echo "log_dir = $LD_W/logs"
		echo "cgroup_parent = $LD_CG_PARENT"
		echo "stop_timeout = 5"
		echo "criu_timeout = 60"
		local l
		for l in "$@"; do
			echo "$l"
		done
	} >"$LD_W/lifeboat.conf"
}

# ld_start: lifeboatd on that config; waits until it answers.
ld_start()
{
	"$LIFEBOATD" -c "$LD_W/lifeboat.conf" >"$LD_W/lifeboatd.log" 2>&1 &
	LD_PID=$!
	for _ in $(seq 100); do
		"$LIFEBOAT" ping >/dev/null 2>&1 && return 0
		kill -0 "$LD_PID" 2>/dev/null || fail "lifeboatd exited at start"
		sleep 0.05
	done
	fail "lifeboatd does not answer on $LIFEBOAT_SOCKET"
}

# ld_mount: lifeboatfs over $LD_W/store at $LD_W/mnt.
ld_mount()
{
	[[ -c /dev/fuse ]] || skip "no /dev/fuse"
	[[ -x "${LIFEBOATFS:-}" ]] || fail "\$LIFEBOATFS is not set to an executable"
	mkdir -p "$LD_W/store" "$LD_W/mnt"
	LD_MNT=$LD_W/mnt
	"$LIFEBOATFS" "$LD_W/store" "$LD_MNT" -f \
		-o "allow_other,journal=$LD_W/journal,status=$LD_W/status.json" >"$LD_W/lifeboatfs.log" 2>&1 &
	LD_FS_PID=$!
	for _ in $(seq 100); do
		[[ "$(findmnt -n -o FSTYPE "$LD_MNT" 2>/dev/null)" == fuse.lifeboatfs ]] && return 0
		kill -0 "$LD_FS_PID" 2>/dev/null || fail "lifeboatfs exited at mount"
		sleep 0.05
	done
	fail "lifeboatfs did not mount '$LD_MNT'"
}

# ld_ps_field NAME FIELD: a field of a process set from `lifeboat ps --json`.
ld_ps_field()
{
	"$LIFEBOAT" ps --json | python3 -c '
import json, sys
for p in json.load(sys.stdin)["procsets"]:
    if p["name"] == sys.argv[1]:
        print(p[sys.argv[2]])' "$1" "$2"
}

# ld_nspid PID: the innermost pid of PID (its pid in its own namespace).
ld_nspid()
{
	awk '/^NSpid:/ { print $NF }' "/proc/$1/status"
}

# ld_children PID: the direct children of PID.
ld_children()
{
	cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -v '^$' || true
}

# ld_gone PID: PID has ended (gone, or a zombie its new parent has not reaped)
ld_gone()
{
	[[ ! -e /proc/$1/stat ]] || [[ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" == Z ]]
}

ld_done()
{
	LD_OK=1
	log "PASS"
}
