// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-journal.c - tests the file journal: append and scan, reopen with
 * records left behind, torn tail, corruption, journal full, stale epoch,
 * reset, and group commit under concurrent appenders.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "lifeboat/journal.h"

struct fixture {
	char dir[64];
	char path[96];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/lb-journal-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/journal", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	(void)unlink(f->path);
	(void)rmdir(f->dir);
	free(f);
	return 0;
}

static struct journal *open_journal(const char *path, uint64_t epoch, uint64_t max_size,
				    unsigned flags)
{
	struct journal_options opts = {
		.epoch = epoch, .owner = "node-a", .max_size = max_size,
		.flags = flags | JOURNAL_OPEN_CREATE,
	};
	struct journal *j = NULL;

	assert_int_equal(journal_open(path, &opts, &j), 0);
	return j;
}

static int append_write(struct journal *j, const char *path, uint64_t offset, const char *data)
{
	struct journal_record rec = {
		.type = JOURNAL_WRITE, .path = path, .offset = offset,
		.data = data, .data_len = strlen(data),
	};

	return journal_append(j, &rec);
}

struct collected {
	uint64_t seqs[4096];
	uint64_t offsets[4096];
	size_t n;
};

static int collect(const struct journal_record *rec, uint64_t offset, void *userdata)
{
	struct collected *c = userdata;

	if (c->n < 4096) {
		c->seqs[c->n] = rec->seq;
		c->offsets[c->n] = offset;
	}
	c->n++;
	return 0;
}

static void test_append_and_scan(void **state)
{
	struct fixture *f = *state;
	struct journal_scan_result res;
	struct collected c = { 0 };
	struct journal_record rec = { .type = JOURNAL_MKDIR, .path = "d", .mode = 0755 };
	struct journal *j = open_journal(f->path, 1, 0, 0);

	assert_int_equal(journal_get_state(j), JOURNAL_STATE_READY);
	assert_int_equal(journal_append(j, &rec), 0);
	assert_int_equal(rec.seq, 1);
	assert_int_equal(rec.epoch, 1);
	assert_int_equal(append_write(j, "d/f", 0, "one"), 0);
	assert_int_equal(append_write(j, "d/f", 3, "two"), 0);
	assert_int_equal(journal_scan(j, collect, &c, &res), 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.seqs[0], 1);
	assert_int_equal(c.seqs[2], 3);
	assert_int_equal(c.offsets[0], JOURNAL_BLOCK);
	assert_int_equal(res.end, JOURNAL_END_CLEAN);
	assert_int_equal(res.records, 3);
	assert_int_equal(res.last_seq, 3);
	journal_close(j);
}

static void test_reopen_reports_pending(void **state)
{
	struct fixture *f = *state;
	struct journal_info info;
	struct journal *j = open_journal(f->path, 1, 0, 0);

	assert_int_equal(append_write(j, "f", 0, "data"), 0);
	assert_int_equal(append_write(j, "f", 4, "more"), 0);
	journal_close(j);

	j = open_journal(f->path, 0, 0, 0);
	assert_int_equal(journal_get_state(j), JOURNAL_STATE_PENDING);
	journal_get_info(j, &info);
	assert_int_equal(info.open_scan.records, 2);
	assert_int_equal(info.epoch, 1);
	assert_string_equal(info.owner, "node-a");
	/* Never appended after, never overwritten, until the caller decides. */
	assert_int_equal(append_write(j, "f", 8, "x"), -EBUSY);
	assert_int_equal(journal_continue(j), 0);
	assert_int_equal(append_write(j, "f", 8, "x"), 0);
	journal_get_info(j, &info);
	assert_int_equal(info.next_seq, 4);

	/* Reset drops them; seqs keep growing. */
	assert_int_equal(journal_reset(j), 0);
	assert_int_equal(journal_scan(j, NULL, NULL, &info.open_scan), 0);
	assert_int_equal(info.open_scan.records, 0);
	struct journal_record rec = { .type = JOURNAL_UNLINK, .path = "f" };
	assert_int_equal(journal_append(j, &rec), 0);
	assert_int_equal(rec.seq, 4);
	journal_close(j);

	j = open_journal(f->path, 0, 0, 0);
	journal_get_info(j, &info);
	assert_int_equal(info.open_scan.records, 1);
	assert_int_equal(info.open_scan.first_seq, 4);
	journal_close(j);
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

static void test_torn_tail(void **state)
{
	struct fixture *f = *state;
	struct journal_info info;
	struct collected c = { 0 };
	struct journal *j = open_journal(f->path, 1, 0, 0);
	uint64_t size;

	for (int i = 0; i < 3; i++)
		assert_int_equal(append_write(j, "f", (uint64_t)i * 5, "abcde"), 0);
	journal_close(j);
	size = file_size(f->path);
	assert_int_equal(truncate(f->path, (off_t)(size - 10)), 0);	/* last append cut */

	j = open_journal(f->path, 0, 0, JOURNAL_OPEN_READONLY);
	journal_get_info(j, &info);
	assert_int_equal(info.open_scan.end, JOURNAL_END_TORN);
	assert_int_equal(info.open_scan.records, 2);
	assert_int_equal(info.open_scan.bad_seq, 3);
	assert_int_equal(journal_scan(j, collect, &c, NULL), 0);	/* torn is not an error */
	assert_int_equal(c.n, 2);
	assert_int_equal(file_size(f->path), size - 10);	/* read-only: untouched */
	journal_close(j);

	/* Writable open cuts the torn bytes; the next record takes seq 3. */
	j = open_journal(f->path, 0, 0, 0);
	assert_int_equal(journal_continue(j), 0);
	assert_int_equal(append_write(j, "g", 0, "z"), 0);
	journal_close(j);
	j = open_journal(f->path, 0, 0, JOURNAL_OPEN_READONLY);
	journal_get_info(j, &info);
	assert_int_equal(info.open_scan.end, JOURNAL_END_CLEAN);
	assert_int_equal(info.open_scan.records, 3);
	journal_close(j);
}

static void flip_byte(const char *path, uint64_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
	b ^= 0x10;
	assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

static void test_corrupt_record_names_seq_and_offset(void **state)
{
	struct fixture *f = *state;
	struct journal_scan_result res;
	struct collected c = { 0 };
	struct journal *j = open_journal(f->path, 1, 0, 0);
	uint64_t off2;

	for (int i = 0; i < 4; i++)
		assert_int_equal(append_write(j, "f", 0, "0123456789"), 0);
	assert_int_equal(journal_scan(j, collect, &c, NULL), 0);
	journal_close(j);
	off2 = c.offsets[1];
	flip_byte(f->path, off2 + 60);	/* in record 2's arguments */

	j = open_journal(f->path, 0, 0, 0);
	assert_int_equal(journal_get_state(j), JOURNAL_STATE_CORRUPT);
	memset(&c, 0, sizeof(c));
	assert_int_equal(journal_scan(j, collect, &c, &res), -EBADMSG);
	assert_int_equal(c.n, 1);	/* nothing at or after the bad record */
	assert_int_equal(res.end, JOURNAL_END_CORRUPT);
	assert_int_equal(res.bad_seq, 2);
	assert_int_equal(res.bad_offset, off2);
	assert_non_null(res.reason);
	assert_int_equal(append_write(j, "f", 0, "x"), -EBADMSG);
	assert_int_equal(journal_continue(j), -EBADMSG);
	assert_int_equal(journal_reset(j), 0);
	assert_int_equal(append_write(j, "f", 0, "x"), 0);
	journal_close(j);
}

static void test_bad_header(void **state)
{
	struct fixture *f = *state;
	struct journal_options opts = { 0 };
	struct journal *j = open_journal(f->path, 1, 0, 0);
	struct journal *out = (struct journal *)0x1;

	journal_close(j);
	flip_byte(f->path, 20);
	assert_int_equal(journal_open(f->path, &opts, &out), -EBADMSG);
	assert_ptr_equal(out, (struct journal *)0x1);
	assert_int_equal(truncate(f->path, 0), 0);
	assert_int_equal(journal_open(f->path, &opts, &out), -ENODATA);
}

static void test_journal_full(void **state)
{
	struct fixture *f = *state;
	struct journal_record rec = { .type = JOURNAL_UNLINK, .path = "some/file" };
	size_t rs = journal_record_size(&rec);
	struct journal *j = open_journal(f->path, 1, JOURNAL_BLOCK + 3 * rs, 0);

	for (int i = 0; i < 3; i++)
		assert_int_equal(journal_append(j, &rec), 0);
	assert_int_equal(journal_append(j, &rec), -ENOSPC);
	assert_int_equal(journal_get_state(j), JOURNAL_STATE_FULL);
	/* Sticky: even a record that would fit never follows a refused one. */
	assert_int_equal(journal_append_batch(j, &rec, 0), 0);
	assert_int_equal(journal_append(j, &rec), -ENOSPC);
	assert_int_equal(journal_reset(j), 0);
	assert_int_equal(journal_get_state(j), JOURNAL_STATE_READY);
	assert_int_equal(journal_append(j, &rec), 0);
	assert_int_equal(rec.seq, 4);
	journal_close(j);
}

static void test_stale_epoch_refused(void **state)
{
	struct fixture *f = *state;
	struct journal_options opts = { .epoch = 1 };
	struct journal_info info;
	struct journal *a = open_journal(f->path, 1, 0, 0), *b, *c = NULL;

	assert_int_equal(append_write(a, "f", 0, "from a"), 0);
	/* b takes over with a newer epoch: the header fences a. */
	b = open_journal(f->path, 2, 0, 0);
	journal_get_info(b, &info);
	assert_int_equal(info.epoch, 2);
	assert_int_equal(journal_get_state(b), JOURNAL_STATE_PENDING);
	assert_int_equal(append_write(a, "f", 0, "late a"), -ESTALE);
	assert_int_equal(journal_get_state(a), JOURNAL_STATE_FENCED);
	assert_int_equal(journal_reset(a), -ESTALE);
	/* Opening with the old epoch is refused too. */
	assert_int_equal(journal_open(f->path, &opts, &c), -ESTALE);
	assert_null(c);
	/* b replays (not here), resets, appends with epoch 2. */
	assert_int_equal(journal_reset(b), 0);
	struct journal_record rec = { .type = JOURNAL_RMDIR, .path = "d" };
	assert_int_equal(journal_append(b, &rec), 0);
	assert_int_equal(rec.epoch, 2);
	assert_int_equal(rec.seq, 2);
	journal_close(a);
	journal_close(b);
}

/*
 * The handoff's hand-back: a fenced owner finds out without appending, may
 * not replay, and sees the journal released and empty once the new owner
 * replayed, reset and released it; then it may take it over again.
 */
static void test_takeover_release_take_back(void **state)
{
	struct fixture *f = *state;
	struct journal_options ro = { .flags = JOURNAL_OPEN_READONLY };
	struct journal_options back = { .owner = "node-a", .flags = JOURNAL_OPEN_TAKEOVER };
	struct journal *a = open_journal(f->path, 1, 0, 0), *b, *peek, *a2;
	struct journal_info info;

	assert_int_equal(append_write(a, "f", 0, "from a"), 0);
	assert_int_equal(journal_check_owner(a), 0);
	b = open_journal(f->path, 2, 0, 0);
	assert_int_equal(journal_check_owner(a), -ESTALE);
	assert_int_equal(journal_get_state(a), JOURNAL_STATE_FENCED);
	/* a's records are b's to replay now: a replays nothing */
	assert_int_equal(journal_replay(a, -1, 0, NULL, NULL), -ESTALE);
	/* not released yet: b still owns it, and its records are there */
	assert_int_equal(journal_open(f->path, &ro, &peek), 0);
	journal_get_info(peek, &info);
	assert_string_equal(info.owner, "node-a");	/* open_journal() names every owner node-a */
	assert_int_equal(info.open_scan.records, 1);
	journal_close(peek);
	assert_int_equal(journal_reset(b), 0);
	assert_int_equal(journal_release(b), 0);
	assert_int_equal(journal_open(f->path, &ro, &peek), 0);
	journal_get_info(peek, &info);
	assert_string_equal(info.owner, JOURNAL_RELEASED_BY "node-a");
	assert_int_equal(info.open_scan.records, 0);
	journal_close(peek);
	/* a takes it back: epoch 3, b fenced in turn */
	assert_int_equal(journal_open(f->path, &back, &a2), 0);
	journal_get_info(a2, &info);
	assert_int_equal(info.epoch, 3);
	assert_int_equal(journal_check_owner(b), -ESTALE);
	assert_int_equal(append_write(a2, "f", 0, "a again"), 0);
	journal_close(a);
	journal_close(b);
	journal_close(a2);
}

#define THREADS 8
#define PER_THREAD 150

struct worker {
	struct journal *j;
	int id;
	int failures;
};

static void *append_worker(void *arg)
{
	struct worker *w = arg;
	char path[32], data[32];
	uint64_t last = 0;

	for (int i = 0; i < PER_THREAD; i++) {
		struct journal_record recs[2] = {
			{ .type = JOURNAL_WRITE, .path = path, .data = data },
			{ .type = JOURNAL_TRUNCATE, .path = path, .size = (uint64_t)i },
		};

		snprintf(path, sizeof(path), "t%d", w->id);
		snprintf(data, sizeof(data), "%d:%d", w->id, i);
		recs[0].data_len = strlen(data);
		if (journal_append_batch(w->j, recs, i % 3 ? 1 : 2) < 0 || recs[0].seq <= last)
			w->failures++;
		if (i % 3 == 0 && recs[1].seq != recs[0].seq + 1)
			w->failures++;	/* a batch is contiguous */
		last = recs[0].seq;
	}
	return NULL;
}

static void test_group_commit_threads(void **state)
{
	struct fixture *f = *state;
	struct journal_scan_result res;
	struct collected *c = calloc(1, sizeof(*c));
	struct journal *j = open_journal(f->path, 1, 0, 0);
	struct worker w[THREADS];
	pthread_t t[THREADS];
	size_t expected = 0;

	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .j = j, .id = i };
		assert_int_equal(pthread_create(&t[i], NULL, append_worker, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	for (int i = 0; i < PER_THREAD; i++)
		expected += i % 3 ? 1 : 2;
	expected *= THREADS;
	assert_int_equal(journal_scan(j, collect, c, &res), 0);
	assert_int_equal(c->n, expected);
	assert_int_equal(res.end, JOURNAL_END_CLEAN);
	for (size_t i = 0; i < c->n; i++)
		assert_int_equal(c->seqs[i], i + 1);
	journal_close(j);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_and_scan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_reports_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_record_names_seq_and_offset, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_epoch_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_takeover_release_take_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit_threads, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
