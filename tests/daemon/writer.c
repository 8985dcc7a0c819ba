// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * writer.c - the verified writer of the daemon tests: appends fixed-size,
 * checksummed records (sequence number, its own pid, FNV-1a sum) to a file,
 * fdatasync now and then, and reports any error it sees on stderr and in
 * its exit status. `writer --verify FILE` checks a file it wrote: every
 * record intact, the sequence complete from 0 without a gap or a repeat,
 * one pid throughout.
 *
 *   writer FILE [DELAY_US]      write until killed (SIGTERM ends it cleanly)
 *   writer --verify FILE        print "records N pid P" or the first fault
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RECORD_SIZE 64

static volatile sig_atomic_t stop;

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (n--) {
		h ^= (unsigned char)*p++;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* "seq=%016" PRIu64 " pid=%08d sum=%016" PRIx64 "\n" padded to 64 bytes */
static void make_record(char rec[RECORD_SIZE], uint64_t seq, int pid)
{
	int n = snprintf(rec, RECORD_SIZE, "seq=%016" PRIu64 " pid=%08d ", seq, pid);

	snprintf(rec + n, (size_t)(RECORD_SIZE - n), "sum=%016" PRIx64, fnv1a(rec, (size_t)n));
	memset(rec + strlen(rec), ' ', RECORD_SIZE - 1 - strlen(rec));
	rec[RECORD_SIZE - 1] = '\n';
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int write_loop(const char *path, unsigned delay_us)
{
	char rec[RECORD_SIZE];
	uint64_t seq = 0;
	int fd;

	/* O_WRONLY|O_APPEND: CRIU does not compare the size of such a file at restore */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "writer: cannot open '%s': %s\n", path, strerror(errno));
		return 1;
	}
	signal(SIGTERM, on_term);
	printf("writer: pid %d writing '%s'\n", (int)getpid(), path);
	fflush(stdout);
	while (!stop) {
		ssize_t n;

		make_record(rec, seq, (int)getpid());
		n = write(fd, rec, RECORD_SIZE);
		if (n != RECORD_SIZE) {
			fprintf(stderr, "writer: write of record %" PRIu64 " returned %zd: %s\n", seq, n,
				n < 0 ? strerror(errno) : "short write");
			return 1;
		}
		if (seq % 32 == 31 && fdatasync(fd) < 0) {
			fprintf(stderr, "writer: fdatasync after record %" PRIu64 ": %s\n", seq, strerror(errno));
			return 1;
		}
		seq++;
		if (delay_us)
			usleep(delay_us);
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fprintf(stderr, "writer: fsync/close: %s\n", strerror(errno));
		return 1;
	}
	printf("writer: stopped after %" PRIu64 " records\n", seq);
	return 0;
}

static int verify(const char *path)
{
	char rec[RECORD_SIZE], want[RECORD_SIZE];
	int pid = -1, rpid;
	uint64_t seq = 0, rseq;
	FILE *f = fopen(path, "re");

	if (!f) {
		fprintf(stderr, "verify: cannot open '%s': %s\n", path, strerror(errno));
		return 1;
	}
	for (;; seq++) {
		size_t n = fread(rec, 1, RECORD_SIZE, f);

		if (n == 0)
			break;
		if (n != RECORD_SIZE || sscanf(rec, "seq=%" SCNu64 " pid=%d", &rseq, &rpid) != 2) {
			fprintf(stderr, "verify: record %" PRIu64 " at offset %" PRIu64 " is torn or garbled\n", seq,
				seq * RECORD_SIZE);
			return 1;
		}
		if (pid < 0)
			pid = rpid;
		make_record(want, seq, pid);
		if (memcmp(rec, want, RECORD_SIZE) != 0) {
			fprintf(stderr, "verify: record %" PRIu64 " is seq %" PRIu64 " pid %d, expected seq %" PRIu64
				" pid %d (lost, repeated or corrupt)\n", seq, rseq, rpid, seq, pid);
			return 1;
		}
	}
	fclose(f);
	printf("records %" PRIu64 " pid %d\n", seq, pid);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--verify"))
		return verify(argv[2]);
	if (argc == 2 || argc == 3)
		return write_loop(argv[1], argc == 3 ? (unsigned)strtoul(argv[2], NULL, 10) : 1000);
	fprintf(stderr, "usage: writer FILE [DELAY_US] | writer --verify FILE\n");
	return 2;
}
