/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * journal-iscsi.h - the iSCSI block device's session (journal-iscsi.c) and
 * its persistent reservations (journal-iscsi-pr.c). Not installed.
 *
 * Lock order: ib->lock only. Every use of ib->ctx holds it; a caller waiting
 * for the session to come back waits on ib->changed, which drops it.
 *
 * Session states:
 *
 *   UP --command fails, NOP-out unanswered--> DOWN
 *   DOWN --keepalive thread logs in again, PR checked--> UP
 *   UP, DOWN --RESERVATION CONFLICT, our key gone, newer epoch--> FENCED (final)
 */
#ifndef LIFEBOAT_JOURNAL_ISCSI_H
#define LIFEBOAT_JOURNAL_ISCSI_H

#include <pthread.h>
#include <stdint.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "lifeboat/journal.h"

enum iscsi_bd_state {
	ISCSI_BD_UP,
	ISCSI_BD_DOWN,
	ISCSI_BD_FENCED,
};

struct iscsi_bd {
	struct journal_blockdev bd;	/* first: the ops get &bd */
	/* set at open, read-only afterwards */
	char *portal;
	char *target;
	char *initiator;
	char *user;
	char *password;
	int lun;
	uint64_t key;			/* our reservation key */
	int timeout_s;			/* how long an I/O waits for the session */
	bool use_pr;			/* registered: re-register at reconnect */

	pthread_mutex_t lock;
	pthread_cond_t changed;		/* state changes, stop requests */
	struct iscsi_context *ctx;	/* protected by lock */
	enum iscsi_bd_state state;	/* protected by lock */
	uint64_t down_since_ms;		/* protected by lock */
	uint64_t reconnects;		/* protected by lock */
	uint64_t sb_epoch;		/* last epoch seen in block 0; protected by lock */
	uint8_t lun_id[JOURNAL_RING_ID_SIZE];	/* the ring's LUN id seen in block 0; protected by lock */
	bool has_lun_id;		/* protected by lock */
	bool stopping;			/* protected by lock */
	bool keepalive_running;
	pthread_t keepalive;
};

/* A command builder for iscsi_bd_exec(): runs one sync libiscsi call. */
typedef struct scsi_task *(*iscsi_bd_cmd_fn)(struct iscsi_context *ctx, int lun, void *arg);

/*
 * Runs one command with ib->lock held: waits (up to timeout_s) for a lost
 * session to come back and runs it again, repeats after a UNIT ATTENTION,
 * turns RESERVATION CONFLICT into FENCED. 0 with *ret_task (free it with
 * scsi_free_scsi_task()); -ESTALE fenced, -ETIMEDOUT session not back,
 * -EIO the target refused it (logged with its sense).
 */
int iscsi_bd_exec(struct iscsi_bd *ib, const char *what, iscsi_bd_cmd_fn fn, void *arg,
		  struct scsi_task **ret_task);

/* Marks the session fenced and says so loudly (ib->lock held). */
void iscsi_bd_fence(struct iscsi_bd *ib, const char *why);

/* Remembers the epoch and LUN id block 0 (at buf) shows (ib->lock held). */
void iscsi_bd_note_block0(struct iscsi_bd *ib, const void *buf);

/* journal-iscsi-pr.c, with ib->lock held */

/* REGISTER (ignoring an existing key) and RESERVE, or PREEMPT with takeover. */
int iscsi_pr_acquire(struct iscsi_bd *ib, bool takeover);

/*
 * After a new login on ctx: checks that nobody preempted us while the
 * session was down and registers the new I_T nexus. -ESTALE when fenced.
 */
int iscsi_pr_relogin(struct iscsi_bd *ib, struct iscsi_context *ctx);

int iscsi_pr_read(struct iscsi_bd *ib, struct journal_pr_info *ret_info);

#endif
