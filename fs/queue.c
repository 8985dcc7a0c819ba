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
	pthread_mutex_lock(&q->lock);
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

/* fsyncs one object through its file handle; 0 when it is gone since. */
static int sync_inode(struct lb_fs *fs, struct lb_inode *inode)
{
	mode_t mode = inode->mode;
	int flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	char ppath[PATH_MAX];
	int fd, r;

	if (!S_ISREG(mode) && !S_ISDIR(mode))
		return 0;	/* its directory's fsync covers it */
	fd = inode_open(fs, inode, flags, false);
	if (fd < 0) {
		r = fd;
		if (r != -ESTALE && r != -ENOENT)
			return r;
		/*
		 * Deleted since, through this mount: nothing to sync. Still
		 * named here: the store lost it (a failure rolled it back) or
		 * cannot answer; either way the queue must not be trimmed.
		 */
		return inode_path(fs, inode, NULL, ppath, sizeof(ppath)) == -ENOENT ? 0 : -ESTALE;
	}
	r = (S_ISREG(mode) ? fdatasync(fd) : fsync(fd)) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* A new empty object needs only its directory synced: it has no content. */
static bool entry_changes_content(const struct lb_qentry *e)
{
	switch (e->rec.type) {
	case JOURNAL_CREATE:
	case JOURNAL_MKNOD:
	case JOURNAL_MKDIR:
	case JOURNAL_SYMLINK:
	case JOURNAL_LINK:
	case JOURNAL_UNLINK:
	case JOURNAL_RMDIR:
	case JOURNAL_RENAME:
		return false;
	default:
		return true;
	}
}

/*
 * Syncs every object the entries up to @upto touched, each once. A store
 * that is not itself a FUSE file system syncs all of it in one syncfs(2).
 */
static int flush_entries(struct lb_fs *fs, struct lb_qentry *first, uint64_t upto, uint64_t mark)
{
	struct lb_inode **todo;
	size_t n = 0, cap = 64;
	int r = 0;

	if (fs->store_syncfs)
		return syncfs(fs->mount_fd) < 0 ? -errno : 0;
	/*
	 * The objects first, each with a ref: a sync that stalls past
	 * path_timeout gets this thread abandoned and the queue journaled and
	 * freed, so no entry may be touched once the first sync started.
	 */
	todo = malloc(cap * sizeof(*todo));
	if (!todo)
		return -ENOMEM;
	for (struct lb_qentry *e = first; e && e->rec.seq <= upto; e = e->next) {
		for (int i = 0; i < 3; i++) {
			struct lb_inode *inode = e->inodes[i];

			if (!inode || inode->flush_mark == mark)
				continue;
			if (i == 0 && !entry_changes_content(e))
				continue;
			if (n == cap) {
				struct lb_inode **grown = realloc(todo, 2 * cap * sizeof(*todo));

				if (!grown) {
					r = -ENOMEM;
					goto out;
				}
				todo = grown;
				cap *= 2;
			}
			inode->flush_mark = mark;
			inode_ref(fs, inode);
			todo[n++] = inode;
		}
	}
	for (size_t i = 0; i < n && r == 0; i++)
		r = sync_inode(fs, todo[i]);
out:
	for (size_t i = 0; i < n; i++)
		inode_unref(fs, todo[i]);
	free(todo);
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
