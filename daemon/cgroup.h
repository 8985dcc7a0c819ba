/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cgroup.h - the cgroup v1 directories of one process set: freezer (to
 * stop it for a checkpoint; required) and cpuacct + memory (accounting;
 * used when those hierarchies are mounted), each at
 * /sys/fs/cgroup/<controller>/<parent>/<name>.
 */
#ifndef LIFEBOAT_CGROUP_H
#define LIFEBOAT_CGROUP_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#define CGROUP_V1_ROOT "/sys/fs/cgroup"

struct cgroup {
	char freezer[PATH_MAX];
	char cpuacct[PATH_MAX];	/* empty: hierarchy not mounted */
	char memory[PATH_MAX];	/* empty: hierarchy not mounted */
};

/* Fills *ret with the paths of parent/name; creates nothing. */
int cgroup_init(const char *parent, const char *name, struct cgroup *ret);

/* Creates the directories (the parent too); existing ones are fine. */
int cgroup_create(const struct cgroup *cg);

/* Moves the calling process into every directory (before exec). */
int cgroup_attach_self(const struct cgroup *cg);

/*
 * Freezes the set and waits until the freezer says FROZEN. A task that
 * does not freeze in timeout_ms (e.g. stuck in a FUSE request) makes it
 * thaw again and return -ETIMEDOUT: nothing stays half frozen.
 */
int cgroup_freeze(const struct cgroup *cg, unsigned timeout_ms);
int cgroup_thaw(const struct cgroup *cg);

/* Sends sig to every process of the set; returns how many got it. */
int cgroup_kill(const struct cgroup *cg, int sig);

/* Up to max pids of the set's processes into pids; returns how many. */
int cgroup_pids(const struct cgroup *cg, pid_t *pids, int max);

/* Number of processes in the set (0 when the directory is gone). */
int cgroup_nr_procs(const struct cgroup *cg);

/* Removes the directories; -EBUSY while processes remain. */
int cgroup_remove(const struct cgroup *cg);

/* CPU time (cpuacct.usage) and memory (memory.usage_in_bytes); 0 if unknown. */
void cgroup_stats(const struct cgroup *cg, uint64_t *ret_cpu_ns, uint64_t *ret_mem_bytes);

#endif
