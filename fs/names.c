// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * names.c - the names the mount knows: (parent, name) -> inode.
 *
 * Journal records name objects by path, so every inode needs a path, and a
 * hard-linked one keeps all its known names: when the first goes, the next
 * one is its path. Names are learnt from lookups and creations and follow
 * every rename and unlink that goes through the mount. A name holds a ref
 * on its parent, so a path never dangles. Everything here runs under
 * fs->inodes_lock.
 */
#include <stdlib.h>
#include <string.h>

#include "lifeboatfs.h"

#define NAMES_BUCKETS_MIN 1024
#define NAMES_PER_INODE_MAX 16	/* hard links beyond this are not followed */

struct lb_name {
	struct lb_name *hash_next;	/* in fs->name_buckets */
	struct lb_name *inode_next;	/* in inode->names; the first is the path */
	struct lb_inode *inode;
	struct lb_inode *parent;	/* holds a ref */
	size_t hash;
	char name[];
};

static size_t name_hash(const struct lb_inode *parent, const char *name)
{
	size_t h = (size_t)(uintptr_t)parent * 0x9e3779b97f4a7c15ULL;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3ULL;
	return h ^ (h >> 31);
}

int names_init(struct lb_fs *fs)
{
	fs->name_nbuckets = NAMES_BUCKETS_MIN;
	fs->name_buckets = calloc(fs->name_nbuckets, sizeof(*fs->name_buckets));
	return fs->name_buckets ? 0 : -1;
}

void names_free(struct lb_fs *fs)
{
	for (size_t k = 0; k < fs->name_nbuckets; k++) {
		struct lb_name *n = fs->name_buckets[k], *next;

		for (; n; n = next) {
			next = n->hash_next;
			free(n);
		}
	}
	free(fs->name_buckets);
	fs->name_buckets = NULL;
}

static void names_grow(struct lb_fs *fs)
{
	size_t nb = fs->name_nbuckets * 2;
	struct lb_name **b = calloc(nb, sizeof(*b));

	if (!b)
		return;	/* longer chains, still correct */
	for (size_t k = 0; k < fs->name_nbuckets; k++) {
		struct lb_name *n = fs->name_buckets[k], *next;

		for (; n; n = next) {
			next = n->hash_next;
			n->hash_next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(fs->name_buckets);
	fs->name_buckets = b;
	fs->name_nbuckets = nb;
}

static struct lb_name **bucket_of(struct lb_fs *fs, size_t hash)
{
	return &fs->name_buckets[hash & (fs->name_nbuckets - 1)];
}

struct lb_inode *names_find_locked(struct lb_fs *fs, struct lb_inode *parent, const char *name)
{
	size_t h = name_hash(parent, name);

	for (struct lb_name *n = *bucket_of(fs, h); n; n = n->hash_next)
		if (n->hash == h && n->parent == parent && strcmp(n->name, name) == 0)
			return n->inode;
	return NULL;
}

/* Unlinks @victim from both lists and frees it; returns its parent (ref dropped). */
static struct lb_inode *name_free(struct lb_fs *fs, struct lb_name *victim)
{
	struct lb_name **p = bucket_of(fs, victim->hash);
	struct lb_inode *parent = victim->parent;

	while (*p != victim)
		p = &(*p)->hash_next;
	*p = victim->hash_next;
	for (p = &victim->inode->names; *p != victim; p = &(*p)->inode_next)
		;
	*p = victim->inode_next;
	fs->nnames--;
	parent->refs--;
	free(victim);
	return parent;
}

void dirset_add_locked(struct lb_inode *dir, const char *name);

/* Forgets @name in @parent, whoever has it; returns the parent, or NULL. */
struct lb_inode *names_remove_locked(struct lb_fs *fs, struct lb_inode *parent, const char *name)
{
	size_t h = name_hash(parent, name);

	for (struct lb_name *n = *bucket_of(fs, h); n; n = n->hash_next)
		if (n->hash == h && n->parent == parent && strcmp(n->name, name) == 0)
			return name_free(fs, n);
	return NULL;
}

static size_t names_count(const struct lb_inode *inode)
{
	size_t c = 0;

	for (const struct lb_name *n = inode->names; n; n = n->inode_next)
		c++;
	return c;
}

/* Binds @name in @parent to @inode; a previous holder of the name loses it. */
void names_add_locked(struct lb_fs *fs, struct lb_inode *inode, struct lb_inode *parent,
		      const char *name)
{
	size_t h = name_hash(parent, name), len = strlen(name);
	struct lb_name *n, **tail;

	if (!parent)
		return;
	names_absent_del_locked(parent, name);
	dirset_add_locked(parent, name);
	if (names_find_locked(fs, parent, name) == inode)
		return;
	(void)names_remove_locked(fs, parent, name);	/* parent keeps other refs */
	if (names_count(inode) >= NAMES_PER_INODE_MAX)
		return;
	n = malloc(sizeof(*n) + len + 1);
	if (!n)
		return;	/* path unknown: the mutation then waits for the store */
	memcpy(n->name, name, len + 1);
	n->hash = h;
	n->inode = inode;
	n->parent = parent;
	n->inode_next = NULL;
	inode_revive_locked(fs, parent);
	parent->refs++;
	for (tail = &inode->names; *tail; tail = &(*tail)->inode_next)
		;
	*tail = n;
	if (fs->nnames >= fs->name_nbuckets * 2)
		names_grow(fs);
	n->hash_next = *bucket_of(fs, h);
	*bucket_of(fs, h) = n;
	fs->nnames++;
}

/* Drops every name of @inode; calls @parent_fn on each parent afterwards. */
void names_drop_inode_locked(struct lb_fs *fs, struct lb_inode *inode,
			     void (*parent_fn)(struct lb_fs *fs, struct lb_inode *parent))
{
	while (inode->names)
		parent_fn(fs, name_free(fs, inode->names));
}

/* The first name of @inode: its parent and name, or false when it has none. */
bool names_primary_locked(const struct lb_inode *inode, struct lb_inode **ret_parent,
			  const char **ret_name)
{
	if (!inode->names)
		return false;
	*ret_parent = inode->names->parent;
	*ret_name = inode->names->name;
	return true;
}

void dirset_del_locked(struct lb_inode *dir, const char *name);

/*
 * Names known to be absent from a directory: the store said ENOENT, or an
 * unlink or rename through the mount removed them. While absorbing they
 * answer lookups the store cannot (sqlite creates its -journal again and
 * again under a name it just unlinked). A bounded list per directory, most
 * recent first.
 */
#define ABSENT_PER_DIR_MAX 64

struct lb_absent {
	struct lb_absent *next;
	char name[];
};

static bool absent_unlink(struct lb_inode *dir, const char *name)
{
	for (struct lb_absent **p = &dir->absent; *p; p = &(*p)->next) {
		if (strcmp((*p)->name, name) == 0) {
			struct lb_absent *a = *p;

			*p = a->next;
			free(a);
			dir->nabsent--;
			return true;
		}
	}
	return false;
}

void names_absent_add_locked(struct lb_inode *dir, const char *name)
{
	size_t len = strlen(name);
	struct lb_absent *a;

	dirset_del_locked(dir, name);
	(void)absent_unlink(dir, name);
	if (dir->nabsent >= ABSENT_PER_DIR_MAX) {
		struct lb_absent **p = &dir->absent;

		while ((*p)->next)
			p = &(*p)->next;
		free(*p);	/* the oldest goes */
		*p = NULL;
		dir->nabsent--;
	}
	a = malloc(sizeof(*a) + len + 1);
	if (!a)
		return;
	memcpy(a->name, name, len + 1);
	a->next = dir->absent;
	dir->absent = a;
	dir->nabsent++;
}

void names_absent_del_locked(struct lb_inode *dir, const char *name)
{
	(void)absent_unlink(dir, name);
}

bool names_absent_has_locked(struct lb_inode *dir, const char *name)
{
	for (struct lb_absent *a = dir->absent; a; a = a->next)
		if (strcmp(a->name, name) == 0)
			return true;
	return false;
}

void names_absent_free_locked(struct lb_inode *dir)
{
	while (dir->absent) {
		struct lb_absent *a = dir->absent;

		dir->absent = a->next;
		free(a);
	}
	dir->nabsent = 0;
}

/*
 * Complete listings: a directory made through the mount starts empty and
 * every change to it comes through the mount, so the mount knows all of
 * its names. While absorbing, a lookup of any other name in it is ENOENT
 * without asking the store (an application creating new files needs that:
 * the kernel looks every new name up first).
 */
struct lb_dirset {
	size_t nbuckets;
	size_t count;
	struct lb_dirent_name **buckets;
};

struct lb_dirent_name {
	struct lb_dirent_name *next;
	char name[];
};

static size_t str_hash(const char *s)
{
	size_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

void dirset_init_locked(struct lb_inode *dir)
{
	struct lb_dirset *set = calloc(1, sizeof(*set));

	if (!set)
		return;	/* not complete: lookups ask the store */
	set->nbuckets = 16;
	set->buckets = calloc(set->nbuckets, sizeof(*set->buckets));
	if (!set->buckets) {
		free(set);
		return;
	}
	dir->dirset = set;
}

void dirset_free_locked(struct lb_inode *dir)
{
	struct lb_dirset *set = dir->dirset;

	if (!set)
		return;
	for (size_t k = 0; k < set->nbuckets; k++)
		while (set->buckets[k]) {
			struct lb_dirent_name *n = set->buckets[k];

			set->buckets[k] = n->next;
			free(n);
		}
	free(set->buckets);
	free(set);
	dir->dirset = NULL;
}

static struct lb_dirent_name **dirset_slot(struct lb_dirset *set, const char *name)
{
	struct lb_dirent_name **p = &set->buckets[str_hash(name) & (set->nbuckets - 1)];

	while (*p && strcmp((*p)->name, name) != 0)
		p = &(*p)->next;
	return p;
}

static void dirset_grow(struct lb_dirset *set)
{
	size_t nb = set->nbuckets * 2;
	struct lb_dirent_name **b = calloc(nb, sizeof(*b));

	if (!b)
		return;
	for (size_t k = 0; k < set->nbuckets; k++)
		while (set->buckets[k]) {
			struct lb_dirent_name *n = set->buckets[k];

			set->buckets[k] = n->next;
			n->next = b[str_hash(n->name) & (nb - 1)];
			b[str_hash(n->name) & (nb - 1)] = n;
		}
	free(set->buckets);
	set->buckets = b;
	set->nbuckets = nb;
}

void dirset_add_locked(struct lb_inode *dir, const char *name)
{
	struct lb_dirset *set = dir->dirset;
	struct lb_dirent_name *n;
	size_t len;

	if (!set || *dirset_slot(set, name))
		return;
	len = strlen(name);
	n = malloc(sizeof(*n) + len + 1);
	if (!n) {
		dirset_free_locked(dir);	/* no longer complete */
		return;
	}
	memcpy(n->name, name, len + 1);
	if (set->count >= set->nbuckets * 2)
		dirset_grow(set);
	n->next = set->buckets[str_hash(name) & (set->nbuckets - 1)];
	set->buckets[str_hash(name) & (set->nbuckets - 1)] = n;
	set->count++;
}

void dirset_del_locked(struct lb_inode *dir, const char *name)
{
	struct lb_dirset *set = dir->dirset;
	struct lb_dirent_name **p, *n;

	if (!set)
		return;
	p = dirset_slot(set, name);
	n = *p;
	if (!n)
		return;
	*p = n->next;
	free(n);
	set->count--;
}

/* True when @dir's listing is complete and has no @name. */
bool dirset_knows_absent_locked(struct lb_inode *dir, const char *name)
{
	return dir->dirset && !*dirset_slot(dir->dirset, name);
}

/* Names in @dir's complete listing, or -1 when it is not complete. */
ssize_t dirset_count_locked(const struct lb_inode *dir)
{
	return dir->dirset ? (ssize_t)dir->dirset->count : -1;
}

/* 1 when @dir's listing is complete and empty, 0 when it has names, -1 unknown. */
int dirset_empty_locked(const struct lb_inode *dir)
{
	if (!dir->dirset)
		return -1;
	return dir->dirset->count == 0;
}
