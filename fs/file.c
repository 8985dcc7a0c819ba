// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * file.c - open files: open, create, read, write, release, fsync,
 * fallocate, copy_file_range and lseek.
 *
 * The backing file is opened without O_APPEND (the kernel already turns an
 * append into a write at the file's size, and the page-cache writeback of a
 * shared mapping may use any writable handle of the inode, so an O_APPEND
 * backing fd would misplace those writes) and without O_DIRECT (the request
 * buffers are not aligned; the handle is made direct_io instead, so the page
 * cache is bypassed as the application asked). The kernel may keep file
 * data cached across opens: every change to the store comes through here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "file: "
#include "lifeboat/log.h"
#include "lifeboatfs.h"

static struct lb_file *file_of(struct fuse_file_info *fi)
{
	return (struct lb_file *)(uintptr_t)fi->fh;
}

static int backing_flags(int flags)
{
	return (flags & ~(O_APPEND | O_DIRECT | O_NOFOLLOW | O_CREAT | O_EXCL)) | O_CLOEXEC;
}

static void file_fill_info(struct lb_file *f, struct fuse_file_info *fi)
{
	fi->fh = (uintptr_t)f;
	fi->noflush = 1;	/* nothing to do at close(2): saves a round trip */
	if (fi->flags & O_DIRECT)
		fi->direct_io = 1;
	else
		fi->keep_cache = 1;
}

static int open_backing(struct lb_fs *fs, struct lb_inode *inode, int flags)
{
	char path[64];
	int fd, pfd;

	if (inode->handle) {
		fd = open_by_handle_at(fs->mount_fd, inode->handle, flags);
		return fd < 0 ? -errno : fd;
	}
	pfd = inode_fd_get(fs, inode);
	if (pfd < 0)
		return pfd;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", pfd);
	fd = open(path, flags);
	fd = fd < 0 ? -errno : fd;
	inode_fd_put(fs, inode);
	return fd;
}

void lb_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_inode *inode = inode_of(fs, ino);
	struct lb_file *f;
	int fd;

	f = malloc(sizeof(*f));
	if (!f)
		return (void)fuse_reply_err(req, ENOMEM);
	fd = open_backing(fs, inode, backing_flags(fi->flags));
	if (fd < 0) {
		free(f);
		return (void)fuse_reply_err(req, -fd);
	}
	if ((fi->flags & O_TRUNC) && attr_kill_suid(fs, inode, fd, req) > 0)
		(void)fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
	f->fd = fd;
	f->inode = inode;
	file_fill_info(f, fi);
	if (fuse_reply_open(req, fi) == -ENOENT) {
		close(fd);
		free(f);
	}
}

static int create_in(fuse_req_t req, int dfd, const char *name, mode_t mode,
		     struct fuse_file_info *fi, struct fuse_entry_param *e)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_creds_saved saved;
	struct lb_inode *inode;
	int fd, pfd, r;

	r = creds_enter(req, mode, &saved);
	if (r < 0)
		return r;
	fd = openat(dfd, name, backing_flags(fi->flags) | O_CREAT, mode);
	r = fd < 0 ? -errno : 0;
	creds_leave(&saved);
	if (r < 0)
		return r;

	pfd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0 || fstat(pfd, &e->attr) < 0) {
		r = -errno;
		goto out_close;
	}
	r = inode_from_fd(fs, pfd, &e->attr, &inode);
	pfd = -1;
	if (r < 0)
		goto out_close;
	e->ino = (uintptr_t)inode;
	e->generation = inode->generation;
	entry_fill_timeouts(fs, e);
	return fd;

out_close:
	if (pfd >= 0)
		close(pfd);
	close(fd);
	return r;
}

void lb_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_inode *dir = inode_of(fs, parent);
	struct fuse_entry_param e;
	struct lb_file *f;
	int dfd, fd;

	memset(&e, 0, sizeof(e));
	f = malloc(sizeof(*f));
	if (!f)
		return (void)fuse_reply_err(req, ENOMEM);
	dfd = inode_fd_get(fs, dir);
	if (dfd < 0) {
		free(f);
		return (void)fuse_reply_err(req, -dfd);
	}
	fd = create_in(req, dfd, name, mode, fi, &e);
	inode_fd_put(fs, dir);
	if (fd < 0) {
		free(f);
		return (void)fuse_reply_err(req, -fd);
	}
	f->fd = fd;
	f->inode = inode_of(fs, e.ino);
	file_fill_info(f, fi);
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		inode_forget(fs, f->inode, 1);
		close(fd);
		free(f);
	}
}

void lb_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = file_of(fi)->fd;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

void lb_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in, off_t off,
		  struct fuse_file_info *fi)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_file *f = file_of(fi);
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
	bool killed;
	ssize_t n;

	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = f->fd;
	out.buf[0].pos = off;
	n = fuse_buf_copy(&out, in, 0);
	if (n < 0)
		return (void)fuse_reply_err(req, (int)-n);
	killed = attr_kill_suid(fs, f->inode, f->fd, req) > 0;
	fuse_reply_write(req, (size_t)n);
	if (killed)	/* the kernel still caches the old mode */
		(void)fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
}

void lb_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lb_file *f = file_of(fi);

	close(f->fd);
	free(f);
	fuse_reply_err(req, 0);
}

void lb_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	int fd = file_of(fi)->fd;
	int r = (datasync ? fdatasync(fd) : fsync(fd)) < 0 ? errno : 0;

	fuse_reply_err(req, r);
}

void lb_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
		  struct fuse_file_info *fi)
{
	int r = fallocate(file_of(fi)->fd, mode, offset, length) < 0 ? errno : 0;

	fuse_reply_err(req, r);
}

void lb_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			struct fuse_file_info *fi_out, size_t len, int flags)
{
	ssize_t n = copy_file_range(file_of(fi_in)->fd, &off_in, file_of(fi_out)->fd, &off_out,
				    len, (unsigned int)flags);

	if (n < 0)
		return (void)fuse_reply_err(req, errno);
	fuse_reply_write(req, (size_t)n);
}

void lb_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi)
{
	off_t r = lseek(file_of(fi)->fd, off, whence);

	if (r < 0)
		return (void)fuse_reply_err(req, errno);
	fuse_reply_lseek(req, r);
}
