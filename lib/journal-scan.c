// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * journal-scan.c - walks the records of a journal device in order, hands
 * each valid one to a callback and finds where the log ends: a clean end,
 * a torn tail (an append that never completed) or corruption. Nothing at or
 * after the first bad record ever reaches the callback.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "journal-internal.h"

#define SCAN_WINDOW (1u << 20)	/* bytes read at once when looking past a bad record */

struct scan {
	struct journal_device *dev;
	uint64_t limit;
	uint8_t *buf;		/* one record, up to JOURNAL_RECORD_MAX */
	size_t buf_size;
};

static int scan_grow(struct scan *s, size_t size)
{
	uint8_t *p;

	if (size <= s->buf_size)
		return 0;
	p = realloc(s->buf, size);
	if (!p)
		return -ENOMEM;
	s->buf = p;
	s->buf_size = size;
	return 0;
}

/*
 * Reads and decodes the record at off. 1: bad record (reason set), 0: rec
 * filled, negative: device error.
 */
static int scan_read_record(struct scan *s, uint64_t off, struct journal_record *rec,
			    size_t *size, const char **reason)
{
	uint64_t avail = s->limit - off;
	ssize_t n;
	int r;

	*reason = "truncated record header";
	if (avail < JOURNAL_RECORD_HDR_SIZE)
		return 1;
	n = s->dev->ops->read(s->dev, s->buf, JOURNAL_RECORD_HDR_SIZE, off);
	if (n < 0)
		return (int)n;
	if ((size_t)n < JOURNAL_RECORD_HDR_SIZE)
		return 1;
	*reason = "bad record header";
	if (journal_record_peek(s->buf, JOURNAL_RECORD_HDR_SIZE, size) < 0)
		return 1;
	*reason = "record extends past the end";
	if (*size > avail)
		return 1;
	r = scan_grow(s, *size);
	if (r < 0)
		return r;
	n = s->dev->ops->read(s->dev, s->buf, *size, off);
	if (n < 0)
		return (int)n;
	*reason = "bad checksum or contents";
	if ((size_t)n < *size || journal_decode_record(s->buf, *size, rec, NULL) < 0)
		return 1;
	return 0;
}

/* Is there a valid record numbered seq or later at an aligned offset in (off, limit)? */
static int scan_valid_after(struct scan *s, uint64_t off, uint64_t seq)
{
	struct journal_record rec;
	const char *reason;
	uint8_t *win;
	size_t size;
	int r = 0;

	win = malloc(SCAN_WINDOW);
	if (!win)
		return -ENOMEM;
	for (uint64_t base = off + JOURNAL_ALIGN; base < s->limit && r == 0; base += SCAN_WINDOW) {
		ssize_t n = s->dev->ops->read(s->dev, win, SCAN_WINDOW, base);

		if (n <= 0) {
			r = (int)n;
			break;
		}
		for (size_t i = 0; i + 4 <= (size_t)n && r == 0; i += JOURNAL_ALIGN) {
			uint32_t magic;

			memcpy(&magic, win + i, sizeof(magic));
			if (le32toh(magic) != JOURNAL_RECORD_MAGIC)
				continue;
			r = scan_read_record(s, base + i, &rec, &size, &reason);
			if (r == 1)
				r = 0;
			else if (r == 0 && rec.seq >= seq)
				r = 1;
		}
	}
	free(win);
	return r;
}

static int scan_bad(struct scan *s, uint64_t off, uint64_t seq, const char *reason,
		    struct journal_scan_result *res)
{
	int r;

	res->bad_seq = seq;
	res->bad_offset = off;
	res->reason = reason;
	r = scan_valid_after(s, off, seq);
	if (r < 0)
		return r;
	res->end = r ? JOURNAL_END_CORRUPT : JOURNAL_END_TORN;
	return r ? -EBADMSG : 0;
}

/* NULL when rec is the next in order, or stale (*stale: a clean end); else why not. */
static const char *scan_order(const struct journal_record *rec, uint64_t seq, uint64_t last_epoch,
			      uint64_t max_epoch, bool *stale)
{
	*stale = rec->seq < seq;
	if (*stale)
		return NULL;
	if (rec->seq > seq)
		return "sequence gap";
	if (rec->epoch < last_epoch || rec->epoch > max_epoch)
		return "epoch out of order";
	return NULL;
}

static int scan_loop(struct scan *s, uint64_t off, uint64_t seq, uint64_t max_epoch,
		     journal_record_fn fn, void *userdata, struct journal_scan_result *res)
{
	uint64_t last_epoch = 0;
	struct journal_record rec;
	const char *reason;
	size_t size;
	bool stale;
	int r;

	for (;; off += size, seq++) {
		res->end_offset = off;
		if (off >= s->limit)
			return 0;
		r = scan_read_record(s, off, &rec, &size, &reason);
		if (r < 0)
			return r;
		if (r == 0)
			reason = scan_order(&rec, seq, last_epoch, max_epoch, &stale);
		if (r == 0 && stale)
			return 0;
		if (r == 1 || reason)
			return scan_bad(s, off, seq, reason, res);
		r = fn ? fn(&rec, off, userdata) : 0;
		if (r < 0)
			return r;
		if (!res->records++)
			res->first_seq = rec.seq;
		res->last_seq = rec.seq;
		last_epoch = rec.epoch;
	}
}

int journal_scan_device(struct journal_device *dev, uint64_t head, uint64_t limit,
			uint64_t first_seq, uint64_t max_epoch, journal_record_fn fn,
			void *userdata, struct journal_scan_result *result)
{
	struct journal_scan_result res = { .end = JOURNAL_END_CLEAN, .end_offset = head };
	struct scan s = { .dev = dev, .limit = limit };
	int r;

	r = scan_grow(&s, JOURNAL_RECORD_HDR_SIZE);
	if (r < 0)
		return r;
	r = scan_loop(&s, head, first_seq, max_epoch, fn, userdata, &res);
	free(s.buf);
	if (result && (r >= 0 || r == -EBADMSG))
		*result = res;
	return r;
}
