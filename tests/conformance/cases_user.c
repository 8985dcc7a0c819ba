// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cases_user.c - cases run by an unprivileged identity (posixcmp --as).
 * Each prep function runs as root in the case dir (owned by the runner) and
 * builds fixtures owned by others; the run function runs as the runner.
 *
 * Groups: supp() is a supplementary group the runner is in (its gid when it
 * has none), PC_OTHER_GID a group it is never in.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "posixcmp.h"

#define ACL_ACCESS	"system.posix_acl_access"
#define ACL_DEFAULT	"system.posix_acl_default"

static gid_t supp(void)
{
	int i;

	for (i = 0; i < pc_id.ngroups; i++)
		if (pc_id.groups[i] != pc_id.gid)
			return pc_id.groups[i];
	return pc_id.gid;
}

/* Create a fixture with exact owner and mode (chown clears suid bits). */
static void fixture(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	pc_write_file(path, "data", 0600);
	if (chown(path, uid, gid) < 0 || chmod(path, mode) < 0)
		pc_say("setup: %s: %s", path, pc_errname(errno));
}

static void fixture_dir(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	if (mkdir(path, 0700) < 0 || chown(path, uid, gid) < 0 ||
	    chmod(path, mode) < 0)
		pc_say("setup: %s: %s", path, pc_errname(errno));
}

static void owner_run(void)
{
	int fd;

	fd = TFD(creat("f", 0644));
	close(fd);
	pc_stat("f");
	T(mkdir("d", 0755));
	pc_stat("d");
	T(symlink("f", "s"));
	pc_lstat("s");
	T(mkfifo("p", 0600));
	pc_stat("p");
	T(mknod("chr", S_IFCHR | 0600, makedev(1, 3)));
	T(mknod("reg", S_IFREG | 0600, 0));
	pc_stat("reg");
	T(chown("f", -1, supp()));
	pc_stat("f");
	T(chown("f", -1, PC_OTHER_GID));
	T(chown("f", PC_OTHER_UID, -1));
	T(chown("f", pc_id.uid, -1));
	T(chown("f", -1, -1));
	T(lchown("s", -1, supp()));
	pc_lstat("s");
	T(chmod("f", 0600));
	T(link("f", "l"));
	pc_stat("l");
	T(rename("l", "d/l"));
	T(unlink("d/l"));
	T(rmdir("d"));
}

static void sgid_prep(void)
{
	fixture_dir("sgm", 0, supp(), 02777);
	fixture_dir("sgn", 0, PC_OTHER_GID, 02777);
}

static void sgid_in(const char *dir)
{
	char p[64];
	int fd;

	snprintf(p, sizeof(p), "%s/f", dir);
	fd = TFD(creat(p, 0644));
	close(fd);
	pc_stat(p);
	snprintf(p, sizeof(p), "%s/d", dir);
	T(mkdir(p, 0755));
	pc_stat(p);
	snprintf(p, sizeof(p), "%s/d/f", dir);
	fd = TFD(creat(p, 0644));
	close(fd);
	pc_stat(p);
	snprintf(p, sizeof(p), "%s/sx", dir);
	fd = TFD(open(p, O_CREAT | O_WRONLY, 02755));
	close(fd);
	pc_stat(p);
	snprintf(p, sizeof(p), "%s/snx", dir);
	fd = TFD(open(p, O_CREAT | O_WRONLY, 02745));
	close(fd);
	pc_stat(p);
	snprintf(p, sizeof(p), "%s/d2", dir);
	T(mkdir(p, 02755));
	pc_stat(p);
	snprintf(p, sizeof(p), "%s/p", dir);
	T(mkfifo(p, 0644));
	pc_stat(p);
	snprintf(p, sizeof(p), "%s/s", dir);
	T(symlink("f", p));
	pc_lstat(p);
}

static void sgid_run(void)
{
	sgid_in("sgm");
	sgid_in("sgn");
}

static void kill_prep(void)
{
	fixture("w6777", 0, 0, 06777);
	fixture("w6767", 0, 0, 06767);
	fixture("w2777", 0, supp(), 02777);
	fixture("w2767m", 0, supp(), 02767);		/* runner is in the group */
	fixture("t6767", 0, 0, 06767);
	fixture("w4777", 0, 0, 04777);
	fixture("t6777", 0, 0, 06777);
	fixture("ft6777", 0, 0, 06777);
	fixture("own6777", pc_id.uid, pc_id.gid, 06777);
	fixture("z6777", 0, 0, 06777);
	fixture("a6777", 0, 0, 06777);
}

static void write_one(const char *path, int flags)
{
	int fd = TFD(open(path, O_WRONLY | flags));

	T(write(fd, "xy", 2));
	close(fd);
	pc_stat(path);
}

static void kill_run(void)
{
	int fd;

	write_one("w6777", 0);
	write_one("w6767", 0);
	write_one("w2777", 0);
	write_one("w2767m", 0);
	write_one("w4777", 0);
	write_one("own6777", 0);
	write_one("a6777", O_APPEND);
	T(truncate("t6777", 2));
	pc_stat("t6777");
	T(truncate("t6767", 3));
	pc_stat("t6767");
	fd = TFD(open("ft6777", O_WRONLY));
	T(ftruncate(fd, 1));
	close(fd);
	pc_stat("ft6777");
	fd = TFD(open("z6777", O_WRONLY));
	T(write(fd, "", 0));
	close(fd);
	pc_stat("z6777");
}

static void chmod_sgid_prep(void)
{
	fixture("other_grp", pc_id.uid, PC_OTHER_GID, 0644);
	fixture("supp_grp", pc_id.uid, supp(), 0644);
	fixture_dir("other_dir", pc_id.uid, PC_OTHER_GID, 0755);
}

static void chmod_sgid_run(void)
{
	int fd;

	T(chmod("other_grp", 02755));
	pc_stat("other_grp");
	T(chmod("other_grp", 06755));
	pc_stat("other_grp");
	T(chmod("supp_grp", 02755));
	pc_stat("supp_grp");
	fd = TFD(open("other_grp", O_RDONLY));
	T(fchmod(fd, 02711));
	pc_fstat(fd, "other_grp");
	close(fd);
	T(chmod("other_dir", 02755));
	pc_stat("other_dir");
	T(chmod("other_dir", 01777));
	pc_stat("other_dir");
}

static void eacces_prep(void)
{
	fixture_dir("ro", 0, 0, 0755);
	fixture("ro/existing", 0, 0, 0666);
	fixture_dir("ro/sub", pc_id.uid, pc_id.gid, 0777);
	(void)chmod("ro", 0555);
	fixture_dir("nox", 0, 0, 0755);
	fixture("nox/f", 0, 0, 0644);
	(void)chmod("nox", 0666);
	fixture("noread", 0, 0, 0200);
	fixture("nowrite", 0, 0, 0444);
	fixture_dir("a", 0, 0, 0777);
	fixture_dir("a/rootsub", 0, 0, 0755);
	fixture_dir("b", 0, 0, 0777);
}

static void eacces_run(void)
{
	T(creat("ro/f", 0644));
	T(mkdir("ro/d", 0755));
	T(unlink("ro/existing"));
	T(rename("ro/existing", "ro/x"));
	T(rename("ro/existing", "mine"));
	T(link("ro/existing", "ro/l"));
	T(symlink("x", "ro/s"));
	T(mkfifo("ro/p", 0644));
	T(rmdir("ro/sub"));
	T(creat("ro/sub/ok", 0644));
	pc_stat("nox/f");
	T(open("nox/f", O_RDONLY));
	T(chdir("nox"));
	pc_readdir("nox");
	T(open("noread", O_RDONLY));
	T(open("noread", O_WRONLY));
	T(open("nowrite", O_WRONLY));
	T(open("nowrite", O_RDONLY | O_TRUNC));
	T(truncate("nowrite", 0));
	T(rename("a/rootsub", "b/rootsub"));
	T(rename("a/rootsub", "a/renamed"));
	pc_stat("a/renamed");
}

static void eperm_prep(void)
{
	fixture("rootf", 0, 0, 0666);
	fixture("rootro", 0, 0, 0644);
	fixture_dir("rootd", 0, 0, 0777);
}

static void eperm_run(void)
{
	struct timespec t[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	int fd;

	T(chmod("rootf", 0600));
	T(chown("rootf", pc_id.uid, -1));
	T(chown("rootf", -1, -1));
	T(chown("rootf", -1, supp()));
	fd = TFD(open("rootf", O_RDWR));
	T(fchmod(fd, 0600));
	T(fchown(fd, pc_id.uid, pc_id.gid));
	close(fd);
	T(utimensat(AT_FDCWD, "rootf", t, 0));
	T(chmod("rootd", 0700));
	T(setxattr("rootf", "trusted.t", "x", 1, 0));
	T(setxattr("rootf", "user.u", "x", 1, 0));
	T(setxattr("rootro", "user.u", "x", 1, 0));
	T(getxattr("rootro", "user.u", NULL, 0));
	T(setxattr("rootd", "user.u", "x", 1, 0));
	T(creat("rootd/mine", 0644));
	T(setxattr("rootd/mine", "trusted.t", "x", 1, 0));
	T(setxattr("rootd/mine", "security.s", "x", 1, 0));
	T(setxattr("rootd/mine", "user.m", "x", 1, 0));
	T(getxattr("rootd/mine", "trusted.t", NULL, 0));
	pc_xattr_list("rootd/mine");
	T(link("rootro", "hl"));	/* protected_hardlinks */
	T(link("rootf", "hl2"));
	pc_stat("rootf");
}

static void sticky_prep(void)
{
	fixture_dir("st", 0, 0, 01777);
	fixture("st/other", PC_OTHER_UID, PC_OTHER_GID, 0666);
	fixture("st/rootf", 0, 0, 0666);
	fixture_dir("st/odir", PC_OTHER_UID, PC_OTHER_GID, 0777);
}

static void sticky_run(void)
{
	int fd;

	T(unlink("st/other"));
	T(rename("st/other", "st/x"));
	T(rename("st/other", "taken"));
	T(rmdir("st/odir"));
	T(rename("st/odir", "st/odir2"));
	T(unlink("st/rootf"));
	fd = TFD(creat("st/mine", 0644));
	close(fd);
	pc_stat("st/mine");
	T(rename("st/mine", "st/other"));
	T(rename("st/mine", "st/mine2"));
	T(unlink("st/mine2"));
	fd = TFD(open("st/other", O_WRONLY | O_APPEND));
	T(write(fd, "ok", 2));
	close(fd);
	T(link("st/other", "st/hl"));
	T(unlink("st/hl"));
	T(mkdir("st/odir/mine", 0755));
	T(rmdir("st/odir/mine"));
	pc_readdir("st");
}

static void group_prep(void)
{
	fixture("g", 0, supp(), 0060);
	fixture("o", 0, PC_OTHER_GID, 0060);
	fixture("go", 0, supp(), 0604);
	fixture_dir("gd", 0, supp(), 0775);
	fixture("gd/f", 0, 0, 0644);
	(void)chmod("gd", 0070);
}

static void group_run(void)
{
	int fd;

	fd = TFD(open("g", O_RDWR));
	close(fd);
	T(open("o", O_RDONLY));
	T(open("go", O_RDONLY));	/* group class matches: others' r unused */
	pc_stat("gd/f");
	fd = TFD(creat("gd/new", 0644));
	close(fd);
	pc_stat("gd/new");
	pc_readdir("gd");
	T(access("g", R_OK | W_OK));
	T(access("o", R_OK));
	T(faccessat(AT_FDCWD, "g", W_OK, AT_EACCESS));
}

static void utimes_prep(void)
{
	fixture("w", 0, 0, 0666);
	fixture("r", 0, 0, 0644);
	fixture("own", pc_id.uid, pc_id.gid, 0444);
}

static void utimes_run(void)
{
	struct timespec now[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };
	struct timespec set[2] = { { 1000000000, 1 }, { 1000000000, 2 } };
	struct timespec mix[2] = { { 0, UTIME_NOW }, { 0, UTIME_OMIT } };
	struct timespec mix2[2] = { { 0, UTIME_OMIT }, { 1000000000, 3 } };
	struct timespec omit[2] = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } };

	T(utimensat(AT_FDCWD, "w", NULL, 0));
	T(utimensat(AT_FDCWD, "w", now, 0));
	T(utimensat(AT_FDCWD, "w", set, 0));
	T(utimensat(AT_FDCWD, "w", mix, 0));
	T(utimensat(AT_FDCWD, "w", mix2, 0));
	T(utimensat(AT_FDCWD, "w", omit, 0));
	T(utimensat(AT_FDCWD, "r", NULL, 0));
	T(utimensat(AT_FDCWD, "r", now, 0));
	T(utimensat(AT_FDCWD, "r", set, 0));
	T(utimensat(AT_FDCWD, "own", set, 0));
	T(utimensat(AT_FDCWD, "own", NULL, 0));
	pc_yes("own mtime recent", pc_get("own").st_mtim.tv_sec > 1000000000);
}

static void access_prep(void)
{
	static const mode_t modes[] = { 0, 0400, 0040, 0004, 0100, 0010, 0001, 0777 };
	char name[16];
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		snprintf(name, sizeof(name), "r%04o", modes[i]);
		fixture(name, 0, supp(), modes[i]);
		snprintf(name, sizeof(name), "u%04o", modes[i]);
		fixture(name, pc_id.uid, PC_OTHER_GID, modes[i]);
	}
}

static void access_run(void)
{
	static const int how[] = { F_OK, R_OK, W_OK, X_OK };
	static const char *const names[] = {
		"r0000", "r0400", "r0040", "r0004", "r0100", "r0010", "r0001", "r0777",
		"u0000", "u0400", "u0040", "u0004", "u0100", "u0010", "u0001", "u0777",
	};
	size_t i, j;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		for (j = 0; j < sizeof(how) / sizeof(how[0]); j++)
			pc_say("access %s %d = %s", names[i], how[j],
			       access(names[i], how[j]) ? pc_errname(errno) : "0");
		pc_say("open %s O_RDONLY = %s", names[i],
		       open(names[i], O_RDONLY) < 0 ? pc_errname(errno) : "fd");
	}
}

static void acl_prep(void)
{
	char blob[256], text[128];
	size_t n;

	fixture("aclf", 0, 0, 0600);
	snprintf(text, sizeof(text), "u::rw-,u:%u:rw-,g::---,m::rw-,o::---", pc_id.uid);
	n = pc_acl_build(blob, sizeof(blob), text);
	if (setxattr("aclf", ACL_ACCESS, blob, n, 0) < 0)
		pc_say("setup: aclf: %s", pc_errname(errno));
	fixture("acldeny", 0, 0, 0666);
	snprintf(text, sizeof(text), "u::rw-,u:%u:---,g::rw-,m::rw-,o::rw-", pc_id.uid);
	n = pc_acl_build(blob, sizeof(blob), text);
	if (setxattr("acldeny", ACL_ACCESS, blob, n, 0) < 0)
		pc_say("setup: acldeny: %s", pc_errname(errno));
	fixture_dir("acld", 0, 0, 0755);
	snprintf(text, sizeof(text), "u::rwx,u:%u:rwx,g::r-x,m::rwx,o::r-x", pc_id.uid);
	n = pc_acl_build(blob, sizeof(blob), text);
	if (setxattr("acld", ACL_DEFAULT, blob, n, 0) < 0 ||
	    setxattr("acld", ACL_ACCESS, blob, n, 0) < 0)
		pc_say("setup: acld: %s", pc_errname(errno));
}

static void acl_run(void)
{
	char blob[256];
	size_t n;
	int fd;

	fd = TFD(open("aclf", O_RDWR));
	close(fd);
	T(open("acldeny", O_RDONLY));
	fd = TFD(creat("acld/new", 0666));
	close(fd);
	pc_stat("acld/new");
	pc_acl_get("acld/new", ACL_ACCESS);
	T(mkdir("acld/sub", 0700));
	pc_stat("acld/sub");
	pc_acl_get("acld/sub", ACL_DEFAULT);
	n = pc_acl_build(blob, sizeof(blob), "u::rwx,u:1:r--,g::---,m::r--,o::---");
	T(setxattr("acld/new", ACL_ACCESS, blob, n, 0));
	pc_stat("acld/new");
	T(setxattr("aclf", ACL_ACCESS, blob, n, 0));
	T(removexattr("aclf", ACL_ACCESS));
	pc_acl_get("aclf", ACL_ACCESS);
}

const struct pc_case pc_cases_user[] = {
	{ "user.owner", NULL, owner_run, PC_USER },
	{ "user.sgid_dir", sgid_prep, sgid_run, PC_USER },
	{ "user.kill_suid", kill_prep, kill_run, PC_USER },
	{ "user.chmod_sgid", chmod_sgid_prep, chmod_sgid_run, PC_USER },
	{ "user.eacces", eacces_prep, eacces_run, PC_USER },
	{ "user.eperm", eperm_prep, eperm_run, PC_USER },
	{ "user.sticky", sticky_prep, sticky_run, PC_USER },
	{ "user.groups", group_prep, group_run, PC_USER },
	{ "user.utimes", utimes_prep, utimes_run, PC_USER },
	{ "user.access", access_prep, access_run, PC_USER },
	{ "user.acl", acl_prep, acl_run, PC_USER },
	{ NULL },
};
