// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * criu-watchdog.c - a deadline on every libcriu call. libcriu forks
 * "criu swrk" and waits on its socket without a timeout; a CRIU stuck on a
 * task (e.g. one blocked in a FUSE request) would hang lifeboatd. When the
 * deadline passes, a thread kills every child of ours named "criu", the
 * call fails with a closed socket and lifeboatd goes on (the caller thaws
 * the process set).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "criu: "
#include "lifeboat/log.h"
#include "checkpoint.h"

struct watchdog {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct timespec deadline;	/* CLOCK_MONOTONIC */
	bool stopped;			/* protected by lock */
	bool fired;			/* protected by lock */
	char what[64];
	unsigned timeout_s;
};

/* "pid (comm) state ppid ..." of /proc/PID/stat */
static bool is_our_criu(const char *pid_dir, pid_t self)
{
	char path[64], buf[512], *rp;
	FILE *f;
	int ppid = 0;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid_dir);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	rp = strrchr(buf, ')');
	if (!rp || !strstr(buf, "(criu)") || sscanf(rp + 2, "%*c %d", &ppid) != 1)
		return false;
	return ppid == self;
}

static int kill_criu_children(void)
{
	pid_t self = getpid();
	struct dirent *de;
	DIR *d = opendir("/proc");
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9' && is_our_criu(de->d_name, self)) {
			(void)kill(atoi(de->d_name), SIGKILL);
			n++;
		}
	closedir(d);
	return n;
}

static void *watchdog_thread(void *arg)
{
	struct watchdog *w = arg;
	int r = 0;

	pthread_mutex_lock(&w->lock);
	while (!w->stopped && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&w->cond, &w->lock, &w->deadline);
	if (!w->stopped) {
		w->fired = true;
		log_error("%s did not finish within %u s: killing criu (%d process(es))", w->what, w->timeout_s,
			  kill_criu_children());
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int watchdog_start(unsigned timeout_s, const char *what, struct watchdog **ret)
{
	struct watchdog *w = calloc(1, sizeof(*w));
	pthread_condattr_t ca;
	sigset_t all, old;
	int r;

	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	snprintf(w->what, sizeof(w->what), "%s", what);
	w->timeout_s = timeout_s;
	clock_gettime(CLOCK_MONOTONIC, &w->deadline);
	w->deadline.tv_sec += timeout_s;
	/* the thread takes no signal: lifeboatd's signalfd gets them all */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = -pthread_create(&w->thread, NULL, watchdog_thread, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		free(w);
		return log_error_errno(r, "cannot start the watchdog thread");
	}
	*ret = w;
	return 0;
}

bool watchdog_stop(struct watchdog *w)
{
	bool fired;

	pthread_mutex_lock(&w->lock);
	w->stopped = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	fired = w->fired;
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
	return fired;
}
