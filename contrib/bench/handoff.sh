#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# handoff.sh - how long an app is frozen when it moves to a peer: the time
# from the freeze on node a to the app running on node b, with the time of
# each step (freeze, flush, dump, transfer, fence, replay, restore), for an
# app with a given resident set (the verified writer of the handoff tests
# plus a ballast of touched pages). Two nodes as in tests/handoff (network
# namespaces joined by veth, one mount namespace each, a shared store).
# Planned moves (`lifeboat migrate`), alternating a -> b and b -> a; the
# medians are printed. A benchmark that prints figures, not a test.
# Root, /dev/fuse, CRIU (contrib/install-criu.sh), a built tree.
#
#   contrib/bench/handoff.sh [--sizes "100 1024"] [--rounds N] [--build DIR]
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
SIZES="100"
ROUNDS=5
while (($#)); do
	case $1 in
	--sizes) SIZES=$2; shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--build) HO_BUILD=$2; shift 2 ;;
	*) echo "usage: $0 [--sizes \"MB ...\"] [--rounds N] [--build DIR]" >&2; exit 2 ;;
	esac
done
HO_BUILD=${HO_BUILD:-$top/build}
source "$top/tests/handoff/lib-handoff.sh"

# One move; prints the result JSON of lifeboat migrate on one line.
move()
{
	local out

	out=$(ho_lb "$1" migrate app --to "$2" 2>"$HO_W/log/migrate.err") ||
		{ cat "$HO_W/log/migrate.err" >&2; ho_fail "migrate $1 -> $2 failed"; }
	python3 -c 'import json, sys; print(json.dumps(json.loads(sys.argv[1])))' "$out"
}

report()
{
	python3 - "$1" "$2" <<'EOF'
import json, statistics, sys
mb, path = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(path) if l.strip()]
rows = [r.get("result", r) for r in rows]
keys = ["freeze_us", "flush_us", "dump_us", "transfer_us", "fence_us", "replay_us", "restore_us"]
def med(k):
    return statistics.median(r.get(k, 0) for r in rows) / 1000.0
frozen = statistics.median(sum(r.get(k, 0) for k in keys) for r in rows) / 1000.0
total = med("total_us")
image = statistics.median(r.get("image_bytes", 0) for r in rows) / 1048576.0
print("resident set %s MB, image %.1f MiB, %d moves (medians, ms):" % (mb, image, len(rows)))
print("  " + "  ".join("%s %.1f" % (k[:-3], med(k)) for k in keys))
print("  frozen (freeze start to running on the peer): %.1f ms%s" %
      (frozen, "  [goal < 1000 ms for 100 MB: %s]" % ("met" if frozen < 1000 else "NOT met")
               if mb == "100" else ""))
print("  whole migrate call (with connect and cleanup): %.1f ms" % total)
EOF
}

bench_size()
{
	local mb=$1 from=a to=b res="$HO_W/results-$1.jsonl"

	: >"$res"
	ho_lb a run --name app -- python3 "$HO_DIR/writer.py" "$HO_W/mnt/data-$mb" "$HO_W/ack" \
		--rss "$mb" --interval 0.01 >/dev/null || ho_fail "cannot start the app"
	sleep $((mb / 200 + 2))	# the ballast is touched
	for ((r = 0; r < ROUNDS; r++)); do
		move "$from" "$to" >>"$res"
		local t=$from
		from=$to
		to=$t
		sleep 0.5
	done
	report "$mb" "$res"
	ho_lb "$from" stop app >/dev/null
}

ho_init bench
ho_net_up
ho_faultfs_up
ho_node_start a b "$HO_W/faulty"
ho_node_start b a "$HO_W/store"
cd "$HO_W" || exit 1
echo "handoff benchmark: $(nproc) cores, $(uname -r), CRIU $("$HO_CRIU" --version | sed -n 's/^Version: //p')"
for mb in $SIZES; do
	bench_size "$mb"
done
HO_OK=1
