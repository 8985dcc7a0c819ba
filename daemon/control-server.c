// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * control-server.c - lifeboatd's listening control socket: root only, by
 * file mode (0600 in a 0700 directory) and by SO_PEERCRED on every caller.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define LOG_PREFIX "control: "
#include "lifeboat/log.h"
#include "control.h"

#define CONTROL_IO_TIMEOUT_S 10	/* a client that stalls cannot hold the daemon longer */

static int make_parent_dir(const char *path)
{
	char buf[PATH_MAX];
	char *dir;

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	dir = dirname(buf);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int control_listen(const char *path, int *ret_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old_umask;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return log_error_errno(-ENAMETOOLONG, "socket path '%s' too long", path);
	strcpy(sa.sun_path, path);
	r = make_parent_dir(path);
	if (r < 0)
		return log_error_errno(r, "cannot create the directory of '%s'", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return log_error_errno(-errno, "cannot create a unix socket");
	(void)unlink(path);	/* a stale socket of an earlier run */
	old_umask = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old_umask);
	if (r == 0 && listen(fd, 16) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return log_error_errno(r, "cannot listen on '%s'", path);
	}
	*ret_fd = fd;
	return 0;
}

int control_accept(int listen_fd, int *ret_fd, pid_t *ret_pid)
{
	struct timeval tv = { .tv_sec = CONTROL_IO_TIMEOUT_S };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd;

	fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		int r = -errno;

		close(fd);
		return log_error_errno(r, "cannot read the credentials of a caller");
	}
	if (cred.uid != 0) {
		log_warning("refused a caller with uid %u (pid %d): the control socket is root-only",
			    (unsigned)cred.uid, (int)cred.pid);
		control_send_error(fd, -EPERM, "permission denied: lifeboatd's control socket is root-only (caller uid %u)",
				   (unsigned)cred.uid);
		close(fd);
		return -EPERM;
	}
	*ret_fd = fd;
	*ret_pid = cred.pid;
	return 0;
}
