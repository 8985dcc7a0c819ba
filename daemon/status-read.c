// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * status-read.c - loads the per-mount status files lifeboatfs writes and
 * checks each against the mount table, without touching the mounts
 * themselves: a stat(2) on a mount that is holding a request would wait
 * with it, and the overview must answer at once.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "status: "
#include "lifeboat/log.h"
#include "status.h"

const char *status_dir_default(void)
{
	const char *dir = getenv("LIFEBOAT_STATUS_DIR");

	return dir && *dir ? dir : STATUS_DIR_DEFAULT;
}

/* Reads at most STATUS_MAX_SIZE bytes of fd into a NUL-terminated buffer. */
static int read_bounded(int fd, char **ret_text)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len + 1 == cap) {
			char *p;

			if (cap >= STATUS_MAX_SIZE) {
				free(buf);
				return -EFBIG;
			}
			p = realloc(buf, cap * 2);
			if (!p) {
				free(buf);
				return -ENOMEM;
			}
			buf = p;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret_text = buf;
	return 0;
}

/* Parses one status file; the object must at least name its mountpoint. */
static int load_one(int dirfd, const char *name, struct json_object **ret_json, double *ret_age)
{
	struct json_object *o;
	struct stat st;
	struct timespec now;
	char *text = NULL;
	int fd, r;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	r = read_bounded(fd, &text);
	close(fd);
	if (r < 0)
		return r;
	o = json_tokener_parse(text);
	free(text);
	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "mountpoint", NULL)) {
		json_object_put(o);
		return -EBADMSG;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	*ret_age = (double)(now.tv_sec - st.st_mtim.tv_sec) +
		   (double)(now.tv_nsec - st.st_mtim.tv_nsec) / 1e9;
	*ret_json = o;
	return 0;
}

/* Undoes the octal escapes (\040 for a space) of /proc/self/mountinfo, in place. */
static void unescape_octal(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

/* Is a fuse.lifeboatfs mount at mountpoint in this mount namespace? */
static bool is_lifeboatfs_mounted(const char *mountpoint)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	bool found = false;

	if (!f)
		return false;
	while (!found && getline(&line, &cap, f) > 0) {
		char mnt[4096], fstype[256];
		const char *sep = strstr(line, " - ");

		/* id parent dev root MOUNTPOINT opts [optional...] - FSTYPE source superopts */
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%255s", fstype) != 1)
			continue;
		unescape_octal(mnt);
		found = strcmp(fstype, "fuse.lifeboatfs") == 0 && strcmp(mnt, mountpoint) == 0;
	}
	free(line);
	fclose(f);
	return found;
}

static bool is_status_name(const char *name)
{
	size_t len = strlen(name);

	return name[0] != '.' && len > 7 && strcmp(name + len - 7, ".status") == 0;
}

static int compare_mountpoints(const void *a, const void *b)
{
	return strcmp(mount_status_str(a, "mountpoint"), mount_status_str(b, "mountpoint"));
}

static int add_mount(struct mount_status_set *set, const char *dir, const char *name,
		     struct json_object *json, double age)
{
	struct mount_status *m = &set->mounts[set->n];

	if (asprintf(&m->file, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	m->json = json;
	m->age_s = age;
	m->stale = age > STATUS_STALE_S;
	m->mounted = is_lifeboatfs_mounted(mount_status_str(m, "mountpoint"));
	set->n++;
	return 0;
}

int mount_status_load(const char *dir, struct mount_status_set *ret_set)
{
	struct mount_status_set set = { 0 };
	struct dirent *de;
	DIR *d;
	int r = 0;

	d = opendir(dir);
	if (!d) {
		if (errno == ENOENT) {
			*ret_set = set;
			return 0;
		}
		return log_error_errno(-errno, "cannot read status directory '%s'", dir);
	}
	set.mounts = calloc(STATUS_MAX_FILES, sizeof(*set.mounts));
	if (!set.mounts) {
		closedir(d);
		return -ENOMEM;
	}
	while (r >= 0 && (de = readdir(d))) {
		struct json_object *json = NULL;
		double age = 0;

		if (!is_status_name(de->d_name))
			continue;
		if (set.n == STATUS_MAX_FILES) {
			log_warning("more than %u status files in '%s', reading the first ones only",
				    STATUS_MAX_FILES, dir);
			break;
		}
		r = load_one(dirfd(d), de->d_name, &json, &age);
		if (r == -EBADMSG) {
			log_warning("skipping status file '%s/%s': not a JSON object with a mountpoint",
				    dir, de->d_name);
			r = 0;
			continue;
		}
		if (r < 0) {
			/* A mount may be removing it right now: skip, keep the others. */
			log_warning_errno(r, "skipping status file '%s/%s'", dir, de->d_name);
			r = 0;
			continue;
		}
		r = add_mount(&set, dir, de->d_name, json, age);
		if (r < 0)
			json_object_put(json);
	}
	closedir(d);
	if (r < 0) {
		mount_status_set_free(&set);
		return r;
	}
	qsort(set.mounts, set.n, sizeof(*set.mounts), compare_mountpoints);
	*ret_set = set;
	return 0;
}

void mount_status_set_free(struct mount_status_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		free(set->mounts[i].file);
		json_object_put(set->mounts[i].json);
	}
	free(set->mounts);
	set->mounts = NULL;
	set->n = 0;
}

const char *mount_status_str(const struct mount_status *m, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(m->json, key, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

uint64_t mount_status_u64(const struct mount_status *m, const char *key)
{
	struct json_object *v;
	int64_t i;

	if (!json_object_object_get_ex(m->json, key, &v) || !json_object_is_type(v, json_type_int))
		return 0;
	i = json_object_get_int64(v);
	return i > 0 ? (uint64_t)i : 0;
}

const char *mount_status_state(const struct mount_status *m)
{
	if (!m->mounted)
		return "unmounted";
	if (m->stale)
		return "stale";
	return mount_status_str(m, "state");
}
