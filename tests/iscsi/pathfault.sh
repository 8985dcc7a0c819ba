#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# pathfault.sh - failures of the journal path itself. Healthy: nft drops the
# journal portal's traffic, then tgtd is stopped and started again; the
# mount stays healthy (writes go on), its status shows the session down, and
# it logs in again by itself. Absorbing: the journal portal is dropped, and
# later tgtd restarted, while the primary path is down too: a write is not
# acknowledged while the journal is unreachable (status: both paths down)
# and is acknowledged once it is durable on the LUN. Nothing acknowledged is
# lost: after the primary path returns the store holds every write.
set -uo pipefail
# an append waits this long for the session (a WRITE lost to the drop times out after 10 s)
IS_TIMEOUT=90
source "$(dirname "$0")/lib-iscsi.sh"

is_init iscsi-pathfault
lb_need nft
is_tgtd_start
AB_JOURNAL=$IS_URL
ab_stack_up

up()
{
	[[ "$(is_status 'journal_path["up"]')" == True ]]
}

# healthy: journal portal dropped, writes go on, the session comes back
is_nft_drop
for i in 1 2 3 4 5; do
	echo "healthy-$i" >"$AB_MNT/h$i" || lb_fail "healthy write h$i while the journal path is down"
	sleep 0.5
done
is_wait_status 'not journal_path["up"] and state == "healthy"' 20
is_nft_heal
is_wait_status 'journal_path["up"] and journal_path["reconnects"] >= 1' 30
lb_log "healthy: nft drop seen and survived"

# healthy: tgtd stopped and started again (it forgets every registration)
is_tgtd_stop
echo "during restart" >"$AB_MNT/h6" || lb_fail "healthy write while tgtd is down"
is_wait_status 'not journal_path["up"]' 20
is_tgtd_start
is_wait_status 'journal_path["up"] and journal_path["reconnects"] >= 2' 30
lb_log "healthy: tgtd restart survived"

# another LUN behind the same address is not taken for the journal
is_tgtd_stop
lun=$IS_LUN
IS_LUN=$LB_WORK/other.img
truncate -s "$IS_LUN_SIZE" "$IS_LUN"
is_tgtd_start
sleep 8
[[ "$(is_status 'journal_path["up"]')" == False ]] || lb_fail "the session came up on another LUN"
grep -q 'is not the journal LUN it was' "${LB_LOGS[@]}" || lb_fail "no message about the other LUN"
is_tgtd_stop
IS_LUN=$lun
is_tgtd_start
is_wait_status 'journal_path["up"] and journal_path["reconnects"] >= 3' 30
lb_log "healthy: another LUN at the journal's address refused, the right one taken back"

# the journal path down first, then the primary path fails: the unflushed
# queue cannot be journaled, so nothing more is acknowledged until it is
is_nft_drop
is_wait_status 'not journal_path["up"]' 20
echo "q1" >"$AB_MNT/q1" || lb_fail "healthy write with the journal path down"
ab_ctl fail EIO all >/dev/null || lb_fail "faultctl fail"
(echo "w0" >"$AB_MNT/w0" && touch "$LB_WORK/w0.acked") &
W0=$!
sleep 3
[[ -e "$LB_WORK/w0.acked" ]] && lb_fail "w0 was acknowledged while neither path worked"
is_nft_heal
wait "$W0" || lb_fail "w0 failed after the journal path came back"
lb_log "journal path down, then the primary: held until the queue was journaled"

# absorbing, then the journal portal drops too: the write waits, then is acked
echo "w1" >"$AB_MNT/w1" || lb_fail "write while absorbing"
is_wait_status 'state == "absorbing"' 10
is_nft_drop
sleep 1
(echo "w2" >"$AB_MNT/w2" && touch "$LB_WORK/w2.acked") &
W2=$!
is_wait_status 'journal_path["both_paths_down"]' 30
[[ -e "$LB_WORK/w2.acked" ]] && lb_fail "w2 was acknowledged while the journal was unreachable"
is_inspect_json >/dev/null 2>&1 &&
	lb_fail "the journal portal should be unreachable"
is_nft_heal
wait "$W2" || lb_fail "w2 failed after the journal path came back"
[[ -e "$LB_WORK/w2.acked" ]] || lb_fail "w2 not acknowledged"
lb_log "absorbing: a write held while both paths were down, acked once durable"

# absorbing, tgtd restarts under an append
is_tgtd_stop
(echo "w3" >"$AB_MNT/w3" && touch "$LB_WORK/w3.acked") &
W3=$!
sleep 2
[[ -e "$LB_WORK/w3.acked" ]] && lb_fail "w3 was acknowledged while tgtd was down"
is_tgtd_start
wait "$W3" || lb_fail "w3 failed after tgtd came back"
is_inspect_json >"$LB_WORK/inspect.json" || lb_fail "inspect"
python3 - "$LB_WORK/inspect.json" <<'PY' || lb_fail "the LUN does not hold every acknowledged write"
import json, sys
d = json.load(open(sys.argv[1]))
paths = [r["path"] for r in d["records"] if r["type"] == "WRITE"]
for p in ("q1", "w0", "w1", "w2", "w3"):
    assert p in paths, (p, paths)
assert d["end"]["state"] == "clean", d["end"]
PY

ab_ctl heal >/dev/null
is_wait_status 'state == "healthy" and replay_done == replay_total' 30
for f in h1 h2 h3 h4 h5 h6 q1 w0 w1 w2 w3; do
	[[ -s "$AB_STORE/$f" ]] || lb_fail "'$f' is not on the store after recovery"
done
[[ "$(cat "$AB_STORE/w2")" == w2 && "$(cat "$AB_STORE/w3")" == w3 ]] || lb_fail "store contents differ"
lb_log "ok"
