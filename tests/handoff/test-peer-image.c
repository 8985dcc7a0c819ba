// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-peer-image.c - the peer channel and image transfer on loopback,
 * without CRIU: one image directory sent from "nodeA" to "nodeB" (a forked
 * receiver), then the refusals: wrong key, unknown node, another protocol
 * version, truncated and corrupted images, path traversal in the manifest,
 * too many and too large files, a symlink in the image, an existing target.
 * Each refusal must give the expected error on both sides and leave nothing
 * in the receiver's directory.
 */
#include <dirent.h>
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
#include "image.h"
#include "peer.h"

#define KEY_AB "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define KEY_BAD "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

enum evil {
	SEND_GOOD,
	SEND_TRUNCATE_CLOSE,	/* half the data, then the connection closes */
	SEND_TRUNCATE_END,	/* half the data, then IMAGE_END */
	SEND_CORRUPT,		/* one bit flipped in one data message */
	SEND_TRAVERSAL,		/* a manifest entry named "../escaped" */
	SEND_ABSOLUTE,		/* a manifest entry named "/tmp/x" */
	SEND_SUBDIR,		/* a manifest entry named "a/b" */
	SEND_OVERSIZE,		/* more data than the manifest says */
};

struct tcase {
	const char *name;
	const char *client_node;	/* our node name */
	const char *client_key;		/* the key we use for nodeB */
	uint16_t wire_version;		/* 0: ours */
	enum evil evil;
	struct image_limits limits;	/* the receiver's */
	bool symlink_in_image;
	bool target_exists;
	int want_client;		/* expected error of the sender (0 ok, 1 any) */
	int want_server;		/* expected error of the receiver */
	/* certificates instead of a PSK (client_key NULL): which cert each side shows */
	const char *client_cert;
	const char *server_cert;
};

static char work[256];
static int failures;
static bool have_pki;

static void make_file(const char *dir, const char *name, size_t size, unsigned seed)
{
	char path[512];
	uint8_t *buf = malloc(size ? size : 1);
	int fd;

	for (size_t i = 0; i < size; i++)
		buf[i] = (uint8_t)((i * 2654435761u + seed) >> 13);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, buf, size) != (ssize_t)size)
		abort();
	close(fd);
	free(buf);
}

static void make_image(const char *dir)
{
	mkdir(dir, 0700);
	make_file(dir, "inventory.img", 0, 1);
	make_file(dir, "core-1.img", 1234, 2);
	make_file(dir, "pages-1.img", 3u << 20, 3);
	make_file(dir, "pagemap-1.img", PEER_CHUNK_MAX, 4);
	make_file(dir, "mm-1.img", PEER_CHUNK_MAX + 1, 5);
}

static bool same_file(const char *a, const char *b)
{
	char cmd[1100];

	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", a, b);
	return system(cmd) == 0;
}

static bool image_equal(const char *src, const char *dst)
{
	const char *names[] = { "inventory.img", "core-1.img", "pages-1.img", "pagemap-1.img",
				"mm-1.img" };
	char a[512], b[512];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(a, sizeof(a), "%s/%s", src, names[i]);
		snprintf(b, sizeof(b), "%s/%s", dst, names[i]);
		if (!same_file(a, b))
			return false;
	}
	return true;
}

/* Entries in dir other than the ones we put there ourselves. */
static int count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/*
 * A CA, certificates for nodeA, nodeB and nodeC signed by it, and one for
 * nodeA signed by another CA ("rogue"); false if openssl is missing.
 */
static bool make_pki(void)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd),
		 "set -e; command -v openssl >/dev/null; mkdir -p %1$s/pki; cd %1$s/pki; "
		 "for ca in ca otherca; do openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
		 "-nodes -keyout $ca.key -out $ca.crt -subj /CN=$ca -days 2 2>/dev/null; done; "
		 "mk() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $1.key "
		 "-out $1.csr -subj /CN=$2 2>/dev/null; printf 'subjectAltName=DNS:%%s\n' $2 > $1.ext; "
		 "openssl x509 -req -in $1.csr -CA $3.crt -CAkey $3.key -CAcreateserial -out $1.crt "
		 "-days 2 -extfile $1.ext 2>/dev/null; }; "
		 "mk nodeA nodeA ca; mk nodeB nodeB ca; mk nodeC nodeC ca; mk rogue nodeA otherca",
		 work);
	return system(cmd) == 0;
}

static int make_ctx(const char *node, const char *peer, const char *key, const char *cert,
		    struct peer_ctx **ret)
{
	char crt[300], pem[300], ca[300];
	struct peer_key k = { 0 };
	struct peer_tls_config cfg = { .node_name = node, .peers = &k, .n_peers = 1,
				       .timeout_ms = 10000 };

	snprintf(k.name, sizeof(k.name), "%s", peer);
	if (key) {
		if (peer_psk_parse(key, k.psk) < 0)
			abort();
		k.has_psk = true;
	} else {
		snprintf(crt, sizeof(crt), "%s/pki/%s.crt", work, cert);
		snprintf(pem, sizeof(pem), "%s/pki/%s.key", work, cert);
		snprintf(ca, sizeof(ca), "%s/pki/ca.crt", work);
		cfg.cert_file = crt;
		cfg.key_file = pem;
		cfg.ca_file = ca;
	}
	return peer_ctx_new(&cfg, ret);
}

/* The receiver: one connection, one image into work/recv/img. */
static int serve_one(int lfd, const struct tcase *tc)
{
	struct peer_ctx *ctx;
	struct peer_conn *conn;
	int dfd, r;

	if (make_ctx("nodeB", "nodeA", tc->client_key ? KEY_AB : NULL, tc->server_cert, &ctx) < 0)
		return 100;
	r = peer_accept(ctx, lfd, &conn);
	if (r < 0)
		goto out;
	dfd = open(strcat(strcpy((char[300]){ 0 }, work), "/recv"), O_RDONLY | O_DIRECTORY);
	r = image_recv(conn, dfd, "img", &tc->limits, NULL, NULL);
	if (r == 0) {
		uint8_t ok[14] = { 0 };	/* RESULT(0, RECEIVED, 0, "") */

		ok[4] = PEER_STAGE_RECEIVED;
		r = peer_send(conn, PEER_MSG_RESULT, ok, sizeof(ok));
	}
	close(dfd);
	peer_conn_free(conn);
out:
	peer_ctx_free(ctx);
	return -r;
}

static int send_data(struct peer_conn *conn, uint32_t index, uint64_t off, const uint8_t *p,
		     size_t n)
{
	struct wire_out w;
	int r;

	if (wire_out_init(&w, n + 12) < 0)
		return -ENOMEM;
	wire_put_u32(&w, index);
	wire_put_u64(&w, off);
	wire_put_bytes(&w, p, n);
	r = peer_send(conn, PEER_MSG_IMAGE_DATA, w.buf, w.len);
	wire_out_free(&w);
	return r;
}

static int read_whole(int dirfd, const char *name, uint8_t **ret, size_t *ret_len)
{
	struct stat st;
	int fd = openat(dirfd, name, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	*ret = malloc(st.st_size + 1);
	*ret_len = st.st_size;
	if (read(fd, *ret, st.st_size) != st.st_size)
		abort();
	close(fd);
	return 0;
}

/* A sender that breaks the protocol on purpose, built on the same codec. */
static int send_evil(struct peer_conn *conn, int dirfd, enum evil evil)
{
	char real_name[PEER_IMAGE_NAME_MAX + 1];
	struct image_manifest *m;
	struct wire_out w;
	int r;

	r = image_manifest_scan(dirfd, "app", &m);
	if (r < 0)
		return r;
	snprintf(real_name, sizeof(real_name), "%s", m->files[0].name);
	if (evil == SEND_TRAVERSAL || evil == SEND_ABSOLUTE || evil == SEND_SUBDIR) {
		const char *bad = evil == SEND_TRAVERSAL ? "../escaped"
				  : evil == SEND_ABSOLUTE ? "/tmp/x" : "a/b";

		snprintf(m->files[0].name, sizeof(m->files[0].name), "%s", bad);
		image_manifest_seal(m);
	}
	r = image_manifest_encode(m, &w);
	if (r == 0)
		r = peer_send(conn, PEER_MSG_IMAGE_MANIFEST, w.buf, w.len);
	wire_out_free(&w);
	for (uint32_t i = 0; r == 0 && i < m->n_files; i++) {
		uint8_t *buf = NULL;
		size_t len = 0, half;

		if (m->files[i].size == 0)
			continue;
		r = read_whole(dirfd, i == 0 ? real_name : m->files[i].name, &buf, &len);
		if (r < 0)
			break;
		half = len / 2;
		if (evil == SEND_CORRUPT && strcmp(m->files[i].name, "pages-1.img") == 0)
			buf[len / 3] ^= 0x10;
		if ((evil == SEND_TRUNCATE_CLOSE || evil == SEND_TRUNCATE_END) &&
		    strcmp(m->files[i].name, "pages-1.img") == 0) {
			for (size_t off = 0; r == 0 && off < half; off += PEER_CHUNK_MAX)
				r = send_data(conn, i, off, buf + off,
					      half - off < PEER_CHUNK_MAX ? half - off : PEER_CHUNK_MAX);
			free(buf);
			break;
		}
		for (size_t off = 0; r == 0 && off < len; off += PEER_CHUNK_MAX)
			r = send_data(conn, i, off, buf + off,
				      len - off < PEER_CHUNK_MAX ? len - off : PEER_CHUNK_MAX);
		if (r == 0 && evil == SEND_OVERSIZE)
			r = send_data(conn, i, len, buf, 1);
		free(buf);
	}
	if (r == 0 && evil != SEND_TRUNCATE_CLOSE) {
		struct wire_out we;

		r = image_end_encode(m, &we);
		if (r == 0)
			r = peer_send(conn, PEER_MSG_IMAGE_END, we.buf, we.len);
		wire_out_free(&we);
	}
	image_manifest_free(m);
	return r;
}

/* The sender's side: connect, send, read the answer. */
static int client_run(const struct tcase *tc, uint16_t port, const char *src)
{
	struct peer_ctx *ctx;
	struct peer_conn *conn;
	const uint8_t *p;
	size_t len;
	int dirfd, r;

	r = make_ctx(tc->client_node, "nodeB", tc->client_key, tc->client_cert, &ctx);
	if (r < 0)
		return r;
	peer_ctx_set_wire_version(ctx, tc->wire_version);	/* HELLO carries it already */
	r = peer_connect(ctx, "nodeB", "127.0.0.1", port, &conn);
	if (r < 0)
		goto out;
	dirfd = open(src, O_RDONLY | O_DIRECTORY);
	if (tc->evil == SEND_GOOD)
		r = image_send(conn, dirfd, "app", NULL);
	else
		r = send_evil(conn, dirfd, tc->evil);
	close(dirfd);
	if (r == 0 && tc->evil != SEND_TRUNCATE_CLOSE)
		r = peer_recv_type(conn, PEER_MSG_RESULT, &p, &len);
	peer_conn_free(conn);
out:
	peer_ctx_free(ctx);
	return r;
}

static void check(bool ok, const struct tcase *tc, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "FAIL %s: %s\n", tc->name, what);
	failures++;
}

static void run_case(const struct tcase *tc)
{
	char src[300], recv[300], img[320], escaped[320];
	uint16_t port;
	int lfd, status, rc;
	pid_t pid;

	snprintf(src, sizeof(src), "%s/src-%s", work, tc->name);
	snprintf(recv, sizeof(recv), "%s/recv", work);
	snprintf(img, sizeof(img), "%s/recv/img", work);
	snprintf(escaped, sizeof(escaped), "%s/escaped", work);
	(void)!system(strcat(strcpy((char[400]){ 0 }, "rm -rf "), recv));
	mkdir(recv, 0700);
	make_image(src);
	if (tc->symlink_in_image)
		(void)!symlink("/etc/passwd", strcat(strcpy((char[400]){ 0 }, src), "/link.img"));
	if (tc->target_exists) {
		mkdir(img, 0700);
		make_file(img, "keep", 10, 9);
	}
	if (peer_listen("127.0.0.1", 0, &lfd, &port) < 0)
		abort();
	pid = fork();
	if (pid == 0)
		_exit(serve_one(lfd, tc));
	close(lfd);
	rc = client_run(tc, port, src);
	waitpid(pid, &status, 0);

	fprintf(stderr, "case %s: sender %d (%s), receiver %d\n", tc->name, rc, strerror(-rc),
		WIFEXITED(status) ? -WEXITSTATUS(status) : -1000 - WTERMSIG(status));
	if (tc->want_client == 1)
		check(rc < 0, tc, "the sender did not see a failure");
	else
		check(rc == tc->want_client, tc, "unexpected sender result");
	check(WIFEXITED(status) && -WEXITSTATUS(status) == tc->want_server, tc,
		      "unexpected receiver result");
	check(access(escaped, F_OK) != 0, tc, "a file escaped the receive directory");
	if (tc->want_server == 0)
		check(image_equal(src, img), tc, "received image differs");
	else if (tc->target_exists)
		check(count_entries(img) == 1, tc, "an existing directory was changed");
	else
		check(count_entries(recv) == 0, tc, "a partial image was left behind");
	(void)!system(strcat(strcpy((char[400]){ 0 }, "rm -rf "), src));
}

static const struct tcase cases[] = {
	{ "good", "nodeA", KEY_AB, 0, SEND_GOOD, { 0 }, false, false, 0, 0 },
	{ "wrong-key", "nodeA", KEY_BAD, 0, SEND_GOOD, { 0 }, false, false, -EKEYREJECTED,
	  -EKEYREJECTED },
	{ "unknown-node", "mallory", KEY_AB, 0, SEND_GOOD, { 0 }, false, false, -EKEYREJECTED,
	  -EKEYREJECTED },
	{ "other-version", "nodeA", KEY_AB, 2, SEND_GOOD, { 0 }, false, false, -EPROTONOSUPPORT,
	  -EPROTONOSUPPORT },
	{ "truncated-close", "nodeA", KEY_AB, 0, SEND_TRUNCATE_CLOSE, { 0 }, false, false, 0,
	  -ECONNRESET },
	{ "truncated-end", "nodeA", KEY_AB, 0, SEND_TRUNCATE_END, { 0 }, false, false, -EBADMSG,
	  -EBADMSG },
	{ "corrupted", "nodeA", KEY_AB, 0, SEND_CORRUPT, { 0 }, false, false, -EBADMSG, -EBADMSG },
	{ "oversize-data", "nodeA", KEY_AB, 0, SEND_OVERSIZE, { 0 }, false, false, -EBADMSG,
	  -EBADMSG },
	{ "traversal", "nodeA", KEY_AB, 0, SEND_TRAVERSAL, { 0 }, false, false, -EBADMSG, -EBADMSG },
	{ "absolute", "nodeA", KEY_AB, 0, SEND_ABSOLUTE, { 0 }, false, false, -EBADMSG, -EBADMSG },
	{ "subdir", "nodeA", KEY_AB, 0, SEND_SUBDIR, { 0 }, false, false, -EBADMSG, -EBADMSG },
	{ "too-many-files", "nodeA", KEY_AB, 0, SEND_GOOD, { .max_files = 4 }, false, false, -E2BIG,
	  -E2BIG },
	{ "too-large-file", "nodeA", KEY_AB, 0, SEND_GOOD, { .max_file = 1u << 20 }, false, false,
	  -EFBIG, -EFBIG },
	{ "too-large-image", "nodeA", KEY_AB, 0, SEND_GOOD, { .max_total = 2u << 20 }, false, false,
	  -EFBIG, -EFBIG },
	{ "symlink-in-image", "nodeA", KEY_AB, 0, SEND_GOOD, { 0 }, true, false, -EINVAL,
	  -ECONNRESET },
	{ "target-exists", "nodeA", KEY_AB, 0, SEND_GOOD, { 0 }, false, true, -EEXIST, -EEXIST },
	{ "certs", "nodeA", NULL, 0, SEND_GOOD, { 0 }, false, false, 0, 0, "nodeA", "nodeB" },
	{ "certs-other-ca", "nodeA", NULL, 0, SEND_GOOD, { 0 }, false, false, -EKEYREJECTED,
	  -EKEYREJECTED, "rogue", "nodeB" },
	{ "certs-wrong-server", "nodeA", NULL, 0, SEND_GOOD, { 0 }, false, false, -EKEYREJECTED,
	  -EKEYREJECTED, "nodeA", "nodeC" },
	{ "certs-wrong-client", "nodeA", NULL, 0, SEND_GOOD, { 0 }, false, false, -EPERM, -EPERM,
	  "nodeC", "nodeB" },
};

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;

	log_setup("test-peer-image");
	snprintf(work, sizeof(work), "/tmp/lb-peer-image.XXXXXX");
	if (!mkdtemp(work))
		return 1;
	have_pki = make_pki();
	if (!have_pki)
		fprintf(stderr, "openssl cannot make certificates: certificate cases skipped\n");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if ((!only || strcmp(only, cases[i].name) == 0) && (cases[i].client_key || have_pki))
			run_case(&cases[i]);
	if (failures == 0)
		(void)!system(strcat(strcpy((char[400]){ 0 }, "rm -rf "), work));
	else
		fprintf(stderr, "%d failure(s); work dir kept: %s\n", failures, work);
	return failures ? 1 : 0;
}
