// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * journal.c - a journal on one device: header, open with the epoch rule,
 * durable appends with group commit, continue, reset.
 *
 * Group commit. Every appender queues a waiter (its records, their seqs
 * reserved in order) under j->lock. If no commit runs, the appender becomes
 * the leader: it takes the whole queue, drops the lock, checks the header
 * epoch on the device, encodes every queued record into one buffer, writes
 * it at the tail and syncs once, then retakes the lock, marks the group done
 * and wakes everybody. Appenders that queued meanwhile form the next group;
 * the first of them to wake leads it. So:
 *
 *   1. records reach the device in seq order, with no gap;
 *   2. a call returns 0 only after a sync that covered all its records;
 *   3. after a failure no later record is ever written (the state is final
 *      or needs a reset), so the log never holds a record after a lost one.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "journal-internal.h"

#define WBUF_KEEP (8u << 20)	/* a larger write buffer is freed after its group */

static uint64_t now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------ header */

static void header_encode(const struct journal_header *h, uint8_t *block)
{
	struct journal_header_disk d = { 0 };

	d.magic = htole64(JOURNAL_HEADER_MAGIC);
	d.version = htole32(JOURNAL_FORMAT_VERSION);
	d.block_size = htole32(JOURNAL_BLOCK);
	d.epoch = htole64(h->epoch);
	d.created_ns = htole64(h->created_ns);
	d.first_seq = htole64(h->first_seq);
	d.head_offset = htole64(h->head_offset);
	d.applied_seq = htole64(h->applied_seq);
	d.epoch_ns = htole64(h->epoch_ns);
	memcpy(d.owner, h->owner, sizeof(d.owner));
	d.checksum = htole64(XXH3_64bits(&d, offsetof(struct journal_header_disk, checksum)));
	memset(block, 0, JOURNAL_BLOCK);
	memcpy(block, &d, sizeof(d));
}

static int header_decode(const uint8_t *block, struct journal_header *ret_hdr)
{
	struct journal_header_disk d;
	struct journal_header h = { 0 };

	memcpy(&d, block, sizeof(d));
	if (le64toh(d.magic) != JOURNAL_HEADER_MAGIC ||
	    le64toh(d.checksum) != XXH3_64bits(&d, offsetof(struct journal_header_disk, checksum)))
		return -EBADMSG;
	h.version = le32toh(d.version);
	if (h.version != JOURNAL_FORMAT_VERSION)
		return -EPROTONOSUPPORT;
	h.epoch = le64toh(d.epoch);
	h.created_ns = le64toh(d.created_ns);
	h.first_seq = le64toh(d.first_seq);
	h.head_offset = le64toh(d.head_offset);
	h.applied_seq = le64toh(d.applied_seq);
	h.epoch_ns = le64toh(d.epoch_ns);
	memcpy(h.owner, d.owner, sizeof(h.owner));
	if (le32toh(d.block_size) != JOURNAL_BLOCK || h.head_offset < JOURNAL_BLOCK ||
	    h.head_offset % JOURNAL_ALIGN || h.first_seq == 0 || h.epoch == 0 ||
	    h.owner[JOURNAL_OWNER_MAX - 1] != '\0')
		return -EBADMSG;
	*ret_hdr = h;
	return 0;
}

int journal_header_read(struct journal_device *dev, struct journal_header *ret_hdr)
{
	uint8_t block[sizeof(struct journal_header_disk)];
	ssize_t n;

	n = dev->ops->read(dev, block, sizeof(block), 0);
	if (n < 0)
		return (int)n;
	if ((size_t)n < sizeof(block))
		return -EBADMSG;
	return header_decode(block, ret_hdr);
}

static int header_write(struct journal_device *dev, const struct journal_header *h)
{
	uint8_t *block;
	int r;

	block = malloc(JOURNAL_BLOCK);
	if (!block)
		return -ENOMEM;
	header_encode(h, block);
	r = dev->ops->write(dev, block, JOURNAL_BLOCK, 0);
	free(block);
	return r < 0 ? r : dev->ops->sync(dev);
}

/* -ESTALE once the header on the device names a newer owner than epoch. */
static int header_check_epoch(struct journal_device *dev, uint64_t epoch)
{
	struct journal_header h;
	int r;

	r = journal_header_read(dev, &h);
	if (r < 0)
		return r;
	return h.epoch > epoch ? -ESTALE : 0;
}

static void header_set_owner(struct journal_header *h, const char *owner)
{
	memset(h->owner, 0, sizeof(h->owner));
	if (owner)
		strncpy(h->owner, owner, sizeof(h->owner) - 1);
}

/* ------------------------------------------------------------------ open */

static int open_create(struct journal *j, const struct journal_options *opts)
{
	struct journal_header h = {
		.version = JOURNAL_FORMAT_VERSION,
		.epoch = opts->epoch ? opts->epoch : 1,
		.created_ns = now_ns(),
		.first_seq = 1,
		.head_offset = JOURNAL_BLOCK,
	};
	int r;

	if (!(opts->flags & JOURNAL_OPEN_CREATE) || j->read_only)
		return -ENODATA;
	h.epoch_ns = h.created_ns;
	header_set_owner(&h, opts->owner);
	r = header_write(j->dev, &h);
	if (r < 0)
		return r;
	j->hdr = h;
	return 0;
}

/* The epoch rule of struct journal_options; a takeover rewrites the header first. */
static int open_epoch(struct journal *j, const struct journal_options *opts)
{
	struct journal_header h = j->hdr;
	int r;

	uint64_t epoch = opts->flags & JOURNAL_OPEN_TAKEOVER ? h.epoch + 1 : opts->epoch;

	if (epoch == 0 || epoch == h.epoch)
		return 0;
	if (epoch < h.epoch)
		return -ESTALE;
	if (j->read_only)
		return 0;
	h.epoch = epoch;
	h.epoch_ns = now_ns();
	header_set_owner(&h, opts->owner);
	r = header_write(j->dev, &h);
	if (r < 0)
		return r;
	j->hdr = h;
	return 0;
}

static int open_header(struct journal *j, const struct journal_options *opts)
{
	uint64_t size;
	int r;

	r = j->dev->ops->size(j->dev, &size);
	if (r < 0)
		return r;
	if (size == 0)
		return open_create(j, opts);
	r = journal_header_read(j->dev, &j->hdr);
	if (r < 0)
		return r;
	return open_epoch(j, opts);
}

/* Cuts a torn tail or stale bytes after the last record; never corruption. */
static int open_cut_tail(struct journal *j, uint64_t size)
{
	int r;

	if (j->read_only || j->open_scan.end == JOURNAL_END_CORRUPT || size <= j->tail)
		return 0;
	r = j->dev->ops->truncate(j->dev, j->tail);
	return r < 0 ? r : j->dev->ops->sync(j->dev);
}

static int open_scan(struct journal *j)
{
	struct journal_scan_result *res = &j->open_scan;
	uint64_t size;
	int r;

	r = j->dev->ops->size(j->dev, &size);
	if (r < 0)
		return r;
	r = journal_scan_device(j->dev, j->hdr.head_offset, size, j->hdr.first_seq, j->hdr.epoch,
				NULL, NULL, res);
	if (r < 0 && r != -EBADMSG)
		return r;
	j->tail = j->reserved = res->end_offset;
	j->next_seq = res->records ? res->last_seq + 1 : j->hdr.first_seq;
	if (j->read_only)
		j->state = JOURNAL_STATE_READONLY;
	else if (res->end == JOURNAL_END_CORRUPT)
		j->state = JOURNAL_STATE_CORRUPT;
	else
		j->state = res->records ? JOURNAL_STATE_PENDING : JOURNAL_STATE_READY;
	return open_cut_tail(j, size);
}

static struct journal *journal_alloc(struct journal_device *dev, const struct journal_options *opts)
{
	struct journal *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->dev = dev;
	j->read_only = dev->read_only || (opts->flags & JOURNAL_OPEN_READONLY);
	j->max_size = opts->max_size ? opts->max_size : JOURNAL_DEFAULT_MAX_SIZE;
	j->queue_end = &j->queue;
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->committed, NULL);
	return j;
}

int journal_open_device(struct journal_device *dev, const struct journal_options *opts,
			struct journal **ret_j)
{
	struct journal *j;
	int r;

	if (opts->owner && strlen(opts->owner) >= JOURNAL_OWNER_MAX) {
		dev->ops->close(dev);
		return -ENAMETOOLONG;
	}
	j = journal_alloc(dev, opts);
	if (!j) {
		dev->ops->close(dev);
		return -ENOMEM;
	}
	r = open_header(j, opts);
	if (r >= 0)
		r = open_scan(j);
	if (r < 0) {
		journal_close(j);
		return r;
	}
	*ret_j = j;
	return 0;
}

int journal_open(const char *path, const struct journal_options *opts, struct journal **ret_j)
{
	struct journal_device *dev;
	int r;

	r = journal_device_open_name(path, opts->flags, &dev);
	if (r < 0)
		return r;
	return journal_open_device(dev, opts, ret_j);
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	if (j->dev)
		j->dev->ops->close(j->dev);
	pthread_cond_destroy(&j->committed);
	pthread_mutex_destroy(&j->lock);
	free(j->wbuf);
	free(j);
}

/* ------------------------------------------------------------------ append */

/* The error an append gets in the current state, 0 when it may go on. */
static int state_error(struct journal *j)
{
	switch (j->state) {
	case JOURNAL_STATE_READY:
		return 0;
	case JOURNAL_STATE_PENDING:
		return -EBUSY;
	case JOURNAL_STATE_FULL:
		return -ENOSPC;
	case JOURNAL_STATE_FENCED:
		return -ESTALE;
	case JOURNAL_STATE_CORRUPT:
		return -EBADMSG;
	case JOURNAL_STATE_FAILED:
		return j->error;
	case JOURNAL_STATE_READONLY:
		return -EROFS;
	}
	return -EINVAL;
}

static int batch_size(const struct journal_record *recs, size_t n, uint64_t *ret_bytes)
{
	uint64_t bytes = 0;

	for (size_t i = 0; i < n; i++) {
		size_t size = journal_record_size(&recs[i]);

		if (size == 0) {
			int r = journal_record_check(&recs[i]);

			return r < 0 ? r : -EINVAL;
		}
		bytes += size;
	}
	*ret_bytes = bytes;
	return 0;
}

static int wbuf_grow(struct journal *j, size_t size)
{
	uint8_t *p;

	if (size <= j->wbuf_size)
		return 0;
	p = realloc(j->wbuf, size);
	if (!p)
		return -ENOMEM;
	j->wbuf = p;
	j->wbuf_size = size;
	return 0;
}

static int commit_encode(struct journal *j, const struct journal_waiter *batch, size_t bytes)
{
	size_t pos = 0, len;
	int r;

	for (const struct journal_waiter *w = batch; w; w = w->next) {
		for (size_t i = 0; i < w->n; i++) {
			struct journal_record rec = w->recs[i];

			rec.seq = w->first_seq + i;
			rec.epoch = w->epoch;
			rec.time_ns = w->time_ns;
			r = journal_encode_record(&rec, j->wbuf + pos, bytes - pos, &len);
			if (r < 0)
				return r;
			pos += len;
		}
	}
	return pos == bytes ? 0 : -EIO;
}

/* The leader's I/O, without j->lock: epoch check, encode, one write, one sync. */
static int commit_write(struct journal *j, const struct journal_waiter *batch, uint64_t off,
			size_t bytes, uint64_t epoch)
{
	int r;

	r = wbuf_grow(j, bytes);
	if (r < 0)
		return r;
	r = header_check_epoch(j->dev, epoch);
	if (r < 0)
		return r;
	r = commit_encode(j, batch, bytes);
	if (r < 0)
		return r;
	r = j->dev->ops->write(j->dev, j->wbuf, bytes, off);
	if (r < 0)
		return r;
	return j->dev->ops->sync(j->dev);
}

static void waiters_finish(struct journal_waiter *w, int result)
{
	for (; w; w = w->next) {
		w->result = result;
		w->done = true;
	}
}

/* With j->lock held: the group is over, one way or the other. */
static void commit_finish(struct journal *j, struct journal_waiter *batch, uint64_t end, int r)
{
	if (r == 0) {
		j->tail = end;
	} else {
		j->state = r == -ESTALE ? JOURNAL_STATE_FENCED :
			   r == -ENOSPC ? JOURNAL_STATE_FULL : JOURNAL_STATE_FAILED;
		j->error = r;
		waiters_finish(j->queue, r);	/* nothing may follow a lost record */
		j->queue = NULL;
		j->queue_end = &j->queue;
		j->reserved = j->tail;
	}
	waiters_finish(batch, r);
	if (j->wbuf_size > WBUF_KEEP) {
		free(j->wbuf);
		j->wbuf = NULL;
		j->wbuf_size = 0;
	}
	j->committing = false;
	pthread_cond_broadcast(&j->committed);
}

/* With j->lock held, no commit running, queue not empty: lead one group. */
static void commit_group(struct journal *j)
{
	struct journal_waiter *batch = j->queue;
	uint64_t off = j->tail, end = j->reserved, epoch = j->hdr.epoch;
	int r;

	j->queue = NULL;
	j->queue_end = &j->queue;
	j->committing = true;
	pthread_mutex_unlock(&j->lock);
	r = commit_write(j, batch, off, (size_t)(end - off), epoch);
	pthread_mutex_lock(&j->lock);
	commit_finish(j, batch, end, r);
}

/* With j->lock held: admits and queues w, or says why not. */
static int append_queue(struct journal *j, struct journal_waiter *w, uint64_t bytes)
{
	int r = state_error(j);

	if (r < 0)
		return r;
	if (j->reserved + bytes > j->max_size) {
		j->state = JOURNAL_STATE_FULL;
		return -ENOSPC;
	}
	w->first_seq = j->next_seq;
	w->epoch = j->hdr.epoch;
	j->next_seq += w->n;
	j->reserved += bytes;
	*j->queue_end = w;
	j->queue_end = &w->next;
	return 0;
}

int journal_append_batch(struct journal *j, struct journal_record *recs, size_t n)
{
	struct journal_waiter w = { .recs = recs, .n = n, .time_ns = now_ns() };
	uint64_t bytes;
	int r;

	r = batch_size(recs, n, &bytes);
	if (r < 0 || n == 0)
		return r;
	pthread_mutex_lock(&j->lock);
	r = append_queue(j, &w, bytes);
	if (r == 0) {
		j->appenders++;
		while (!w.done) {
			if (!j->committing)
				commit_group(j);
			else
				pthread_cond_wait(&j->committed, &j->lock);
		}
		j->appenders--;
		r = w.result;
	}
	pthread_mutex_unlock(&j->lock);
	for (size_t i = 0; r == 0 && i < n; i++) {
		recs[i].seq = w.first_seq + i;
		recs[i].epoch = w.epoch;
		recs[i].time_ns = w.time_ns;
	}
	return r;
}

int journal_append(struct journal *j, struct journal_record *rec)
{
	return journal_append_batch(j, rec, 1);
}

/* ------------------------------------------------------------------ state */

int journal_continue(struct journal *j)
{
	int r = 0;

	pthread_mutex_lock(&j->lock);
	if (j->state == JOURNAL_STATE_PENDING)
		j->state = JOURNAL_STATE_READY;
	else
		r = state_error(j);
	pthread_mutex_unlock(&j->lock);
	return r;
}

static int reset_locked(struct journal *j)
{
	struct journal_header h = j->hdr;
	int r;

	if (j->read_only)
		return -EROFS;
	if (j->state == JOURNAL_STATE_FENCED || j->state == JOURNAL_STATE_FAILED)
		return state_error(j);
	if (j->appenders || j->committing)
		return -EBUSY;
	r = header_check_epoch(j->dev, h.epoch);
	if (r == -ESTALE)
		j->state = JOURNAL_STATE_FENCED;
	if (r < 0)
		return r;
	h.first_seq = j->next_seq;
	h.applied_seq = j->next_seq - 1;
	h.head_offset = JOURNAL_BLOCK;
	r = header_write(j->dev, &h);
	if (r >= 0)
		r = j->dev->ops->truncate(j->dev, JOURNAL_BLOCK);
	if (r >= 0)
		r = j->dev->ops->sync(j->dev);
	if (r < 0)
		return r;
	j->hdr = h;
	j->tail = j->reserved = JOURNAL_BLOCK;
	j->state = JOURNAL_STATE_READY;
	return 0;
}

int journal_reset(struct journal *j)
{
	int r;

	pthread_mutex_lock(&j->lock);
	r = reset_locked(j);
	pthread_mutex_unlock(&j->lock);
	return r;
}

int journal_check_owner(struct journal *j)
{
	int r;

	pthread_mutex_lock(&j->lock);
	r = j->state == JOURNAL_STATE_FENCED ? -ESTALE : header_check_epoch(j->dev, j->hdr.epoch);
	if (r == -ESTALE)
		j->state = JOURNAL_STATE_FENCED;
	pthread_mutex_unlock(&j->lock);
	return r;
}

bool journal_owner_released(const char *owner)
{
	return strncmp(owner, JOURNAL_RELEASED_BY, strlen(JOURNAL_RELEASED_BY)) == 0;
}

/*
 * Writes @h as the header, unless this node was fenced (another took the
 * journal: its epoch is newer) or opened it read-only. Under j->lock.
 */
static int header_commit_locked(struct journal *j, const struct journal_header *h)
{
	int r = j->read_only ? -EROFS : header_check_epoch(j->dev, h->epoch);

	if (r >= 0)
		r = header_write(j->dev, h);
	if (r >= 0)
		j->hdr = *h;
	else if (r == -ESTALE)
		j->state = JOURNAL_STATE_FENCED;
	return r;
}

int journal_release(struct journal *j)
{
	struct journal_header h;
	int r;

	pthread_mutex_lock(&j->lock);
	h = j->hdr;
	if (!journal_owner_released(h.owner)) {
		size_t prefix = strlen(JOURNAL_RELEASED_BY);
		size_t n = strnlen(j->hdr.owner, sizeof(h.owner) - 1 - prefix);

		memset(h.owner, 0, sizeof(h.owner));
		memcpy(h.owner, JOURNAL_RELEASED_BY, prefix);
		memcpy(h.owner + prefix, j->hdr.owner, n);
	}
	r = header_commit_locked(j, &h);
	pthread_mutex_unlock(&j->lock);
	return r;
}

int journal_set_applied(struct journal *j, uint64_t seq)
{
	struct journal_header h;
	int r;

	pthread_mutex_lock(&j->lock);
	h = j->hdr;
	h.applied_seq = seq;
	r = header_commit_locked(j, &h);
	pthread_mutex_unlock(&j->lock);
	return r;
}

int journal_scan(struct journal *j, journal_record_fn fn, void *userdata,
		 struct journal_scan_result *result)
{
	struct journal_header h;
	uint64_t limit;
	bool appending;
	int r = 0;

	pthread_mutex_lock(&j->lock);
	h = j->hdr;
	limit = j->tail;
	appending = j->state == JOURNAL_STATE_READY || j->state == JOURNAL_STATE_FULL;
	pthread_mutex_unlock(&j->lock);
	if (!appending)
		r = j->dev->ops->size(j->dev, &limit);
	if (r < 0)
		return r;
	return journal_scan_device(j->dev, h.head_offset, limit, h.first_seq, h.epoch, fn,
				   userdata, result);
}

/* ------------------------------------------------------------------ info */

enum journal_state journal_get_state(struct journal *j)
{
	enum journal_state s;

	pthread_mutex_lock(&j->lock);
	s = j->state;
	pthread_mutex_unlock(&j->lock);
	return s;
}

void journal_get_info(struct journal *j, struct journal_info *ret_info)
{
	struct journal_info info = { 0 };

	pthread_mutex_lock(&j->lock);
	info.version = j->hdr.version;
	info.epoch = j->hdr.epoch;
	info.created_ns = j->hdr.created_ns;
	info.epoch_ns = j->hdr.epoch_ns;
	info.first_seq = j->hdr.first_seq;
	info.applied_seq = j->hdr.applied_seq;
	info.head_offset = j->hdr.head_offset;
	info.tail_offset = j->tail;
	info.next_seq = j->next_seq;
	info.max_size = j->max_size;
	memcpy(info.owner, j->hdr.owner, sizeof(info.owner));
	info.state = j->state;
	info.open_scan = j->open_scan;
	pthread_mutex_unlock(&j->lock);
	*ret_info = info;
}

const char *journal_name(struct journal *j)
{
	return j->dev->name;
}

struct journal_device *journal_device(struct journal *j)
{
	return j->dev;
}

void journal_get_path_info(struct journal *j, struct journal_path_info *ret_info)
{
	struct journal_path_info info = { .up = true };

	if (j->dev->ops->path_info)
		j->dev->ops->path_info(j->dev, &info);
	*ret_info = info;
}

const char *journal_state_to_string(enum journal_state state)
{
	static const char *const names[] = {
		[JOURNAL_STATE_READY] = "ready",     [JOURNAL_STATE_PENDING] = "pending",
		[JOURNAL_STATE_FULL] = "full",       [JOURNAL_STATE_FENCED] = "fenced",
		[JOURNAL_STATE_CORRUPT] = "corrupt", [JOURNAL_STATE_FAILED] = "failed",
		[JOURNAL_STATE_READONLY] = "read-only",
	};

	return (unsigned)state < sizeof(names) / sizeof(names[0]) ? names[state] : "unknown";
}

const char *journal_end_to_string(enum journal_end end)
{
	switch (end) {
	case JOURNAL_END_CLEAN:
		return "clean";
	case JOURNAL_END_TORN:
		return "torn";
	case JOURNAL_END_CORRUPT:
		return "corrupt";
	}
	return "unknown";
}
