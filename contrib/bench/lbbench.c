// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lbbench.c - tiny I/O loops for contrib/bench/passthrough.sh
 *
 * Each subcommand does one measured loop and prints one number on stdout
 * (MB/s with MB = 10^6 bytes, IOPS, or files/s).  Everything that is not
 * part of the measurement (setup, reporting) stays outside the timed region.
 *
 *   lbbench seqwrite  FILE MIB             1 MiB writes, fsync at the end, MB/s
 *   lbbench seqread   FILE                 1 MiB reads to EOF, MB/s
 *   lbbench randread  FILE OPS MAXSEC SEED 4 KiB pread at random aligned
 *                                          offsets, queue depth 1, IOPS
 *   lbbench randwrite FILE OPS MAXSEC SEED 4 KiB pwrite + fdatasync, IOPS
 *   lbbench create    DIR N                open(O_CREAT|O_EXCL)+close, files/s
 *   lbbench stat      DIR N                stat, files/s
 *   lbbench unlink    DIR N                unlink, files/s
 *
 * OPS loops stop early after MAXSEC seconds; the rate is over what was done.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024 * 1024)
#define BLK 4096

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "lbbench: %s %s: %s\n", what, path ? path : "",
		strerror(errno));
	exit(1);
}

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static void *alloc_buf(size_t len)
{
	void *p;
	size_t i;

	if (posix_memalign(&p, BLK, len))
		die("posix_memalign", NULL);
	for (i = 0; i < len / 8; i++)
		((uint64_t *)p)[i] = rng();
	return p;
}

static int cmd_seqwrite(const char *path, long mib)
{
	char *buf = alloc_buf(MIB);
	double t0, t1;
	long i;
	int fd;

	t0 = now();
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("open", path);
	for (i = 0; i < mib; i++) {
		buf[0] = (char)i;
		if (write(fd, buf, MIB) != MIB)
			die("write", path);
	}
	if (fsync(fd))
		die("fsync", path);
	if (close(fd))
		die("close", path);
	t1 = now();
	printf("%.1f\n", mib * (double)MIB / 1e6 / (t1 - t0));
	return 0;
}

static int cmd_seqread(const char *path)
{
	char *buf = alloc_buf(MIB);
	double t0, t1;
	long long total = 0;
	ssize_t n;
	int fd;

	t0 = now();
	fd = open(path, O_RDONLY);
	if (fd < 0)
		die("open", path);
	while ((n = read(fd, buf, MIB)) > 0)
		total += n;
	if (n < 0)
		die("read", path);
	close(fd);
	t1 = now();
	printf("%.1f\n", total / 1e6 / (t1 - t0));
	return 0;
}

static int cmd_rand(const char *path, long ops, double maxsec, int write_mode)
{
	char *buf = alloc_buf(BLK);
	struct stat st;
	double t0, t1, deadline;
	uint64_t blocks;
	long i;
	int fd;

	fd = open(path, write_mode ? O_WRONLY : O_RDONLY);
	if (fd < 0)
		die("open", path);
	if (fstat(fd, &st))
		die("fstat", path);
	blocks = st.st_size / BLK;
	if (blocks == 0) {
		fprintf(stderr, "lbbench: %s: file too small\n", path);
		return 1;
	}
	/* like fio's default fadvise_hint for random workloads */
	if (!write_mode)
		posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
	t0 = now();
	deadline = t0 + maxsec;
	for (i = 0; i < ops; i++) {
		off_t off = (off_t)(rng() % blocks) * BLK;

		if (write_mode) {
			if (pwrite(fd, buf, BLK, off) != BLK)
				die("pwrite", path);
			if (fdatasync(fd))
				die("fdatasync", path);
		} else {
			if (pread(fd, buf, BLK, off) != BLK)
				die("pread", path);
		}
		if ((i & 15) == 15 && now() > deadline) {
			i++;
			break;
		}
	}
	t1 = now();
	close(fd);
	printf("%.0f\n", i / (t1 - t0));
	return 0;
}

static int cmd_meta(const char *op, const char *dir, long n)
{
	char path[4096];
	struct stat st;
	double t0, t1;
	long i;
	int fd;

	t0 = now();
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/f%07ld", dir, i);
		if (!strcmp(op, "create")) {
			fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
			if (fd < 0)
				die("open", path);
			if (close(fd))
				die("close", path);
		} else if (!strcmp(op, "stat")) {
			if (stat(path, &st))
				die("stat", path);
		} else {
			if (unlink(path))
				die("unlink", path);
		}
	}
	t1 = now();
	printf("%.0f\n", n / (t1 - t0));
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: lbbench seqwrite FILE MIB | seqread FILE |\n"
		"       randread|randwrite FILE OPS MAXSEC SEED |\n"
		"       create|stat|unlink DIR N\n");
	exit(2);
}

int main(int argc, char **argv)
{
	rng_state = 0x9E3779B97F4A7C15ULL;
	if (argc < 3)
		usage();
	if (!strcmp(argv[1], "seqwrite") && argc == 4)
		return cmd_seqwrite(argv[2], atol(argv[3]));
	if (!strcmp(argv[1], "seqread") && argc == 3)
		return cmd_seqread(argv[2]);
	if ((!strcmp(argv[1], "randread") || !strcmp(argv[1], "randwrite")) &&
	    argc == 6) {
		rng_state ^= strtoull(argv[5], NULL, 0) * 0x100000001B3ULL;
		if (!rng_state)
			rng_state = 1;
		return cmd_rand(argv[2], atol(argv[3]), atof(argv[4]),
				argv[1][4] == 'w');
	}
	if ((!strcmp(argv[1], "create") || !strcmp(argv[1], "stat") ||
	     !strcmp(argv[1], "unlink")) && argc == 4)
		return cmd_meta(argv[1], argv[2], atol(argv[3]));
	usage();
	return 2;
}
