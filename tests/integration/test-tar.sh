#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-tar.sh - tar round trip on the mount: archive a header tree onto the
# mount, extract it there, and compare with the same steps done natively.
# POSIX (pax) format keeps nanosecond mtimes, so the source compares too.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# The source tree: real headers plus the shapes /usr/include lacks (odd
# modes and owners, hard links, symlinks, an empty dir, a sparse file).
make_source()
{
	local src=$1

	mkdir -p "$src/include"
	cp -a /usr/include/linux /usr/include/asm-generic /usr/include/fuse3 "$src/include/"
	mkdir -p "$src/extra/empty" "$src/extra/setgid"
	chmod 2775 "$src/extra/setgid"
	echo "owned by someone else" >"$src/extra/owned"
	chown 1234:5678 "$src/extra/owned"
	chmod 0640 "$src/extra/owned"
	echo "secret" >"$src/extra/private"
	chmod 0600 "$src/extra/private"
	ln "$src/extra/owned" "$src/extra/owned-link"
	ln -s ../include/linux/fs.h "$src/extra/rel-symlink"
	ln -s /nonexistent/target "$src/extra/dangling"
	truncate -s 10M "$src/extra/sparse"
	printf 'tail' >>"$src/extra/sparse"
	lb_age_tree "$src/extra"
	touch -h -d '2001-02-03 04:05:06.5' "$src/extra/rel-symlink"
}

main()
{
	lb_init tar
	lb_need tar diff
	local src=$LB_WORK/src nat=$LB_WORK/native mnt=$LB_WORK/mnt store=$LB_WORK/store

	make_source "$src"
	mkdir -p "$nat/x"
	lb_mount "$store" "$mnt"
	mkdir "$mnt/x"

	lb_log "archive onto the mount and natively"
	tar -C "$src" --format=posix --sparse -cf "$mnt/a.tar" .
	tar -C "$src" --format=posix --sparse -cf "$nat/a.tar" .
	tar -tvf "$mnt/a.tar" | sort >"$LB_WORK/toc-mnt"
	tar -tvf "$nat/a.tar" | sort >"$LB_WORK/toc-nat"
	lb_assert_same_files "archive tables of contents" "$LB_WORK/toc-nat" "$LB_WORK/toc-mnt"
	cmp "$mnt/a.tar" "$store/a.tar" || lb_fail "archive read through the mount differs from the store"

	lb_log "extract on the mount and natively"
	tar -C "$mnt/x" --numeric-owner -xpf "$mnt/a.tar"
	tar -C "$nat/x" --numeric-owner -xpf "$nat/a.tar"
	lb_diff_trees "mount extraction vs native extraction" "$nat/x" "$mnt/x"
	lb_diff_trees "mount extraction vs source" "$src" "$mnt/x"
	# tar --diff also compares mtimes, which a stand-in may not keep.
	if ((LB_COMPARE_MTIME)); then
		tar -C "$mnt/x" -df "$nat/a.tar" >/dev/null || lb_fail "tar --diff reports changes on the mount"
	fi

	lb_log "remount and compare again (nothing lived only in caches)"
	lb_umount "$mnt"
	lb_wait_exit "$LB_LAST_PID" || lb_fail "daemon exit status $? after unmount"
	lb_diff_trees "store after unmount vs native extraction" "$nat/x" "$store/x"
	lb_mount "$store" "$mnt"
	lb_diff_trees "remounted extraction vs native extraction" "$nat/x" "$mnt/x"
	rm -rf "$mnt/x"
	[[ ! -e "$store/x" ]] || lb_fail "rm -rf on the mount left '$store/x' behind"
	echo "PASS: tar round trip"
}

main "$@"
