// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * criu-checkpoint.c - dump and restore with libcriu (see checkpoint.h).
 * libcriu's local options (criu_local_*) keep each call's settings apart.
 */
#include <criu.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "criu: "
#include "lifeboat/log.h"
#include "checkpoint.h"

int checkpoint_write_config(const char *path)
{
	FILE *f = fopen(path, "we");
	int r = 0;

	if (!f)
		return log_error_errno(-errno, "cannot write the CRIU config '%s'", path);
	fputs("# written by lifeboatd at every start: CRIU options libcriu has no setter for\n"
	      "file-validation filesize\n", f);
	if (fclose(f) != 0)
		r = log_error_errno(-errno, "cannot write the CRIU config '%s'", path);
	return r;
}

/* The last "Error" line CRIU wrote into its log, for the message. */
static void last_error_line(int dir_fd, const char *log, char *buf, size_t size)
{
	char line[512];
	FILE *f;
	int fd;

	snprintf(buf, size, "see '%s' in the image directory", log);
	fd = openat(dir_fd, log, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !(f = fdopen(fd, "r"))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "Error")) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(buf, size, "%s", line);
		}
	fclose(f);
}

/*
 * A CRIU killed by the watchdog in the middle of a restore leaves its
 * cgroup yard mounted in its work dir (the image dir): a tmpfs with every
 * cgroup hierarchy of the host mounted below it. Left there, an `rm -r`
 * of the image dir would walk into the host's cgroups and remove every
 * empty one. Detach them, deepest first (mountinfo lists parents first).
 */
static void detach_cgroup_yard(int dir_fd)
{
	char dir[PATH_MAX], fdpath[64], line[PATH_MAX * 2], prefix[PATH_MAX + 32];
	char (*targets)[PATH_MAX] = NULL;
	size_t n = 0, cap = 0;
	ssize_t len;
	FILE *f;

	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", dir_fd);
	len = readlink(fdpath, dir, sizeof(dir) - 1);
	if (len <= 0)
		return;
	dir[len] = '\0';
	snprintf(prefix, sizeof(prefix), "%s/.criu.cgyard.", dir);
	f = fopen("/proc/self/mountinfo", "re");
	while (f && fgets(line, sizeof(line), f)) {
		char target[PATH_MAX];

		/* "id parent major:minor root mountpoint ..." (no escapes in our paths) */
		if (sscanf(line, "%*s %*s %*s %*s %4095s", target) != 1 || strncmp(target, prefix, strlen(prefix)))
			continue;
		if (n == cap) {
			void *t = realloc(targets, (cap = cap ? 2 * cap : 16) * sizeof(*targets));

			if (!t)
				break;
			targets = t;
		}
		snprintf(targets[n++], PATH_MAX, "%s", target);
	}
	if (f)
		fclose(f);
	while (n-- > 0)
		if (umount2(targets[n], MNT_DETACH) == 0)
			log_warning("detached '%s' that the killed criu left behind", targets[n]);
	free(targets);
}

static int setup_opts(const struct checkpoint_opts *o, int dir_fd, const char *log, criu_opts **ret)
{
	criu_opts *c = NULL;	/* init_opts frees what *c points to */
	int r;

	r = criu_local_init_opts(&c);
	if (r < 0)
		return r;
	r = criu_local_set_service_binary(c, o->criu_bin);
	if (r == 0)
		r = criu_local_set_log_file(c, log);
	if (r == 0 && o->config_file)
		r = criu_local_set_config_file(c, o->config_file);
	if (r < 0) {
		criu_local_free_opts(c);
		return r;
	}
	criu_local_set_images_dir_fd(c, dir_fd);
	criu_local_set_log_level(c, (int)o->log_level);
	criu_local_set_file_locks(c, true);
	criu_local_set_tcp_established(c, o->tcp_established);
	/* iptables may not be there; nftables locks in a table CRIU-<id> of its own */
	if (o->tcp_established && criu_local_set_network_lock(c, CRIU_NETWORK_LOCK_NFTABLES) < 0) {
		criu_local_free_opts(c);
		return -EINVAL;
	}
	*ret = c;
	return 0;
}

int checkpoint_dump(pid_t pid, int dir_fd, const struct checkpoint_opts *o)
{
	struct watchdog *w;
	char why[600];
	criu_opts *c;
	bool fired;
	int r;

	r = setup_opts(o, dir_fd, "dump.log", &c);
	if (r < 0)
		return log_error_errno(r, "cannot set up libcriu options");
	if (o->freezer && criu_local_set_freeze_cgroup(c, o->freezer) < 0) {
		criu_local_free_opts(c);
		return log_error_errno(-ENOMEM, "cannot set up libcriu options");
	}
	criu_local_set_pid(c, pid);
	criu_local_set_leave_running(c, o->leave_running);
	r = watchdog_start(o->timeout_s, "criu dump", &w);
	if (r < 0) {
		criu_local_free_opts(c);
		return r;
	}
	r = criu_local_dump(c);
	fired = watchdog_stop(w);
	criu_local_free_opts(c);
	if (fired) {
		detach_cgroup_yard(dir_fd);
		return log_error_errno(-ETIMEDOUT, "criu dump of pid %d timed out after %u s", (int)pid, o->timeout_s);
	}
	if (r < 0) {
		last_error_line(dir_fd, "dump.log", why, sizeof(why));
		return log_error_errno(r, "criu dump of pid %d failed (%s)", (int)pid, why);
	}
	return 0;
}

int checkpoint_restore(int dir_fd, const struct checkpoint_opts *o, pid_t *ret_pid)
{
	struct watchdog *w;
	char why[600];
	criu_opts *c;
	bool fired;
	int r;

	r = setup_opts(o, dir_fd, "restore.log", &c);
	if (r < 0)
		return log_error_errno(r, "cannot set up libcriu options");
	r = watchdog_start(o->timeout_s, "criu restore", &w);
	if (r < 0) {
		criu_local_free_opts(c);
		return r;
	}
	r = criu_local_restore_child(c);
	fired = watchdog_stop(w);
	criu_local_free_opts(c);
	if (fired) {
		detach_cgroup_yard(dir_fd);
		return log_error_errno(-ETIMEDOUT, "criu restore timed out after %u s", o->timeout_s);
	}
	if (r < 0) {
		detach_cgroup_yard(dir_fd);	/* a failed CRIU cleans up itself; make sure */
		last_error_line(dir_fd, "restore.log", why, sizeof(why));
		return log_error_errno(r, "criu restore failed (%s)", why);
	}
	*ret_pid = r;
	return 0;
}
