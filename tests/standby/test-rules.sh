#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-rules.sh - issue 6, placement rules: node B's memory budget fits one
# image. The second app's image is refused there (over_budget = refuse) and
# `lifeboat standby ps` says why; with over_budget = elsewhere it lands on C
# and activation follows the app's node order; with a higher priority and
# over_budget = evict it pushes the first one out. A node not in the app's
# list and a standby beyond max_standbys are refused. A foreign or damaged
# image is refused, and so is a bad config line, by name.
source "$(dirname "$0")/lib.sh"
require
make_node

L=$LIFEBOAT
start_server tcp 1

# rules APP_B_NODES APP_B_PRIORITY APP_B_OVER_BUDGET
rules()
{
	write_config "[node B]
netns = $NODE_NS
memory_budget = 40M
[node C]
netns = $NODE_NS
memory_budget = 1G
[app sba]
nodes = B
priority = 10
[app sbb]
nodes = $1
priority = $2
over_budget = $3"
}
rules B,C 5 refuse

# two apps of about 24 MiB each, checkpointed before their connect
run_traced sba a "$SBAPP" tcp "$HOST_IP" "$PORT" 24 1
run_traced sbb b "$SBAPP" tcp "$HOST_IP" "$PORT" 24 1
for app in sba sbb; do
	wait_until 30 test -e "$W/images/$app/1/manifest.json" || fail "no image of $app"
done

C=(--config "$W/standby.conf")
"$L" standby preload sba --node B "${C[@]}" 2>"$W/p1.err" || fail "sba refused on B: $(cat "$W/p1.err")"

# refuse: sbb does not fit on B next to sba
if "$L" standby preload sbb --node B "${C[@]}" 2>"$W/p2.err"; then
	fail "sbb was preloaded on B beyond its budget"
fi
grep -q "refused on node 'B'" "$W/p2.err" || fail "no refusal message: $(cat "$W/p2.err")"
"$L" standby ps "${C[@]}" >"$W/ps1.out"
grep -q "refused on B: node B: budget 40.0 MiB, 1 image(s) holding" "$W/ps1.out" ||
	fail "ps does not say why sbb was refused: $(cat "$W/ps1.out")"
grep -A5 '^sbb' "$W/ps1.out" | grep -q 'activation -> none' || fail "ps offers an activation of sbb"

# elsewhere: the next node of sbb's list takes it; activation goes there
rules B,C 5 elsewhere
"$L" standby preload sbb --node B "${C[@]}" 2>"$W/p3.err" || fail "sbb placed nowhere: $(cat "$W/p3.err")"
"$L" standby ps "${C[@]}" >"$W/ps2.out"
grep -A5 '^sbb' "$W/ps2.out" | grep -q 'preloaded on C: restored' || fail "sbb is not on C: $(cat "$W/ps2.out")"
grep -A5 '^sbb' "$W/ps2.out" | grep -q 'refused on B' || fail "ps forgot why sbb is not on B"
grep -A5 '^sbb' "$W/ps2.out" | grep -q 'activation -> C' || fail "activation of sbb would not pick C"
grep -A5 '^sba' "$W/ps2.out" | grep -q 'preloaded on B: restored' || fail "sba left B"

# evict: sbb only on B with a higher priority pushes sba (priority 10) out
sba_pid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$W/state/B/sba.json")
PIDS+=("$sba_pid")
rules B 20 evict
"$L" standby preload sbb --node B "${C[@]}" 2>"$W/p4.err" || fail "sbb did not evict sba: $(cat "$W/p4.err")"
grep -q "evicting 'sba' (priority 10) from node 'B'" "$W/p4.err" || fail "no eviction message: $(cat "$W/p4.err")"
"$L" standby ps "${C[@]}" >"$W/ps3.out"
grep -A5 '^sbb' "$W/ps3.out" | grep -q 'preloaded on B: restored' || fail "sbb is not on B after eviction"
grep -A5 '^sba' "$W/ps3.out" | grep -q 'activation -> none' || fail "sba still has a standby: $(cat "$W/ps3.out")"
wait_until 5 bash -c "! kill -0 $sba_pid 2>/dev/null" || fail "the evicted standby of sba still runs"

# `lifeboat ps` (through a running lifeboatd) ends with the same standby view
if [[ -x "${LIFEBOATD:-}" ]]; then
	cat >"$W/lifeboat.conf" <<CONF
[node]
name = a
control_socket = $W/control.sock
state_dir = $W/lbstate
log_dir = $W/lblogs
cgroup_parent = lbsb$$
CONF
	"$LIFEBOATD" -c "$W/lifeboat.conf" >"$W/lifeboatd.log" 2>&1 &
	PIDS+=($!)
	disown
	wait_until 10 "$L" ping --socket "$W/control.sock" >/dev/null 2>&1 || fail "lifeboatd did not answer"
	LIFEBOAT_STANDBY_CONFIG=$W/standby.conf "$L" ps --socket "$W/control.sock" >"$W/ps4.out" ||
		fail "lifeboat ps failed"
	grep -q '^STANDBY IMAGES' "$W/ps4.out" || fail "lifeboat ps shows no standby images: $(cat "$W/ps4.out")"
	grep -A5 '^sbb' "$W/ps4.out" | grep -q 'preloaded on B: restored' ||
		fail "lifeboat ps does not show sbb on B: $(cat "$W/ps4.out")"
	grep -A5 '^sba' "$W/ps4.out" | grep -q 'activation -> none' ||
		fail "lifeboat ps offers the evicted sba: $(cat "$W/ps4.out")"
	for d in /sys/fs/cgroup/*/lbsb$$; do [[ -d $d ]] && rmdir "$d" 2>/dev/null; done
fi

# activation follows the rules: sbb's newest live preload on B
out=$("$L" activate sbb "${C[@]}" 2>&1) || fail "activate sbb: $out"
PIDS+=("${out##* }")
[[ $out == "activated sbb generation 1 on B "* ]] || fail "activation went elsewhere: $out"

# which nodes may host an app, and at most max_standbys of it
if "$L" standby preload sba --node C "${C[@]}" 2>"$W/p5.err"; then
	fail "sba was preloaded on C, which is not one of its nodes"
fi
grep -q "node C is not in the nodes of app sba" "$W/p5.err" || fail "node rule message: $(cat "$W/p5.err")"
write_config "[node B]
netns = $NODE_NS
[node C]
netns = $NODE_NS
[app sba]
nodes = B,C
max_standbys = 1"
"$L" standby preload sba --node C "${C[@]}" 2>"$W/p6.err" || fail "sba refused on C: $(cat "$W/p6.err")"
if "$L" standby preload sba --node B "${C[@]}" 2>"$W/p7.err"; then
	fail "sba got a second standby beyond max_standbys = 1"
fi
grep -q "app sba already has 1 standby(s) (max_standbys)" "$W/p7.err" ||
	fail "max_standbys message: $(cat "$W/p7.err")"

# foreign and damaged images, bad config lines
if "$L" standby verify "$W/images/sba/1" --name sbb 2>"$W/v1.err"; then
	fail "an image of sba was accepted as sbb"
fi
grep -q "belongs to 'sba', not 'sbb'" "$W/v1.err" || fail "foreign image message: $(cat "$W/v1.err")"
cp -r "$W/images/sba/1" "$W/bad"
pages=$(ls "$W"/bad/pages-*.img | head -n 1)
printf '\x55' | dd of="$pages" bs=1 seek=4096 conv=notrunc status=none
if "$L" standby verify "$W/bad" --name sba 2>"$W/v2.err"; then
	fail "a damaged image was accepted"
fi
grep -q "does not match its checksum" "$W/v2.err" || fail "damaged image message: $(cat "$W/v2.err")"
printf '[node B]\nmemory_budget = lots\n' >"$W/bad.conf"
if "$L" standby ps --config "$W/bad.conf" 2>"$W/c.err"; then
	fail "a bad memory_budget was accepted"
fi
grep -q "bad value 'lots' for 'memory_budget' in \[node B\]" "$W/c.err" || fail "bad config message: $(cat "$W/c.err")"

echo "--- standby ps after the refusal:"
cat "$W/ps1.out"
echo "--- after placing sbb elsewhere:"
cat "$W/ps2.out"
echo "--- lifeboat ps after the eviction:"
cat "$W/ps4.out" 2>/dev/null || cat "$W/ps3.out"
FAILED=0
echo PASS
