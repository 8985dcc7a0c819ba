// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-journal-iscsi-url.c - tests that bad iSCSI journal URLs are refused
 * before any connection is tried (lib/journal-iscsi.c): libiscsi's URL form,
 * our parameters (initiator=, key=, timeout=), and names that are not URLs.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "lifeboat/journal.h"

static void refused(const char *url)
{
	struct journal_blockdev *bd = NULL;

	assert_int_equal(journal_iscsi_blockdev_open(url, JOURNAL_ISCSI_NO_RESERVE, &bd), -EINVAL);
	assert_null(bd);
}

static void test_bad_urls_are_refused(void **state)
{
	(void)state;
	refused("iscsi://");
	refused("iscsi://127.0.0.1");
	refused("iscsi://127.0.0.1/iqn.2026-11.io.lifeboat:x");	/* no LUN */
	refused("iscsi://127.0.0.1/iqn.2026-11.io.lifeboat:x/1?key=0");
	refused("iscsi://127.0.0.1/iqn.2026-11.io.lifeboat:x/1?key=zz");
	refused("iscsi://127.0.0.1/iqn.2026-11.io.lifeboat:x/1?timeout=0");
	refused("iscsi://127.0.0.1/iqn.2026-11.io.lifeboat:x/1?timeout=5s");
	refused("iscsi://127.0.0.1/iqn.2026-11.io.lifeboat:x/1?portal=other");
}

static void test_names(void **state)
{
	(void)state;
	assert_true(journal_name_is_iscsi("iscsi://host/iqn/0"));
	assert_false(journal_name_is_iscsi("/var/lib/lifeboat/x.journal"));
	assert_false(journal_name_is_iscsi("iscsi:/host"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_urls_are_refused),
		cmocka_unit_test(test_names),
	};

	setenv("LIFEBOAT_LOG", "error", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
