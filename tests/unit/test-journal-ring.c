// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-journal-ring.c - tests the LUN journal layout (lib/journal-ring*.c):
 * the ring descriptor's codec and checks, ring mapping with wrap-around, and
 * the whole journal on a memory LUN with a volatile write cache: appends,
 * reopen, a full ring, resets that make the ring wrap, and crashes that keep
 * only some of the blocks written since the last sync (torn blocks).
 */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "lifeboat/journal.h"
#include "../../lib/journal-ring.h"

/* ------------------------------------------------------------------ memory LUN */

/*
 * A LUN in memory with a volatile cache: writes go to `cache` (what reads
 * see) and are remembered as pending; sync copies them to `media`. A crash
 * keeps media only, plus the pending blocks a test chooses.
 */
struct mem_lun {
	uint32_t bs;
	uint64_t blocks;
	uint8_t *media;
	uint8_t *cache;
	uint64_t *pending;	/* lbas written since the last sync, in order */
	size_t npending;
	size_t pending_cap;
	unsigned writes;	/* write calls */
	int fail_write_after;	/* >= 0: write calls after this many fail with -EIO */
	bool fail_sync;		/* sync fails and flushes nothing (a crash follows) */
};

struct mem_bd {
	struct journal_blockdev bd;
	struct mem_lun *lun;	/* borrowed */
};

static struct mem_lun *mem_of(struct journal_blockdev *bd)
{
	return ((struct mem_bd *)bd)->lun;
}

static int mem_read(struct journal_blockdev *bd, uint64_t lba, uint32_t n, void *buf)
{
	struct mem_lun *l = mem_of(bd);

	assert_true(lba + n <= l->blocks);
	memcpy(buf, l->cache + lba * l->bs, (size_t)n * l->bs);
	return 0;
}

static int mem_write(struct journal_blockdev *bd, uint64_t lba, uint32_t n, const void *buf)
{
	struct mem_lun *l = mem_of(bd);

	assert_true(lba + n <= l->blocks);
	if (l->fail_write_after >= 0 && l->writes >= (unsigned)l->fail_write_after)
		return -EIO;
	l->writes++;
	memcpy(l->cache + lba * l->bs, buf, (size_t)n * l->bs);
	for (uint32_t i = 0; i < n; i++) {
		if (l->npending == l->pending_cap) {
			l->pending_cap = l->pending_cap ? 2 * l->pending_cap : 64;
			l->pending = realloc(l->pending, l->pending_cap * sizeof(*l->pending));
			assert_non_null(l->pending);
		}
		l->pending[l->npending++] = lba + i;
	}
	return 0;
}

static int mem_sync(struct journal_blockdev *bd)
{
	struct mem_lun *l = mem_of(bd);

	if (l->fail_sync)
		return -EIO;
	memcpy(l->media, l->cache, l->blocks * l->bs);
	l->npending = 0;
	return 0;
}

static void mem_close(struct journal_blockdev *bd)
{
	free(bd->name);
	free(bd);
}

static const struct journal_blockdev_ops mem_ops = {
	.read = mem_read, .write = mem_write, .sync = mem_sync, .close = mem_close,
};

static struct mem_lun *lun_new(uint32_t bs, uint64_t bytes)
{
	struct mem_lun *l = calloc(1, sizeof(*l));

	assert_non_null(l);
	l->bs = bs;
	l->blocks = bytes / bs;
	l->media = calloc(l->blocks, bs);
	l->cache = calloc(l->blocks, bs);
	l->fail_write_after = -1;
	assert_non_null(l->media);
	assert_non_null(l->cache);
	return l;
}

static void lun_free(struct mem_lun *l)
{
	free(l->media);
	free(l->cache);
	free(l->pending);
	free(l);
}

/* A crash: the media keeps what was synced and the pending blocks keep() likes. */
static void lun_crash(struct mem_lun *l, bool (*keep)(uint64_t lba, size_t index, void *), void *arg)
{
	for (size_t i = 0; i < l->npending; i++) {
		uint64_t lba = l->pending[i];

		if (keep && keep(lba, i, arg))
			memcpy(l->media + lba * l->bs, l->cache + lba * l->bs, l->bs);
	}
	memcpy(l->cache, l->media, l->blocks * l->bs);
	l->npending = 0;
	l->writes = 0;
	l->fail_write_after = -1;
	l->fail_sync = false;
}

static struct journal_device *lun_device(struct mem_lun *l, unsigned flags, int expect)
{
	struct mem_bd *m = calloc(1, sizeof(*m));
	struct journal_device *dev = NULL;

	assert_non_null(m);
	m->bd.ops = &mem_ops;
	m->bd.name = strdup("mem://lun");
	m->bd.block_size = l->bs;
	m->bd.blocks = l->blocks;
	m->lun = l;
	assert_int_equal(journal_ring_device_open(&m->bd, flags, &dev), expect);
	return dev;
}

static struct journal *lun_journal(struct mem_lun *l, unsigned flags)
{
	struct journal_options opts = {
		.owner = "node-a", .flags = flags | JOURNAL_OPEN_CREATE,
		.max_size = UINT64_MAX,	/* the ring is the limit */
	};
	struct journal *j = NULL;

	assert_int_equal(journal_open_device(lun_device(l, flags, 0), &opts, &j), 0);
	return j;
}

/* ------------------------------------------------------------------ records */

static char payload[64 << 10];

static int append_one(struct journal *j, unsigned i, size_t len)
{
	char path[32];
	struct journal_record rec = { .type = JOURNAL_WRITE, .path = path, .data = payload };

	snprintf(path, sizeof(path), "f%u", i);
	rec.offset = i;
	rec.data_len = len;
	return journal_append(j, &rec);
}

struct seen {
	uint64_t first, last, n;
	bool ok;	/* every record's offset field is its seq's expected i */
};

static int collect(const struct journal_record *rec, uint64_t offset, void *userdata)
{
	struct seen *s = userdata;
	char path[32];

	(void)offset;
	if (!s->n)
		s->first = rec->seq;
	s->last = rec->seq;
	s->n++;
	snprintf(path, sizeof(path), "f%llu", (unsigned long long)rec->offset);
	if (strcmp(path, rec->path) != 0 || memcmp(rec->data, payload, rec->data_len) != 0)
		s->ok = false;
	return 0;
}

static struct seen scan_all(struct journal *j, struct journal_scan_result *res)
{
	struct seen s = { .ok = true };

	assert_int_equal(journal_scan(j, collect, &s, res), 0);
	return s;
}

/* ------------------------------------------------------------------ arithmetic */

static void test_format_geometry(void **state)
{
	struct journal_ring ring;

	(void)state;
	assert_int_equal(ring_format(512, 8192, &ring), 0);
	assert_int_equal(ring.ring_start, JOURNAL_BLOCK);
	assert_int_equal(ring.ring_size, 8192 * 512 - JOURNAL_BLOCK);
	assert_int_equal(ring.head, 0);
	assert_int_equal(ring_check(&ring, 512, 8192), 0);
	assert_int_equal(ring_format(1000, 8192, &ring), -EINVAL);
	assert_int_equal(ring_format(8192, 8192, &ring), -EINVAL);
	assert_int_equal(ring_format(4096, 16, &ring), -ENOSPC);	/* no room for a 1 MiB record */
	assert_int_equal(ring_format(4096, 1024, &ring), 0);
	assert_int_equal(ring_check(&ring, 512, 8192), -EXDEV);	/* another block size */
	assert_int_equal(ring_check(&ring, 4096, 1000), -EXDEV);	/* the LUN shrank */
	ring.head = 100;
	assert_int_equal(ring_check(&ring, 4096, 1024), -EBADMSG);	/* head not aligned */
}

static void test_map_wraps(void **state)
{
	struct journal_ring ring = {
		.block_size = 512, .ring_start = 4096, .ring_size = 10 * 512, .head = 8 * 512,
	};
	struct ring_extent ext[2];

	(void)state;
	assert_int_equal(ring_map(&ring, 0, 512, ext), 1);
	assert_int_equal(ext[0].lun_off, 4096 + 8 * 512);
	assert_int_equal(ring_map(&ring, 1024, 1024, ext), 1);	/* past the end: wraps whole */
	assert_int_equal(ext[0].lun_off, 4096);
	assert_int_equal(ring_map(&ring, 512, 1536, ext), 2);	/* straddles the end */
	assert_int_equal(ext[0].lun_off, 4096 + 9 * 512);
	assert_int_equal(ext[0].len, 512);
	assert_int_equal(ext[1].lun_off, 4096);
	assert_int_equal(ext[1].len, 1024);
	assert_int_equal(ring_map(&ring, 0, 10 * 512, ext), 2);	/* the whole ring */
	assert_int_equal(ring_map(&ring, 512, 10 * 512, ext), -ENOSPC);
	ring.used = 5 * 512 + 7;
	assert_int_equal(ring_reset_head(&ring), 4 * 512);	/* (8 + 6) mod 10 */
}

static void test_descriptor_codec(void **state)
{
	struct journal_ring ring, back;
	struct journal_ring_disk d;
	uint8_t sb[512] = { 0 };

	(void)state;
	assert_int_equal(ring_decode(sb, &back), -EMEDIUMTYPE);
	assert_true(ring_is_blank(sb, sizeof(sb)));
	assert_int_equal(ring_format(512, 8192, &ring), 0);
	ring.used = 12345;
	ring.generation = 7;
	ring_encode(&ring, sb);
	assert_int_equal(ring_decode(sb, &back), 0);
	assert_memory_equal(&ring, &back, sizeof(ring));
	sb[JOURNAL_RING_SB_OFFSET + 40] ^= 1;	/* one flipped bit in used */
	assert_int_equal(ring_decode(sb, &back), -EBADMSG);
	sb[JOURNAL_RING_SB_OFFSET + 40] ^= 1;
	memcpy(&d, sb + JOURNAL_RING_SB_OFFSET, sizeof(d));
	d.version = htole32(JOURNAL_RING_VERSION + 1);
	d.checksum = htole64(XXH3_64bits(&d, offsetof(struct journal_ring_disk, checksum)));
	memcpy(sb + JOURNAL_RING_SB_OFFSET, &d, sizeof(d));
	assert_int_equal(ring_decode(sb, &back), -EPROTONOSUPPORT);
}

/* ------------------------------------------------------------------ device */

#define LUN_BYTES (3u << 20)

static void test_append_reopen(void **state)
{
	struct mem_lun *l = lun_new(512, LUN_BYTES);
	struct journal_scan_result res;
	struct journal *j;
	struct seen s;

	(void)state;
	j = lun_journal(l, 0);
	for (unsigned i = 0; i < 100; i++)
		assert_int_equal(append_one(j, i, 1 + i * 37 % 3000), 0);
	journal_close(j);
	lun_crash(l, NULL, NULL);	/* everything was synced before the acks */
	j = lun_journal(l, 0);
	assert_int_equal(journal_get_state(j), JOURNAL_STATE_PENDING);
	s = scan_all(j, &res);
	assert_int_equal(s.n, 100);
	assert_true(s.ok);
	assert_int_equal(res.end, JOURNAL_END_CLEAN);
	journal_close(j);
	lun_free(l);
}

static void test_not_a_journal(void **state)
{
	struct mem_lun *l = lun_new(512, LUN_BYTES);

	(void)state;
	memcpy(l->cache, "some file system", 16);
	assert_null(lun_device(l, 0, -EMEDIUMTYPE));
	lun_free(l);
	l = lun_new(512, LUN_BYTES);
	journal_close(lun_journal(l, 0));
	l->bs = 4096;	/* the same bytes seen through 4 KiB blocks */
	l->blocks /= 8;
	assert_null(lun_device(l, 0, -EXDEV));
	lun_free(l);
}

static void test_full_ring_is_named(void **state)
{
	struct mem_lun *l = lun_new(512, LUN_BYTES);
	struct journal *j;
	unsigned i;
	int r = 0;

	(void)state;
	j = lun_journal(l, 0);
	for (i = 0; i < 1000 && r == 0; i++)
		r = append_one(j, i, sizeof(payload));
	assert_int_equal(r, -ENOSPC);
	assert_int_equal(journal_get_state(j), JOURNAL_STATE_FULL);
	assert_int_equal(append_one(j, i, 1), -ENOSPC);	/* nothing after a lost record */
	assert_int_equal(journal_reset(j), 0);
	assert_int_equal(append_one(j, i, 10), 0);
	journal_close(j);
	lun_free(l);
}

/* Reset after every round: the head walks around the ring several times. */
static void test_wraps_around(void **state)
{
	struct mem_lun *l = lun_new(512, LUN_BYTES);
	struct journal_scan_result res;
	struct journal_lun_info info;
	uint64_t last_head = 0;
	unsigned wraps = 0, next = 0;
	struct journal *j;
	struct seen s;

	(void)state;
	j = lun_journal(l, 0);
	for (unsigned round = 0; round < 30; round++) {
		for (unsigned k = 0; k < 20; k++)
			assert_int_equal(append_one(j, next++, 7000 + k * 911), 0);
		journal_close(j);
		j = lun_journal(l, 0);	/* reopen: the records are found across the wrap */
		s = scan_all(j, &res);
		assert_int_equal(s.n, 20);
		assert_true(s.ok);
		assert_int_equal(res.end, JOURNAL_END_CLEAN);
		assert_int_equal(journal_device_lun_info(journal_device(j), &info), 0);
		if (info.head < last_head)
			wraps++;
		last_head = info.head;
		assert_int_equal(journal_reset(j), 0);
	}
	assert_true(wraps >= 2);
	journal_close(j);
	lun_free(l);
}

/* A crash that keeps the superblock but not every data block since the sync. */
static bool keep_sb_and_first(uint64_t lba, size_t index, void *arg)
{
	size_t *kept_data = arg;

	if (lba == 0)
		return true;
	if (*kept_data == 0)
		return false;
	(*kept_data)--;
	return true;
}

static void test_torn_blocks(void **state)
{
	struct mem_lun *l = lun_new(512, LUN_BYTES);
	struct journal_record recs[8];
	struct journal_scan_result res;
	struct journal *j;
	size_t kept = 3;	/* data blocks of the torn group that made it */
	char path[8][16];
	struct seen s;

	(void)state;
	j = lun_journal(l, 0);
	for (unsigned i = 0; i < 10; i++)
		assert_int_equal(append_one(j, i, 333), 0);	/* acked: must all survive */
	for (unsigned i = 0; i < 8; i++) {
		snprintf(path[i], sizeof(path[i]), "f%u", 10 + i);
		recs[i] = (struct journal_record){
			.type = JOURNAL_WRITE, .path = path[i], .offset = 10 + i,
			.data = payload, .data_len = 1000,
		};
	}
	/* the group's data and superblock are written, the sync never completes */
	l->fail_sync = true;
	assert_int_equal(journal_append_batch(j, recs, 8), -EIO);
	lun_crash(l, keep_sb_and_first, &kept);
	journal_close(j);

	j = lun_journal(l, JOURNAL_OPEN_READONLY);
	s = scan_all(j, &res);
	assert_int_equal(res.end, JOURNAL_END_TORN);
	assert_true(s.ok);
	assert_true(s.n >= 10 && s.n < 18);	/* every acked record, none half */
	journal_close(j);

	j = lun_journal(l, 0);	/* a writable open cuts the torn tail */
	assert_int_equal(journal_continue(j), 0);
	assert_int_equal(append_one(j, 99, 5), 0);
	journal_close(j);
	j = lun_journal(l, JOURNAL_OPEN_READONLY);
	s = scan_all(j, &res);
	assert_int_equal(res.end, JOURNAL_END_CLEAN);
	assert_true(s.ok);
	assert_true(s.n >= 11);
	journal_close(j);
	lun_free(l);
}

/* A failed data write never moves the superblock: the group is not there. */
static void test_failed_write_is_not_acked(void **state)
{
	struct mem_lun *l = lun_new(4096, LUN_BYTES);
	struct journal_scan_result res;
	struct journal *j;
	struct seen s;

	(void)state;
	j = lun_journal(l, 0);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(append_one(j, i, 100), 0);
	l->fail_write_after = 0;
	assert_int_equal(append_one(j, 5, 100), -EIO);
	assert_int_equal(journal_get_state(j), JOURNAL_STATE_FAILED);
	journal_close(j);
	lun_crash(l, NULL, NULL);
	j = lun_journal(l, JOURNAL_OPEN_READONLY);
	s = scan_all(j, &res);
	assert_int_equal(s.n, 5);
	assert_int_equal(res.end, JOURNAL_END_CLEAN);
	journal_close(j);
	lun_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_geometry),
		cmocka_unit_test(test_map_wraps),
		cmocka_unit_test(test_descriptor_codec),
		cmocka_unit_test(test_append_reopen),
		cmocka_unit_test(test_not_a_journal),
		cmocka_unit_test(test_full_ring_is_named),
		cmocka_unit_test(test_wraps_around),
		cmocka_unit_test(test_torn_blocks),
		cmocka_unit_test(test_failed_write_is_not_acked),
	};

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (char)(i * 131 + 7);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
