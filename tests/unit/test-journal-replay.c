// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-journal-replay.c - tests replay into a temporary store directory (no
 * root): every record type applied, replay twice == once, nothing applied at
 * or after a bad record, paths that would leave the store refused.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/fs.h>
#include <cmocka.h>

#include <xxhash.h>

#include "lifeboat/journal.h"

struct fixture {
	char dir[64];
	char journal[96];
	char store[96];
	char outside[96];
	int store_fd;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/lb-replay-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->journal, sizeof(f->journal), "%s/journal", f->dir);
	snprintf(f->store, sizeof(f->store), "%s/store", f->dir);
	snprintf(f->outside, sizeof(f->outside), "%s/outside", f->dir);
	if (mkdir(f->store, 0755) < 0 || mkdir(f->outside, 0755) < 0)
		return -1;
	f->store_fd = open(f->store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	*state = f;
	return f->store_fd < 0 ? -1 : 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->store_fd);
	(void)nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* ------------------------------------------------------------------ snapshot */

static char *snap_lines[256];
static size_t snap_n;
static size_t snap_root_len;

static void snap_xattrs(const char *path, char *buf, size_t size)
{
	char names[1024], value[256];
	ssize_t n = llistxattr(path, names, sizeof(names));

	for (ssize_t i = 0; n > 0 && i < n; i += (ssize_t)strlen(names + i) + 1) {
		ssize_t v = lgetxattr(path, names + i, value, sizeof(value) - 1);

		value[v > 0 ? v : 0] = '\0';
		strncat(buf, " ", size - strlen(buf) - 1);
		strncat(buf, names + i, size - strlen(buf) - 1);
		strncat(buf, "=", size - strlen(buf) - 1);
		strncat(buf, value, size - strlen(buf) - 1);
	}
}

static uint64_t file_hash(const char *path)
{
	char buf[65536];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;

	if (fd >= 0)
		close(fd);
	return n >= 0 ? XXH3_64bits(buf, (size_t)n) : 0;
}

static int snap_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	char line[2048], target[256] = "";

	(void)flag;
	(void)ftw;
	if (S_ISLNK(st->st_mode))
		target[readlink(path, target, sizeof(target) - 1)] = '\0';
	snprintf(line, sizeof(line), "%s type=%o mode=%o size=%lld nlink=%lu hash=%llx link=%s",
		 path + snap_root_len, st->st_mode & S_IFMT, st->st_mode & 07777,
		 S_ISDIR(st->st_mode) ? 0LL : (long long)st->st_size, (unsigned long)st->st_nlink,
		 S_ISREG(st->st_mode) ? (unsigned long long)file_hash(path) : 0ULL, target);
	snap_xattrs(path, line, sizeof(line));
	assert_true(snap_n < 256);
	snap_lines[snap_n++] = strdup(line);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The store's names, types, modes, sizes, contents, links and xattrs, one string. */
static char *snapshot(const char *root)
{
	size_t len = 1;
	char *s;

	snap_n = 0;
	snap_root_len = strlen(root);
	assert_int_equal(nftw(root, snap_one, 16, FTW_PHYS), 0);
	qsort(snap_lines, snap_n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < snap_n; i++)
		len += strlen(snap_lines[i]) + 1;
	s = calloc(1, len);
	for (size_t i = 0; i < snap_n; i++) {
		strcat(s, snap_lines[i]);
		strcat(s, "\n");
		free(snap_lines[i]);
	}
	return s;
}

/* ------------------------------------------------------------------ helpers */

static struct journal *create_journal(struct fixture *f)
{
	struct journal_options opts = { .epoch = 1, .owner = "t", .flags = JOURNAL_OPEN_CREATE };
	struct journal *j = NULL;

	assert_int_equal(journal_open(f->journal, &opts, &j), 0);
	return j;
}

static struct journal *reopen(struct fixture *f, unsigned flags)
{
	struct journal_options opts = { .flags = flags };
	struct journal *j = NULL;

	assert_int_equal(journal_open(f->journal, &opts, &j), 0);
	return j;
}

#define NOID ((uint32_t)-1)

/* A history touching every record type; the expected store is checked below. */
static void append_history(struct journal *j, bool with_xattrs)
{
	static const char data[] = "hello world";
	struct journal_record recs[] = {
		{ .type = JOURNAL_MKDIR, .path = "d", .mode = 0750, .uid = NOID, .gid = NOID },
		{ .type = JOURNAL_MKDIR, .path = "d/sub", .mode = 0755, .uid = NOID, .gid = NOID },
		{ .type = JOURNAL_CREATE, .path = "d/f", .mode = S_IFREG | 0600, .uid = NOID,
		  .gid = NOID },
		{ .type = JOURNAL_WRITE, .path = "d/f", .offset = 0, .data = data,
		  .data_len = sizeof(data) - 1 },
		{ .type = JOURNAL_WRITE, .path = "d/f", .offset = 6, .data = "WORLD",
		  .data_len = 5 },
		{ .type = JOURNAL_FALLOCATE, .path = "d/f", .offset = 0, .length = 8192 },
		{ .type = JOURNAL_TRUNCATE, .path = "d/f", .size = 11 },
		{ .type = JOURNAL_LINK, .path = "d/f", .path2 = "d/sub/hard" },
		{ .type = JOURNAL_SYMLINK, .path = "d/sym", .target = "f", .uid = NOID,
		  .gid = NOID },
		{ .type = JOURNAL_MKNOD, .path = "fifo", .mode = S_IFIFO | 0644, .uid = NOID,
		  .gid = NOID },
		{ .type = JOURNAL_CREATE, .path = "tmp", .mode = S_IFREG | 0644, .uid = NOID,
		  .gid = NOID },
		{ .type = JOURNAL_RENAME, .path = "tmp", .path2 = "d/renamed" },
		{ .type = JOURNAL_CREATE, .path = "a", .mode = S_IFREG | 0644, .uid = NOID,
		  .gid = NOID },
		{ .type = JOURNAL_WRITE, .path = "a", .data = "AAA", .data_len = 3 },
		{ .type = JOURNAL_CREATE, .path = "b", .mode = S_IFREG | 0644, .uid = NOID,
		  .gid = NOID },
		{ .type = JOURNAL_RENAME, .path = "a", .path2 = "b", .flags = RENAME_NOREPLACE },
		{ .type = JOURNAL_CREATE, .path = "gone", .mode = S_IFREG | 0644, .uid = NOID,
		  .gid = NOID },
		{ .type = JOURNAL_WRITE, .path = "gone", .data = "x", .data_len = 1 },
		{ .type = JOURNAL_UNLINK, .path = "gone" },
		{ .type = JOURNAL_MKDIR, .path = "empty", .mode = 0700, .uid = NOID, .gid = NOID },
		{ .type = JOURNAL_RMDIR, .path = "empty" },
		{ .type = JOURNAL_SETATTR, .path = "d/renamed",
		  .flags = JOURNAL_ATTR_MODE | JOURNAL_ATTR_SIZE | JOURNAL_ATTR_MTIME,
		  .mode = 0604, .size = 3, .mtime = { .tv_sec = 1000000000, .tv_nsec = 5 } },
		{ .type = JOURNAL_SETXATTR, .path = "d/f", .name = "user.k", .data = "v1",
		  .data_len = 2, .flags = XATTR_CREATE },
		{ .type = JOURNAL_SETXATTR, .path = "d/f", .name = "user.gone", .data = "x",
		  .data_len = 1 },
		{ .type = JOURNAL_REMOVEXATTR, .path = "d/f", .name = "user.gone" },
	};
	size_t n = sizeof(recs) / sizeof(recs[0]);

	if (!with_xattrs)
		n -= 3;
	assert_int_equal(journal_append_batch(j, recs, n), 0);
}

static bool xattrs_supported(const char *dir)
{
	char path[128];
	int fd, r;

	snprintf(path, sizeof(path), "%s/xattr-probe", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	if (fd < 0)
		return false;
	r = fsetxattr(fd, "user.probe", "1", 1, 0);
	close(fd);
	unlink(path);
	return r == 0;
}

static void check_history(struct fixture *f, bool with_xattrs)
{
	char buf[64] = "";
	struct stat st;
	int fd;

	fd = openat(f->store_fd, "d/f", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 11);
	assert_string_equal(buf, "hello WORLD");
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_nlink, 2);
	if (with_xattrs) {
		assert_int_equal(fgetxattr(fd, "user.k", buf, sizeof(buf)), 2);
		assert_int_equal(fgetxattr(fd, "user.gone", buf, sizeof(buf)), -1);
	}
	close(fd);
	assert_int_equal(fstatat(f->store_fd, "d", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(fstatat(f->store_fd, "fifo", &st, 0), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(fstatat(f->store_fd, "d/renamed", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0604);
	assert_int_equal(st.st_size, 3);
	assert_int_equal(st.st_mtim.tv_sec, 1000000000);
	assert_int_equal(st.st_mtim.tv_nsec, 5);
	assert_int_equal(fstatat(f->store_fd, "a", &st, 0), 0);	/* NOREPLACE: b existed */
	assert_int_equal(fstatat(f->store_fd, "gone", &st, 0), -1);
	assert_int_equal(fstatat(f->store_fd, "empty", &st, 0), -1);
	assert_int_equal(fstatat(f->store_fd, "tmp", &st, 0), -1);
	assert_int_equal(readlinkat(f->store_fd, "d/sym", buf, sizeof(buf)), 1);
}

/* ------------------------------------------------------------------ tests */

static void test_replay_every_type(void **state)
{
	struct fixture *f = *state;
	bool xattrs = xattrs_supported(f->store);
	struct journal_replay_stats stats;
	struct journal_scan_result res;
	struct journal *j = create_journal(f);

	append_history(j, xattrs);
	journal_close(j);
	j = reopen(f, 0);
	assert_int_equal(journal_get_state(j), JOURNAL_STATE_PENDING);
	assert_int_equal(journal_replay(j, f->store_fd, 0, &stats, &res), 0);
	assert_int_equal(res.end, JOURNAL_END_CLEAN);
	assert_true(stats.applied > 20);
	assert_true(stats.synced > 0);
	check_history(f, xattrs);
	assert_int_equal(journal_reset(j), 0);
	assert_int_equal(journal_get_state(j), JOURNAL_STATE_READY);
	journal_close(j);
}

static void test_replay_twice_equals_once(void **state)
{
	struct fixture *f = *state;
	bool xattrs = xattrs_supported(f->store);
	struct journal_replay_stats stats;
	struct journal *j = create_journal(f);
	char *once, *twice, *thrice;

	append_history(j, xattrs);
	journal_close(j);

	/* Read-only: no progress mark, so the second run re-executes everything. */
	j = reopen(f, JOURNAL_OPEN_READONLY);
	assert_int_equal(journal_replay(j, f->store_fd, 0, NULL, NULL), 0);
	once = snapshot(f->store);
	assert_int_equal(journal_replay(j, f->store_fd, 0, &stats, NULL), 0);
	twice = snapshot(f->store);
	assert_string_equal(once, twice);
	assert_true(stats.done > 0);
	check_history(f, xattrs);
	journal_close(j);

	/* Writable: the progress mark makes a second replay skip every record. */
	j = reopen(f, 0);
	assert_int_equal(journal_replay(j, f->store_fd, JOURNAL_REPLAY_ALL, NULL, NULL), 0);
	assert_int_equal(journal_replay(j, f->store_fd, 0, &stats, NULL), 0);
	assert_int_equal(stats.applied, 0);
	assert_true(stats.skipped > 20);
	thrice = snapshot(f->store);
	assert_string_equal(once, thrice);
	journal_close(j);
	free(once);
	free(twice);
	free(thrice);
}

static void test_dry_run_changes_nothing(void **state)
{
	struct fixture *f = *state;
	struct journal_replay_stats stats;
	struct journal *j = create_journal(f);
	char *before, *after;

	append_history(j, false);
	before = snapshot(f->store);
	assert_int_equal(journal_replay(j, f->store_fd, JOURNAL_REPLAY_DRY_RUN, &stats, NULL), 0);
	after = snapshot(f->store);
	assert_string_equal(before, after);
	assert_true(stats.applied > 20);
	journal_close(j);
	free(before);
	free(after);
}

static void test_nothing_after_bad_record(void **state)
{
	struct fixture *f = *state;
	struct journal_record recs[] = {
		{ .type = JOURNAL_MKDIR, .path = "first", .mode = 0755, .uid = NOID, .gid = NOID },
		{ .type = JOURNAL_MKDIR, .path = "second", .mode = 0755, .uid = NOID, .gid = NOID },
		{ .type = JOURNAL_MKDIR, .path = "third", .mode = 0755, .uid = NOID, .gid = NOID },
	};
	struct journal_scan_result res;
	struct journal *j = create_journal(f);
	size_t size = journal_record_size(&recs[0]);
	unsigned char byte;
	struct stat st;
	int fd;

	assert_int_equal(journal_append_batch(j, recs, 3), 0);
	journal_close(j);
	/* flip a byte of the second record (writing a constant could leave it as it was) */
	fd = open(f->journal, O_RDWR);
	assert_int_equal(pread(fd, &byte, 1, (off_t)(JOURNAL_BLOCK + size + 200 % size)), 1);
	byte ^= 0xff;
	assert_int_equal(pwrite(fd, &byte, 1, (off_t)(JOURNAL_BLOCK + size + 200 % size)), 1);
	close(fd);

	j = reopen(f, JOURNAL_OPEN_READONLY);
	assert_int_equal(journal_replay(j, f->store_fd, 0, NULL, &res), -EBADMSG);
	assert_int_equal(res.bad_seq, 2);
	assert_int_equal(res.bad_offset, JOURNAL_BLOCK + size);
	assert_int_equal(fstatat(f->store_fd, "first", &st, 0), 0);
	assert_int_equal(fstatat(f->store_fd, "second", &st, 0), -1);
	assert_int_equal(fstatat(f->store_fd, "third", &st, 0), -1);	/* valid, but after */
	journal_close(j);
}

static void test_paths_never_leave_the_store(void **state)
{
	struct fixture *f = *state;
	struct journal_replay *r;
	char link_target[128];
	struct stat st;

	/* A symlink in the store pointing outside, as a directory and as a file. */
	assert_int_equal(symlinkat(f->outside, f->store_fd, "escape"), 0);
	snprintf(link_target, sizeof(link_target), "%s/victim", f->outside);
	close(open(link_target, O_CREAT | O_WRONLY, 0644));
	assert_int_equal(symlinkat(link_target, f->store_fd, "victim-link"), 0);

	assert_int_equal(journal_replay_new(f->store_fd, 0, &r), 0);
	struct journal_record bad_paths[] = {
		{ .type = JOURNAL_MKDIR, .path = "../outside/x", .mode = 0755 },
		{ .type = JOURNAL_MKDIR, .path = "/tmp/x", .mode = 0755 },
		{ .type = JOURNAL_RENAME, .path = "victim-link", .path2 = "../stolen" },
	};
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(journal_replay_apply(r, &bad_paths[i]), -EINVAL);

	struct journal_record through_link = { .type = JOURNAL_CREATE, .path = "escape/new",
					       .mode = S_IFREG | 0644, .uid = NOID, .gid = NOID };
	assert_int_equal(journal_replay_apply(r, &through_link), -ELOOP);
	struct journal_record write_link = { .type = JOURNAL_WRITE, .path = "victim-link",
					     .data = "pwned", .data_len = 5 };
	assert_int_equal(journal_replay_apply(r, &write_link), -ELOOP);
	struct journal_record chmod_link = { .type = JOURNAL_SETATTR, .path = "victim-link",
					     .flags = JOURNAL_ATTR_MODE, .mode = 0777 };
	assert_int_equal(journal_replay_apply(r, &chmod_link), 0);
	struct journal_record xattr_link = { .type = JOURNAL_SETXATTR, .path = "escape",
					     .name = "user.x", .data = "1", .data_len = 1 };
	(void)journal_replay_apply(r, &xattr_link);	/* EPERM on a symlink, never followed */
	assert_int_equal(journal_replay_sync(r), 0);
	journal_replay_free(r);

	assert_int_equal(stat(link_target, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(lgetxattr(f->outside, "user.x", link_target, 8), -1);
	snprintf(link_target, sizeof(link_target), "%s/new", f->outside);
	assert_int_equal(stat(link_target, &st), -1);
}

static void test_divergent_store_is_an_error(void **state)
{
	struct fixture *f = *state;
	struct journal_replay *r;
	struct journal_record mkdir_rec = { .type = JOURNAL_MKDIR, .path = "x", .mode = 0755,
					    .uid = NOID, .gid = NOID };

	close(openat(f->store_fd, "x", O_CREAT | O_WRONLY, 0644));	/* a file, not a dir */
	assert_int_equal(journal_replay_new(f->store_fd, 0, &r), 0);
	assert_int_equal(journal_replay_apply(r, &mkdir_rec), -EEXIST);
	journal_replay_free(r);
}

/*
 * A replay that stops half way starts again at the progress mark. A rename
 * is applied between two marks, so the restart never makes its source
 * again and moves it over the directory the first run moved there.
 */
static void test_restart_after_rename(void **state)
{
	struct fixture *f = *state;
	struct journal_record recs[] = {
		{ .type = JOURNAL_MKDIR, .path = "r", .mode = 0755, .uid = NOID, .gid = NOID },
		{ .type = JOURNAL_CREATE, .path = "r/x", .mode = S_IFREG | 0644, .uid = NOID,
		  .gid = NOID },
		{ .type = JOURNAL_WRITE, .path = "r/x", .data = "1", .data_len = 1 },
		{ .type = JOURNAL_RENAME, .path = "r", .path2 = "r2" },
		{ .type = JOURNAL_MKDIR, .path = "blocked/sub", .mode = 0755, .uid = NOID,
		  .gid = NOID },
	};
	struct journal *j = create_journal(f);
	struct journal_info info;
	char buf[8] = "";
	struct stat st;
	int fd;

	assert_int_equal(journal_append_batch(j, recs, 5), 0);
	close(openat(f->store_fd, "blocked", O_CREAT | O_WRONLY, 0644));	/* not a dir */
	assert_int_equal(journal_replay(j, f->store_fd, 0, NULL, NULL), -ENOTDIR);
	journal_get_info(j, &info);
	assert_int_equal(info.applied_seq, 4);

	assert_int_equal(unlinkat(f->store_fd, "blocked", 0), 0);
	assert_int_equal(mkdirat(f->store_fd, "blocked", 0755), 0);
	assert_int_equal(journal_replay(j, f->store_fd, 0, NULL, NULL), 0);
	assert_int_equal(fstatat(f->store_fd, "r", &st, 0), -1);
	fd = openat(f->store_fd, "r2/x", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "1");
	close(fd);
	assert_int_equal(fstatat(f->store_fd, "blocked/sub", &st, 0), 0);
	journal_close(j);
}

/*
 * The final sync finds files by the paths records wrote them under. A file
 * written under a name a later record removes, but that keeps another name,
 * is synced before that removal.
 */
static void test_linked_file_synced_before_unlink(void **state)
{
	struct fixture *f = *state;
	struct journal_record recs[] = {
		{ .type = JOURNAL_CREATE, .path = "a", .mode = S_IFREG | 0644, .uid = NOID,
		  .gid = NOID },
		{ .type = JOURNAL_WRITE, .path = "a", .data = "data", .data_len = 4 },
		{ .type = JOURNAL_LINK, .path = "a", .path2 = "b" },
		{ .type = JOURNAL_UNLINK, .path = "a" },
	};
	struct journal_replay_stats stats;
	struct journal *j = create_journal(f);

	assert_int_equal(journal_append_batch(j, recs, 4), 0);
	assert_int_equal(journal_replay(j, f->store_fd, 0, &stats, NULL), 0);
	assert_int_equal(stats.synced, 2);	/* the file, before the unlink, and the root */
	journal_close(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replay_every_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_twice_equals_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dry_run_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_after_bad_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paths_never_leave_the_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_divergent_store_is_an_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_after_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linked_file_synced_before_unlink, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
