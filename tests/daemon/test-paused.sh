#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-paused.sh - the control ops under `lifeboat run --standby-on` (issue
# 6), without CRIU: `run` with "paused" answers the command's pid, and that
# process is the init's child, in the set's cgroup, stopped before its exec
# (still lifeboat-init's image); SIGCONT lets it exec; `activate` refuses a
# set that is not a held standby and an unknown name; `stop` ends a set
# whose command is still stopped by its SIGTERM (a stopped process keeps a
# SIGTERM pending until continued). A plain `run` answers no cmd_pid.
LD_NAME=paused
. "$(dirname "$0")/lib-daemon.sh"

ld_init
ld_config
ld_start

call()
{
	python3 - "$LIFEBOAT_SOCKET" "$1" <<'PY'
import json, socket, struct, sys

s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
body = sys.argv[2].encode()
s.sendall(struct.pack(">IHHI", 0x4c42434f, 1, 0, len(body)) + body)
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
print(data[12:].decode())
PY
}

field()
{
	python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2], ""))' "$1" "$2"
}

state_of()
{
	awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null
}

req()
{
	python3 -c 'import json,sys; print(json.dumps({"op": "run", "name": sys.argv[1], "argv": ["sleep", "600"],
		"cwd": sys.argv[2], "env": ["PATH=/usr/bin:/bin"], "paused": sys.argv[3] == "1"}))' "$1" "$LD_W/work" "$2"
}

log "run paused: the command stops before its exec"
resp=$(call "$(req p1 1)")
[[ $(field "$resp" ok) == True ]] || fail "paused run refused: $resp"
init=$(field "$resp" pid)
cmd=$(field "$resp" cmd_pid)
[[ $cmd =~ ^[0-9]+$ ]] && ((cmd > 0)) || fail "no cmd_pid in $resp"
[[ $(ld_children "$init") == "$cmd" ]] || fail "cmd_pid $cmd is not the child of init $init ($(ld_children "$init"))"
[[ $(state_of "$cmd") == T ]] || fail "the command $cmd is not stopped: $(state_of "$cmd")"
[[ $(readlink "/proc/$cmd/exe") == */lifeboat-init ]] || fail "the command $cmd has exec'd already: $(readlink "/proc/$cmd/exe")"
grep -qx "$cmd" "/sys/fs/cgroup/freezer/$LD_CG_PARENT/p1/cgroup.procs" || fail "the command is not in the set's cgroup"
[[ $(ld_ps_field p1 state) == running ]] || fail "p1 is not a running set"

log "activate refuses what is not a held standby"
r=$(call '{"op": "activate", "name": "p1"}')
[[ $(field "$r" ok) == False && $(field "$r" error) == *"not a held standby"* ]] || fail "activate of a plain set: $r"
r=$(call '{"op": "activate", "name": "nosuch"}')
[[ $(field "$r" ok) == False && $(field "$r" error) == *"no process set"* ]] || fail "activate of an unknown set: $r"
[[ $(state_of "$cmd") == T ]] || fail "a refused activate continued the command"

log "stop ends a set whose command is still stopped, by SIGTERM (not the timeout's SIGKILL)"
out=$("$LIFEBOAT" stop p1 --timeout 30) || fail "stop of the paused set failed"
[[ $out == *"exit status 143"* ]] || fail "the stopped command did not end by SIGTERM: $out"
[[ $(ld_ps_field p1 state) == exited ]] || fail "p1 is not exited"
ld_gone "$cmd" || fail "the stopped command $cmd survived the stop"

log "SIGCONT lets a paused command exec; a plain run has no cmd_pid"
resp=$(call "$(req p2 1)")
cmd=$(field "$resp" cmd_pid)
kill -CONT "$cmd"
for _ in $(seq 100); do
	[[ $(readlink "/proc/$cmd/exe") == */sleep ]] && break
	sleep 0.02
done
[[ $(readlink "/proc/$cmd/exe") == */sleep ]] || fail "the continued command did not exec sleep"
resp=$(call "$(req p3 0)")
[[ $(field "$resp" ok) == True && -z $(field "$resp" cmd_pid) ]] || fail "a plain run answered $resp"
ld_done
