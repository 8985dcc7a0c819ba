// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cases_ns.c - the namespace: link, unlink, rmdir, mkdir, mknod, symlink,
 * readlink, rename (with renameat2 flags), name length limits and paths
 * deeper than PATH_MAX. Run as root.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "posixcmp.h"

static void link_counts(void)
{
	struct stat a, b, d1, d2;

	pc_write_file("f", "data", 0644);
	pc_old_times(".");
	a = pc_get("f");
	d1 = pc_get(".");
	pc_tick();
	T(link("f", "l1"));
	T(link("l1", "l2"));
	b = pc_get("l2");
	d2 = pc_get(".");
	pc_stat("f");
	pc_stat("l1");
	pc_stat("l2");
	pc_yes("ino same through every link", a.st_ino == b.st_ino &&
	       a.st_ino == pc_get("l1").st_ino);
	pc_yes("ctime of source changed by link", !pc_ts_eq(&a.st_ctim, &b.st_ctim));
	pc_yes("dir mtime changed by link", !pc_ts_eq(&d1.st_mtim, &d2.st_mtim));
	T(unlink("l1"));
	pc_stat("f");
	pc_stat("l2");
	T(unlink("f"));
	pc_stat("l2");
	pc_content("l2");
	T(chmod("l2", 0600));
	T(link("l2", "l3"));
	pc_stat("l3");
}

static void link_errors(void)
{
	pc_write_file("f", "data", 0644);
	pc_write_file("g", "data", 0644);
	T(mkdir("d", 0755));
	T(link("f", "g"));
	T(link("f", "d"));
	T(link("d", "dl"));
	T(link("missing", "x"));
	T(link("f", "nodir/x"));
	T(link("f", "f/x"));
	T(link("f", "f"));
	T(link("f", "d/"));
	T(link("f/", "y"));
	T(link("f", ""));
	T(symlink("f", "s"));
	T(link("s", "hs"));			/* hard link to the symlink */
	pc_lstat("hs");
	pc_lstat("s");
	T(linkat(AT_FDCWD, "s", AT_FDCWD, "hf", AT_SYMLINK_FOLLOW));
	pc_lstat("hf");
	pc_stat("f");
	T(mkfifo("p", 0600));
	T(link("p", "p2"));
	pc_lstat("p2");
	T(symlink("missing", "dangling"));
	T(linkat(AT_FDCWD, "dangling", AT_FDCWD, "hd", AT_SYMLINK_FOLLOW));
	T(link("d/../f", "d/f"));
	pc_stat("d/f");
}

static void unlink_cases(void)
{
	struct stat d1, d2;
	int fd;

	pc_write_file("f", "data", 0644);
	T(mkdir("d", 0755));
	T(unlink("d"));
	T(unlink("d/"));
	T(unlink("missing"));
	T(unlink("f/"));
	T(unlink("f/x"));
	T(unlinkat(AT_FDCWD, "f", AT_REMOVEDIR));
	T(unlinkat(AT_FDCWD, "f", 0x1234));
	T(unlink(""));
	T(symlink("f", "s"));
	T(unlink("s"));
	pc_lstat("s");
	pc_stat("f");
	fd = TFD(open("f", O_RDWR));
	pc_old_times(".");
	d1 = pc_get(".");
	pc_tick();
	T(unlink("f"));
	d2 = pc_get(".");
	pc_yes("dir mtime changed by unlink", !pc_ts_eq(&d1.st_mtim, &d2.st_mtim));
	pc_stat("f");
	pc_fstat(fd, "unlinked f");
	T(write(fd, "more", 4));
	pc_fdcontent(fd, "unlinked f");
	close(fd);
	T(mkfifo("p", 0600));
	T(unlink("p"));
	T(unlinkat(AT_FDCWD, "d", AT_REMOVEDIR));
	pc_readdir(".");
}

/* Operations through an fd whose name is gone: the inode must still work. */
static void unlink_open_fd(void)
{
	struct timespec t[2] = { { 1000000000, 1 }, { 1000000000, 2 } };
	char buf[16];
	int fd, fd2;

	pc_write_file("f", "payload", 06755);
	T(chmod("f", 06755));
	fd = TFD(open("f", O_RDWR));
	T(unlink("f"));
	T(fchmod(fd, 0640));
	T(fchown(fd, 21, 22));
	T(fsetxattr(fd, "user.gone", "yes", 3, 0));
	T(fgetxattr(fd, "user.gone", buf, sizeof(buf)));
	T(ftruncate(fd, 3));
	T(pwrite(fd, "XY", 2, 5));
	T(futimens(fd, t));
	pc_fstat(fd, "unlinked f");
	pc_fdcontent(fd, "unlinked f");
	pc_say("unlinked f mtime = %lld.%09ld", (long long)pc_fget(fd).st_mtim.tv_sec,
	       pc_fget(fd).st_mtim.tv_nsec);
	close(fd);
	pc_write_file("g", "old", 0644);
	pc_write_file("h", "new", 0600);
	fd = TFD(open("g", O_RDWR));
	fd2 = TFD(open("h", O_RDWR));
	T(rename("h", "g"));
	pc_fstat(fd, "replaced g");
	pc_fstat(fd2, "renamed h");
	T(write(fd2, "NEW", 3));
	pc_content("g");
	pc_fdcontent(fd, "replaced g");
	close(fd);
	close(fd2);
}

static void many_links(void)
{
	char name[32];
	int i;

	pc_write_file("f", "x", 0644);
	for (i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "l%03d", i);
		if (link("f", name) < 0)
			pc_say("link %s = -1 %s", name, pc_errname(errno));
	}
	pc_stat("f");
	pc_stat("l199");
	for (i = 0; i < 200; i += 3) {
		snprintf(name, sizeof(name), "l%03d", i);
		if (unlink(name) < 0)
			pc_say("unlink %s = -1 %s", name, pc_errname(errno));
	}
	pc_stat("f");
	pc_stat("l001");
	T(rename("l001", "l002"));
	pc_stat("l002");
	T(mkdir("d", 0755));
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "d/s%03d", i);
		if (mkdir(name, 0755) < 0)
			pc_say("mkdir %s = -1 %s", name, pc_errname(errno));
	}
	pc_stat("d");
	T(rmdir("d/s050"));
	T(rename("d/s051", "s051"));
	pc_stat("d");
	pc_stat(".");
}

static void rmdir_cases(void)
{
	T(mkdir("d", 0755));
	T(mkdir("d/sub", 0755));
	pc_write_file("f", "x", 0644);
	pc_stat(".");
	T(rmdir("d"));
	T(rmdir("."));
	T(rmdir(".."));
	T(rmdir("d/."));
	T(rmdir("d/.."));
	T(rmdir("f"));
	T(rmdir("f/"));
	T(rmdir("missing"));
	T(rmdir(""));
	T(symlink("d", "sd"));
	T(rmdir("sd"));
	T(rmdir("sd/"));
	T(rmdir("d/sub/"));
	pc_stat("d");
	T(rmdir("d"));
	pc_stat(".");
	T(mkdir("e", 0755));
	T(chdir("e"));
	T(rmdir("../e"));
	pc_stat(".");
	T(mkdir("x", 0755));
	T(open("x", O_RDONLY));
	T(chdir(".."));
}

static void mkdir_cases(void)
{
	T(mkdir("d", 0755));
	pc_stat("d");
	pc_stat(".");
	T(mkdir("d", 0755));
	pc_write_file("f", "x", 0644);
	T(mkdir("f", 0755));
	T(symlink("missing", "dangling"));
	T(mkdir("dangling", 0755));
	T(mkdir("nodir/d", 0755));
	T(mkdir("f/d", 0755));
	T(mkdir("", 0755));
	T(mkdir("all", 07777));
	pc_stat("all");
	T(mkdir("slash/", 0700));
	pc_stat("slash");
	umask(077);
	T(mkdir("u077", 0777));
	pc_stat("u077");
	umask(0);
	T(mkdir("u0", 0777));
	pc_stat("u0");
	umask(022);
	T(mkdir("sg", 0755));
	T(chown("sg", 0, 1234));
	T(chmod("sg", 02755));
	T(mkdir("sg/sub", 0700));
	pc_stat("sg/sub");
	pc_write_file("sg/file", "x", 02755);
	pc_stat("sg/file");
	T(mkdir("sg/sub/deeper", 0755));
	pc_stat("sg/sub/deeper");
	pc_stat("sg");
}

static void mknod_cases(void)
{
	T(mknod("fifo", S_IFIFO | 0644, 0));
	pc_stat("fifo");
	T(mknod("reg", S_IFREG | 0600, 0));
	pc_stat("reg");
	T(mknod("plain", 0640, 0));
	pc_stat("plain");
	T(mknod("chr", S_IFCHR | 0600, makedev(1, 3)));
	pc_stat("chr");
	T(mknod("blk", S_IFBLK | 0600, makedev(7, 200)));
	pc_stat("blk");
	T(mknod("big", S_IFCHR | 0600, makedev(4095, 1048575)));
	pc_stat("big");
	T(mknod("sock", S_IFSOCK | 0755, 0));
	pc_stat("sock");
	T(mknod("fifo", S_IFIFO | 0644, 0));
	T(mknod("dir", S_IFDIR | 0755, 0));
	T(mknod("bad", 0170000 | 0644, 0));
	T(mknod("nodir/x", S_IFIFO | 0644, 0));
	T(mkfifo("f2", 07777));
	pc_stat("f2");
	T(mknod("sfifo", S_IFIFO | 06777, 0));
	pc_stat("sfifo");
	pc_readdir(".");
}

static void symlink_cases(void)
{
	char *t4095 = pc_name('t', 4095), *t4096 = pc_name('t', 4096);
	char buf[4];

	T(symlink("target", "s"));
	pc_lstat("s");
	pc_readlink("s");
	pc_stat("s");
	T(symlink("target", "s"));
	T(symlink("", "empty"));
	T(symlink(t4095, "long"));
	pc_lstat("long");
	pc_readlink("long");
	T(symlink(t4096, "toolong"));
	T(symlink("/abs/path/x", "abs"));
	pc_readlink("abs");
	T(symlink("a b\tc", "spaces"));
	pc_readlink("spaces");
	T(readlink("s", buf, 3));
	pc_write_file("f", "x", 0644);
	T(readlink("f", buf, sizeof(buf)));
	T(readlink("missing", buf, sizeof(buf)));
	T(readlink(".", buf, sizeof(buf)));
	T(readlink("s", buf, 0));
	T(symlink("x", "nodir/s"));
	T(symlink("x", "f"));
	T(symlink("x", "f/s"));
	T(mkdir("d", 0755));
	T(symlink("d", "sd"));
	pc_stat("sd");
	pc_lstat("sd/");
	T(symlink("f", "sf"));
	pc_lstat("sf/");
	T(symlink("sd/../f", "chain"));
	pc_stat("chain");
	T(symlink("s", "d/rel"));
	pc_readlink("d/rel");
	pc_lstat("d/rel");
}

static void readlink_empty_path(void)
{
	char buf[64];
	int fd;

	T(symlink("where", "s"));
	fd = TFD(open("s", O_PATH | O_NOFOLLOW));
	T(readlinkat(fd, "", buf, sizeof(buf)));
	pc_statat(fd, "", AT_EMPTY_PATH, "fstatat(O_PATH symlink, \"\")");
	close(fd);
	T(symlink("d/x", "s2"));
	T(mkdir("d", 0755));
	fd = TFD(open("d", O_RDONLY | O_DIRECTORY));
	T(symlinkat("../where", fd, "up"));
	T(readlinkat(fd, "up", buf, sizeof(buf)));
	close(fd);
}

static void rename_files(void)
{
	struct stat a, b, d1, d2;

	pc_write_file("f", "one", 0644);
	pc_write_file("g", "two", 0600);
	T(link("g", "glink"));
	a = pc_get("f");
	pc_old_times(".");
	d1 = pc_get(".");
	pc_tick();
	T(rename("f", "h"));
	b = pc_get("h");
	d2 = pc_get(".");
	pc_stat("f");
	pc_stat("h");
	pc_yes("ino same after rename", a.st_ino == b.st_ino);
	pc_yes("ctime changed by rename", !pc_ts_eq(&a.st_ctim, &b.st_ctim));
	pc_yes("dir mtime changed by rename", !pc_ts_eq(&d1.st_mtim, &d2.st_mtim));
	T(rename("h", "g"));
	pc_stat("g");
	pc_content("g");
	pc_stat("glink");
	pc_yes("ino same after rename onto file", pc_get("g").st_ino == a.st_ino);
	T(rename("g", "g"));
	T(rename("glink", "glink"));
	T(link("g", "g2"));
	T(rename("g", "g2"));		/* two links of one inode: no-op */
	pc_stat("g");
	pc_stat("g2");
	T(rename("missing", "x"));
	T(rename("g", "nodir/x"));
	T(rename("g", ""));
	T(rename("g/", "x"));
	T(rename("g", "x/"));
	pc_readdir(".");
}

static void rename_dirs(void)
{
	struct stat a, b;

	T(mkdir("d", 0755));
	T(mkdir("d/sub", 0755));
	pc_write_file("d/sub/f", "x", 0644);
	T(mkdir("empty", 0755));
	T(mkdir("full", 0755));
	pc_write_file("full/x", "x", 0644);
	pc_write_file("file", "x", 0644);
	a = pc_get("d");
	T(rename("d", "e"));
	b = pc_get("e");
	pc_yes("dir ino same after rename", a.st_ino == b.st_ino);
	pc_stat("e/sub/f");
	T(rename("e", "empty"));
	pc_stat("empty");
	pc_stat("empty/sub");
	T(rename("empty", "full"));
	T(rename("file", "full"));
	T(rename("full", "file"));
	T(rename("empty", "empty/sub/inside"));
	T(rename("empty", "empty/sub"));
	T(rename("empty/sub", "empty"));
	T(rename(".", "x"));
	T(rename("empty/.", "x"));
	T(rename("empty", "."));
	T(rename("empty/", "moved/"));
	pc_stat("moved");
	T(rename("file/", "file2"));
	pc_stat(".");
}

static void rename_nlink(void)
{
	T(mkdir("a", 0755));
	T(mkdir("b", 0755));
	T(mkdir("a/x", 0755));
	pc_stat("a");
	pc_stat("b");
	T(rename("a/x", "b/x"));
	pc_stat("a");
	pc_stat("b");
	pc_stat("b/x/..");
	T(mkdir("a/y", 0755));
	T(rename("a/y", "b/x"));
	pc_stat("a");
	pc_stat("b");
	T(symlink("target", "a/s"));
	T(rename("a/s", "b/s"));
	pc_lstat("b/s");
	pc_readlink("b/s");
	T(mkfifo("a/p", 0600));
	T(rename("a/p", "b/p"));
	pc_lstat("b/p");
	pc_readdir("a");
	pc_readdir("b");
}

static void rename_flags(void)
{
	struct stat a, b;

	pc_write_file("f", "one", 0644);
	pc_write_file("g", "two", 0644);
	T(mkdir("d", 0755));
	pc_write_file("d/in", "x", 0644);
	T(renameat2(AT_FDCWD, "f", AT_FDCWD, "g", RENAME_NOREPLACE));
	T(renameat2(AT_FDCWD, "f", AT_FDCWD, "h", RENAME_NOREPLACE));
	pc_content("h");
	a = pc_get("h");
	b = pc_get("d");
	T(renameat2(AT_FDCWD, "h", AT_FDCWD, "d", RENAME_EXCHANGE));
	pc_stat("h");
	pc_stat("d");
	pc_stat("h/in");
	pc_content("d");
	pc_yes("exchange kept both inodes", pc_get("d").st_ino == a.st_ino &&
	       pc_get("h").st_ino == b.st_ino);
	T(renameat2(AT_FDCWD, "h", AT_FDCWD, "missing", RENAME_EXCHANGE));
	T(renameat2(AT_FDCWD, "g", AT_FDCWD, "d", RENAME_EXCHANGE));
	pc_content("g");
	pc_content("d");
	T(renameat2(AT_FDCWD, "g", AT_FDCWD, "d", RENAME_EXCHANGE | RENAME_NOREPLACE));
	T(renameat2(AT_FDCWD, "g", AT_FDCWD, "x", 0x80));
	T(renameat2(AT_FDCWD, "h", AT_FDCWD, "h/in", RENAME_EXCHANGE));
	T(mkdir("e", 0755));
	T(renameat2(AT_FDCWD, "h", AT_FDCWD, "e", RENAME_NOREPLACE));
	T(renameat2(AT_FDCWD, "e", AT_FDCWD, "x", RENAME_NOREPLACE));
	pc_stat("x");
	pc_readdir(".");
}

/* Names: 255 bytes is the limit of ext4, xfs, btrfs, tmpfs and NFS. */
static void name_max(void)
{
	char *n255 = pc_name('n', 255), *n256 = pc_name('n', 256);
	char *m255 = pc_name('m', 255);
	char path[600];
	int fd;

	fd = TFD(creat(n255, 0644));
	close(fd);
	pc_stat(n255);
	T(creat(n256, 0644));
	T(open(n256, O_RDONLY));
	T(mkdir(n256, 0755));
	T(access(n256, F_OK));
	pc_stat(n256);
	T(rename(n255, n256));
	T(rename(n255, m255));
	pc_stat(m255);
	T(link(m255, n256));
	T(link(m255, n255));
	T(symlink("x", n256));
	T(symlink(n256, "s256"));	/* the target is not a name */
	pc_lstat("s256");
	pc_stat("s256");
	T(unlink(n256));
	T(mkdir("d", 0755));
	snprintf(path, sizeof(path), "d/%s", n255);
	T(mkdir(path, 0755));
	snprintf(path, sizeof(path), "d/%s/%s", n255, m255);
	T(mknod(path, S_IFIFO | 0600, 0));
	pc_lstat(path);
	pc_readdir(".");
	pc_readdir("d");
	T(unlink(n255));
	T(rmdir(n256));
}

/*
 * A chain of 200-byte directory names, deeper than PATH_MAX. Relative paths
 * of 4095 bytes must work and 4096 bytes must fail; below that, everything
 * is reached through fds, as applications do.
 */
#define DEEP_COMP	200
#define DEEP_LEVELS	30

static int deep_build(const char *comp)
{
	int fd = open(".", O_RDONLY | O_DIRECTORY), next, i;

	for (i = 0; i < DEEP_LEVELS && fd >= 0; i++) {
		if (mkdirat(fd, comp, 0755) < 0) {
			pc_say("mkdirat level %d = -1 %s", i, pc_errname(errno));
			close(fd);
			return -1;
		}
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY);
		if (next < 0)
			pc_say("openat level %d = -1 %s", i, pc_errname(errno));
		close(fd);
		fd = next;
	}
	return fd;
}

static char *deep_path(const char *comp, int levels, size_t namelen)
{
	char *p = malloc(levels * (DEEP_COMP + 1) + namelen + 1), *q = p;
	int i;

	for (i = 0; i < levels; i++)
		q += sprintf(q, "%s/", comp);
	memset(q, 'f', namelen);
	q[namelen] = 0;
	return p;
}

static void deep_paths(void)
{
	char *comp = pc_name('d', DEEP_COMP), *p4095, *p4096, *p;
	int fd, lvl20, f;

	pc_say("deep chain built: %s", (fd = deep_build(comp)) >= 0 ? "yes" : "no");
	if (fd < 0)
		return;
	p4095 = deep_path(comp, 20, 4095 - 20 * (DEEP_COMP + 1));
	p4096 = deep_path(comp, 20, 4096 - 20 * (DEEP_COMP + 1));
	pc_say("path lengths %zu %zu", strlen(p4095), strlen(p4096));
	p = deep_path(comp, 20, 0);
	lvl20 = TFD(open(p, O_RDONLY | O_DIRECTORY));
	f = TFD(openat(lvl20, p4095 + 20 * (DEEP_COMP + 1), O_CREAT | O_WRONLY, 0644));
	close(f);
	pc_stat(p4095);
	T(creat(p4096, 0644));
	pc_stat(p4096);
	T(unlink(p4095));
	T(mkdir(p4095, 0755));
	T(rmdir(p4095));
	f = TFD(openat(fd, "leaf", O_CREAT | O_RDWR, 0640));
	T(write(f, "deep", 4));
	pc_fstat(f, "leaf");
	close(f);
	pc_statat(fd, "leaf", 0, "fstatat deep leaf");
	T(renameat(fd, "leaf", fd, "leaf2"));
	T(linkat(fd, "leaf2", fd, "leaf3", 0));
	T(symlinkat("leaf2", fd, "sym"));
	T(mkdirat(fd, "sub", 0700));
	T(fchmodat(fd, "leaf2", 0600, 0));
	T(fchownat(fd, "leaf2", 3, 4, 0));
	pc_statat(fd, "leaf3", 0, "fstatat deep leaf3");
	pc_statat(fd, "sym", 0, "fstatat deep sym");
	T(unlinkat(fd, "leaf2", 0));
	T(unlinkat(fd, "sub", AT_REMOVEDIR));
	T(fchdir(fd));
	T(getcwd((char[8192]){ 0 }, 8192) ? 0 : -1);
	pc_stat("leaf3");
	T(chdir(".."));
	pc_stat(comp);
	close(fd);
	close(lvl20);
}

const struct pc_case pc_cases_ns[] = {
	{ "link.counts", NULL, link_counts, PC_ROOT },
	{ "link.errors", NULL, link_errors, PC_ROOT },
	{ "unlink", NULL, unlink_cases, PC_ROOT },
	{ "unlink.open_fd", NULL, unlink_open_fd, PC_ROOT },
	{ "link.many", NULL, many_links, PC_ROOT },
	{ "rmdir", NULL, rmdir_cases, PC_ROOT },
	{ "mkdir", NULL, mkdir_cases, PC_ROOT },
	{ "mknod", NULL, mknod_cases, PC_ROOT },
	{ "symlink", NULL, symlink_cases, PC_ROOT },
	{ "symlink.empty_path", NULL, readlink_empty_path, PC_ROOT },
	{ "rename.files", NULL, rename_files, PC_ROOT },
	{ "rename.dirs", NULL, rename_dirs, PC_ROOT },
	{ "rename.nlink", NULL, rename_nlink, PC_ROOT },
	{ "rename.flags", NULL, rename_flags, PC_ROOT },
	{ "name.max", NULL, name_max, PC_ROOT },
	{ "path.deep", NULL, deep_paths, PC_ROOT },
	{ NULL },
};
