#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-ocf.sh - the Pacemaker resource agent ocf:lifeboat:app
# (contrib/ocf/app) against a real lifeboatd on a private control socket:
#   1. Debian's ocf-tester (resource-agents) passes: meta-data against the
#      OCF DTD, validate-all, probes, start/stop/monitor twice over;
#   2. with mount=, start refuses a data dir that is not a lifeboatfs mount
#      and starts nothing; monitor fails once the mount is gone; with
#      journal=, start takes the journal over first (its epoch grows);
#   3. validate-all refuses a bad name, migrate_to without a target, and a
#      migrate_to to a peer lifeboatd does not know fails by name.
set -euo pipefail
source "$(dirname "$0")/../integration/lib.sh"

SRC=${LIFEBOAT_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
AGENT=$SRC/contrib/ocf/app
LIFEBOAT=${LIFEBOAT:-$SRC/build/daemon/lifeboat}
CGROUP_PARENT=lifeboat-fit-ocf-$$
LBD_PID=

ocf_cleanup()
{
	local rc=$? d

	set +e
	if [[ -n "$LBD_PID" ]]; then
		LIFEBOAT_SOCKET=$SOCK "$LIFEBOAT" stop "$APP" >/dev/null 2>&1
		kill -TERM "$LBD_PID" 2>/dev/null
		wait "$LBD_PID" 2>/dev/null
	fi
	for d in /sys/fs/cgroup/*/"$CGROUP_PARENT"; do
		[[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	(exit "$rc")
	lb_cleanup
}

# agent ACTION [VAR=VALUE...]: runs the agent as Pacemaker would; prints rc.
agent()
{
	local action=$1 rc=0
	shift

	env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=lbfit __OCF_ACTION="$action" \
		OCF_RESKEY_name="$APP" OCF_RESKEY_command="sleep 1000" OCF_RESKEY_cwd=/ \
		OCF_RESKEY_lifeboat="$LIFEBOAT" OCF_RESKEY_socket="$SOCK" OCF_RESKEY_CRM_meta_interval=10000 \
		"$@" "$AGENT" "$action" >>"$LB_WORK/agent.log" 2>&1 || rc=$?
	echo "$rc"
}

main()
{
	lb_init fit-ocf
	lb_require_lifeboatfs
	lb_need ocf-tester python3 xmllint
	[[ -x "$AGENT" ]] || lb_fail "'$AGENT' is not executable"
	[[ -x "$LIFEBOAT" ]] || lb_fail "lifeboat CLI not built ('$LIFEBOAT'): set LIFEBOAT"
	[[ -n "${LIFEBOATD:-}" && -x "${LIFEBOATD:-}" ]] || skip "lifeboatd is not built in this tree (LIFEBOATD='${LIFEBOATD:-}')"
	trap ocf_cleanup EXIT
	SOCK=$LB_WORK/control.sock
	APP=fit-ocf-$$
	cat >"$LB_WORK/lifeboat.conf" <<CONF
[node]
name = fit-ocf
control_socket = $SOCK
state_dir = $LB_WORK/state
log_dir = $LB_WORK/log
cgroup_parent = $CGROUP_PARENT

[peer fit-b]
address = 127.0.0.1:9
psk = $(printf '%064d' 0)
CONF
	"$LIFEBOATD" --config "$LB_WORK/lifeboat.conf" >"$LB_WORK/lifeboatd.log" 2>&1 &
	LBD_PID=$!
	LB_LOGS+=("$LB_WORK/lifeboatd.log")
	for ((i = 0; i < 100; i++)); do
		[[ -S "$SOCK" ]] && break
		lb_pid_alive "$LBD_PID" || { cat "$LB_WORK/lifeboatd.log" >&2; lb_fail "lifeboatd exited"; }
		sleep 0.1
	done
	[[ -S "$SOCK" ]] || lb_fail "lifeboatd's socket not there after 10s"

	lb_log "1. ocf-tester"
	ocf-tester -n lbfit -o name="$APP" -o command="sleep 1000" -o cwd=/ -o lifeboat="$LIFEBOAT" \
		-o socket="$SOCK" "$AGENT" >"$LB_WORK/ocf-tester.log" 2>&1 ||
		{ cat "$LB_WORK/ocf-tester.log" >&2; lb_fail "ocf-tester failed"; }
	grep -q "passed all tests" "$LB_WORK/ocf-tester.log" || { cat "$LB_WORK/ocf-tester.log" >&2; lb_fail "ocf-tester did not pass"; }
	lb_log "$(tail -n 1 "$LB_WORK/ocf-tester.log")"
	LIFEBOAT_SOCKET=$SOCK "$LIFEBOAT" ps | grep -q "^$APP .*exited" ||
		lb_fail "after ocf-tester the process set is not stopped: $(LIFEBOAT_SOCKET=$SOCK "$LIFEBOAT" ps)"

	lb_log "2. mount="
	local mnt=$LB_WORK/data bare=$LB_WORK/bare
	mkdir -p "$bare"
	lb_assert_eq 1 "$(agent start OCF_RESKEY_mount="$bare")" "start on a bare data dir"
	grep -q "is not a lifeboatfs mount" "$LB_WORK/agent.log" || lb_fail "start on a bare dir: no reason given"
	LIFEBOAT_SOCKET=$SOCK "$LIFEBOAT" ps | grep -q "^$APP .*running" && lb_fail "start on a bare dir started the app"
	lb_mount "$LB_WORK/store" "$mnt" "allow_other,journal=$LB_WORK/j,status=$LB_WORK/s.status"
	lb_assert_eq 0 "$(agent start OCF_RESKEY_mount="$mnt")" "start on a lifeboatfs data dir"
	lb_assert_eq 0 "$(agent monitor OCF_RESKEY_mount="$mnt")" "monitor with the mount"
	lb_assert_eq 0 "$(agent stop)" "stop before a start after node loss"

	lb_log "2b. journal=: the start takes the journal over first (a start after node loss)"
	local epoch
	epoch=$("$LIFEBOAT" journal owner "$LB_WORK/j" | sed -n 's/.* epoch \([0-9]*\),.*/\1/p')
	[[ -n "$epoch" ]] || lb_fail "cannot read the journal's epoch"
	lb_assert_eq 0 "$(agent start OCF_RESKEY_mount="$mnt" OCF_RESKEY_journal="$LB_WORK/j")" "start with journal="
	# the fence raised the epoch; the release and the mount taking its
	# journal back may raise it again by the time we look
	grep -q "fenced '$LB_WORK/j': epoch $epoch -> $((epoch + 1))" "$LB_WORK/agent.log" ||
		lb_fail "the start did not fence the journal at epoch $epoch"
	(($("$LIFEBOAT" journal owner "$LB_WORK/j" | sed -n 's/.* epoch \([0-9]*\),.*/\1/p') > epoch)) ||
		lb_fail "the journal's epoch did not grow"
	grep -q "taking journal '$LB_WORK/j' over" "$LB_WORK/agent.log" || lb_fail "the takeover is not logged"
	lb_umount "$mnt"
	lb_assert_eq 1 "$(agent monitor OCF_RESKEY_mount="$mnt")" "monitor once the mount is gone"
	lb_assert_eq 0 "$(agent stop OCF_RESKEY_mount="$mnt")" "stop without the mount"
	lb_assert_eq 7 "$(agent monitor)" "monitor after stop"

	lb_log "3. refusals"
	lb_assert_eq 6 "$(agent validate-all OCF_RESKEY_name=a/b)" "validate-all with name a/b"
	lb_assert_eq 6 "$(agent validate-all OCF_RESKEY_cwd=relative)" "validate-all with a relative cwd"
	lb_assert_eq 6 "$(agent validate-all "OCF_RESKEY_service_ip=10.0.0.1 --cwd /tmp")" "validate-all with a bad service_ip"
	lb_assert_eq 0 "$(agent start)" "start for the migrations"
	lb_assert_eq 6 "$(agent migrate_to)" "migrate_to without a target"
	lb_assert_eq 1 "$(agent migrate_to OCF_RESKEY_CRM_meta_migrate_target=nowhere)" "migrate_to an unknown peer"
	grep -q "no peer 'nowhere'" "$LB_WORK/agent.log" || lb_fail "migrate_to an unknown peer: lifeboatd's refusal is not shown"
	lb_assert_eq 0 "$(agent monitor)" "the app still runs after a failed migrate_to"

	lb_log "4. lifeboat status and metrics see lifeboatd, the app and the peer"
	local js
	js=$("$LIFEBOAT" status --json --dir "$LB_WORK" --config "$LB_WORK/lifeboat.conf" |
		APP=$APP python3 -c 'import json, os, sys
d = json.load(sys.stdin)
apps = {a["name"]: a["state"] for a in d["lifeboatd"]["apps"]}
print(d["node"], d["lifeboatd"]["running"], apps.get(os.environ["APP"]), [p["name"] for p in d["peers"]])')
	lb_assert_eq "fit-ocf True running ['fit-b']" "$js" "status --json: node, lifeboatd, app, peers"
	"$LIFEBOAT" status --dir "$LB_WORK" --config "$LB_WORK/lifeboat.conf" | grep -qE "^  $APP +running" ||
		lb_fail "lifeboat status does not list the app running"
	"$LIFEBOAT" metrics --dir "$LB_WORK" --config "$LB_WORK/lifeboat.conf" >"$LB_WORK/apps.prom"
	/usr/bin/python3 "$(dirname "$0")/promcheck.py" "$LB_WORK/apps.prom" "lifeboat_daemon_up==1" \
		"lifeboat_app_state{app=$APP,state=running}==1" "lifeboat_app_memory_bytes{app=$APP}>0" >/dev/null ||
		lb_fail "metrics do not show lifeboatd and the app"
	lb_assert_eq 0 "$(agent stop)" "stop"
	echo "PASS: ocf-tester passes ocf:lifeboat:app; mount checks and refusals hold"
}

main "$@"
