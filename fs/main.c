// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * main.c - lifeboatfs: one process per mount, passing every request to the
 * store directory it protects.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/stat.h>

#define LOG_PREFIX ""
#include "lifeboat/log.h"
#include "lifeboatfs.h"

/* Open files of applications and cached inode fds share one limit: take all of it. */
static void raise_nofile_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct lb_fs fs = { .root.fd = -1, .mount_fd = -1 };
	int r;

	log_setup("lifeboatfs");
	/*
	 * Replay creates objects with the modes in the journal: no umask
	 * of ours may apply. Workers set each caller's umask on their own
	 * fs_struct (creds.c).
	 */
	umask(0);
	/*
	 * The queue allocates and frees a copy of every write (up to 1 MiB):
	 * keep such blocks in the heap instead of an mmap/munmap pair each,
	 * which costs a page fault per 4 KiB written.
	 */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
	mallopt(M_TOP_PAD, 16 << 20);	/* grow each arena in steps, not per entry */
	raise_nofile_limit();
	if (options_parse(&args, &fs.opt) < 0) {
		fuse_opt_free_args(&args);
		return 2;
	}
	if (fs.opt.show_help) {
		options_usage(argv[0]);
		r = 0;
		goto out_free;
	}
	if (fs.opt.show_version) {
		printf("lifeboatfs %s (libfuse %s)\n", LIFEBOAT_VERSION, fuse_pkgversion());
		r = 0;
		goto out_free;
	}
	r = inode_table_init(&fs);
	if (r < 0)
		goto out_table;
	r = absorb_init(&fs);	/* replays a journal left behind before serving */
	if (r < 0)
		goto out_table;
	inode_root_listing(&fs);
	r = session_run(&fs, &args);
out_table:
	inode_table_free(&fs);
out_free:
	options_free(&fs.opt);
	fuse_opt_free_args(&args);
	return r < 0 ? 1 : 0;
}
