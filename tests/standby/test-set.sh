#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-set.sh - issue 6 under lifeboatd: `lifeboat run --name N --standby-on B
# -- CMD` makes the traced app a process set of this node's lifeboatd (A),
# and its standby a process set of node B's lifeboatd.
#   - lifeboatd A starts the set paused (the command stops before its exec),
#     the CLI traces it, checkpoints the whole set from lifeboat-init right
#     before its connect, and exits: the set runs on under A, listed by
#     `lifeboat ps`, its processes in A's cgroup, untraced; the server saw
#     exactly one connection from it;
#   - B (its own network namespace, its own lifeboatd) holds the preload as
#     a set of its own ("standby" in its ps, processes stopped, in B's
#     cgroup); `lifeboat activate` continues it there: it answers correctly
#     over its own connection from B's address, at least 10 times sooner
#     than a cold start of the same app under lifeboatd;
#   - `lifeboat stop` ends each set, on A and on B;
#   - a cache preload on B is restored by B's lifeboatd at activation.
source "$(dirname "$0")/lib.sh"
require
[[ -x "${LIFEBOATD:-}" ]] || skip "LIFEBOATD must name the built lifeboatd"
[[ -d /sys/fs/cgroup/freezer ]] || skip "no cgroup v1 freezer hierarchy"
command -v nsenter >/dev/null || skip "no nsenter(1) to run node B's lifeboatd in its namespace"

MB=128
ROUNDS=24
make_node
start_server tcp "$ROUNDS"
start_lifeboatd A
start_lifeboatd B nsenter --net="/run/netns/$NODE_NS"
write_config "[node B]
socket = ${SOCK[B]}
memory_budget = 1G
[app sbset]
nodes = B"

# 1. cold start of the same app as a plain lifeboatd set: connection 1
t0=$(now)
"$LIFEBOAT" run --name cold --socket "${SOCK[A]}" -- "$SBAPP" tcp "$HOST_IP" "$PORT" "$MB" "$ROUNDS" \
	>"$W/cold.out" 2>&1 || fail "cold run failed: $(cat "$W/cold.out")"
wait_until 60 served 1 || fail "cold start never answered"
cold=$(calc "$(ev 1 served first_answer) - $t0")
[[ $(ev 1 served correct) == True ]] || fail "cold start answered wrongly"
"$LIFEBOAT" stop cold --socket "${SOCK[A]}" >/dev/null || fail "cannot stop the cold start"

# 2. traced under lifeboatd A; the CLI exits once the image is preloaded on B
"$LIFEBOAT" run --name sbset --standby-on B --socket "${SOCK[A]}" --config "$W/standby.conf" \
	-- "$SBAPP" tcp "$HOST_IP" "$PORT" "$MB" "$ROUNDS" >"$W/orig.out" 2>"$W/orig.err" ||
	fail "run --standby-on failed: $(cat "$W/orig.err")"
grep -q 'runs under lifeboatd' "$W/orig.out" || fail "run --standby-on did not say the set runs on: $(cat "$W/orig.out")"
trigger=$(manifest_field sbset 1 trigger)
[[ $trigger == "connect tcp $HOST_IP:$PORT" ]] || fail "checkpoint at '$trigger', not at the connect to $PORT"
wait_until 30 served 2 || fail "the original never answered after its checkpoint"
[[ $(ev 2 served correct) == True ]] || fail "the original answered wrongly after its checkpoint"

# 3. the original is a set of lifeboatd A: in its ps, running, in its cgroup,
#    untraced, no seccomp filter
[[ $(ps_field A sbset state) == running ]] || fail "sbset is not a running set of lifeboatd A"
INIT_A=$(ps_field A sbset pid)
[[ $(tr '\0' ' ' <"/proc/$INIT_A/cmdline") == *lifeboat-init* ]] || fail "pid $INIT_A of sbset is not lifeboat-init"
n=0
for p in $(tree "$INIT_A"); do
	in_cgroup "${CGP[A]}/sbset" "$p" || fail "process $p of sbset is not in A's cgroup ${CGP[A]}/sbset"
	for st in /proc/"$p"/task/*/status; do
		grep -q '^TracerPid:[[:space:]]*0$' "$st" || fail "a thread of the original is still traced: $st"
		grep -q '^Seccomp:[[:space:]]*0$' "$st" || fail "a thread of the original has a seccomp filter: $st"
	done
	((++n))
done
((n >= 2)) || fail "sbset on A has $n processes, expected lifeboat-init and the app"
"$LIFEBOAT" ps --socket "${SOCK[A]}" | grep -q '^sbset .*running' || fail "lifeboat ps of A does not list sbset"

# 4. node B holds the standby as a set of its lifeboatd: stopped, in B's cgroup, no connection
[[ $(ps_field B sbset standby) == True ]] || fail "sbset is not a standby set of lifeboatd B: $("$LIFEBOAT" ps --socket "${SOCK[B]}")"
"$LIFEBOAT" ps --socket "${SOCK[B]}" | grep -q '^sbset .*standby' || fail "lifeboat ps of B does not show the standby"
INIT_B=$(ps_field B sbset pid)
[[ $INIT_B != "$INIT_A" ]] || fail "B's standby is A's set"
for p in $(tree "$INIT_B"); do
	in_cgroup "${CGP[B]}/sbset" "$p" || fail "process $p of B's standby is not in B's cgroup ${CGP[B]}/sbset"
	in_cgroup "${CGP[A]}/sbset" "$p" && fail "process $p of B's standby is in A's cgroup"
done
app_b=$(tree "$INIT_B" | sed -n 2p)
[[ $(state_of "$app_b") == T ]] || fail "the standby's app ($app_b) is not stopped: $(state_of "$app_b")"
sleep 0.5
[[ $(ev_count accepted) == 2 ]] || fail "the preloaded standby connected before activation"

# 5. activation on B: connection 3, from B's address, by B's set; the OCF
# agent's monitor calls the held standby not running, the activated copy
# running (its start activates a held standby: `lifeboat activate` below)
ocf()
{
	local rc=0

	env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=sbset __OCF_ACTION="$1" \
		OCF_RESKEY_name=sbset OCF_RESKEY_command=true OCF_RESKEY_cwd=/ \
		OCF_RESKEY_lifeboat="$LIFEBOAT" OCF_RESKEY_socket="${SOCK[B]}" \
		OCF_RESKEY_peers="$(uname -n)=B" LIFEBOAT_STANDBY_CONFIG="$W/standby.conf" \
		"$OCF_AGENT" "$1" >>"$W/ocf.log" 2>&1 || rc=$?
	echo "$rc"
}
OCF_AGENT=$(cd "$(dirname "$0")/../.." && pwd)/contrib/ocf/app
[[ -f /usr/lib/ocf/lib/heartbeat/ocf-shellfuncs ]] ||
	fail "resource-agents is not installed (contrib/install-deps.sh installs it)"
[[ $(ocf monitor) == 7 ]] || fail "the OCF agent's monitor calls B's held standby running: $(tail -3 "$W/ocf.log")"
t0=$(now)
"$LIFEBOAT" activate sbset --on B --config "$W/standby.conf" >"$W/activate.out" 2>&1 ||
	fail "activate failed: $(cat "$W/activate.out")"
wait_until 30 served 3 || fail "the activated standby never answered"
act=$(calc "$(ev 3 served first_answer) - $t0")
[[ $(ev 3 served correct) == True ]] || fail "the activated standby answered wrongly"
[[ $(ev 3 accepted peer) == "$NODE_IP" ]] || fail "connection 3 came from $(ev 3 accepted peer), not from node B ($NODE_IP)"
[[ $(ev_count accepted) == 3 ]] || fail "expected exactly 3 connections after activation"
[[ $(ps_field B sbset state) == running && -z $(ps_field B sbset standby) ]] ||
	fail "sbset on B is not a running (no longer standby) set after activation"
[[ $(ps_field B sbset pid) == "$INIT_B" ]] || fail "the activated copy is not the set B preloaded"
[[ $(ocf monitor) == 0 ]] || fail "the OCF agent's monitor does not see the activated copy running"

# 6. both sets stop through their lifeboatd
for n in A B; do
	init=$(ps_field "$n" sbset pid)
	"$LIFEBOAT" stop sbset --socket "${SOCK[$n]}" >/dev/null || fail "lifeboat stop sbset failed on $n"
	[[ $(ps_field "$n" sbset state) == exited ]] || fail "sbset on $n is not exited after stop"
	wait_until 5 test ! -e "/proc/$init/stat" -o "$(state_of "$init")" == Z || fail "init $init of sbset on $n still runs"
done

# 7. a cache preload on B: activation restores through B's lifeboatd, then continues
"$LIFEBOAT" standby preload sbset --node B --mode cache --config "$W/standby.conf" 2>"$W/cache.err" ||
	fail "cache preload failed: $(cat "$W/cache.err")"
[[ $(ps_field B sbset state) == exited ]] || fail "a cache preload restored something on B"
t0=$(now)
"$LIFEBOAT" activate sbset --on B --config "$W/standby.conf" >"$W/activate-cache.out" 2>&1 ||
	fail "activate (cache) failed: $(cat "$W/activate-cache.out")"
wait_until 30 served 4 || fail "the standby activated from the cache never answered"
act_cache=$(calc "$(ev 4 served first_answer) - $t0")
[[ $(ev 4 served correct) == True && $(ev 4 accepted peer) == "$NODE_IP" ]] ||
	fail "connection 4 (cache activation) is wrong or not from B"
[[ $(ps_field B sbset state) == running && -z $(ps_field B sbset standby) ]] ||
	fail "the cache activation is not a running set of B's lifeboatd"
"$LIFEBOAT" stop sbset --socket "${SOCK[B]}" >/dev/null || fail "cannot stop the cache-activated set on B"

printf 'preload on B (restored, by its lifeboatd): %s\n' "$(grep -o 'in [0-9.]* ms' <<<"$(grep "preloaded 'sbset'" "$W/orig.err")")"
printf 'activation from the cache to first answer %.3f s (%.0fx)\n' "$act_cache" "$(calc "$cold / $act_cache")"
printf 'under lifeboatd: cold start to first answer %.3f s; activation on B to first answer %.4f s (%.0fx); checkpoint pause %.1f ms; image %.1f MiB\n' \
	"$cold" "$act" "$(calc "$cold / $act")" "$(calc "$(manifest_field sbset 1 pause_us) / 1000")" \
	"$(calc "$(manifest_field sbset 1 size) / 1048576")"
grep -o 'activated .*' "$W/activate.out" || true
fge "$(calc "$cold / $act")" 10 || fail "activation is not 10x sooner than a cold start"
FAILED=0
echo PASS
