// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mutation.c - runs one mutation in whatever state the mount is in.
 *
 * HEALTHY: the op's store step runs under the mode lock (read); on success
 * the mutation is pushed to the unflushed queue before the lock is dropped;
 * a path failure starts absorbing and the mutation runs again, absorbed.
 * ABSORBING: the mutation is checked against the overlay, appended to the
 * journal (durable) and applied to the overlay. RECOVERING, or a journal
 * that cannot take it: the request waits for the path (hold_wait()).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "mutation: "
#include "lifeboat/log.h"
#include "lifeboatfs.h"

void mut_init(struct lb_mut *m, enum journal_type type)
{
	memset(&m->rec, 0, sizeof(m->rec));
	m->rec.type = type;
	m->rec.uid = (uint32_t)-1;
	m->rec.gid = (uint32_t)-1;
	m->file = m->dir = m->dir2 = m->victim = m->victim2 = NULL;
	m->journalable = true;
	m->absorbed = false;
	m->unlinked = false;
	m->fd = -1;
	m->path[0] = m->path2[0] = '\0';
}

/* Drops the refs the op took on the objects losing names. */
void mut_done(struct lb_fs *fs, struct lb_mut *m)
{
	if (m->victim)
		inode_unref(fs, m->victim);
	if (m->victim2)
		inode_unref(fs, m->victim2);
	m->victim = m->victim2 = NULL;
}

static int set_path(struct lb_fs *fs, struct lb_mut *m, char *buf, const char **field,
		    struct lb_inode *dir, const char *name)
{
	int r = inode_path(fs, dir, name, buf, PATH_MAX);

	if (r < 0) {
		m->journalable = false;
		m->unlinked = r == -ENOENT && !name;
		return r;
	}
	*field = buf;
	return 0;
}

/* rec.path = path of @name in @dir (or of @dir itself when @name is NULL). */
int mut_path(struct lb_fs *fs, struct lb_mut *m, struct lb_inode *dir, const char *name)
{
	return set_path(fs, m, m->path, &m->rec.path, dir, name);
}

int mut_path2(struct lb_fs *fs, struct lb_mut *m, struct lb_inode *dir, const char *name)
{
	return set_path(fs, m, m->path2, &m->rec.path2, dir, name);
}

/*
 * An object that lost a name while the cache had no O_PATH fd open on it
 * (evicted): reopened by its handle only. A stale handle says the store
 * has no name left for it, so it has no links; finding it by its path, as
 * inode_fd_get() would, can only fail, or find another object made there.
 * False when the fd is cached: the caller stats through it.
 */
static bool refresh_removed_uncached(struct lb_fs *fs, struct lb_inode *inode)
{
	struct stat st;
	bool cached;
	int fd;

	pthread_mutex_lock(&fs->inodes_lock);
	cached = inode->fd >= 0 || inode->pinned;
	pthread_mutex_unlock(&fs->inodes_lock);
	if (cached)
		return false;
	fd = inode_open(fs, inode, O_PATH | O_CLOEXEC, false);
	if (fd == -ESTALE) {
		pthread_mutex_lock(&fs->inodes_lock);
		inode->st.st_nlink = 0;
		pthread_mutex_unlock(&fs->inodes_lock);
	} else if (fd >= 0) {
		if (fstat(fd, &st) == 0)
			inode_stat_set(fs, inode, &st);
		close(fd);
	}
	return true;
}

/*
 * Cached attributes of an object a mutation touched, fresh from the store.
 * A @removed object (it lost a name to this mutation, which still holds
 * that name in the cache) has the links the removal left it, and the
 * directory of an rmdir or a rename lost links, if any, to this op:
 * inode_store_lost() would count either as a rollback.
 */
static void refresh_stat(struct lb_fs *fs, struct lb_inode *inode, bool removed,
			 bool dir_links_may_drop)
{
	struct stat st;
	int fd;

	if (!inode || inode->virt)
		return;
	if (removed && refresh_removed_uncached(fs, inode))
		return;
	fd = inode_fd_get(fs, inode);
	if (fd < 0)
		return;
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0 &&
	    (removed || (dir_links_may_drop && st.st_nlink > 0) || !inode_store_lost(fs, inode, &st)))
		inode_stat_set(fs, inode, &st);
	inode_fd_put(fs, inode);
}

/*
 * A removal or shrink: the store frees the blocks once the last fd on the
 * object is gone (the kernel's FORGET comes a little later), so the free
 * space absorbing starts from counts them until a later refresh sees them.
 */
static void note_freed(struct lb_fs *fs, const struct lb_mut *m, const struct stat *before)
{
	int64_t freed = before->st_size - (m->rec.type == JOURNAL_TRUNCATE ? (int64_t)m->rec.size : 0);

	if (S_ISREG(before->st_mode) && freed > 0)
		space_freed(fs, freed);
}

/*
 * Link counts and directory sizes move with every name operation; the
 * overlay starts from the cached attributes, so keep them exact.
 */
static void refresh_touched(struct lb_fs *fs, struct lb_mut *m)
{
	bool drops = m->rec.type == JOURNAL_RMDIR || m->rec.type == JOURNAL_RENAME;

	switch (m->rec.type) {
	case JOURNAL_WRITE:
	case JOURNAL_TRUNCATE:
	case JOURNAL_FALLOCATE:
	case JOURNAL_SETATTR:
	case JOURNAL_SETXATTR:
	case JOURNAL_REMOVEXATTR:
		return;	/* the op keeps the file's size and mode itself */
	default:
		refresh_stat(fs, m->dir, false, drops);
		if (m->dir2 != m->dir)
			refresh_stat(fs, m->dir2, false, drops);
		/* a rename's victim is the object moved: it keeps its links */
		refresh_stat(fs, m->victim, m->rec.type != JOURNAL_RENAME, false);
		refresh_stat(fs, m->victim2, true, false);
	}
}

static int run_healthy(struct lb_fs *fs, struct lb_mut *m, mut_store_fn store, void *arg,
		       bool *ret_again)
{
	struct lb_inode *shrinking = m->rec.type == JOURNAL_TRUNCATE ? m->file :
				     m->rec.type == JOURNAL_RENAME   ? m->victim2 : m->victim;
	struct stat before = { 0 };
	int r;

	if (shrinking && !shrinking->virt)
		inode_stat_get(fs, shrinking, &before);
	if (m->file)
		atomic_fetch_add(&m->file->mutating, 1);
	r = store(fs, m, arg);

	/*
	 * An fd on an object a failure rolled back and the replay made again.
	 * Not while the queue holds the object: then ESTALE may be the path
	 * failing now, and a retry by name could land after its rollback.
	 */
	if (r == -ESTALE && m->file && !m->file->virt && !queue_holds_inode(fs, m->file) &&
	    inode_reresolve(fs, m->file) == 0)
		r = store(fs, m, arg);
	/* ... or one no name leads to any more: only its open files see it. */
	if (r == -ESTALE && m->unlinked)
		r = absorb_ghost(fs, m);

	*ret_again = false;
	if (r >= 0)
		refresh_touched(fs, m);
	if (m->file)
		atomic_fetch_sub(&m->file->mutating, 1);
	if (r >= 0 && shrinking)
		note_freed(fs, m, &before);
	/* Stuck past path_timeout meanwhile: a rescue journals it instead. */
	if (stall_commit(fs) < 0) {
		mode_rdunlock(fs);
		return -ECANCELED;
	}
	/*
	 * An unlinked open file is queued too, without a path: the journal
	 * cannot name it, but a failure that rolls it back must still find
	 * its unflushed writes for the overlay its open files read.
	 */
	if (r >= 0 && !m->absorbed && (m->journalable || (m->unlinked && m->file))) {
		int q = queue_push(fs, m);

		if (q < 0)
			log_error_errno(q, "cannot queue a %s of '%s': not protected until the next flush",
					journal_type_to_string(m->rec.type), m->rec.path);
	}
	mode_rdunlock(fs);
	if (r < 0 && is_path_failure(fs, r)) {
		absorb_begin(fs, r);
		*ret_again = true;
	} else if (r >= 0) {
		queue_wait_room(fs);
	}
	return r;
}

/*
 * Removing or replacing a name the store made durable is durable at once
 * (a failure does not undo it), while what the queue holds before it may
 * be undone: the journaled queue would then be replayed over a store that
 * is ahead of it, onto whatever object each name leads to now. The queue
 * goes to the store first, so its durable state stays a prefix of the queue.
 */
static bool needs_barrier(const struct lb_mut *m)
{
	return m->rec.type == JOURNAL_RENAME || m->rec.type == JOURNAL_UNLINK ||
	       m->rec.type == JOURNAL_RMDIR;
}

static int mut_run_states(struct lb_fs *fs, struct lb_mut *m, mut_store_fn store, void *arg);

int mut_run(struct lb_fs *fs, struct lb_mut *m, mut_store_fn store, void *arg)
{
	int r = mut_run_states(fs, m, store, arg);

	log_debug("%s '%s'%s%s (%p): %d%s%s", journal_type_to_string(m->rec.type),
		  m->rec.path ? m->rec.path : "?", m->rec.path2 ? " -> " : "",
		  m->rec.path2 ? m->rec.path2 : "", (void *)m->file, r, m->absorbed ? " absorbed" : "",
		  m->journalable ? "" : " unjournalable");
	return r;
}

static int mut_run_states(struct lb_fs *fs, struct lb_mut *m, mut_store_fn store, void *arg)
{
	bool again;
	int r;

	for (;;) {
		if (fs->state == LB_HEALTHY && needs_barrier(m) && queue_holds_not_removals(fs)) {
			r = queue_flush_once(fs);
			if (r < 0 && is_path_failure(fs, r))
				absorb_begin(fs, r);
		}
		if (mode_rdlock(fs) < 0)
			return -ECANCELED;	/* abandoned: a rescue answers */
		switch (fs->state) {
		case LB_HEALTHY:
			if (m->unlinked && m->file && m->file->ov) {
				/* a ghost whose data the overlay kept (ov_drop_all()) */
				mode_rdunlock(fs);
				return absorb_ghost(fs, m);
			}
			r = run_healthy(fs, m, store, arg, &again);
			if (!again)
				return r;
			continue;
		case LB_ABSORBING:
			r = m->journalable ? absorb_apply(fs, m) :
			    m->unlinked	   ? absorb_ghost(fs, m) : -EAGAIN;
			mode_rdunlock(fs);
			if (r != -EAGAIN)
				return r;
			log_debug("%s '%s' (%p) waits for the store: %s",
				  journal_type_to_string(m->rec.type), m->rec.path ? m->rec.path : "?",
				  (void *)m->file, m->journalable ? "the overlay cannot check it" :
								  "no path to journal");
			break;
		default:
			mode_rdunlock(fs);
			break;
		}
		r = hold_wait(fs);
		if (r < 0)
			return r;
	}
}
