// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dir.c - faultfs handlers for names, attributes, directories and xattrs:
 * each passes the operation to the store through the inode's O_PATH fd,
 * after the fault gate, and tells undo.c about names made and removed.
 */
#define LOG_PREFIX ""
#include "lifeboat/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "faultfs.h"

struct ff_dir {
	DIR *dp;
	off_t offset;		/* of the next entry readdir() returns */
	struct dirent *entry;	/* read but not yet sent, or NULL */
};

static void reply_entry_or_err(fuse_req_t req, int r, const struct fuse_entry_param *e)
{
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_entry(req, e);
}

/* Lookups of "." and ".." come from open_by_handle_at (export support). */
static int lookup_dot(struct ff_fs *fs, struct ff_inode *in, const char *name,
		      struct fuse_entry_param *e)
{
	int fd, r;

	r = inode_revive(fs, in);
	if (r < 0)
		return r;
	if (strcmp(name, "..") == 0 && in->nodeid != FUSE_ROOT_ID) {
		fd = openat(in->fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		r = fd < 0 ? -errno : ff_lookup_fd(fs, fd, e);
		inode_forget(fs, in, 1);
		return r;
	}
	memset(e, 0, sizeof(*e));
	if (fstatat(in->fd, "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		r = -errno;
		inode_forget(fs, in, 1);
		return r;
	}
	e->ino = in->nodeid;
	e->generation = in->generation;
	return 0;
}

void ff_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ff_inode *p = inode_get(fs_of(req), parent);
	struct fuse_entry_param e;
	int r;

	if (!ff_gate(req, FF_META))
		return;
	if (!p)
		return (void)fuse_reply_err(req, ESTALE);
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		r = lookup_dot(fs_of(req), p, name, &e);
	else if (inode_fd(fs_of(req), p) < 0)
		r = -ESTALE;
	else
		r = ff_lookup_name(fs_of(req), p, name, &e);
	reply_entry_or_err(req, r, &e);
}

void ff_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct ff_inode *in = inode_get(fs_of(req), ino);

	if (in)
		inode_forget(fs_of(req), in, nlookup);
	fuse_reply_none(req);
}

void ff_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++) {
		struct ff_inode *in = inode_get(fs_of(req), forgets[i].ino);

		if (in)
			inode_forget(fs_of(req), in, forgets[i].nlookup);
	}
	fuse_reply_none(req);
}

static void reply_attr_of(fuse_req_t req, struct ff_inode *in)
{
	struct stat st;

	if (fstatat(in->fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return (void)fuse_reply_err(req, errno);
	fuse_reply_attr(req, &st, 0);
}

void ff_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ff_inode *in = ff_inode(req, ino);

	if (!ff_gate(req, FF_META))
		return;
	if (!in)
		return (void)fuse_reply_err(req, ESTALE);
	reply_attr_of(req, in);
}

static int set_times(struct ff_inode *in, const struct stat *attr, int valid,
		     struct fuse_file_info *fi)
{
	struct timespec tv[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };
	char path[64];

	if (valid & FUSE_SET_ATTR_ATIME_NOW)
		tv[0].tv_nsec = UTIME_NOW;
	else if (valid & FUSE_SET_ATTR_ATIME)
		tv[0] = attr->st_atim;
	if (valid & FUSE_SET_ATTR_MTIME_NOW)
		tv[1].tv_nsec = UTIME_NOW;
	else if (valid & FUSE_SET_ATTR_MTIME)
		tv[1] = attr->st_mtim;
	if (fi)
		return futimens((int)fi->fh, tv) < 0 ? -errno : 0;
	if (in->type == S_IFLNK)
		return utimensat(in->fd, "", tv, AT_EMPTY_PATH) < 0 ? -errno : 0;
	inode_proc_path(in->fd, path, sizeof(path));
	return utimensat(AT_FDCWD, path, tv, 0) < 0 ? -errno : 0;
}

static int set_size(struct ff_fs *fs, struct ff_inode *in, off_t size, struct fuse_file_info *fi)
{
	char path[64];
	int r;

	undo_begin(fs, in);
	r = undo_save_from(fs, in, size);
	if (r == 0 && fi)
		r = ftruncate((int)fi->fh, size) < 0 ? -errno : 0;
	else if (r == 0) {
		inode_proc_path(in->fd, path, sizeof(path));
		r = truncate(path, size) < 0 ? -errno : 0;
	}
	undo_end(fs, in);
	return r;
}

static int do_setattr(struct ff_fs *fs, struct ff_inode *in, struct stat *attr, int valid,
		      struct fuse_file_info *fi)
{
	char path[64];

	inode_proc_path(in->fd, path, sizeof(path));
	if (valid & FUSE_SET_ATTR_MODE) {
		if (fi ? fchmod((int)fi->fh, attr->st_mode) : chmod(path, attr->st_mode))
			return -errno;
	}
	if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = valid & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t)-1;
		gid_t gid = valid & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t)-1;

		if (fchownat(in->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	if (valid & FUSE_SET_ATTR_SIZE) {
		int r = set_size(fs, in, attr->st_size, fi);

		if (r < 0)
			return r;
	}
	if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME))
		return set_times(in, attr, valid, fi);
	return 0;
}

void ff_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
		struct fuse_file_info *fi)
{
	struct ff_inode *in = ff_inode(req, ino);
	int r;

	if (!ff_gate(req, valid & FUSE_SET_ATTR_SIZE ? FF_WRITE : FF_META))
		return;
	if (!in)
		return (void)fuse_reply_err(req, ESTALE);
	r = do_setattr(fs_of(req), in, attr, valid, fi);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	reply_attr_of(req, in);
}

void ff_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct ff_inode *in = ff_inode(req, ino);
	char buf[PATH_MAX + 1];
	ssize_t n;

	if (!ff_gate(req, FF_READ))
		return;
	if (!in)
		return (void)fuse_reply_err(req, ESTALE);
	n = readlinkat(in->fd, "", buf, sizeof(buf));
	if (n < 0)
		return (void)fuse_reply_err(req, errno);
	if ((size_t)n >= sizeof(buf))
		return (void)fuse_reply_err(req, ENAMETOOLONG);
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}

/* mknod, mkdir and symlink: make the node, hand it over, remember the name. */
static void make_node(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      dev_t rdev, const char *link)
{
	struct ff_inode *p = ff_inode(req, parent), *in;
	struct fuse_entry_param e;
	int r;

	if (!ff_gate(req, FF_META))
		return;
	if (!p)
		return (void)fuse_reply_err(req, ESTALE);
	if (S_ISDIR(mode))
		r = mkdirat(p->fd, name, mode & 07777);
	else if (link)
		r = symlinkat(link, p->fd, name);
	else
		r = mknodat(p->fd, name, mode, rdev);
	if (r < 0)
		return (void)fuse_reply_err(req, errno);
	ff_chown_new(req, p->fd, name, -1);
	r = ff_lookup_name(fs_of(req), p, name, &e);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	in = inode_get(fs_of(req), e.ino);
	undo_created(fs_of(req), p, name, in, true);
	fuse_reply_entry(req, &e);
}

void ff_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	make_node(req, parent, name, mode, rdev, NULL);
}

void ff_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	make_node(req, parent, name, S_IFDIR | mode, 0, NULL);
}

void ff_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	make_node(req, parent, name, S_IFLNK | 0777, 0, link);
}

static void remove_name(fuse_req_t req, fuse_ino_t parent, const char *name, int flags)
{
	struct ff_inode *p = ff_inode(req, parent);

	if (!ff_gate(req, FF_META))
		return;
	if (!p)
		return (void)fuse_reply_err(req, ESTALE);
	if (unlinkat(p->fd, name, flags) < 0)
		return (void)fuse_reply_err(req, errno);
	undo_unlinked(fs_of(req), p, name);
	fuse_reply_err(req, 0);
}

void ff_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, 0);
}

void ff_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, AT_REMOVEDIR);
}

void ff_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
	       const char *newname, unsigned int flags)
{
	struct ff_inode *p = ff_inode(req, parent), *np = ff_inode(req, newparent);

	if (!ff_gate(req, FF_META))
		return;
	if (!p || !np)
		return (void)fuse_reply_err(req, ESTALE);
	if (renameat2(p->fd, name, np->fd, newname, flags) < 0)
		return (void)fuse_reply_err(req, errno);
	undo_renamed(fs_of(req), p, name, np, newname, flags);
	fuse_reply_err(req, 0);
}

void ff_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct ff_inode *in = ff_inode(req, ino), *np = ff_inode(req, newparent);
	struct fuse_entry_param e;
	int r;

	if (!ff_gate(req, FF_META))
		return;
	if (!in || !np)
		return (void)fuse_reply_err(req, ESTALE);
	if (linkat(in->fd, "", np->fd, newname, AT_EMPTY_PATH) < 0)
		return (void)fuse_reply_err(req, errno);
	r = ff_lookup_name(fs_of(req), np, newname, &e);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	undo_created(fs_of(req), np, newname, in, false);
	fuse_reply_entry(req, &e);
}

void ff_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ff_inode *in = ff_inode(req, ino);
	struct ff_dir *d;
	int fd;

	if (!ff_gate(req, FF_META))
		return;
	if (!in)
		return (void)fuse_reply_err(req, ESTALE);
	d = calloc(1, sizeof(*d));
	if (!d)
		return (void)fuse_reply_err(req, ENOMEM);
	fd = openat(in->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d->dp = fd < 0 ? NULL : fdopendir(fd);
	if (!d->dp) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		free(d);
		return (void)fuse_reply_err(req, err);
	}
	fi->fh = (uintptr_t)d;
	fuse_reply_open(req, fi);
}

/* Fills buf with entries from d; returns the bytes used or -errno. */
static ssize_t fill_dir(fuse_req_t req, struct ff_dir *d, char *buf, size_t size, off_t off)
{
	size_t used = 0;

	if (off != d->offset) {
		seekdir(d->dp, off);
		d->entry = NULL;
		d->offset = off;
	}
	for (;;) {
		struct stat st = { 0 };
		size_t n;

		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry)
				return errno && !used ? -errno : (ssize_t)used;
		}
		st.st_ino = d->entry->d_ino;
		st.st_mode = (mode_t)d->entry->d_type << 12;
		n = fuse_add_direntry(req, buf + used, size - used, d->entry->d_name, &st,
				      d->entry->d_off);
		if (n > size - used)
			return (ssize_t)used;
		used += n;
		d->offset = d->entry->d_off;
		d->entry = NULL;
	}
}

void ff_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	struct ff_dir *d = (struct ff_dir *)(uintptr_t)fi->fh;
	ssize_t n;
	char *buf;

	if (!ff_gate(req, FF_READ))
		return;
	buf = malloc(size);
	if (!buf)
		return (void)fuse_reply_err(req, ENOMEM);
	n = fill_dir(req, d, buf, size, off);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

void ff_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ff_dir *d = (struct ff_dir *)(uintptr_t)fi->fh;

	closedir(d->dp);
	free(d);
	fuse_reply_err(req, 0);
}

void ff_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct ff_dir *d = (struct ff_dir *)(uintptr_t)fi->fh;
	struct ff_inode *in = ff_inode(req, ino);
	uint64_t gen = undo_generation(fs_of(req));

	if (!ff_gate(req, FF_SYNC))
		return;
	if (!in)
		return (void)fuse_reply_err(req, ESTALE);
	fuse_reply_err(req, -undo_sync(fs_of(req), in, dirfd(d->dp), datasync, gen));
}

void ff_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct ff_inode *in = ff_inode(req, ino);
	struct statvfs sv;

	if (!ff_gate(req, FF_META))
		return;
	if (!in)
		return (void)fuse_reply_err(req, ESTALE);
	if (fstatvfs(in->fd, &sv) < 0)
		return (void)fuse_reply_err(req, errno);
	fuse_reply_statfs(req, &sv);
}

/*
 * xattrs go through /proc/self/fd/N, which follows symlinks: a symlink's own
 * xattrs are not reachable and answer ENOTSUP.
 */
static struct ff_inode *xattr_inode(fuse_req_t req, fuse_ino_t ino, char *path, size_t len)
{
	struct ff_inode *in = ff_inode(req, ino);

	if (!ff_gate(req, FF_META))
		return NULL;
	if (!in || in->type == S_IFLNK) {
		fuse_reply_err(req, in ? ENOTSUP : ESTALE);
		return NULL;
	}
	inode_proc_path(in->fd, path, len);
	return in;
}

void ff_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		 size_t size, int flags)
{
	char path[64];

	if (!xattr_inode(req, ino, path, sizeof(path)))
		return;
	fuse_reply_err(req, setxattr(path, name, value, size, flags) < 0 ? errno : 0);
}

static void reply_xattr_value(fuse_req_t req, ssize_t n, const char *buf, size_t size)
{
	if (n < 0)
		fuse_reply_err(req, errno);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

void ff_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char path[64], *buf = NULL;
	ssize_t n;

	if (!xattr_inode(req, ino, path, sizeof(path)))
		return;
	if (size && !(buf = malloc(size)))
		return (void)fuse_reply_err(req, ENOMEM);
	n = getxattr(path, name, buf, size);
	reply_xattr_value(req, n, buf, size);
	free(buf);
}

void ff_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char path[64], *buf = NULL;
	ssize_t n;

	if (!xattr_inode(req, ino, path, sizeof(path)))
		return;
	if (size && !(buf = malloc(size)))
		return (void)fuse_reply_err(req, ENOMEM);
	n = listxattr(path, buf, size);
	reply_xattr_value(req, n, buf, size);
	free(buf);
}

void ff_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	char path[64];

	if (!xattr_inode(req, ino, path, sizeof(path)))
		return;
	fuse_reply_err(req, removexattr(path, name) < 0 ? errno : 0);
}
