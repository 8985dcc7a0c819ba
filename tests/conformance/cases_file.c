// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cases_file.c - open flags, O_TMPFILE, chmod, chown and truncate, run as
 * root. Each case runs in its own empty directory.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "posixcmp.h"

static void chmod_one(const char *path, mode_t mode)
{
	char call[64];
	int r;

	snprintf(call, sizeof(call), "chmod(\"%s\", %04o)", path, mode);
	errno = 0;
	r = chmod(path, mode);
	pc_result(call, r, errno, PC_RAW);
}

static void open_creat(void)
{
	int fd;

	fd = TFD(open("f", O_CREAT | O_WRONLY, 0644));
	pc_stat("f");
	T(close(fd));
	T(open("f", O_CREAT | O_EXCL | O_WRONLY, 0644));
	fd = TFD(open("f", O_CREAT | O_WRONLY, 0600));	/* mode ignored */
	close(fd);
	pc_stat("f");
	fd = TFD(open("f", O_EXCL | O_RDONLY));		/* O_EXCL alone: ignored */
	close(fd);
	T(open("missing", O_RDONLY));
	T(open("f/x", O_RDONLY));
	T(open("f/", O_RDONLY));
	T(open("f/", O_CREAT | O_WRONLY, 0644));
	T(open("", O_RDONLY));
	fd = TFD(creat("g", 0600));
	T(write(fd, "data", 4));
	close(fd);
	pc_stat("g");
	T(mkdir("d", 0755));
	T(open("d", O_CREAT | O_RDONLY, 0644));
	T(open("d/new", O_CREAT | O_EXCL | O_RDWR, 0640));
	pc_stat("d/new");
	T(open("nodir/new", O_CREAT | O_RDWR, 0640));
}

static void open_modes(void)
{
	int fd;

	fd = TFD(open("all", O_CREAT | O_WRONLY, 07777));
	close(fd);
	pc_stat("all");
	umask(0);
	fd = TFD(open("u0", O_CREAT | O_WRONLY, 0777));
	close(fd);
	pc_stat("u0");
	umask(0277);
	fd = TFD(open("u277", O_CREAT | O_WRONLY, 0777));
	pc_stat("u277");
	T(write(fd, "x", 1));	/* the creator may write a 0400 file it opened */
	close(fd);
	T(open("u277", O_WRONLY));	/* root: DAC override */
	umask(022);
	fd = TFD(open("none", O_CREAT | O_RDWR, 0));
	pc_stat("none");
	close(fd);
}

static void open_dir_flags(void)
{
	int fd;

	pc_write_file("f", "hello", 0644);
	T(mkdir("d", 0755));
	T(open("f", O_RDONLY | O_DIRECTORY));
	fd = TFD(open("d", O_RDONLY | O_DIRECTORY));
	close(fd);
	fd = TFD(open(".", O_RDONLY));
	close(fd);
	T(open("d", O_WRONLY));
	T(open("d", O_RDWR));
	T(open("d", O_RDONLY | O_TRUNC));
	T(open("d2", O_CREAT | O_DIRECTORY | O_RDONLY, 0755));
	pc_lstat("d2");
	T(symlink("d", "sd"));
	fd = TFD(open("sd", O_RDONLY | O_DIRECTORY));
	close(fd);
	T(open("sd", O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
}

static void open_nofollow(void)
{
	int fd;

	pc_write_file("f", "hello", 0644);
	T(symlink("f", "s"));
	T(symlink("missing", "dangling"));
	T(open("s", O_RDONLY | O_NOFOLLOW));
	T(open("s", O_WRONLY | O_CREAT | O_NOFOLLOW, 0644));
	fd = TFD(open("f", O_RDONLY | O_NOFOLLOW));
	close(fd);
	fd = TFD(open("s", O_PATH | O_NOFOLLOW));
	pc_fstat(fd, "O_PATH|O_NOFOLLOW s");
	T(read(fd, (char[4]){ 0 }, 4));
	close(fd);
	T(open("dangling", O_RDONLY));
	T(open("dangling", O_CREAT | O_EXCL | O_WRONLY, 0644));
	pc_lstat("missing");
	fd = TFD(open("dangling", O_CREAT | O_WRONLY, 0640));	/* creates target */
	close(fd);
	pc_lstat("missing");
	pc_stat("dangling");
	T(symlink("loop2", "loop1"));
	T(symlink("loop1", "loop2"));
	T(open("loop1", O_RDONLY));
	T(open("loop1/x", O_RDONLY));
}

static void open_trunc(void)
{
	struct stat a, b;
	int fd;

	pc_write_file("f", "0123456789", 0644);
	pc_old_times("f");
	a = pc_get("f");
	pc_tick();
	fd = TFD(open("f", O_WRONLY | O_TRUNC));
	close(fd);
	b = pc_get("f");
	pc_stat("f");
	pc_yes("mtime changed by O_TRUNC", !pc_ts_eq(&a.st_mtim, &b.st_mtim));
	pc_yes("ctime changed by O_TRUNC", !pc_ts_eq(&a.st_ctim, &b.st_ctim));
	pc_old_times("f");
	a = pc_get("f");
	fd = TFD(open("f", O_WRONLY | O_TRUNC));	/* already empty */
	close(fd);
	b = pc_get("f");
	pc_yes("mtime changed by O_TRUNC of empty file", !pc_ts_eq(&a.st_mtim, &b.st_mtim));
	pc_write_file("g", "0123456789", 0644);
	fd = TFD(open("g", O_RDONLY | O_TRUNC));
	close(fd);
	pc_stat("g");
	pc_write_file("h", "0123456789", 0444);
	fd = TFD(open("h", O_RDWR | O_TRUNC));
	close(fd);
	pc_stat("h");
}

static void open_append(void)
{
	int a, b;

	pc_write_file("f", "abc", 0644);
	a = TFD(open("f", O_WRONLY | O_APPEND));
	b = TFD(open("f", O_WRONLY | O_APPEND));
	T(lseek(a, 0, SEEK_SET));
	T(write(a, "def", 3));
	T(write(b, "gh", 2));
	T(write(a, "ij", 2));
	T(lseek(a, 0, SEEK_CUR));
	T(pwrite(b, "K", 1, 0));	/* Linux: pwrite on O_APPEND appends */
	T(lseek(b, 0, SEEK_CUR));
	close(a);
	close(b);
	pc_content("f");
	a = TFD(open("f", O_RDWR | O_APPEND));
	T(lseek(a, 1, SEEK_SET));
	T(read(a, (char[2]){ 0 }, 2));
	T(write(a, "Z", 1));
	close(a);
	pc_content("f");
	pc_stat("f");
	a = TFD(open("f", O_RDONLY));
	T(fcntl(a, F_SETFL, O_APPEND));
	T(fcntl(a, F_GETFL) & O_APPEND);
	close(a);
}

static void open_tmpfile(void)
{
	char proc[64];
	int fd, fd2;

	T(mkdir("d", 0755));
	fd = TFD(open("d", O_TMPFILE | O_RDWR, 0640));
	if (fd >= 0) {
		T(write(fd, "tmp data", 8));
		pc_fstat(fd, "tmpfile");
		pc_readdir("d");
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		T(linkat(AT_FDCWD, proc, AT_FDCWD, "d/linked", AT_SYMLINK_FOLLOW));
		pc_fstat(fd, "tmpfile after linkat");
		pc_stat("d/linked");
		pc_content("d/linked");
		T(linkat(fd, "", AT_FDCWD, "d/linked2", AT_EMPTY_PATH));
		pc_stat("d/linked");
		close(fd);
	}
	fd2 = TFD(open("d", O_TMPFILE | O_EXCL | O_WRONLY, 0600));
	if (fd2 >= 0) {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd2);
		T(linkat(AT_FDCWD, proc, AT_FDCWD, "d/excl", AT_SYMLINK_FOLLOW));
		close(fd2);
	}
	pc_write_file("f", "x", 0644);
	T(open("f", O_TMPFILE | O_RDWR, 0600));
	T(open("d", O_TMPFILE | O_RDONLY, 0600));
	T(open("missing", O_TMPFILE | O_RDWR, 0600));
	pc_readdir("d");
}

static void chmod_modes(void)
{
	static const mode_t modes[] = {
		0, 0777, 07777, 04755, 02755, 01755, 02745, 0640, 0111, 06000,
	};
	size_t i;
	int fd;

	pc_write_file("f", "x", 0644);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		chmod_one("f", modes[i]);
		pc_stat("f");
	}
	T(mkdir("d", 0755));
	T(chmod("d", 01777));
	pc_stat("d");
	T(chmod("d", 02755));
	pc_stat("d");
	T(chmod("d", 07000));
	pc_stat("d");
	T(mkfifo("p", 0644));
	T(chmod("p", 0600));
	pc_stat("p");
	fd = TFD(open("f", O_RDONLY));
	T(fchmod(fd, 0604));
	pc_fstat(fd, "f");
	close(fd);
	fd = TFD(open("f", O_PATH));
	T(fchmod(fd, 0600));
	close(fd);
	T(chmod("missing", 0644));
	T(chmod("f/x", 0644));
}

static void chmod_symlink(void)
{
	struct stat a, b;

	pc_write_file("f", "x", 0644);
	T(symlink("f", "s"));
	T(chmod("s", 0600));
	pc_stat("f");
	pc_lstat("s");
	T(fchmodat(AT_FDCWD, "s", 0644, AT_SYMLINK_NOFOLLOW));
	T(fchmodat(AT_FDCWD, "f", 0640, AT_SYMLINK_NOFOLLOW));
	pc_stat("f");
	T(symlink("missing", "dangling"));
	T(chmod("dangling", 0644));
	a = pc_get("f");
	pc_tick();
	T(chmod("f", 0640));		/* same mode */
	b = pc_get("f");
	pc_yes("ctime changed by chmod to same mode", !pc_ts_eq(&a.st_ctim, &b.st_ctim));
	pc_yes("mtime changed by chmod", !pc_ts_eq(&a.st_mtim, &b.st_mtim));
}

static void chown_basic(void)
{
	struct stat a, b;
	int fd;

	pc_write_file("f", "x", 0644);
	T(chown("f", 1234, 5678));
	pc_stat("f");
	T(chown("f", -1, 91));
	pc_stat("f");
	T(chown("f", 92, -1));
	pc_stat("f");
	a = pc_get("f");
	pc_tick();
	T(chown("f", -1, -1));
	b = pc_get("f");
	pc_stat("f");
	pc_yes("ctime changed by chown(-1, -1)", !pc_ts_eq(&a.st_ctim, &b.st_ctim));
	fd = TFD(open("f", O_RDONLY));
	T(fchown(fd, 0, 0));
	pc_fstat(fd, "f");
	close(fd);
	fd = TFD(open("f", O_PATH));
	T(fchown(fd, 7, 8));
	T(fchownat(fd, "", 9, 10, AT_EMPTY_PATH));
	close(fd);
	pc_stat("f");
	T(chown("missing", 1, 1));
	T(mkdir("d", 0755));
	T(chown("d", 100, 200));
	pc_stat("d");
	T(chown("f", 4294967294u, 4294967294u));
	pc_stat("f");
}

static void chown_symlink(void)
{
	pc_write_file("f", "x", 0644);
	T(symlink("f", "s"));
	T(lchown("s", 11, 12));
	pc_lstat("s");
	pc_stat("f");
	T(chown("s", 13, 14));
	pc_lstat("s");
	pc_stat("f");
	T(fchownat(AT_FDCWD, "s", 15, 16, AT_SYMLINK_NOFOLLOW));
	pc_lstat("s");
	T(symlink("missing", "dangling"));
	T(chown("dangling", 1, 1));
	T(lchown("dangling", 1, 1));
	pc_lstat("dangling");
}

/* chown clears setuid, and setgid when group-exec, even for root. */
static void chown_kills_suid(void)
{
	static const mode_t modes[] = { 06755, 06745, 04700, 02711, 02701 };
	size_t i;

	pc_write_file("f", "x", 0644);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		chmod_one("f", modes[i]);
		T(chown("f", 0, 0));
		pc_stat("f");
		chmod_one("f", modes[i]);
		T(chown("f", -1, -1));
		pc_stat("f");
		chmod_one("f", modes[i]);
		T(chown("f", 55, 66));
		pc_stat("f");
	}
	T(mkdir("d", 0755));
	T(chmod("d", 06755));
	T(chown("d", 77, 88));
	pc_stat("d");
	T(symlink("f", "s"));
	T(chmod("f", 06755));
	T(lchown("s", 1, 1));
	pc_stat("f");
}

static void truncate_sizes(void)
{
	char buf[16];
	int fd;

	pc_write_file("f", "0123456789", 0644);
	T(truncate("f", 1000));
	pc_stat("f");
	fd = TFD(open("f", O_RDONLY));
	T(pread(fd, buf, 4, 500));
	pc_yes("grown region reads as zeros", !memcmp(buf, "\0\0\0\0", 4));
	close(fd);
	T(truncate("f", 4));
	pc_content("f");
	T(truncate("f", 0));
	pc_stat("f");
	T(truncate("f", -1));
	T(truncate("f", 1LL << 40));
	pc_stat("f");
	T(truncate("f", 1LL << 50));
	pc_stat("f");
	T(truncate("f", 3));
	pc_content("f");
	T(mkdir("d", 0755));
	T(truncate("d", 0));
	T(truncate("missing", 0));
	T(truncate("f/", 0));
	T(symlink("f", "s"));
	T(truncate("s", 2));
	pc_stat("f");
	T(mkfifo("p", 0644));
	T(truncate("p", 0));
}

static void truncate_times(void)
{
	struct stat a, b;

	pc_write_file("f", "0123456789", 0644);
	pc_old_times("f");
	a = pc_get("f");
	pc_tick();
	T(truncate("f", 5));
	b = pc_get("f");
	pc_yes("mtime changed by shrink", !pc_ts_eq(&a.st_mtim, &b.st_mtim));
	pc_yes("ctime changed by shrink", !pc_ts_eq(&a.st_ctim, &b.st_ctim));
	pc_old_times("f");
	a = pc_get("f");
	pc_tick();
	T(truncate("f", 5));
	b = pc_get("f");
	pc_yes("mtime changed by same-size truncate", !pc_ts_eq(&a.st_mtim, &b.st_mtim));
	pc_yes("ctime changed by same-size truncate", !pc_ts_eq(&a.st_ctim, &b.st_ctim));
	pc_old_times("f");
	a = pc_get("f");
	pc_tick();
	T(truncate("f", 50));
	b = pc_get("f");
	pc_yes("mtime changed by grow", !pc_ts_eq(&a.st_mtim, &b.st_mtim));
}

static void ftruncate_errors(void)
{
	int fd;

	pc_write_file("f", "0123456789", 0644);
	fd = TFD(open("f", O_RDONLY));
	T(ftruncate(fd, 2));
	close(fd);
	fd = TFD(open("f", O_PATH));
	T(ftruncate(fd, 2));
	close(fd);
	fd = TFD(open(".", O_RDONLY));
	T(ftruncate(fd, 0));
	close(fd);
	fd = TFD(open("f", O_WRONLY));
	T(ftruncate(fd, -5));
	T(ftruncate(fd, 7));
	pc_fstat(fd, "f");
	T(ftruncate(fd, 20000));
	pc_fstat(fd, "f");
	close(fd);
	fd = TFD(open("f", O_RDWR | O_APPEND));
	T(ftruncate(fd, 3));
	T(write(fd, "Z", 1));
	close(fd);
	pc_content("f");
	fd = TFD(open("f", O_WRONLY));
	T(unlink("f"));
	T(ftruncate(fd, 1));
	pc_fstat(fd, "unlinked f");
	close(fd);
}

const struct pc_case pc_cases_file[] = {
	{ "open.creat", NULL, open_creat, PC_ROOT },
	{ "open.modes", NULL, open_modes, PC_ROOT },
	{ "open.dir_flags", NULL, open_dir_flags, PC_ROOT },
	{ "open.nofollow", NULL, open_nofollow, PC_ROOT },
	{ "open.trunc", NULL, open_trunc, PC_ROOT },
	{ "open.append", NULL, open_append, PC_ROOT },
	{ "open.tmpfile", NULL, open_tmpfile, PC_ROOT },
	{ "chmod.modes", NULL, chmod_modes, PC_ROOT },
	{ "chmod.symlink", NULL, chmod_symlink, PC_ROOT },
	{ "chown.basic", NULL, chown_basic, PC_ROOT },
	{ "chown.symlink", NULL, chown_symlink, PC_ROOT },
	{ "chown.kills_suid", NULL, chown_kills_suid, PC_ROOT },
	{ "truncate.sizes", NULL, truncate_sizes, PC_ROOT },
	{ "truncate.times", NULL, truncate_times, PC_ROOT },
	{ "ftruncate.errors", NULL, ftruncate_errors, PC_ROOT },
	{ NULL },
};
