/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * peer.h - the authenticated, encrypted channel between two lifeboatd nodes
 * (TLS 1.3 over TCP, OpenSSL), and the codec of its message payloads.
 *
 * Authentication: an external pre-shared key per peer (TLS 1.3 PSK; the
 * client's PSK identity is its node name), or mutual certificates signed by
 * a configured CA whose names are the node names. Either way the remote's
 * HELLO must name the node the handshake authenticated, and a client only
 * accepts the peer it meant to reach. There is no plaintext mode.
 *
 * Every function returns 0 (or a count) or a negative errno; ret_ outputs
 * are untouched on failure. Errors with a peer are logged here (they name
 * the peer and the TLS reason), once.
 *   -EKEYREJECTED       the TLS handshake failed (wrong key, unknown peer,
 *                       bad certificate)
 *   -EPERM              the peer authenticated as another node than expected
 *   -EPROTONOSUPPORT    the peer speaks another protocol version
 *   -EBADMSG            a malformed message
 *   -ETIMEDOUT          no progress within the timeout
 *   -ECONNRESET         the peer closed the connection
 */
#ifndef LIFEBOAT_PEER_H
#define LIFEBOAT_PEER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lifeboat/peer-proto.h"

#define PEER_PSK_LEN 32u	/* bytes; configured as 64 hex digits */

struct peer_key {
	char name[PEER_NAME_MAX + 1];	/* the peer's node name */
	uint8_t psk[PEER_PSK_LEN];
	bool has_psk;
};

struct peer_tls_config {
	const char *node_name;		/* ours: our PSK identity and HELLO */
	const struct peer_key *peers;	/* the peers we accept and reach */
	size_t n_peers;
	/* mutual certificates (all three, or none): PEM files */
	const char *cert_file;
	const char *key_file;
	const char *ca_file;
	int timeout_ms;			/* per read/write; 0: 30 s */
};

struct peer_ctx;
struct peer_conn;

/* Parses 64 hex digits into a key. -EINVAL names nothing: the caller does. */
int peer_psk_parse(const char *hex, uint8_t ret_psk[PEER_PSK_LEN]);

int peer_ctx_new(const struct peer_tls_config *cfg, struct peer_ctx **ret_ctx);
void peer_ctx_free(struct peer_ctx *ctx);

/* A listening TCP socket on addr:port (port 0: any; ret_port gets it). */
int peer_listen(const char *addr, uint16_t port, int *ret_fd, uint16_t *ret_port);

/* Accepts one connection on listen_fd, TLS handshake, HELLO exchange. */
int peer_accept(struct peer_ctx *ctx, int listen_fd, struct peer_conn **ret_conn);
/* Same on an already accepted TCP socket (taken over, closed on failure). */
int peer_accept_fd(struct peer_ctx *ctx, int fd, struct peer_conn **ret_conn);

/* Connects to the configured peer peer_name at addr:port, TLS, HELLO. */
int peer_connect(struct peer_ctx *ctx, const char *peer_name, const char *addr, uint16_t port,
		 struct peer_conn **ret_conn);

/* Closes the TLS session and the socket; NULL is fine. */
void peer_conn_free(struct peer_conn *conn);

/* Changes the per read/write timeout of conn (a handoff waits for a dump). */
void peer_conn_set_timeout(struct peer_conn *conn, int timeout_ms);

/* The authenticated name of the remote node. */
const char *peer_conn_name(const struct peer_conn *conn);

/* Sends one message (payload_len <= PEER_MSG_MAX). */
int peer_send(struct peer_conn *conn, uint16_t type, const void *payload, size_t len);

/*
 * Receives one message. The payload stays valid until the next receive.
 * An ERROR message from the peer is logged and returned as its negative
 * errno (never as a message), so callers only see what they expect.
 */
int peer_recv(struct peer_conn *conn, uint16_t *ret_type, const uint8_t **ret_payload,
	      size_t *ret_len);

/* The next receive returns the message just received again (a dispatcher's peek). */
void peer_recv_again(struct peer_conn *conn);

/* Receives one message that must be of the given type (-EBADMSG otherwise). */
int peer_recv_type(struct peer_conn *conn, uint16_t type, const uint8_t **ret_payload,
		   size_t *ret_len);

/* Sends ERROR(-err, text) to the peer; best effort, returns err. */
int peer_send_error(struct peer_conn *conn, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * While sending a long stream: returns the peer's refusal (its ERROR, as a
 * negative errno) if it has sent one, 0 if nothing is waiting.
 */
int peer_check_refusal(struct peer_conn *conn);

/*
 * The last refusal a peer sent (its ERROR text) or the last failed TLS
 * handshake, for the one-line answer to a user ("" if none since the last
 * clear). Not thread-safe: lifeboatd has one thread.
 */
const char *peer_ctx_last_error(struct peer_ctx *ctx);
void peer_ctx_clear_error(struct peer_ctx *ctx);

/* Test hook: the version written into the headers of every connection (0: ours). */
void peer_ctx_set_wire_version(struct peer_ctx *ctx, uint16_t version);

/* ------------------------------------------------------------------ payload codec */

/* Builds a payload; an overflow sticks and shows at wire_put_done(). */
struct wire_out {
	uint8_t *buf;
	size_t len;
	size_t cap;
	int err;
};

int wire_out_init(struct wire_out *w, size_t cap);
void wire_out_free(struct wire_out *w);
void wire_put_u16(struct wire_out *w, uint16_t v);
void wire_put_u32(struct wire_out *w, uint32_t v);
void wire_put_u64(struct wire_out *w, uint64_t v);
void wire_put_str(struct wire_out *w, const char *s);
void wire_put_bytes(struct wire_out *w, const void *p, size_t n);
/* 0, or -EMSGSIZE if anything did not fit. */
int wire_put_done(struct wire_out *w);

/* Reads a payload; any short read or bad string sticks as -EBADMSG. */
struct wire_in {
	const uint8_t *p;
	size_t left;
	int err;
};

void wire_in_init(struct wire_in *r, const uint8_t *p, size_t len);
uint16_t wire_get_u16(struct wire_in *r);
uint32_t wire_get_u32(struct wire_in *r);
uint64_t wire_get_u64(struct wire_in *r);
/* A string of at most max bytes into buf (max + 1 bytes); a NUL or another
 * control character inside is -EBADMSG (peer strings are logged). */
void wire_get_str(struct wire_in *r, char *buf, size_t max);
/* The rest of the payload. */
const uint8_t *wire_get_rest(struct wire_in *r, size_t *ret_len);
/* 0 when every field was there and nothing is left over, else -EBADMSG. */
int wire_get_done(struct wire_in *r);

#endif
