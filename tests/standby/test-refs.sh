#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-refs.sh - issue 6: the checkpoint lands on the first external
# reference of other kinds, after internal ones that must not count:
#   udp   sendto a UDP server (after a sendto to its own socket and one to
#         an endpoint the config lists as internal);
#   unix  connect to a unix socket path;
#   fork  connect after forking 3 workers that hold the data.
#   fifo  open a FIFO; shm  shmget by key (after a private segment);
#   store the first write under the configured store (after reading it):
#         a file written, a directory made.
# Each app first connects to a TCP listener and an abstract unix name of its
# own and runs a helper thread. For each: the trigger names the external
# call, the server hears exactly one hello from the original, and the
# restored image (every process of it) answers correctly on its own.
source "$(dirname "$0")/lib.sh"
require

ROUNDS=8	# sbapp's default for udp, unix and fork
make_node	# restores run on "node B": its own network namespace

# check_case NAME EXPECTED_TRIGGER: the image, the original's one hello, the restore.
check_case()
{
	local name=$1 want=$2 trigger dir out

	wait_until 30 test -e "$W/images/$name/1/manifest.json" || fail "$name: no image was written"
	trigger=$(manifest_field "$name" 1 trigger)
	[[ $trigger == "$want" ]] || fail "$name: checkpoint at '$trigger', expected '$want'"
	wait_until 20 served 1 || fail "$name: the original never answered after its checkpoint"
	[[ $(ev 1 served correct) == True ]] || fail "$name: the original answered wrongly"
	sleep 0.3
	[[ $(ev_count accepted) == 1 ]] || fail "$name: $(ev_count accepted) hellos from the original, expected 1"
	dir=$W/images/$name/1
	out=$("$LIFEBOAT" standby restore "$dir" --name "$name" --netns "$NODE_NS" 2>&1) ||
		fail "$name: restore failed: $out"
	RESTORED=$(awk '/^pid /{print $2}' <<<"$out")
	PIDS+=("$RESTORED")
	wait_until 20 served 2 || fail "$name: the restored copy never answered"
	[[ $(ev 2 served correct) == True ]] || fail "$name: the restored copy answered wrongly"
	[[ $name == sbunix || $(ev 2 accepted peer) == "$NODE_IP" ]] ||
		fail "$name: the restored copy's hello came from $(ev 2 accepted peer), not node B"
	echo "$name: checkpoint before '$trigger', pause $(calc "$(manifest_field "$name" 1 pause_us) / 1000") ms, restored copy answered"
}

reset_server()
{
	kill -9 "${PIDS[0]}" 2>/dev/null || true
	PIDS=("${PIDS[@]:1}")
	rm -f "$W/server.port" "$W/server.sock"
}

# udp: the internal port is listed in the config and has no listener
IPORT=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("'"$HOST_IP"'",0)); print(s.getsockname()[1])')
start_server udp "$ROUNDS"
PIDS=("${PIDS[-1]}" "${PIDS[@]:0:${#PIDS[@]}-1}")	# the server first: reset_server kills it
write_config "internal = udp:$HOST_IP:$IPORT"
run_traced sbudp udp "$SBAPP" udp "$HOST_IP" "$PORT" "$IPORT"
check_case sbudp "sendto udp $HOST_IP:$PORT"
reset_server

# unix
start_server unix "$ROUNDS"
PIDS=("${PIDS[-1]}" "${PIDS[@]:0:${#PIDS[@]}-1}")
write_config ""
run_traced sbunix unix "$SBAPP" unix "$W/server.sock"
check_case sbunix "connect unix $W/server.sock"
reset_server

# fork: 3 workers answer through pipes, so correct answers need all of them
start_server tcp "$ROUNDS"
PIDS=("${PIDS[-1]}" "${PIDS[@]:0:${#PIDS[@]}-1}")
run_traced sbfork fork "$SBAPP" fork "$HOST_IP" "$PORT" 3
check_case sbfork "connect tcp $HOST_IP:$PORT"
n=$(ls "$W"/images/sbfork/1/core-*.img | wc -l)
((n == 5)) || fail "sbfork: the image holds $n tasks, expected 5 (the parent's 2 threads, 3 workers)"
kids=$(cat /proc/"$RESTORED"/task/*/children | wc -w)
((kids == 3)) || fail "sbfork: the restored parent has $kids children, expected 3 workers"

# fifo, shm, store: the trigger, then the original makes its call and ends
# check_done NAME EXPECTED_TRIGGER
check_done()
{
	local name=$1 want=$2 trigger

	wait_until 30 test -e "$W/images/$name/1/manifest.json" || fail "$name: no image was written"
	trigger=$(manifest_field "$name" 1 trigger)
	[[ $trigger == "$want" ]] || fail "$name: checkpoint at '$trigger', expected '$want'"
	wait_until 20 grep -q '^done$' "$W/$name.log" || fail "$name: the original did not go on: $(cat "$W/$name.log")"
	echo "$name: checkpoint before '$trigger', the original went on"
}

mkfifo "$W/fifo"
write_config ""
run_traced sbfifo sbfifo "$SBAPP" fifo "$W/fifo"
wait_until 30 test -e "$W/images/sbfifo/1/manifest.json" || fail "sbfifo: no image was written"
got=$(timeout 20 cat "$W/fifo") || fail "sbfifo: nothing came through the FIFO"
[[ $got == "hello fifo" ]] || fail "sbfifo: read '$got' from the FIFO"
check_done sbfifo "open fifo $W/fifo"

KEY=$(printf '%x' $((0x5b000000 + $$)))
run_traced sbshm sbshm "$SBAPP" shm "$KEY"
check_done sbshm "shmget key 0x$KEY"
ipcrm -M "0x$KEY" 2>/dev/null || true

mkdir -p "$W/store"
echo "input data" >"$W/store/input"
write_config "store = $W/store
store_write_external = yes"
run_traced sbstore sbstore "$SBAPP" store "$W/store"
check_done sbstore "open for writing under store $W/store/output"
[[ $(cat "$W/store/output") == "input data" ]] || fail "sbstore: the original's write is missing"
run_traced sbmkdir sbmkdir "$SBAPP" store-mkdir "$W/store"
check_done sbmkdir "mkdir under store $W/store/made"
[[ -d "$W/store/made" ]] || fail "sbmkdir: the original's directory is missing"

FAILED=0
echo PASS
