#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-fstab.sh - lifeboatfs as /etc/fstab and mount(8) users write it:
# the line of contrib/fstab.example (journal=, status=, _netdev, nofail,
# x-systemd.*) mounted with `mount -a -T FILE`, the same options with
# `mount -t fuse.lifeboatfs`, and unknown or malformed options refused at
# mount time with a message naming them, leaving no journal behind.
set -euo pipefail
source "$(dirname "$0")/../integration/lib.sh"
lb_reexec_in_mount_ns "$@"

LIFEBOAT=${LIFEBOAT:-$LB_SRCDIR/../../build/daemon/lifeboat}

# status_field FILE KEY: one field of a status file.
status_field()
{
	/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

# check_protected WHAT MNT STORE JOURNAL STATUS: mounted once as
# fuse.lifeboatfs, writes reach the store, the journal and status named in
# the options are the ones in use, and `lifeboat status` sees it healthy.
check_protected()
{
	local what=$1 mnt=$2 store=$3 journal=$4 status=$5 i out

	lb_is_fuse_mounted "$mnt" || lb_fail "$what: '$mnt' is not mounted"
	lb_assert_eq fuse.lifeboatfs "$(lb_fstype "$mnt")" "$what: file system type"
	lb_assert_eq 1 "$(lb_mount_count "$mnt")" "$what: mounts at '$mnt'"
	echo "$what" >"$mnt/probe"
	lb_assert_eq "$what" "$(cat "$store/probe")" "$what: write through the mount"
	[[ -f "$journal" ]] || lb_fail "$what: journal '$journal' from the options not created"
	for ((i = 0; i < 50; i++)); do
		[[ -s "$status" ]] && break
		sleep 0.1
	done
	lb_assert_eq "$mnt" "$(status_field "$status" mountpoint)" "$what: status file mountpoint"
	lb_assert_eq 644 "$(stat -c %a "$status")" "$what: status file mode (only lifeboatfs writes it)"
	lb_assert_eq "$journal" "$(status_field "$status" journal)" "$what: status file journal"
	lb_assert_eq 1200.0 "$(status_field "$status" queue_budget | awk '{ printf "%.1f", $1 / 1024 }')" \
		"$what: queue_budget=1200K in KiB"
	out=$("$LIFEBOAT" status --dir "$(dirname "$status")")
	grep -qF "$mnt  healthy" <<<"$out" || { echo "$out" >&2; lb_fail "$what: lifeboat status does not show '$mnt' healthy"; }
}

unmount_and_check()
{
	local what=$1 mnt=$2 pid=$LB_LAST_PID

	umount "$mnt" || lb_fail "$what: umount failed"
	! lb_is_fuse_mounted "$mnt" || lb_fail "$what: still mounted after umount"
	[[ -z "$pid" ]] || lb_wait_exit "$pid" || lb_fail "$what: daemon $pid did not exit after umount"
}

# refused WHAT NEEDLE CMD...: mount(8) fails, its output names NEEDLE,
# nothing is mounted and no journal was created.
refused()
{
	local what=$1 needle=$2 out=$LB_WORK/refused.out rc=0
	shift 2

	timeout 20 "$@" </dev/null >"$out" 2>&1 || rc=$?
	if lb_is_fuse_mounted "$MNT"; then
		umount "$MNT"
		lb_fail "$what: accepted and mounted"
	fi
	((rc != 124)) || lb_fail "$what: mount still running after 20s"
	((rc != 0)) || lb_fail "$what: mount exit status 0"
	grep -qF -- "$needle" "$out" || { cat "$out" >&2; lb_fail "$what: message does not name '$needle'"; }
	[[ ! -e "$LB_WORK/bad.journal" ]] || lb_fail "$what: a refused mount created its journal"
	lb_log "$what: refused (exit $rc): $(tr '\n' ' ' <"$out")"
}

main()
{
	lb_init fit-fstab
	lb_require_lifeboatfs
	lb_need mount umount timeout
	[[ -x "$LIFEBOAT" ]] || lb_fail "lifeboat CLI not built ('$LIFEBOAT'): set LIFEBOAT"
	lb_expose_helper
	local store=$LB_WORK/store st=$LB_WORK/status fstab=$LB_WORK/fstab
	local journal=$LB_WORK/app.journal opts
	MNT=$LB_WORK/srv-app
	mkdir -p "$store" "$MNT" "$st"

	# the line contrib/fstab.example shows, with this test's paths
	opts="allow_other,journal=$journal,status=$st/app.status,queue_budget=1200K,hold=600"
	opts+=",_netdev,nofail,x-systemd.requires=lifeboatd.service,x-systemd.before=app.service"
	printf '# lifeboat fit test fstab\n%s %s fuse.lifeboatfs %s 0 0\n' "$store" "$MNT" "$opts" >"$fstab"

	lb_log "mount -a -T FILE"
	LB_LAST_PID=
	mount -a -T "$fstab" || lb_fail "mount -a -T failed"
	lb_track_mount "$MNT"
	check_protected "fstab" "$MNT" "$store" "$journal" "$st/app.status"
	mount -a -T "$fstab" || lb_fail "second mount -a -T failed"
	lb_assert_eq 1 "$(lb_mount_count "$MNT")" "mount -a -T twice: mounts"
	unmount_and_check "fstab" "$MNT"
	grep -qF "$MNT  unmounted" <<<"$("$LIFEBOAT" status --dir "$st")" ||
		lb_fail "lifeboat status does not show '$MNT' unmounted after umount"

	lb_log "mount -t fuse.lifeboatfs"
	rm -f "$st/app.status"
	LB_LAST_PID=
	mount -t fuse.lifeboatfs "$store" "$MNT" -o "$opts" || lb_fail "mount -t fuse.lifeboatfs failed"
	lb_track_mount "$MNT"
	check_protected "mount -t" "$MNT" "$store" "$journal" "$st/app.status"
	unmount_and_check "mount -t" "$MNT"

	lb_log "bad options are refused at mount time"
	local good="allow_other,journal=$LB_WORK/bad.journal"
	refused "unknown option" bogus_opt mount -t fuse.lifeboatfs "$store" "$MNT" -o "$good,bogus_opt"
	refused "unknown option with a value" "colour=blue" mount -t fuse.lifeboatfs "$store" "$MNT" -o "$good,colour=blue"
	refused "malformed hold" "hold=abc" mount -t fuse.lifeboatfs "$store" "$MNT" -o "$good,hold=abc"
	refused "zero queue_budget" "queue_budget=0" mount -t fuse.lifeboatfs "$store" "$MNT" -o "$good,queue_budget=0"
	refused "bad on_hold_timeout" "on_hold_timeout=maybe" \
		mount -t fuse.lifeboatfs "$store" "$MNT" -o "$good,on_hold_timeout=maybe"
	refused "negative flush_interval" "flush_interval=-1" \
		mount -t fuse.lifeboatfs "$store" "$MNT" -o "$good,flush_interval=-1"
	refused "flag with a value" "splice_read=1" mount -t fuse.lifeboatfs "$store" "$MNT" -o "$good,splice_read=1"
	printf '%s %s fuse.lifeboatfs %s,_netdev,hold=5x 0 0\n' "$store" "$MNT" "$good" >"$fstab"
	refused "malformed option in fstab" "hold=5x" mount -a -T "$fstab"
	echo "PASS: fstab and mount(8) with lifeboat options, bad options refused by name"
}

main "$@"
