// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * journal-apply.c - applies one journal record to the store, idempotently.
 *
 * Replay may meet a store where a record (or a later one) is already done:
 * the unflushed queue reached the store before the path failed, or a
 * previous replay stopped half way. Each type therefore tells "already
 * done" from a real divergence:
 *
 *   MKDIR, MKNOD, SYMLINK  EEXIST with the same kind of object  -> done
 *   UNLINK, RMDIR          ENOENT                               -> done
 *   LINK                   EEXIST on the new name               -> done
 *   RENAME                 old gone and new there, or old is not
 *                          the recorded inode, or NOREPLACE EEXIST -> done
 *   REMOVEXATTR            ENODATA                              -> done
 *   CREATE                 O_CREAT without O_EXCL, then owner and mode
 *   WRITE, TRUNCATE, FALLOCATE, SETATTR, SETXATTR: the object is gone
 *                          (ENOENT) -> skipped, later records decide
 *   SETXATTR               applied without XATTR_CREATE/REPLACE
 *
 * Final components are never followed: *at() calls with
 * AT_SYMLINK_NOFOLLOW, O_NOFOLLOW opens, l*xattr() on /proc/self/fd paths.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/fs.h>

#include "journal-internal.h"

#define APPLY_DONE JOURNAL_APPLY_DONE
#define APPLY_SKIPPED JOURNAL_APPLY_SKIPPED

/* ENOENT on the object a record changes: it was removed later on. */
static int gone_is_skipped(int r)
{
	return r == -ENOENT ? APPLY_SKIPPED : r;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

static int apply_data(struct journal_replay *r, const struct journal_record *rec, int dirfd,
		      const char *name)
{
	int fd, ret = 0;

	fd = journal_open_regular(dirfd, name, O_WRONLY, 0);
	if (fd < 0)
		return gone_is_skipped(fd);
	if (rec->type == JOURNAL_WRITE)
		ret = pwrite_all(fd, rec->data, rec->data_len, rec->offset);
	else if (rec->type == JOURNAL_TRUNCATE && ftruncate(fd, (off_t)rec->size) < 0)
		ret = -errno;
	else if (rec->type == JOURNAL_FALLOCATE &&
		 fallocate(fd, (int)rec->flags, (off_t)rec->offset, (off_t)rec->length) < 0)
		ret = -errno;
	(void)close(fd);
	return ret < 0 ? ret : journal_replay_touch(r, rec->path);
}

/* Owner then mode (chown clears set-id bits), on an object that is no symlink. */
static int set_owner_mode(int dirfd, const char *name, const struct journal_record *rec)
{
	if ((rec->uid != (uint32_t)-1 || rec->gid != (uint32_t)-1) &&
	    fchownat(dirfd, name, rec->uid, rec->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (fchmodat(dirfd, name, rec->mode & 07777, 0) < 0)
		return -errno;
	return 0;
}

static int apply_create(struct journal_replay *r, const struct journal_record *rec, int dirfd,
			const char *name)
{
	int fd, ret;

	fd = journal_open_regular(dirfd, name, O_WRONLY | O_CREAT, rec->mode & 07777);
	if (fd < 0)
		return fd;
	(void)close(fd);
	ret = set_owner_mode(dirfd, name, rec);
	if (ret >= 0)
		ret = journal_replay_touch(r, rec->path);
	return ret < 0 ? ret : journal_replay_touch_parent(r, rec->path);
}

/* After EEXIST: done if the existing object is what the record makes. */
static int exists_as(int dirfd, const char *name, const struct journal_record *rec)
{
	struct stat st;
	char buf[JOURNAL_PATH_MAX];
	ssize_t n;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (rec->type == JOURNAL_MKDIR)
		return S_ISDIR(st.st_mode) ? APPLY_DONE : -EEXIST;
	if (rec->type == JOURNAL_MKNOD)
		return (st.st_mode & S_IFMT) == (rec->mode & S_IFMT) &&
			       (!(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) || st.st_rdev == rec->rdev)
			       ? APPLY_DONE : -EEXIST;
	if (!S_ISLNK(st.st_mode))
		return -EEXIST;
	n = readlinkat(dirfd, name, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	return (size_t)n == strlen(rec->target) && memcmp(buf, rec->target, (size_t)n) == 0
		       ? APPLY_DONE : -EEXIST;
}

static int make_node(int dirfd, const char *name, const struct journal_record *rec)
{
	int ret = 0;

	if (rec->type == JOURNAL_MKDIR)
		ret = mkdirat(dirfd, name, rec->mode & 07777);
	else if (rec->type == JOURNAL_MKNOD)
		ret = mknodat(dirfd, name, rec->mode, (dev_t)rec->rdev);
	else
		ret = symlinkat(rec->target, dirfd, name);
	if (ret < 0 && errno == EEXIST)
		return exists_as(dirfd, name, rec);
	return ret < 0 ? -errno : 0;
}

static int apply_node(struct journal_replay *r, const struct journal_record *rec, int dirfd,
		      const char *name)
{
	int made, ret;

	if (rec->type == JOURNAL_MKNOD && S_ISREG(rec->mode))
		return apply_create(r, rec, dirfd, name);
	made = make_node(dirfd, name, rec);
	if (made < 0)
		return made;
	if (rec->type == JOURNAL_SYMLINK) {
		ret = (rec->uid != (uint32_t)-1 || rec->gid != (uint32_t)-1) &&
				      fchownat(dirfd, name, rec->uid, rec->gid, AT_SYMLINK_NOFOLLOW) < 0
			      ? -errno : 0;
		r->need_syncfs = true;
	} else {
		ret = set_owner_mode(dirfd, name, rec);
		if (rec->type == JOURNAL_MKDIR && ret >= 0)
			ret = journal_replay_touch(r, rec->path);
		else
			r->need_syncfs = true;
	}
	if (ret >= 0)
		ret = journal_replay_touch_parent(r, rec->path);
	return ret < 0 ? ret : made;
}

/*
 * The final sync finds what records touched by their paths. A file written
 * under this name that keeps another one would be missed: sync it now.
 */
static int sync_before_unlink(struct journal_replay *r, const struct journal_record *rec,
			      int dirfd, const char *name)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_nlink < 2 ||
	    !S_ISREG(st.st_mode))
		return 0;
	return journal_replay_sync_touched(r, rec->path);
}

static int apply_remove(struct journal_replay *r, const struct journal_record *rec, int dirfd,
			const char *name)
{
	int flags = rec->type == JOURNAL_RMDIR ? AT_REMOVEDIR : 0;
	int ret;

	ret = flags ? 0 : sync_before_unlink(r, rec, dirfd, name);
	if (ret < 0)
		return ret;
	if (unlinkat(dirfd, name, flags) < 0)
		return errno == ENOENT ? APPLY_DONE : -errno;
	return journal_replay_touch_parent(r, rec->path);
}

static int apply_link(struct journal_replay *r, const struct journal_record *rec, int dirfd,
		      const char *name, int dirfd2, const char *name2)
{
	if (linkat(dirfd, name, dirfd2, name2, 0) < 0)
		return errno == EEXIST ? APPLY_DONE : gone_is_skipped(-errno);
	return journal_replay_touch_parent(r, rec->path2);
}

/* Was this rename applied already? APPLY_DONE/SKIPPED, 0 when it is still to do. */
static int rename_state(const struct journal_record *rec, int dirfd, const char *name,
			int dirfd2, const char *name2)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return -errno;
		if (fstatat(dirfd2, name2, &st, AT_SYMLINK_NOFOLLOW) == 0)
			return APPLY_DONE;
		return errno == ENOENT ? APPLY_SKIPPED : -errno;
	}
	if (rec->ino && st.st_ino != rec->ino)
		return APPLY_DONE;	/* "old" is a newer object: the move happened */
	return 0;
}

static int apply_rename(struct journal_replay *r, const struct journal_record *rec, int dirfd,
			const char *name, int dirfd2, const char *name2)
{
	int ret;

	ret = rename_state(rec, dirfd, name, dirfd2, name2);
	if (ret != 0)
		return ret;
	if (renameat2(dirfd, name, dirfd2, name2, rec->flags) < 0) {
		if (errno == EEXIST && (rec->flags & RENAME_NOREPLACE))
			return APPLY_DONE;
		return gone_is_skipped(-errno);
	}
	ret = journal_replay_touch_parent(r, rec->path);
	return ret < 0 ? ret : journal_replay_touch_parent(r, rec->path2);
}

static int setattr_size_owner(int dirfd, const char *name, const struct journal_record *rec)
{
	uid_t uid = rec->flags & JOURNAL_ATTR_UID ? rec->uid : (uid_t)-1;
	gid_t gid = rec->flags & JOURNAL_ATTR_GID ? rec->gid : (gid_t)-1;
	int fd, ret = 0;

	if (rec->flags & JOURNAL_ATTR_SIZE) {
		fd = journal_open_regular(dirfd, name, O_WRONLY, 0);
		if (fd < 0)
			return fd;
		if (ftruncate(fd, (off_t)rec->size) < 0)
			ret = -errno;
		(void)close(fd);
	}
	if (ret == 0 && (rec->flags & (JOURNAL_ATTR_UID | JOURNAL_ATTR_GID)) &&
	    fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		ret = -errno;
	return ret;
}

static int setattr_mode_times(int dirfd, const char *name, const struct journal_record *rec,
			      bool is_link)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };

	if ((rec->flags & JOURNAL_ATTR_MODE) && !is_link &&
	    fchmodat(dirfd, name, rec->mode & 07777, 0) < 0)
		return -errno;
	if (rec->flags & JOURNAL_ATTR_ATIME)
		ts[0] = rec->atime;
	if (rec->flags & JOURNAL_ATTR_MTIME)
		ts[1] = rec->mtime;
	if ((rec->flags & (JOURNAL_ATTR_ATIME | JOURNAL_ATTR_MTIME)) &&
	    utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

static int apply_setattr(struct journal_replay *r, const struct journal_record *rec, int dirfd,
			 const char *name)
{
	struct stat st;
	int ret;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return gone_is_skipped(-errno);
	ret = setattr_size_owner(dirfd, name, rec);
	if (ret >= 0)
		ret = setattr_mode_times(dirfd, name, rec, S_ISLNK(st.st_mode));
	if (ret < 0)
		return gone_is_skipped(ret);
	return journal_replay_touch(r, rec->path);
}

static int apply_xattr(struct journal_replay *r, const struct journal_record *rec, int dirfd,
		       const char *name)
{
	char path[64 + JOURNAL_NAME_MAX];
	int ret;

	ret = journal_proc_path(dirfd, name, path, sizeof(path));
	if (ret < 0)
		return ret;
	if (rec->type == JOURNAL_SETXATTR)
		ret = lsetxattr(path, rec->name, rec->data, rec->data_len, 0);
	else
		ret = lremovexattr(path, rec->name);
	if (ret < 0)
		return errno == ENODATA && rec->type == JOURNAL_REMOVEXATTR ? APPLY_DONE
									    : gone_is_skipped(-errno);
	return journal_replay_touch(r, rec->path);
}

/* LINK and RENAME: the second name has its own directory. */
static int apply_two(struct journal_replay *r, const struct journal_record *rec, int dirfd,
		     const char *name)
{
	const char *name2;
	int dirfd2, ret;

	ret = journal_resolve_parent(r->store_fd, rec->path2, &dirfd2, &name2);
	if (ret < 0)
		return gone_is_skipped(ret);
	if (rec->type == JOURNAL_LINK)
		ret = apply_link(r, rec, dirfd, name, dirfd2, name2);
	else
		ret = apply_rename(r, rec, dirfd, name, dirfd2, name2);
	(void)close(dirfd2);
	return ret;
}

static int apply_at(struct journal_replay *r, const struct journal_record *rec, int dirfd,
		    const char *name)
{
	switch (rec->type) {
	case JOURNAL_WRITE:
	case JOURNAL_TRUNCATE:
	case JOURNAL_FALLOCATE:
		return apply_data(r, rec, dirfd, name);
	case JOURNAL_CREATE:
		return apply_create(r, rec, dirfd, name);
	case JOURNAL_MKNOD:
	case JOURNAL_MKDIR:
	case JOURNAL_SYMLINK:
		return apply_node(r, rec, dirfd, name);
	case JOURNAL_LINK:
	case JOURNAL_RENAME:
		return apply_two(r, rec, dirfd, name);
	case JOURNAL_UNLINK:
	case JOURNAL_RMDIR:
		return apply_remove(r, rec, dirfd, name);
	case JOURNAL_SETATTR:
		return apply_setattr(r, rec, dirfd, name);
	case JOURNAL_SETXATTR:
	case JOURNAL_REMOVEXATTR:
		return apply_xattr(r, rec, dirfd, name);
	}
	return -EINVAL;
}

int journal_apply(struct journal_replay *r, const struct journal_record *rec)
{
	const char *name;
	int dirfd, ret;

	ret = journal_record_check(rec);
	if (ret < 0)
		return ret;
	if (r->flags & JOURNAL_REPLAY_DRY_RUN)
		return 0;
	ret = journal_resolve_parent(r->store_fd, rec->path, &dirfd, &name);
	if (ret < 0) {
		bool removal = rec->type == JOURNAL_UNLINK || rec->type == JOURNAL_RMDIR;

		return ret == -ENOENT ? (removal ? APPLY_DONE : APPLY_SKIPPED) : ret;
	}
	ret = apply_at(r, rec, dirfd, name);
	(void)close(dirfd);
	return ret;
}
