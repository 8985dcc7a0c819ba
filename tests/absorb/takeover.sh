#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# takeover.sh - another node takes the mount's journal over, as a handoff
# does (fs/reclaim.c), on the stack of lib-absorb.sh, with the peer's steps
# done by hand through `lifeboat journal fence|replay|release`:
#
#   1. healthy: the peer fences the journal; the mount sees it fenced
#      without appending, and takes it back (a newer epoch) once the peer
#      released it;
#   2. absorbing: the peer fences the journal, replays it into the real
#      store and its application writes newer data there; when the path
#      heals the mount must not replay its records again (that would write
#      the old data back), and takes the journal back once released;
#   3. the journal taken back absorbs a new failure like before.
set -uo pipefail
ABSORB_LB_OPTS=${ABSORB_LB_OPTS:-queue_budget=256K,flush_interval=0.5,hold=30,on_hold_timeout=wait,path_timeout=5}
source "$(dirname "$0")/lib-absorb.sh"

ab_init absorb-takeover
LIFEBOAT=$(realpath "${LIFEBOAT:-$AB_DIR/../../build/daemon/lifeboat}" 2>/dev/null) || true
[[ -x "$LIFEBOAT" ]] || lb_fail "lifeboat CLI not built ('$LIFEBOAT'): set LIFEBOAT"
trap ab_cleanup EXIT
ab_stack_up

field()
{
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' \
		"$AB_STATUS" "$1" 2>/dev/null
}

# wait_for FIELD VALUE SECONDS
wait_for()
{
	local i

	for ((i = 0; i < $3 * 10; i++)); do
		[[ "$(field "$1")" == "$2" ]] && return 0
		sleep 0.1
	done
	lb_fail "status $1 is '$(field "$1")', not '$2' after $3 s: $(cat "$AB_STATUS")"
}

journal()
{
	"$LIFEBOAT" journal "$@" || lb_fail "lifeboat journal $* failed"
}

same()
{
	[[ "$(cat "$1" 2>&1)" == "$2" ]] || lb_fail "$1 is '$(cat "$1" 2>&1)', expected '$2'"
}

echo "# 1. healthy: fenced, then released and taken back"
printf one >"$AB_MNT/f" || lb_fail "write on the mount failed"
journal fence --owner peer "$AB_JOURNAL" >/dev/null
wait_for journal_state fenced 10
journal release "$AB_JOURNAL" >/dev/null
wait_for journal_state ready 10
epoch=$(field journal_epoch)
((epoch == 3)) || lb_fail "journal taken back at epoch $epoch, expected 3"
[[ "$(field journal_owner)" != released-by:* ]] || lb_fail "journal owner still '$(field journal_owner)'"

echo "# 2. absorbing: the peer replays, writes newer data; the mount replays nothing"
sleep 1.5	# the flusher made 'one' durable
ab_ctl fail EIO all >/dev/null
printf absorbed >"$AB_MNT/f" || lb_fail "absorbed write failed"
wait_for state absorbing 10
journal fence --owner peer "$AB_JOURNAL" >/dev/null
journal replay "$AB_JOURNAL" "$AB_STORE" >/dev/null
same "$AB_STORE/f" absorbed
printf newer >"$AB_STORE/f"
# healed before the release: the records are still in the journal
ab_ctl heal >/dev/null
wait_for state healthy 20
same "$AB_STORE/f" newer
[[ "$(field journal_state)" == fenced ]] || lb_fail "journal is '$(field journal_state)', not fenced"
journal release "$AB_JOURNAL" >/dev/null
wait_for journal_state ready 10
epoch=$(field journal_epoch)
((epoch == 5)) || lb_fail "journal taken back at epoch $epoch, expected 5"
same "$AB_STORE/f" newer

echo "# 3. the journal taken back absorbs a new failure"
ab_ctl fail EIO all >/dev/null
printf third >"$AB_MNT/g" || lb_fail "write while absorbing failed"
wait_for state absorbing 10
ab_ctl heal >/dev/null
wait_for state healthy 20
same "$AB_STORE/g" third
same "$AB_STORE/f" newer
echo "PASS"
