// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * standby-peer.c - standby images over the peer channel: the same TLS 1.3
 * connection (PSK or mutual certificates, lifeboat.conf's [node] and
 * [peer NAME]) and image transfer (image.h) as the handoff.
 *
 *   sender                                  receiver (`standby receive`)
 *   HELLO <----------------------------->   HELLO (authenticated node names)
 *   IMAGE_MANIFEST, IMAGE_DATA..., IMAGE_END --> per-file hashes checked
 *                                           standby manifest: name matches the
 *                                           transfer, generation newer than
 *                                           any held, checksum; then preload
 *   <---------------------------------------- RESULT(errno, stage, text)
 *
 * The receiver writes only into a directory it creates beneath its image
 * root and moves it to IMAGE_ROOT/NAME/GENERATION once every check passed;
 * a refused image is deleted. A preload the rules refuse keeps the image
 * (the refusal and its reason are recorded for `standby ps`).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_PREFIX "standby: "
#include "lifeboat/log.h"
#include "config.h"
#include "image.h"
#include "peer.h"
#include "standby-node.h"
#include "standby-peer.h"

#define RESULT_TEXT_MAX 512

struct peer_setup {
	struct config lc;
	struct peer_key keys[CONFIG_PEERS_MAX];
	struct peer_ctx *ctx;
};

static bool fault_is(const char *point)
{
	const char *f = getenv("LIFEBOAT_FAULT");

	return f && !strcmp(f, point);
}

static int setup(const char *lifeboat_conf, struct peer_setup *ps)
{
	struct peer_tls_config tls = { 0 };
	int r;

	r = config_load(lifeboat_conf ? lifeboat_conf : CONFIG_DEFAULT_PATH, &ps->lc);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < ps->lc.n_peers; i++) {
		const struct config_peer *p = &ps->lc.peers[i];

		snprintf(ps->keys[i].name, sizeof(ps->keys[i].name), "%s", p->name);
		if (p->psk_hex[0]) {
			if (peer_psk_parse(p->psk_hex, ps->keys[i].psk) < 0)
				return log_error_errno(-EINVAL, "bad psk for peer '%s'", p->name);
			ps->keys[i].has_psk = true;
		}
	}
	tls.node_name = ps->lc.node_name;
	tls.peers = ps->keys;
	tls.n_peers = ps->lc.n_peers;
	if (ps->lc.cert_file[0]) {
		tls.cert_file = ps->lc.cert_file;
		tls.key_file = ps->lc.key_file;
		tls.ca_file = ps->lc.ca_file;
	}
	return peer_ctx_new(&tls, &ps->ctx);
}

bool standby_peer_known(const char *lifeboat_conf, const char *node)
{
	static struct config lc;	/* large */

	if (!lifeboat_conf && access(CONFIG_DEFAULT_PATH, F_OK) < 0)
		return false;
	return config_load(lifeboat_conf ? lifeboat_conf : CONFIG_DEFAULT_PATH, &lc) == 0 &&
	       config_find_peer(&lc, node) != NULL;
}

static int send_result(struct peer_conn *conn, int err, const char *text)
{
	struct wire_out w;
	int r;

	r = wire_out_init(&w, 64 + strlen(text));
	if (r < 0)
		return r;
	wire_put_u32(&w, (uint32_t)-err);
	wire_put_u32(&w, err ? PEER_STAGE_NONE : PEER_STAGE_RECEIVED);
	wire_put_u32(&w, 0);
	wire_put_u64(&w, 0);
	wire_put_u64(&w, 0);
	wire_put_u64(&w, 0);
	wire_put_str(&w, text);
	r = wire_put_done(&w);
	if (r == 0)
		r = peer_send(conn, PEER_MSG_RESULT, w.buf, w.len);
	wire_out_free(&w);
	return r;
}

static int recv_result(struct peer_conn *conn, char *text, size_t size)
{
	const uint8_t *p;
	struct wire_in in;
	uint32_t err;
	size_t len;
	int r;

	r = peer_recv_type(conn, PEER_MSG_RESULT, &p, &len);
	if (r < 0)
		return r;
	wire_in_init(&in, p, len);
	err = wire_get_u32(&in);
	(void)wire_get_u32(&in);
	(void)wire_get_u32(&in);
	(void)wire_get_u64(&in);
	(void)wire_get_u64(&in);
	(void)wire_get_u64(&in);
	wire_get_str(&in, text, size - 1);
	if (wire_get_done(&in) < 0 || err > 4095)
		return -EBADMSG;
	return -(int)err;
}

int standby_peer_send(const struct standby_config *cfg, const char *lifeboat_conf,
		      const char *name, const char *peer_name)
{
	char dir[PATH_MAX], text[RESULT_TEXT_MAX + 1] = "";
	const struct config_peer *cp;
	struct standby_manifest m;
	struct peer_conn *conn = NULL;
	struct peer_setup *ps;
	uint64_t next;
	int dirfd = -1, r;

	if (!standby_name_valid(name))
		return log_error_errno(-EINVAL, "bad application name '%s'", name);
	r = standby_image_next_generation(cfg->image_root, name, &next);
	if (r < 0 || next == 1)
		return log_error_errno(r < 0 ? r : -ENOENT, "no image of '%s' to send", name);
	snprintf(dir, sizeof(dir), "%s/%s/%llu", cfg->image_root, name, (unsigned long long)(next - 1));
	/* LIFEBOAT_FAULT=standby-send-unverified: ship it unchecked (tests of the receiver) */
	if (fault_is("standby-send-unverified"))
		r = standby_manifest_read(dir, &m);
	else
		r = standby_image_verify(dir, name, next - 1, &m);
	if (r < 0)
		return r;
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	r = setup(lifeboat_conf, ps);
	if (r < 0)
		goto out;
	cp = config_find_peer(&ps->lc, peer_name);
	if (!cp) {
		r = log_error_errno(-ENOENT, "no [peer %s] in the lifeboat config", peer_name);
		goto out;
	}
	r = peer_connect(ps->ctx, peer_name, cp->host, cp->port, &conn);
	if (r < 0)
		goto out;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = dirfd < 0 ? -errno : image_send(conn, dirfd, name, NULL);
	if (r == 0)
		r = recv_result(conn, text, sizeof(text));
	if (r < 0)
		log_error_errno(r, "'%s' generation %llu refused by '%s'%s%s", name,
				(unsigned long long)m.generation, peer_name, text[0] ? ": " : "", text);
	else
		log_notice("'%s' generation %llu sent to '%s': %s", name,
			   (unsigned long long)m.generation, peer_name, text);
out:
	if (dirfd >= 0)
		close(dirfd);
	peer_conn_free(conn);
	peer_ctx_free(ps->ctx);
	free(ps);
	return r;
}

/* Writes the reason of a refusal for the peer and returns err. */
static int __attribute__((format(printf, 4, 5)))
refuse(char *why, size_t size, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return err;
}

/* Checks a received image; moves it to IMAGE_ROOT/NAME/GEN on success. */
static int accept_image(const struct standby_config *cfg, const char *incoming,
			const char *transfer_name, struct standby_manifest *ret_m, char *why,
			size_t why_size)
{
	char final[PATH_MAX];
	struct standby_manifest m;
	uint64_t next;
	int r;

	if (standby_manifest_read(incoming, &m) < 0)
		return refuse(why, why_size, -EBADMSG, "no valid standby manifest");
	if (strcmp(m.name, transfer_name))
		return refuse(why, why_size, -EPERM, "image of '%s' sent as '%s'", m.name,
			      transfer_name);
	r = standby_image_next_generation(cfg->image_root, m.name, &next);
	if (r < 0)
		return refuse(why, why_size, r, "cannot list images here");
	if (m.generation < next)
		return refuse(why, why_size, -ESTALE, "stale: generation %llu, this node holds %llu",
			      (unsigned long long)m.generation, (unsigned long long)(next - 1));
	r = standby_image_verify(incoming, m.name, m.generation, &m);
	if (r < 0)
		return refuse(why, why_size, r, "image does not match its standby checksum");
	snprintf(final, sizeof(final), "%s/%s", cfg->image_root, m.name);
	(void)mkdir(final, 0700);
	snprintf(final, sizeof(final), "%s/%s/%llu", cfg->image_root, m.name,
		 (unsigned long long)m.generation);
	if (rename(incoming, final) < 0)
		return refuse(why, why_size, -errno, "cannot store the image");
	*ret_m = m;
	return 0;
}

static void serve_one(struct standby_config *cfg, struct peer_conn *conn, const char *node,
		      const char *mode)
{
	char incoming[PATH_MAX], dirname[64], why[RESULT_TEXT_MAX] = "";
	const struct standby_node_rule *nr = standby_config_node(cfg, node);
	struct image_limits lim = { 0 };
	struct image_manifest *im = NULL;
	struct standby_manifest m;
	int parent, r;

	/* an image larger than this node's whole budget could never be preloaded */
	if (nr && nr->memory_budget)
		lim.max_total = nr->memory_budget;
	snprintf(dirname, sizeof(dirname), ".incoming-%d", (int)getpid());
	(void)mkdir(cfg->image_root, 0700);
	parent = open(cfg->image_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (parent < 0) {
		(void)peer_send_error(conn, -errno, "no image root here");
		return;
	}
	r = image_recv(conn, parent, dirname, &lim, &im, NULL);
	if (r < 0)
		goto out;	/* the peer was told; nothing is left behind */
	snprintf(incoming, sizeof(incoming), "%s/%s", cfg->image_root, dirname);
	r = accept_image(cfg, incoming, im->name, &m, why, sizeof(why));
	if (r < 0) {
		log_error_errno(r, "image from '%s' refused: %s", peer_conn_name(conn), why);
		(void)image_remove(parent, dirname);
		(void)send_result(conn, r, why);
		goto out;
	}
	r = standby_node_preload(cfg, m.name, node, mode);
	if (r < 0)
		snprintf(why, sizeof(why), "generation %llu received; preload on %s refused (see standby ps)",
			 (unsigned long long)m.generation, node);
	else
		snprintf(why, sizeof(why), "generation %llu preloaded on %s (%s)",
			 (unsigned long long)m.generation, node, mode);
	(void)send_result(conn, r, why);
out:
	image_manifest_free(im);
	close(parent);
}

static int parse_listen(const char *spec, char *host, size_t size, uint16_t *ret_port)
{
	const char *colon = strrchr(spec, ':');
	char *end;
	unsigned long port;

	if (!colon || (size_t)(colon - spec) >= size)
		return -EINVAL;
	port = strtoul(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port > 65535)
		return -EINVAL;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = 0;
	*ret_port = (uint16_t)port;
	return 0;
}

int standby_peer_receive(struct standby_config *cfg, const char *lifeboat_conf,
			 const char *listen, const char *mode, bool once)
{
	struct peer_setup *ps;
	char host[256];
	uint16_t port;
	int fd = -1, r;

	if (parse_listen(listen, host, sizeof(host), &port) < 0)
		return log_error_errno(-EINVAL, "bad --listen '%s' (ADDR:PORT)", listen);
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	r = setup(lifeboat_conf, ps);
	if (r == 0)
		r = peer_listen(host, port, &fd, &port);
	if (r < 0)
		goto out;
	printf("node %s receiving standby images on %s:%u\n", ps->lc.node_name, host, port);
	fflush(stdout);
	do {
		struct peer_conn *conn;

		if (peer_accept(ps->ctx, fd, &conn) < 0)
			continue;	/* refused or broken handshake: logged, next */
		serve_one(cfg, conn, ps->lc.node_name, mode);
		peer_conn_free(conn);
	} while (!once);
out:
	if (fd >= 0)
		close(fd);
	peer_ctx_free(ps->ctx);
	free(ps);
	return r;
}
