#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# passthrough.sh - lifeboatfs against the native store and two FUSE peers
#
# One interleaved run: round r measures native, lifeboatfs, bindfs, mergerfs
# in turn, then round r+1, ... so that drift of the machine hits every file
# system alike.  Each file system is mounted fresh at the start of its turn
# and unmounted at the end, on its own store directory under one private work
# dir (same disk for all).  Prints the median of each row and its ratio to
# native.  Needs root (mounts, /proc/sys/vm/drop_caches).
#
# Usage: contrib/bench/passthrough.sh [--rounds N] [--quick] [--markdown] ...
#        (see --help)

set -u -o pipefail
export LC_ALL=C

SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_ROOT=$(cd "$SELF_DIR/../.." && pwd)

ROUNDS=5
QUICK=0
MARKDOWN=0
BASEDIR=/tmp
FSLIST="native lifeboatfs bindfs mergerfs"
LBFS="$SRC_ROOT/build/fs/lifeboatfs"
LBFS_BASE=""
LB_OPTS=""
# Peers get the settings that give them their best fair performance for a
# mount that owns its store while mounted (the same assumption lifeboatfs
# makes): long entry/attr/negative timeouts, page cache kept across opens
# when mtime/size are unchanged, no writeback cache (lifeboatfs keeps it off).
BINDFS_OPTS="--no-allow-other --multithreaded --create-as-mounter -o big_writes,auto_cache,entry_timeout=3600,attr_timeout=3600,negative_timeout=3600"
MERGERFS_OPTS="-o cache.files=auto-full,cache.attr=3600,cache.entry=3600,cache.negative_entry=3600,cache.readdir=true,cache.symlinks=true,cache.statfs=3600,inodecalc=passthrough,category.create=ff,fsname=mergerfs-bench"
RAW=""
TRACE=0
SPREAD=0
KEEP=0
VERBOSE=0

usage() {
	cat <<EOF
usage: $0 [options]

Runs native, lifeboatfs, bindfs and mergerfs interleaved (round by round)
and prints medians and ratios to native.

  --rounds N          rounds (default $ROUNDS)
  --quick             small sizes (a smoke test, not a measurement)
  --markdown          also print the table as markdown (for the README)
  --fs "LIST"         file systems to run, in order (default: "$FSLIST")
  --dir DIR           where the private work dir goes (default $BASEDIR;
                      must be on the disk you want to measure)
  --lifeboatfs PATH   lifeboatfs binary (default build/fs/lifeboatfs)
  --lifeboatfs-opts S extra arguments for lifeboatfs (e.g. "-o foo")
  --baseline PATH     another lifeboatfs binary (say, built from the last
                      commit), run as file system "baseline" right after
                      lifeboatfs with the same options: a change measured
                      against its baseline in the same interleaved run
  --bindfs-opts S     replace bindfs arguments (default: $BINDFS_OPTS)
  --mergerfs-opts S   replace mergerfs arguments (default: $MERGERFS_OPTS)
  --raw FILE          write every measurement as TSV to FILE
  --spread            add the spread of the rounds to each cell, "~N%" =
                      (max - min) / median
  --trace             instead of timing, count per operation the FUSE
                      requests each daemon receives (by opcode) and the
                      system calls it makes (strace; small sizes, 1 round)
  --keep              keep the work dir (logs of the daemons)
  -v, --verbose       print every measurement as it is taken
EOF
}

while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=$2; shift ;;
	--rounds=*) ROUNDS=${1#*=} ;;
	--quick) QUICK=1 ;;
	--markdown) MARKDOWN=1 ;;
	--fs) FSLIST=$2; shift ;;
	--dir) BASEDIR=$2; shift ;;
	--lifeboatfs) LBFS=$2; shift ;;
	--lifeboatfs-opts) LB_OPTS=$2; shift ;;
	--baseline) LBFS_BASE=$2; shift ;;
	--bindfs-opts) BINDFS_OPTS=$2; shift ;;
	--mergerfs-opts) MERGERFS_OPTS=$2; shift ;;
	--raw) RAW=$2; shift ;;
	--trace) TRACE=1 ;;
	--spread) SPREAD=1 ;;
	--keep) KEEP=1 ;;
	-v|--verbose) VERBOSE=1 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

die() { echo "passthrough.sh: $*" >&2; exit 1; }
note() { echo "# $*" >&2; }

[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "--rounds wants a positive integer"
[ "$(id -u)" -eq 0 ] || die "must run as root (mounting, drop_caches)"
command -v cc >/dev/null || die "needs a C compiler (cc)"
command -v tar >/dev/null || die "needs tar"

if [ $QUICK -eq 1 ]; then
	SEQ_MIB=32; RR_OPS=500; RR_WARM_OPS=200000; RR_SEC=3
	RW_OPS=200; RW_SEC=3; META_N=2000; TREE_SRC=/usr/include/linux
else
	SEQ_MIB=256; RR_OPS=4000; RR_WARM_OPS=2000000; RR_SEC=10
	RW_OPS=2000; RW_SEC=10; META_N=20000; TREE_SRC=/usr/include
fi
[ -d "$TREE_SRC" ] || die "$TREE_SRC missing (install linux-libc-dev)"

if [ $TRACE -eq 1 ]; then
	command -v strace >/dev/null || die "--trace needs strace"
	SEQ_MIB=16; RR_OPS=200; RR_WARM_OPS=200; RR_SEC=60
	RW_OPS=50; RW_SEC=60; META_N=200; TREE_SRC=/usr/include/linux; ROUNDS=1
fi

NCPU=$(nproc)
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------- bookkeeping

W=""
declare -A DPID=()      # fs -> daemon pid while mounted
declare -A MNT=()       # fs -> mountpoint while mounted
declare -A RES=()       # "fs|row" -> "v1 v2 ..."
declare -A UNAVAIL=()   # fs -> reason
declare -A ERRS=()      # "fs|row" -> count of failed measurements
MAXLOAD=0

# shellcheck disable=SC2317  # invoked by trap
cleanup() {
	local fs
	for fs in "${!DPID[@]}"; do
		umount "${MNT[$fs]}" 2>/dev/null || umount -l "${MNT[$fs]}" 2>/dev/null
		kill "${DPID[$fs]}" 2>/dev/null
	done
	if [ -n "$W" ] && [ -d "$W" ]; then
		if [ $KEEP -eq 1 ]; then
			note "work dir kept: $W"
		else
			rm -rf --one-file-system "$W"
		fi
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rec() {	# fs row value
	RES["$1|$2"]+="$3 "
	[ -n "$RAW" ] && printf '%s\t%s\t%s\t%s\n' "$ROUND" "$1" "$2" "$3" >>"$RAW"
	[ $VERBOSE -eq 1 ] && note "round $ROUND $1 $2 = $3"
	return 0
}

fail() {	# fs row message
	ERRS["$1|$2"]=$(( ${ERRS["$1|$2"]:-0} + 1 ))
	note "round $ROUND $1 $2 FAILED: $3"
}

load1() { cut -d' ' -f1 /proc/loadavg; }

check_load() {
	local l
	l=$(load1)
	MAXLOAD=$(awk -v a="$MAXLOAD" -v b="$l" 'BEGIN { print (b > a) ? b : a }')
	if awk -v l="$l" -v n="$NCPU" 'BEGIN { exit !(l > 0.25 * n) }'; then
		note "WARNING: load average $l on $NCPU CPUs: the machine is busy, results will be noisy"
	fi
}

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# -------------------------------------------------------------------- mounts

is_mounted() { awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; }

start_fs() {	# fs -> sets TARGET; returns 1 if it cannot be mounted
	local fs=$1 store="$W/store-$1" mnt="$W/mnt-$1" log="$W/log-$1" pid i
	rm -rf --one-file-system "$store"
	mkdir -p "$store"
	if [ "$fs" = native ]; then
		TARGET=$store
		return 0
	fi
	mkdir -p "$mnt"
	case "$fs" in
	lifeboatfs)
		# shellcheck disable=SC2086
		"$LBFS" "$store" "$mnt" -f $LB_OPTS >>"$log" 2>&1 &
		;;
	baseline)
		# shellcheck disable=SC2086
		"$LBFS_BASE" "$store" "$mnt" -f $LB_OPTS >>"$log" 2>&1 &
		;;
	bindfs)
		# shellcheck disable=SC2086
		bindfs -f $BINDFS_OPTS "$store" "$mnt" >>"$log" 2>&1 &
		;;
	mergerfs)
		# shellcheck disable=SC2086
		mergerfs -f $MERGERFS_OPTS "$store" "$mnt" >>"$log" 2>&1 &
		;;
	*) die "unknown file system $fs" ;;
	esac
	pid=$!
	DPID[$fs]=$pid
	MNT[$fs]=$mnt
	for ((i = 0; i < 100; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			unset "DPID[$fs]"
			wait "$pid" 2>/dev/null
			note "$fs exited before mounting: $(tail -n 3 "$log" | tr '\n' ' ')"
			return 1
		fi
		is_mounted "$mnt" && break
		sleep 0.1
	done
	if ! is_mounted "$mnt"; then
		note "$fs did not mount within 10 s"
		stop_fs "$fs"
		return 1
	fi
	TARGET=$mnt
	return 0
}

daemon_cpu() {	# pid -> ticks (user+sys of all threads, live and exited)
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	echo $(( ${12} + ${13} ))
}

daemon_hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

stop_fs() {
	local fs=$1 pid mnt i
	[ "$fs" = native ] && return 0
	pid=${DPID[$fs]:-}
	mnt=${MNT[$fs]}
	[ -n "$pid" ] || return 0
	for ((i = 0; i < 50; i++)); do
		is_mounted "$mnt" || break
		umount "$mnt" 2>/dev/null && break
		sleep 0.2
	done
	if is_mounted "$mnt"; then
		note "$fs: $mnt busy, lazy unmount"
		umount -l "$mnt" 2>/dev/null
	fi
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		note "$fs (pid $pid) still running 10 s after unmount, killing it"
		kill "$pid" 2>/dev/null
		sleep 1
		kill -9 "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	unset "DPID[$fs]"
	return 0
}

# ------------------------------------------------------------------ measures

B=""	# helper binary

# m_rate fs row cmd...: the helper prints the figure
m_rate() {
	local fs=$1 row=$2 v
	shift 2
	if v=$(timeout 900 "$@" 2>"$W/err"); then
		rec "$fs" "$row" "$v"
	else
		fail "$fs" "$row" "$(head -c 300 "$W/err")"
	fi
}

# m_time fs row cmd...: wall seconds of a command
m_time() {
	local fs=$1 row=$2 t0 t1
	shift 2
	t0=$EPOCHREALTIME
	if timeout 900 "$@" >/dev/null 2>"$W/err"; then
		t1=$EPOCHREALTIME
		rec "$fs" "$row" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
	else
		fail "$fs" "$row" "$(head -c 300 "$W/err")"
	fi
}

run_round_fs() {
	local fs=$1 T cpu0 cpu1 pid hwm
	if ! start_fs "$fs"; then
		UNAVAIL[$fs]="did not mount (see $W/log-$fs with --keep)"
		return
	fi
	pid=${DPID[$fs]:-}
	[ -n "$pid" ] && cpu0=$(daemon_cpu "$pid")
	T="$TARGET/bench"
	if ! mkdir "$T"; then
		fail "$fs" all "mkdir $T"
		stop_fs "$fs"
		return
	fi

	# -- data
	sync
	m_rate "$fs" seqwrite "$B" seqwrite "$T/data" "$SEQ_MIB"
	if [ -f "$T/data" ]; then
		drop_caches
		m_rate "$fs" seqread_cold "$B" seqread "$T/data"
		m_rate "$fs" seqread_warm "$B" seqread "$T/data"
		drop_caches
		m_rate "$fs" randread_cold "$B" randread "$T/data" "$RR_OPS" "$RR_SEC" "$ROUND"
		"$B" seqread "$T/data" >/dev/null 2>&1	# make it all warm
		m_rate "$fs" randread_warm "$B" randread "$T/data" "$RR_WARM_OPS" "$RR_SEC" "$((ROUND + 1000))"
		m_rate "$fs" randwrite "$B" randwrite "$T/data" "$RW_OPS" "$RW_SEC" "$((ROUND + 2000))"
		# removed at the end of the round: freeing its blocks (discard,
		# journal) right before the metadata rows made them noisy
	fi

	# -- metadata
	mkdir "$T/meta"
	sync
	m_rate "$fs" create "$B" create "$T/meta" "$META_N"
	m_rate "$fs" stat "$B" stat "$T/meta" "$META_N"
	m_rate "$fs" unlink "$B" unlink "$T/meta" "$META_N"
	rm -rf "$T/meta"

	mkdir "$T/tree"
	sync
	m_time "$fs" untar tar -xf "$W/tree.tar" -C "$T/tree"
	m_time "$fs" du du -s "$T/tree"
	m_time "$fs" find find "$T/tree"
	m_time "$fs" rmrf rm -rf "$T/tree"
	rm -f "$T/data"

	if [ -n "$pid" ]; then
		cpu1=$(daemon_cpu "$pid")
		hwm=$(daemon_hwm_kb "$pid")
		rec "$fs" cpu "$(awk -v a="$cpu0" -v b="$cpu1" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')"
		[ -n "$hwm" ] && rec "$fs" rss "$(awk -v k="$hwm" 'BEGIN { printf "%.1f", k / 1024 }')"
	fi
	stop_fs "$fs"
	rm -rf --one-file-system "$W/store-$fs"
}


# ------------------------------------------------------------- trace mode

declare -A TRACED=()	# "fs|row" -> "requests|syscalls"

fuse_fds() {	# pid -> comma-separated fds open on /dev/fuse
	local f out=""
	for f in /proc/"$1"/fd/*; do
		[ "$(readlink "$f" 2>/dev/null)" = /dev/fuse ] && out+="${f##*/},"
	done
	echo "${out%,}"
}

# t_step fs row nops cmd...: run cmd with strace attached to the daemon
t_step() {
	local fs=$1 row=$2 nops=$3 pid out sp fds
	shift 3
	pid=${DPID[$fs]}
	out="$W/trace-$fs-$row"
	fds=$(fuse_fds "$pid")	# fusetrace.awk follows later clones itself
	strace -f -qq -s 8 -xx -o "$out" -p "$pid" 2>"$W/strace-err" &
	sp=$!
	sleep 1	# attach to every thread
	"$@" >/dev/null 2>"$W/err" || fail "$fs" "$row" "$(head -c 300 "$W/err")"
	sleep 0.5	# asynchronous RELEASE / FORGET
	kill -INT "$sp" 2>/dev/null
	wait "$sp" 2>/dev/null
	[ $VERBOSE -eq 1 ] && note "$fs $row: /dev/fuse fds $fds"
	if [ ! -s "$out" ]; then
		fail "$fs" "$row" "strace recorded nothing: $(head -c 300 "$W/strace-err")"
		return
	fi
	TRACED["$fs|$row"]="$(awk -v fds="$fds" -v nops="$nops" -v what=req -f "$SELF_DIR/fusetrace.awk" "$out")|$(awk -v fds="$fds" -v nops="$nops" -v what=sys -f "$SELF_DIR/fusetrace.awk" "$out")"
}

trace_fs() {
	local fs=$1 T
	[ "$fs" = native ] && return
	if ! start_fs "$fs"; then
		UNAVAIL[$fs]="did not mount (see $W/log-$fs with --keep)"
		return
	fi
	T="$TARGET/bench"
	mkdir "$T"
	t_step "$fs" seqwrite "$SEQ_MIB" "$B" seqwrite "$T/data" "$SEQ_MIB"
	drop_caches
	t_step "$fs" seqread_cold "$SEQ_MIB" "$B" seqread "$T/data"
	t_step "$fs" seqread_warm "$SEQ_MIB" "$B" seqread "$T/data"
	drop_caches
	t_step "$fs" randread_cold "$RR_OPS" "$B" randread "$T/data" "$RR_OPS" "$RR_SEC" 1
	"$B" seqread "$T/data" >/dev/null
	t_step "$fs" randread_warm "$RR_WARM_OPS" "$B" randread "$T/data" "$RR_WARM_OPS" "$RR_SEC" 2
	t_step "$fs" randwrite "$RW_OPS" "$B" randwrite "$T/data" "$RW_OPS" "$RW_SEC" 3
	rm -f "$T/data"
	mkdir "$T/meta"
	t_step "$fs" create "$META_N" "$B" create "$T/meta" "$META_N"
	t_step "$fs" stat "$META_N" "$B" stat "$T/meta" "$META_N"
	t_step "$fs" unlink "$META_N" "$B" unlink "$T/meta" "$META_N"
	mkdir "$T/tree"
	t_step "$fs" untar "$TREE_FILES" tar -xf "$W/tree.tar" -C "$T/tree"
	t_step "$fs" du "$TREE_FILES" du -s "$T/tree"
	t_step "$fs" find "$TREE_FILES" find "$T/tree"
	t_step "$fs" rmrf "$TREE_FILES" rm -rf "$T/tree"
	stop_fs "$fs"
}

report_trace() {
	local row fs per
	echo
	echo "# FUSE requests per operation (total: top opcodes) and daemon system calls per operation"
	echo "# (per MiB for seq rows, per I/O for rand rows, per file for metadata, per tree entry for tree rows)"
	for row in "${ROWS[@]}"; do
		[ "${KIND[$row]:-rate}" = info ] && continue
		echo "${LABEL[$row]}"
		for fs in "${SHOWN[@]}"; do
			[ "$fs" = native ] && continue
			per=${TRACED["$fs|$row"]:-}
			[ -n "$per" ] || continue
			printf '  %-11s requests %s\n' "$fs" "${per%%|*}"
			printf '  %-11s syscalls %s\n' "" "${per#*|}"
		done
	done
}

# ---------------------------------------------------------------------- setup

mkdir -p "$BASEDIR"
W=$(mktemp -d "$BASEDIR/lifeboat-bench.XXXXXX") || die "mktemp in $BASEDIR"
[ -n "$RAW" ] && printf 'round\tfs\trow\tvalue\n' >"$RAW"

cc -O2 -Wall -o "$W/lbbench" "$SELF_DIR/lbbench.c" || die "cannot compile lbbench.c"
B="$W/lbbench"
tar -C "$(dirname "$TREE_SRC")" -cf "$W/tree.tar" "$(basename "$TREE_SRC")" ||
	die "cannot tar $TREE_SRC"
TREE_FILES=$(tar -tf "$W/tree.tar" | wc -l)

if [ -n "$LBFS_BASE" ] && [[ " $FSLIST " != *" baseline "* ]]; then
	FSLIST=$(echo " $FSLIST " | sed 's/ lifeboatfs / lifeboatfs baseline /; s/^ //; s/ $//')
	[[ " $FSLIST " == *" baseline "* ]] || FSLIST+=" baseline"
fi
RUN_FS=()
for fs in $FSLIST; do
	case "$fs" in
	native) ;;
	lifeboatfs)
		if [ ! -x "$LBFS" ]; then
			UNAVAIL[$fs]="not built ($LBFS missing)"
			continue
		fi ;;
	baseline)
		if [ ! -x "$LBFS_BASE" ]; then
			UNAVAIL[$fs]="not built (--baseline '$LBFS_BASE' missing)"
			continue
		fi ;;
	bindfs|mergerfs)
		if ! command -v "$fs" >/dev/null; then
			UNAVAIL[$fs]="not installed (apt-get install $fs)"
			continue
		fi ;;
	*) die "unknown file system '$fs' (native lifeboatfs baseline bindfs mergerfs)" ;;
	esac
	RUN_FS+=("$fs")
done
for fs in "${!UNAVAIL[@]}"; do note "skipping $fs: ${UNAVAIL[$fs]}"; done

avail_kb=$(df -Pk "$W" | awk 'NR == 2 { print $4 }')
need_kb=$(( (SEQ_MIB * 1024 + 400 * 1024) * 2 ))
[ "$avail_kb" -gt "$need_kb" ] || die "not enough space in $BASEDIR (${avail_kb} KiB free)"

cat <<EOF
# lifeboat passthrough benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')
# host: $(uname -r), $NCPU CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), store on $(findmnt -n -o SOURCE,FSTYPE --target "$W" | tr -s ' ')
# rounds: $ROUNDS$([ $QUICK -eq 1 ] && echo " (--quick sizes: smoke test, not a measurement)"); interleaved: ${RUN_FS[*]}
# seq: ${SEQ_MIB} MiB file in 1 MiB I/Os; rand: 4 KiB QD1 ${RR_OPS} cold / ${RR_WARM_OPS} warm reads, ${RW_OPS} writes (each capped at ${RR_SEC} s)
# metadata: ${META_N} empty files in one dir; tree: $TREE_SRC ($TREE_FILES entries)
# lifeboatfs: $LBFS $LB_OPTS ($(git -C "$SRC_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))$([ -n "$LBFS_BASE" ] && printf '\n# baseline: %s' "$LBFS_BASE")
# bindfs $(bindfs --version 2>/dev/null | awk '{ print $2; exit }'): $BINDFS_OPTS
# mergerfs $(mergerfs --version 2>/dev/null | awk '{ print $3; exit }'): $MERGERFS_OPTS
# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)
EOF
check_load

# ---------------------------------------------------------------------- run

ROUND=1
if [ $TRACE -eq 1 ]; then
	for fs in "${RUN_FS[@]}"; do
		trace_fs "$fs"
	done
	ROUNDS=0
fi
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
	check_load
	note "round $ROUND/$ROUNDS"
	for fs in "${RUN_FS[@]}"; do
		[ -n "${UNAVAIL[$fs]:-}" ] && continue
		run_round_fs "$fs"
	done
done

# ------------------------------------------------------------------- report

ROWS=(seqwrite seqread_cold seqread_warm randread_cold randread_warm randwrite
      create stat unlink untar du find rmrf cpu rss)
declare -A LABEL=(
	[seqwrite]="seq write 1M + fsync"
	[seqread_cold]="seq read 1M, cold"
	[seqread_warm]="seq read 1M, warm"
	[randread_cold]="rand read 4K QD1, cold"
	[randread_warm]="rand read 4K QD1, warm"
	[randwrite]="rand write 4K + fdatasync"
	[create]="create (open O_CREAT+close)"
	[stat]="stat, warm"
	[unlink]="unlink"
	[untar]="untar $(basename "$TREE_SRC")"
	[du]="du -s tree"
	[find]="find tree"
	[rmrf]="rm -rf tree"
	[cpu]="daemon CPU user+sys/round"
	[rss]="daemon peak RSS (VmHWM)"
)
declare -A UNIT=(
	[seqwrite]=MB/s [seqread_cold]=MB/s [seqread_warm]=MB/s
	[randread_cold]=IOPS [randread_warm]=IOPS [randwrite]=IOPS
	[create]=files/s [stat]=files/s [unlink]=files/s
	[untar]=s [du]=s [find]=s [rmrf]=s [cpu]=s [rss]=MiB
)
# rate: higher is better; time: lower is better; info: no ratio
declare -A KIND=(
	[untar]=time [du]=time [find]=time [rmrf]=time [cpu]=info [rss]=info
)

median() {	# values... -> median
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2];
		      else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

fmt() {	# row value
	case "${UNIT[$1]}" in
	s) awk -v v="$2" 'BEGIN { printf (v < 10 ? "%.3f" : "%.1f"), v }' ;;
	MiB) awk -v v="$2" 'BEGIN { printf "%.1f", v }' ;;
	*) awk -v v="$2" 'BEGIN { printf (v < 100 ? "%.1f" : "%.0f"), v }' ;;
	esac
}

COLS=(native lifeboatfs baseline bindfs mergerfs)
SHOWN=()
for c in "${COLS[@]}"; do
	for fs in $FSLIST; do [ "$fs" = "$c" ] && SHOWN+=("$c"); done
done

# cell fs row -> "value (ratio)" or "-"; sets CELL
cell() {
	local fs=$1 row=$2 vals m n r
	vals=${RES["$fs|$row"]:-}
	if [ -z "$vals" ]; then
		if [ -n "${UNAVAIL[$fs]:-}" ]; then CELL="n/a"
		elif [ -n "${ERRS["$fs|$row"]:-}" ]; then CELL="FAIL"
		else CELL="-"; fi
		return
	fi
	# shellcheck disable=SC2086
	m=$(median $vals)
	CELL=$(fmt "$row" "$m")
	if [ $SPREAD -eq 1 ]; then
		# shellcheck disable=SC2086
		CELL+=$(printf '%s\n' $vals | sort -g | awk -v m="$m" 'NR == 1 { lo = $1 } { hi = $1 }
			END { if (m > 0) printf " ~%.0f%%", 100 * (hi - lo) / m }')
	fi
	[ -n "${ERRS["$fs|$row"]:-}" ] && CELL+="!"
	if [ "$fs" != native ] && [ "${KIND[$row]:-rate}" != info ]; then
		n=${RES["native|$row"]:-}
		if [ -n "$n" ]; then
			# shellcheck disable=SC2086
			n=$(median $n)
			if [ "${KIND[$row]:-rate}" = time ]; then
				r=$(awk -v a="$n" -v b="$m" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }')
			else
				r=$(awk -v a="$n" -v b="$m" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "inf" }')
			fi
			CELL+=" ($r)"
		fi
	fi
}

if [ $TRACE -eq 1 ]; then
	report_trace
	for fs in "${!UNAVAIL[@]}"; do echo "# $fs: ${UNAVAIL[$fs]}"; done
	exit 0
fi

echo
echo "# medians of $ROUNDS round(s); (x.xx) = speed relative to native: fs/native for rates, native/fs for times; 1.00 = native, <1 = slower"
printf '%-28s %-8s' "row" "unit"
W_CELL=18
[ $SPREAD -eq 1 ] && W_CELL=24
for fs in "${SHOWN[@]}"; do printf ' %*s' $W_CELL "$fs"; done
echo
for row in "${ROWS[@]}"; do
	printf '%-28s %-8s' "${LABEL[$row]}" "${UNIT[$row]}"
	for fs in "${SHOWN[@]}"; do
		cell "$fs" "$row"
		printf ' %*s' $W_CELL "$CELL"
	done
	echo
done

if [ $MARKDOWN -eq 1 ]; then
	echo
	printf '| %s | %s |' "row" "unit"
	for fs in "${SHOWN[@]}"; do printf ' %s |' "$fs"; done
	echo
	printf '| --- | --- |'
	for fs in "${SHOWN[@]}"; do printf ' ---: |'; done
	echo
	for row in "${ROWS[@]}"; do
		printf '| %s | %s |' "${LABEL[$row]}" "${UNIT[$row]}"
		for fs in "${SHOWN[@]}"; do
			cell "$fs" "$row"
			printf ' %s |' "$CELL"
		done
		echo
	done
	echo
	echo "Medians of $ROUNDS interleaved rounds; in parentheses, speed relative to native (1.00 = native)."
fi

echo
for fs in "${!UNAVAIL[@]}"; do echo "# $fs: ${UNAVAIL[$fs]}"; done
[ ${#ERRS[@]} -gt 0 ] && echo "# FAIL / '!': some measurements failed (messages above)"
echo "# max load average seen at round starts: $MAXLOAD on $NCPU CPUs$(awk -v l="$MAXLOAD" -v n="$NCPU" 'BEGIN { if (l > 0.25 * n) printf " - BUSY MACHINE, treat figures with care" }')"
exit 0
