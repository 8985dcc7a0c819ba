// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ctl.c - faultfs's control socket: a root-only unix stream socket that
 * takes one command line per connection and answers one line, "ok ..." or
 * "error: ...". The commands are listed in ctl_help below and in
 * tests/faultfs/README.md.
 */
#define LOG_PREFIX "ctl: "
#include "lifeboat/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "faultfs.h"

#define CTL_LINE_MAX 512
#define CTL_ARGS_MAX 8

static const char ctl_help[] =
	"ok commands: fail ERRNO [CLASSES] [after=N] | stall [CLASSES] [after=N] [then=ERRNO] | "
	"heal | status | sync | rollback | help; CLASSES=read,write,meta,sync,all; "
	"ERRNO=EIO,ENOTCONN,ESTALE,ETIMEDOUT,EROFS,EHOSTDOWN,ENODEV,ENXIO,EREMOTEIO";

struct ctl_fault_args {
	int err;		/* fail: required; stall: then= */
	unsigned classes;
	uint64_t after;
};

static int parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* Parses the arguments after "fail ERRNO" or "stall"; writes an error reply. */
static int parse_fault_args(char **argv, int argc, bool stall, struct ctl_fault_args *a,
			    char *reply, size_t len)
{
	a->classes = FF_ALL;
	a->after = 0;
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];

		if (strncmp(arg, "after=", 6) == 0) {
			if (parse_u64(arg + 6, &a->after) < 0)
				goto bad;
		} else if (stall && strncmp(arg, "then=", 5) == 0) {
			a->err = fault_parse_errno(arg + 5);
			if (a->err < 0)
				goto bad;
		} else if (fault_parse_classes(arg, &a->classes) < 0) {
			goto bad;
		}
		continue;
bad:
		snprintf(reply, len, "error: bad argument '%.64s' (try 'help')", arg);
		return -EINVAL;
	}
	return 0;
}

static int ctl_fail(struct ff_fs *fs, char **argv, int argc, char *reply, size_t len)
{
	struct ctl_fault_args a = { 0 };

	if (argc < 1) {
		snprintf(reply, len, "error: usage: fail ERRNO [CLASSES] [after=N]");
		return -EINVAL;
	}
	a.err = fault_parse_errno(argv[0]);
	if (a.err < 0) {
		snprintf(reply, len, "error: unsupported errno '%.32s' (try 'help')", argv[0]);
		return -EINVAL;
	}
	if (parse_fault_args(argv + 1, argc - 1, false, &a, reply, len) < 0)
		return -EINVAL;
	return fault_set_fail(fs, a.err, a.classes, a.after, reply, len);
}

static int ctl_stall(struct ff_fs *fs, char **argv, int argc, char *reply, size_t len)
{
	struct ctl_fault_args a = { 0 };

	if (parse_fault_args(argv, argc, true, &a, reply, len) < 0)
		return -EINVAL;
	return fault_set_stall(fs, a.err, a.classes, a.after, reply, len);
}

static int ctl_no_args(const char *cmd, int argc, char *reply, size_t len)
{
	if (argc == 0)
		return 0;
	snprintf(reply, len, "error: '%s' takes no arguments", cmd);
	return -EINVAL;
}

/* Runs one command line (modified in place); reply gets one line, no newline. */
int ctl_handle_line(struct ff_fs *fs, char *line, char *reply, size_t len)
{
	char *argv[CTL_ARGS_MAX], *save = NULL, *tok;
	int argc = 0;

	for (tok = strtok_r(line, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (argc == CTL_ARGS_MAX) {
			snprintf(reply, len, "error: too many arguments");
			return -E2BIG;
		}
		argv[argc++] = tok;
	}
	if (argc == 0) {
		snprintf(reply, len, "error: empty command (try 'help')");
		return -EINVAL;
	}
	if (strcmp(argv[0], "fail") == 0)
		return ctl_fail(fs, argv + 1, argc - 1, reply, len);
	if (strcmp(argv[0], "stall") == 0)
		return ctl_stall(fs, argv + 1, argc - 1, reply, len);
	if (ctl_no_args(argv[0], argc - 1, reply, len) < 0)
		return -EINVAL;
	if (strcmp(argv[0], "heal") == 0)
		fault_heal(fs, reply, len);
	else if (strcmp(argv[0], "status") == 0)
		fault_status(fs, reply, len);
	else if (strcmp(argv[0], "sync") == 0) {
		undo_sync_all(fs);
		snprintf(reply, len, "ok everything marked durable (as after syncfs)");
	} else if (strcmp(argv[0], "rollback") == 0) {
		char msg[256];
		int r = undo_rollback(fs, msg, sizeof(msg));

		snprintf(reply, len, "%s %s", r < 0 ? "error:" : "ok", msg);
		return r;
	} else if (strcmp(argv[0], "help") == 0)
		snprintf(reply, len, "%s", ctl_help);
	else {
		snprintf(reply, len, "error: unknown command '%.32s' (try 'help')", argv[0]);
		return -EINVAL;
	}
	return 0;
}

int ctl_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return log_error_errno(-ENAMETOOLONG, "control socket path '%s'", path);
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		(void)unlink(path);	/* stale, from an earlier run */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_error_errno(-errno, "cannot create control socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 16) < 0) {
		int r = -errno;

		close(fd);
		return log_error_errno(r, "cannot listen on '%s'", path);
	}
	return fd;
}

/* Reads one line of at most CTL_LINE_MAX - 1 bytes. */
static int ctl_read_line(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n < len - 1) {
		ssize_t k = read(fd, buf + n, len - 1 - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		n += (size_t)k;
		if (memchr(buf, '\n', n))
			break;
	}
	buf[n] = '\0';
	if (n == len - 1 && !memchr(buf, '\n', n))
		return -EMSGSIZE;
	return 0;
}

static void ctl_serve(struct ff_fs *fs, int fd)
{
	struct timeval tv = { .tv_sec = 5 };
	char line[CTL_LINE_MAX], cmd[CTL_LINE_MAX], reply[1024];
	struct ucred cred;
	socklen_t cl = sizeof(cred);

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cred.uid != 0)
		snprintf(reply, sizeof(reply), "error: permission denied (root only)");
	else if (ctl_read_line(fd, line, sizeof(line)) < 0)
		snprintf(reply, sizeof(reply), "error: cannot read a command line");
	else {
		strcpy(cmd, line);
		cmd[strcspn(cmd, "\r\n")] = '\0';
		(void)ctl_handle_line(fs, line, reply, sizeof(reply));
		log_info("'%s' -> %s", cmd, reply);
	}
	strcat(reply, "\n");
	(void)!write(fd, reply, strlen(reply));
}

struct ctl_thread_args {
	struct ff_fs *fs;
	int sock;
};

static void *ctl_thread(void *arg)
{
	struct ctl_thread_args a = *(struct ctl_thread_args *)arg;

	free(arg);
	for (;;) {
		int fd = accept4(a.sock, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			log_error_errno(-errno, "cannot accept, control socket closed");
			return NULL;
		}
		ctl_serve(a.fs, fd);
		close(fd);
	}
}

int ctl_start(struct ff_fs *fs, int sock)
{
	struct ctl_thread_args *a = malloc(sizeof(*a));
	pthread_t t;
	int r;

	if (!a)
		return -ENOMEM;
	a->fs = fs;
	a->sock = sock;
	r = -pthread_create(&t, NULL, ctl_thread, a);
	if (r < 0) {
		free(a);
		return log_error_errno(r, "cannot start the control thread");
	}
	pthread_detach(t);
	return 0;
}
