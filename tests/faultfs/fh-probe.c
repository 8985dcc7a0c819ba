// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fh-probe.c - test helper: gets PATH's file handle with name_to_handle_at,
 * reopens it with open_by_handle_at (as lifeboatfs does on its store) and
 * prints the content. With --wait it pauses for a line on stdin between the
 * two steps, so a test can make the kernel forget the inode meanwhile.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct file_handle *fh = malloc(sizeof(*fh) + MAX_HANDLE_SZ);
	bool wait_line = argc == 3 && strcmp(argv[1], "--wait") == 0;
	const char *path = argv[argc - 1];
	char buf[4096], *dir;
	int mount_id, mfd, fd;
	ssize_t n;

	if (argc < 2 || !fh)
		return 2;
	fh->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(AT_FDCWD, path, fh, &mount_id, 0) < 0) {
		fprintf(stderr, "name_to_handle_at '%s': %s\n", path, strerror(errno));
		return 1;
	}
	dir = strdup(path);
	mfd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
	if (mfd < 0)
		return 1;
	if (wait_line) {
		printf("ready\n");
		fflush(stdout);
		(void)!fgets(buf, sizeof(buf), stdin);
	}
	fd = open_by_handle_at(mfd, fh, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "open_by_handle_at '%s': %s\n", path, strerror(errno));
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	return n < 0;
}
