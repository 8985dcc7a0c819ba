// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * handoff.c - moving one app from this node to a peer: the sender's side
 * (A). The sequence and its states are in handoff.h; the rule that keeps a
 * single copy of the app is the COMMIT: before A sends it, every failure
 * thaws the app here; after it, only B's word that it did not restore does.
 *
 *   CONNECTED --freeze, flush, dump, send--> SENT --READY, COMMIT--> COMMITTED
 *   COMMITTED --RESULT restored--> HANDED_OFF (A's copy killed)
 *   COMMITTED --RESULT not restored--> RUNNING on A (thawed)
 *   COMMITTED --connection lost--> UNKNOWN (left frozen, -ENOTRECOVERABLE)
 *   any state before COMMITTED --error--> RUNNING on A (thawed)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_PREFIX "handoff: "
#include "lifeboat/log.h"
#include "handoff.h"
#include "image.h"

struct handoff_result {
	int err;
	uint32_t stage;
	uint32_t pid;
	char text[PEER_TEXT_MAX + 1];
};

static int result_decode(const uint8_t *p, size_t len, struct handoff_result *res,
			 struct handoff_times *t)
{
	struct wire_in r;

	wire_in_init(&r, p, len);
	res->err = -(int)wire_get_u32(&r);
	res->stage = wire_get_u32(&r);
	res->pid = wire_get_u32(&r);
	t->fence = wire_get_u64(&r);
	t->replay = wire_get_u64(&r);
	t->restore = wire_get_u64(&r);
	wire_get_str(&r, res->text, PEER_TEXT_MAX);
	if (wire_get_done(&r) < 0 || res->err < -4095 || res->stage > PEER_STAGE_RESTORED)
		return -EBADMSG;
	return 0;
}

/* Freeze, flush every mount, dump into dir: the app is frozen on success. */
static int prepare(const struct handoff_config *cfg, const struct handoff_request *req,
		   const struct handoff_app_ops *ops, const char *dir, struct handoff_times *t)
{
	uint64_t t0 = handoff_now_ns();
	int r;

	r = ops->freeze(ops->userdata, req->app);
	if (r < 0)
		return log_error_errno(r, "cannot freeze app '%s'", req->app);
	t->freeze = handoff_now_ns() - t0;
	t0 = handoff_now_ns();
	for (uint32_t i = 0; i < req->n_mounts; i++) {
		r = handoff_flush_mount(req->mounts[i].path, cfg->flush_timeout_ms);
		if (r < 0)
			return r;
	}
	t->flush = handoff_now_ns() - t0;
	t0 = handoff_now_ns();
	if (mkdir(dir, 0700) < 0)
		return log_error_errno(-errno, "cannot create image directory '%s'", dir);
	r = ops->dump(ops->userdata, req->app, dir);
	if (r < 0)
		return log_error_errno(r, "cannot checkpoint app '%s'", req->app);
	t->dump = handoff_now_ns() - t0;
	return 0;
}

/* Before the freeze: B checks its mounts while we dump. */
static int send_request(struct peer_conn *conn, const struct handoff_request *req)
{
	struct wire_out w;
	int r;

	r = handoff_request_encode(req, &w);
	if (r < 0)
		return log_error_errno(r, "handoff request of '%s' does not fit a message", req->app);
	r = peer_send(conn, PEER_MSG_HANDOFF_BEGIN, w.buf, w.len);
	wire_out_free(&w);
	return r;
}

static int send_image(struct peer_conn *conn, const struct handoff_request *req,
		      const char *dir, struct handoff_times *t)
{
	struct image_stats st = { 0 };
	int dirfd, r;

	/* a refusal of the request may be here already */
	r = peer_check_refusal(conn);
	if (r < 0)
		return r;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return log_error_errno(-errno, "cannot open image directory '%s'", dir);
	r = image_send(conn, dirfd, req->app, &st);
	close(dirfd);
	t->transfer = st.hash_ns + st.transfer_ns;
	t->image_bytes = st.bytes;
	return r;
}

/* After COMMIT: B's RESULT decides. */
static int await_result(struct peer_conn *conn, const struct handoff_request *req,
			const struct handoff_app_ops *ops, struct handoff_times *t)
{
	struct handoff_result res = { 0 };
	const uint8_t *p;
	size_t len;
	int r;

	r = peer_recv_type(conn, PEER_MSG_RESULT, &p, &len);
	if (r == 0)
		r = result_decode(p, len, &res, t);
	if (r < 0)
		return log_error_errno(-ENOTRECOVERABLE,
				       "no result from '%s' after commit (%s): app '%s' does not resume here, it may run there",
				       peer_conn_name(conn), strerror(-r), req->app);
	if (res.err == 0 && res.stage == PEER_STAGE_RESTORED) {
		r = ops->kill(ops->userdata, req->app);
		if (r < 0)
			log_error_errno(r, "app '%s' runs on '%s' but its copy here could not be killed",
					req->app, peer_conn_name(conn));
		log_info("app '%s' handed off to '%s' (pid %u there)", req->app, peer_conn_name(conn),
			 res.pid);
		return 0;
	}
	if (res.stage == PEER_STAGE_RESTORED)
		return log_error_errno(-ENOTRECOVERABLE, "'%s' restored app '%s' but reports: %s",
				       peer_conn_name(conn), req->app, res.text);
	return log_error_errno(res.err ? res.err : -EPROTO, "'%s' did not restore app '%s': %s",
			       peer_conn_name(conn), req->app, res.text);
}

static int exchange(struct peer_conn *conn, const struct handoff_config *cfg,
		    const struct handoff_request *req, const struct handoff_app_ops *ops,
		    const char *dir, struct handoff_times *t)
{
	const uint8_t *p;
	size_t len;
	int r;

	r = send_request(conn, req);
	if (r < 0)
		return r;
	r = prepare(cfg, req, ops, dir, t);
	if (r < 0)
		return r;
	r = send_image(conn, req, dir, t);
	if (r < 0)
		return r;
	r = peer_recv_type(conn, PEER_MSG_HANDOFF_READY, &p, &len);
	if (r < 0)
		return r;
	/* from here only B's RESULT may thaw: a COMMIT that may have left
	 * counts as sent, B may go on with it */
	r = peer_send(conn, PEER_MSG_HANDOFF_COMMIT, NULL, 0);
	if (r < 0)
		return log_error_errno(-ENOTRECOVERABLE, "commit to '%s' may be lost: app '%s' does not resume here",
				       peer_conn_name(conn), req->app);
	return await_result(conn, req, ops, t);
}

int handoff_send(struct peer_ctx *ctx, const char *peer_name, const char *addr, uint16_t port,
		 const struct handoff_config *cfg, const struct handoff_request *req,
		 const struct handoff_app_ops *ops, struct handoff_times *times)
{
	struct handoff_times t = { 0 };
	struct peer_conn *conn;
	uint64_t t0 = handoff_now_ns();
	char dir[PATH_MAX];
	int r;

	snprintf(dir, sizeof(dir), "%s/%s.out.%d", cfg->image_dir, req->app, getpid());
	r = peer_connect(ctx, peer_name, addr, port, &conn);
	if (r < 0)
		return log_error_errno(r, "handoff of '%s' not started: no authenticated connection to peer '%s'",
				       req->app, peer_name);
	t.connect = handoff_now_ns() - t0;
	/* B waits for our dump, we for its replay and restore */
	peer_conn_set_timeout(conn, cfg->result_timeout_ms > 0 ? cfg->result_timeout_ms : 120000);
	r = exchange(conn, cfg, req, ops, dir, &t);
	bool keep = r == -ENOTRECOVERABLE;	/* committed, no answer: B may run it */

	if (keep)
		log_error("image of '%s' kept in '%s': if '%s' does not run the app, restore it here from there",
			  req->app, dir, peer_name);

	if (r < 0 && !keep) {
		int q = ops->thaw(ops->userdata, req->app, dir);

		if (q < 0)
			log_error_errno(q, "cannot resume app '%s' after the failed handoff; its image stays in '%s'",
					req->app, dir);
		else
			log_notice("handoff of '%s' to '%s' failed, the app runs here again", req->app,
				   peer_name);
		keep = q < 0;
	}
	peer_conn_free(conn);
	if (!keep)
		(void)image_remove(AT_FDCWD, dir);
	t.total = handoff_now_ns() - t0;
	if (times)
		*times = t;
	return r;
}
