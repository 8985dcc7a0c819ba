// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * handoff-node.c - lifeboatd's side of handoffs, on top of its process sets:
 *
 *   lifeboatd_migrate()      the planned move (`lifeboat migrate NAME --to PEER`)
 *   handoff_node_listen()    the peer listener (TLS 1.3, config [node] listen)
 *   handoff_node_accept()    one incoming handoff: the app is restored here
 *   handoff_node_watch()     a mount whose path failed hands its apps off
 *
 * Everything runs on lifeboatd's only thread: a handoff blocks the daemon
 * for its duration (well under a second for small apps), which also keeps
 * the process set table free of races.
 *
 * The app operations map onto process sets: freeze = the cgroup freezer;
 * dump = procset_checkpoint(), which ends the tasks once the image is
 * written (so A's copy cannot run again by accident); resuming on A after a
 * failure is then a local restore from the same image, which is still in
 * place at that point.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#define LOG_PREFIX "handoff: "
#include "lifeboat/log.h"
#include "altread.h"
#include "handoff.h"
#include "handoff-node.h"
#include "lifeboatd.h"

#define WATCH_RETRY_S 5		/* after a failed automatic handoff */

struct node_app {
	struct lifeboatd *d;
	struct procset *ps;
	struct procset_times times;
};

static struct peer_ctx *node_ctx;	/* built from the config at first use */

/* ------------------------------------------------------------------ config */

static int node_peer_ctx(struct lifeboatd *d, struct peer_ctx **ret)
{
	struct peer_key keys[CONFIG_PEERS_MAX] = { 0 };
	struct peer_tls_config tc = { .node_name = d->cfg.node_name, .peers = keys,
				      .n_peers = d->cfg.n_peers };
	int r;

	if (node_ctx) {
		*ret = node_ctx;
		return 0;
	}
	for (unsigned i = 0; i < d->cfg.n_peers; i++) {
		snprintf(keys[i].name, sizeof(keys[i].name), "%s", d->cfg.peers[i].name);
		if (d->cfg.peers[i].psk_hex[0]) {
			r = peer_psk_parse(d->cfg.peers[i].psk_hex, keys[i].psk);
			if (r < 0)
				return log_error_errno(r, "peer '%s': psk is not 64 hex digits",
						       keys[i].name);
			keys[i].has_psk = true;
		}
	}
	if (d->cfg.cert_file[0]) {
		tc.cert_file = d->cfg.cert_file;
		tc.key_file = d->cfg.key_file;
		tc.ca_file = d->cfg.ca_file;
	}
	r = peer_ctx_new(&tc, &node_ctx);
	explicit_bzero(keys, sizeof(keys));	/* the context keeps its own copy */
	if (r < 0)
		return r;
	/* fault injection for the refusal tests: a node of a newer protocol */
	if (getenv("LIFEBOAT_FAULT") && strcmp(getenv("LIFEBOAT_FAULT"), "peer-version") == 0)
		peer_ctx_set_wire_version(node_ctx, PEER_PROTO_VERSION + 1);
	*ret = node_ctx;
	return 0;
}

/* state_dir/handoff: images being sent or received. */
static int node_image_dir(struct lifeboatd *d, char *buf, size_t size)
{
	if ((size_t)snprintf(buf, size, "%s/handoff", d->cfg.state_dir) >= size)
		return log_error_errno(-ENAMETOOLONG, "state_dir '%s' is too long", d->cfg.state_dir);
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return log_error_errno(-errno, "cannot create '%s'", buf);
	return 0;
}

/* The journal name of a mount as the journal library takes it. */
static const char *journal_name_of(const char *configured)
{
	return strncmp(configured, "file://", 7) == 0 ? configured + 7 : configured;
}

static void node_request(struct lifeboatd *d, const struct procset *ps,
			 struct handoff_request *req)
{
	memset(req, 0, sizeof(*req));
	snprintf(req->app, sizeof(req->app), "%s", ps->name);
	snprintf(req->service_ip, sizeof(req->service_ip), "%s", ps->service_ip);
	for (unsigned i = 0; i < d->cfg.n_mounts && i < PEER_MOUNTS_MAX; i++) {
		snprintf(req->mounts[i].path, sizeof(req->mounts[i].path), "%s",
			 d->cfg.mounts[i].path);
		snprintf(req->mounts[i].journal, sizeof(req->mounts[i].journal), "%s",
			 journal_name_of(d->cfg.mounts[i].journal));
		req->n_mounts++;
	}
}

/* ------------------------------------------------------------------ app ops (A) */

static int app_freeze(void *ud, const char *app)
{
	struct node_app *a = ud;

	return cgroup_freeze(&a->ps->cg, PROCSET_FREEZE_TIMEOUT_MS);
}

static int app_dump(void *ud, const char *app, const char *dir)
{
	struct node_app *a = ud;
	int r;

	r = procset_checkpoint(&a->d->env, a->ps, dir, false, &a->times);
	if (r == 0 && a->ps->service_ip[0])
		r = handoff_net_release(a->ps->service_ip, dir);
	return r;
}

static int app_thaw(void *ud, const char *app, const char *dir)
{
	struct node_app *a = ud;

	if (a->ps->state == PROCSET_CHECKPOINTED) {
		(void)handoff_net_readd(dir);
		return procset_restore(&a->d->env, a->ps, dir, NULL, NULL);
	}
	return cgroup_thaw(&a->ps->cg);
}

static int app_kill(void *ud, const char *app)
{
	struct node_app *a = ud;

	/*
	 * The dump ended the tasks (CHECKPOINTED). Only a set that is still
	 * frozen here is killed through its cgroup: once the tasks are gone the
	 * cgroup may hold the restored ones, when both nodes share one kernel
	 * (the tests).
	 */
	if (a->ps->state == PROCSET_RUNNING) {
		(void)cgroup_kill(&a->ps->cg, SIGKILL);
		(void)cgroup_thaw(&a->ps->cg);
	}
	if (a->ps->service_ip[0])
		handoff_net_drop_lock();	/* its connections live on the peer now */
	return 0;
}

/* ------------------------------------------------------------------ restore (B) */

static int app_restore(void *ud, const char *app, const char *dir, pid_t *ret_pid)
{
	struct node_app *a = ud;
	struct procset *old = procset_find(&a->d->sets, app), *ps;
	int r;

	if (old && old->state == PROCSET_RUNNING)
		return log_error_errno(-EEXIST, "app '%s' already runs on this node", app);
	r = handoff_net_claim(dir, a->d->cfg.listen_host);
	if (r < 0)
		return r;
	r = procset_restore(&a->d->env, NULL, dir, &ps, &a->times);
	if (r < 0) {
		(void)handoff_net_unclaim(dir);
		return r;
	}
	r = procset_add(&a->d->sets, ps);
	if (r < 0) {
		log_error_errno(r, "app '%s' runs but cannot be tracked", app);
		(void)procset_stop(ps, 0);
		procset_free(ps);
		return r;
	}
	*ret_pid = ps->pid;
	return 0;
}

static const struct handoff_app_ops node_ops = {
	.freeze = app_freeze, .thaw = app_thaw, .dump = app_dump, .kill = app_kill,
	.restore = app_restore,
};

/* ------------------------------------------------------------------ entry points */

static struct json_object *times_to_json(const struct handoff_times *t, const char *peer)
{
	struct json_object *o = json_object_new_object();
	const struct {
		const char *key;
		uint64_t ns;
	} f[] = {
		{ "connect_us", t->connect }, { "freeze_us", t->freeze }, { "flush_us", t->flush },
		{ "dump_us", t->dump },	      { "transfer_us", t->transfer },
		{ "fence_us", t->fence },     { "replay_us", t->replay }, { "restore_us", t->restore },
		{ "total_us", t->total },
	};

	json_object_object_add(o, "peer", json_object_new_string(peer));
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		json_object_object_add(o, f[i].key, json_object_new_int64((int64_t)(f[i].ns / 1000)));
	json_object_object_add(o, "image_bytes", json_object_new_int64((int64_t)t->image_bytes));
	return o;
}

int lifeboatd_migrate(struct lifeboatd *d, struct procset *ps, const struct config_peer *peer,
		      struct json_object **ret_result, char *err, size_t err_size)
{
	struct node_app a = { .d = d, .ps = ps };
	struct handoff_app_ops ops = node_ops;
	struct handoff_config hc = { .node_name = d->cfg.node_name };
	struct handoff_request req;
	struct handoff_times t = { 0 };
	struct peer_ctx *ctx;
	char dir[PATH_MAX];
	int r;

	r = node_peer_ctx(d, &ctx);
	if (r == 0)
		r = node_image_dir(d, dir, sizeof(dir));
	if (r < 0) {
		snprintf(err, err_size, "peer channel not configured: %s", strerror(-r));
		return r;
	}
	hc.image_dir = dir;
	ops.userdata = &a;
	node_request(d, ps, &req);
	peer_ctx_clear_error(ctx);
	r = handoff_send(ctx, peer->name, peer->host, peer->port, &hc, &req, &ops, &t);
	if (r < 0) {
		const char *why = peer_ctx_last_error(ctx);

		d->handoffs.failed++;
		snprintf(err, err_size, "%s%s%s%s: %s", strerror(-r), why[0] ? " (" : "", why,
			 why[0] ? ")" : "",
			 r == -ENOTRECOVERABLE ? "outcome unknown, the app does not resume here (image kept)"
					       : "the app runs here again");
		return r;
	}
	/* the freeze, flush and dump times of the set itself are the precise ones */
	if (a.times.dump_us)
		t.dump = a.times.dump_us * 1000;
	ps->state = PROCSET_EXITED;	/* gone from here: it runs on the peer */
	ps->pid = 0;
	d->handoffs.done++;
	d->handoffs.last_frozen_us = t.total / 1000;
	d->handoffs.frozen_us_sum += t.total / 1000;
	*ret_result = times_to_json(&t, peer->name);
	return 0;
}

int handoff_node_listen(struct lifeboatd *d, int *ret_fd)
{
	int r;

	(void)altread_start(d);		/* reads of our absorbing mounts, through the peer */
	if (!d->cfg.listen_host[0])
		return 0;
	r = peer_listen(d->cfg.listen_host, d->cfg.listen_port, ret_fd, NULL);
	if (r < 0)
		return r;
	log_info("listening for peers on %s port %u", d->cfg.listen_host, d->cfg.listen_port);
	return 1;
}

/*
 * 0 when the connection is a handoff; 1 when it was an alternate read,
 * answered (the caller frees conn); 2 when a thread took it over.
 */
static int node_alt_read(struct lifeboatd *d, struct peer_conn *conn)
{
	const uint8_t *p;
	uint16_t type;
	size_t len;
	int r;

	r = peer_recv(conn, &type, &p, &len);
	if (r < 0)
		return r;
	if (type != PEER_MSG_ALT_READ) {
		peer_recv_again(conn);
		return 0;
	}
	r = altread_node_take(&d->cfg, conn, p, len);
	return r < 0 ? r : r == 0 ? 2 : 1;
}

int handoff_node_accept(struct lifeboatd *d, int listen_fd)
{
	const char *own[CONFIG_MOUNTS_MAX];
	struct node_app a = { .d = d };
	struct handoff_app_ops ops = node_ops;
	struct handoff_config hc = { .node_name = d->cfg.node_name, .own_journals = own };
	struct peer_conn *conn;
	struct peer_ctx *ctx;
	char dir[PATH_MAX];
	pid_t pid;
	int r;

	r = node_peer_ctx(d, &ctx);
	if (r == 0)
		r = node_image_dir(d, dir, sizeof(dir));
	if (r == 0)
		r = peer_accept(ctx, listen_fd, &conn);
	if (r < 0)
		return r;
	hc.image_dir = dir;
	ops.userdata = &a;
	for (unsigned i = 0; i < d->cfg.n_mounts; i++)
		if (d->cfg.mounts[i].journal[0])
			own[hc.n_own_journals++] = journal_name_of(d->cfg.mounts[i].journal);
	r = node_alt_read(d, conn);
	if (r == 2)
		return 0;	/* an alternate read thread owns conn */
	if (r == 0)
		r = handoff_serve(conn, &hc, &ops, &pid);
	peer_conn_free(conn);
	return r;
}

/* ------------------------------------------------------------------ path failures */

static const char *status_state(const char *file)
{
	static char state[32];
	struct json_object *o = json_object_from_file(file), *v;

	state[0] = '\0';
	if (o && json_object_object_get_ex(o, "state", &v) && json_object_is_type(v, json_type_string))
		snprintf(state, sizeof(state), "%s", json_object_get_string(v));
	json_object_put(o);
	return state;
}

static void watch_handoff_all(struct lifeboatd *d, const char *mount)
{
	const struct config_peer *peer = &d->cfg.peers[0];

	for (size_t i = 0; i < PROCSET_MAX; i++) {
		struct procset *ps = d->sets.sets[i];
		struct json_object *res = NULL;
		char err[256];

		if (!ps || ps->state != PROCSET_RUNNING)
			continue;
		log_notice("path of mount '%s' failed: handing app '%s' off to '%s'", mount, ps->name,
			   peer->name);
		if (lifeboatd_migrate(d, ps, peer, &res, err, sizeof(err)) < 0)
			log_error("automatic handoff of '%s' to '%s' failed: %s", ps->name, peer->name,
				  err);
		else
			log_notice("app '%s' handed off to '%s': %s", ps->name, peer->name,
				   json_object_to_json_string(res));
		json_object_put(res);
	}
}

void handoff_node_watch(struct lifeboatd *d)
{
	static time_t last_try[CONFIG_MOUNTS_MAX];
	time_t now = time(NULL);

	if (d->cfg.n_peers == 0)
		return;
	for (unsigned i = 0; i < d->cfg.n_mounts; i++) {
		const struct config_mount *m = &d->cfg.mounts[i];

		if (!m->status[0] || strcmp(status_state(m->status), "absorbing") != 0)
			continue;
		if (now - last_try[i] < WATCH_RETRY_S)
			continue;
		last_try[i] = now;
		watch_handoff_all(d, m->path);
	}
}
