// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lifeboat.c - the lifeboat CLI: dispatches `lifeboat <command> ...` to the
 * subcommands (journal now; run, status, handoff with later work).
 */
#include <stdio.h>
#include <string.h>

#define LOG_PREFIX ""
#include "lifeboat/log.h"
#include "lifeboat.h"
#include "status.h"
#include "standby.h"

static void help(void)
{
	printf("Usage: lifeboat COMMAND ...\n\n"
	       "Commands:\n");
	procset_cmd_help();
	journal_cmd_help();
	status_cmd_help();
	metrics_cmd_help();
	standby_cmd_help();
	printf("\nExit codes:\n"
	       "  0  success\n"
	       "  1  the operation failed (see the message)\n"
	       "  2  bad command line\n"
	       "  3  journal corrupt: a bad record before the tail; records after it are lost\n"
	       "     (replay applied every record before it)\n"
	       "  4  journal verify: torn tail, an append that never completed (never\n"
	       "     acknowledged, nothing lost); the records before it are valid\n"
	       "\nLIFEBOAT_LOG=debug|info|notice|warning|error sets the log level.\n");
}

int main(int argc, char **argv)
{
	int r;

	log_setup("lifeboat");
	if (argc < 2) {
		help();
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		help();
		return EXIT_OK;
	}
	if (strcmp(argv[1], "journal") == 0)
		return journal_cmd(argc - 1, argv + 1);
	if (strcmp(argv[1], "status") == 0)
		return status_cmd(argc - 1, argv + 1);
	if (strcmp(argv[1], "standby") == 0)
		return standby_cmd(argc - 1, argv + 1);
	if (strcmp(argv[1], "activate") == 0)
		return standby_activate_cmd(argc - 1, argv + 1);
	if (strcmp(argv[1], "metrics") == 0)
		return metrics_cmd(argc - 1, argv + 1);
	r = procset_cmd(argc - 1, argv + 1);
	if (r >= 0)
		return r;
	log_error("unknown command '%s', see 'lifeboat --help'", argv[1]);
	return EXIT_USAGE;
}
