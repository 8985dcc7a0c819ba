// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-config.c tests lifeboat.conf parsing (daemon/config.c): defaults,
 * every section kind, and errors that name FILE:LINE and the key.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static char conf_path[] = "/tmp/lifeboat-test-config.XXXXXX";
static char err_path[] = "/tmp/lifeboat-test-config-err.XXXXXX";
static char errors[4096];

/* Writes text as the config, loads it with stderr captured into errors. */
static int load(const char *text, struct config *c)
{
	int saved = dup(2), efd, r;
	FILE *f = fopen(conf_path, "w");
	ssize_t n;

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	efd = open(err_path, O_RDWR | O_TRUNC);
	assert_true(efd >= 0);
	fflush(stderr);
	dup2(efd, 2);
	r = config_load(conf_path, c);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(efd, errors, sizeof(errors) - 1, 0);
	errors[n > 0 ? n : 0] = '\0';
	close(efd);
	return r;
}

static void assert_error(const char *text, const char *want)
{
	struct config c;
	char full[512];

	memset(&c, 0x5a, sizeof(c));
	assert_int_equal(load(text, &c), -EINVAL);
	snprintf(full, sizeof(full), "%s%s", conf_path, want);
	if (!strstr(errors, full))
		fail_msg("expected '%s' in: %s", full, errors);
	assert_int_equal(c.node_name[0], 0x5a);	/* untouched on failure */
}

static void test_defaults(void **state)
{
	struct config c;

	(void)state;
	assert_int_equal(load("[node]\nname = a\n", &c), 0);
	assert_string_equal(c.node_name, "a");
	assert_string_equal(c.control_socket, "/run/lifeboat/control.sock");
	assert_string_equal(c.state_dir, "/var/lib/lifeboat");
	assert_string_equal(c.cgroup_parent, "lifeboat");
	assert_int_equal(c.stop_timeout_s, 10);
	assert_int_equal(c.n_peers, 0);
	assert_int_equal(c.n_mounts, 0);
}

static void test_full(void **state)
{
	struct config c;
	char psk[65];

	(void)state;
	memset(psk, 'a', 64);
	psk[64] = '\0';
	char text[1024];
	snprintf(text, sizeof(text),
		 "; a comment\n[node]\nname = node-a\nlisten = 0.0.0.0:7890\nstop_timeout = 3\n"
		 "[peer b]\naddress = [fd00::2]:7891\npsk = %s\n"
		 "[peer c]\naddress = 10.0.0.3:7892\npsk = %s\n"
		 "[mount data]\npath = /srv/app\nstore = /srv/store\njournal = file:///var/lib/j\n",
		 psk, psk);
	assert_int_equal(load(text, &c), 0);
	assert_string_equal(c.listen_host, "0.0.0.0");
	assert_int_equal(c.listen_port, 7890);
	assert_int_equal(c.stop_timeout_s, 3);
	assert_int_equal(c.n_peers, 2);
	assert_string_equal(c.peers[0].host, "fd00::2");
	assert_int_equal(c.peers[0].port, 7891);
	assert_string_equal(c.peers[1].name, "c");
	assert_non_null(config_find_peer(&c, "c"));
	assert_null(config_find_peer(&c, "d"));
	assert_int_equal(c.n_mounts, 1);
	assert_string_equal(c.mounts[0].journal, "file:///var/lib/j");
}

static void test_errors(void **state)
{
	(void)state;
	assert_error("[node]\nname = a\nnmae = b\n", ":3: unknown key 'nmae' in section [node]");
	assert_error("[node]\nname = a\nstop_timeout = 0\n", ":3: 'stop_timeout' must be a number from 1 to 3600");
	assert_error("[node]\nname = a\nstop_timeout = 5s\n", ":3: 'stop_timeout' must be a number");
	assert_error("[node]\nname = a\n[bogus]\n", ":3: unknown section [bogus]");
	assert_error("[node]\nname = a\n[peer ../x]\naddress = h:1\n", ":3: bad name in section [peer ../x]");
	assert_error("[node]\nname = a\n[peer b]\naddress = h:99999\n", ":4: 'address' must be a number from 1 to 65535");
	assert_error("[node]\nname = a\n[peer b]\naddress = h:1\npsk = xyz\n", ":5: 'psk' must be 64 hex digits");
	assert_error("[node]\nname = a\n[peer b]\naddress = h:1\n", ": [peer b] needs 'psk' or 'psk_file'");
	assert_error("[node]\nname = a\n[mount m]\nstore = /s\n", ": [mount m] 'path' is required");
	assert_error("[node]\nname = a\n[mount m]\njournal = ftp://x\n", ":4: 'journal' must be a path");
	assert_error("name = a\n", ":1: key 'name' outside of any section");
	assert_error("[node]\nname = a\n[node]\n", ":3: section [node] appears twice");
	assert_error("[node]\nname = a b\n", ":2: 'name' must be 1-63");
	assert_error("[node]\nname = a\ncert = /c\n", ": [node] 'cert', 'key' and 'ca' go together");
	assert_error("[node]\nname = a\n\ngarbage\n", ":4: syntax error");
}

static void test_missing_file(void **state)
{
	struct config c;

	(void)state;
	assert_int_equal(config_load("/nonexistent/lifeboat.conf", &c), -ENOENT);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(config_name_valid("a-b_c.d9"));
	assert_false(config_name_valid(""));
	assert_false(config_name_valid("."));
	assert_false(config_name_valid(".."));
	assert_false(config_name_valid("a/b"));
	assert_false(config_name_valid("a b"));
	assert_false(config_name_valid("0123456789012345678901234567890123456789012345678901234567890123"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),  cmocka_unit_test(test_full),  cmocka_unit_test(test_errors),
		cmocka_unit_test(test_missing_file), cmocka_unit_test(test_names),
	};
	int fd, r;

	fd = mkstemp(conf_path);
	close(fd);
	fd = mkstemp(err_path);
	close(fd);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(conf_path);
	unlink(err_path);
	return r;
}
