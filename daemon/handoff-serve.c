// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * handoff-serve.c - the receiver's side of a handoff (B): check the mounts,
 * receive the image, READY, wait for COMMIT, then fence A on each journal,
 * replay it through our own mount, restore, and report the stage reached.
 * Nothing changes on this node before COMMIT but the image directory, which
 * goes away again on any failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "handoff: "
#include "lifeboat/log.h"
#include "handoff.h"
#include "image.h"

struct serve_state {
	struct peer_conn *conn;
	const struct handoff_config *cfg;
	const struct handoff_app_ops *ops;
	struct handoff_request req;
	struct handoff_times t;
	uint32_t stage;
	pid_t pid;
	char dirname[PEER_NAME_MAX + 16];
	int parent_fd;
};

static int send_result(struct serve_state *s, int err, const char *text)
{
	struct wire_out w;
	int r;

	r = wire_out_init(&w, PEER_TEXT_MAX + 64);
	if (r < 0)
		return r;
	wire_put_u32(&w, (uint32_t)-err);
	wire_put_u32(&w, s->stage);
	wire_put_u32(&w, (uint32_t)s->pid);
	wire_put_u64(&w, s->t.fence);
	wire_put_u64(&w, s->t.replay);
	wire_put_u64(&w, s->t.restore);
	wire_put_str(&w, text);
	r = wire_put_done(&w);
	if (r == 0)
		r = peer_send(s->conn, PEER_MSG_RESULT, w.buf, w.len);
	wire_out_free(&w);
	return r;
}

static int recv_request(struct serve_state *s)
{
	const uint8_t *p;
	size_t len;
	int r;

	r = peer_recv_type(s->conn, PEER_MSG_HANDOFF_BEGIN, &p, &len);
	if (r < 0)
		return r;
	r = handoff_request_decode(p, len, &s->req);
	if (r < 0)
		return peer_send_error(s->conn, r, "handoff request refused");
	for (uint32_t i = 0; i < s->req.n_mounts; i++)
		for (size_t k = 0; k < s->cfg->n_own_journals; k++)
			if (strcmp(s->req.mounts[i].journal, s->cfg->own_journals[k]) == 0)
				return peer_send_error(s->conn,
						       log_error_errno(-EINVAL, "peer '%s' names our own journal '%s'",
								       peer_conn_name(s->conn),
								       s->req.mounts[i].journal),
						       "'%s' is a journal of this node's own mounts",
						       s->req.mounts[i].journal);
	for (uint32_t i = 0; i < s->req.n_mounts && !s->cfg->any_mount; i++) {
		r = handoff_check_mount(s->req.mounts[i].path);
		if (r < 0)
			return peer_send_error(s->conn, r, "'%s' is not a lifeboatfs mount on this node",
					       s->req.mounts[i].path);
	}
	return 0;
}

static int recv_image(struct serve_state *s)
{
	struct image_stats st = { 0 };
	int r;

	s->parent_fd = open(s->cfg->image_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->parent_fd < 0)
		return peer_send_error(s->conn,
				       log_error_errno(-errno, "cannot open image directory '%s'",
						       s->cfg->image_dir),
				       "receiver has no image directory");
	snprintf(s->dirname, sizeof(s->dirname), "%s.in", s->req.app);
	/* left over from a receiver that died: it was never restored */
	(void)image_remove(s->parent_fd, s->dirname);
	r = image_recv(s->conn, s->parent_fd, s->dirname, NULL, NULL, &st);
	if (r < 0)
		return r;
	s->stage = PEER_STAGE_RECEIVED;
	s->t.transfer = st.transfer_ns;
	s->t.image_bytes = st.bytes;
	return 0;
}

/* READY, then COMMIT: the sender's promise not to resume on its own. */
static int await_commit(struct serve_state *s)
{
	const uint8_t *p;
	size_t len;
	int r;

	r = peer_send(s->conn, PEER_MSG_HANDOFF_READY, NULL, 0);
	if (r < 0)
		return r;
	r = peer_recv_type(s->conn, PEER_MSG_HANDOFF_COMMIT, &p, &len);
	if (r < 0)
		return log_error_errno(r, "no commit from '%s' for app '%s': not restoring",
				       peer_conn_name(s->conn), s->req.app);
	return len == 0 ? 0 : -EBADMSG;
}

static int take_over(struct serve_state *s)
{
	char dir[PATH_MAX];
	uint64_t t0;
	int r;

	handoff_drop_kernel_caches();
	for (uint32_t i = 0; i < s->req.n_mounts; i++) {
		if (!s->req.mounts[i].journal[0])
			continue;
		r = handoff_take_journal(s->req.mounts[i].journal, s->cfg->node_name,
					 s->req.mounts[i].path, &s->t.fence, &s->t.replay);
		if (r < 0)
			return send_result(s, r, "cannot fence and replay the journal"), r;
	}
	s->stage = PEER_STAGE_REPLAYED;
	snprintf(dir, sizeof(dir), "%s/%s", s->cfg->image_dir, s->dirname);
	t0 = handoff_now_ns();
	r = s->ops->restore(s->ops->userdata, s->req.app, dir, &s->pid);
	s->t.restore = handoff_now_ns() - t0;
	if (r < 0) {
		log_error_errno(r, "cannot restore app '%s' from '%s'", s->req.app,
				peer_conn_name(s->conn));
		return send_result(s, r, "restore failed"), r;
	}
	s->stage = PEER_STAGE_RESTORED;
	log_info("app '%s' from '%s' runs here (pid %d)", s->req.app, peer_conn_name(s->conn),
		 (int)s->pid);
	(void)send_result(s, 0, "restored");	/* it runs here now, answered or not */
	return 0;
}

int handoff_serve(struct peer_conn *conn, const struct handoff_config *cfg,
		  const struct handoff_app_ops *ops, pid_t *ret_pid)
{
	struct serve_state s = { .conn = conn, .cfg = cfg, .ops = ops, .parent_fd = -1 };
	int r;

	peer_conn_set_timeout(conn, cfg->result_timeout_ms > 0 ? cfg->result_timeout_ms : 120000);

	r = recv_request(&s);
	if (r == 0)
		r = recv_image(&s);
	if (r == 0)
		r = await_commit(&s);
	if (r == 0)
		r = take_over(&s);
	if (s.parent_fd >= 0) {
		if (s.stage >= PEER_STAGE_RECEIVED)
			(void)image_remove(s.parent_fd, s.dirname);
		close(s.parent_fd);
	}
	if (r == 0 && ret_pid)
		*ret_pid = s.pid;
	return r;
}
