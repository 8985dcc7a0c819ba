// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * posixcmp.c - differential POSIX conformance runner.
 *
 *   posixcmp DIR [--case PATTERN] [--as UID:GID[:G1,G2...]] [--list]
 *
 * Runs named cases, each in a fresh subdirectory DIR/<case> and in its own
 * child process (so a crash or a hang is one line in the transcript, not the
 * end of it), and prints a transcript that depends only on the semantics of
 * the file system under DIR. Run it on a native directory and on a mount
 * that passes through to the same file system: the transcripts must match.
 *
 * Without --as the root cases run as root. With --as, each unprivileged case
 * is prepared as root (fixtures owned by others), then the child drops to
 * the given identity with setgroups/setresgid/setresuid and runs the case.
 */
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "posixcmp.h"

#define CASE_TIMEOUT	30	/* seconds; a hung case is killed and reported */

struct pc_ident pc_id;
const char *pc_case_name = "main";
unsigned long pc_assertions;

static const struct pc_case *const case_tables[] = {
	pc_cases_file,
	pc_cases_ns,
	pc_cases_attr,
	pc_cases_data,
	pc_cases_user,
};

static int parse_ident(const char *spec, struct pc_ident *id)
{
	char *end, *p;
	unsigned long v;

	id->uid = strtoul(spec, &end, 10);
	if (*end != ':')
		return -1;
	id->gid = strtoul(end + 1, &end, 10);
	if (*end && *end != ':')
		return -1;
	for (p = *end ? end + 1 : end; *p; p = *end ? end + 1 : end) {
		if (id->ngroups == PC_MAX_GROUPS)
			return -1;
		v = strtoul(p, &end, 10);
		if (end == p || (*end && *end != ','))
			return -1;
		id->groups[id->ngroups++] = v;
	}
	id->dropped = true;
	return 0;
}

static int drop_privileges(const struct pc_ident *id)
{
	if (setgroups(id->ngroups, id->groups) < 0 ||
	    setresgid(id->gid, id->gid, id->gid) < 0 ||
	    setresuid(id->uid, id->uid, id->uid) < 0)
		return -errno;
	/* keep /proc/self/fd usable after the uid change */
	(void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	return 0;
}

static void child_run(const struct pc_case *c)
{
	int r;

	umask(022);
	alarm(CASE_TIMEOUT);
	if (mkdir(c->name, 0755) < 0 || chdir(c->name) < 0) {
		pc_say("setup: cannot make case dir: %s", pc_errname(errno));
		_exit(2);
	}
	if (pc_id.dropped && chown(".", pc_id.uid, pc_id.gid) < 0)
		pc_say("setup: cannot chown case dir: %s", pc_errname(errno));
	if (c->prep)
		c->prep();
	if (pc_id.dropped) {
		r = drop_privileges(&pc_id);
		if (r < 0) {
			pc_say("setup: cannot drop privileges: %s", pc_errname(-r));
			_exit(2);
		}
	}
	umask(022);
	c->run();
	fflush(stdout);
	_exit(0);
}

static int run_case(const struct pc_case *c)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("posixcmp: fork");
		return -1;
	}
	if (pid == 0) {
		pc_case_name = c->name;
		child_run(c);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	pc_case_name = c->name;
	if (WIFSIGNALED(status))
		pc_say("*** killed by %s", sigabbrev_np(WTERMSIG(status)) ?: "signal");
	else if (WEXITSTATUS(status))
		pc_say("*** exit status %d", WEXITSTATUS(status));
	return 0;
}

static bool wanted(const struct pc_case *c, const char *pattern, bool as_user)
{
	if (!(c->flags & (as_user ? PC_USER : PC_ROOT)))
		return false;
	return !pattern || fnmatch(pattern, c->name, 0) == 0;
}

static int run_all(const char *pattern, bool list)
{
	size_t t;
	int n = 0;

	for (t = 0; t < sizeof(case_tables) / sizeof(case_tables[0]); t++) {
		const struct pc_case *c;

		for (c = case_tables[t]; c->name; c++) {
			if (!wanted(c, pattern, pc_id.dropped))
				continue;
			n++;
			if (list)
				printf("%s\n", c->name);
			else if (run_case(c) < 0)
				return -1;
		}
	}
	return n;
}

static void usage(void)
{
	fprintf(stderr, "usage: posixcmp DIR [--case PATTERN] "
		"[--as UID:GID[:G1,G2...]] [--list]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *pattern = NULL;
	bool list = false;
	int i, n;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--case") && i + 1 < argc)
			pattern = argv[++i];
		else if (!strcmp(argv[i], "--as") && i + 1 < argc) {
			if (parse_ident(argv[++i], &pc_id) < 0)
				usage();
		} else if (!strcmp(argv[i], "--list"))
			list = true;
		else if (argv[i][0] != '-' && !dir)
			dir = argv[i];
		else
			usage();
	}
	if (!dir && !list)
		usage();
	if (dir && chdir(dir) < 0) {
		fprintf(stderr, "posixcmp: cannot enter '%s': %m\n", dir);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	n = run_all(pattern, list);
	if (n < 0)
		return 2;
	if (n == 0) {
		fprintf(stderr, "posixcmp: no case matches\n");
		return 2;
	}
	return 0;
}
