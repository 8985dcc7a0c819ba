// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-altread-serve.c - the serving side of the alternate read path on
 * loopback, no root: a forked "nodeB" answers ALT_READ requests of "nodeA"
 * from a directory standing in for its mount. A read of a file gives its
 * bytes (short at the end); everything else is refused with the expected
 * errno: "..", an absolute path, a symlink (last or inner component), a
 * directory, a FIFO (without blocking), a missing file, a directory that
 * is not a mount, a mount whose own path fails, another inode under the
 * name, lengths out of bounds, a malformed request.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_PREFIX "test: "
#include "lifeboat/log.h"
#include "altread.h"
#include "peer.h"

#define KEY_AB "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define FILE_SIZE 5000u

static char work[256], mnt[300], sick[300];
static uint8_t content[FILE_SIZE];
static int failures;

struct tcase {
	const char *name;
	const char *mount;	/* NULL: mnt */
	const char *path;
	uint64_t offset;
	uint32_t length;
	bool real_ino;		/* send the file's inode number (else 0, or bad_ino) */
	uint64_t bad_ino;
	bool trailing;		/* a byte after the last field */
	int want;		/* bytes expected, or -errno */
};

static int make_ctx(const char *node, const char *peer, struct peer_ctx **ret)
{
	struct peer_key k = { .has_psk = true };
	struct peer_tls_config cfg = { .node_name = node, .peers = &k, .n_peers = 1,
				       .timeout_ms = 10000 };

	snprintf(k.name, sizeof(k.name), "%s", peer);
	if (peer_psk_parse(KEY_AB, k.psk) < 0)
		abort();
	return peer_ctx_new(&cfg, ret);
}

/* nodeB: n connections, one ALT_READ each. */
static int serve(int lfd, size_t n)
{
	const struct altread_mount mounts[] = { { mnt, false }, { sick, true } };
	struct peer_ctx *ctx;

	if (make_ctx("nodeB", "nodeA", &ctx) < 0)
		return 100;
	for (size_t i = 0; i < n; i++) {
		struct peer_conn *conn;
		const uint8_t *p;
		uint16_t type;
		size_t len;

		if (peer_accept(ctx, lfd, &conn) < 0)
			continue;
		if (peer_recv(conn, &type, &p, &len) == 0 && type == PEER_MSG_ALT_READ)
			(void)altread_serve(conn, p, len, mounts, 2);
		peer_conn_free(conn);
	}
	peer_ctx_free(ctx);
	return 0;
}

static int ask(struct peer_ctx *ctx, uint16_t port, const struct tcase *tc, uint8_t *out)
{
	char path[400];
	struct peer_conn *conn;
	const uint8_t *p;
	struct wire_out w;
	struct stat st;
	size_t len;
	int r;

	r = peer_connect(ctx, "nodeB", "127.0.0.1", port, &conn);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/%s", mnt, tc->path);
	(void)wire_out_init(&w, 10000);
	wire_put_str(&w, tc->mount ? tc->mount : mnt);
	wire_put_str(&w, tc->path);
	wire_put_u64(&w, tc->offset);
	wire_put_u32(&w, tc->length);
	wire_put_u64(&w, tc->real_ino && lstat(path, &st) == 0 ? st.st_ino : tc->bad_ino);
	if (tc->trailing)
		wire_put_u16(&w, 0);
	r = wire_put_done(&w);
	if (r == 0)
		r = peer_send(conn, PEER_MSG_ALT_READ, w.buf, w.len);
	wire_out_free(&w);
	if (r == 0)
		r = peer_recv_type(conn, PEER_MSG_ALT_DATA, &p, &len);
	if (r == 0) {
		memcpy(out, p, len);
		r = (int)len;
	}
	peer_conn_free(conn);
	return r;
}

static const struct tcase cases[] = {
	{ "read", NULL, "sub/file", 10, 100, false, 0, false, 100 },
	{ "read-inode", NULL, "sub/file", 0, 4096, true, 0, false, 4096 },
	{ "read-end", NULL, "sub/file", FILE_SIZE - 5, 100, false, 0, false, 5 },
	{ "read-past-end", NULL, "sub/file", FILE_SIZE + 5, 100, false, 0, false, 0 },
	{ "dotdot", NULL, "../outside", 0, 100, false, 0, false, -EPERM },
	{ "inner-dotdot", NULL, "sub/../sub/file", 0, 100, false, 0, false, -EPERM },
	{ "absolute", NULL, "/etc/passwd", 0, 100, false, 0, false, -EPERM },
	{ "empty", NULL, "", 0, 100, false, 0, false, -EPERM },
	{ "symlink", NULL, "link", 0, 100, false, 0, false, -ELOOP },
	{ "symlink-dir", NULL, "ldir/file", 0, 100, false, 0, false, -ELOOP },
	{ "directory", NULL, "sub", 0, 100, false, 0, false, -EINVAL },
	{ "fifo", NULL, "fifo", 0, 100, false, 0, false, -EINVAL },
	{ "missing", NULL, "nothing", 0, 100, false, 0, false, -ENOENT },
	{ "not-a-mount", "/etc", "passwd", 0, 100, false, 0, false, -EPERM },
	{ "mount-prefix", "/", "etc/passwd", 0, 100, false, 0, false, -EPERM },
	{ "mount-absorbing", "SICK", "file", 0, 100, false, 0, false, -EAGAIN },
	{ "other-inode", NULL, "sub/file", 0, 100, false, 12345, false, -ESTALE },
	{ "zero-length", NULL, "sub/file", 0, 0, false, 0, false, -EINVAL },
	{ "too-long", NULL, "sub/file", 0, PEER_ALT_READ_MAX + 1, false, 0, false, -EINVAL },
	{ "offset-overflow", NULL, "sub/file", UINT64_MAX - 10, 100, false, 0, false, -EINVAL },
	{ "trailing-byte", NULL, "sub/file", 0, 100, false, 0, true, -EBADMSG },
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static void setup(void)
{
	char p[400];
	int fd;

	snprintf(work, sizeof(work), "/tmp/lb-altread-serve.XXXXXX");
	if (!mkdtemp(work))
		abort();
	snprintf(mnt, sizeof(mnt), "%s/mnt", work);
	snprintf(sick, sizeof(sick), "%s/sick", work);
	for (size_t i = 0; i < FILE_SIZE; i++)
		content[i] = (uint8_t)((i * 2654435761u) >> 13);
	mkdir(mnt, 0700);
	mkdir(sick, 0700);
	snprintf(p, sizeof(p), "%s/sub", mnt);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/sub/file", mnt);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	if (fd < 0 || write(fd, content, FILE_SIZE) != FILE_SIZE)
		abort();
	close(fd);
	snprintf(p, sizeof(p), "%s/sick/file", work);
	(void)!symlink("../mnt/sub/file", p);
	snprintf(p, sizeof(p), "%s/link", mnt);
	(void)!symlink("sub/file", p);
	snprintf(p, sizeof(p), "%s/ldir", mnt);
	(void)!symlink("sub", p);
	snprintf(p, sizeof(p), "%s/fifo", mnt);
	(void)!mkfifo(p, 0600);
	snprintf(p, sizeof(p), "%s/outside", work);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	close(fd);
}

int main(void)
{
	static uint8_t out[PEER_ALT_READ_MAX];
	struct peer_ctx *ctx;
	int lfd, status;
	uint16_t port;
	pid_t pid;

	log_setup("test-altread-serve");
	setup();
	if (peer_listen("127.0.0.1", 0, &lfd, &port) < 0)
		return 1;
	pid = fork();
	if (pid == 0)
		_exit(serve(lfd, N_CASES));
	close(lfd);
	if (make_ctx("nodeA", "nodeB", &ctx) < 0)
		return 1;
	for (size_t i = 0; i < N_CASES; i++) {
		struct tcase tc = cases[i];
		int r;

		if (tc.mount && strcmp(tc.mount, "SICK") == 0)
			tc.mount = sick;
		r = ask(ctx, port, &tc, out);
		fprintf(stderr, "case %s: %d (%s)\n", tc.name, r, r < 0 ? strerror(-r) : "bytes");
		if (r != tc.want) {
			fprintf(stderr, "FAIL %s: got %d, expected %d\n", tc.name, r, tc.want);
			failures++;
		} else if (r > 0 && memcmp(out, content + tc.offset, (size_t)r) != 0) {
			fprintf(stderr, "FAIL %s: wrong bytes\n", tc.name);
			failures++;
		}
	}
	peer_ctx_free(ctx);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "FAIL: the server exited with status %d\n", status);
		failures++;
	}
	(void)!system(strcat(strcpy((char[300]){ 0 }, "rm -rf "), work));
	fprintf(stderr, "%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
