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
	libfuse3-dev libcmocka-dev libxxhash-dev libjson-c-dev libiscsi-dev
	# the standby config (lifeboat standby, daemon/standby-config.c)
	libinih-dev
	# runtime: fusermount3, mount.fuse3; mount(8); findmnt, unshare, setpriv
	fuse3 mount util-linux
	# integration tests: the bindfs/mergerfs stand-ins and the real tools
	bindfs mergerfs rsync acl attr sqlite3 git tar python3
	# fit tests: the Prometheus text parser, ocf-tester (from Pacemaker's agents) and
	# the xmllint it checks meta-data with (only recommended), systemd-analyze and the
	# man(1) it resolves Documentation= with, groff for the man page checks
	python3-prometheus-client resource-agents libxml2-utils systemd man-db groff-base
	# fit tests: a real container runtime for the volume test (podman with crun)
	podman crun
	# lifeboatd: config file parser, sd_notify
	libinih-dev libsystemd-dev
	# lifeboatd's peer channel (TLS 1.3); handoff tests: certificates, netns, veth
	libssl-dev openssl iproute2
	# building CRIU 4.2 into /usr/local/lib/lifeboat/criu (install-criu.sh);
	# criu.h includes protobuf-c headers, so lifeboatd needs them too
	make dpkg-dev xz-utils libbsd-dev libcap-dev libgnutls28-dev libnet1-dev
	libnftables-dev libnl-3-dev libprotobuf-c-dev libprotobuf-dev
	protobuf-c-compiler protobuf-compiler uuid-dev patch
	# iSCSI journal tests: a real target (tgtd) and libiscsi's tools; nft for path faults
	tgt libiscsi-bin nftables
	# handoff test of a real database (tests/handoff/pg.sh): the server and pgbench
	postgresql-15 postgresql-client-15
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

# CRIU >= 4.2 is not in Debian 12: built from Debian's source package
install_criu()
{
	bash "$(dirname "${BASH_SOURCE[0]}")/install-criu.sh" ||
		die "contrib/install-criu.sh failed"
}

main()
{
	local missing

	command -v dpkg-query >/dev/null || die "dpkg-query not found: this script is for Debian 12"
	mapfile -t missing < <(missing_packages)
	if ((${#missing[@]} == 0)); then
		echo "install-deps: all ${#packages[@]} packages present"
		install_criu
		return 0
	fi
	((EUID == 0)) || die "must run as root to install: ${missing[*]}"
	echo "install-deps: installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null ||
		die "apt-get update failed (needed for: ${missing[*]})"
	install_missing "${missing[@]}"
	mapfile -t missing < <(missing_packages)
	((${#missing[@]} == 0)) || die "still missing after install: ${missing[*]}"
	install_criu
	echo "install-deps: done"
}

main "$@"
