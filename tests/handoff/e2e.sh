#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# e2e.sh migrate|cut - a verified writer moves between two lifeboat nodes (network
# namespaces joined by veth, one mount namespace each, one shared store,
# node a's path through faultfs; see lib-handoff.sh):
#   migrate: planned, `lifeboat migrate app --to b`, then back to a;
#   tcp: the same with a TCP client in netns c on the app's service
#        address: the connection is kept, no reset, every answer right;
#   cut eio|stall: a's path fails (EIO) or stalls under the running app and
#        its TCP client; lifeboatd on a hands it off to b by itself;
#   cut-iscsi eio|stall: the same with the journals on an iSCSI LUN (a
#        tgtd with two portals in netns c); b preempts a's reservation;
#   refuse FAULT: a handoff b must refuse (a key b does not share, another
#        protocol version, an image corrupted or cut short in transit):
#        clear error, nothing restored on b, the app still runs on a.
# After each move: the app runs on the target (in its network namespace),
# not on the source, keeps acknowledging writes; at the end no error was
# seen by the app and every acknowledged record is in the store.
set -u
source "$(dirname "$0")/lib-handoff.sh"

# check_on NODE OTHER: the app runs on NODE only, and keeps writing.
check_on()
{
	local n=$1 other=$2 pid before

	pid=$(ho_app_pid "$n" app)
	[[ -n "$pid" ]] || { ho_lb "$n" ps >&2; ho_fail "app does not run on $n"; }
	[[ "$(readlink "/proc/$pid/ns/net")" == "$(readlink "/proc/$(ho_node_pid "$n")/ns/net")" ]] ||
		ho_fail "app (pid $pid) is not in node $n's network namespace"
	[[ -z "$(ho_app_pid "$other" app)" ]] || ho_fail "app still runs on $other"
	before=$(ho_acks)
	ho_wait_acks_grow "$before" || ho_fail "app on $n acknowledges no writes ($before acks)"
	ho_log "app runs on $n (pid $pid), $(ho_acks) records acknowledged"
}

ho_node_pid()
{
	local v="HO_NODE_PID_$1"

	echo "${!v}"
}

migrate()
{
	local from=$1 to=$2 out

	out=$(ho_lb "$from" migrate app --to "$to" 2>&1) || { echo "$out" >&2; ho_fail "migrate $from -> $to failed"; }
	ho_log "migrate $from -> $to: $out"
}

check_no_errors()
{
	if grep -h ERROR "$HO_W"/log/app.* 2>/dev/null; then
		ho_fail "the app saw errors"
	fi
}

# start_app_on_a NAME [tcp]: fresh nodes, the app on a; with tcp, it also
# serves an echo on the service address and a client in netns c uses it.
start_app_on_a()
{
	local svc=()

	ho_init "e2e-$1"
	ho_net_up
	[[ -n "${HO_ISCSI:-}" ]] && ho_iscsi_up
	ho_faultfs_up
	ho_node_start a b "$HO_W/faulty"
	ho_node_start b a "$HO_W/store"
	cd "$HO_W" || exit 1
	if [[ ${2:-} == tcp ]]; then
		ip -n "$(ho_netns a)" addr add "$(ho_ip s)/32" dev "lbha$HO_TAG" ||
			ho_fail "cannot add the service address"
		svc=(--service-ip "$(ho_ip s)")
	fi
	ho_lb a run --name app "${svc[@]}" -- python3 "$HO_DIR/writer.py" "$HO_W/mnt/data" \
		"$HO_W/ack" ${svc:+--echo 7000} || ho_fail "cannot start the app on a"
	ho_wait_acks_grow 0 || ho_fail "the app does not write"
	[[ ${2:-} == tcp ]] && client_start
	check_on a b
}

# b took a's journal over (a newer epoch, owner b: a's next append is
# refused, invariant 4) and replayed what a had absorbed into the store.
check_fenced()
{
	local out

	local j

	j=$(ho_journal a)
	out=$(nsenter --net="/run/netns/$(ho_netns c)" "$LIFEBOAT" journal inspect --json "${j%%\?*}" |
		python3 -c '
import json, sys
h = json.load(sys.stdin)["header"]
print(h["owner"], h["epoch"], h["first_seq"] - 1)') || ho_fail "cannot inspect a's journal '$j'"
	set -- $out
	# b took it over, replayed it and gave it back (journal_release())
	[[ ($1 == b || $1 == released-by:b) && $2 -gt 1 ]] ||
		ho_fail "a's journal is owned by '$1' at epoch $2, not taken over by b"
	(($3 > 0)) || ho_fail "nothing was absorbed and replayed"
	ho_log "a's journal: owner b, epoch $2, $3 absorbed records replayed"
}

client_start()
{
	sleep 0.5
	nsenter --net="/run/netns/$(ho_netns c)" python3 "$HO_DIR/echo-client.py" "$(ho_ip s)" 7000 \
		"$HO_W/echo.count" 2>"$HO_W/log/echo-client.log" &
	HO_CLIENT_PID=$!
	for ((i = 0; i < 50; i++)); do
		[[ -s "$HO_W/echo.count" ]] && return 0
		sleep 0.1
	done
	ho_fail "the client gets no answers: $(cat "$HO_W/log/echo-client.log")"
}

# client_check WHERE: the client's connection still answers.
client_check()
{
	local before

	before=$(cat "$HO_W/echo.count")
	sleep 1
	kill -0 "$HO_CLIENT_PID" 2>/dev/null ||
		ho_fail "the client stopped: $(cat "$HO_W/log/echo-client.log")"
	(($(cat "$HO_W/echo.count") > before + 10)) || ho_fail "the client gets no answers after $1"
	ho_log "client: $(cat "$HO_W/echo.count") answers, connection kept"
}

client_stop()
{
	kill "$HO_CLIENT_PID"
	wait "$HO_CLIENT_PID" 2>/dev/null
	if grep ERROR "$HO_W/log/echo-client.log"; then
		ho_fail "the client saw an error"
	fi
}

# The app stops where it runs now; every acknowledged record must be in the store.
finish_on()
{
	local pid

	check_no_errors
	pid=$(ho_app_pid "$1" app)
	ho_lb "$1" stop app >/dev/null || ho_fail "cannot stop the app on $1"
	for ((i = 0; i < 50; i++)); do
		pgrep -f "writer.py $HO_W/mnt/data" >/dev/null || break
		sleep 0.1
	done
	! pgrep -af "writer.py $HO_W/mnt/data" >&2 || ho_fail "the app (init $pid) still runs after stop"
	python3 "$HO_DIR/verify.py" "$HO_W/store/data" "$HO_W/ack" >&2 ||
		ho_fail "acknowledged writes are missing from the store"
	check_no_errors
}

# check_handoff_metrics NODE DONE: `lifeboat metrics` of NODE counts DONE
# handoffs sent, none failed, and a freeze time for the last one.
check_handoff_metrics()
{
	local m

	m=$(ho_lb "$1" metrics --config /dev/null 2>&1) || ho_fail "lifeboat metrics on $1 failed: $m"
	grep -qx "lifeboat_handoffs_total{result=\"done\"} $2" <<<"$m" ||
		ho_fail "metrics of $1 do not count $2 handoffs done: $(grep handoff <<<"$m")"
	grep -qx 'lifeboat_handoffs_total{result="failed"} 0' <<<"$m" ||
		ho_fail "metrics of $1 count failed handoffs: $(grep handoff <<<"$m")"
	awk '$1 == "lifeboat_handoff_last_frozen_seconds" && $2 > 0 { ok = 1 } END { exit !ok }' <<<"$m" ||
		ho_fail "metrics of $1 have no freeze time: $(grep handoff <<<"$m")"
}

case_migrate()
{
	start_app_on_a migrate
	ho_log "planned moves a -> b -> a"
	migrate a b
	check_on b a
	check_handoff_metrics a 1
	migrate b a
	check_on a b
	check_handoff_metrics b 1
	finish_on a
}

# A fresh pair of nodes: after a handoff the source's mount keeps a fenced
# journal until it is remounted (README, "Peers and handoff").
# case_cut HOW: a's path fails (faultctl fail EIO, or stall) under the app
# and its TCP client; lifeboatd on a hands the app off by itself.
case_cut()
{
	start_app_on_a "cut-$1${HO_ISCSI:+-iscsi}" tcp
	ho_log "a's path fails ($1) under the app"
	if [[ $1 == stall ]]; then
		ho_faultctl stall >/dev/null || ho_fail "faultctl stall"
	else
		ho_faultctl fail EIO >/dev/null || ho_fail "faultctl fail"
	fi
	for ((i = 0; i < 300; i++)); do
		[[ -n "$(ho_app_pid b app)" ]] && break
		sleep 0.1
	done
	check_on b a
	grep -h "handed off" "$HO_W/log/lifeboatd-a.log" >&2
	check_fenced
	client_check "the move to b"
	client_stop
	ho_faultctl heal >/dev/null
	finish_on b
}

# The app serves TCP on a service address; a client in netns c stays
# connected through a -> b -> a and must never see a reset or a wrong answer.
case_tcp()
{
	start_app_on_a tcp tcp
	migrate a b
	check_on b a
	client_check "the move to b"
	migrate b a
	check_on a b
	client_check "the move back to a"
	client_stop
	finish_on a
}

# A handoff that must be refused; the app goes on on a, nothing runs on b.
case_refuse()
{
	local fault=$1 out pid_before

	case $fault in
	wrong-key) HO_PSK_OVERRIDE=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n') ;;
	peer-version|image-corrupt|image-truncate) export LIFEBOAT_FAULT=$fault ;;
	*) ho_fail "unknown refusal '$fault'" ;;
	esac
	ho_init "e2e-refuse-$fault"
	ho_net_up
	ho_faultfs_up
	ho_node_start a b "$HO_W/faulty"	# with the fault, or a key b does not share
	unset HO_PSK_OVERRIDE LIFEBOAT_FAULT
	ho_node_start b a "$HO_W/store"
	cd "$HO_W" || exit 1
	ho_lb a run --name app -- python3 "$HO_DIR/writer.py" "$HO_W/mnt/data" "$HO_W/ack" ||
		ho_fail "cannot start the app on a"
	ho_wait_acks_grow 0 || ho_fail "the app does not write"
	pid_before=$(ho_app_pid a app)
	if out=$(ho_lb a migrate app --to b 2>&1); then
		echo "$out" >&2
		ho_fail "migrate with $fault succeeded"
	fi
	ho_log "refused as it must be: $out"
	grep -h "handoff\|image\|peer" "$HO_W/log/lifeboatd-b.log" | tail -n 3 >&2
	check_on a b
	ho_log "app pid on a: $pid_before before, $(ho_app_pid a app) after"
	[[ -z "$(ls -A "$HO_STATE/b/handoff" 2>/dev/null)" ]] || ho_fail "b kept an image"
	finish_on a
}

case ${1:-} in
migrate) case_migrate ;;
cut) case_cut "${2:-eio}" ;;
cut-iscsi) HO_ISCSI=1 case_cut "${2:-eio}" ;;
refuse) case_refuse "${2:-}" ;;
tcp) case_tcp ;;
*) echo "usage: $0 migrate|tcp|cut [eio|stall]|refuse wrong-key|peer-version|image-corrupt|image-truncate" >&2; exit 2 ;;
esac
HO_OK=1
ho_log "ok"
