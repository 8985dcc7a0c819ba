// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tmpfile.c - open(O_TMPFILE), answered below libfuse.
 *
 * libfuse 3.14 has no tmpfile operation and answers FUSE_TMPFILE with
 * ENOSYS, after which the kernel fails every O_TMPFILE open on the mount
 * with EOPNOTSUPP. session.c's io_read() therefore hands each request it
 * reads to tmpfile_intercept() first; a FUSE_TMPFILE never reaches libfuse:
 * it is answered here, on the device, with the reply a CREATE gets.
 *
 * The request (kernel fuse_create_open()) is a fuse_in_header, a
 * fuse_create_in and the dentry's name, which for a tmpfile is "/" and is
 * ignored. The reply is a fuse_entry_out and a fuse_open_out. The new
 * inode has no name: its lookup count is the one this reply hands to the
 * kernel, and linkat(2) through /proc/self/fd or AT_EMPTY_PATH arrives as
 * an ordinary FUSE_LINK (lb_link(), which links by the inode's fd). The
 * kernel itself refuses that link for an O_TMPFILE | O_EXCL file.
 *
 * Absorbing: a file with no name can be neither journaled nor replayed, so
 * while the mount is not healthy, and when the store fails under this
 * request, the answer is EOPNOTSUPP, the error applications already fall
 * back from (to a named temporary file). While healthy, what is written to
 * a tmpfile before it gets a name goes to the store only and is not in the
 * unflushed queue, nor is the LINK that names it (its source has no path):
 * both are protected once the next flush has synced the store.
 *
 * Limits: the request bypasses libfuse, so -d does not trace it and a
 * FUSE_INTERRUPT for it finds no request; the caller's supplementary groups
 * are not taken (S_ISGID on a tmpfile in a foreign-group setgid directory is
 * stripped where the store would keep it for a member); with splice_write
 * requests arrive through splice, not read, and O_TMPFILE stays EOPNOTSUPP.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define LOG_PREFIX "tmpfile: "
#include "lifeboat/log.h"
#include "lifeboatfs.h"

struct tmpfile_reply {
	struct fuse_entry_out entry;
	struct fuse_open_out open;
};

static void timeout_split(double t, uint64_t *ret_sec, uint32_t *ret_nsec)
{
	if (t <= 0) {
		*ret_sec = 0;
		*ret_nsec = 0;
		return;
	}
	*ret_sec = t >= (double)UINT64_MAX ? UINT64_MAX : (uint64_t)t;
	*ret_nsec = t >= (double)UINT64_MAX ? 0 : (uint32_t)((t - (double)*ret_sec) * 1.0e9);
	if (*ret_nsec >= 1000000000)
		*ret_nsec = 999999999;
}

static void attr_from_stat(const struct stat *st, struct fuse_attr *ret_attr)
{
	memset(ret_attr, 0, sizeof(*ret_attr));
	ret_attr->ino = st->st_ino;
	ret_attr->mode = st->st_mode;
	ret_attr->nlink = (uint32_t)st->st_nlink;
	ret_attr->uid = st->st_uid;
	ret_attr->gid = st->st_gid;
	ret_attr->rdev = (uint32_t)st->st_rdev;
	ret_attr->size = (uint64_t)st->st_size;
	ret_attr->blocks = (uint64_t)st->st_blocks;
	ret_attr->blksize = (uint32_t)st->st_blksize;
	ret_attr->atime = (uint64_t)st->st_atim.tv_sec;
	ret_attr->atimensec = (uint32_t)st->st_atim.tv_nsec;
	ret_attr->mtime = (uint64_t)st->st_mtim.tv_sec;
	ret_attr->mtimensec = (uint32_t)st->st_mtim.tv_nsec;
	ret_attr->ctime = (uint64_t)st->st_ctim.tv_sec;
	ret_attr->ctimensec = (uint32_t)st->st_ctim.tv_nsec;
}

static void reply_fill(struct lb_fs *fs, struct lb_inode *inode, const struct stat *st,
		       struct lb_file *f, const struct fuse_file_info *fi,
		       struct tmpfile_reply *ret_reply)
{
	memset(ret_reply, 0, sizeof(*ret_reply));
	ret_reply->entry.nodeid = (uintptr_t)inode;
	ret_reply->entry.generation = inode->generation;
	timeout_split(fs->opt.entry_timeout, &ret_reply->entry.entry_valid,
		      &ret_reply->entry.entry_valid_nsec);
	timeout_split(fs->opt.attr_timeout, &ret_reply->entry.attr_valid,
		      &ret_reply->entry.attr_valid_nsec);
	attr_from_stat(st, &ret_reply->entry.attr);
	ret_reply->open.fh = (uintptr_t)f;
	ret_reply->open.open_flags = (fi->direct_io ? FOPEN_DIRECT_IO : 0) |
				     (fi->keep_cache ? FOPEN_KEEP_CACHE : 0) |
				     (fi->noflush ? FOPEN_NOFLUSH : 0);
}

/* Writes one reply on the device; -ENOENT: the request was interrupted. */
static int reply_send(int devfd, uint64_t unique, int err, const struct tmpfile_reply *reply)
{
	struct fuse_out_header out = { .error = err, .unique = unique };
	struct iovec iov[2] = { { &out, sizeof(out) }, { (void *)reply, sizeof(*reply) } };
	int n = err ? 1 : 2;

	out.len = (uint32_t)(sizeof(out) + (err ? 0 : sizeof(*reply)));
	if (writev(devfd, iov, n) < 0)
		return -errno;
	return 0;
}

/* Creates the nameless file in @dir as the caller; returns its fd. */
static int tmpfile_store(struct lb_fs *fs, struct lb_inode *dir, const struct fuse_in_header *in,
			 const struct fuse_create_in *arg)
{
	int accmode = (int)arg->flags & O_ACCMODE;
	struct lb_creds_saved saved;
	int dfd, fd, r;

	dfd = inode_fd_get(fs, dir);
	if (dfd < 0)
		return dfd;
	r = creds_enter_ids(in->uid, in->gid, arg->umask, &saved);
	if (r < 0)
		goto out_put;
	fd = openat(dfd, ".", O_TMPFILE | accmode | ((int)arg->flags & O_EXCL) | O_CLOEXEC,
		    arg->mode & 07777);
	r = fd < 0 ? -errno : fd;
	creds_leave(&saved);
out_put:
	inode_fd_put(fs, dir);
	return r;
}

/* The inode of the open nameless file @fd, with one kernel lookup. */
static int tmpfile_inode(struct lb_fs *fs, int fd, struct stat *ret_st,
			 struct lb_inode **ret_inode)
{
	char path[PROC_FD_PATH_MAX];
	int pfd;

	if (fstat(fd, ret_st) < 0)
		return -errno;
	proc_fd_path(fd, path, sizeof(path));
	pfd = open(path, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	return inode_from_fd(fs, pfd, ret_st, NULL, NULL, ret_inode);
}

static int tmpfile_create(struct lb_fs *fs, int devfd, const struct fuse_in_header *in,
			  const struct fuse_create_in *arg)
{
	struct fuse_file_info fi = { .flags = (int)arg->flags & ~(O_TMPFILE | O_EXCL) };
	struct tmpfile_reply reply;
	struct lb_inode *inode;
	struct lb_file *f;
	struct stat st;
	int fd, r;

	if (fs->state != LB_HEALTHY)
		return -EOPNOTSUPP;
	fd = tmpfile_store(fs, inode_of(fs, in->nodeid), in, arg);
	if (fd < 0 && is_path_failure(fs, fd)) {
		absorb_begin(fs, fd);
		return -EOPNOTSUPP;
	}
	if (fd < 0)	/* ENOSYS would turn O_TMPFILE off for the mount's life */
		return fd == -ENOSYS ? -EOPNOTSUPP : fd;
	r = tmpfile_inode(fs, fd, &st, &inode);
	if (r < 0)
		goto out_close;
	f = file_attach(fs, inode, fd, &fi);
	if (!f) {
		r = -ENOMEM;
		goto out_forget;
	}
	reply_fill(fs, inode, &st, f, &fi, &reply);
	r = reply_send(devfd, in->unique, 0, &reply);
	if (r == 0)
		return 0;
	/* Interrupted: the kernel never saw the inode nor the open file. */
	inode_file_del(fs, inode, f);
	free(f);
out_forget:
	inode_forget(fs, inode, 1);
out_close:
	close(fd);
	return r == -ENOENT ? 0 : r;
}

bool tmpfile_intercept(struct lb_fs *fs, int devfd, const void *buf, size_t len)
{
	const struct fuse_in_header *in = buf;
	int r;

	if (len < sizeof(*in) || in->opcode != FUSE_TMPFILE)
		return false;
	if (len < sizeof(*in) + sizeof(struct fuse_create_in) || in->len != len)
		r = -EINVAL;
	else
		r = tmpfile_create(fs, devfd, in, (const void *)(in + 1));
	if (r < 0 && reply_send(devfd, in->unique, r, NULL) < 0)
		log_debug("cannot send the error reply to a tmpfile request");
	return true;
}
