#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-concurrent-writers.sh - many processes writing the same files at once:
# disjoint blocks of one file, the same blocks of another, and O_APPEND
# records to a shared log. No write may be lost, torn or misplaced, and the
# store must hold the same bytes as the mount.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

NPROC=8
NBLOCKS=256	# 1 MiB per shared file
ROUNDS=8
RECORDS=2000

# run_all CMD...: start NPROC helpers with IDX 0..NPROC-1 substituted for
# the word IDX, wait for all, fail if any failed.
run_all()
{
	local i pids=() args a

	for ((i = 0; i < NPROC; i++)); do
		args=()
		for a in "$@"; do
			[[ "$a" == IDX ]] && a=$i
			args+=("$a")
		done
		python3 "$LB_SRCDIR/iohelper.py" "${args[@]}" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || lb_fail "writer $i failed: $*"
	done
}

verify_dir()
{
	local d=$1

	python3 "$LB_SRCDIR/iohelper.py" verify-blocks "$d/disjoint" $NPROC $NBLOCKS disjoint
	python3 "$LB_SRCDIR/iohelper.py" verify-blocks "$d/overlap" $NPROC $NBLOCKS overlap
	python3 "$LB_SRCDIR/iohelper.py" verify-log "$d/log" $NPROC $RECORDS
}

main()
{
	lb_init concurrent-writers
	lb_need python3
	local mnt=$LB_WORK/mnt store=$LB_WORK/store

	lb_mount "$store" "$mnt"
	lb_log "$NPROC writers: disjoint blocks, overlapping blocks, O_APPEND log"
	run_all disjoint "$mnt/disjoint" IDX $NPROC $NBLOCKS &
	local p1=$!
	run_all overlap "$mnt/overlap" IDX $NBLOCKS $ROUNDS &
	local p2=$!
	run_all append "$mnt/log" IDX $RECORDS
	wait $p1 || lb_fail "disjoint writers failed"
	wait $p2 || lb_fail "overlapping writers failed"

	lb_log "verify through the mount and in the store"
	verify_dir "$mnt" || lb_fail "contents seen through the mount are wrong"
	verify_dir "$store" || lb_fail "contents in the store are wrong"
	local f
	for f in disjoint overlap log; do
		cmp "$mnt/$f" "$store/$f" || lb_fail "'$f' differs between mount and store"
	done

	lb_log "remount: the page cache must not have hidden anything"
	lb_umount "$mnt"
	lb_wait_exit "$LB_LAST_PID" || lb_fail "daemon exit status $? after unmount"
	lb_mount "$store" "$mnt"
	verify_dir "$mnt" || lb_fail "contents after remount are wrong"
	echo "PASS: concurrent writers"
}

main "$@"
