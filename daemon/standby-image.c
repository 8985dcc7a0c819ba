// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * standby-image.c - standby images on disk: the CRIU dump and restore of a
 * set, and the manifest (name, generation, size, XXH3-64 checksum) that
 * makes a stale, foreign or damaged image refused before CRIU reads it.
 *
 *   IMAGE_ROOT/NAME/GENERATION/{*.img, manifest.json, dump.log, restore.log}
 *
 * The checksum covers every file but the manifest, the logs and the files a
 * restore adds (restore.pid, stats-restore), in name order, each as its
 * name, a NUL, its length and its bytes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#define LOG_PREFIX "standby: "
#include "lifeboat/log.h"
#include "standby.h"

#define MANIFEST "manifest.json"
#define MAX_IMAGE_FILES 100000

static void enter_netns(const char *netns)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", netns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		fprintf(stderr, "standby: cannot enter network namespace '%s': %m\n", netns);
		_exit(126);
	}
	close(fd);
}

static int run_criu(const struct standby_config *cfg, char *const argv[], const char *netns)
{
	int status;
	pid_t pid;

	if (access(cfg->criu, X_OK) < 0)
		return log_error_errno(-errno, "criu not found at '%s' (contrib/install-criu.sh)",
				       cfg->criu);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (fd >= 0) {
			(void)dup2(fd, STDIN_FILENO);
			(void)dup2(fd, STDOUT_FILENO);
		}
		if (netns && netns[0])
			enter_netns(netns);
		execv(cfg->criu, argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

int standby_checkpoint(const struct standby_config *cfg, pid_t root, const char *dir)
{
	char pid[16];
	char *argv[] = {
		(char *)cfg->criu, "dump", "-t", pid, "-D", (char *)dir, "-o", "dump.log",
		"-v4", "--leave-running", "--tcp-established", "--file-locks", NULL,
	};
	int r;

	snprintf(pid, sizeof(pid), "%d", root);
	r = run_criu(cfg, argv, NULL);
	if (r < 0)
		return log_error_errno(r, "criu dump of %d failed, see '%s/dump.log'", root, dir);
	return 0;
}

int standby_restore(const struct standby_config *cfg, const char *image_dir, const char *netns,
		    pid_t *ret_root)
{
	char dir[PATH_MAX], pidfile[PATH_MAX + 16], buf[32];
	char *argv[] = {
		(char *)cfg->criu, "restore", "-D", (char *)dir, "-o", "restore.log", "-v4",
		"--restore-detached", "--tcp-established", "--file-locks", "--pidfile",
		pidfile, NULL,
	};
	ssize_t n;
	int fd, r;

	if (!realpath(image_dir, dir))	/* criu names files from its work dir */
		return log_error_errno(-errno, "cannot resolve '%s'", image_dir);
	snprintf(pidfile, sizeof(pidfile), "%s/restore.pid", dir);
	(void)unlink(pidfile);
	r = run_criu(cfg, argv, netns);
	if (r < 0)
		return log_error_errno(r, "criu restore of '%s' failed, see '%s/restore.log'", dir,
				       dir);
	fd = open(pidfile, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(-errno, "criu left no pid file '%s'", pidfile);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	(void)unlink(pidfile);
	if (n <= 0)
		return log_error_errno(-EBADMSG, "empty pid file '%s'", pidfile);
	buf[n] = 0;
	*ret_root = (pid_t)atoi(buf);
	return *ret_root > 0 ? 0 : -EBADMSG;
}

static bool counted(const char *name)
{
	size_t n = strlen(name);

	if (name[0] == '.' || !strcmp(name, MANIFEST))
		return false;
	if (n > 4 && !strcmp(name + n - 4, ".log"))
		return false;
	/* criu adds stats-restore at each restore */
	return strcmp(name, "restore.pid") != 0 && strcmp(name, "stats-restore") != 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_files(const char *dir, char ***ret_names, size_t *ret_n)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!counted(de->d_name))
			continue;
		if (n == cap) {
			char **p;

			cap = cap ? cap * 2 : 64;
			if (cap > MAX_IMAGE_FILES || !(p = realloc(names, cap * sizeof(*p))))
				break;
			names = p;
		}
		names[n] = strdup(de->d_name);
		if (!names[n])
			break;
		n++;
	}
	closedir(d);
	if (de) {
		while (n)
			free(names[--n]);
		free(names);
		return -ENOMEM;
	}
	qsort(names, n, sizeof(*names), cmp_names);
	*ret_names = names;
	*ret_n = n;
	return 0;
}

static int hash_file(XXH3_state_t *st, int dirfd, const char *name, uint64_t *size)
{
	static char buf[1 << 20];
	uint64_t len = 0;
	struct stat sb;
	ssize_t n;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return -EBADMSG;
	}
	len = (uint64_t)sb.st_size;
	XXH3_64bits_update(st, name, strlen(name) + 1);
	XXH3_64bits_update(st, &len, sizeof(len));
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		XXH3_64bits_update(st, buf, (size_t)n);
	close(fd);
	if (n < 0)
		return -EIO;
	*size += len;
	return 0;
}

int standby_image_checksum(const char *dir, uint64_t *ret_sum, uint64_t *ret_size)
{
	XXH3_state_t *st;
	uint64_t size = 0;
	char **names = NULL;
	size_t n = 0;
	int dirfd, r;

	r = list_files(dir, &names, &n);
	if (r < 0)
		return r;
	st = XXH3_createState();
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = !st ? -ENOMEM : dirfd < 0 ? -errno : 0;
	if (r == 0)
		XXH3_64bits_reset(st);
	for (size_t i = 0; i < n; i++) {
		if (r == 0)
			r = hash_file(st, dirfd, names[i], &size);
		free(names[i]);
	}
	free(names);
	if (r == 0) {
		*ret_sum = XXH3_64bits_digest(st);
		*ret_size = size;
	}
	if (dirfd >= 0)
		close(dirfd);
	XXH3_freeState(st);
	return r;
}

int standby_manifest_write(const char *dir, const struct standby_manifest *m)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	json_object *o = json_object_new_object();
	int r = 0;

	json_object_object_add(o, "name", json_object_new_string(m->name));
	json_object_object_add(o, "generation", json_object_new_uint64(m->generation));
	json_object_object_add(o, "created", json_object_new_uint64(m->created));
	json_object_object_add(o, "size", json_object_new_uint64(m->size));
	json_object_object_add(o, "checksum", json_object_new_uint64(m->checksum));
	json_object_object_add(o, "pause_us", json_object_new_uint64(m->pause_us));
	json_object_object_add(o, "init_us", json_object_new_uint64(m->init_us));
	json_object_object_add(o, "trigger", json_object_new_string(m->trigger));
	snprintf(path, sizeof(path), "%s/" MANIFEST, dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (json_object_to_file_ext(tmp, o, JSON_C_TO_STRING_PRETTY) < 0)
		r = -EIO;
	else if (rename(tmp, path) < 0)	/* the manifest appears complete or not at all */
		r = -errno;
	json_object_put(o);
	return r;
}

static int get_u64(json_object *o, const char *key, uint64_t *ret)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return -EBADMSG;
	*ret = json_object_get_uint64(v);
	return 0;
}

static int get_str(json_object *o, const char *key, char *buf, size_t size)
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return -EBADMSG;
	s = json_object_get_string(v);
	if (strlen(s) >= size)
		return -EBADMSG;
	strcpy(buf, s);
	return 0;
}

int standby_manifest_read(const char *dir, struct standby_manifest *ret_m)
{
	struct standby_manifest m = { 0 };
	char path[PATH_MAX];
	json_object *o;
	int r;

	snprintf(path, sizeof(path), "%s/" MANIFEST, dir);
	o = json_object_from_file(path);
	if (!o)
		return -ENOENT;
	r = get_str(o, "name", m.name, sizeof(m.name));
	if (!r)
		r = get_u64(o, "generation", &m.generation);
	if (!r)
		r = get_u64(o, "created", &m.created);
	if (!r)
		r = get_u64(o, "size", &m.size);
	if (!r)
		r = get_u64(o, "checksum", &m.checksum);
	if (!r)
		r = get_u64(o, "pause_us", &m.pause_us);
	if (!r)
		r = get_u64(o, "init_us", &m.init_us);
	if (!r)
		r = get_str(o, "trigger", m.trigger, sizeof(m.trigger));
	json_object_put(o);
	if (r == 0 && !standby_name_valid(m.name))
		r = -EBADMSG;
	if (r == 0)
		*ret_m = m;
	return r;
}

int standby_image_verify(const char *dir, const char *name, uint64_t min_generation,
			 struct standby_manifest *ret_m)
{
	struct standby_manifest m;
	uint64_t sum, size;
	int r;

	r = standby_manifest_read(dir, &m);
	if (r < 0)
		return log_error_errno(r, "image '%s' has no valid manifest", dir);
	if (name && strcmp(m.name, name) != 0)
		return log_error_errno(-EPERM, "image '%s' belongs to '%s', not '%s'", dir, m.name,
				       name);
	if (m.generation < min_generation)
		return log_error_errno(-ESTALE, "image '%s' is generation %llu, older than %llu",
				       dir, (unsigned long long)m.generation,
				       (unsigned long long)min_generation);
	r = standby_image_checksum(dir, &sum, &size);
	if (r < 0)
		return log_error_errno(r, "cannot read image '%s'", dir);
	if (sum != m.checksum || size != m.size)
		return log_error_errno(-EBADMSG, "image '%s' does not match its checksum", dir);
	*ret_m = m;
	return 0;
}

int standby_image_next_generation(const char *image_root, const char *name, uint64_t *ret_gen)
{
	char path[PATH_MAX];
	uint64_t max = 0;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", image_root, name);
	d = opendir(path);
	if (!d) {
		if (errno != ENOENT)
			return -errno;
		*ret_gen = 1;
		return 0;
	}
	while ((de = readdir(d))) {
		char *end;
		unsigned long long g = strtoull(de->d_name, &end, 10);

		if (end != de->d_name && !*end && g > max)
			max = g;
	}
	closedir(d);
	*ret_gen = max + 1;
	return 0;
}
