// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * journal-file.c - the file journal device: a regular file on a local (or at
 * least independent) file system. pread/pwrite at offsets, fdatasync, size
 * from fstat. The embedded default; the iSCSI LUN device has the same ops.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lifeboat/journal.h"

struct file_device {
	struct journal_device dev;	/* first: the ops get &dev */
	int fd;
};

static struct file_device *file_of(struct journal_device *dev)
{
	return (struct file_device *)dev;
}

static ssize_t file_read(struct journal_device *dev, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pread(file_of(dev)->fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int file_write(struct journal_device *dev, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pwrite(file_of(dev)->fd, (const char *)buf + done, len - done,
			   (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

static int file_sync(struct journal_device *dev)
{
	return fdatasync(file_of(dev)->fd) < 0 ? -errno : 0;
}

static int file_size(struct journal_device *dev, uint64_t *ret_size)
{
	struct stat st;

	if (fstat(file_of(dev)->fd, &st) < 0)
		return -errno;
	*ret_size = (uint64_t)st.st_size;
	return 0;
}

static int file_truncate(struct journal_device *dev, uint64_t size)
{
	return ftruncate(file_of(dev)->fd, (off_t)size) < 0 ? -errno : 0;
}

static void file_close(struct journal_device *dev)
{
	struct file_device *f = file_of(dev);

	if (!dev)
		return;
	if (f->fd >= 0)
		(void)close(f->fd);
	free(dev->name);
	free(f);
}

static const struct journal_device_ops file_ops = {
	.read = file_read,
	.write = file_write,
	.sync = file_sync,
	.size = file_size,
	.truncate = file_truncate,
	.close = file_close,
};

/* A new directory entry is durable only once its directory is synced. */
static int sync_parent_dir(const char *path)
{
	char *copy = strdup(path);
	int fd, r = 0;

	if (!copy)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		r = -errno;
	if (fd >= 0)
		(void)close(fd);
	free(copy);
	return r;
}

static int open_flags(unsigned flags)
{
	int oflags = O_CLOEXEC | O_NOFOLLOW;

	oflags |= flags & JOURNAL_OPEN_READONLY ? O_RDONLY : O_RDWR;
	if ((flags & JOURNAL_OPEN_CREATE) && !(flags & JOURNAL_OPEN_READONLY))
		oflags |= O_CREAT;
	if ((oflags & O_CREAT) && (flags & JOURNAL_OPEN_EXCL))
		oflags |= O_EXCL;
	return oflags;
}

static int check_regular(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	return S_ISREG(st.st_mode) ? 0 : -EINVAL;
}

int journal_file_device_open(const char *path, unsigned flags, struct journal_device **ret_dev)
{
	struct file_device *f;
	int r;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->dev.ops = &file_ops;
	f->dev.read_only = flags & JOURNAL_OPEN_READONLY;
	f->dev.name = strdup(path);
	f->fd = open(path, open_flags(flags), 0600);
	if (!f->dev.name || f->fd < 0) {
		r = f->dev.name ? -errno : -ENOMEM;
		goto out_close;
	}
	r = check_regular(f->fd);
	if (r < 0)
		goto out_close;
	if (open_flags(flags) & O_CREAT) {
		r = sync_parent_dir(path);
		if (r < 0)
			goto out_close;
	}
	*ret_dev = &f->dev;
	return 0;

out_close:
	file_close(&f->dev);
	return r;
}
