# SPDX-License-Identifier: GPL-2.0-or-later
# lib.sh - shared by the standby tests: a private work dir, the server, the
# pids to kill (only those this test started), waits and event queries.
# Env from meson: LIFEBOAT (the CLI), SBAPP (tests/standby/sbapp).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CRIU=${CRIU:-/usr/local/lib/lifeboat/criu/sbin/criu}
W=$(mktemp -d /tmp/lb-standby.XXXXXX)
PIDS=()
MOUNTS=()	# lifeboatfs mounts to unmount at the end
FAILED=1
declare -A SOCK CGP DPID	# start_lifeboatd: per node

skip()
{
	echo "SKIP: $*" >&2
	exit 77
}

fail()
{
	echo "FAIL: $*" >&2
	exit 1
}

cleanup()
{
	local p

	set +e
	lifeboatd_cleanup

	# preloaded standbys (stopped, restored sets) this test made
	for f in "$W"/state/*/*.json; do
		[[ -f "$f" ]] || continue
		p=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("pid", 0))' "$f" 2>/dev/null || echo 0)
		((p > 0)) && PIDS+=("$p")
	done
	for p in "${PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null || true
	done
	for m in "${MOUNTS[@]}"; do
		fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	[[ -z "${NODE_NS:-}" ]] || ip netns del "$NODE_NS" 2>/dev/null || true
	[[ -z "${NODE_VETH:-}" ]] || ip link del "$NODE_VETH" 2>/dev/null || true
	if ((FAILED)); then
		echo "--- logs kept in $W ---" >&2
		for f in "$W"/*.log "$W"/images/*/*/dump.log "$W"/images/*/*/restore.log; do
			[[ -f "$f" ]] || continue
			echo "--- $f (tail)" >&2
			tail -n 15 "$f" >&2
		done
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT

require()
{
	((EUID == 0)) || skip "needs root (ptrace, PID namespaces, CRIU)"
	[[ -x "$CRIU" ]] || skip "no CRIU at $CRIU (run contrib/install-criu.sh)"
	[[ -x "${LIFEBOAT:-}" && -x "${SBAPP:-}" ]] || skip "LIFEBOAT and SBAPP must name the built binaries"
	command -v python3 >/dev/null || skip "no python3"
}

# make_node: a standby node simulated by a network namespace of its own,
# joined to this host by a veth pair. Sets NODE_NS, HOST_IP (this host's end,
# where the servers listen) and NODE_IP.
make_node()
{
	local net tries=0

	command -v ip >/dev/null || skip "no ip(8) for the node's network namespace"
	NODE_NS=lbsb-$$-B
	NODE_VETH=sb$$h
	while :; do	# a /30 nobody on this host uses
		net=10.$((200 + RANDOM % 50)).$((RANDOM % 256)).$((4 * (RANDOM % 64)))
		ip -4 addr | grep -q " ${net%.*}\." || break
		((++tries < 20)) || fail "no free 10.x /30 for the node"
	done
	HOST_IP=${net%.*}.$((${net##*.} + 1))
	NODE_IP=${net%.*}.$((${net##*.} + 2))
	ip netns add "$NODE_NS" || skip "cannot create network namespaces"
	ip link add "$NODE_VETH" type veth peer name sb$$n
	ip link set sb$$n netns "$NODE_NS"
	ip addr add "$HOST_IP/30" dev "$NODE_VETH"
	ip link set "$NODE_VETH" up
	ip -n "$NODE_NS" addr add "$NODE_IP/30" dev sb$$n
	ip -n "$NODE_NS" link set sb$$n up
	ip -n "$NODE_NS" link set lo up
}

now()
{
	date +%s.%N
}

# wait_until SECONDS CMD...: polls CMD every 20 ms.
wait_until()
{
	local deadline=$(($(date +%s) + $1))

	shift
	until "$@"; do
		(($(date +%s) < deadline)) || return 1
		sleep 0.02
	done
}

# start_server MODE ROUNDS [server.py options]: sets PORT (tcp, udp) and EVENTS.
start_server()
{
	local mode=$1 rounds=$2 where

	shift 2
	EVENTS=$W/events.jsonl
	: >"$EVENTS"
	where=$W/server.port
	[[ $mode == unix ]] && where=$W/server.sock
	python3 "$HERE/server.py" "$mode" "$where" "$EVENTS" "$rounds" --host "${HOST_IP:-127.0.0.1}" "$@" \
		>"$W/server.log" 2>&1 &
	PIDS+=($!)
	disown	# killed by cleanup without a job notice
	wait_until 10 test -e "$where" || fail "server did not start"
	[[ $mode == unix ]] || PORT=$(cat "$where")
}

# ev N EVENT FIELD: FIELD of the EVENT record of connection N ("" if none).
ev()
{
	python3 - "$EVENTS" "$@" <<'PY'
import json, sys
path, conn, event, field = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
for line in open(path):
    r = json.loads(line)
    if r.get("conn") == conn and r.get("event") == event:
        print(r.get(field, ""))
        break
PY
}

ev_count()
{
	grep -c "\"event\": \"$1\"" "$EVENTS" || true
}

served()
{
	[[ -n "$(ev "$1" served correct)" ]]
}

ready()
{
	[[ -n "$(ev "$1" ready correct)" ]]
}

# run_traced NAME LOGNAME CMD...: `lifeboat standby run` in the background;
# sets ROOT (the app's host pid) once it is printed.
run_traced()
{
	local name=$1 log=$2

	shift 2
	"$LIFEBOAT" standby run --config "$W/standby.conf" --name "$name" \
		--log "$W/$log.log" -- "$@" >"$W/$log.out" 2>"$W/$log.err" &
	PIDS+=($!)
	disown
	wait_until 10 grep -q '^pid ' "$W/$log.out" || fail "standby run did not start"
	ROOT=$(awk '/^pid /{print $2}' "$W/$log.out")
	PIDS+=("$ROOT")
}

manifest_field()
{
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
		"$W/images/$1/$2/manifest.json" "$3"
}

write_config()
{
	cat >"$W/standby.conf" <<CONF
[standby]
image_root = $W/images
state_root = $W/state
criu = $CRIU
$*
CONF
}

# float comparisons: fge A B (A >= B)
fge()
{
	python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)' "$1" "$2"
}

calc()
{
	python3 -c "print($*)"
}


# lifeboatd_cleanup: the sets and the lifeboatds start_lifeboatd started,
# then what is left in their cgroup parents (ours only).
lifeboatd_cleanup()
{
	local n name

	for n in "${!DPID[@]}"; do
		[[ -n "${DPID[$n]:-}" ]] || continue
		for name in $("$LIFEBOAT" ps --json --socket "${SOCK[$n]}" 2>/dev/null | python3 -c '
import json, sys
for p in json.load(sys.stdin)["procsets"]:
    if p["state"] == "running":
        print(p["name"])' 2>/dev/null); do
			"$LIFEBOAT" stop "$name" --timeout 2 --socket "${SOCK[$n]}" >/dev/null 2>&1
		done
		kill "${DPID[$n]}" 2>/dev/null
		wait "${DPID[$n]}" 2>/dev/null
	done
	# leftovers of our sets, by our own cgroup parents only
	for n in "${!CGP[@]}"; do
		for hier in freezer cpuacct memory; do
			local parent=/sys/fs/cgroup/$hier/${CGP[$n]}
			[[ -d "$parent" ]] || continue
			for cg in "$parent"/*/; do
				[[ -d "$cg" ]] || continue
				[[ $hier == freezer ]] && echo THAWED >"$cg/freezer.state" 2>/dev/null
				for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do
					kill -KILL "$p" 2>/dev/null
				done
				sleep 0.1
				rmdir "$cg" 2>/dev/null
			done
			rmdir "$parent" 2>/dev/null
		done
	done
	if ((FAILED)); then
		for f in "$W"/node-*/lifeboatd.log "$W"/node-*/logs/*; do
			[[ -f "$f" ]] && { echo "--- $f (tail)" >&2; tail -n 20 "$f" >&2; }
		done
	fi
}

# start_lifeboatd NODE [nsenter args]: a lifeboatd for node NODE with its
# own config, socket (SOCK[NODE]), state, logs and cgroup parent (CGP[NODE]).
start_lifeboatd()
{
	local n=$1 d=$W/node-$1

	shift
	mkdir -p "$d"
	SOCK[$n]=$d/control.sock
	CGP[$n]=lbsb-$$-$n
	cat >"$d/lifeboat.conf" <<CONF
[node]
name = $n
control_socket = ${SOCK[$n]}
state_dir = $d/state
log_dir = $d/logs
cgroup_parent = ${CGP[$n]}
stop_timeout = 5
criu_timeout = 60
CONF
	"$@" "$LIFEBOATD" -c "$d/lifeboat.conf" >"$d/lifeboatd.log" 2>&1 &
	DPID[$n]=$!
	wait_until 10 "$LIFEBOAT" ping --socket "${SOCK[$n]}" >/dev/null 2>&1 ||
		fail "lifeboatd of node $n does not answer"
}

# ps_field NODE NAME FIELD: from `lifeboat ps --json` of that node's lifeboatd
ps_field()
{
	"$LIFEBOAT" ps --json --socket "${SOCK[$1]}" | python3 -c '
import json, sys
for p in json.load(sys.stdin)["procsets"]:
    if p["name"] == sys.argv[1]:
        print(p.get(sys.argv[2], ""))' "$2" "$3"
}

# tree PID: PID and all its descendants
tree()
{
	local p c

	for p in "$@"; do
		echo "$p"
		for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
			tree "$c"
		done
	done
}

in_cgroup()
{
	grep -qx "$2" "/sys/fs/cgroup/freezer/$1/cgroup.procs"
}

state_of()
{
	awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null
}
