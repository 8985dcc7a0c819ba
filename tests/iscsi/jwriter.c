// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * jwriter.c - a journal writer for the iSCSI tests: opens a journal (file or
 * iscsi:// URL) as one node and appends records on command from stdin, so a
 * test can hold two writers on one LUN and interleave them.
 *
 *   jwriter [--takeover] [--owner NAME] JOURNAL
 *   stdin:  append N TAG    N WRITE records of path TAG/<i>; prints "ok FIRST LAST"
 *                           or "err <errno name> <message>"
 *           state           prints the journal state
 *           quit
 * Records left behind are kept (journal_continue) and appended after.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_PREFIX ""
#include "lifeboat/journal.h"
#include "lifeboat/log.h"

static int append(struct journal *j, unsigned n, const char *tag)
{
	char path[128], data[128];
	struct journal_record rec;
	uint64_t first = 0;
	int r;

	for (unsigned i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%u", tag, i);
		snprintf(data, sizeof(data), "%s-%u", tag, i);
		rec = (struct journal_record){
			.type = JOURNAL_WRITE, .path = path, .data = data, .data_len = strlen(data),
		};
		r = journal_append(j, &rec);
		if (r < 0) {
			printf("err %s %s\n", strerrorname_np(-r), strerror(-r));
			return r;
		}
		if (!first)
			first = rec.seq;
		if (i + 1 == n)
			printf("ok %" PRIu64 " %" PRIu64 "\n", first, rec.seq);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct journal_options opts = { .owner = "jwriter", .flags = JOURNAL_OPEN_CREATE };
	static const struct option options[] = {
		{ "takeover", no_argument, NULL, 't' },
		{ "owner", required_argument, NULL, 'o' },
		{},
	};
	char line[256], tag[64];
	struct journal *j;
	unsigned n;
	int c, r;

	log_setup("jwriter");
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == 't')
			opts.flags |= JOURNAL_OPEN_TAKEOVER;
		else if (c == 'o')
			opts.owner = optarg;
		else
			return 2;
	}
	if (optind + 1 != argc)
		return fprintf(stderr, "usage: jwriter [--takeover] [--owner NAME] JOURNAL\n"), 2;
	r = journal_open(argv[optind], &opts, &j);
	if (r < 0)
		return log_error_errno(r, "cannot open '%s'", argv[optind]), 1;
	if (journal_get_state(j) == JOURNAL_STATE_PENDING)
		(void)journal_continue(j);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %s\n", journal_state_to_string(journal_get_state(j)));
	while (fgets(line, sizeof(line), stdin)) {
		if (sscanf(line, "append %u %63s", &n, tag) == 2)
			(void)append(j, n, tag);
		else if (strncmp(line, "state", 5) == 0)
			printf("state %s\n", journal_state_to_string(journal_get_state(j)));
		else if (strncmp(line, "quit", 4) == 0)
			break;
		else
			printf("err EINVAL unknown command\n");
	}
	journal_close(j);
	return 0;
}
