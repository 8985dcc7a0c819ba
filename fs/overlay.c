// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * overlay.c - the per-file data overlay used while absorbing.
 *
 * An ov_file is a sorted array of extents plus two numbers:
 *
 *   size        what the application sees as the file size
 *   base_valid  min(base size, every truncate size): base bytes at or past
 *               it were cut off and read as zeros
 *
 * An extent is a range with data (bytes written while absorbing) or without
 * (a range punched or zeroed). A byte reads as:
 *
 *   past size                       -> nothing (end of file)
 *   inside a data extent            -> the extent's byte
 *   inside a zero extent            -> 0
 *   neither, below base_valid       -> the store's byte (read_base)
 *   neither, at or past base_valid  -> 0
 *
 * Invariants:
 *   1. extents are sorted by offset, non-overlapping and never empty;
 *   2. every extent ends at or below size;
 *   3. base_valid <= size;
 *   4. zero extents lie below base_valid (past it they would say nothing);
 *   5. a data extent holds len bytes in a buffer of cap >= len bytes.
 *
 * A write replaces what it overlaps: the extents around it are trimmed, the
 * ones inside are dropped. A write landing inside one data extent is copied
 * in place, and a zeroed range strictly inside one is cleared in place
 * (splitting would copy the tail), so neither ever allocates. A write starting where a data extent ends is appended to that
 * extent, whose buffer grows geometrically up to OV_MERGE_MAX, so streams of
 * small appends cost one allocation per OV_MERGE_MAX bytes, not per write.
 *
 * All allocations happen before the first change, so a failure leaves the
 * file as it was. Lookups are a binary search; inserting or removing an
 * extent moves the tail of the array (memmove), cheap at the extent counts
 * the memory budget allows.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "overlay.h"

#define OV_MERGE_MAX (1024 * 1024)	/* appends stop growing an extent past this */
#define OV_SHRINK_SLACK 4096		/* trimmed buffers wasting more are shrunk */

struct ov_extent {
	uint64_t off;
	uint64_t len;
	uint8_t *data;	/* NULL: the range reads as zeros */
	size_t cap;	/* bytes allocated at data */
};

struct ov_file {
	struct ov_extent *ext;	/* sorted, see the invariants above */
	size_t n;		/* extents in use */
	size_t cap;		/* extents allocated */
	uint64_t size;
	uint64_t base_valid;
	size_t data_mem;	/* sum of the data extents' cap */
};

static uint64_t ext_end(const struct ov_extent *e)
{
	return e->off + e->len;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* Whether [off, off+len) stays within OV_SIZE_MAX. */
static bool range_ok(uint64_t off, uint64_t len)
{
	return off <= OV_SIZE_MAX && len <= OV_SIZE_MAX - off;
}

/* Index of the first extent ending past off (f->n if none). */
static size_t ov_find(const struct ov_file *f, uint64_t off)
{
	size_t lo = 0, hi = f->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ext_end(&f->ext[mid]) <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct ov_file *ov_file_new(uint64_t base_size)
{
	struct ov_file *f;

	if (base_size > OV_SIZE_MAX)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->size = base_size;
	f->base_valid = base_size;
	return f;
}

void ov_file_free(struct ov_file *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		free(f->ext[i].data);
	free(f->ext);
	free(f);
}

uint64_t ov_file_size(const struct ov_file *f)
{
	return f->size;
}

size_t ov_file_mem(const struct ov_file *f)
{
	return sizeof(*f) + f->cap * sizeof(*f->ext) + f->data_mem;
}

size_t ov_file_extents(const struct ov_file *f)
{
	return f->n;
}

/* Makes room for `more` extents beyond f->n. */
static int ov_reserve(struct ov_file *f, size_t more)
{
	struct ov_extent *ext;
	size_t cap;

	if (f->cap - f->n >= more)
		return 0;
	if (f->n > SIZE_MAX / sizeof(*ext) / 2 - more)
		return -ENOMEM;
	cap = max_u64(16, 2 * f->cap);
	if (cap < f->n + more)
		cap = f->n + more;
	ext = realloc(f->ext, cap * sizeof(*ext));
	if (!ext)
		return -ENOMEM;
	f->ext = ext;
	f->cap = cap;
	return 0;
}

static void ov_insert(struct ov_file *f, size_t i, const struct ov_extent *e)
{
	memmove(&f->ext[i + 1], &f->ext[i], (f->n - i) * sizeof(*e));
	f->ext[i] = *e;
	f->n++;
}

/* Removes extents [i, j) from the array; their data must be freed already. */
static void ov_remove(struct ov_file *f, size_t i, size_t j)
{
	memmove(&f->ext[i], &f->ext[j], (f->n - j) * sizeof(*f->ext));
	f->n -= j - i;
}

static void ext_drop_data(struct ov_file *f, struct ov_extent *e)
{
	free(e->data);
	f->data_mem -= e->cap;
	e->data = NULL;
	e->cap = 0;
}

/* Best effort: gives back the buffer a trimmed data extent no longer uses. */
static void ext_shrink(struct ov_file *f, struct ov_extent *e)
{
	uint8_t *data;

	if (!e->data || e->cap - e->len <= OV_SHRINK_SLACK || e->cap / 2 < e->len)
		return;
	data = realloc(e->data, e->len);
	if (!data)
		return;		/* keeping the larger buffer is fine */
	f->data_mem -= e->cap - e->len;
	e->data = data;
	e->cap = e->len;
}

/* Keeps [e->off, end) of an extent that starts before end. */
static void ext_trim_tail(struct ov_file *f, struct ov_extent *e, uint64_t end, bool shrink)
{
	e->len = end - e->off;
	if (shrink)
		ext_shrink(f, e);
}

/* Keeps [start, ext_end(e)) of an extent that ends after start. */
static void ext_trim_head(struct ov_file *f, struct ov_extent *e, uint64_t start)
{
	uint64_t cut = start - e->off;

	if (e->data)
		memmove(e->data, e->data + cut, e->len - cut);
	e->off = start;
	e->len -= cut;
	ext_shrink(f, e);
}

/*
 * Removes every extent's hold on [off, end) and returns the index where an
 * extent starting at off belongs. One extra slot must be reserved: a zero
 * extent strictly containing the range is split in two. The caller handles a
 * data extent strictly containing the range (in place) before calling.
 * shrink says whether an extent trimmed to end at off may give memory back.
 */
static size_t ov_clear(struct ov_file *f, uint64_t off, uint64_t end, bool shrink)
{
	size_t i = ov_find(f, off), j;

	if (i < f->n && f->ext[i].off < off && ext_end(&f->ext[i]) > end) {
		struct ov_extent right = f->ext[i];

		right.off = end;
		right.len = ext_end(&f->ext[i]) - end;
		f->ext[i].len = off - f->ext[i].off;
		ov_insert(f, i + 1, &right);
		return i + 1;
	}
	if (i < f->n && f->ext[i].off < off)
		ext_trim_tail(f, &f->ext[i++], off, shrink);
	for (j = i; j < f->n && ext_end(&f->ext[j]) <= end; j++)
		ext_drop_data(f, &f->ext[j]);
	if (j < f->n && f->ext[j].off < end)
		ext_trim_head(f, &f->ext[j], end);
	ov_remove(f, i, j);
	return i;
}

/* Whether [off, end) lies inside extent i, which then answers it alone. */
static bool ov_inside(const struct ov_file *f, size_t i, uint64_t off, uint64_t end)
{
	return i < f->n && f->ext[i].off <= off && end <= ext_end(&f->ext[i]);
}

/* Grows e's buffer to hold at least need bytes, doubling up to OV_MERGE_MAX. */
static int ext_reserve(struct ov_file *f, struct ov_extent *e, size_t need)
{
	size_t cap = e->cap;
	uint8_t *data;

	if (need <= cap)
		return 0;
	while (cap < need)
		cap = cap ? 2 * cap : need;
	if (cap > OV_MERGE_MAX)
		cap = need;
	data = realloc(e->data, cap);
	if (!data)
		return -ENOMEM;
	f->data_mem += cap - e->cap;
	e->data = data;
	e->cap = cap;
	return 0;
}

/*
 * The data extent a write at off can be appended to: one ending at off, or
 * one the write cuts short at off. Returns its index or f->n.
 */
static size_t ov_append_target(const struct ov_file *f, size_t i, uint64_t off, size_t len)
{
	size_t p;

	if (i < f->n && f->ext[i].off < off)
		p = i;
	else if (i > 0 && ext_end(&f->ext[i - 1]) == off)
		p = i - 1;
	else
		return f->n;
	if (!f->ext[p].data || len > OV_MERGE_MAX || off - f->ext[p].off > OV_MERGE_MAX - len)
		return f->n;
	return p;
}

static int ov_write_append(struct ov_file *f, size_t p, uint64_t off, const void *data,
			   size_t len)
{
	struct ov_extent *e = &f->ext[p];
	size_t keep = off - e->off;
	int r;

	r = ext_reserve(f, e, keep + len);
	if (r < 0)
		return r;
	(void)ov_clear(f, off, off + len, false);
	e = &f->ext[p];		/* ov_clear keeps p: it only trims it */
	memcpy(e->data + keep, data, len);
	e->len = keep + len;
	return 0;
}

static int ov_write_new(struct ov_file *f, uint64_t off, const void *data, size_t len)
{
	struct ov_extent e = { .off = off, .len = len, .cap = len };
	size_t i;

	e.data = malloc(len);
	if (!e.data)
		return -ENOMEM;
	memcpy(e.data, data, len);
	i = ov_clear(f, off, off + len, true);
	ov_insert(f, i, &e);
	f->data_mem += len;
	return 0;
}

int ov_file_write(struct ov_file *f, uint64_t off, const void *data, size_t len)
{
	size_t i, p;
	int r;

	if (!range_ok(off, len))
		return -EINVAL;
	if (len == 0)
		return 0;
	i = ov_find(f, off);
	if (ov_inside(f, i, off, off + len) && f->ext[i].data) {
		memcpy(f->ext[i].data + (off - f->ext[i].off), data, len);
		return 0;
	}
	r = ov_reserve(f, 2);
	if (r < 0)
		return r;
	p = ov_append_target(f, i, off, len);
	if (p < f->n)
		r = ov_write_append(f, p, off, data, len);
	else
		r = ov_write_new(f, off, data, len);
	if (r < 0)
		return r;
	f->size = max_u64(f->size, off + len);
	return 0;
}

/* Merges the zero extent i with zero extents touching it. */
static void ov_coalesce_zero(struct ov_file *f, size_t i)
{
	struct ov_extent *e = &f->ext[i];

	if (i + 1 < f->n && !e[1].data && e[1].off == ext_end(e)) {
		e->len += e[1].len;
		ov_remove(f, i + 1, i + 2);
	}
	if (i > 0 && !e[-1].data && ext_end(&e[-1]) == e->off) {
		e[-1].len += e->len;
		ov_remove(f, i, i + 1);
	}
}

/* Makes [off, end) read as zeros; end must not be past the size. */
static int ov_zero(struct ov_file *f, uint64_t off, uint64_t end)
{
	uint64_t zend = min_u64(end, f->base_valid);
	struct ov_extent z = { .off = off, .len = zend - off };
	size_t i;
	int r;

	if (off >= end)
		return 0;
	i = ov_find(f, off);
	if (ov_inside(f, i, off, end) && !f->ext[i].data)
		return 0;
	if (ov_inside(f, i, off, end) && f->ext[i].off < off && end < ext_end(&f->ext[i])) {
		/* splitting would copy the tail: zero in place instead */
		memset(f->ext[i].data + (off - f->ext[i].off), 0, end - off);
		return 0;
	}
	r = ov_reserve(f, 1);
	if (r < 0)
		return r;
	i = ov_clear(f, off, end, true);
	if (off < zend) {	/* past base_valid, clearing was enough */
		ov_insert(f, i, &z);
		ov_coalesce_zero(f, i);
	}
	return 0;
}

int ov_file_truncate(struct ov_file *f, uint64_t size)
{
	size_t i;

	if (size > OV_SIZE_MAX)
		return -EINVAL;
	if (size >= f->size) {
		f->size = size;		/* past base_valid: zeros */
		return 0;
	}
	i = ov_find(f, size);
	if (i < f->n && f->ext[i].off < size)
		ext_trim_tail(f, &f->ext[i++], size, true);
	for (size_t j = i; j < f->n; j++)
		ext_drop_data(f, &f->ext[j]);
	f->n = i;
	if (f->n == 0) {	/* the common O_TRUNC: give the array back */
		free(f->ext);
		f->ext = NULL;
		f->cap = 0;
	}
	f->size = size;
	f->base_valid = min_u64(f->base_valid, size);
	return 0;
}

int ov_file_fallocate(struct ov_file *f, int mode, uint64_t off, uint64_t len)
{
	int r;

	if (len == 0 || !range_ok(off, len))
		return -EINVAL;
	switch (mode) {
	case 0:
		f->size = max_u64(f->size, off + len);
		return 0;
	case FALLOC_FL_KEEP_SIZE:
		return 0;
	case FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE:
	case FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE:
		return ov_zero(f, off, min_u64(off + len, f->size));
	case FALLOC_FL_ZERO_RANGE:
		r = ov_zero(f, off, min_u64(off + len, f->size));
		if (r < 0)
			return r;
		f->size = max_u64(f->size, off + len);
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

/* Reads the gap [off, end) no extent covers: base below base_valid, then zeros. */
static int ov_read_gap(const struct ov_file *f, uint8_t *dst, uint64_t off, uint64_t end,
		       ov_read_base_fn read_base, void *ctx)
{
	uint64_t bend = min_u64(end, f->base_valid);
	int r;

	if (off < bend) {
		if (!read_base)
			return -EAGAIN;
		r = read_base(ctx, dst, off, bend - off);
		if (r < 0)
			return r;
		dst += bend - off;
		off = bend;
	}
	memset(dst, 0, end - off);
	return 0;
}

ssize_t ov_file_read(const struct ov_file *f, void *buf, uint64_t off, size_t len,
		     ov_read_base_fn read_base, void *ctx)
{
	uint8_t *dst = buf;
	uint64_t end, pos = off;
	size_t i = ov_find(f, off);
	int r;

	if (off >= f->size)
		return 0;
	end = off + min_u64(min_u64(len, SSIZE_MAX), f->size - off);
	while (pos < end) {
		const struct ov_extent *e = i < f->n ? &f->ext[i] : NULL;
		uint8_t *d = dst + (pos - off);
		uint64_t stop;

		if (!e || e->off > pos) {	/* a gap before extent i */
			stop = e ? min_u64(end, e->off) : end;
			r = ov_read_gap(f, d, pos, stop, read_base, ctx);
			if (r < 0)
				return r;
		} else {
			stop = min_u64(end, ext_end(e));
			if (e->data)
				memcpy(d, e->data + (pos - e->off), stop - pos);
			else
				memset(d, 0, stop - pos);
			i++;
		}
		pos = stop;
	}
	return (ssize_t)(end - off);
}

bool ov_file_covers(const struct ov_file *f, uint64_t off, size_t len)
{
	uint64_t end, pos = off;

	if (off >= f->size || len == 0)
		return true;
	end = min_u64(f->base_valid, off + min_u64(len, f->size - off));
	for (size_t i = ov_find(f, off); pos < end; i++) {
		if (i == f->n || f->ext[i].off > pos)
			return false;	/* a gap below base_valid */
		pos = ext_end(&f->ext[i]);
	}
	return true;
}

bool ov_file_valid(const struct ov_file *f)
{
	size_t mem = 0;

	if (f->base_valid > f->size || f->size > OV_SIZE_MAX || f->n > f->cap)
		return false;
	for (size_t i = 0; i < f->n; i++) {
		const struct ov_extent *e = &f->ext[i];

		if (e->len == 0 || ext_end(e) > f->size || (i > 0 && ext_end(&e[-1]) > e->off))
			return false;
		if (e->data ? e->cap < e->len : ext_end(e) > f->base_valid || e->cap)
			return false;
		mem += e->cap;
	}
	return mem == f->data_mem;
}
