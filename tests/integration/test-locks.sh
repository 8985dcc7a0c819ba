#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-locks.sh - flock, POSIX (fcntl) and OFD locks on the mount exclude
# other processes: a held lock blocks a non-blocking attempt, and a counter
# incremented N times by each of M processes under the lock ends at N*M.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

M=6
N=150

helper()
{
	python3 "$LB_SRCDIR/iohelper.py" "$@"
}

# exclusion KIND FILE: while one process holds the lock, another cannot
# take it; once released, it can.
exclusion()
{
	local kind=$1 file=$2 holder

	coproc HOLD { helper hold "$kind" "$file" 3; }
	holder=$HOLD_PID
	local line
	read -r -t 10 line <&"${HOLD[0]}" || lb_fail "$kind: holder never took the lock"
	lb_assert_eq locked "$line" "$kind: holder"
	if helper try "$kind" "$file"; then
		lb_fail "$kind: a second process took a lock that is held"
	fi
	wait "$holder" || lb_fail "$kind: holder failed"
	helper try "$kind" "$file" || lb_fail "$kind: lock still held after release"
}

# counter KIND FILE: M processes, N locked increments each.
counter()
{
	local kind=$1 file=$2 i pids=()

	echo 0 >"$file"
	for ((i = 0; i < M; i++)); do
		helper count "$kind" "$file" $N &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || lb_fail "$kind: a counting process failed"
	done
	lb_assert_eq $((M * N)) "$(tr -d ' \n' <"$file")" "$kind: counter"
}

# flock(1) from the shell, the way scripts use it.
counter_flock_cmd()
{
	local file=$1 lockf=$1.lock i pids=()

	echo 0 >"$file"
	for ((i = 0; i < M; i++)); do
		(
			for ((j = 0; j < N; j++)); do
				flock "$lockf" sh -c 'read n <"$1"; echo $((n + 1)) >"$1"' sh "$file"
			done
		) &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || lb_fail "flock(1): a counting process failed"
	done
	lb_assert_eq $((M * N)) "$(cat "$file")" "flock(1): counter"
	flock -n "$lockf" true || lb_fail "flock(1): lock left held"
}

main()
{
	lb_init locks
	lb_need python3 flock
	local mnt=$LB_WORK/mnt store=$LB_WORK/store kind

	lb_mount "$store" "$mnt"
	for kind in flock posix ofd; do
		lb_log "$kind: exclusion and $M x $N counter"
		: >"$mnt/excl-$kind"
		exclusion "$kind" "$mnt/excl-$kind"
		counter "$kind" "$mnt/counter-$kind"
		lb_assert_eq $((M * N)) "$(tr -d ' \n' <"$store/counter-$kind")" "$kind: counter in store"
	done
	lb_log "flock(1): $M x $N counter"
	counter_flock_cmd "$mnt/counter-cmd"
	echo "PASS: flock, POSIX and OFD locks exclude across processes"
}

main "$@"
