#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# journal.sh - lifeboatfs with its journal on an iSCSI LUN over the second
# portal: the primary path fails (faultfs), every mutation made meanwhile is
# journaled on the LUN, `lifeboat journal inspect` on the LUN shows every
# record, and when the path returns the journal is replayed from the LUN into
# the store and reset.
set -uo pipefail
source "$(dirname "$0")/lib-iscsi.sh"

is_init iscsi-journal
is_tgtd_start
AB_JOURNAL=$IS_URL
ab_stack_up

# healthy: a few files made durable on the store
for i in 1 2 3; do
	echo "healthy-$i" >"$AB_MNT/h$i" || lb_fail "healthy write h$i"
done
sync -f "$AB_MNT/h1"
[[ "$(is_status 'journal_path["remote"] and journal_path["up"]')" == True ]] ||
	lb_fail "status does not show a live iSCSI journal path: $(cat "$AB_STATUS")"

ab_ctl fail EIO all >/dev/null || lb_fail "faultctl fail"
N=25
python3 - "$AB_MNT" "$N" <<'EOF' || lb_fail "writes through the failed path returned errors"
import os, sys
mnt, n = sys.argv[1], int(sys.argv[2])
os.mkdir(os.path.join(mnt, "d"))
for i in range(n):
    p = os.path.join(mnt, "d", "f%d" % i)
    with open(p, "wb") as f:
        f.write(b"x%d-" % i * (i * 37 + 1))
        os.fsync(f.fileno())
with open(os.path.join(mnt, "h2"), "ab") as f:
    f.write(b"appended while absorbing\n")
EOF
is_wait_status 'state == "absorbing"' 10

# every mutation is on the LUN (inspected through the journal portal, read-only)
is_inspect_json >"$LB_WORK/inspect.json" || lb_fail "lifeboat journal inspect '$IS_BASE_URL' failed"
python3 - "$LB_WORK/inspect.json" "$N" <<'EOF' || lb_fail "the LUN does not hold every record"
import json, sys
d = json.load(open(sys.argv[1])); n = int(sys.argv[2])
recs = d["records"]
assert d["end"]["state"] == "clean", d["end"]
seqs = [r["seq"] for r in recs]
assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "seq gap"
assert any(r["type"] == "MKDIR" and r["path"] == "d" for r in recs), "no MKDIR d"
for i in range(n):
    p = "d/f%d" % i
    assert any(r["type"] == "CREATE" and r["path"] == p for r in recs), "no CREATE " + p
    got = sum(r["data_len"] for r in recs if r["type"] == "WRITE" and r["path"] == p)
    want = len(b"x%d-" % i) * (i * 37 + 1)
    assert got == want, "%s: %d bytes journaled, %d written" % (p, got, want)
assert any(r["type"] == "WRITE" and r["path"] == "h2" for r in recs), "no WRITE h2"
print("# %d records on the LUN, seq %d..%d" % (len(recs), seqs[0], seqs[-1]))
EOF
"$LIFEBOAT" journal verify "$IS_BASE_URL" >/dev/null || lb_fail "journal verify on the LUN"

# the path returns: replayed from the LUN, the ring reset
ab_ctl heal >/dev/null
is_wait_status 'state == "healthy" and replay_done == replay_total' 30
python3 - "$AB_STORE" "$N" <<'EOF' || lb_fail "the store does not hold what was written while absorbing"
import os, sys
store, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    data = open(os.path.join(store, "d", "f%d" % i), "rb").read()
    assert data == b"x%d-" % i * (i * 37 + 1), "d/f%d differs" % i
assert open(os.path.join(store, "h2"), "rb").read() == b"healthy-2\nappended while absorbing\n"
EOF
is_inspect_json >"$LB_WORK/after.json" || lb_fail "inspect after replay"
[[ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["records"]))' "$LB_WORK/after.json")" == 0 ]] ||
	lb_fail "the journal was not reset after the replay"

# bad input is refused with a clear error and changes nothing
lb_umount "$AB_MNT"
bad_input()
{
	local what=$1 want=$2 sum

	sum=$(md5sum <"$IS_LUN")
	for cmd in inspect verify replay; do
		local args=("$cmd" "$IS_BASE_URL")

		# replay writes: only the owner (node A, whose reservation outlives the mount) may
		[[ $cmd == replay ]] && args=("$cmd" "$IS_BASE_URL?initiator=$IS_INIT_A" "$AB_STORE")
		"$LIFEBOAT" journal "${args[@]}" >/dev/null 2>"$LB_WORK/bad.err" &&
			lb_fail "journal $cmd accepted $what"
		grep -q "$want" "$LB_WORK/bad.err" || lb_fail "$what: unclear error: $(cat "$LB_WORK/bad.err")"
	done
	[[ "$(md5sum <"$IS_LUN")" == "$sum" ]] || lb_fail "$what: the LUN changed"
}
printf 'garbage' | dd of="$IS_LUN" bs=1 seek=24 conv=notrunc status=none # the epoch
bad_input "a corrupt superblock" "corrupt header or superblock"
head -c 4096 /dev/urandom | dd of="$IS_LUN" conv=notrunc status=none
bad_input "a LUN that is not a journal" "not a lifeboat journal"

# CHAP: secrets from the environment or a root-only file, never from argv
is_tgtadm --op new --mode account --user "lbtest$$" --password "secret-$$" &&
	is_tgtadm --op bind --mode account --tid 1 --user "lbtest$$" || lb_fail "cannot set up CHAP"
chap_try()
{
	"$LIFEBOAT" journal inspect "$IS_BASE_URL" >/dev/null 2>"$LB_WORK/chap.err"
	grep -q "$1" "$LB_WORK/chap.err" || lb_fail "CHAP $2: wanted '$1', got: $(cat "$LB_WORK/chap.err")"
}
LIFEBOAT_ISCSI_CHAP_FILE=/nonexistent chap_try "cannot log in" "without secrets"
LIFEBOAT_ISCSI_CHAP_FILE=/nonexistent LIBISCSI_CHAP_USERNAME="lbtest$$" LIBISCSI_CHAP_PASSWORD="secret-$$" \
	chap_try "not a lifeboat journal" "from the environment"
printf 'user=lbtest%s\npassword=secret-%s\n' $$ $$ >"$LB_WORK/chap"
chmod 600 "$LB_WORK/chap"
LIFEBOAT_ISCSI_CHAP_FILE=$LB_WORK/chap chap_try "not a lifeboat journal" "from a root-only file"
grep -q 'visible' "$LB_WORK/chap.err" && lb_fail "a CHAP secret not in the URL was reported as visible"
chmod 644 "$LB_WORK/chap"
LIFEBOAT_ISCSI_CHAP_FILE=$LB_WORK/chap chap_try "must be owned by root with mode 0600" "from a readable file"
lb_log "ok"
