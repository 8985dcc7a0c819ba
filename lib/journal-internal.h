/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * journal-internal.h - struct journal and the helpers shared by journal.c
 * (open, append, reset), journal-scan.c and journal-replay.c. Not installed.
 *
 * Lock order: j->lock only; no device call is made with it held except the
 * short header rewrites of reset and replay progress, which run when no
 * append is in flight.
 */
#ifndef LIFEBOAT_JOURNAL_INTERNAL_H
#define LIFEBOAT_JOURNAL_INTERNAL_H

#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>

#include "lifeboat/journal.h"

/* One journal_append_batch() call waiting for its group commit. */
struct journal_waiter {
	struct journal_waiter *next;
	const struct journal_record *recs;
	size_t n;
	uint64_t first_seq;
	uint64_t epoch;
	uint64_t time_ns;
	int result;
	bool done;
};

/* The header fields, host-endian. */
struct journal_header {
	uint32_t version;
	uint64_t epoch;
	uint64_t created_ns;
	uint64_t epoch_ns;
	uint64_t first_seq;
	uint64_t head_offset;
	uint64_t applied_seq;
	char owner[JOURNAL_OWNER_MAX];
};

struct journal {
	struct journal_device *dev;	/* owned */
	uint64_t max_size;		/* set at open */
	bool read_only;			/* set at open */
	struct journal_scan_result open_scan;	/* set at open */

	pthread_mutex_t lock;
	pthread_cond_t committed;	/* broadcast when a group commit ends */
	struct journal_header hdr;	/* protected by lock */
	enum journal_state state;	/* protected by lock */
	int error;			/* FAILED: the errno; protected by lock */
	uint64_t next_seq;		/* seq of the next queued record; protected by lock */
	uint64_t tail;			/* end of the durable records; protected by lock */
	uint64_t reserved;		/* end of durable + queued records; protected by lock */
	struct journal_waiter *queue;	/* queued, not yet taken; protected by lock */
	struct journal_waiter **queue_end;	/* protected by lock */
	unsigned appenders;		/* callers inside append; protected by lock */
	bool committing;		/* a leader owns wbuf and writes; protected by lock */

	uint8_t *wbuf;			/* owned by the committing leader */
	size_t wbuf_size;		/* owned by the committing leader */
};

/* Scans [head, limit) of dev, records numbered from first_seq (journal-scan.c). */
int journal_scan_device(struct journal_device *dev, uint64_t head, uint64_t limit,
			uint64_t first_seq, uint64_t max_epoch, journal_record_fn fn,
			void *userdata, struct journal_scan_result *result);

/* Durably records that every record up to seq is replayed (journal.c). */
int journal_set_applied(struct journal *j, uint64_t seq);

/* Reads and checks the header block of dev (journal.c). */
int journal_header_read(struct journal_device *dev, struct journal_header *ret_hdr);

/* A replay context (journal-replay.c). */
struct journal_replay {
	int store_fd;			/* borrowed */
	unsigned flags;			/* JOURNAL_REPLAY_* */
	struct journal_replay_stats stats;
	char **touched;			/* hash set of paths to fsync, "" is the root */
	size_t touched_slots;		/* power of two */
	size_t touched_count;
	bool need_syncfs;		/* touched something fsync cannot reach */
};

/* journal_apply() results besides 0 (applied) and -errno. */
#define JOURNAL_APPLY_DONE 1		/* already in the store */
#define JOURNAL_APPLY_SKIPPED 2		/* its object is gone since: later records rule */

/* Applies one record (journal-apply.c). */
int journal_apply(struct journal_replay *r, const struct journal_record *rec);

/* Remembers path (and with _parent, its directory) for journal_replay_sync(). */
int journal_replay_touch(struct journal_replay *r, const char *path);
int journal_replay_touch_parent(struct journal_replay *r, const char *path);
/* fsyncs path now if a record touched it: before a removal of one of its names. */
int journal_replay_sync_touched(struct journal_replay *r, const char *path);

/* openat2() beneath dirfd with the store's resolve flags (journal-resolve.c). */
int journal_openat2(int dirfd, const char *path, int flags, mode_t mode);

/* The directory holding path's last component, as an O_PATH fd, and that component. */
int journal_resolve_parent(int store_fd, const char *path, int *ret_dirfd,
			   const char **ret_name);

/* Opens a regular file (no symlink, no FIFO wait); -EINVAL for anything else. */
int journal_open_regular(int dirfd, const char *name, int flags, mode_t mode);

/* "/proc/self/fd/<dirfd>/<name>" into buf. */
int journal_proc_path(int dirfd, const char *name, char *buf, size_t size);

#endif
