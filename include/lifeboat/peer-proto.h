/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * peer-proto.h - the wire protocol between two lifeboatd nodes.
 *
 * It runs inside TLS 1.3 (daemon/peer.c): every byte here is already
 * authenticated and encrypted; there is no plaintext mode. A peer is still
 * untrusted input: every length and count below is bounded, and a receiver
 * checks each one before it allocates or writes anything.
 *
 * A message is a fixed 16-byte header followed by payload_len bytes:
 *
 *   struct peer_msg_header { magic, version, type, payload_len, reserved }
 *
 * Every integer is little-endian. Payload fields are packed one after the
 * other with no padding: u16/u32/u64 integers, and strings as a u16 length
 * followed by that many bytes (no NUL on the wire, no NUL allowed inside).
 *
 * A connection (the client is the node that initiates):
 *
 *   client                              server
 *   HELLO(name) ----------------------->        checks name == TLS PSK identity
 *               <----------------------- HELLO(name)  client checks the name
 *   HANDOFF_BEGIN(app, mounts) ------->        checks its mounts (or an image alone)
 *   IMAGE_MANIFEST -------------------->
 *   IMAGE_DATA ... (file by file, in order, offsets contiguous)
 *   IMAGE_END(image hash) ------------->        checks every hash
 *               <----------------------- HANDOFF_READY   nothing done yet
 *   HANDOFF_COMMIT -------------------->        from here the sender never resumes
 *                                                unless told the receiver failed
 *               <----------------------- RESULT(status, stage, times)
 *
 * The commit is what keeps one copy of the app: before the receiver has the
 * sender's COMMIT it changes nothing (no fencing, no replay, no restore) and
 * a lost connection means "resume on the sender"; after it, the sender
 * resumes only on a RESULT that says the receiver did not restore.
 *
 * A side that refuses anything sends ERROR (errno + text) and closes. A
 * header with another version is answered with ERROR(EPROTONOSUPPORT)
 * carrying our version, and the connection is closed.
 *
 * Version history:
 *   1 (0.2.0) first version: hello, error, image transfer, handoff.
 *     Later, in the same version: ALT_READ/ALT_DATA (a node that does not
 *     know them answers ERROR(EBADMSG), which the asker takes as "no").
 *
 * The alternate read (a node whose path to the store failed reads through
 * its peer), one per connection:
 *
 *   HELLO ... ALT_READ(mount, path, offset, length) -->
 *               <----------------------- ALT_DATA(bytes) or ERROR
 */
#ifndef LIFEBOAT_PEER_PROTO_H
#define LIFEBOAT_PEER_PROTO_H

#include <stdint.h>

#define PEER_PROTO_VERSION 1
/* "LBPR" read as a little-endian u32. */
#define PEER_MSG_MAGIC UINT32_C(0x5250424c)
#define PEER_DEFAULT_PORT 7447

/* ------------------------------------------------------------------ limits */

#define PEER_MSG_HEADER_SIZE 16u
#define PEER_MSG_MAX (1u << 20)		/* payload bytes of any message */
#define PEER_NAME_MAX 64u		/* node and app names, bytes */
#define PEER_TEXT_MAX 1024u		/* error and result texts, bytes */
#define PEER_PATH_MAX 4095u		/* mount paths in HANDOFF_BEGIN */
#define PEER_MOUNTS_MAX 16u		/* mounts in HANDOFF_BEGIN */
#define PEER_CHUNK_MAX (256u << 10)	/* data bytes in one IMAGE_DATA */
#define PEER_ALT_READ_MAX (1u << 20)	/* data bytes in one ALT_DATA */

/* Image files: a flat directory (CRIU writes no subdirectories). */
#define PEER_IMAGE_FILES_MAX 2048u
#define PEER_IMAGE_NAME_MAX 255u	/* [A-Za-z0-9._-], not "." or ".." */
#define PEER_IMAGE_FILE_MAX (UINT64_C(16) << 30)	/* bytes per file */
#define PEER_IMAGE_TOTAL_MAX (UINT64_C(64) << 30)	/* bytes per image */

/* ------------------------------------------------------------------ header */

struct peer_msg_header {
	uint32_t magic;		/* PEER_MSG_MAGIC */
	uint16_t version;	/* PEER_PROTO_VERSION */
	uint16_t type;		/* enum peer_msg_type */
	uint32_t payload_len;	/* <= PEER_MSG_MAX */
	uint32_t reserved;	/* 0 */
};

_Static_assert(sizeof(struct peer_msg_header) == PEER_MSG_HEADER_SIZE, "peer header size");

enum peer_msg_type {
	/*
	 * str name: the sender's node name. Client first; the server checks it
	 * against the identity the TLS handshake authenticated, the client
	 * checks the server's against the peer it meant to reach.
	 */
	PEER_MSG_HELLO = 1,
	/* u32 errno (positive), u16 proto version of the sender, str text. */
	PEER_MSG_ERROR = 2,
	/*
	 * u32 errno (0: success), u32 stage (enum peer_stage reached), u32 pid
	 * (the restored init, 0 if none), u64 fence_ns, u64 replay_ns,
	 * u64 restore_ns (time each step took), str text.
	 */
	PEER_MSG_RESULT = 3,

	/*
	 * str image name, u32 file count, u64 total bytes, then per file (names
	 * sorted, unique): str name, u64 size, u32 mode (permission bits only).
	 */
	PEER_MSG_IMAGE_MANIFEST = 16,
	/* u32 file index, u64 offset, then the data (<= PEER_CHUNK_MAX). */
	PEER_MSG_IMAGE_DATA = 17,
	/*
	 * u32 file count, per file u64 hash, then u64 image hash. hash =
	 * XXH3_64bits of the file's bytes (the sender computes it while it
	 * sends: one read of the image); image hash = XXH3_64bits over the
	 * per-file fields encoded as str name, u64 size, u32 mode, u64 hash,
	 * in manifest order. The receiver checks all of them before it counts
	 * the image as received.
	 */
	PEER_MSG_IMAGE_END = 18,

	/*
	 * str app name, str service address ("" none), u32 flags
	 * (PEER_HANDOFF_*), u32 mount count (<= PEER_MOUNTS_MAX), per mount:
	 * str mount path (absolute, <= PEER_PATH_MAX), str journal name (a
	 * file path or an iscsi:// URL, "" none: the sender's journal of that
	 * mount, which the receiver fences and replays). An image follows.
	 */
	PEER_MSG_HANDOFF_BEGIN = 32,
	/* Empty: the image is here and checked, the mounts are in place. */
	PEER_MSG_HANDOFF_READY = 33,
	/* Empty: go on; the sender will not resume unless RESULT says so. */
	PEER_MSG_HANDOFF_COMMIT = 34,

	/*
	 * str mount path (absolute, one of the receiver's mounts), str path
	 * relative to that mount (no "..", no symlink on the way, a regular
	 * file), u64 offset, u32 length (<= PEER_ALT_READ_MAX), u64 inode
	 * number (the store's, as the asker knows the file; 0: unchecked): a
	 * file of that name but another inode is refused (ESTALE), so a name
	 * the asker's absorbed renames moved is never read as another file.
	 * Read-only.
	 */
	PEER_MSG_ALT_READ = 48,
	/* The bytes read (<= the length asked; short at end of file). */
	PEER_MSG_ALT_DATA = 49,
};

#define PEER_HANDOFF_TCP_ESTABLISHED (1u << 0)

/* How far a handoff got on the receiver; RESULT reports it. */
enum peer_stage {
	PEER_STAGE_NONE = 0,		/* nothing done: the sender may resume */
	PEER_STAGE_RECEIVED = 1,	/* image received and checked, READY sent */
	PEER_STAGE_FENCED = 2,		/* the sender's journal is fenced */
	PEER_STAGE_REPLAYED = 3,	/* the journal is in the store */
	PEER_STAGE_RESTORED = 4,	/* the app runs here: the sender must not resume */
};

#endif
