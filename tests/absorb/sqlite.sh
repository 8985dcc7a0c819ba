#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# sqlite.sh - sqlite3 write transactions on the mount through a path failure
# and its recovery, in rollback-journal (DELETE) and WAL mode, and once with
# lifeboatfs SIGKILLed mid-outage and remounted with the same journal. Each
# transaction is its own sqlite3 process; its id goes to a native log only
# after sqlite3 returned 0 with nothing on stderr. sqlite3 must never fail;
# afterwards every logged row is there (and no other), PRAGMA
# integrity_check says ok, on the mount and on a copy of the real store.
#
# Environment: ABSORB_SQL_TXNS (240 per mode), ABSORB_SQL_OUTAGE (3 s at most).
set -uo pipefail
ABSORB_LB_OPTS=${ABSORB_LB_OPTS:-queue_budget=256K,flush_interval=0.5,hold=30,on_hold_timeout=eio,path_timeout=5}
source "$(dirname "$0")/lib-absorb.sh"

TXNS=${ABSORB_SQL_TXNS:-240}
OUTAGE=${ABSORB_SQL_OUTAGE:-3}

ab_init absorb-sqlite
lb_need sqlite3
ab_stack_up
KILL_SCRIPT=$(ab_kill_script) || exit 1
bad=0

# controller LOG KIND: in the background, fail the path once LOG has
# TXNS/5 lines, heal after TXNS*3/5 lines or OUTAGE seconds, whichever
# comes first. KIND kill: pause the transaction loop between two
# transactions first (LOG.pause -> LOG.paused: sqlite3 may legitimately
# wait for the path during an outage, and a daemon killed under a waiting
# request fails it), fail the path, SIGKILL lifeboatfs, heal, remount with
# the same journal, let the loop go on: the committed transactions still
# in the unflushed queue at the failure must come back from the journal.
controller()
{
	local log=$1 kind=$2 n t0 i

	until (($(wc -l <"$log") >= TXNS / 5)); do sleep 0.02; done
	if [[ "$kind" == kill ]]; then
		touch "$log.pause"
		for ((i = 0; i < 600; i++)); do
			[[ -e "$log.paused" ]] && break
			sleep 0.05
		done
	fi
	echo "# fail at txn $(wc -l <"$log"): $(ab_ctl fail EIO all)"
	if [[ "$kind" == kill ]]; then
		# something for the daemon to notice the failure with
		n=$(python3 "$AB_DIR/errcheck.py" OK open-w "$AB_MNT/$(basename "$log").marker" 2>&1) ||
			echo "FAIL: creating a file during the outage: $n"
		sleep 0.3
		echo "# kill at txn $(wc -l <"$log"): $("$KILL_SCRIPT" 2>&1 | tr '\n' ' ')"
		rm -f "$log.pause"
		return
	fi
	t0=$SECONDS
	until (($(wc -l <"$log") >= TXNS * 3 / 5 || SECONDS - t0 >= OUTAGE)); do sleep 0.02; done
	echo "# heal at txn $(wc -l <"$log"): $(ab_ctl heal)"
}

# txn DB I: one write transaction: a row, and every 7th time an update of
# an earlier row and a bigger blob, so pages are rewritten in place.
txn()
{
	local db=$1 i=$2 sql

	sql="BEGIN; INSERT INTO t VALUES ($i, 'v$i', randomblob(300 + $i % 3000));"
	if ((i % 7 == 0)); then
		sql+=" UPDATE t SET b = randomblob(5000) WHERE id = $((i / 2));"
	fi
	sql+=" COMMIT;"
	sqlite3 -bail "$db" "$sql"
}

# check_db DB LOG LABEL: rows = the logged ids, integrity ok.
check_db()
{
	local db=$1 log=$2 label=$3 r want

	r=$(sqlite3 "$db" 'PRAGMA integrity_check;' 2>&1)
	[[ "$r" == ok ]] || { echo "FAIL: $label: integrity_check: $r" >&2; bad=$((bad + 1)); }
	want=$(sort -n "$log" | tr '\n' ' ')
	r=$(sqlite3 "$db" 'SELECT id FROM t WHERE v = printf("v%d", id) ORDER BY id;' 2>&1 | tr '\n' ' ')
	if [[ "$r" != "$want" ]]; then
		echo "FAIL: $label: committed rows differ: $(diff <(tr ' ' '\n' <<<"$want") <(tr ' ' '\n' <<<"$r") | head -n 8 | tr '\n' ' ')" >&2
		bad=$((bad + 1))
	fi
	r=$(sqlite3 "$db" 'SELECT count(*) FROM t;' 2>&1)
	[[ "$r" == "$(wc -l <"$log")" ]] ||
		{ echo "FAIL: $label: $r rows, $(wc -l <"$log") committed" >&2; bad=$((bad + 1)); }
}

run_mode()
{
	local mode=$1 kind=$2 name="$1-$2" db log err ctl i rc

	db=$AB_MNT/$name.db
	log=$LB_WORK/$name.committed
	err=$LB_WORK/$name.err
	: >"$log"
	sqlite3 -bail "$db" "PRAGMA journal_mode=$mode; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, b BLOB);" >/dev/null ||
		lb_fail "$name: cannot create the database"
	controller "$log" "$kind" >"$LB_WORK/$name.ctl" 2>&1 &
	ctl=$!
	LB_PIDS+=("$ctl")
	for ((i = 1; i <= TXNS; i++)); do
		if [[ -e "$log.pause" ]]; then
			touch "$log.paused"
			while [[ -e "$log.pause" ]]; do sleep 0.02; done
			rm -f "$log.paused"
		fi
		txn "$db" "$i" >/dev/null 2>"$err"
		rc=$?
		if ((rc != 0)) || [[ -s "$err" ]]; then
			echo "FAIL: $name: transaction $i: sqlite3 rc $rc: $(head -c 300 "$err")" >&2
			bad=$((bad + 1))
			((bad > 5)) && break
			continue
		fi
		echo "$i" >>"$log"
	done
	wait "$ctl"
	cat "$LB_WORK/$name.ctl" >&2
	grep -q '^FAIL' "$LB_WORK/$name.ctl" && bad=$((bad + 1))
	[[ "$kind" == kill ]] && ab_adopt_pid
	ab_ctl heal >/dev/null
	ab_wait_healthy 30 || bad=$((bad + 1))
	check_db "$db" "$log" "$name on the mount"
	# the real store, on a copy so that sqlite3 writes nothing there
	mkdir -p "$LB_WORK/copy-$name"
	cp "$AB_STORE/$name.db"* "$LB_WORK/copy-$name/" 2>/dev/null
	check_db "$LB_WORK/copy-$name/$name.db" "$log" "$name on the store"
	lb_log "$name: $(wc -l <"$log") of $TXNS transactions committed"
}

run_mode DELETE heal
run_mode WAL heal
run_mode DELETE kill
((bad == 0)) || lb_fail "$bad checks failed"
echo PASS
