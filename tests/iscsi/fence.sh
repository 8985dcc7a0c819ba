#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# fence.sh - single ownership of a journal LUN. Two writers on one LUN: the
# second takes over (PREEMPT of the first's key, epoch bump); the first gets
# RESERVATION CONFLICT on its next append, says so, and acknowledges nothing
# more; the journal holds only the owner's records after the preempt. Then
# lifeboatfs absorbing a path failure is fenced by `lifeboat journal fence`:
# its next write is never acknowledged, its status says fenced.
set -uo pipefail
export ABSORB_LB_OPTS=${ABSORB_LB_OPTS:-queue_budget=256K,flush_interval=0.5,hold=3,on_hold_timeout=eio}
source "$(dirname "$0")/lib-iscsi.sh"

is_init iscsi-fence
is_tgtd_start
is_add_lun 2
URL_A=$(is_url 1 "$IS_INIT_A")
URL_B=$(is_url 1 "$IS_INIT_B")

# wr_start NAME ARGS...: a jwriter coprocess, its stdin on fd WR_IN_NAME
wr_start()
{
	local name=$1

	shift
	mkfifo "$LB_WORK/$name.in"
	"$JWRITER" "$@" <"$LB_WORK/$name.in" >"$LB_WORK/$name.out" 2>"$LB_WORK/$name.err" &
	LB_PIDS+=("$!")
	LB_LOGS+=("$LB_WORK/$name.err")
	eval "exec {WR_$name}>'$LB_WORK/$name.in'"
	wr_wait "$name" 1 '^ready' || lb_fail "writer $name did not open: $(cat "$LB_WORK/$name.err")"
}

# wr_wait NAME LINE REGEX: until line LINE of NAME's output exists; it must match
wr_wait()
{
	local i line

	for ((i = 0; i < 300; i++)); do
		line=$(sed -n "$2p" "$LB_WORK/$1.out")
		[[ -n "$line" ]] && break
		sleep 0.05
	done
	[[ "$line" =~ $3 ]]
}

# wr NAME N COMMAND REGEX: send COMMAND, expect REGEX as output line N
wr()
{
	local fd="WR_$1"

	echo "$3" >&"${!fd}"
	wr_wait "$1" "$2" "$4" || lb_fail "writer $1: '$3' gave '$(sed -n "$2p" "$LB_WORK/$1.out")', not /$4/"
}

wr_start a --owner node-a "$URL_A"
wr a 2 "append 5 a" '^ok 1 5$'
wr_start b --takeover --owner node-b "$URL_B"
wr b 2 "append 3 b" '^ok 6 8$'
wr a 3 "append 1 a2" '^err ESTALE'
wr a 4 "append 1 a3" '^err ESTALE'
wr a 5 "state" '^state fenced$'
wr b 3 "append 2 b2" '^ok 9 10$'
grep -q 'FENCED: RESERVATION CONFLICT' "$LB_WORK/a.err" || lb_fail "the fenced writer did not say so: $(cat "$LB_WORK/a.err")"
echo quit >&"$WR_a"
echo quit >&"$WR_b"

is_inspect_json "$IS_BASE_URL" >"$LB_WORK/two.json" || lb_fail "inspect"
python3 - "$LB_WORK/two.json" <<'PY' || lb_fail "the journal does not hold exactly the owners' records"
import json, sys
d = json.load(open(sys.argv[1]))
got = [(r["seq"], r["epoch"], r["path"]) for r in d["records"]]
want = [(i + 1, 1, "a/%d" % i) for i in range(5)] + [(6 + i, 2, "b/%d" % i) for i in range(3)] \
     + [(9 + i, 2, "b2/%d" % i) for i in range(2)]
assert got == want, got
assert d["header"]["epoch"] == 2 and d["header"]["owner"] == "node-b", d["header"]
assert d["end"]["state"] == "clean"
PY
"$LIFEBOAT" journal owner "$URL_B" >"$LB_WORK/owner.txt" || lb_fail "journal owner"
grep -q "epoch 2, owner 'node-b'" "$LB_WORK/owner.txt" && grep -q 'held by key 0x[0-9a-f]* (ours), type 5' "$LB_WORK/owner.txt" ||
	lb_fail "journal owner shows: $(cat "$LB_WORK/owner.txt")"
lb_log "two writers: the preempted one acknowledged nothing more"

# lifeboatfs (node A) absorbing, fenced by hand from node B
AB_JOURNAL=$(is_url 2 "$IS_INIT_A")
ab_stack_up
ab_ctl fail EIO all >/dev/null || lb_fail "faultctl fail"
echo before >"$AB_MNT/w1" || lb_fail "write before the fence"
is_wait_status 'state == "absorbing"' 10
"$LIFEBOAT" journal fence --owner node-b "$(is_url 2 "$IS_INIT_B")" >"$LB_WORK/fence.txt" ||
	lb_fail "journal fence: $(cat "$LB_WORK/fence.txt")"
grep -q "epoch 1 -> 2" "$LB_WORK/fence.txt" || lb_fail "fence: $(cat "$LB_WORK/fence.txt")"
if timeout 30 sh -c "echo after >'$AB_MNT/w2'" 2>/dev/null; then
	lb_fail "a fenced mount acknowledged a write"
fi
is_wait_status 'journal_path["fenced"] and journal_state == "fenced"' 10
grep -q 'FENCED' "${LB_LOGS[@]}" || lb_fail "lifeboatfs did not say it was fenced"
is_inspect_json "$(is_url 2 "$IS_INIT_B")" >"$LB_WORK/fs.json" || lb_fail "inspect LUN 2"
python3 - "$LB_WORK/fs.json" <<'PY' || lb_fail "LUN 2 holds a record of the fenced node"
import json, sys
d = json.load(open(sys.argv[1]))
paths = [r["path"] for r in d["records"]]
assert "w1" in paths, paths
assert "w2" not in paths, paths
assert all(r["epoch"] == 1 for r in d["records"])
PY
lb_log "ok"
