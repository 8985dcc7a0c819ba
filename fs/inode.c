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
 *
 * An inode lives while the kernel holds lookups on it or something of ours
 * holds a ref (a named child's parent pointer, an unflushed queue entry).
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
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

/*
 * Closing the last fd of a removed object frees it on the store (ext4
 * evicts and truncates it inside close(2)), which must not happen under
 * inodes_lock: every request takes it, and a FORGET right after an unlink
 * would hold up the GETATTR the kernel sends before the next removal. Fds
 * closed under the lock wait in their thread's list for inodes_unlock().
 */
#define DEFERRED_CLOSE_MAX 64

static __thread int deferred_fds[DEFERRED_CLOSE_MAX];
static __thread unsigned int ndeferred_fds;

static void close_deferred(int fd)
{
	if (ndeferred_fds == DEFERRED_CLOSE_MAX)
		close(fd);	/* a long chain of frees: not worth a bigger list */
	else
		deferred_fds[ndeferred_fds++] = fd;
}

/* Every unlock of inodes_lock in this file: then the deferred closes. */
static void inodes_unlock(struct lb_fs *fs)
{
	pthread_mutex_unlock(&fs->inodes_lock);
	while (ndeferred_fds)
		close(deferred_fds[--ndeferred_fds]);
}

/* Closes the least recently used unpinned fds until the cache fits. */
static void lru_evict(struct lb_fs *fs)
{
	while (fs->open_fds > fs->opt.max_fds && fs->lru.lru_prev != &fs->lru) {
		struct lb_inode *victim = fs->lru.lru_prev;

		lru_unlink(victim);
		close_deferred(victim->fd);
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

	inode->hashed = true;
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

	if (!inode->hashed)
		return;
	while (*p != inode)
		p = &(*p)->hash_next;
	*p = inode->hash_next;
	inode->hashed = false;
	fs->ninodes--;
}

static bool inode_unused(struct lb_fs *fs, struct lb_inode *inode)
{
	return inode != &fs->root && inode->nlookup == 0 && inode->refs == 0;
}

static void inode_free_locked(struct lb_fs *fs, struct lb_inode *inode);

static void retired_unlink(struct lb_fs *fs, struct lb_inode *inode)
{
	inode->retired_prev->retired_next = inode->retired_next;
	inode->retired_next->retired_prev = inode->retired_prev;
	inode->retired = false;
	fs->nretired--;
}

/*
 * After a recovery: a rolled-back object may have been made again with a
 * new number, and its old number may go to another object; forget them all.
 */
void inode_retired_drop_all(struct lb_fs *fs)
{
	pthread_mutex_lock(&fs->inodes_lock);
	while (fs->retired.retired_next != &fs->retired) {
		struct lb_inode *old = fs->retired.retired_next;

		retired_unlink(fs, old);
		inode_free_locked(fs, old);
	}
	inodes_unlock(fs);
}

/* Under inodes_lock: the kernel (or a name, or the queue) uses @inode again. */
void inode_revive_locked(struct lb_fs *fs, struct lb_inode *inode)
{
	if (inode->retired)
		retired_unlink(fs, inode);
}

/*
 * An object the kernel forgot keeps its inode, names and attributes for a
 * while (the oldest go first past name_cache): while the store is down a
 * lookup of its name is answered from them instead of waiting for the
 * store, which matters most for a checkpoint, which looks up every open
 * file by path. Only objects the store can find again by handle qualify.
 */
static bool inode_retire_locked(struct lb_fs *fs, struct lb_inode *inode)
{
	if (!fs->opt.name_cache || inode->pinned || inode->virt || !inode->hashed ||
	    !inode->names || !inode->handle)
		return false;
	inode->retired = true;
	inode->retired_prev = fs->retired.retired_prev;
	inode->retired_next = &fs->retired;
	fs->retired.retired_prev->retired_next = inode;
	fs->retired.retired_prev = inode;
	fs->nretired++;
	while (fs->nretired > fs->opt.name_cache) {
		struct lb_inode *old = fs->retired.retired_next;

		retired_unlink(fs, old);
		inode_free_locked(fs, old);
	}
	return true;
}

/* Frees @inode if unused, then its parents that this left unused. Under inodes_lock. */
static void inode_destroy_locked(struct lb_fs *fs, struct lb_inode *inode)
{
	if (!inode || !inode_unused(fs, inode) || inode->retired)
		return;
	if (!inode_retire_locked(fs, inode))
		inode_free_locked(fs, inode);
}

/* The last of an inode, once no abandoned thread can come back to it. */
static void inode_memory_free(void *arg)
{
	struct lb_inode *inode = arg;

	if (inode->fd >= 0)
		close(inode->fd);
	free(inode->handle);
	free(inode);
}

static void inode_free_locked(struct lb_fs *fs, struct lb_inode *inode)
{
	table_remove(fs, inode);
	lru_unlink(inode);
	if (inode->fd >= 0 && !inode->pinned)
		fs->open_fds--;
	assert(!inode->ov && !inode->files);
	names_absent_free_locked(inode);
	dirset_free_locked(inode);
	acl_cache_free_locked(inode);
	names_drop_inode_locked(fs, inode, inode_destroy_locked);
	if (stall_free_later(fs, inode_memory_free, inode))
		return;
	if (inode->fd >= 0)
		close_deferred(inode->fd);
	free(inode->handle);
	free(inode);
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
	fs->retired.retired_next = fs->retired.retired_prev = &fs->retired;
	pthread_mutex_init(&fs->inodes_lock, NULL);
	if (names_init(fs) < 0)
		return -ENOMEM;

	fs->root.fd = open(fs->opt.store, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs->root.fd < 0)
		return log_error_errno(-errno, "cannot open store '%s'", fs->opt.store);
	if (fstat(fs->root.fd, &st) < 0)
		return log_error_errno(-errno, "cannot stat store '%s'", fs->opt.store);
	fs->root.st = st;
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

#define ROOT_LISTING_MAX 100000

/*
 * At mount nothing else changes the store: the root's listing, read now
 * and then kept by every name operation, answers lookups of new names in
 * it while absorbing. A very large root is not kept.
 */
void inode_root_listing(struct lb_fs *fs)
{
	struct dirent *de;
	size_t n = 0;
	DIR *dp;
	int fd;

	fd = openat(fs->root.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	dp = fdopendir(fd);
	if (!dp) {
		close(fd);
		return;
	}
	pthread_mutex_lock(&fs->inodes_lock);
	dirset_init_locked(&fs->root);
	while (fs->root.dirset && (de = readdir(dp)) && n++ < ROOT_LISTING_MAX)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			dirset_add_locked(&fs->root, de->d_name);
	if (n >= ROOT_LISTING_MAX)
		dirset_free_locked(&fs->root);
	inodes_unlock(fs);
	closedir(dp);
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
	dirset_free_locked(&fs->root);
	names_free(fs);
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

/*
 * Returns an O_PATH fd for @inode, pinned until inode_fd_put(). Reopens it
 * from the file handle when the cache evicted it.
 */
int inode_fd_get(struct lb_fs *fs, struct lb_inode *inode)
{
	int fd;

	if (inode->virt)
		return -ESTALE;	/* not on the store until the journal is replayed */
	if (stall_gate_closed(fs))
		return -ETIMEDOUT;
	if (inode->pinned)
		return inode->fd;

	pthread_mutex_lock(&fs->inodes_lock);
	if (inode->fd >= 0) {
		inode->fd_users++;
		lru_unlink(inode);
		inodes_unlock(fs);
		return inode->fd;
	}
	inodes_unlock(fs);

	fd = open_by_handle_at(fs->mount_fd, inode->handle, O_PATH | O_CLOEXEC);
	if (fd < 0 && errno == ESTALE && inode_reresolve(fs, inode) == 0)
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
	inodes_unlock(fs);
	return inode->fd;
}

void inode_fd_put(struct lb_fs *fs, struct lb_inode *inode)
{
	if (inode->pinned || inode->virt)
		return;
	pthread_mutex_lock(&fs->inodes_lock);
	if (--inode->fd_users == 0) {
		lru_push(fs, inode);
		lru_evict(fs);
	}
	inodes_unlock(fs);
}

static struct lb_inode *inode_new(struct lb_fs *fs, int fd, const struct stat *st)
{
	struct lb_inode *inode = calloc(1, sizeof(*inode));

	if (!inode)
		return NULL;
	inode->dev = st->st_dev;
	inode->ino = st->st_ino;
	inode->mode = st->st_mode;
	inode->st = *st;
	inode->fd = fd;
	if (fs->use_handles && st->st_dev == fs->root.dev)
		inode->handle = handle_of_fd(fd);
	inode->pinned = !inode->handle;
	return inode;
}

/*
 * Takes ownership of @fd (an O_PATH fd of the object @st describes, named
 * @name in @parent) and returns its inode with one more kernel lookup.
 */
int inode_from_fd(struct lb_fs *fs, int fd, const struct stat *st, struct lb_inode *parent,
		  const char *name, struct lb_inode **ret)
{
	struct lb_inode *inode, *fresh;

	pthread_mutex_lock(&fs->inodes_lock);
	inode = table_find(fs, st->st_dev, st->st_ino);
	if (inode)
		goto found;
	inodes_unlock(fs);

	fresh = inode_new(fs, fd, st);
	if (!fresh) {
		close(fd);
		return -ENOMEM;
	}

	pthread_mutex_lock(&fs->inodes_lock);
	inode = table_find(fs, st->st_dev, st->st_ino);
	if (inode) {
		/* Lost a race with another lookup of the same object. */
		free(fresh->handle);
		free(fresh);
		goto found;
	}
	fresh->nlookup = 1;
	fresh->generation = ++fs->next_generation;
	if (parent && names_find_locked(fs, parent, name))
		log_debug("new inode %p ino %llu for '%s' in %p, bound to %p ino %llu", (void *)fresh,
			  (unsigned long long)st->st_ino, name, (void *)parent,
			  (void *)names_find_locked(fs, parent, name),
			  (unsigned long long)names_find_locked(fs, parent, name)->ino);
	table_insert(fs, fresh);
	if (parent)
		names_add_locked(fs, fresh, parent, name);
	if (!fresh->pinned) {
		fs->open_fds++;
		lru_push(fs, fresh);
		lru_evict(fs);
	}
	inodes_unlock(fs);
	*ret = fresh;
	return 0;

found:
	inode_revive_locked(fs, inode);
	inode->nlookup++;
	inode->st = *st;
	inode->mode = st->st_mode;
	if (parent)
		names_add_locked(fs, inode, parent, name);
	inodes_unlock(fs);
	close(fd);
	*ret = inode;
	return 0;
}

void entry_fill(struct lb_fs *fs, struct lb_inode *inode, const struct stat *st,
		struct fuse_entry_param *ret_e)
{
	memset(ret_e, 0, sizeof(*ret_e));
	ret_e->ino = (uintptr_t)inode;
	ret_e->generation = inode->generation;
	ret_e->attr = *st;
	entry_fill_timeouts(fs, ret_e);
}

/* Links and sizes change only through the mount, which keeps them: or by a rollback. */
static bool attrs_behind(const struct stat *known, const struct stat *st)
{
	return st->st_nlink == 0 || st->st_nlink < known->st_nlink ||
	       (S_ISREG(st->st_mode) && st->st_size < known->st_size);
}

/*
 * What the store shows of a known object through another name (a hard
 * link) or after the kernel forgot the dentry, when it looks behind the
 * cached attributes or is of another type: a rollback (-ESTALE) while the
 * queue holds the object, else (another type) a new object the store gave
 * a number the mount no longer uses, which @inode must not keep (NULL).
 * Takes and drops a ref of @inode's: the queue's lock goes before ours.
 */
static int lookup_check_known(struct lb_fs *fs, struct lb_inode **inode, const struct stat *st)
{
	bool other_type = ((*inode)->mode ^ st->st_mode) & S_IFMT;
	bool lost = other_type ? fs->state == LB_HEALTHY && queue_holds_inode(fs, *inode) :
				 inode_store_lost(fs, *inode, st);

	if (other_type && !lost)
		inode_unhash(fs, *inode);
	inode_unref(fs, *inode);
	if (lost)
		return -ESTALE;
	if (other_type)
		*inode = NULL;
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
	bool checked = false;
	struct stat st;
	int fd, r;

	if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;

	for (;;) {
		pthread_mutex_lock(&fs->inodes_lock);
		inode = table_find(fs, st.st_dev, st.st_ino);
		if (inode)
			inode_revive_locked(fs, inode);
		if (!inode || checked || (!((inode->mode ^ st.st_mode) & S_IFMT) &&
					  !attrs_behind(&inode->st, &st)))
			break;
		inode->refs++;
		inodes_unlock(fs);
		r = lookup_check_known(fs, &inode, &st);
		if (r < 0)
			return r;
		checked = true;	/* once: the next round takes what it finds */
	}
	if (inode) {
		inode->nlookup++;
		inode->st = st;
		inode->mode = st.st_mode;
		names_add_locked(fs, inode, parent, name);
	}
	inodes_unlock(fs);

	if (!inode) {
		fd = openat(parent_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (fstat(fd, &st) < 0) {
			r = -errno;
			close(fd);
			return r;
		}
		r = inode_from_fd(fs, fd, &st, parent, name, &inode);
		if (r < 0)
			return r;
	}
	entry_fill(fs, inode, &st, ret_e);
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
	inode_destroy_locked(fs, inode);
	inodes_unlock(fs);
}

void inode_add_lookup(struct lb_fs *fs, struct lb_inode *inode)
{
	pthread_mutex_lock(&fs->inodes_lock);
	inode_revive_locked(fs, inode);
	inode->nlookup++;
	inodes_unlock(fs);
}

void inode_ref(struct lb_fs *fs, struct lb_inode *inode)
{
	pthread_mutex_lock(&fs->inodes_lock);
	inode_revive_locked(fs, inode);
	inode->refs++;
	inodes_unlock(fs);
}

void inode_unref(struct lb_fs *fs, struct lb_inode *inode)
{
	pthread_mutex_lock(&fs->inodes_lock);
	inode->refs--;
	inode_destroy_locked(fs, inode);
	inodes_unlock(fs);
}

/*
 * The object of @inode may be gone from the store (its last name removed, or
 * a failure rolled it back): its inode number may name another object soon,
 * so lookups must no longer find @inode by it.
 */
void inode_unhash(struct lb_fs *fs, struct lb_inode *inode)
{
	if (inode == &fs->root)
		return;
	pthread_mutex_lock(&fs->inodes_lock);
	table_remove(fs, inode);
	if (inode->retired) {	/* nothing may find it any more: let it go */
		retired_unlink(fs, inode);
		inode_free_locked(fs, inode);
	}
	inodes_unlock(fs);
}

/* @name in @dir was removed (@absent) or made, through the mount. */
void inode_name_absent(struct lb_fs *fs, struct lb_inode *dir, const char *name, bool absent)
{
	pthread_mutex_lock(&fs->inodes_lock);
	if (absent) {
		names_absent_add_locked(dir, name);
		dirset_del_locked(dir, name);
	} else {
		names_absent_del_locked(dir, name);
		dirset_add_locked(dir, name);
	}
	inodes_unlock(fs);
}

/* @dir was made through the mount: it is empty and we will see every change. */
void inode_dir_complete(struct lb_fs *fs, struct lb_inode *dir)
{
	pthread_mutex_lock(&fs->inodes_lock);
	if (!dir->dirset)
		dirset_init_locked(dir);
	inodes_unlock(fs);
}

bool inode_name_known_absent(struct lb_fs *fs, struct lb_inode *dir, const char *name)
{
	bool r;

	pthread_mutex_lock(&fs->inodes_lock);
	r = names_absent_has_locked(dir, name) || dirset_knows_absent_locked(dir, name);
	inodes_unlock(fs);
	return r;
}

/* 1 empty, 0 not, -1 when only the store knows (see dirset_empty_locked()). */
int inode_dir_empty(struct lb_fs *fs, struct lb_inode *dir)
{
	int r;

	pthread_mutex_lock(&fs->inodes_lock);
	r = dirset_empty_locked(dir);
	inodes_unlock(fs);
	return r;
}

/* @inode got the new name @name in @dir (a hard link). */
void inode_add_link(struct lb_fs *fs, struct lb_inode *inode, struct lb_inode *dir,
		    const char *name)
{
	pthread_mutex_lock(&fs->inodes_lock);
	names_add_locked(fs, inode, dir, name);
	inodes_unlock(fs);
}

/* A rename moved @name in @parent (of @inode) to @newname in @newparent. */
void inode_move_link(struct lb_fs *fs, struct lb_inode *inode, struct lb_inode *parent,
		     const char *name, struct lb_inode *newparent, const char *newname)
{
	pthread_mutex_lock(&fs->inodes_lock);
	if (names_find_locked(fs, parent, name) == inode)
		(void)names_remove_locked(fs, parent, name);
	names_absent_add_locked(parent, name);
	names_add_locked(fs, inode, newparent, newname);
	inodes_unlock(fs);
}

/* @name in @parent is gone: forget it as a name of @inode. */
void inode_clear_link(struct lb_fs *fs, struct lb_inode *inode, struct lb_inode *parent,
		      const char *name)
{
	pthread_mutex_lock(&fs->inodes_lock);
	if (names_find_locked(fs, parent, name) == inode)
		inode_destroy_locked(fs, names_remove_locked(fs, parent, name));
	names_absent_add_locked(parent, name);
	inodes_unlock(fs);
}

/* The object known as @name in @dir, with a ref the caller drops; NULL if unknown. */
struct lb_inode *inode_child_get(struct lb_fs *fs, struct lb_inode *dir, const char *name)
{
	struct lb_inode *c;

	pthread_mutex_lock(&fs->inodes_lock);
	c = names_find_locked(fs, dir, name);
	if (c) {
		inode_revive_locked(fs, c);
		c->refs++;
	}
	inodes_unlock(fs);
	return c;
}

static int path_prepend(char *buf, size_t *pos, const char *name)
{
	size_t len = strlen(name);

	if (len + 1 > *pos)
		return -ENAMETOOLONG;
	*pos -= len;
	memcpy(buf + *pos, name, len);
	buf[--*pos] = '/';
	return 0;
}

/*
 * Writes the path of @inode (plus "/@name" when @name is not NULL) relative
 * to the store root into buf: "a/b". -ENOENT for an unlinked object (or one
 * whose path was never seen), -EINVAL for the root itself.
 */
int inode_path(struct lb_fs *fs, struct lb_inode *inode, const char *name, char *buf, size_t len)
{
	size_t pos = len;
	int r = 0;

	buf[--pos] = '\0';
	pthread_mutex_lock(&fs->inodes_lock);
	if (name)
		r = path_prepend(buf, &pos, name);
	while (r == 0 && inode != &fs->root) {
		const char *n;

		if (!names_primary_locked(inode, &inode, &n))
			r = -ENOENT;
		else
			r = path_prepend(buf, &pos, n);
	}
	inodes_unlock(fs);
	if (r < 0)
		return r;
	if (pos == len - 1)
		return -EINVAL;	/* the root has no name in the journal */
	memmove(buf, buf + pos + 1, len - pos - 1);
	return 0;
}

/* Whether a name the mount knows still leads to @inode (the root always has one). */
bool inode_named(struct lb_fs *fs, struct lb_inode *inode)
{
	char path[PATH_MAX];

	return inode_path(fs, inode, NULL, path, sizeof(path)) != -ENOENT;
}

/* Whether the mount knows @name in @dir as the name of an object. */
bool inode_name_bound(struct lb_fs *fs, struct lb_inode *dir, const char *name)
{
	bool r;

	pthread_mutex_lock(&fs->inodes_lock);
	r = names_find_locked(fs, dir, name) != NULL;
	inodes_unlock(fs);
	return r;
}

/*
 * A file larger on the store than the mount left it, with none of the
 * mount's mutations of it under way: a rollback undid a truncate.
 */
static bool size_ahead(struct lb_inode *inode, const struct stat *known, const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_size > known->st_size &&
	       atomic_load(&inode->mutating) == 0;
}

/*
 * The store shows an object the mount made or changed since the last flush
 * with no link although a name the mount never removed leads to it, with
 * fewer links, or shorter or longer than the mount's own writes left it:
 * the store lost what it had not made durable (a path failure rolled it back).
 * Objects the queue does not hold are durable and cannot have been rolled
 * back.
 */
bool inode_store_lost(struct lb_fs *fs, struct lb_inode *inode, const struct stat *st)
{
	struct stat known;

	inode_stat_get(fs, inode, &known);
	if (!attrs_behind(&known, st) && !size_ahead(inode, &known, st))
		return false;
	if (st->st_nlink == 0 && !inode_named(fs, inode))
		return false;	/* unlinked through the mount, still open */
	return fs->state == LB_HEALTHY && queue_holds_inode(fs, inode);
}

void inode_stat_get(struct lb_fs *fs, struct lb_inode *inode, struct stat *ret_st)
{
	pthread_mutex_lock(&fs->inodes_lock);
	*ret_st = inode->st;
	inodes_unlock(fs);
}

void inode_stat_set(struct lb_fs *fs, struct lb_inode *inode, const struct stat *st)
{
	pthread_mutex_lock(&fs->inodes_lock);
	inode->st = *st;
	inode->st_gen++;
	inodes_unlock(fs);
	inode->mode = st->st_mode;
}

/* No lock: every getattr asks, and inode_stat_set_since() compares under it. */
uint64_t inode_stat_gen(struct lb_inode *inode)
{
	return atomic_load(&inode->st_gen);
}

/*
 * What a getattr saw, unless a mutation changed the attributes since it
 * asked (@gen): its older answer would make the next one look lost.
 */
void inode_stat_set_since(struct lb_fs *fs, struct lb_inode *inode, const struct stat *st,
			  uint64_t gen)
{
	pthread_mutex_lock(&fs->inodes_lock);
	if (inode->st_gen == gen) {
		inode->st = *st;
		inode->st_gen++;
		inode->mode = st->st_mode;
	}
	inodes_unlock(fs);
}

/* A write ending at @end went to the store: keep the cached size right. */
void inode_note_size(struct lb_fs *fs, struct lb_inode *inode, uint64_t end, bool exact)
{
	pthread_mutex_lock(&fs->inodes_lock);
	if (exact || (uint64_t)inode->st.st_size < end)
		inode->st.st_size = (off_t)end;
	inode->st_gen++;
	inodes_unlock(fs);
}

/* The replay left the object as the overlay showed it: its size and links. */
void inode_note_replayed(struct lb_fs *fs, struct lb_inode *inode, const struct stat *attr)
{
	pthread_mutex_lock(&fs->inodes_lock);
	if (S_ISREG(attr->st_mode))
		inode->st.st_size = attr->st_size;
	inode->st.st_nlink = attr->st_nlink;
	inodes_unlock(fs);
}

/* An object created while absorbing: no store object, one kernel lookup. */
struct lb_inode *inode_new_virtual(struct lb_fs *fs, struct lb_inode *parent, const char *name,
				   const struct stat *st)
{
	struct lb_inode *inode = calloc(1, sizeof(*inode));

	if (!inode)
		return NULL;
	inode->fd = -1;
	inode->virt = true;
	inode->st = *st;
	inode->mode = st->st_mode;
	inode->dev = st->st_dev;
	inode->ino = st->st_ino;
	pthread_mutex_lock(&fs->inodes_lock);
	inode->generation = ++fs->next_generation;
	inode->nlookup = 1;
	names_add_locked(fs, inode, parent, name);
	inodes_unlock(fs);
	return inode;
}

/*
 * After replay the store has the object of an inode made while absorbing,
 * or made again for one the failure rolled back: give the inode that store
 * identity. Takes ownership of the O_PATH @fd. An fd the inode already had
 * is replaced in place (dup2) so that threads using it see the new object.
 */
void inode_realize(struct lb_fs *fs, struct lb_inode *inode, int fd, const struct stat *st)
{
	struct file_handle *h = NULL;

	if (fs->use_handles && st->st_dev == fs->root.dev)
		h = handle_of_fd(fd);
	pthread_mutex_lock(&fs->inodes_lock);
	table_remove(fs, inode);
	if (inode->fd >= 0) {
		(void)dup2(fd, inode->fd);
		close(fd);
	} else {
		inode->fd = fd;
		if (h) {
			fs->open_fds++;
			lru_push(fs, inode);
		}
	}
	if (!h && !inode->pinned) {
		/* no handle to reopen it by: the fd stays for good */
		lru_unlink(inode);
		fs->open_fds--;
	}
	free(inode->handle);
	inode->handle = h;
	inode->pinned = !h;
	inode->dev = st->st_dev;
	inode->ino = st->st_ino;
	inode->st = *st;
	inode->virt = false;
	if (!table_find(fs, st->st_dev, st->st_ino))
		table_insert(fs, inode);
	lru_evict(fs);
	inodes_unlock(fs);
	inode->mode = st->st_mode;
}

/*
 * A stale handle while the store answers: the object was removed and made
 * again under the same name (a path failure rolled it back, the replay made
 * it again). Finds it by its path and takes its new identity.
 */
int inode_reresolve(struct lb_fs *fs, struct lb_inode *inode)
{
	char path[PATH_MAX];
	struct stat st;
	int fd, r;

	if (fs->state != LB_HEALTHY || fstatat(fs->root.fd, "", &st, AT_EMPTY_PATH) < 0)
		return -ESTALE;	/* the path itself may be down: that is absorb's call */
	r = inode_path(fs, inode, NULL, path, sizeof(path));
	log_debug("reresolve %p: path '%s': %d", (void *)inode, r < 0 ? "" : path, r);
	if (r < 0)
		return r;
	fd = openat(fs->root.fd, path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || ((st.st_mode ^ inode->mode) & S_IFMT)) {
		close(fd);
		return -ESTALE;
	}
	inode_realize(fs, inode, fd, &st);
	file_reopen_all(fs, inode);
	return 0;
}

/* The magic link of @fd, which reaches the object itself, even an O_PATH one. */
void proc_fd_path(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/*
 * Opens the object of @inode with @flags: by its file handle, or through
 * the magic link of its pinned O_PATH fd. With @reresolve, a stale handle
 * of an object the store made again under its name is found by path.
 */
int inode_open(struct lb_fs *fs, struct lb_inode *inode, int flags, bool reresolve)
{
	char path[PROC_FD_PATH_MAX];
	int fd, pfd;

	if (stall_gate_closed(fs))
		return -ETIMEDOUT;
	if (inode->handle) {
		fd = open_by_handle_at(fs->mount_fd, inode->handle, flags);
		if (fd < 0 && errno == ESTALE && reresolve && inode_reresolve(fs, inode) == 0)
			fd = open_by_handle_at(fs->mount_fd, inode->handle, flags);
		return fd < 0 ? -errno : fd;
	}
	pfd = inode_fd_get(fs, inode);
	if (pfd < 0)
		return pfd;
	proc_fd_path(pfd, path, sizeof(path));
	fd = open(path, flags);
	fd = fd < 0 ? -errno : fd;
	inode_fd_put(fs, inode);
	return fd;
}

/* Open files of @inode, so a recovery can point them at a re-created object. */
void inode_file_add(struct lb_fs *fs, struct lb_inode *inode, struct lb_file *f)
{
	pthread_mutex_lock(&fs->inodes_lock);
	f->prev = NULL;
	f->next = inode->files;
	if (inode->files)
		inode->files->prev = f;
	inode->files = f;
	inodes_unlock(fs);
}

void inode_file_del(struct lb_fs *fs, struct lb_inode *inode, struct lb_file *f)
{
	pthread_mutex_lock(&fs->inodes_lock);
	if (f->prev)
		f->prev->next = f->next;
	else
		inode->files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	inodes_unlock(fs);
}
