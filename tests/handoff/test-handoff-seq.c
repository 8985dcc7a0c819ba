// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-handoff-seq.c - the handoff sequence between two endpoints on
 * loopback with stand-ins for the app (a stopped/continued child process
 * instead of a cgroup freeze, a file instead of a CRIU image) but the real
 * peer channel, image transfer, file journal fencing and replay. Checks
 * which side runs the app after each outcome: a handoff that completes
 * kills A's copy; one that fails before B restores resumes it on A; a
 * refusal before COMMIT fences nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_PREFIX "test: "
#include "lifeboat/journal.h"
#include "lifeboat/log.h"
#include "handoff.h"
#include "image.h"
#include "peer.h"

#define KEY "8f3a1c2b4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8"
#define KEY_BAD "0f3a1c2b4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8"

struct tcase {
	const char *name;
	const char *key_a;
	bool fail_dump;
	bool fail_restore;
	bool b_checks_mounts;		/* B requires a lifeboatfs mount (there is none) */
	bool b_owns_journal;		/* A names a journal of B's own mounts */
	int want_a;
	bool want_killed_on_a;		/* else: running on A */
	bool want_restored_on_b;
	bool want_fenced;
};

struct fake {
	pid_t app;
	bool fail_dump;
	bool fail_restore;
	char marker[300];
};

static char work[128];
static int failures;

/* ------------------------------------------------------------------ stand-in app ops */

static int fake_freeze(void *ud, const char *app)
{
	struct fake *f = ud;

	return kill(f->app, SIGSTOP) < 0 ? -errno : 0;
}

static int fake_thaw(void *ud, const char *app, const char *dir)
{
	struct fake *f = ud;

	return kill(f->app, SIGCONT) < 0 ? -errno : 0;
}

static int fake_kill(void *ud, const char *app)
{
	struct fake *f = ud;

	return kill(f->app, SIGKILL) < 0 ? -errno : 0;
}

static int fake_dump(void *ud, const char *app, const char *dir)
{
	struct fake *f = ud;
	char path[400];
	FILE *out;

	if (f->fail_dump)
		return -EIO;
	snprintf(path, sizeof(path), "%s/core-1.img", dir);
	out = fopen(path, "w");
	if (!out)
		return -errno;
	for (int i = 0; i < 100000; i++)
		fprintf(out, "app %s pid %d line %d\n", app, (int)f->app, i);
	fclose(out);
	return 0;
}

static int fake_restore(void *ud, const char *app, const char *dir, pid_t *ret_pid)
{
	struct fake *f = ud;
	char path[400], line[128];
	FILE *in;
	int fd;

	if (f->fail_restore)
		return -EIO;
	snprintf(path, sizeof(path), "%s/core-1.img", dir);
	in = fopen(path, "r");
	if (!in || !fgets(line, sizeof(line), in))
		return -ENOENT;
	fclose(in);
	fd = open(f->marker, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, line, strlen(line)) < 0)
		return -errno;
	close(fd);
	*ret_pid = getpid();
	return 0;
}

static const struct handoff_app_ops fake_ops_template = {
	.freeze = fake_freeze, .thaw = fake_thaw, .dump = fake_dump, .kill = fake_kill,
	.restore = fake_restore,
};

/* ------------------------------------------------------------------ helpers */

static int make_ctx(const char *node, const char *peer, const char *key, struct peer_ctx **ret)
{
	struct peer_key k = { .has_psk = true };
	struct peer_tls_config cfg = { .node_name = node, .peers = &k, .n_peers = 1,
				       .timeout_ms = 10000 };

	snprintf(k.name, sizeof(k.name), "%s", peer);
	if (peer_psk_parse(key, k.psk) < 0)
		abort();
	return peer_ctx_new(&cfg, ret);
}

static char proc_state(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return '?';
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	p = strrchr(buf, ')');
	return p && p[1] ? p[2] : '?';
}

/* A's journal with two records left behind: what A absorbed before the move. */
static struct journal *journal_with_records(const char *path)
{
	struct journal_options jo = { .owner = "nodeA", .flags = JOURNAL_OPEN_CREATE };
	struct journal_record c = { .type = JOURNAL_CREATE, .path = "data.txt", .mode = 0100644,
				    .uid = (uint32_t)-1, .gid = (uint32_t)-1 };
	struct journal_record w = { .type = JOURNAL_WRITE, .path = "data.txt", .data = "absorbed",
				    .data_len = 8 };
	struct journal *j;

	if (journal_open(path, &jo, &j) < 0 || journal_append(j, &c) < 0 ||
	    journal_append(j, &w) < 0)
		abort();
	return j;
}

static void check(bool ok, const struct tcase *tc, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "FAIL %s: %s\n", tc->name, what);
	failures++;
}

/* ------------------------------------------------------------------ the two nodes */

static int node_b(int lfd, const struct tcase *tc, struct fake *f)
{
	struct handoff_app_ops ops = fake_ops_template;
	struct handoff_config cfg = { .node_name = "nodeB", .any_mount = !tc->b_checks_mounts };
	char images[300], jpath[300];
	const char *own[1] = { jpath };
	struct peer_ctx *ctx;
	struct peer_conn *conn;
	int r;

	snprintf(images, sizeof(images), "%s/images-b", work);
	snprintf(jpath, sizeof(jpath), "%s/a.journal", work);
	cfg.image_dir = images;
	if (tc->b_owns_journal) {
		cfg.own_journals = own;
		cfg.n_own_journals = 1;
	}
	ops.userdata = f;
	if (make_ctx("nodeB", "nodeA", KEY, &ctx) < 0)
		return 100;
	r = peer_accept(ctx, lfd, &conn);
	if (r == 0) {
		r = handoff_serve(conn, &cfg, &ops, NULL);
		peer_conn_free(conn);
	}
	peer_ctx_free(ctx);
	return -r;
}

static void run_case(const struct tcase *tc)
{
	struct fake f = { .fail_dump = tc->fail_dump, .fail_restore = tc->fail_restore };
	struct handoff_app_ops ops = fake_ops_template;
	struct handoff_request req = { .n_mounts = 1 };
	struct handoff_config cfg = { .node_name = "nodeA" };
	struct journal_record probe = { .type = JOURNAL_UNLINK, .path = "probe" };
	char images[300], mnt[300], jpath[300], data[320], buf[64] = "";
	struct peer_ctx *ctx;
	struct journal *j;
	uint16_t port;
	int lfd, status, r, fd;
	pid_t b;

	(void)!system(strcat(strcpy((char[300]){ 0 }, "rm -rf "), strcat(strcpy((char[200]){ 0 }, work), "/*")));
	snprintf(images, sizeof(images), "%s/images-a", work);
	mkdir(images, 0700);
	mkdir(strcat(strcpy((char[300]){ 0 }, work), "/images-b"), 0700);
	snprintf(mnt, sizeof(mnt), "%s/mnt", work);
	mkdir(mnt, 0700);
	snprintf(jpath, sizeof(jpath), "%s/a.journal", work);
	snprintf(f.marker, sizeof(f.marker), "%s/restored-on-b", work);
	j = journal_with_records(jpath);

	f.app = fork();
	if (f.app == 0) {
		execlp("sleep", "sleep", "60", (char *)NULL);
		_exit(127);
	}
	if (peer_listen("127.0.0.1", 0, &lfd, &port) < 0)
		abort();
	b = fork();
	if (b == 0)
		_exit(node_b(lfd, tc, &f));
	close(lfd);

	snprintf(req.app, sizeof(req.app), "app");
	snprintf(req.mounts[0].path, sizeof(req.mounts[0].path), "%s", mnt);
	snprintf(req.mounts[0].journal, sizeof(req.mounts[0].journal), "%s", jpath);
	cfg.image_dir = images;
	ops.userdata = &f;
	if (make_ctx("nodeA", "nodeB", tc->key_a, &ctx) < 0)
		abort();
	r = handoff_send(ctx, "nodeB", "127.0.0.1", port, &cfg, &req, &ops, NULL);
	peer_ctx_free(ctx);
	waitpid(b, &status, 0);
	fprintf(stderr, "case %s: A %d (%s), B %d, app on A '%c'\n", tc->name, r, strerror(-r),
		WIFEXITED(status) ? -WEXITSTATUS(status) : -1000, proc_state(f.app));

	check(r == tc->want_a, tc, "unexpected result on A");
	if (tc->want_killed_on_a) {
		check(waitpid(f.app, &status, 0) == f.app && WIFSIGNALED(status) &&
		      WTERMSIG(status) == SIGKILL, tc, "A's copy was not killed");
	} else {
		char st = proc_state(f.app);

		check(st == 'S' || st == 'R', tc, "A's copy does not run");
		kill(f.app, SIGKILL);
		waitpid(f.app, NULL, 0);
	}
	check((access(f.marker, F_OK) == 0) == tc->want_restored_on_b, tc,
	      tc->want_restored_on_b ? "B did not restore" : "B restored");
	/* A's own journal handle: fenced once B took over, else still A's */
	r = journal_append(j, &probe);
	check((r == -ESTALE) == tc->want_fenced, tc,
	      tc->want_fenced ? "A's journal is not fenced" : "A's journal was fenced");
	journal_close(j);
	snprintf(data, sizeof(data), "%s/data.txt", mnt);
	fd = open(data, O_RDONLY);
	if (fd >= 0) {
		(void)!read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	if (tc->want_fenced)
		check(strcmp(buf, "absorbed") == 0, tc, "the journal was not replayed on B");
	else
		check(fd < 0, tc, "the journal was replayed without a commit");
	check(access(strcat(strcpy((char[300]){ 0 }, work), "/images-b/app.in"), F_OK) != 0, tc,
	      "B left an image behind");
	check(rmdir(images) == 0, tc, "A left an image behind");
}

static const struct tcase cases[] = {
	{ "handed-off", KEY, false, false, false, false, 0, true, true, true },
	{ "restore-fails", KEY, false, true, false, false, -EIO, false, false, true },
	{ "dump-fails", KEY, true, false, false, false, -EIO, false, false, false },
	{ "no-mount-on-b", KEY, false, false, true, false, -ENOENT, false, false, false },
	{ "unauthenticated", KEY_BAD, false, false, false, false, -EKEYREJECTED, false, false, false },
	{ "own-journal", KEY, false, false, false, true, -EINVAL, false, false, false },
};

/* B opens A's iSCSI journal as itself: A's initiator and key are dropped. */
static void check_journal_names(void)
{
	static const struct tcase tc = { .name = "journal-name" };
	static const char *const in_out[][2] = {
		{ "iscsi://10.0.0.1:3260/iqn.x:t/1?initiator=iqn.x:a&timeout=20",
		  "iscsi://10.0.0.1:3260/iqn.x:t/1?timeout=20" },
		{ "iscsi://10.0.0.1/iqn.x:t/1?timeout=5&key=00ff&initiator=iqn.x:a",
		  "iscsi://10.0.0.1/iqn.x:t/1?timeout=5" },
		{ "iscsi://10.0.0.1/iqn.x:t/1", "iscsi://10.0.0.1/iqn.x:t/1" },
		{ "iscsi://10.0.0.1/iqn.x:t/1?initiator=iqn.x:a", "iscsi://10.0.0.1/iqn.x:t/1" },
	};
	char buf[256];

	for (size_t i = 0; i < sizeof(in_out) / sizeof(in_out[0]); i++) {
		buf[0] = '\0';
		check(handoff_journal_name_here(in_out[i][0], buf, sizeof(buf)) == 0 &&
		      strcmp(buf, in_out[i][1]) == 0, &tc, in_out[i][0]);
	}
	check(handoff_journal_name_here(in_out[0][0], buf, 20) == -ENAMETOOLONG, &tc, "too long");
}

int main(int argc, char **argv)
{
	log_setup("test-handoff-seq");
	check_journal_names();
	snprintf(work, sizeof(work), "/tmp/lb-handoff-seq.XXXXXX");
	if (!mkdtemp(work))
		return 1;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (argc < 2 || strcmp(argv[1], cases[i].name) == 0)
			run_case(&cases[i]);
	if (failures == 0)
		(void)!system(strcat(strcpy((char[300]){ 0 }, "rm -rf "), work));
	else
		fprintf(stderr, "%d failure(s); work dir kept: %s\n", failures, work);
	return failures ? 1 : 0;
}
