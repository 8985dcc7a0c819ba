// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * status.c - the mount's status as a JSON file, rewritten atomically
 * (write to a temporary name, rename) at every state change and once a
 * second, for `lifeboat status` and for scripts.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "status: "
#include "lifeboat/log.h"
#include "lifeboatfs.h"

static uint64_t clock_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_int64((int64_t)v));
}

/* The journal path (the iSCSI session, when there is one). */
static struct json_object *journal_path_json(struct lb_fs *fs)
{
	struct json_object *o = json_object_new_object();
	struct journal_path_info pi;

	journal_get_path_info(fs->journal, &pi);
	json_object_object_add(o, "remote", json_object_new_boolean(pi.remote));
	json_object_object_add(o, "up", json_object_new_boolean(pi.up));
	json_object_object_add(o, "fenced", json_object_new_boolean(pi.fenced));
	add_u64(o, "reconnects", pi.reconnects);
	add_u64(o, "down_ms", pi.down_ms);
	/* absorbing with the journal unreachable: requests hold */
	json_object_object_add(o, "both_paths_down",
			       json_object_new_boolean(!pi.up && fs->state != LB_HEALTHY));
	return o;
}

/* Ended holds by duration: {"le_ms": [10, 50, ...], "counts": [n per bucket, one more for +Inf]}. */
static struct json_object *hold_histogram_json(const struct lb_absorb_stats *s)
{
	struct json_object *o = json_object_new_object(), *le = json_object_new_array(),
			   *counts = json_object_new_array();

	for (int i = 0; i < LB_HOLD_BUCKETS; i++) {
		if (i < LB_HOLD_BUCKETS - 1)
			json_object_array_add(le, json_object_new_int64((int64_t)lb_hold_bucket_ms[i]));
		json_object_array_add(counts, json_object_new_int64((int64_t)s->hold_buckets[i]));
	}
	json_object_object_add(o, "le_ms", le);
	json_object_object_add(o, "counts", counts);
	add_u64(o, "sum_ms", s->hold_sum_ms);
	return o;
}

static struct json_object *status_json(struct lb_fs *fs)
{
	struct json_object *o = json_object_new_object(), *abs = json_object_new_object();
	struct lb_absorb_stats s;
	struct journal_info ji = { 0 };
	uint64_t qbytes, qrecords, stalls, rescued;
	unsigned int stuck;

	pthread_mutex_lock(&fs->state_mutex);
	s = fs->stats;
	pthread_mutex_unlock(&fs->state_mutex);
	queue_stats(fs, &qbytes, &qrecords);
	if (fs->journal)
		journal_get_info(fs->journal, &ji);

	json_object_object_add(o, "state", json_object_new_string(lb_state_name(fs->state)));
	json_object_object_add(o, "store", json_object_new_string(fs->opt.store));
	json_object_object_add(o, "mountpoint", json_object_new_string(fs->opt.mountpoint));
	/* the journal's own name: an iSCSI URL without its CHAP secret */
	json_object_object_add(o, "journal", json_object_new_string(fs->journal ? journal_name(fs->journal) :
				fs->opt.journal ? fs->opt.journal : ""));
	json_object_object_add(o, "journal_state",
			       json_object_new_string(journal_state_to_string(ji.state)));
	if (fs->journal)
		json_object_object_add(o, "journal_path", journal_path_json(fs));
	add_u64(o, "since_ms", s.state_since_ms);
	add_u64(o, "written_ms", clock_ms(CLOCK_REALTIME));	/* how fresh the counts below are */
	add_u64(o, "queue_bytes", qbytes);
	add_u64(o, "queue_records", qrecords);
	add_u64(o, "queue_budget", fs->opt.queue_budget);
	add_u64(o, "journal_bytes", ji.tail_offset > ji.head_offset ? ji.tail_offset - ji.head_offset : 0);
	add_u64(o, "journal_records", s.journal_records);
	add_u64(o, "journal_epoch", ji.epoch);
	json_object_object_add(o, "journal_owner", json_object_new_string(ji.owner));
	for (int i = 0; i < ERRCLASS_NSLOTS; i++)
		if (s.absorbed[i])
			add_u64(abs, errclass_slot_name(i), s.absorbed[i]);
	json_object_object_add(o, "absorbed", abs);
	add_u64(o, "holding", s.holding);
	add_u64(o, "holds", s.holds);
	add_u64(o, "hold_current_ms",
		s.hold_started_ms ? clock_ms(CLOCK_MONOTONIC) - s.hold_started_ms : 0);
	add_u64(o, "hold_longest_ms", s.hold_longest_ms);
	json_object_object_add(o, "hold_histogram", hold_histogram_json(&s));
	add_u64(o, "replay_done", s.replay_done);
	add_u64(o, "replay_total", s.replay_total);
	stall_stats(fs, &stalls, &rescued, &stuck);
	add_u64(o, "stalls", stalls);
	add_u64(o, "stalled_requests_rescued", rescued);
	add_u64(o, "stalled_calls_left", stuck);
	return o;
}

static pthread_mutex_t status_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * fs->journal changes only when a journal another node took over is taken
 * back (reclaim.c); the status thread reads it under status_lock.
 */
struct journal *status_swap_journal(struct lb_fs *fs, struct journal *j)
{
	struct journal *old;

	pthread_mutex_lock(&status_lock);
	old = fs->journal;
	fs->journal = j;
	pthread_mutex_unlock(&status_lock);
	return old;
}

/* One writer at a time: they share the temporary name. */
static void status_write(struct lb_fs *fs)
{
	struct json_object *o;
	const char *text;
	char tmp[PATH_MAX];
	FILE *f = NULL;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", fs->opt.status);
	pthread_mutex_lock(&status_lock);
	o = status_json(fs);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	/*
	 * The daemon runs with umask 0 (replay sets exact modes): give the
	 * file its mode ourselves, readable by all, writable by us only, and
	 * never follow a symlink someone left at the temporary name.
	 */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd >= 0 && !(f = fdopen(fd, "w")))
		close(fd);
	if (f) {
		fprintf(f, "%s\n", text);
		if (fclose(f) == 0)
			(void)rename(tmp, fs->opt.status);
	}
	pthread_mutex_unlock(&status_lock);
	json_object_put(o);
}

void status_update(struct lb_fs *fs)
{
	static const char *last;
	const char *now = lb_state_name(fs->state);

	if (last != now)
		log_notice("mount '%s' is %s", fs->opt.mountpoint, now);
	last = now;
	if (fs->opt.status)
		status_write(fs);
}

static void *status_main(void *arg)
{
	struct lb_fs *fs = arg;

	pthread_mutex_lock(&fs->state_mutex);
	while (!fs->stopping) {
		struct timespec until;

		pthread_mutex_unlock(&fs->state_mutex);
		status_write(fs);
		pthread_mutex_lock(&fs->state_mutex);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&fs->state_cond, &fs->state_mutex, &until);
	}
	pthread_mutex_unlock(&fs->state_mutex);
	return NULL;
}

static char *default_status_path(const char *mountpoint)
{
	char *path, *name = strdup(mountpoint[0] == '/' ? mountpoint + 1 : mountpoint);

	if (!name)
		return NULL;
	for (char *p = name; *p; p++)
		if (*p == '/')
			*p = '-';
	if (asprintf(&path, "/run/lifeboat/%s.status", name) < 0)
		path = NULL;
	free(name);
	return path;
}

int status_start(struct lb_fs *fs)
{
	int r;

	if (!fs->opt.status) {
		(void)mkdir("/run/lifeboat", 0755);
		fs->opt.status = default_status_path(fs->opt.mountpoint);
		if (!fs->opt.status)
			return -ENOMEM;
	}
	r = -pthread_create(&fs->status_thread, NULL, status_main, fs);
	if (r < 0)
		return log_error_errno(r, "cannot start the status writer");
	return 0;
}

void status_stop(struct lb_fs *fs)
{
	pthread_join(fs->status_thread, NULL);
	status_write(fs);
}
