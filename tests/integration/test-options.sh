#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-options.sh - lifeboatfs command line: unknown and malformed options
# are refused before anything is mounted, with a message naming the option;
# valid ones still mount. Only meaningful for the real lifeboatfs.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# refused WHAT NEEDLE ARGS...: the daemon exits nonzero within a bounded
# time, names NEEDLE on stderr/stdout, and mounts nothing.
refused()
{
	local what=$1 needle=$2 out=$LB_WORK/refused.out rc=0
	shift 2

	timeout 20 "$LB_FS" "$@" </dev/null >"$out" 2>&1 || rc=$?
	if lb_is_fuse_mounted "$LB_WORK/mnt"; then
		fusermount3 -u "$LB_WORK/mnt"
		lb_fail "$what: accepted and mounted"
	fi
	((rc != 124)) || lb_fail "$what: still running after 20s instead of refusing"
	((rc != 0)) || lb_fail "$what: exit status 0"
	grep -qF -- "$needle" "$out" || { cat "$out" >&2; lb_fail "$what: message does not name '$needle'"; }
	lb_log "$what: refused (exit $rc): $(head -n 1 "$out")"
}

main()
{
	lb_init options
	lb_require_lifeboatfs
	local store=$LB_WORK/store mnt=$LB_WORK/mnt out
	mkdir -p "$store" "$mnt"

	out=$("$LB_FS" --help 2>&1) || lb_fail "--help exits nonzero"
	[[ "$out" == *-o* ]] || lb_fail "--help does not describe -o"

	refused "unknown option" bogus_opt "$store" "$mnt" -f -o bogus_opt
	refused "unknown option among good ones" bogus_opt "$store" "$mnt" -f -o allow_other,bogus_opt
	refused "malformed attr_timeout" attr_timeout "$store" "$mnt" -f -o attr_timeout=abc
	refused "missing store" "$LB_WORK/absent" "$LB_WORK/absent" "$mnt" -f
	refused "missing mountpoint argument" "" "$store"

	lb_log "a well-formed attr_timeout mounts"
	lb_mount "$store" "$mnt" "$LB_DEFAULT_OPTS,attr_timeout=1.5"
	echo ok >"$mnt/f"
	lb_assert_eq ok "$(cat "$store/f")" "write with attr_timeout=1.5"
	lb_umount "$mnt"
	lb_wait_exit "$LB_LAST_PID" || lb_fail "daemon exit status $? after unmount"
	echo "PASS: option parsing"
}

main "$@"
