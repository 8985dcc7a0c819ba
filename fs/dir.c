// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dir.c - name operations: lookup, forget, mknod, mkdir, symlink, link,
 * unlink, rmdir and rename, each one system call on the store relative to
 * the parent's O_PATH fd, so paths of any length work and no path is built
 * for the store. Each mutation runs through mut_run(): queued when healthy,
 * journaled and shown by the overlay while absorbing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "dir: "
#include "lifeboat/log.h"
#include "lifeboatfs.h"

/*
 * The mount owns its store, and the kernel sends a name operation only for
 * names and directories it knows: ENOENT from the store there means the
 * store lost what the mount had made (a path failure rolled it back).
 */
int store_lost(int r)
{
	return r == -ENOENT ? -ESTALE : r;
}

/* Makes the inode of a name just created in @dir (its fd is @dfd). */
int entry_new(struct lb_fs *fs, struct lb_inode *dir, int dfd, const char *name,
	      struct lb_inode **ret_inode, struct stat *ret_st)
{
	int fd, r;

	fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, ret_st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (ret_st->st_nlink == 0) {
		close(fd);
		return -ENOENT;	/* made, then lost by the store: see store_lost() */
	}
	return inode_from_fd(fs, fd, ret_st, dir, name, ret_inode);
}

static void reply_entry(fuse_req_t req, struct lb_inode *inode, const struct stat *st)
{
	struct lb_fs *fs = fs_of(req);
	struct fuse_entry_param e;

	entry_fill(fs, inode, st, &e);
	if (fuse_reply_entry(req, &e) == -ENOENT)
		inode_forget(fs, inode, 1);	/* the caller was interrupted */
}

/*
 * A name the mount has seen, for an object the kernel may have forgotten
 * since (see inode_retire_locked()): nothing changed it without the mount.
 */
static bool lookup_known_name(struct lb_fs *fs, struct lb_inode *dir, const char *name,
			      struct lb_inode **ret_inode, struct stat *ret_st)
{
	struct lb_inode *inode = inode_child_get(fs, dir, name);
	bool have;

	if (!inode)
		return false;
	inode_add_lookup(fs, inode);
	pthread_mutex_lock(&fs->ov_lock);
	have = ov_getattr(fs, inode, ret_st);
	pthread_mutex_unlock(&fs->ov_lock);
	if (!have)
		inode_stat_get(fs, inode, ret_st);
	inode_unref(fs, inode);
	*ret_inode = inode;
	return true;
}

/* Answers a lookup from the overlay; false when only the store can. */
static bool lookup_overlay(struct lb_fs *fs, struct lb_inode *dir, const char *name,
			   struct lb_inode **ret_inode, struct stat *ret_st)
{
	struct ov_dirent *d;
	bool known = false;

	pthread_mutex_lock(&fs->ov_lock);
	d = ov_dirent_find(dir->ov, name);
	if (d || ov_is_virt(dir) || inode_name_known_absent(fs, dir, name)) {
		known = true;
		*ret_inode = d ? d->inode : NULL;
		if (*ret_inode) {
			inode_add_lookup(fs, *ret_inode);
			if (!ov_getattr(fs, *ret_inode, ret_st))
				inode_stat_get(fs, *ret_inode, ret_st);
		}
	}
	pthread_mutex_unlock(&fs->ov_lock);
	return known || lookup_known_name(fs, dir, name, ret_inode, ret_st);
}

static void reply_negative(fuse_req_t req)
{
	struct lb_fs *fs = fs_of(req);
	struct fuse_entry_param e;

	if (fs->opt.negative_timeout <= 0)
		return (void)fuse_reply_err(req, ENOENT);
	/* Cache the miss: a create then costs one round trip less. */
	memset(&e, 0, sizeof(e));
	e.entry_timeout = fs->opt.negative_timeout;
	fuse_reply_entry(req, &e);
}

void lb_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_inode *dir = inode_of(fs, parent), *inode;
	struct fuse_entry_param e;
	struct stat st;
	int fd, r;

	for (;;) {
		uint64_t epoch = absorb_epoch(fs);

		if (fs->state != LB_HEALTHY && lookup_overlay(fs, dir, name, &inode, &st)) {
			log_debug("lookup '%s' in %p: overlay %p", name, (void *)dir, (void *)inode);
			if (!inode)
				return reply_negative(req);
			return reply_entry(req, inode, &st);
		}
		if (fs->state != LB_HEALTHY)
			log_debug("lookup '%s' in %p: unknown to the overlay, asking the store", name,
				  (void *)dir);
		/*
		 * Mid-replay the store shows objects the overlay still stands
		 * for: an inode made for one now would split its identity.
		 */
		if (fs->state == LB_RECOVERING) {
			r = hold_wait(fs);
			if (r < 0)
				return (void)fuse_reply_err(req, -r);
			continue;
		}
		fd = inode_fd_get(fs, dir);
		r = fd;
		if (fd >= 0) {
			r = inode_lookup_child(fs, dir, fd, name, &e);
			inode_fd_put(fs, dir);
		}
		/* A name the mount made and never removed: the store lost it. */
		if (r == -ENOENT && inode_name_bound(fs, dir, name) && queue_holds_inode(fs, dir))
			r = -ESTALE;
		/*
		 * Absorbing began meanwhile: a rollback may have come before our
		 * lookup, and the overlay knows what it took.
		 */
		if ((r == 0 || r == -ENOENT) && absorb_began_since(fs, epoch)) {
			if (r == 0)
				inode_forget(fs, inode_of(fs, e.ino), 1);
			continue;
		}
		if (r >= 0 || !is_path_failure(fs, r))
			break;
		if (fs->state == LB_HEALTHY) {
			absorb_begin(fs, r);
			continue;	/* the overlay may know the answer now */
		}
		r = hold_wait(fs);
		if (r < 0)
			return (void)fuse_reply_err(req, -r);
	}
	log_debug("lookup '%s' in %p: %d -> %p nlink %lu size %lld", name, (void *)dir, r,
		  r == 0 ? (void *)(uintptr_t)e.ino : NULL, r == 0 ? (unsigned long)e.attr.st_nlink : 0,
		  r == 0 ? (long long)e.attr.st_size : 0);
	if (r == -ENOENT) {
		inode_name_absent(fs, dir, name, true);
		return reply_negative(req);
	}
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	if (fuse_reply_entry(req, &e) == -ENOENT)
		inode_forget(fs, inode_of(fs, e.ino), 1);
}

void lb_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	inode_forget(fs_of(req), inode_of(fs_of(req), ino), nlookup);
	fuse_reply_none(req);
}

void lb_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct lb_fs *fs = fs_of(req);

	for (size_t i = 0; i < count; i++)
		inode_forget(fs, inode_of(fs, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

/*
 * Owner, group and mode a new object gets, for the journal record while
 * absorbing; the store's answer replaces them when healthy.
 */
void mut_new_object(fuse_req_t req, struct lb_mut *m, struct lb_inode *dir, mode_t mode)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct stat dst;

	inode_stat_get(fs_of(req), dir, &dst);
	if (dir->ov)
		dst = dir->ov->attr;
	m->rec.uid = ctx->uid;
	m->rec.gid = (dst.st_mode & S_ISGID) ? dst.st_gid : ctx->gid;
	m->rec.mode = mode & ~ctx->umask;	/* the umask holds permission bits only */
	if (S_ISDIR(mode) && (dst.st_mode & S_ISGID))
		m->rec.mode |= S_ISGID;
}

/* The store's attributes of a new object go into its record. */
void mut_note_created(struct lb_mut *m)
{
	m->rec.uid = m->st.st_uid;
	m->rec.gid = m->st.st_gid;
	m->rec.mode = m->rec.type == JOURNAL_MKDIR ? (m->st.st_mode & 07777) : m->st.st_mode;
	m->rec.rdev = m->st.st_rdev;
}

struct mk_arg {
	fuse_req_t req;
	const char *name;
	mode_t mode;
	dev_t rdev;
	const char *target;
};

static int mk_store(struct lb_fs *fs, struct lb_mut *m, void *arg)
{
	struct mk_arg *a = arg;
	struct lb_creds_saved saved;
	int dfd, r;

	dfd = inode_fd_get(fs, m->dir);
	if (dfd < 0)
		return dfd;
	r = creds_enter(a->req, a->mode, &saved);
	if (r == 0) {
		if (m->rec.type == JOURNAL_MKDIR)
			r = mkdirat(dfd, a->name, a->mode);
		else if (m->rec.type == JOURNAL_SYMLINK)
			r = symlinkat(a->target, dfd, a->name);
		else
			r = mknodat(dfd, a->name, a->mode, a->rdev);
		r = r < 0 ? -errno : 0;
		creds_leave(&saved);
	}
	if (r == 0)
		r = entry_new(fs, m->dir, dfd, a->name, &m->file, &m->st);
	inode_fd_put(fs, m->dir);
	if (r == 0)
		mut_note_created(m);
	return store_lost(r);
}

static void make_node(fuse_req_t req, fuse_ino_t parent, const char *name,
		      enum journal_type type, mode_t mode, dev_t rdev, const char *target)
{
	struct lb_fs *fs = fs_of(req);
	struct mk_arg a = { req, name, mode, rdev, target };
	struct lb_mut m;
	int r;

	mut_init(&m, type);
	m.dir = inode_of(fs, parent);
	(void)mut_path(fs, &m, m.dir, name);
	mut_new_object(req, &m, m.dir, type == JOURNAL_MKDIR ? (S_IFDIR | mode) : mode);
	if (type == JOURNAL_MKDIR)
		m.rec.mode &= 07777;
	m.rec.rdev = rdev;
	m.rec.target = target;
	r = mut_run(fs, &m, mk_store, &a);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	if (type == JOURNAL_MKDIR)
		inode_dir_complete(fs, m.file);
	reply_entry(req, m.file, &m.st);
}

void lb_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	make_node(req, parent, name, JOURNAL_MKNOD, mode, rdev, NULL);
}

void lb_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	make_node(req, parent, name, JOURNAL_MKDIR, mode, 0, NULL);
}

void lb_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	make_node(req, parent, name, JOURNAL_SYMLINK, S_IFLNK | 0777, 0, link);
}

static int link_store(struct lb_fs *fs, struct lb_mut *m, void *arg)
{
	const char *newname = arg;
	struct fuse_entry_param e;
	int fd, dfd, r;

	fd = inode_fd_get(fs, m->file);
	if (fd < 0)
		return fd;
	dfd = inode_fd_get(fs, m->dir2);
	if (dfd < 0) {
		inode_fd_put(fs, m->file);
		return dfd;
	}
	r = linkat(fd, "", dfd, newname, AT_EMPTY_PATH) < 0 ? -errno : 0;
	if (r == 0)
		r = inode_lookup_child(fs, m->dir2, dfd, newname, &e);
	if (r == 0)
		m->st = e.attr;
	inode_fd_put(fs, m->dir2);
	inode_fd_put(fs, m->file);
	return store_lost(r);
}

void lb_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_mut m;
	int r;

	mut_init(&m, JOURNAL_LINK);
	m.file = inode_of(fs, ino);
	m.dir2 = inode_of(fs, newparent);
	(void)mut_path(fs, &m, m.file, NULL);
	(void)mut_path2(fs, &m, m.dir2, newname);
	r = mut_run(fs, &m, link_store, (void *)newname);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	if (m.absorbed) {
		inode_add_lookup(fs, m.file);
		inode_add_link(fs, m.file, m.dir2, newname);
	}
	reply_entry(req, m.file, &m.st);
}

/*
 * Is the name about to go the object's last one? Then the store may reuse
 * its number afterwards. Asked before the removal: the mutation refreshes
 * the cached link count to what the store has after it.
 */
static bool last_link(struct lb_fs *fs, struct lb_inode *inode)
{
	struct stat st;

	bool have;

	if (!inode)
		return false;
	pthread_mutex_lock(&fs->ov_lock);
	have = ov_getattr(fs, inode, &st);	/* absorbing: links made since count too */
	pthread_mutex_unlock(&fs->ov_lock);
	if (!have)
		inode_stat_get(fs, inode, &st);
	return S_ISDIR(st.st_mode) || st.st_nlink <= 1;
}

static int unlink_store(struct lb_fs *fs, struct lb_mut *m, void *arg)
{
	const char *name = arg;
	int fd, r;

	fd = inode_fd_get(fs, m->dir);
	if (fd < 0)
		return fd;
	r = unlinkat(fd, name, m->rec.type == JOURNAL_RMDIR ? AT_REMOVEDIR : 0) < 0 ? -errno : 0;
	inode_fd_put(fs, m->dir);
	return store_lost(r);
}

static void remove_name(fuse_req_t req, fuse_ino_t parent, const char *name,
			enum journal_type type)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_mut m;
	bool last;
	int r;

	mut_init(&m, type);
	m.dir = inode_of(fs, parent);
	(void)mut_path(fs, &m, m.dir, name);
	m.victim = inode_child_get(fs, m.dir, name);
	last = last_link(fs, m.victim);
	r = mut_run(fs, &m, unlink_store, (void *)name);
	if (r == 0)
		inode_name_absent(fs, m.dir, name, true);
	if (r == 0 && m.victim) {
		inode_clear_link(fs, m.victim, m.dir, name);
		if (last)
			inode_unhash(fs, m.victim);
	}
	mut_done(fs, &m);
	fuse_reply_err(req, -r);
}

void lb_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, JOURNAL_UNLINK);
}

void lb_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, JOURNAL_RMDIR);
}

struct rename_arg {
	const char *name;
	const char *newname;
};

static int rename_store(struct lb_fs *fs, struct lb_mut *m, void *arg)
{
	struct rename_arg *a = arg;
	int ffd, tfd, r;

	ffd = inode_fd_get(fs, m->dir);
	if (ffd < 0)
		return ffd;
	tfd = inode_fd_get(fs, m->dir2);
	if (tfd < 0) {
		inode_fd_put(fs, m->dir);
		return tfd;
	}
	r = renameat2(ffd, a->name, tfd, a->newname, m->rec.flags) < 0 ? -errno : 0;
	inode_fd_put(fs, m->dir2);
	inode_fd_put(fs, m->dir);
	return store_lost(r);
}

/* The names moved: keep the paths of the objects involved right. */
static void rename_links(struct lb_fs *fs, struct lb_mut *m, const char *name,
			 const char *newname, bool replaced_last)
{
	if (m->rec.flags & RENAME_EXCHANGE) {
		if (m->victim)
			inode_move_link(fs, m->victim, m->dir, name, m->dir2, newname);
		if (m->victim2)
			inode_move_link(fs, m->victim2, m->dir2, newname, m->dir, name);
		return;
	}
	if (m->victim2 && m->victim2 != m->victim) {
		inode_clear_link(fs, m->victim2, m->dir2, newname);
		if (replaced_last)
			inode_unhash(fs, m->victim2);
	}
	if (m->victim)
		inode_move_link(fs, m->victim, m->dir, name, m->dir2, newname);
}

void lb_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
	       const char *newname, unsigned int flags)
{
	struct lb_fs *fs = fs_of(req);
	struct rename_arg a = { name, newname };
	bool replaced_last;
	struct lb_mut m;
	int r;

	mut_init(&m, JOURNAL_RENAME);
	m.dir = inode_of(fs, parent);
	m.dir2 = inode_of(fs, newparent);
	m.rec.flags = flags;
	(void)mut_path(fs, &m, m.dir, name);
	(void)mut_path2(fs, &m, m.dir2, newname);
	m.victim = inode_child_get(fs, m.dir, name);
	m.victim2 = inode_child_get(fs, m.dir2, newname);
	m.file = m.victim;	/* the queue keeps the moved object for the overlay */
	/*
	 * rec.ino stays 0: an object made since the last sync is made again
	 * by the replay with another inode number, which replay would take
	 * for "rename already done".
	 */
	replaced_last = last_link(fs, m.victim2);
	r = mut_run(fs, &m, rename_store, &a);
	if (r == 0 && !(flags & RENAME_EXCHANGE)) {
		inode_name_absent(fs, m.dir, name, true);
		inode_name_absent(fs, m.dir2, newname, false);
	}
	if (r == 0)
		rename_links(fs, &m, name, newname, replaced_last);
	mut_done(fs, &m);
	fuse_reply_err(req, -r);
}
