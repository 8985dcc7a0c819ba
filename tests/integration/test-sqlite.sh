#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-sqlite.sh - SQLite on the mount in rollback-journal and WAL modes:
# transactions, an index, deletes, VACUUM, and concurrent writers that rely
# on POSIX locks and the shared-memory WAL index. The same deterministic
# workload runs natively and the dumps must match.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROWS_PER_TXN=500
TXNS=20
WRITERS=4
WRITER_ROWS=150

# workload MODE: SQL for a deterministic single-writer workload.
workload()
{
	local mode=$1 t

	echo "PRAGMA journal_mode=$mode;"
	echo "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT, v BLOB);"
	for ((t = 0; t < TXNS; t++)); do
		echo "BEGIN;"
		echo "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS_PER_TXN)"
		echo "INSERT INTO t (k, v) SELECT printf('key-%d-%d', $t, i), zeroblob(100 + i) FROM n;"
		echo "COMMIT;"
	done
	echo "CREATE INDEX t_k ON t (k);"
	echo "DELETE FROM t WHERE id % 7 = 0;"
	echo "UPDATE t SET k = k || '-u' WHERE id % 5 = 0;"
	echo "VACUUM;"
}

check_db()
{
	local what=$1 db=$2 expect_rows=$3 r

	r=$(sqlite3 "$db" 'PRAGMA integrity_check;')
	lb_assert_eq ok "$r" "$what: integrity_check"
	r=$(sqlite3 "$db" 'SELECT count(*) FROM t;')
	lb_assert_eq "$expect_rows" "$r" "$what: row count"
}

run_workload()
{
	local mode=$1 mnt=$2 nat=$3 total=$((ROWS_PER_TXN * TXNS)) expect

	expect=$((total - total / 7))
	workload "$mode" | sqlite3 "$mnt/$mode.db" >/dev/null
	workload "$mode" | sqlite3 "$nat/$mode.db" >/dev/null
	check_db "$mode on mount" "$mnt/$mode.db" "$expect"
	check_db "$mode native" "$nat/$mode.db" "$expect"
	sqlite3 "$mnt/$mode.db" .dump >"$LB_WORK/dump-mnt"
	sqlite3 "$nat/$mode.db" .dump >"$LB_WORK/dump-nat"
	lb_assert_same_files "$mode dumps" "$LB_WORK/dump-nat" "$LB_WORK/dump-mnt"
}

# Concurrent writers: each inserts rows one transaction at a time; SQLite
# serializes them with POSIX locks (and the -shm index in WAL mode).
concurrent_writers()
{
	local mode=$1 db=$2 w pids=()

	sqlite3 "$db" "PRAGMA journal_mode=$mode; CREATE TABLE c (w INTEGER, n INTEGER);" >/dev/null
	for ((w = 0; w < WRITERS; w++)); do
		(
			for ((n = 0; n < WRITER_ROWS; n++)); do
				echo "INSERT INTO c VALUES ($w, $n);"
			done
		) | sqlite3 -cmd '.timeout 30000' "$db" &
		pids+=($!)
	done
	for w in "${pids[@]}"; do
		wait "$w" || lb_fail "$mode: a concurrent sqlite3 writer failed"
	done
	lb_assert_eq ok "$(sqlite3 "$db" 'PRAGMA integrity_check;')" "$mode concurrent: integrity_check"
	lb_assert_eq $((WRITERS * WRITER_ROWS)) "$(sqlite3 "$db" 'SELECT count(*) FROM c;')" \
		"$mode concurrent: row count"
	lb_assert_eq $((WRITERS * WRITER_ROWS * (WRITER_ROWS - 1) / 2)) \
		"$(sqlite3 "$db" 'SELECT sum(n) FROM c;')" "$mode concurrent: sum"
}

main()
{
	lb_init sqlite
	lb_need sqlite3
	local nat=$LB_WORK/native mnt=$LB_WORK/mnt store=$LB_WORK/store mode

	mkdir -p "$nat"
	lb_mount "$store" "$mnt"
	for mode in delete wal; do
		lb_log "single writer, journal_mode=$mode"
		run_workload "$mode" "$mnt" "$nat"
		lb_log "$WRITERS concurrent writers, journal_mode=$mode"
		concurrent_writers "$mode" "$mnt/concurrent-$mode.db"
	done

	lb_log "databases in the store are intact after unmount"
	lb_umount "$mnt"
	lb_wait_exit "$LB_LAST_PID" || lb_fail "daemon exit status $? after unmount"
	for mode in delete wal; do
		lb_assert_eq ok "$(sqlite3 "$store/$mode.db" 'PRAGMA integrity_check;')" "$mode in store"
		lb_assert_eq $((WRITERS * WRITER_ROWS)) \
			"$(sqlite3 "$store/concurrent-$mode.db" 'SELECT count(*) FROM c;')" "$mode concurrent in store"
	done
	echo "PASS: sqlite3 workloads"
}

main "$@"
