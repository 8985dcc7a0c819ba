// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * file.c - faultfs handlers for open files: the handle is the backing fd;
 * every data mutation saves what it overwrites (undo.c) before it runs,
 * and fsync/fdatasync marks the file durable.
 */
#define LOG_PREFIX ""
#include "lifeboat/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>
#include <unistd.h>

#include "faultfs.h"

/* Opens an inode for I/O; an O_TRUNC open saves the content first. */
static int open_inode(struct ff_fs *fs, struct ff_inode *in, int flags)
{
	int r;

	flags &= ~(O_CREAT | O_EXCL | O_NOCTTY);
	if (!(flags & O_TRUNC) || in->type != S_IFREG)
		return inode_reopen(in, flags);
	undo_begin(fs, in);
	r = undo_save_from(fs, in, 0);
	if (r == 0)
		r = inode_reopen(in, flags);
	undo_end(fs, in);
	return r;
}

void ff_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ff_inode *in = ff_inode(req, ino);
	int fd;

	if (!ff_gate(req, FF_META))
		return;
	if (!in)
		return (void)fuse_reply_err(req, ESTALE);
	fd = open_inode(fs_of(req), in, fi->flags);
	if (fd < 0)
		return (void)fuse_reply_err(req, -fd);
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	if (fuse_reply_open(req, fi) < 0)
		close(fd);
}

static void create_existing(fuse_req_t req, struct ff_inode *p, const char *name,
			    struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	struct ff_inode *in;
	int fd, r;

	r = ff_lookup_name(fs_of(req), p, name, &e);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	in = inode_get(fs_of(req), e.ino);
	fd = open_inode(fs_of(req), in, fi->flags);
	if (fd < 0) {
		inode_forget(fs_of(req), in, 1);
		return (void)fuse_reply_err(req, -fd);
	}
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	if (fuse_reply_create(req, &e, fi) < 0)
		close(fd);
}

void ff_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi)
{
	struct ff_inode *p = ff_inode(req, parent);
	struct fuse_entry_param e;
	int fd, r;

	if (!ff_gate(req, FF_META))
		return;
	if (!p)
		return (void)fuse_reply_err(req, ESTALE);
	fd = openat(p->fd, name, (fi->flags | O_CREAT | O_EXCL | O_CLOEXEC) & ~O_NOFOLLOW,
		    mode & 07777);
	if (fd < 0 && errno == EEXIST && !(fi->flags & O_EXCL))
		return create_existing(req, p, name, fi);
	if (fd < 0)
		return (void)fuse_reply_err(req, errno);
	ff_chown_new(req, p->fd, name, fd);
	r = ff_lookup_name(fs_of(req), p, name, &e);
	if (r < 0) {
		close(fd);
		return (void)fuse_reply_err(req, -r);
	}
	undo_created(fs_of(req), p, name, inode_get(fs_of(req), e.ino), true);
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	if (fuse_reply_create(req, &e, fi) < 0)
		close(fd);
}

void ff_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	if (!ff_gate(req, FF_READ))
		return;
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = (int)fi->fh;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

void ff_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	      struct fuse_file_info *fi)
{
	struct ff_inode *in = ff_inode(req, ino);
	struct ff_fs *fs = fs_of(req);
	ssize_t n;
	int r;

	if (!ff_gate(req, FF_WRITE))
		return;
	if (!in)
		return (void)fuse_reply_err(req, ESTALE);
	undo_begin(fs, in);
	r = undo_save(fs, in, off, (off_t)size);
	n = r < 0 ? r : pwrite((int)fi->fh, buf, size, off);
	if (n < 0 && r == 0)
		r = -errno;
	if (n >= 0 && (fi->flags & (O_SYNC | O_DSYNC)))
		undo_file_synced_locked(fs, in);
	undo_end(fs, in);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	fuse_reply_write(req, (size_t)n);
}

void ff_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int fd;

	if (!ff_gate(req, FF_SYNC))
		return;
	/* close() of a dup reports what the store says at close (NFS does). */
	fd = dup((int)fi->fh);
	if (fd < 0)
		return (void)fuse_reply_err(req, errno);
	fuse_reply_err(req, close(fd) < 0 ? errno : 0);
}

/* Never gated: the kernel ignores what release answers. */
void ff_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	close((int)fi->fh);
	fuse_reply_err(req, 0);
}

void ff_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct ff_inode *in = ff_inode(req, ino);
	uint64_t gen = undo_generation(fs_of(req));

	if (!ff_gate(req, FF_SYNC))
		return;
	if (!in)
		return (void)fuse_reply_err(req, ESTALE);
	fuse_reply_err(req, -undo_sync(fs_of(req), in, (int)fi->fh, datasync, gen));
}

void ff_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		  struct fuse_file_info *fi)
{
	struct ff_inode *in = ff_inode(req, ino);
	struct ff_fs *fs = fs_of(req);
	int r;

	if (!ff_gate(req, FF_WRITE))
		return;
	if (!in)
		return (void)fuse_reply_err(req, ESTALE);
	undo_begin(fs, in);
	if (mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE))
		r = undo_save_from(fs, in, off);
	else if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
		r = undo_save(fs, in, off, len);
	else
		r = undo_save(fs, in, off, 0);	/* only the size can change */
	if (r == 0 && fallocate((int)fi->fh, mode, off, len) < 0)
		r = -errno;
	undo_end(fs, in);
	fuse_reply_err(req, -r);
}

void ff_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			struct fuse_file_info *fi_out, size_t len, int flags)
{
	struct ff_inode *out = ff_inode(req, ino_out);
	struct ff_fs *fs = fs_of(req);
	ssize_t n;
	int r;

	if (!ff_gate(req, FF_WRITE))
		return;
	if (!out)
		return (void)fuse_reply_err(req, ESTALE);
	undo_begin(fs, out);
	r = undo_save(fs, out, off_out, (off_t)len);
	n = r < 0 ? r
		  : copy_file_range((int)fi_in->fh, &off_in, (int)fi_out->fh, &off_out, len,
				    (unsigned)flags);
	if (n < 0 && r == 0)
		r = -errno;
	undo_end(fs, out);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	fuse_reply_write(req, (size_t)n);
}

void ff_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi)
{
	off_t res;

	if (!ff_gate(req, FF_READ))
		return;
	res = lseek((int)fi->fh, off, whence);
	if (res < 0)
		return (void)fuse_reply_err(req, errno);
	fuse_reply_lseek(req, res);
}
