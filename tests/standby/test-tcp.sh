#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-tcp.sh - issue 6, the main case: an app that fills 256 MiB with
# computed data for a few seconds, then connects to a TCP server outside its
# set and serves requests built from that data.
#   - the checkpoint is taken right before that connect: the trigger names
#     it, and the server sees exactly one connection from the original;
#   - afterwards the original has no tracer and no seccomp filter, and its
#     getpid() rate (per second of its CPU time, measured in turns with an
#     untraced copy) is at least 0.85 of the untraced one: a leftover seccomp
#     filter costs 1.3 times per call here (0.77), a tracer 50 times and more;
#   - the image preloaded on node B (a network namespace of its own, here;
#     restored, stopped) makes no connection;
#     `lifeboat activate` answers the first request at least 10 times sooner
#     than a cold start, correctly, over a connection of its own.
source "$(dirname "$0")/lib.sh"
require

MB=256
ROUNDS=24
make_node
start_server tcp "$ROUNDS" --rate 100 --rate-gate "$W/rate.go"
write_config "[node B]
netns = $NODE_NS
memory_budget = 1G
[app sbtcp]
nodes = B"

# 1. cold start of the same app, untraced, in a PID namespace like the
#    traced one (`standby run --no-trace`): connection 1
t0=$(now)
"$LIFEBOAT" standby run --no-trace -- "$SBAPP" tcp "$HOST_IP" "$PORT" "$MB" "$ROUNDS" \
	>"$W/cold.out" 2>&1 &
PIDS+=($!)
disown
wait_until 10 grep -q '^pid ' "$W/cold.out" || fail "cold start did not start"
PIDS+=("$(awk '/^pid /{print $2}' "$W/cold.out")")
wait_until 60 ready 1 || fail "cold start never answered"
cold=$(calc "$(ev 1 ready first_answer) - $t0")
[[ $(ev 1 ready correct) == True ]] || fail "cold start answered wrongly"

# 2. traced run: checkpoint before the connect, then the original's connection 2
run_traced sbtcp orig "$SBAPP" tcp "$HOST_IP" "$PORT" "$MB" "$ROUNDS"
wait_until 60 test -e "$W/images/sbtcp/1/manifest.json" || fail "no image was written"
trigger=$(manifest_field sbtcp 1 trigger)
[[ $trigger == "connect tcp $HOST_IP:$PORT" ]] || fail "checkpoint at '$trigger', not at the connect to $PORT"
wait_until 30 ready 2 || fail "the original never answered after its checkpoint"
[[ $(ev 2 ready correct) == True ]] || fail "the original answered wrongly after its checkpoint"
# getpid rates of the cold copy and the original, measured taking turns
touch "$W/rate.go"
wait_until 30 served 1 && wait_until 30 served 2 || fail "no getpid rates"
untraced_rate=$(ev 1 served rate)
sleep 0.5
[[ $(ev_count accepted) == 2 ]] || fail "server saw $(ev_count accepted) connections, expected cold + exactly one from the original"

# 3. nothing left in the original: no tracer, no seccomp filter, same syscall rate
for st in /proc/"$ROOT"/task/*/status; do
	grep -q '^TracerPid:[[:space:]]*0$' "$st" || fail "a thread of the original is still traced: $st"
	grep -q '^Seccomp:[[:space:]]*0$' "$st" || fail "a thread of the original has a seccomp filter: $st"
done
orig_rate=$(ev 2 served rate)
traced_ns=$(ev 2 served hello | awk '{print $3}')
after_ns=$(ev 2 served ns_per_call)
fge "$(calc "$traced_ns / $after_ns")" 5 ||
	fail "getpid under the tracer ($traced_ns ns) is not clearly slower than after ($after_ns ns): the measurement proves nothing"
fge "$(calc "$orig_rate / $untraced_rate")" 0.85 ||
	fail "after the checkpoint the original makes $orig_rate getpid/s, untraced $untraced_rate"

# 4. preload on B as a stopped, restored set: it makes no connection
"$LIFEBOAT" standby preload sbtcp --node B --mode restored --config "$W/standby.conf" 2>"$W/preload.err" ||
	fail "preload failed: $(cat "$W/preload.err")"
"$LIFEBOAT" standby ps --config "$W/standby.conf" >"$W/ps.out"
grep -q 'preloaded on B: restored' "$W/ps.out" || fail "ps does not show the preload: $(cat "$W/ps.out")"
grep -q 'activation -> B' "$W/ps.out" || fail "ps does not name B for activation"
sleep 0.5
[[ $(ev_count accepted) == 2 ]] || fail "the preloaded standby connected before activation"

# 5. activation: connection 3, its own
rm "$W/rate.go"	# no rate measurement to wait for
t0=$(now)
"$LIFEBOAT" activate sbtcp --config "$W/standby.conf" >"$W/activate.out" 2>&1 || fail "activate failed: $(cat "$W/activate.out")"
PIDS+=("$(awk '{print $NF}' "$W/activate.out")")
wait_until 30 ready 3 || fail "the activated standby never answered"
[[ $(ev 3 ready correct) == True ]] || fail "the activated standby answered wrongly"
act=$(calc "$(ev 3 ready first_answer) - $t0")
[[ $(ev_count accepted) == 3 ]] || fail "expected exactly 3 connections after activation"
[[ $(ev 3 ready peer) == "$NODE_IP" ]] || fail "connection 3 came from $(ev 3 ready peer), not from node B ($NODE_IP)"

printf 'cold start to first answer %.3f s; activation to first answer %.4f s (%.0fx); checkpoint pause %.1f ms; image %.1f MiB\n' \
	"$cold" "$act" "$(calc "$cold / $act")" "$(calc "$(manifest_field sbtcp 1 pause_us) / 1000")" \
	"$(calc "$(manifest_field sbtcp 1 size) / 1048576")"
printf 'getpid: untraced %.0f/s, original after checkpoint %.0f/s (%.2f); %.0f ns/call under the tracer, %.0f after\n' \
	"$untraced_rate" "$orig_rate" "$(calc "$orig_rate / $untraced_rate")" "$traced_ns" "$after_ns"
fge "$(calc "$cold / $act")" 10 || fail "activation is not 10x sooner than a cold start"
FAILED=0
echo PASS
