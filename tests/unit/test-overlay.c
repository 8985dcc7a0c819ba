// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-overlay.c tests the absorbing overlay of one file's data (fs/overlay.c):
 * extent replacement, truncate and fallocate semantics, which base ranges are
 * read, coverage, memory and failure atomicity, and a randomized comparison
 * with a flat byte array.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../fs/overlay.h"

/* Allocation faults: the executable is linked with --wrap=malloc,--wrap=realloc. */
static int alloc_fail_at = -1;	/* the n-th allocation from now fails; -1: none */

void *__real_malloc(size_t size);
void *__real_realloc(void *ptr, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_realloc(void *ptr, size_t size);

static bool alloc_should_fail(void)
{
	if (alloc_fail_at < 0)
		return false;
	return alloc_fail_at-- == 0;
}

void *__wrap_malloc(size_t size)
{
	return alloc_should_fail() ? NULL : __real_malloc(size);
}

void *__wrap_realloc(void *ptr, size_t size)
{
	return alloc_should_fail() ? NULL : __real_realloc(ptr, size);
}

/* The store's bytes: never zero, so zeros from the overlay stand out. */
static uint8_t base_byte(uint64_t off)
{
	return (uint8_t)((off * 7 + off / 251) % 255 + 1);
}

#define MAX_CALLS 64

struct fake_base {
	uint64_t limit;		/* read_base must not be asked for bytes past this */
	int err;		/* returned instead of reading when non-zero */
	size_t ncalls;
	uint64_t call_off[MAX_CALLS];
	size_t call_len[MAX_CALLS];
};

static int fake_read_base(void *ctx, void *dst, uint64_t off, size_t len)
{
	struct fake_base *b = ctx;
	uint8_t *d = dst;

	assert_true(len > 0);
	assert_true(off + len <= b->limit);
	if (b->ncalls < MAX_CALLS) {
		b->call_off[b->ncalls] = off;
		b->call_len[b->ncalls] = len;
	}
	b->ncalls++;
	if (b->err)
		return b->err;
	for (size_t i = 0; i < len; i++)
		d[i] = base_byte(off + i);
	return 0;
}

static void assert_call(const struct fake_base *b, size_t i, uint64_t off, size_t len)
{
	assert_true(i < b->ncalls);
	assert_int_equal(b->call_off[i], off);
	assert_int_equal(b->call_len[i], len);
}

#define BASE (-1)	/* assert_bytes: the store's bytes */

/* Reads [off, off+len) and checks every byte is `want` (a byte value or BASE). */
static void assert_bytes(struct ov_file *f, uint64_t off, size_t len, struct fake_base *b,
			 int want)
{
	uint8_t *buf = malloc(len);

	assert_non_null(buf);
	assert_int_equal(ov_file_read(f, buf, off, len, fake_read_base, b), len);
	for (size_t i = 0; i < len; i++) {
		int expect = want == BASE ? base_byte(off + i) : want;

		if (buf[i] != expect)
			fail_msg("byte %llu is %u, expected %d", (unsigned long long)(off + i),
				 buf[i], expect);
	}
	free(buf);
}

static void test_write_read_roundtrip(void **state)
{
	struct ov_file *f = ov_file_new(0);
	char buf[32];

	(void)state;
	assert_int_equal(ov_file_write(f, 0, "hello", 5), 0);
	assert_int_equal(ov_file_size(f), 5);
	assert_int_equal(ov_file_read(f, buf, 0, sizeof(buf), NULL, NULL), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(ov_file_write(f, 10, "xy", 2), 0);
	assert_int_equal(ov_file_size(f), 12);
	assert_int_equal(ov_file_read(f, buf, 0, sizeof(buf), NULL, NULL), 12);
	assert_memory_equal(buf, "hello\0\0\0\0\0xy", 12);
	assert_int_equal(ov_file_read(f, buf, 3, 4, NULL, NULL), 4);
	assert_memory_equal(buf, "lo\0\0", 4);
	assert_int_equal(ov_file_read(f, buf, 12, 4, NULL, NULL), 0);
	assert_int_equal(ov_file_read(f, buf, 1000, 4, NULL, NULL), 0);
	assert_int_equal(ov_file_write(f, 20, "", 0), 0);
	assert_int_equal(ov_file_size(f), 12);
	ov_file_free(f);
	ov_file_free(NULL);
}

/* Reads the whole file of an overlay over an empty base into a string. */
static const char *contents(struct ov_file *f)
{
	static char buf[256];
	ssize_t n = ov_file_read(f, buf, 0, sizeof(buf) - 1, NULL, NULL);

	assert_true(n >= 0);
	for (ssize_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = '.';
	buf[n] = '\0';
	return buf;
}

static void test_overwrite_splits(void **state)
{
	struct ov_file *f = ov_file_new(0);

	(void)state;
	assert_int_equal(ov_file_write(f, 0, "aaaa", 4), 0);
	assert_int_equal(ov_file_write(f, 8, "cccc", 4), 0);
	assert_int_equal(ov_file_write(f, 16, "eeee", 4), 0);
	assert_int_equal(ov_file_extents(f), 3);
	assert_string_equal(contents(f), "aaaa....cccc....eeee");
	/* front of one extent */
	assert_int_equal(ov_file_write(f, 6, "FFF", 3), 0);
	assert_string_equal(contents(f), "aaaa..FFFccc....eeee");
	/* back of one extent (appended to it) */
	assert_int_equal(ov_file_write(f, 3, "BB", 2), 0);
	assert_string_equal(contents(f), "aaaBB.FFFccc....eeee");
	/* middle of one extent, in place */
	assert_int_equal(ov_file_write(f, 17, "M", 1), 0);
	assert_string_equal(contents(f), "aaaBB.FFFccc....eMee");
	/* covering several, trimming both ends */
	assert_int_equal(ov_file_write(f, 2, "SSSSSSSSSSSSSSS", 15), 0);
	assert_string_equal(contents(f), "aaSSSSSSSSSSSSSSSMee");
	assert_int_equal(ov_file_extents(f), 2);
	/* everything, and past the end */
	assert_int_equal(ov_file_write(f, 0, "0123456789012345678901", 22), 0);
	assert_string_equal(contents(f), "0123456789012345678901");
	assert_int_equal(ov_file_extents(f), 1);
	ov_file_free(f);
}

static void test_write_splits_zero_range(void **state)
{
	struct fake_base b = { .limit = 1000 };
	struct ov_file *f = ov_file_new(1000);
	uint8_t buf[300];

	(void)state;
	assert_int_equal(ov_file_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 200), 0);
	memset(buf, 'x', 10);
	assert_int_equal(ov_file_write(f, 150, buf, 10), 0);
	assert_int_equal(ov_file_extents(f), 3);
	assert_bytes(f, 0, 100, &b, BASE);
	assert_bytes(f, 100, 50, &b, 0);
	assert_bytes(f, 150, 10, &b, 'x');
	assert_bytes(f, 160, 140, &b, 0);
	assert_bytes(f, 300, 700, &b, BASE);
	ov_file_free(f);
}

static void test_truncate_down_up_reads_zeros(void **state)
{
	struct fake_base b = { .limit = 500 };
	struct ov_file *f = ov_file_new(1000);

	(void)state;
	assert_int_equal(ov_file_truncate(f, 500), 0);
	assert_int_equal(ov_file_size(f), 500);
	assert_int_equal(ov_file_truncate(f, 1500), 0);
	assert_int_equal(ov_file_size(f), 1500);
	assert_bytes(f, 0, 500, &b, BASE);
	assert_bytes(f, 500, 1000, &b, 0);
	b.ncalls = 0;
	assert_bytes(f, 400, 100, &b, BASE);
	assert_bytes(f, 500, 100, &b, 0);
	assert_int_equal(b.ncalls, 1);
	assert_call(&b, 0, 400, 100);
	ov_file_free(f);
}

static void test_read_base_exact_ranges(void **state)
{
	struct fake_base b = { .limit = 1000 };
	struct ov_file *f = ov_file_new(1000);
	uint8_t buf[2100];

	(void)state;
	memset(buf, 'x', 100);
	assert_int_equal(ov_file_write(f, 100, buf, 100), 0);
	assert_int_equal(ov_file_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 300, 100), 0);
	assert_int_equal(ov_file_read(f, buf, 0, 1000, fake_read_base, &b), 1000);
	assert_int_equal(b.ncalls, 3);
	assert_call(&b, 0, 0, 100);
	assert_call(&b, 1, 200, 100);
	assert_call(&b, 2, 400, 600);

	b.ncalls = 0;
	assert_int_equal(ov_file_read(f, buf, 150, 200, fake_read_base, &b), 200);
	assert_int_equal(b.ncalls, 1);
	assert_call(&b, 0, 200, 100);

	/* past the base size: zeros, never asked */
	assert_int_equal(ov_file_write(f, 2000, "end", 3), 0);
	b.ncalls = 0;
	assert_int_equal(ov_file_read(f, buf, 900, sizeof(buf), fake_read_base, &b), 1103);
	assert_int_equal(b.ncalls, 1);
	assert_call(&b, 0, 900, 100);
	assert_bytes(f, 1000, 1000, &b, 0);
	assert_memory_equal(buf + 1100, "end", 3);
	ov_file_free(f);
}

static void test_read_base_error(void **state)
{
	struct fake_base b = { .limit = 1000, .err = -EIO };
	struct ov_file *f = ov_file_new(1000);
	uint8_t buf[100];

	(void)state;
	assert_int_equal(ov_file_write(f, 0, "abc", 3), 0);
	assert_int_equal(ov_file_read(f, buf, 0, 3, fake_read_base, &b), 3);
	assert_int_equal(b.ncalls, 0);
	assert_int_equal(ov_file_read(f, buf, 0, 100, fake_read_base, &b), -EIO);
	assert_int_equal(b.ncalls, 1);
	assert_int_equal(ov_file_read(f, buf, 0, 100, NULL, NULL), -EAGAIN);
	ov_file_free(f);
}

static void test_punch_and_zero_range(void **state)
{
	struct fake_base b = { .limit = 1000 };
	struct ov_file *f = ov_file_new(1000);
	uint8_t buf[64];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(ov_file_write(f, 90, buf, 20), 0);
	assert_int_equal(ov_file_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 100), 0);
	assert_int_equal(ov_file_size(f), 1000);
	assert_bytes(f, 80, 10, &b, BASE);
	assert_bytes(f, 90, 10, &b, 'x');
	assert_bytes(f, 100, 100, &b, 0);
	assert_bytes(f, 200, 800, &b, BASE);
	/* inside one data extent: zeroed in place */
	assert_int_equal(ov_file_fallocate(f, FALLOC_FL_ZERO_RANGE, 92, 2), 0);
	assert_bytes(f, 92, 2, &b, 0);
	assert_bytes(f, 94, 6, &b, 'x');
	/* punching past the end keeps the size */
	assert_int_equal(ov_file_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 900, 500), 0);
	assert_int_equal(ov_file_size(f), 1000);
	assert_bytes(f, 900, 100, &b, 0);
	/* zero range grows the size unless KEEP_SIZE */
	assert_int_equal(ov_file_fallocate(f, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 800, 500), 0);
	assert_int_equal(ov_file_size(f), 1000);
	assert_int_equal(ov_file_fallocate(f, FALLOC_FL_ZERO_RANGE, 700, 500), 0);
	assert_int_equal(ov_file_size(f), 1200);
	assert_bytes(f, 700, 500, &b, 0);
	assert_bytes(f, 200, 500, &b, BASE);
	/* adjacent zero ranges coalesce */
	assert_int_equal(ov_file_fallocate(f, FALLOC_FL_ZERO_RANGE, 600, 100), 0);
	assert_int_equal(ov_file_fallocate(f, FALLOC_FL_ZERO_RANGE, 500, 100), 0);
	assert_int_equal(ov_file_extents(f), 3);	/* x, zeros 100..200, zeros 500..1000 */
	ov_file_free(f);
}

static void test_fallocate_modes(void **state)
{
	struct fake_base b = { .limit = 1000 };
	struct ov_file *f = ov_file_new(1000);

	(void)state;
	assert_int_equal(ov_file_fallocate(f, FALLOC_FL_KEEP_SIZE, 0, 5000), 0);
	assert_int_equal(ov_file_size(f), 1000);
	assert_int_equal(ov_file_fallocate(f, 0, 0, 500), 0);
	assert_int_equal(ov_file_size(f), 1000);
	assert_int_equal(ov_file_fallocate(f, 0, 4000, 1000), 0);
	assert_int_equal(ov_file_size(f), 5000);
	assert_bytes(f, 0, 1000, &b, BASE);
	assert_bytes(f, 1000, 4000, &b, 0);
	assert_int_equal(ov_file_fallocate(f, FALLOC_FL_PUNCH_HOLE, 0, 10), -EOPNOTSUPP);
	assert_int_equal(ov_file_fallocate(f, FALLOC_FL_COLLAPSE_RANGE, 0, 4096), -EOPNOTSUPP);
	assert_int_equal(ov_file_fallocate(f, FALLOC_FL_INSERT_RANGE, 0, 4096), -EOPNOTSUPP);
	assert_int_equal(ov_file_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE, 0, 10),
			 -EOPNOTSUPP);
	assert_int_equal(ov_file_fallocate(f, 0, 0, 0), -EINVAL);
	assert_int_equal(ov_file_size(f), 5000);
	assert_int_equal(ov_file_extents(f), 0);
	ov_file_free(f);
}

static void test_size_limits(void **state)
{
	struct ov_file *f = ov_file_new(10);
	char c;

	(void)state;
	assert_null(ov_file_new(OV_SIZE_MAX + 1));
	assert_int_equal(ov_file_write(f, OV_SIZE_MAX, "a", 1), -EINVAL);
	assert_int_equal(ov_file_write(f, UINT64_MAX, "a", 1), -EINVAL);
	assert_int_equal(ov_file_write(f, OV_SIZE_MAX - 1, "ab", 2), -EINVAL);
	assert_int_equal(ov_file_truncate(f, OV_SIZE_MAX + 1), -EINVAL);
	assert_int_equal(ov_file_fallocate(f, 0, OV_SIZE_MAX, 1), -EINVAL);
	assert_int_equal(ov_file_fallocate(f, 0, 1, UINT64_MAX), -EINVAL);
	assert_int_equal(ov_file_size(f), 10);
	assert_int_equal(ov_file_extents(f), 0);

	assert_int_equal(ov_file_write(f, OV_SIZE_MAX - 1, "z", 1), 0);
	assert_int_equal(ov_file_size(f), OV_SIZE_MAX);
	assert_int_equal(ov_file_read(f, &c, OV_SIZE_MAX - 1, SIZE_MAX, NULL, NULL), 1);
	assert_int_equal(c, 'z');
	assert_int_equal(ov_file_read(f, &c, OV_SIZE_MAX - 2, 1, NULL, NULL), 1);
	assert_int_equal(c, 0);
	assert_int_equal(ov_file_read(f, &c, UINT64_MAX, 1, NULL, NULL), 0);
	assert_true(ov_file_covers(f, 10, SIZE_MAX));
	assert_false(ov_file_covers(f, 9, SIZE_MAX));
	assert_int_equal(ov_file_truncate(f, 3), 0);
	assert_int_equal(ov_file_size(f), 3);
	assert_int_equal(ov_file_extents(f), 0);
	ov_file_free(f);
}

static void test_covers(void **state)
{
	struct ov_file *f = ov_file_new(1000);

	(void)state;
	assert_true(ov_file_covers(f, 0, 0));
	assert_false(ov_file_covers(f, 0, 1));
	assert_true(ov_file_covers(f, 1000, 10));
	assert_true(ov_file_covers(f, 5000, 10));
	assert_int_equal(ov_file_write(f, 0, "0123456789", 10), 0);
	assert_true(ov_file_covers(f, 0, 10));
	assert_true(ov_file_covers(f, 3, 4));
	assert_false(ov_file_covers(f, 0, 11));
	assert_int_equal(ov_file_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 10, 10), 0);
	assert_true(ov_file_covers(f, 0, 20));
	assert_false(ov_file_covers(f, 5, 16));
	assert_int_equal(ov_file_write(f, 995, "abcdefghij", 10), 0);
	assert_true(ov_file_covers(f, 995, 100));
	assert_false(ov_file_covers(f, 994, 100));
	assert_int_equal(ov_file_truncate(f, 15), 0);
	assert_int_equal(ov_file_truncate(f, 3000), 0);
	assert_true(ov_file_covers(f, 0, 3000));
	ov_file_free(f);
}

static void test_appends_merge(void **state)
{
	struct ov_file *f = ov_file_new(0);
	uint8_t rec[4096], buf[4096];

	(void)state;
	for (unsigned int i = 0; i < 4096; i++) {
		memset(rec, (int)(i & 0xff), sizeof(rec));
		assert_int_equal(ov_file_write(f, ov_file_size(f), rec, sizeof(rec)), 0);
	}
	assert_int_equal(ov_file_size(f), 4096 * 4096);
	assert_true(ov_file_extents(f) <= 16);	/* 16 MiB in extents of at most 1 MiB */
	assert_true(ov_file_mem(f) < 2 * 4096 * 4096);
	for (unsigned int i = 0; i < 4096; i += 97) {
		memset(rec, (int)(i & 0xff), sizeof(rec));
		assert_int_equal(ov_file_read(f, buf, (uint64_t)i * 4096, 4096, NULL, NULL), 4096);
		assert_memory_equal(buf, rec, 4096);
	}
	assert_int_equal(ov_file_truncate(f, 0), 0);
	assert_int_equal(ov_file_extents(f), 0);
	assert_true(ov_file_mem(f) < 4096);
	ov_file_free(f);
}

static void test_trim_gives_memory_back(void **state)
{
	struct ov_file *f = ov_file_new(0);
	uint8_t *big = calloc(1, 1 << 20);
	size_t mem;

	(void)state;
	assert_non_null(big);
	assert_int_equal(ov_file_write(f, 0, big, 1 << 20), 0);
	mem = ov_file_mem(f);
	assert_true(mem >= 1 << 20);
	assert_int_equal(ov_file_truncate(f, 1000), 0);
	assert_true(ov_file_mem(f) < 8192);
	assert_int_equal(ov_file_write(f, 0, big, 1 << 20), 0);
	assert_int_equal(ov_file_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
					   (1 << 20) - 100), 0);
	assert_true(ov_file_mem(f) < 8192);
	free(big);
	ov_file_free(f);
}

/* Everything a reader can see of f, for comparing before and after a failure. */
struct snapshot {
	uint64_t size;
	size_t extents;
	uint8_t bytes[4096];
};

static void take_snapshot(struct ov_file *f, struct fake_base *b, struct snapshot *s)
{
	s->size = ov_file_size(f);
	s->extents = ov_file_extents(f);
	assert_true(s->size <= sizeof(s->bytes));
	assert_int_equal(ov_file_read(f, s->bytes, 0, sizeof(s->bytes), fake_read_base, b), s->size);
}

enum fault_op { OP_WRITE_SEVERAL, OP_WRITE_IN_ZEROS, OP_APPEND, OP_ZERO_RANGE, OP_COUNT };

static int do_fault_op(struct ov_file *f, enum fault_op op)
{
	static const uint8_t data[600] = { 'w' };

	switch (op) {
	case OP_WRITE_SEVERAL:
		return ov_file_write(f, 50, data, 500);
	case OP_WRITE_IN_ZEROS:
		return ov_file_write(f, 1250, data, 10);
	case OP_APPEND:
		return ov_file_write(f, ov_file_size(f), data, 600);
	default:
		return ov_file_fallocate(f, FALLOC_FL_ZERO_RANGE, 700, 200);
	}
}

/* Fails each allocation of each operation in turn: the file must not change. */
static void test_enomem_leaves_file_unchanged(void **state)
{
	struct fake_base b = { .limit = 2000 };
	struct snapshot before, after;

	(void)state;
	for (int op = 0; op < OP_COUNT; op++) {
		struct ov_file *f = ov_file_new(2000);
		int r = -ENOMEM, failures = 0;

		assert_int_equal(ov_file_write(f, 2000, "tail", 4), 0);
		assert_int_equal(ov_file_fallocate(f, FALLOC_FL_ZERO_RANGE, 1200, 100), 0);
		for (int i = 0; i < 13; i++)
			assert_int_equal(ov_file_write(f, 100 + 50 * i, "abcdefgh", 8), 0);
		/* a 16th extent that reserves one slot: the first array is full */
		assert_int_equal(ov_file_fallocate(f, FALLOC_FL_ZERO_RANGE, 1500, 10), 0);
		assert_int_equal(ov_file_extents(f), 16);
		for (int k = 0; r == -ENOMEM; k++) {
			take_snapshot(f, &b, &before);
			alloc_fail_at = k;
			r = do_fault_op(f, op);
			alloc_fail_at = -1;
			if (r == -ENOMEM) {
				failures++;
				take_snapshot(f, &b, &after);
				assert_int_equal(after.size, before.size);
				assert_int_equal(after.extents, before.extents);
				assert_memory_equal(after.bytes, before.bytes, before.size);
			}
		}
		assert_int_equal(r, 0);
		assert_true(failures > 0);
		ov_file_free(f);
	}
}

/* The randomized comparison with a flat byte array. */
#define MODEL_MAX (1 << 18)
#define MODEL_BASE 100000
#define MODEL_OPS 5000

struct model {
	uint8_t bytes[MODEL_MAX];	/* what every byte must read as */
	uint8_t got[MODEL_MAX];
	uint8_t data[MODEL_MAX];
	uint64_t size;
	struct fake_base b;		/* limit: min(base size, truncates) */
	uint64_t rng;
	size_t short_len;		/* most writes and ranges are at most this */
	unsigned int odds;		/* 1 in odds: a long range, a truncate */
	size_t max_extents;		/* the most seen at once */
};

static uint64_t rnd(struct model *m)
{
	m->rng ^= m->rng << 13;
	m->rng ^= m->rng >> 7;
	m->rng ^= m->rng << 17;
	return m->rng;
}

static void model_zero(struct model *m, uint64_t off, uint64_t end, bool keep_size)
{
	if (keep_size && end > m->size)
		end = m->size;
	if (off < end)
		memset(m->bytes + off, 0, end - off);
	if (!keep_size && end > m->size)
		m->size = end;
}

static void model_truncate(struct model *m, uint64_t size)
{
	if (size < m->size) {
		memset(m->bytes + size, 0, MODEL_MAX - size);
		if (size < m->b.limit)
			m->b.limit = size;
	}
	m->size = size;
}

static int random_write(struct model *m, struct ov_file *f)
{
	uint64_t off = rnd(m) % 4 || m->size > 200000 ? rnd(m) % 200000 : m->size;
	size_t len = 1 + rnd(m) % (rnd(m) % m->odds ? m->short_len : 60000);
	int r;

	for (size_t i = 0; i < len; i++)
		m->data[i] = (uint8_t)rnd(m);
	r = ov_file_write(f, off, m->data, len);
	if (r == 0) {
		memcpy(m->bytes + off, m->data, len);
		if (off + len > m->size)
			m->size = off + len;
	}
	return r;
}

static int random_fallocate(struct model *m, struct ov_file *f)
{
	static const int modes[] = {
		0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		FALLOC_FL_ZERO_RANGE, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		FALLOC_FL_PUNCH_HOLE,
	};
	int mode = modes[rnd(m) % 6];
	uint64_t off = rnd(m) % 200000, len = 1 + rnd(m) % (rnd(m) % m->odds ? m->short_len : 60000);
	int r = ov_file_fallocate(f, mode, off, len);

	if (mode == FALLOC_FL_PUNCH_HOLE)
		assert_int_equal(r, -EOPNOTSUPP);
	if (r < 0)
		return r;
	if (mode == 0 && off + len > m->size)
		m->size = off + len;
	if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
		model_zero(m, off, off + len, mode & FALLOC_FL_KEEP_SIZE);
	return 0;
}

static int random_mutation(struct model *m, struct ov_file *f)
{
	uint64_t size;
	int r;

	if (rnd(m) % m->odds == 0) {
		size = rnd(m) % (rnd(m) % 2 ? MODEL_MAX : 1000);
		r = ov_file_truncate(f, size);
		if (r == 0)
			model_truncate(m, size);
		return r;
	}
	if (rnd(m) % 8 < 3)
		return random_fallocate(m, f);
	return random_write(m, f);
}

/* A random read: right bytes, and read_base needed exactly when covers() says so. */
static void random_read_check(struct model *m, struct ov_file *f)
{
	uint64_t off = rnd(m) % (MODEL_MAX - 70000);
	size_t len = rnd(m) % 70000, want = 0;
	ssize_t n;

	if (off < m->size)
		want = len < m->size - off ? len : m->size - off;
	n = ov_file_read(f, m->got, off, len, NULL, NULL);
	if (!ov_file_covers(f, off, len)) {
		assert_int_equal(n, -EAGAIN);
		n = ov_file_read(f, m->got, off, len, fake_read_base, &m->b);
	}
	assert_int_equal(n, want);
	assert_memory_equal(m->got, m->bytes + off, want);
}

static void model_check_all(struct model *m, struct ov_file *f)
{
	assert_true(ov_file_valid(f));
	assert_int_equal(ov_file_size(f), m->size);
	assert_int_equal(ov_file_read(f, m->got, 0, MODEL_MAX, fake_read_base, &m->b), m->size);
	assert_memory_equal(m->got, m->bytes, m->size);
}

static void run_model(uint64_t seed, size_t short_len, unsigned int odds)
{
	struct model *m = calloc(1, sizeof(*m));
	struct ov_file *f = ov_file_new(MODEL_BASE);
	int enomem = 0;

	assert_non_null(m);
	m->rng = seed;
	m->short_len = short_len;
	m->odds = odds;
	m->size = MODEL_BASE;
	m->b.limit = MODEL_BASE;
	for (uint64_t i = 0; i < MODEL_BASE; i++)
		m->bytes[i] = base_byte(i);
	for (int op = 0; op < MODEL_OPS; op++) {
		int fail_at = rnd(m) % 8 ? -1 : (int)(rnd(m) % 3), r;

		alloc_fail_at = fail_at;
		r = random_mutation(m, f);
		alloc_fail_at = -1;
		if (r == -ENOMEM)
			enomem++;
		else if (r < 0)
			assert_int_equal(r, -EOPNOTSUPP);
		random_read_check(m, f);
		model_check_all(m, f);
		if (ov_file_extents(f) > m->max_extents)
			m->max_extents = ov_file_extents(f);
	}
	print_message("%d ops, %d refused for memory, at most %zu extents, %zu bytes held at the end\n",
		      MODEL_OPS, enomem, m->max_extents, ov_file_mem(f));
	assert_true(enomem > 0);
	ov_file_free(f);
	free(m);
}

static void test_random_against_model(void **state)
{
	(void)state;
	run_model(0x5eed11feb0a7ULL, 4096, 8);
}

/* Short writes and holes: many extents, many splits. */
static void test_random_short_ops_against_model(void **state)
{
	(void)state;
	run_model(0xc0ffee1234ULL, 64, 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_read_roundtrip),
		cmocka_unit_test(test_overwrite_splits),
		cmocka_unit_test(test_write_splits_zero_range),
		cmocka_unit_test(test_truncate_down_up_reads_zeros),
		cmocka_unit_test(test_read_base_exact_ranges),
		cmocka_unit_test(test_read_base_error),
		cmocka_unit_test(test_punch_and_zero_range),
		cmocka_unit_test(test_fallocate_modes),
		cmocka_unit_test(test_size_limits),
		cmocka_unit_test(test_covers),
		cmocka_unit_test(test_appends_merge),
		cmocka_unit_test(test_trim_gives_memory_back),
		cmocka_unit_test(test_enomem_leaves_file_unchanged),
		cmocka_unit_test(test_random_against_model),
		cmocka_unit_test(test_random_short_ops_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
