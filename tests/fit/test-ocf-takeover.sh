#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-ocf-takeover.sh - the start of ocf:lifeboat:app after Pacemaker lost
# (and fenced) the node that ran it: node A's lifeboatfs absorbs an EIO
# outage and is killed with acknowledged writes only in its journal; node
# B (another lifeboatfs on the same store, here on the same host) starts
# the resource with journal= A's journal: the agent fences it, replays it
# into the store through B's mount, releases it, and only then starts the
# application. Every write A acknowledged must be in the store, and A's
# journal must be released and empty.
set -euo pipefail
source "$(dirname "$0")/../absorb/lib-absorb.sh"

SRC=${LIFEBOAT_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
AGENT=$SRC/contrib/ocf/app
LIFEBOAT=${LIFEBOAT:-$SRC/build/daemon/lifeboat}
CGROUP_PARENT=lifeboat-fit-takeover-$$
LBD_PID=

takeover_cleanup()
{
	local rc=$? d

	set +e
	if [[ -n "$LBD_PID" ]]; then
		LIFEBOAT_SOCKET=$SOCK "$LIFEBOAT" stop app >/dev/null 2>&1
		kill -TERM "$LBD_PID" 2>/dev/null
		wait "$LBD_PID" 2>/dev/null
	fi
	for d in /sys/fs/cgroup/*/"$CGROUP_PARENT"; do
		[[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	(exit "$rc")
	ab_cleanup
}

agent()
{
	local action=$1 rc=0
	shift

	env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=app __OCF_ACTION="$action" OCF_RESKEY_name=app \
		OCF_RESKEY_command="sleep 1000" OCF_RESKEY_cwd=/ OCF_RESKEY_lifeboat="$LIFEBOAT" \
		OCF_RESKEY_socket="$SOCK" OCF_RESKEY_CRM_meta_interval=0 \
		"$@" "$AGENT" "$action" >>"$LB_WORK/agent.log" 2>&1 || rc=$?
	echo "$rc"
}

start_lifeboatd()
{
	cat >"$LB_WORK/lifeboat.conf" <<CONF
[node]
name = fit-b
control_socket = $SOCK
state_dir = $LB_WORK/state
log_dir = $LB_WORK/log
cgroup_parent = $CGROUP_PARENT
CONF
	"$LIFEBOATD" --config "$LB_WORK/lifeboat.conf" >"$LB_WORK/lifeboatd.log" 2>&1 &
	LBD_PID=$!
	LB_LOGS+=("$LB_WORK/lifeboatd.log")
	for ((i = 0; i < 100; i++)); do
		[[ -S "$SOCK" ]] && return 0
		lb_pid_alive "$LBD_PID" || lb_fail "lifeboatd exited: $(tail -n 5 "$LB_WORK/lifeboatd.log")"
		sleep 0.1
	done
	lb_fail "lifeboatd's socket not there after 10s"
}

main()
{
	ab_init fit-takeover
	lb_need ocf-tester
	[[ -x "$LIFEBOAT" ]] || lb_fail "lifeboat CLI not built ('$LIFEBOAT'): set LIFEBOAT"
	[[ -n "${LIFEBOATD:-}" && -x "${LIFEBOATD:-}" ]] || skip "lifeboatd is not built in this tree (LIFEBOATD='${LIFEBOATD:-}')"
	SOCK=$LB_WORK/control.sock
	trap takeover_cleanup EXIT

	lb_log "node A absorbs an outage, then dies with writes only in its journal"
	ab_stack_up
	echo before >"$AB_MNT/before"
	ab_wait_healthy 10 || lb_fail "A not healthy"
	sleep 1	# flush_interval 0.5: 'before' is on the store
	ab_ctl fail EIO all >/dev/null
	echo "acknowledged by A" >"$AB_MNT/during"
	head -c 300000 /dev/urandom >"$LB_WORK/blob"
	cp "$LB_WORK/blob" "$AB_MNT/blob"
	[[ "$("$LIFEBOAT" journal owner "$AB_JOURNAL")" == *"owner '$(hostname)'"* ]] || lb_fail "A does not own its journal"
	kill -KILL "$AB_LB_PID"
	wait "$AB_LB_PID" 2>/dev/null || true
	fusermount3 -u -z "$AB_MNT" 2>/dev/null || umount -l "$AB_MNT"
	ab_ctl heal >/dev/null
	[[ ! -e "$AB_STORE/during" ]] || lb_fail "the write A absorbed reached the store without a replay"

	lb_log "node B: its own mount of the store, lifeboatd, the agent's start with journal="
	local mnt_b=$LB_WORK/mnt-b
	lb_mount "$AB_STORE" "$mnt_b" "allow_other,journal=$LB_WORK/b.journal,status=$LB_WORK/b.status"
	start_lifeboatd
	lb_assert_eq 7 "$(agent monitor OCF_RESKEY_mount="$mnt_b")" "probe on B"
	lb_assert_eq 6 "$(agent validate-all OCF_RESKEY_journal="$AB_JOURNAL")" "journal= without mount="
	lb_assert_eq 0 "$(agent start OCF_RESKEY_mount="$mnt_b" OCF_RESKEY_journal="$AB_JOURNAL")" "start on B with A's journal"
	lb_assert_eq 0 "$(agent monitor OCF_RESKEY_mount="$mnt_b")" "monitor on B"

	lb_log "what A acknowledged is in the store; A's journal is released and empty"
	lb_assert_eq "acknowledged by A" "$(cat "$AB_STORE/during" 2>/dev/null)" "A's absorbed write in the store"
	cmp -s "$LB_WORK/blob" "$AB_STORE/blob" || lb_fail "A's absorbed 300 kB write is not in the store"
	lb_assert_eq "acknowledged by A" "$(cat "$mnt_b/during")" "A's write seen through B's mount"
	"$LIFEBOAT" journal owner "$AB_JOURNAL" | grep -q "owner 'released-by:" ||
		lb_fail "A's journal is not released: $("$LIFEBOAT" journal owner "$AB_JOURNAL")"
	"$LIFEBOAT" journal verify "$AB_JOURNAL" >/dev/null || lb_fail "A's journal does not verify after the release"
	lb_assert_eq 0 "$("$LIFEBOAT" journal inspect --json "$AB_JOURNAL" |
		/usr/bin/python3 -c 'import json, sys; print(len(json.load(sys.stdin)["records"]))')" \
		"records left in A's journal"
	lb_assert_eq 0 "$(agent stop OCF_RESKEY_mount="$mnt_b")" "stop on B"
	lb_umount "$mnt_b"
	echo "PASS: a start after node loss fences, replays and releases the lost node's journal before the app runs"
}

main "$@"
