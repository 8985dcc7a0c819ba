// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * faultctl.c - sends one command to a running faultfs over its control
 * socket and prints the one-line answer.
 *
 *   faultctl SOCKET CMD [ARG...]      (faultctl SOCKET help lists them)
 *
 * Exit status: 0 on "ok", 1 on "error: ...", 2 if faultfs cannot be reached.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int ctl_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* Joins argv into one line; returns its length or -E2BIG. */
static int build_line(char **argv, int argc, char *buf, size_t len)
{
	size_t n = 0;

	for (int i = 0; i < argc; i++) {
		int k = snprintf(buf + n, len - n, "%s%s", i ? " " : "", argv[i]);

		if (k < 0 || (size_t)k >= len - n - 1)
			return -E2BIG;
		n += (size_t)k;
	}
	buf[n++] = '\n';
	buf[n] = '\0';
	return (int)n;
}

int main(int argc, char **argv)
{
	char line[512], reply[1024];
	ssize_t k;
	size_t n = 0;
	int fd, len;

	if (argc < 3) {
		fprintf(stderr, "usage: faultctl SOCKET CMD [ARG...]   (CMD 'help' lists commands)\n");
		return 2;
	}
	len = build_line(argv + 2, argc - 2, line, sizeof(line));
	if (len < 0) {
		fprintf(stderr, "faultctl: command too long\n");
		return 2;
	}
	fd = ctl_connect(argv[1]);
	if (fd < 0) {
		fprintf(stderr, "faultctl: cannot connect to '%s': %s\n", argv[1], strerror(-fd));
		return 2;
	}
	if (write(fd, line, (size_t)len) != len) {
		fprintf(stderr, "faultctl: cannot send to '%s': %s\n", argv[1], strerror(errno));
		return 2;
	}
	while (n < sizeof(reply) - 1 && (k = read(fd, reply + n, sizeof(reply) - 1 - n)) > 0)
		n += (size_t)k;
	close(fd);
	reply[n] = '\0';
	if (n == 0) {
		fprintf(stderr, "faultctl: no answer from '%s'\n", argv[1]);
		return 2;
	}
	fputs(reply, stdout);
	return strncmp(reply, "ok", 2) == 0 ? 0 : 1;
}
