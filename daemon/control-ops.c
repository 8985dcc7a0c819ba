// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * control-ops.c - what lifeboatd does for each control request (ops listed
 * in include/lifeboat/control-proto.h). Every argument is checked here,
 * with a message that names it, before anything changes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX ""
#include "lifeboat/log.h"
#include "lifeboatd.h"

static struct json_object *resp_ok(void)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

static struct json_object *resp_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static struct json_object *resp_err(int err, const char *fmt, ...)
{
	struct json_object *o = json_object_new_object();
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "errno", json_object_new_int(abs(err) ?: EIO));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return o;
}

/* The string argument key, or NULL when absent or not a string. */
static const char *arg_str(struct json_object *req, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(req, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool arg_bool(struct json_object *req, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(req, key, &v) && json_object_get_boolean(v);
}

/* NULL-terminated array of the strings of req[key] (not copied), or NULL. */
static const char **arg_strv(struct json_object *req, const char *key, size_t max, size_t *ret_n)
{
	struct json_object *a;
	const char **v;
	size_t n;

	if (!json_object_object_get_ex(req, key, &a) || !json_object_is_type(a, json_type_array))
		return NULL;
	n = json_object_array_length(a);
	if (n > max)
		return NULL;
	v = calloc(n + 1, sizeof(*v));
	for (size_t i = 0; v && i < n; i++) {
		struct json_object *s = json_object_array_get_idx(a, i);

		if (!json_object_is_type(s, json_type_string)) {
			free(v);
			return NULL;
		}
		v[i] = json_object_get_string(s);
	}
	*ret_n = n;
	return v;
}

/* An absolute path without ".." components. */
static bool path_valid(const char *p)
{
	size_t len = strlen(p);

	return p[0] == '/' && len < PATH_MAX && !strstr(p, "/../") &&
	       !(len >= 3 && !strcmp(p + len - 3, "/.."));
}

static bool ip_valid(const char *ip)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, ip, buf) == 1 || inet_pton(AF_INET6, ip, buf) == 1;
}

/* Is cmd executable, by path or in the request's PATH? */
static bool command_found(const char *cmd, const char **env)
{
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	char buf[PATH_MAX];

	if (strchr(cmd, '/'))
		return access(cmd, X_OK) == 0;
	for (size_t i = 0; env && env[i]; i++)
		if (!strncmp(env[i], "PATH=", 5))
			path = env[i] + 5;
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, ":");

		if (snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, cmd) < (int)sizeof(buf) && access(buf, X_OK) == 0)
			return true;
		p += n + (p[n] == ':');
	}
	return false;
}

static struct json_object *check_run_args(struct json_object *req, const char **argv, const char **env,
					  const char *name, const char *cwd, const char *ip)
{
	struct stat st;

	if (!name || !config_name_valid(name))
		return resp_err(EINVAL, "'name' must be 1-%d of A-Z a-z 0-9 _ . -", CONTROL_NAME_MAX);
	if (!argv || !argv[0])
		return resp_err(EINVAL, "'argv' must be 1 to %d strings", CONTROL_ARGV_MAX);
	if (!cwd || !path_valid(cwd))
		return resp_err(EINVAL, "'cwd' must be an absolute path without '..'");
	if (stat(cwd, &st) < 0 || !S_ISDIR(st.st_mode))
		return resp_err(ENOTDIR, "working directory '%s' is not a directory", cwd);
	if (json_object_object_get_ex(req, "env", NULL) && !env)
		return resp_err(EINVAL, "'env' must be at most %d strings", CONTROL_ENV_MAX);
	for (size_t i = 0; env && env[i]; i++)
		if (!strchr(env[i], '='))
			return resp_err(EINVAL, "'env' entry '%s' has no '='", env[i]);
	if (ip && !ip_valid(ip))
		return resp_err(EINVAL, "'service_ip' '%s' is not an IPv4 or IPv6 address", ip);
	if (!command_found(argv[0], env))
		return resp_err(ENOENT, "command '%s' not found or not executable", argv[0]);
	return NULL;
}

/* A paused command stops itself right after lifeboat-init's fork. */
#define PAUSED_TIMEOUT_MS 5000

static struct json_object *op_run(struct lifeboatd *d, struct json_object *req)
{
	const char *name = arg_str(req, "name"), *cwd = arg_str(req, "cwd"), *ip = arg_str(req, "service_ip");
	static const char *const no_env[] = { NULL };
	const char **argv, **env;
	struct json_object *resp;
	bool paused = arg_bool(req, "paused");
	struct procset *ps, *old;
	pid_t cmd_pid = 0;
	size_t n;
	int r;

	argv = arg_strv(req, "argv", CONTROL_ARGV_MAX, &n);
	env = arg_strv(req, "env", CONTROL_ENV_MAX, &n);
	resp = check_run_args(req, argv, env, name, cwd, ip);
	if (!resp && (old = procset_find(&d->sets, name)) && old->state != PROCSET_EXITED)
		resp = resp_err(EEXIST, "process set '%s' exists (%s)", name, procset_state_name(old->state));
	if (resp)
		goto out;
	r = procset_start(&d->env,
			  &(struct procset_spec){ .name = name, .argv = (char *const *)argv,
						  .envp = env ? (char *const *)env : (char *const *)no_env,
						  .cwd = cwd, .service_ip = ip, .paused = paused },
			  &ps);
	if (r < 0) {
		resp = resp_err(r, "cannot start process set '%s': %s (see lifeboatd's log)", name, strerror(-r));
		goto out;
	}
	r = procset_add(&d->sets, ps);
	if (r < 0) {
		(void)procset_stop(ps, 1);
		procset_free(ps);
		resp = resp_err(r, "cannot keep process set '%s': at most %d", name, PROCSET_MAX);
		goto out;
	}
	if (paused && (r = procset_wait_paused(ps, PAUSED_TIMEOUT_MS, &cmd_pid)) < 0) {
		(void)procset_stop(ps, 1);
		resp = resp_err(r, "process set '%s' was started paused, but its command did not stop before its exec: %s",
				name, strerror(-r));
		goto out;
	}
	resp = resp_ok();
	json_object_object_add(resp, "name", json_object_new_string(name));
	json_object_object_add(resp, "pid", json_object_new_int(ps->pid));
	if (paused)
		json_object_object_add(resp, "cmd_pid", json_object_new_int(cmd_pid));
	json_object_object_add(resp, "stdout", json_object_new_string(ps->stdout_path));
	json_object_object_add(resp, "stderr", json_object_new_string(ps->stderr_path));
out:
	free(argv);
	free(env);
	return resp;
}

static struct json_object *op_ps(struct lifeboatd *d)
{
	struct json_object *resp = resp_ok(), *a = json_object_new_array();

	for (size_t i = 0; i < PROCSET_MAX; i++)
		if (d->sets.sets[i])
			json_object_array_add(a, procset_to_json(d->sets.sets[i]));
	json_object_object_add(resp, "procsets", a);
	return resp;
}

static struct procset *find_arg(struct lifeboatd *d, struct json_object *req, struct json_object **ret_err)
{
	const char *name = arg_str(req, "name");
	struct procset *ps;

	*ret_err = NULL;
	if (!name || !config_name_valid(name)) {
		*ret_err = resp_err(EINVAL, "'name' must be 1-%d of A-Z a-z 0-9 _ . -", CONTROL_NAME_MAX);
		return NULL;
	}
	ps = procset_find(&d->sets, name);
	if (!ps)
		*ret_err = resp_err(ESRCH, "no process set '%s'", name);
	return ps;
}

static struct json_object *op_stop(struct lifeboatd *d, struct json_object *req)
{
	struct json_object *resp, *v;
	unsigned timeout = d->cfg.stop_timeout_s;
	struct procset *ps = find_arg(d, req, &resp);
	int r;

	if (!ps)
		return resp;
	if (json_object_object_get_ex(req, "timeout_s", &v)) {
		int t = json_object_get_int(v);

		if (t < 1 || t > 3600)
			return resp_err(EINVAL, "'timeout_s' must be 1 to 3600");
		timeout = (unsigned)t;
	}
	if (ps->state == PROCSET_EXITED)
		return resp_err(ESRCH, "process set '%s' has exited already", ps->name);
	if (ps->state == PROCSET_CHECKPOINTED) {
		/* nothing runs: forget the entry and its cgroups, keep the image */
		(void)cgroup_remove(&ps->cg);
		procset_remove(&d->sets, ps);
		return resp_ok();
	}
	r = procset_stop(ps, timeout);
	if (r < 0)
		return resp_err(r, "cannot stop '%s': %s", ps->name, strerror(-r));
	resp = resp_ok();
	json_object_object_add(resp, "name", json_object_new_string(ps->name));
	json_object_object_add(resp, "exit_status", json_object_new_int(procset_exit_code(ps)));
	return resp;
}

static void add_times(struct json_object *o, const struct procset_times *t)
{
	json_object_object_add(o, "freeze_us", json_object_new_int64((int64_t)t->freeze_us));
	json_object_object_add(o, "sync_us", json_object_new_int64((int64_t)t->sync_us));
	json_object_object_add(o, "dump_us", json_object_new_int64((int64_t)t->dump_us));
	json_object_object_add(o, "restore_us", json_object_new_int64((int64_t)t->restore_us));
}

static struct json_object *op_checkpoint(struct lifeboatd *d, struct json_object *req)
{
	struct procset_times t = { 0 };
	struct json_object *resp;
	struct procset *ps = find_arg(d, req, &resp);
	const char *dir = arg_str(req, "dir");
	char def[PATH_MAX];
	int r;

	if (!ps)
		return resp;
	if (dir && !path_valid(dir))
		return resp_err(EINVAL, "'dir' must be an absolute path without '..'");
	if (!dir) {
		if ((size_t)snprintf(def, sizeof(def), "%s/images/%s", d->cfg.state_dir, ps->name) >= sizeof(def))
			return resp_err(ENAMETOOLONG, "image directory of '%s' too long", ps->name);
		dir = def;
	}
	r = procset_checkpoint(&d->env, ps, dir, arg_bool(req, "leave_running"), &t);
	if (r < 0)
		return resp_err(r, "checkpoint of '%s' failed: %s; it keeps running (see lifeboatd's log)", ps->name,
				strerror(-r));
	resp = resp_ok();
	json_object_object_add(resp, "name", json_object_new_string(ps->name));
	json_object_object_add(resp, "dir", json_object_new_string(dir));
	add_times(resp, &t);
	return resp;
}

static struct json_object *op_restore(struct lifeboatd *d, struct json_object *req)
{
	const char *name = arg_str(req, "name"), *dir = arg_str(req, "dir");
	bool standby = arg_bool(req, "standby");
	struct procset_times t = { 0 };
	struct procset *ps = NULL, *made = NULL;
	struct json_object *resp;
	int r;

	if (dir && !path_valid(dir))
		return resp_err(EINVAL, "'dir' must be an absolute path without '..'");
	if (name && !(ps = find_arg(d, req, &resp)) && !dir)
		return resp;
	if (!name && !dir)
		return resp_err(EINVAL, "restore needs 'name' or 'dir'");
	if (ps && ps->state != PROCSET_CHECKPOINTED)
		return resp_err(EBUSY, "process set '%s' is %s, not checkpointed", ps->name,
				procset_state_name(ps->state));
	if (ps && !dir && !ps->image_dir[0])
		return resp_err(ENOENT, "process set '%s' has no image", ps->name);
	r = procset_restore(&d->env, ps, dir ?: ps->image_dir, ps ? NULL : &made, &t);
	if (r < 0)
		return resp_err(r, "restore failed: %s (see lifeboatd's log)", strerror(-r));
	if (made) {
		struct procset *old = procset_find(&d->sets, made->name);

		if (old && old->state != PROCSET_EXITED && old->state != PROCSET_CHECKPOINTED) {
			(void)procset_stop(made, 1);
			procset_free(made);
			return resp_err(EEXIST, "a process set of that name runs here already");
		}
		if (old)
			procset_remove(&d->sets, old);
		(void)procset_add(&d->sets, made);
		ps = made;
	}
	if (standby && (r = procset_hold_standby(ps)) < 0) {
		(void)procset_stop(ps, 1);
		return resp_err(r, "restored '%s' could not be held as a standby: %s; stopped it", ps->name,
				strerror(-r));
	}
	resp = resp_ok();
	json_object_object_add(resp, "name", json_object_new_string(ps->name));
	json_object_object_add(resp, "pid", json_object_new_int(ps->pid));
	add_times(resp, &t);
	return resp;
}

/* A warm standby (restored with "standby": true) goes on: SIGCONT to its processes. */
static struct json_object *op_activate(struct lifeboatd *d, struct json_object *req)
{
	struct json_object *resp;
	struct procset *ps = find_arg(d, req, &resp);
	struct timespec t0, t1;
	int r;

	if (!ps)
		return resp;
	if (ps->state != PROCSET_RUNNING || !ps->standby)
		return resp_err(EBUSY, "process set '%s' is %s, not a held standby", ps->name,
				ps->state == PROCSET_RUNNING ? "running" : procset_state_name(ps->state));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = procset_activate(ps);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r < 0)
		return resp_err(r, "cannot activate '%s': %s", ps->name, strerror(-r));
	procset_state_save(&d->env, &d->sets);
	resp = resp_ok();
	json_object_object_add(resp, "name", json_object_new_string(ps->name));
	json_object_object_add(resp, "pid", json_object_new_int(ps->pid));
	json_object_object_add(resp, "activate_us",
			       json_object_new_int64(((int64_t)t1.tv_sec - t0.tv_sec) * 1000000 +
						     (t1.tv_nsec - t0.tv_nsec) / 1000));
	return resp;
}

__attribute__((weak)) int lifeboatd_migrate(struct lifeboatd *d, struct procset *ps, const struct config_peer *peer,
					    struct json_object **ret_result, char *err, size_t err_size)
{
	snprintf(err, err_size, "handoff to peers is not built into this lifeboatd");
	return -EOPNOTSUPP;
}

static struct json_object *op_migrate(struct lifeboatd *d, struct json_object *req)
{
	const char *peer_name = arg_str(req, "peer");
	struct json_object *resp, *result = NULL;
	const struct config_peer *peer;
	struct procset *ps = find_arg(d, req, &resp);
	char err[512] = "";
	int r;

	if (!ps)
		return resp;
	if (!peer_name || !(peer = config_find_peer(&d->cfg, peer_name)))
		return resp_err(ENOENT, "no peer '%s' in '%s'", peer_name ?: "", d->config_path);
	if (ps->state != PROCSET_RUNNING)
		return resp_err(EBUSY, "process set '%s' is %s", ps->name, procset_state_name(ps->state));
	r = lifeboatd_migrate(d, ps, peer, &result, err, sizeof(err));
	if (r < 0)
		return resp_err(r, "migrate of '%s' to '%s' failed: %s", ps->name, peer->name, err[0] ? err : strerror(-r));
	resp = resp_ok();
	json_object_object_add(resp, "name", json_object_new_string(ps->name));
	json_object_object_add(resp, "peer", json_object_new_string(peer->name));
	if (result)
		json_object_object_add(resp, "result", result);
	return resp;
}

static struct json_object *op_ping(struct lifeboatd *d)
{
	struct json_object *resp = resp_ok();
	int n = 0;

	for (size_t i = 0; i < PROCSET_MAX; i++)
		n += d->sets.sets[i] != NULL;
	json_object_object_add(resp, "node", json_object_new_string(d->cfg.node_name));
	json_object_object_add(resp, "version", json_object_new_int(CONTROL_VERSION));
	json_object_object_add(resp, "procsets", json_object_new_int(n));
	json_object_object_add(resp, "handoffs_done", json_object_new_int64((int64_t)d->handoffs.done));
	json_object_object_add(resp, "handoffs_failed", json_object_new_int64((int64_t)d->handoffs.failed));
	json_object_object_add(resp, "handoff_frozen_us_sum",
			       json_object_new_int64((int64_t)d->handoffs.frozen_us_sum));
	json_object_object_add(resp, "handoff_last_frozen_us",
			       json_object_new_int64((int64_t)d->handoffs.last_frozen_us));
	return resp;
}

void lifeboatd_handle(struct lifeboatd *d, struct json_object *req, struct json_object **ret_resp)
{
	const char *op = arg_str(req, "op");

	if (!op)
		*ret_resp = resp_err(EINVAL, "request has no 'op'");
	else if (!strcmp(op, "ping"))
		*ret_resp = op_ping(d);
	else if (!strcmp(op, "run"))
		*ret_resp = op_run(d, req);
	else if (!strcmp(op, "ps"))
		*ret_resp = op_ps(d);
	else if (!strcmp(op, "stop"))
		*ret_resp = op_stop(d, req);
	else if (!strcmp(op, "checkpoint"))
		*ret_resp = op_checkpoint(d, req);
	else if (!strcmp(op, "restore"))
		*ret_resp = op_restore(d, req);
	else if (!strcmp(op, "activate"))
		*ret_resp = op_activate(d, req);
	else if (!strcmp(op, "migrate"))
		*ret_resp = op_migrate(d, req);
	else
		*ret_resp = resp_err(EOPNOTSUPP, "unknown op '%.64s'", op);
}
