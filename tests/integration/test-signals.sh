#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-signals.sh - stopping the daemon: fusermount3 -u and SIGTERM must both
# unmount, let the daemon exit 0, and leave every acknowledged write in the
# store. Covers a foreground daemon and one that mount(8) daemonized.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
lb_reexec_in_mount_ns "$@"

write_data()
{
	local mnt=$1

	head -c 3M /dev/urandom >"$LB_WORK/data"
	cp "$LB_WORK/data" "$mnt/data"
	mkdir -p "$mnt/dir"
	echo small >"$mnt/dir/small"
}

check_store()
{
	local what=$1 store=$2

	cmp "$LB_WORK/data" "$store/data" || lb_fail "$what: data lost in the store"
	lb_assert_eq small "$(cat "$store/dir/small")" "$what: small file in the store"
	rm -rf "${store:?}"/*
}

# check_quiet_log WHAT LOG: a clean stop logs no error. lifeboatfs error
# messages say "cannot ..." (CONVENTIONS.md); stand-ins word them otherwise.
check_quiet_log()
{
	local what=$1 log=$2

	lb_is_lifeboatfs || return 0
	if grep -E ': cannot ' "$log" >&2; then
		lb_fail "$what: the daemon logged an error on a clean stop"
	fi
}

# stop_with SIGNAL PID MNT: the daemon exits 0 and the mount is gone.
stop_with()
{
	local sig=$1 pid=$2 mnt=$3 rc=0

	kill -"$sig" "$pid"
	lb_wait_exit "$pid" || rc=$?
	((rc != 124)) || lb_fail "SIG$sig: daemon $pid still running after ${LB_EXIT_TIMEOUT}s"
	lb_assert_eq 0 "$rc" "SIG$sig: daemon exit status"
	! lb_is_fuse_mounted "$mnt" || lb_fail "SIG$sig: '$mnt' still mounted after the daemon exited"
}

main()
{
	lb_init signals
	local store=$LB_WORK/store mnt=$LB_WORK/mnt sig pid

	lb_log "fusermount3 -u: foreground daemon exits 0"
	lb_mount "$store" "$mnt"
	write_data "$mnt"
	lb_umount "$mnt"
	pid=$LB_LAST_PID
	lb_wait_exit "$pid" || lb_fail "daemon exit status $? after fusermount3 -u"
	check_quiet_log "fusermount3 -u" "${LB_LOGS[-1]}"
	check_store "fusermount3 -u" "$store"

	# Only SIGTERM: a non-interactive shell starts background jobs with
	# SIGINT ignored, and libfuse leaves an ignored signal alone.
	for sig in TERM; do
		lb_log "SIG$sig to the foreground daemon"
		lb_mount "$store" "$mnt"
		write_data "$mnt"
		stop_with "$sig" "$LB_LAST_PID" "$mnt"
		check_quiet_log "SIG$sig" "${LB_LOGS[-1]}"
		check_store "SIG$sig" "$store"
	done

	lb_log "SIGTERM to a daemon started by mount(8)"
	lb_expose_helper
	LB_LAST_PID=
	mount -t "fuse.$LB_FS_NAME" "$store" "$mnt" -o "$LB_DEFAULT_OPTS" || lb_fail "mount failed"
	lb_track_mount "$mnt"
	[[ -n "$LB_LAST_PID" ]] || lb_fail "cannot find the daemon serving '$mnt'"
	write_data "$mnt"
	pid=$LB_LAST_PID
	kill -TERM "$pid"
	lb_wait_exit "$pid" || lb_fail "daemon $pid still running after SIGTERM"
	! lb_is_fuse_mounted "$mnt" || lb_fail "daemonized: still mounted after SIGTERM"
	check_store "daemonized SIGTERM" "$store"
	echo "PASS: clean unmount and signal handling"
}

main "$@"
