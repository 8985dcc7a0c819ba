#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-run.sh - `lifeboat run` through lifeboatd: the init is pid 1 of its
# own PID namespace, leads its own session, has /dev/null as stdin and the
# log files (O_APPEND) as stdout/stderr and no other fd; the command runs
# in the given directory inside the set's cgroup; `lifeboat ps` lists it;
# `lifeboat stop` ends it; a second run of the same name appends to the
# same logs; errors in the request are refused with a message.
LD_NAME=run
. "$(dirname "$0")/lib-daemon.sh"

ld_init
ld_config
ld_start
name=app-$$
mkdir -p "$LD_W/work/dir"

log "run: a shell that reports itself and sleeps"
"$LIFEBOAT" run --name "$name" --cwd "$LD_W/work/dir" -- \
	sh -c 'echo "run1 pid=$$ cwd=$(pwd)"; echo "run1 err" >&2; exec sleep 600' >/dev/null
init=$(ld_ps_field "$name" pid)
[[ "$init" =~ ^[0-9]+$ ]] && ((init > 0)) || fail "ps shows no init pid for '$name': '$init'"
[[ "$(ld_ps_field "$name" state)" == running ]] || fail "'$name' is not running"
"$LIFEBOAT" ps | grep -q "^$name .*running" || fail "'lifeboat ps' does not list '$name'"

# the init: pid 1 in its namespace, session leader, fds 0-2 only
[[ "$(ld_nspid "$init")" == 1 ]] || fail "init $init is not pid 1 in its namespace: $(grep NSpid /proc/$init/status)"
[[ "$(readlink /proc/$init/ns/pid)" != "$(readlink /proc/self/ns/pid)" ]] || fail "init shares our PID namespace"
[[ "$(readlink /proc/$init/ns/mnt)" == "$(readlink /proc/self/ns/mnt)" ]] || fail "process set got a mount namespace"
sid=$(awk '{ print $6 }' "/proc/$init/stat")
[[ "$sid" == "$init" ]] || fail "init $init is not a session leader (session $sid)"
fds=$(ls /proc/$init/fd | sort -n | tr '\n' ' ')
[[ "$fds" == "0 1 2 " ]] || fail "init has fds '$fds', expected '0 1 2 '"
[[ "$(readlink /proc/$init/fd/0)" == /dev/null ]] || fail "stdin is $(readlink /proc/$init/fd/0), not /dev/null"
[[ "$(readlink /proc/$init/fd/1)" == "$LD_W/logs/$name.stdout" ]] || fail "stdout is $(readlink /proc/$init/fd/1)"
[[ "$(readlink /proc/$init/fd/2)" == "$LD_W/logs/$name.stderr" ]] || fail "stderr is $(readlink /proc/$init/fd/2)"
for fd in 1 2; do
	flags=$(awk '/^flags:/ { print $2 }' "/proc/$init/fdinfo/$fd")
	(((8#$flags & 8#2000) != 0)) || fail "fd $fd of the init is not O_APPEND (flags $flags)"
done

# the command: pid 2, same session, in the directory, in the set's cgroup
for _ in $(seq 50); do
	child=$(ld_children "$init" | head -n1)
	[[ -n "$child" ]] && grep -q run1 "$LD_W/logs/$name.stdout" 2>/dev/null && break
	sleep 0.05
done
[[ -n "$child" ]] || fail "the init has no child"
[[ "$(ld_nspid "$child")" == 2 ]] || fail "the command is not pid 2 in the namespace"
[[ "$(awk '{ print $6 }' /proc/$child/stat)" == "$init" ]] || fail "the command left the init's session"
[[ "$(readlink /proc/$child/cwd)" == "$LD_W/work/dir" ]] || fail "the command runs in $(readlink /proc/$child/cwd)"
[[ "$(ls /proc/$child/fd | wc -l)" == 3 ]] || fail "the command has fds $(ls /proc/$child/fd | tr '\n' ' ')"
grep -q "freezer:/$LD_CG_PARENT/$name\$" /proc/$child/cgroup || fail "the command is not in the set's freezer cgroup"
grep -q "run1 pid=2 cwd=$LD_W/work/dir" "$LD_W/logs/$name.stdout" || fail "stdout log: $(cat "$LD_W/logs/$name.stdout")"
grep -q "run1 err" "$LD_W/logs/$name.stderr" || fail "stderr log: $(cat "$LD_W/logs/$name.stderr")"

log "a second set of the same name is refused while it runs"
if "$LIFEBOAT" run --name "$name" -- true 2>"$LD_W/err"; then fail "a duplicate name was accepted"; fi
grep -q "exists" "$LD_W/err" || fail "duplicate refused without a reason: $(cat "$LD_W/err")"

log "stop"
"$LIFEBOAT" stop "$name" >/dev/null
[[ "$(ld_ps_field "$name" state)" == exited ]] || fail "'$name' is not exited after stop"
! kill -0 "$init" 2>/dev/null || fail "init $init still runs after stop"
! kill -0 "$child" 2>/dev/null || fail "the command $child still runs after stop"
[[ ! -d /sys/fs/cgroup/freezer/$LD_CG_PARENT/$name ]] || fail "the set's cgroup is left behind"

log "a second run appends to the same logs"
"$LIFEBOAT" run --name "$name" --cwd "$LD_W/work" -- sh -c 'echo run2' >/dev/null
for _ in $(seq 100); do
	[[ "$(ld_ps_field "$name" state)" == exited ]] && break
	sleep 0.05
done
[[ "$(ld_ps_field "$name" exit_status)" == 0 ]] || fail "second run: exit status $(ld_ps_field "$name" exit_status)"
[[ "$(cat "$LD_W/logs/$name.stdout")" == *run1*run2* ]] || fail "log not appended: $(cat "$LD_W/logs/$name.stdout")"

log "bad requests are refused with their reason"
if "$LIFEBOAT" run --name "../x" -- true 2>"$LD_W/err"; then fail "name '../x' accepted"; fi
grep -q "'name'" "$LD_W/err" || fail "bad name refused without naming it: $(cat "$LD_W/err")"
if "$LIFEBOAT" run --name ok --cwd "$LD_W/missing" -- true 2>"$LD_W/err"; then fail "missing cwd accepted"; fi
grep -q "not a directory" "$LD_W/err" || fail "missing cwd: $(cat "$LD_W/err")"
if "$LIFEBOAT" run --name ok -- /nonexistent/cmd 2>"$LD_W/err"; then fail "missing command accepted"; fi
grep -q "not found" "$LD_W/err" || fail "missing command: $(cat "$LD_W/err")"
if "$LIFEBOAT" run --name ok --service-ip 300.1.1.1 -- true 2>"$LD_W/err"; then fail "bad service ip accepted"; fi
grep -q "service_ip" "$LD_W/err" || fail "bad service ip: $(cat "$LD_W/err")"
if "$LIFEBOAT" stop nosuch 2>"$LD_W/err"; then fail "stop of an unknown set succeeded"; fi
grep -q "no process set 'nosuch'" "$LD_W/err" || fail "stop nosuch: $(cat "$LD_W/err")"
if "$LIFEBOAT" migrate "$name" --to nopeer 2>"$LD_W/err"; then fail "migrate to an unknown peer succeeded"; fi
grep -q "no peer 'nopeer'" "$LD_W/err" || fail "migrate nopeer: $(cat "$LD_W/err")"
kill -0 "$LD_PID" || fail "lifeboatd died"
ld_done
