// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * altread-serve.c - a peer reads through this node: the bytes of one file
 * of a mount both nodes share, read from this node's own mount.
 *
 * The asker is authenticated (TLS, HELLO) but still untrusted: the mount
 * must be one of ours by its exact path, the path is resolved beneath it
 * with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), ".." is refused
 * outright, only regular files are read, and nothing is ever written.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LOG_PREFIX "altread: "
#include "lifeboat/log.h"
#include "altread.h"

struct alt_request {
	char mount[PEER_PATH_MAX + 1];
	char path[PEER_PATH_MAX + 1];
	uint64_t offset;
	uint32_t length;
	uint64_t ino;
};

static int request_decode(const uint8_t *p, size_t len, struct alt_request *q)
{
	struct wire_in w;

	wire_in_init(&w, p, len);
	wire_get_str(&w, q->mount, PEER_PATH_MAX);
	wire_get_str(&w, q->path, PEER_PATH_MAX);
	q->offset = wire_get_u64(&w);
	q->length = wire_get_u32(&w);
	q->ino = wire_get_u64(&w);
	return wire_get_done(&w);
}

/* Relative, not empty, no ".." component: the refusal names the reason. */
static const char *path_refusal(const char *path)
{
	if (!path[0])
		return "an empty path";
	if (path[0] == '/')
		return "an absolute path";
	for (const char *c = path; c; c = strchr(c, '/')) {
		if (*c == '/')
			c++;
		if (strncmp(c, "..", 2) == 0 && (c[2] == '/' || c[2] == '\0'))
			return "a path with '..'";
	}
	return NULL;
}

static int open_beneath(const char *mount, const char *path, uint64_t ino)
{
	struct open_how how = { .flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
					   RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV };
	struct stat st;
	int dfd, fd;

	dfd = open(mount, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	fd = (int)syscall(SYS_openat2, dfd, path, &how, sizeof(how));
	if (fd < 0)
		fd = -errno;
	close(dfd);
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		return -EINVAL;
	}
	if (fd >= 0 && ino && st.st_ino != ino) {
		close(fd);
		return -ESTALE;		/* the name leads to another file here */
	}
	return fd;
}

static ssize_t read_range(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static const struct altread_mount *find_mount(const char *mount, const struct altread_mount *mounts,
					     size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(mount, mounts[i].path) == 0)
			return &mounts[i];
	return NULL;
}

int altread_serve(struct peer_conn *conn, const uint8_t *p, size_t len,
		  const struct altread_mount *mounts, size_t n_mounts)
{
	const struct altread_mount *m;
	struct alt_request q;
	const char *why;
	uint8_t *buf;
	ssize_t n;
	int fd, r;

	if (request_decode(p, len, &q) < 0)
		return peer_send_error(conn, -EBADMSG, "malformed alternate read");
	if (q.length == 0 || q.length > PEER_ALT_READ_MAX || q.offset > (uint64_t)INT64_MAX - q.length)
		return peer_send_error(conn, -EINVAL, "alternate read of %u bytes at %llu refused",
				       q.length, (unsigned long long)q.offset);
	m = find_mount(q.mount, mounts, n_mounts);
	if (m && m->absorbing)
		return peer_send_error(conn, log_notice_errno(-EAGAIN, "peer '%s' asks to read '%s', whose path fails here too",
							      peer_conn_name(conn), q.mount),
				       "this node's path to '%s' fails too", q.mount);
	if (!m)
		return peer_send_error(conn, log_error_errno(-EPERM, "peer '%s' asks to read from '%s', not a mount of this node",
							     peer_conn_name(conn), q.mount),
				       "'%s' is not a mount of this node", q.mount);
	why = path_refusal(q.path);
	if (why)
		return peer_send_error(conn, log_error_errno(-EPERM, "peer '%s' asks to read %s: '%s'",
							     peer_conn_name(conn), why, q.path),
				       "%s is refused", why);
	fd = open_beneath(q.mount, q.path, q.ino);
	if (fd < 0)
		return peer_send_error(conn, log_notice_errno(fd, "peer '%s' asks to read '%s' of '%s': refused",
							      peer_conn_name(conn), q.path, q.mount),
				       "cannot read '%s' beneath '%s'", q.path, q.mount);
	buf = malloc(q.length);
	n = buf ? read_range(fd, buf, q.length, q.offset) : -ENOMEM;
	close(fd);
	if (n < 0) {
		free(buf);
		return peer_send_error(conn, (int)n, "cannot read '%s'", q.path);
	}
	r = peer_send(conn, PEER_MSG_ALT_DATA, buf, (size_t)n);
	free(buf);
	log_debug("served %zd bytes of '%s' at %llu to '%s'", n, q.path,
		  (unsigned long long)q.offset, peer_conn_name(conn));
	return r;
}
