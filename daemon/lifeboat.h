/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lifeboat.h - subcommands of the lifeboat CLI and its exit codes.
 */
#ifndef LIFEBOAT_CLI_H
#define LIFEBOAT_CLI_H

enum lifeboat_exit {
	EXIT_OK = 0,
	EXIT_FAILED = 1,	/* an operation failed (message on stderr) */
	EXIT_USAGE = 2,		/* bad command line */
	EXIT_CORRUPT = 3,	/* journal: a bad record before the tail, records lost */
	EXIT_TORN = 4,		/* journal verify: torn tail (an unfinished, never acked append) */
};

/*
 * `lifeboat run|ps|stop|checkpoint|restore|migrate|ping ...` (talk to
 * lifeboatd); argv[0] is the command. -1 when argv[0] is none of them.
 */
int procset_cmd(int argc, char **argv);
void procset_cmd_help(void);

/* `lifeboat journal inspect|verify|replay ...`; argv[0] is "journal". */
int journal_cmd(int argc, char **argv);
void journal_cmd_help(void);

#endif
