#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-faultfs.sh - integration test of faultfs and faultctl on a real FUSE
# mount: passthrough, failing writes, after=N, stall/heal, and the rollback
# of what was not synced. Needs root and /dev/fuse (exit 77 without them).
# Env: FAULTFS, FAULTCTL (paths of the binaries), FH_PROBE (optional).
set -u

FAULTFS=${FAULTFS:?FAULTFS must name the faultfs binary}
FAULTCTL=${FAULTCTL:?FAULTCTL must name the faultctl binary}

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (mounts a FUSE file system)"
[ -c /dev/fuse ] || skip "/dev/fuse is missing"
command -v fusermount3 >/dev/null || command -v umount >/dev/null || skip "no umount"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/test-faultfs.XXXXXX") || exit 1
REAL=$WORK/real
MNT=$WORK/mnt
CTL=$WORK/ctl.sock
LOG=$WORK/faultfs.log
FF_PID=
FAILED=0
mkdir "$REAL" "$MNT"

cleanup() {
	local rc=$?

	if [ -n "$FF_PID" ]; then
		"$FAULTCTL" "$CTL" heal >/dev/null 2>&1
		fusermount3 -u "$MNT" 2>/dev/null || umount "$MNT" 2>/dev/null ||
			umount -l "$MNT" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$FF_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill "$FF_PID" 2>/dev/null
		wait "$FF_PID" 2>/dev/null
	fi
	if [ "$FAILED" != 0 ] || [ "$rc" != 0 ]; then
		echo "--- faultfs log ($LOG, work dir kept: $WORK) ---" >&2
		cat "$LOG" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	FAILED=1
}
pass() { echo "ok: $*"; }
ctl() { "$FAULTCTL" "$CTL" "$@"; }

# expect_errno TEXT CMD...: CMD fails and its stderr mentions TEXT.
expect_errno() {
	local want=$1 err
	shift
	if err=$("$@" 2>&1 >/dev/null); then
		fail "'$*' succeeded, expected '$want'"
		return 1
	fi
	case $err in
	*"$want"*) return 0 ;;
	*) fail "'$*' failed with '$err', expected '$want'"; return 1 ;;
	esac
}

# append FILE TEXT: one write(2) at the end of FILE; dd reports strerror.
append() {
	printf '%s' "$2" | dd of="$1" oflag=append conv=notrunc status=none
}

# expect_content FILE TEXT
expect_content() {
	local got
	got=$(cat "$1" 2>&1) || { fail "cannot read $1: $got"; return 1; }
	[ "$got" = "$2" ] || { fail "$1 holds '$got', expected '$2'"; return 1; }
}

# status_field NAME: the value of NAME=... in `faultctl status`
status_field() {
	ctl status | tr ' ' '\n' | sed -n "s/^$1=//p"
}

start_faultfs() {
	LIFEBOAT_LOG=debug "$FAULTFS" "$REAL" "$MNT" --ctl "$CTL" --undo-limit $((4 << 20)) -f \
		>"$LOG" 2>&1 &
	FF_PID=$!
	for _ in $(seq 100); do
		if grep -q " $MNT fuse.faultfs " /proc/mounts && [ -S "$CTL" ]; then
			return 0
		fi
		kill -0 "$FF_PID" 2>/dev/null || break
		sleep 0.05
	done
	if grep -qi "fuse: device not found\|/dev/fuse.*\(No such\|Operation not permitted\)" "$LOG"; then
		FF_PID=
		skip "FUSE unusable here: $(head -1 "$LOG")"
	fi
	fail "faultfs did not mount"
	exit 1
}

set_xattr() {
	if command -v setfattr >/dev/null; then
		setfattr -n "$2" -v "$3" "$1"
	else
		python3 -c 'import os,sys; os.setxattr(sys.argv[1], sys.argv[2], sys.argv[3].encode())' "$@"
	fi
}

get_xattr() {
	if command -v getfattr >/dev/null; then
		getfattr --absolute-names --only-values -n "$2" "$1"
	else
		python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], sys.argv[2]).decode(), end="")' "$@"
	fi
}

test_passthrough() {
	printf 'hello' >"$MNT/a" || fail "create+write"
	expect_content "$MNT/a" hello && expect_content "$REAL/a" hello
	mv "$MNT/a" "$MNT/b" || fail "rename"
	[ -e "$REAL/b" ] && [ ! -e "$REAL/a" ] || fail "rename did not reach the store"
	mkdir "$MNT/d" && ln -s ../b "$MNT/d/s" && ln "$MNT/b" "$MNT/d/h" || fail "mkdir/symlink/link"
	expect_content "$MNT/d/s" hello
	[ "$(stat -c %h "$MNT/b")" = 2 ] || fail "link count"
	truncate -s 3 "$MNT/d/h" && expect_content "$MNT/b" hel
	if command -v setfattr >/dev/null || command -v python3 >/dev/null; then
		set_xattr "$MNT/b" user.lb v1 || fail "setxattr"
		[ "$(get_xattr "$MNT/b" user.lb)" = v1 ] || fail "getxattr through the mount"
		[ "$(get_xattr "$REAL/b" user.lb)" = v1 ] || fail "getxattr on the store"
	else
		echo "note: no setfattr nor python3, xattr check left out"
	fi
	[ "$(ls "$MNT/d" | tr '\n' ' ')" = "h s " ] || fail "readdir: $(ls "$MNT/d")"
	rm -r "$MNT/d" && [ ! -e "$REAL/d" ] || fail "unlink/rmdir"
	mkfifo "$MNT/fifo" && [ -p "$REAL/fifo" ] && rm "$MNT/fifo" || fail "mknod"
	ctl sync >/dev/null
	pass "passthrough"
}

test_fail_write() {
	printf 'keep' >"$MNT/w" && sync "$MNT/w" "$MNT" && ctl sync >/dev/null
	ctl fail EIO write >/dev/null || fail "faultctl fail EIO write"
	expect_errno "Input/output error" append "$MNT/w" more
	expect_errno "Input/output error" truncate -s 0 "$MNT/w"
	expect_content "$MNT/w" keep	# reads still work
	ls "$MNT" >/dev/null || fail "meta ops must pass under 'fail EIO write'"
	[ "$(status_field failed)" -ge 2 ] || fail "status does not count failed ops"
	ctl heal >/dev/null
	printf 'more' >>"$MNT/w" && expect_content "$MNT/w" keepmore
	sync "$MNT/w"
	pass "fail EIO write: writes fail, reads pass, heal restores"
}

test_after() {
	printf '' >"$MNT/n" && sync "$MNT/n" "$MNT"
	ctl fail ETIMEDOUT write after=2 >/dev/null
	printf 1 >>"$MNT/n" || fail "write 1 of after=2 failed"
	printf 2 >>"$MNT/n" || fail "write 2 of after=2 failed"
	[ "$(status_field after)" = 0 ] || fail "after not counted down"
	expect_errno "Connection timed out" append "$MNT/n" 3
	# The failure fired at write 3 and rolled back the unsynced writes 1 and 2.
	expect_content "$MNT/n" ""
	ctl heal >/dev/null
	pass "after=N lets N matching ops through, then fails (and rolls back)"
}

test_stall() {
	local reader out=$WORK/stall.out

	printf 'stalled data' >"$MNT/s" && sync "$MNT/s" "$MNT"
	ctl stall read >/dev/null
	cat "$MNT/s" >"$out" 2>&1 &
	reader=$!
	sleep 0.5
	kill -0 "$reader" 2>/dev/null || fail "reader was not stalled"
	[ "$(status_field stalled_now)" = 1 ] || fail "status does not show the stalled op"
	printf 'x' >"$MNT/other" || fail "writes must pass under 'stall read'"
	ctl heal | grep -q "released 1" || fail "heal did not release the stalled op"
	wait "$reader" || fail "stalled reader failed after heal: $(cat "$out")"
	[ "$(cat "$out")" = "stalled data" ] || fail "stalled reader read '$(cat "$out")'"

	ctl stall read then=EIO >/dev/null
	cat "$MNT/s" >"$out" 2>&1 &
	reader=$!
	sleep 0.3
	kill -0 "$reader" 2>/dev/null || fail "reader was not stalled (then=EIO)"
	ctl heal >/dev/null
	wait "$reader" && fail "reader released with then=EIO succeeded"
	grep -q "Input/output error" "$out" || fail "then=EIO reader got '$(cat "$out")'"
	pass "stall blocks until heal; released ops pass (or fail with then=)"
}

test_rollback() {
	rm -rf "$MNT"/r* && ctl sync >/dev/null
	printf 'AAAAAAAA' >"$MNT/r1" && sync "$MNT/r1"		# data durable
	printf 'named' >"$MNT/r4"				# data never synced
	mkdir "$MNT/rs"
	truncate -s 1M "$MNT/rh" && sync "$MNT/rh"		# sparse, durable
	truncate -s 1T "$MNT/rt" && sync "$MNT/rt"		# huge sparse, durable
	sync "$MNT"						# names r1, r4, rs, rh, rt durable
	printf 'BB' >"$MNT/r1"					# O_TRUNC + write, not synced
	printf 'new' >"$MNT/r2"					# not synced at all
	printf 'fsynced' >"$MNT/rs/r3" && sync "$MNT/rs/r3"	# data synced, name not
	mkdir -p "$MNT/rd/sub" && printf z >"$MNT/rd/sub/f"	# unsynced tree
	printf x | dd of="$MNT/rh" bs=1 seek=4096 conv=notrunc status=none	# into a hole
	truncate -s 3 "$MNT/rt" || fail "shrinking a huge sparse file"	# saves a hole
	[ "$(status_field unsynced_files)" -ge 3 ] || fail "unsynced files not tracked"
	printf 'gone' >"$MNT/r6" && n=$(status_field unsynced_files) && rm "$MNT/r6"
	[ "$(status_field unsynced_files)" -lt "$n" ] || fail "an unlinked file kept its undo stack"
	ctl fail EIO write >/dev/null
	ctl heal >/dev/null
	expect_content "$MNT/r1" AAAAAAAA && expect_content "$REAL/r1" AAAAAAAA
	[ ! -e "$MNT/r2" ] && [ ! -e "$REAL/r2" ] || fail "unsynced new file r2 survived"
	[ -d "$REAL/rs" ] && [ ! -e "$REAL/rs/r3" ] ||
		fail "rs/r3 survived although its parent was not fsynced"
	[ -e "$REAL/r4" ] && [ ! -s "$REAL/r4" ] || fail "r4 should survive, empty"
	[ ! -e "$REAL/rd" ] || fail "unsynced directory tree survived"
	[ "$(stat -c %s "$REAL/rh")" = 1048576 ] && ! tr -d '\0' <"$REAL/rh" | grep -q . ||
		fail "write into a hole not rolled back"
	[ "$(stat -c %s "$REAL/rt")" = $((1 << 40)) ] || fail "shrunk sparse file not restored"
	[ "$(status_field unsynced_files)" = 0 ] || fail "undo log not emptied"
	# Like the kernel's errseq, the next sync of each file or directory the
	# rollback touched reports the lost writeback once, then succeeds.
	for f in "$MNT/r1" "$MNT/rh" "$MNT"; do
		! sync "$f" 2>/dev/null || fail "sync of $f after the rollback did not fail"
		sync "$f" || fail "second sync of $f after the rollback failed"
	done
	printf 'after' >"$MNT/r5" && sync "$MNT/r5" || fail "sync of a file made after the rollback failed"
	pass "rollback to the last synced state"
}

test_ctl_errors() {
	local out

	out=$(ctl fail EBOGUS write) && fail "bad errno accepted"
	case $out in "error: "*) ;; *) fail "bad errno reply '$out'" ;; esac
	out=$(ctl stall read after=x) && fail "bad after= accepted"
	out=$(ctl frobnicate) && fail "unknown command accepted"
	case $out in "error: unknown command"*) ;; *) fail "unknown command reply '$out'" ;; esac
	ctl status | grep -q "^ok mode=healthy" || fail "status after errors"
	pass "control errors are one clear line"
}

test_undo_limit() {
	dd if=/dev/zero of="$MNT/big" bs=1M count=8 status=none && sync "$MNT/big" "$MNT" ||
		fail "cannot write 8 MiB"
	expect_errno "Cannot allocate memory" \
		dd if=/dev/zero of="$MNT/big" bs=1M count=8 conv=notrunc status=none
	grep -q "UNDO LOG FULL" "$LOG" || fail "a full undo log is not logged loudly"
	ctl sync >/dev/null
	rm -f "$MNT/big"
	pass "the undo log is bounded (--undo-limit), overflow fails with ENOMEM"
}

test_file_handles() {
	[ -n "${FH_PROBE:-}" ] || return 0
	printf 'by handle' >"$MNT/fh" || fail "create fh"
	out=$("$FH_PROBE" "$MNT/fh" 2>&1) || fail "open_by_handle_at on faultfs: $out"
	[ "$out" = "by handle" ] || fail "fh probe read '$out'"
	pass "name_to_handle_at/open_by_handle_at work on faultfs"
}

start_faultfs
test_passthrough
test_fail_write
test_after
test_stall
test_rollback
test_ctl_errors
test_undo_limit
test_file_handles
[ "$FAILED" = 0 ] && echo "all faultfs tests passed"
exit "$FAILED"
