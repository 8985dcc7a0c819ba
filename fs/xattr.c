// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xattr.c - extended attributes, POSIX ACLs included, passed through.
 *
 * The xattr calls do not accept O_PATH fds, so they go through the fd's
 * /proc/self/fd magic link, which resolves to the object itself (also for a
 * symlink, whose trusted. and security. attributes are reachable that way).
 *
 * POSIX ACLs seen or set through the mount are cached per inode: with
 * default_permissions the kernel asks for them before it lets anyone but
 * the owner in, and while the store is down that question must still get
 * its answer, or every permission check of a forgotten object would wait.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#define LOG_PREFIX "xattr: "
#include "lifeboat/log.h"
#include "lifeboatfs.h"

#define XATTR_BUF_MAX (64 * 1024)

/* One cached ACL: present with its value, or known absent (len 0, !present). */
struct lb_acl {
	bool present;
	size_t len;
	char value[];
};

static int acl_slot(const char *name)
{
	if (!name)
		return -1;
	if (strcmp(name, "system.posix_acl_access") == 0)
		return 0;
	if (strcmp(name, "system.posix_acl_default") == 0)
		return 1;
	return -1;
}

void acl_cache_free_locked(struct lb_inode *inode)
{
	for (int i = 0; i < 2; i++) {
		free(inode->acl[i]);
		inode->acl[i] = NULL;
	}
}

/* Remembers an ACL: @len bytes of @value, or absent when @value is NULL. */
static void acl_cache_set(struct lb_fs *fs, struct lb_inode *inode, const char *name,
			  const void *value, size_t len)
{
	int slot = acl_slot(name);
	struct lb_acl *a;

	if (slot < 0)
		return;
	a = malloc(sizeof(*a) + (value ? len : 0));
	if (a) {
		a->present = value != NULL;
		a->len = value ? len : 0;
		if (value)
			memcpy(a->value, value, len);
	}
	pthread_mutex_lock(&fs->inodes_lock);
	free(inode->acl[slot]);
	inode->acl[slot] = a;	/* NULL (no memory): unknown again */
	pthread_mutex_unlock(&fs->inodes_lock);
}

/* A getxattr answered from the cache: -EAGAIN when it knows nothing. */
static ssize_t acl_cache_get(struct lb_fs *fs, struct lb_inode *inode, const char *name,
			     void *value, size_t size)
{
	int slot = acl_slot(name);
	ssize_t n = -EAGAIN;
	struct lb_acl *a;

	if (slot < 0)
		return n;
	pthread_mutex_lock(&fs->inodes_lock);
	a = inode->acl[slot];
	if (a && !a->present)
		n = -ENODATA;
	else if (a && size == 0)
		n = (ssize_t)a->len;
	else if (a && size < a->len)
		n = -ERANGE;
	else if (a) {
		memcpy(value, a->value, a->len);
		n = (ssize_t)a->len;
	}
	pthread_mutex_unlock(&fs->inodes_lock);
	return n;
}

/* Runs one xattr call on the inode's magic link; returns >= 0 or -errno. */
enum xattr_op { XA_GET, XA_LIST, XA_SET, XA_REMOVE };

static ssize_t xattr_call(fuse_req_t req, fuse_ino_t ino, enum xattr_op op, const char *name,
			  void *value, size_t size, int flags)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_inode *inode = inode_of(fs, ino);
	char path[PROC_FD_PATH_MAX];
	ssize_t n;
	int fd;

	fd = inode_fd_get(fs, inode);
	if (fd < 0)
		return fd;
	proc_fd_path(fd, path, sizeof(path));
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

/* Reads retry once the store is back: the overlay keeps no xattrs. */
static ssize_t xattr_read(fuse_req_t req, fuse_ino_t ino, enum xattr_op op, const char *name,
			  void *value, size_t size)
{
	struct lb_fs *fs = fs_of(req);
	ssize_t n;

	for (;;) {
		n = xattr_call(req, ino, op, name, value, size, 0);
		if (op == XA_GET && size && (n >= 0 || n == -ENODATA))
			acl_cache_set(fs, inode_of(fs, ino), name, n >= 0 ? value : NULL, (size_t)n);
		if (n >= 0 || !is_path_failure(fs, (int)n))
			return n;
		if (op == XA_GET) {
			ssize_t c = acl_cache_get(fs, inode_of(fs, ino), name, value, size);

			if (c != -EAGAIN)
				return c;
		}
		/*
		 * The kernel asks for security.capability before writes: an
		 * object with nothing on the store has none, and the others
		 * are not executables being rewritten while absorbing.
		 */
		if (op == XA_LIST && ov_is_virt(inode_of(fs, ino)))
			return 0;
		if (op == XA_GET && (ov_is_virt(inode_of(fs, ino)) ||
				     strcmp(name, "security.capability") == 0))
			return -ENODATA;
		absorb_begin(fs, (int)n);
		n = hold_wait(fs);
		if (n < 0)
			return n;
	}
}

static void reply_sized(fuse_req_t req, fuse_ino_t ino, enum xattr_op op, const char *name,
			size_t size)
{
	ssize_t n;
	char *buf;

	if (size == 0) {
		n = xattr_read(req, ino, op, name, NULL, 0);
		if (n < 0)
			return (void)fuse_reply_err(req, (int)-n);
		return (void)fuse_reply_xattr(req, (size_t)n);
	}
	if (size > XATTR_BUF_MAX)
		size = XATTR_BUF_MAX;
	buf = malloc(size);
	if (!buf)
		return (void)fuse_reply_err(req, ENOMEM);
	n = xattr_read(req, ino, op, name, buf, size);
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

struct xattr_arg {
	fuse_req_t req;
	fuse_ino_t ino;
};

static int xattr_store(struct lb_fs *fs, struct lb_mut *m, void *arg)
{
	struct xattr_arg *a = arg;
	enum xattr_op op = m->rec.type == JOURNAL_SETXATTR ? XA_SET : XA_REMOVE;
	ssize_t n = xattr_call(a->req, a->ino, op, m->rec.name, (void *)m->rec.data,
			       m->rec.data_len, (int)m->rec.flags);

	return n < 0 ? (int)n : 0;
}

static void xattr_change(fuse_req_t req, fuse_ino_t ino, enum journal_type type,
			 const char *name, const char *value, size_t size, int flags)
{
	struct lb_fs *fs = fs_of(req);
	struct xattr_arg a = { req, ino };
	struct lb_mut m;
	int r;

	mut_init(&m, type);
	m.file = inode_of(fs, ino);
	m.rec.name = name;
	m.rec.data = value;
	m.rec.data_len = size;
	m.rec.flags = (uint32_t)flags;
	(void)mut_path(fs, &m, m.file, NULL);
	r = mut_run(fs, &m, xattr_store, &a);
	if (r == 0)
		acl_cache_set(fs, m.file, name, type == JOURNAL_SETXATTR ? value : NULL, size);
	fuse_reply_err(req, -r);
}

void lb_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		 size_t size, int flags)
{
	xattr_change(req, ino, JOURNAL_SETXATTR, name, value, size, flags);
}

void lb_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	xattr_change(req, ino, JOURNAL_REMOVEXATTR, name, NULL, 0, 0);
}
