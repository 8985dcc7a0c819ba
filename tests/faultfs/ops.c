// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ops.c - faultfs's fuse_lowlevel_ops table, the connection setup and the
 * helpers every handler shares (fault gate, inode resolution, entries).
 * Attribute and entry timeouts are 0 and every open is direct_io, so each
 * application access reaches faultfs and meets the injected fault.
 */
#define LOG_PREFIX ""
#include "lifeboat/log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "faultfs.h"

struct ff_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* Returns false once it has replied with the injected error. */
bool ff_gate(fuse_req_t req, unsigned cls)
{
	int r = fault_gate(fs_of(req), req, cls);

	if (r < 0)
		fuse_reply_err(req, -r);
	return r == 0;
}

/* The inode of a node id the kernel holds, or NULL for a stale one. */
struct ff_inode *ff_inode(fuse_req_t req, fuse_ino_t ino)
{
	struct ff_inode *in = inode_get(fs_of(req), ino);

	return in && inode_fd(fs_of(req), in) >= 0 ? in : NULL;
}

/* Makes an entry (one more lookup reference) from fd, an O_PATH fd it consumes. */
int ff_lookup_fd(struct ff_fs *fs, int fd, struct fuse_entry_param *e)
{
	struct ff_inode *in;
	int r;

	memset(e, 0, sizeof(*e));
	if (fstatat(fd, "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = inode_from_fd(fs, fd, &e->attr, &in);
	if (r < 0)
		return r;
	e->ino = in->nodeid;
	e->generation = in->generation;
	return 0;
}

int ff_lookup_name(struct ff_fs *fs, struct ff_inode *parent, const char *name,
		   struct fuse_entry_param *e)
{
	int fd = openat(parent->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return ff_lookup_fd(fs, fd, e);
}

/*
 * faultfs creates as its own uid; give a new node to the requester. The
 * group stays the one the kernel chose if the directory is setgid.
 */
void ff_chown_new(fuse_req_t req, int dirfd, const char *name, int fd)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct stat dst;
	gid_t gid = ctx->gid;

	if (ctx->uid == geteuid() && ctx->gid == getegid())
		return;
	if (fstat(dirfd, &dst) == 0 && (dst.st_mode & S_ISGID))
		gid = (gid_t)-1;
	if (fd >= 0)
		(void)fchown(fd, ctx->uid, gid);
	else
		(void)fchownat(dirfd, name, ctx->uid, gid, AT_SYMLINK_NOFOLLOW);
}

static void ff_init(void *userdata, struct fuse_conn_info *conn)
{
	if (conn->capable & FUSE_CAP_EXPORT_SUPPORT)
		conn->want |= FUSE_CAP_EXPORT_SUPPORT;
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;	/* every write must reach us */
}

const struct fuse_lowlevel_ops ff_ops = {
	.init = ff_init,
	.lookup = ff_lookup,
	.forget = ff_forget,
	.forget_multi = ff_forget_multi,
	.getattr = ff_getattr,
	.setattr = ff_setattr,
	.readlink = ff_readlink,
	.mknod = ff_mknod,
	.mkdir = ff_mkdir,
	.symlink = ff_symlink,
	.unlink = ff_unlink,
	.rmdir = ff_rmdir,
	.rename = ff_rename,
	.link = ff_link,
	.open = ff_open,
	.create = ff_create,
	.read = ff_read,
	.write = ff_write,
	.flush = ff_flush,
	.release = ff_release,
	.fsync = ff_fsync,
	.opendir = ff_opendir,
	.readdir = ff_readdir,
	.releasedir = ff_releasedir,
	.fsyncdir = ff_fsyncdir,
	.statfs = ff_statfs,
	.setxattr = ff_setxattr,
	.getxattr = ff_getxattr,
	.listxattr = ff_listxattr,
	.removexattr = ff_removexattr,
	.fallocate = ff_fallocate,
	.copy_file_range = ff_copy_file_range,
	.lseek = ff_lseek,
};
