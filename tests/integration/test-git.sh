#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-git.sh - git on the mount: clone a local repository onto it (file
# copy and pack transport), fsck, commit and repack there, and compare with
# the same clone made natively.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

git_q()
{
	git -c user.name=lifeboat -c user.email=lifeboat@localhost \
		-c init.defaultBranch=main -c advice.detachedHead=false "$@"
}

# A repository with some history: several commits, a branch, a tag, an
# executable file, a symlink and a binary blob.
make_origin()
{
	local o=$1 i

	git_q init -q "$o"
	for i in 1 2 3 4 5; do
		seq "$i" 5000 >"$o/numbers-$i.txt"
		head -c $((i * 40000)) /usr/bin/git >"$o/blob-$i.bin"
		git_q -C "$o" add -A
		git_q -C "$o" commit -q -m "commit $i"
	done
	printf '#!/bin/sh\necho hi\n' >"$o/run.sh"
	chmod +x "$o/run.sh"
	ln -s numbers-1.txt "$o/link"
	git_q -C "$o" add -A
	git_q -C "$o" commit -q -m "exec and symlink"
	git_q -C "$o" tag -a v1 -m "tag v1"
	git_q -C "$o" checkout -q -b side
	echo side >"$o/side.txt"
	git_q -C "$o" add side.txt
	git_q -C "$o" commit -q -m "side"
	git_q -C "$o" checkout -q main
}

check_clone()
{
	local what=$1 c=$2 nat=$3

	git_q -C "$c" fsck --full --strict >"$LB_WORK/fsck.out" 2>&1 ||
		{ cat "$LB_WORK/fsck.out" >&2; lb_fail "$what: git fsck --full failed"; }
	local want got
	# Assignments, not arguments: a failing rev-parse must stop the test.
	want=$(git_q -C "$nat" rev-parse HEAD origin/side v1)
	got=$(git_q -C "$c" rev-parse HEAD origin/side v1)
	lb_assert_eq "$want" "$got" "$what: refs"
	lb_assert_eq "" "$(git_q -C "$c" status --porcelain)" "$what: status"
	diff -r --no-dereference -x .git "$nat" "$c" >&2 || lb_fail "$what: work tree differs from native clone"
	[[ -x "$c/run.sh" && -L "$c/link" ]] || lb_fail "$what: exec bit or symlink lost"
}

main()
{
	lb_init git
	lb_need git
	export GIT_CONFIG_NOSYSTEM=1
	local o=$LB_WORK/origin nat=$LB_WORK/native mnt=$LB_WORK/mnt store=$LB_WORK/store

	make_origin "$o"
	git_q clone -q "$o" "$nat"
	lb_mount "$store" "$mnt"

	lb_log "clone by file copy and by pack transport"
	git_q clone -q "$o" "$mnt/local"
	check_clone "local clone" "$mnt/local" "$nat"
	git_q clone -q --no-local "$o" "$mnt/packed"
	check_clone "--no-local clone" "$mnt/packed" "$nat"

	lb_log "commit, merge, gc on the mount and natively"
	local d
	for d in "$mnt/packed" "$nat"; do
		echo "new work" >"$d/new.txt"
		git_q -C "$d" add new.txt
		GIT_AUTHOR_DATE=@1700000000 GIT_COMMITTER_DATE=@1700000000 \
			git_q -C "$d" commit -q -m "work on the mount"
		GIT_AUTHOR_DATE=@1700000001 GIT_COMMITTER_DATE=@1700000001 \
			git_q -C "$d" merge -q --no-edit origin/side
		git_q -C "$d" gc -q --aggressive --prune=now
	done
	check_clone "after commit and gc" "$mnt/packed" "$nat"
	local want got
	want=$(git_q -C "$nat" count-objects -v | grep -E '^(count|in-pack):')
	got=$(git_q -C "$mnt/packed" count-objects -v | grep -E '^(count|in-pack):')
	lb_assert_eq "$want" "$got" "object counts after gc"

	lb_log "store holds a valid repository after unmount"
	lb_umount "$mnt"
	lb_wait_exit "$LB_LAST_PID" || lb_fail "daemon exit status $? after unmount"
	git_q -C "$store/packed" fsck --full --strict 2>&1 || lb_fail "fsck of the store copy failed"
	echo "PASS: git clone, fsck, commit, gc"
}

main "$@"
