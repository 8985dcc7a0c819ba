#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# apperrors.sh - application errors pass through unchanged (invariant 5),
# healthy and while absorbing a path failure: ENOENT, EEXIST, ENOTEMPTY,
# EACCES (uid 1000 on a 0700 dir and a 0600 file) and ENOSPC (the real
# store is a 16 MiB tmpfs). App errors must not count as absorbed, failed
# calls must leave nothing behind, and after the heal the fixtures are
# intact on the mount and on the store.
set -uo pipefail
ABSORB_LB_OPTS=${ABSORB_LB_OPTS:-queue_budget=256K,flush_interval=0.5,hold=5,on_hold_timeout=eio,path_timeout=5}
source "$(dirname "$0")/lib-absorb.sh"

ab_init absorb-apperrors
lb_need setpriv
# uid 1000 cannot use root's python (a pyenv shim under /root, say)
PY_USER=/usr/bin/python3
[[ -x "$PY_USER" ]] || PY_USER=$(command -v python3)
ab_tmpfs_store 16m
ab_stack_up
M=$AB_MNT/fx
CHK=$AB_DIR/errcheck.py
bad=0

chk()
{
	local out

	out=$(python3 "$CHK" "$@" 2>&1) || { echo "FAIL ($PHASE): $out" >&2; bad=$((bad + 1)); return 0; }
	lb_log "$PHASE: $out"
}

# chk_user: the same as uid/gid 1000 without supplementary groups.
chk_user()
{
	local out

	out=$(setpriv --reuid=1000 --regid=1000 --clear-groups "$PY_USER" "$CHK" "$@" 2>&1) ||
		{ echo "FAIL ($PHASE, uid 1000): $out" >&2; bad=$((bad + 1)); return 0; }
	lb_log "$PHASE: uid 1000: $out"
}

# status_field KEY: a top-level value from the status file, '' without one.
status_json()
{
	[[ -e "$AB_STATUS" ]] || return 0
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps(d.get(sys.argv[2])))' \
		"$AB_STATUS" "$1" 2>/dev/null
}

absorbed_total()
{
	[[ -e "$AB_STATUS" ]] || { echo 0; return; }
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum((d.get("absorbed") or {}).values()))' \
		"$AB_STATUS" 2>/dev/null || echo '?'
}

make_fixtures()
{
	mkdir -p "$M/nonempty" "$M/empty" "$M/priv" &&
		echo data >"$M/file" && echo x >"$M/nonempty/x" &&
		echo secret >"$M/priv/s" && echo private >"$M/private" &&
		chmod 0755 "$M" && chmod 0700 "$M/priv" && chmod 0600 "$M/private" ||
		lb_fail "cannot make the fixtures on the mount"
}

checks()
{
	local n=$1

	chk ENOENT read "$M/missing"
	chk ENOENT unlink "$M/missing"
	chk ENOENT rename "$M/missing" "$M/other-$n"
	chk ENOENT stat "$M/nodir/x"
	chk ENOENT create-excl "$M/nodir/x"
	chk EEXIST mkdir "$M/nonempty"
	chk EEXIST create-excl "$M/file"
	chk EEXIST link "$M/file" "$M/nonempty/x"
	chk ENOTEMPTY rmdir "$M/nonempty"
	chk ENOTEMPTY rename "$M/empty" "$M/nonempty"
	chk_user EACCES read "$M/priv/s"
	chk_user EACCES create-excl "$M/priv/new-$n"
	chk_user EACCES mkdir "$M/priv/d-$n"
	chk_user EACCES read "$M/private"
	chk_user EACCES create-excl "$M/private-$n"	# $M is 0755 root
	chk ENOSPC fill "$M/fill-$n" 48
	rm -f "$M/fill-$n" || { echo "FAIL ($PHASE): cannot remove '$M/fill-$n'" >&2; bad=$((bad + 1)); }
	chk OK create-excl "$M/after-$n"	# space is back
}

# verify_tree ROOT LABEL: the fixtures and nothing a failed call made.
verify_tree()
{
	local r=$1 label=$2 f

	[[ "$(cat "$r/file" 2>&1)" == $'data\nmore' ]] ||
		{ echo "FAIL: $label: fx/file is '$(cat "$r/file" 2>&1)'" >&2; bad=$((bad + 1)); }
	[[ "$(cat "$r/priv/s" 2>&1)" == secret && "$(cat "$r/private" 2>&1)" == private &&
	   "$(cat "$r/nonempty/x" 2>&1)" == x ]] ||
		{ echo "FAIL: $label: fixture contents differ" >&2; bad=$((bad + 1)); }
	[[ "$(stat -c %a "$r/priv" "$r/private" 2>&1 | tr '\n' ' ')" == "700 600 " ]] ||
		{ echo "FAIL: $label: modes differ: $(stat -c '%n %a' "$r/priv" "$r/private" 2>&1)" >&2; bad=$((bad + 1)); }
	for f in other-1 other-2 priv/new-1 priv/new-2 priv/d-1 priv/d-2 private-1 private-2 fill-1 fill-2; do
		[[ -e "$r/$f" ]] && { echo "FAIL: $label: a failed call left '$f'" >&2; bad=$((bad + 1)); }
	done
	[[ -e "$r/after-1" && -e "$r/after-2" ]] ||
		{ echo "FAIL: $label: after-1/after-2 missing" >&2; bad=$((bad + 1)); }
	[[ "$(ls "$r" | tr '\n' ' ')" == "after-1 after-2 empty file nonempty priv private " ]] ||
		{ echo "FAIL: $label: names are '$(ls "$r" | tr '\n' ' ')'" >&2; bad=$((bad + 1)); }
}

PHASE=healthy
mkdir "$M" || lb_fail "cannot mkdir on the mount"
make_fixtures
checks 1
s=$(status_json state)
[[ -z "$s" || "$s" == '"healthy"' ]] || { echo "FAIL: healthy: app errors moved the state to $s" >&2; bad=$((bad + 1)); }
a=$(absorbed_total)
[[ "$a" == 0 ]] || { echo "FAIL: healthy: app errors counted as absorbed: $(status_json absorbed)" >&2; bad=$((bad + 1)); }

PHASE=absorbing
lb_log "$(ab_ctl fail EIO all)"
echo more >>"$M/file" || { echo "FAIL: absorbing: append to fx/file failed" >&2; bad=$((bad + 1)); }
for ((i = 0; i < 50; i++)); do
	[[ "$(status_json state)" == '"absorbing"' ]] && break
	sleep 0.1
done
lb_log "status while absorbing: $(cat "$AB_STATUS" 2>/dev/null)"
checks 2
lb_log "$(ab_ctl heal)"
ab_wait_healthy 30 || bad=$((bad + 1))

PHASE=after
verify_tree "$M" mount
verify_tree "$AB_STORE/fx" store
((bad == 0)) || lb_fail "$bad checks failed"
echo PASS
