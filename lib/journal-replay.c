// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * journal-replay.c - replays a journal into a store: a context that applies
 * records (journal-apply.c) and remembers what they touched, the final
 * fsync of those files and directories, and the replay of a whole journal
 * with its applied_seq progress mark.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "journal-internal.h"

#define TOUCHED_MIN_SLOTS 64u

int journal_replay_new(int store_fd, unsigned flags, struct journal_replay **ret_r)
{
	struct journal_replay *r;

	if (store_fd < 0 || (flags & ~(JOURNAL_REPLAY_DRY_RUN | JOURNAL_REPLAY_ALL)))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->store_fd = store_fd;
	r->flags = flags;
	*ret_r = r;
	return 0;
}

void journal_replay_free(struct journal_replay *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->touched_slots; i++)
		free(r->touched[i]);
	free(r->touched);
	free(r);
}

void journal_replay_get_stats(struct journal_replay *r, struct journal_replay_stats *ret_stats)
{
	*ret_stats = r->stats;
}

/* ------------------------------------------------------------------ touched set */

static size_t touched_slot(char **slots, size_t n, const char *path, size_t len)
{
	size_t i = (size_t)XXH3_64bits(path, len) & (n - 1);

	while (slots[i] && strcmp(slots[i], path) != 0)
		i = (i + 1) & (n - 1);
	return i;
}

static int touched_grow(struct journal_replay *r)
{
	size_t n = r->touched_slots ? r->touched_slots * 2 : TOUCHED_MIN_SLOTS;
	char **slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < r->touched_slots; i++) {
		char *p = r->touched[i];

		if (p)
			slots[touched_slot(slots, n, p, strlen(p))] = p;
	}
	free(r->touched);
	r->touched = slots;
	r->touched_slots = n;
	return 0;
}

static int touched_add(struct journal_replay *r, const char *path, size_t len)
{
	char *copy;
	size_t i;
	int ret;

	if ((r->touched_count + 1) * 2 > r->touched_slots) {
		ret = touched_grow(r);
		if (ret < 0)
			return ret;
	}
	copy = strndup(path, len);
	if (!copy)
		return -ENOMEM;
	i = touched_slot(r->touched, r->touched_slots, copy, len);
	if (r->touched[i]) {
		free(copy);
		return 0;
	}
	r->touched[i] = copy;
	r->touched_count++;
	return 0;
}

int journal_replay_touch(struct journal_replay *r, const char *path)
{
	return touched_add(r, path, strlen(path));
}

int journal_replay_touch_parent(struct journal_replay *r, const char *path)
{
	const char *slash = strrchr(path, '/');

	return touched_add(r, path, slash ? (size_t)(slash - path) : 0);
}

/* ------------------------------------------------------------------ sync */

/* fsyncs one touched path: files and directories; others need a syncfs. */
static int sync_one(struct journal_replay *r, const char *path)
{
	char proc[64];
	struct stat st;
	int fd, rfd, ret = 0;

	fd = journal_openat2(r->store_fd, *path ? path : ".", O_PATH | O_NOFOLLOW, 0);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;	/* removed by a later record */
	if (fstat(fd, &st) < 0) {
		ret = -errno;
	} else if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		r->need_syncfs = true;
	} else {
		/* Reopen our own O_PATH fd for reading: fsync needs a real fd. */
		(void)snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		rfd = open(proc, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		if (rfd < 0 || fsync(rfd) < 0)
			ret = -errno;
		else
			r->stats.synced++;
		if (rfd >= 0)
			(void)close(rfd);
	}
	(void)close(fd);
	return ret;
}

int journal_replay_sync_touched(struct journal_replay *r, const char *path)
{
	if ((r->flags & JOURNAL_REPLAY_DRY_RUN) || r->touched_count == 0 ||
	    !r->touched[touched_slot(r->touched, r->touched_slots, path, strlen(path))])
		return 0;
	return sync_one(r, path);
}

int journal_replay_sync(struct journal_replay *r)
{
	int ret = 0, ret1;

	if (r->flags & JOURNAL_REPLAY_DRY_RUN)
		return 0;
	for (size_t i = 0; i < r->touched_slots; i++) {
		if (!r->touched[i])
			continue;
		ret1 = sync_one(r, r->touched[i]);
		if (ret1 < 0 && ret == 0)
			ret = ret1;
		free(r->touched[i]);
		r->touched[i] = NULL;
	}
	r->touched_count = 0;
	if (r->need_syncfs && syncfs(r->store_fd) < 0 && ret == 0)
		ret = -errno;
	if (ret == 0)
		r->need_syncfs = false;
	return ret;
}

/* ------------------------------------------------------------------ apply */

int journal_replay_apply(struct journal_replay *r, const struct journal_record *rec)
{
	int ret = journal_apply(r, rec);

	if (ret < 0)
		return ret;
	if (ret == JOURNAL_APPLY_DONE)
		r->stats.done++;
	else if (ret == JOURNAL_APPLY_SKIPPED)
		r->stats.skipped++;
	else
		r->stats.applied++;
	return 0;
}

struct replay_scan {
	struct journal *j;
	struct journal_replay *r;
	uint64_t applied_seq;	/* records up to here are in the store already */
};

/* Syncs what was touched and, where the journal may be written, marks @seq applied. */
static int replay_checkpoint(struct replay_scan *rs, uint64_t seq)
{
	int ret = journal_replay_sync(rs->r);

	if (ret < 0 || (rs->r->flags & JOURNAL_REPLAY_DRY_RUN) || seq <= rs->applied_seq ||
	    journal_get_state(rs->j) == JOURNAL_STATE_READONLY)
		return ret;
	ret = journal_set_applied(rs->j, seq);
	if (ret == 0)
		rs->applied_seq = seq;
	return ret;
}

/*
 * A replay that fails half way (the path fails again, or a sync reports
 * writeback lost before it) starts again at the progress mark, over a store
 * that holds some later records already. Every record type copes with that
 * (journal-apply.c) except a rename: the records before it may make its
 * source again, and it would then move the new object over the one an
 * earlier run moved, or swap an exchange back. So a rename is applied alone
 * between two checkpoints, and a restart never meets it done.
 */
static int apply_barrier(struct replay_scan *rs, const struct journal_record *rec)
{
	int ret = 0;

	if (rs->r->touched_count > 0 || rs->r->need_syncfs)
		ret = replay_checkpoint(rs, rec->seq - 1);
	if (ret >= 0)
		ret = journal_replay_apply(rs->r, rec);
	if (ret >= 0)
		ret = replay_checkpoint(rs, rec->seq);
	return ret;
}

static int replay_one(const struct journal_record *rec, uint64_t offset, void *userdata)
{
	struct replay_scan *rs = userdata;
	int ret;

	if (rec->seq <= rs->applied_seq) {
		rs->r->stats.skipped++;
		return 0;
	}
	if (rec->type == JOURNAL_RENAME)
		ret = apply_barrier(rs, rec);
	else
		ret = journal_replay_apply(rs->r, rec);
	if (ret < 0) {
		rs->r->stats.failed_seq = rec->seq;
		rs->r->stats.failed_offset = offset;
	}
	return ret;
}

/* Syncs the store, then moves the journal's progress mark. */
static int replay_finish(struct journal *j, struct journal_replay *r, uint64_t applied_seq,
			 const struct journal_scan_result *res)
{
	int ret;

	ret = journal_replay_sync(r);
	if (ret < 0)
		return ret;
	if ((r->flags & JOURNAL_REPLAY_DRY_RUN) || journal_get_state(j) == JOURNAL_STATE_READONLY ||
	    res->records == 0 || res->last_seq <= applied_seq)
		return 0;
	return journal_set_applied(j, res->last_seq);
}

int journal_replay(struct journal *j, int store_fd, unsigned flags,
		   struct journal_replay_stats *stats, struct journal_scan_result *result)
{
	struct journal_scan_result res = { 0 };
	struct journal_info info;
	struct replay_scan rs;
	int ret, ret_scan;

	/*
	 * A writable journal another node took over is that node's to replay:
	 * applying it here again could write old records over newer data.
	 */
	if (journal_get_state(j) != JOURNAL_STATE_READONLY) {
		ret = journal_check_owner(j);
		if (ret < 0)
			return ret;
	}
	ret = journal_replay_new(store_fd, flags, &rs.r);
	if (ret < 0)
		return ret;
	journal_get_info(j, &info);
	rs.j = j;
	rs.applied_seq = flags & JOURNAL_REPLAY_ALL ? 0 : info.applied_seq;
	ret_scan = journal_scan(j, replay_one, &rs, &res);
	/* Whatever was applied is synced, even when the scan stopped early. */
	ret = replay_finish(j, rs.r, rs.applied_seq, &res);
	if (ret_scan < 0 && ret_scan != -EBADMSG)
		ret = ret_scan;	/* an apply or device error: no progress mark moved */
	else if (ret == 0)
		ret = ret_scan;
	if (stats)
		*stats = rs.r->stats;
	if (result)
		*result = res;
	journal_replay_free(rs.r);
	return ret;
}
