/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * checkpoint.h - CRIU through libcriu (criu-checkpoint.c): dump a process
 * tree into an image directory and restore it as a child of the caller
 * (criu_restore_child). Every call runs under a watchdog (criu-watchdog.c)
 * that kills a CRIU that does not answer in time, so lifeboatd never hangs
 * on it. Options libcriu has no setter for go through a CRIU config file
 * (checkpoint_write_config).
 *
 * Not named criu.h: that is libcriu's header, and our symbols never start
 * with criu_.
 */
#ifndef LIFEBOAT_CHECKPOINT_H
#define LIFEBOAT_CHECKPOINT_H

#include <stdbool.h>
#include <sys/types.h>

struct checkpoint_opts {
	const char *criu_bin;		/* the criu binary libcriu runs as "criu swrk" */
	const char *config_file;	/* NULL: none */
	unsigned timeout_s;		/* watchdog */
	unsigned log_level;		/* 0..4; logs dump.log/restore.log in the image dir */
	const char *freezer;		/* freezer cgroup of the tree (may be frozen already) */
	bool leave_running;		/* dump only */
	bool tcp_established;		/* dump and restore established TCP connections */
};

/*
 * Writes the CRIU config file lifeboatd passes with every call:
 * --file-validation filesize (CRIU reopens files by path and compares
 * sizes; build-id checks would read every mapped binary), nothing else.
 */
int checkpoint_write_config(const char *path);

/* Dumps the tree rooted at pid into the directory dir_fd. */
int checkpoint_dump(pid_t pid, int dir_fd, const struct checkpoint_opts *o);

/* Restores the image in dir_fd; *ret_pid is the root, a child of ours. */
int checkpoint_restore(int dir_fd, const struct checkpoint_opts *o, pid_t *ret_pid);

/* The watchdog: kills our "criu" children when not stopped in time. */
struct watchdog;
int watchdog_start(unsigned timeout_s, const char *what, struct watchdog **ret);
/* Stops and frees it; true when it fired. */
bool watchdog_stop(struct watchdog *w);

#endif
