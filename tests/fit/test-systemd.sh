#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-systemd.sh - the systemd side of lifeboat, checked by systemd itself:
#   1. `systemd-analyze verify` passes on contrib/systemd/*, with ExecStart
#      on the built lifeboatd and Documentation= resolved to our man pages,
#      and reports no ordering cycle;
#   2. systemd-fstab-generator turns the line of contrib/fstab.example into
#      a mount unit ordered after lifeboatd.service, with remote-fs.target,
#      which verifies as well;
#   3. a negative control: without _netdev the same mount makes an ordering
#      cycle that this test sees (so the check above can fail);
#   4. lifeboatd.service is Type=notify and every directive of its
#      [Service] section comes with a comment saying why.
set -euo pipefail

SRC=${LIFEBOAT_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
LIFEBOAT=${LIFEBOAT:-$SRC/build/daemon/lifeboat}
GENERATOR=/lib/systemd/system-generators/systemd-fstab-generator

skip()
{
	echo "SKIP: $*" >&2
	exit 77
}

fail()
{
	echo "FAIL: $*" >&2
	exit 1
}

command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
command -v man >/dev/null || skip "man is not installed (verify resolves Documentation= with it)"
[[ -x "$GENERATOR" ]] || skip "'$GENERATOR' is not installed"
[[ -n "${LIFEBOATD:-}" && -x "${LIFEBOATD:-}" ]] || skip "lifeboatd is not built in this tree (LIFEBOATD='${LIFEBOATD:-}')"

WORK=$(mktemp -d /tmp/lifeboat-fit-systemd.XXXXXX)
trap 'rc=$?; ((rc == 0 || rc == 77)) && rm -rf "$WORK" || echo "work dir kept: $WORK" >&2' EXIT

# A man tree with our pages, so Documentation=man:lifeboatd(8) is checked.
mkdir -p "$WORK/man/man5" "$WORK/man/man8"
for page in "$SRC"/man/*.[58]; do
	ln -s "$page" "$WORK/man/man${page##*.}/"
done
export MANPATH=$WORK/man:

# verify NAME UNIT...: passes, and nothing in its output says cycle or error.
verify()
{
	local name=$1 out=$WORK/$1.verify rc=0
	shift

	(cd "$WORK" && systemd-analyze verify "$@") >"$out" 2>&1 || rc=$?
	if ((rc != 0)) || grep -qiE 'cycle|failed|error|not executable|unknown' "$out"; then
		cat "$out" >&2
		fail "$name: systemd-analyze verify (exit $rc) reports problems"
	fi
	echo "# $name: systemd-analyze verify clean"
}

# The units as shipped, with ExecStart on the binary this build made.
mkdir -p "$WORK/units"
cp "$SRC"/contrib/systemd/*.service "$SRC"/contrib/systemd/*.mount "$SRC"/contrib/systemd/*.timer "$WORK/units/"
sed -i "s|^ExecStart=/usr/local/sbin/lifeboatd\b|ExecStart=$LIFEBOATD|" "$WORK/units/lifeboatd.service"
grep -q "^ExecStart=$LIFEBOATD" "$WORK/units/lifeboatd.service" ||
	fail "lifeboatd.service: ExecStart is not /usr/local/sbin/lifeboatd (meson install's path)"
sed -i "s|^ExecStart=/usr/local/bin/lifeboat |ExecStart=$LIFEBOAT |" "$WORK/units/lifeboat-metrics.service"
grep -q "^ExecStart=$LIFEBOAT metrics --output" "$WORK/units/lifeboat-metrics.service" ||
	fail "lifeboat-metrics.service: ExecStart is not /usr/local/bin/lifeboat metrics (meson install's path)"
verify shipped "$WORK"/units/*.service "$WORK"/units/*.mount "$WORK"/units/*.timer

# The fstab line of contrib/fstab.example through the generator.
grep -E '^[^#[:space:]].*[[:space:]]fuse\.lifeboatfs[[:space:]]' "$SRC/contrib/fstab.example" >"$WORK/fstab" ||
	fail "contrib/fstab.example has no fuse.lifeboatfs line"
mkdir -p "$WORK/gen/normal" "$WORK/gen/early" "$WORK/gen/late"
SYSTEMD_FSTAB=$WORK/fstab SYSTEMD_PROC_CMDLINE="" \
	"$GENERATOR" "$WORK/gen/normal" "$WORK/gen/early" "$WORK/gen/late" ||
	fail "systemd-fstab-generator refuses contrib/fstab.example"
unit=$WORK/gen/normal/srv-app.mount
[[ -f "$unit" ]] || fail "the generator made no srv-app.mount"
for want in Requires=lifeboatd.service After=lifeboatd.service Type=fuse.lifeboatfs; do
	grep -qx "$want" "$unit" || { cat "$unit" >&2; fail "generated srv-app.mount lacks '$want'"; }
done
[[ -e "$WORK/gen/normal/remote-fs.target.requires/srv-app.mount" || -e "$WORK/gen/normal/remote-fs.target.wants/srv-app.mount" ]] ||
	fail "the generator did not pull srv-app.mount into remote-fs.target (no _netdev?)"
[[ -z "$(find "$WORK/gen" -path '*local-fs.target*' -name srv-app.mount)" ]] ||
	fail "the generator made srv-app.mount a local mount"
cp "$unit" "$WORK/units/srv-app.mount"
verify generated "$WORK/units/srv-app.mount" "$WORK/units/lifeboatd.service" "$WORK/units/example-app.service"

# Negative control: the mount without _netdev is a local mount ordered
# before local-fs.target, which comes before lifeboatd: a cycle we must see.
mkdir -p "$WORK/bad"
cp "$WORK/units/lifeboatd.service" "$WORK/bad/"
sed 's|,_netdev||' "$SRC/contrib/systemd/srv-app.mount" >"$WORK/bad/srv-app.mount"
(cd "$WORK" && systemd-analyze verify "$WORK/bad/srv-app.mount" "$WORK/bad/lifeboatd.service") >"$WORK/bad.verify" 2>&1 || true
grep -q 'ordering cycle' "$WORK/bad.verify" || { cat "$WORK/bad.verify" >&2; fail "negative control: no ordering cycle reported without _netdev"; }
echo "# negative control: without _netdev, verify reports the ordering cycle"

# lifeboatd.service: Type=notify, and a comment above every [Service]
# directive of it and of lifeboat-metrics.service.
grep -qx 'Type=notify' "$SRC/contrib/systemd/lifeboatd.service" || fail "lifeboatd.service is not Type=notify"
for svc in "$SRC/contrib/systemd/lifeboatd.service" "$SRC/contrib/systemd/lifeboat-metrics.service"; do
awk '
	/^\[/ { section = $0; commented = 0; next }
	/^#/ { commented = 1; next }
	/^$/ { commented = 0; next }
	section == "[Service]" && !commented && !/^(Type|ExecStart)=/ { print "uncommented: " $0; bad = 1 }
	section == "[Service]" && /^[A-Za-z]/ { keep = 1 }
	END { exit bad }
' "$svc" || fail "$(basename "$svc"): a [Service] directive without a comment saying why"
done
echo "PASS: systemd units verify, the fstab line generates an ordered mount unit"
