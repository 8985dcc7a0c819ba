// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * readdir.c - directory handles: opendir, readdir, readdirplus, releasedir
 * and fsyncdir.
 *
 * readdirplus returns each entry with its attributes and a lookup, so `ls
 * -l`, `du` and `find` cost one round trip per buffer rather than one per
 * name. The kernel may cache the listing (FOPEN_CACHE_DIR): all changes to
 * the store go through this mount, and the kernel drops that cache at every
 * change it makes to the directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "readdir: "
#include "lifeboat/log.h"
#include "lifeboatfs.h"

struct lb_dir {
	DIR *dp;
	off_t offset;		/* position of dp, in telldir() units */
	struct dirent *entry;	/* read but not yet sent, or NULL */
};

static struct lb_dir *dir_of(struct fuse_file_info *fi)
{
	return (struct lb_dir *)(uintptr_t)fi->fh;
}

void lb_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_inode *inode = inode_of(fs, ino);
	struct lb_dir *d;
	int fd, dfd, r;

	d = calloc(1, sizeof(*d));
	if (!d)
		return (void)fuse_reply_err(req, ENOMEM);
	fd = inode_fd_get(fs, inode);
	if (fd < 0) {
		free(d);
		return (void)fuse_reply_err(req, -fd);
	}
	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = errno;
	inode_fd_put(fs, inode);
	if (dfd < 0) {
		free(d);
		return (void)fuse_reply_err(req, r);
	}
	d->dp = fdopendir(dfd);
	if (!d->dp) {
		r = errno;
		close(dfd);
		free(d);
		return (void)fuse_reply_err(req, r);
	}
	fi->fh = (uintptr_t)d;
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		closedir(d->dp);
		free(d);
	}
}

/* Adds one entry; returns its size, or 0 when the buffer is full. */
static size_t add_entry(fuse_req_t req, struct lb_dir *d, int plus, char *buf, size_t room,
			off_t next)
{
	struct lb_fs *fs = fs_of(req);
	struct dirent *de = d->entry;
	struct fuse_entry_param e;
	const char *n = de->d_name;
	size_t len;

	memset(&e, 0, sizeof(e));
	e.attr.st_ino = de->d_ino;
	e.attr.st_mode = (mode_t)de->d_type << 12;
	if (!plus) {
		len = fuse_add_direntry(req, buf, room, n, &e.attr, next);
		return len <= room ? len : 0;
	}

	/* "." and ".." go without a lookup: the kernel does not instantiate them. */
	if (strcmp(n, ".") != 0 && strcmp(n, "..") != 0 &&
	    inode_lookup_child(fs, NULL, dirfd(d->dp), n, &e) < 0)
		return (size_t)-1;	/* vanished meanwhile: skip it */
	len = fuse_add_direntry_plus(req, buf, room, n, &e, next);
	if (len > room) {
		if (e.ino)
			inode_forget(fs, inode_of(fs, e.ino), 1);
		return 0;
	}
	return len;
}

static void do_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi,
		       int plus)
{
	struct lb_dir *d = dir_of(fi);
	size_t used = 0, len;
	char *buf;
	int err = 0;

	buf = malloc(size);
	if (!buf)
		return (void)fuse_reply_err(req, ENOMEM);
	if (off != d->offset) {
		seekdir(d->dp, off);
		d->entry = NULL;
		d->offset = off;
	}
	for (;;) {
		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				err = errno;
				break;
			}
		}
		len = add_entry(req, d, plus, buf + used, size - used, d->entry->d_off);
		if (len == 0)
			break;
		if (len != (size_t)-1)
			used += len;
		d->offset = d->entry->d_off;
		d->entry = NULL;
	}
	if (err && used == 0)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

void lb_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, size, off, fi, 0);
}

void lb_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	do_readdir(req, size, off, fi, 1);
}

void lb_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lb_dir *d = dir_of(fi);

	closedir(d->dp);
	free(d);
	fuse_reply_err(req, 0);
}

void lb_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	int fd = dirfd(dir_of(fi)->dp);
	int r = (datasync ? fdatasync(fd) : fsync(fd)) < 0 ? errno : 0;

	fuse_reply_err(req, r);
}
