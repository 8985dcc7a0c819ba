// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dir.c - name operations: lookup, forget, mknod, mkdir, symlink, link,
 * unlink, rmdir and rename, each one system call on the store relative to
 * the parent's O_PATH fd, so paths of any length work and no path is built.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "dir: "
#include "lifeboat/log.h"
#include "lifeboatfs.h"

/* Replies with the entry of a name just created in @parent_fd. */
static void reply_new_entry(fuse_req_t req, int parent_fd, const char *name)
{
	struct lb_fs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct lb_inode *inode;
	int fd, r;

	memset(&e, 0, sizeof(e));
	fd = openat(parent_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return (void)fuse_reply_err(req, errno);
	if (fstat(fd, &e.attr) < 0) {
		r = errno;
		close(fd);
		return (void)fuse_reply_err(req, r);
	}
	r = inode_from_fd(fs, fd, &e.attr, &inode);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	e.ino = (uintptr_t)inode;
	e.generation = inode->generation;
	entry_fill_timeouts(fs, &e);
	if (fuse_reply_entry(req, &e) == -ENOENT)
		inode_forget(fs, inode, 1);	/* the caller was interrupted */
}

void lb_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_inode *dir = inode_of(fs, parent);
	struct fuse_entry_param e;
	int fd, r;

	fd = inode_fd_get(fs, dir);
	if (fd < 0)
		return (void)fuse_reply_err(req, -fd);
	r = inode_lookup_child(fs, dir, fd, name, &e);
	inode_fd_put(fs, dir);

	if (r == -ENOENT && fs->opt.negative_timeout > 0) {
		/* Cache the miss: a create then costs one round trip less. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = fs->opt.negative_timeout;
		return (void)fuse_reply_entry(req, &e);
	}
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	if (fuse_reply_entry(req, &e) == -ENOENT)
		inode_forget(fs, inode_of(fs, e.ino), 1);
}

void lb_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	inode_forget(fs_of(req), inode_of(fs_of(req), ino), nlookup);
	fuse_reply_none(req);
}

void lb_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct lb_fs *fs = fs_of(req);

	for (size_t i = 0; i < count; i++)
		inode_forget(fs, inode_of(fs, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

enum mk_kind { MK_NODE, MK_DIR, MK_SYMLINK };

static void make_node(fuse_req_t req, fuse_ino_t parent, const char *name, enum mk_kind kind,
		      mode_t mode, dev_t rdev, const char *target)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_inode *dir = inode_of(fs, parent);
	struct lb_creds_saved saved;
	int fd, r;

	fd = inode_fd_get(fs, dir);
	if (fd < 0)
		return (void)fuse_reply_err(req, -fd);
	r = creds_enter(req, mode, &saved);
	if (r == 0) {
		if (kind == MK_DIR)
			r = mkdirat(fd, name, mode);
		else if (kind == MK_SYMLINK)
			r = symlinkat(target, fd, name);
		else
			r = mknodat(fd, name, mode, rdev);
		r = r < 0 ? -errno : 0;
		creds_leave(&saved);
	}
	if (r == 0)
		reply_new_entry(req, fd, name);
	else
		fuse_reply_err(req, -r);
	inode_fd_put(fs, dir);
}

void lb_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	make_node(req, parent, name, MK_NODE, mode, rdev, NULL);
}

void lb_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	make_node(req, parent, name, MK_DIR, mode, 0, NULL);
}

void lb_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	make_node(req, parent, name, MK_SYMLINK, 0, 0, link);
}

void lb_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_inode *inode = inode_of(fs, ino), *dir = inode_of(fs, newparent);
	struct fuse_entry_param e;
	int fd, dfd, r;

	fd = inode_fd_get(fs, inode);
	if (fd < 0)
		return (void)fuse_reply_err(req, -fd);
	dfd = inode_fd_get(fs, dir);
	if (dfd < 0) {
		inode_fd_put(fs, inode);
		return (void)fuse_reply_err(req, -dfd);
	}
	r = linkat(fd, "", dfd, newname, AT_EMPTY_PATH) < 0 ? -errno : 0;
	if (r == 0)
		r = inode_lookup_child(fs, dir, dfd, newname, &e);
	inode_fd_put(fs, dir);
	inode_fd_put(fs, inode);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	if (fuse_reply_entry(req, &e) == -ENOENT)
		inode_forget(fs, inode_of(fs, e.ino), 1);
}

static void remove_name(fuse_req_t req, fuse_ino_t parent, const char *name, int flags)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_inode *dir = inode_of(fs, parent);
	int fd, r;

	fd = inode_fd_get(fs, dir);
	if (fd < 0)
		return (void)fuse_reply_err(req, -fd);
	r = unlinkat(fd, name, flags) < 0 ? errno : 0;
	inode_fd_put(fs, dir);
	fuse_reply_err(req, r);
}

void lb_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, 0);
}

void lb_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, AT_REMOVEDIR);
}

void lb_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
	       const char *newname, unsigned int flags)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_inode *from = inode_of(fs, parent), *to = inode_of(fs, newparent);
	int ffd, tfd, r;

	ffd = inode_fd_get(fs, from);
	if (ffd < 0)
		return (void)fuse_reply_err(req, -ffd);
	tfd = inode_fd_get(fs, to);
	if (tfd < 0) {
		inode_fd_put(fs, from);
		return (void)fuse_reply_err(req, -tfd);
	}
	r = renameat2(ffd, name, tfd, newname, flags) < 0 ? errno : 0;
	inode_fd_put(fs, to);
	inode_fd_put(fs, from);
	fuse_reply_err(req, r);
}
