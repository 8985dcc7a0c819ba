#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-fence.sh - issue 6: activating a standby never runs two owners
# against one store. The app's mount (lifeboatfs, its journal in a file) is
# named in [app] journal/mount: `lifeboat activate` takes the journal over
# for node B (newer epoch, owner B) before the standby runs; when it cannot
# (the journal is unreachable) the standby stays stopped and nothing runs.
source "$(dirname "$0")/lib.sh"
require
[[ -x "${LIFEBOATFS:-}" ]] || skip "LIFEBOATFS must name the built lifeboatfs"
[[ -c /dev/fuse ]] || skip "no /dev/fuse"
make_node

L=$LIFEBOAT
mkdir -p "$W/store" "$W/mnt"
"$LIFEBOATFS" "$W/store" "$W/mnt" -o "journal=$W/app.journal,status=$W/app.status" ||
	fail "cannot mount lifeboatfs"
MOUNTS+=("$W/mnt")
owner()
{
	"$L" journal owner "$W/app.journal"
}
before=$(owner)
[[ $before == *"epoch 1, owner '$(hostname)'"* ]] || fail "unexpected journal owner: $before"

start_server tcp 8
rules()
{
	write_config "[node B]
netns = $NODE_NS
[app sbf]
nodes = B
journal = $1
mount = $W/mnt"
}
rules "$W/missing.journal"
run_traced sbf app "$SBAPP" tcp "$HOST_IP" "$PORT" 16 8
wait_until 30 test -e "$W/images/sbf/1/manifest.json" || fail "no image"
"$L" standby preload sbf --node B --config "$W/standby.conf" 2>"$W/preload.err" ||
	fail "preload: $(cat "$W/preload.err")"
spid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$W/state/B/sbf.json")
PIDS+=("$spid")
wait_until 20 served 1 || fail "the original never answered"

# the journal cannot be taken over: no activation, the standby stays stopped
if "$L" activate sbf --config "$W/standby.conf" 2>"$W/act1.err"; then
	fail "activated without fencing the old owner"
fi
grep -q "not activated: cannot fence the old owner" "$W/act1.err" || fail "message: $(cat "$W/act1.err")"
sleep 0.3
[[ $(ev_count accepted) == 1 ]] || fail "the standby ran although fencing failed"
[[ $(awk '{print $3}' "/proc/$spid/stat") == T ]] || fail "the standby is not stopped any more"

# with the app's journal: B owns it (a newer epoch), then the standby runs
rules "$W/app.journal"
out=$("$L" activate sbf --config "$W/standby.conf" 2>"$W/act2.err") || fail "activate: $(cat "$W/act2.err")"
after=$(owner)
# B took it over (epoch 2); after its replay the taker gives the empty
# journal back ("released-by:B", the handoff's journal_release): the old
# owner's epoch 1 stays fenced either way
[[ $after == *"epoch 2, owner 'B'"* || $after == *"epoch 2, owner 'released-by:B'"* ]] ||
	fail "the journal was not taken over for B: $after"
wait_until 20 served 2 || fail "the activated standby never answered"
[[ $(ev 2 served correct) == True && $(ev 2 served peer) == "$NODE_IP" ]] ||
	fail "connection 2: correct=$(ev 2 served correct) from $(ev 2 served peer)"
echo "before: $before"
echo "after:  $after"
echo "$out"

FAILED=0
echo PASS
