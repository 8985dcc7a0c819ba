/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * absorb.h - the path-failure machinery of lifeboatfs: mutations, the
 * unflushed queue, the journal, the overlay, holds and recovery.
 *
 *   HEALTHY --path failure--> ABSORBING --store answers--> RECOVERING
 *   RECOVERING --journal replayed, synced, reset--> HEALTHY
 *   RECOVERING --path failure during replay--> ABSORBING
 *
 * | transition            | made by                                   |
 * |-----------------------|-------------------------------------------|
 * | HEALTHY -> ABSORBING  | absorb_begin(): queue to journal, overlay |
 * | ABSORBING -> RECOVER. | prober thread: absorb_recover()           |
 * | RECOVERING -> HEALTHY | absorb_recover(): replay, realize, drop   |
 *
 * Invariant (DESIGN.md 2): an acknowledged mutation is durable on the store,
 * in the journal, or (HEALTHY only) in the unflushed queue. fs->mode_lock
 * makes that hold: a healthy mutation holds it for reading from its store
 * call to its queue push; absorb_begin() holds it for writing while it moves
 * the queue into the journal.
 */
#ifndef LIFEBOATFS_ABSORB_H
#define LIFEBOATFS_ABSORB_H

#include <linux/limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "lifeboat/journal.h"
#include "errclass.h"

struct lb_fs;
struct lb_inode;
struct lb_qentry;
struct ov_file;

enum lb_state {
	LB_HEALTHY,
	LB_ABSORBING,
	LB_RECOVERING,
};

const char *lb_state_name(enum lb_state state);

struct lb_queue {
	pthread_mutex_t lock;
	pthread_cond_t room;		/* signalled when bytes drop */
	pthread_cond_t work;		/* wakes the flusher */
	struct lb_qentry *head;		/* protected by lock */
	struct lb_qentry *tail;		/* protected by lock */
	size_t bytes;			/* protected by lock */
	size_t records;			/* protected by lock */
	size_t budget;			/* immutable */
	uint64_t last_seq;		/* protected by lock */
	uint64_t flush_gen;		/* protected by flush_lock */
	pthread_mutex_t flush_lock;	/* one flush at a time (flusher, barriers) */
	size_t not_removals;		/* queued records other than UNLINK/RMDIR; protected by lock */
	bool stopping;			/* protected by lock */
	pthread_t flusher;
};

/*
 * One mutation on its way to the store or the journal. The op fills rec
 * (paths point into path/path2) and the inodes involved; the store step
 * fills file and st for creations.
 */
struct lb_mut {
	struct journal_record rec;
	struct lb_inode *file;		/* the object changed or created */
	struct lb_inode *dir;		/* directory whose names change */
	struct lb_inode *dir2;		/* rename: the target directory */
	struct lb_inode *victim;	/* object losing a name (ref held), or NULL */
	struct lb_inode *victim2;	/* rename: object replaced or exchanged (ref held) */
	bool journalable;		/* paths known: the mutation can be journaled */
	bool absorbed;			/* it went to the journal, not to the store */
	bool unlinked;			/* its object has no name left: nothing to journal */
	struct stat st;			/* attributes for the reply */
	int fd;				/* create: the open file, or -1 */
	char path[PATH_MAX];
	char path2[PATH_MAX];
};

/* The overlay's view of one object while absorbing. */
struct ov_dirent {
	struct ov_dirent *next;
	struct lb_inode *inode;		/* holds a ref; NULL: the name is gone */
	char name[];
};

struct ov_node {
	struct ov_node *next;		/* fs->ov_nodes list */
	struct lb_inode *inode;		/* holds a ref */
	struct stat attr;		/* what getattr answers */
	struct ov_file *data;		/* regular files */
	struct ov_dirent *entries;	/* directories: names changed while absorbing */
	bool virt;			/* created since the last sync: nothing on the store */
	int base_fd;			/* kept open for a replay that removes the object, or -1 */
};

/*
 * Upper bounds (ms) of the hold duration buckets, for a histogram of how
 * long requests waited for a failed path; the last bucket has no bound.
 */
#define LB_HOLD_BUCKETS 11
extern const uint64_t lb_hold_bucket_ms[LB_HOLD_BUCKETS - 1];

struct lb_absorb_stats {
	uint64_t absorbed[ERRCLASS_NSLOTS];	/* path failures seen, by errno */
	uint64_t holds;				/* requests that waited for the path */
	uint64_t hold_longest_ms;
	uint64_t hold_buckets[LB_HOLD_BUCKETS];	/* ended holds by duration, see lb_hold_bucket_ms */
	uint64_t hold_sum_ms;			/* total duration of the ended holds */
	uint64_t hold_started_ms;		/* CLOCK_MONOTONIC of the oldest running hold, 0 if none */
	unsigned int holding;			/* requests waiting now */
	uint64_t replay_done;
	uint64_t replay_total;
	uint64_t journal_records;
	uint64_t state_since_ms;		/* CLOCK_REALTIME of the last change */
};

/* queue.c */
void queue_init(struct lb_queue *q, size_t budget);
int queue_push(struct lb_fs *fs, const struct lb_mut *m);
void queue_wait_room(struct lb_fs *fs);
struct lb_qentry *queue_take_all(struct lb_fs *fs);
struct lb_qentry *queue_entry_next(struct lb_qentry *e);
struct journal_record *queue_entry_record(struct lb_qentry *e);
struct lb_inode *queue_entry_inode(struct lb_qentry *e, int i);
bool queue_entry_in_overlay(struct lb_qentry *e);
void queue_free_list(struct lb_fs *fs, struct lb_qentry *head);
void queue_stats(struct lb_fs *fs, uint64_t *ret_bytes, uint64_t *ret_records);
bool queue_holds_not_removals(struct lb_fs *fs);
int queue_flush_once(struct lb_fs *fs);
bool queue_holds_inode(struct lb_fs *fs, struct lb_inode *inode);
void queue_to_ghost(struct lb_fs *fs, struct lb_inode *inode);
int queue_walk(struct lb_fs *fs, int (*fn)(struct lb_fs *fs, struct lb_qentry *e, void *ctx),
	       void *ctx);
bool queue_read_contradicts(struct lb_fs *fs, struct lb_inode *inode, uint64_t off,
			    const void *data, size_t len);
bool queue_touches_after(struct lb_fs *fs, struct lb_inode *inode, uint64_t seq);

/* flushplan.c: one flush on a store that is a FUSE file system */
struct flush_plan;
int flush_plan_build(struct lb_fs *fs, struct lb_qentry *first, uint64_t upto, uint64_t mark,
		     struct flush_plan **ret);
int flush_plan_run(struct lb_fs *fs, struct flush_plan *p);
void flush_plan_free(struct lb_fs *fs, struct flush_plan *p);
bool flush_names_lost_in(struct lb_fs *fs, struct lb_inode *dir);
int space_refresh(struct lb_fs *fs);
void space_freed(struct lb_fs *fs, int64_t bytes);
int queue_start_flusher(struct lb_fs *fs);
void queue_stop_flusher(struct lb_fs *fs);

/* mutation.c: running one mutation in whatever state the mount is in */
void mut_init(struct lb_mut *m, enum journal_type type);
typedef int (*mut_store_fn)(struct lb_fs *fs, struct lb_mut *m, void *arg);
int mut_run(struct lb_fs *fs, struct lb_mut *m, mut_store_fn store, void *arg);
void mut_done(struct lb_fs *fs, struct lb_mut *m);
int mut_path(struct lb_fs *fs, struct lb_mut *m, struct lb_inode *dir, const char *name);
int mut_path2(struct lb_fs *fs, struct lb_mut *m, struct lb_inode *dir, const char *name);

/* absorb.c */
int absorb_init(struct lb_fs *fs);
int absorb_start(struct lb_fs *fs);
void absorb_shutdown(struct lb_fs *fs);
void absorb_begin(struct lb_fs *fs, int err);
uint64_t absorb_epoch(struct lb_fs *fs);
bool absorb_began_since(struct lb_fs *fs, uint64_t epoch);
int absorb_apply(struct lb_fs *fs, struct lb_mut *m);
int absorb_ghost(struct lb_fs *fs, struct lb_mut *m);
int hold_wait(struct lb_fs *fs);
bool is_path_failure(struct lb_fs *fs, int err);
void absorb_note_error(struct lb_fs *fs, int err);

/* overlay.c is the per-file data; ovnode.c the names and attributes */
bool ov_is_virt(struct lb_inode *inode);
int ov_apply_record(struct lb_fs *fs, const struct journal_record *rec, struct lb_inode *file,
		    struct lb_inode *dir, struct lb_inode *dir2, struct lb_inode *victim,
		    struct lb_inode *victim2, bool queued);
int ov_check(struct lb_fs *fs, struct lb_mut *m);
struct ov_dirent *ov_dirent_find(struct ov_node *dir, const char *name);
void ov_drop_all(struct lb_fs *fs);
void ov_keep_bases(struct lb_fs *fs);
int ov_sync_all(struct lb_fs *fs);
ssize_t ov_read(struct lb_fs *fs, struct lb_inode *inode, int fd, void *buf, size_t len,
		off_t off);
bool ov_getattr(struct lb_fs *fs, struct lb_inode *inode, struct stat *ret_st);

/* reclaim.c: a journal another node took over */
void reclaim_after_takeover(struct lb_fs *fs);
void reclaim_check(struct lb_fs *fs);

/* status.c */
struct journal *status_swap_journal(struct lb_fs *fs, struct journal *j);
void status_update(struct lb_fs *fs);
int status_start(struct lb_fs *fs);
void status_stop(struct lb_fs *fs);

#endif
