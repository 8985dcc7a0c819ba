#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-rsync.sh - rsync -aHAX onto the mount and back: hard links, POSIX
# ACLs, user xattrs, symlinks, odd modes and owners must arrive exactly as
# they do in a native rsync copy.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

make_source()
{
	local s=$1 i

	mkdir -p "$s/dir/sub" "$s/acl-dir" "$s/sticky"
	for i in $(seq 1 40); do
		head -c $((i * 1009)) /dev/urandom >"$s/dir/file-$i"
	done
	echo "linked" >"$s/dir/hard-a"
	ln "$s/dir/hard-a" "$s/dir/hard-b"
	ln "$s/dir/hard-a" "$s/dir/sub/hard-c"
	ln -s hard-a "$s/dir/sym-rel"
	ln -s /etc/hostname "$s/dir/sym-abs"
	ln -s does/not/exist "$s/dir/sym-dangling"
	chmod 1777 "$s/sticky"
	echo "odd owner" >"$s/dir/owned"
	chown 4242:4343 "$s/dir/owned"
	chmod 0604 "$s/dir/owned"
	# ACLs: an access ACL with a mask and a default ACL that new files inherit.
	echo acl >"$s/dir/acl-file"
	setfacl -m u:4242:rw-,g:4343:r--,m::rw- "$s/dir/acl-file"
	setfacl -d -m u:4242:rwx,g::r-x "$s/acl-dir"
	setfacl -m u:4242:r-x "$s/acl-dir"
	echo inherits >"$s/acl-dir/child"
	# user xattrs: text, binary, empty, and on a directory.
	setfattr -n user.text -v "hello world" "$s/dir/file-1"
	setfattr -n user.bin -v 0x00ff10ee "$s/dir/file-2"
	setfattr -n user.empty "$s/dir/file-3"
	setfattr -n user.onDir -v dirvalue "$s/dir/sub"
	setfattr -n user.onLink -v linked "$s/dir/hard-a"
	lb_age_tree "$s"
}

# compare WHAT A B: everything rsync -aHAX promises to keep.
compare_copies()
{
	local what=$1 a=$2 b=$3 x

	lb_diff_trees "$what" "$a" "$b"
	for x in a b; do
		(cd "${!x}" && getfacl -R -P -p . 2>/dev/null) >"$LB_WORK/acl-$x"
		(cd "${!x}" && getfattr -R -P -h -d -m '^user\.' -e hex . 2>/dev/null) >"$LB_WORK/xattr-$x"
	done
	lb_assert_same_files "$what: ACLs" "$LB_WORK/acl-a" "$LB_WORK/acl-b"
	lb_assert_same_files "$what: user xattrs" "$LB_WORK/xattr-a" "$LB_WORK/xattr-b"
	# getfacl/getfattr printing nothing would make the comparison vacuous.
	grep -q 'user:4242:rw-' "$LB_WORK/acl-b" || lb_fail "$what: ACL entry missing"
	grep -q 'user.bin=0x00ff10ee' "$LB_WORK/xattr-b" || lb_fail "$what: binary xattr missing"
}

main()
{
	lb_init rsync
	lb_need rsync setfacl getfacl setfattr getfattr
	local src=$LB_WORK/src nat=$LB_WORK/native mnt=$LB_WORK/mnt store=$LB_WORK/store

	make_source "$src"
	mkdir -p "$nat"
	lb_mount "$store" "$mnt"

	lb_log "rsync -aHAX onto the mount and natively"
	rsync -aHAX "$src/" "$mnt/copy/"
	rsync -aHAX "$src/" "$nat/copy/"
	compare_copies "mount copy vs native copy" "$nat/copy" "$mnt/copy"
	compare_copies "store vs native copy" "$nat/copy" "$store/copy"

	lb_log "a second pass must find nothing to do"
	local changes
	changes=$(rsync -aHAX --itemize-changes "$src/" "$mnt/copy/")
	if ((LB_COMPARE_MTIME)); then
		lb_assert_eq "" "$changes" "second rsync pass changes"
	fi

	lb_log "rsync back off the mount"
	rsync -aHAX "$mnt/copy/" "$nat/back/"
	compare_copies "copied back vs native copy" "$nat/copy" "$nat/back"

	lb_log "ACL inheritance on the mount"
	echo new >"$mnt/copy/acl-dir/new-on-mount"
	echo new >"$nat/copy/acl-dir/new-on-mount"
	local want got
	want=$(getfacl -p "$nat/copy/acl-dir/new-on-mount" | tail -n +2)
	got=$(getfacl -p "$mnt/copy/acl-dir/new-on-mount" | tail -n +2)
	[[ "$want" == *user:4242:rwx* ]] || lb_fail "native file did not inherit the default ACL"
	# bindfs lets the kernel apply the umask before the default ACL does.
	lb_standin_gap "umask vs default ACL on create" || lb_assert_eq "$want" "$got" "inherited ACL"
	echo "PASS: rsync -aHAX with hard links, ACLs, xattrs, symlinks"
}

main "$@"
