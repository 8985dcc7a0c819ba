#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-metrics.sh - `lifeboat metrics` and `lifeboat status` through a real
# path failure: store -> faultfs -> lifeboatfs; scrapes while healthy, while
# absorbing EIO, after recovery and after unmount are parsed by Debian's
# python3-prometheus-client parser (promcheck.py) and checked value by value;
# the --output file is what node_exporter's textfile collector reads.
set -euo pipefail
source "$(dirname "$0")/../absorb/lib-absorb.sh"

LIFEBOAT=${LIFEBOAT:-$LB_SRCDIR/../../build/daemon/lifeboat}
PROMCHECK=$(dirname "$0")/promcheck.py

# scrape NAME CHECK...: lifeboat metrics into the textfile dir, parsed and checked.
scrape()
{
	local name=$1 prom=$LB_WORK/textfile/lifeboat.prom rc=0
	shift

	"$LIFEBOAT" metrics --dir "$ST" --output "$prom" || lb_fail "$name: lifeboat metrics failed"
	cp "$prom" "$LB_WORK/$name.prom"
	/usr/bin/python3 "$PROMCHECK" "$prom" "$@" || rc=$?
	((rc != 77)) || skip "python3-prometheus-client is not installed"
	((rc == 0)) || lb_fail "$name: scrape does not parse or check (kept in '$LB_WORK/$name.prom')"
	[[ -z "$(ls "$LB_WORK/textfile" | grep -v '^lifeboat.prom$')" ]] ||
		lb_fail "$name: temporary files left in the textfile dir"
}

# wait_state STATE: bounded wait for the status file to say STATE.
wait_state()
{
	local i

	for ((i = 0; i < 200; i++)); do
		grep -q "\"state\" *: *\"$1\"" "$AB_STATUS" 2>/dev/null && return 0
		sleep 0.05
	done
	lb_fail "status not '$1' after 10s: $(cat "$AB_STATUS")"
}

json_state()
{
	"$LIFEBOAT" status --json --dir "$ST" |
		/usr/bin/python3 -c 'import json, sys; m = json.load(sys.stdin)["mounts"]; print(len(m), m[0]["effective_state"], m[0]["journal_owner"])'
}

# bad_status_files: a directory of status files that are not what they
# should be, next to one whose mountpoint needs escaping in a label.
bad_status_files()
{
	local dir=$LB_WORK/bad err=$LB_WORK/bad.err odd='/srv/a "quoted" \\dir'

	mkdir -p "$dir" "$dir/dir.status"
	echo 'not json {' >"$dir/garbage.status"
	echo '[1, 2, 3]' >"$dir/array.status"
	echo '{"state": "healthy"}' >"$dir/nomount.status"
	head -c 400000 /dev/zero | tr '\0' ' ' >"$dir/huge.status"
	ln -s "$LB_WORK/st/app.status" "$dir/link.status"
	/usr/bin/python3 -c 'import json, sys; json.dump({"state": "absorbing", "mountpoint": sys.argv[1], "store": "/s\nx", "absorbed": {"EIO": 3}}, open(sys.argv[2], "w"))' \
		"$odd" "$dir/odd.status"
	"$LIFEBOAT" metrics --dir "$dir" >"$LB_WORK/bad.prom" 2>"$err" || lb_fail "metrics fails on a dir with bad status files"
	for f in garbage array nomount huge link dir; do
		grep -qF "$f.status" "$err" || { cat "$err" >&2; lb_fail "no warning naming '$f.status'"; }
	done
	/usr/bin/python3 "$PROMCHECK" "$LB_WORK/bad.prom" >/dev/null || lb_fail "scrape with an odd mountpoint does not parse"
	/usr/bin/python3 - "$LB_WORK/bad.prom" "$odd" <<'PY' || lb_fail "odd mountpoint and store do not survive label escaping"
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
info = fams["lifeboat_mount_info"].samples
assert len(info) == 1, info
assert info[0].labels["mountpoint"] == sys.argv[2], info[0].labels
assert info[0].labels["store"] == "/s\nx", info[0].labels
eio = [s for s in fams["lifeboat_absorbed_errors"].samples if s.labels.get("errno") == "EIO"]
assert eio and eio[0].value == 3, eio
PY
	lb_assert_eq 1 "$("$LIFEBOAT" status --json --dir "$dir" 2>/dev/null |
		/usr/bin/python3 -c 'import json, sys; print(len(json.load(sys.stdin)["mounts"]))')" \
		"status --json: mounts among the bad files"
}

# standby_preloads: STATE_ROOT/NODE/APP.json and APP.refused files as
# standby-node.c's preload_write() and refusal_write() make them.
standby_preloads()
{
	local sb=$LB_WORK/standby out

	mkdir -p "$sb/nodeB" "$sb/nodeC" "$LB_WORK/elsewhere"
	printf '{"name":"web","image":"/i/web/3","mode":"cache","generation":3,"size":1048576,"preloaded":1,"preload_us":2500,"priority":0,"pid":0}' >"$sb/nodeB/web.json"
	printf '{"name":"db","image":"/i/db/7","mode":"restored","generation":7,"size":4096,"preloaded":1,"preload_us":900,"priority":10,"pid":%d}' $$ >"$sb/nodeB/db.json"
	printf '{"name":"db","image":"/i/db/6","mode":"restored","generation":6,"size":4096,"preloaded":1,"preload_us":800,"priority":10,"pid":%d}' 999999999 >"$sb/nodeC/db.json"
	echo 'memory budget of node nodeC: 512M used' >"$sb/nodeC/web.refused"
	printf '{"name":"x","mode":"cache","generation":1,"size":1,"pid":0}' >"$LB_WORK/elsewhere/x.json"
	ln -s "$LB_WORK/elsewhere" "$sb/evil"
	"$LIFEBOAT" metrics --dir "$LB_WORK/empty" --standby-dir "$sb" >"$LB_WORK/standby.prom" ||
		lb_fail "metrics with standby preloads failed"
	/usr/bin/python3 "$PROMCHECK" "$LB_WORK/standby.prom" \
		"lifeboat_standby_generation{app=web,node=nodeB,mode=cache}==3" \
		"lifeboat_standby_image_bytes{app=web,node=nodeB}==1048576" \
		"lifeboat_standby_preload_seconds{app=web,node=nodeB}==0.0025" \
		"lifeboat_standby_live{app=db,node=nodeB}==1" "lifeboat_standby_live{app=db,node=nodeC}==0" \
		"lifeboat_standby_refused{app=web,node=nodeC}==1" >/dev/null ||
		lb_fail "standby metrics do not match the preload files"
	! grep -q 'node="evil"' "$LB_WORK/standby.prom" || lb_fail "a symlinked node directory was followed"
	out=$("$LIFEBOAT" status --dir "$LB_WORK/empty" --standby-dir "$sb")
	grep -qE "db +on nodeC +restored, generation 6, .*GONE" <<<"$out" || { echo "$out" >&2; lb_fail "status does not show the gone preload"; }
	grep -qF "refused: memory budget of node nodeC" <<<"$out" || { echo "$out" >&2; lb_fail "status does not show the refusal"; }
}

main()
{
	ab_init fit-metrics
	[[ -x "$LIFEBOAT" ]] || lb_fail "lifeboat CLI not built ('$LIFEBOAT'): set LIFEBOAT"
	ST=$LB_WORK/st
	AB_STATUS=$ST/app.status
	mkdir -p "$ST" "$LB_WORK/textfile"
	# in the store before the mount: a name in a directory the mount has
	# never listed, which only the store can answer
	mkdir -p "$AB_STORE/sub"
	echo unseen >"$AB_STORE/sub/unseen"
	ab_stack_up
	local m="mountpoint=$AB_MNT" host
	host=$(hostname)

	echo before >"$AB_MNT/a"
	wait_state healthy
	scrape healthy "lifeboat_mount_up{$m}==1" "lifeboat_mount_state{$m,state=healthy}==1" \
		"lifeboat_mount_state{$m,state=absorbing}==0" "lifeboat_journal_state{$m,state=ready}==1" \
		"lifeboat_queue_budget_bytes{$m}==262144" "lifeboat_journal_bytes{$m}==0" \
		"lifeboat_journal_epoch{$m}>=1" "lifeboat_status_age_seconds{$m}<=3" \
		"lifeboat_mount_info{$m,store=$AB_FAULTY,journal=$AB_JOURNAL}==1"
	lb_assert_eq "1 healthy $host" "$(json_state)" "status --json while healthy"

	lb_log "path failure: EIO on every store call"
	ab_ctl fail EIO all >/dev/null
	echo during >"$AB_MNT/b"
	dd if=/dev/zero of="$AB_MNT/c" bs=64k count=4 status=none
	wait_state absorbing
	sleep 1.2	# the status file is rewritten every second: let it count the writes
	scrape absorbing "lifeboat_mount_state{$m,state=absorbing}==1" \
		"lifeboat_mount_state{$m,state=healthy}==0" "lifeboat_absorbed_errors_total{$m,errno=EIO}>=1" \
		"lifeboat_journal_bytes{$m}>=262144" "lifeboat_journal_records{$m}>=2" "lifeboat_mount_up{$m}==1"
	lb_assert_eq "1 absorbing $host" "$(json_state)" "status --json while absorbing"
	"$LIFEBOAT" status --dir "$ST" | grep -qF "$AB_MNT  absorbing" || lb_fail "lifeboat status does not show absorbing"
	"$LIFEBOAT" status --dir "$ST" | grep -qE "absorbed  EIO [1-9]" || lb_fail "lifeboat status does not count EIO"

	local rc=0
	"$LIFEBOAT" status --dir "$ST" --wait=1 2>"$LB_WORK/wait.err" || rc=$?
	lb_assert_eq 1 "$rc" "status --wait=1 while absorbing"
	grep -qF "$AB_MNT is absorbing" "$LB_WORK/wait.err" || { cat "$LB_WORK/wait.err" >&2; lb_fail "status --wait does not say which mount absorbs"; }

	lb_log "a lookup only the store can answer holds until the path is back"
	cat "$AB_MNT/sub/unseen" >"$LB_WORK/unseen.out" 2>&1 &
	local reader=$!
	sleep 1.5
	lb_pid_alive "$reader" || lb_fail "the lookup of a never seen name did not hold: $(cat "$LB_WORK/unseen.out")"

	lb_log "path back: replay; status --wait follows it"
	ab_ctl heal >/dev/null
	wait "$reader" || lb_fail "the held lookup failed: $(cat "$LB_WORK/unseen.out")"
	lb_assert_eq unseen "$(cat "$LB_WORK/unseen.out")" "the held read"
	"$LIFEBOAT" status --dir "$ST" --wait=30 2>"$LB_WORK/wait.err" || { cat "$LB_WORK/wait.err" >&2; lb_fail "status --wait=30 after heal"; }
	ab_wait_healthy 1 || lb_fail "status --wait returned before the mount was healthy"
	sleep 1.2
	scrape recovered "lifeboat_mount_state{$m,state=healthy}==1" "lifeboat_journal_bytes{$m}==0" \
		"lifeboat_absorbed_errors_total{$m,errno=EIO}>=1" "lifeboat_replay_done_records{$m}>=2" \
		"lifeboat_holds_total{$m}>=1" "lifeboat_hold_seconds_count{$m}>=1" \
		"lifeboat_hold_seconds_bucket{$m,le=0.5}==0" "lifeboat_hold_seconds_sum{$m}>=1" \
		"lifeboat_hold_seconds_bucket{$m,le=+Inf}>=1"
	cmp -s <(head -c 262144 /dev/zero) "$AB_STORE/c" || lb_fail "store does not hold what was written while absorbing"

	lb_log "unmounted: the last status stays, the mount is down"
	lb_umount "$AB_MNT"
	# after an outage lifeboatfs has been seen to take 8 to 28 s to exit
	# here (its threads wind down); that is the fs's to shorten, not this
	# test's to fail on
	LB_EXIT_TIMEOUT=60 lb_wait_exit "$AB_LB_PID" || lb_fail "lifeboatfs exit status $? after unmount"
	scrape unmounted "lifeboat_mount_up{$m}==0" "lifeboat_mount_state{$m,state=unmounted}==1"
	lb_assert_eq "1 unmounted $host" "$(json_state)" "status --json after unmount"

	lb_log "no status files: an empty but valid exposition"
	ST=$LB_WORK/empty
	scrape empty

	lb_log "bad status files are skipped by name; odd mountpoints are escaped"
	bad_status_files

	lb_log "standby preloads, in the layout daemon/standby-node.c writes"
	standby_preloads
	echo "PASS: metrics parse and follow healthy -> absorbing -> healthy -> unmounted"
}

main "$@"
