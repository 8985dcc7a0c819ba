// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * procset-init.c - lifeboat-init, pid 1 of a process set's PID namespace.
 *
 * lifeboatd has set up everything before the exec (session, stdio, cgroups,
 * working directory); this program only runs the command as its child,
 * reaps every orphan of the namespace, forwards termination signals to the
 * whole namespace and exits with the command's status (the kernel then
 * ends whatever is left in the namespace). It stays small and holds no
 * state but the command's pid, so a checkpoint of it is cheap and a restore
 * on another node needs nothing from there but this binary at the same path.
 *
 * Usage: lifeboat-init [--stop-before-exec] -- CMD [ARGS...]
 *
 * --stop-before-exec: the command's process stops itself (SIGSTOP) right
 * before its exec, so that `lifeboat run --standby-on` can seize it with
 * ptrace and trace it from its first instruction (issue 6). This init
 * itself never stops and is never traced.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

/* pid 1 of the namespace: kill(-1) reaches every other process in it */
static void forward(int sig)
{
	int saved = errno;

	(void)kill(-1, sig);
	errno = saved;
}

static pid_t spawn(char **argv, bool stop_before_exec)
{
	pid_t pid = fork();

	if (pid == 0) {
		for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
			(void)signal(forwarded[i], SIG_DFL);
		if (stop_before_exec)
			(void)raise(SIGSTOP);	/* a tracer seizes us here and sends SIGCONT */
		execvp(argv[0], argv);
		fprintf(stderr, "lifeboat-init: cannot execute '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = forward };
	bool stop_before_exec = argc > 1 && !strcmp(argv[1], "--stop-before-exec");
	int status = 0;
	pid_t main_pid;

	if (stop_before_exec) {
		argv++;
		argc--;
	}
	if (argc < 3 || strcmp(argv[1], "--") != 0) {
		fprintf(stderr, "usage: lifeboat-init [--stop-before-exec] -- CMD [ARGS...]\n");
		return 2;
	}
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		(void)sigaction(forwarded[i], &sa, NULL);
	main_pid = spawn(argv + 2, stop_before_exec);
	if (main_pid < 0) {
		fprintf(stderr, "lifeboat-init: cannot fork: %s\n", strerror(errno));
		return 127;
	}
	for (;;) {
		int st;
		pid_t w = waitpid(-1, &st, 0);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			break;	/* ECHILD: nothing left */
		}
		if (w == main_pid) {
			status = st;
			break;
		}
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
