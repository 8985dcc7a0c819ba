#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-image.sh - restores that must be refused, changing nothing: a file
# the set holds open (read-write) whose size changed since the dump (CRIU
# --file-validation filesize, from lifeboatd's CRIU config file), a
# truncated image (CRIU hangs on it here: the watchdog ends it), an image
# without procset.json. After each refusal the
# set is still checkpointed and a good restore still works.
LD_NAME=image
. "$(dirname "$0")/lib-daemon.sh"

ld_init
ld_need_criu
# a truncated image makes CRIU's restore hang here: the watchdog ends it
ld_config "criu_timeout = 5"
sed -i '/^criu_timeout = 60$/d' "$LD_W/lifeboat.conf"
ld_start
name=img-$$
printf 'twelve bytes' >"$LD_W/work/data"
"$LIFEBOAT" run --name "$name" --cwd "$LD_W/work" -- python3 -c '
import os, time
fd = os.open("data", os.O_RDWR)
print("open", flush=True)
while True:
    time.sleep(0.1)
' >/dev/null
for _ in $(seq 100); do grep -q open "$LD_W/logs/$name.stdout" 2>/dev/null && break; sleep 0.05; done
"$LIFEBOAT" checkpoint "$name" >/dev/null
grep -q '^file-validation filesize$' "$LD_W/state/criu.conf" || fail "no file-validation in the CRIU config"

log "a file that grew since the dump"
printf 'more' >>"$LD_W/work/data"
if "$LIFEBOAT" restore "$name" 2>"$LD_W/err"; then fail "restore with a changed file size succeeded"; fi
grep -q "restore failed" "$LD_W/err" || fail "refusal without a reason: $(cat "$LD_W/err")"
grep -qi "size" "$LD_W/state/images/$name/restore.log" || fail "CRIU did not refuse for the size"
[[ "$(ld_ps_field "$name" state)" == checkpointed ]] || fail "state after the refused restore: $(ld_ps_field "$name" state)"
[[ -z "$(cat /sys/fs/cgroup/freezer/$LD_CG_PARENT/$name/cgroup.procs 2>/dev/null)" ]] || fail "tasks left in the cgroup"
truncate -s 12 "$LD_W/work/data"

log "a truncated image"
cp -a "$LD_W/state/images/$name" "$LD_W/cut"
pages=$(ls "$LD_W/cut"/pages-*.img | head -n1)
truncate -s $(($(stat -c %s "$pages") / 2)) "$pages"
if "$LIFEBOAT" restore "$name" --dir "$LD_W/cut" 2>"$LD_W/err"; then fail "restore of a truncated image succeeded"; fi
grep -q "restore failed" "$LD_W/err" || fail "truncated image: $(cat "$LD_W/err")"
[[ -z "$(cat /sys/fs/cgroup/freezer/$LD_CG_PARENT/$name/cgroup.procs 2>/dev/null)" ]] || fail "tasks of the truncated image left"
! findmnt -rn -o TARGET | grep -q "^$LD_W/" || fail "the killed criu left mounts: $(findmnt -rn -o TARGET | grep "^$LD_W/")"
[[ "$(ld_ps_field "$name" state)" == checkpointed ]] || fail "state after the truncated image: $(ld_ps_field "$name" state)"

log "an image without procset.json"
rm "$LD_W/cut/procset.json"
if "$LIFEBOAT" restore --dir "$LD_W/cut" 2>"$LD_W/err"; then fail "restore without procset.json succeeded"; fi
grep -q "restore failed" "$LD_W/err" || fail "no procset.json: $(cat "$LD_W/err")"
grep -q "has no valid procset.json" "$LD_W/lifeboatd.log" || fail "lifeboatd did not name the missing procset.json"

log "the intact image still restores"
"$LIFEBOAT" restore "$name" >/dev/null || fail "restore of the intact image"
[[ "$(ld_ps_field "$name" state)" == running ]] || fail "not running after the good restore"
"$LIFEBOAT" stop "$name" >/dev/null
ld_done
