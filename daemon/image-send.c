// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * image-send.c - sending an image directory to a peer: the manifest, each
 * file in PEER_CHUNK_MAX pieces in manifest order (hashed on the way), then
 * the hashes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define LOG_PREFIX "image: "
#include "lifeboat/log.h"
#include "image.h"

#define DATA_HDR 12u	/* u32 index + u64 offset */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Fault injection for the refusal tests (LIFEBOAT_FAULT): "image-corrupt"
 * flips one bit of the first data message after hashing it, as a bad link
 * or a bad peer would; "image-truncate" stops in the middle of the image
 * and returns -EPIPE, as a sender that dies would.
 */
enum send_fault { FAULT_NONE, FAULT_CORRUPT, FAULT_TRUNCATE };

static enum send_fault send_fault(void)
{
	const char *f = getenv("LIFEBOAT_FAULT");

	if (f && strcmp(f, "image-corrupt") == 0)
		return FAULT_CORRUPT;
	if (f && strcmp(f, "image-truncate") == 0)
		return FAULT_TRUNCATE;
	return FAULT_NONE;
}

static void data_header(uint8_t *buf, uint32_t index, uint64_t offset)
{
	struct wire_out w = { .buf = buf, .cap = DATA_HDR };

	wire_put_u32(&w, index);
	wire_put_u64(&w, offset);
}

/* Sends one file and computes its hash on the way (e->hash). */
static int send_file(struct peer_conn *conn, int dirfd, uint32_t index, struct image_entry *e,
		     uint8_t *buf, XXH3_state_t *st, enum send_fault *fault)
{
	uint64_t off = 0;
	int fd, r = 0;

	fd = openat(dirfd, e->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(-errno, "cannot open image file '%s'", e->name);
	(void)XXH3_64bits_reset(st);
	while (off < e->size) {
		size_t want = e->size - off < PEER_CHUNK_MAX ? e->size - off : PEER_CHUNK_MAX;
		ssize_t n = pread(fd, buf + DATA_HDR, want, (off_t)off);

		if (n <= 0) {
			/* the image changed under us: the peer would refuse it anyway */
			r = log_error_errno(n < 0 ? -errno : -ESTALE, "cannot read image file '%s'",
					    e->name);
			break;
		}
		/* a receiver that refused says so at once: do not send it the rest */
		r = peer_check_refusal(conn);
		if (r < 0)
			break;
		data_header(buf, index, off);
		(void)XXH3_64bits_update(st, buf + DATA_HDR, (size_t)n);
		if (*fault == FAULT_CORRUPT) {
			log_warning("LIFEBOAT_FAULT: corrupting '%s' in transit", e->name);
			buf[DATA_HDR] ^= 0x01;
			*fault = FAULT_NONE;
		}
		if (*fault == FAULT_TRUNCATE && index > 0) {
			log_warning("LIFEBOAT_FAULT: stopping in the middle of the image");
			r = -EPIPE;
			break;
		}
		r = peer_send(conn, PEER_MSG_IMAGE_DATA, buf, DATA_HDR + (size_t)n);
		if (r < 0)
			break;
		off += (uint64_t)n;
	}
	close(fd);
	e->hash = XXH3_64bits_digest(st);
	return r;
}

static int send_end(struct peer_conn *conn, struct image_manifest *m)
{
	struct wire_out w;
	int r;

	image_manifest_seal(m);	/* now that every file's hash is known */
	r = image_end_encode(m, &w);
	if (r < 0)
		return r;
	r = peer_send(conn, PEER_MSG_IMAGE_END, w.buf, w.len);
	wire_out_free(&w);
	return r;
}

static int send_manifest(struct peer_conn *conn, const struct image_manifest *m)
{
	struct wire_out w;
	int r;

	r = image_manifest_encode(m, &w);
	if (r < 0)
		return log_error_errno(r, "manifest of '%s' does not fit in a message", m->name);
	r = peer_send(conn, PEER_MSG_IMAGE_MANIFEST, w.buf, w.len);
	wire_out_free(&w);
	return r;
}

int image_send(struct peer_conn *conn, int dirfd, const char *image_name,
	       struct image_stats *stats)
{
	struct image_manifest *m;
	uint64_t t0 = now_ns(), t1;
	enum send_fault fault = send_fault();
	XXH3_state_t *st = NULL;
	uint8_t *buf = NULL;
	int r;

	r = image_manifest_list(dirfd, image_name, &m);
	if (r < 0)
		return r;
	t1 = now_ns();
	buf = malloc(DATA_HDR + PEER_CHUNK_MAX);
	st = XXH3_createState();
	if (!buf || !st) {
		r = -ENOMEM;
		goto out;
	}
	r = send_manifest(conn, m);
	for (uint32_t i = 0; r == 0 && i < m->n_files; i++)
		r = send_file(conn, dirfd, i, &m->files[i], buf, st, &fault);
	if (r == 0)
		r = send_end(conn, m);
	if (r == 0 && stats)
		*stats = (struct image_stats){ .bytes = m->total, .files = m->n_files,
					       .hash_ns = t1 - t0, .transfer_ns = now_ns() - t1 };
	if (r == 0)
		log_debug("sent image '%s' to '%s': %u files, %llu bytes", image_name,
			  peer_conn_name(conn), m->n_files, (unsigned long long)m->total);
out:
	XXH3_freeState(st);
	free(buf);
	image_manifest_free(m);
	return r;
}
