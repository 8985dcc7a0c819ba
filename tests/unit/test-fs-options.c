// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-fs-options.c tests lifeboatfs's command line (fs/options.c) and its
 * table of error classes (fs/errclass.c): no mount needed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lifeboatfs.h"
#include "errclass.h"

static int parse(struct lb_options *o, int n, ...)
{
	char *argv[16] = { "lifeboatfs" };
	struct fuse_args args;
	va_list ap;
	int r;

	va_start(ap, n);
	for (int i = 0; i < n; i++)
		argv[i + 1] = va_arg(ap, char *);
	va_end(ap);
	args = (struct fuse_args)FUSE_ARGS_INIT(n + 1, argv);
	r = options_parse(&args, o);
	fuse_opt_free_args(&args);
	return r;
}

static void test_defaults(void **state)
{
	struct lb_options o;

	(void)state;
	assert_int_equal(parse(&o, 2, "/tmp", "/tmp"), 0);
	assert_string_equal(o.store, "/tmp");
	assert_true(o.attr_timeout > 3600);
	assert_int_equal(o.queue_budget, 64ull << 20);
	assert_false(o.hold_eio);
	assert_null(o.journal);
	options_free(&o);
}

static void test_own_options(void **state)
{
	struct lb_options o;

	(void)state;
	assert_int_equal(parse(&o, 4, "/tmp", "/tmp", "-o",
			       "queue_budget=8M,flush_interval=0.5,on_hold_timeout=eio,journal=/j,hold=7"),
			 0);
	assert_int_equal(o.queue_budget, 8ull << 20);
	assert_true(o.flush_interval > 0.49 && o.flush_interval < 0.51);
	assert_true(o.hold_eio);
	assert_string_equal(o.journal, "/j");
	assert_true(o.hold > 6.9 && o.hold < 7.1);
	options_free(&o);
}

static void test_fstab_words_ignored(void **state)
{
	struct lb_options o;

	(void)state;
	assert_int_equal(parse(&o, 4, "/tmp", "/tmp", "-o",
			       "_netdev,nofail,x-systemd.requires=lifeboatd.service"),
			 0);
	options_free(&o);
}

static void test_malformed_refused(void **state)
{
	static const char *const bad[] = {
		"attr_timeout=abc", "attr_timeout=-1", "queue_budget=0", "queue_budget=12Q",
		"on_hold_timeout=maybe", "journal=", "max_fds=-3", "splice_read=1",
	};
	struct lb_options o;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(&o, 4, "/tmp", "/tmp", "-o", bad[i]), -EINVAL);
}

static void test_missing_arguments_refused(void **state)
{
	struct lb_options o;

	(void)state;
	assert_int_equal(parse(&o, 1, "/tmp"), -EINVAL);
	assert_int_equal(parse(&o, 3, "/tmp", "/tmp", "/tmp"), -EINVAL);
	assert_int_equal(parse(&o, 2, "/nonexistent-lifeboat", "/tmp"), -EINVAL);
}

static void test_error_classes(void **state)
{
	static const int path[] = { EIO, ENOTCONN, ESTALE, ETIMEDOUT, EHOSTDOWN, ENODEV,
				    ENXIO, EREMOTEIO };
	static const int app[] = { ENOENT, EEXIST, EACCES, EPERM, ENOSPC, ENOTEMPTY,
				   EISDIR, ENOTDIR, EINVAL, ENAMETOOLONG, EDQUOT, EXDEV };

	(void)state;
	for (size_t i = 0; i < sizeof(path) / sizeof(path[0]); i++) {
		assert_true(errclass_is_path_failure(path[i], true));
		assert_true(errclass_is_path_failure(-path[i], false));
		assert_int_not_equal(errclass_slot_of(path[i]), ERRCLASS_NSLOTS);
	}
	for (size_t i = 0; i < sizeof(app) / sizeof(app[0]); i++)
		assert_false(errclass_is_path_failure(app[i], true));
	/* EROFS only on a store that was writable */
	assert_true(errclass_is_path_failure(EROFS, true));
	assert_false(errclass_is_path_failure(EROFS, false));
	assert_string_equal(errclass_slot_name(errclass_slot_of(ESTALE)), "ESTALE");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_own_options),
		cmocka_unit_test(test_fstab_words_ignored),
		cmocka_unit_test(test_malformed_refused),
		cmocka_unit_test(test_missing_arguments_refused),
		cmocka_unit_test(test_error_classes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
