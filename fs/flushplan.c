// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * flushplan.c - one flush of the unflushed queue on a store that is itself
 * a FUSE file system: fsync each object the queue touched, then check that
 * the store still holds what was synced.
 *
 * Why check: a path failure may roll back what the store had not made
 * durable while some calls still answer (a store whose writes fail but
 * whose fsync and lookups pass, a server that came back without its
 * cache). A sync that runs after such a rollback succeeds on what is left,
 * and trimming the queue then would lose acknowledged mutations for good.
 * So after the syncs every name the queue made must still lead to its
 * object, every object still named here must still be linked on the store,
 * and every file must still be as long as the queue made it and hold the
 * bytes of its newest queued write (a sample of them). Anything missing is
 * a path failure (ESTALE): the queue is not trimmed, it goes to the journal
 * and the replay makes it again.
 *
 * A mutation running meanwhile may change what is checked (an unlink whose
 * names are updated just after its store call, a write newer than the
 * flush): a finding is looked at again a few times and dropped when the
 * mount's own names or newer queue entries explain it. One that stays is a
 * loss; a wrong one would only cost an absorb and a replay, never data.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "flush: "
#include "lifeboat/log.h"
#include "lifeboatfs.h"

#define SAMPLE_MAX 64
#define RECHECKS 5
#define RECHECK_MS 2

struct flush_obj {
	struct lb_inode *inode;		/* with a ref */
	uint64_t min_size;		/* regular files: the queue left at least this size */
	bool size_known;		/* a queued truncate set the size: */
	uint64_t size;			/* then the queue left exactly this one */
	bool sample_valid;
	uint64_t sample_off;
	size_t sample_len;
	unsigned char sample[SAMPLE_MAX]; /* the first bytes of the newest queued write */
};

struct flush_name {
	struct lb_inode *dir;		/* with a ref */
	struct lb_inode *obj;		/* with a ref */
	char *name;
};

struct flush_plan {
	uint64_t upto;
	struct flush_obj *objs;
	size_t nobjs, capobjs;
	struct flush_name *names;
	size_t nnames, capnames;
};

static const char *base_name(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path;
}

/* A new empty object needs only its directory synced: it has no content. */
static bool changes_content(const struct journal_record *rec)
{
	switch (rec->type) {
	case JOURNAL_CREATE:
	case JOURNAL_MKNOD:
	case JOURNAL_MKDIR:
	case JOURNAL_SYMLINK:
	case JOURNAL_LINK:
	case JOURNAL_UNLINK:
	case JOURNAL_RMDIR:
	case JOURNAL_RENAME:
		return false;
	default:
		return true;
	}
}

static struct flush_obj *obj_add(struct lb_fs *fs, struct flush_plan *p, struct lb_inode *inode,
				 uint64_t mark)
{
	struct flush_obj *o;

	if (inode->flush_mark == mark)
		return &p->objs[inode->flush_slot];
	if (p->nobjs == p->capobjs) {
		size_t cap = p->capobjs ? 2 * p->capobjs : 64;

		o = realloc(p->objs, cap * sizeof(*o));
		if (!o)
			return NULL;
		p->objs = o;
		p->capobjs = cap;
	}
	o = &p->objs[p->nobjs];
	memset(o, 0, sizeof(*o));
	o->inode = inode;
	inode_ref(fs, inode);
	inode->flush_mark = mark;
	inode->flush_slot = p->nobjs++;
	return o;
}

static int name_add(struct lb_fs *fs, struct flush_plan *p, struct lb_inode *dir,
		    struct lb_inode *obj, const char *name)
{
	struct flush_name *n;

	if (!dir || !obj || !name || !*name)
		return 0;
	if (p->nnames == p->capnames) {
		size_t cap = p->capnames ? 2 * p->capnames : 32;

		n = realloc(p->names, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		p->names = n;
		p->capnames = cap;
	}
	n = &p->names[p->nnames];
	n->name = strdup(name);
	if (!n->name)
		return -ENOMEM;
	n->dir = dir;
	n->obj = obj;
	inode_ref(fs, dir);
	inode_ref(fs, obj);
	p->nnames++;
	return 0;
}

/* What a content record leaves of its file: the size at least, the newest bytes. */
static void obj_follow(struct flush_obj *o, const struct journal_record *rec)
{
	uint64_t end;

	switch (rec->type) {
	case JOURNAL_WRITE:
		end = rec->offset + rec->data_len;
		if (end > o->min_size)
			o->min_size = end;
		if (end > o->size)
			o->size = end;
		o->sample_len = rec->data_len < SAMPLE_MAX ? rec->data_len : SAMPLE_MAX;
		o->sample_off = rec->offset;
		memcpy(o->sample, rec->data, o->sample_len);
		o->sample_valid = o->sample_len > 0;
		break;
	case JOURNAL_SETATTR:
		if (!(rec->flags & JOURNAL_ATTR_SIZE))
			break;
		/* fall through */
	case JOURNAL_TRUNCATE:
		o->min_size = o->size = rec->size;
		o->size_known = true;
		if (o->sample_off + o->sample_len > rec->size)
			o->sample_valid = false;
		break;
	case JOURNAL_FALLOCATE:
		end = rec->offset + rec->length;
		if (!(rec->flags & FALLOC_FL_KEEP_SIZE) && end > o->min_size)
			o->min_size = end;
		if (!(rec->flags & FALLOC_FL_KEEP_SIZE) && end > o->size)
			o->size = end;
		o->sample_valid = false;
		break;
	default:
		break;
	}
}

/* The directory a creation, link or rename made a name in, or NULL. */
static struct lb_inode *name_dir(struct lb_qentry *e)
{
	const struct journal_record *rec = queue_entry_record(e);

	switch (rec->type) {
	case JOURNAL_CREATE:
	case JOURNAL_MKNOD:
	case JOURNAL_MKDIR:
	case JOURNAL_SYMLINK:
		return queue_entry_inode(e, 1);
	case JOURNAL_LINK:
		return queue_entry_inode(e, 2);
	case JOURNAL_RENAME:
		if (rec->flags & RENAME_EXCHANGE)
			return NULL;
		return queue_entry_inode(e, 2) ? queue_entry_inode(e, 2) : queue_entry_inode(e, 1);
	default:
		return NULL;
	}
}

/* The name a creation, link or rename made, and its directory. */
static int plan_name(struct lb_fs *fs, struct flush_plan *p, struct lb_qentry *e)
{
	const struct journal_record *rec = queue_entry_record(e);
	const char *made = rec->type == JOURNAL_CREATE || rec->type == JOURNAL_MKNOD ||
			   rec->type == JOURNAL_MKDIR || rec->type == JOURNAL_SYMLINK ? rec->path :
										rec->path2;

	return name_add(fs, p, name_dir(e), queue_entry_inode(e, 0), base_name(made));
}

void flush_plan_free(struct lb_fs *fs, struct flush_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nobjs; i++)
		inode_unref(fs, p->objs[i].inode);
	for (size_t i = 0; i < p->nnames; i++) {
		inode_unref(fs, p->names[i].dir);
		inode_unref(fs, p->names[i].obj);
		free(p->names[i].name);
	}
	free(p->objs);
	free(p->names);
	free(p);
}

/*
 * Everything the flush needs, copied out of the entries up to @upto: a
 * sync that stalls past path_timeout gets this thread abandoned and the
 * queue journaled and freed, so no entry may be touched once syncing began.
 */
int flush_plan_build(struct lb_fs *fs, struct lb_qentry *first, uint64_t upto, uint64_t mark,
		     struct flush_plan **ret)
{
	struct flush_plan *p = calloc(1, sizeof(*p));
	int r = 0;

	if (!p)
		return -ENOMEM;
	p->upto = upto;
	for (struct lb_qentry *e = first; e && queue_entry_record(e)->seq <= upto;
	     e = queue_entry_next(e)) {
		const struct journal_record *rec = queue_entry_record(e);

		for (int i = 0; i < 3; i++) {
			struct lb_inode *inode = queue_entry_inode(e, i);
			struct flush_obj *o;

			if (!inode || (i == 0 && !changes_content(rec)))
				continue;
			o = obj_add(fs, p, inode, mark);
			if (!o) {
				r = -ENOMEM;
				goto fail;
			}
			if (i == 0 && S_ISREG(inode->mode))
				obj_follow(o, rec);
		}
		r = plan_name(fs, p, e);
		if (r < 0)
			goto fail;
	}
	*ret = p;
	return 0;
fail:
	flush_plan_free(fs, p);
	return r;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}

static bool still_named(struct lb_fs *fs, struct lb_inode *inode)
{
	char path[PATH_MAX];

	return inode_path(fs, inode, NULL, path, sizeof(path)) != -ENOENT;
}

/* What of @o the store lost, or NULL. @fd is open on its object. */
static const char *obj_loss(struct lb_fs *fs, const struct flush_obj *o, int fd)
{
	unsigned char buf[SAMPLE_MAX];
	struct stat st;

	if (fstat(fd, &st) < 0)
		return NULL;	/* the next flush tells */
	if (st.st_nlink == 0 && still_named(fs, o->inode))
		return "its last name";
	/* unlinked through the mount and still open: its data still counts */
	if (!S_ISREG(st.st_mode))
		return NULL;
	if ((uint64_t)st.st_size < o->min_size)
		return "data at its end";
	/* a shrink undone grows the file back: no shorter, yet lost */
	if (o->size_known && (uint64_t)st.st_size != o->size)
		return "the size it was truncated to";
	if (o->sample_valid &&
	    (pread(fd, buf, o->sample_len, (off_t)o->sample_off) != (ssize_t)o->sample_len ||
	     memcmp(buf, o->sample, o->sample_len) != 0))
		return "its newest write";
	return NULL;
}

/*
 * fsyncs the object of @o and checks it; -ESTALE when the store lost part
 * of what the queue holds for it, 0 when it is gone through this mount.
 */
static int obj_sync(struct lb_fs *fs, struct flush_plan *p, const struct flush_obj *o)
{
	mode_t mode = o->inode->mode;
	int flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	const char *lost = NULL;
	int fd, r;

	if (!S_ISREG(mode) && !S_ISDIR(mode))
		return 0;	/* its directory's fsync covers it */
	fd = inode_open(fs, o->inode, flags, false);
	if (fd < 0) {
		r = fd;
		if (r != -ESTALE && r != -ENOENT)
			return r;
		/*
		 * Deleted since, through this mount: nothing to sync. Still
		 * named here: the store lost it (a failure rolled it back) or
		 * cannot answer; either way the queue must not be trimmed.
		 */
		return still_named(fs, o->inode) ? -ESTALE : 0;
	}
	r = (S_ISREG(mode) ? fdatasync(fd) : fsync(fd)) < 0 ? -errno : 0;
	for (int i = 0; r == 0 && i < RECHECKS; i++) {
		lost = obj_loss(fs, o, fd);
		/* a mutation newer than this flush may explain it */
		if (!lost || queue_touches_after(fs, o->inode, p->upto)) {
			lost = NULL;
			break;
		}
		sleep_ms(RECHECK_MS);
	}
	close(fd);
	if (lost) {
		log_warning("the store lost %s of an object it synced: journaling the queue",
			    lost);
		return -ESTALE;
	}
	return r;
}

/* Whether the store lost the name @n made; the mount's names may explain it. */
static bool name_lost(struct lb_fs *fs, const struct flush_name *n)
{
	struct lb_inode *bound = inode_child_get(fs, n->dir, n->name);
	struct stat st;
	bool lost = false;
	int dfd;

	if (bound)
		inode_unref(fs, bound);
	if (bound != n->obj || n->obj->virt)
		return false;	/* renamed or removed through the mount since */
	dfd = inode_fd_get(fs, n->dir);
	if (dfd < 0)
		return (dfd == -ESTALE || dfd == -ENOENT) && still_named(fs, n->dir);
	if (fstatat(dfd, n->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		lost = errno == ENOENT;
	else
		lost = st.st_ino != n->obj->ino || st.st_dev != n->obj->dev;
	inode_fd_put(fs, n->dir);
	return lost;
}

static int name_check(struct lb_fs *fs, const struct flush_name *n)
{
	for (int i = 0; i < RECHECKS; i++) {
		if (!name_lost(fs, n))
			return 0;
		sleep_ms(RECHECK_MS);
	}
	log_warning("the store lost the name '%s' it synced: journaling the queue", n->name);
	return -ESTALE;
}

int flush_plan_run(struct lb_fs *fs, struct flush_plan *p)
{
	int r = 0;

	for (size_t i = 0; i < p->nobjs && r == 0; i++)
		r = obj_sync(fs, p, &p->objs[i]);
	for (size_t i = 0; i < p->nnames && r == 0; i++)
		r = name_check(fs, &p->names[i]);
	return r;
}

struct names_in {
	struct flush_plan plan;
	struct lb_inode *dir;
};

static int collect_name_in(struct lb_fs *fs, struct lb_qentry *e, void *ctx)
{
	struct names_in *c = ctx;

	return name_dir(e) == c->dir ? plan_name(fs, &c->plan, e) : 0;
}

/*
 * Whether the store lost a name the queue made in @dir (a failure rolled it
 * back while lookups and listings still answer): a listing read from it now
 * would hide a name the application made. Checked before a healthy listing.
 */
bool flush_names_lost_in(struct lb_fs *fs, struct lb_inode *dir)
{
	struct names_in *c;
	bool lost = false;

	if (!queue_holds_inode(fs, dir))
		return false;	/* no name made in it since the last flush */
	c = calloc(1, sizeof(*c));
	if (!c)
		return false;
	c->dir = dir;
	if (queue_walk(fs, collect_name_in, c) == 0)
		for (size_t i = 0; i < c->plan.nnames && !lost; i++)
			lost = name_check(fs, &c->plan.names[i]) < 0;
	for (size_t i = 0; i < c->plan.nnames; i++) {
		inode_unref(fs, c->plan.names[i].dir);
		inode_unref(fs, c->plan.names[i].obj);
		free(c->plan.names[i].name);
	}
	free(c->plan.names);
	free(c);
	return lost;
}
