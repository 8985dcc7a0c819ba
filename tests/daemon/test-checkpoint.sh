#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-checkpoint.sh - a local checkpoint and restore through lifeboatd:
# a verified writer appends checksummed records to a file on a lifeboatfs
# mount (its working directory is on the mount too); lifeboatd freezes the
# set, syncs the mount, dumps it with CRIU (the tasks are gone), restores
# it as its own child, and the writer goes on: afterwards no record is lost
# or repeated, every record carries the same pid (2: same PIDs inside the
# namespace), and the writer saw no error. Then the same with
# --leave-running, and a restore of that image by a fresh lifeboatd.
LD_NAME=checkpoint
. "$(dirname "$0")/lib-daemon.sh"

ld_init
ld_need_criu
[[ -x "${WRITER:-}" ]] || fail "\$WRITER is not set to an executable"
ld_mount
ld_config "[mount data]" "path = $LD_MNT" "store = $LD_W/store" "journal = $LD_W/journal"
ld_start
name=writer-$$
mkdir -p "$LD_MNT/app"

records()
{
	echo $(($(stat -c %s "$LD_MNT/app/records" 2>/dev/null || echo 0) / 64))
}

wait_records()	# N
{
	for _ in $(seq 200); do
		(($(records) >= $1)) && return 0
		sleep 0.05
	done
	fail "the writer did not reach $1 records (at $(records))"
}

writer_pid()	# the init's child
{
	ld_children "$(ld_ps_field "$name" pid)" | head -n1
}

log "run the writer on the mount"
"$LIFEBOAT" run --name "$name" --cwd "$LD_MNT/app" -- "$WRITER" records 500 >/dev/null
wait_records 300
init1=$(ld_ps_field "$name" pid)
w1=$(writer_pid)
[[ "$(ld_nspid "$init1")" == 1 && "$(ld_nspid "$w1")" == 2 ]] || fail "unexpected pids inside the namespace"

log "checkpoint (the tasks end)"
"$LIFEBOAT" checkpoint "$name" --json >"$LD_W/ckpt.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ok"] and d["dump_us"] > 0, d' \
	"$LD_W/ckpt.json" || fail "checkpoint answer: $(cat "$LD_W/ckpt.json")"
[[ "$(ld_ps_field "$name" state)" == checkpointed ]] || fail "state after checkpoint: $(ld_ps_field "$name" state)"
! kill -0 "$init1" 2>/dev/null || fail "the init $init1 still runs after the dump"
! kill -0 "$w1" 2>/dev/null || fail "the writer $w1 still runs after the dump"
n1=$(records)
sleep 0.5
[[ "$(records)" == "$n1" ]] || fail "records still grow after the checkpoint ($n1 -> $(records))"
[[ -s "$LD_W/state/images/$name/procset.json" ]] || fail "image has no procset.json"

log "restore ($n1 records so far)"
"$LIFEBOAT" restore "$name" >/dev/null
init2=$(ld_ps_field "$name" pid)
[[ "$(ld_ps_field "$name" state)" == running ]] || fail "state after restore: $(ld_ps_field "$name" state)"
[[ "$(awk '/^PPid:/ { print $2 }' /proc/$init2/status)" == "$LD_PID" ]] || fail "restored init is not lifeboatd's child"
[[ "$(ld_nspid "$init2")" == 1 ]] || fail "restored init is not pid 1 in its namespace"
w2=$(writer_pid)
[[ "$(ld_nspid "$w2")" == 2 ]] || fail "restored writer is not pid 2 in its namespace"
[[ "$(readlink /proc/$w2/cwd)" == "$LD_MNT/app" ]] || fail "restored writer runs in $(readlink /proc/$w2/cwd)"
wait_records $((n1 + 300))

log "checkpoint --leave-running: the set goes on"
"$LIFEBOAT" checkpoint "$name" --leave-running --dir "$LD_W/img-live" >/dev/null
[[ "$(ld_ps_field "$name" state)" == running ]] || fail "state after --leave-running: $(ld_ps_field "$name" state)"
[[ -s "$LD_W/img-live/procset.json" ]] || fail "no image in img-live"
n2=$(records)
wait_records $((n2 + 100))

log "checkpoint into img2, stop lifeboatd, restore img2 in a fresh lifeboatd"
"$LIFEBOAT" checkpoint "$name" --dir "$LD_W/img2" >/dev/null
kill "$LD_PID"
wait "$LD_PID" 2>/dev/null || true
ld_start
"$LIFEBOAT" restore --dir "$LD_W/img2" >/dev/null 2>"$LD_W/err" || fail "restore --dir: $(cat "$LD_W/err")"
[[ "$(ld_ps_field "$name" state)" == running ]] || fail "no running '$name' after restore --dir"
[[ "$(ld_nspid "$(writer_pid)")" == 2 ]] || fail "writer restored by the fresh lifeboatd is not pid 2"
n3=$(records)
wait_records $((n3 + 100))

"$LIFEBOAT" stop "$name" >/dev/null
[[ "$(ld_ps_field "$name" exit_status)" == 0 ]] || fail "writer exit status $(ld_ps_field "$name" exit_status) (it saw an error?)"
[[ ! -s "$LD_W/logs/$name.stderr" ]] || fail "the writer reported errors: $(cat "$LD_W/logs/$name.stderr")"
"$WRITER" --verify "$LD_MNT/app/records" >"$LD_W/verify" 2>&1 || fail "records: $(cat "$LD_W/verify")"
read -r _ total _ pid <"$LD_W/verify"
[[ "$pid" == 2 ]] || fail "records carry pid $pid, not 2"
((total >= n3 + 100)) || fail "only $total records"
log "$total records, none lost or repeated, all from pid 2, across 3 dumps and 2 restores"
ld_done
