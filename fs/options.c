// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * options.c - the command line of lifeboatfs: STORE MOUNTPOINT [-o opts].
 *
 * Our own -o options are described by one table; what it does not know is
 * left for libfuse, which refuses unknown options with a message that names
 * them. Options that only mean something to mount(8) or systemd (from an
 * fstab line) are accepted and ignored.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define LOG_PREFIX ""
#include "lifeboat/log.h"
#include "lifeboatfs.h"

enum opt_type { OPT_SECONDS, OPT_UINT, OPT_BYTES, OPT_STRING, OPT_HOLD_POLICY, OPT_FLAG_ON, OPT_FLAG_OFF };

struct opt_desc {
	const char *name;
	enum opt_type type;
	size_t offset;
	const char *help;
};

#define OPT(n, t, f, h) { n, t, offsetof(struct lb_options, f), h }

static const struct opt_desc opt_table[] = {
	OPT("journal", OPT_STRING, journal,
	    "journal file (/var/lib/lifeboat/<mountpoint>.journal) or iSCSI LUN "
	    "(iscsi://host[:port]/iqn/lun[?initiator=IQN&key=HEX&timeout=S])"),
	OPT("status", OPT_STRING, status, "status file, JSON (/run/lifeboat/<mountpoint>.status)"),
	OPT("alt_read", OPT_STRING, alt_read,
	    "lifeboatd socket that reads through the peer what the store cannot answer while absorbing"),
	OPT("queue_budget", OPT_BYTES, queue_budget, "bytes of unflushed mutations kept (64M)"),
	OPT("flush_interval", OPT_SECONDS, flush_interval, "seconds between flushes of the store (1)"),
	OPT("hold", OPT_SECONDS, hold, "seconds a request waits for a failed path (300)"),
	OPT("on_hold_timeout", OPT_HOLD_POLICY, hold_eio,
	    "wait (keep waiting, default) or eio (fail the request)"),
	OPT("path_timeout", OPT_SECONDS, path_timeout,
	    "seconds a store call may take before it counts as a path failure (10; 0: no limit)"),
	OPT("probe_interval", OPT_SECONDS, probe_interval,
	    "seconds between probes of a failed path (0.2)"),
	OPT("attr_timeout", OPT_SECONDS, attr_timeout, "seconds the kernel caches attributes (86400)"),
	OPT("entry_timeout", OPT_SECONDS, entry_timeout, "seconds the kernel caches names (86400)"),
	OPT("negative_timeout", OPT_SECONDS, negative_timeout,
	    "seconds the kernel caches missing names (86400)"),
	OPT("max_fds", OPT_UINT, max_fds, "O_PATH fds kept open for cached inodes (8192)"),
	OPT("name_cache", OPT_UINT, name_cache,
	    "objects the kernel forgot, kept to answer lookups while the store is down (32768)"),
	OPT("max_threads", OPT_UINT, max_threads, "worker threads at most (64)"),
	OPT("splice_read", OPT_FLAG_ON, splice_read, "splice file data into read replies"),
	OPT("no_splice_read", OPT_FLAG_OFF, splice_read, "copy read data (default)"),
	OPT("splice_write", OPT_FLAG_ON, splice_write, "splice written data into files"),
	OPT("no_splice_write", OPT_FLAG_OFF, splice_write, "copy written data (default)"),
};

/* fstab and mount(8) vocabulary that has no meaning for the daemon itself. */
static const char *const opt_ignored[] = { "_netdev", "nofail", "noauto", "auto", "defaults",
					   "user", "users", "nouser", NULL };

static int parse_seconds(const char *s, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0 || v > 1e9)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_uint(const char *s, unsigned int *ret)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > UINT_MAX)
		return -EINVAL;
	*ret = (unsigned int)v;
	return 0;
}

static int parse_bytes(const char *s, uint64_t *ret)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	switch (*end) {
	case 'G': case 'g': shift = 30; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'K': case 'k': shift = 10; end++; break;
	}
	if (*end || v > (UINT64_MAX >> shift) || v == 0)
		return -EINVAL;
	*ret = (uint64_t)v << shift;
	return 0;
}

static int opt_apply(struct lb_options *o, const struct opt_desc *d, const char *value)
{
	void *field = (char *)o + d->offset;

	switch (d->type) {
	case OPT_SECONDS:
		return value ? parse_seconds(value, field) : -EINVAL;
	case OPT_UINT:
		return value ? parse_uint(value, field) : -EINVAL;
	case OPT_BYTES:
		return value ? parse_bytes(value, field) : -EINVAL;
	case OPT_STRING:
		if (!value || !*value)
			return -EINVAL;
		free(*(char **)field);
		*(char **)field = strdup(value);
		return *(char **)field ? 0 : -ENOMEM;
	case OPT_HOLD_POLICY:
		if (value && strcmp(value, "wait") == 0)
			*(bool *)field = false;
		else if (value && strcmp(value, "eio") == 0)
			*(bool *)field = true;
		else
			return -EINVAL;
		return 0;
	case OPT_FLAG_ON:
	case OPT_FLAG_OFF:
		if (value)
			return -EINVAL;
		*(bool *)field = d->type == OPT_FLAG_ON;
		return 0;
	}
	return -EINVAL;
}

/* Returns 0 when @arg was ours (consumed), 1 to keep it for libfuse, -1 on error. */
static int opt_one(struct lb_options *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);

	for (const char *const *ig = opt_ignored; *ig; ig++)
		if (strcmp(arg, *ig) == 0)
			return 0;
	if (strncmp(arg, "x-", 2) == 0 || strncmp(arg, "comment=", 8) == 0)
		return 0;
	for (size_t i = 0; i < sizeof(opt_table) / sizeof(opt_table[0]); i++) {
		const struct opt_desc *d = &opt_table[i];

		if (strlen(d->name) != len || strncmp(arg, d->name, len) != 0)
			continue;
		if (opt_apply(o, d, eq ? eq + 1 : NULL) < 0) {
			log_error("invalid value in option '%s' (%s)", arg, d->help);
			return -1;
		}
		return 0;
	}
	return 1;
}

enum { KEY_HELP, KEY_VERSION, KEY_FOREGROUND, KEY_DEBUG };

static const struct fuse_opt cmdline_keys[] = {
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("-f", KEY_FOREGROUND),
	FUSE_OPT_KEY("-d", KEY_DEBUG),
	FUSE_OPT_KEY("debug", KEY_DEBUG),
	FUSE_OPT_END,
};

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct lb_options *o = data;

	switch (key) {
	case KEY_HELP:
		o->show_help = true;
		return 0;
	case KEY_VERSION:
		o->show_version = true;
		return 0;
	case KEY_FOREGROUND:
		o->foreground = true;
		return 0;
	case KEY_DEBUG:
		o->debug = o->foreground = true;
		return 1;	/* libfuse prints every request too */
	case FUSE_OPT_KEY_OPT:
		return opt_one(o, arg);
	case FUSE_OPT_KEY_NONOPT:
		if (!o->store)
			o->store = realpath(arg, NULL);
		else if (!o->mountpoint) {
			/* fuse_daemonize() changes to "/": keep the mountpoint absolute. */
			o->mountpoint = realpath(arg, NULL);
			if (!o->mountpoint) {
				log_error_errno(-errno, "cannot resolve mountpoint '%s'", arg);
				return -1;
			}
		}
		else {
			log_error("unexpected argument '%s'", arg);
			return -1;
		}
		if (!o->store) {
			log_error_errno(-errno, "cannot resolve store '%s'", arg);
			return -1;
		}
		return 0;
	}
	return 1;
}

static unsigned int default_max_fds(void)
{
	struct rlimit rl;

	/* Half the soft limit at most: open files and directories need the rest. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur / 2 < 8192)
		return (unsigned int)(rl.rlim_cur / 2);
	return 8192;
}

/*
 * libfuse names an option it does not know only when the session is made,
 * which comes after the journal is opened (and a journal left behind is
 * replayed): ask it now, so that a refused mount changes nothing.
 */
static int options_check_fuse(const struct fuse_args *args)
{
	static const struct fuse_lowlevel_ops no_ops;
	struct fuse_args copy = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se;

	for (int i = 0; i < args->argc; i++)
		if (fuse_opt_add_arg(&copy, args->argv[i]) < 0) {
			fuse_opt_free_args(&copy);
			return -ENOMEM;
		}
	se = fuse_session_new(&copy, &no_ops, sizeof(no_ops), NULL);
	fuse_opt_free_args(&copy);
	if (!se)
		return -EINVAL;	/* libfuse printed the option's name */
	fuse_session_destroy(se);
	return 0;
}

int options_parse(struct fuse_args *args, struct lb_options *ret_opt)
{
	struct lb_options o = {
		.attr_timeout = 86400,
		.entry_timeout = 86400,
		.negative_timeout = 86400,
		.max_threads = 64,
		.queue_budget = 64ull << 20,
		.flush_interval = 1,
		.hold = 300,
		.path_timeout = 10,
		.probe_interval = 0.2,
		.max_fds = default_max_fds(),
		.name_cache = 32768,
	};

	if (fuse_opt_parse(args, &o, cmdline_keys, opt_proc) < 0) {
		options_free(&o);
		return -EINVAL;
	}
	if (!o.show_help && !o.show_version && (!o.store || !o.mountpoint)) {
		log_error("usage: lifeboatfs STORE MOUNTPOINT [-o options] (see --help)");
		options_free(&o);
		return -EINVAL;
	}
	if (o.max_fds < 16)
		o.max_fds = 16;
	if (o.max_threads < 4)
		o.max_threads = 4;	/* holds block workers: keep some free */
	if (o.flush_interval <= 0 || o.probe_interval <= 0) {
		log_error("flush_interval and probe_interval must be greater than 0");
		options_free(&o);
		return -EINVAL;
	}
	if (!o.show_help && !o.show_version && options_check_fuse(args) < 0) {
		options_free(&o);
		return -EINVAL;
	}
	*ret_opt = o;
	return 0;
}

void options_free(struct lb_options *opt)
{
	free(opt->store);
	free(opt->mountpoint);
	free(opt->journal);
	free(opt->status);
	free(opt->alt_read);
	opt->alt_read = NULL;
	opt->store = opt->mountpoint = opt->journal = opt->status = NULL;
}

void options_usage(const char *progname)
{
	printf("usage: %s STORE MOUNTPOINT [-f] [-d] [-o option[,option...]]\n\n"
	       "Mounts STORE at MOUNTPOINT as a POSIX passthrough that lifeboat protects.\n"
	       "The mount owns STORE while mounted: change it only through MOUNTPOINT.\n\n"
	       "    -h, --help             print this help\n"
	       "    -V, --version          print the version\n"
	       "    -f                     stay in the foreground\n"
	       "    -d, -o debug           foreground, print every FUSE request\n\n"
	       "lifeboatfs options:\n",
	       progname);
	for (size_t i = 0; i < sizeof(opt_table) / sizeof(opt_table[0]); i++) {
		const struct opt_desc *d = &opt_table[i];
		const char *arg = d->type == OPT_SECONDS ? "=S" :
				  d->type == OPT_UINT ? "=N" :
				  d->type == OPT_BYTES ? "=BYTES" :
				  d->type == OPT_STRING ? "=PATH" :
				  d->type == OPT_HOLD_POLICY ? "=wait|eio" : "";
		char name[64];

		snprintf(name, sizeof(name), "%s%s", d->name, arg);
		printf("    -o %-24s %s\n", name, d->help);
	}
	printf("\nAlways on: default_permissions (the kernel checks access).\n"
	       "Ignored (fstab vocabulary): _netdev, nofail, auto, noauto, defaults, x-*.\n\n"
	       "FUSE options:\n");
	fuse_lowlevel_help();
}
