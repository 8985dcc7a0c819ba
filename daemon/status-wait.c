// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * status-wait.c - `lifeboat status --wait[=S]`: wait until every mounted
 * lifeboatfs mount is healthy, with a progress line while one absorbs or
 * replays its journal ("replaying /srv/app: 1200 of 5000 records (24%)"),
 * so a script can say `lifeboat status --wait=600 && start the app`.
 * The line is rewritten in place on a terminal, printed at each change
 * otherwise.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "status: "
#include "lifeboat/log.h"
#include "lifeboat.h"
#include "status.h"

#define WAIT_POLL_MS 200	/* the mounts rewrite their status every second, and at each change */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The first mount that is not healthy, described in buf; NULL when all are. */
static const struct mount_status *first_unhealthy(const struct mount_status_set *set, char *buf, size_t len)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct mount_status *m = &set->mounts[i];
		const char *state = mount_status_state(m);
		uint64_t done = mount_status_u64(m, "replay_done"), total = mount_status_u64(m, "replay_total");

		if (!m->mounted || !strcmp(state, "healthy"))
			continue;
		if (!strcmp(state, "recovering") && total)
			snprintf(buf, len, "replaying %s: %" PRIu64 " of %" PRIu64 " records (%" PRIu64 "%%)",
				 mount_status_str(m, "mountpoint"), done, total, done * 100 / total);
		else
			snprintf(buf, len, "%s is %s, %" PRIu64 " records in its journal, %" PRIu64 " requests holding",
				 mount_status_str(m, "mountpoint"), state, mount_status_u64(m, "journal_records"),
				 mount_status_u64(m, "holding"));
		return m;
	}
	return NULL;
}

static void show_progress(const char *line, char *last, size_t last_len, bool tty)
{
	if (tty)
		fprintf(stderr, "\r\033[K%s", line);
	else if (strcmp(line, last) != 0)
		fprintf(stderr, "%s\n", line);
	snprintf(last, last_len, "%s", line);
}

int status_wait(const char *dir, double timeout_s)
{
	bool tty = isatty(STDERR_FILENO);
	double deadline = now_s() + timeout_s;
	char line[512], last[512] = "";

	for (;;) {
		struct mount_status_set set;
		const struct mount_status *m;

		if (mount_status_load(dir, &set) < 0)
			return EXIT_FAILED;
		m = first_unhealthy(&set, line, sizeof(line));
		mount_status_set_free(&set);
		if (!m) {
			if (tty && last[0])
				fprintf(stderr, "\r\033[K");
			return EXIT_OK;
		}
		if (now_s() >= deadline) {
			if (tty)
				fprintf(stderr, "\n");
			log_error("not every mount is healthy after %.0f s: %s", timeout_s, line);
			return EXIT_FAILED;
		}
		show_progress(line, last, sizeof(last), tty);
		usleep(WAIT_POLL_MS * 1000);
	}
}
