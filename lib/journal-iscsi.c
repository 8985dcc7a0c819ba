// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * journal-iscsi.c - the journal's block device on an iSCSI LUN, over its own
 * libiscsi session (a different portal than the primary path): URL and CHAP
 * secrets, login, READ CAPACITY(16), READ(16)/WRITE(16)/SYNCHRONIZE CACHE(16)
 * with unit-attention retries and reservation conflicts turned into fencing,
 * and a keepalive thread that sends a NOP-out every KEEPALIVE_MS and logs in
 * again with bounded backoff when the session is lost. The session states
 * are in journal-iscsi.h; the reservations in journal-iscsi-pr.c.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#define LOG_PREFIX "journal-iscsi: "
#include "lifeboat/log.h"
#include "journal-iscsi.h"
#include "journal-internal.h"

#define KEEPALIVE_MS 2000		/* NOP-out period */
#define NOP_TIMEOUT_MS 5000		/* a NOP-out unanswered this long: session lost */
#define CMD_TIMEOUT_S 10		/* one SCSI command at most (libiscsi timeout) */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define DEFAULT_TIMEOUT_S 300		/* an I/O waits this long for a lost session */
#define UA_RETRIES 4
#define DEFAULT_CHAP_FILE "/etc/lifeboat/iscsi-chap"
#define INITIATOR_PREFIX "iqn.2026-11.io.lifeboat:"

static uint64_t mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct iscsi_bd *ib_of(struct journal_blockdev *bd)
{
	return (struct iscsi_bd *)bd;
}

bool journal_name_is_iscsi(const char *name)
{
	return strncmp(name, "iscsi://", 8) == 0;
}

/* ------------------------------------------------------------------ URL */

/* Our query parameters (initiator=, key=, timeout=), removed from url in place. */
static int url_take_params(struct iscsi_bd *ib, char *url)
{
	char *q = strchr(url, '?'), *save = NULL;

	if (!q)
		return 0;
	*q++ = '\0';
	for (char *p = strtok_r(q, "&", &save); p; p = strtok_r(NULL, "&", &save)) {
		char *end = NULL;

		if (strncmp(p, "initiator=", 10) == 0 && p[10]) {
			free(ib->initiator);
			ib->initiator = strdup(p + 10);
			if (!ib->initiator)
				return -ENOMEM;
		} else if (strncmp(p, "key=", 4) == 0) {
			errno = 0;
			ib->key = strtoull(p + 4, &end, 16);
			if (errno || end == p + 4 || *end || ib->key == 0)
				return log_error_errno(-EINVAL, "bad reservation key '%s' (hex, not 0)", p + 4);
		} else if (strncmp(p, "timeout=", 8) == 0) {
			long t = strtol(p + 8, &end, 10);

			if (end == p + 8 || *end || t < 1 || t > 86400)
				return log_error_errno(-EINVAL, "bad timeout '%s' (1..86400 s)", p + 8);
			ib->timeout_s = (int)t;
		} else {
			return log_error_errno(-EINVAL, "unknown iSCSI URL parameter '%s' "
					       "(initiator=, key=, timeout=)", p);
		}
	}
	return 0;
}

/* The URL for messages: no secrets, no parameters. */
static char *url_public(const char *portal, const char *target, int lun)
{
	char *s;

	if (asprintf(&s, "iscsi://%s/%s/%d", portal, target, lun) < 0)
		return NULL;
	return s;
}

/* A root-only file of user= and password= lines. */
static int chap_from_file(struct iscsi_bd *ib)
{
	const char *path = getenv("LIFEBOAT_ISCSI_CHAP_FILE");
	char line[512];
	struct stat st;
	FILE *f;

	if (!path)
		path = DEFAULT_CHAP_FILE;
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : log_error_errno(-errno, "cannot read '%s'", path);
	if (fstat(fileno(f), &st) < 0 || st.st_uid != 0 || (st.st_mode & 077)) {
		fclose(f);
		return log_error_errno(-EPERM, "CHAP file '%s' must be owned by root with mode 0600", path);
	}
	while (fgets(line, sizeof(line), f)) {
		char **dst = NULL, *v;

		line[strcspn(line, "\r\n")] = '\0';
		if (strncmp(line, "user=", 5) == 0)
			dst = &ib->user;
		else if (strncmp(line, "password=", 9) == 0)
			dst = &ib->password;
		if (!dst)
			continue;
		v = strdup(strchr(line, '=') + 1);
		free(*dst);
		*dst = v;
	}
	explicit_bzero(line, sizeof(line));
	fclose(f);
	return 0;
}

static int chap_setup(struct iscsi_bd *ib, const struct iscsi_url *u)
{
	const char *eu = getenv("LIBISCSI_CHAP_USERNAME"), *ep = getenv("LIBISCSI_CHAP_PASSWORD");

	if (u->user[0]) {
		ib->user = strdup(u->user);
		ib->password = strdup(u->passwd);
		log_warning("the CHAP password in the journal URL is visible to 'ps': "
			    "use LIBISCSI_CHAP_PASSWORD or a root-only file instead");
	} else if (eu && ep) {
		ib->user = strdup(eu);
		ib->password = strdup(ep);
	} else {
		return chap_from_file(ib);
	}
	return ib->user && ib->password ? 0 : -ENOMEM;
}

static char *default_initiator(void)
{
	const char *env = getenv("LIFEBOAT_ISCSI_INITIATOR");
	char host[128] = "localhost", *s;

	if (env && *env)
		return strdup(env);
	(void)gethostname(host, sizeof(host) - 1);
	for (char *p = host; *p; p++)
		*p = (char)(isalnum((unsigned char)*p) || *p == '-' || *p == '.' ? tolower(*p) : '-');
	if (asprintf(&s, "%s%s", INITIATOR_PREFIX, host) < 0)
		return NULL;
	return s;
}

static int default_key(struct iscsi_bd *ib)
{
	const char *env = getenv("LIFEBOAT_ISCSI_KEY");
	char *end = NULL;

	if (ib->key)
		return 0;
	if (env && *env) {
		ib->key = strtoull(env, &end, 16);
		if (*end || ib->key == 0)
			return log_error_errno(-EINVAL, "bad LIFEBOAT_ISCSI_KEY '%s' (hex, not 0)", env);
		return 0;
	}
	ib->key = XXH3_64bits(ib->initiator, strlen(ib->initiator)) | 1;
	return 0;
}

/* Splits url into portal, target, lun and secrets (libiscsi parses it). */
static int url_parse(struct iscsi_bd *ib, const char *url)
{
	struct iscsi_context *ctx;
	struct iscsi_url *u;
	char *copy = strdup(url);
	int r;

	if (!copy)
		return -ENOMEM;
	r = url_take_params(ib, copy);
	if (r >= 0 && !ib->initiator)
		ib->initiator = default_initiator();
	if (r >= 0 && !ib->initiator)
		r = -ENOMEM;
	if (r >= 0)
		r = default_key(ib);
	ctx = r >= 0 ? iscsi_create_context(ib->initiator) : NULL;
	u = ctx ? iscsi_parse_full_url(ctx, copy) : NULL;
	if (r >= 0 && !u)
		r = log_error_errno(-EINVAL, "bad iSCSI URL (iscsi://[user[%%password]@]host[:port]/iqn/lun): %s",
				    ctx ? iscsi_get_error(ctx) : "no memory");
	if (u) {
		ib->portal = strdup(u->portal);
		ib->target = strdup(u->target);
		ib->lun = u->lun;
		r = chap_setup(ib, u);
		ib->bd.name = url_public(u->portal, u->target, u->lun);
		if (r >= 0 && (!ib->portal || !ib->target || !ib->bd.name))
			r = -ENOMEM;
		explicit_bzero(u->passwd, sizeof(u->passwd));
		iscsi_destroy_url(u);
	}
	if (ctx)
		iscsi_destroy_context(ctx);
	explicit_bzero(copy, strlen(copy));
	free(copy);
	return r;
}

/* ------------------------------------------------------------------ login */

/* A new logged-in context, or NULL (the reason logged at level). */
static struct iscsi_context *session_login(struct iscsi_bd *ib, int level)
{
	struct iscsi_context *ctx = iscsi_create_context(ib->initiator);

	if (!ctx)
		return NULL;
	(void)iscsi_set_session_type(ctx, ISCSI_SESSION_NORMAL);
	(void)iscsi_set_header_digest(ctx, ISCSI_HEADER_DIGEST_NONE_CRC32C);
	(void)iscsi_set_targetname(ctx, ib->target);
	iscsi_set_noautoreconnect(ctx, 1);	/* our keepalive thread reconnects */
	(void)iscsi_set_timeout(ctx, CMD_TIMEOUT_S);
	(void)iscsi_set_tcp_syncnt(ctx, 2);
	(void)iscsi_set_tcp_user_timeout(ctx, CMD_TIMEOUT_S * 1000);
	if (ib->user && iscsi_set_initiator_username_pwd(ctx, ib->user, ib->password) < 0)
		goto out_fail;
	if (iscsi_full_connect_sync(ctx, ib->portal, ib->lun) < 0)
		goto out_fail;
	return ctx;

out_fail:
	(void)log_full_errno(level, -ENOTCONN, "cannot log in to '%s' as '%s': %s", ib->bd.name,
			     ib->initiator, iscsi_get_error(ctx));
	iscsi_destroy_context(ctx);
	return NULL;
}

/* ------------------------------------------------------------------ commands */

static bool is_unit_attention(const struct scsi_task *t)
{
	return t->status == SCSI_STATUS_CHECK_CONDITION && t->sense.key == SCSI_SENSE_UNIT_ATTENTION;
}

static bool is_session_error(const struct scsi_task *t)
{
	return !t || t->status == SCSI_STATUS_ERROR || t->status == SCSI_STATUS_TIMEOUT ||
	       t->status == SCSI_STATUS_CANCELLED;
}

void iscsi_bd_fence(struct iscsi_bd *ib, const char *why)
{
	if (ib->state == ISCSI_BD_FENCED)
		return;
	ib->state = ISCSI_BD_FENCED;
	pthread_cond_broadcast(&ib->changed);
	log_error("FENCED: %s on journal '%s' (our key 0x%" PRIx64 "): another node owns the "
		  "journal now; this node never writes it again and acknowledges nothing more",
		  why, ib->bd.name, ib->key);
}

/*
 * Drops a session at once: an RST, not a graceful close, so that no byte of
 * a command we gave up on (and will write again) still leaves this host
 * after we logged in again.
 */
static void session_destroy(struct iscsi_context *ctx)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int fd = iscsi_get_fd(ctx);

	if (fd >= 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	iscsi_destroy_context(ctx);
}

/* With ib->lock: the session broke; the keepalive thread logs in again. */
static void session_lost(struct iscsi_bd *ib, const char *what)
{
	if (ib->state != ISCSI_BD_UP)
		return;
	ib->state = ISCSI_BD_DOWN;
	ib->down_since_ms = mono_ms();
	pthread_cond_broadcast(&ib->changed);
	log_warning("journal session to '%s' lost (%s): logging in again", ib->bd.name, what);
	if (ib->ctx)
		session_destroy(ib->ctx);
	ib->ctx = NULL;
}

/* With ib->lock: waits until the session is up; -ETIMEDOUT after deadline. */
static int session_wait_up(struct iscsi_bd *ib, uint64_t deadline)
{
	while (ib->state == ISCSI_BD_DOWN && !ib->stopping) {
		struct timespec until;

		if (mono_ms() >= deadline)
			return -ETIMEDOUT;
		(void)clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		(void)pthread_cond_timedwait(&ib->changed, &ib->lock, &until);
	}
	if (ib->state == ISCSI_BD_FENCED)
		return -ESTALE;
	return ib->state == ISCSI_BD_UP ? 0 : -ESHUTDOWN;
}

int iscsi_bd_exec(struct iscsi_bd *ib, const char *what, iscsi_bd_cmd_fn fn, void *arg,
		  struct scsi_task **ret_task)
{
	uint64_t deadline = mono_ms() + (uint64_t)ib->timeout_s * 1000;
	unsigned ua = 0;
	int r;

	for (;;) {
		struct scsi_task *t;

		r = session_wait_up(ib, deadline);
		if (r < 0)
			return r;
		t = fn(ib->ctx, ib->lun, arg);
		if (t && t->status == SCSI_STATUS_GOOD) {
			*ret_task = t;
			return 0;
		}
		if (is_session_error(t)) {
			char why[160];

			(void)snprintf(why, sizeof(why), "%s: %s", what,
				       t && t->status == SCSI_STATUS_TIMEOUT ? "timed out" :
				       iscsi_get_error(ib->ctx));
			session_lost(ib, why);
		} else if (t->status == SCSI_STATUS_RESERVATION_CONFLICT) {
			iscsi_bd_fence(ib, "RESERVATION CONFLICT");
		} else if (is_unit_attention(t) && ua++ < UA_RETRIES) {
			log_info("%s on '%s': unit attention (ASC/ASCQ 0x%04x), again", what,
				 ib->bd.name, (unsigned)t->sense.ascq);
		} else if (t->status == SCSI_STATUS_BUSY || t->status == SCSI_STATUS_TASK_SET_FULL) {
			(void)usleep(10000);
		} else {
			log_error("%s on '%s' refused: status 0x%x, %s, %s", what, ib->bd.name,
				  t->status, scsi_sense_key_str(t->sense.key),
				  scsi_sense_ascq_str(t->sense.ascq));
			scsi_free_scsi_task(t);
			return -EIO;
		}
		if (t)
			scsi_free_scsi_task(t);
	}
}

/* ------------------------------------------------------------------ I/O */

struct io_arg {
	uint64_t lba;
	uint32_t len;
	uint32_t bs;
	unsigned char *data;
};

static struct scsi_task *cmd_read(struct iscsi_context *ctx, int lun, void *arg)
{
	struct io_arg *a = arg;

	return iscsi_read16_sync(ctx, lun, a->lba, a->len, (int)a->bs, 0, 0, 0, 0, 0);
}

static struct scsi_task *cmd_write(struct iscsi_context *ctx, int lun, void *arg)
{
	struct io_arg *a = arg;

	return iscsi_write16_sync(ctx, lun, a->lba, a->data, a->len, (int)a->bs, 0, 0, 0, 0, 0);
}

static struct scsi_task *cmd_sync(struct iscsi_context *ctx, int lun, void *arg)
{
	return iscsi_synchronizecache16_sync(ctx, lun, 0, 0, 0, 0);
}

/*
 * Block 0 carries the header's epoch and the ring's LUN id: a new login
 * checks them (journal-iscsi-pr.c) to find a takeover, or another LUN
 * behind the same address, that happened while the session was down.
 */
void iscsi_bd_note_block0(struct iscsi_bd *ib, const void *buf)
{
	const uint8_t *b = buf;
	struct journal_header_disk h;
	struct journal_ring_disk rd;

	memcpy(&h, b, sizeof(h));
	memcpy(&rd, b + JOURNAL_RING_SB_OFFSET, sizeof(rd));
	if (le64toh(h.magic) == JOURNAL_HEADER_MAGIC && le64toh(h.epoch) > ib->sb_epoch)
		ib->sb_epoch = le64toh(h.epoch);
	if (le64toh(rd.magic) == JOURNAL_RING_MAGIC) {
		memcpy(ib->lun_id, rd.lun_id, sizeof(ib->lun_id));
		ib->has_lun_id = true;
	}
}

static void note_epoch(struct iscsi_bd *ib, uint64_t lba, const void *buf)
{
	if (lba == 0)
		iscsi_bd_note_block0(ib, buf);
}

static int ib_read(struct journal_blockdev *bd, uint64_t lba, uint32_t n, void *buf)
{
	struct iscsi_bd *ib = ib_of(bd);
	struct io_arg a = { .lba = lba, .len = n * bd->block_size, .bs = bd->block_size };
	struct scsi_task *t;
	int r;

	pthread_mutex_lock(&ib->lock);
	r = iscsi_bd_exec(ib, "READ(16)", cmd_read, &a, &t);
	if (r == 0) {
		if (!t->datain.data || t->datain.size < (int)a.len) {
			r = -EIO;
		} else {
			memcpy(buf, t->datain.data, a.len);
			note_epoch(ib, lba, buf);
		}
		scsi_free_scsi_task(t);
	}
	pthread_mutex_unlock(&ib->lock);
	return r;
}

static int ib_write(struct journal_blockdev *bd, uint64_t lba, uint32_t n, const void *buf)
{
	struct iscsi_bd *ib = ib_of(bd);
	struct io_arg a = {
		.lba = lba, .len = n * bd->block_size, .bs = bd->block_size,
		.data = (unsigned char *)buf,	/* libiscsi only reads it */
	};
	struct scsi_task *t;
	int r;

	if (bd->read_only)
		return -EROFS;
	pthread_mutex_lock(&ib->lock);
	r = iscsi_bd_exec(ib, "WRITE(16)", cmd_write, &a, &t);
	if (r == 0) {
		note_epoch(ib, lba, buf);
		scsi_free_scsi_task(t);
	}
	pthread_mutex_unlock(&ib->lock);
	return r;
}

static int ib_sync(struct journal_blockdev *bd)
{
	struct iscsi_bd *ib = ib_of(bd);
	struct scsi_task *t;
	int r;

	if (bd->read_only)
		return 0;
	pthread_mutex_lock(&ib->lock);
	r = iscsi_bd_exec(ib, "SYNCHRONIZE CACHE(16)", cmd_sync, NULL, &t);
	if (r == 0)
		scsi_free_scsi_task(t);
	pthread_mutex_unlock(&ib->lock);
	return r;
}

static void ib_path_info(struct journal_blockdev *bd, struct journal_path_info *ret_info)
{
	struct iscsi_bd *ib = ib_of(bd);
	struct journal_path_info info = { .remote = true };

	pthread_mutex_lock(&ib->lock);
	info.up = ib->state == ISCSI_BD_UP;
	info.fenced = ib->state == ISCSI_BD_FENCED;
	info.reconnects = ib->reconnects;
	info.down_ms = ib->state == ISCSI_BD_DOWN ? mono_ms() - ib->down_since_ms : 0;
	pthread_mutex_unlock(&ib->lock);
	(void)snprintf(info.portal, sizeof(info.portal), "%s", ib->portal);
	*ret_info = info;
}

/* ------------------------------------------------------------------ keepalive */

struct nop_wait {
	bool done;
	int status;
};

static void nop_done(struct iscsi_context *ctx, int status, void *data, void *private_data)
{
	struct nop_wait *w = private_data;

	w->done = true;
	w->status = status;
}

/* With ib->lock, session up: one NOP-out answered in time, or -ETIMEDOUT/-EIO. */
static int nop_ping(struct iscsi_bd *ib)
{
	uint64_t deadline = mono_ms() + NOP_TIMEOUT_MS;
	struct nop_wait w = { 0 };

	if (iscsi_nop_out_async(ib->ctx, nop_done, NULL, 0, &w) < 0)
		return -EIO;
	while (!w.done) {
		struct pollfd pfd = { .fd = iscsi_get_fd(ib->ctx), .events = iscsi_which_events(ib->ctx) };
		int n;

		if (mono_ms() >= deadline)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, 100);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (iscsi_service(ib->ctx, n > 0 ? pfd.revents : 0) < 0)
			return -EIO;
	}
	return w.status == SCSI_STATUS_GOOD ? 0 : -EIO;
}

/* With ib->lock, session down: one login attempt; the lock is dropped meanwhile. */
static int session_relogin(struct iscsi_bd *ib)
{
	struct iscsi_context *ctx, *old;
	int r = 0;

	pthread_mutex_unlock(&ib->lock);
	ctx = session_login(ib, LOG_LVL_DEBUG);
	pthread_mutex_lock(&ib->lock);
	if (!ctx)
		return -ENOTCONN;
	if (ib->use_pr)
		r = iscsi_pr_relogin(ib, ctx);
	if (r == -ESTALE) {
		iscsi_bd_fence(ib, "preempted while the session was down");
	} else if (r == 0 && ib->state == ISCSI_BD_DOWN) {
		old = ib->ctx;	/* NULL: session_lost() dropped it */
		ib->ctx = ctx;
		ctx = old;
		ib->state = ISCSI_BD_UP;
		ib->reconnects++;
		pthread_cond_broadcast(&ib->changed);
		log_notice("journal session to '%s' is back after %" PRIu64 " ms", ib->bd.name,
			   mono_ms() - ib->down_since_ms);
	}
	if (ctx)
		session_destroy(ctx);
	return r;
}

static void keepalive_sleep(struct iscsi_bd *ib, unsigned ms)
{
	struct timespec until;

	(void)clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	(void)pthread_cond_timedwait(&ib->changed, &ib->lock, &until);
}

static void *keepalive_main(void *arg)
{
	struct iscsi_bd *ib = arg;
	unsigned backoff = BACKOFF_MIN_MS;

	pthread_mutex_lock(&ib->lock);
	while (!ib->stopping && ib->state != ISCSI_BD_FENCED) {
		if (ib->state == ISCSI_BD_UP) {
			backoff = BACKOFF_MIN_MS;
			keepalive_sleep(ib, KEEPALIVE_MS);
			if (ib->state == ISCSI_BD_UP && !ib->stopping && nop_ping(ib) < 0)
				session_lost(ib, "NOP-out unanswered");
			continue;
		}
		if (session_relogin(ib) == 0)
			continue;
		keepalive_sleep(ib, backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	pthread_mutex_unlock(&ib->lock);
	return NULL;
}

/* ------------------------------------------------------------------ open, close */

static void ib_close(struct journal_blockdev *bd)
{
	struct iscsi_bd *ib = ib_of(bd);

	if (!bd)
		return;
	pthread_mutex_lock(&ib->lock);
	ib->stopping = true;
	pthread_cond_broadcast(&ib->changed);
	pthread_mutex_unlock(&ib->lock);
	if (ib->keepalive_running)
		pthread_join(ib->keepalive, NULL);
	if (ib->ctx) {
		(void)iscsi_logout_sync(ib->ctx);
		iscsi_destroy_context(ib->ctx);
	}
	if (ib->password)
		explicit_bzero(ib->password, strlen(ib->password));
	free(ib->password);
	free(ib->user);
	free(ib->portal);
	free(ib->target);
	free(ib->initiator);
	free(bd->name);
	pthread_cond_destroy(&ib->changed);
	pthread_mutex_destroy(&ib->lock);
	free(ib);
}

static const struct journal_blockdev_ops iscsi_bd_ops = {
	.read = ib_read,
	.write = ib_write,
	.sync = ib_sync,
	.path_info = ib_path_info,
	.close = ib_close,
};

static struct scsi_task *cmd_capacity(struct iscsi_context *ctx, int lun, void *arg)
{
	return iscsi_readcapacity16_sync(ctx, lun);
}

static int read_capacity(struct iscsi_bd *ib)
{
	struct scsi_readcapacity16 *rc;
	struct scsi_task *t;
	int r;

	r = iscsi_bd_exec(ib, "READ CAPACITY(16)", cmd_capacity, NULL, &t);
	if (r < 0)
		return r;
	rc = scsi_datain_unmarshall(t);
	if (!rc) {
		r = log_error_errno(-EIO, "cannot read the capacity of '%s'", ib->bd.name);
	} else {
		ib->bd.block_size = rc->block_length;
		ib->bd.blocks = rc->returned_lba + 1;
		if (rc->block_length < 512 || rc->block_length > JOURNAL_BLOCK ||
		    (rc->block_length & (rc->block_length - 1)))
			r = log_error_errno(-EXDEV, "'%s' has %u-byte blocks: a journal needs 512 to %u",
					    ib->bd.name, rc->block_length, JOURNAL_BLOCK);
	}
	scsi_free_scsi_task(t);
	return r;
}

static struct iscsi_bd *ib_alloc(unsigned flags)
{
	struct iscsi_bd *ib = calloc(1, sizeof(*ib));

	if (!ib)
		return NULL;
	ib->bd.ops = &iscsi_bd_ops;
	ib->bd.read_only = flags & (JOURNAL_OPEN_READONLY | JOURNAL_ISCSI_NO_RESERVE);
	ib->timeout_s = DEFAULT_TIMEOUT_S;
	ib->state = ISCSI_BD_UP;
	pthread_mutex_init(&ib->lock, NULL);
	pthread_cond_init(&ib->changed, NULL);
	return ib;
}

/* Logged in, capacity known, reservation taken: the keepalive thread starts. */
static int ib_start(struct iscsi_bd *ib, unsigned flags)
{
	int r;

	ib->ctx = session_login(ib, LOG_LVL_ERROR);
	if (!ib->ctx)
		return -ENOTCONN;
	pthread_mutex_lock(&ib->lock);
	r = read_capacity(ib);
	if (r >= 0 && !ib->bd.read_only) {
		r = iscsi_pr_acquire(ib, flags & (JOURNAL_ISCSI_TAKEOVER | JOURNAL_OPEN_TAKEOVER));
		ib->use_pr = r >= 0;
		ib->bd.exclusive = r >= 0;
	}
	pthread_mutex_unlock(&ib->lock);
	if (r < 0)
		return r;
	r = -pthread_create(&ib->keepalive, NULL, keepalive_main, ib);
	ib->keepalive_running = r == 0;
	return r;
}

int journal_iscsi_blockdev_open(const char *url, unsigned flags, struct journal_blockdev **ret_bd)
{
	struct iscsi_bd *ib = ib_alloc(flags);
	int r;

	if (!ib)
		return -ENOMEM;
	r = url_parse(ib, url);
	if (r >= 0)
		r = ib_start(ib, flags);
	if (r < 0) {
		ib_close(&ib->bd);
		return r;
	}
	*ret_bd = &ib->bd;
	return 0;
}

int journal_iscsi_pr_info(struct journal_blockdev *bd, struct journal_pr_info *ret_info)
{
	struct iscsi_bd *ib = ib_of(bd);
	int r;

	if (bd->ops != &iscsi_bd_ops)
		return -ENOTTY;
	pthread_mutex_lock(&ib->lock);
	r = iscsi_pr_read(ib, ret_info);
	pthread_mutex_unlock(&ib->lock);
	return r;
}
