// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ovnode.c - the overlay's names and attributes while absorbing.
 *
 * An object gets an ov_node at its first mutation since the last sync (from
 * the unflushed queue at absorb_begin(), or absorbed later). The node's
 * attributes start from the last attributes seen on the store and follow
 * every mutation; its data is an ov_file over the store's synced content,
 * or over nothing for objects created since the last sync (virt). A
 * directory's node lists the names changed in it: a name bound to an
 * inode, or a name that is gone. Everything here runs under fs->ov_lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "overlay: "
#include "lifeboat/log.h"
#include "lifeboatfs.h"
#include "overlay.h"

#define JT(t) JOURNAL_##t

/* Nothing of it on the store to read: made while absorbing or since the last sync. */
bool ov_is_virt(struct lb_inode *inode)
{
	return inode->virt || (inode->ov && inode->ov->virt);
}

static struct ov_node *node_get(struct lb_fs *fs, struct lb_inode *inode, bool virt)
{
	struct ov_node *n = inode->ov;

	if (n)
		return n;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	inode_stat_get(fs, inode, &n->attr);
	n->base_fd = -1;
	n->virt = virt || inode->virt;
	if (S_ISREG(n->attr.st_mode)) {
		n->data = ov_file_new(n->virt ? 0 : (uint64_t)n->attr.st_size);
		if (!n->data) {
			free(n);
			return NULL;
		}
		if (n->virt && n->attr.st_size) {
			/* created since the last sync: only what the queue holds */
			(void)ov_file_truncate(n->data, 0);
			n->attr.st_size = 0;
		}
	}
	n->inode = inode;
	inode_ref(fs, inode);
	n->next = fs->ov_nodes;
	fs->ov_nodes = n;
	inode->ov = n;
	return n;
}

static void touch(struct stat *st, bool mtime)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	st->st_ctim = now;
	if (mtime)
		st->st_mtim = now;
}

struct ov_dirent *ov_dirent_find(struct ov_node *dir, const char *name)
{
	for (struct ov_dirent *d = dir ? dir->entries : NULL; d; d = d->next)
		if (strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

/* Binds @name in @dir to @inode (NULL: the name is gone). */
static int dirent_set(struct lb_fs *fs, struct lb_inode *dir, const char *name,
		      struct lb_inode *inode)
{
	struct ov_node *n = node_get(fs, dir, false);
	struct ov_dirent *d;

	if (!n)
		return -ENOMEM;
	d = ov_dirent_find(n, name);
	if (!d) {
		d = calloc(1, sizeof(*d) + strlen(name) + 1);
		if (!d)
			return -ENOMEM;
		strcpy(d->name, name);
		d->next = n->entries;
		n->entries = d;
	}
	if (d->inode)
		inode_unref(fs, d->inode);
	d->inode = inode;
	if (inode)
		inode_ref(fs, inode);
	touch(&n->attr, true);
	return 0;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/*
 * Link counts move by deltas, which the attributes last seen already hold
 * for queued mutations: only absorbed ones move them (@queued false), and
 * queued ones of objects made since the last sync (their count starts at
 * their creation). Either way the object gets a node: while absorbing, a
 * store that still answers may show the count a rollback left.
 */
static void nlink_add(struct lb_fs *fs, struct lb_inode *inode, int delta, bool queued)
{
	bool made_since_sync;
	struct ov_node *n;

	if (!inode)
		return;
	/* an object made since the last sync: the queue holds all of its links */
	made_since_sync = inode->ov && inode->ov->virt;
	n = node_get(fs, inode, false);
	if (!n || (queued && !made_since_sync))
		return;
	if (delta < 0 && n->attr.st_nlink == 0)
		return;
	n->attr.st_nlink += delta;
	touch(&n->attr, false);
}

static int apply_data(struct lb_fs *fs, const struct journal_record *rec, struct lb_inode *file)
{
	struct ov_node *n = node_get(fs, file, false);
	int r;

	if (!n || !n->data)
		return n ? -EINVAL : -ENOMEM;
	if (rec->type == JT(WRITE))
		r = ov_file_write(n->data, rec->offset, rec->data, rec->data_len);
	else if (rec->type == JT(TRUNCATE))
		r = ov_file_truncate(n->data, rec->size);
	else
		r = ov_file_fallocate(n->data, (int)rec->flags, rec->offset, rec->length);
	n->attr.st_size = (off_t)ov_file_size(n->data);
	touch(&n->attr, true);
	return r;
}

static int apply_setattr(struct lb_fs *fs, const struct journal_record *rec,
			 struct lb_inode *file)
{
	struct ov_node *n = node_get(fs, file, false);
	int r = 0;

	if (!n)
		return -ENOMEM;
	if (rec->flags & JOURNAL_ATTR_MODE)
		n->attr.st_mode = (n->attr.st_mode & S_IFMT) | (rec->mode & 07777);
	if (rec->flags & JOURNAL_ATTR_UID)
		n->attr.st_uid = rec->uid;
	if (rec->flags & JOURNAL_ATTR_GID)
		n->attr.st_gid = rec->gid;
	if ((rec->flags & JOURNAL_ATTR_SIZE) && n->data) {
		r = ov_file_truncate(n->data, rec->size);
		n->attr.st_size = (off_t)ov_file_size(n->data);
	}
	touch(&n->attr, false);
	if (rec->flags & JOURNAL_ATTR_ATIME)
		n->attr.st_atim = rec->atime;
	if (rec->flags & JOURNAL_ATTR_MTIME)
		n->attr.st_mtim = rec->mtime;
	file->mode = n->attr.st_mode;
	return r;
}

static int apply_create(struct lb_fs *fs, const struct journal_record *rec,
			struct lb_inode *file, struct lb_inode *dir, bool queued)
{
	bool fresh;
	struct ov_node *n;

	if (!file || !dir)
		return -EINVAL;
	fresh = !file->ov;
	n = node_get(fs, file, true);
	if (!n)
		return -ENOMEM;
	/*
	 * Links count from the creation on: what the store showed of an
	 * object since made may be what a failure left of it.
	 */
	if (fresh)
		n->attr.st_nlink = rec->type == JT(MKDIR) ? 2 : 1;
	if (rec->type == JT(MKDIR))
		nlink_add(fs, dir, 1, queued);
	return dirent_set(fs, dir, base_name(rec->path), file);
}

static int apply_rename(struct lb_fs *fs, const struct journal_record *rec,
			struct lb_inode *dir, struct lb_inode *dir2, struct lb_inode *moved,
			struct lb_inode *replaced, bool queued)
{
	const char *from = base_name(rec->path), *to = base_name(rec->path2);
	int r;

	if (!dir)
		return -EINVAL;
	if (!dir2)
		dir2 = dir;
	if (rec->flags & RENAME_EXCHANGE) {
		r = dirent_set(fs, dir, from, replaced);
		return r ? r : dirent_set(fs, dir2, to, moved);
	}
	if (replaced)
		nlink_add(fs, replaced, S_ISDIR(replaced->mode) ? -2 : -1, queued);
	if (replaced && S_ISDIR(replaced->mode))
		nlink_add(fs, dir2, -1, queued);
	if (moved && S_ISDIR(moved->mode) && dir != dir2) {
		nlink_add(fs, dir, -1, queued);	/* its ".." moves along */
		nlink_add(fs, dir2, 1, queued);
	}
	r = dirent_set(fs, dir, from, NULL);
	return r ? r : dirent_set(fs, dir2, to, moved);
}

/*
 * Shows one journaled or queued mutation in the overlay. @victim is the
 * object that loses the name (unlink, rmdir, rename source), @victim2 the
 * one a rename replaces; NULL where unknown (queued records).
 */
int ov_apply_record(struct lb_fs *fs, const struct journal_record *rec, struct lb_inode *file,
		    struct lb_inode *dir, struct lb_inode *dir2, struct lb_inode *victim,
		    struct lb_inode *victim2, bool queued)
{
	switch (rec->type) {
	case JT(WRITE):
	case JT(TRUNCATE):
	case JT(FALLOCATE):
		return file ? apply_data(fs, rec, file) : -EINVAL;
	case JT(SETATTR):
		return file ? apply_setattr(fs, rec, file) : -EINVAL;
	case JT(CREATE):
	case JT(MKNOD):
	case JT(MKDIR):
	case JT(SYMLINK):
		return apply_create(fs, rec, file, dir, queued);
	case JT(LINK):
		nlink_add(fs, file, 1, queued);
		return dir2 || dir ? dirent_set(fs, dir2 ? dir2 : dir, base_name(rec->path2), file) :
				     -EINVAL;
	case JT(UNLINK):
	case JT(RMDIR):
		nlink_add(fs, victim ? victim : file, rec->type == JT(RMDIR) ? -2 : -1, queued);
		if (rec->type == JT(RMDIR) && dir)
			nlink_add(fs, dir, -1, queued);
		return dir ? dirent_set(fs, dir, base_name(rec->path), NULL) : -EINVAL;
	case JT(RENAME):
		return apply_rename(fs, rec, dir, dir2, victim ? victim : file, victim2, queued);
	default:
		return 0;	/* xattrs: the store answers once it is back */
	}
}

static bool dir_has_entries(struct ov_node *n)
{
	for (struct ov_dirent *d = n ? n->entries : NULL; d; d = d->next)
		if (d->inode)
			return true;
	return false;
}

/*
 * Whether rmdir of @dir would find it empty: known for directories made
 * since the last sync (the overlay has all their names) and for those made
 * through the mount (complete listing); -EAGAIN when only the store knows.
 */
static int dir_emptiness(struct lb_fs *fs, struct lb_inode *dir)
{
	int empty;

	if (!dir)
		return -EAGAIN;
	if (ov_is_virt(dir))
		return dir_has_entries(dir->ov) ? -ENOTEMPTY : 0;
	empty = inode_dir_empty(fs, dir);
	if (empty < 0)
		return -EAGAIN;
	return empty ? 0 : -ENOTEMPTY;
}

/*
 * Decides, from the overlay alone, the application errors a mutation would
 * get on the store, and makes the virtual inode of a creation.
 * -EAGAIN when only the store could tell (the request waits for it).
 */
/*
 * Bytes a write or allocation adds to its file: what the store will have
 * to find room for at replay.
 */
static uint64_t growth_of(struct lb_fs *fs, const struct lb_mut *m)
{
	uint64_t end = m->rec.offset + (m->rec.type == JT(WRITE) ? m->rec.data_len : m->rec.length);
	uint64_t len = m->rec.type == JT(WRITE) ? m->rec.data_len : m->rec.length;
	struct stat st;

	if (!m->file)
		return len;
	if (!ov_getattr(fs, m->file, &st))
		inode_stat_get(fs, m->file, &st);
	if (end <= (uint64_t)st.st_size)
		return 0;
	return end - (uint64_t)st.st_size < len ? end - (uint64_t)st.st_size : len;
}

/*
 * ENOSPC, an application error, must reach the application while
 * absorbing too: a write the store could not take at replay would be an
 * acknowledged write lost. Growth is counted against the free space the
 * store last reported, less a reserve (absorb_begin()).
 */
static int space_take(struct lb_fs *fs, const struct lb_mut *m)
{
	int64_t growth;

	if (m->rec.type == JT(FALLOCATE) &&
	    (m->rec.flags & (FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)))
		return 0;
	growth = (int64_t)growth_of(fs, m);
	growth = (growth + 4095) & ~(int64_t)4095;	/* whole blocks */
	if (growth > fs->space_left)
		return -ENOSPC;
	fs->space_left -= growth;
	return 0;
}

/* The bytes a removal or a shrink gives back at replay. */
static void space_give(struct lb_fs *fs, struct lb_inode *inode, uint64_t new_size)
{
	struct stat st;

	if (!inode)
		return;
	if (!ov_getattr(fs, inode, &st))
		inode_stat_get(fs, inode, &st);
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size <= new_size)
		return;
	if (new_size == 0 && st.st_nlink > 1)
		return;	/* another name keeps the data */
	fs->space_left += (int64_t)((uint64_t)st.st_size - new_size) & ~(int64_t)4095;
}

int ov_check(struct lb_fs *fs, struct lb_mut *m)
{
	struct stat st;

	switch (m->rec.type) {
	case JT(WRITE):
		return space_take(fs, m);
	case JT(UNLINK):
		space_give(fs, m->victim, 0);
		return 0;
	case JT(TRUNCATE):
		space_give(fs, m->file, m->rec.size);
		return 0;
	case JT(RMDIR):
		return dir_emptiness(fs, m->victim);
	case JT(FALLOCATE):
		if (m->rec.flags & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE |
				     FALLOC_FL_ZERO_RANGE))
			return -EAGAIN;
		return space_take(fs, m);
	case JT(RENAME):
		if (m->victim2 && !(m->rec.flags & RENAME_EXCHANGE) && !S_ISDIR(m->victim2->mode))
			space_give(fs, m->victim2, 0);
		if (!m->victim2 || !S_ISDIR(m->victim2->mode) || (m->rec.flags & RENAME_EXCHANGE))
			return 0;
		/* Replacing a directory: only an empty one, as rmdir. */
		return dir_emptiness(fs, m->victim2);
	case JT(CREATE):
	case JT(MKNOD):
	case JT(MKDIR):
	case JT(SYMLINK):
		memset(&st, 0, sizeof(st));
		st.st_mode = m->rec.mode;
		if (m->rec.type == JT(MKDIR))
			st.st_mode = S_IFDIR | (m->rec.mode & 07777);
		else if (m->rec.type == JT(SYMLINK))
			st.st_mode = S_IFLNK | 0777;
		st.st_nlink = m->rec.type == JT(MKDIR) ? 2 : 1;
		st.st_uid = m->rec.uid;
		st.st_gid = m->rec.gid;
		st.st_rdev = m->rec.rdev;
		st.st_size = m->rec.type == JT(SYMLINK) ? (off_t)strlen(m->rec.target) : 0;
		st.st_blksize = 4096;
		st.st_dev = fs->root.dev;
		st.st_ino = (ino_t)(1ULL << 62) + fs->next_generation + 1;
		touch(&st, true);
		st.st_atim = st.st_mtim;
		m->file = inode_new_virtual(fs, m->dir, base_name(m->rec.path), &st);
		if (!m->file)
			return -ENOMEM;
		m->st = st;
		return 0;
	default:
		return 0;
	}
}

bool ov_getattr(struct lb_fs *fs, struct lb_inode *inode, struct stat *ret_st)
{
	if (!inode->ov)
		return false;
	*ret_st = inode->ov->attr;
	return true;
}

struct read_base_ctx {
	int fd;
	bool stalled;
};

/* The store's synced bytes; past its end they read as zeros (a grown file). */
static int read_base(void *ctx, void *dst, uint64_t off, size_t len)
{
	struct read_base_ctx *c = ctx;
	size_t done = 0;

	if (c->stalled)
		return -ETIMEDOUT;	/* never block under ov_lock */
	if (c->fd < 0)
		return -ESTALE;
	while (done < len) {
		ssize_t n = pread(c->fd, (char *)dst + done, len - done, (off_t)(off + done));

		if (n < 0)
			return -errno;
		if (n == 0) {
			memset((char *)dst + done, 0, len - done);
			break;
		}
		done += (size_t)n;
	}
	return 0;
}

/* Reads through the overlay of @inode; -ENODATA when it has none. */
ssize_t ov_read(struct lb_fs *fs, struct lb_inode *inode, int fd, void *buf, size_t len,
		off_t off)
{
	struct read_base_ctx c = { .fd = fd, .stalled = stall_gate_closed(fs) };
	ssize_t r;

	pthread_mutex_lock(&fs->ov_lock);
	if (c.fd < 0 && inode->ov)
		c.fd = inode->ov->base_fd;
	if (!inode->ov || !inode->ov->data)
		r = -ENODATA;
	else
		r = ov_file_read(inode->ov->data, buf, (uint64_t)off, len, read_base, &c);
	pthread_mutex_unlock(&fs->ov_lock);
	return r;
}

static void node_free(struct lb_fs *fs, struct ov_node *n)
{
	while (n->entries) {
		struct ov_dirent *d = n->entries;

		n->entries = d->next;
		if (d->inode)
			inode_unref(fs, d->inode);
		free(d);
	}
	ov_file_free(n->data);
	if (n->base_fd >= 0)
		close(n->base_fd);
	n->inode->ov = NULL;
	inode_unref(fs, n->inode);
	free(n);
}

/*
 * Before a replay: an object no name leads to any more (unlinked or
 * replaced while absorbing) is removed from the store by the replay, while
 * its open files may still read the synced bytes the overlay did not
 * change. An fd opened now keeps that content readable (ov_read()).
 */
void ov_keep_bases(struct lb_fs *fs)
{
	pthread_mutex_lock(&fs->ov_lock);
	for (struct ov_node *n = fs->ov_nodes; n; n = n->next) {
		char path[PATH_MAX];
		int fd;

		if (!n->data || ov_is_virt(n->inode) || n->base_fd >= 0 || !n->inode->files ||
		    inode_path(fs, n->inode, NULL, path, sizeof(path)) != -ENOENT)
			continue;
		fd = inode_open(fs, n->inode, O_RDONLY | O_CLOEXEC, false);
		if (fd >= 0)
			n->base_fd = fd;
		else
			log_warning_errno(fd, "cannot keep the content of an unlinked open file");
	}
	pthread_mutex_unlock(&fs->ov_lock);
}

/* fsyncs the object of @inode by its handle; 0 when the store has none. */
static int sync_object(struct lb_fs *fs, struct lb_inode *inode)
{
	int fd, r;

	if (!S_ISREG(inode->mode) && !S_ISDIR(inode->mode))
		return 0;	/* its directory has a node too */
	fd = inode_open(fs, inode, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, false);
	if (fd < 0)
		return fd == -ESTALE || fd == -ENOENT ? 0 : fd;
	r = (S_ISREG(inode->mode) ? fdatasync(fd) : fsync(fd)) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/*
 * After a replay: makes every object the overlay stands for (files written,
 * directories whose names changed) durable where it is now.
 */
int ov_sync_all(struct lb_fs *fs)
{
	struct lb_inode **todo = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	pthread_mutex_lock(&fs->ov_lock);
	for (struct ov_node *o = fs->ov_nodes; o; o = o->next) {
		if (o->inode->virt || !inode_named(fs, o->inode))
			continue;
		if (n == cap) {
			struct lb_inode **grown = realloc(todo, (cap ? 2 * cap : 64) * sizeof(*todo));

			if (!grown) {
				r = -ENOMEM;
				break;
			}
			todo = grown;
			cap = cap ? 2 * cap : 64;
		}
		inode_ref(fs, o->inode);
		todo[n++] = o->inode;
	}
	pthread_mutex_unlock(&fs->ov_lock);
	for (size_t i = 0; i < n; i++) {
		if (r == 0)
			r = sync_object(fs, todo[i]);
		inode_unref(fs, todo[i]);
	}
	free(todo);
	if (r < 0)
		log_warning_errno(r, "cannot make the replayed store durable: still absorbing");
	return r;
}

/*
 * After a replay the store shows what the overlay showed: drop it, except
 * for objects without a name (unlinked while open), whose data lives on
 * only here until they are closed.
 */
void ov_drop_all(struct lb_fs *fs)
{
	struct ov_node **p;

	pthread_mutex_lock(&fs->ov_lock);
	p = &fs->ov_nodes;
	while (*p) {
		struct ov_node *n = *p;
		char path[PATH_MAX];

		if (n->data && inode_path(fs, n->inode, NULL, path, sizeof(path)) == -ENOENT) {
			p = &n->next;
			continue;
		}
		*p = n->next;
		/* what the replay left on the store: a shrink must not look like a loss */
		inode_note_replayed(fs, n->inode, &n->attr);
		node_free(fs, n);
	}
	pthread_mutex_unlock(&fs->ov_lock);
}
