# SPDX-License-Identifier: GPL-2.0-or-later
# lib.sh - shared harness for the shell integration tests on real mounts.
#
# Source it, then call lb_init. Each test gets a private work dir, mounts
# with lb_mount, and leaves cleanup to the EXIT trap: it unmounts what the
# test mounted, stops only the daemons the test started, keeps the work dir
# and prints the daemon logs when the test failed.
#
# The file system under test is $LIFEBOAT_TEST_FS if set (a stand-in such as
# bindfs, or another build), else $LIFEBOATFS (set by meson to the built
# binary), else build/fs/lifeboatfs next to this source tree.

LB_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LB_MOUNT_TIMEOUT=${LB_MOUNT_TIMEOUT:-15}	# seconds for a mount to appear
LB_EXIT_TIMEOUT=${LB_EXIT_TIMEOUT:-15}		# seconds for a daemon to exit
LB_DEFAULT_OPTS=${LB_DEFAULT_OPTS:-allow_other,default_permissions}

LB_WORK=
LB_MOUNTS=()	# mountpoints this test mounted, in order
LB_PIDS=()	# daemon PIDs this test started (or that mount(8) started for it)
LB_LOGS=()	# daemon logs to show on failure
LB_LAST_PID=

lb_log()
{
	echo "# $*" >&2
}

lb_fail()
{
	echo "FAIL: $*" >&2
	exit 1
}

skip()
{
	echo "SKIP: $*" >&2
	exit 77
}

# lb_need TOOL...: skip when a tool the test needs is really not installed.
lb_need()
{
	local t

	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || skip "'$t' is not installed"
	done
}

lb_resolve_fs()
{
	local fs=${LIFEBOAT_TEST_FS:-${LIFEBOATFS:-$LB_SRCDIR/../../build/fs/lifeboatfs}}

	if [[ "$fs" != */* ]]; then
		fs=$(command -v "$fs") || skip "file system '$fs' is not installed"
	fi
	[[ -x "$fs" ]] || lb_fail "file system binary '$fs' is not executable (build first)"
	LB_FS=$(realpath "$fs")
	LB_FS_NAME=$(basename "$LB_FS")
	# bindfs 1.14 drops a utimensat() that has UTIME_OMIT in it (tar -x,
	# touch -m): as a stand-in it cannot pass mtime comparisons.
	if [[ -z "${LB_COMPARE_MTIME:-}" ]]; then
		LB_COMPARE_MTIME=1
		if [[ "$LB_FS_NAME" == bindfs ]]; then
			LB_COMPARE_MTIME=0
		fi
	fi
}

# lb_is_lifeboatfs: true when testing the real thing, not a stand-in.
lb_is_lifeboatfs()
{
	[[ "$LB_FS_NAME" == lifeboatfs ]]
}

# lb_standin_gap WHAT: true (and logged) when the file system under test is
# a stand-in known to get WHAT wrong, so the caller skips that one check.
# lifeboatfs has no gaps: every check applies to it.
lb_standin_gap()
{
	lb_is_lifeboatfs && return 1
	lb_log "not checked: $1 ('$LB_FS_NAME' is a stand-in known to differ)"
	return 0
}

lb_require_lifeboatfs()
{
	lb_is_lifeboatfs || skip "checks lifeboatfs behaviour, '$LB_FS_NAME' is a stand-in"
}

# mount(8) runs mount.fuse3 with an empty environment, and mount.fuse3 runs
# NAME through /bin/sh, so only the shell's default PATH is searched.
# A binary under test that lives elsewhere (the build dir) is exposed as
# /usr/local/sbin/NAME inside a private mount namespace: nothing outside the
# test sees it, and the namespace's mounts vanish with its last process.
#
# lb_reexec_in_mount_ns "$@": call before lb_init; re-executes the test in a
# new mount namespace when needed.
lb_reexec_in_mount_ns()
{
	[[ -n "${LB_IN_MOUNT_NS:-}" ]] && return 0
	((EUID == 0)) || skip "needs root (FUSE mounts with allow_other, chown)"
	lb_resolve_fs
	case "$(dirname "$LB_FS")" in
	/usr/local/sbin | /usr/local/bin | /usr/sbin | /usr/bin | /sbin | /bin)
		return 0 ;;
	esac
	lb_need unshare
	export LB_IN_MOUNT_NS=1
	exec unshare --mount --propagation private -- "$0" "$@"
}

# lb_expose_helper: after lb_init, in the namespace made above.
lb_expose_helper()
{
	[[ -n "${LB_IN_MOUNT_NS:-}" ]] || return 0
	mkdir -p "$LB_WORK/sbin"
	ln -s "$LB_FS" "$LB_WORK/sbin/$LB_FS_NAME"
	mount --bind "$LB_WORK/sbin" /usr/local/sbin || lb_fail "cannot bind '$LB_WORK/sbin' on /usr/local/sbin"
}

# lb_init NAME: check the prerequisites, make the work dir, arm the cleanup.
lb_init()
{
	local name=${1:-$(basename "$0" .sh)}

	((EUID == 0)) || skip "needs root (FUSE mounts with allow_other, chown)"
	[[ -c /dev/fuse ]] || skip "/dev/fuse is absent"
	lb_need fusermount3 findmnt
	lb_resolve_fs
	LB_WORK=$(mktemp -d "/tmp/lifeboat-it-$name.XXXXXX")
	trap lb_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	# Tools must not read the developer's or CI's personal configuration.
	export HOME=$LB_WORK/home LC_ALL=C TZ=UTC
	mkdir -p "$HOME"
	lb_log "testing '$LB_FS' in '$LB_WORK'"
	((LB_COMPARE_MTIME)) || lb_log "mtimes not compared ('$LB_FS_NAME' cannot set them alone)"
}

# lb_fstype MNT: the file system type mounted exactly at MNT, empty if none.
lb_fstype()
{
	findmnt -n -o FSTYPE --mountpoint "$1" 2>/dev/null | tail -n 1 || true
}

lb_is_fuse_mounted()
{
	[[ "$(lb_fstype "$1")" == fuse* ]]
}

lb_mount_count()
{
	findmnt -n -o TARGET --mountpoint "$1" 2>/dev/null | wc -l
}

lb_log_tail()
{
	local log=$1

	[[ -s "$log" ]] || return 0
	echo "----- last lines of '$log' -----" >&2
	tail -n 40 "$log" >&2
	echo "-----" >&2
}

# lb_wait_mounted MNT PID LOG: bounded wait for MNT to become a FUSE mount,
# failing early (with the daemon's log) when the daemon dies first.
lb_wait_mounted()
{
	local mnt=$1 pid=$2 log=$3 i

	for ((i = 0; i < LB_MOUNT_TIMEOUT * 10; i++)); do
		lb_is_fuse_mounted "$mnt" && return 0
		if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
			lb_log_tail "$log"
			lb_fail "'$LB_FS_NAME' exited before '$mnt' was mounted"
		fi
		sleep 0.1
	done
	lb_log_tail "$log"
	lb_fail "'$mnt' not mounted after ${LB_MOUNT_TIMEOUT}s"
}

# lb_mount STORE MNT [OPTS]: start the daemon in the foreground (so its PID is
# ours and its output goes to a log), wait for the mount. PID in LB_LAST_PID.
lb_mount()
{
	local store=$1 mnt=$2 opts=${3-$LB_DEFAULT_OPTS}
	local log="$LB_WORK/daemon-${#LB_LOGS[@]}.log"
	local args=("$store" "$mnt" -f)

	mkdir -p "$store" "$mnt"
	if [[ -n "$opts" ]]; then
		args+=(-o "$opts")
	fi
	"$LB_FS" "${args[@]}" </dev/null >"$log" 2>&1 &
	LB_LAST_PID=$!
	LB_PIDS+=("$LB_LAST_PID")
	LB_LOGS+=("$log")
	LB_MOUNTS+=("$mnt")
	lb_wait_mounted "$mnt" "$LB_LAST_PID" "$log"
}

# lb_track_mount MNT: remember a mount made by mount(8) so cleanup undoes it,
# and adopt the daemon serving it (its command line names our private MNT).
lb_track_mount()
{
	local mnt=$1 f pid

	LB_MOUNTS+=("$mnt")
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		[[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == "$LB_FS" ]] || continue
		tr '\0' '\n' <"$f" 2>/dev/null | grep -qxF "$mnt" || continue
		LB_PIDS+=("$pid")
		LB_LAST_PID=$pid
	done
}

lb_pid_alive()
{
	kill -0 "$1" 2>/dev/null
}

# lb_wait_exit PID: bounded wait for a daemon to exit; returns its exit
# status when it is our child, 0 when it was adopted, 124 on timeout.
lb_wait_exit()
{
	local pid=$1 i

	for ((i = 0; i < LB_EXIT_TIMEOUT * 10; i++)); do
		lb_pid_alive "$pid" || break
		# A zombie child counts as exited; wait reaps it below.
		[[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" == Z ]] && break
		sleep 0.1
	done
	lb_pid_alive "$pid" && [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]] &&
		return 124
	local rc=0
	wait "$pid" 2>/dev/null || rc=$?
	((rc == 127)) && rc=0	# adopted, not our child: no status to read
	return $rc
}

# lb_umount MNT: unmount cleanly with fusermount3 and fail if it does not
# go away. The daemon's exit status is checked by the caller if it cares.
lb_umount()
{
	local mnt=$1

	fusermount3 -u "$mnt" || lb_fail "fusermount3 -u '$mnt' failed"
	lb_is_fuse_mounted "$mnt" && lb_fail "'$mnt' still mounted after fusermount3 -u"
	return 0
}

lb_force_umount()
{
	local mnt=$1

	lb_is_fuse_mounted "$mnt" || return 0
	fusermount3 -u "$mnt" 2>/dev/null && return 0
	lb_log "fusermount3 -u '$mnt' failed, lazy unmount"
	umount -l "$mnt" || lb_log "cannot unmount '$mnt'"
}

lb_stop_pid()
{
	local pid=$1

	lb_pid_alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
	lb_wait_exit "$pid" >/dev/null && return 0
	lb_log "daemon $pid still running, SIGTERM"
	kill -TERM "$pid" 2>/dev/null
	lb_wait_exit "$pid" && return 0
	lb_log "daemon $pid ignores SIGTERM, SIGKILL"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# Sanitizer reports from an instrumented daemon fail the test even when
# every assertion held.
lb_sanitizer_errors()
{
	local log found=1

	for log in "${LB_LOGS[@]}"; do
		[[ -s "$log" ]] || continue
		if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log"; then
			echo "sanitizer report in '$log'" >&2
			found=0
		fi
	done
	return $found
}

lb_cleanup()
{
	local rc=$? i log

	set +e
	trap - EXIT
	for ((i = ${#LB_MOUNTS[@]} - 1; i >= 0; i--)); do
		lb_force_umount "${LB_MOUNTS[i]}"
	done
	for i in "${LB_PIDS[@]}"; do
		lb_stop_pid "$i"
	done
	if lb_sanitizer_errors; then
		((rc == 0 || rc == 77)) && rc=1
	fi
	if ((rc == 0 || rc == 77)); then
		rm -rf "$LB_WORK"
	elif [[ -n "$LB_WORK" ]]; then
		for log in "${LB_LOGS[@]}"; do
			lb_log_tail "$log"
		done
		lb_log "work dir kept: $LB_WORK"
	fi
	exit "$rc"
}

# lb_assert_eq EXPECTED ACTUAL WHAT
lb_assert_eq()
{
	[[ "$1" == "$2" ]] || lb_fail "$3: expected '$1', got '$2'"
}

# lb_assert_same_files WHAT FILE_A FILE_B: diff two listings, show the diff.
lb_assert_same_files()
{
	local what=$1 a=$2 b=$3

	if ! diff -u "$a" "$b" >"$LB_WORK/diff.out" 2>&1; then
		head -n 60 "$LB_WORK/diff.out" >&2
		lb_fail "$what differ: '$a' vs '$b'"
	fi
}

# lb_tree_listing DIR: one line per entry with type, mode, owner, link count,
# size of non-directories, symlink target and mtime; no inode numbers, no
# atime/ctime, nothing that differs between two faithful copies.
lb_tree_listing()
{
	local t=' %T@'

	((LB_COMPARE_MTIME)) || t=
	(cd "$1" && find . -mindepth 1 \( -type d -printf "%P d %m %U:%G %n - -$t\n" \) -o \
		-printf "%P %y %m %U:%G %n %s %l$t\n" | sort)
}

# lb_hardlink_groups DIR: names that share an inode, one group per line, so
# two trees with the same link structure give the same output.
lb_hardlink_groups()
{
	(cd "$1" && find . -type f -links +1 -printf '%i %P\n' | sort -k2 |
		awk '{ g[$1] = g[$1] " " $2 } END { for (i in g) print g[i] }' | sort)
}

# lb_age_tree DIR: give every entry the same old timestamp with nanoseconds.
# rsync compares mtimes in whole seconds and skips setting a time that looks
# equal, so a tree made a moment ago would not have its times copied.
lb_age_tree()
{
	find "$1" -depth -exec touch -h -d '2020-01-02 03:04:05.123456789' {} +
}

# lb_diff_trees WHAT A B: same bytes, same metadata listing, same link groups.
lb_diff_trees()
{
	local what=$1 a=$2 b=$3

	diff -r --no-dereference "$a" "$b" >"$LB_WORK/diff-r.out" 2>&1 || {
		head -n 40 "$LB_WORK/diff-r.out" >&2
		lb_fail "$what: contents differ ('$a' vs '$b')"
	}
	lb_tree_listing "$a" >"$LB_WORK/list-a"
	lb_tree_listing "$b" >"$LB_WORK/list-b"
	lb_assert_same_files "$what: metadata listings" "$LB_WORK/list-a" "$LB_WORK/list-b"
	lb_hardlink_groups "$a" >"$LB_WORK/links-a"
	lb_hardlink_groups "$b" >"$LB_WORK/links-b"
	lb_assert_same_files "$what: hard link groups" "$LB_WORK/links-a" "$LB_WORK/links-b"
}
