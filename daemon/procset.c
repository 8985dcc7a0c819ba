// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * procset.c - start, stop and list process sets (see procset.h).
 *
 * Start: lifeboatd clone()s with CLONE_NEWPID | CLONE_NEWIPC; the child (pid 1 of the new
 * namespace) joins the cgroups, calls setsid(), takes /dev/null as stdin
 * and the two log files (O_APPEND) as stdout and stderr, closes every other
 * fd, changes to the user's directory and executes lifeboat-init, which
 * runs the command. A close-on-exec pipe carries a failure before the exec
 * back to lifeboatd, so `lifeboat run` reports it instead of a dead set.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "procset: "
#include "lifeboat/log.h"
#include "lifeboat/proc-stat.h"
#include "procset.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

struct procset *procset_find(struct procset_table *t, const char *name)
{
	for (size_t i = 0; i < PROCSET_MAX; i++)
		if (t->sets[i] && !strcmp(t->sets[i]->name, name))
			return t->sets[i];
	return NULL;
}

struct procset *procset_find_pid(struct procset_table *t, pid_t pid)
{
	for (size_t i = 0; i < PROCSET_MAX; i++)
		if (t->sets[i] && t->sets[i]->pid == pid && pid > 0)
			return t->sets[i];
	return NULL;
}

int procset_add(struct procset_table *t, struct procset *ps)
{
	struct procset *old = procset_find(t, ps->name);
	size_t i;

	if (old && old->state != PROCSET_EXITED)
		return -EEXIST;
	if (old)
		procset_remove(t, old);
	for (i = 0; i < PROCSET_MAX; i++)
		if (!t->sets[i])
			break;
	if (i == PROCSET_MAX)
		return -ENOSPC;
	t->sets[i] = ps;
	return 0;
}

void procset_remove(struct procset_table *t, struct procset *ps)
{
	for (size_t i = 0; i < PROCSET_MAX; i++)
		if (t->sets[i] == ps) {
			t->sets[i] = NULL;
			procset_free(ps);
		}
}

void procset_free(struct procset *ps)
{
	if (!ps)
		return;
	if (ps->pidfd >= 0)
		close(ps->pidfd);
	for (char **a = ps->argv; a && *a; a++)
		free(*a);
	free(ps->argv);
	free(ps);
}

const char *procset_state_name(enum procset_state s)
{
	switch (s) {
	case PROCSET_RUNNING:
		return "running";
	case PROCSET_CHECKPOINTED:
		return "checkpointed";
	case PROCSET_EXITED:
		return "exited";
	}
	return "unknown";
}

static char **strv_copy(char *const *v)
{
	size_t n = 0;
	char **c;

	while (v[n])
		n++;
	c = calloc(n + 1, sizeof(*c));
	if (!c)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!(c[i] = strdup(v[i]))) {
			while (i-- > 0)
				free(c[i]);
			free(c);
			return NULL;
		}
	return c;
}

static int procset_new(const struct procset_env *env, const struct procset_spec *spec, struct procset **ret)
{
	struct procset *ps = calloc(1, sizeof(*ps));
	int r;

	if (!ps)
		return -ENOMEM;
	ps->pidfd = -1;
	snprintf(ps->name, sizeof(ps->name), "%s", spec->name);
	snprintf(ps->cwd, sizeof(ps->cwd), "%s", spec->cwd);
	snprintf(ps->service_ip, sizeof(ps->service_ip), "%s", spec->service_ip ? spec->service_ip : "");
	if ((size_t)snprintf(ps->stdout_path, sizeof(ps->stdout_path), "%s/%s.stdout", env->cfg->log_dir,
			     spec->name) >= sizeof(ps->stdout_path) ||
	    (size_t)snprintf(ps->stderr_path, sizeof(ps->stderr_path), "%s/%s.stderr", env->cfg->log_dir,
			     spec->name) >= sizeof(ps->stderr_path)) {
		procset_free(ps);
		return log_error_errno(-ENAMETOOLONG, "log file paths of '%s' too long", spec->name);
	}
	ps->argv = strv_copy(spec->argv);
	r = ps->argv ? cgroup_init(env->cfg->cgroup_parent, spec->name, &ps->cg) : -ENOMEM;
	if (r < 0) {
		procset_free(ps);
		return r;
	}
	*ret = ps;
	return 0;
}

/* argv for execve: lifeboat-init [--stop-before-exec] -- CMD ARGS... */
static char **init_argv(const char *init_path, char *const *argv, bool paused)
{
	size_t n = 0, k = 0;
	char **a;

	while (argv[n])
		n++;
	a = calloc(n + 4, sizeof(*a));
	if (!a)
		return NULL;
	a[k++] = (char *)init_path;
	if (paused)
		a[k++] = (char *)"--stop-before-exec";
	a[k++] = (char *)"--";
	memcpy(a + k, argv, n * sizeof(*a));
	return a;
}

static int child_open_fds(const struct procset *ps)
{
	int fd;

	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || dup2(fd, 0) < 0)
		return -errno;
	fd = open(ps->stdout_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0 || dup2(fd, 1) < 0)
		return -errno;
	fd = open(ps->stderr_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0 || dup2(fd, 2) < 0)
		return -errno;
	return 0;
}

/* In the child, pid 1 of the new namespace; reports -errno on err_fd. */
static __attribute__((noreturn)) void child_exec(const struct procset *ps, const char *init_path, char **argv,
						 char *const *envp, int err_fd)
{
	sigset_t none;
	int r, step = 1;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		(void)signal(sig, SIG_DFL);
	r = cgroup_attach_self(&ps->cg);
	if (r == 0 && (step = 2, setsid() < 0))
		r = -errno;
	if (r == 0 && (step = 3, chdir(ps->cwd) < 0))
		r = -errno;
	if (r == 0) {
		step = 4;
		r = child_open_fds(ps);
	}
	if (r == 0) {
		step = 5;
		/* everything but 0-2 and err_fd is close-on-exec already; make sure */
		if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
			r = -errno;
	}
	if (r == 0) {
		step = 6;
		execve(init_path, argv, envp);
		r = -errno;
	}
	{
		int msg[2] = { step, r };

		(void)!write(err_fd, msg, sizeof(msg));
	}
	_exit(127);
}

static const char *step_name(int step)
{
	static const char *const names[] = { "?", "cannot join the cgroups", "setsid failed",
		"cannot change to the working directory", "cannot open /dev/null or the log files",
		"cannot close inherited fds", "cannot execute lifeboat-init" };

	return step >= 1 && step <= 6 ? names[step] : names[0];
}

/* Waits for the exec (EOF on the pipe) or the child's failure report. */
static int wait_exec(struct procset *ps, int err_fd, const char *init_path)
{
	int msg[2];
	ssize_t n;

	do
		n = read(err_fd, msg, sizeof(msg));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	(void)waitpid(ps->pid, NULL, 0);
	ps->pid = 0;
	if (n != sizeof(msg))
		return log_error_errno(-EIO, "process set '%s': the child failed before exec", ps->name);
	if (msg[0] == 3)
		return log_error_errno(msg[1], "process set '%s': %s '%s'", ps->name, step_name(msg[0]), ps->cwd);
	if (msg[0] == 6)
		return log_error_errno(msg[1], "process set '%s': %s '%s'", ps->name, step_name(msg[0]), init_path);
	return log_error_errno(msg[1], "process set '%s': %s", ps->name, step_name(msg[0]));
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0750) < 0 && errno != EEXIST)
		return log_error_errno(-errno, "cannot create '%s'", path);
	return 0;
}

int procset_start(const struct procset_env *env, const struct procset_spec *spec, struct procset **ret)
{
	struct procset *ps = NULL;
	char **argv;
	int pipefd[2], r;
	pid_t pid;

	r = procset_new(env, spec, &ps);
	if (r < 0)
		return r;
	argv = init_argv(env->init_path, ps->argv, spec->paused);
	r = argv ? make_dir(env->cfg->log_dir) : -ENOMEM;
	if (r == 0)
		r = cgroup_create(&ps->cg);
	if (r == 0 && pipe2(pipefd, O_CLOEXEC) < 0)
		r = log_error_errno(-errno, "cannot create a pipe");
	if (r < 0)
		goto out_free;
	/*
	 * fork-like clone: the child is pid 1 of a new PID namespace, and of
	 * a new IPC namespace so that System V shared memory the app attaches
	 * (PostgreSQL's) is the set's own: CRIU refuses to dump a SysV mapping
	 * outside a dumped IPC namespace, and with it carries the segments.
	 */
	pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWIPC | SIGCHLD, NULL, NULL, NULL, 0);
	if (pid == 0)
		child_exec(ps, env->init_path, argv, spec->envp, pipefd[1]);
	close(pipefd[1]);
	if (pid < 0) {
		r = log_error_errno(-errno, "cannot clone a new PID namespace for '%s'", ps->name);
		close(pipefd[0]);
		goto out_cgroup;
	}
	ps->pid = pid;
	r = wait_exec(ps, pipefd[0], env->init_path);
	close(pipefd[0]);
	if (r < 0)
		goto out_cgroup;
	ps->state = PROCSET_RUNNING;
	ps->started = time(NULL);
	ps->starttime = procset_pid_starttime(pid);
	free(argv);
	log_info("process set '%s' started: init pid %d, '%s'", ps->name, (int)pid, ps->argv[0]);
	*ret = ps;
	return 0;

out_cgroup:
	(void)cgroup_remove(&ps->cg);
out_free:
	free(argv);
	procset_free(ps);
	return r;
}

void procset_exited(struct procset *ps, int status)
{
	ps->exit_status = status;
	ps->pid = 0;
	ps->adopted = false;
	if (ps->pidfd >= 0) {
		close(ps->pidfd);
		ps->pidfd = -1;
	}
	if (ps->state == PROCSET_RUNNING) {
		ps->state = PROCSET_EXITED;
		/* the namespace died with its init; a leftover of the set would be a bug */
		(void)cgroup_kill(&ps->cg, SIGKILL);
		(void)cgroup_remove(&ps->cg);
		if (WIFEXITED(status))
			log_info("process set '%s' exited with status %d", ps->name, WEXITSTATUS(status));
		else if (WIFSIGNALED(status))
			log_info("process set '%s' killed by signal %d", ps->name, WTERMSIG(status));
	}
}

/* An adopted init is not our child: its pidfd turns readable when it exits. */
static int wait_adopted(struct procset *ps, unsigned timeout_ms)
{
	struct pollfd p = { .fd = ps->pidfd, .events = POLLIN };

	if (poll(&p, 1, (int)timeout_ms) == 0)
		return -ETIMEDOUT;
	procset_exited(ps, -1);
	return 0;
}

/* waitpid with a deadline; 0 when reaped, -ETIMEDOUT. */
static int wait_init(struct procset *ps, unsigned timeout_ms)
{
	if (ps->adopted)
		return wait_adopted(ps, timeout_ms);
	for (unsigned waited = 0;; waited += 10) {
		int status;
		pid_t w = waitpid(ps->pid, &status, WNOHANG);

		if (w == ps->pid || (w < 0 && errno == ECHILD)) {
			procset_exited(ps, w == ps->pid ? status : 0);
			return 0;
		}
		if (waited >= timeout_ms)
			return -ETIMEDOUT;
		usleep(10000);
	}
}

static void end_stopped(const struct procset *ps);

int procset_stop(struct procset *ps, unsigned timeout_s)
{
	int r;

	if (ps->state != PROCSET_RUNNING || ps->pid <= 0)
		return 0;
	(void)cgroup_thaw(&ps->cg);	/* a frozen set could not act on SIGTERM */
	if (kill(ps->pid, SIGTERM) < 0 && errno != ESRCH)
		return log_error_errno(-errno, "cannot signal the init of '%s'", ps->name);
	end_stopped(ps);
	r = wait_init(ps, timeout_s * 1000);
	if (r == -ETIMEDOUT) {
		log_warning("process set '%s' did not stop within %u s: killing it", ps->name, timeout_s);
		(void)cgroup_kill(&ps->cg, SIGKILL);
		(void)kill(ps->pid, SIGKILL);
		r = wait_init(ps, 10000);
	}
	if (r < 0)
		return log_error_errno(r, "process set '%s' does not end", ps->name);
	return 0;
}

int procset_exit_code(const struct procset *ps)
{
	if (ps->exit_status < 0)
		return -1;
	return WIFEXITED(ps->exit_status) ? WEXITSTATUS(ps->exit_status) : 128 + WTERMSIG(ps->exit_status);
}

uint64_t procset_pid_starttime(pid_t pid)
{
	char buf[1024];
	const char *f = proc_stat_fields(pid, buf, sizeof(buf));
	unsigned long long st = 0;

	/* from state (field 3) on: starttime is field 22 */
	if (!f || sscanf(f, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
			 &st) != 1)
		return 0;
	return st;
}

static struct json_object *strv_to_json(char **v)
{
	struct json_object *a = json_object_new_array();

	for (; v && *v; v++)
		json_object_array_add(a, json_object_new_string(*v));
	return a;
}

struct json_object *procset_to_json(const struct procset *ps)
{
	struct json_object *o = json_object_new_object();
	uint64_t cpu = 0, mem = 0;

	if (ps->state == PROCSET_RUNNING)
		cgroup_stats(&ps->cg, &cpu, &mem);
	json_object_object_add(o, "name", json_object_new_string(ps->name));
	json_object_object_add(o, "state", json_object_new_string(procset_state_name(ps->state)));
	json_object_object_add(o, "pid", json_object_new_int(ps->pid));
	json_object_object_add(o, "argv", strv_to_json(ps->argv));
	json_object_object_add(o, "cwd", json_object_new_string(ps->cwd));
	json_object_object_add(o, "service_ip", json_object_new_string(ps->service_ip));
	json_object_object_add(o, "stdout", json_object_new_string(ps->stdout_path));
	json_object_object_add(o, "stderr", json_object_new_string(ps->stderr_path));
	json_object_object_add(o, "image_dir", json_object_new_string(ps->image_dir));
	json_object_object_add(o, "cgroup", json_object_new_string(ps->cg.freezer));
	json_object_object_add(o, "started", json_object_new_int64((int64_t)ps->started));
	json_object_object_add(o, "cpu_ns", json_object_new_int64((int64_t)cpu));
	json_object_object_add(o, "memory_bytes", json_object_new_int64((int64_t)mem));
	json_object_object_add(o, "adopted", json_object_new_boolean(ps->adopted));
	json_object_object_add(o, "starttime", json_object_new_int64((int64_t)ps->starttime));
	if (ps->standby)
		json_object_object_add(o, "standby", json_object_new_boolean(1));
	if (ps->state == PROCSET_EXITED)
		json_object_object_add(o, "exit_status", json_object_new_int(procset_exit_code(ps)));
	return o;
}

/*
 * The children of every thread of pid, appended to pids (up to max);
 * returns the new count. A process set is small: its tree is walked
 * breadth first from the init.
 */
static int tree_children(pid_t pid, pid_t *pids, int n, int max)
{
	char path[320], buf[4096], *p, *end;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	while (d && (de = readdir(d)) && n < max) {
		ssize_t len;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/children", (int)pid, de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[len > 0 ? len : 0] = '\0';
		for (p = buf; n < max; p = end) {
			long child = strtol(p, &end, 10);

			if (end == p || child <= 0)
				break;
			pids[n++] = (pid_t)child;
		}
	}
	if (d)
		closedir(d);
	return n;
}

/* The init and all its descendants (up to max). */
static int tree_pids(pid_t init, pid_t *pids, int max)
{
	int n = 0;

	if (init <= 0 || max < 1)
		return 0;
	pids[n++] = init;
	for (int i = 0; i < n && n < max; i++)
		n = tree_children(pids[i], pids, n, max);
	return n;
}

int procset_wait_paused(const struct procset *ps, unsigned timeout_ms, pid_t *ret_pid)
{
	for (unsigned waited = 0;; waited += 5) {
		pid_t pids[2];

		if (tree_pids(ps->pid, pids, 2) == 2 && proc_stat_state(pids[1]) == 'T') {
			*ret_pid = pids[1];
			return 0;
		}
		if (proc_stat_state(ps->pid) == 0 || proc_stat_state(ps->pid) == 'Z')
			return log_error_errno(-ECHILD, "process set '%s' ended before its command stopped", ps->name);
		if (waited >= timeout_ms)
			return log_error_errno(-ETIMEDOUT, "the command of '%s' did not stop before its exec in %u ms",
					       ps->name, timeout_ms);
		usleep(5000);
	}
}

static int move_to(const char *dir, pid_t pid)
{
	char path[PATH_MAX + 16], num[16];
	int fd, len, r = 0;

	if (!dir[0])
		return 0;	/* hierarchy not mounted */
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	len = snprintf(num, sizeof(num), "%d", (int)pid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, num, (size_t)len) != len)
		r = errno == ESRCH ? 0 : -errno;	/* gone meanwhile */
	close(fd);
	return r;
}

#define STANDBY_TREE_MAX 4096

int procset_hold_standby(struct procset *ps)
{
	pid_t *pids = calloc(STANDBY_TREE_MAX, sizeof(*pids));
	int n, r = 0;

	if (!pids)
		return -ENOMEM;
	n = tree_pids(ps->pid, pids, STANDBY_TREE_MAX);
	for (int i = 0; i < n && r == 0; i++) {
		r = move_to(ps->cg.freezer, pids[i]);
		if (r == 0)
			r = move_to(ps->cg.cpuacct, pids[i]);
		if (r == 0)
			r = move_to(ps->cg.memory, pids[i]);
	}
	free(pids);
	if (r < 0)
		return log_error_errno(r, "cannot move the restored standby '%s' into its cgroups", ps->name);
	ps->standby = true;
	log_info("process set '%s' is a warm standby: %d process(es) held stopped", ps->name, n);
	return 0;
}

int procset_activate(struct procset *ps)
{
	pid_t *pids;
	int n;

	if (ps->state != PROCSET_RUNNING || !ps->standby)
		return -EINVAL;
	pids = calloc(STANDBY_TREE_MAX, sizeof(*pids));
	if (!pids)
		return -ENOMEM;
	/* the cgroup too: a process the tree walk raced with still gets it */
	n = tree_pids(ps->pid, pids, STANDBY_TREE_MAX);
	for (int i = 0; i < n; i++)
		(void)kill(pids[i], SIGCONT);
	(void)cgroup_kill(&ps->cg, SIGCONT);
	free(pids);
	ps->standby = false;
	log_info("process set '%s' activated: %d process(es) continued", ps->name, n);
	return 0;
}

/*
 * A stopped process (a held standby, a paused command never traced) keeps a
 * SIGTERM pending until it is continued. SIGTERM first, then SIGCONT: the
 * pending fatal signal is taken before it runs one more instruction of its
 * own (a standby must not make its first connection on the way out).
 */
static void end_stopped(const struct procset *ps)
{
	pid_t *pids = calloc(STANDBY_TREE_MAX, sizeof(*pids));
	int n;

	if (!pids)
		return;
	n = tree_pids(ps->pid, pids, STANDBY_TREE_MAX);
	for (int i = 1; i < n; i++)
		if (proc_stat_state(pids[i]) == 'T') {
			(void)kill(pids[i], SIGTERM);
			(void)kill(pids[i], SIGCONT);
		}
	free(pids);
}
