#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-adopt.sh - process sets outlive lifeboatd and the next one adopts
# them: a running set (same init, seen exiting through its pidfd, stopped
# by `lifeboat stop`), a running set that is checkpointed and restored by
# the new lifeboatd (then its child again), a checkpointed set restored by
# name; a set whose init is gone is dropped, not adopted.
LD_NAME=adopt
. "$(dirname "$0")/lib-daemon.sh"

ld_init
ld_need_criu
ld_config
ld_start
a=keep-$$ b=move-$$ c=ckpt-$$ e=short-$$
for n in "$a" "$b" "$c"; do
	"$LIFEBOAT" run --name "$n" --cwd "$LD_W/work" -- sleep 600 >/dev/null
done
"$LIFEBOAT" run --name "$e" --cwd "$LD_W/work" -- sleep 3 >/dev/null
"$LIFEBOAT" checkpoint "$c" >/dev/null
pa=$(ld_ps_field "$a" pid)
pb=$(ld_ps_field "$b" pid)
pe=$(ld_ps_field "$e" pid)

log "stop lifeboatd: the sets keep running"
kill "$LD_PID"
wait "$LD_PID" 2>/dev/null || true
kill -0 "$pa" && kill -0 "$pb" || fail "process sets died with lifeboatd"
[[ -s "$LD_W/state/procsets/$a.json" && -s "$LD_W/state/procsets/$c.json" ]] || fail "no state files"

log "a new lifeboatd adopts them"
ld_start
[[ "$(ld_ps_field "$a" state)" == running && "$(ld_ps_field "$a" pid)" == "$pa" ]] || fail "'$a' not adopted"
[[ "$(ld_ps_field "$a" adopted)" == True ]] || fail "'$a' not marked adopted"
[[ "$(ld_ps_field "$c" state)" == checkpointed ]] || fail "'$c' not adopted as checkpointed"
grep -q "'$a' of an earlier lifeboatd adopted" "$LD_W/lifeboatd.log" || fail "adoption not logged"

log "an adopted set that ends is seen ending"
for _ in $(seq 100); do
	[[ "$(ld_ps_field "$e" state)" == exited ]] && break
	sleep 0.05
done
[[ "$(ld_ps_field "$e" state)" == exited ]] || fail "the end of adopted '$e' (pid $pe) was not seen"

log "stop an adopted set"
"$LIFEBOAT" stop "$a" >/dev/null
ld_gone "$pa" || fail "adopted '$a' still runs after stop"

log "checkpoint and restore an adopted set: lifeboatd's child again"
"$LIFEBOAT" checkpoint "$b" >/dev/null || fail "checkpoint of adopted '$b'"
"$LIFEBOAT" restore "$b" >/dev/null || fail "restore of '$b'"
pb2=$(ld_ps_field "$b" pid)
[[ "$(awk '/^PPid:/ { print $2 }' /proc/$pb2/status)" == "$LD_PID" ]] || fail "restored '$b' is not lifeboatd's child"
[[ "$(ld_ps_field "$b" adopted)" == False ]] || fail "restored '$b' still marked adopted"

log "restore the checkpointed set by name"
"$LIFEBOAT" restore "$c" >/dev/null || fail "restore of '$c'"
[[ "$(ld_ps_field "$c" state)" == running ]] || fail "'$c' not running after restore"

log "a set whose init is gone is not adopted"
"$LIFEBOAT" stop "$b" >/dev/null
kill "$LD_PID"
wait "$LD_PID" 2>/dev/null || true
pc=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$LD_W/state/procsets/$c.json")
kill -KILL "$pc"
sleep 0.2
ld_start
[[ -z "$(ld_ps_field "$c" name)" ]] || fail "'$c' adopted although its init $pc is gone"
[[ ! -e "$LD_W/state/procsets/$c.json" ]] || fail "the state file of '$c' was kept"
ld_done
