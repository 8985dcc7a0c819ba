// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xattr.c - extended attributes, POSIX ACLs included, passed through.
 *
 * The xattr calls do not accept O_PATH fds, so they go through the fd's
 * /proc/self/fd magic link, which resolves to the object itself (also for a
 * symlink, whose trusted. and security. attributes are reachable that way).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/xattr.h>

#define LOG_PREFIX "xattr: "
#include "lifeboat/log.h"
#include "lifeboatfs.h"

#define XATTR_BUF_MAX (64 * 1024)

int xattr_proc_path(int fd, char *buf, size_t len)
{
	return snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* Runs one xattr call on the inode's magic link; returns >= 0 or -errno. */
enum xattr_op { XA_GET, XA_LIST, XA_SET, XA_REMOVE };

static ssize_t xattr_call(fuse_req_t req, fuse_ino_t ino, enum xattr_op op, const char *name,
			  void *value, size_t size, int flags)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_inode *inode = inode_of(fs, ino);
	char path[64];
	ssize_t n;
	int fd;

	fd = inode_fd_get(fs, inode);
	if (fd < 0)
		return fd;
	xattr_proc_path(fd, path, sizeof(path));
	switch (op) {
	case XA_GET:
		n = getxattr(path, name, value, size);
		break;
	case XA_LIST:
		n = listxattr(path, value, size);
		break;
	case XA_SET:
		n = setxattr(path, name, value, size, flags);
		break;
	default:
		n = removexattr(path, name);
		break;
	}
	if (n < 0)
		n = -errno;
	inode_fd_put(fs, inode);
	return n;
}

static void reply_sized(fuse_req_t req, fuse_ino_t ino, enum xattr_op op, const char *name,
			size_t size)
{
	ssize_t n;
	char *buf;

	if (size == 0) {
		n = xattr_call(req, ino, op, name, NULL, 0, 0);
		if (n < 0)
			return (void)fuse_reply_err(req, (int)-n);
		return (void)fuse_reply_xattr(req, (size_t)n);
	}
	if (size > XATTR_BUF_MAX)
		size = XATTR_BUF_MAX;
	buf = malloc(size);
	if (!buf)
		return (void)fuse_reply_err(req, ENOMEM);
	n = xattr_call(req, ino, op, name, buf, size, 0);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

void lb_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	reply_sized(req, ino, XA_GET, name, size);
}

void lb_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	reply_sized(req, ino, XA_LIST, NULL, size);
}

void lb_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		 size_t size, int flags)
{
	ssize_t n = xattr_call(req, ino, XA_SET, name, (void *)value, size, flags);

	fuse_reply_err(req, n < 0 ? (int)-n : 0);
}

void lb_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	ssize_t n = xattr_call(req, ino, XA_REMOVE, name, NULL, 0, 0);

	fuse_reply_err(req, n < 0 ? (int)-n : 0);
}
