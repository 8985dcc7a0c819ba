// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * util.c - transcript helpers of posixcmp: every line says what was asked
 * and what came back, normalized so that two runs on equivalent file systems
 * print the same bytes.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "posixcmp.h"

const char *pc_errname(int err)
{
	static char buf[16];
	const char *s = strerrorname_np(err);

	if (s)
		return s;
	snprintf(buf, sizeof(buf), "E#%d", err);
	return buf;
}

void pc_say(const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", pc_case_name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	pc_assertions++;
}

/* fd numbers depend on the run: calls that return one print "fd". */
static bool returns_fd(const char *call)
{
	return !strncmp(call, "open(", 5) || !strncmp(call, "openat(", 7) ||
	       !strncmp(call, "creat(", 6);
}

void pc_result(const char *call, long r, int err, enum pc_how how)
{
	if (how == PC_RAW && returns_fd(call))
		how = PC_FD;
	if (r < 0)
		pc_say("%s = %ld %s", call, r, pc_errname(err));
	else if (how == PC_FD)
		pc_say("%s = fd", call);
	else
		pc_say("%s = %ld", call, r);
}

void pc_yes(const char *what, bool cond)
{
	pc_say("%s: %s", what, cond ? "yes" : "no");
}

static const char *type_name(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG:	return "reg";
	case S_IFDIR:	return "dir";
	case S_IFLNK:	return "lnk";
	case S_IFIFO:	return "fifo";
	case S_IFCHR:	return "chr";
	case S_IFBLK:	return "blk";
	case S_IFSOCK:	return "sock";
	}
	return "???";
}

static void say_stat(const char *label, int r, int err, const struct stat *st)
{
	if (r < 0) {
		pc_say("%s = -1 %s", label, pc_errname(err));
		return;
	}
	pc_say("%s = %s %04o nlink=%lu uid=%u gid=%u size=%lld rdev=%u:%u",
	       label, type_name(st->st_mode), st->st_mode & 07777,
	       (unsigned long)st->st_nlink, st->st_uid, st->st_gid,
	       (long long)st->st_size, major(st->st_rdev), minor(st->st_rdev));
}

void pc_statat(int dirfd, const char *path, int flags, const char *label)
{
	struct stat st;
	char buf[128];
	int r;

	if (!label) {
		snprintf(buf, sizeof(buf), "%s %s",
			 flags & AT_SYMLINK_NOFOLLOW ? "lstat" : "stat",
			 pc_short(path));
		label = buf;
	}
	errno = 0;
	r = fstatat(dirfd, path, &st, flags);
	say_stat(label, r, errno, &st);
}

void pc_stat(const char *path)
{
	pc_statat(AT_FDCWD, path, 0, NULL);
}

void pc_lstat(const char *path)
{
	pc_statat(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, NULL);
}

void pc_fstat(int fd, const char *label)
{
	struct stat st;
	char buf[128];
	int r;

	snprintf(buf, sizeof(buf), "fstat %s", label);
	errno = 0;
	r = fstat(fd, &st);
	say_stat(buf, r, errno, &st);
}

void pc_blocks(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return pc_say("blocks %s = -1 %s", path, pc_errname(errno));
	pc_say("blocks %s = %lld (size %lld)", path, (long long)st.st_blocks,
	       (long long)st.st_size);
}

struct stat pc_get(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		memset(&st, 0, sizeof(st));
	return st;
}

struct stat pc_fget(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		memset(&st, 0, sizeof(st));
	return st;
}

bool pc_ts_eq(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Put atime and mtime far in the past, so that any update is visible. */
void pc_old_times(const char *path)
{
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };

	(void)utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
}

/* Let the coarse clock move, so that a ctime update is visible. */
void pc_tick(void)
{
	struct timespec ts = { 0, 12 * 1000 * 1000 };

	(void)nanosleep(&ts, NULL);
}

unsigned long pc_hash(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t h = 1469598103934665603ULL;

	while (len--) {
		h ^= *p++;
		h *= 1099511628211ULL;
	}
	return (unsigned long)h;
}

void pc_pattern(char *buf, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (char)('a' + (i * 7 + seed + i / 4096) % 26);
}

static void say_bytes(const char *label, const char *buf, ssize_t n)
{
	char esc[4 * 64 + 1], *q = esc;
	ssize_t i;

	if (n > 64) {
		pc_say("%s = %zd bytes hash %016lx", label, n, pc_hash(buf, n));
		return;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = buf[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			*q++ = c;
		else
			q += sprintf(q, "\\x%02x", c);
	}
	*q = 0;
	pc_say("%s = %zd \"%s\"", label, n, esc);
}

void pc_fdcontent(int fd, const char *label)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	ssize_t n;

	while ((n = pread(fd, buf + len, cap - len, len)) > 0) {
		len += n;
		if (len == cap)
			buf = realloc(buf, cap *= 2);
	}
	if (n < 0) {
		pc_say("content %s = -1 %s", label, pc_errname(errno));
	} else {
		char what[128];

		snprintf(what, sizeof(what), "content %s", label);
		say_bytes(what, buf, len);
	}
	free(buf);
}

void pc_content(const char *path)
{
	char label[128];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	snprintf(label, sizeof(label), "content %s", pc_short(path));
	if (fd < 0)
		return pc_say("%s = -1 %s", label, pc_errname(errno));
	pc_fdcontent(fd, pc_short(path));
	close(fd);
}

void pc_write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0) {
		pc_say("setup: cannot create %s: %s", path, pc_errname(errno));
		return;
	}
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		pc_say("setup: cannot write %s: %s", path, pc_errname(errno));
	close(fd);
}

void pc_readlink(const char *path)
{
	char buf[8192];
	ssize_t n = readlink(path, buf, sizeof(buf));

	if (n < 0)
		return pc_say("readlink %s = -1 %s", pc_short(path), pc_errname(errno));
	if (n > 64)
		return pc_say("readlink %s = %zd hash %016lx", pc_short(path), n,
			      pc_hash(buf, n));
	pc_say("readlink %s = %zd \"%.*s\"", pc_short(path), n, (int)n, buf);
}

char *pc_name(char c, size_t len)
{
	char *s = malloc(len + 1);

	memset(s, c, len);
	s[len] = 0;
	return s;
}

/* Long names print as "aaaaaaaa...(255)": the transcript stays readable. */
const char *pc_short(const char *s)
{
	static char buf[4][48];
	static int i;
	size_t len = strlen(s);

	if (len <= 40)
		return s;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%.8s...(%zu)", s, len);
	return buf[i];
}

static const char *dtype_name(unsigned char t)
{
	switch (t) {
	case DT_REG:	return "reg";
	case DT_DIR:	return "dir";
	case DT_LNK:	return "lnk";
	case DT_FIFO:	return "fifo";
	case DT_CHR:	return "chr";
	case DT_BLK:	return "blk";
	case DT_SOCK:	return "sock";
	case DT_UNKNOWN: return "unknown";
	}
	return "???";
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted "name:type" list; big directories print a count and a hash. */
void pc_readdir(const char *path)
{
	DIR *d = opendir(path);
	char **names = NULL;
	size_t n = 0, i, cap = 0;
	struct dirent *de;

	if (!d)
		return pc_say("readdir %s = -1 %s", path, pc_errname(errno));
	while ((de = readdir(d))) {
		if (n == cap)
			names = realloc(names, (cap = cap * 2 + 16) * sizeof(*names));
		if (asprintf(&names[n++], "%s:%s", pc_short(de->d_name),
			     dtype_name(de->d_type)) < 0)
			abort();
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	if (n > 12) {
		unsigned long h = 0;

		for (i = 0; i < n; i++)
			h = h * 31 + pc_hash(names[i], strlen(names[i]));
		pc_say("readdir %s = %zu entries hash %016lx", path, n, h);
	}
	for (i = 0; i < n; i++) {
		if (n <= 12)
			pc_say("readdir %s: %s", path, names[i]);
		free(names[i]);
	}
	free(names);
}

void pc_xattr_get(const char *path, const char *name)
{
	char buf[70000], label[160];
	ssize_t n;

	snprintf(label, sizeof(label), "lgetxattr %s %s", pc_short(path),
		 pc_short(name));
	n = lgetxattr(path, name, buf, sizeof(buf));
	if (n < 0)
		return pc_say("%s = -1 %s", label, pc_errname(errno));
	say_bytes(label, buf, n);
}

void pc_xattr_list(const char *path)
{
	char buf[8192], *names[256], *p;
	ssize_t n = llistxattr(path, buf, sizeof(buf));
	size_t cnt = 0, i;

	if (n < 0)
		return pc_say("llistxattr %s = -1 %s", path, pc_errname(errno));
	for (p = buf; p < buf + n && cnt < 256; p += strlen(p) + 1)
		names[cnt++] = p;
	qsort(names, cnt, sizeof(*names), cmp_str);
	pc_say("llistxattr %s = %zd bytes, %zu names", path, n, cnt);
	for (i = 0; i < cnt; i++)
		pc_say("llistxattr %s: %s", path, pc_short(names[i]));
}
