// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * reclaim.c - a journal another node took over.
 *
 * At a handoff the peer fences this mount's journal (a newer epoch, and on
 * a LUN a preempted reservation), replays it into the store through its
 * own mount, resets it and gives it back (journal_release(): the owner in
 * the header becomes "released-by:PEER"). From the fence on, this mount must never replay
 * or append to it: its records are the peer's. Two things follow here:
 *
 * - recovery with a fenced journal replays nothing: the overlay is dropped
 *   and the mount serves the store as the peer left it (no application of
 *   ours runs on it any more: the handoff ended it here);
 * - while healthy, the prober checks every few seconds whether the journal
 *   was fenced, and takes it back (epoch + 1) once it is released and
 *   empty, so that this node can absorb a later failure again.
 */
#include <errno.h>
#include <unistd.h>

#define LOG_PREFIX "journal: "
#include "lifeboat/log.h"
#include "lifeboatfs.h"

#define RECLAIM_CHECK_MS 3000

/* The journal was taken over: nothing of ours is replayed, the overlay goes. */
void reclaim_after_takeover(struct lb_fs *fs)
{
	struct journal_info info;
	struct ov_node *n;

	journal_get_info(fs->journal, &info);
	log_warning("journal '%s' was taken over by another node (epoch %llu, owner '%s'): its "
		    "records are that node's to replay; this mount drops what it absorbed and "
		    "serves the store as it is now", journal_name(fs->journal),
		    (unsigned long long)info.epoch, info.owner);
	/* objects made while absorbing are on the store only if the peer replayed them */
	pthread_mutex_lock(&fs->ov_lock);
	for (n = fs->ov_nodes; n; n = n->next)
		if (n->virt)
			inode_unhash(fs, n->inode);
	pthread_mutex_unlock(&fs->ov_lock);
	inode_retired_drop_all(fs);
	ov_drop_all(fs);
}

/* A second look, read-only: released (no owner) and empty. */
static bool journal_released(struct lb_fs *fs)
{
	struct journal_options ro = { .flags = JOURNAL_OPEN_READONLY };
	struct journal_info info;
	struct journal *j;

	if (journal_open(fs->opt.journal, &ro, &j) < 0)
		return false;
	journal_get_info(j, &info);
	journal_close(j);
	return journal_owner_released(info.owner) && info.open_scan.records == 0;
}

/* Under the mode lock (write), healthy: the fenced journal is ours again. */
static int journal_take_back(struct lb_fs *fs)
{
	struct journal_options jo = { .flags = JOURNAL_OPEN_TAKEOVER };
	char host[64] = "lifeboatfs";
	struct journal *j;
	int r;

	(void)gethostname(host, sizeof(host) - 1);
	jo.owner = host;
	r = journal_open(fs->opt.journal, &jo, &j);
	if (r < 0)
		return r;
	journal_close(status_swap_journal(fs, j));
	return 0;
}

/* Prober, healthy: is the journal still ours, and if not, may we have it back? */
void reclaim_check(struct lb_fs *fs)
{
	static uint64_t last_ms;
	struct timespec ts;
	uint64_t now;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	if (now - last_ms < RECLAIM_CHECK_MS)
		return;
	last_ms = now;
	if (journal_check_owner(fs->journal) != -ESTALE || !journal_released(fs))
		return;
	mode_wrlock(fs);
	r = fs->state == LB_HEALTHY ? journal_take_back(fs) : -EAGAIN;
	mode_wrunlock(fs);
	if (r < 0 && r != -EAGAIN)
		log_warning_errno(r, "cannot take journal '%s' back", journal_name(fs->journal));
	else if (r == 0)
		log_notice("journal '%s' taken back: this mount can absorb failures again",
			   journal_name(fs->journal));
	status_update(fs);
}
