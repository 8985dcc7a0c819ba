/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * journal-format.h - the journal's on-disk format, shared by every device.
 *
 * A journal device holds one header block, then records. Every integer is
 * little-endian and fixed-width; every structure is 8-byte aligned and has
 * no implicit padding. A reader must check every length against the limits
 * below before it uses it: a journal is input.
 *
 *   offset 0                 JOURNAL_BLOCK            head_offset
 *   | journal_header_disk ... |  (reserved)  ...      | record | record | ...
 *
 * Records start at header.head_offset (the file device: JOURNAL_BLOCK) and
 * follow each other with no gap; record i has sequence number
 * header.first_seq + i. A record on disk is
 *
 *   journal_record_disk (48 bytes)
 *   journal_args_disk   (104 bytes)            \
 *   path  (path_len bytes, NUL included)       |  payload_len bytes
 *   aux   (aux_len bytes, NUL included if any) |
 *   data  (data_len bytes, raw)               /
 *   zero padding to the next multiple of 8
 *
 * checksum = XXH3_64bits over the record header's first 40 bytes (all but
 * the checksum) followed by the payload_len payload bytes. The padding is
 * not covered but must be zero.
 *
 * The end of the log:
 *   - a record whose seq is below the expected one is stale (left from before
 *     a reset) and marks a clean end, as does the end of the device;
 *   - a record that fails any check (magic, version, lengths, checksum, seq
 *     gap, epoch) is bad: nothing from it on is ever applied. It is a torn
 *     tail when no valid record follows it (an append that never completed,
 *     hence was never acknowledged), corruption otherwise.
 *
 * On an iSCSI LUN (a fixed number of fixed-size blocks, no truncate) the
 * same header and records live in a superblock and a ring:
 *
 *   LUN byte 0: superblock = journal_header_disk at 0, journal_ring_disk at
 *               JOURNAL_RING_SB_OFFSET, both inside the first 512 bytes so one
 *               sector write updates both; zeros up to JOURNAL_BLOCK
 *   LUN byte ring_start (JOURNAL_BLOCK): the ring, ring_size bytes
 *
 * The records a file journal keeps from header.head_offset on are kept in
 * the ring from byte ring.head on, wrapping from the ring's end to its start;
 * the first ring.used bytes from there hold records (the durable tail as of
 * the last sync), and the ring is full when a group does not fit in
 * ring_size - used (state FULL, never an overwrite). ring.head is block
 * aligned; a reset moves it past the last record (rounded up to a block) and
 * sets used to 0. Reads past used give nothing, as reads past the end of a
 * file do.
 *
 * Version history:
 *   1 (0.1.0) first version: file device, header block + appended records.
 *     Later in 0.1.0: the LUN layout (journal_ring_disk, ring version 1); the
 *     record and header formats are unchanged.
 */
#ifndef LIFEBOAT_JOURNAL_FORMAT_H
#define LIFEBOAT_JOURNAL_FORMAT_H

#include <stdint.h>

#define JOURNAL_FORMAT_VERSION 1

/* Header block: "LBJOURNL" read as a little-endian u64. */
#define JOURNAL_HEADER_MAGIC UINT64_C(0x4c4e52554f4a424c)
/* Record: "LBRC" read as a little-endian u32. */
#define JOURNAL_RECORD_MAGIC UINT32_C(0x4352424c)

#define JOURNAL_BLOCK 4096u		/* header block size, record area start */
#define JOURNAL_ALIGN 8u		/* every record starts 8-byte aligned */
#define JOURNAL_OWNER_MAX 64u		/* owner id, NUL included */

/* Limits on every length a record carries. */
#define JOURNAL_PATH_MAX 4096u		/* path, NUL included (PATH_MAX) */
#define JOURNAL_NAME_MAX 255u		/* one path component (NAME_MAX) */
#define JOURNAL_XATTR_NAME_MAX 255u	/* XATTR_NAME_MAX, NUL excluded */
#define JOURNAL_XATTR_VALUE_MAX 65536u	/* XATTR_SIZE_MAX */
#define JOURNAL_DATA_MAX (1u << 20)	/* WRITE data per record */

/* Record types: values are stable, never reused. */
enum journal_type {
	JOURNAL_WRITE = 1,		/* path, offset, data */
	JOURNAL_TRUNCATE = 2,		/* path, size */
	JOURNAL_FALLOCATE = 3,		/* path, flags = mode, offset, length */
	JOURNAL_CREATE = 4,		/* path, mode (S_IFREG), uid, gid */
	JOURNAL_MKNOD = 5,		/* path, mode (with S_IFMT), rdev, uid, gid */
	JOURNAL_MKDIR = 6,		/* path, mode, uid, gid */
	JOURNAL_SYMLINK = 7,		/* path, aux = target, uid, gid */
	JOURNAL_LINK = 8,		/* path = existing, aux = new path */
	JOURNAL_UNLINK = 9,		/* path */
	JOURNAL_RMDIR = 10,		/* path */
	JOURNAL_RENAME = 11,		/* path = old, aux = new, flags = RENAME_*, ino, ino2 */
	JOURNAL_SETATTR = 12,		/* path, flags = JOURNAL_ATTR_*, mode, uid, gid, size, times */
	JOURNAL_SETXATTR = 13,		/* path, aux = name, data = value, flags = XATTR_* */
	JOURNAL_REMOVEXATTR = 14,	/* path, aux = name */
	JOURNAL_TYPE_MAX = 14,
};

/* SETATTR mask (args.flags). */
#define JOURNAL_ATTR_MODE (1u << 0)
#define JOURNAL_ATTR_UID (1u << 1)
#define JOURNAL_ATTR_GID (1u << 2)
#define JOURNAL_ATTR_SIZE (1u << 3)
#define JOURNAL_ATTR_ATIME (1u << 4)
#define JOURNAL_ATTR_MTIME (1u << 5)
#define JOURNAL_ATTR_ALL 0x3fu

/*
 * Header block: this structure, then zeros up to JOURNAL_BLOCK. It fits in
 * the first 512-byte sector, so rewriting it (takeover, reset, replay
 * progress) is atomic wherever sector writes are.
 */
struct journal_header_disk {
	uint64_t magic;			/* JOURNAL_HEADER_MAGIC */
	uint32_t version;		/* JOURNAL_FORMAT_VERSION */
	uint32_t block_size;		/* JOURNAL_BLOCK */
	uint64_t epoch;			/* owner's epoch; grows at every change of owner */
	uint64_t created_ns;		/* CLOCK_REALTIME at creation */
	uint64_t first_seq;		/* seq of the record at head_offset (>= 1) */
	uint64_t head_offset;		/* byte offset of the first record */
	uint64_t applied_seq;		/* records up to this seq are replayed and synced */
	uint64_t epoch_ns;		/* CLOCK_REALTIME of the last change of owner */
	char owner[JOURNAL_OWNER_MAX];	/* owner id, NUL-terminated, NUL-padded */
	uint64_t checksum;		/* XXH3_64bits of the 128 bytes above */
} __attribute__((packed));

struct journal_record_disk {
	uint32_t magic;			/* JOURNAL_RECORD_MAGIC */
	uint16_t version;		/* JOURNAL_FORMAT_VERSION */
	uint16_t type;			/* enum journal_type */
	uint32_t payload_len;		/* args + path + aux + data */
	uint32_t flags;			/* reserved, zero */
	uint64_t seq;			/* header.first_seq + index, strictly increasing */
	uint64_t epoch;			/* writer's epoch, <= header.epoch, non-decreasing */
	uint64_t time_ns;		/* CLOCK_REALTIME when appended (informational) */
	uint64_t checksum;		/* see the top of this file */
} __attribute__((packed));

/* Fixed arguments; a field a type does not use is zero. */
struct journal_args_disk {
	uint64_t offset;		/* WRITE, FALLOCATE */
	uint64_t length;		/* FALLOCATE */
	uint64_t size;			/* TRUNCATE, SETATTR */
	uint64_t rdev;			/* MKNOD */
	int64_t atime_sec;		/* SETATTR */
	int64_t mtime_sec;		/* SETATTR */
	uint32_t atime_nsec;		/* SETATTR, < 1e9 */
	uint32_t mtime_nsec;		/* SETATTR, < 1e9 */
	uint32_t mode;			/* CREATE, MKNOD, MKDIR, SETATTR */
	uint32_t uid;			/* CREATE..SYMLINK, SETATTR; (uint32_t)-1: leave */
	uint32_t gid;			/* as uid */
	uint32_t flags;			/* FALLOCATE mode, RENAME_*, JOURNAL_ATTR_*, XATTR_* */
	uint64_t ino;			/* RENAME: store inode of the source, 0 unknown */
	uint64_t ino2;			/* RENAME_EXCHANGE: store inode of the target, 0 unknown */
	uint32_t path_len;		/* NUL included, 2..JOURNAL_PATH_MAX */
	uint32_t aux_len;		/* NUL included, 0 when the type has no aux */
	uint32_t data_len;		/* WRITE: <= JOURNAL_DATA_MAX; SETXATTR: <= VALUE_MAX */
	uint32_t reserved;		/* zero */
} __attribute__((packed));

_Static_assert(sizeof(struct journal_header_disk) == 136, "header layout");
_Static_assert(sizeof(struct journal_record_disk) == 48, "record header layout");
_Static_assert(sizeof(struct journal_args_disk) == 104, "args layout");

/*
 * The ring descriptor of a LUN journal (see the top of this file). lun_id is
 * random at format: it tells one journal LUN from another (a LUN cloned or
 * re-attached elsewhere keeps it).
 */
#define JOURNAL_RING_MAGIC UINT64_C(0x31474e49524a424c)	/* "LBJRING1" */
#define JOURNAL_RING_VERSION 1
#define JOURNAL_RING_SB_OFFSET 256u	/* in the superblock, after the header */
#define JOURNAL_RING_ID_SIZE 16u

struct journal_ring_disk {
	uint64_t magic;			/* JOURNAL_RING_MAGIC */
	uint32_t version;		/* JOURNAL_RING_VERSION */
	uint32_t block_size;		/* the LUN's logical block size (READ CAPACITY(16)) */
	uint64_t lun_blocks;		/* the LUN's block count at format */
	uint64_t ring_start;		/* byte offset of the ring on the LUN (JOURNAL_BLOCK) */
	uint64_t ring_size;		/* bytes, a multiple of block_size */
	uint64_t head;			/* ring offset of the first record, block aligned */
	uint64_t used;			/* bytes of records from head on (durable tail) */
	uint64_t generation;		/* grows at every superblock write */
	uint8_t lun_id[JOURNAL_RING_ID_SIZE];	/* random at format */
	uint64_t checksum;		/* XXH3_64bits of the 80 bytes above */
} __attribute__((packed));

_Static_assert(sizeof(struct journal_ring_disk) == 88, "ring layout");
_Static_assert(JOURNAL_RING_SB_OFFSET + sizeof(struct journal_ring_disk) <= 512, "one sector");

#define JOURNAL_RECORD_HDR_SIZE ((uint32_t)sizeof(struct journal_record_disk))
#define JOURNAL_ARGS_SIZE ((uint32_t)sizeof(struct journal_args_disk))
#define JOURNAL_CSUM_COVERED_HDR 40u	/* record header bytes under the checksum */

/* Largest payload any valid record has: args, two paths, the largest data. */
#define JOURNAL_PAYLOAD_MAX (JOURNAL_ARGS_SIZE + 2u * JOURNAL_PATH_MAX + JOURNAL_DATA_MAX)
#define JOURNAL_RECORD_MAX (JOURNAL_RECORD_HDR_SIZE + JOURNAL_PAYLOAD_MAX)

#endif
