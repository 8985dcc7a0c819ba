# SPDX-License-Identifier: GPL-2.0-or-later
# lib-handoff.sh - two lifeboat nodes on one machine, for the handoff tests
# (tests/handoff/e2e.sh) and the benchmark (contrib/bench/handoff.sh).
#
#   host:  $HO_W/store (the shared store) --faultfs--> $HO_W/faulty (A's path)
#   node a: netns lbh-a-PID + its own mount namespace:
#           lifeboatfs $HO_W/faulty -> $HO_W/mnt, lifeboatd (10.R.S.1)
#   node b: netns lbh-b-PID + its own mount namespace:
#           lifeboatfs $HO_W/store  -> $HO_W/mnt, lifeboatd (10.R.S.2)
#   netns lbh-c-PID holds a bridge joining a's and b's veths (10.R.S.0/24)
#   and the clients of an app's service address.
#
# Why a mount namespace per node: both nodes mount the store at the same
# path (CRIU reopens every file by path at restore and checks its size, so
# the app must find its files at the same path on B), and two mounts at one
# path in one namespace would stack, the later hiding the earlier. Each node
# is entered with setns(2) into its network namespace (nsenter --net) and
# unshare --mount --propagation slave: the node sees host mounts (the
# faultfs of A, /sys/fs/cgroup, /sys/fs/fuse/connections) but its own
# lifeboatfs mount stays private to it. `ip netns exec` is not used: it also
# remounts /sys, which would hide the cgroup v1 hierarchies. lifeboatd runs
# inside the node's namespaces, so the apps it starts and restores (and
# CRIU) live there too.
#
# Both nodes use one cgroup parent: they share this kernel's cgroup tree, and
# CRIU restores the app into the cgroup it was dumped from, which must then
# be the one lifeboatd on b knows for it (on two machines the same
# cgroup_parent on both nodes gives the same).
#
# Every name is unique per run (netns, veth, cgroups, work dir); ho_cleanup
# (the EXIT trap) stops the nodes, the apps, faultfs and removes the
# namespaces, also on failure; the work dir is kept when the test failed.

HO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HO_BUILD=${HO_BUILD:-$HO_DIR/../../build}
HO_CRIU=${LIFEBOAT_CRIU:-/usr/local/lib/lifeboat/criu/sbin/criu}
HO_TAG=$$
HO_NODES=(a b)
HO_OK=0
HO_NODE_PIDS=()
HO_FAULTFS_PID=
HO_PSK=

ho_log()
{
	echo "# $*" >&2
}

ho_fail()
{
	echo "FAIL: $*" >&2
	exit 1
}

ho_skip()
{
	echo "SKIP: $*" >&2
	exit 77
}

# ho_bin NAME ENVVAR RELPATH: the built binary, from meson's env or the build dir.
ho_bin()
{
	local p=${!2:-$HO_BUILD/$3}

	[[ -x "$p" ]] || ho_fail "$1 not built at '$p' (set $2)"
	realpath "$p"
}

ho_init()
{
	local name=$1

	((EUID == 0)) || ho_skip "needs root (network namespaces, FUSE, CRIU)"
	[[ -c /dev/fuse ]] || ho_skip "no /dev/fuse"
	for t in ip nsenter unshare python3 fusermount3 findmnt; do
		command -v "$t" >/dev/null || ho_skip "'$t' is not installed"
	done
	[[ -x "$HO_CRIU" ]] || ho_skip "CRIU not installed at '$HO_CRIU' (contrib/install-criu.sh)"
	[[ -d /sys/fs/cgroup/freezer ]] || ho_skip "no cgroup v1 freezer at /sys/fs/cgroup/freezer"
	LIFEBOATFS=$(ho_bin lifeboatfs LIFEBOATFS fs/lifeboatfs) || exit 1
	LIFEBOATD=$(ho_bin lifeboatd LIFEBOATD daemon/lifeboatd) || exit 1
	LIFEBOAT=$(ho_bin lifeboat LIFEBOAT daemon/lifeboat) || exit 1
	FAULTFS=$(ho_bin faultfs FAULTFS tests/faultfs/faultfs) || exit 1
	FAULTCTL=$(ho_bin faultctl FAULTCTL tests/faultfs/faultctl) || exit 1
	ip netns add "lbh-probe-$HO_TAG" 2>/dev/null || ho_skip "cannot create network namespaces"
	ip netns del "lbh-probe-$HO_TAG"
	HO_W=$(mktemp -d "/tmp/lifeboat-handoff-$name.XXXXXX")
	chmod 755 "$HO_W"
	mkdir -p "$HO_W/store" "$HO_W/faulty" "$HO_W/mnt" "$HO_W/log"
	# images are transient: on tmpfs, away from the syncfs that lifeboatfs
	# runs on a local store's file system (here the one of /tmp)
	HO_STATE=$(mktemp -d "/dev/shm/lifeboat-handoff-$name.XXXXXX")
	HO_PSK=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
	# 10.R.S.0/24, R and S from our PID: two runs at once do not share it
	HO_NET="10.$((200 + HO_TAG % 50)).$(((HO_TAG / 50) % 250))"
	trap ho_cleanup EXIT
}

# a and b: the nodes; c: the client side (and the bridge joining them);
# s: the service address that moves with an app
ho_ip()
{
	case $1 in
	a) echo "$HO_NET.1" ;;
	b) echo "$HO_NET.2" ;;
	c) echo "$HO_NET.3" ;;
	s) echo "$HO_NET.100" ;;
	esac
}

ho_netns()
{
	echo "lbh-$1-$HO_TAG"
}

ho_net_up()
{
	local br="lbhbr$HO_TAG" n v

	for n in a b c; do
		ip netns add "$(ho_netns $n)" || ho_fail "cannot create netns '$(ho_netns $n)'"
		ip -n "$(ho_netns $n)" link set lo up
	done
	ip -n "$(ho_netns c)" link add "$br" type bridge || ho_fail "cannot create bridge '$br'"
	for n in a b; do
		v="lbh$n$HO_TAG"
		ip link add "$v" type veth peer name "lbh${n}c$HO_TAG" || ho_fail "cannot create veth '$v'"
		ip link set "$v" netns "$(ho_netns $n)"
		ip link set "lbh${n}c$HO_TAG" netns "$(ho_netns c)"
		ip -n "$(ho_netns c)" link set "lbh${n}c$HO_TAG" master "$br" up
		ip -n "$(ho_netns $n)" addr add "$(ho_ip $n)/24" dev "$v"
		ip -n "$(ho_netns $n)" link set "$v" up
	done
	ip -n "$(ho_netns c)" addr add "$(ho_ip c)/24" dev "$br"
	ip -n "$(ho_netns c)" link set "$br" up
}

# A's path to the store goes through faultfs, in the host namespace (the
# nodes see it by propagation).
ho_faultfs_up()
{
	"$FAULTFS" "$HO_W/store" "$HO_W/faulty" --ctl "$HO_W/faultfs.ctl" -f -o allow_other \
		</dev/null >"$HO_W/log/faultfs.log" 2>&1 &
	HO_FAULTFS_PID=$!
	for ((i = 0; i < 100; i++)); do
		[[ "$(findmnt -n -o FSTYPE --mountpoint "$HO_W/faulty" | tail -n 1)" == fuse* ]] && return 0
		sleep 0.05
	done
	ho_fail "faultfs did not mount '$HO_W/faulty'"
}

# ho_iscsi_up: a tgtd of our own in netns c with two portals (10.R.S.3:3260
# and 10.R.S.4:3261, the journal's), LUN 1 for a's journal and LUN 2 for
# b's; each node logs in as its own initiator (LIFEBOAT_ISCSI_INITIATOR for
# lifeboatd, ?initiator= for its lifeboatfs). Sets HO_JOURNAL_a/_b.
ho_iscsi_up()
{
	local c=$(ho_netns c) n

	command -v tgtd >/dev/null && command -v tgtadm >/dev/null ||
		ho_skip "tgtd/tgtadm not installed (Debian package tgt)"
	# tgtd's control port names its unix socket; tgtd takes at most 32767,
	# the iSCSI tests use 20000-26000
	for ((HO_TGT_CTL = 26500 + HO_TAG % 6000; HO_TGT_CTL < 32768; HO_TGT_CTL++)); do
		[[ -e "/var/run/tgtd/socket.$HO_TGT_CTL" ]] || break
	done
	HO_IQN="iqn.2026-11.io.lifeboat.test:handoff-$HO_TAG"
	ip -n "$c" addr add "$HO_NET.4/24" dev "lbhbr$HO_TAG"
	truncate -s 64M "$HO_W/lun1.img" "$HO_W/lun2.img"
	nsenter --net="/run/netns/$c" tgtd -f -C "$HO_TGT_CTL" --iscsi "portal=$(ho_ip c):3260" \
		</dev/null >"$HO_W/log/tgtd.log" 2>&1 &
	HO_TGTD_PID=$!
	for ((i = 0; i < 100; i++)); do
		ho_tgtadm --op show --mode sys >/dev/null 2>&1 && break
		sleep 0.05
	done
	ho_tgtadm --op new --mode portal --param "portal=$HO_NET.4:3261" &&
		ho_tgtadm --op new --mode target --tid 1 -T "$HO_IQN" &&
		ho_tgtadm --op new --mode logicalunit --tid 1 --lun 1 -b "$HO_W/lun1.img" &&
		ho_tgtadm --op new --mode logicalunit --tid 1 --lun 2 -b "$HO_W/lun2.img" &&
		ho_tgtadm --op bind --mode target --tid 1 -I ALL ||
		ho_fail "cannot set up the iSCSI target (tgtadm -C $HO_TGT_CTL)"
	for n in a b; do
		eval "HO_INITIATOR_$n=iqn.2026-11.io.lifeboat.test:handoff-$n-$HO_TAG"
	done
	HO_JOURNAL_a="iscsi://$HO_NET.4:3261/$HO_IQN/1?initiator=$HO_INITIATOR_a&timeout=20"
	HO_JOURNAL_b="iscsi://$HO_NET.4:3261/$HO_IQN/2?initiator=$HO_INITIATOR_b&timeout=20"
}

ho_tgtadm()
{
	tgtadm -C "$HO_TGT_CTL" --lld iscsi "$@"
}

ho_iscsi_down()
{
	[[ -n "${HO_TGTD_PID:-}" ]] || return 0
	ho_tgtadm --op delete --mode target --tid 1 --force >/dev/null 2>&1
	ho_tgtadm --op delete --mode system >/dev/null 2>&1
	for ((i = 0; i < 50; i++)); do
		kill -0 "$HO_TGTD_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$HO_TGTD_PID" 2>/dev/null
	wait "$HO_TGTD_PID" 2>/dev/null
	rm -f "/var/run/tgtd/socket.$HO_TGT_CTL" "/var/run/tgtd/socket.$HO_TGT_CTL.lock"
}

# ho_journal NODE: the node's journal (file, or iSCSI after ho_iscsi_up).
ho_journal()
{
	local v="HO_JOURNAL_$1"

	echo "${!v:-$HO_W/$1.journal}"
}

ho_faultctl()
{
	"$FAULTCTL" "$HO_W/faultfs.ctl" "$@"
}

ho_config()
{
	local n=$1 peer=$2 store=$3

	mkdir -p "$HO_W/$n" "$HO_STATE/$n"
	cat >"$HO_W/$n/lifeboat.conf" <<EOF
[node]
name = $n
listen = $(ho_ip "$n"):7447
control_socket = $HO_W/$n/control.sock
state_dir = $HO_STATE/$n
log_dir = $HO_W/log
cgroup_parent = lbh-$HO_TAG
criu_timeout = 60
criu_log_level = 2

[peer $peer]
address = $(ho_ip "$peer"):7447
psk = ${HO_PSK_OVERRIDE:-$HO_PSK}

[mount data]
path = ${HO_MOUNT_CONF:-$HO_W/mnt}
store = $store
journal = $(ho_journal_conf "$n")
status = $HO_W/$n/status.json
EOF
}

ho_journal_conf()
{
	local j

	j=$(ho_journal "$1")
	[[ $j == iscsi://* ]] && echo "$j" || echo "file://$j"
}

# ho_node_start NODE PEER STORE: the node's namespaces, lifeboatfs, lifeboatd.
ho_node_start()
{
	local n=$1 peer=$2 store=$3 opts

	ho_config "$n" "$peer" "$store"
	# lifeboatfs's long kernel cache timeouts stay: they keep a dump on an
	# absorbing node from asking the failed store; the receiving node drops
	# its stale entries before a restore (handoff_drop_kernel_caches)
	opts="allow_other,default_permissions,journal=$(ho_journal "$n"),status=$HO_W/$n/status.json"
	opts+=",flush_interval=0.5,hold=60"
	local v="HO_INITIATOR_$n" x="HO_FS_OPTS_$n"
	opts+=${!x:+,${!x}}	# more options of this node's lifeboatfs (altread.sh)

	env ${!v:+LIFEBOAT_ISCSI_INITIATOR=${!v}} \
	nsenter --net="/run/netns/$(ho_netns "$n")" -- unshare --mount --propagation slave -- \
		bash -c '
		n=$1 store=$2 mnt=$3 opts=$4 w=$5 LIFEBOATFS=$6 LIFEBOATD=$7
		"$LIFEBOATFS" "$store" "$mnt" -f -o "$opts" </dev/null >"$w/log/lifeboatfs-$n.log" 2>&1 &
		fs=$!
		for ((i = 0; i < 100; i++)); do
			[[ "$(findmnt -n -o FSTYPE --mountpoint "$mnt" | tail -n 1)" == fuse.lifeboatfs ]] && break
			sleep 0.05
		done
		"$LIFEBOATD" -c "$w/$n/lifeboat.conf" </dev/null >"$w/log/lifeboatd-$n.log" 2>&1 &
		d=$!
		trap "kill -TERM $d 2>/dev/null; wait $d; fusermount3 -u -z \"$mnt\"; wait $fs; exit 0" TERM INT
		wait $d
		fusermount3 -u -z "$mnt"
		wait $fs' node "$n" "$store" "$HO_W/mnt" "$opts" "$HO_W" "$LIFEBOATFS" "$LIFEBOATD" &
	HO_NODE_PIDS+=("$!")
	eval "HO_NODE_PID_$n=$!"
	for ((i = 0; i < 100; i++)); do
		ho_lb "$n" ping >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	tail -n 20 "$HO_W/log/lifeboatd-$n.log" "$HO_W/log/lifeboatfs-$n.log" >&2
	ho_fail "node $n did not come up"
}

ho_lb()
{
	local n=$1

	shift
	LIFEBOAT_SOCKET="$HO_W/$n/control.sock" "$LIFEBOAT" "$@"
}

# ho_app_pid NODE APP: the init pid of APP if it runs on NODE, else nothing.
ho_app_pid()
{
	ho_lb "$1" ps --json 2>/dev/null | python3 -c '
import json, sys
for p in json.load(sys.stdin).get("procsets", []):
    if p.get("name") == sys.argv[1] and p.get("state") == "running":
        print(p.get("pid"))' "$2"
}

# ho_acks: acknowledged records so far.
ho_acks()
{
	[[ -f "$HO_W/ack" ]] && wc -l <"$HO_W/ack" || echo 0
}

ho_wait_acks_grow()
{
	local before=$1 now

	for ((i = 0; i < 50; i++)); do
		now=$(ho_acks)
		((now > before + 20)) && return 0
		sleep 0.1
	done
	return 1
}

ho_thaw_cgroups()
{
	local d

	for d in /sys/fs/cgroup/freezer/"lbh-$HO_TAG"; do
		[[ -d "$d" ]] && find "$d" -name freezer.state -exec sh -c 'echo THAWED >"$1"' _ {} \;
	done
}

# Processes left in our cgroups: none may survive the test.
ho_kill_cgroups()
{
	local d

	ho_thaw_cgroups
	for d in /sys/fs/cgroup/*/"lbh-$HO_TAG"; do
		[[ -d "$d" ]] || continue
		find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	done
	sleep 0.2
	for d in /sys/fs/cgroup/*/"lbh-$HO_TAG"; do
		[[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
}

ho_cleanup()
{
	local rc=$? p n

	for p in "${HO_NODE_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${HO_NODE_PIDS[@]}"; do
		for ((i = 0; i < 50; i++)); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
	done
	# what is left in a node's network namespace is ours: the node's shell,
	# lifeboatd, lifeboatfs, CRIU, the apps (thawed first, or SIGKILL waits)
	ho_thaw_cgroups
	for n in a b c; do
		ip netns pids "$(ho_netns $n)" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	done
	for p in "${HO_NODE_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	ho_kill_cgroups
	ho_iscsi_down
	if [[ -n "$HO_FAULTFS_PID" ]]; then
		"$FAULTCTL" "$HO_W/faultfs.ctl" heal >/dev/null 2>&1
		fusermount3 -u -z "$HO_W/faulty" 2>/dev/null
		kill "$HO_FAULTFS_PID" 2>/dev/null
		wait "$HO_FAULTFS_PID" 2>/dev/null
	fi
	declare -F ho_test_cleanup >/dev/null && ho_test_cleanup	# a test's own mounts
	for n in a b c; do
		ip netns del "$(ho_netns $n)" 2>/dev/null
	done
	[[ -n "${HO_STATE:-}" ]] && rm -rf "$HO_STATE"
	if ((rc == 0 && HO_OK)); then
		rm -rf "$HO_W"
	elif [[ -n "${HO_W:-}" ]]; then
		echo "# work dir kept: $HO_W" >&2
		for f in "$HO_W"/log/lifeboatd-*.log "$HO_W"/log/*.stderr; do
			[[ -f "$f" ]] && { echo "# --- $f" >&2; tail -n 25 "$f" >&2; }
		done
	fi
	exit "$rc"
}
