// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * main.c - faultfs: a FUSE passthrough of REALDIR on MNT that fails or
 * stalls chosen operation classes on command, and at the moment a failure
 * fires rolls the store back to what it had made durable.
 *
 *   faultfs REALDIR MNT --ctl SOCKET [--undo-limit BYTES] [-f] [-d] [-o OPT,...]
 */
#define LOG_PREFIX ""
#include "lifeboat/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "faultfs.h"

#define UNDO_LIMIT_DEFAULT (1ULL << 30)
#define MAX_THREADS 256		/* stalled ops each hold a worker */

struct ff_args {
	const char *realdir;
	const char *ctl;
	uint64_t undo_limit;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: faultfs REALDIR MNT --ctl SOCKET [--undo-limit BYTES] [-f] [-d] [-o OPT,...]\n"
		   "       control it with: faultctl SOCKET help\n");
}

/*
 * Takes REALDIR, --ctl and --undo-limit out of argv; what is left (MNT and
 * the FUSE options) goes to fuse_parse_cmdline().
 */
static int parse_args(int argc, char **argv, struct ff_args *a, struct fuse_args *fargs)
{
	a->undo_limit = UNDO_LIMIT_DEFAULT;
	if (fuse_opt_add_arg(fargs, argv[0]) < 0)
		return -ENOMEM;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		bool has_val = i + 1 < argc;

		if (strcmp(arg, "--ctl") == 0 && has_val) {
			a->ctl = argv[++i];
		} else if (strcmp(arg, "--undo-limit") == 0 && has_val) {
			char *end;

			a->undo_limit = strtoull(argv[++i], &end, 10);
			if (*end || a->undo_limit == 0)
				return -EINVAL;
		} else if (arg[0] != '-' && !a->realdir) {
			a->realdir = arg;
		} else {
			if (fuse_opt_add_arg(fargs, arg) < 0)
				return -ENOMEM;
			if (strcmp(arg, "-o") == 0 && has_val && fuse_opt_add_arg(fargs, argv[++i]) < 0)
				return -ENOMEM;
		}
	}
	if (!a->realdir || !a->ctl)
		return -EINVAL;
	return fuse_opt_add_arg(fargs, "-ofsname=faultfs,subtype=faultfs") < 0 ? -ENOMEM : 0;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int fs_setup(struct ff_fs *fs, const struct ff_args *a)
{
	int fd, r;

	fd = open(a->realdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(-errno, "cannot open '%s'", a->realdir);
	fs->mount_fd = open(a->realdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs->mount_fd < 0)
		return log_error_errno(-errno, "cannot open '%s'", a->realdir);
	fs->fault = fault_new();
	fs->undo = undo_new(a->undo_limit);
	if (!fs->fault || !fs->undo)
		return log_error_errno(-ENOMEM, "cannot set up");
	r = inode_table_init(fs, fd);
	if (r < 0)
		return log_error_errno(r, "cannot set up the inode table");
	return 0;
}

static int run_loop(struct fuse_session *se, const struct fuse_cmdline_opts *opts)
{
	struct fuse_loop_config *cfg;
	int r;

	if (opts->singlethread) {
		log_warning("single-threaded: one stalled op blocks every other op");
		return fuse_session_loop(se);
	}
	cfg = fuse_loop_cfg_create();
	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(cfg, opts->clone_fd);
	fuse_loop_cfg_set_max_threads(cfg, opts->max_threads > MAX_THREADS ? opts->max_threads
									 : MAX_THREADS);
	if (opts->max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(cfg, opts->max_idle_threads);
	r = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return r;
}

static int serve(struct ff_fs *fs, struct fuse_args *fargs, const struct fuse_cmdline_opts *opts,
		 int sock)
{
	int r = -EIO;

	fs->se = fuse_session_new(fargs, &ff_ops, sizeof(ff_ops), fs);
	if (!fs->se)
		return log_error_errno(-EINVAL, "cannot create the FUSE session");
	if (fuse_set_signal_handlers(fs->se) < 0)
		goto out_destroy;
	if (fuse_session_mount(fs->se, opts->mountpoint) < 0)
		goto out_signals;
	if (fuse_daemonize(opts->foreground) < 0)
		goto out_unmount;
	if (!opts->foreground)
		log_use_syslog(true);
	r = ctl_start(fs, sock);
	if (r == 0)
		r = run_loop(fs->se, opts);
out_unmount:
	fuse_session_unmount(fs->se);
out_signals:
	fuse_remove_signal_handlers(fs->se);
out_destroy:
	fuse_session_destroy(fs->se);
	return r;
}

int main(int argc, char **argv)
{
	struct fuse_args fargs = FUSE_ARGS_INIT(0, NULL);
	struct fuse_cmdline_opts opts = { 0 };
	struct ff_fs fs = { 0 };
	struct ff_args a = { 0 };
	int sock, r;

	log_setup("faultfs");
	umask(0);	/* the kernel applied the caller's umask already */
	if (parse_args(argc, argv, &a, &fargs) < 0 || fuse_parse_cmdline(&fargs, &opts) < 0 ||
	    !opts.mountpoint) {
		usage(stderr);
		return 2;
	}
	if (opts.show_help) {
		usage(stdout);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		return 0;
	}
	raise_nofile();
	if (fs_setup(&fs, &a) < 0)
		return 1;
	sock = ctl_listen(a.ctl);
	if (sock < 0)
		return 1;
	r = serve(&fs, &fargs, &opts, sock);
	close(sock);
	(void)unlink(a.ctl);
	free(opts.mountpoint);
	fuse_opt_free_args(&fargs);
	return r < 0 ? 1 : 0;
}
