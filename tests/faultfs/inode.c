// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * inode.c - faultfs's inode table: one struct per backing (st_dev, st_ino),
 * indexed by FUSE node id and by (dev, ino). Structs are never freed while
 * the fs runs, so a node id stays valid for lookups of "." from file handles;
 * the O_PATH fd is closed once the kernel forgets the inode and no undo
 * record pins it, and reopened from the backing file handle when needed.
 */
#define LOG_PREFIX "inode: "
#include "lifeboat/log.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultfs.h"

#define HANDLE_MAX 128

static int root_mount_id = -1;

static size_t inode_hash(const struct ff_fs *fs, dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)dev;

	return (size_t)(h ^ (h >> 29)) & (fs->n_buckets - 1);
}

/* Returns the backing handle of fd, or NULL if the store cannot make one. */
static struct file_handle *inode_make_handle(int fd)
{
	struct file_handle *fh;
	int mount_id;

	fh = malloc(sizeof(*fh) + HANDLE_MAX);
	if (!fh)
		return NULL;
	fh->handle_bytes = HANDLE_MAX;
	if (name_to_handle_at(fd, "", fh, &mount_id, AT_EMPTY_PATH) < 0 ||
	    (root_mount_id >= 0 && mount_id != root_mount_id)) {
		free(fh);
		return NULL;
	}
	if (root_mount_id < 0)
		root_mount_id = mount_id;
	return fh;
}

static bool handle_equal(const struct file_handle *a, const struct file_handle *b)
{
	return a && b && a->handle_type == b->handle_type && a->handle_bytes == b->handle_bytes &&
	       memcmp(a->f_handle, b->f_handle, a->handle_bytes) == 0;
}

static int table_grow(struct ff_fs *fs)
{
	struct ff_inode **ids;
	size_t cap = fs->cap_ids ? fs->cap_ids * 2 : 1024;

	ids = realloc(fs->by_id, cap * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	fs->by_id = ids;
	fs->cap_ids = cap;
	if (fs->n_ids < fs->n_buckets)
		return 0;
	/* Rehash at load factor 1. */
	struct ff_inode **nb = calloc(fs->n_buckets * 2, sizeof(*nb));
	if (!nb)
		return 0;	/* a longer chain is fine */
	free(fs->buckets);
	fs->buckets = nb;
	fs->n_buckets *= 2;
	for (size_t i = 0; i < fs->n_ids; i++) {
		struct ff_inode *in = fs->by_id[i];
		size_t b = inode_hash(fs, in->dev, in->ino);

		in->hnext = fs->buckets[b];
		fs->buckets[b] = in;
	}
	return 0;
}

/* Called with inodes_lock held. */
static struct ff_inode *inode_add(struct ff_fs *fs, int fd, const struct stat *st,
				  struct file_handle *fh)
{
	struct ff_inode *in;
	size_t b;

	if (fs->n_ids == fs->cap_ids && table_grow(fs) < 0)
		return NULL;
	in = calloc(1, sizeof(*in));
	if (!in)
		return NULL;
	in->nodeid = fs->n_ids + 1;
	in->dev = st->st_dev;
	in->ino = st->st_ino;
	in->type = st->st_mode & S_IFMT;
	in->fd = fd;
	in->handle = fh;
	pthread_mutex_init(&in->undo_lock, NULL);
	fs->by_id[fs->n_ids++] = in;
	b = inode_hash(fs, in->dev, in->ino);
	in->hnext = fs->buckets[b];
	fs->buckets[b] = in;
	return in;
}

int inode_table_init(struct ff_fs *fs, int root_fd)
{
	struct ff_inode *root;
	struct stat st;

	if (fstat(root_fd, &st) < 0)
		return -errno;
	pthread_mutex_init(&fs->inodes_lock, NULL);
	fs->n_buckets = 1024;
	fs->buckets = calloc(fs->n_buckets, sizeof(*fs->buckets));
	if (!fs->buckets)
		return -ENOMEM;
	root = inode_add(fs, root_fd, &st, inode_make_handle(root_fd));
	if (!root)
		return -ENOMEM;
	assert(root->nodeid == FUSE_ROOT_ID);
	root->nlookup = 1;	/* never forgotten */
	fs->root_fd = root_fd;
	return 0;
}

struct ff_inode *inode_get(struct ff_fs *fs, fuse_ino_t nodeid)
{
	struct ff_inode *in = NULL;

	pthread_mutex_lock(&fs->inodes_lock);
	if (nodeid >= 1 && nodeid <= fs->n_ids)
		in = fs->by_id[nodeid - 1];
	pthread_mutex_unlock(&fs->inodes_lock);
	return in;
}

static struct ff_inode *inode_find_locked(struct ff_fs *fs, dev_t dev, ino_t ino)
{
	struct ff_inode *in;

	for (in = fs->buckets[inode_hash(fs, dev, ino)]; in; in = in->hnext)
		if (in->dev == dev && in->ino == ino)
			return in;
	return NULL;
}

/*
 * Adds one lookup reference to the inode of fd (an O_PATH fd, consumed).
 * A forgotten inode whose (dev, ino) now names another file (its backing
 * handle differs, or the store has no handles) gets a new generation.
 */
int inode_from_fd(struct ff_fs *fs, int fd, const struct stat *st, struct ff_inode **ret)
{
	struct file_handle *fh = inode_make_handle(fd);
	struct ff_inode *in;

	pthread_mutex_lock(&fs->inodes_lock);
	in = inode_find_locked(fs, st->st_dev, st->st_ino);
	if (!in) {
		in = inode_add(fs, fd, st, fh);
		if (!in) {
			pthread_mutex_unlock(&fs->inodes_lock);
			close(fd);
			free(fh);
			return -ENOMEM;
		}
		fh = NULL;
		fd = -1;
	} else if (in->fd < 0) {
		if (!handle_equal(in->handle, fh))
			in->generation++;
		free(in->handle);
		in->handle = fh;
		in->type = st->st_mode & S_IFMT;
		in->fd = fd;
		fh = NULL;
		fd = -1;
	}
	in->nlookup++;
	pthread_mutex_unlock(&fs->inodes_lock);
	if (fd >= 0)
		close(fd);
	free(fh);
	*ret = in;
	return 0;
}

/* For lookups of "." from a file handle: reopens a forgotten inode. */
int inode_revive(struct ff_fs *fs, struct ff_inode *in)
{
	struct stat st;
	int fd, r = 0;

	pthread_mutex_lock(&fs->inodes_lock);
	if (in->fd >= 0)
		goto out;
	r = -ESTALE;
	if (!in->handle)
		goto out;
	fd = open_by_handle_at(fs->mount_fd, in->handle, O_PATH | O_CLOEXEC);
	if (fd < 0)
		goto out;
	if (fstat(fd, &st) < 0 || st.st_dev != in->dev || st.st_ino != in->ino) {
		close(fd);
		goto out;
	}
	in->fd = fd;
	r = 0;
out:
	if (r == 0)
		in->nlookup++;
	pthread_mutex_unlock(&fs->inodes_lock);
	return r;
}

static void inode_maybe_close(struct ff_inode *in)
{
	if (in->nlookup == 0 && in->pins == 0 && in->fd >= 0 && in->nodeid != FUSE_ROOT_ID) {
		close(in->fd);
		in->fd = -1;
	}
}

void inode_forget(struct ff_fs *fs, struct ff_inode *in, uint64_t n)
{
	pthread_mutex_lock(&fs->inodes_lock);
	in->nlookup = n > in->nlookup ? 0 : in->nlookup - n;
	inode_maybe_close(in);
	pthread_mutex_unlock(&fs->inodes_lock);
}

void inode_pin(struct ff_fs *fs, struct ff_inode *in)
{
	pthread_mutex_lock(&fs->inodes_lock);
	in->pins++;
	pthread_mutex_unlock(&fs->inodes_lock);
}

void inode_unpin(struct ff_fs *fs, struct ff_inode *in)
{
	pthread_mutex_lock(&fs->inodes_lock);
	assert(in->pins > 0);
	in->pins--;
	inode_maybe_close(in);
	pthread_mutex_unlock(&fs->inodes_lock);
}

/* The fd is stable while the kernel holds a lookup or an undo record a pin. */
int inode_fd(struct ff_fs *fs, struct ff_inode *in)
{
	int fd;

	pthread_mutex_lock(&fs->inodes_lock);
	fd = in->fd;
	pthread_mutex_unlock(&fs->inodes_lock);
	return fd;
}

void inode_proc_path(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* Opens the inode for I/O through its O_PATH fd; returns an fd or -errno. */
int inode_reopen(struct ff_inode *in, int flags)
{
	char path[64];
	int fd;

	inode_proc_path(in->fd, path, sizeof(path));
	fd = open(path, (flags & ~O_NOFOLLOW) | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}
