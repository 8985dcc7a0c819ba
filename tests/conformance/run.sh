#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# run.sh - differential POSIX conformance: run posixcmp on a native
# directory and on a FUSE mount of a store directory on the same file
# system, as root and as two unprivileged users, and require identical
# transcripts.
#
#   LIFEBOATFS=build/fs/lifeboatfs POSIXCMP=build/tests/conformance/posixcmp \
#	tests/conformance/run.sh [--native] [--case PATTERN]
#
#   --native	compare two native directories (no mount): proves that the
#		transcript is deterministic; must always pass
#   --case P	only the cases whose name matches the glob P
#
# Environment: LIFEBOATFS (default: bindfs, for development), POSIXCMP,
# CONFORMANCE_DIR (parent of the private work dir, default /var/tmp),
# CONFORMANCE_KEEP=1 keeps the work dir after a pass.
# Exit: 0 identical, 1 any difference or failure (the diff is shown and
# the work dir with logs kept), 77 no root or no /dev/fuse.

set -u

here=$(cd "$(dirname "$0")" && pwd)
LIFEBOATFS=${LIFEBOATFS:-bindfs}
POSIXCMP=${POSIXCMP:-$here/../../build/tests/conformance/posixcmp}
native_only=0
case_args=()
# identities of the unprivileged passes: uid:gid:supplementary groups
users=("1000:1000:1000,2000" "1001:1001:1001,3000")

while [ $# -gt 0 ]; do
	case $1 in
	--native) native_only=1 ;;
	--case) case_args=(--case "$2"); shift ;;
	*) echo "usage: $0 [--native] [--case PATTERN]" >&2; exit 2 ;;
	esac
	shift
done

skip() { echo "SKIP: $*"; exit 77; }
log() { echo "conformance: $*"; }

[ "$(id -u)" = 0 ] || skip "needs root (mounts with allow_other, runs cases as other users)"
[ $native_only = 1 ] || [ -c /dev/fuse ] || skip "no /dev/fuse"
[ -x "$POSIXCMP" ] || { log "posixcmp not found at '$POSIXCMP'"; exit 1; }
if [ $native_only = 0 ] && ! command -v "$LIFEBOATFS" >/dev/null; then
	log "file system binary '$LIFEBOATFS' not found"
	exit 1
fi

work=$(mktemp -d "${CONFORMANCE_DIR:-/var/tmp}/lifeboat-conformance.XXXXXX") || exit 1
chmod 0755 "$work"
native=$work/native
store=$work/store
mnt=$work/mnt
fs_pid=
mounted=0
status=1

cleanup() {
	if [ $mounted = 1 ]; then
		umount "$mnt" 2>>"$work/fs.log" || umount -l "$mnt" 2>>"$work/fs.log"
	fi
	if [ -n "$fs_pid" ]; then
		for _ in $(seq 50); do
			kill -0 "$fs_pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$fs_pid" 2>/dev/null; then
			log "file system pid $fs_pid still running after unmount, killing it"
			kill "$fs_pid"
		fi
		wait "$fs_pid" 2>/dev/null
	fi
	if [ $status = 0 ] && [ "${CONFORMANCE_KEEP:-0}" != 1 ]; then
		rm -rf "$work"
	else
		log "work dir kept: $work"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

is_mounted() {
	awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo
}

start_fs() {
	mkdir -p "$store" "$mnt"
	chmod 0755 "$store"
	"$LIFEBOATFS" "$store" "$mnt" -f -o allow_other,default_permissions \
		>"$work/fs.log" 2>&1 &
	fs_pid=$!
	for _ in $(seq 100); do
		if is_mounted "$mnt"; then
			mounted=1
			log "mounted $LIFEBOATFS (pid $fs_pid) on $mnt"
			return 0
		fi
		kill -0 "$fs_pid" 2>/dev/null || break
		sleep 0.1
	done
	log "'$LIFEBOATFS' did not mount; its log:"
	cat "$work/fs.log"
	return 1
}

# run_pass NAME DIR [--as ID]: one transcript, DIR is created first
run_pass() {
	local name=$1 dir=$2
	shift 2
	mkdir -p "$dir" && chmod 1777 "$dir" || return 1
	timeout -k 10 240 "$POSIXCMP" "$dir" "${case_args[@]}" "$@" \
		>"$work/$name" 2>"$work/$name.err"
	local r=$?
	if [ $r != 0 ]; then
		log "posixcmp $name exited $r:"
		cat "$work/$name.err"
	fi
	return $r
}

# filter WANT FILE: the lines of FILE whose case is waived (WANT=1) or not
filter() {
	awk -v want="$1" 'NR == FNR { if ($0 !~ /^#/ && NF) w[$1 ":"] = 1; next }
		(($1 in w) ? 1 : 0) == want' "$here/waivers" "$2"
}

# show_diff TITLE A B: print the diff of two files, return its line count
ndiff=0
show_diff() {
	ndiff=$(diff "$2" "$3" | grep -c '^[<>]')
	[ "$ndiff" = 0 ] && return
	log "$1: $ndiff differing lines (- native, + mount)"
	diff -U1 "$2" "$3" | sed 1,2d
}

# compare PASS: diff native and mount transcripts of one pass
differing=0
waived=0
assertions=0
compare() {
	local a=$work/$1.native b=$work/$1.mount
	assertions=$((assertions + $(wc -l <"$a")))
	filter 0 "$a" >"$a.checked"
	filter 0 "$b" >"$b.checked"
	show_diff "pass '$1'" "$a.checked" "$b.checked"
	differing=$((differing + ndiff))
	filter 1 "$a" >"$a.waived"
	filter 1 "$b" >"$b.waived"
	show_diff "pass '$1', waived (see tests/conformance/waivers)" \
		"$a.waived" "$b.waived"
	waived=$((waived + ndiff))
}

if [ $native_only = 1 ]; then
	other=$work/native2
	mkdir -p "$other" && chmod 0755 "$other"
	log "comparing two native directories"
else
	start_fs || exit 1
	other=$mnt
fi

mkdir -p "$native" && chmod 0755 "$native"
passes=(root)
run_pass root.native "$native/root" &&
	run_pass root.mount "$other/root" || exit 1
for u in "${users[@]}"; do
	p=u${u%%:*}
	passes+=("$p")
	run_pass "$p.native" "$native/$p" --as "$u" &&
		run_pass "$p.mount" "$other/$p" --as "$u" || exit 1
done
for p in "${passes[@]}"; do
	compare "$p"
done
log "$assertions assertions in ${#passes[@]} passes, $differing differing lines, $waived waived"
[ $differing = 0 ] || exit 1
status=0
exit 0
