// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * inode.c - the inode table: one lb_inode per backing (st_dev, st_ino).
 *
 * The kernel's node id is the lb_inode pointer. Hard links of one backing
 * inode share one node id, so attributes seen through one link are never
 * stale through another. The table holds a kernel lookup count per inode and
 * frees the inode at the last forget.
 *
 * The open-file limit here is 20,000 and the kernel may keep far more inodes
 * referenced, so an inode does not own an fd for life: it owns a file handle
 * (name_to_handle_at) and borrows an O_PATH fd from a bounded LRU cache,
 * reopened with open_by_handle_at when evicted. Stores without file handles
 * (or inodes on another device below the store) keep their fd pinned.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "inode: "
#include "lifeboat/log.h"
#include "lifeboatfs.h"

#define INODE_BUCKETS_MIN 1024

static size_t inode_hash(dev_t dev, ino_t ino, size_t nbuckets)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)dev * 0xc2b2ae3d27d4eb4fULL;

	return (h ^ (h >> 29)) & (nbuckets - 1);
}

static void lru_unlink(struct lb_inode *inode)
{
	if (!inode->lru_next)
		return;
	inode->lru_prev->lru_next = inode->lru_next;
	inode->lru_next->lru_prev = inode->lru_prev;
	inode->lru_next = inode->lru_prev = NULL;
}

static void lru_push(struct lb_fs *fs, struct lb_inode *inode)
{
	inode->lru_next = fs->lru.lru_next;
	inode->lru_prev = &fs->lru;
	fs->lru.lru_next->lru_prev = inode;
	fs->lru.lru_next = inode;
}

/* Closes the least recently used unpinned fds until the cache fits. */
static void lru_evict(struct lb_fs *fs)
{
	while (fs->open_fds > fs->opt.max_fds && fs->lru.lru_prev != &fs->lru) {
		struct lb_inode *victim = fs->lru.lru_prev;

		lru_unlink(victim);
		close(victim->fd);
		victim->fd = -1;
		fs->open_fds--;
	}
}

static struct lb_inode *table_find(struct lb_fs *fs, dev_t dev, ino_t ino)
{
	struct lb_inode *i;

	if (dev == fs->root.dev && ino == fs->root.ino)
		return &fs->root;
	for (i = fs->buckets[inode_hash(dev, ino, fs->nbuckets)]; i; i = i->hash_next)
		if (i->ino == ino && i->dev == dev)
			return i;
	return NULL;
}

static void table_grow(struct lb_fs *fs)
{
	size_t n = fs->nbuckets * 2;
	struct lb_inode **b = calloc(n, sizeof(*b));

	if (!b)
		return;	/* longer chains, still correct */
	for (size_t k = 0; k < fs->nbuckets; k++) {
		struct lb_inode *i = fs->buckets[k], *next;

		for (; i; i = next) {
			size_t h = inode_hash(i->dev, i->ino, n);

			next = i->hash_next;
			i->hash_next = b[h];
			b[h] = i;
		}
	}
	free(fs->buckets);
	fs->buckets = b;
	fs->nbuckets = n;
}

static void table_insert(struct lb_fs *fs, struct lb_inode *inode)
{
	size_t h;

	if (fs->ninodes >= fs->nbuckets * 2)
		table_grow(fs);
	h = inode_hash(inode->dev, inode->ino, fs->nbuckets);
	inode->hash_next = fs->buckets[h];
	fs->buckets[h] = inode;
	fs->ninodes++;
}

static void table_remove(struct lb_fs *fs, struct lb_inode *inode)
{
	struct lb_inode **p = &fs->buckets[inode_hash(inode->dev, inode->ino, fs->nbuckets)];

	while (*p != inode)
		p = &(*p)->hash_next;
	*p = inode->hash_next;
	fs->ninodes--;
}

static struct file_handle *handle_of_fd(int fd)
{
	struct file_handle *h = malloc(sizeof(*h) + MAX_HANDLE_SZ);
	int mount_id;

	if (!h)
		return NULL;
	h->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", h, &mount_id, AT_EMPTY_PATH) < 0) {
		free(h);
		return NULL;
	}
	return h;
}

int inode_table_init(struct lb_fs *fs)
{
	struct file_handle *h;
	struct stat st;
	int fd;

	fs->nbuckets = INODE_BUCKETS_MIN;
	fs->buckets = calloc(fs->nbuckets, sizeof(*fs->buckets));
	if (!fs->buckets)
		return -ENOMEM;
	fs->lru.lru_next = fs->lru.lru_prev = &fs->lru;
	pthread_mutex_init(&fs->inodes_lock, NULL);

	fs->root.fd = open(fs->opt.store, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs->root.fd < 0)
		return log_error_errno(-errno, "cannot open store '%s'", fs->opt.store);
	if (fstat(fs->root.fd, &st) < 0)
		return log_error_errno(-errno, "cannot stat store '%s'", fs->opt.store);
	fs->root.dev = st.st_dev;
	fs->root.ino = st.st_ino;
	fs->root.mode = st.st_mode;
	fs->root.nlookup = 1;
	fs->root.pinned = true;
	/* open_by_handle_at(2) refuses an O_PATH mount fd. */
	fs->mount_fd = open(fs->opt.store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs->mount_fd < 0)
		return log_error_errno(-errno, "cannot open store '%s'", fs->opt.store);

	/* File handles must round-trip on this store, or every fd stays open. */
	h = handle_of_fd(fs->root.fd);
	if (h) {
		fd = open_by_handle_at(fs->mount_fd, h, O_PATH | O_CLOEXEC);
		fs->use_handles = fd >= 0;
		if (fd >= 0)
			close(fd);
		free(h);
	}
	if (!fs->use_handles)
		log_notice("store '%s' has no usable file handles: keeping one fd per inode",
			   fs->opt.store);
	return 0;
}

void inode_table_free(struct lb_fs *fs)
{
	for (size_t k = 0; k < fs->nbuckets; k++) {
		struct lb_inode *i = fs->buckets[k], *next;

		for (; i; i = next) {
			next = i->hash_next;
			if (i->fd >= 0)
				close(i->fd);
			free(i->handle);
			free(i);
		}
	}
	free(fs->buckets);
	fs->buckets = NULL;
	if (fs->root.fd >= 0)
		close(fs->root.fd);
	if (fs->mount_fd >= 0)
		close(fs->mount_fd);
}

struct lb_inode *inode_of(struct lb_fs *fs, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &fs->root;
	return (struct lb_inode *)(uintptr_t)ino;
}

void inode_note_mode(struct lb_inode *inode, mode_t mode)
{
	inode->mode = mode;
}

/*
 * Returns an O_PATH fd for @inode, pinned until inode_fd_put(). Reopens it
 * from the file handle when the cache evicted it.
 */
int inode_fd_get(struct lb_fs *fs, struct lb_inode *inode)
{
	int fd;

	if (inode->pinned)
		return inode->fd;

	pthread_mutex_lock(&fs->inodes_lock);
	if (inode->fd >= 0) {
		inode->fd_users++;
		lru_unlink(inode);
		pthread_mutex_unlock(&fs->inodes_lock);
		return inode->fd;
	}
	pthread_mutex_unlock(&fs->inodes_lock);

	fd = open_by_handle_at(fs->mount_fd, inode->handle, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;

	pthread_mutex_lock(&fs->inodes_lock);
	if (inode->fd >= 0) {
		/* Another thread reopened it meanwhile: use theirs. */
		close(fd);
		lru_unlink(inode);
	} else {
		inode->fd = fd;
		fs->open_fds++;
	}
	inode->fd_users++;
	pthread_mutex_unlock(&fs->inodes_lock);
	return inode->fd;
}

void inode_fd_put(struct lb_fs *fs, struct lb_inode *inode)
{
	if (inode->pinned)
		return;
	pthread_mutex_lock(&fs->inodes_lock);
	if (--inode->fd_users == 0) {
		lru_push(fs, inode);
		lru_evict(fs);
	}
	pthread_mutex_unlock(&fs->inodes_lock);
}

static struct lb_inode *inode_new(struct lb_fs *fs, int fd, const struct stat *st)
{
	struct lb_inode *inode = calloc(1, sizeof(*inode));

	if (!inode)
		return NULL;
	inode->dev = st->st_dev;
	inode->ino = st->st_ino;
	inode->mode = st->st_mode;
	inode->fd = fd;
	if (fs->use_handles && st->st_dev == fs->root.dev)
		inode->handle = handle_of_fd(fd);
	inode->pinned = !inode->handle;
	return inode;
}

/*
 * Takes ownership of @fd (an O_PATH fd of the object @st describes) and
 * returns its inode with one more kernel lookup.
 */
int inode_from_fd(struct lb_fs *fs, int fd, const struct stat *st, struct lb_inode **ret)
{
	struct lb_inode *inode, *fresh;

	pthread_mutex_lock(&fs->inodes_lock);
	inode = table_find(fs, st->st_dev, st->st_ino);
	if (inode) {
		inode->nlookup++;
		pthread_mutex_unlock(&fs->inodes_lock);
		close(fd);
		inode->mode = st->st_mode;
		*ret = inode;
		return 0;
	}
	pthread_mutex_unlock(&fs->inodes_lock);

	fresh = inode_new(fs, fd, st);
	if (!fresh) {
		close(fd);
		return -ENOMEM;
	}

	pthread_mutex_lock(&fs->inodes_lock);
	inode = table_find(fs, st->st_dev, st->st_ino);
	if (inode) {
		/* Lost a race with another lookup of the same object. */
		inode->nlookup++;
		pthread_mutex_unlock(&fs->inodes_lock);
		close(fd);
		free(fresh->handle);
		free(fresh);
		*ret = inode;
		return 0;
	}
	fresh->nlookup = 1;
	fresh->generation = ++fs->next_generation;
	table_insert(fs, fresh);
	if (!fresh->pinned) {
		fs->open_fds++;
		lru_push(fs, fresh);
		lru_evict(fs);
	}
	pthread_mutex_unlock(&fs->inodes_lock);
	*ret = fresh;
	return 0;
}

/*
 * Looks up @name in @parent and fills @ret_e for a kernel entry reply.
 * One fstatat(2) when the object is already known, else open + fstat.
 */
int inode_lookup_child(struct lb_fs *fs, struct lb_inode *parent, int parent_fd,
		       const char *name, struct fuse_entry_param *ret_e)
{
	struct lb_inode *inode;
	struct stat st;
	int fd, r;

	if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;

	pthread_mutex_lock(&fs->inodes_lock);
	inode = table_find(fs, st.st_dev, st.st_ino);
	if (inode)
		inode->nlookup++;
	pthread_mutex_unlock(&fs->inodes_lock);

	if (!inode) {
		fd = openat(parent_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (fstat(fd, &st) < 0) {
			r = -errno;
			close(fd);
			return r;
		}
		r = inode_from_fd(fs, fd, &st, &inode);
		if (r < 0)
			return r;
	}
	inode->mode = st.st_mode;

	memset(ret_e, 0, sizeof(*ret_e));
	ret_e->ino = (uintptr_t)inode;
	ret_e->generation = inode->generation;
	ret_e->attr = st;
	entry_fill_timeouts(fs, ret_e);
	return 0;
}

void inode_forget(struct lb_fs *fs, struct lb_inode *inode, uint64_t nlookup)
{
	if (inode == &fs->root)
		return;

	pthread_mutex_lock(&fs->inodes_lock);
	if (nlookup > inode->nlookup)
		nlookup = inode->nlookup;	/* kernel bug guard: never underflow */
	inode->nlookup -= nlookup;
	if (inode->nlookup > 0) {
		pthread_mutex_unlock(&fs->inodes_lock);
		return;
	}
	table_remove(fs, inode);
	lru_unlink(inode);
	if (inode->fd >= 0 && !inode->pinned)
		fs->open_fds--;
	pthread_mutex_unlock(&fs->inodes_lock);

	if (inode->fd >= 0)
		close(inode->fd);
	free(inode->handle);
	free(inode);
}
