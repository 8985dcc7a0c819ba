// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * journal-bench.c - durable append latency and throughput of a journal (a
 * file or an iscsi:// URL): COUNT appends of one WRITE record with SIZE data
 * bytes each, one at a time (each returns once durable), then THREADS
 * appenders at once (group commit). Records left by an earlier run are
 * dropped first (journal_reset). Prints one line of figures. Built and run
 * by contrib/bench/journal.sh.
 *
 *   journal-bench JOURNAL SIZE COUNT [THREADS]
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lifeboat/journal.h"

static char *payload;
static size_t payload_len;
static unsigned per_thread;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int append(struct journal *j, unsigned i)
{
	struct journal_record rec = {
		.type = JOURNAL_WRITE, .path = "bench/file", .offset = (uint64_t)i * payload_len,
		.data = payload, .data_len = payload_len,
	};

	return journal_append(j, &rec);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void *appender(void *arg)
{
	struct journal *j = arg;

	for (unsigned i = 0; i < per_thread; i++)
		if (append(j, i) < 0)
			return (void *)1;
	return NULL;
}

static int run_threads(struct journal *j, unsigned threads, double *ret_us)
{
	pthread_t tid[64];
	double t0 = now_us();
	int bad = 0;

	for (unsigned t = 0; t < threads; t++)
		pthread_create(&tid[t], NULL, appender, j);
	for (unsigned t = 0; t < threads; t++) {
		void *res;

		pthread_join(tid[t], &res);
		bad |= res != NULL;
	}
	*ret_us = now_us() - t0;
	return bad ? -EIO : 0;
}

int main(int argc, char **argv)
{
	struct journal_options opts = {
		.owner = "bench", .flags = JOURNAL_OPEN_CREATE, .max_size = UINT64_MAX,
	};
	unsigned count, threads;
	struct journal *j;
	double *lat, t0, total = 0, tus;
	int r;

	if (argc < 4 || argc > 5)
		return fprintf(stderr, "usage: journal-bench JOURNAL SIZE COUNT [THREADS]\n"), 2;
	payload_len = strtoul(argv[2], NULL, 0);
	count = strtoul(argv[3], NULL, 0);
	threads = argc == 5 ? strtoul(argv[4], NULL, 0) : 4;
	if (payload_len == 0 || payload_len > JOURNAL_DATA_MAX || count == 0 || threads == 0 ||
	    threads > 64)
		return fprintf(stderr, "journal-bench: bad size, count or threads\n"), 2;
	payload = malloc(payload_len);
	lat = calloc(count, sizeof(*lat));
	for (size_t i = 0; i < payload_len; i++)
		payload[i] = (char)(i * 7 + 3);
	r = journal_open(argv[1], &opts, &j);
	if (r < 0)
		return fprintf(stderr, "journal-bench: cannot open '%s': %s\n", argv[1], strerror(-r)), 1;
	if (journal_get_state(j) != JOURNAL_STATE_READY && (r = journal_reset(j)) < 0)
		return fprintf(stderr, "journal-bench: cannot reset: %s\n", strerror(-r)), 1;
	for (unsigned i = 0; i < count; i++) {
		t0 = now_us();
		r = append(j, i);
		lat[i] = now_us() - t0;
		total += lat[i];
		if (r < 0)
			return fprintf(stderr, "journal-bench: append %u: %s\n", i, strerror(-r)), 1;
	}
	r = journal_reset(j);
	per_thread = count / threads ? count / threads : 1;
	if (r >= 0)
		r = run_threads(j, threads, &tus);
	if (r < 0)
		return fprintf(stderr, "journal-bench: threaded run: %s\n", strerror(-r)), 1;
	(void)journal_reset(j);
	journal_close(j);
	qsort(lat, count, sizeof(*lat), cmp_double);
	printf("median %.0f us  p99 %.0f us  serial %.1f MB/s  %u threads %.1f MB/s (%.0f appends/s)\n",
	       lat[count / 2], lat[(size_t)(count * 0.99)], count * payload_len / total,
	       threads, (double)per_thread * threads * payload_len / tus,
	       per_thread * threads / (tus / 1e6));
	free(lat);
	free(payload);
	return 0;
}
