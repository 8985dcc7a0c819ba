// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * stall.c - path_timeout: the watchdog, thread slots, rescues and the mode
 * lock (see stall.h for the states and why).
 */
#include <errno.h>
#include <linux/fuse.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "stall: "
#include "lifeboat/log.h"
#include "lifeboatfs.h"

enum slot_state {
	SLOT_IDLE,
	SLOT_BUSY,
	SLOT_WAITING,
	SLOT_COMMITTED,
	SLOT_ABANDONED,
};

struct lb_slot {
	struct lb_slot *next;		/* fs->stall.slots; stall.lock */
	struct lb_slot **pprev;		/* stall.lock */
	struct lb_fs *fs;
	_Atomic int state;		/* enum slot_state; written under stall.lock */
	uint64_t since_ms;		/* BUSY since; stall.lock */
	unsigned int reading;		/* mode lock read holds that count; stall.lock */
	unsigned int dropped_reads;	/* read holds given up by abandoning; stall.lock */
	bool serves_requests;		/* a FUSE worker: its request can be rescued */
	const void *req;		/* the request being served (worker's buffer) */
	size_t req_len;
	int ch_fd;			/* the channel it came from: replies go there */
	bool answers_itself;		/* abandoned, but no rescue could answer for it */
};

/* A copy of an abandoned request, processed again by its own thread. */
struct rescue {
	struct lb_fs *fs;
	int ch_fd;
	size_t len;
	char buf[];
};

static __thread struct lb_slot *cur_slot;
static __thread int reply_fd_override = -1;

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Under stall.lock: the slot's request is over; an abandoned one is back. */
static void slot_settle(struct lb_stall *st, struct lb_slot *s)
{
	if (s->state == SLOT_ABANDONED) {
		st->abandoned--;
		pthread_cond_broadcast(&st->cond);
	}
	s->state = SLOT_IDLE;
	s->req = NULL;
}

static void slot_free(void *arg)
{
	struct lb_slot *s = arg;
	struct lb_stall *st = &s->fs->stall;

	pthread_mutex_lock(&st->lock);
	slot_settle(st, s);
	*s->pprev = s->next;
	if (s->next)
		s->next->pprev = s->pprev;
	pthread_mutex_unlock(&st->lock);
	free(s);
}

static struct lb_slot *slot_get(struct lb_fs *fs, bool serves_requests)
{
	struct lb_stall *st = &fs->stall;
	struct lb_slot *s = cur_slot;

	if (s)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;	/* this thread goes unwatched: it still works */
	s->fs = fs;
	s->serves_requests = serves_requests;
	s->ch_fd = -1;
	pthread_mutex_lock(&st->lock);
	s->next = st->slots;
	if (s->next)
		s->next->pprev = &s->next;
	s->pprev = &st->slots;
	st->slots = s;
	pthread_mutex_unlock(&st->lock);
	(void)pthread_setspecific(st->key, s);
	cur_slot = s;
	return s;
}

/* ------------------------------------------------------------ mode lock */

/* Abandoned to a rescue: the thread's own work is void from here on. */
static bool slot_cancelled(const struct lb_slot *s)
{
	return s && s->state == SLOT_ABANDONED && !s->answers_itself;
}

int mode_rdlock(struct lb_fs *fs)
{
	struct lb_stall *st = &fs->stall;
	struct lb_slot *s = cur_slot;

	pthread_mutex_lock(&st->lock);
	/* A waiting writer goes first: absorb_begin() must not starve. */
	while ((st->writer || st->writers_waiting) && !slot_cancelled(s))
		pthread_cond_wait(&st->cond, &st->lock);
	if (slot_cancelled(s)) {
		pthread_mutex_unlock(&st->lock);
		return -ECANCELED;
	}
	st->readers++;
	if (s)
		s->reading++;
	pthread_mutex_unlock(&st->lock);
	return 0;
}

void mode_rdunlock(struct lb_fs *fs)
{
	struct lb_stall *st = &fs->stall;
	struct lb_slot *s = cur_slot;

	pthread_mutex_lock(&st->lock);
	if (s && s->dropped_reads) {
		s->dropped_reads--;	/* the watchdog already let it go */
	} else {
		if (s)
			s->reading--;
		if (--st->readers == 0 && st->writers_waiting)
			pthread_cond_broadcast(&st->cond);
	}
	pthread_mutex_unlock(&st->lock);
}

void mode_wrlock(struct lb_fs *fs)
{
	struct lb_stall *st = &fs->stall;

	pthread_mutex_lock(&st->lock);
	st->writers_waiting++;
	while (st->writer || st->readers)
		pthread_cond_wait(&st->cond, &st->lock);
	st->writers_waiting--;
	st->writer = true;
	pthread_mutex_unlock(&st->lock);
}

void mode_wrunlock(struct lb_fs *fs)
{
	struct lb_stall *st = &fs->stall;

	pthread_mutex_lock(&st->lock);
	st->writer = false;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
}

/* ---------------------------------------------------------- slot states */

/* from -> to unless abandoned: -ECANCELED then. */
static int slot_move(struct lb_fs *fs, int from, int to)
{
	struct lb_slot *s = cur_slot;
	int r = 0;

	if (!s)
		return 0;
	pthread_mutex_lock(&fs->stall.lock);
	if (slot_cancelled(s)) {
		r = -ECANCELED;
	} else if (s->state == from) {
		s->state = to;
		if (to == SLOT_BUSY)
			s->since_ms = mono_ms();
	}
	pthread_mutex_unlock(&fs->stall.lock);
	return r;
}

int stall_commit(struct lb_fs *fs)
{
	return slot_move(fs, SLOT_BUSY, SLOT_COMMITTED);
}

int stall_wait_begin(struct lb_fs *fs)
{
	return slot_move(fs, SLOT_BUSY, SLOT_WAITING);
}

int stall_wait_end(struct lb_fs *fs)
{
	return slot_move(fs, SLOT_WAITING, SLOT_BUSY);
}

void stall_thread_register(struct lb_fs *fs)
{
	(void)slot_get(fs, false);
}

/* A request's own slot already covers the calls it makes: these are no-ops there. */
void stall_call_begin(struct lb_fs *fs)
{
	struct lb_slot *s = cur_slot;

	if (!s || s->serves_requests)
		return;
	pthread_mutex_lock(&fs->stall.lock);
	s->state = SLOT_BUSY;
	s->since_ms = mono_ms();
	pthread_mutex_unlock(&fs->stall.lock);
}

int stall_call_end(struct lb_fs *fs)
{
	struct lb_slot *s = cur_slot;
	int r = 0;

	if (!s || s->serves_requests)
		return 0;
	pthread_mutex_lock(&fs->stall.lock);
	if (s->state == SLOT_ABANDONED)
		r = -ECANCELED;
	slot_settle(&fs->stall, s);
	pthread_mutex_unlock(&fs->stall.lock);
	return r;
}

void stall_request_begin(struct lb_fs *fs, int ch_fd, const void *buf, size_t len)
{
	struct lb_slot *s = slot_get(fs, true);

	if (!s)
		return;
	pthread_mutex_lock(&fs->stall.lock);
	s->state = SLOT_BUSY;
	s->since_ms = mono_ms();
	s->req = buf;
	s->req_len = len;
	s->ch_fd = ch_fd;
	s->answers_itself = false;
	pthread_mutex_unlock(&fs->stall.lock);
}

void stall_request_end(struct lb_fs *fs)
{
	struct lb_slot *s = cur_slot;

	if (!s)
		return;
	/* Also waits for a watchdog copying the request out of our buffer. */
	pthread_mutex_lock(&fs->stall.lock);
	slot_settle(&fs->stall, s);
	pthread_mutex_unlock(&fs->stall.lock);
}

int stall_reply_fd(int fd)
{
	if (reply_fd_override >= 0)
		return reply_fd_override;
	if (slot_cancelled(cur_slot))
		return -1;	/* a rescue answers this request */
	return fd;
}

/* ------------------------------------------------------------- rescues */

static void reply_ok(int fd, uint64_t unique)
{
	struct fuse_out_header out = { .len = sizeof(out), .error = 0, .unique = unique };

	if (write(fd, &out, sizeof(out)) < 0 && errno != ENOENT)
		log_warning_errno(-errno, "cannot answer a rescued request");
}

/*
 * Requests whose handler may run twice at once (the left-behind thread
 * finishes its copy later, with its reply dropped). Releases and syncs are
 * answered directly: once absorbing, what was acknowledged is journaled.
 */
static bool rescue_by_processing(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_LOOKUP:
	case FUSE_GETATTR:
	case FUSE_SETATTR:
	case FUSE_READLINK:
	case FUSE_SYMLINK:
	case FUSE_MKNOD:
	case FUSE_MKDIR:
	case FUSE_UNLINK:
	case FUSE_RMDIR:
	case FUSE_RENAME:
	case FUSE_RENAME2:
	case FUSE_LINK:
	case FUSE_OPEN:
	case FUSE_READ:
	case FUSE_WRITE:
	case FUSE_STATFS:
	case FUSE_SETXATTR:
	case FUSE_GETXATTR:
	case FUSE_LISTXATTR:
	case FUSE_REMOVEXATTR:
	case FUSE_OPENDIR:
	case FUSE_CREATE:
	case FUSE_FALLOCATE:
	case FUSE_COPY_FILE_RANGE:
		return true;
	default:
		return false;
	}
}

static bool rescue_by_ok(uint32_t opcode)
{
	return opcode == FUSE_RELEASE || opcode == FUSE_RELEASEDIR || opcode == FUSE_FSYNC ||
	       opcode == FUSE_FSYNCDIR || opcode == FUSE_FLUSH;
}

static void *rescue_main(void *arg)
{
	struct rescue *rs = arg;
	const struct fuse_in_header *in = (const void *)rs->buf;

	if (rescue_by_ok(in->opcode)) {
		reply_ok(rs->ch_fd, in->unique);
	} else {
		struct fuse_buf fbuf = { .size = rs->len, .mem = rs->buf };

		/* The kernel takes the answer only on the channel it asked on. */
		reply_fd_override = rs->ch_fd;
		fuse_session_process_buf(rs->fs->se, &fbuf);
	}
	pthread_mutex_lock(&rs->fs->stall.lock);
	rs->fs->stall.rescued++;
	pthread_mutex_unlock(&rs->fs->stall.lock);
	free(rs);
	return NULL;
}

/* Under stall.lock: a copy of @s's request, if it can be rescued. */
static struct rescue *rescue_new(struct lb_fs *fs, struct lb_slot *s)
{
	const struct fuse_in_header *in = s->req;
	struct rescue *rs;

	if (!s->serves_requests || !s->req || s->req_len < sizeof(*in) || in->len > s->req_len)
		return NULL;
	if (!rescue_by_processing(in->opcode) && !rescue_by_ok(in->opcode)) {
		log_warning("a stalled request (opcode %u) cannot be rescued: it waits for the store",
			    in->opcode);
		return NULL;
	}
	rs = malloc(sizeof(*rs) + s->req_len);
	if (!rs)
		return NULL;
	rs->fs = fs;
	rs->ch_fd = s->ch_fd;
	rs->len = s->req_len;
	memcpy(rs->buf, s->req, s->req_len);
	return rs;
}

static void rescue_start(struct rescue *rs)
{
	pthread_attr_t attr;
	pthread_t t;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, rescue_main, rs) != 0) {
		log_error("cannot start a rescue thread: a stalled request waits for the store");
		free(rs);
	}
	pthread_attr_destroy(&attr);
}

/* ------------------------------------------------------- deferred frees */

struct stall_grave {
	struct stall_grave *next;
	void (*free_fn)(void *);
	void *obj;
};

bool stall_free_later(struct lb_fs *fs, void (*free_fn)(void *), void *obj)
{
	struct lb_stall *st = &fs->stall;
	struct stall_grave *g;
	bool kept = false;

	/*
	 * Every release and free passes here: no lock while nothing is out.
	 * The gate is closed whenever a slot is abandoned (both under the
	 * lock) and opens only once none is; the kernel forgets or releases
	 * the object of a rescued request only after the rescue answered.
	 */
	if (!atomic_load(&st->stalled))
		return false;
	pthread_mutex_lock(&st->lock);
	if (st->abandoned) {
		/* no memory for the entry: leak @obj rather than free it under a thread */
		kept = true;
		g = malloc(sizeof(*g));
		if (g) {
			*g = (struct stall_grave){ .next = st->graves, .free_fn = free_fn, .obj = obj };
			st->graves = g;
		}
	}
	pthread_mutex_unlock(&st->lock);
	return kept;
}

/* Frees what was kept once every abandoned thread is back. Outside any lock. */
static void graves_reap(struct lb_fs *fs)
{
	struct lb_stall *st = &fs->stall;
	struct stall_grave *g;

	pthread_mutex_lock(&st->lock);
	g = st->abandoned ? NULL : st->graves;
	if (g)
		st->graves = NULL;
	pthread_mutex_unlock(&st->lock);
	while (g) {
		struct stall_grave *next = g->next;

		g->free_fn(g->obj);
		free(g);
		g = next;
	}
}

/* ------------------------------------------------------------ watchdog */

#define MAX_RESCUES 256

/*
 * Under stall.lock: abandons every overdue BUSY slot and copies out the
 * requests to rescue. Returns how many slots it abandoned.
 */
static unsigned int abandon_overdue(struct lb_fs *fs, struct rescue **rescues, unsigned int *n)
{
	struct lb_stall *st = &fs->stall;
	uint64_t now = mono_ms(), limit = (uint64_t)(fs->opt.path_timeout * 1000);
	unsigned int count = 0;

	for (struct lb_slot *s = st->slots; s; s = s->next) {
		struct rescue *rs;

		if (s->state != SLOT_BUSY || now - s->since_ms <= limit)
			continue;
		rs = *n < MAX_RESCUES ? rescue_new(fs, s) : NULL;
		if (rs)
			rescues[(*n)++] = rs;
		/* set before the state its thread checks: a late reply of its own must go out */
		s->answers_itself = !rs;
		s->state = SLOT_ABANDONED;
		st->abandoned++;
		st->readers -= s->reading;
		s->dropped_reads += s->reading;
		s->reading = 0;
		count++;
	}
	return count;
}

struct rescue_batch {
	struct lb_fs *fs;
	unsigned int n;
	struct rescue *rescues[MAX_RESCUES];
};

/*
 * Absorbing first, then the rescues. Not in the watchdog: absorb_begin()
 * waits for the mode lock's readers, and one of them may be a call that
 * stalled later and that only the watchdog's next round abandons.
 */
static void *rescue_batch_main(void *arg)
{
	struct rescue_batch *b = arg;

	absorb_begin(b->fs, -ETIMEDOUT);
	for (unsigned int i = 0; i < b->n; i++)
		rescue_start(b->rescues[i]);
	free(b);
	return NULL;
}

static void watchdog_check(struct lb_fs *fs)
{
	struct lb_stall *st = &fs->stall;
	struct rescue_batch *b = calloc(1, sizeof(*b));
	pthread_attr_t attr;
	pthread_t t;
	unsigned int count;

	if (!b)
		return;	/* next round */
	b->fs = fs;
	pthread_mutex_lock(&st->lock);
	count = abandon_overdue(fs, b->rescues, &b->n);
	if (count) {
		atomic_store(&st->stalled, true);
		st->stalls++;
		pthread_cond_broadcast(&st->cond);	/* a writer may go now */
	}
	pthread_mutex_unlock(&st->lock);
	if (!count) {
		free(b);
		return;
	}
	log_warning("%u store call(s) stuck past path_timeout (%.1f s): absorbing, "
		    "%u request(s) answered another way", count, fs->opt.path_timeout, b->n);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, rescue_batch_main, b) != 0)
		rescue_batch_main(b);	/* no thread: do it here */
	pthread_attr_destroy(&attr);
}

static void *watchdog_main(void *arg)
{
	struct lb_fs *fs = arg;
	struct lb_stall *st = &fs->stall;
	double period = fs->opt.path_timeout / 4;
	struct timespec until;

	if (period > 0.5)
		period = 0.5;
	if (period < 0.01)
		period = 0.01;
	pthread_mutex_lock(&st->lock);
	while (!st->stopping) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)(period * 1e9);
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&st->tick, &st->lock, &until);
		if (st->stopping)
			break;
		pthread_mutex_unlock(&st->lock);
		watchdog_check(fs);
		graves_reap(fs);
		pthread_mutex_lock(&st->lock);
	}
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

void stall_drain(struct lb_fs *fs)
{
	struct lb_stall *st = &fs->stall;

	if (!atomic_load(&st->stalled))
		return;
	pthread_mutex_lock(&st->lock);
	while (st->abandoned && !st->stopping)
		pthread_cond_wait(&st->cond, &st->lock);
	if (!st->abandoned) {
		atomic_store(&st->stalled, false);
		log_notice("every stalled store call returned: the store may be used again");
	}
	pthread_mutex_unlock(&st->lock);
}

void stall_stats(struct lb_fs *fs, uint64_t *ret_stalls, uint64_t *ret_rescued,
		 unsigned int *ret_stuck)
{
	pthread_mutex_lock(&fs->stall.lock);
	*ret_stalls = fs->stall.stalls;
	*ret_rescued = fs->stall.rescued;
	*ret_stuck = fs->stall.abandoned;
	pthread_mutex_unlock(&fs->stall.lock);
}

int stall_init(struct lb_fs *fs)
{
	struct lb_stall *st = &fs->stall;

	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->cond, NULL);
	pthread_cond_init(&st->tick, NULL);
	atomic_init(&st->stalled, false);
	return -pthread_key_create(&st->key, slot_free);
}

int stall_start(struct lb_fs *fs)
{
	if (fs->opt.path_timeout <= 0)
		return 0;	/* path_timeout=0: calls may take as long as they take */
	return -pthread_create(&fs->stall.watchdog, NULL, watchdog_main, fs);
}

void stall_stop(struct lb_fs *fs)
{
	struct lb_stall *st = &fs->stall;

	pthread_mutex_lock(&st->lock);
	st->stopping = true;
	pthread_cond_broadcast(&st->cond);
	pthread_cond_broadcast(&st->tick);
	pthread_mutex_unlock(&st->lock);
	if (fs->opt.path_timeout > 0)
		pthread_join(st->watchdog, NULL);
	graves_reap(fs);	/* unless a thread is still out: then they stay */
}
