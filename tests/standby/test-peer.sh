#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-peer.sh - issue 6: standby images travel over the peer channel (TLS
# 1.3 with a pre-shared key, the handoff's image transfer). Each node has
# its lifeboatd (b's in b's own network namespace). Node a runs `lifeboat
# run --standby-on b`: the app is a set of a's lifeboatd; node b runs
# `lifeboat standby receive`, checks the image and preloads it as a stopped
# set of b's lifeboatd (its standby config names that lifeboatd's socket);
# `lifeboat activate` on b continues that set, which answers with b's own
# connection. Node b refuses a stale generation, a damaged image and a peer
# with a wrong key.
source "$(dirname "$0")/lib.sh"
require
[[ -x "${LIFEBOATD:-}" ]] || skip "LIFEBOATD must name the built lifeboatd"
[[ -d /sys/fs/cgroup/freezer ]] || skip "no cgroup v1 freezer hierarchy"
command -v nsenter >/dev/null || skip "no nsenter(1) to run node b's lifeboatd in its namespace"
make_node
start_lifeboatd a
start_lifeboatd b nsenter --net="/run/netns/$NODE_NS"

L=$LIFEBOAT
start_server tcp 8
KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
BAD=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
BPORT=$((20000 + RANDOM % 20000))

mkdir -p "$W/a" "$W/b"
cat >"$W/a/lifeboat.conf" <<CONF
[node]
name = a
[peer b]
address = $NODE_IP:$BPORT
psk = $KEY
CONF
sed "s/$KEY/$BAD/" "$W/a/lifeboat.conf" >"$W/a/wrongkey.conf"
cat >"$W/b/lifeboat.conf" <<CONF
[node]
name = b
[peer a]
address = $HOST_IP:$BPORT
psk = $KEY
CONF
printf '[standby]\nimage_root = %s\nstate_root = %s\ncriu = %s\n' \
	"$W/a/images" "$W/state" "$CRIU" >"$W/a/standby.conf"
printf '[standby]\nimage_root = %s\nstate_root = %s\ncriu = %s\n[node b]\nsocket = %s\n' \
	"$W/b/images" "$W/state" "$CRIU" "${SOCK[b]}" >"$W/b/standby.conf"

# node b's receiver, in b's network namespace
ip netns exec "$NODE_NS" "$L" standby receive --listen "$NODE_IP:$BPORT" \
	--config "$W/b/standby.conf" --lifeboat-config "$W/b/lifeboat.conf" \
	>"$W/recv.out" 2>"$W/recv.log" &
PIDS+=($!)
disown
wait_until 10 grep -q receiving "$W/recv.out" || fail "the receiver did not start: $(cat "$W/recv.log")"

# node a: run with --standby-on b (the `lifeboat run` hook, under a's lifeboatd)
"$L" run --name sbpeer --standby-on b --socket "${SOCK[a]}" --config "$W/a/standby.conf" \
	--lifeboat-config "$W/a/lifeboat.conf" -- \
	"$SBAPP" tcp "$HOST_IP" "$PORT" 16 8 >"$W/run.out" 2>"$W/run.log" || fail "lifeboat run failed: $(cat "$W/run.log")"
grep -q "sent to 'b'" "$W/run.log" || fail "the image did not reach b: $(cat "$W/run.log")"
grep -q "generation 1 preloaded on b (restored)" "$W/run.log" || fail "b did not preload: $(cat "$W/run.log")"
[[ $(ps_field a sbpeer state) == running ]] || fail "the original is not a running set of a's lifeboatd"
[[ $(ps_field b sbpeer standby) == True ]] || fail "b's preload is not a standby set of b's lifeboatd"
wait_until 20 served 1 || fail "the original never answered"
[[ $(ev 1 served peer) == "$HOST_IP" ]] || fail "the original's connection came from $(ev 1 served peer)"
[[ -f "$W/b/images/sbpeer/1/manifest.json" ]] || fail "b holds no image"
sleep 0.3
[[ $(ev_count accepted) == 1 ]] || fail "the standby on b connected before activation"

# activation on b: its own connection, from b's address
out=$("$L" activate sbpeer --config "$W/b/standby.conf" 2>&1) || fail "activate: $out"
PIDS+=("${out##* }")
wait_until 20 served 2 || fail "the activated standby never answered"
[[ $(ev 2 served correct) == True ]] || fail "the activated standby answered wrongly"
[[ $(ev 2 served peer) == "$NODE_IP" ]] || fail "connection 2 came from $(ev 2 served peer), not node b"
[[ $(ps_field b sbpeer state) == running && -z $(ps_field b sbpeer standby) ]] ||
	fail "the activated copy is not a running set of b's lifeboatd"

# refusals: the same generation again (stale), a damaged image, a wrong key
if "$L" standby send sbpeer --to b --config "$W/a/standby.conf" \
	--lifeboat-config "$W/a/lifeboat.conf" 2>"$W/stale.err"; then
	fail "b accepted a generation it already holds"
fi
grep -q "stale: generation 1, this node holds 1" "$W/stale.err" || fail "stale refusal: $(cat "$W/stale.err")"
cp -r "$W/a/images/sbpeer/1" "$W/a/images/sbpeer/2"
python3 - "$W/a/images/sbpeer/2/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); m["generation"] = 2
json.dump(m, open(sys.argv[1], "w"))
PY
pages=$(ls "$W"/a/images/sbpeer/2/pages-*.img | head -n 1)
printf '\x55' | dd of="$pages" bs=1 seek=4096 conv=notrunc status=none
if LIFEBOAT_FAULT=standby-send-unverified "$L" standby send sbpeer --to b \
	--config "$W/a/standby.conf" --lifeboat-config "$W/a/lifeboat.conf" 2>"$W/damaged.err"; then
	fail "b accepted a damaged image"
fi
grep -q "refused by 'b': image does not match its standby checksum" "$W/damaged.err" ||
	fail "damage refusal: $(cat "$W/damaged.err")"
[[ ! -e "$W/b/images/sbpeer/2" ]] || fail "b kept the damaged image"
rm -rf "$W/a/images/sbpeer/2"
if "$L" standby send sbpeer --to b --config "$W/a/standby.conf" \
	--lifeboat-config "$W/a/wrongkey.conf" 2>"$W/key.err"; then
	fail "b accepted a peer with a wrong key"
fi
ls -a "$W/b/images" | grep -q incoming && fail "b left an incoming directory behind"
echo "sent and preloaded: $(grep "sent to 'b'" "$W/run.log")"
echo "activated on b: $out"
echo "stale:   $(tail -n 1 "$W/stale.err")"
echo "damaged: $(tail -n 1 "$W/damaged.err")"
echo "bad key: $(tail -n 1 "$W/key.err")"

FAILED=0
echo PASS
