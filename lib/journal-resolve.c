// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * journal-resolve.c - turns a store-relative record path into (directory fd,
 * final component) beneath the store root, with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS): no "..", no absolute path, no
 * symlink anywhere in the parent chain can lead out of the store.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "journal-internal.h"

#define RESOLVE_STORE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

/* glibc 2.36 has no openat2() wrapper. */
int journal_openat2(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_STORE,
	};
	long fd;

	fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	return fd < 0 ? -errno : (int)fd;
}

int journal_resolve_parent(int store_fd, const char *path, int *ret_dirfd,
			   const char **ret_name)
{
	const char *slash;
	char *dir;
	int r;

	r = journal_path_check(path);
	if (r < 0)
		return r;
	slash = strrchr(path, '/');
	if (!slash) {
		r = journal_openat2(store_fd, ".", O_PATH | O_DIRECTORY, 0);
	} else {
		dir = strndup(path, (size_t)(slash - path));
		if (!dir)
			return -ENOMEM;
		r = journal_openat2(store_fd, dir, O_PATH | O_DIRECTORY, 0);
		free(dir);
	}
	if (r < 0)
		return r;
	*ret_dirfd = r;
	*ret_name = slash ? slash + 1 : path;
	return 0;
}

/*
 * Opens the regular file name in dirfd (never through a symlink, never
 * blocking on a FIFO). -EINVAL when it is not a regular file.
 */
int journal_open_regular(int dirfd, const char *name, int flags, mode_t mode)
{
	struct stat st;
	int fd, r;

	fd = journal_openat2(dirfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, mode);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (!S_ISREG(st.st_mode))
		r = -EINVAL;
	else
		return fd;
	(void)close(fd);
	return r;
}

/*
 * "/proc/self/fd/<dirfd>/<name>": the one way to reach a final component
 * with the l*xattr() calls without following it. dirfd is ours and already
 * beneath the store; name is one checked component.
 */
int journal_proc_path(int dirfd, const char *name, char *buf, size_t size)
{
	int n = snprintf(buf, size, "/proc/self/fd/%d/%s", dirfd, name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}
