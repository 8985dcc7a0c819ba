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
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "attr: "
#include "lifeboat/log.h"
#include "lifeboatfs.h"

void entry_fill_timeouts(struct lb_fs *fs, struct fuse_entry_param *e)
{
	e->attr_timeout = fs->opt.attr_timeout;
	e->entry_timeout = fs->opt.entry_timeout;
}

static int stat_fd(int fd, struct stat *st)
{
	if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

static int chmod_fd(int fd, mode_t mode)
{
	char path[PROC_FD_PATH_MAX];

	proc_fd_path(fd, path, sizeof(path));
	if (chmod(path, mode) < 0)
		return -errno;
	return 0;
}

static bool caller_in_group(fuse_req_t req, gid_t gid)
{
	gid_t groups[256];
	int n;

	if (fuse_req_ctx(req)->gid == gid)
		return true;
	n = fuse_req_getgroups(req, 256, groups);
	for (int i = 0; i < n && i < 256; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/*
 * An unprivileged write or truncate clears setuid, and setgid when the group
 * may execute or the caller is not in the file's group (Linux >= 6.2,
 * setattr_should_drop_sgid()). Returns 1 when it cleared something (the
 * kernel's cached mode is then stale), 0 if not.
 */
int attr_kill_suid(struct lb_fs *fs, struct lb_inode *inode, int fd, fuse_req_t req)
{
	mode_t kill = S_ISUID;
	struct stat st;
	int r;

	if (!(inode->mode & (S_ISUID | S_ISGID)) || fuse_req_ctx(req)->uid == 0 ||
	    !S_ISREG(inode->mode))
		return 0;
	r = stat_fd(fd, &st);
	if (r < 0)
		return r;
	if ((st.st_mode & S_ISGID) &&
	    ((st.st_mode & S_IXGRP) || !caller_in_group(req, st.st_gid)))
		kill |= S_ISGID;
	if (!(st.st_mode & kill))
		return 0;
	r = chmod_fd(fd, st.st_mode & ~kill & 07777);
	if (r < 0)
		return r;
	inode->mode = st.st_mode & ~kill;
	return 1;
}

static int getattr_store(struct lb_fs *fs, struct lb_inode *inode, struct fuse_file_info *fi,
			 struct stat *st)
{
	struct lb_file *f = fi ? (struct lb_file *)(uintptr_t)fi->fh : NULL;
	int fd, r;

	if (f && f->fd >= 0)
		return stat_fd(f->fd, st);
	fd = inode_fd_get(fs, inode);
	if (fd < 0)
		return fd;
	r = stat_fd(fd, st);
	inode_fd_put(fs, inode);
	return r;
}

/*
 * While absorbing, the overlay has the attributes of everything changed
 * since the last sync; nothing else changed, so the last attributes seen
 * are right when the store cannot answer.
 */
void lb_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_inode *inode = inode_of(fs, ino);
	struct stat st;
	uint64_t epoch, gen;
	bool have;
	int r;

	pthread_mutex_lock(&fs->ov_lock);
	have = ov_getattr(fs, inode, &st);
	pthread_mutex_unlock(&fs->ov_lock);
	if (have)
		return (void)fuse_reply_attr(req, &st, fs->opt.attr_timeout);

	epoch = absorb_epoch(fs);
	gen = inode_stat_gen(inode);
	r = getattr_store(fs, inode, fi, &st);
	log_debug("getattr %p (%s): store %d nlink %lu size %lld", (void *)inode,
		  lb_state_name(fs->state), r, r == 0 ? (unsigned long)st.st_nlink : 0,
		  r == 0 ? (long long)st.st_size : 0);
	if (r == 0 && inode_store_lost(fs, inode, &st))
		r = -ESTALE;
	/* absorbing began meanwhile: a rollback may have come before our call */
	if (r == 0 && absorb_began_since(fs, epoch)) {
		pthread_mutex_lock(&fs->ov_lock);
		if (ov_getattr(fs, inode, &st))
			have = true;
		pthread_mutex_unlock(&fs->ov_lock);
		if (have)
			return (void)fuse_reply_attr(req, &st, fs->opt.attr_timeout);
	}
	if (r < 0 && is_path_failure(fs, r)) {
		absorb_begin(fs, r);
		pthread_mutex_lock(&fs->ov_lock);
		have = ov_getattr(fs, inode, &st);
		pthread_mutex_unlock(&fs->ov_lock);
		if (!have)
			inode_stat_get(fs, inode, &st);
		r = 0;
	} else if (r == 0) {
		inode_stat_set_since(fs, inode, &st, gen);
	}
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
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
	char path[PROC_FD_PATH_MAX];

	if (open_fd >= 0 && ftruncate(open_fd, size) == 0)
		return 0;
	if (open_fd >= 0 && errno != EBADF && errno != EINVAL)
		return -errno;
	proc_fd_path(fd, path, sizeof(path));
	if (truncate(path, size) < 0)
		return -errno;
	return 0;
}

#define SETATTR_KNOWN                                                                       \
	(FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID | FUSE_SET_ATTR_SIZE |    \
	 FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |                \
	 FUSE_SET_ATTR_MTIME_NOW)

/* Applies the changes in the order the VFS would: owner, mode, size, times. */
static int setattr_apply(fuse_req_t req, struct lb_inode *inode, int fd, int open_fd,
			 struct stat *attr, int to_set)
{
	int r;

	if (!(to_set & SETATTR_KNOWN)) {
		/*
		 * With KILLPRIV_V2 the kernel turns chown(f, -1, -1) into an
		 * empty SETATTR: the store clears the bits and sets ctime.
		 */
		if (fchownat(fd, "", -1, -1, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
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

struct setattr_arg {
	fuse_req_t req;
	struct stat *attr;
	int to_set;
	int open_fd;
};

static int setattr_store(struct lb_fs *fs, struct lb_mut *m, void *arg)
{
	struct setattr_arg *a = arg;
	int fd, r;

	fd = inode_fd_get(fs, m->file);
	if (fd < 0)
		return fd;
	r = setattr_apply(a->req, m->file, fd, a->open_fd, a->attr, a->to_set);
	if (r == 0)
		r = stat_fd(fd, &m->st);
	inode_fd_put(fs, m->file);
	/* what it answers with must not be what a rollback left (a size it sets aside) */
	if (r == 0 && !(a->to_set & FUSE_SET_ATTR_SIZE) && inode_store_lost(fs, m->file, &m->st))
		r = -ESTALE;
	if (r == 0)
		inode_stat_set(fs, m->file, &m->st);
	return r;
}

static struct timespec setattr_time(int to_set, int now_bit, struct timespec t)
{
	if (to_set & now_bit)
		clock_gettime(CLOCK_REALTIME, &t);
	return t;
}

/* The journal record of a setattr: absolute values only. */
static void setattr_record(struct lb_mut *m, const struct stat *attr, int to_set)
{
	struct journal_record *rec = &m->rec;

	if (to_set & FUSE_SET_ATTR_MODE)
		rec->flags |= JOURNAL_ATTR_MODE, rec->mode = attr->st_mode & 07777;
	if (to_set & FUSE_SET_ATTR_UID)
		rec->flags |= JOURNAL_ATTR_UID, rec->uid = attr->st_uid;
	if (to_set & FUSE_SET_ATTR_GID)
		rec->flags |= JOURNAL_ATTR_GID, rec->gid = attr->st_gid;
	if (to_set & FUSE_SET_ATTR_SIZE)
		rec->flags |= JOURNAL_ATTR_SIZE, rec->size = (uint64_t)attr->st_size;
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW)) {
		rec->flags |= JOURNAL_ATTR_ATIME;
		rec->atime = setattr_time(to_set, FUSE_SET_ATTR_ATIME_NOW, attr->st_atim);
	}
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
		rec->flags |= JOURNAL_ATTR_MTIME;
		rec->mtime = setattr_time(to_set, FUSE_SET_ATTR_MTIME_NOW, attr->st_mtim);
	}
	if (!rec->flags)
		m->journalable = false;	/* chown(-1, -1): the store clears the bits */
}

void lb_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		struct fuse_file_info *fi)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_file *f = fi ? (struct lb_file *)(uintptr_t)fi->fh : NULL;
	struct setattr_arg a = { req, attr, to_set, f ? f->fd : -1 };
	struct lb_mut m;
	int r;

	mut_init(&m, JOURNAL_SETATTR);
	m.file = inode_of(fs, ino);
	setattr_record(&m, attr, to_set);
	(void)mut_path(fs, &m, m.file, NULL);
	r = mut_run(fs, &m, setattr_store, &a);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	fuse_reply_attr(req, &m.st, fs->opt.attr_timeout);
}

static ssize_t readlink_store(struct lb_fs *fs, struct lb_inode *inode, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = inode_fd_get(fs, inode);
	if (fd < 0)
		return fd;
	n = readlinkat(fd, "", buf, len);
	if (n < 0)
		n = -errno;
	inode_fd_put(fs, inode);
	return n;
}

void lb_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct lb_fs *fs = fs_of(req);
	char buf[PATH_MAX + 1];
	ssize_t n;

	for (;;) {
		n = readlink_store(fs, inode_of(fs, ino), buf, sizeof(buf));
		if (n >= 0 || !is_path_failure(fs, (int)n))
			break;
		absorb_begin(fs, (int)n);	/* a symlink made while absorbing waits too */
		n = hold_wait(fs);
		if (n < 0)
			break;
	}
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
	r = fd < 0 ? fd : 0;
	if (fd >= 0) {
		if (fstatvfs(fd, &sv) < 0)
			r = -errno;
		inode_fd_put(fs, inode);
	}
	if (r < 0 && is_path_failure(fs, r)) {
		absorb_begin(fs, r);
		pthread_mutex_lock(&fs->space_lock);
		sv = fs->last_statvfs;	/* the last answer stands while absorbing */
		pthread_mutex_unlock(&fs->space_lock);
		r = 0;
	} else if (r == 0) {
		pthread_mutex_lock(&fs->space_lock);
		fs->last_statvfs = sv;
		pthread_mutex_unlock(&fs->space_lock);
	}
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	fuse_reply_statfs(req, &sv);
}
