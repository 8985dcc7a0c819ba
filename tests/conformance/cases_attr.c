// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cases_attr.c - timestamps (utimensat), extended attributes and POSIX ACLs
 * stored as system.posix_acl_* xattrs. Run as root.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "posixcmp.h"

#define ACL_ACCESS	"system.posix_acl_access"
#define ACL_DEFAULT	"system.posix_acl_default"

static void say_times(const char *path)
{
	struct stat st = pc_get(path);

	pc_say("times %s = atime %lld.%09ld mtime %lld.%09ld", path,
	       (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
	       (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

static void say_mtime(const char *path)
{
	struct stat st = pc_get(path);

	pc_say("mtime %s = %lld.%09ld", path, (long long)st.st_mtim.tv_sec,
	       st.st_mtim.tv_nsec);
}

static bool recent(const struct timespec *ts)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return ts->tv_sec > now.tv_sec - 30 && ts->tv_sec <= now.tv_sec + 1;
}

static void utimens_explicit(void)
{
	struct timespec t[2] = { { 1000000000, 123456789 }, { 1100000000, 987654321 } };
	struct stat a, b;
	int fd;

	pc_write_file("f", "x", 0644);
	a = pc_get("f");
	pc_tick();
	T(utimensat(AT_FDCWD, "f", t, 0));
	b = pc_get("f");
	say_times("f");
	pc_yes("ctime changed by utimensat", !pc_ts_eq(&a.st_ctim, &b.st_ctim));
	t[0].tv_nsec = UTIME_OMIT;
	t[1] = (struct timespec){ 1200000000, 1 };
	T(utimensat(AT_FDCWD, "f", t, 0));
	say_times("f");
	t[0] = (struct timespec){ -1, 500000000 };
	t[1] = (struct timespec){ 8589934592LL, 999999999 };	/* year 2242 */
	T(utimensat(AT_FDCWD, "f", t, 0));
	say_times("f");
	t[0] = (struct timespec){ 0, 1000000000 };
	T(utimensat(AT_FDCWD, "f", t, 0));
	t[0] = (struct timespec){ 0, -1 };
	T(utimensat(AT_FDCWD, "f", t, 0));
	t[0] = (struct timespec){ 0, 0 };
	t[1] = (struct timespec){ 0, 0 };
	T(utimensat(AT_FDCWD, "f", t, 0));
	say_times("f");
	T(utimensat(AT_FDCWD, "missing", t, 0));
	T(mkdir("d", 0755));
	T(utimensat(AT_FDCWD, "d", t, 0));
	say_times("d");
	fd = TFD(open("f", O_RDONLY));
	t[0] = (struct timespec){ 1300000000, 42 };
	T(futimens(fd, t));
	close(fd);
	say_times("f");
	T(utimensat(AT_FDCWD, "f", t, 0x4000));
}

static void utimens_now_omit(void)
{
	struct timespec t[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };
	struct stat a, b;

	pc_write_file("f", "x", 0644);
	pc_old_times("f");
	T(utimensat(AT_FDCWD, "f", t, 0));
	b = pc_get("f");
	pc_yes("UTIME_NOW atime recent", recent(&b.st_atim));
	pc_yes("UTIME_NOW mtime recent", recent(&b.st_mtim));
	pc_yes("UTIME_NOW atime == mtime", pc_ts_eq(&b.st_atim, &b.st_mtim));
	pc_old_times("f");
	t[1].tv_nsec = UTIME_OMIT;
	T(utimensat(AT_FDCWD, "f", t, 0));
	b = pc_get("f");
	pc_yes("atime recent", recent(&b.st_atim));
	say_mtime("f");		/* stays old */
	pc_old_times("f");
	T(utimensat(AT_FDCWD, "f", NULL, 0));
	b = pc_get("f");
	pc_yes("NULL times: both recent", recent(&b.st_atim) && recent(&b.st_mtim));
	a = pc_get("f");
	pc_tick();
	t[0].tv_nsec = UTIME_OMIT;
	t[1].tv_nsec = UTIME_OMIT;
	T(utimensat(AT_FDCWD, "f", t, 0));
	b = pc_get("f");
	pc_yes("ctime changed by UTIME_OMIT twice", !pc_ts_eq(&a.st_ctim, &b.st_ctim));
	pc_yes("mtime changed by UTIME_OMIT twice", !pc_ts_eq(&a.st_mtim, &b.st_mtim));
}

static void utimens_symlink(void)
{
	struct timespec t[2] = { { 1000000001, 5 }, { 1000000002, 6 } };
	struct stat st;

	pc_write_file("f", "x", 0644);
	T(symlink("f", "s"));
	pc_old_times("f");
	T(utimensat(AT_FDCWD, "s", t, AT_SYMLINK_NOFOLLOW));
	say_times("s");
	say_times("f");
	t[1] = (struct timespec){ 1000000003, 7 };
	T(utimensat(AT_FDCWD, "s", t, 0));
	say_mtime("s");		/* following it may touch its atime */
	say_times("f");
	T(symlink("missing", "dangling"));
	T(utimensat(AT_FDCWD, "dangling", t, 0));
	T(utimensat(AT_FDCWD, "dangling", t, AT_SYMLINK_NOFOLLOW));
	say_times("dangling");
	t[0].tv_nsec = UTIME_NOW;
	T(utimensat(AT_FDCWD, "dangling", t, AT_SYMLINK_NOFOLLOW));
	st = pc_get("dangling");
	pc_yes("symlink atime recent", recent(&st.st_atim));
}

static void xattr_basic(void)
{
	char buf[16];

	pc_write_file("f", "x", 0644);
	T(setxattr("f", "user.a", "hello", 5, 0));
	T(getxattr("f", "user.a", NULL, 0));
	T(getxattr("f", "user.a", buf, sizeof(buf)));
	pc_xattr_get("f", "user.a");
	T(getxattr("f", "user.a", buf, 2));
	T(setxattr("f", "user.a", "bye", 3, 0));
	pc_xattr_get("f", "user.a");
	T(setxattr("f", "user.a", "x", 1, XATTR_CREATE));
	T(setxattr("f", "user.b", "x", 1, XATTR_REPLACE));
	T(setxattr("f", "user.b", "bee", 3, XATTR_CREATE));
	T(setxattr("f", "user.c", "sea", 3, XATTR_REPLACE));
	T(setxattr("f", "user.a", "x", 1, XATTR_CREATE | XATTR_REPLACE));
	T(setxattr("f", "user.a", "x", 1, 0x10));
	T(setxattr("f", "user.empty", "", 0, 0));
	pc_xattr_get("f", "user.empty");
	T(getxattr("f", "user.empty", NULL, 0));
	pc_xattr_list("f");
	T(listxattr("f", NULL, 0));
	T(listxattr("f", buf, 4));
	T(removexattr("f", "user.a"));
	T(removexattr("f", "user.a"));
	T(getxattr("f", "user.a", buf, sizeof(buf)));
	T(getxattr("f", "user.never", NULL, 0));
	pc_xattr_list("f");
	T(getxattr("missing", "user.a", NULL, 0));
	T(setxattr("missing", "user.a", "x", 1, 0));
}

static void xattr_names(void)
{
	char name[300], big[70000];

	pc_write_file("f", "x", 0644);
	strcpy(name, "user.");
	memset(name + 5, 'x', 250);
	name[255] = 0;
	T(setxattr("f", name, "ok", 2, 0));
	pc_xattr_get("f", name);
	strcat(name, "y");
	T(setxattr("f", name, "no", 2, 0));
	T(getxattr("f", name, NULL, 0));
	T(setxattr("f", "user.", "x", 1, 0));
	T(setxattr("f", "", "x", 1, 0));
	T(setxattr("f", "foo.bar", "x", 1, 0));
	T(getxattr("f", "foo.bar", NULL, 0));
	T(setxattr("f", "trusted.t", "tv", 2, 0));
	pc_xattr_get("f", "trusted.t");
	T(setxattr("f", "security.sx", "sv", 2, 0));
	pc_xattr_get("f", "security.sx");
	pc_pattern(big, sizeof(big), 3);
	T(setxattr("f", "user.1k", big, 1000, 0));
	pc_xattr_get("f", "user.1k");
	T(setxattr("f", "user.64k", big, 65536, 0));
	T(setxattr("f", "user.64k1", big, 65537, 0));
	T(setxattr("f", "user.3k", big, 3000, 0));
	T(getxattr("f", "user.3k", NULL, 0));
	pc_xattr_list("f");
}

static void xattr_kinds(void)
{
	int fd;

	T(mkdir("d", 0755));
	T(setxattr("d", "user.d", "dir", 3, 0));
	pc_xattr_get("d", "user.d");
	T(symlink("d", "s"));
	T(lsetxattr("s", "user.s", "x", 1, 0));
	T(lsetxattr("s", "trusted.s", "lnk", 3, 0));
	pc_xattr_get("s", "trusted.s");
	T(setxattr("s", "user.via", "link", 4, 0));	/* follows to d */
	pc_xattr_list("d");
	pc_xattr_list("s");
	T(mkfifo("p", 0644));
	T(setxattr("p", "user.p", "x", 1, 0));
	T(setxattr("p", "trusted.p", "fifo", 4, 0));
	pc_xattr_get("p", "trusted.p");
	pc_write_file("f", "x", 0644);
	fd = TFD(open("f", O_RDONLY));
	T(fsetxattr(fd, "user.f", "fd", 2, 0));
	T(fgetxattr(fd, "user.f", NULL, 0));
	T(flistxattr(fd, NULL, 0));
	T(fremovexattr(fd, "user.f"));
	T(fremovexattr(fd, "user.f"));
	close(fd);
	fd = TFD(open("f", O_PATH));
	T(fsetxattr(fd, "user.g", "fd", 2, 0));
	close(fd);
	T(unlink("f"));
	pc_xattr_list(".");
}

static void acl_access(void)
{
	char blob[256];
	size_t n;

	pc_write_file("f", "x", 0644);
	n = pc_acl_build(blob, sizeof(blob), "u::rwx,u:1234:r-x,g::r--,m::rw-,o::---");
	T(setxattr("f", ACL_ACCESS, blob, n, 0));
	pc_stat("f");
	pc_acl_get("f", ACL_ACCESS);
	pc_xattr_list("f");
	T(chmod("f", 0741));
	pc_stat("f");
	pc_acl_get("f", ACL_ACCESS);
	n = pc_acl_build(blob, sizeof(blob), "u::rw-,g::r-x,o::r--");
	T(setxattr("f", ACL_ACCESS, blob, n, 0));	/* minimal: only the mode */
	pc_stat("f");
	pc_acl_get("f", ACL_ACCESS);
	n = pc_acl_build(blob, sizeof(blob), "u::rwx,u:7:rwx,g::r--,o::---");
	T(setxattr("f", ACL_ACCESS, blob, n, 0));	/* named user without mask */
	T(setxattr("f", ACL_ACCESS, "garbage!", 8, 0));
	n = pc_acl_build(blob, sizeof(blob), "u::rwx,g::rwx,g:99:r--,m::r-x,o::r--");
	T(setxattr("f", ACL_ACCESS, blob, n, 0));
	pc_stat("f");
	pc_acl_get("f", ACL_ACCESS);
	T(removexattr("f", ACL_ACCESS));
	pc_stat("f");
	pc_acl_get("f", ACL_ACCESS);
	T(setxattr("f", ACL_DEFAULT, blob, n, 0));
	T(symlink("f", "s"));
	T(lsetxattr("s", ACL_ACCESS, blob, n, 0));
}

static void acl_default(void)
{
	char blob[256];
	size_t n;
	int fd;

	T(mkdir("d", 0755));
	n = pc_acl_build(blob, sizeof(blob), "u::rwx,u:1234:rwx,g::r-x,m::rwx,o::---");
	T(setxattr("d", ACL_DEFAULT, blob, n, 0));
	pc_acl_get("d", ACL_DEFAULT);
	pc_acl_get("d", ACL_ACCESS);
	pc_stat("d");
	umask(077);		/* ignored under a default ACL */
	fd = TFD(open("d/f", O_CREAT | O_WRONLY, 0666));
	close(fd);
	pc_stat("d/f");
	pc_acl_get("d/f", ACL_ACCESS);
	pc_acl_get("d/f", ACL_DEFAULT);
	T(mkdir("d/sub", 0777));
	pc_stat("d/sub");
	pc_acl_get("d/sub", ACL_ACCESS);
	pc_acl_get("d/sub", ACL_DEFAULT);
	fd = TFD(open("d/sub/g", O_CREAT | O_WRONLY, 0640));
	close(fd);
	pc_stat("d/sub/g");
	pc_acl_get("d/sub/g", ACL_ACCESS);
	T(mknod("d/p", S_IFIFO | 0666, 0));
	pc_stat("d/p");
	T(symlink("x", "d/s"));
	pc_lstat("d/s");
	n = pc_acl_build(blob, sizeof(blob), "u::rwx,g::r-x,o::r-x");
	T(setxattr("d", ACL_DEFAULT, blob, n, 0));	/* minimal default */
	fd = TFD(open("d/h", O_CREAT | O_WRONLY, 0666));
	close(fd);
	pc_stat("d/h");
	T(removexattr("d", ACL_DEFAULT));
	T(removexattr("d", ACL_DEFAULT));
	fd = TFD(open("d/i", O_CREAT | O_WRONLY, 0666));
	close(fd);
	pc_stat("d/i");
	umask(022);
}

const struct pc_case pc_cases_attr[] = {
	{ "utimens.explicit", NULL, utimens_explicit, PC_ROOT },
	{ "utimens.now_omit", NULL, utimens_now_omit, PC_ROOT },
	{ "utimens.symlink", NULL, utimens_symlink, PC_ROOT },
	{ "xattr.basic", NULL, xattr_basic, PC_ROOT },
	{ "xattr.names", NULL, xattr_names, PC_ROOT },
	{ "xattr.kinds", NULL, xattr_kinds, PC_ROOT },
	{ "acl.access", NULL, acl_access, PC_ROOT },
	{ "acl.default", NULL, acl_default, PC_ROOT },
	{ NULL },
};
