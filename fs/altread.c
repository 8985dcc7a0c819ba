// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * altread.c - the alternate read path of an absorbing mount.
 *
 * The overlay answers what this mount wrote; everything else is in the
 * store, which this node cannot reach now. The peer can: one request over
 * the local lifeboatd's unix socket (-o alt_read=PATH), which forwards it
 * over the authenticated peer channel. A short timeout keeps a dead peer
 * from costing more than a moment: the read then holds as before.
 *
 * Only files without an overlay are asked: once absorbing, everything this
 * mount acknowledged and the store may lack (the unflushed queue included)
 * is in the overlay, so the store's bytes are the right ones for the rest.
 * The name asked is this mount's; a rename it absorbed may have given it to
 * another file of the store, so the peer also checks the inode number.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define LOG_PREFIX "altread: "
#include "lifeboat/altread-proto.h"
#include "lifeboat/log.h"
#include "absorb.h"
#include "altread.h"
#include "lifeboatfs.h"

#define ALTREAD_TIMEOUT_MS 1500

static int sock_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = ALTREAD_TIMEOUT_MS / 1000,
			      .tv_usec = (ALTREAD_TIMEOUT_MS % 1000) * 1000 };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

static int recv_all(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = recv(fd, (char *)buf + done, len - done, MSG_WAITALL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			return -ECONNRESET;
		done += (size_t)n;
	}
	return 0;
}

static ssize_t ask(int fd, const char *mount, const char *path, uint64_t ino, char *buf,
		   size_t size, off_t off)
{
	struct altread_req q = { .magic = ALTREAD_MAGIC, .version = ALTREAD_VERSION,
				 .mount_len = (uint32_t)strlen(mount),
				 .path_len = (uint32_t)strlen(path), .offset = (uint64_t)off,
				 .length = (uint32_t)size, .ino = ino };
	struct iovec iov[3] = { { &q, sizeof(q) },
				{ (void *)mount, q.mount_len },
				{ (void *)path, q.path_len } };
	struct altread_reply a;
	ssize_t n;
	int r;

	n = writev(fd, iov, 3);
	if (n != (ssize_t)(sizeof(q) + q.mount_len + q.path_len))
		return n < 0 ? -errno : -EIO;
	r = recv_all(fd, &a, sizeof(a));
	if (r < 0)
		return r;
	if (a.magic != ALTREAD_MAGIC || a.length > size)
		return -EBADMSG;
	if (a.err)
		return -(int)a.err;
	r = recv_all(fd, buf, a.length);
	return r < 0 ? r : (ssize_t)a.length;
}

ssize_t altread_read(struct lb_fs *fs, struct lb_inode *inode, char *buf, size_t size, off_t off)
{
	char path[PATH_MAX];
	uint64_t ino;
	bool has_ov;
	ssize_t n;
	int fd, r;

	if (!fs->opt.alt_read)
		return -ENOTCONN;
	if (size > ALTREAD_LEN_MAX)
		size = ALTREAD_LEN_MAX;		/* a short read: the kernel asks again */
	pthread_mutex_lock(&fs->ov_lock);
	has_ov = inode->ov != NULL;
	pthread_mutex_unlock(&fs->ov_lock);
	if (has_ov || fs->state != LB_ABSORBING)
		return -ENODATA;
	r = inode_path(fs, inode, NULL, path, sizeof(path));
	if (r < 0)
		return r;
	pthread_mutex_lock(&fs->inodes_lock);
	ino = inode->ino;
	pthread_mutex_unlock(&fs->inodes_lock);
	fd = sock_connect(fs->opt.alt_read);
	if (fd < 0)
		return log_debug_errno(fd, "cannot reach '%s'", fs->opt.alt_read), fd;
	n = ask(fd, fs->opt.mountpoint, path, ino, buf, size, off);
	close(fd);
	if (n < 0)
		log_notice_errno((int)n, "read of '%s' at %lld not answered by the peer: holding", path,
			       (long long)off);
	return n;
}
