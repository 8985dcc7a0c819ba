#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-mount-helper.sh - mounting through mount(8): `mount -t fuse.NAME`,
# the old `NAME#STORE` source form, and an fstab line with `mount -a -T`.
# mount(8) runs mount.fuse3, which runs NAME from the shell's default PATH:
# lib.sh exposes the binary under test there, in a private mount namespace.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
lb_reexec_in_mount_ns "$@"

# check_mounted WHAT MNT STORE: a working FUSE mount of STORE at MNT, once.
check_mounted()
{
	local what=$1 mnt=$2 store=$3 t

	lb_is_fuse_mounted "$mnt" || lb_fail "$what: '$mnt' is not a FUSE mount"
	t=$(lb_fstype "$mnt")
	if lb_is_lifeboatfs; then
		lb_assert_eq fuse.lifeboatfs "$t" "$what: file system type"
	fi
	lb_assert_eq 1 "$(lb_mount_count "$mnt")" "$what: mounts at '$mnt'"
	echo "$what" >"$mnt/probe"
	lb_assert_eq "$what" "$(cat "$store/probe")" "$what: write through the mount"
	findmnt -n -o OPTIONS --mountpoint "$mnt" | grep -q allow_other ||
		lb_fail "$what: allow_other not applied"
}

# unmount_and_check WHAT MNT: umount(8) succeeds and the daemon goes away.
unmount_and_check()
{
	local what=$1 mnt=$2 pid=$LB_LAST_PID

	umount "$mnt" || lb_fail "$what: umount failed"
	! lb_is_fuse_mounted "$mnt" || lb_fail "$what: still mounted after umount"
	[[ -n "$pid" ]] || return 0
	lb_wait_exit "$pid" || lb_fail "$what: daemon $pid did not exit after umount"
}

main()
{
	lb_init mount-helper
	lb_need mount umount
	local store=$LB_WORK/store mnt=$LB_WORK/mnt opts=$LB_DEFAULT_OPTS
	lb_expose_helper
	mkdir -p "$store" "$mnt"

	lb_log "mount -t fuse.$LB_FS_NAME"
	LB_LAST_PID=
	mount -t "fuse.$LB_FS_NAME" "$store" "$mnt" -o "$opts" || lb_fail "mount -t fuse.$LB_FS_NAME failed"
	lb_track_mount "$mnt"
	check_mounted "mount -t" "$mnt" "$store"
	unmount_and_check "mount -t" "$mnt"

	lb_log "mount -t fuse $LB_FS_NAME#STORE"
	LB_LAST_PID=
	mount -t fuse "$LB_FS_NAME#$store" "$mnt" -o "$opts" || lb_fail "mount -t fuse NAME#STORE failed"
	lb_track_mount "$mnt"
	check_mounted "NAME#STORE" "$mnt" "$store"
	unmount_and_check "NAME#STORE" "$mnt"

	lb_log "fstab line with mount -a -T"
	local fstab=$LB_WORK/fstab
	printf '# lifeboat test fstab\n%s %s fuse.%s %s 0 0\n' \
		"$store" "$mnt" "$LB_FS_NAME" "$opts" >"$fstab"
	LB_LAST_PID=
	mount -a -T "$fstab" || lb_fail "mount -a -T failed"
	lb_track_mount "$mnt"
	check_mounted "fstab" "$mnt" "$store"
	mount -a -T "$fstab" || lb_fail "second mount -a -T failed"
	lb_assert_eq 1 "$(lb_mount_count "$mnt")" "mount -a -T twice: mounts at '$mnt'"
	unmount_and_check "fstab" "$mnt"

	lb_log "mount -T FILE MOUNTPOINT"
	LB_LAST_PID=
	mount -T "$fstab" "$mnt" || lb_fail "mount -T FILE MNT failed"
	lb_track_mount "$mnt"
	check_mounted "fstab by mountpoint" "$mnt" "$store"
	unmount_and_check "fstab by mountpoint" "$mnt"
	echo "PASS: mount(8), NAME#STORE, fstab and umount"
}

main "$@"
