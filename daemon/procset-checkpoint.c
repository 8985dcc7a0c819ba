// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * procset-checkpoint.c - checkpoint and restore of a whole process set.
 *
 * Checkpoint: freeze the cgroup (so nothing dirties a page after the
 * flush), syncfs every configured mount and the set's working directory
 * (dirty pages of shared mappings reach lifeboatfs, so its journal; CRIU
 * then stats every open file and reopens them by path with their sizes at
 * restore), dump with CRIU using the frozen cgroup. A set whose tasks do
 * not freeze (e.g. one blocked in a FUSE request) is thawed and the
 * checkpoint refused: CRIU could not seize it either.
 *
 * The image directory also holds procset.json (name, command, working
 * directory, logs), so a peer or a restarted lifeboatd can restore it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "procset: "
#include "lifeboat/log.h"
#include "checkpoint.h"
#include "procset.h"

#define META_MAX (256 * 1024)

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(buf, mode) < 0 && errno != EEXIST)
				return -errno;
			*p = '/';
		}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Opens dir (made if missing) and removes the files of an older image. */
static int open_image_dir(const char *dir, bool clear, int *ret_fd)
{
	struct dirent *de;
	DIR *d;
	int fd, r;

	r = clear ? mkdir_p(dir, 0700) : 0;
	if (r < 0)
		return log_error_errno(r, "cannot create the image directory '%s'", dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(-errno, "cannot open the image directory '%s'", dir);
	if (clear) {
		d = fdopendir(fcntl(fd, F_DUPFD_CLOEXEC, 0));
		while (d && (de = readdir(d)))
			if (de->d_type == DT_REG)
				(void)unlinkat(fd, de->d_name, 0);
		if (d)
			closedir(d);
	}
	*ret_fd = fd;
	return 0;
}

static int write_meta(const struct procset *ps, const struct procset_env *env, int dir_fd)
{
	struct json_object *o = procset_to_json(ps);
	const char *s;
	int fd, r = 0;

	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "node", json_object_new_string(env->cfg->node_name));
	json_object_object_add(o, "init", json_object_new_string(env->init_path));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	fd = openat(dir_fd, PROCSET_META_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s) || fsync(fd) < 0)
		r = log_error_errno(-errno, "cannot write '%s' of '%s'", PROCSET_META_FILE, ps->name);
	if (fd >= 0)
		close(fd);
	json_object_put(o);
	return r;
}

static int sync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	int r = 0;

	if (fd < 0)
		return log_error_errno(-errno, "cannot open '%s' to sync it", path);
	if (syncfs(fd) < 0)
		r = log_error_errno(-errno, "syncfs of '%s' failed", path);
	close(fd);
	return r;
}

/* Every configured mount and the set's working directory. */
static int sync_mounts(const struct procset_env *env, const struct procset *ps)
{
	int r;

	for (unsigned i = 0; i < env->cfg->n_mounts; i++) {
		r = sync_path(env->cfg->mounts[i].path);
		if (r < 0)
			return r;
	}
	return sync_path(ps->cwd);
}

static void fill_opts(const struct procset_env *env, const struct procset *ps, struct checkpoint_opts *o)
{
	*o = (struct checkpoint_opts){
		.criu_bin = env->criu_bin,
		.config_file = env->criu_conf,
		.timeout_s = env->cfg->criu_timeout_s,
		.log_level = env->cfg->criu_log_level,
		.freezer = ps->cg.freezer,
		.tcp_established = ps->service_ip[0] != '\0',
	};
}

/* After a dump that ended the tasks: reap the init. */
static void reap_dumped(struct procset *ps)
{
	for (int i = 0; i < 1000; i++) {
		pid_t w = waitpid(ps->pid, NULL, WNOHANG);

		if (w == ps->pid || (w < 0 && errno == ECHILD))
			break;
		if (i == 100)
			(void)kill(ps->pid, SIGKILL);
		usleep(10000);
	}
	ps->pid = 0;
}

int procset_checkpoint(const struct procset_env *env, struct procset *ps, const char *dir, bool leave_running,
		       struct procset_times *times)
{
	struct procset_times t = { 0 };
	struct checkpoint_opts o;
	uint64_t t0;
	int dir_fd, r;

	if (ps->state != PROCSET_RUNNING)
		return log_error_errno(-ESRCH, "process set '%s' is %s, not running", ps->name,
				       procset_state_name(ps->state));
	r = open_image_dir(dir, true, &dir_fd);
	if (r < 0)
		return r;
	r = write_meta(ps, env, dir_fd);
	if (r < 0)
		goto out_close;
	t0 = now_us();
	r = cgroup_freeze(&ps->cg, PROCSET_FREEZE_TIMEOUT_MS);
	if (r < 0)
		goto out_close;
	t.freeze_us = now_us() - t0;
	t0 = now_us();
	r = sync_mounts(env, ps);
	t.sync_us = now_us() - t0;
	if (r < 0)
		goto out_thaw;
	fill_opts(env, ps, &o);
	o.leave_running = leave_running;
	t0 = now_us();
	r = checkpoint_dump(ps->pid, dir_fd, &o);
	t.dump_us = now_us() - t0;
	if (r < 0)
		goto out_thaw;
	snprintf(ps->image_dir, sizeof(ps->image_dir), "%s", dir);
	(void)cgroup_thaw(&ps->cg);	/* left running, or let the killed tasks go */
	if (!leave_running) {
		ps->state = PROCSET_CHECKPOINTED;
		reap_dumped(ps);
		procset_exited(ps, 0);	/* closes an adopted set's pidfd; state stays */
	}
	log_info("process set '%s' checkpointed into '%s' (freeze %llu us, sync %llu us, dump %llu us)%s", ps->name,
		 dir, (unsigned long long)t.freeze_us, (unsigned long long)t.sync_us,
		 (unsigned long long)t.dump_us, leave_running ? ", left running" : "");
	if (times)
		*times = t;
	close(dir_fd);
	return 0;

out_thaw:
	(void)cgroup_thaw(&ps->cg);
	log_warning("process set '%s' resumes after the failed checkpoint", ps->name);
out_close:
	close(dir_fd);
	return r;
}

static int read_meta(int dir_fd, struct json_object **ret)
{
	char *buf = malloc(META_MAX + 1);
	struct json_object *o;
	ssize_t n = -1;
	int fd;

	if (!buf)
		return -ENOMEM;
	fd = openat(dir_fd, PROCSET_META_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		n = read(fd, buf, META_MAX + 1);
		close(fd);
	}
	if (n < 0 || n > META_MAX) {
		free(buf);
		return n < 0 ? -errno : -EFBIG;
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

static const char *meta_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int procset_from_json(const struct procset_env *env, struct json_object *m, struct procset **ret)
{
	const char *name = meta_str(m, "name"), *cwd = meta_str(m, "cwd");
	const char *out = meta_str(m, "stdout"), *err = meta_str(m, "stderr");
	struct json_object *argv;
	struct procset *ps;
	size_t n;

	if (!name || !config_name_valid(name) || !cwd || cwd[0] != '/' || !out || !err ||
	    !json_object_object_get_ex(m, "argv", &argv) || !json_object_is_type(argv, json_type_array) ||
	    (n = json_object_array_length(argv)) == 0 || n > CONTROL_ARGV_MAX)
		return -EBADMSG;
	ps = calloc(1, sizeof(*ps));
	if (!ps || !(ps->argv = calloc(n + 1, sizeof(char *)))) {
		free(ps);
		return -ENOMEM;
	}
	ps->pidfd = -1;
	for (size_t i = 0; i < n; i++) {
		const char *a = json_object_get_string(json_object_array_get_idx(argv, i));

		if (!a || !(ps->argv[i] = strdup(a))) {
			procset_free(ps);
			return -EBADMSG;
		}
	}
	snprintf(ps->name, sizeof(ps->name), "%s", name);
	snprintf(ps->cwd, sizeof(ps->cwd), "%s", cwd);
	snprintf(ps->stdout_path, sizeof(ps->stdout_path), "%s", out);
	snprintf(ps->stderr_path, sizeof(ps->stderr_path), "%s", err);
	snprintf(ps->service_ip, sizeof(ps->service_ip), "%s", meta_str(m, "service_ip") ?: "");
	ps->state = PROCSET_CHECKPOINTED;
	if (cgroup_init(env->cfg->cgroup_parent, ps->name, &ps->cg) < 0) {
		procset_free(ps);
		return -ENOENT;
	}
	*ret = ps;
	return 0;
}

/*
 * After a failed restore: what CRIU had restored so far (its root is our
 * child by CLONE_PARENT) must not run. Kill the cgroup's tasks and reap
 * those that are our children; the rest are reaped by their own parents.
 */
static void kill_partial_restore(struct procset *ps)
{
	pid_t pids[256];
	int n = cgroup_pids(&ps->cg, pids, 256);

	if (n == 0)
		return;
	log_warning("killing %d task(s) of the failed restore of '%s'", n, ps->name);
	(void)cgroup_kill(&ps->cg, SIGKILL);
	(void)cgroup_thaw(&ps->cg);
	for (int i = 0; i < n; i++)
		for (int t = 0; t < 100; t++) {
			pid_t w = waitpid(pids[i], NULL, WNOHANG);

			if (w == pids[i] || (w < 0 && errno == ECHILD))
				break;
			usleep(10000);
		}
}

int procset_restore(const struct procset_env *env, struct procset *ps, const char *dir,
		    struct procset **ret, struct procset_times *times)
{
	struct procset *made = NULL;
	struct json_object *meta = NULL;
	struct checkpoint_opts o;
	char dir_copy[PATH_MAX];
	uint64_t t0;
	pid_t pid;
	int dir_fd, r;

	/* dir may be ps->image_dir itself, which is rewritten below */
	snprintf(dir_copy, sizeof(dir_copy), "%s", dir);
	dir = dir_copy;
	r = open_image_dir(dir, false, &dir_fd);
	if (r < 0)
		return r;
	r = read_meta(dir_fd, &meta);
	if (r < 0) {
		close(dir_fd);
		return log_error_errno(r, "image '%s' has no valid %s", dir, PROCSET_META_FILE);
	}
	if (!ps) {
		r = procset_from_json(env, meta, &made);
		if (r < 0)
			r = log_error_errno(r, "image '%s': bad %s", dir, PROCSET_META_FILE);
		ps = made;
	} else if (!meta_str(meta, "name") || strcmp(meta_str(meta, "name"), ps->name))
		r = log_error_errno(-EINVAL, "image '%s' holds '%s', not '%s'", dir, meta_str(meta, "name") ?: "?",
				    ps->name);
	json_object_put(meta);
	if (r == 0 && ps->state != PROCSET_CHECKPOINTED)
		r = log_error_errno(-EBUSY, "process set '%s' is %s", ps->name, procset_state_name(ps->state));
	if (r == 0)
		r = cgroup_create(&ps->cg);
	if (r < 0)
		goto out;
	(void)cgroup_thaw(&ps->cg);
	fill_opts(env, ps, &o);
	o.freezer = NULL;
	t0 = now_us();
	r = checkpoint_restore(dir_fd, &o, &pid);
	if (r < 0) {
		kill_partial_restore(ps);
		goto out;
	}
	ps->pid = pid;
	ps->state = PROCSET_RUNNING;
	ps->started = time(NULL);
	ps->starttime = procset_pid_starttime(pid);
	snprintf(ps->image_dir, sizeof(ps->image_dir), "%s", dir);
	if (times)
		times->restore_us = now_us() - t0;
	log_info("process set '%s' restored from '%s': init pid %d", ps->name, dir, (int)pid);
	if (ret)
		*ret = ps;
	made = NULL;
out:
	procset_free(made);
	close(dir_fd);
	return r;
}
