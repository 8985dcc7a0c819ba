// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * standby-tracecost.c - what each way of watching an initialization costs,
 * and what it leaves behind (the choice in daemon/standby.h):
 *
 *   untraced           getpid() in a plain child
 *   ptrace-syscall     under PTRACE_SYSCALL (lifeboat's tracer: 2 stops per call)
 *   seccomp-trace      a filter returning SECCOMP_RET_TRACE for connect only,
 *                      traced with PTRACE_CONT (stops only on connect)
 *   seccomp-notif      a filter returning SECCOMP_RET_USER_NOTIF for connect
 *   after-ptrace       the same child after PTRACE_DETACH
 *   seccomp-residue    a RET_TRACE filter once its tracer is gone: getpid
 *                      cost, and what connect() then returns
 *
 * Each row: ns per getpid (best of 5 runs of N calls, in each of 3 rounds
 * where the modes take turns), and the time of a syscall-heavy
 * initialization (reading a 32 MiB file in 4 KiB reads), best of 3.
 *
 *   standby-tracecost [N]
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum mode { UNTRACED, PTRACE_SYS, SECCOMP_TRACE, SECCOMP_NOTIF, AFTER_PTRACE, RESIDUE };

static const char *names[] = { "untraced", "ptrace-syscall", "seccomp-trace", "seccomp-notif",
			       "after-ptrace", "seccomp-residue" };
static long calls = 200000;
static char file[] = "/tmp/standby-tracecost.XXXXXX";

struct result {
	double getpid_ns;
	double init_ms;
	int connect_errno;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double getpid_ns(void)
{
	double best = 1e18;

	for (int run = 0; run < 5; run++) {
		double t0 = now();

		for (long i = 0; i < calls; i++)
			(void)syscall(SYS_getpid);
		if ((now() - t0) * 1e9 / calls < best)
			best = (now() - t0) * 1e9 / calls;
	}
	return best;
}

static double init_ms(void)
{
	char buf[4096];
	double t0 = now();
	int fd = open(file, O_RDONLY);

	while (fd >= 0 && read(fd, buf, sizeof(buf)) > 0)
		;
	if (fd >= 0)
		close(fd);
	return (now() - t0) * 1e3;
}

static int install_filter(unsigned action, unsigned flags)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_connect, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, action),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { 4, f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

static int try_connect(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s = socket(AF_INET, SOCK_STREAM, 0);

	errno = 0;
	(void)connect(s, (void *)&a, sizeof(a));
	close(s);
	return errno;
}

static void child(enum mode m, int out)
{
	struct result r = { 0 };

	if (m == SECCOMP_TRACE || m == RESIDUE)
		install_filter(SECCOMP_RET_TRACE, 0);
	if (m == SECCOMP_NOTIF)
		install_filter(SECCOMP_RET_USER_NOTIF, SECCOMP_FILTER_FLAG_NEW_LISTENER);
	if (m != UNTRACED && m != RESIDUE && m != SECCOMP_NOTIF)
		raise(SIGSTOP);	/* the parent seizes us here */
	if (m == AFTER_PTRACE)
		(void)syscall(SYS_getppid);	/* the parent detaches at this call */
	r.getpid_ns = getpid_ns();
	r.init_ms = init_ms();
	if (m == RESIDUE)
		r.connect_errno = try_connect();
	if (write(out, &r, sizeof(r)) != sizeof(r))
		_exit(1);
	_exit(0);
}

/* Follows the child to its end; PTRACE_SYSCALL for ptrace-syscall and until
 * getppid for after-ptrace, PTRACE_CONT otherwise. */
static void trace(pid_t pid, enum mode m)
{
	int status;
	bool detached = false;

	waitpid(pid, &status, WUNTRACED);
	ptrace(PTRACE_SEIZE, pid, 0, (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACESECCOMP));
	kill(pid, SIGCONT);
	while (!detached && waitpid(pid, &status, __WALL) == pid && WIFSTOPPED(status)) {
		int sig = WSTOPSIG(status), req = m == SECCOMP_TRACE ? PTRACE_CONT : PTRACE_SYSCALL;

		if (sig == (SIGTRAP | 0x80) && m == AFTER_PTRACE) {
			struct __ptrace_syscall_info info;

			ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof(info), &info);
			if (info.op == PTRACE_SYSCALL_INFO_ENTRY && info.entry.nr == SYS_getppid) {
				ptrace(PTRACE_DETACH, pid, 0, 0);
				detached = true;
				continue;
			}
		}
		if (sig == SIGTRAP || sig == (SIGTRAP | 0x80) || (status >> 16) || sig == SIGCONT)
			sig = 0;
		ptrace(req, pid, 0, (void *)(long)sig);
	}
	waitpid(pid, &status, 0);
}

static int measure(enum mode m, struct result *r)
{
	int p[2];
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		child(m, p[1]);
	}
	close(p[1]);
	if (m == UNTRACED || m == RESIDUE || m == SECCOMP_NOTIF)
		waitpid(pid, NULL, 0);
	else
		trace(pid, m);
	if (read(p[0], r, sizeof(*r)) != sizeof(*r)) {
		close(p[0]);
		return -1;
	}
	close(p[0]);
	return 0;
}

static void make_file(void)
{
	static char buf[1 << 20];
	int fd = mkstemp(file);

	for (int i = 0; fd >= 0 && i < 32; i++)
		if (write(fd, buf, sizeof(buf)) != sizeof(buf))
			break;
	if (fd >= 0)
		close(fd);
}

#define ROUNDS 3

int main(int argc, char **argv)
{
	struct result best[RESIDUE + 1];

	if (argc > 1)
		calls = atol(argv[1]);
	make_file();
	for (enum mode m = UNTRACED; m <= RESIDUE; m++)
		best[m] = (struct result){ .getpid_ns = 1e18, .init_ms = 1e18, .connect_errno = -1 };
	/* the modes take turns, ROUNDS times: each sees the same machine load */
	for (int round = 0; round < ROUNDS; round++)
		for (enum mode m = UNTRACED; m <= RESIDUE; m++) {
			struct result r;

			if (measure(m, &r) < 0)
				continue;
			if (r.getpid_ns < best[m].getpid_ns)
				best[m].getpid_ns = r.getpid_ns;
			if (r.init_ms < best[m].init_ms)
				best[m].init_ms = r.init_ms;
			best[m].connect_errno = r.connect_errno;
		}
	printf("%-16s %12s %8s %14s %8s  %s\n", "mode", "getpid ns", "ratio", "4K-read init", "ratio",
	       "connect() afterwards");
	for (enum mode m = UNTRACED; m <= RESIDUE; m++) {
		if (best[m].connect_errno == -1) {
			printf("%-16s failed\n", names[m]);
			continue;
		}
		printf("%-16s %12.1f %8.2f %11.1f ms %8.2f  %s\n", names[m], best[m].getpid_ns,
		       best[m].getpid_ns / best[UNTRACED].getpid_ns, best[m].init_ms,
		       best[m].init_ms / best[UNTRACED].init_ms,
		       m == RESIDUE ? strerror(best[m].connect_errno) : "");
	}
	unlink(file);
	return 0;
}
