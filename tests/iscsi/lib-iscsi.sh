# SPDX-License-Identifier: GPL-2.0-or-later
# lib-iscsi.sh - the iSCSI journal tests' target, on top of the absorb stack
# (../absorb/lib-absorb.sh): a tgtd of our own with its own control port,
# two portals on loopback (127.0.0.1:$IS_PORT1, the "primary" side, and
# 127.0.0.2:$IS_PORT2, the journal's own portal), one target with a LUN on
# a file in the work dir. lifeboatfs journals to $IS_URL (portal 2).
#
# tgtd ignores SIGTERM: is_tgtd_stop deletes the target and then the
# system with tgtadm, and only kills the PID it started if that is not
# enough. Path faults on the journal portal come from an nft table of our
# own ($IS_NFT), which drops TCP to $IS_PORT2 on lo, and is deleted at exit.

IS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$IS_DIR/../absorb/lib-absorb.sh"

IS_TGTD_PID=
IS_NFT=
IS_LUN_SIZE=${IS_LUN_SIZE:-64M}

# is_free_port PORT: PORT can be bound on every address (nothing uses it).
is_free_port()
{
	python3 -c 'import socket, sys; s = socket.socket(); s.bind(("", int(sys.argv[1])))' "$1" 2>/dev/null
}

# is_pick_ports: a control port and two portal ports nobody else uses.
is_pick_ports()
{
	local base i

	for ((i = 0; i < 50; i++)); do
		base=$((20000 + (RANDOM % 2000) * 3))
		if is_free_port "$base" && is_free_port "$((base + 1))" && is_free_port "$((base + 2))" &&
			[[ ! -e "/var/run/tgtd/socket.$base" ]]; then
			IS_CTL=$base
			IS_PORT1=$((base + 1))
			IS_PORT2=$((base + 2))
			return 0
		fi
	done
	lb_fail "no free ports for tgtd"
}

# is_init NAME: the absorb stack's prerequisites plus tgtd, ports, names.
is_init()
{
	ab_init "$1"
	command -v tgtd >/dev/null && command -v tgtadm >/dev/null ||
		skip "tgtd/tgtadm not installed (Debian package tgt)"
	LIFEBOAT=${LIFEBOAT:-$AB_DIR/../../build/daemon/lifeboat}
	JWRITER=${JWRITER:-$AB_DIR/../../build/tests/iscsi/jwriter}
	[[ -x "$LIFEBOAT" && -x "$JWRITER" ]] ||
		lb_fail "lifeboat or jwriter not built ('$LIFEBOAT', '$JWRITER'): set LIFEBOAT and JWRITER"
	is_pick_ports
	IS_IQN="iqn.2026-11.io.lifeboat.test:$1-$$"
	IS_INIT_A="iqn.2026-11.io.lifeboat.test:node-a-$$"
	IS_INIT_B="iqn.2026-11.io.lifeboat.test:node-b-$$"
	IS_LUN=$LB_WORK/lun.img
	IS_BASE_URL="iscsi://127.0.0.2:$IS_PORT2/$IS_IQN/1"
	IS_URL="$IS_BASE_URL?initiator=$IS_INIT_A&timeout=${IS_TIMEOUT:-20}"
	truncate -s "$IS_LUN_SIZE" "$IS_LUN"
	trap is_cleanup EXIT
}

is_tgtadm()
{
	tgtadm -C "$IS_CTL" --lld iscsi "$@"
}

# is_tgtd_start: tgtd on both portals with the LUN, ready for logins.
is_tgtd_start()
{
	local log="$LB_WORK/tgtd-${#LB_LOGS[@]}.log" i

	tgtd -f -C "$IS_CTL" --iscsi "portal=127.0.0.1:$IS_PORT1" </dev/null >"$log" 2>&1 &
	IS_TGTD_PID=$!
	LB_LOGS+=("$log")
	for ((i = 0; i < 100; i++)); do
		is_tgtadm --op show --mode sys >/dev/null 2>&1 && break
		kill -0 "$IS_TGTD_PID" 2>/dev/null || lb_fail "tgtd exited: $(tail -n 5 "$log")"
		sleep 0.05
	done
	is_tgtadm --op new --mode portal --param "portal=127.0.0.2:$IS_PORT2" &&
		is_tgtadm --op new --mode target --tid 1 -T "$IS_IQN" &&
		is_tgtadm --op new --mode logicalunit --tid 1 --lun 1 -b "$IS_LUN" &&
		is_tgtadm --op bind --mode target --tid 1 -I ALL ||
		lb_fail "cannot set up the target (tgtadm -C $IS_CTL)"
	lb_log "tgtd $IS_TGTD_PID: control port $IS_CTL, portals 127.0.0.1:$IS_PORT1 127.0.0.2:$IS_PORT2, LUN '$IS_LUN'"
}

# is_add_lun N: LUN N on its own file (for is_url N).
is_add_lun()
{
	truncate -s "$IS_LUN_SIZE" "$LB_WORK/lun$1.img"
	is_tgtadm --op new --mode logicalunit --tid 1 --lun "$1" -b "$LB_WORK/lun$1.img" ||
		lb_fail "cannot add LUN $1"
}

# is_url LUN INITIATOR: the journal URL of LUN as that initiator.
is_url()
{
	echo "iscsi://127.0.0.2:$IS_PORT2/$IS_IQN/$1?initiator=$2&timeout=${IS_TIMEOUT:-20}"
}

# is_tgtd_stop: the target, then the daemon (it ignores SIGTERM).
is_tgtd_stop()
{
	local i

	[[ -n "$IS_TGTD_PID" ]] || return 0
	is_tgtadm --op delete --mode target --tid 1 --force >/dev/null 2>&1
	is_tgtadm --op delete --mode system >/dev/null 2>&1
	for ((i = 0; i < 100; i++)); do
		kill -0 "$IS_TGTD_PID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$IS_TGTD_PID" 2>/dev/null; then
		lb_log "tgtd $IS_TGTD_PID did not exit: SIGKILL"
		kill -KILL "$IS_TGTD_PID"
	fi
	wait "$IS_TGTD_PID" 2>/dev/null
	IS_TGTD_PID=
}

# is_nft_drop: drop TCP to the journal portal on lo (both ways), our table only.
is_nft_drop()
{
	IS_NFT="lifeboat_iscsi_$$"
	nft -f - <<EOF || lb_fail "cannot add nft table '$IS_NFT'"
table inet $IS_NFT {
	chain out {
		type filter hook output priority 0; policy accept;
		oif "lo" ip daddr 127.0.0.2 tcp dport $IS_PORT2 drop
		oif "lo" ip saddr 127.0.0.2 tcp sport $IS_PORT2 drop
	}
}
EOF
}

is_nft_heal()
{
	[[ -n "$IS_NFT" ]] && nft delete table inet "$IS_NFT" 2>/dev/null
	IS_NFT=
}

is_cleanup()
{
	local rc=$? i

	set +e
	for ((i = ${#LB_MOUNTS[@]} - 1; i >= 0; i--)); do
		lb_force_umount "${LB_MOUNTS[i]}"
	done
	for i in "${LB_PIDS[@]}"; do
		[[ -n "$i" ]] && lb_stop_pid "$i"
	done
	is_nft_heal
	is_tgtd_stop
	(exit "$rc")
	ab_cleanup
}

# is_inspect_json [URL]: the journal on the LUN, as JSON (read-only look).
is_inspect_json()
{
	"$LIFEBOAT" journal inspect --json "${1:-$IS_BASE_URL}"
}

# is_status_field KEY: one value from the status file (python3 is needed anyway).
is_status()
{
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, d))' \
		"$AB_STATUS" "$1"
}

# is_wait_status EXPR SECONDS: until the python expression over the status holds.
is_wait_status()
{
	local i

	for ((i = 0; i < $2 * 10; i++)); do
		[[ "$(is_status "$1" 2>/dev/null)" == True ]] && return 0
		sleep 0.1
	done
	lb_fail "status: '$1' not true after $2 s: $(cat "$AB_STATUS" 2>/dev/null)"
}
