// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * readdir.c - directory handles: opendir, readdir, readdirplus, releasedir
 * and fsyncdir.
 *
 * readdirplus returns each entry with its attributes and a lookup, so `ls
 * -l`, `du` and `find` cost one round trip per buffer rather than one per
 * name. The kernel may cache the listing (FOPEN_CACHE_DIR): all changes to
 * the store go through this mount, and the kernel drops that cache at every
 * change it makes to the directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "readdir: "
#include "lifeboat/log.h"
#include "lifeboatfs.h"

struct snap_entry {
	unsigned char type;	/* DT_* */
	ino_t ino;
	char *name;
};

struct lb_dir {
	DIR *dp;		/* NULL when opened while the store failed */
	struct lb_inode *inode;
	off_t offset;		/* position of dp, in telldir() units */
	struct dirent *entry;	/* read but not yet sent, or NULL */
	struct snap_entry *snap; /* absorbing: the merged listing, or NULL */
	size_t nsnap;
};

static struct lb_dir *dir_of(struct fuse_file_info *fi)
{
	return (struct lb_dir *)(uintptr_t)fi->fh;
}

static int dir_open(struct lb_fs *fs, struct lb_inode *inode)
{
	int fd, dfd;

	fd = inode_fd_get(fs, inode);
	if (fd < 0)
		return fd;
	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		dfd = -errno;
	inode_fd_put(fs, inode);
	return dfd;
}

static void snap_free(struct lb_dir *d)
{
	for (size_t i = 0; i < d->nsnap; i++)
		free(d->snap[i].name);
	free(d->snap);
	d->snap = NULL;
	d->nsnap = 0;
}

static void dir_free(void *arg)	/* also a stall_free_later() callback */
{
	struct lb_dir *d = arg;

	if (d->dp)
		closedir(d->dp);
	snap_free(d);
	free(d);
}

static int snap_add(struct lb_dir *d, const char *name, unsigned char type, ino_t ino)
{
	struct snap_entry *s = realloc(d->snap, (d->nsnap + 1) * sizeof(*s));

	if (!s)
		return -ENOMEM;
	d->snap = s;
	s[d->nsnap].name = strdup(name);
	if (!s[d->nsnap].name)
		return -ENOMEM;
	s[d->nsnap].type = type;
	s[d->nsnap].ino = ino;
	d->nsnap++;
	return 0;
}

/* The store's names, minus those the overlay changed. Under ov_lock. */
static int snap_store_names(struct lb_dir *d, struct ov_node *n)
{
	struct dirent *de;
	int r = 0;

	rewinddir(d->dp);
	for (;;) {
		errno = 0;
		de = readdir(d->dp);
		if (!de)
			return errno ? -errno : 0;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    ov_dirent_find(n, de->d_name))
			continue;
		r = snap_add(d, de->d_name, de->d_type, de->d_ino);
		if (r < 0)
			return r;
	}
}

/*
 * Absorbing: the listing is the store's (when it can be read) merged with
 * the names the overlay changed. -EAGAIN when the store is needed and out.
 */
static int snap_build(struct lb_fs *fs, struct lb_dir *d)
{
	struct ov_node *n;
	int r = 0;

	snap_free(d);
	if (snap_add(d, ".", DT_DIR, d->inode->ino) < 0 || snap_add(d, "..", DT_DIR, 0) < 0)
		return -ENOMEM;
	pthread_mutex_lock(&fs->ov_lock);
	n = d->inode->ov;
	if (!ov_is_virt(d->inode))
		r = d->dp ? snap_store_names(d, n) : -EAGAIN;
	for (struct ov_dirent *e = n ? n->entries : NULL; r == 0 && e; e = e->next)
		if (e->inode)
			r = snap_add(d, e->name, (unsigned char)(e->inode->mode >> 12), e->inode->ino);
	pthread_mutex_unlock(&fs->ov_lock);
	if (r < 0 && r != -ENOMEM && r != -EAGAIN && !is_path_failure(fs, r))
		return r;
	return r == -ENOMEM || r == 0 ? r : -EAGAIN;
}

/* Serves a snapshot listing; offsets are indexes + 1. No lookups: attributes come by LOOKUP. */
static void snap_reply(fuse_req_t req, struct lb_dir *d, size_t size, off_t off, int plus)
{
	char *buf = malloc(size);
	size_t used = 0;

	if (!buf)
		return (void)fuse_reply_err(req, ENOMEM);
	for (size_t i = (size_t)off; i < d->nsnap; i++) {
		struct fuse_entry_param e;
		size_t len, room = size - used;

		memset(&e, 0, sizeof(e));
		e.attr.st_ino = d->snap[i].ino;
		e.attr.st_mode = (mode_t)d->snap[i].type << 12;
		if (plus)
			len = fuse_add_direntry_plus(req, buf + used, room, d->snap[i].name, &e,
						     (off_t)i + 1);
		else
			len = fuse_add_direntry(req, buf + used, room, d->snap[i].name, &e.attr,
						(off_t)i + 1);
		if (len > room)
			break;
		used += len;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

/*
 * A directory whose names changed since the last flush, with a complete
 * listing: the store must list every name the mount made in it. One it
 * lacks was lost (a path failure rolled it back while the store still
 * lists); the listing then comes from the overlay, rebuilt from the queue.
 */
static bool listing_lost_names(struct lb_fs *fs, struct lb_dir *d)
{
	struct dirent *de;
	ssize_t want, seen = 0;
	bool failed;
	DIR *dp;
	int dfd;

	pthread_mutex_lock(&fs->inodes_lock);
	want = dirset_count_locked(d->inode);
	pthread_mutex_unlock(&fs->inodes_lock);
	if (want <= 0)
		return false;
	dfd = dir_open(fs, d->inode);	/* its own: d->dp stays where it is */
	dp = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!dp) {
		if (dfd >= 0)
			close(dfd);
		return false;
	}
	for (errno = 0; (de = readdir(dp)); errno = 0) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		pthread_mutex_lock(&fs->inodes_lock);
		seen += !dirset_knows_absent_locked(d->inode, de->d_name);
		pthread_mutex_unlock(&fs->inodes_lock);
	}
	failed = errno != 0;
	closedir(dp);
	return !failed && seen < want;
}

/*
 * Whether the store lost a name the mount made in the directory of @d:
 * only one whose names changed since the last flush can have been
 * rolled back.
 */
static bool listing_lost(struct lb_fs *fs, struct lb_dir *d)
{
	if (fs->state != LB_HEALTHY || !queue_holds_inode(fs, d->inode))
		return false;
	return listing_lost_names(fs, d) || flush_names_lost_in(fs, d->inode);
}

void lb_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_inode *inode = inode_of(fs, ino);
	struct lb_dir *d;
	int dfd, r;

	d = calloc(1, sizeof(*d));
	if (!d)
		return (void)fuse_reply_err(req, ENOMEM);
	d->inode = inode;
	dfd = dir_open(fs, inode);
	if (dfd < 0 && is_path_failure(fs, dfd)) {
		/* Listed from the overlay, or once the store answers. */
		if (!inode->virt)
			absorb_begin(fs, dfd);
		goto reply;
	}
	if (dfd < 0) {
		log_debug("opendir %p: %d", (void *)inode, dfd);
		free(d);
		return (void)fuse_reply_err(req, -dfd);
	}
	d->dp = fdopendir(dfd);
	if (!d->dp) {
		r = errno;
		close(dfd);
		free(d);
		return (void)fuse_reply_err(req, r);
	}
reply:
	fi->fh = (uintptr_t)d;
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	if (fuse_reply_open(req, fi) == -ENOENT)
		dir_free(d);
}

/* The lookups a readdirplus batch made: undone if the batch is not sent. */
struct batch_lookups {
	fuse_ino_t *inos;
	size_t n, cap;
};

static void lookups_note(struct batch_lookups *l, fuse_ino_t ino)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		fuse_ino_t *grown = realloc(l->inos, cap * sizeof(*grown));

		if (!grown)
			return;	/* leaves a lookup count high: the inode stays cached */
		l->inos = grown;
		l->cap = cap;
	}
	l->inos[l->n++] = ino;
}

static void lookups_undo(struct lb_fs *fs, struct batch_lookups *l)
{
	for (size_t i = 0; i < l->n; i++)
		inode_forget(fs, inode_of(fs, l->inos[i]), 1);
	l->n = 0;
}

/* Adds one entry; returns its size, or 0 when the buffer is full. */
static size_t add_entry(fuse_req_t req, struct lb_dir *d, int plus, char *buf, size_t room,
			off_t next, struct batch_lookups *looked, int *ret_err)
{
	struct lb_fs *fs = fs_of(req);
	struct dirent *de = d->entry;
	struct fuse_entry_param e;
	const char *n = de->d_name;
	size_t len;

	memset(&e, 0, sizeof(e));
	e.attr.st_ino = de->d_ino;
	e.attr.st_mode = (mode_t)de->d_type << 12;
	if (!plus) {
		len = fuse_add_direntry(req, buf, room, n, &e.attr, next);
		return len <= room ? len : 0;
	}

	/* "." and ".." go without a lookup: the kernel does not instantiate them. */
	if (strcmp(n, ".") != 0 && strcmp(n, "..") != 0) {
		int r = inode_lookup_child(fs, d->inode, dirfd(d->dp), n, &e);

		if (r == -ENOENT)
			return (size_t)-1;	/* vanished meanwhile: skip it */
		if (r < 0) {
			*ret_err = -r;	/* never drop a name for an error: stop here */
			return 0;
		}
	}
	len = fuse_add_direntry_plus(req, buf, room, n, &e, next);
	if (len > room) {
		if (e.ino)
			inode_forget(fs, inode_of(fs, e.ino), 1);
		return 0;
	}
	if (e.ino)
		lookups_note(looked, e.ino);
	return len;
}

static void do_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi,
		       int plus)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_dir *d = dir_of(fi);
	struct batch_lookups looked = { 0 };
	uint64_t epoch;
	size_t used = 0, len;
	char *buf;
	int err = 0;

	/* Healthy again: a new listing comes from the store itself. */
	if (fs->state == LB_HEALTHY && d->dp && d->snap && off == 0)
		snap_free(d);
	while (d->snap || !d->dp || fs->state != LB_HEALTHY) {
		if (!d->snap || off == 0) {
			err = snap_build(fs, d);
			if (err == -EAGAIN) {
				err = hold_wait(fs);
				if (err == 0 && !d->dp && !d->inode->virt) {
					int dfd = dir_open(fs, d->inode);

					d->dp = dfd >= 0 ? fdopendir(dfd) : NULL;
				}
				if (err == 0)
					continue;
			}
			if (err < 0) {
				log_debug("readdir of the overlay %p: %d", (void *)d->inode, err);
				return (void)fuse_reply_err(req, -err);
			}
		}
		return snap_reply(req, d, size, off, plus);
	}

	epoch = absorb_epoch(fs);
	buf = malloc(size);
	if (!buf)
		return (void)fuse_reply_err(req, ENOMEM);
	if (off != d->offset) {
		seekdir(d->dp, off);
		d->entry = NULL;
		d->offset = off;
	}
	for (;;) {
		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				err = errno;
				break;
			}
		}
		len = add_entry(req, d, plus, buf + used, size - used, d->entry->d_off, &looked,
				&err);
		if (len == 0)
			break;
		if (len != (size_t)-1)
			used += len;
		d->offset = d->entry->d_off;
		d->entry = NULL;
	}
	if (err && used == 0 && is_path_failure(fs, err)) {
		/* The store stopped answering: list from the overlay, or wait. */
		free(buf);
		free(looked.inos);
		absorb_begin(fs, err);
		return do_readdir(req, size, off, fi, plus);
	}
	/*
	 * Checked after the read, as a rollback the queue has not seen yet
	 * may have taken names just before it, or absorbing may have begun
	 * meanwhile: the first batch then comes from the overlay. A later one
	 * can only start absorbing, as its offsets are the store's.
	 */
	if (used > 0 && (absorb_began_since(fs, epoch) || listing_lost(fs, d))) {
		absorb_begin(fs, -ESTALE);	/* a no-op if it began meanwhile */
		if (off == 0) {
			lookups_undo(fs, &looked);
			free(looked.inos);
			free(buf);
			return do_readdir(req, size, off, fi, plus);
		}
	}
	free(looked.inos);
	if (err && used == 0) {
		log_debug("readdir %p: %d", (void *)d->inode, err);
		fuse_reply_err(req, err);
	} else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

void lb_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, size, off, fi, 0);
}

void lb_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	do_readdir(req, size, off, fi, 1);
}

void lb_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lb_dir *d = dir_of(fi);

	if (!stall_free_later(fs_of(req), dir_free, d))
		dir_free(d);
	fuse_reply_err(req, 0);
}

void lb_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_dir *d = dir_of(fi);
	int r = 0;

	/* While absorbing the journal already holds every name change. */
	if (fs->state == LB_HEALTHY && d->dp) {
		int fd = dirfd(d->dp);

		r = (datasync ? fdatasync(fd) : fsync(fd)) < 0 ? -errno : 0;
		if (r < 0 && is_path_failure(fs, r)) {
			absorb_begin(fs, r);
			r = 0;
		}
	}
	fuse_reply_err(req, -r);
}
