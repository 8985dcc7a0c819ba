#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# install-deps.sh - install the Debian 12 packages lifeboat builds and tests with.
#
# Idempotent: nothing is fetched when every package is already installed, so
# it is cheap to call from quickstart.sh and run-tests.sh every time.
set -euo pipefail

# One list for everything; add new packages to the group they belong to.
packages=(
	# build tools; gcc only recommends the C library headers
	meson ninja-build pkg-config gcc libc6-dev
	# libraries linked by lifeboatfs, lifeboatd and the unit tests
	libfuse3-dev libcmocka-dev libxxhash-dev libjson-c-dev
	# runtime: fusermount3, mount.fuse3; mount(8); findmnt, unshare, setpriv
	fuse3 mount util-linux
	# integration tests: the bindfs/mergerfs stand-ins and the real tools
	bindfs mergerfs rsync acl attr sqlite3 git tar python3
)

die()
{
	echo "install-deps: $*" >&2
	exit 1
}

is_installed()
{
	[[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" == ii* ]]
}

missing_packages()
{
	local p

	for p in "${packages[@]}"; do
		is_installed "$p" || echo "$p"
	done
}

apt_install()
{
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends -o Dpkg::Use-Pty=0 "$@" >/dev/null
}

# One call for speed; when it fails, retry one by one so the message names
# the package that is really at fault.
install_missing()
{
	local p failed=()

	apt_install "$@" && return 0
	for p in "$@"; do
		is_installed "$p" || apt_install "$p" || failed+=("$p")
	done
	((${#failed[@]} == 0)) || die "cannot install package(s): ${failed[*]}"
}

main()
{
	local missing

	command -v dpkg-query >/dev/null || die "dpkg-query not found: this script is for Debian 12"
	mapfile -t missing < <(missing_packages)
	if ((${#missing[@]} == 0)); then
		echo "install-deps: all ${#packages[@]} packages present"
		return 0
	fi
	((EUID == 0)) || die "must run as root to install: ${missing[*]}"
	echo "install-deps: installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null ||
		die "apt-get update failed (needed for: ${missing[*]})"
	install_missing "${missing[@]}"
	mapfile -t missing < <(missing_packages)
	((${#missing[@]} == 0)) || die "still missing after install: ${missing[*]}"
	echo "install-deps: done"
}

main "$@"
