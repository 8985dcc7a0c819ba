/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * journal.h - the mutation journal: record codec, devices, append, scan,
 * replay. One record codec, several devices (a local file now, an iSCSI LUN
 * later). Written by lifeboatfs, read by `lifeboat journal` and lifeboatd.
 *
 * Every function returns 0 (or a count) on success and a negative errno on
 * failure; ret_ outputs are untouched on failure. Nothing here logs except
 * where a comment says so: the caller decides and logs.
 *
 * Journal states (struct journal):
 *
 *   open, no records ---------------------------------> READY
 *   open, records left behind ------------------------> PENDING
 *   PENDING --journal_replay() + journal_reset()------> READY
 *   PENDING --journal_continue() (keep them, append)--> READY
 *   READY --append past max_size----------------------> FULL     (-ENOSPC)
 *   READY --header epoch > ours-----------------------> FENCED   (-ESTALE)
 *   READY --device write/sync failed------------------> FAILED   (that errno)
 *   open, bad record before the tail -----------------> CORRUPT  (-EBADMSG)
 *   FULL, CORRUPT --journal_reset()-------------------> READY
 *   FENCED, FAILED: final; close the journal.
 *
 * Version history: 1 (0.1.0) first version. Later in 0.1.0: block devices
 * under a ring device (LUN layout), the iSCSI device, path info, takeover.
 */
#ifndef LIFEBOAT_JOURNAL_H
#define LIFEBOAT_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "lifeboat/journal-format.h"

/* ------------------------------------------------------------------ records */

/*
 * One mutation, in memory. Paths are relative to the store root ("a/b"), with
 * no "." or ".." component, no empty component, no leading or trailing '/'.
 * Pointers are borrowed: the caller keeps them valid for the call; a decoded
 * record points into the buffer it was decoded from.
 *
 * Fields used per type (the others are ignored, and encoded as zero):
 *   WRITE        path, offset, data, data_len (<= JOURNAL_DATA_MAX)
 *   TRUNCATE     path, size
 *   FALLOCATE    path, flags (fallocate mode: 0, FALLOC_FL_KEEP_SIZE,
 *                PUNCH_HOLE | KEEP_SIZE, ZERO_RANGE [| KEEP_SIZE]; COLLAPSE
 *                and INSERT_RANGE shift data and cannot be replayed twice:
 *                -EOPNOTSUPP), offset, length
 *   CREATE       path, mode (S_IFREG | perms), uid, gid
 *   MKNOD        path, mode (S_IFMT | perms), rdev, uid, gid
 *   MKDIR        path, mode (perms), uid, gid
 *   SYMLINK      path (the link), target, uid, gid
 *   LINK         path (existing), path2 (new name)
 *   UNLINK       path
 *   RMDIR        path
 *   RENAME       path (old), path2 (new), flags (RENAME_NOREPLACE |
 *                RENAME_EXCHANGE), ino/ino2 (store inode numbers of old and,
 *                for EXCHANGE, new; 0 unknown: they let replay tell a rename
 *                already done)
 *   SETATTR      path, flags (JOURNAL_ATTR_* mask), mode, uid, gid, size,
 *                atime, mtime (absolute: resolve UTIME_NOW before appending)
 *   SETXATTR     path, name, data/data_len (value, <= 64 KiB), flags
 *                (XATTR_CREATE | XATTR_REPLACE)
 *   REMOVEXATTR  path, name
 * uid/gid (uint32_t)-1 means "leave as created".
 */
struct journal_record {
	enum journal_type type;
	uint64_t seq;		/* set by append and decode */
	uint64_t epoch;		/* set by append and decode */
	uint64_t time_ns;	/* set by append and decode */
	const char *path;
	const char *path2;
	const char *target;
	const char *name;
	const void *data;
	size_t data_len;
	uint64_t offset;
	uint64_t length;
	uint64_t size;
	uint64_t rdev;
	uint64_t ino;
	uint64_t ino2;
	struct timespec atime;
	struct timespec mtime;
	uint32_t mode;
	uint32_t uid;
	uint32_t gid;
	uint32_t flags;
};

/* "WRITE", "RENAME", ...; "UNKNOWN" for anything else. */
const char *journal_type_to_string(enum journal_type type);

/*
 * Checks that path is a store-relative path as above.
 * -EINVAL (absolute, empty, ".", "..", empty component), -ENAMETOOLONG.
 */
int journal_path_check(const char *path);

/*
 * Checks a record against the per-type rules and limits.
 * -EINVAL, -ENAMETOOLONG, -E2BIG (data too large), -EOPNOTSUPP (fallocate mode).
 */
int journal_record_check(const struct journal_record *rec);

/* Bytes the record takes on disk, padding included; 0 if it fails the check. */
size_t journal_record_size(const struct journal_record *rec);

/*
 * Encodes rec (seq, epoch and time_ns as set in rec) into buf.
 * ret_len gets journal_record_size(rec). -ENOBUFS if buf is too small.
 */
int journal_encode_record(const struct journal_record *rec, void *buf, size_t len,
			  size_t *ret_len);

/*
 * Reads the record header at buf and gives the record's full on-disk size.
 * Checks magic, version, type, lengths: -EBADMSG. Needs JOURNAL_RECORD_HDR_SIZE
 * bytes (-EBADMSG if fewer).
 */
int journal_record_peek(const void *buf, size_t len, size_t *ret_size);

/*
 * Decodes and fully checks one record (header, checksum, every length and
 * path, zero padding). Strings in ret_rec point into buf. ret_size gets its
 * on-disk size (may be NULL). Any failure, including a record cut short by
 * len, is -EBADMSG.
 */
int journal_decode_record(const void *buf, size_t len, struct journal_record *ret_rec,
			  size_t *ret_size);

/* ------------------------------------------------------------------ devices */

struct journal_device;

/*
 * A journal device is a flat byte space. The journal core never assumes
 * more than these operations; all of them may block.
 */
/* The journal path's state; a local file is always up. */
struct journal_path_info {
	bool remote;		/* an iSCSI session, not a local file */
	bool up;		/* logged in and answering */
	bool fenced;		/* another owner preempted us: never writes again */
	uint64_t reconnects;	/* sessions re-established since open */
	uint64_t down_ms;	/* how long it has been down, 0 when up */
	char portal[64];
};

struct journal_device_ops {
	/* Reads up to len bytes at off; returns the count (short only at the
	 * end of the device) or -errno. */
	ssize_t (*read)(struct journal_device *dev, void *buf, size_t len, uint64_t off);
	/* Writes all len bytes at off or returns -errno (-ENOSPC past capacity). */
	int (*write)(struct journal_device *dev, const void *buf, size_t len, uint64_t off);
	/* Makes every completed write durable (fdatasync, SYNCHRONIZE CACHE). */
	int (*sync)(struct journal_device *dev);
	/* Bytes currently readable (file: its size; LUN: its capacity). */
	int (*size)(struct journal_device *dev, uint64_t *ret_size);
	/* Forgets everything from size on (file: ftruncate). Not durable until sync. */
	int (*truncate)(struct journal_device *dev, uint64_t size);
	/* Releases the device; dev is invalid afterwards. */
	void (*close)(struct journal_device *dev);
	/* Optional: the path's state (NULL: a local file, always up). */
	void (*path_info)(struct journal_device *dev, struct journal_path_info *ret_info);
};

struct journal_device {
	const struct journal_device_ops *ops;
	char *name;		/* for messages: a path or an iscsi:// URI */
	bool read_only;
};

#define JOURNAL_OPEN_CREATE (1u << 0)	/* create the journal if it does not exist */
#define JOURNAL_OPEN_READONLY (1u << 1)	/* inspect only: no append, reset, takeover */
#define JOURNAL_OPEN_EXCL (1u << 2)	/* with CREATE: fail with -EEXIST if it exists */
#define JOURNAL_OPEN_TAKEOVER (1u << 3)	/* take over: epoch = the header's + 1 */

/*
 * Opens (or with JOURNAL_OPEN_CREATE creates, mode 0600) the journal file at
 * path; a writable open with CREATE also fsyncs the parent directory.
 */
int journal_file_device_open(const char *path, unsigned flags, struct journal_device **ret_dev);

/* ------------------------------------------------------------------ LUN devices */

/*
 * A block device under a ring journal device (journal-format.h: superblock
 * + ring): an iSCSI LUN, or memory in the unit tests. Every call may block.
 */
struct journal_blockdev;

struct journal_blockdev_ops {
	/* Reads/writes n whole blocks at lba; -errno (-ESTALE: fenced). */
	int (*read)(struct journal_blockdev *bd, uint64_t lba, uint32_t n, void *buf);
	int (*write)(struct journal_blockdev *bd, uint64_t lba, uint32_t n, const void *buf);
	/* Makes every completed write durable (SYNCHRONIZE CACHE). */
	int (*sync)(struct journal_blockdev *bd);
	/* Optional: the session's state for status reports. */
	void (*path_info)(struct journal_blockdev *bd, struct journal_path_info *ret_info);
	void (*close)(struct journal_blockdev *bd);
};

struct journal_blockdev {
	const struct journal_blockdev_ops *ops;
	char *name;		/* for messages: the URL without secrets */
	uint32_t block_size;	/* 512..JOURNAL_BLOCK, a power of two */
	uint64_t blocks;
	bool read_only;
	/*
	 * The target itself refuses other writers (we hold a SCSI-3 persistent
	 * reservation): the header can be read from our own copy, and fencing
	 * shows as -ESTALE from write.
	 */
	bool exclusive;
};

/*
 * A journal device over bd (taken over: closed with the device, or here on
 * failure). Checks the superblock: a LUN whose first block is all zeros is
 * blank (size 0: journal_open_device() formats it with JOURNAL_OPEN_CREATE);
 * anything else must be a lifeboat journal: -EMEDIUMTYPE (not one),
 * -EPROTONOSUPPORT (a newer ring version), -EBADMSG (bad checksum or
 * geometry), -EXDEV (made for another block size or a larger LUN).
 */
int journal_ring_device_open(struct journal_blockdev *bd, unsigned flags,
			     struct journal_device **ret_dev);

/* What a LUN journal's superblock says, for inspection. */
struct journal_lun_info {
	uint32_t block_size;
	uint64_t lun_blocks;
	uint64_t ring_start;
	uint64_t ring_size;
	uint64_t head;
	uint64_t used;
	uint64_t generation;
	uint8_t lun_id[JOURNAL_RING_ID_SIZE];
};

/* -ENOTTY when dev is not a ring device or is blank. */
int journal_device_lun_info(struct journal_device *dev, struct journal_lun_info *ret_info);

/*
 * iSCSI. url is libiscsi's form, iscsi://[user[%password]@]host[:port]/iqn/lun,
 * with optional query parameters of ours (removed before libiscsi sees it):
 *   initiator=IQN   our initiator name (default iqn.2026-11.io.lifeboat:<hostname>,
 *                   or $LIFEBOAT_ISCSI_INITIATOR)
 *   key=HEX         our reservation key (default: a hash of the initiator name,
 *                   or $LIFEBOAT_ISCSI_KEY)
 *   timeout=S       how long an I/O waits for a lost session to come back (30)
 * CHAP: user and password from the URL, else $LIBISCSI_CHAP_USERNAME and
 * $LIBISCSI_CHAP_PASSWORD, else the root-only file $LIFEBOAT_ISCSI_CHAP_FILE
 * (default /etc/lifeboat/iscsi-chap; lines user=..., password=...; refused
 * unless owned by root and not readable by others).
 */
#define JOURNAL_ISCSI_TAKEOVER (1u << 8)	/* preempt another owner's reservation */
#define JOURNAL_ISCSI_NO_RESERVE (1u << 9)	/* read-only look: no register, no reserve */

/*
 * Logs in (session kept alive by a thread: NOP-out every 2 s, reconnect
 * with bounded backoff), READ CAPACITY(16), then unless read-only: REGISTER
 * our key and RESERVE (Write Exclusive, Registrants Only). A reservation
 * held by another key gives -EBUSY unless JOURNAL_ISCSI_TAKEOVER, which
 * PREEMPTs it (the caller then opens with JOURNAL_OPEN_TAKEOVER to bump the
 * epoch). Logs what it cannot do itself (a session error has no errno).
 */
int journal_iscsi_blockdev_open(const char *url, unsigned flags,
				struct journal_blockdev **ret_bd);

/* The reservation state of a LUN, for `lifeboat journal owner`. */
struct journal_pr_info {
	uint64_t our_key;
	uint32_t generation;
	unsigned nkeys;
	uint64_t keys[16];	/* registered keys (first 16) */
	bool reserved;
	uint64_t holder_key;
	unsigned type;		/* 5: Write Exclusive, Registrants Only */
};

int journal_iscsi_pr_info(struct journal_blockdev *bd, struct journal_pr_info *ret_info);

/* True for "iscsi://..." names. */
bool journal_name_is_iscsi(const char *name);

/* A file or an iSCSI device by name (flags: JOURNAL_OPEN_*, JOURNAL_ISCSI_*). */
int journal_device_open_name(const char *name, unsigned flags, struct journal_device **ret_dev);

/* ------------------------------------------------------------------ journal */

#define JOURNAL_DEFAULT_MAX_SIZE (UINT64_C(256) << 20)

struct journal_options {
	/*
	 * 0: adopt the epoch in the header (inspection, same owner reopening).
	 * Greater than the header's: take over, writing the new epoch and owner
	 * into the header before anything else (this fences the old owner's
	 * appends). Smaller: -ESTALE, we have been fenced.
	 */
	uint64_t epoch;
	const char *owner;	/* owner id (hostname...), < JOURNAL_OWNER_MAX bytes */
	uint64_t max_size;	/* device bytes used at most, 0: JOURNAL_DEFAULT_MAX_SIZE */
	unsigned flags;		/* JOURNAL_OPEN_* */
};

enum journal_state {
	JOURNAL_STATE_READY,
	JOURNAL_STATE_PENDING,
	JOURNAL_STATE_FULL,
	JOURNAL_STATE_FENCED,
	JOURNAL_STATE_CORRUPT,
	JOURNAL_STATE_FAILED,
	JOURNAL_STATE_READONLY,
};

const char *journal_state_to_string(enum journal_state state);

enum journal_end {
	JOURNAL_END_CLEAN,	/* end of device, or a stale record from before a reset */
	JOURNAL_END_TORN,	/* a bad record with nothing valid after it: an unfinished append */
	JOURNAL_END_CORRUPT,	/* a bad record followed by valid ones: records lost */
};

const char *journal_end_to_string(enum journal_end end);

/* What a scan found; filled by journal_scan() on success and on -EBADMSG. */
struct journal_scan_result {
	uint64_t records;	/* valid records before the end */
	uint64_t first_seq;	/* seq of the first valid record, 0 if none */
	uint64_t last_seq;	/* seq of the last valid record, 0 if none */
	uint64_t end_offset;	/* byte offset just past the last valid record */
	enum journal_end end;
	uint64_t bad_seq;	/* TORN/CORRUPT: the seq expected at the bad record */
	uint64_t bad_offset;	/* TORN/CORRUPT: its byte offset */
	const char *reason;	/* TORN/CORRUPT: static text ("checksum mismatch") */
};

/* The header and counters, for inspection. */
struct journal_info {
	uint32_t version;
	uint64_t epoch;
	uint64_t created_ns;
	uint64_t epoch_ns;
	uint64_t first_seq;
	uint64_t applied_seq;
	uint64_t head_offset;
	uint64_t tail_offset;	/* where the next record goes */
	uint64_t next_seq;
	uint64_t max_size;
	char owner[JOURNAL_OWNER_MAX];
	enum journal_state state;
	struct journal_scan_result open_scan;	/* what the scan at open found */
};

struct journal;

/*
 * Opens a journal on dev, which it takes over (closed by journal_close(), or
 * here on failure). Reads and checks the header (-EBADMSG, -EPROTONOSUPPORT
 * for another version), applies the epoch rule of struct journal_options,
 * then scans the records to find the tail. Records left behind put the
 * journal in PENDING: the caller must replay them (or explicitly continue)
 * before appending; they are never ignored or overwritten. A bad record
 * before the tail gives CORRUPT, a torn tail is cut off at the first append.
 * An empty device (size 0) gets a fresh header when opts->flags has
 * JOURNAL_OPEN_CREATE, -ENODATA otherwise.
 */
int journal_open_device(struct journal_device *dev, const struct journal_options *opts,
			struct journal **ret_j);

/*
 * journal_device_open_name() + journal_open_device(): a file path or an
 * iscsi:// URL.
 */
int journal_open(const char *path, const struct journal_options *opts, struct journal **ret_j);

/* Closes the device and frees j; NULL is fine. No append may be in flight. */
void journal_close(struct journal *j);

enum journal_state journal_get_state(struct journal *j);
void journal_get_info(struct journal *j, struct journal_info *ret_info);
const char *journal_name(struct journal *j);

/* The journal path's state (journal_path_info); thread-safe. */
void journal_get_path_info(struct journal *j, struct journal_path_info *ret_info);

/* The device under j (borrowed: for inspection). */
struct journal_device *journal_device(struct journal *j);

/*
 * Appends records durably: returns once they are written and synced
 * (device write + sync). Thread-safe: concurrent callers are ordered by
 * sequence number and grouped into one write and one sync (group commit);
 * a call's records are contiguous. On success each rec gets its seq, epoch
 * and time_ns. The records' pointers must stay valid until the call returns.
 *
 * Errors (the journal does not change for the first three):
 *   -EINVAL/-ENAMETOOLONG/-E2BIG  a record fails journal_record_check()
 *   -EBUSY     state PENDING: replay and reset, or continue, first
 *   -EROFS     opened read-only
 *   -ENOSPC    the records would pass max_size: state FULL, every later
 *              append fails too (no record after a lost one), until reset
 *   -ESTALE    the header names a newer epoch: state FENCED, for good
 *   -EBADMSG   state CORRUPT
 *   other      the device failed: state FAILED, for good; the records of the
 *              failed group may or may not be on the device (never acked)
 */
int journal_append_batch(struct journal *j, struct journal_record *recs, size_t n);
int journal_append(struct journal *j, struct journal_record *rec);

/*
 * PENDING -> READY keeping the records left behind: later appends follow
 * them. For an owner that cannot replay yet (path still down) and must keep
 * absorbing. -EBADMSG on CORRUPT, -EROFS read-only; 0 if already READY.
 */
int journal_continue(struct journal *j);

/*
 * Drops every record (after a replay that synced the store): the header's
 * first_seq moves past the last seq (seqs never go back), then the device is
 * cut to the header; both synced. FULL, CORRUPT, PENDING -> READY.
 * -EBUSY while appends are in flight, -ESTALE when fenced, -EROFS read-only.
 */
int journal_reset(struct journal *j);

/*
 * 0 while the header on the device still names our epoch; -ESTALE, and the
 * state FENCED, once another node took the journal over. One header read.
 */
int journal_check_owner(struct journal *j);

/*
 * A node that took a journal over, replayed and reset it, gives it back:
 * the owner in the header becomes JOURNAL_RELEASED_BY followed by its own
 * name, which tells the node the journal belongs to that it may take it
 * over again (lifeboatfs does, when it finds its journal fenced, released
 * and empty). -ESTALE when fenced, -EROFS read-only.
 */
#define JOURNAL_RELEASED_BY "released-by:"
int journal_release(struct journal *j);
bool journal_owner_released(const char *owner);

/*
 * Calls fn on every valid record in order, stopping at the end described in
 * struct journal_scan_result (the record passed to fn lives only during the
 * call). Never calls fn on or after a bad record. fn returns 0 to go on,
 * negative to stop (that value is returned). The scan covers what was on the
 * device at the call (for a writable journal: the durable tail).
 * Returns 0 for CLEAN and TORN ends, -EBADMSG for CORRUPT (result filled in
 * both cases), -errno when the device fails.
 */
typedef int (*journal_record_fn)(const struct journal_record *rec, uint64_t offset,
				 void *userdata);
int journal_scan(struct journal *j, journal_record_fn fn, void *userdata,
		 struct journal_scan_result *result);

/* ------------------------------------------------------------------ replay */

#define JOURNAL_REPLAY_DRY_RUN (1u << 0)	/* check and resolve, change nothing */
#define JOURNAL_REPLAY_ALL (1u << 1)		/* ignore header.applied_seq */

struct journal_replay_stats {
	uint64_t applied;	/* records applied */
	uint64_t done;		/* records found already applied (EEXIST dir, ENOENT unlink...) */
	uint64_t skipped;	/* records below applied_seq, or on a path gone since */
	uint64_t synced;	/* files and directories fsynced */
	uint64_t failed_seq;	/* the record an apply failed on, 0 if none */
	uint64_t failed_offset;	/* its byte offset in the journal */
};

struct journal_replay;

/*
 * A replay context applies records to the store whose root directory is
 * store_fd (borrowed, kept open by the caller). Every path is resolved
 * beneath store_fd with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS) and never leaves it; a final component that is a
 * symlink is acted on, never followed. Each apply is idempotent: applying
 * a sequence of records again over its own result gives the same store.
 */
int journal_replay_new(int store_fd, unsigned flags, struct journal_replay **ret_r);
void journal_replay_free(struct journal_replay *r);

/*
 * Applies one record. -EINVAL for a bad path, -errno from the store
 * otherwise (an application error such as EEXIST on a file where a MKDIR
 * wants a directory is a real error here: the store diverged).
 */
int journal_replay_apply(struct journal_replay *r, const struct journal_record *rec);

/* fsyncs every file and directory touched so far (syncfs for special files). */
int journal_replay_sync(struct journal_replay *r);

void journal_replay_get_stats(struct journal_replay *r, struct journal_replay_stats *ret_stats);

/*
 * Scans j and applies its records in order into store_fd, nothing at or past
 * the first bad record, then syncs what it touched. On a writable journal,
 * records up to header.applied_seq are skipped (unless JOURNAL_REPLAY_ALL)
 * and applied_seq is advanced once the store is synced, and so on both
 * sides of every rename: a restart never applies one twice. result as for
 * journal_scan(); stats may be NULL. Returns 0 (clean or torn end),
 * -EBADMSG (corrupt: the valid prefix was applied and synced), -ESTALE
 * (a writable journal another node took over: nothing applied), or the
 * first apply/sync/device error (records before it applied, none after).
 */
int journal_replay(struct journal *j, int store_fd, unsigned flags,
		   struct journal_replay_stats *stats, struct journal_scan_result *result);

#endif
