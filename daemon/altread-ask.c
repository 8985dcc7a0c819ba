// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * altread-ask.c - the asking side of the alternate read path: lifeboatfs
 * of an absorbing mount asks on state_dir/altread.sock for bytes the store
 * holds; this thread asks the first configured peer (ALT_READ) and answers.
 *
 * A thread of its own with its own TLS context: the main loop may be busy
 * for a second or more with a handoff (CRIU's dump reads files too), and
 * a read of the application must not wait for it. One request at a time
 * on one peer connection, kept between requests (the peer closes it after
 * a while without any, or after a refusal: a request on a kept connection
 * that fails is asked again once on a new one); every step has a short
 * timeout, and any failure is answered as an errno so lifeboatfs holds as
 * before.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define LOG_PREFIX "altread: "
#include "lifeboat/altread-proto.h"
#include "lifeboat/log.h"
#include "altread.h"
#include "lifeboatd.h"

#define ALTREAD_PEER_TIMEOUT_MS 1000
#define ALTREAD_CLIENT_TIMEOUT_MS 2000

struct asker {
	const struct config *cfg;
	struct peer_ctx *ctx;
	struct peer_conn *conn;		/* kept between requests, or NULL */
	int listen_fd;
};

struct alt_ask {
	struct altread_req q;
	char mount[ALTREAD_PATH_MAX + 1];
	char path[ALTREAD_PATH_MAX + 1];
};

static int ctx_from_config(const struct config *cfg, struct peer_ctx **ret)
{
	struct peer_key keys[CONFIG_PEERS_MAX] = { 0 };
	struct peer_tls_config tc = { .node_name = cfg->node_name, .peers = keys,
				      .n_peers = cfg->n_peers, .timeout_ms = ALTREAD_PEER_TIMEOUT_MS };
	int r = 0;

	for (unsigned i = 0; i < cfg->n_peers && r == 0; i++) {
		snprintf(keys[i].name, sizeof(keys[i].name), "%s", cfg->peers[i].name);
		if (cfg->peers[i].psk_hex[0]) {
			r = peer_psk_parse(cfg->peers[i].psk_hex, keys[i].psk);
			keys[i].has_psk = r == 0;
		}
	}
	if (cfg->cert_file[0]) {
		tc.cert_file = cfg->cert_file;
		tc.key_file = cfg->key_file;
		tc.ca_file = cfg->ca_file;
	}
	if (r == 0)
		r = peer_ctx_new(&tc, ret);
	explicit_bzero(keys, sizeof(keys));
	return r;
}

static int read_all(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = recv(fd, (char *)buf + done, len - done, MSG_WAITALL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ECONNRESET;
		done += (size_t)n;
	}
	return 0;
}

static int ask_read(int fd, struct alt_ask *a)
{
	struct altread_req *q = &a->q;
	int r;

	r = read_all(fd, q, sizeof(*q));
	if (r < 0)
		return r;
	if (q->magic != ALTREAD_MAGIC || q->version != ALTREAD_VERSION || q->mount_len == 0 ||
	    q->mount_len > ALTREAD_PATH_MAX || q->path_len == 0 || q->path_len > ALTREAD_PATH_MAX ||
	    q->length == 0 || q->length > ALTREAD_LEN_MAX)
		return log_error_errno(-EBADMSG, "malformed request on the alternate read socket");
	r = read_all(fd, a->mount, q->mount_len);
	if (r == 0)
		r = read_all(fd, a->path, q->path_len);
	a->mount[q->mount_len] = a->path[q->path_len] = '\0';
	if (r == 0 && (strlen(a->mount) != q->mount_len || strlen(a->path) != q->path_len))
		r = log_error_errno(-EBADMSG, "a path with a NUL on the alternate read socket");
	return r;
}

/*
 * The configured path of the mount lifeboatfs names (it names its mount
 * point resolved by realpath(3), the config may name it through a symlink);
 * the peer knows the mount by the configured path, the same on both nodes.
 */
static const char *configured_mount(const struct config *cfg, const char *mount)
{
	char real[PATH_MAX];

	for (unsigned i = 0; i < cfg->n_mounts; i++)
		if (strcmp(cfg->mounts[i].path, mount) == 0)
			return cfg->mounts[i].path;
	for (unsigned i = 0; i < cfg->n_mounts; i++)
		if (realpath(cfg->mounts[i].path, real) && strcmp(real, mount) == 0)
			return cfg->mounts[i].path;
	return NULL;
}

/* Asks the peer on conn; *ret_data points into the connection's buffer. */
static int ask_on(struct peer_conn *conn, const struct alt_ask *a, const uint8_t **ret_data,
		  size_t *ret_len)
{
	struct wire_out w;
	int r;

	r = wire_out_init(&w, 2 * PEER_PATH_MAX + 32);
	if (r == 0) {
		wire_put_str(&w, a->mount);
		wire_put_str(&w, a->path);
		wire_put_u64(&w, a->q.offset);
		wire_put_u32(&w, a->q.length);
		wire_put_u64(&w, a->q.ino);
		r = wire_put_done(&w);
		if (r == 0)
			r = peer_send(conn, PEER_MSG_ALT_READ, w.buf, w.len);
		wire_out_free(&w);
	}
	if (r == 0)
		r = peer_recv_type(conn, PEER_MSG_ALT_DATA, ret_data, ret_len);
	if (r == 0 && *ret_len > a->q.length)
		r = log_error_errno(-EBADMSG, "peer '%s' answered %zu bytes for %u",
				    peer_conn_name(conn), *ret_len, a->q.length);
	return r;
}

/* On the kept connection, else (or when that fails) on a new one. */
static int ask_peer(struct asker *s, const struct alt_ask *a, const uint8_t **ret_data,
		    size_t *ret_len)
{
	const struct config_peer *peer = &s->cfg->peers[0];
	int r;

	if (s->conn) {
		r = ask_on(s->conn, a, ret_data, ret_len);
		if (r == 0)
			return 0;
		peer_conn_free(s->conn);
		s->conn = NULL;
	}
	r = peer_connect(s->ctx, peer->name, peer->host, peer->port, &s->conn);
	if (r < 0)
		return r;
	r = ask_on(s->conn, a, ret_data, ret_len);
	if (r < 0) {
		peer_conn_free(s->conn);
		s->conn = NULL;
	}
	return r;
}

static void answer(int fd, int err, const uint8_t *data, size_t len)
{
	struct altread_reply a = { .magic = ALTREAD_MAGIC, .err = (uint32_t)-err,
				   .length = err ? 0 : (uint32_t)len };

	if (send(fd, &a, sizeof(a), MSG_NOSIGNAL) == (ssize_t)sizeof(a) && a.length)
		(void)send(fd, data, len, MSG_NOSIGNAL);
}

static void serve_client(struct asker *s, int fd)
{
	struct timeval tv = { .tv_sec = ALTREAD_CLIENT_TIMEOUT_MS / 1000 };
	const uint8_t *data = NULL;
	struct alt_ask a;
	size_t len = 0;
	int r;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	r = ask_read(fd, &a);
	if (r == 0) {
		const char *m = configured_mount(s->cfg, a.mount);

		if (m)
			snprintf(a.mount, sizeof(a.mount), "%s", m);
		else
			r = log_error_errno(-EPERM, "'%s' is not a configured mount: not asking the peer",
					    a.mount);
	}
	if (r == 0)
		r = ask_peer(s, &a, &data, &len);
	if (r == 0)
		log_debug("'%s' at %llu: %zu bytes from the peer", a.path,
			  (unsigned long long)a.q.offset, len);
	answer(fd, r, data, len);
}

static void *asker_main(void *arg)
{
	struct asker *s = arg;

	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EINTR && errno != ECONNABORTED)
				usleep(100000);	/* out of fds: do not spin */
			continue;
		}
		serve_client(s, fd);
		close(fd);
	}
	return NULL;
}

static int listen_unix(const char *path, int *ret_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return log_error_errno(-ENAMETOOLONG, "'%s' is too long for a unix socket", path);
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 16) < 0) {
		int r = log_error_errno(-errno, "cannot listen on '%s'", path);

		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

int altread_start(struct lifeboatd *d)
{
	static struct asker s;
	char path[PATH_MAX];
	pthread_attr_t attr;
	pthread_t t;
	int r;

	if (d->cfg.n_peers == 0 || d->cfg.n_mounts == 0)
		return 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", d->cfg.state_dir, ALTREAD_SOCKET_NAME) >=
	    sizeof(path))
		return log_error_errno(-ENAMETOOLONG, "state_dir '%s' is too long", d->cfg.state_dir);
	s.cfg = &d->cfg;
	r = ctx_from_config(&d->cfg, &s.ctx);
	if (r < 0)
		return log_error_errno(r, "no peer channel for alternate reads");
	r = listen_unix(path, &s.listen_fd);
	if (r < 0)
		return r;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = -pthread_create(&t, &attr, asker_main, &s);
	pthread_attr_destroy(&attr);
	if (r < 0) {
		close(s.listen_fd);
		return log_error_errno(r, "cannot start the alternate read thread");
	}
	log_info("alternate reads on '%s' go to peer '%s'", path, d->cfg.peers[0].name);
	return 0;
}
