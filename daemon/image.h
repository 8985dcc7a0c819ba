/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * image.h - sending a checkpoint image directory to a peer and receiving
 * one, over a peer connection (peer.h). An image is a flat directory of
 * regular files (what CRIU writes). The manifest names every file with its
 * size and XXH3 hash, and the image as a whole has a hash over the manifest
 * entries (include/lifeboat/peer-proto.h, PEER_MSG_IMAGE_MANIFEST).
 *
 * The receiver is strict: it writes only into a directory it creates
 * itself, beneath a directory fd, with openat(O_EXCL | O_NOFOLLOW); it
 * refuses names that are not plain file names, too many or too large files,
 * data past a file's size, a short file, a hash mismatch; on any failure it
 * tells the peer (ERROR), deletes what it wrote and the directory, and
 * returns the error. Functions return 0 or a negative errno and log once.
 */
#ifndef LIFEBOAT_IMAGE_H
#define LIFEBOAT_IMAGE_H

#include <stdint.h>

#include "lifeboat/peer-proto.h"
#include "peer.h"

struct image_entry {
	char name[PEER_IMAGE_NAME_MAX + 1];
	uint64_t size;
	uint32_t mode;
	uint64_t hash;
};

struct image_manifest {
	char name[PEER_NAME_MAX + 1];	/* what the image is of (the app name) */
	uint32_t n_files;
	uint64_t total;			/* bytes in every file */
	uint64_t hash;			/* over the entries, see peer-proto.h */
	struct image_entry *files;
};

/* What a receiver accepts; 0 in a field means the protocol's limit. */
struct image_limits {
	uint32_t max_files;
	uint64_t max_file;
	uint64_t max_total;
};

/* Transfer figures for the benchmark. */
struct image_stats {
	uint64_t bytes;
	uint32_t files;
	uint64_t hash_ns;	/* sender: listing the directory */
	uint64_t transfer_ns;	/* manifest to end */
};

/*
 * Why the last image was refused on this thread (for the ERROR sent to the
 * peer); image_refuse() logs the reason, keeps it there, returns err.
 */
extern __thread char image_refusal[PEER_TEXT_MAX + 1];
int image_refuse(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* 0 if name is a plain image file name: [A-Za-z0-9._-]{1,255}, not "." or "..". */
int image_name_check(const char *name);

/*
 * Lists and hashes the regular files of the directory dirfd; anything else
 * in it (a symlink, a subdirectory, a device) is refused with -EINVAL.
 */
int image_manifest_scan(int dirfd, const char *image_name, struct image_manifest **ret_m);
void image_manifest_free(struct image_manifest *m);

/* The same without reading the files: every hash is 0 (image_send hashes as it sends). */
int image_manifest_list(int dirfd, const char *image_name, struct image_manifest **ret_m);

/* Encodes the IMAGE_END payload of m (its per-file hashes and m->hash) into w. */
int image_end_encode(const struct image_manifest *m, struct wire_out *w);

/* Computes m->hash and m->total from the entries. */
void image_manifest_seal(struct image_manifest *m);

/* Encodes m as a PEER_MSG_IMAGE_MANIFEST payload into w (initialized here). */
int image_manifest_encode(const struct image_manifest *m, struct wire_out *w);

/* Decodes and checks a manifest payload against lim: -EBADMSG, -EFBIG, -E2BIG. */
int image_manifest_decode(const uint8_t *p, size_t len, const struct image_limits *lim,
			  struct image_manifest **ret_m);

/*
 * Sends the image in directory dirfd: MANIFEST, DATA..., END. Does not wait
 * for an answer; the caller reads the peer's RESULT. stats may be NULL.
 */
int image_send(struct peer_conn *conn, int dirfd, const char *image_name,
	       struct image_stats *stats);

/*
 * Receives one image (the next message must be its MANIFEST) into a new
 * directory dirname beneath parent_fd, which must not exist. On success
 * ret_m (may be NULL) gets the manifest. On failure nothing is left behind
 * and the peer has been sent ERROR.
 */
int image_recv(struct peer_conn *conn, int parent_fd, const char *dirname,
	       const struct image_limits *lim, struct image_manifest **ret_m,
	       struct image_stats *stats);

/* Removes an image directory (flat, regular files) beneath parent_fd. */
int image_remove(int parent_fd, const char *dirname);

#endif
