// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * standby-trace.c - runs an application under ptrace until its first
 * external reference, then leaves every thread of its set in group-stop,
 * untraced, with the pending call rewound so that it runs again at SIGCONT.
 *
 * Every task is seized with PTRACE_O_TRACECLONE|FORK|VFORK|EXEC and run with
 * PTRACE_SYSCALL. At the entry of a call judged external:
 *   1. the call is cancelled (orig_rax = -1) and rewound (rip -= 2, rax = nr);
 *   2. SIGSTOP goes to every process of the set (and to any process forked
 *      before the stop completes);
 *   3. each thread is driven to its group-stop; any other syscall entry met
 *      on the way is rewound the same way, so nothing new takes effect;
 *   4. once all threads report group-stop they are detached: the kernel
 *      keeps a detached thread of a stopped group in TASK_STOPPED, where
 *      CRIU can seize it.
 * Group-stops seen while tracing (a real SIGSTOP) are not honoured: the
 * tracee is resumed, as the set has no terminal to stop it from.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "standby: "
#include "lifeboat/log.h"
#include "lifeboat/proc-stat.h"
#include "standby.h"

#ifndef __x86_64__
#error "standby-trace.c rewinds syscalls with x86_64 registers"
#endif

/*
 * A thread in an uninterruptible or killable sleep (a vfork parent whose
 * child made the call, a stuck store) cannot reach group-stop: give up then.
 */
#define STOP_TIMEOUT_MS 10000

#define TRACE_OPTIONS                                                               \
	(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK |         \
	 PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC)

struct tracee {
	pid_t tid;
	pid_t tgid;
	bool parked;		/* in group-stop while STOPPING */
};

struct tracer {
	const struct standby_config *cfg;
	pid_t root;
	bool stopping;
	uint64_t stop_deadline_ns;	/* STOPPING gives up then (-ETIMEDOUT) */
	struct tracee *t;	/* STANDBY_MAX_THREADS entries */
	unsigned n;
	struct standby_set procs;	/* thread groups seen */
	struct standby_set stop_sent;	/* thread groups sent SIGSTOP */
};

uint64_t standby_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool set_has(const struct standby_set *set, pid_t tgid)
{
	for (unsigned i = 0; i < set->n; i++)
		if (set->tgid[i] == tgid)
			return true;
	return false;
}

static int set_add(struct standby_set *set, pid_t tgid)
{
	if (set_has(set, tgid))
		return 0;
	if (set->n >= STANDBY_MAX_THREADS)
		return -E2BIG;
	set->tgid[set->n++] = tgid;
	return 1;
}

static void set_remove(struct standby_set *set, pid_t tgid)
{
	for (unsigned i = 0; i < set->n; i++)
		if (set->tgid[i] == tgid) {
			set->tgid[i] = set->tgid[--set->n];
			return;
		}
}

static pid_t tgid_of(pid_t tid)
{
	char path[64], line[256];
	pid_t tgid = tid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "re");
	if (!f)
		return tid;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

static struct tracee *tracee_find(struct tracer *tr, pid_t tid)
{
	for (unsigned i = 0; i < tr->n; i++)
		if (tr->t[i].tid == tid)
			return &tr->t[i];
	return NULL;
}

/* A thread of a process forked while STOPPING must be stopped as well. */
static int tracee_add(struct tracer *tr, pid_t tid, struct tracee **ret)
{
	struct tracee *t;
	int r;

	if (tr->n >= STANDBY_MAX_THREADS)
		return -E2BIG;
	t = &tr->t[tr->n++];
	*t = (struct tracee){ .tid = tid, .tgid = tgid_of(tid) };
	r = set_add(&tr->procs, t->tgid);
	if (r < 0)
		return r;
	if (tr->stopping && set_add(&tr->stop_sent, t->tgid) > 0)
		(void)kill(t->tgid, SIGSTOP);
	*ret = t;
	return 0;
}

static void tracee_remove(struct tracer *tr, pid_t tid)
{
	struct tracee *t = tracee_find(tr, tid);
	pid_t tgid;

	if (!t)
		return;
	tgid = t->tgid;
	*t = tr->t[--tr->n];
	for (unsigned i = 0; i < tr->n; i++)
		if (tr->t[i].tgid == tgid)
			return;
	set_remove(&tr->procs, tgid);
	set_remove(&tr->stop_sent, tgid);
}

static void tracee_resume(struct tracee *t, int sig)
{
	/* ESRCH: killed meanwhile; its exit is reported by waitpid */
	(void)ptrace(PTRACE_SYSCALL, t->tid, 0, (void *)(long)sig);
}

/*
 * Cancels the syscall at this entry stop and rewinds the thread onto its
 * `syscall` instruction with the number back in rax: when it runs again it
 * makes the same call with the same arguments (rdi, rsi, rdx, r10, r8, r9
 * are untouched; rcx and r11 are clobbered by `syscall` anyway).
 */
static int syscall_rewind(pid_t tid, long nr)
{
	struct user_regs_struct regs;
	long insn;

	if (ptrace(PTRACE_GETREGS, tid, 0, &regs) < 0)
		return -errno;
	errno = 0;
	insn = ptrace(PTRACE_PEEKTEXT, tid, (void *)(regs.rip - 2), 0);
	if (errno)
		return -errno;
	if ((insn & 0xffff) != 0x050f)	/* 0f 05: syscall */
		return -ENOEXEC;
	regs.orig_rax = (unsigned long long)-1;
	regs.rax = nr;
	regs.rip -= 2;
	if (ptrace(PTRACE_SETREGS, tid, 0, &regs) < 0)
		return -errno;
	return 0;
}

static int stop_all(struct tracer *tr)
{
	tr->stopping = true;
	tr->stop_deadline_ns = standby_now_ns() + STOP_TIMEOUT_MS * 1000000ull;
	for (unsigned i = 0; i < tr->procs.n; i++) {
		(void)set_add(&tr->stop_sent, tr->procs.tgid[i]);
		if (kill(tr->procs.tgid[i], SIGSTOP) < 0 && errno != ESRCH)
			return log_error_errno(-errno, "cannot stop %d", tr->procs.tgid[i]);
	}
	return 0;
}

/* Returns 1 when the set must be stopped (the call was external). */
static int on_syscall(struct tracer *tr, struct tracee *t, struct standby_trigger *trig)
{
	struct __ptrace_syscall_info info;
	int r;

	if (ptrace(PTRACE_GET_SYSCALL_INFO, t->tid, (void *)sizeof(info), &info) < 0)
		return -errno == -ESRCH ? 0 : -errno;
	if (info.op != PTRACE_SYSCALL_INFO_ENTRY)
		return 0;
	if (tr->stopping)
		return syscall_rewind(t->tid, (long)info.entry.nr);
	r = standby_external_judge(tr->cfg, &tr->procs, t->tid, (long)info.entry.nr,
				   info.entry.args, trig->what, sizeof(trig->what));
	if (r < 0)
		log_debug_errno(r, "cannot judge syscall %llu of %d, taking it as internal",
				(unsigned long long)info.entry.nr, t->tid);
	if (r <= 0)
		return 0;
	trig->tid = t->tid;
	trig->nr = (long)info.entry.nr;
	trig->stopped_ns = standby_now_ns();
	r = syscall_rewind(t->tid, trig->nr);
	if (r < 0)
		return log_error_errno(r, "cannot rewind '%s' of %d", trig->what, t->tid);
	return 1;
}

static bool is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* One waitpid report. Returns 1 when the set must be stopped. */
static int on_stop(struct tracer *tr, struct tracee *t, int status,
		   struct standby_trigger *trig)
{
	int sig = WSTOPSIG(status), event = status >> 16, r;

	if (sig == (SIGTRAP | 0x80)) {
		r = on_syscall(tr, t, trig);
		if (r < 0)
			return r;
		tracee_resume(t, 0);
		return r;
	}
	if (event == PTRACE_EVENT_STOP) {
		/* SIGTRAP: a new task's first stop or an interrupt; else group-stop */
		if (tr->stopping && is_stop_signal(sig)) {
			t->parked = true;
			return 0;
		}
		tracee_resume(t, 0);
		return 0;
	}
	tracee_resume(t, event ? 0 : sig);	/* ptrace event, or a signal to deliver */
	return 0;
}

static bool all_parked(const struct tracer *tr)
{
	for (unsigned i = 0; i < tr->n; i++)
		if (!tr->t[i].parked)
			return false;
	return true;
}

static void detach_all(struct tracer *tr)
{
	for (unsigned i = 0; i < tr->n; i++)
		(void)ptrace(PTRACE_DETACH, tr->t[i].tid, 0, 0);
}

/* Detached threads move from traced to stopped on their own: wait for it. */
static int wait_all_stopped(const struct tracer *tr)
{
	for (int tries = 0; tries < 2000; tries++) {
		unsigned i;

		for (i = 0; i < tr->n; i++) {
			char s = proc_stat_state(tr->t[i].tid);

			if (s != 'T' && s != 0)
				break;
		}
		if (i == tr->n)
			return 0;
		usleep(1000);
	}
	return log_error_errno(-ETIMEDOUT, "the set did not reach group-stop after detach");
}

static int trace_loop(struct tracer *tr, struct standby_trigger *trig, int *ret_status)
{
	for (;;) {
		struct tracee *t;
		int status, r;
		pid_t pid;

		pid = waitpid(-1, &status, __WALL | (tr->stopping ? WNOHANG : 0));
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			return log_error_errno(-errno, "waitpid");
		}
		if (pid == 0) {	/* STOPPING, nothing reported yet */
			if (standby_now_ns() > tr->stop_deadline_ns)
				return log_error_errno(-ETIMEDOUT,
						       "a thread of the set did not stop within %d ms",
						       STOP_TIMEOUT_MS);
			usleep(200);
			continue;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			tracee_remove(tr, pid);
			if (pid == tr->root) {
				*ret_status = status;
				return -ECHILD;
			}
		} else if (WIFSTOPPED(status)) {
			t = tracee_find(tr, pid);
			if (!t) {
				r = tracee_add(tr, pid, &t);
				if (r < 0)
					return log_error_errno(r, "too many threads to trace");
			}
			r = on_stop(tr, t, status, trig);
			if (r < 0)
				return r;
			if (r > 0 && (r = stop_all(tr)) < 0)
				return r;
		}
		if (tr->stopping && tr->n > 0 && all_parked(tr))
			return 0;
	}
}

int standby_trace_until_external(pid_t root, const struct standby_config *cfg,
				 struct standby_trigger *ret_trig, struct standby_set *ret_set,
				 int *ret_status)
{
	struct standby_trigger trig = { 0 };
	struct tracer *tr;
	int r;

	tr = calloc(1, sizeof(*tr));
	if (!tr)
		return -ENOMEM;
	tr->t = calloc(STANDBY_MAX_THREADS, sizeof(*tr->t));
	if (!tr->t) {
		free(tr);
		return -ENOMEM;
	}
	tr->cfg = cfg;
	tr->root = root;
	tr->t[tr->n++] = (struct tracee){ .tid = root, .tgid = root };
	(void)set_add(&tr->procs, root);

	r = trace_loop(tr, &trig, ret_status);
	if (r == 0) {
		detach_all(tr);
		r = wait_all_stopped(tr);
		*ret_trig = trig;
	}
	*ret_set = tr->procs;	/* also on failure: the caller lets them go on */
	free(tr->t);
	free(tr);
	return r;
}

void standby_set_continue(const struct standby_set *set)
{
	for (unsigned i = 0; i < set->n; i++)
		(void)kill(set->tgid[i], SIGCONT);
}

static void collect_children(pid_t pid, struct standby_set *set)
{
	char path[96], buf[4096], *p, *end;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	for (p = buf;; p = end) {
		long child = strtol(p, &end, 10);

		if (end == p || child <= 0)
			break;
		if (set_add(set, (pid_t)child) > 0)
			collect_children((pid_t)child, set);
	}
}

int standby_set_collect(pid_t root, struct standby_set *ret_set)
{
	ret_set->n = 0;
	if (set_add(ret_set, root) < 0)
		return -E2BIG;
	collect_children(root, ret_set);
	return 0;
}

/* Runs in the child: pid 1 of the new namespace. Never returns. */
static void spawn_child(const struct standby_run_opts *o, int sync_fd)
{
	char c;
	int fd;

	(void)setsid();	/* its own session: CRIU then needs no --shell-job */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		(void)dup2(fd, STDIN_FILENO);
	if (o->log_path) {
		fd = open(o->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (fd < 0)
			_exit(126);
		(void)dup2(fd, STDOUT_FILENO);
		(void)dup2(fd, STDERR_FILENO);
	}
	if (o->workdir && chdir(o->workdir) < 0)
		_exit(126);
	/* EOF once the parent has seized us */
	while (read(sync_fd, &c, 1) < 0 && errno == EINTR)
		;
	close(sync_fd);
	execvp(o->argv[0], o->argv);
	_exit(127);
}

static int seize(pid_t pid)
{
	int status;

	if (ptrace(PTRACE_SEIZE, pid, 0, (void *)(long)TRACE_OPTIONS) < 0)
		return -errno;
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0)
		return -errno;
	if (waitpid(pid, &status, __WALL) < 0)
		return -errno;
	if (!WIFSTOPPED(status))
		return -ECHILD;
	if (ptrace(PTRACE_SYSCALL, pid, 0, 0) < 0)
		return -errno;
	return 0;
}

int standby_spawn(const struct standby_run_opts *o, pid_t *ret_root)
{
	int sync[2], r = 0;
	pid_t pid;

	if (pipe2(sync, O_CLOEXEC) < 0)
		return -errno;
	pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0);
	if (pid < 0) {
		r = -errno;
		close(sync[0]);
		close(sync[1]);
		return log_error_errno(r, "cannot start '%s' in a new PID namespace", o->argv[0]);
	}
	if (pid == 0) {
		close(sync[1]);
		spawn_child(o, sync[0]);
	}
	close(sync[0]);
	if (o->trace)
		r = seize(pid);
	close(sync[1]);
	if (r < 0) {
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		return log_error_errno(r, "cannot trace '%s'", o->argv[0]);
	}
	*ret_root = pid;
	return 0;
}

/*
 * The command of a lifeboatd set started paused is not our child: it stopped
 * itself before its exec. Seizing a stopped task makes it trap again
 * (PTRACE_EVENT_STOP), which trace_loop resumes like any first stop; the
 * SIGCONT ends the group-stop, so that a tracer that goes away early leaves
 * a running task and not a stopped one.
 */
int standby_seize_stopped(pid_t pid)
{
	if (ptrace(PTRACE_SEIZE, pid, 0, (void *)(long)TRACE_OPTIONS) < 0)
		return log_error_errno(-errno, "cannot seize %d", pid);
	if (kill(pid, SIGCONT) < 0)
		return log_error_errno(-errno, "cannot continue %d", pid);
	return 0;
}
