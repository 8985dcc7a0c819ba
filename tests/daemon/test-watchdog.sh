#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-watchdog.sh - a CRIU that hangs cannot hang lifeboatd: with a stand-in
# criu that never answers and criu_timeout = 2, `lifeboat checkpoint` fails
# after the watchdog kills it, the process set is thawed and keeps running,
# and lifeboatd answers. Also: lifeboatd tells systemd READY=1 once its
# socket listens and STOPPING=1 when it stops (sd_notify, NOTIFY_SOCKET).
LD_NAME=watchdog
. "$(dirname "$0")/lib-daemon.sh"

ld_init
mkdir -p "$LD_W/fake"
# comm of a script is its file name: the watchdog looks for "criu"
printf '#!/bin/sh\n# a CRIU that never answers\nwhile :; do sleep 0.2; done\n' >"$LD_W/fake/criu"
chmod +x "$LD_W/fake/criu"
ld_config "criu = $LD_W/fake/criu" "criu_timeout = 2"
sed -i '/^criu_timeout = 60$/d' "$LD_W/lifeboat.conf"

python3 - "$LD_W/notify.sock" "$LD_W/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as out:
    while True:
        out.write(s.recv(4096).decode() + "\n")
        out.flush()
PY
notify_pid=$!
trap 'kill $notify_pid 2>/dev/null; ld_cleanup' EXIT
for _ in $(seq 50); do [[ -S "$LD_W/notify.sock" ]] && break; sleep 0.05; done
NOTIFY_SOCKET=$LD_W/notify.sock ld_start
for _ in $(seq 50); do grep -q READY=1 "$LD_W/notify.log" 2>/dev/null && break; sleep 0.05; done
grep -q READY=1 "$LD_W/notify.log" || fail "lifeboatd sent no READY=1 to NOTIFY_SOCKET"

name=hang-$$
"$LIFEBOAT" run --name "$name" --cwd "$LD_W/work" -- sleep 600 >/dev/null
init=$(ld_ps_field "$name" pid)

log "checkpoint with a hanging criu"
start=$(date +%s%N)
if "$LIFEBOAT" checkpoint "$name" 2>"$LD_W/err"; then fail "checkpoint with a hanging criu succeeded"; fi
took=$((($(date +%s%N) - start) / 1000000))
grep -q "keeps running" "$LD_W/err" || fail "checkpoint error: $(cat "$LD_W/err")"
grep -q "did not finish within 2 s: killing criu" "$LD_W/lifeboatd.log" || fail "the watchdog did not fire"
((took < 10000)) || fail "the failed checkpoint took $took ms"
[[ "$(cat /sys/fs/cgroup/freezer/$LD_CG_PARENT/$name/freezer.state)" == THAWED ]] || fail "set left frozen"
[[ "$(ld_ps_field "$name" state)" == running ]] || fail "state after the failed checkpoint: $(ld_ps_field "$name" state)"
kill -0 "$init" || fail "the set's init is gone"
[[ "$(awk '{ print $3 }' /proc/"$(ld_children "$init" | head -n1)"/stat)" != T ]] || fail "the command is stopped"
"$LIFEBOAT" ping >/dev/null || fail "lifeboatd does not answer after the watchdog"
log "failed in $took ms, set running"

"$LIFEBOAT" stop "$name" >/dev/null
kill "$LD_PID"
wait "$LD_PID" 2>/dev/null || true
LD_PID=
for _ in $(seq 50); do grep -q STOPPING=1 "$LD_W/notify.log" && break; sleep 0.05; done
grep -q STOPPING=1 "$LD_W/notify.log" || fail "lifeboatd sent no STOPPING=1"
ld_done
