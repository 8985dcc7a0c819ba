// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-journal-record.c - tests the journal record codec: round trips for
 * every type, corruption (-EBADMSG), bounds on every length, path rules.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/xattr.h>
#include <cmocka.h>

#include "lifeboat/journal.h"

static const char payload[] = "hello, journal";

/* One record of each type, with every field its type uses set. */
static struct journal_record sample(enum journal_type type)
{
	struct journal_record rec = {
		.type = type, .seq = 42, .epoch = 7, .time_ns = 123456789, .path = "dir/file",
		.uid = 1000, .gid = 1001,
	};

	switch (type) {
	case JOURNAL_WRITE:
		rec.offset = 4096;
		rec.data = payload;
		rec.data_len = sizeof(payload);
		break;
	case JOURNAL_TRUNCATE:
		rec.size = 1u << 30;
		break;
	case JOURNAL_FALLOCATE:
		rec.flags = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		rec.offset = 8192;
		rec.length = 4096;
		break;
	case JOURNAL_CREATE:
		rec.mode = S_IFREG | 0640;
		break;
	case JOURNAL_MKNOD:
		rec.mode = S_IFCHR | 0600;
		rec.rdev = 0x0103;
		break;
	case JOURNAL_MKDIR:
		rec.mode = 0755;
		break;
	case JOURNAL_SYMLINK:
		rec.target = "../elsewhere/target";
		break;
	case JOURNAL_LINK:
		rec.path2 = "dir/hardlink";
		break;
	case JOURNAL_RENAME:
		rec.path2 = "other/name";
		rec.flags = RENAME_EXCHANGE;
		rec.ino = 12345;
		rec.ino2 = 67890;
		break;
	case JOURNAL_SETATTR:
		rec.flags = JOURNAL_ATTR_ALL;
		rec.mode = 04755;
		rec.size = 77;
		rec.atime = (struct timespec){ .tv_sec = 1700000000, .tv_nsec = 1 };
		rec.mtime = (struct timespec){ .tv_sec = -5, .tv_nsec = 999999999 };
		break;
	case JOURNAL_SETXATTR:
		rec.name = "user.test";
		rec.data = payload;
		rec.data_len = 5;
		rec.flags = XATTR_CREATE;
		break;
	case JOURNAL_REMOVEXATTR:
		rec.name = "user.test";
		break;
	default:
		break;
	}
	return rec;
}

static uint8_t *encode(const struct journal_record *rec, size_t *ret_len)
{
	size_t size = journal_record_size(rec), len;
	uint8_t *buf;

	assert_true(size > 0);
	assert_int_equal(size % JOURNAL_ALIGN, 0);
	buf = malloc(size);
	assert_non_null(buf);
	assert_int_equal(journal_encode_record(rec, buf, size, &len), 0);
	assert_int_equal(len, size);
	*ret_len = len;
	return buf;
}

static void assert_same_string(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void assert_same_record(const struct journal_record *a, const struct journal_record *b)
{
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->epoch, b->epoch);
	assert_int_equal(a->time_ns, b->time_ns);
	assert_same_string(a->path, b->path);
	assert_same_string(a->path2, b->path2);
	assert_same_string(a->target, b->target);
	assert_same_string(a->name, b->name);
	assert_int_equal(a->data_len, b->data_len);
	if (a->data_len)
		assert_memory_equal(a->data, b->data, a->data_len);
}

static void test_round_trip_every_type(void **state)
{
	(void)state;
	for (int t = 1; t <= JOURNAL_TYPE_MAX; t++) {
		struct journal_record rec = sample(t), out;
		size_t len, used;
		uint8_t *buf = encode(&rec, &len);

		assert_int_equal(journal_decode_record(buf, len, &out, &used), 0);
		assert_int_equal(used, len);
		assert_same_record(&rec, &out);
		if (t == JOURNAL_SETATTR) {
			assert_int_equal(out.mode, 04755);
			assert_int_equal(out.flags, JOURNAL_ATTR_ALL);
			assert_int_equal(out.mtime.tv_sec, -5);
			assert_int_equal(out.mtime.tv_nsec, 999999999);
			assert_int_equal(out.size, 77);
		}
		if (t == JOURNAL_RENAME) {
			assert_int_equal(out.ino, 12345);
			assert_int_equal(out.ino2, 67890);
			assert_int_equal(out.flags, RENAME_EXCHANGE);
		}
		if (t == JOURNAL_MKNOD)
			assert_int_equal(out.rdev, 0x0103);
		if (t == JOURNAL_WRITE)
			assert_int_equal(out.offset, 4096);
		assert_string_equal(journal_type_to_string(t), journal_type_to_string(out.type));
		free(buf);
	}
}

static void test_flipped_bit_is_ebadmsg(void **state)
{
	struct journal_record rec = sample(JOURNAL_WRITE), out;
	size_t len;
	uint8_t *buf = encode(&rec, &len);

	(void)state;
	/* Every bit of every byte: header, args, path, data and padding. */
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= (uint8_t)(1u << bit);
			assert_int_equal(journal_decode_record(buf, len, &out, NULL), -EBADMSG);
			buf[i] ^= (uint8_t)(1u << bit);
		}
	}
	assert_int_equal(journal_decode_record(buf, len, &out, NULL), 0);
	free(buf);
}

static void test_torn_record_is_ebadmsg(void **state)
{
	struct journal_record rec = sample(JOURNAL_SETXATTR), out;
	size_t len, size;
	uint8_t *buf = encode(&rec, &len);

	(void)state;
	for (size_t cut = 0; cut < len; cut++)
		assert_int_equal(journal_decode_record(buf, cut, &out, NULL), -EBADMSG);
	assert_int_equal(journal_record_peek(buf, 10, &size), -EBADMSG);
	assert_int_equal(journal_record_peek(buf, len, &size), 0);
	assert_int_equal(size, len);
	memset(buf + len / 2, 0, len - len / 2);	/* the second half never written */
	assert_int_equal(journal_decode_record(buf, len, &out, NULL), -EBADMSG);
	free(buf);
}

static void test_oversize_lengths(void **state)
{
	struct journal_record rec = sample(JOURNAL_WRITE);
	char *big = calloc(1, JOURNAL_DATA_MAX + JOURNAL_PATH_MAX + 2);
	uint8_t hdr[JOURNAL_RECORD_HDR_SIZE];
	size_t len, size;
	uint8_t *buf;

	(void)state;
	assert_non_null(big);
	rec.data = big;
	rec.data_len = JOURNAL_DATA_MAX;
	assert_int_equal(journal_record_check(&rec), 0);
	rec.data_len = JOURNAL_DATA_MAX + 1;
	assert_int_equal(journal_record_check(&rec), -E2BIG);
	assert_int_equal(journal_record_size(&rec), 0);

	rec = sample(JOURNAL_SETXATTR);
	rec.data = big;
	rec.data_len = JOURNAL_XATTR_VALUE_MAX + 1;
	assert_int_equal(journal_record_check(&rec), -E2BIG);
	memset(big, 'n', 300);
	rec = sample(JOURNAL_REMOVEXATTR);
	rec.name = big;		/* 300 chars */
	assert_int_equal(journal_record_check(&rec), -ENAMETOOLONG);

	memset(big, 0, 301);
	for (size_t i = 0; i < JOURNAL_PATH_MAX; i++)
		big[i] = i % 100 == 99 ? '/' : 'a';
	big[JOURNAL_PATH_MAX] = '\0';
	rec = sample(JOURNAL_UNLINK);
	rec.path = big;
	assert_int_equal(journal_record_check(&rec), -ENAMETOOLONG);
	memset(big, 'a', 256);
	big[256] = '\0';
	assert_int_equal(journal_path_check(big), -ENAMETOOLONG);	/* one component > 255 */
	big[255] = '\0';
	assert_int_equal(journal_path_check(big), 0);

	/* A header claiming a payload above the maximum is refused before reading it. */
	rec = sample(JOURNAL_UNLINK);
	buf = encode(&rec, &len);
	memcpy(hdr, buf, sizeof(hdr));
	hdr[8] = hdr[9] = hdr[10] = hdr[11] = 0xff;	/* payload_len */
	assert_int_equal(journal_record_peek(hdr, sizeof(hdr), &size), -EBADMSG);
	free(buf);
	free(big);
}

static void test_bad_fields_rejected(void **state)
{
	struct journal_record rec;

	(void)state;
	rec = sample(JOURNAL_RENAME);
	rec.flags = RENAME_EXCHANGE | RENAME_NOREPLACE;
	assert_int_equal(journal_record_check(&rec), -EINVAL);
	rec = sample(JOURNAL_FALLOCATE);
	rec.flags = FALLOC_FL_COLLAPSE_RANGE;
	assert_int_equal(journal_record_check(&rec), -EOPNOTSUPP);
	rec = sample(JOURNAL_CREATE);
	rec.mode = S_IFDIR | 0755;
	assert_int_equal(journal_record_check(&rec), -EINVAL);
	rec = sample(JOURNAL_SETATTR);
	rec.atime.tv_nsec = 1000000000;
	assert_int_equal(journal_record_check(&rec), -EINVAL);
	rec = sample(JOURNAL_LINK);
	rec.path2 = NULL;
	assert_int_equal(journal_record_check(&rec), -EINVAL);
	rec = sample(JOURNAL_WRITE);
	rec.type = 99;
	assert_int_equal(journal_record_check(&rec), -EINVAL);
}

static void test_path_traversal_rejected(void **state)
{
	static const char *const bad[] = {
		"", "/etc/passwd", "..", "../x", "a/../b", "a/..", ".", "./a", "a/./b",
		"a//b", "a/", "/", "//a",
	};
	static const char *const good[] = { "a", "a/b/c", "...", "..a", "a..", ".hidden" };
	struct journal_record rec = sample(JOURNAL_RENAME);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(journal_path_check(bad[i]), -EINVAL);
		rec.path2 = bad[i];
		assert_int_equal(journal_record_check(&rec), -EINVAL);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(journal_path_check(good[i]), 0);
	assert_int_equal(journal_path_check(NULL), -EINVAL);
}

static void test_encode_buffer_too_small(void **state)
{
	struct journal_record rec = sample(JOURNAL_WRITE);
	uint8_t buf[64];
	size_t len = 0;

	(void)state;
	assert_int_equal(journal_encode_record(&rec, buf, sizeof(buf), &len), -ENOBUFS);
	assert_int_equal(len, 0);	/* ret_ untouched on failure */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_every_type),
		cmocka_unit_test(test_flipped_bit_is_ebadmsg),
		cmocka_unit_test(test_torn_record_is_ebadmsg),
		cmocka_unit_test(test_oversize_lengths),
		cmocka_unit_test(test_bad_fields_rejected),
		cmocka_unit_test(test_path_traversal_rejected),
		cmocka_unit_test(test_encode_buffer_too_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
