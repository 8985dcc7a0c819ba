// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cgroup.c - cgroup v1 freezer and accounting directories of a process set.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "cgroup: "
#include "lifeboat/log.h"
#include "cgroup.h"

static int write_file(const char *dir, const char *file, const char *value)
{
	char path[PATH_MAX + 64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, value, strlen(value));
	n = n < 0 ? -errno : 0;
	close(fd);
	return (int)n;
}

static int read_file(const char *dir, const char *file, char *buf, size_t size)
{
	char path[PATH_MAX + 64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	return 0;
}

static int hierarchy_path(const char *controller, const char *parent, const char *name, char *dst)
{
	char root[PATH_MAX];
	struct stat st;

	snprintf(root, sizeof(root), "%s/%s", CGROUP_V1_ROOT, controller);
	if (stat(root, &st) < 0 || !S_ISDIR(st.st_mode))
		return -ENOENT;
	if ((size_t)snprintf(dst, PATH_MAX, "%s/%s/%s", root, parent, name) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int cgroup_init(const char *parent, const char *name, struct cgroup *ret)
{
	struct cgroup cg = { 0 };
	int r;

	r = hierarchy_path("freezer", parent, name, cg.freezer);
	if (r < 0)
		return log_error_errno(r, "no cgroup v1 freezer hierarchy at '%s/freezer'", CGROUP_V1_ROOT);
	if (hierarchy_path("cpuacct", parent, name, cg.cpuacct) < 0)
		cg.cpuacct[0] = '\0';
	if (hierarchy_path("memory", parent, name, cg.memory) < 0)
		cg.memory[0] = '\0';
	*ret = cg;
	return 0;
}

static int mkdir_with_parent(const char *path)
{
	char parent[PATH_MAX];
	char *slash;

	strcpy(parent, path);
	slash = strrchr(parent, '/');
	if (slash) {
		*slash = '\0';
		if (mkdir(parent, 0755) < 0 && errno != EEXIST)
			return -errno;
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int cgroup_create(const struct cgroup *cg)
{
	const char *dirs[] = { cg->freezer, cg->cpuacct, cg->memory };

	for (size_t i = 0; i < 3; i++) {
		int r;

		if (!dirs[i][0])
			continue;
		r = mkdir_with_parent(dirs[i]);
		if (r < 0)
			return log_error_errno(r, "cannot create '%s'", dirs[i]);
	}
	return 0;
}

int cgroup_attach_self(const struct cgroup *cg)
{
	const char *dirs[] = { cg->freezer, cg->cpuacct, cg->memory };

	for (size_t i = 0; i < 3; i++) {
		int r;

		if (!dirs[i][0])
			continue;
		r = write_file(dirs[i], "cgroup.procs", "0");
		if (r < 0)
			return r;
	}
	return 0;
}

static int freezer_state(const struct cgroup *cg, char *buf, size_t size)
{
	int r = read_file(cg->freezer, "freezer.state", buf, size);

	if (r == 0)
		buf[strcspn(buf, "\n")] = '\0';
	return r;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int cgroup_freeze(const struct cgroup *cg, unsigned timeout_ms)
{
	uint64_t deadline = now_us() + (uint64_t)timeout_ms * 1000u;
	char state[32];
	int r;

	r = write_file(cg->freezer, "freezer.state", "FROZEN");
	if (r < 0)
		return log_error_errno(r, "cannot freeze '%s'", cg->freezer);
	for (unsigned i = 0;; i++) {
		r = freezer_state(cg, state, sizeof(state));
		if (r < 0)
			return log_error_errno(r, "cannot read the state of '%s'", cg->freezer);
		if (!strcmp(state, "FROZEN"))
			return 0;
		if (now_us() >= deadline)
			break;
		/* v1 freezing can stall on a task that raced with it: ask again */
		if (i % 50 == 49)
			(void)write_file(cg->freezer, "freezer.state", "FROZEN");
		usleep(i < 100 ? 100 : 1000);
	}
	(void)cgroup_thaw(cg);
	return log_error_errno(-ETIMEDOUT, "'%s' did not freeze within %u ms (a task stuck in the kernel, "
				"e.g. in a FUSE request?); thawed it again", cg->freezer, timeout_ms);
}

int cgroup_thaw(const struct cgroup *cg)
{
	int r = write_file(cg->freezer, "freezer.state", "THAWED");

	if (r < 0)
		return log_error_errno(r, "cannot thaw '%s'", cg->freezer);
	return 0;
}

static int for_each_proc(const struct cgroup *cg, int sig)
{
	char path[PATH_MAX + 32];
	FILE *f;
	int pid, n = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg->freezer);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fscanf(f, "%d", &pid) == 1) {
		if (sig && pid > 0)
			(void)kill(pid, sig);
		n++;
	}
	fclose(f);
	return n;
}

int cgroup_pids(const struct cgroup *cg, pid_t *pids, int max)
{
	char path[PATH_MAX + 32];
	int pid, n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg->freezer);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (n < max && fscanf(f, "%d", &pid) == 1)
		pids[n++] = pid;
	fclose(f);
	return n;
}

int cgroup_kill(const struct cgroup *cg, int sig)
{
	return for_each_proc(cg, sig);
}

int cgroup_nr_procs(const struct cgroup *cg)
{
	return for_each_proc(cg, 0);
}

int cgroup_remove(const struct cgroup *cg)
{
	const char *dirs[] = { cg->freezer, cg->cpuacct, cg->memory };
	int ret = 0;

	for (size_t i = 0; i < 3; i++)
		if (dirs[i][0] && rmdir(dirs[i]) < 0 && errno != ENOENT && ret == 0)
			ret = -errno;
	return ret;
}

static uint64_t read_u64(const char *dir, const char *file)
{
	char buf[64];

	if (!dir[0] || read_file(dir, file, buf, sizeof(buf)) < 0)
		return 0;
	return strtoull(buf, NULL, 10);
}

void cgroup_stats(const struct cgroup *cg, uint64_t *ret_cpu_ns, uint64_t *ret_mem_bytes)
{
	*ret_cpu_ns = read_u64(cg->cpuacct, "cpuacct.usage");
	*ret_mem_bytes = read_u64(cg->memory, "memory.usage_in_bytes");
}
