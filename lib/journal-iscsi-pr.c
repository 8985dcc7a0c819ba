// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * journal-iscsi-pr.c - single ownership of a journal LUN with SCSI-3
 * persistent reservations. Every node registers its own key; the owner
 * holds a Write Exclusive, Registrants Only reservation (type 5); a takeover
 * PREEMPTs the previous owner's key (which removes its registrations, so its
 * next WRITE gets a unit attention and then RESERVATION CONFLICT), and the
 * journal core bumps the epoch in the superblock.
 *
 * PREEMPT AND ABORT would also abort the old owner's commands in flight, but
 * tgt answers it with CHECK CONDITION: plain PREEMPT it is; a command of the
 * old owner already inside the target may still land, and the epoch in the
 * superblock (records of an older epoch after a newer one are out of order
 * for the scan) covers that window.
 *
 * After a new login (new I_T nexus) our key must be registered again; that is
 * only done when our key is still registered on another nexus (nobody
 * preempted us) or when the target has no registrations at all (it lost
 * them in a restart, as tgt does), and the superblock's epoch must be the one
 * we last saw.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define LOG_PREFIX "journal-iscsi: "
#include "lifeboat/log.h"
#include "journal-iscsi.h"

#define PR_TYPE SCSI_PERSISTENT_RESERVE_TYPE_WRITE_EXCLUSIVE_REGISTRANTS_ONLY
#define PR_IN_LEN 4096

struct pr_out_arg {
	enum scsi_persistent_out_sa sa;
	enum scsi_persistent_out_type type;
	struct scsi_persistent_reserve_out_basic basic;
};

static struct scsi_task *cmd_pr_out(struct iscsi_context *ctx, int lun, void *arg)
{
	struct pr_out_arg *a = arg;

	return iscsi_persistent_reserve_out_sync(ctx, lun, a->sa, SCSI_PERSISTENT_RESERVE_SCOPE_LU,
						 a->type, &a->basic);
}

static struct scsi_task *cmd_read_keys(struct iscsi_context *ctx, int lun, void *arg)
{
	return iscsi_persistent_reserve_in_sync(ctx, lun, SCSI_PERSISTENT_RESERVE_READ_KEYS, PR_IN_LEN);
}

static struct scsi_task *cmd_read_resv(struct iscsi_context *ctx, int lun, void *arg)
{
	return iscsi_persistent_reserve_in_sync(ctx, lun, SCSI_PERSISTENT_RESERVE_READ_RESERVATION,
						PR_IN_LEN);
}

struct block0_arg {
	uint32_t bs;
};

static struct scsi_task *cmd_read_block0(struct iscsi_context *ctx, int lun, void *arg)
{
	struct block0_arg *a = arg;

	return iscsi_read16_sync(ctx, lun, 0, a->bs, (int)a->bs, 0, 0, 0, 0, 0);
}

/* ------------------------------------------------------------------ decode */

static int keys_decode(struct scsi_task *t, struct journal_pr_info *info)
{
	struct scsi_persistent_reserve_in_read_keys *rk = scsi_datain_unmarshall(t);

	if (!rk || rk->num_keys < 0)
		return -EIO;
	info->generation = rk->prgeneration;
	info->nkeys = 0;
	for (int i = 0; i < rk->num_keys && info->nkeys < 16; i++)
		info->keys[info->nkeys++] = rk->keys[i];
	return 0;
}

static int resv_decode(struct scsi_task *t, struct journal_pr_info *info)
{
	struct scsi_persistent_reserve_in_read_reservation *rr = scsi_datain_unmarshall(t);

	if (!rr)
		return -EIO;
	info->reserved = rr->reserved;
	info->holder_key = rr->reserved ? rr->reservation_key : 0;
	info->type = rr->reserved ? rr->pr_type : 0;
	return 0;
}

static bool has_key(const struct journal_pr_info *info, uint64_t key)
{
	for (unsigned i = 0; i < info->nkeys; i++)
		if (info->keys[i] == key)
			return true;
	return false;
}

/* ------------------------------------------------------------------ session up */

static int exec_decode(struct iscsi_bd *ib, const char *what, iscsi_bd_cmd_fn fn,
		       int (*decode)(struct scsi_task *, struct journal_pr_info *),
		       struct journal_pr_info *info)
{
	struct scsi_task *t;
	int r;

	r = iscsi_bd_exec(ib, what, fn, NULL, &t);
	if (r < 0)
		return r;
	r = decode(t, info);
	scsi_free_scsi_task(t);
	return r;
}

static int pr_out(struct iscsi_bd *ib, const char *what, enum scsi_persistent_out_sa sa,
		  uint64_t key, uint64_t sa_key)
{
	struct pr_out_arg a = {
		.sa = sa, .type = PR_TYPE,
		.basic = { .reservation_key = key, .service_action_reservation_key = sa_key },
	};
	struct scsi_task *t;
	int r;

	r = iscsi_bd_exec(ib, what, cmd_pr_out, &a, &t);
	if (r == 0)
		scsi_free_scsi_task(t);
	return r;
}

int iscsi_pr_read(struct iscsi_bd *ib, struct journal_pr_info *ret_info)
{
	struct journal_pr_info info = { .our_key = ib->key };
	int r;

	r = exec_decode(ib, "PERSISTENT RESERVE IN (READ KEYS)", cmd_read_keys, keys_decode, &info);
	if (r >= 0)
		r = exec_decode(ib, "PERSISTENT RESERVE IN (READ RESERVATION)", cmd_read_resv,
				resv_decode, &info);
	if (r < 0)
		return r;
	*ret_info = info;
	return 0;
}

/* Another node owns the LUN: with type 5 every registrant may write, so unregister. */
static int acquire_refused(struct iscsi_bd *ib, uint64_t holder_key)
{
	(void)pr_out(ib, "REGISTER (unregister)", SCSI_PERSISTENT_RESERVE_REGISTER, ib->key, 0);
	return log_error_errno(-EBUSY, "journal '%s' is reserved by key 0x%" PRIx64 ", not ours (0x%"
			       PRIx64 "): another node owns it ('lifeboat journal fence' takes it over)",
			       ib->bd.name, holder_key, ib->key);
}

int iscsi_pr_acquire(struct iscsi_bd *ib, bool takeover)
{
	struct journal_pr_info info;
	int r;

	r = pr_out(ib, "REGISTER AND IGNORE EXISTING KEY",
		   SCSI_PERSISTENT_RESERVE_REGISTER_AND_IGNORE_EXISTING_KEY, 0, ib->key);
	if (r >= 0)
		r = iscsi_pr_read(ib, &info);
	if (r < 0)
		return log_error_errno(r, "cannot register key 0x%" PRIx64 " on '%s'", ib->key,
				       ib->bd.name);
	if (!info.reserved)
		r = pr_out(ib, "RESERVE", SCSI_PERSISTENT_RESERVE_RESERVE, ib->key, 0);
	else if (info.holder_key == ib->key)
		return 0;
	else if (takeover)
		r = pr_out(ib, "PREEMPT", SCSI_PERSISTENT_RESERVE_PREEMPT, ib->key, info.holder_key);
	else
		return acquire_refused(ib, info.holder_key);
	if (r < 0)
		return log_error_errno(r, "cannot reserve '%s' with key 0x%" PRIx64, ib->bd.name,
				       ib->key);
	if (info.reserved)
		log_notice("preempted key 0x%" PRIx64 " on '%s': this node (key 0x%" PRIx64
			   ") owns the journal now", info.holder_key, ib->bd.name, ib->key);
	return 0;
}

/* ------------------------------------------------------------------ relogin */

/* One command on a session not yet in use: unit attentions repeat it. */
static int raw_exec(struct iscsi_context *ctx, int lun, iscsi_bd_cmd_fn fn, void *arg,
		    struct scsi_task **ret_task)
{
	for (int i = 0; i < 5; i++) {
		struct scsi_task *t = fn(ctx, lun, arg);
		int status = t ? t->status : SCSI_STATUS_ERROR;

		if (status == SCSI_STATUS_GOOD) {
			*ret_task = t;
			return 0;
		}
		if (t)
			scsi_free_scsi_task(t);
		if (status == SCSI_STATUS_RESERVATION_CONFLICT)
			return -ESTALE;
		if (status != SCSI_STATUS_CHECK_CONDITION)
			return -EIO;
	}
	return -EIO;
}

static int raw_decode(struct iscsi_context *ctx, int lun, iscsi_bd_cmd_fn fn,
		      int (*decode)(struct scsi_task *, struct journal_pr_info *),
		      struct journal_pr_info *info)
{
	struct scsi_task *t;
	int r;

	r = raw_exec(ctx, lun, fn, NULL, &t);
	if (r < 0)
		return r;
	r = decode(t, info);
	scsi_free_scsi_task(t);
	return r;
}

static int raw_pr_out(struct iscsi_bd *ib, struct iscsi_context *ctx,
		      enum scsi_persistent_out_sa sa, uint64_t key, uint64_t sa_key)
{
	struct pr_out_arg a = {
		.sa = sa, .type = PR_TYPE,
		.basic = { .reservation_key = key, .service_action_reservation_key = sa_key },
	};
	struct scsi_task *t;
	int r;

	r = raw_exec(ctx, ib->lun, cmd_pr_out, &a, &t);
	if (r == 0)
		scsi_free_scsi_task(t);
	return r;
}

/*
 * The superblock must still be ours: the same LUN id (not another LUN that
 * took this address: -ENXIO, the session stays down) and the newest epoch
 * we saw (nobody took over: else -ESTALE).
 */
static int relogin_check_block0(struct iscsi_bd *ib, struct iscsi_context *ctx)
{
	struct block0_arg a = { .bs = ib->bd.block_size };
	uint64_t epoch = ib->sb_epoch;
	struct journal_ring_disk rd;
	struct scsi_task *t;
	int r;

	r = raw_exec(ctx, ib->lun, cmd_read_block0, &a, &t);
	if (r < 0)
		return r;
	if (!t->datain.data || t->datain.size < (int)a.bs) {
		scsi_free_scsi_task(t);
		return -EIO;
	}
	memcpy(&rd, t->datain.data + JOURNAL_RING_SB_OFFSET, sizeof(rd));
	if (ib->has_lun_id && (le64toh(rd.magic) != JOURNAL_RING_MAGIC ||
			       memcmp(rd.lun_id, ib->lun_id, sizeof(rd.lun_id)) != 0)) {
		scsi_free_scsi_task(t);
		return log_error_errno(-ENXIO, "'%s' is not the journal LUN it was (its LUN id "
				       "changed): not using it", ib->bd.name);
	}
	iscsi_bd_note_block0(ib, t->datain.data);
	scsi_free_scsi_task(t);
	return ib->sb_epoch > epoch ? -ESTALE : 0;
}

int iscsi_pr_relogin(struct iscsi_bd *ib, struct iscsi_context *ctx)
{
	struct journal_pr_info info = { 0 };
	int r;

	/* before registering anything: is it still our journal? and after, again */
	r = relogin_check_block0(ib, ctx);
	if (r >= 0)
		r = raw_decode(ctx, ib->lun, cmd_read_keys, keys_decode, &info);
	if (r >= 0)
		r = raw_decode(ctx, ib->lun, cmd_read_resv, resv_decode, &info);
	if (r < 0)
		return r;
	if (info.nkeys > 0 && !has_key(&info, ib->key))
		return -ESTALE;	/* preempted: our key is gone */
	if (info.reserved && info.holder_key != ib->key)
		return -ESTALE;
	if (info.nkeys == 0)
		log_warning("'%s' lost every registration (target restarted?): registering again",
			    ib->bd.name);
	r = raw_pr_out(ib, ctx, SCSI_PERSISTENT_RESERVE_REGISTER_AND_IGNORE_EXISTING_KEY, 0, ib->key);
	if (r >= 0 && !info.reserved)
		r = raw_pr_out(ib, ctx, SCSI_PERSISTENT_RESERVE_RESERVE, ib->key, 0);
	if (r >= 0)
		r = relogin_check_block0(ib, ctx);
	return r;
}
