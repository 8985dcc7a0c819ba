// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * status-standby.c - the warm-standby preloads of this host, for `lifeboat
 * status` and `lifeboat metrics`: STATE_ROOT/NODE/APP.json as
 * daemon/standby-node.c writes them, and APP.refused with the reason of the
 * last refusal. Read only; a preload whose restored process is gone is
 * shown as not live.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_PREFIX "status: "
#include "lifeboat/log.h"
#include "status.h"

#define STANDBY_MAX_ENTRIES 1024u	/* preloads and refusals listed at most */
#define STANDBY_FILE_MAX (64u << 10)	/* bytes of one preload file */

/* Node and app names as standby-node.c accepts them: no path tricks. */
static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

static struct json_object *read_preload(int dirfd, const char *file)
{
	struct json_object *o;
	struct stat st;
	int fd = openat(dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > STANDBY_FILE_MAX) {
		close(fd);
		return NULL;
	}
	o = json_object_from_fd(fd);
	close(fd);
	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

/* The first line of APP.refused, or NULL. */
static struct json_object *read_refusal(int dirfd, const char *file)
{
	char line[512] = "";
	int fd = openat(dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n < 0)
		return NULL;
	line[n] = '\0';
	line[strcspn(line, "\n")] = '\0';
	return json_object_new_string(line);
}

static bool pid_alive(struct json_object *o)
{
	struct json_object *v;
	int pid;

	if (!json_object_object_get_ex(o, "pid", &v))
		return false;
	pid = json_object_get_int(v);
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* "restored": a stopped, restored process that must still be there; "cache": files only. */
static bool preload_live(struct json_object *o)
{
	struct json_object *mode;

	if (json_object_object_get_ex(o, "mode", &mode) && !strcmp(json_object_get_string(mode), "restored"))
		return pid_alive(o);
	return true;
}

/* One entry: {node, app, refused?} plus the preload's own fields. */
static void add_entry(struct json_object *list, int dirfd, const char *node, const char *file)
{
	size_t len = strlen(file);
	bool refusal = len > 8 && !strcmp(file + len - 8, ".refused");
	bool preload = len > 5 && !strcmp(file + len - 5, ".json");
	char app[64];
	struct json_object *o;

	if ((!refusal && !preload) || len - (refusal ? 8 : 5) >= sizeof(app))
		return;
	snprintf(app, sizeof(app), "%.*s", (int)(len - (refusal ? 8 : 5)), file);
	if (!name_ok(app))
		return;
	if (preload) {
		o = read_preload(dirfd, file);
		if (!o)
			return;
		json_object_object_add(o, "live", json_object_new_boolean(preload_live(o)));
	} else {
		o = json_object_new_object();
		json_object_object_add(o, "refused", read_refusal(dirfd, file));
	}
	json_object_object_add(o, "node", json_object_new_string(node));
	json_object_object_add(o, "app", json_object_new_string(app));
	json_object_array_add(list, o);
}

int standby_status_load(const char *root, struct json_object **ret_list)
{
	struct json_object *list = json_object_new_array();
	struct dirent *nd;
	DIR *r = opendir(root);

	if (!r) {
		if (errno != ENOENT)
			log_warning_errno(-errno, "cannot read the standby state in '%s'", root);
		*ret_list = list;	/* no standby on this host */
		return 0;
	}
	while ((nd = readdir(r)) && json_object_array_length(list) < STANDBY_MAX_ENTRIES) {
		struct dirent *de;
		DIR *d;
		int fd;

		if (!name_ok(nd->d_name))
			continue;
		fd = openat(dirfd(r), nd->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || !(d = fdopendir(fd))) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		while ((de = readdir(d)) && json_object_array_length(list) < STANDBY_MAX_ENTRIES)
			add_entry(list, dirfd(d), nd->d_name, de->d_name);
		closedir(d);
	}
	closedir(r);
	*ret_list = list;
	return 0;
}

const char *standby_dir_default(void)
{
	const char *dir = getenv("LIFEBOAT_STANDBY_DIR");

	return dir && *dir ? dir : STANDBY_DIR_DEFAULT;
}
