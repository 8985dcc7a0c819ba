#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# install-criu.sh - provide CRIU >= 4.2 for lifeboatd in a private prefix.
#
# Prefix (fixed; lifeboatd, its tests and meson expect exactly these paths):
#
#   /usr/local/lib/lifeboat/criu/sbin/criu              the criu binary
#   /usr/local/lib/lifeboat/criu/lib/libcriu.so*        libcriu
#   /usr/local/lib/lifeboat/criu/include/criu/criu.h    its headers
#   /usr/local/lib/lifeboat/criu/lib/pkgconfig/criu.pc  pkg-config file
#
# Why: Debian 12's criu 3.17 fails on current kernels ("vdso: Unexpected rt
# vDSO area bounds") and 4.1.x cannot dump TCP/UDP sockets on kernels >= 6.16.
# Debian's criu 4.2.x source package (unstable) builds with
# bookworm's -dev packages, so it is built here from that source package.
#
# Nothing on the system is upgraded from unstable: the deb-src line for
# unstable lives in a private apt configuration (its own sources file, lists
# and cache under a temporary directory) that only `apt-get update` and
# `apt-get source` of this script ever read; the system's apt sources and
# package lists are left untouched. The archive URI and key are taken from the
# machine's own apt sources (deb822 files in /etc/apt/sources.list.d).
#
# The project's patches in contrib/criu/ are applied before the build (see
# each patch's header; today one: prlimit() refused without CAP_SYS_RESOURCE).
#
# Idempotent: when the criu in the prefix reports version >= 4.2, libcriu is
# there and it was built with the same patches, nothing is done. The build dependencies are Debian 12 packages
# listed in contrib/install-deps.sh, which calls this script.
#
# Check after install: `criu check` says "Looks good", and a small process is
# dumped and restored (same PID, keeps running).
set -euo pipefail

readonly PREFIX=/usr/local/lib/lifeboat/criu
PATCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/criu"
readonly PATCH_DIR
readonly CRIU_BIN="$PREFIX/sbin/criu"
readonly MIN_VERSION=4.2
readonly SOURCE_SUITE=unstable

# Debian 12 packages needed to build criu and libcriu (no documentation, no
# python bindings); keep in step with the CRIU group in install-deps.sh.
readonly build_deps=(make gcc pkg-config libbsd-dev libcap-dev libgnutls28-dev
	libnet1-dev libnftables-dev libnl-3-dev libprotobuf-c-dev libprotobuf-dev
	protobuf-c-compiler protobuf-compiler uuid-dev python3 dpkg-dev xz-utils patch)

work=

die()
{
	echo "install-criu: $*" >&2
	exit 1
}

say()
{
	echo "install-criu: $*"
}

cleanup()
{
	[[ -n "$work" && -d "$work" ]] && rm -rf --one-file-system "$work"
	return 0
}

# version_ge A B: A >= B, comparing dotted version strings.
version_ge()
{
	[[ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" == "$2" ]]
}

installed_version()
{
	[[ -x "$CRIU_BIN" ]] || return 0
	"$CRIU_BIN" --version 2>/dev/null | awk '/^Version:/ { print $2; exit }'
}

# The project's patches (contrib/criu/*.patch), by name and checksum: an
# install built without one of them is rebuilt.
patches_id()
{
	local p

	for p in "$PATCH_DIR"/*.patch; do
		[[ -e "$p" ]] && printf '%s %s\n' "$(basename "$p")" "$(sha256sum <"$p" | cut -c1-16)"
	done
}

already_installed()
{
	local v

	v="$(installed_version)"
	[[ -n "$v" ]] && version_ge "$v" "$MIN_VERSION" &&
		[[ -e "$PREFIX/lib/libcriu.so" && -e "$PREFIX/include/criu/criu.h" &&
		   -e "$PREFIX/lib/pkgconfig/criu.pc" ]] &&
		[[ "$(cat "$PREFIX/share/lifeboat-patches" 2>/dev/null)" == "$(patches_id)" ]]
}

apply_patches()
{
	local src=$1 p

	for p in "$PATCH_DIR"/*.patch; do
		[[ -e "$p" ]] || continue
		patch -d "$src" -p1 --forward --silent <"$p" >"$work/patch.log" 2>&1 ||
			{ cat "$work/patch.log" >&2; die "cannot apply $(basename "$p") to criu $upstream"; }
		say "applied $(basename "$p")"
	done
}

check_build_deps()
{
	local p missing=()

	for p in "${build_deps[@]}"; do
		[[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" == ii* ]] ||
			missing+=("$p")
	done
	((${#missing[@]} == 0)) ||
		die "missing build dependencies (run contrib/install-deps.sh): ${missing[*]}"
}

# Print "URI<TAB>SIGNED-BY" of the first enabled deb822 stanza that carries
# the system's own release suite (e.g. bookworm), i.e. its main Debian archive.
find_archive()
{
	local codename="$1" f

	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -r "$f" ]] || continue
		awk -v want="$codename" '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && enabled != "no" &&
				    (" " suites " ") ~ (" " want " ") && uri != "") {
					print uri "\t" key
					found = 1
					exit
				}
				types = suites = uri = key = enabled = ""
			}
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			tolower($1) == "types:"      { $1 = ""; types = $0 }
			tolower($1) == "suites:"     { $1 = ""; suites = $0 }
			tolower($1) == "uris:"       { uri = $2 }
			tolower($1) == "signed-by:"  { key = $2 }
			tolower($1) == "enabled:"    { enabled = tolower($2) }
			END { if (!found) flush() }
		' "$f" | head -n1
	done | head -n1
}

# Private apt configuration: one deb-src source for $SOURCE_SUITE, own lists
# and cache, so neither the system's sources nor its package lists change.
setup_private_apt()
{
	local codename uri key line

	codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
	[[ -n "$codename" ]] || die "cannot read VERSION_CODENAME from /etc/os-release"
	line="$(find_archive "$codename")"
	[[ -n "$line" ]] ||
		die "no enabled deb822 source for suite '$codename' in /etc/apt/sources.list.d/*.sources"
	uri="${line%%$'\t'*}"
	key="${line#*$'\t'}"
	# an inline key block or an empty field: let apt use its trusted keys
	[[ "$key" == /* && -r "$key" ]] || key=

	mkdir -p "$work/apt/parts" "$work/apt/lists/partial" \
		"$work/apt/cache/archives/partial" "$work/src"
	{
		echo "Types: deb-src"
		echo "URIs: $uri"
		echo "Suites: $SOURCE_SUITE"
		echo "Components: main"
		[[ -z "$key" ]] || echo "Signed-By: $key"
	} >"$work/apt/parts/lifeboat-criu-src.sources"
	apt_opts=(-q -o Dir::Etc::sourcelist=/dev/null
		-o Dir::Etc::sourceparts="$work/apt/parts"
		-o Dir::State::lists="$work/apt/lists"
		-o Dir::Cache="$work/apt/cache"
		-o APT::Sandbox::User=root)
	say "fetching the criu source package from $uri ($SOURCE_SUITE)"
	apt-get "${apt_opts[@]}" update >"$work/apt-update.log" 2>&1 ||
		{ cat "$work/apt-update.log" >&2; die "apt-get update of the private $SOURCE_SUITE source list failed"; }
}

# Download criu's source package. apt checks every file it fetches against
# the signed Sources index. When the mirror lacks the Debian packaging
# tarball but has the verified .dsc and upstream tarball, build the upstream
# tarball without Debian's patches (and say so).
fetch_source()
{
	local dsc orig want have

	(cd "$work/src" && apt-get "${apt_opts[@]}" source --download-only \
		--only-source "criu/$SOURCE_SUITE" >"$work/apt-source.log" 2>&1) ||
		{ grep '^E:' "$work/apt-source.log" >&2 || true
		  say "warning: apt-get source did not fetch every file; trying the upstream tarball"; }
	dsc="$(ls "$work"/src/criu_*.dsc 2>/dev/null | head -n1)"
	[[ -n "$dsc" ]] || { cat "$work/apt-source.log" >&2; die "no criu .dsc fetched"; }
	version="$(awk '/^Version:/ { print $2; exit }' "$dsc")"
	upstream="${version%-*}"
	upstream="${upstream#*:}"
	version_ge "$upstream" "$MIN_VERSION" ||
		die "criu in $SOURCE_SUITE is $version, need >= $MIN_VERSION"

	if ls "$work"/src/criu_*.debian.tar.* >/dev/null 2>&1; then
		(cd "$work/src" && dpkg-source -x "$dsc" "criu-$upstream" >/dev/null) ||
			die "dpkg-source -x $dsc failed"
		say "building criu $version (Debian source package)"
		return 0
	fi

	orig="$(ls "$work"/src/criu_"$upstream".orig.tar.* 2>/dev/null | head -n1)"
	[[ -n "$orig" ]] || { cat "$work/apt-source.log" >&2; die "criu $version: neither the source package nor its upstream tarball could be fetched"; }
	# the .dsc was verified by apt; the tarball must match its checksum
	want="$(awk -v f="$(basename "$orig")" '
		/^Checksums-Sha256:/ { s = 1; next } /^[^ ]/ { s = 0 }
		s && $3 == f { print $1 }' "$dsc")"
	have="$(sha256sum "$orig" | awk '{ print $1 }')"
	[[ -n "$want" && "$want" == "$have" ]] ||
		die "$(basename "$orig"): sha256 $have does not match the .dsc ($want)"
	tar -C "$work/src" -xf "$orig" || die "cannot extract $orig"
	[[ -d "$work/src/criu-$upstream" ]] || die "$orig has no criu-$upstream directory"
	say "warning: the mirror has no Debian packaging tarball for $version; building its verified upstream tarball"
	say "building criu $upstream"
}

build_and_install()
{
	local src="$work/src/criu-$upstream" stage="$work/stage" parent
	local make_vars=(PREFIX="$PREFIX" LIBDIR="$PREFIX/lib"
		INCLUDEDIR="$PREFIX/include" SKIP_PIP_INSTALL=1 V=0)

	apply_patches "$src"
	make -C "$src" -j"$(nproc)" "${make_vars[@]}" criu lib \
		>"$work/build.log" 2>&1 ||
		{ tail -n 40 "$work/build.log" >&2; die "building criu failed"; }
	make -C "$src" "${make_vars[@]}" DESTDIR="$stage" install-criu install-lib \
		>>"$work/build.log" 2>&1 ||
		{ tail -n 40 "$work/build.log" >&2; die "installing criu into the staging tree failed"; }
	[[ -x "$stage$PREFIX/sbin/criu" ]] || die "staging tree has no sbin/criu"
	mkdir -p "$stage$PREFIX/share"
	patches_id >"$stage$PREFIX/share/lifeboat-patches"

	# swap the whole prefix at once so a failed build never leaves half of one
	parent="$(dirname "$PREFIX")"
	mkdir -p "$parent"
	rm -rf "$PREFIX.new" "$PREFIX.old"
	cp -a "$stage$PREFIX" "$PREFIX.new"
	[[ ! -e "$PREFIX" ]] || mv "$PREFIX" "$PREFIX.old"
	mv "$PREFIX.new" "$PREFIX"
	rm -rf "$PREFIX.old"
	say "installed criu $("$CRIU_BIN" --version | awk '/^Version:/ { print $2 }') into $PREFIX"
}

# Dump and restore a small counting process: it must come back with the
# same PID and keep counting. Messages go to fd 3: the caller hides stderr,
# where bash reports the process that criu dump ended.
check_dump_restore()
{
	local dir="$work/check" pid before after

	mkdir -p "$dir/img"
	# one process without children: an orphaned child would stay a zombie
	# (holding the PID as its session id) until PID 1 reaps it
	setsid python3 -c '
import sys, time
i = 0
while True:
	i += 1
	with open(sys.argv[1], "w") as f:
		f.write("%d\n" % i)
	time.sleep(0.05)
' "$dir/count" </dev/null >/dev/null 2>&1 &
	pid=$!
	sleep 0.3
	if ! "$CRIU_BIN" dump -t "$pid" -D "$dir/img" -o dump.log -v4; then
		kill -9 "$pid"
		tail -n 20 "$dir/img/dump.log" >&3
		echo "install-criu: criu dump of a test process failed" >&3
		return 1
	fi
	wait "$pid" || true	# reap it so its PID is free again
	before="$(cat "$dir/count")"
	if ! "$CRIU_BIN" restore -d -D "$dir/img" -o restore.log -v4; then
		tail -n 20 "$dir/img/restore.log" >&3
		echo "install-criu: criu restore of the test process failed" >&3
		return 1
	fi
	sleep 0.3
	after="$(cat "$dir/count")"
	if ! kill -9 "$pid"; then
		echo "install-criu: restored test process is not running as PID $pid" >&3
		return 1
	fi
	if ((after <= before)); then
		echo "install-criu: restored test process does not run (count $before -> $after)" >&3
		return 1
	fi
	say "dump + restore of a test process: ok (pid $pid, count $before -> $after)" >&3
}

check_install()
{
	local out

	out="$("$CRIU_BIN" check 2>&1)" || true
	[[ "$out" == *"Looks good"* ]] || { echo "$out" >&2; die "'$CRIU_BIN check' does not say 'Looks good'"; }
	say "criu check: Looks good"
	check_dump_restore 3>&2 2>/dev/null || exit 1
}

main()
{
	local v

	if already_installed; then
		say "criu $(installed_version) present in $PREFIX"
		return 0
	fi
	((EUID == 0)) || die "must run as root to build criu into $PREFIX"
	v="$(installed_version)"
	[[ -z "$v" ]] || say "criu $v in $PREFIX is older than $MIN_VERSION, incomplete or built without the patches in contrib/criu; rebuilding"
	check_build_deps
	work="$(mktemp -d /var/tmp/lifeboat-criu.XXXXXX)"
	trap cleanup EXIT
	setup_private_apt
	fetch_source
	build_and_install
	check_install
}

main "$@"
