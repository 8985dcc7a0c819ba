// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * image-recv.c - receiving an image from a peer into a fresh directory.
 *
 * Everything the peer sends is checked before it touches the disk: the
 * manifest (image-manifest.c), then each DATA message must continue the
 * current file exactly where it stands and not pass its size; each file is
 * hashed as it arrives and every hash checked at END, where nothing counts
 * as received before all of them match. Files
 * are created with openat(O_CREAT | O_EXCL | O_NOFOLLOW) in a directory this
 * function made, so a name can neither leave it nor follow a link. Any
 * failure removes the directory and what is in it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define LOG_PREFIX "image: "
#include "lifeboat/log.h"
#include "image.h"

struct recv_state {
	struct peer_conn *conn;
	struct image_manifest *m;
	int dirfd;
	uint32_t cur;		/* the file being received */
	uint64_t off;		/* bytes of it so far */
	int fd;			/* its fd, -1 between files */
	XXH3_state_t *hash;
	uint64_t *got;		/* hash of each file as received */
	uint32_t created;	/* files 0..created-1 exist */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int file_open(struct recv_state *s)
{
	const struct image_entry *e = &s->m->files[s->cur];

	s->fd = openat(s->dirfd, e->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		       0600);
	if (s->fd < 0)
		return log_error_errno(-errno, "cannot create image file '%s'", e->name);
	s->created = s->cur + 1;
	s->off = 0;
	(void)XXH3_64bits_reset(s->hash);
	return 0;
}

static int file_finish(struct recv_state *s)
{
	const struct image_entry *e = &s->m->files[s->cur];

	s->got[s->cur] = XXH3_64bits_digest(s->hash);	/* checked at END */
	if (fchmod(s->fd, e->mode & 0700) < 0)
		return -errno;
	close(s->fd);
	s->fd = -1;
	s->cur++;
	return 0;
}

/* Opens the files up to the next one that has data (empty files complete at once). */
static int next_files(struct recv_state *s)
{
	int r;

	while (s->fd < 0 && s->cur < s->m->n_files) {
		r = file_open(s);
		if (r < 0)
			return r;
		if (s->m->files[s->cur].size > 0)
			break;
		r = file_finish(s);
		if (r < 0)
			return r;
	}
	return 0;
}

static int take_data(struct recv_state *s, const uint8_t *p, size_t len)
{
	const struct image_entry *e;
	const uint8_t *data;
	struct wire_in in;
	uint32_t index;
	uint64_t off;
	size_t n;

	wire_in_init(&in, p, len);
	index = wire_get_u32(&in);
	off = wire_get_u64(&in);
	data = wire_get_rest(&in, &n);
	if (in.err || n == 0 || n > PEER_CHUNK_MAX)
		return image_refuse(-EBADMSG, "image '%s': malformed data message", s->m->name);
	if (s->fd < 0 || index != s->cur || off != s->off)
		return image_refuse(-EBADMSG, "image '%s': data for file %u at %llu, expected file %u at %llu",
				       s->m->name, index, (unsigned long long)off, s->cur,
				       (unsigned long long)s->off);
	e = &s->m->files[s->cur];
	if (n > e->size - s->off)
		return image_refuse(-EBADMSG, "image '%s': file '%s' gets more than its %llu bytes",
				       s->m->name, e->name, (unsigned long long)e->size);
	if (pwrite(s->fd, data, n, (off_t)off) != (ssize_t)n)
		return log_error_errno(errno ? -errno : -EIO, "cannot write image file '%s'", e->name);
	(void)XXH3_64bits_update(s->hash, data, n);
	s->off += n;
	if (s->off < e->size)
		return 0;
	return file_finish(s) ?: next_files(s);
}

/* END: every file's hash as the sender computed it, and the image's. */
static int take_end(struct recv_state *s, const uint8_t *p, size_t len)
{
	struct wire_in in;
	uint32_t n;
	uint64_t hash;

	if (s->cur != s->m->n_files)
		return image_refuse(-EBADMSG, "image '%s' ends after %u of %u files (truncated)",
				       s->m->name, s->cur, s->m->n_files);
	wire_in_init(&in, p, len);
	n = wire_get_u32(&in);
	if (n != s->m->n_files)
		return image_refuse(-EBADMSG, "image '%s': end message for %u files, not %u",
				       s->m->name, n, s->m->n_files);
	for (uint32_t i = 0; i < n; i++)
		s->m->files[i].hash = wire_get_u64(&in);
	hash = wire_get_u64(&in);
	if (wire_get_done(&in) < 0)
		return image_refuse(-EBADMSG, "image '%s': malformed end message", s->m->name);
	for (uint32_t i = 0; i < n; i++)
		if (s->got[i] != s->m->files[i].hash)
			return image_refuse(-EBADMSG, "image '%s': file '%s' does not match its checksum",
					       s->m->name, s->m->files[i].name);
	image_manifest_seal(s->m);
	if (hash != s->m->hash)
		return image_refuse(-EBADMSG, "image '%s' does not match its checksum", s->m->name);
	return 1;
}

static int recv_loop(struct recv_state *s)
{
	const uint8_t *p;
	uint16_t type;
	size_t len;
	int r;

	r = next_files(s);
	while (r == 0) {
		r = peer_recv(s->conn, &type, &p, &len);
		if (r < 0)
			return log_error_errno(r, "image '%s' from '%s' is incomplete", s->m->name,
					       peer_conn_name(s->conn));
		if (type == PEER_MSG_IMAGE_DATA)
			r = take_data(s, p, len);
		else if (type == PEER_MSG_IMAGE_END)
			r = take_end(s, p, len);
		else
			r = image_refuse(-EBADMSG, "image '%s': unexpected message type %u",
					    s->m->name, type);
	}
	return r < 0 ? r : 0;
}

/* Deletes what a failed receive wrote; the directory goes last. */
static void recv_cleanup(struct recv_state *s, int parent_fd, const char *dirname)
{
	if (s->fd >= 0)
		close(s->fd);
	for (uint32_t i = 0; i < s->created; i++)
		if (unlinkat(s->dirfd, s->m->files[i].name, 0) < 0 && errno != ENOENT)
			log_warning_errno(-errno, "cannot remove partial image file '%s'",
					  s->m->files[i].name);
	if (unlinkat(parent_fd, dirname, AT_REMOVEDIR) < 0)
		log_warning_errno(-errno, "cannot remove partial image directory '%s'", dirname);
}

static int recv_manifest(struct peer_conn *conn, const struct image_limits *lim,
			 struct image_manifest **ret_m)
{
	const uint8_t *p;
	size_t len;
	int r;

	r = peer_recv_type(conn, PEER_MSG_IMAGE_MANIFEST, &p, &len);
	if (r < 0)
		return r;
	r = image_manifest_decode(p, len, lim, ret_m);
	if (r < 0)
		return peer_send_error(conn, r, "image manifest refused: %s", image_refusal);
	return 0;
}

static int recv_into(struct recv_state *s, int parent_fd, const char *dirname)
{
	int r;

	if (mkdirat(parent_fd, dirname, 0700) < 0)
		return peer_send_error(s->conn,
				       log_error_errno(-errno, "cannot create image directory '%s'", dirname),
				       "receiver cannot create the image directory");
	s->dirfd = openat(parent_fd, dirname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->dirfd < 0) {
		r = -errno;
		(void)unlinkat(parent_fd, dirname, AT_REMOVEDIR);
		return peer_send_error(s->conn, r, "receiver cannot open the image directory");
	}
	r = recv_loop(s);
	if (r < 0) {
		recv_cleanup(s, parent_fd, dirname);
		if (r != -ECONNRESET && r != -ETIMEDOUT)
			(void)peer_send_error(s->conn, r, "%s",
					      image_refusal[0] ? image_refusal : "image refused");
	}
	close(s->dirfd);
	return r;
}

int image_recv(struct peer_conn *conn, int parent_fd, const char *dirname,
	       const struct image_limits *lim, struct image_manifest **ret_m,
	       struct image_stats *stats)
{
	struct recv_state s = { .conn = conn, .fd = -1, .dirfd = -1 };
	uint64_t t0 = now_ns();
	int r;

	image_refusal[0] = '\0';
	r = recv_manifest(conn, lim, &s.m);
	if (r < 0)
		return r;
	s.hash = XXH3_createState();
	s.got = calloc(s.m->n_files ? s.m->n_files : 1, sizeof(*s.got));
	if (!s.hash || !s.got) {
		XXH3_freeState(s.hash);
		free(s.got);
		image_manifest_free(s.m);
		return -ENOMEM;
	}
	r = recv_into(&s, parent_fd, dirname);
	XXH3_freeState(s.hash);
	free(s.got);
	if (r == 0 && stats)
		*stats = (struct image_stats){ .bytes = s.m->total, .files = s.m->n_files,
					       .transfer_ns = now_ns() - t0 };
	if (r == 0 && ret_m)
		*ret_m = s.m;
	else
		image_manifest_free(s.m);
	return r;
}

int image_remove(int parent_fd, const char *dirname)
{
	struct dirent *de;
	DIR *d;
	int dirfd, r = 0;

	dirfd = openat(parent_fd, dirname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(dirfd);
	if (!d) {
		close(dirfd);
		return -ENOMEM;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    unlinkat(dirfd, de->d_name, 0) < 0 && r == 0)
			r = -errno;
	closedir(d);
	if (unlinkat(parent_fd, dirname, AT_REMOVEDIR) < 0 && r == 0)
		r = -errno;
	return r;
}
