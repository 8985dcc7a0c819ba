#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# standby.sh - what a warm-standby image costs and buys (issue 6), printed
# beside the cold start of the same app (tests/standby/sbapp tcp: fills MB
# MiB with computed data, then connects to a server and answers requests):
#
#   cold start        launch to first correct answer, untraced
#   traced init       launch to the checkpoint, under the tracer
#   checkpoint pause  how long the original stood still (stop, dump, SIGCONT)
#   image             bytes of the image
#   preload cache     reading the image into the page cache on node B
#   activate cache    restore from the page cache + thaw, to first answer
#   preload restored  restoring it into a stopped set on node B
#   activate restored thaw, to first answer
#   standby RSS       memory the stopped, restored set holds
#
# Then the cost of each way of watching an initialization
# (contrib/bench/standby-tracecost.c). Node B is a network namespace of its
# own, as in the tests. Root, CRIU (contrib/install-criu.sh), a built tree.
#
#   contrib/bench/standby.sh [--mb "64 256"] [--rounds R] [--runs N]
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
for b in build build-standby; do
	[[ -n "${LIFEBOAT:-}" ]] || [[ ! -x "$top/$b/daemon/lifeboat" ]] || LIFEBOAT=$top/$b/daemon/lifeboat
done
export LIFEBOAT=${LIFEBOAT:-$top/build/daemon/lifeboat}
MBS="64 256"
ROUNDS=24
RUNS=3

while (($#)); do
	case $1 in
	--mb) MBS=$2; shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	*) echo "usage: $0 [--mb \"64 256\"] [--rounds R] [--runs N]" >&2; exit 2 ;;
	esac
done

# the tests' helpers: work dir, server, node B, cleanup of what we start
SBAPP=/nonexistent
source "$top/tests/standby/lib.sh"
SBAPP=$W/sbapp
cc -O2 -Wall -pthread -o "$SBAPP" "$top/tests/standby/sbapp.c" || fail "cannot build sbapp"
cc -O2 -Wall -o "$W/tracecost" "$top/contrib/bench/standby-tracecost.c" || fail "cannot build standby-tracecost"
require
make_node
start_server tcp "$ROUNDS" --requests 5
CONN=0

# answered N T0: seconds from T0 to connection N's first correct answer
answered()
{
	wait_until 120 served "$1" || fail "connection $1 never answered"
	[[ $(ev "$1" served correct) == True ]] || fail "connection $1 answered wrongly"
	calc "$(ev "$1" served first_answer) - $2"
}

# one_run MB: prints the figures of one run as "key=value ..."
one_run()
{
	local mb=$1 name=bench$1 t0 cold traced act_cache act_rest rss pid

	rm -rf "$W/images" "$W/state"
	write_config "[node B]
netns = $NODE_NS"
	t0=$(now)
	"$LIFEBOAT" standby run --no-trace -- "$SBAPP" tcp "$HOST_IP" "$PORT" "$mb" "$ROUNDS" \
		>"$W/cold.out" 2>&1 &
	PIDS+=($!)
	disown
	CONN=$((CONN + 1))
	cold=$(answered "$CONN" "$t0")
	kill -9 "$(awk '/^pid /{print $2}' "$W/cold.out")"

	t0=$(now)
	run_traced "$name" orig "$SBAPP" tcp "$HOST_IP" "$PORT" "$mb" "$ROUNDS"
	wait_until 120 test -e "$W/images/$name/1/manifest.json" || fail "no image"
	CONN=$((CONN + 1))
	answered "$CONN" "$t0" >/dev/null
	traced=$(calc "$(manifest_field "$name" 1 init_us) / 1e6")
	kill -9 "$ROOT"

	t0=$(now)
	"$LIFEBOAT" standby preload "$name" --node B --mode cache --config "$W/standby.conf" 2>/dev/null
	pre_cache=$(calc "$(now) - $t0")
	t0=$(now)
	pid=$("$LIFEBOAT" activate "$name" --config "$W/standby.conf" | awk '{print $NF}')
	PIDS+=("$pid")
	CONN=$((CONN + 1))
	act_cache=$(answered "$CONN" "$t0")
	kill -9 "$pid"

	t0=$(now)
	"$LIFEBOAT" standby preload "$name" --node B --mode restored --config "$W/standby.conf" 2>/dev/null
	pre_rest=$(calc "$(now) - $t0")
	pid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$W/state/B/$name.json")
	PIDS+=("$pid")
	rss=$(awk '/^VmRSS/{print $2}' "/proc/$pid/status")
	t0=$(now)
	"$LIFEBOAT" activate "$name" --config "$W/standby.conf" >/dev/null
	CONN=$((CONN + 1))
	act_rest=$(answered "$CONN" "$t0")
	kill -9 "$pid"

	echo "cold=$cold traced=$traced pause=$(calc "$(manifest_field "$name" 1 pause_us) / 1e6")" \
		"size=$(manifest_field "$name" 1 size) pre_cache=$pre_cache act_cache=$act_cache" \
		"pre_rest=$pre_rest act_rest=$act_rest rss_kib=$rss"
}

echo "standby.sh: sbapp tcp, $ROUNDS rounds of splitmix64 per word, median of $RUNS runs; node B = netns $NODE_NS"
for mb in $MBS; do
	: >"$W/runs"
	for ((i = 0; i < RUNS; i++)); do
		one_run "$mb"	# not in a subshell: it counts the server's connections
	done >>"$W/runs"
	python3 - "$mb" "$W/runs" <<'PY'
import statistics, sys
mb, path = sys.argv[1], sys.argv[2]
runs = [dict(kv.split("=") for kv in line.split()) for line in open(path) if line.strip()]
med = {k: statistics.median(float(r[k]) for r in runs) for k in runs[0]}
cold = med["cold"]
rows = [
    ("cold start (to first answer)", "%.3f s" % cold, ""),
    ("traced init (to checkpoint)", "%.3f s" % med["traced"], "%.2fx cold" % (med["traced"] / cold)),
    ("checkpoint pause of the original", "%.1f ms" % (med["pause"] * 1e3), ""),
    ("image size", "%.1f MiB" % (med["size"] / 2**20), ""),
    ("preload: into page cache", "%.1f ms" % (med["pre_cache"] * 1e3), ""),
    ("activation from page cache", "%.1f ms" % (med["act_cache"] * 1e3), "%.0fx sooner than cold" % (cold / med["act_cache"])),
    ("preload: restored, stopped set", "%.1f ms" % (med["pre_rest"] * 1e3), ""),
    ("activation of the stopped set", "%.1f ms" % (med["act_rest"] * 1e3), "%.0fx sooner than cold" % (cold / med["act_rest"])),
    ("stopped set RSS on the node", "%.1f MiB" % (med["rss_kib"] / 1024), ""),
]
print("\n%s MiB of data:" % mb)
for name, value, ratio in rows:
    print("  %-34s %12s  %s" % (name, value, ratio))
PY
done

echo
echo "cost of watching an initialization (ns per getpid and a 32 MiB file read in 4 KiB reads, best of 3 interleaved rounds):"
"$W/tracecost" 100000 | sed 's/^/  /'
FAILED=0
