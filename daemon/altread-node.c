// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * altread-node.c - the serving side of alternate reads in lifeboatd: a
 * connection that starts with ALT_READ gets a thread of its own, which
 * answers that read and the next ones on the same connection until the
 * asker goes quiet. lifeboatd's main loop goes back to its work at once: a
 * slow read of this node's own mount never delays a handoff or a control
 * request.
 *
 * The thread touches only its connection and a copy of the mounts; the TLS
 * context is shared with the main thread (OpenSSL allows that). Threads
 * are bounded: beyond ALTREAD_THREADS_MAX the read is answered inline.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#define LOG_PREFIX "altread: "
#include "lifeboat/log.h"
#include "altread.h"
#include "lifeboatd.h"

#define ALTREAD_THREADS_MAX 4
#define ALTREAD_IDLE_MS 10000	/* a connection without a request for this long closes */
#define ALTREAD_IO_MS 2000

struct server {
	struct peer_conn *conn;
	const uint8_t *first;	/* the first request, in conn's buffer */
	size_t first_len;
	size_t n;
	char paths[CONFIG_MOUNTS_MAX][PATH_MAX];
	char status[CONFIG_MOUNTS_MAX][PATH_MAX];
};

static atomic_int active;

/* Whether lifeboatfs says in its status file that the mount absorbs. */
static bool status_absorbing(const char *file)
{
	struct json_object *o, *v;
	bool absorbing = false;

	if (!file[0])
		return false;
	o = json_object_from_file(file);
	if (o && json_object_object_get_ex(o, "state", &v) && json_object_is_type(v, json_type_string))
		absorbing = strcmp(json_object_get_string(v), "absorbing") == 0;
	json_object_put(o);
	return absorbing;
}

static int serve_request(struct server *s, const uint8_t *p, size_t len)
{
	struct altread_mount mounts[CONFIG_MOUNTS_MAX];

	for (size_t i = 0; i < s->n; i++) {
		mounts[i].path = s->paths[i];
		mounts[i].absorbing = status_absorbing(s->status[i]);
	}
	peer_conn_set_timeout(s->conn, ALTREAD_IO_MS);
	return altread_serve(s->conn, p, len, mounts, s->n);
}

static void *server_main(void *arg)
{
	struct server *s = arg;
	const uint8_t *p = s->first;
	size_t len = s->first_len;
	uint16_t type;

	/* a refusal closes the connection (the asker opens a new one) */
	while (serve_request(s, p, len) == 0) {
		peer_conn_set_timeout(s->conn, ALTREAD_IDLE_MS);
		if (peer_recv(s->conn, &type, &p, &len) < 0)
			break;
		if (type != PEER_MSG_ALT_READ) {
			(void)peer_send_error(s->conn, -EBADMSG, "only alternate reads on this connection");
			break;
		}
	}
	peer_conn_free(s->conn);
	free(s);
	atomic_fetch_sub(&active, 1);
	return NULL;
}

int altread_node_take(const struct config *cfg, struct peer_conn *conn, const uint8_t *p, size_t len)
{
	struct server *s = calloc(1, sizeof(*s));
	pthread_attr_t attr;
	pthread_t t;
	int r;

	if (!s)
		return -ENOMEM;
	s->conn = conn;
	s->first = p;
	s->first_len = len;
	for (unsigned i = 0; i < cfg->n_mounts; i++) {
		snprintf(s->paths[i], sizeof(s->paths[i]), "%s", cfg->mounts[i].path);
		snprintf(s->status[i], sizeof(s->status[i]), "%s", cfg->mounts[i].status);
	}
	s->n = cfg->n_mounts;
	if (atomic_fetch_add(&active, 1) >= ALTREAD_THREADS_MAX) {
		r = serve_request(s, p, len);	/* answered here, then closed */
		atomic_fetch_sub(&active, 1);
		free(s);
		return r < 0 ? r : 1;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = -pthread_create(&t, &attr, server_main, s);
	pthread_attr_destroy(&attr);
	if (r < 0) {
		atomic_fetch_sub(&active, 1);
		r = serve_request(s, p, len);
		free(s);
		return r < 0 ? r : 1;
	}
	return 0;
}
