// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-standby-config.c - unit tests of the standby config (endpoints,
 * sections, rules, refusals) and of image manifests (checksum, foreign,
 * stale and damaged images). No root, no CRIU.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "standby.h"

static char tmpdir[] = "/tmp/test-standby-config.XXXXXX";

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int load(const char *text, struct standby_config *cfg)
{
	char path[512];

	write_file(tmpdir, "standby.conf", text);
	snprintf(path, sizeof(path), "%s/standby.conf", tmpdir);
	return standby_config_load(path, cfg);
}

static void test_endpoints_valid(void **state)
{
	struct standby_endpoint ep;
	uint8_t v4[4] = { 127, 0, 0, 1 }, v6[16] = { [15] = 1 };

	(void)state;
	assert_int_equal(standby_endpoint_parse("tcp:127.0.0.1:5432", &ep), 0);
	assert_int_equal(ep.kind, STANDBY_EP_TCP);
	assert_int_equal(ep.family, AF_INET);
	assert_int_equal(ep.port, 5432);
	assert_memory_equal(ep.addr, v4, 4);
	assert_int_equal(standby_endpoint_parse("udp:*:53", &ep), 0);
	assert_int_equal(ep.kind, STANDBY_EP_UDP);
	assert_int_equal(ep.family, 0);
	assert_int_equal(standby_endpoint_parse("tcp:[::1]:80", &ep), 0);
	assert_int_equal(ep.family, AF_INET6);
	assert_memory_equal(ep.addr, v6, 16);
	assert_int_equal(standby_endpoint_parse("unix:@abstract-name", &ep), 0);
	assert_int_equal(ep.kind, STANDBY_EP_UNIX);
	assert_string_equal(ep.path, "@abstract-name");
}

static void test_endpoints_refused(void **state)
{
	const char *bad[] = {
		"tcp:127.0.0.1", "tcp:127.0.0.1:0", "tcp:127.0.0.1:70000", "tcp:127.0.0.1:80x",
		"icmp:127.0.0.1:1", "tcp:300.1.1.1:1", "tcp:[::1:80", "unix:", "", "tcp::80",
	};
	struct standby_endpoint ep;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(standby_endpoint_parse(bad[i], &ep), -EINVAL);
}

static void test_config_sections(void **state)
{
	static struct standby_config cfg;
	const struct standby_app_rule *a;
	const struct standby_node_rule *n;

	(void)state;
	assert_int_equal(load("[standby]\n"
			      "internal = tcp:127.0.0.1:5432\n"
			      "internal = unix:/run/x.sock\n"
			      "store = /mnt/app\n"
			      "store_write_external = yes\n"
			      "image_root = /var/tmp/images\n"
			      "[node B]\n"
			      "memory_budget = 512M\n"
			      "max_images = 3\n"
			      "netns = lb-b\n"
			      "socket = /run/lifeboat-b/control.sock\n"
			      "[app web]\n"
			      "nodes = B, C\n"
			      "priority = -5\n"
			      "max_standbys = 2\n"
			      "over_budget = elsewhere\n"
			      "journal = /var/lib/lifeboat/web.journal\n"
			      "mount = /srv/web\n"
			      "[peer other]\n"
			      "address = ignored-by-standby\n",
			      &cfg),
			 0);
	assert_int_equal(cfg.n_internal, 2);
	assert_true(cfg.store_write_external);
	assert_string_equal(cfg.store, "/mnt/app");
	assert_string_equal(cfg.image_root, "/var/tmp/images");
	n = standby_config_node(&cfg, "B");
	assert_non_null(n);
	assert_int_equal(n->memory_budget, 512ull << 20);
	assert_int_equal(n->max_images, 3);
	assert_string_equal(n->netns, "lb-b");
	assert_string_equal(n->socket, "/run/lifeboat-b/control.sock");
	a = standby_config_app(&cfg, "web");
	assert_non_null(a);
	assert_int_equal(a->n_nodes, 2);
	assert_string_equal(a->nodes[0], "B");
	assert_string_equal(a->nodes[1], "C");
	assert_int_equal(a->priority, -5);
	assert_int_equal(a->max_standbys, 2);
	assert_int_equal(a->over_budget, STANDBY_OVER_ELSEWHERE);
	assert_string_equal(a->mount, "/srv/web");
	assert_null(standby_config_app(&cfg, "other"));
}

static void test_config_refused(void **state)
{
	const char *bad[] = {
		"[standby]\nunknown = 1\n",
		"[standby]\ninternal = tcp:nowhere\n",
		"[standby]\nstore = relative/path\n",
		"[standby]\nstore_write_external = perhaps\n",
		"[node B]\nmemory_budget = lots\n",
		"[node B]\nmemory_budget = 5T\n",
		"[node ../x]\nmax_images = 1\n",
		"[node B]\nnetns = ../../etc\n",
		"[node B]\nsocket = relative.sock\n",
		"[node B]\nsocket = /run/../etc/x.sock\n",
		"[node B]\nsocket = /run/..\n",
		"[app web]\nover_budget = sometimes\n",
		"[app web]\nnodes = B,../C\n",
		"[app web]\npriority = 100000\n",
		"[app web]\njournal = /j\n",
		"[app web]\nmount = relative\n",
		"not an ini line\n",
	};
	static struct standby_config cfg;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(load(bad[i], &cfg), -EINVAL);
}

static void test_config_missing_file(void **state)
{
	static struct standby_config cfg;

	(void)state;
	assert_int_equal(standby_config_load("/nonexistent/standby.conf", &cfg), -ENOENT);
}

/* An image directory with two CRIU-like files and a manifest. */
static void make_image(const char *dir, const char *name, uint64_t gen)
{
	struct standby_manifest m = { .generation = gen, .created = 1 };

	mkdir(dir, 0700);
	write_file(dir, "core-1.img", "core of task 1");
	write_file(dir, "pages-1.img", "some page data");
	write_file(dir, "dump.log", "a log is not part of the image");
	snprintf(m.name, sizeof(m.name), "%s", name);
	assert_int_equal(standby_image_checksum(dir, &m.checksum, &m.size), 0);
	assert_int_equal(m.size, 28);
	assert_int_equal(standby_manifest_write(dir, &m), 0);
}

static void test_manifest_verify(void **state)
{
	struct standby_manifest m;
	char dir[512];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/img-ok", tmpdir);
	make_image(dir, "web", 3);
	assert_int_equal(standby_image_verify(dir, "web", 3, &m), 0);
	assert_int_equal(m.generation, 3);
	assert_string_equal(m.name, "web");
	/* what a restore adds does not count */
	write_file(dir, "stats-restore", "x");
	write_file(dir, "restore.log", "y");
	assert_int_equal(standby_image_verify(dir, "web", 0, &m), 0);
	/* foreign and stale */
	assert_int_equal(standby_image_verify(dir, "db", 0, &m), -EPERM);
	assert_int_equal(standby_image_verify(dir, "web", 4, &m), -ESTALE);
}

static void test_manifest_damage(void **state)
{
	struct standby_manifest m;
	char dir[512];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/img-bad", tmpdir);
	make_image(dir, "web", 1);
	write_file(dir, "pages-1.img", "some page dat4");	/* same size, one byte */
	assert_int_equal(standby_image_verify(dir, "web", 0, &m), -EBADMSG);
	make_image(dir, "web", 1);
	write_file(dir, "pages-2.img", "");			/* a file more */
	assert_int_equal(standby_image_verify(dir, "web", 0, &m), -EBADMSG);
	write_file(dir, "manifest.json", "{ \"name\": \"../etc\", \"generation\": 1 }");
	assert_int_equal(standby_manifest_read(dir, &m), -EBADMSG);
	write_file(dir, "manifest.json", "not json");
	assert_int_equal(standby_manifest_read(dir, &m), -ENOENT);
}

static void test_next_generation(void **state)
{
	char root[512], dir[600];
	uint64_t gen;

	(void)state;
	snprintf(root, sizeof(root), "%s/roots", tmpdir);
	mkdir(root, 0700);
	assert_int_equal(standby_image_next_generation(root, "web", &gen), 0);
	assert_int_equal(gen, 1);
	snprintf(dir, sizeof(dir), "%s/web", root);
	mkdir(dir, 0700);
	snprintf(dir, sizeof(dir), "%s/web/7", root);
	mkdir(dir, 0700);
	snprintf(dir, sizeof(dir), "%s/web/12", root);
	mkdir(dir, 0700);
	write_file(root, "web/app.log", "");	/* not a generation */
	assert_int_equal(standby_image_next_generation(root, "web", &gen), 0);
	assert_int_equal(gen, 13);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoints_valid),
		cmocka_unit_test(test_endpoints_refused),
		cmocka_unit_test(test_config_sections),
		cmocka_unit_test(test_config_refused),
		cmocka_unit_test(test_config_missing_file),
		cmocka_unit_test(test_manifest_verify),
		cmocka_unit_test(test_manifest_damage),
		cmocka_unit_test(test_next_generation),
	};
	char cmd[600];
	int r;

	if (!mkdtemp(tmpdir))
		return 1;
	setenv("LIFEBOAT_LOG", "error", 1);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	return r;
}
