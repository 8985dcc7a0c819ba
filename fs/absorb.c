// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * absorb.c - the state machine of absorb.h: entering ABSORBING at a path
 * failure, journaling mutations while absorbing, holding requests the
 * overlay cannot answer, and recovering when the store answers again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/sendfile.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <unistd.h>

#define LOG_PREFIX "absorb: "
#include "lifeboat/log.h"
#include "lifeboatfs.h"

#define JOURNAL_BATCH 256

static const char *const state_names[] = {
	[LB_HEALTHY] = "healthy",
	[LB_ABSORBING] = "absorbing",
	[LB_RECOVERING] = "recovering",
};

const char *lb_state_name(enum lb_state state)
{
	return state <= LB_RECOVERING ? state_names[state] : "unknown";
}

static uint64_t now_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool is_path_failure(struct lb_fs *fs, int err)
{
	return errclass_is_path_failure(err, fs->store_writable);
}

void absorb_note_error(struct lb_fs *fs, int err)
{
	enum errclass_slot slot = errclass_slot_of(err);

	if (slot == ERRCLASS_NSLOTS)
		return;
	pthread_mutex_lock(&fs->state_mutex);
	fs->stats.absorbed[slot]++;
	pthread_mutex_unlock(&fs->state_mutex);
}

/* Under mode_lock (write). Wakes holds and rewrites the status. */
static void set_state(struct lb_fs *fs, enum lb_state state)
{
	pthread_mutex_lock(&fs->state_mutex);
	fs->state = state;
	fs->stats.state_since_ms = now_ms(CLOCK_REALTIME);
	pthread_cond_broadcast(&fs->state_cond);
	pthread_mutex_unlock(&fs->state_mutex);
	status_update(fs);
}

static int append_batch(struct lb_fs *fs, struct journal_record *batch, size_t *n,
			uint64_t *ret_n)
{
	int r = journal_append_batch(fs->journal, batch, *n);

	if (r >= 0)
		*ret_n += *n;
	*n = 0;
	return r;
}

/* Appends the queue's records to the journal in order, in batches. */
static int journal_queue(struct lb_fs *fs, struct lb_qentry *head, uint64_t *ret_n)
{
	struct journal_record batch[JOURNAL_BATCH];
	size_t n = 0;
	int r = 0;

	*ret_n = 0;
	for (struct lb_qentry *e = head; e && r >= 0; e = queue_entry_next(e)) {
		/* an unlinked file's record has no path: only the overlay keeps it */
		if (!queue_entry_record(e)->path)
			continue;
		batch[n++] = *queue_entry_record(e);
		if (n == JOURNAL_BATCH)
			r = append_batch(fs, batch, &n, ret_n);
	}
	if (r >= 0 && n > 0)
		r = append_batch(fs, batch, &n, ret_n);
	return r < 0 ? r : 0;
}

/* The overlay starts as the store's last synced state plus the queue. */
static void overlay_from_queue(struct lb_fs *fs, struct lb_qentry *head)
{
	pthread_mutex_lock(&fs->ov_lock);
	for (struct lb_qentry *e = head; e; e = queue_entry_next(e)) {
		struct journal_record *rec = queue_entry_record(e);
		int r;

		if (queue_entry_in_overlay(e))
			continue;
		r = ov_apply_record(fs, rec, queue_entry_inode(e, 0), queue_entry_inode(e, 1),
				    queue_entry_inode(e, 2), NULL, queue_entry_inode(e, 3), true);
		if (r < 0)
			log_warning_errno(r, "overlay cannot show queued %s of '%s'",
					  journal_type_to_string(rec->type),
					  rec->path ? rec->path : "(unlinked)");
	}
	pthread_mutex_unlock(&fs->ov_lock);
}

/* What writes may take while absorbing: the store's last free space, less a reserve. */
static void space_reset(struct lb_fs *fs)
{
	int64_t avail, reserve;
	struct statvfs sv;

	pthread_mutex_lock(&fs->space_lock);
	sv = fs->last_statvfs;
	avail = (int64_t)(sv.f_bavail * sv.f_frsize) + fs->space_freed;
	pthread_mutex_unlock(&fs->space_lock);
	reserve = (int64_t)(sv.f_blocks * sv.f_frsize / 50);

	if (reserve < (1 << 20))
		reserve = 1 << 20;
	pthread_mutex_lock(&fs->ov_lock);
	fs->space_left = avail > reserve ? avail - reserve : 0;
	pthread_mutex_unlock(&fs->ov_lock);
}

/*
 * A store call failed with a path error: from now on nothing is
 * acknowledged before it is in the journal. The queue goes first.
 */
void absorb_begin(struct lb_fs *fs, int err)
{
	struct lb_qentry *head;
	uint64_t n = 0;
	int r;

	absorb_note_error(fs, err);
	mode_wrlock(fs);
	if (fs->state != LB_HEALTHY) {
		mode_wrunlock(fs);
		return;
	}
	atomic_fetch_add(&fs->absorb_starts, 1);
	space_reset(fs);
	head = queue_take_all(fs);
	r = journal_queue(fs, head, &n);
	if (r < 0)
		log_error_errno(r, "cannot journal the unflushed queue: holding every request");
	overlay_from_queue(fs, head);
	queue_free_list(fs, head);
	pthread_mutex_lock(&fs->state_mutex);
	fs->stats.journal_records += n;
	pthread_mutex_unlock(&fs->state_mutex);
	set_state(fs, LB_ABSORBING);
	pthread_mutex_lock(&fs->state_mutex);
	atomic_fetch_add(&fs->absorb_ends, 1);
	pthread_cond_broadcast(&fs->state_cond);
	pthread_mutex_unlock(&fs->state_mutex);
	mode_wrunlock(fs);
	log_warning_errno(err, "store path failed: absorbing, %llu queued mutations journaled",
			  (unsigned long long)n);
}

/*
 * Taken before a store call whose answer absorb_began_since() then judges.
 * A run of absorb_begin() under way counts as one begun after the call: it
 * may have taken the queue the checks of the answer ask already.
 */
uint64_t absorb_epoch(struct lb_fs *fs)
{
	return atomic_load(&fs->absorb_ends);
}

/*
 * Whether absorbing began since @epoch: a store call made meanwhile may
 * have seen what a rollback left, and the checks that would have caught it
 * ask the queue, which absorb_begin() empties into the overlay before the
 * state says so. Waits until that is done: the overlay then answers.
 */
bool absorb_began_since(struct lb_fs *fs, uint64_t epoch)
{
	if (atomic_load(&fs->absorb_starts) == epoch)
		return false;
	pthread_mutex_lock(&fs->state_mutex);
	while (fs->absorb_ends != atomic_load(&fs->absorb_starts))
		pthread_cond_wait(&fs->state_cond, &fs->state_mutex);
	pthread_mutex_unlock(&fs->state_mutex);
	return true;
}

/* Under mode_lock (read), state ABSORBING. -EAGAIN: hold, then retry. */
int absorb_apply(struct lb_fs *fs, struct lb_mut *m)
{
	int r;

	pthread_mutex_lock(&fs->ov_lock);
	r = ov_check(fs, m);
	pthread_mutex_unlock(&fs->ov_lock);
	if (r < 0)
		return r;
	if (stall_wait_begin(fs) < 0)
		return -ECANCELED;	/* abandoned: a rescue journals it */
	r = journal_append(fs->journal, &m->rec);
	(void)stall_wait_end(fs);
	if (r < 0) {
		log_error_errno(r, "cannot journal %s of '%s' (journal %s): holding",
				journal_type_to_string(m->rec.type), m->rec.path,
				journal_state_to_string(journal_get_state(fs->journal)));
		return -EAGAIN;
	}
	m->absorbed = true;
	pthread_mutex_lock(&fs->ov_lock);
	r = ov_apply_record(fs, &m->rec, m->file, m->dir, m->dir2, m->victim, m->victim2, false);
	if (m->file && !ov_getattr(fs, m->file, &m->st))
		inode_stat_get(fs, m->file, &m->st);
	pthread_mutex_unlock(&fs->ov_lock);
	pthread_mutex_lock(&fs->state_mutex);
	fs->stats.journal_records++;
	pthread_mutex_unlock(&fs->state_mutex);
	if (r < 0)
		log_warning_errno(r, "overlay cannot show %s of '%s' (journaled)",
				  journal_type_to_string(m->rec.type), m->rec.path);
	return 0;
}

/*
 * A mutation of an object no name leads to (unlinked while open): no replay
 * could reach it, so it lives in the overlay alone, for the open files.
 */
int absorb_ghost(struct lb_fs *fs, struct lb_mut *m)
{
	int r;

	if (!m->file)
		return -EAGAIN;
	pthread_mutex_lock(&fs->ov_lock);
	if (!m->file->ov)
		queue_to_ghost(fs, m->file);
	r = ov_apply_record(fs, &m->rec, m->file, NULL, NULL, NULL, NULL, false);
	if (!ov_getattr(fs, m->file, &m->st))
		inode_stat_get(fs, m->file, &m->st);
	pthread_mutex_unlock(&fs->ov_lock);
	m->absorbed = true;
	return r == -EINVAL ? -EAGAIN : r;
}

const uint64_t lb_hold_bucket_ms[LB_HOLD_BUCKETS - 1] = {
	10, 50, 100, 500, 1000, 5000, 10000, 30000, 60000, 300000,
};

/* Called with state_mutex held. */
static void hold_end(struct lb_fs *fs, uint64_t start)
{
	uint64_t took = now_ms(CLOCK_MONOTONIC) - start;
	unsigned int b = 0;

	while (b < LB_HOLD_BUCKETS - 1 && took > lb_hold_bucket_ms[b])
		b++;
	fs->stats.hold_buckets[b]++;
	fs->stats.hold_sum_ms += took;
	if (took > fs->stats.hold_longest_ms)
		fs->stats.hold_longest_ms = took;
	if (--fs->stats.holding == 0)
		fs->stats.hold_started_ms = 0;
}

/*
 * Waits until the mount is healthy. With on_hold_timeout=eio a request gives
 * up with EIO once it waited `hold` seconds; with wait it goes on waiting.
 */
int hold_wait(struct lb_fs *fs)
{
	uint64_t start = now_ms(CLOCK_MONOTONIC);
	bool warned = false;
	int r = 0;

	if (stall_wait_begin(fs) < 0)
		return -ECANCELED;	/* abandoned: a rescue answers */
	pthread_mutex_lock(&fs->state_mutex);
	fs->stats.holds++;
	if (fs->stats.holding++ == 0)
		fs->stats.hold_started_ms = start;
	while (fs->state != LB_HEALTHY && !fs->stopping) {
		struct timespec until;

		if (now_ms(CLOCK_MONOTONIC) - start > (uint64_t)(fs->opt.hold * 1000)) {
			if (fs->opt.hold_eio) {
				r = -EIO;
				break;
			}
			if (!warned)
				log_warning("a request waits past the hold budget (%.0f s)", fs->opt.hold);
			warned = true;
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 100 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&fs->state_cond, &fs->state_mutex, &until);
	}
	if (fs->stopping && fs->state != LB_HEALTHY)
		r = -EIO;	/* unmounting: the journal keeps what was acknowledged */
	hold_end(fs, start);
	pthread_mutex_unlock(&fs->state_mutex);
	(void)stall_wait_end(fs);
	return r;
}

/* Gives the objects created while absorbing their store identity. */
static void realize_virtuals(struct lb_fs *fs)
{
	char path[PATH_MAX];

	pthread_mutex_lock(&fs->ov_lock);
	/*
	 * Objects made since the last sync were rolled back and made again:
	 * their old numbers may belong to other objects now.
	 */
	for (struct ov_node *n = fs->ov_nodes; n; n = n->next)
		if (n->virt)
			inode_unhash(fs, n->inode);
	for (struct ov_node *n = fs->ov_nodes; n; n = n->next) {
		struct lb_inode *inode = n->inode;
		struct stat st;
		int fd;

		if (inode == &fs->root || inode_path(fs, inode, NULL, path, sizeof(path)) < 0)
			continue;
		fd = openat(fs->root.fd, path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) < 0 || (!n->virt && ((st.st_dev == inode->dev &&
							 st.st_ino == inode->ino) ||
							((st.st_mode ^ inode->mode) & S_IFMT)))) {
			close(fd);
			continue;
		}
		/*
		 * Made again by the replay (virtual, or rolled back with its
		 * name although it was older than the last sync): open files
		 * must follow, or their writes would go to the lost object.
		 */
		log_debug("realize %p '%s': ino %llu -> %llu%s", (void *)inode, path,
			  (unsigned long long)inode->ino, (unsigned long long)st.st_ino,
			  n->virt ? " (virtual)" : "");
		inode_realize(fs, inode, fd, &st);
		file_reopen_all(fs, inode);
	}
	pthread_mutex_unlock(&fs->ov_lock);
}

/* LIFEBOAT_DEBUG_KEEP_JOURNAL=1 keeps a copy of each journal replayed, for post-mortems. */
static void keep_journal_copy(struct lb_fs *fs)
{
	static unsigned int n;
	char path[PATH_MAX];
	int in, out;
	ssize_t c;

	if (!getenv("LIFEBOAT_DEBUG_KEEP_JOURNAL") || journal_name_is_iscsi(fs->opt.journal))
		return;	/* a LUN is inspected with `lifeboat journal inspect` */
	snprintf(path, sizeof(path), "%s.replayed.%u", fs->opt.journal, n++);
	in = open(fs->opt.journal, O_RDONLY | O_CLOEXEC);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	while (in >= 0 && out >= 0 && (c = sendfile(out, in, NULL, 1 << 20)) > 0)
		;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
}

static int replay_only(struct lb_fs *fs, struct journal_replay_stats *stats)
{
	struct journal_scan_result scan;

	keep_journal_copy(fs);
	return journal_replay(fs->journal, fs->mount_fd, 0, stats, &scan);
}

static int replay_journal(struct lb_fs *fs, struct journal_replay_stats *stats)
{
	int r = replay_only(fs, stats);

	return r < 0 ? r : journal_reset(fs->journal);
}

/* ABSORBING -> RECOVERING -> HEALTHY, or back to ABSORBING. */
static void absorb_recover(struct lb_fs *fs)
{
	struct journal_replay_stats stats = { 0 };
	uint64_t start = now_ms(CLOCK_MONOTONIC);
	int r;

	mode_wrlock(fs);
	set_state(fs, LB_RECOVERING);
	pthread_mutex_lock(&fs->state_mutex);
	fs->stats.replay_total = fs->stats.journal_records;
	fs->stats.replay_done = 0;
	pthread_mutex_unlock(&fs->state_mutex);

	ov_keep_bases(fs);
	r = replay_only(fs, &stats);
	if (r >= 0) {
		realize_virtuals(fs);
		/*
		 * The replay syncs what it touched by the paths of its records,
		 * which later records may have renamed: sync every object the
		 * overlay stands for by its name now, before the journal goes.
		 */
		r = ov_sync_all(fs);
		if (r >= 0)
			r = journal_reset(fs->journal);
	}
	if (r == -ESTALE && journal_get_state(fs->journal) == JOURNAL_STATE_FENCED) {
		reclaim_after_takeover(fs);
		set_state(fs, LB_HEALTHY);
		mode_wrunlock(fs);
		return;
	}
	if (r < 0) {
		if (!is_path_failure(fs, r))
			log_error_errno(r, "cannot replay the journal (record %llu): still absorbing",
					(unsigned long long)stats.failed_seq);
		set_state(fs, LB_ABSORBING);
		mode_wrunlock(fs);
		return;
	}
	inode_retired_drop_all(fs);
	ov_drop_all(fs);
	pthread_mutex_lock(&fs->state_mutex);
	fs->stats.replay_done = stats.applied + stats.done + stats.skipped;
	fs->stats.journal_records = 0;
	pthread_mutex_unlock(&fs->state_mutex);
	set_state(fs, LB_HEALTHY);
	mode_wrunlock(fs);
	log_notice("store path back: %llu records replayed in %llu ms, healthy",
		   (unsigned long long)(stats.applied + stats.done),
		   (unsigned long long)(now_ms(CLOCK_MONOTONIC) - start));
}

static bool store_answers(struct lb_fs *fs)
{
	struct stat st;

	return fstatat(fs->root.fd, "", &st, AT_EMPTY_PATH) == 0;
}

static void *prober_main(void *arg)
{
	struct lb_fs *fs = arg;
	useconds_t pause = (useconds_t)(fs->opt.probe_interval * 1e6);

	for (;;) {
		struct timespec until;

		pthread_mutex_lock(&fs->state_mutex);
		while (fs->state == LB_HEALTHY && !fs->stopping) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			if (pthread_cond_timedwait(&fs->state_cond, &fs->state_mutex, &until) != ETIMEDOUT)
				continue;
			pthread_mutex_unlock(&fs->state_mutex);
			reclaim_check(fs);	/* a peer may have taken the journal over */
			pthread_mutex_lock(&fs->state_mutex);
		}
		if (fs->stopping) {
			pthread_mutex_unlock(&fs->state_mutex);
			return NULL;
		}
		pthread_mutex_unlock(&fs->state_mutex);
		usleep(pause);
		if (fs->state == LB_ABSORBING && store_answers(fs)) {
			/* No stalled call may land on the store after the replay. */
			stall_drain(fs);
			if (!stall_gate_closed(fs))
				absorb_recover(fs);
		}
	}
}

static char *default_name(const char *mountpoint)
{
	char *name = strdup(mountpoint[0] == '/' ? mountpoint + 1 : mountpoint);

	for (char *p = name; p && *p; p++)
		if (*p == '/')
			*p = '-';
	return name;
}

/* The journal for messages: an iSCSI URL never with its CHAP secret. */
static const char *journal_label(struct lb_fs *fs)
{
	if (fs->journal)
		return journal_name(fs->journal);
	return journal_name_is_iscsi(fs->opt.journal) ? "(iSCSI journal)" : fs->opt.journal;
}

/* A journal left behind by a previous mount is replayed before we serve. */
static int replay_left_behind(struct lb_fs *fs)
{
	struct journal_replay_stats stats = { 0 };
	struct journal_info info;
	int r;

	journal_get_info(fs->journal, &info);
	log_notice("journal '%s' holds %llu records left behind: replaying them first",
		   journal_label(fs), (unsigned long long)info.open_scan.records);
	r = replay_journal(fs, &stats);
	/*
	 * A sync reports writeback the store lost before (once), or the path
	 * is still down: the replay starts again at its progress mark, for as
	 * long as a request would wait for the path.
	 */
	for (double waited = 0; r < 0 && is_path_failure(fs, r) && waited < fs->opt.hold;
	     waited += fs->opt.probe_interval) {
		log_warning_errno(r, "replay of journal '%s' stopped %s %llu, the store path "
				  "failed: trying again", journal_label(fs),
				  stats.failed_seq ? "at record" : "syncing, records applied:",
				  (unsigned long long)(stats.failed_seq ?: stats.applied + stats.done));
		usleep((useconds_t)(fs->opt.probe_interval * 1e6));
		r = replay_journal(fs, &stats);
	}
	if (r == -EBADMSG)
		return log_error_errno(r, "journal '%s' is corrupt at record %llu (offset %llu): "
				       "its valid records were replayed; inspect it with "
				       "'lifeboat journal inspect'", journal_label(fs),
				       (unsigned long long)info.open_scan.bad_seq,
				       (unsigned long long)info.open_scan.bad_offset);
	if (r < 0)
		return log_error_errno(r, "cannot replay journal '%s' into '%s' (record %llu)",
				       journal_label(fs), fs->opt.store,
				       (unsigned long long)stats.failed_seq);
	log_notice("replayed %llu records from journal '%s'",
		   (unsigned long long)(stats.applied + stats.done), journal_label(fs));
	return 0;
}

static int journal_setup(struct lb_fs *fs)
{
	struct journal_options jo = { .flags = JOURNAL_OPEN_CREATE };
	char host[64] = "lifeboatfs";
	int r;

	if (!fs->opt.journal) {
		char *name = default_name(fs->opt.mountpoint);

		if (!name || asprintf(&fs->opt.journal, "/var/lib/lifeboat/%s.journal", name) < 0)
			fs->opt.journal = NULL;
		free(name);
		if (!fs->opt.journal)
			return -ENOMEM;
		(void)mkdir("/var/lib/lifeboat", 0700);
	}
	(void)gethostname(host, sizeof(host) - 1);
	jo.owner = host;
	r = journal_open(fs->opt.journal, &jo, &fs->journal);
	if (r < 0)
		return log_error_errno(r, "cannot open journal '%s'", journal_label(fs));
	if (journal_get_state(fs->journal) == JOURNAL_STATE_PENDING ||
	    journal_get_state(fs->journal) == JOURNAL_STATE_CORRUPT)
		return replay_left_behind(fs);
	return 0;
}

int absorb_init(struct lb_fs *fs)
{
	struct statvfs sv;
	struct statfs sfs;
	int r;

	r = stall_init(fs);
	if (r < 0)
		return r;
	pthread_mutex_init(&fs->ov_lock, NULL);
	pthread_mutex_init(&fs->space_lock, NULL);
	pthread_mutex_init(&fs->state_mutex, NULL);
	pthread_cond_init(&fs->state_cond, NULL);
	queue_init(&fs->queue, fs->opt.queue_budget);
	fs->state = LB_HEALTHY;
	fs->stats.state_since_ms = now_ms(CLOCK_REALTIME);

	/* syncfs(2) is not passed on to FUSE file systems: sync those per file. */
	if (fstatfs(fs->mount_fd, &sfs) == 0)
		fs->store_syncfs = sfs.f_type != FUSE_SUPER_MAGIC;
	if (fstatvfs(fs->root.fd, &sv) == 0) {
		fs->store_writable = !(sv.f_flag & ST_RDONLY);
		fs->last_statvfs = sv;
	}
	return journal_setup(fs);
}

/* Threads start after fuse_daemonize(): a fork keeps only the caller's thread. */
int absorb_start(struct lb_fs *fs)
{
	int r;

	r = queue_start_flusher(fs);
	if (r < 0)
		return log_error_errno(r, "cannot start the flusher");
	r = stall_start(fs);
	if (r < 0)
		return log_error_errno(r, "cannot start the stall watchdog");
	r = -pthread_create(&fs->prober, NULL, prober_main, fs);
	if (r < 0)
		return log_error_errno(r, "cannot start the prober");
	return status_start(fs);
}

/* Unmount: make the store durable, or keep the journal for the next mount. */
void absorb_shutdown(struct lb_fs *fs)
{
	int r;

	pthread_mutex_lock(&fs->state_mutex);
	fs->stopping = true;
	pthread_cond_broadcast(&fs->state_cond);
	pthread_mutex_unlock(&fs->state_mutex);
	stall_stop(fs);
	pthread_join(fs->prober, NULL);
	queue_stop_flusher(fs);
	if (fs->state == LB_HEALTHY) {
		r = queue_flush_once(fs);
		if (r < 0 && is_path_failure(fs, r))
			absorb_begin(fs, r);
	}
	if (fs->state != LB_HEALTHY)
		log_warning("unmounting while %s: journal '%s' is replayed at the next mount",
			    lb_state_name(fs->state), journal_label(fs));
	status_stop(fs);
	journal_close(fs->journal);
	fs->journal = NULL;
}
