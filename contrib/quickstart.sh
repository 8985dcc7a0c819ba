#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# quickstart.sh - README command 1: install the dependencies, build, and mount
# a protected directory. Defaults: store /var/lib/lifeboat/store, mountpoint
# /mnt/lifeboat; override with LIFEBOAT_STORE and LIFEBOAT_MOUNT.
# Running it again when the mount is up changes nothing.
set -euo pipefail

cd "$(dirname "$0")/.."

STORE=${LIFEBOAT_STORE:-/var/lib/lifeboat/store}
MNT=${LIFEBOAT_MOUNT:-/mnt/lifeboat}
OPTS=allow_other,default_permissions

die()
{
	echo "quickstart: $*" >&2
	exit 1
}

fstype_at()
{
	findmnt -n -o FSTYPE --mountpoint "$1" 2>/dev/null | tail -n 1 || true
}

build()
{
	if [[ -f build/meson-private/coredata.dat ]]; then
		meson setup --reconfigure build >/dev/null
	else
		meson setup build >/dev/null
	fi
	ninja -C build
}

how_to_unmount()
{
	echo "to unmount: fusermount3 -u '$MNT'   (or: umount '$MNT')"
}

main()
{
	local t

	((EUID == 0)) || die "run as root (installs packages, mounts with allow_other)"
	t=$(fstype_at "$MNT")
	if [[ "$t" == fuse.lifeboatfs ]]; then
		echo "quickstart: '$MNT' is already a lifeboatfs mount"
		how_to_unmount
		return 0
	fi
	[[ -z "$t" ]] || die "'$MNT' already has a '$t' mount; unmount it or set LIFEBOAT_MOUNT"

	bash contrib/install-deps.sh
	build
	[[ -c /dev/fuse ]] || die "/dev/fuse is absent (modprobe fuse)"
	mkdir -p "$STORE" "$MNT"
	# Without -f lifeboatfs detaches once the mount is up.
	build/fs/lifeboatfs "$STORE" "$MNT" -o "$OPTS" ||
		die "lifeboatfs could not mount '$STORE' at '$MNT'"
	t=$(fstype_at "$MNT")
	[[ "$t" == fuse.lifeboatfs ]] || die "'$MNT' is not a lifeboatfs mount after starting (type '$t')"
	echo "quickstart: '$STORE' is mounted at '$MNT' (fuse.lifeboatfs)"
	how_to_unmount
}

main "$@"
