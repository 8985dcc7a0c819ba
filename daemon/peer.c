// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * peer.c - the channel between two lifeboatd nodes: TCP, TLS 1.3 (OpenSSL)
 * authenticated by a pre-shared key per peer or by mutual certificates,
 * then messages framed by include/lifeboat/peer-proto.h.
 *
 * Why TLS 1.3 external PSKs: each pair of nodes shares one 256-bit key from
 * the config; the client's PSK identity is its node name, the server finds
 * the key by that name, and a handshake only completes when both hold the
 * same key (the PSK binder). With psk_dhe_ke (OpenSSL's default) the session
 * keys still come from an ephemeral (EC)DH exchange: forward secrecy.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define LOG_PREFIX "peer: "
#include "lifeboat/log.h"
#include "peer.h"

#define PEER_DEFAULT_TIMEOUT_MS 30000

/* TLS_AES_128_GCM_SHA256: the suite every TLS 1.3 stack has. */
static const unsigned char tls13_aes128gcm_sha256[] = { 0x13, 0x01 };

struct peer_ctx {
	SSL_CTX *ssl_ctx;
	char node_name[PEER_NAME_MAX + 1];
	struct peer_key *peers;
	size_t n_peers;
	bool certs;
	int timeout_ms;
	uint16_t wire_version;	/* test hook, 0: PEER_PROTO_VERSION */
	char last_error[PEER_TEXT_MAX + 128];	/* what the last peer failure was */
};

struct peer_conn {
	struct peer_ctx *ctx;
	SSL *ssl;
	int fd;
	bool server;
	bool refused;		/* we sent ERROR: linger at close so the peer reads it */
	char want[PEER_NAME_MAX + 1];		/* client: the peer we meant to reach */
	char psk_identity[PEER_NAME_MAX + 1];	/* server: what the client claimed */
	char name[PEER_NAME_MAX + 1];		/* authenticated remote node */
	char addr[INET6_ADDRSTRLEN + 8];
	uint8_t *buf;
	size_t buf_cap;
	uint16_t last_type;	/* of the message in buf */
	size_t last_len;
	bool again;		/* peer_recv_again(): hand it out once more */
};

static const struct peer_key *ctx_find_peer(const struct peer_ctx *ctx, const char *name,
					    size_t len)
{
	for (size_t i = 0; i < ctx->n_peers; i++)
		if (strlen(ctx->peers[i].name) == len && memcmp(ctx->peers[i].name, name, len) == 0)
			return &ctx->peers[i];
	return NULL;
}

/* The first queued OpenSSL reason, for messages; clears the queue. */
static const char *tls_reason(char *buf, size_t size)
{
	unsigned long e = ERR_get_error();

	if (!e)
		snprintf(buf, size, "connection closed during the handshake");
	else
		ERR_error_string_n(e, buf, size);
	ERR_clear_error();
	return buf;
}

int peer_psk_parse(const char *hex, uint8_t ret_psk[PEER_PSK_LEN])
{
	uint8_t key[PEER_PSK_LEN];

	if (strlen(hex) != 2 * PEER_PSK_LEN)
		return -EINVAL;
	for (size_t i = 0; i < PEER_PSK_LEN; i++) {
		char pair[3] = { hex[2 * i], hex[2 * i + 1], '\0' };
		char *end;
		unsigned long v = strtoul(pair, &end, 16);

		if (*end || !isxdigit((unsigned char)pair[0]))
			return -EINVAL;
		key[i] = (uint8_t)v;
	}
	memcpy(ret_psk, key, PEER_PSK_LEN);
	return 0;
}

/* ------------------------------------------------------------------ PSK callbacks */

static SSL_SESSION *psk_session_new(SSL *ssl, const uint8_t *psk)
{
	const SSL_CIPHER *cipher = SSL_CIPHER_find(ssl, tls13_aes128gcm_sha256);
	SSL_SESSION *sess;

	if (!cipher)
		return NULL;
	sess = SSL_SESSION_new();
	if (!sess)
		return NULL;
	if (!SSL_SESSION_set1_master_key(sess, psk, PEER_PSK_LEN) ||
	    !SSL_SESSION_set_cipher(sess, cipher) ||
	    !SSL_SESSION_set_protocol_version(sess, TLS1_3_VERSION)) {
		SSL_SESSION_free(sess);
		return NULL;
	}
	return sess;
}

/* Client: offer the key we share with the peer we are connecting to. */
static int psk_use_session(SSL *ssl, const EVP_MD *md, const unsigned char **ret_id,
			   size_t *ret_idlen, SSL_SESSION **ret_sess)
{
	struct peer_conn *conn = SSL_get_app_data(ssl);
	const struct peer_key *key = ctx_find_peer(conn->ctx, conn->want, strlen(conn->want));
	const SSL_CIPHER *cipher = SSL_CIPHER_find(ssl, tls13_aes128gcm_sha256);

	*ret_sess = NULL;
	*ret_id = NULL;
	*ret_idlen = 0;
	if (!key || !key->has_psk || !cipher)
		return 1;	/* no PSK: certificates, if configured */
	/* after a HelloRetryRequest the suite's hash must match ours */
	if (md && md != SSL_CIPHER_get_handshake_digest(cipher))
		return 1;
	*ret_sess = psk_session_new(ssl, key->psk);
	if (!*ret_sess)
		return 0;
	*ret_id = (const unsigned char *)conn->ctx->node_name;
	*ret_idlen = strlen(conn->ctx->node_name);
	return 1;
}

/* Server: find the key of the node the client says it is. */
static int psk_find_session(SSL *ssl, const unsigned char *id, size_t idlen,
			    SSL_SESSION **ret_sess)
{
	struct peer_conn *conn = SSL_get_app_data(ssl);
	const struct peer_key *key = ctx_find_peer(conn->ctx, (const char *)id, idlen);

	*ret_sess = NULL;
	snprintf(conn->psk_identity, sizeof(conn->psk_identity), "%.*s",
		 (int)(idlen < PEER_NAME_MAX ? idlen : PEER_NAME_MAX), (const char *)id);
	if (!key || !key->has_psk)
		return 1;	/* unknown: the handshake fails unless certificates apply */
	*ret_sess = psk_session_new(ssl, key->psk);
	return *ret_sess ? 1 : 0;
}

/* ------------------------------------------------------------------ context */

static int ctx_load_certs(struct peer_ctx *ctx, const struct peer_tls_config *cfg)
{
	char reason[256];

	if (!cfg->cert_file && !cfg->key_file && !cfg->ca_file)
		return 0;
	if (!cfg->cert_file || !cfg->key_file || !cfg->ca_file)
		return log_error_errno(-EINVAL, "certificates need a certificate, a key and a CA file");
	if (SSL_CTX_use_certificate_chain_file(ctx->ssl_ctx, cfg->cert_file) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx->ssl_ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx->ssl_ctx) != 1 ||
	    SSL_CTX_load_verify_locations(ctx->ssl_ctx, cfg->ca_file, NULL) != 1)
		return log_error_errno(-EINVAL, "cannot load certificate '%s', key '%s', CA '%s': %s",
				       cfg->cert_file, cfg->key_file, cfg->ca_file,
				       tls_reason(reason, sizeof(reason)));
	SSL_CTX_set_verify(ctx->ssl_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	ctx->certs = true;
	return 0;
}

static int ctx_check_config(const struct peer_tls_config *cfg)
{
	if (!cfg->node_name || !*cfg->node_name || strlen(cfg->node_name) > PEER_NAME_MAX)
		return log_error_errno(-EINVAL, "node name must be 1 to %u bytes", PEER_NAME_MAX);
	if (cfg->n_peers > 1024)
		return log_error_errno(-EINVAL, "too many peers (%zu)", cfg->n_peers);
	return 0;
}

int peer_ctx_new(const struct peer_tls_config *cfg, struct peer_ctx **ret_ctx)
{
	struct peer_ctx *ctx;
	int r;

	r = ctx_check_config(cfg);
	if (r < 0)
		return r;
	/* a peer that goes away mid-write must give EPIPE, not kill the daemon */
	signal(SIGPIPE, SIG_IGN);
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	snprintf(ctx->node_name, sizeof(ctx->node_name), "%s", cfg->node_name);
	ctx->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : PEER_DEFAULT_TIMEOUT_MS;
	ctx->n_peers = cfg->n_peers;
	ctx->peers = calloc(cfg->n_peers ? cfg->n_peers : 1, sizeof(*ctx->peers));
	ctx->ssl_ctx = SSL_CTX_new(TLS_method());
	if (!ctx->peers || !ctx->ssl_ctx) {
		r = -ENOMEM;
		goto out_free;
	}
	if (cfg->n_peers)
		memcpy(ctx->peers, cfg->peers, cfg->n_peers * sizeof(*ctx->peers));
	SSL_CTX_set_min_proto_version(ctx->ssl_ctx, TLS1_3_VERSION);
	/* a PSK is bound to one hash: offer only the SHA-256 suites, or the
	 * server picks AES-256/SHA-384 first and ignores the key */
	SSL_CTX_set_ciphersuites(ctx->ssl_ctx, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256");
	SSL_CTX_set_num_tickets(ctx->ssl_ctx, 0);	/* no resumption: every connection authenticates */
	SSL_CTX_set_mode(ctx->ssl_ctx, SSL_MODE_AUTO_RETRY);
	SSL_CTX_set_psk_use_session_callback(ctx->ssl_ctx, psk_use_session);
	SSL_CTX_set_psk_find_session_callback(ctx->ssl_ctx, psk_find_session);
	r = ctx_load_certs(ctx, cfg);
	if (r < 0)
		goto out_free;
	*ret_ctx = ctx;
	return 0;

out_free:
	peer_ctx_free(ctx);
	return r;
}

void peer_ctx_free(struct peer_ctx *ctx)
{
	if (!ctx)
		return;
	SSL_CTX_free(ctx->ssl_ctx);
	if (ctx->peers)
		OPENSSL_cleanse(ctx->peers, ctx->n_peers * sizeof(*ctx->peers));
	free(ctx->peers);
	free(ctx);
}

/* ------------------------------------------------------------------ sockets */

static void fd_set_timeout(int fd, int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	int one = 1;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int addr_resolve(const char *addr, uint16_t port, struct addrinfo **ret_ai)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
	char service[8];
	int r;

	snprintf(service, sizeof(service), "%u", port);
	r = getaddrinfo(addr, service, &hints, ret_ai);
	if (r != 0)
		return log_error_errno(-EINVAL, "bad address '%s' (a numeric IPv4 or IPv6 address): %s",
				       addr, gai_strerror(r));
	return 0;
}

int peer_listen(const char *addr, uint16_t port, int *ret_fd, uint16_t *ret_port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct addrinfo *ai;
	int fd, one = 1, r;

	r = addr_resolve(addr, port, &ai);
	if (r < 0)
		return r;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		r = log_error_errno(-errno, "cannot listen on '%s' port %u", addr, port);
		close(fd);
		goto out;
	}
	*ret_fd = fd;
	if (ret_port)
		*ret_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							   : ((struct sockaddr_in *)&ss)->sin_port);
out:
	freeaddrinfo(ai);
	return r;
}

static int tcp_connect(const char *addr, uint16_t port, int timeout_ms, int *ret_fd)
{
	struct addrinfo *ai;
	int fd = -1, r;

	r = addr_resolve(addr, port, &ai);
	if (r < 0)
		return r;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	fd_set_timeout(fd, timeout_ms);	/* SO_SNDTIMEO bounds connect() too */
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		r = errno == EINPROGRESS || errno == EAGAIN ? -ETIMEDOUT : -errno;
		close(fd);
		goto out;
	}
	*ret_fd = fd;
out:
	freeaddrinfo(ai);
	return r;
}

/* ------------------------------------------------------------------ connections */

static int conn_new(struct peer_ctx *ctx, int fd, bool server, struct peer_conn **ret_conn)
{
	struct peer_conn *conn = calloc(1, sizeof(*conn));

	if (!conn)
		return -ENOMEM;
	conn->ctx = ctx;
	conn->fd = fd;
	conn->server = server;
	conn->ssl = SSL_new(ctx->ssl_ctx);
	if (!conn->ssl || !SSL_set_fd(conn->ssl, fd)) {
		SSL_free(conn->ssl);
		free(conn);
		return -ENOMEM;
	}
	SSL_set_app_data(conn->ssl, conn);
	fd_set_timeout(fd, ctx->timeout_ms);
	*ret_conn = conn;
	return 0;
}

/*
 * After a refusal the peer may still be sending (a large image): closing
 * with unread data would reset the connection and lose our ERROR on its
 * side. So stop writing and read until it closes, for a bounded time.
 */
static void conn_linger(struct peer_conn *conn)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200 * 1000 };
	struct timespec start, now;
	uint8_t sink[65536];

	if (shutdown(conn->fd, SHUT_WR) < 0)
		return;
	(void)setsockopt(conn->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		ssize_t n = read(conn->fd, sink, sizeof(sink));

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - start.tv_sec < 5);
}

void peer_conn_free(struct peer_conn *conn)
{
	if (!conn)
		return;
	if (conn->ssl) {
		(void)SSL_shutdown(conn->ssl);
		SSL_free(conn->ssl);
	}
	if (conn->refused && conn->fd >= 0)
		conn_linger(conn);
	if (conn->fd >= 0)
		close(conn->fd);
	free(conn->buf);
	free(conn);
	ERR_clear_error();
}

void peer_conn_set_timeout(struct peer_conn *conn, int timeout_ms)
{
	fd_set_timeout(conn->fd, timeout_ms);
}

const char *peer_conn_name(const struct peer_conn *conn)
{
	return conn->name[0] ? conn->name : conn->want[0] ? conn->want : conn->addr;
}

const char *peer_ctx_last_error(struct peer_ctx *ctx)
{
	return ctx->last_error;
}

void peer_ctx_clear_error(struct peer_ctx *ctx)
{
	ctx->last_error[0] = '\0';
}

void peer_ctx_set_wire_version(struct peer_ctx *ctx, uint16_t version)
{
	ctx->wire_version = version;
}

static int conn_io_error(struct peer_conn *conn, int ret, const char *what)
{
	int e = SSL_get_error(conn->ssl, ret), err = errno;
	char reason[256];

	if (e == SSL_ERROR_SSL &&
	    ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
		e = SSL_ERROR_ZERO_RETURN;	/* closed without close_notify: still a close */
	if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && err == 0) ||
	    (e == SSL_ERROR_SYSCALL && (err == ECONNRESET || err == EPIPE))) {
		ERR_clear_error();
		return log_error_errno(-ECONNRESET, "peer '%s' closed the connection while we %s",
				       peer_conn_name(conn), what);
	}
	if (e == SSL_ERROR_SYSCALL && (err == EAGAIN || err == EWOULDBLOCK))
		return log_error_errno(-ETIMEDOUT, "peer '%s' timed out while we %s",
				       peer_conn_name(conn), what);
	if (e == SSL_ERROR_SYSCALL)
		return log_error_errno(-err, "peer '%s': cannot %s", peer_conn_name(conn), what);
	/* TLS 1.3: a client hears that its certificate was refused only now */
	if (e == SSL_ERROR_SSL && ERR_GET_REASON(ERR_peek_error()) >= SSL_AD_REASON_OFFSET)
		return log_error_errno(-EKEYREJECTED, "peer '%s' refused our credentials: %s",
				       peer_conn_name(conn), tls_reason(reason, sizeof(reason)));
	return log_error_errno(-EPROTO, "peer '%s': TLS error while we %s: %s", peer_conn_name(conn),
			       what, tls_reason(reason, sizeof(reason)));
}

static int conn_write_all(struct peer_conn *conn, const void *buf, size_t len)
{
	size_t done;

	while (len > 0) {
		int ret = SSL_write_ex(conn->ssl, buf, len, &done);

		if (ret <= 0)
			return conn_io_error(conn, ret, "sent");
		buf = (const uint8_t *)buf + done;
		len -= done;
	}
	return 0;
}

static int conn_read_all(struct peer_conn *conn, void *buf, size_t len)
{
	size_t done;

	while (len > 0) {
		int ret = SSL_read_ex(conn->ssl, buf, len, &done);

		if (ret <= 0)
			return conn_io_error(conn, ret, "received");
		buf = (uint8_t *)buf + done;
		len -= done;
	}
	return 0;
}

int peer_send(struct peer_conn *conn, uint16_t type, const void *payload, size_t len)
{
	struct peer_msg_header h = {
		.magic = htole32(PEER_MSG_MAGIC),
		.version = htole16(conn->ctx->wire_version ? conn->ctx->wire_version : PEER_PROTO_VERSION),
		.type = htole16(type),
		.payload_len = htole32((uint32_t)len),
	};
	int r;

	assert(len <= PEER_MSG_MAX);
	r = conn_write_all(conn, &h, sizeof(h));
	if (r < 0)
		return r;
	return conn_write_all(conn, payload, len);
}

int peer_send_error(struct peer_conn *conn, int err, const char *fmt, ...)
{
	char text[PEER_TEXT_MAX + 1];
	struct wire_out w;
	va_list ap;
	int lvl = log_max_level;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (wire_out_init(&w, PEER_TEXT_MAX + 16) < 0)
		return err;
	wire_put_u32(&w, (uint32_t)abs(err));
	wire_put_u16(&w, PEER_PROTO_VERSION);
	wire_put_str(&w, text);
	/* best effort: the peer may be gone already, which is not news */
	log_max_level = LOG_LVL_ERROR - 1;
	conn->refused = true;
	if (wire_put_done(&w) == 0)
		(void)peer_send(conn, PEER_MSG_ERROR, w.buf, w.len);
	log_max_level = lvl;
	wire_out_free(&w);
	return err;
}

static int msg_take_error(struct peer_conn *conn, const uint8_t *p, size_t len)
{
	char text[PEER_TEXT_MAX + 1];
	struct wire_in r;
	uint32_t err;
	uint16_t version;

	wire_in_init(&r, p, len);
	err = wire_get_u32(&r);
	version = wire_get_u16(&r);
	wire_get_str(&r, text, PEER_TEXT_MAX);
	if (wire_get_done(&r) < 0 || err == 0 || err > 4095)
		return log_error_errno(-EBADMSG, "peer '%s' sent a malformed error message",
				       peer_conn_name(conn));
	snprintf(conn->ctx->last_error, sizeof(conn->ctx->last_error), "'%s' refused: %s",
		 peer_conn_name(conn), text);
	return log_error_errno(-(int)err, "peer '%s' (protocol version %u) refused: %s",
			       peer_conn_name(conn), version, text);
}

static int msg_check_header(struct peer_conn *conn, const struct peer_msg_header *h)
{
	uint16_t version = le16toh(h->version);
	uint16_t type = le16toh(h->type);

	if (le32toh(h->magic) != PEER_MSG_MAGIC || le32toh(h->reserved) != 0)
		return log_error_errno(-EBADMSG, "peer '%s' sent a message with a bad header",
				       peer_conn_name(conn));
	if (le32toh(h->payload_len) > PEER_MSG_MAX)
		return log_error_errno(-EBADMSG, "peer '%s' sent a message of %u bytes (limit %u)",
				       peer_conn_name(conn), le32toh(h->payload_len), PEER_MSG_MAX);
	/* ERROR keeps its layout in every version, so a refusal always reads */
	if (version != PEER_PROTO_VERSION && type != PEER_MSG_ERROR) {
		log_error("peer '%s' speaks protocol version %u, this node speaks %u",
			  peer_conn_name(conn), version, PEER_PROTO_VERSION);
		return peer_send_error(conn, -EPROTONOSUPPORT,
				       "protocol version %u not supported, this node speaks %u",
				       version, PEER_PROTO_VERSION);
	}
	return 0;
}

int peer_recv(struct peer_conn *conn, uint16_t *ret_type, const uint8_t **ret_payload,
	      size_t *ret_len)
{
	struct peer_msg_header h;
	uint32_t len;
	int r;

	if (conn->again) {
		conn->again = false;
		*ret_type = conn->last_type;
		*ret_payload = conn->buf;
		*ret_len = conn->last_len;
		return 0;
	}
	r = conn_read_all(conn, &h, sizeof(h));
	if (r < 0)
		return r;
	r = msg_check_header(conn, &h);
	if (r < 0)
		return r;
	len = le32toh(h.payload_len);
	if (len > conn->buf_cap) {
		uint8_t *b = realloc(conn->buf, len);

		if (!b)
			return -ENOMEM;
		conn->buf = b;
		conn->buf_cap = len;
	}
	r = conn_read_all(conn, conn->buf, len);
	if (r < 0)
		return r;
	if (le16toh(h.type) == PEER_MSG_ERROR)
		return msg_take_error(conn, conn->buf, len);
	*ret_type = conn->last_type = le16toh(h.type);
	*ret_payload = conn->buf;
	*ret_len = conn->last_len = len;
	return 0;
}

void peer_recv_again(struct peer_conn *conn)
{
	conn->again = true;
}

int peer_check_refusal(struct peer_conn *conn)
{
	struct pollfd pfd = { .fd = conn->fd, .events = POLLIN };
	const uint8_t *p;
	uint16_t type;
	size_t len;
	int r;

	if (SSL_pending(conn->ssl) == 0 && poll(&pfd, 1, 0) <= 0)
		return 0;
	r = peer_recv(conn, &type, &p, &len);
	if (r < 0)
		return r;
	return log_error_errno(-EBADMSG, "peer '%s' sent message type %u in the middle of a transfer",
			       peer_conn_name(conn), type);
}

int peer_recv_type(struct peer_conn *conn, uint16_t type, const uint8_t **ret_payload,
		   size_t *ret_len)
{
	uint16_t got;
	int r;

	r = peer_recv(conn, &got, ret_payload, ret_len);
	if (r < 0)
		return r;
	if (got != type) {
		log_error("peer '%s' sent message type %u where %u was expected",
			  peer_conn_name(conn), got, type);
		return peer_send_error(conn, -EBADMSG, "unexpected message type %u (expected %u)",
				       got, type);
	}
	return 0;
}

/* ------------------------------------------------------------------ handshake */

static int hello_send(struct peer_conn *conn)
{
	struct wire_out w;
	int r;

	r = wire_out_init(&w, PEER_NAME_MAX + 2);
	if (r < 0)
		return r;
	wire_put_str(&w, conn->ctx->node_name);
	r = wire_put_done(&w);
	if (r == 0)
		r = peer_send(conn, PEER_MSG_HELLO, w.buf, w.len);
	wire_out_free(&w);
	return r;
}

static int hello_recv(struct peer_conn *conn, char *name)
{
	const uint8_t *p;
	struct wire_in r;
	size_t len;
	int ret;

	ret = peer_recv_type(conn, PEER_MSG_HELLO, &p, &len);
	if (ret < 0)
		return ret;
	wire_in_init(&r, p, len);
	wire_get_str(&r, name, PEER_NAME_MAX);
	if (wire_get_done(&r) < 0 || !name[0])
		return peer_send_error(conn, log_error_errno(-EBADMSG, "peer '%s' sent a malformed hello",
							     peer_conn_name(conn)),
				       "malformed hello");
	return 0;
}

/* Which node did the handshake prove the remote to be? name is its HELLO. */
static int conn_check_identity(struct peer_conn *conn, const char *name)
{
	X509 *cert;

	if (SSL_session_reused(conn->ssl)) {	/* TLS 1.3: authenticated by our PSK */
		const char *proven = conn->server ? conn->psk_identity : conn->want;

		return strcmp(proven, name) == 0 ? 0 : -EPERM;
	}
	if (!conn->ctx->certs)
		return -EKEYREJECTED;	/* no PSK and no certificates of ours: nothing proven */
	cert = SSL_get0_peer_certificate(conn->ssl);
	if (!cert || SSL_get_verify_result(conn->ssl) != X509_V_OK)
		return -EKEYREJECTED;
	if (X509_check_host(cert, name, strlen(name), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) != 1)
		return -EPERM;
	if (!ctx_find_peer(conn->ctx, name, strlen(name)))
		return -EPERM;
	return conn->server || strcmp(name, conn->want) == 0 ? 0 : -EPERM;
}

static int conn_handshake(struct peer_conn *conn)
{
	char reason[256], name[PEER_NAME_MAX + 1];
	int ret, r;

	ERR_clear_error();
	ret = conn->server ? SSL_accept(conn->ssl) : SSL_connect(conn->ssl);
	if (ret != 1) {
		int err = errno;

		/* a TLS 1.3 client may have sent data already: read it before the
		 * close, or its kernel gets a reset instead of our alert */
		conn->refused = true;

		if (SSL_get_error(conn->ssl, ret) == SSL_ERROR_SYSCALL && (err == EAGAIN || err == EWOULDBLOCK))
			return log_error_errno(-ETIMEDOUT, "TLS handshake with '%s' timed out",
					       peer_conn_name(conn));
		tls_reason(reason, sizeof(reason));
		snprintf(conn->ctx->last_error, sizeof(conn->ctx->last_error),
			 "TLS handshake with '%s' failed (wrong key, unknown peer or bad certificate): %s",
			 peer_conn_name(conn), reason);
		return log_error_errno(-EKEYREJECTED,
				       "TLS handshake with '%s' failed (identity '%s'; wrong key, unknown peer or bad certificate): %s",
				       peer_conn_name(conn),
				       conn->server ? conn->psk_identity : conn->ctx->node_name,
				       reason);
	}
	if (!conn->server) {
		r = hello_send(conn);
		if (r < 0)
			return r;
	}
	r = hello_recv(conn, name);
	if (r < 0)
		return r;
	r = conn_check_identity(conn, name);
	if (r < 0) {
		if (SSL_session_reused(conn->ssl))
			log_error("'%s' says it is node '%s', but its key is the one of '%s'", conn->addr,
				  name, conn->server ? conn->psk_identity : conn->want);
		else
			log_error("'%s' says it is node '%s', but its certificate is not for a configured peer of that name%s%s",
				  conn->addr, name, conn->server ? "" : " or we wanted ",
				  conn->server ? "" : conn->want);
		return peer_send_error(conn, r, "hello names '%s', not the authenticated node", name);
	}
	snprintf(conn->name, sizeof(conn->name), "%s", name);
	if (conn->server)
		return hello_send(conn);
	return 0;
}

static void fd_describe(int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?", serv[8] = "?";

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
		(void)getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), serv, sizeof(serv),
				  NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(buf, size, "%s:%s", host, serv);
}

int peer_accept_fd(struct peer_ctx *ctx, int fd, struct peer_conn **ret_conn)
{
	struct peer_conn *conn;
	int r;

	r = conn_new(ctx, fd, true, &conn);
	if (r < 0) {
		close(fd);
		return r;
	}
	fd_describe(fd, conn->addr, sizeof(conn->addr));
	r = conn_handshake(conn);
	if (r < 0) {
		peer_conn_free(conn);
		return r;
	}
	*ret_conn = conn;
	return 0;
}

int peer_accept(struct peer_ctx *ctx, int listen_fd, struct peer_conn **ret_conn)
{
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return log_error_errno(-errno, "cannot accept a peer connection");
	return peer_accept_fd(ctx, fd, ret_conn);
}

int peer_connect(struct peer_ctx *ctx, const char *peer_name, const char *addr, uint16_t port,
		 struct peer_conn **ret_conn)
{
	struct peer_conn *conn;
	int fd = -1, r;

	if (!ctx_find_peer(ctx, peer_name, strlen(peer_name)))
		return log_error_errno(-ENOENT, "no peer '%s' in the configuration", peer_name);
	r = tcp_connect(addr, port, ctx->timeout_ms, &fd);
	if (r < 0)
		return log_error_errno(r, "cannot connect to peer '%s' at %s port %u", peer_name,
				       addr, port);
	r = conn_new(ctx, fd, false, &conn);
	if (r < 0) {
		close(fd);
		return r;
	}
	snprintf(conn->want, sizeof(conn->want), "%s", peer_name);
	snprintf(conn->addr, sizeof(conn->addr), "%s:%u", addr, port);
	if (ctx->certs && !SSL_set1_host(conn->ssl, peer_name)) {
		peer_conn_free(conn);
		return -ENOMEM;
	}
	r = conn_handshake(conn);
	if (r < 0) {
		peer_conn_free(conn);
		return r;
	}
	*ret_conn = conn;
	return 0;
}
