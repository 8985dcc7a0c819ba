#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-ocf-migrate.sh - a Pacemaker live migration of ocf:lifeboat:app is a
# lifeboat handoff. Two lifeboat nodes in network namespaces (the harness of
# tests/handoff/lib-handoff.sh), a verified writer started by the agent on
# node a; then the calls Pacemaker makes for a migration of a resource with
# allow-migrate=true from node1 (a) to node2 (b), each run by the agent in
# its node's namespaces: migrate_to on a, migrate_from on b, stop on a,
# monitor on both. The writer must run on b only, keep acknowledging, and
# every acknowledged record must be in the store.
set -u
source "$(dirname "$0")/../handoff/lib-handoff.sh"

SRC=${LIFEBOAT_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
AGENT=$SRC/contrib/ocf/app

# agent NODE ACTION [VAR=VALUE...]: the agent in NODE's namespaces, as
# Pacemaker's executor would run it there; prints its exit status.
agent()
{
	local n=$1 action=$2 rc=0 pid
	shift 2

	pid=$(eval echo "\$HO_NODE_PID_$n")
	nsenter -t "$pid" -m -n -- env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=app __OCF_ACTION="$action" \
		OCF_RESKEY_name=app OCF_RESKEY_cwd="$HO_W" OCF_RESKEY_mount="$HO_W/mnt" \
		OCF_RESKEY_command="python3 $HO_DIR/writer.py $HO_W/mnt/data $HO_W/ack" \
		OCF_RESKEY_lifeboat="$LIFEBOAT" OCF_RESKEY_socket="$HO_W/$n/control.sock" \
		OCF_RESKEY_peers="node1=a node2=b" OCF_RESKEY_CRM_meta_interval=0 \
		"$@" "$AGENT" "$action" >>"$HO_W/log/agent-$n.log" 2>&1 || rc=$?
	echo "$rc"
}

expect()
{
	[[ "$1" == "$2" ]] || { tail -n 20 "$HO_W"/log/agent-*.log >&2; ho_fail "$3: expected $1, got $2"; }
}

main()
{
	command -v ocf-tester >/dev/null || ho_skip "resource-agents (OCF shell functions) is not installed"
	[[ -f /usr/lib/ocf/lib/heartbeat/ocf-shellfuncs ]] || ho_skip "no /usr/lib/ocf/lib/heartbeat/ocf-shellfuncs"
	ho_init fit-ocf-migrate
	ho_net_up
	ho_faultfs_up
	ho_node_start a b "$HO_W/faulty"
	ho_node_start b a "$HO_W/store"

	ho_log "start on node1 (a)"
	expect 7 "$(agent a monitor)" "probe on a before start"
	expect 0 "$(agent a start)" "start on a"
	ho_wait_acks_grow 0 || ho_fail "the app does not write"
	expect 0 "$(agent a monitor OCF_RESKEY_CRM_meta_interval=10000)" "monitor on a"
	expect 7 "$(agent b monitor)" "probe on b"

	ho_log "live migration node1 -> node2: migrate_to on a, migrate_from on b, stop on a"
	expect 0 "$(agent a migrate_to OCF_RESKEY_CRM_meta_migrate_source=node1 OCF_RESKEY_CRM_meta_migrate_target=node2)" \
		"migrate_to on a"
	expect 0 "$(agent b migrate_from OCF_RESKEY_CRM_meta_migrate_source=node1 OCF_RESKEY_CRM_meta_migrate_target=node2)" \
		"migrate_from on b"
	expect 0 "$(agent a stop)" "stop on a after the migration"
	expect 7 "$(agent a monitor)" "monitor on a after the migration"
	expect 0 "$(agent b monitor OCF_RESKEY_CRM_meta_interval=10000)" "monitor on b after the migration"
	[[ -n "$(ho_app_pid b app)" && -z "$(ho_app_pid a app)" ]] || ho_fail "the app does not run on b only"
	local before
	before=$(ho_acks)
	ho_wait_acks_grow "$before" || ho_fail "the app on b acknowledges no writes"
	grep -q "handing 'app' off to node 'node2' (peer 'b')" "$HO_W/log/agent-a.log" ||
		ho_fail "migrate_to did not map node2 to peer b"

	ho_log "stop on node2 (b); every acknowledged record in the store"
	expect 0 "$(agent b stop)" "stop on b"
	expect 7 "$(agent b monitor)" "monitor on b after stop"
	if grep -h ERROR "$HO_W"/log/app.* 2>/dev/null; then
		ho_fail "the app saw errors"
	fi
	python3 "$HO_DIR/verify.py" "$HO_W/store/data" "$HO_W/ack" >&2 ||
		ho_fail "acknowledged writes are missing from the store"
	HO_OK=1
	echo "PASS: a Pacemaker live migration of ocf:lifeboat:app is a handoff a -> b; $(ho_acks) records acknowledged, all in the store"
}

main "$@"
