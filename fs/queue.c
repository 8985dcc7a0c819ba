// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * queue.c - the unflushed queue: every mutation the store has not yet made
 * durable, in the one global order it was applied in, with its data.
 *
 * A healthy mutation is applied to the store, then pushed here, then
 * acknowledged. The flusher makes the store durable (fdatasync/fsync of
 * each file touched, fsync of each directory whose names changed: syncfs
 * proves nothing on stores that are FUSE file systems themselves) and trims
 * what that covered. At a path failure absorb.c takes the whole queue into
 * the journal before anything else is acknowledged.
 *
 * Memory is bounded by queue_budget: a mutation that finds the queue over
 * budget waits (outside the mode lock) until the flusher has trimmed.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "queue: "
#include "lifeboat/log.h"
#include "lifeboatfs.h"
#include "absorb.h"

struct lb_qentry {
	struct lb_qentry *next;
	struct journal_record rec;	/* pointers into buf */
	struct lb_inode *inodes[4];	/* file, dir, dir2 (synced), victim2; each with a ref */
	bool content;			/* counted in inodes[0]->queued */
	bool in_overlay;		/* an unlinked file's, applied by queue_to_ghost() */
	size_t bytes;
	char buf[];
};

static char *copy_str(char **pos, const char *s)
{
	char *d = *pos;
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	memcpy(d, s, n);
	*pos += n;
	return d;
}

static size_t str_size(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

static struct lb_qentry *qentry_new(const struct journal_record *rec)
{
	size_t extra = str_size(rec->path) + str_size(rec->path2) + str_size(rec->target) +
		       str_size(rec->name) + rec->data_len;
	struct lb_qentry *e = malloc(sizeof(*e) + extra);
	char *pos;

	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->rec = *rec;
	pos = e->buf;
	e->rec.path = copy_str(&pos, rec->path);
	e->rec.path2 = copy_str(&pos, rec->path2);
	e->rec.target = copy_str(&pos, rec->target);
	e->rec.name = copy_str(&pos, rec->name);
	if (rec->data_len) {
		memcpy(pos, rec->data, rec->data_len);
		e->rec.data = pos;
	}
	e->bytes = sizeof(*e) + extra;
	return e;
}

/* Under the queue lock, as @e leaves the queue: its objects' counts. */
static void entry_uncount_locked(struct lb_qentry *e)
{
	if (e->inodes[0] && e->content)
		e->inodes[0]->queued--;
	for (int i = 0; i < 4; i++)
		if (e->inodes[i])
			e->inodes[i]->queue_refs--;
}

/* An entry out of the queue (entry_uncount_locked() done). */
static void entry_free(struct lb_fs *fs, struct lb_qentry *e)
{
	for (int i = 0; i < 4; i++)
		if (e->inodes[i])
			inode_unref(fs, e->inodes[i]);
	free(e);
}

static bool is_removal(const struct journal_record *rec)
{
	return rec->type == JOURNAL_UNLINK || rec->type == JOURNAL_RMDIR;
}

/*
 * A queue of removals only replays the same whatever the store kept of it
 * (a name already gone is done): it needs no barrier before a removal.
 */
bool queue_holds_not_removals(struct lb_fs *fs)
{
	bool r;

	pthread_mutex_lock(&fs->queue.lock);
	r = fs->queue.not_removals > 0;
	pthread_mutex_unlock(&fs->queue.lock);
	return r;
}

void queue_init(struct lb_queue *q, size_t budget)
{
	memset(q, 0, sizeof(*q));
	pthread_mutex_init(&q->lock, NULL);
	pthread_mutex_init(&q->flush_lock, NULL);
	pthread_cond_init(&q->room, NULL);
	pthread_cond_init(&q->work, NULL);
	q->budget = budget;
}

/*
 * Records a mutation the store has applied. Called with the mode lock held
 * for reading (so a path failure cannot slip between apply and push).
 */
int queue_push(struct lb_fs *fs, const struct lb_mut *m)
{
	struct lb_queue *q = &fs->queue;
	struct lb_inode *targets[4] = { m->file, m->dir, m->dir2, m->victim2 };
	struct lb_qentry *e = qentry_new(&m->rec);

	if (!e)
		return -ENOMEM;
	for (int i = 0; i < 4; i++) {
		if (!targets[i] || targets[i]->virt)
			continue;
		e->inodes[i] = targets[i];
		inode_ref(fs, targets[i]);
	}
	e->content = e->inodes[0] && (m->rec.type == JOURNAL_WRITE ||
				      m->rec.type == JOURNAL_TRUNCATE ||
				      m->rec.type == JOURNAL_FALLOCATE ||
				      (m->rec.type == JOURNAL_SETATTR && (m->rec.flags & JOURNAL_ATTR_SIZE)));
	pthread_mutex_lock(&q->lock);
	if (e->content)
		e->inodes[0]->queued++;
	for (int i = 0; i < 4; i++)
		if (e->inodes[i])
			e->inodes[i]->queue_refs++;
	e->rec.seq = ++q->last_seq;
	if (q->tail)
		q->tail->next = e;
	else
		q->head = e;
	q->tail = e;
	q->bytes += e->bytes;
	q->records++;
	if (!is_removal(&e->rec))
		q->not_removals++;
	if (q->bytes > q->budget / 2)
		pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

/* Backpressure: waits while the queue is over budget. No lock held. */
void queue_wait_room(struct lb_fs *fs)
{
	struct lb_queue *q = &fs->queue;

	(void)stall_wait_begin(fs);	/* the flusher's stall is its own */
	pthread_mutex_lock(&q->lock);
	while (q->bytes > q->budget && !q->stopping && fs->state == LB_HEALTHY) {
		pthread_cond_signal(&q->work);
		pthread_cond_wait(&q->room, &q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	(void)stall_wait_end(fs);
}

/* Takes every entry out of the queue, in order (absorb.c journals them). */
struct lb_qentry *queue_take_all(struct lb_fs *fs)
{
	struct lb_queue *q = &fs->queue;
	struct lb_qentry *head;

	pthread_mutex_lock(&q->lock);
	head = q->head;
	for (struct lb_qentry *e = head; e; e = e->next)
		entry_uncount_locked(e);
	q->head = q->tail = NULL;
	q->bytes = 0;
	q->records = 0;
	q->not_removals = 0;
	pthread_cond_broadcast(&q->room);
	pthread_mutex_unlock(&q->lock);
	return head;
}

struct lb_qentry *queue_entry_next(struct lb_qentry *e)
{
	return e->next;
}

struct journal_record *queue_entry_record(struct lb_qentry *e)
{
	return &e->rec;
}

struct lb_inode *queue_entry_inode(struct lb_qentry *e, int i)
{
	return e->inodes[i];
}

/*
 * Whether the overlay shows @e already (queue_to_ghost()): applying it
 * again would undo newer writes.
 */
bool queue_entry_in_overlay(struct lb_qentry *e)
{
	return e->in_overlay;
}

void queue_free_list(struct lb_fs *fs, struct lb_qentry *head)
{
	while (head) {
		struct lb_qentry *next = head->next;

		entry_free(fs, head);
		head = next;
	}
}

void queue_stats(struct lb_fs *fs, uint64_t *ret_bytes, uint64_t *ret_records)
{
	pthread_mutex_lock(&fs->queue.lock);
	*ret_bytes = fs->queue.bytes;
	*ret_records = fs->queue.records;
	pthread_mutex_unlock(&fs->queue.lock);
}

/*
 * Whether an unflushed mutation involves @inode: only then can a store
 * that rolls back what it had not made durable show it otherwise than the
 * mount left it. A count kept by push and free: every listing asks.
 */
bool queue_holds_inode(struct lb_fs *fs, struct lb_inode *inode)
{
	bool r;

	pthread_mutex_lock(&fs->queue.lock);
	r = inode->queue_refs > 0;
	pthread_mutex_unlock(&fs->queue.lock);
	return r;
}

/*
 * Applies the queued mutations of the unlinked open file @inode to its new
 * overlay node: the store may have rolled them back, and the journal never
 * had them. Called with ov_lock held.
 */
void queue_to_ghost(struct lb_fs *fs, struct lb_inode *inode)
{
	pthread_mutex_lock(&fs->queue.lock);
	for (struct lb_qentry *e = fs->queue.head; e; e = e->next)
		if (e->inodes[0] == inode && !e->rec.path) {
			(void)ov_apply_record(fs, &e->rec, inode, NULL, NULL, NULL, NULL, true);
			e->in_overlay = true;
		}
	pthread_mutex_unlock(&fs->queue.lock);
}

/* Calls @fn for each queued entry, oldest first, under the queue lock. */
int queue_walk(struct lb_fs *fs, int (*fn)(struct lb_fs *fs, struct lb_qentry *e, void *ctx),
	       void *ctx)
{
	int r = 0;

	pthread_mutex_lock(&fs->queue.lock);
	for (struct lb_qentry *e = fs->queue.head; e && r == 0; e = e->next)
		r = fn(fs, e, ctx);
	pthread_mutex_unlock(&fs->queue.lock);
	return r;
}

/* What the queued content mutations of @inode make of [off, off+len) of @data. */
static void patch_range(const struct journal_record *rec, uint64_t off, unsigned char *data,
			size_t len)
{
	uint64_t end = off + len, from, to;

	switch (rec->type) {
	case JOURNAL_WRITE:
		from = rec->offset > off ? rec->offset : off;
		to = rec->offset + rec->data_len < end ? rec->offset + rec->data_len : end;
		if (from < to)
			memcpy(data + (from - off), (const char *)rec->data + (from - rec->offset),
			       to - from);
		return;
	case JOURNAL_TRUNCATE:
	case JOURNAL_SETATTR:
		if (rec->size < end)
			memset(data + (rec->size > off ? rec->size - off : 0), 0,
			       end - (rec->size > off ? rec->size : off));
		return;
	case JOURNAL_FALLOCATE:
		if (!(rec->flags & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)))
			return;
		from = rec->offset > off ? rec->offset : off;
		to = rec->offset + rec->length < end ? rec->offset + rec->length : end;
		if (from < to)
			memset(data + (from - off), 0, to - from);
		return;
	default:
		return;
	}
}

/*
 * Whether @len bytes the store returned at @off of @inode contradict its
 * unflushed writes: the store lost them (a path failure rolled it back
 * while it still answers reads). Costs nothing for files the queue does
 * not hold; a write racing with the read may make it answer true (the
 * mount then absorbs and recovers for nothing, losing no data).
 */
bool queue_read_contradicts(struct lb_fs *fs, struct lb_inode *inode, uint64_t off,
			    const void *data, size_t len)
{
	struct lb_queue *q = &fs->queue;
	unsigned char *expect;
	bool r = false;

	if (!len || !inode->queued)
		return false;
	expect = malloc(len);
	if (!expect)
		return false;
	memcpy(expect, data, len);
	pthread_mutex_lock(&q->lock);
	if (inode->queued) {
		for (struct lb_qentry *e = q->head; e; e = e->next)
			if (e->content && e->inodes[0] == inode)
				patch_range(&e->rec, off, expect, len);
		r = memcmp(expect, data, len) != 0;
	}
	pthread_mutex_unlock(&q->lock);
	free(expect);
	return r;
}

/* Whether the queue holds a mutation of @inode newer than @seq. */
bool queue_touches_after(struct lb_fs *fs, struct lb_inode *inode, uint64_t seq)
{
	bool r = false;

	pthread_mutex_lock(&fs->queue.lock);
	for (struct lb_qentry *e = fs->queue.head; e && !r; e = e->next)
		r = e->rec.seq > seq && e->inodes[0] == inode;
	pthread_mutex_unlock(&fs->queue.lock);
	return r;
}

/*
 * Syncs every object the entries up to @upto touched, each once, and
 * checks the store kept them (flushplan.c). A store that is not itself a
 * FUSE file system syncs all of it in one syncfs(2).
 */
static int flush_entries(struct lb_fs *fs, struct lb_qentry *first, uint64_t upto, uint64_t mark)
{
	struct flush_plan *plan;
	int r;

	if (fs->store_syncfs)
		return syncfs(fs->mount_fd) < 0 ? -errno : 0;
	r = flush_plan_build(fs, first, upto, mark, &plan);
	if (r < 0)
		return r;
	r = flush_plan_run(fs, plan);
	flush_plan_free(fs, plan);
	return r;
}

static void trim_upto(struct lb_fs *fs, uint64_t upto)
{
	struct lb_queue *q = &fs->queue;
	struct lb_qentry *done = NULL, **tail = &done;

	pthread_mutex_lock(&q->lock);
	while (q->head && q->head->rec.seq <= upto) {
		struct lb_qentry *e = q->head;

		q->head = e->next;
		entry_uncount_locked(e);
		q->bytes -= e->bytes;
		q->records--;
		if (!is_removal(&e->rec))
			q->not_removals--;
		e->next = NULL;
		*tail = e;
		tail = &e->next;
	}
	if (!q->head)
		q->tail = NULL;
	pthread_cond_broadcast(&q->room);
	pthread_mutex_unlock(&q->lock);
	queue_free_list(fs, done);
}

/*
 * One flush: syncs what the queue holds now and trims it. Entries stay
 * referenced by the queue while the flusher walks them: only the flusher
 * and queue_take_all() remove entries, and take_all runs under the mode
 * lock held for writing, which flush_once() holds for reading.
 */
int queue_flush_once(struct lb_fs *fs)
{
	struct lb_queue *q = &fs->queue;
	struct lb_qentry *first;
	uint64_t upto;
	int r;

	pthread_mutex_lock(&q->flush_lock);
	r = mode_rdlock(fs);
	if (r < 0) {
		pthread_mutex_unlock(&q->flush_lock);
		return r;	/* abandoned while waiting: nothing to do here */
	}
	if (fs->state != LB_HEALTHY)
		goto out;
	pthread_mutex_lock(&q->lock);
	first = q->head;
	upto = q->last_seq;
	pthread_mutex_unlock(&q->lock);
	r = 0;
	if (!first)
		goto out;
	stall_call_begin(fs);
	r = flush_entries(fs, first, upto, ++q->flush_gen);
	if (stall_call_end(fs) < 0)
		r = -ECANCELED;	/* stalled: the queue went to the journal meanwhile */
	if (r == 0)
		trim_upto(fs, upto);
	log_debug("flush up to %llu: %d", (unsigned long long)upto, r);
out:
	mode_rdunlock(fs);
	pthread_mutex_unlock(&q->flush_lock);
	return r;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void space_freed(struct lb_fs *fs, int64_t bytes)
{
	pthread_mutex_lock(&fs->space_lock);
	fs->space_freed += bytes;
	fs->space_freed_ms = mono_ms();
	pthread_mutex_unlock(&fs->space_lock);
}

/*
 * The free space absorbing counts writes against (see ov_check()). A
 * removal a second old is in the store's answer: stop counting it.
 */
int space_refresh(struct lb_fs *fs)
{
	uint64_t asked = mono_ms();
	struct statvfs sv;
	int r = 0;

	if (fs->state != LB_HEALTHY || stall_gate_closed(fs))
		return 0;
	stall_call_begin(fs);
	if (fstatvfs(fs->root.fd, &sv) < 0)
		r = -errno;
	if (stall_call_end(fs) < 0)
		return -ECANCELED;
	if (r < 0)
		return r;
	pthread_mutex_lock(&fs->space_lock);
	fs->last_statvfs = sv;
	if (asked > fs->space_freed_ms + 1000)
		fs->space_freed = 0;
	pthread_mutex_unlock(&fs->space_lock);
	return 0;
}

static void *flusher_main(void *arg)
{
	struct lb_fs *fs = arg;
	struct lb_queue *q = &fs->queue;
	struct timespec until;
	int r;

	stall_thread_register(fs);
	pthread_mutex_lock(&q->lock);
	while (!q->stopping) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)fs->opt.flush_interval;
		until.tv_nsec += (long)((fs->opt.flush_interval - (time_t)fs->opt.flush_interval) * 1e9);
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (q->bytes <= q->budget / 2)
			pthread_cond_timedwait(&q->work, &q->lock, &until);
		if (q->stopping)
			break;
		pthread_mutex_unlock(&q->lock);
		r = queue_flush_once(fs);
		if (r == 0)
			r = space_refresh(fs);
		if (r < 0 && errclass_is_path_failure(r, fs->store_writable))
			absorb_begin(fs, r);
		else if (r < 0 && r != -ECANCELED)
			log_warning_errno(r, "cannot make the store durable, retrying");
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

int queue_start_flusher(struct lb_fs *fs)
{
	int r = pthread_create(&fs->queue.flusher, NULL, flusher_main, fs);

	return r ? -r : 0;
}

void queue_stop_flusher(struct lb_fs *fs)
{
	struct lb_queue *q = &fs->queue;

	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	pthread_cond_broadcast(&q->work);
	pthread_cond_broadcast(&q->room);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->flusher, NULL);
}
