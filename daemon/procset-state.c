// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * procset-state.c - process sets outlive lifeboatd (their inits are
 * reparented when it stops); these state files let the next lifeboatd
 * find them again. One JSON file per running or checkpointed set in
 * state_dir/procsets, written atomically (temporary file, rename).
 *
 * A running set is adopted only if its init still runs with the recorded
 * start time (not a reused PID) and sits in the set's freezer cgroup.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LOG_PREFIX "procset: "
#include "lifeboat/log.h"
#include "lifeboat/proc-stat.h"
#include "procset.h"

#define STATE_SUBDIR "procsets"
#define STATE_MAX (256 * 1024)

static int state_dir(const struct procset_env *env, char *buf, size_t size)
{
	if ((size_t)snprintf(buf, size, "%s/%s", env->cfg->state_dir, STATE_SUBDIR) >= size)
		return -ENAMETOOLONG;
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int write_state(int dir_fd, const struct procset *ps)
{
	struct json_object *o = procset_to_json(ps);
	char tmp[CONTROL_NAME_MAX + 16], name[CONTROL_NAME_MAX + 8];
	const char *s;
	int fd, r = 0;

	snprintf(tmp, sizeof(tmp), ".%s.json.tmp", ps->name);
	snprintf(name, sizeof(name), "%s.json", ps->name);
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s) || renameat(dir_fd, tmp, dir_fd, name) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	json_object_put(o);
	return r;
}

static bool is_kept(const struct procset *ps)
{
	return ps && (ps->state == PROCSET_RUNNING || ps->state == PROCSET_CHECKPOINTED);
}

/* Removes the files of sets that are gone or exited. */
static void remove_stale(int dir_fd, struct procset_table *t)
{
	DIR *d = fdopendir(fcntl(dir_fd, F_DUPFD_CLOEXEC, 0));
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char name[CONTROL_NAME_MAX + 1];
		size_t len = strlen(de->d_name);
		struct procset *ps;

		if (de->d_name[0] == '.' || len <= 5 || len - 5 > CONTROL_NAME_MAX ||
		    strcmp(de->d_name + len - 5, ".json"))
			continue;
		memcpy(name, de->d_name, len - 5);
		name[len - 5] = '\0';
		ps = procset_find(t, name);
		if (!is_kept(ps))
			(void)unlinkat(dir_fd, de->d_name, 0);
	}
	if (d)
		closedir(d);
}

void procset_state_save(const struct procset_env *env, struct procset_table *t)
{
	char dir[PATH_MAX];
	int dir_fd, r;

	r = state_dir(env, dir, sizeof(dir));
	dir_fd = r < 0 ? r : open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0) {
		log_warning_errno(r < 0 ? r : -errno, "cannot keep state files in '%s'", dir);
		return;
	}
	for (size_t i = 0; i < PROCSET_MAX; i++)
		if (is_kept(t->sets[i]) && (r = write_state(dir_fd, t->sets[i])) < 0)
			log_warning_errno(r, "cannot write the state file of '%s'", t->sets[i]->name);
	remove_stale(dir_fd, t);
	close(dir_fd);
}

static int read_json(int dir_fd, const char *name, struct json_object **ret)
{
	char *buf = malloc(STATE_MAX + 1);
	struct json_object *o;
	ssize_t n = -1;
	int fd;

	if (!buf)
		return -ENOMEM;
	fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		n = read(fd, buf, STATE_MAX + 1);
		close(fd);
	}
	if (n < 0 || n > STATE_MAX) {
		free(buf);
		return -EBADMSG;
	}
	buf[n] = '\0';
	o = json_tokener_parse(buf);
	free(buf);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return -EBADMSG;
	}
	*ret = o;
	return 0;
}

static int64_t get_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

/* Is pid in the freezer cgroup of ps (its /proc/PID/cgroup line)? */
static bool in_cgroup(const struct procset *ps, pid_t pid)
{
	char path[64], line[PATH_MAX], want[PATH_MAX];
	const char *rel = ps->cg.freezer + strlen(CGROUP_V1_ROOT "/freezer");
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	snprintf(want, sizeof(want), ":freezer:%s\n", rel);
	f = fopen(path, "re");
	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, want) != NULL;
	if (f)
		fclose(f);
	return found;
}

/* A zombie whose new parent has not reaped it yet has ended too. */
static bool is_zombie(pid_t pid)
{
	char s = proc_stat_state(pid);

	return s == 'Z' || s == 'X';
}

/* A running set: adopt it if its init is still the one recorded. */
static int adopt_running(struct procset *ps, struct json_object *o)
{
	pid_t pid = (pid_t)get_int(o, "pid");
	uint64_t start = (uint64_t)get_int(o, "starttime");

	if (pid <= 0 || start == 0 || procset_pid_starttime(pid) != start || is_zombie(pid) || !in_cgroup(ps, pid))
		return -ESRCH;
	ps->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (ps->pidfd < 0)
		return -errno;
	(void)fcntl(ps->pidfd, F_SETFD, FD_CLOEXEC);
	ps->pid = pid;
	ps->starttime = start;
	ps->started = (time_t)get_int(o, "started");
	ps->state = PROCSET_RUNNING;
	ps->adopted = true;
	return 0;
}

static int load_one(const struct procset_env *env, struct procset_table *t, int dir_fd, const char *file)
{
	struct procset *ps = NULL;
	struct json_object *o = NULL;
	char state[16];
	int r;

	r = read_json(dir_fd, file, &o);
	if (r == 0)
		r = procset_from_json(env, o, &ps);
	if (r < 0) {
		json_object_put(o);
		return log_warning_errno(r, "state file '%s' is not valid, ignoring it", file);
	}
	snprintf(state, sizeof(state), "%s", get_str(o, "state"));	/* o is put below */
	snprintf(ps->image_dir, sizeof(ps->image_dir), "%s", get_str(o, "image_dir"));
	if (!strcmp(state, "running")) {
		struct json_object *sb;

		r = adopt_running(ps, o);
		/* a held warm standby stays one until `activate` */
		ps->standby = json_object_object_get_ex(o, "standby", &sb) && json_object_get_boolean(sb);
	}
	else if (strcmp(state, "checkpointed") || ps->image_dir[0] != '/')
		r = -EINVAL;
	json_object_put(o);
	if (r == 0)
		r = procset_add(t, ps);
	if (r < 0) {
		log_info("process set '%s' of an earlier lifeboatd is gone (%s)", ps->name, state);
		procset_free(ps);
		return 0;
	}
	if (ps->pid > 0)
		log_info("process set '%s' of an earlier lifeboatd adopted: running, init pid %d", ps->name,
			 (int)ps->pid);
	else
		log_info("process set '%s' of an earlier lifeboatd adopted: checkpointed in '%s'", ps->name,
			 ps->image_dir);
	return 1;
}

int procset_state_load(const struct procset_env *env, struct procset_table *t)
{
	char dir[PATH_MAX];
	struct dirent *de;
	int n = 0, r;
	DIR *d;

	r = state_dir(env, dir, sizeof(dir));
	if (r < 0)
		return log_error_errno(r, "cannot create '%s'", dir);
	d = opendir(dir);
	if (!d)
		return log_error_errno(-errno, "cannot read '%s'", dir);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] != '.' && len > 5 && !strcmp(de->d_name + len - 5, ".json"))
			n += load_one(env, t, dirfd(d), de->d_name) > 0;
	}
	closedir(d);
	procset_state_save(env, t);	/* drops the files of sets that are gone */
	return n;
}
