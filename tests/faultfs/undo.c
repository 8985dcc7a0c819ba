// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * undo.c - what the store has not made durable yet, and the rollback that
 * a path failure does to it.
 *
 * The model (simple and deterministic on purpose):
 *
 *  1. File data and size. Before every write, truncate (setattr size,
 *     O_TRUNC), fallocate and copy_file_range into a regular file, the old
 *     bytes of the range it may change and the old size are pushed on that
 *     file's undo stack. fsync or fdatasync of the file (or a write on an
 *     O_SYNC/O_DSYNC handle) empties its stack: everything is durable.
 *  2. Names. A name made by create, mknod, mkdir, symlink or link is
 *     "unsynced" until its parent directory is fsynced (fsyncdir). Renaming
 *     an unsynced name carries the mark to the new name; unlinking it, or
 *     renaming over it, drops the mark.
 *  3. `faultctl SOCKET sync` (the model of syncfs/sync, which the kernel does
 *     not forward to a FUSE fs) makes everything durable.
 *  4. Rollback, run at the moment a fault fires: every undo stack is applied
 *     newest first (truncate to the old size, write the old bytes back), then
 *     every unsynced name is removed, newest first, if it still names the
 *     same inode; an unsynced directory goes with everything in it.
 *     So a created file survives a failure only if its parent was fsynced
 *     after the create; its content survives only if the file was fsynced.
 *  5. Not rolled back: unlink, rmdir and rename of synced names, and mode,
 *     owner, times and xattrs. They take effect at once, as if synced; a
 *     file left without a name loses its undo stack (and its space).
 *  6. Like the kernel's errseq, the first fsync after a rollback of each
 *     file or directory it touched fails with EIO: a program that syncs
 *     learns that writeback it did before was lost.
 *
 * Memory: the saved bytes are capped (--undo-limit, 1 GiB by default); a
 * mutation that would pass the cap fails with ENOMEM and is logged loudly.
 * Locking: a mutation holds rw for reading and inode->undo_lock around
 * snapshot + syscall, so a file's stack is in the order the writes hit the
 * store; rollback and sync-all hold rw for writing.
 */
#define LOG_PREFIX "undo: "
#include "lifeboat/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "faultfs.h"

struct undo_rec {
	struct undo_rec *prev;		/* older record */
	off_t off;			/* where data goes back */
	off_t old_size;			/* file size before the mutation */
	size_t len;
	bool hole;			/* put back a hole of len bytes, no data */
	char data[];
};

struct ff_undo_file {
	struct ff_undo_file *next;	/* in undo->files; undo->lock */
	struct ff_undo_file **pprev;	/* undo->lock */
	struct ff_inode *inode;		/* pinned */
	int fd;				/* O_RDWR, owned */
	struct undo_rec *top;		/* newest; inode->undo_lock */
	uint64_t bytes;			/* inode->undo_lock */
};

struct undo_entry {
	struct undo_entry *next;	/* newer first; undo->lock */
	struct ff_inode *parent;	/* pinned */
	char *name;
	dev_t dev;
	ino_t ino;
	bool is_dir;
};

struct ff_undo {
	pthread_rwlock_t rw;
	pthread_mutex_t lock;
	struct ff_undo_file *files;	/* lock */
	struct undo_entry *entries;	/* lock */
	uint64_t bytes;			/* lock */
	uint64_t limit;
	uint64_t n_files, n_entries;	/* lock */
	uint64_t generation;		/* rollbacks so far; atomic */
};

struct ff_undo *undo_new(uint64_t limit)
{
	struct ff_undo *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	pthread_rwlock_init(&u->rw, NULL);
	pthread_mutex_init(&u->lock, NULL);
	u->limit = limit;
	return u;
}

void undo_free(struct ff_undo *u)
{
	free(u);	/* records go with the process */
}

void undo_begin(struct ff_fs *fs, struct ff_inode *inode)
{
	pthread_rwlock_rdlock(&fs->undo->rw);
	pthread_mutex_lock(&inode->undo_lock);
}

void undo_end(struct ff_fs *fs, struct ff_inode *inode)
{
	pthread_mutex_unlock(&inode->undo_lock);
	pthread_rwlock_unlock(&fs->undo->rw);
}

/* Called with inode->undo_lock held. */
static int undo_file_get(struct ff_fs *fs, struct ff_inode *inode, struct ff_undo_file **ret)
{
	struct ff_undo *u = fs->undo;
	struct ff_undo_file *uf;
	int fd;

	if (inode->undo) {
		*ret = inode->undo;
		return 0;
	}
	fd = inode_reopen(inode, O_RDWR);
	if (fd < 0)
		return log_error_errno(fd, "cannot open inode %llu to save undo data",
				       (unsigned long long)inode->nodeid);
	uf = calloc(1, sizeof(*uf));
	if (!uf) {
		close(fd);
		return -ENOMEM;
	}
	uf->inode = inode;
	uf->fd = fd;
	inode_pin(fs, inode);
	pthread_mutex_lock(&u->lock);
	uf->next = u->files;
	if (u->files)
		u->files->pprev = &uf->next;
	uf->pprev = &u->files;
	u->files = uf;
	u->n_files++;
	inode->undo = uf;
	pthread_mutex_unlock(&u->lock);
	*ret = uf;
	return 0;
}

static int undo_charge(struct ff_undo *u, uint64_t n)
{
	int r = 0;

	pthread_mutex_lock(&u->lock);
	if (u->bytes + n > u->limit)
		r = -ENOMEM;
	else
		u->bytes += n;
	pthread_mutex_unlock(&u->lock);
	if (r < 0)
		log_error("UNDO LOG FULL: %llu + %llu bytes would pass the limit of %llu; "
			  "failing the mutation with ENOMEM (sync more often or raise --undo-limit)",
			  (unsigned long long)u->bytes, (unsigned long long)n,
			  (unsigned long long)u->limit);
	return r;
}

static void undo_uncharge(struct ff_undo *u, uint64_t n)
{
	pthread_mutex_lock(&u->lock);
	u->bytes -= n;
	pthread_mutex_unlock(&u->lock);
}

static int read_full(int fd, char *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pread(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;	/* shrank under us: the rest reads as zeros */
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Pushes one record: len bytes read at off, or a hole of len bytes. */
static int undo_push(struct ff_fs *fs, struct ff_undo_file *uf, off_t off, off_t len,
		     off_t old_size, bool hole)
{
	size_t n = hole ? 0 : (size_t)len;
	struct undo_rec *rec;
	int r;

	r = undo_charge(fs->undo, sizeof(*rec) + n);
	if (r < 0)
		return r;
	rec = calloc(1, sizeof(*rec) + n);
	r = rec ? read_full(uf->fd, rec->data, n, off) : -ENOMEM;
	if (r < 0) {
		undo_uncharge(fs->undo, sizeof(*rec) + n);
		free(rec);
		return r;
	}
	rec->off = off;
	rec->len = (size_t)len;
	rec->hole = hole;
	rec->old_size = old_size;
	rec->prev = uf->top;
	uf->top = rec;
	uf->bytes += sizeof(*rec) + n;
	return 0;
}

/* The end of the data extent or hole at pos, capped at end. */
static off_t extent_end(int fd, off_t pos, off_t end, bool *ret_hole)
{
	off_t data = lseek(fd, pos, SEEK_DATA), next;

	if (data < 0)
		data = errno == ENXIO ? end : pos;	/* no SEEK_DATA: all data */
	*ret_hole = data > pos;
	if (*ret_hole)
		return data < end ? data : end;
	next = lseek(fd, pos, SEEK_HOLE);
	return next > pos && next < end ? next : end;
}

/*
 * Saves what [off, off + len) holds now (data extents as bytes, holes as
 * holes) and the size, before a mutation of a regular file. Called between
 * undo_begin() and undo_end(). Records of one call share the old size, so
 * the order they are undone in does not matter.
 */
int undo_save(struct ff_fs *fs, struct ff_inode *inode, off_t off, off_t len)
{
	struct ff_undo_file *uf = NULL;
	struct stat st;
	off_t end, pos;
	int r;

	if (inode->type != S_IFREG)
		return 0;
	r = undo_file_get(fs, inode, &uf);
	if (r < 0)
		return r;
	if (fstat(uf->fd, &st) < 0)
		return -errno;
	end = off < st.st_size && len > 0 ? off + (len < st.st_size - off ? len : st.st_size - off)
					  : off;
	if (end == off)
		return undo_push(fs, uf, off, 0, st.st_size, false);	/* the size only */
	for (pos = off; pos < end;) {
		bool hole;
		off_t next = extent_end(uf->fd, pos, end, &hole);

		r = undo_push(fs, uf, pos, next - pos, st.st_size, hole);
		if (r < 0)
			return r;
		pos = next;
	}
	return 0;
}

/* As undo_save(), for mutations that may change everything from off to EOF. */
int undo_save_from(struct ff_fs *fs, struct ff_inode *inode, off_t off)
{
	return undo_save(fs, inode, off, INT64_MAX - off);
}

/* Called with inode->undo_lock held (or rw held for writing). */
static void undo_file_drop(struct ff_fs *fs, struct ff_undo_file *uf)
{
	struct ff_undo *u = fs->undo;
	struct undo_rec *rec;

	while ((rec = uf->top)) {
		uf->top = rec->prev;
		free(rec);
	}
	pthread_mutex_lock(&u->lock);
	*uf->pprev = uf->next;
	if (uf->next)
		uf->next->pprev = uf->pprev;
	u->n_files--;
	u->bytes -= uf->bytes;
	uf->inode->undo = NULL;
	pthread_mutex_unlock(&u->lock);
	close(uf->fd);
	inode_unpin(fs, uf->inode);
	free(uf);
}

/* The file's data and size are durable; called between undo_begin() and undo_end(). */
void undo_file_synced_locked(struct ff_fs *fs, struct ff_inode *inode)
{
	if (inode->undo)
		undo_file_drop(fs, inode->undo);
}

static struct undo_entry *undo_entry_new(struct ff_fs *fs, struct ff_inode *parent,
					 const char *name, struct ff_inode *inode)
{
	struct undo_entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->name = strdup(name);
	if (!e->name) {
		free(e);
		return NULL;
	}
	e->parent = parent;
	e->dev = inode->dev;
	e->ino = inode->ino;
	e->is_dir = inode->type == S_IFDIR;
	inode_pin(fs, parent);
	return e;
}

/* Called with undo->lock held; unlinks *pe from the list and frees it. */
static void undo_entry_drop(struct ff_fs *fs, struct undo_entry **pe)
{
	struct undo_entry *e = *pe;

	*pe = e->next;
	fs->undo->n_entries--;
	inode_unpin(fs, e->parent);
	free(e->name);
	free(e);
}

static struct undo_entry **undo_entry_find(struct ff_undo *u, struct ff_inode *parent,
					   const char *name)
{
	struct undo_entry **pe;

	for (pe = &u->entries; *pe; pe = &(*pe)->next)
		if ((*pe)->parent == parent && strcmp((*pe)->name, name) == 0)
			return pe;
	return NULL;
}

/* A new name parent/name for inode; a fresh regular file starts at size 0. */
void undo_created(struct ff_fs *fs, struct ff_inode *parent, const char *name,
		  struct ff_inode *inode, bool fresh)
{
	struct ff_undo *u = fs->undo;
	struct undo_entry *e;

	undo_begin(fs, inode);
	if (fresh)	/* a new object: what an old one with its number lost is not its */
		__atomic_store_n(&inode->writeback_lost, false, __ATOMIC_RELEASE);
	if (fresh && inode->type == S_IFREG && !inode->undo)
		(void)undo_save(fs, inode, 0, 0);
	e = undo_entry_new(fs, parent, name, inode);
	if (e) {
		pthread_mutex_lock(&u->lock);
		e->next = u->entries;
		u->entries = e;
		u->n_entries++;
		pthread_mutex_unlock(&u->lock);
	} else {
		log_error("out of memory, the new name '%s' will survive a rollback", name);
	}
	undo_end(fs, inode);
}

/*
 * A file whose last name is gone cannot be seen after a rollback: its undo
 * stack goes, and with it the fd that kept its blocks allocated (a replay
 * that writes the file again must find that space free, as on a real store).
 */
static void undo_forget_unlinked(struct ff_fs *fs)
{
	struct ff_undo *u = fs->undo;
	struct ff_undo_file *uf, *next;
	struct stat st;

	pthread_rwlock_wrlock(&u->rw);
	for (uf = u->files; uf; uf = next) {
		next = uf->next;
		if (fstat(uf->fd, &st) == 0 && st.st_nlink == 0)
			undo_file_drop(fs, uf);
	}
	pthread_rwlock_unlock(&u->rw);
}

void undo_unlinked(struct ff_fs *fs, struct ff_inode *parent, const char *name)
{
	struct ff_undo *u = fs->undo;
	struct undo_entry **pe;

	pthread_rwlock_rdlock(&u->rw);
	pthread_mutex_lock(&u->lock);
	pe = undo_entry_find(u, parent, name);
	if (pe)
		undo_entry_drop(fs, pe);
	pthread_mutex_unlock(&u->lock);
	pthread_rwlock_unlock(&u->rw);
	undo_forget_unlinked(fs);
}

static void undo_entry_move(struct ff_fs *fs, struct undo_entry *e, struct ff_inode *parent,
			    char *name)
{
	inode_pin(fs, parent);
	inode_unpin(fs, e->parent);
	e->parent = parent;
	free(e->name);
	e->name = name;
}

void undo_renamed(struct ff_fs *fs, struct ff_inode *parent, const char *name,
		  struct ff_inode *newparent, const char *newname, unsigned flags)
{
	struct ff_undo *u = fs->undo;
	struct undo_entry **ps, **pd, *src, *dst;

	pthread_rwlock_rdlock(&u->rw);
	pthread_mutex_lock(&u->lock);
	ps = undo_entry_find(u, parent, name);
	pd = undo_entry_find(u, newparent, newname);
	src = ps ? *ps : NULL;
	dst = pd ? *pd : NULL;
	if (dst && !(flags & RENAME_EXCHANGE)) {
		undo_entry_drop(fs, pd);
		dst = NULL;
	}
	/* strdup failure leaves a stale mark; rollback then finds no such name */
	if (src)
		undo_entry_move(fs, src, newparent, strdup(newname) ?: strdup(""));
	if (dst)
		undo_entry_move(fs, dst, parent, strdup(name) ?: strdup(""));
	pthread_mutex_unlock(&u->lock);
	pthread_rwlock_unlock(&u->rw);
	if (!(flags & RENAME_EXCHANGE))
		undo_forget_unlinked(fs);
}

/*
 * Rollbacks so far. A sync that passed the fault gate before a failure
 * fired but reaches the store after its rollback would claim the rolled
 * back state durable: it compares this before the gate and under the lock.
 */
uint64_t undo_generation(struct ff_fs *fs)
{
	return __atomic_load_n(&fs->undo->generation, __ATOMIC_ACQUIRE);
}

static void dir_synced_locked(struct ff_fs *fs, struct ff_inode *dir)
{
	struct ff_undo *u = fs->undo;
	struct undo_entry **pe;

	pthread_mutex_lock(&u->lock);
	for (pe = &u->entries; *pe;)
		if ((*pe)->parent == dir)
			undo_entry_drop(fs, pe);
		else
			pe = &(*pe)->next;
	pthread_mutex_unlock(&u->lock);
}

/*
 * fsync (fdatasync) of @fd, the file or directory @inode, and what it makes
 * durable, in one step no rollback can split; -EIO when a rollback came
 * after @gen, -errno when the sync fails.
 */
int undo_sync(struct ff_fs *fs, struct ff_inode *inode, int fd, bool datasync, uint64_t gen)
{
	bool dir = S_ISDIR(inode->type);
	int r = 0;

	pthread_rwlock_rdlock(&fs->undo->rw);
	if (!dir)
		pthread_mutex_lock(&inode->undo_lock);
	/*
	 * Like the kernel's errseq: a sync that passed the gate before the
	 * failure, or the first one after it, reports the lost writeback.
	 */
	if (__atomic_exchange_n(&inode->writeback_lost, false, __ATOMIC_ACQ_REL) ||
	    undo_generation(fs) != gen)
		r = -EIO;
	else if ((datasync ? fdatasync(fd) : fsync(fd)) < 0)
		r = -errno;
	else if (dir)
		dir_synced_locked(fs, inode);
	else
		undo_file_synced_locked(fs, inode);
	if (!dir)
		pthread_mutex_unlock(&inode->undo_lock);
	pthread_rwlock_unlock(&fs->undo->rw);
	return r;
}


/* Called with rw held for writing. */
static void undo_drop_all(struct ff_fs *fs)
{
	struct ff_undo *u = fs->undo;

	while (u->files)
		undo_file_drop(fs, u->files);
	pthread_mutex_lock(&u->lock);
	while (u->entries)
		undo_entry_drop(fs, &u->entries);
	pthread_mutex_unlock(&u->lock);
}

/* Everything is durable now, and no lost writeback is left to report. */
void undo_sync_all(struct ff_fs *fs)
{
	pthread_rwlock_wrlock(&fs->undo->rw);
	undo_drop_all(fs);
	pthread_mutex_lock(&fs->inodes_lock);
	for (size_t i = 0; i < fs->n_ids; i++)
		if (fs->by_id[i])
			__atomic_store_n(&fs->by_id[i]->writeback_lost, false, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&fs->inodes_lock);
	pthread_rwlock_unlock(&fs->undo->rw);
}

static int write_full(int fd, const char *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static int zero_range(int fd, off_t off, off_t len)
{
	static const char zeros[65536];

	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) == 0)
		return 0;
	while (len > 0) {
		size_t n = len < (off_t)sizeof(zeros) ? (size_t)len : sizeof(zeros);
		int r = write_full(fd, zeros, n, off);

		if (r < 0)
			return r;
		off += (off_t)n;
		len -= (off_t)n;
	}
	return 0;
}

static int undo_file_apply(struct ff_undo_file *uf)
{
	struct undo_rec *rec;
	int r;

	for (rec = uf->top; rec; rec = rec->prev) {
		if (ftruncate(uf->fd, rec->old_size) < 0)
			return -errno;
		if (rec->hole)
			r = zero_range(uf->fd, rec->off, (off_t)rec->len);
		else
			r = write_full(uf->fd, rec->data, rec->len, rec->off);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Removes dirfd/name and, for a directory, everything below it. */
static int remove_tree(int dirfd, const char *name, bool is_dir)
{
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	if (!is_dir)
		return unlinkat(dirfd, name, 0) < 0 ? -errno : 0;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		r = remove_tree(fd, de->d_name, de->d_type == DT_DIR);
		if (r < 0)
			break;
	}
	closedir(d);
	if (r < 0)
		return r;
	return unlinkat(dirfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

static int undo_entry_remove(struct undo_entry *e)
{
	struct stat st;
	int fd = e->parent->fd;

	if (fstatat(fd, e->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (st.st_dev != e->dev || st.st_ino != e->ino)
		return 0;	/* the name was reused; leave it */
	return remove_tree(fd, e->name, S_ISDIR(st.st_mode));
}

/* Rolls the store back to what was last synced (see the model above). */
int undo_rollback(struct ff_fs *fs, char *msg, size_t len)
{
	struct ff_undo *u = fs->undo;
	unsigned long long files = 0, entries = 0, bytes;
	int r, ret = 0;

	pthread_rwlock_wrlock(&u->rw);
	__atomic_add_fetch(&u->generation, 1, __ATOMIC_RELEASE);
	bytes = u->bytes;
	for (struct ff_undo_file *uf = u->files; uf; uf = uf->next, files++) {
		__atomic_store_n(&uf->inode->writeback_lost, true, __ATOMIC_RELEASE);
		r = undo_file_apply(uf);
		if (r < 0)
			ret = log_error_errno(r, "cannot roll back inode %llu",
					      (unsigned long long)uf->inode->nodeid);
	}
	for (struct undo_entry *e = u->entries; e; e = e->next, entries++) {
		__atomic_store_n(&e->parent->writeback_lost, true, __ATOMIC_RELEASE);
		r = undo_entry_remove(e);
		if (r < 0)
			ret = log_error_errno(r, "cannot remove unsynced name '%s'", e->name);
	}
	undo_drop_all(fs);
	pthread_rwlock_unlock(&u->rw);
	snprintf(msg, len, "rolled back %llu files (%llu undo bytes), removed %llu names%s", files,
		 bytes, entries, ret < 0 ? ", WITH ERRORS (see log)" : "");
	return ret;
}

void undo_status(struct ff_fs *fs, char *msg, size_t len)
{
	struct ff_undo *u = fs->undo;

	pthread_mutex_lock(&u->lock);
	snprintf(msg, len, " unsynced_files=%llu unsynced_names=%llu undo_bytes=%llu",
		 (unsigned long long)u->n_files, (unsigned long long)u->n_entries,
		 (unsigned long long)u->bytes);
	pthread_mutex_unlock(&u->lock);
}
