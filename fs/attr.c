// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * attr.c - getattr, setattr, readlink and statfs passed through to the store.
 *
 * The kernel sends FUSE_HANDLE_KILLPRIV_V2 requests, so clearing setuid and
 * setgid when an unprivileged caller writes or truncates is ours to do; the
 * cached mode of the inode makes the common case (no such bits) free.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define LOG_PREFIX "attr: "
#include "lifeboat/log.h"
#include "lifeboatfs.h"

void entry_fill_timeouts(struct lb_fs *fs, struct fuse_entry_param *e)
{
	e->attr_timeout = fs->opt.attr_timeout;
	e->entry_timeout = fs->opt.entry_timeout;
}

static void proc_fd_path(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

static int stat_fd(int fd, struct stat *st)
{
	if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

static int chmod_fd(int fd, mode_t mode)
{
	char path[64];

	proc_fd_path(fd, path, sizeof(path));
	if (chmod(path, mode) < 0)
		return -errno;
	return 0;
}

/*
 * An unprivileged write or truncate clears setuid, and setgid when the group
 * may execute, as the kernel's should_remove_suid() does. Returns 1 when it
 * cleared something (the kernel's cached mode is then stale), 0 if not.
 */
int attr_kill_suid(struct lb_fs *fs, struct lb_inode *inode, int fd, fuse_req_t req)
{
	mode_t mode = inode->mode;
	mode_t kill = S_ISUID | ((mode & S_IXGRP) ? S_ISGID : 0);
	struct stat st;
	int r;

	if (!(mode & kill) || fuse_req_ctx(req)->uid == 0 || !S_ISREG(mode))
		return 0;
	r = stat_fd(fd, &st);
	if (r < 0)
		return r;
	kill = S_ISUID | ((st.st_mode & S_IXGRP) ? S_ISGID : 0);
	if (!(st.st_mode & kill))
		return 0;
	r = chmod_fd(fd, st.st_mode & ~kill & 07777);
	if (r < 0)
		return r;
	inode->mode = st.st_mode & ~kill;
	return 1;
}

void lb_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_inode *inode = inode_of(fs, ino);
	struct stat st;
	int fd, r;

	if (fi) {
		r = stat_fd(((struct lb_file *)(uintptr_t)fi->fh)->fd, &st);
	} else {
		fd = inode_fd_get(fs, inode);
		if (fd < 0)
			return (void)fuse_reply_err(req, -fd);
		r = stat_fd(fd, &st);
		inode_fd_put(fs, inode);
	}
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	inode->mode = st.st_mode;
	fuse_reply_attr(req, &st, fs->opt.attr_timeout);
}

static int setattr_times(int fd, const struct stat *attr, int to_set)
{
	struct timespec tv[2];

	tv[0].tv_sec = 0;
	tv[1].tv_sec = 0;
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		tv[0].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_ATIME)
		tv[0] = attr->st_atim;
	else
		tv[0].tv_nsec = UTIME_OMIT;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		tv[1].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_MTIME)
		tv[1] = attr->st_mtim;
	else
		tv[1].tv_nsec = UTIME_OMIT;
	if (utimensat(fd, "", tv, AT_EMPTY_PATH) < 0)
		return -errno;
	return 0;
}

static int setattr_size(int fd, int open_fd, off_t size)
{
	char path[64];

	if (open_fd >= 0 && ftruncate(open_fd, size) == 0)
		return 0;
	if (open_fd >= 0 && errno != EBADF && errno != EINVAL)
		return -errno;
	proc_fd_path(fd, path, sizeof(path));
	if (truncate(path, size) < 0)
		return -errno;
	return 0;
}

/* Applies the changes in the order the VFS would: owner, mode, size, times. */
static int setattr_apply(fuse_req_t req, struct lb_inode *inode, int fd, int open_fd,
			 struct stat *attr, int to_set)
{
	int r;

	if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid = (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;

		if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	if (to_set & FUSE_SET_ATTR_MODE) {
		r = chmod_fd(fd, attr->st_mode & 07777);
		if (r < 0)
			return r;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		r = setattr_size(fd, open_fd, attr->st_size);
		if (r < 0)
			return r;
		r = attr_kill_suid(fs_of(req), inode, fd, req);
		if (r < 0)
			return r;	/* 1: the attributes replied below are fresh */
	}
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
		      FUSE_SET_ATTR_MTIME_NOW))
		return setattr_times(fd, attr, to_set);
	return 0;
}

void lb_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		struct fuse_file_info *fi)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_inode *inode = inode_of(fs, ino);
	int open_fd = fi ? ((struct lb_file *)(uintptr_t)fi->fh)->fd : -1;
	struct stat st;
	int fd, r;

	fd = inode_fd_get(fs, inode);
	if (fd < 0)
		return (void)fuse_reply_err(req, -fd);
	r = setattr_apply(req, inode, fd, open_fd, attr, to_set);
	if (r == 0)
		r = stat_fd(fd, &st);
	inode_fd_put(fs, inode);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	inode->mode = st.st_mode;
	fuse_reply_attr(req, &st, fs->opt.attr_timeout);
}

void lb_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_inode *inode = inode_of(fs, ino);
	char buf[PATH_MAX + 1];
	ssize_t n;
	int fd;

	fd = inode_fd_get(fs, inode);
	if (fd < 0)
		return (void)fuse_reply_err(req, -fd);
	n = readlinkat(fd, "", buf, sizeof(buf));
	if (n < 0)
		n = -errno;
	inode_fd_put(fs, inode);
	if (n < 0)
		return (void)fuse_reply_err(req, (int)-n);
	if ((size_t)n >= sizeof(buf))
		return (void)fuse_reply_err(req, ENAMETOOLONG);
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}

void lb_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_inode *inode = inode_of(fs, ino);
	struct statvfs sv;
	int fd, r = 0;

	fd = inode_fd_get(fs, inode);
	if (fd < 0)
		return (void)fuse_reply_err(req, -fd);
	if (fstatvfs(fd, &sv) < 0)
		r = -errno;
	inode_fd_put(fs, inode);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	fuse_reply_statfs(req, &sv);
}
