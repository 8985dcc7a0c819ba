// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cases_data.c - file data and directories: pread/pwrite, fallocate modes,
 * copy_file_range, SEEK_DATA/SEEK_HOLE, shared mmap, readdir and statfs,
 * and the errors of reading and writing the wrong kind of fd. Run as root.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "posixcmp.h"

#define KIB	1024
#define MIB	(1024 * 1024)

static int make_pattern_file(const char *path, size_t len, unsigned int seed)
{
	char *buf = malloc(len);
	ssize_t n;
	int fd;

	pc_pattern(buf, len, seed);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	n = fd < 0 ? -1 : pwrite(fd, buf, len, 0);
	pc_say("setup %s: %s", path, n == (ssize_t)len ? "ok" : pc_errname(errno));
	free(buf);
	return fd;
}

static void rw_offsets(void)
{
	char buf[32] = { 0 };
	int fd, ro, wo;

	fd = TFD(open("f", O_RDWR | O_CREAT, 0644));
	T(pwrite(fd, "hello", 5, 0));
	T(pwrite(fd, "world", 5, 10));
	pc_fstat(fd, "f");
	pc_fdcontent(fd, "f");
	T(pread(fd, buf, 8, 8));
	pc_yes("gap reads zeros, then data", !memcmp(buf, "\0\0world", 7));
	T(pread(fd, buf, 8, 15));
	T(pread(fd, buf, 8, 1000));
	T(pread(fd, buf, 8, -1));
	T(pwrite(fd, "x", 1, -1));
	T(write(fd, "", 0));
	T(lseek(fd, 100, SEEK_SET));
	T(write(fd, "tail", 4));
	pc_fstat(fd, "f");
	T(lseek(fd, 0, SEEK_END));
	T(lseek(fd, -4, SEEK_END));
	T(lseek(fd, -200, SEEK_CUR));
	T(lseek(fd, 0, 42));
	T(read(fd, buf, 2));
	close(fd);
	ro = TFD(open("f", O_RDONLY));
	T(write(ro, "x", 1));
	T(pwrite(ro, "x", 1, 0));
	close(ro);
	wo = TFD(open("f", O_WRONLY));
	T(read(wo, buf, 1));
	T(fsync(wo));
	T(fdatasync(wo));
	close(wo);
	fd = TFD(open(".", O_RDONLY | O_DIRECTORY));
	T(read(fd, buf, 1));
	T(pread(fd, buf, 1, 0));
	T(fsync(fd));
	close(fd);
	fd = TFD(open("f", O_PATH));
	T(read(fd, buf, 1));
	close(fd);
}

static void rw_large(void)
{
	size_t len = 3 * MIB + 123;
	char *buf = malloc(len), *back = malloc(len);
	ssize_t n;
	int fd;

	pc_pattern(buf, len, 11);
	fd = TFD(open("big", O_RDWR | O_CREAT, 0644));
	T(write(fd, buf, len) == (ssize_t)len);
	T(pwrite(fd, "MARK", 4, 2 * MIB - 2));	/* straddles a page and a MiB */
	memcpy(buf + 2 * MIB - 2, "MARK", 4);
	n = pread(fd, back, len, 0);
	pc_say("pread all = %zd, equal: %s", n, n == (ssize_t)len &&
	       !memcmp(buf, back, len) ? "yes" : "no");
	T(pread(fd, back, 4, 2 * MIB - 2) == 4 && !memcmp(back, "MARK", 4));
	pc_fstat(fd, "big");
	close(fd);
	pc_content("big");
	free(buf);
	free(back);
}

static void fallocate_modes(void)
{
	int fd;

	fd = TFD(open("f", O_RDWR | O_CREAT, 0644));
	T(fallocate(fd, 0, 0, 8192));
	pc_blocks("f");
	T(fallocate(fd, FALLOC_FL_KEEP_SIZE, 8192, 8192));
	pc_blocks("f");
	T(fallocate(fd, 0, 100, 10));		/* inside: size unchanged */
	pc_fstat(fd, "f");
	T(fallocate(fd, 0, 20000, 1));
	pc_fstat(fd, "f");
	T(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096));
	T(fallocate(fd, 0, 0, 0));
	T(fallocate(fd, 0, -1, 10));
	T(fallocate(fd, 0, 0, -10));
	T(fallocate(fd, 0x100, 0, 10));
	close(fd);
	fd = TFD(open("f", O_RDONLY));
	T(fallocate(fd, 0, 0, 4096));
	close(fd);
	fd = TFD(open("f", O_WRONLY | O_APPEND));
	T(fallocate(fd, 0, 0, 40960));
	T(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 40960));
	close(fd);
	pc_stat("f");
}

static void fallocate_holes(void)
{
	char buf[4];
	int fd;

	fd = make_pattern_file("f", 64 * KIB, 1);
	pc_blocks("f");
	T(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 8192, 8192));
	pc_blocks("f");
	T(pread(fd, buf, 4, 9000));
	pc_yes("punched range reads zeros", !memcmp(buf, "\0\0\0\0", 4));
	T(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 50));
	T(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 60 * KIB, 64 * KIB));
	pc_fstat(fd, "f");
	T(fallocate(fd, FALLOC_FL_ZERO_RANGE, 30000, 5000));
	T(fallocate(fd, FALLOC_FL_ZERO_RANGE, 60000, 10000));
	pc_fstat(fd, "f");
	T(fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 70000, 10000));
	pc_fstat(fd, "f");
	pc_fdcontent(fd, "f");
	close(fd);
}

static void fallocate_shift(void)
{
	int fd;

	fd = make_pattern_file("f", 64 * KIB, 2);
	T(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 8192, 4096));
	pc_fstat(fd, "f");
	pc_fdcontent(fd, "f");
	T(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 100, 4096));
	T(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 56 * KIB, 8192));
	T(fallocate(fd, FALLOC_FL_INSERT_RANGE, 4096, 8192));
	pc_fstat(fd, "f");
	pc_fdcontent(fd, "f");
	T(fallocate(fd, FALLOC_FL_INSERT_RANGE, 4096, 100));
	T(fallocate(fd, FALLOC_FL_INSERT_RANGE, 1 * MIB, 4096));
	T(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_KEEP_SIZE, 0, 4096));
	close(fd);
}

static void copy_range(void)
{
	loff_t in = 100, out = 0;
	int src, dst, ro;

	src = make_pattern_file("src", 10000, 5);
	dst = TFD(open("dst", O_RDWR | O_CREAT, 0644));
	T(copy_file_range(src, &in, dst, &out, 5000, 0));
	pc_say("offsets after copy = %lld %lld", (long long)in, (long long)out);
	pc_fstat(dst, "dst");
	pc_fdcontent(dst, "dst");
	T(lseek(src, 9000, SEEK_SET));
	T(copy_file_range(src, NULL, dst, NULL, 5000, 0));
	T(lseek(src, 0, SEEK_CUR));
	T(lseek(dst, 0, SEEK_CUR));
	pc_fstat(dst, "dst");
	in = 20000;
	T(copy_file_range(src, &in, dst, &out, 100, 0));
	in = 0;
	out = 50;
	T(copy_file_range(src, &in, src, &out, 100, 0));
	out = 5000;
	T(copy_file_range(src, &in, src, &out, 100, 0));
	pc_fdcontent(src, "src");
	T(copy_file_range(src, &in, dst, &out, 10, 1));
	ro = TFD(open("dst", O_RDONLY));
	T(copy_file_range(src, &in, ro, &out, 10, 0));
	close(ro);
	ro = TFD(open("dst", O_WRONLY | O_APPEND));
	T(copy_file_range(src, &in, ro, &out, 10, 0));
	close(ro);
	T(copy_file_range(src, &in, dst, &out, 0, 0));
	close(src);
	close(dst);
}

static void seek_data_hole(void)
{
	int fd;

	fd = TFD(open("sparse", O_RDWR | O_CREAT, 0644));
	T(pwrite(fd, "A", 1, 0));
	T(pwrite(fd, "B", 1, MIB));
	T(fsync(fd));
	pc_fstat(fd, "sparse");
	T(lseek(fd, 0, SEEK_DATA));
	T(lseek(fd, 0, SEEK_HOLE));
	T(lseek(fd, 4096, SEEK_DATA));
	T(lseek(fd, MIB, SEEK_HOLE));
	T(lseek(fd, MIB + 1, SEEK_DATA));
	T(lseek(fd, MIB + 1, SEEK_HOLE));
	T(lseek(fd, 10 * MIB, SEEK_DATA));
	T(lseek(fd, 10 * MIB, SEEK_HOLE));
	T(lseek(fd, -1, SEEK_DATA));
	T(ftruncate(fd, 4 * MIB));
	T(lseek(fd, 2 * MIB, SEEK_DATA));
	T(lseek(fd, 2 * MIB, SEEK_HOLE));
	T(pwrite(fd, "C", 1, 3 * MIB));		/* not synced yet */
	T(lseek(fd, 2 * MIB, SEEK_DATA));
	T(lseek(fd, 3 * MIB, SEEK_HOLE));
	pc_blocks("sparse");
	close(fd);
	fd = TFD(open("empty", O_RDWR | O_CREAT, 0644));
	T(lseek(fd, 0, SEEK_DATA));
	T(lseek(fd, 0, SEEK_HOLE));
	close(fd);
}

static void mmap_shared(void)
{
	size_t len = 3 * 4096;
	char *m, buf[8];
	int fd;

	fd = make_pattern_file("f", len, 7);
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	pc_yes("mmap shared rw", m != MAP_FAILED);
	if (m == MAP_FAILED)
		return;
	memcpy(m + 4090, "MAPPEDWRITE", 11);
	m[len - 1] = '!';
	T(msync(m, len, MS_SYNC));
	T(pread(fd, buf, 8, 4090));
	pc_say("read after msync = \"%.8s\"", buf);
	pc_content("f");
	T(pwrite(fd, "WRITTEN", 7, 100));
	pc_say("mapping sees write() = \"%.7s\"", m + 100);
	T(ftruncate(fd, 4 * 4096));
	T(munmap(m, len));
	m = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	memcpy(m + 3 * 4096, "NEWPAGE", 7);
	T(munmap(m, 4 * 4096));
	T(fsync(fd));
	pc_fstat(fd, "f");
	pc_content("f");
	close(fd);
	fd = TFD(open("f", O_RDONLY));
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	pc_say("mmap shared rw of O_RDONLY fd = %s", m == MAP_FAILED ?
	       pc_errname(errno) : "mapped");
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	pc_say("mmap private rw of O_RDONLY fd = %s", m == MAP_FAILED ?
	       pc_errname(errno) : "mapped");
	close(fd);
}

static void mmap_times(void)
{
	struct stat a, b;
	char *m;
	int fd;

	fd = make_pattern_file("f", 8192, 9);
	pc_old_times("f");
	a = pc_get("f");
	pc_tick();
	m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return pc_say("mmap = %s", pc_errname(errno));
	m[10] = 'Q';
	T(msync(m, 8192, MS_SYNC));
	T(munmap(m, 8192));
	b = pc_get("f");
	pc_yes("mtime changed by mmap write", !pc_ts_eq(&a.st_mtim, &b.st_mtim));
	pc_yes("ctime changed by mmap write", !pc_ts_eq(&a.st_ctim, &b.st_ctim));
	close(fd);
}

static void readdir_small(void)
{
	T(mkdir("d", 0755));
	pc_readdir("d");
	pc_write_file("d/file", "x", 0644);
	T(mkdir("d/sub", 0755));
	T(symlink("file", "d/link"));
	T(mkfifo("d/fifo", 0644));
	T(mknod("d/chr", S_IFCHR | 0600, 0x0103));
	T(mknod("d/sock", S_IFSOCK | 0600, 0));
	pc_readdir("d");
	T(unlink("d/file"));
	T(rename("d/sub", "d/sub2"));
	pc_readdir("d");
	pc_readdir("d/sub2");
	pc_readdir("d/link");
}

static void readdir_big(void)
{
	char name[256];
	struct dirent *de;
	long pos = -1;
	int i, n = 0;
	DIR *d;

	T(mkdir("d", 0755));
	for (i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "d/entry-%03d-%.*s", i, i % 40,
			 "padpadpadpadpadpadpadpadpadpadpadpadpadpad");
		pc_write_file(name, "", 0644);
	}
	pc_readdir("d");
	d = opendir("d");
	while ((de = readdir(d))) {
		if (++n == 250) {
			pos = telldir(d);
			snprintf(name, sizeof(name), "%s", de->d_name);
		}
	}
	pc_say("readdir count = %d", n);
	seekdir(d, pos);
	de = readdir(d);
	pc_say("seekdir(telldir) then readdir continues: %s",
	       de && strcmp(de->d_name, name) ? "yes" : "no");
	rewinddir(d);
	for (n = 0; readdir(d); n++)
		;
	pc_say("after rewinddir count = %d", n);
	closedir(d);
	for (i = 0; i < 500; i += 2) {
		snprintf(name, sizeof(name), "d/entry-%03d-%.*s", i, i % 40,
			 "padpadpadpadpadpadpadpadpadpadpadpadpadpad");
		unlink(name);
	}
	pc_readdir("d");
}

static void statfs_fields(void)
{
	struct statvfs sv;
	struct statfs sf;
	int fd;

	pc_write_file("f", "x", 0644);
	T(statfs(".", &sf));
	pc_say("statfs f_bsize=%ld f_namelen=%ld f_frsize=%ld",
	       (long)sf.f_bsize, (long)sf.f_namelen, (long)sf.f_frsize);
	fd = TFD(open("f", O_RDONLY));
	T(fstatfs(fd, &sf));
	pc_say("fstatfs f_bsize=%ld f_namelen=%ld", (long)sf.f_bsize,
	       (long)sf.f_namelen);
	close(fd);
	T(statvfs(".", &sv));
	pc_say("statvfs f_bsize=%lu f_namemax=%lu", sv.f_bsize, sv.f_namemax);
	T(statfs("missing", &sf));
	pc_stat(".");
}

const struct pc_case pc_cases_data[] = {
	{ "rw.offsets", NULL, rw_offsets, PC_ROOT },
	{ "rw.large", NULL, rw_large, PC_ROOT },
	{ "fallocate.modes", NULL, fallocate_modes, PC_ROOT },
	{ "fallocate.holes", NULL, fallocate_holes, PC_ROOT },
	{ "fallocate.shift", NULL, fallocate_shift, PC_ROOT },
	{ "copy_file_range", NULL, copy_range, PC_ROOT },
	{ "lseek.data_hole", NULL, seek_data_hole, PC_ROOT },
	{ "mmap.shared", NULL, mmap_shared, PC_ROOT },
	{ "mmap.times", NULL, mmap_times, PC_ROOT },
	{ "readdir.small", NULL, readdir_small, PC_ROOT },
	{ "readdir.big", NULL, readdir_big, PC_ROOT },
	{ "statfs", NULL, statfs_fields, PC_ROOT },
	{ NULL },
};
