#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-container.sh - a lifeboat mount as a container volume, with Debian's
# podman and crun:
#   A. `--mount type=bind,src=MOUNT,dst=/data`: the container's writes go
#      through lifeboatfs to the store;
#   B. `--mount type=bind,src=PARENT,dst=/data,bind-propagation=rslave`: a
#      lifeboatfs mounted (or remounted, as after a handoff) below PARENT
#      while the container runs reaches the container, and its writes reach
#      the store;
#   C. the same with bind-propagation=private does not see it (the
#      negative control that shows B's check can fail).
# The container runs from a root file system of a few host binaries
# (--rootfs): no image is pulled, nothing leaves the machine. podman keeps
# its storage in the test's work dir.
set -euo pipefail
source "$(dirname "$0")/../integration/lib.sh"

# podman's container gets a copy of our mount namespace: work in a private
# one, where the cgroup layout can be adjusted for crun (see below).
if [[ -z "${LB_FIT_IN_NS:-}" ]]; then
	((EUID == 0)) || skip "needs root (FUSE mounts, podman as root)"
	command -v unshare >/dev/null || skip "'unshare' is not installed"
	export LB_FIT_IN_NS=1 LB_IN_MOUNT_NS=1
	exec unshare --mount --propagation private -- "$0" "$@"
fi

PODMAN=()
BIND_MOUNTS=()	# plain bind mounts this test made, undone after the FUSE mounts

fit_cleanup()
{
	local rc=$? i n

	set +e
	for ((i = ${#LB_MOUNTS[@]} - 1; i >= 0; i--)); do
		lb_force_umount "${LB_MOUNTS[i]}"
	done
	for ((i = ${#BIND_MOUNTS[@]} - 1; i >= 0; i--)); do
		umount "${BIND_MOUNTS[i]}" || umount -l "${BIND_MOUNTS[i]}"
	done
	# The containers' mount namespaces, copies of ours, are torn down after
	# podman returns: their copies of the volumes keep them busy a moment.
	for i in "${BIND_MOUNTS[@]}"; do
		for ((n = 0; n < 50; n++)); do
			rm -rf "$i" 2>/dev/null && break
			sleep 0.1
		done
	done
	(exit "$rc")
	lb_cleanup
}

# podman_setup: storage, runtime dirs and limits of this test's podman.
podman_setup()
{
	local nofile nproc

	PODMAN=(podman --root "$LB_WORK/podman/root" --runroot "$LB_WORK/podman/run" --tmpdir "$LB_WORK/podman/tmp"
		--cgroup-manager cgroupfs --events-backend file --runtime crun)
	# crun 1.8 refuses the "hybrid" layout (cgroup v1 controllers plus a
	# cgroup2 hierarchy with controllers of its own, here hugetlb, at
	# /sys/fs/cgroup/unified); hide that hierarchy in our namespace only.
	if mountpoint -q /sys/fs/cgroup/unified && [[ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers)" ]]; then
		lb_log "hiding /sys/fs/cgroup/unified (controllers: $(cat /sys/fs/cgroup/unified/cgroup.controllers)) from crun"
		umount /sys/fs/cgroup/unified || lb_fail "cannot hide /sys/fs/cgroup/unified from crun"
	fi
	# podman asks for RLIMIT_NOFILE 1048576 and lowers its own RLIMIT_NPROC
	# to 32768; without CAP_SYS_RESOURCE crun cannot raise either: ask
	# for what this machine allows.
	nofile=$(ulimit -Hn)
	nproc=$(ulimit -Hu)
	[[ "$nproc" == unlimited || "$nproc" -gt 32768 ]] && nproc=32768
	PODMAN_RUN=(run --rm --network none --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
}

# make_rootfs DIR BIN...: the binaries and the libraries they load.
make_rootfs()
{
	local root=$1 bin lib
	shift

	mkdir -p "$root"/{bin,data,proc,sys,dev,tmp,etc}
	for bin in "$@"; do
		cp -L "$(command -v "$bin")" "$root/bin/$bin"
		for lib in $(ldd "$(command -v "$bin")" | grep -o '/[^ ]*'); do
			mkdir -p "$root$(dirname "$lib")"
			cp -L "$lib" "$root$lib"
		done
	done
	ln -sf bash "$root/bin/sh"
}

# The container's side of B and C: wait for the mount below /data, say
# whether it is lifeboatfs, write through it.
CONTAINER_SCRIPT='
echo started >/data/started
for ((i = 0; i < 300; i++)); do [[ -e /data/go ]] && break; sleep 0.05; done
if grep -q " /data/app .* - fuse.lifeboatfs " /proc/self/mountinfo; then echo "sees lifeboatfs"; else echo "sees no lifeboatfs"; fi
echo "written in the container" >/data/app/from-container 2>/dev/null || echo "cannot write"
'

# run_and_remount NAME PROPAGATION: case B or C; the container's output in
# $LB_WORK/ctr-NAME.out. Not in a subshell: the mounts it makes are tracked.
run_and_remount()
{
	local name=$1 prop=$2 vol=$LB_WORK/vol-$1 store=$LB_WORK/store-$1 i out=$LB_WORK/ctr-$1.out

	mkdir -p "$vol/app" "$store"
	# the volume's parent must be a shared mount for rslave to receive anything
	mount --bind "$vol" "$vol" && mount --make-shared "$vol" || lb_fail "cannot make '$vol' a shared mount"
	BIND_MOUNTS+=("$vol")
	"${PODMAN[@]}" "${PODMAN_RUN[@]}" --name "lifeboat-fit-$name-$$" \
		--mount "type=bind,src=$vol,dst=/data,bind-propagation=$prop" \
		--rootfs "$LB_WORK/rootfs" /bin/bash -c "$CONTAINER_SCRIPT" >"$out" 2>&1 &
	local ctr=$!
	for ((i = 0; i < 200; i++)); do
		[[ -e "$vol/started" ]] && break
		kill -0 "$ctr" 2>/dev/null || { cat "$out" >&2; lb_fail "$name: podman exited before the container started"; }
		sleep 0.05
	done
	[[ -e "$vol/started" ]] || lb_fail "$name: container not started after 10s"
	# after the container started: like a remount after a handoff
	lb_mount "$store" "$vol/app" "allow_other,journal=$LB_WORK/$name.journal,status=$LB_WORK/$name.status"
	touch "$vol/go"
	wait "$ctr" || { cat "$out" >&2; lb_fail "$name: the container failed"; }
	lb_umount "$vol/app"
}

main()
{
	lb_init fit-container
	lb_require_lifeboatfs
	lb_need podman crun ldd mountpoint
	trap fit_cleanup EXIT
	podman_setup
	make_rootfs "$LB_WORK/rootfs" bash sleep cat grep

	lb_log "A: the mount itself as a bind volume"
	local store=$LB_WORK/store-a mnt=$LB_WORK/app-a out
	lb_mount "$store" "$mnt" "allow_other,journal=$LB_WORK/a.journal,status=$LB_WORK/a.status"
	echo "from the host" >"$mnt/host-file"
	out=$("${PODMAN[@]}" "${PODMAN_RUN[@]}" --mount "type=bind,src=$mnt,dst=/data" \
		--rootfs "$LB_WORK/rootfs" /bin/bash -c 'cat /data/host-file; echo "written in the container" >/data/c-file' 2>&1) ||
		{ echo "$out" >&2; lb_fail "A: podman run failed"; }
	lb_assert_eq "from the host" "$out" "A: the container reads the mount"
	lb_assert_eq "written in the container" "$(cat "$store/c-file")" "A: the container's write in the store"
	lb_umount "$mnt"

	lb_log "B: rslave volume, lifeboatfs mounted while the container runs"
	run_and_remount b rslave
	out=$(cat "$LB_WORK/ctr-b.out")
	grep -qx "sees lifeboatfs" <<<"$out" || { echo "$out" >&2; lb_fail "B: the container does not see the new lifeboatfs mount"; }
	lb_assert_eq "written in the container" "$(cat "$LB_WORK/store-b/from-container")" "B: the container's write in the store"

	lb_log "C: private volume, the same: the container must not see it"
	run_and_remount c private
	out=$(cat "$LB_WORK/ctr-c.out")
	grep -qx "sees no lifeboatfs" <<<"$out" || { echo "$out" >&2; lb_fail "C: a private bind saw the new mount: B proves nothing"; }
	[[ ! -e "$LB_WORK/store-c/from-container" ]] || lb_fail "C: a write from a private bind reached the store"
	echo "PASS: podman+crun: lifeboat mount as a volume, rslave propagation carries a remount into the container"
}

main "$@"
