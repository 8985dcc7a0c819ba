#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# altread.sh - the alternate read path (two nodes as in lib-handoff.sh; a's
# lifeboatfs with -o alt_read=<a's state_dir>/altread.sock):
#   a process on a opens a file while a's path is healthy; a's path then
#   fails (EIO) and it reads regions it never read before: each read is
#   answered within a second with the store's bytes, read through b;
#   a file b cannot find (renamed in the store), or whose name leads to
#   another inode on b, is not answered by b: that read waits for a's path
#   as without the option, and completes with the right bytes once the
#   path is back;
#   while b's own path fails too, b refuses at once (its lifeboatd stays
#   free for other work) and a's read waits for a's path;
#   requests b must refuse ("..", a symlink) and one a refuses itself (a
#   directory that is not a configured mount) are answered with an error.
set -u
source "$(dirname "$0")/lib-handoff.sh"

MIB=$((1 << 20))

sha_of() # FILE OFF LEN
{
	dd if="$1" bs=64K iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none | sha256sum | cut -d' ' -f1
}

ho_init altread
ho_net_up
mkdir -p "$HO_W/store"
head -c $((8 * MIB)) /dev/urandom >"$HO_W/store/big"
head -c $((2 * MIB)) /dev/urandom >"$HO_W/store/moved"
head -c $((2 * MIB)) /dev/urandom >"$HO_W/store/swapped"
head -c $((2 * MIB)) /dev/urandom >"$HO_W/other"
ln -s big "$HO_W/store/link"
ho_faultfs_up
# b's path through a faultfs of its own, to fail it too at the end
ho_test_cleanup()
{
	[[ -n "${FB_PID:-}" ]] || return 0
	"$FAULTCTL" "$HO_W/faultfs-b.ctl" heal >/dev/null 2>&1
	fusermount3 -u -z "$HO_W/faulty-b" 2>/dev/null
	kill "$FB_PID" 2>/dev/null
	wait "$FB_PID" 2>/dev/null
}
mkdir -p "$HO_W/faulty-b"
"$FAULTFS" "$HO_W/store" "$HO_W/faulty-b" --ctl "$HO_W/faultfs-b.ctl" -f -o allow_other \
	</dev/null >"$HO_W/log/faultfs-b.log" 2>&1 &
FB_PID=$!
for ((i = 0; i < 100; i++)); do
	[[ "$(findmnt -n -o FSTYPE --mountpoint "$HO_W/faulty-b" | tail -n 1)" == fuse* ]] && break
	sleep 0.05
done
HO_FS_OPTS_a="alt_read=$HO_STATE/a/altread.sock"
# the nodes' config names the mount through a symlink; lifeboatfs names it
# by its real path: lifeboatd on a must still find it (and b, by its name)
ln -s mnt "$HO_W/mnt-link"
HO_MOUNT_CONF=$HO_W/mnt-link
ho_node_start a b "$HO_W/faulty"
ho_node_start b a "$HO_W/faulty-b"
for ((i = 0; i < 50; i++)); do
	[[ -S "$HO_STATE/a/altread.sock" ]] && break
	sleep 0.1
done
[[ -S "$HO_STATE/a/altread.sock" ]] || ho_fail "lifeboatd on a has no alternate read socket"

nsa() { nsenter -t "$HO_NODE_PID_a" -m -n -- "$@"; }
nsb() { nsenter -t "$HO_NODE_PID_b" -m -n -- "$@"; }

# reader NAME FILE OFF LEN...: a process on a, output in $HO_W/NAME.out
reader()
{
	local name=$1

	shift
	nsa python3 "$HO_DIR/altread.py" reader "$HO_W/$name.go" "$@" >"$HO_W/$name.out" 2>&1 &
	for ((i = 0; i < 100; i++)); do
		[[ "$(head -n 1 "$HO_W/$name.out")" == open ]] && return 0
		sleep 0.1
	done
	cat "$HO_W/$name.out" >&2
	ho_fail "reader $name on a did not open its file"
}

# line_of NAME N SECONDS: line N (from 2) of NAME's output, waiting up to SECONDS
line_of()
{
	local name=$1 n=$2 s=$3

	for ((i = 0; i < s * 10; i++)); do
		sed -n "${n}p" "$HO_W/$name.out" | grep . && return 0
		sleep 0.1
	done
	return 1
}

reader fresh "$HO_W/mnt/big" $((4 * MIB)) $MIB $((6 * MIB)) 65536 $((8 * MIB - 1000)) 4096
reader held "$HO_W/mnt/moved" $MIB 65536
reader swap "$HO_W/mnt/swapped" $MIB 65536
reader both "$HO_W/mnt/big" $((2 * MIB)) 65536

ho_log "a's path fails (EIO)"
ho_faultctl fail EIO >/dev/null || ho_fail "faultctl fail"
touch "$HO_W/fresh.go"
n=2
for want in "$((4 * MIB)) $MIB" "$((6 * MIB)) 65536" "$((8 * MIB - 1000)) 1000"; do
	read -r off len sha ms < <(line_of fresh $n 20) || ho_fail "a read on a was not answered"
	((n++))
	set -- $want
	[[ $off == "$1" && $len == "$2" ]] || ho_fail "read at $off: $len bytes, expected $2 at $1"
	[[ $sha == "$(sha_of "$HO_W/store/big" "$1" "$2")" ]] || ho_fail "read at $off: wrong bytes"
	ms_int=${ms%.*}
	((ms_int < 1000)) || ho_fail "read at $off took $ms ms (not through b?)"
	ho_log "read of $len bytes at $off answered through b in $ms ms"
done
grep -q "store path failed: absorbing" "$HO_W/log/lifeboatfs-a.log" ||
	ho_fail "a's lifeboatfs did not absorb: the reads did not test the alternate path"

# b does not know the old name: no answer, the read holds as before
mv "$HO_W/store/moved" "$HO_W/store/moved2"
touch "$HO_W/held.go"
if line=$(line_of held 2 3); then
	ho_fail "a read b cannot answer did not wait for the path: $line"
fi
grep -q "not answered by the peer: holding" "$HO_W/log/lifeboatfs-a.log" ||
	ho_fail "a's lifeboatfs does not say the peer did not answer"
ho_log "a read b cannot answer waits for a's path"

# the name is another file in the store now: b must not answer with its bytes
mv "$HO_W/store/swapped" "$HO_W/store/swapped.orig"
cp "$HO_W/other" "$HO_W/store/swapped"
touch "$HO_W/swap.go"
if line=$(line_of swap 2 3); then
	ho_fail "a read of a file whose name leads to another inode on b was answered: $line"
fi
grep -q "asks to read 'swapped' .*Stale file handle" "$HO_W/log/lifeboatd-b.log" ||
	ho_fail "b does not refuse a name that leads to another file"
ho_log "a read whose name leads to another file on b waits for a's path"

# refusals
ask() { python3 "$HO_DIR/altread.py" ask "$HO_STATE/a/altread.sock" "$@"; }
out=$(ask "$HO_W/mnt" "../store/big") || ho_fail "ask .. failed"
[[ $out == err=1\ * ]] || ho_fail "a path with .. was not refused with EPERM: $out"
out=$(ask "$HO_W/mnt" "link") || ho_fail "ask link failed"
[[ $out == err=40\ * ]] || ho_fail "a symlink was not refused with ELOOP: $out"
out=$(ask "$HO_W" "store/big") || ho_fail "ask outside failed"
[[ $out == err=1\ * ]] || ho_fail "a directory that is not a mount was not refused: $out"
out=$(ask "$HO_W/mnt" "big") || ho_fail "ask big failed"
[[ $out == "err=0 len=4096" ]] || ho_fail "a plain request was not answered: $out"
grep -q "asks to read a path with '..'" "$HO_W/log/lifeboatd-b.log" ||
	ho_fail "b does not log the refusal of '..'"
ho_log "refused: '..', a symlink, a directory that is not a mount"

# b's path fails too: b refuses at once instead of holding its only thread
"$FAULTCTL" "$HO_W/faultfs-b.ctl" fail EIO >/dev/null || ho_fail "faultctl fail (b)"
nsb dd if="$HO_W/mnt/big" of=/dev/null bs=4096 skip=$((3 * MIB / 4096)) count=1 status=none &
for ((i = 0; i < 100; i++)); do
	grep -q '"state": *"absorbing"' "$HO_W/b/status.json" 2>/dev/null && break
	sleep 0.1
done
grep -q '"state": *"absorbing"' "$HO_W/b/status.json" || ho_fail "b's lifeboatfs does not absorb"
touch "$HO_W/both.go"
if line=$(line_of both 2 3); then
	ho_fail "a read was answered while both paths fail: $line"
fi
grep -q "whose path fails here too" "$HO_W/log/lifeboatd-b.log" ||
	ho_fail "b does not refuse a read of a mount that absorbs"
timeout 2 bash -c 'LIFEBOAT_SOCKET="$1" "$2" ping' _ "$HO_W/b/control.sock" "$LIFEBOAT" >/dev/null ||
	ho_fail "b's lifeboatd does not answer while its path fails"
"$FAULTCTL" "$HO_W/faultfs-b.ctl" heal >/dev/null || ho_fail "faultctl heal (b)"
ho_log "with b's path failed too, b refuses at once and a's read waits"

mv "$HO_W/store/moved2" "$HO_W/store/moved"
mv "$HO_W/store/swapped.orig" "$HO_W/store/swapped"
ho_faultctl heal >/dev/null || ho_fail "faultctl heal"
read -r off len sha ms < <(line_of held 2 90) || ho_fail "the held read did not complete after the path came back"
[[ $len == 65536 && $sha == "$(sha_of "$HO_W/store/moved" $MIB 65536)" ]] ||
	ho_fail "the held read returned wrong bytes ($len)"
ho_log "the held read completed after the path came back ($ms ms)"
read -r off len sha ms < <(line_of swap 2 30) || ho_fail "the second held read did not complete"
[[ $len == 65536 && $sha == "$(sha_of "$HO_W/store/swapped" $MIB 65536)" ]] ||
	ho_fail "the second held read returned wrong bytes ($len)"
read -r off len sha ms < <(line_of both 2 30) || ho_fail "the third held read did not complete"
[[ $len == 65536 && $sha == "$(sha_of "$HO_W/store/big" $((2 * MIB)) 65536)" ]] ||
	ho_fail "the third held read returned wrong bytes ($len)"
HO_OK=1
