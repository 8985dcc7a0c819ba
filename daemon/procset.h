/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * procset.h - process sets: an application started by `lifeboat run` in its
 * own PID namespace under a small init (lifeboat-init: pid 1, reaps,
 * forwards signals), in its own cgroups, without a mount namespace; the
 * unit that lifeboatd checkpoints, restores and hands off.
 *
 * The init is a child of lifeboatd, also after a restore
 * (criu_restore_child), so lifeboatd hears every exit by SIGCHLD.
 *
 *   (none) --procset_start--> RUNNING --procset_stop / exit--> EXITED
 *   RUNNING --procset_checkpoint--> CHECKPOINTED (image on disk, tasks gone)
 *   RUNNING --procset_checkpoint(leave_running)--> RUNNING
 *   CHECKPOINTED --procset_restore--> RUNNING
 *   any failure of a checkpoint --> RUNNING again (thawed)
 *
 * Freezing and FUSE: the freezer wakes a task waiting in a FUSE request
 * with a fake signal, so the kernel sends FUSE_INTERRUPT for it. A file
 * system that answers an interrupted request with EINTR (faultfs does, for
 * a stalled op) hands that EINTR to the application, which sees an error
 * once it is thawed or restored (observed here). lifeboatfs must finish
 * interrupted requests normally; a request it keeps holding leaves the task
 * unfreezable, and the checkpoint is refused after the freeze timeout.
 */
#ifndef LIFEBOAT_PROCSET_H
#define LIFEBOAT_PROCSET_H

#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "cgroup.h"
#include "config.h"
#include "lifeboat/control-proto.h"

#define PROCSET_MAX 64
#define PROCSET_FREEZE_TIMEOUT_MS 5000
#define PROCSET_META_FILE "procset.json"	/* in every image directory */

enum procset_state {
	PROCSET_RUNNING,
	PROCSET_CHECKPOINTED,
	PROCSET_EXITED,
};

struct procset {
	char name[CONTROL_NAME_MAX + 1];
	enum procset_state state;
	pid_t pid;			/* the init, in lifeboatd's PID namespace; 0: none */
	char **argv;			/* owned, NULL-terminated */
	char cwd[PATH_MAX];
	char service_ip[64];		/* empty: none */
	char stdout_path[PATH_MAX];
	char stderr_path[PATH_MAX];
	char image_dir[PATH_MAX];	/* of the last checkpoint; empty: none */
	struct cgroup cg;
	time_t started;
	int exit_status;		/* wait(2) status once EXITED */
	bool adopted;			/* found running at lifeboatd's start: not our child */
	int pidfd;			/* adopted: tells when the init exits; else -1 */
	uint64_t starttime;		/* of the init (/proc/PID/stat), against PID reuse */
	bool standby;			/* a restored warm standby held stopped until `activate` */
};

/* What `lifeboat run` asks for. */
struct procset_spec {
	const char *name;
	char *const *argv;		/* argv[0] is looked up in PATH of envp */
	char *const *envp;
	const char *cwd;
	const char *service_ip;		/* NULL: none */
	bool paused;			/* the command stops itself before its exec (--standby-on) */
};

/* What lifeboatd knows that a process set needs. */
struct procset_env {
	const struct config *cfg;
	const char *init_path;		/* the lifeboat-init executable */
	const char *criu_bin;
	const char *criu_conf;		/* CRIU config file (options without setters) */
};

/* Timings of a checkpoint or restore, in microseconds. */
struct procset_times {
	uint64_t freeze_us;	/* until the freezer said FROZEN */
	uint64_t sync_us;	/* syncfs of the mounts and the working directory */
	uint64_t dump_us;	/* criu dump */
	uint64_t restore_us;	/* criu restore */
};

struct procset_table {
	struct procset *sets[PROCSET_MAX];
};

struct procset *procset_find(struct procset_table *t, const char *name);
struct procset *procset_find_pid(struct procset_table *t, pid_t pid);
/* -EEXIST for a name in use (unless EXITED: that entry is replaced), -ENOSPC when full. */
int procset_add(struct procset_table *t, struct procset *ps);
void procset_remove(struct procset_table *t, struct procset *ps);

void procset_free(struct procset *ps);

/* Starts a process set; on success it is RUNNING and *ret owned by the caller. */
int procset_start(const struct procset_env *env, const struct procset_spec *spec, struct procset **ret);

/*
 * SIGTERM to the init (it forwards it to the whole set), SIGKILL to the
 * cgroup after timeout_s; waits for the init and removes the cgroups.
 */
int procset_stop(struct procset *ps, unsigned timeout_s);

/*
 * A set started paused: waits up to timeout_ms until the command (the init's
 * child) is in group-stop before its exec; ret_pid gets its host pid.
 */
int procset_wait_paused(const struct procset *ps, unsigned timeout_ms, pid_t *ret_pid);

/*
 * Warm standbys (issue 6). procset_hold_standby: a set just restored from a
 * standby image (its command stopped as it was dumped) is moved, init and
 * every descendant, into the set's own cgroups (CRIU puts it back into the
 * cgroups it was dumped from, those of the primary's node) and marked a
 * standby. procset_activate: SIGCONT to every process of the set.
 */
int procset_hold_standby(struct procset *ps);
int procset_activate(struct procset *ps);

/* lifeboatd reaped the init with this status. */
void procset_exited(struct procset *ps, int status);

/*
 * Freeze, syncfs the mounts (so dirty pages reach lifeboatfs and its
 * journal), dump into dir (made if missing; emptied of an older image).
 * The set is gone afterwards (CHECKPOINTED) unless leave_running. On any
 * failure the set is thawed and keeps running. times may be NULL.
 */
int procset_checkpoint(const struct procset_env *env, struct procset *ps, const char *dir, bool leave_running,
		       struct procset_times *times);

/*
 * Restores the image in dir (written by procset_checkpoint, here or on a
 * peer) as a child of the caller. ps is the CHECKPOINTED entry to reuse, or
 * NULL to make a new one from the image's procset.json (*ret gets it).
 */
int procset_restore(const struct procset_env *env, struct procset *ps, const char *dir,
		    struct procset **ret, struct procset_times *times);

/*
 * A CHECKPOINTED entry from an image's procset.json or a state file (which
 * may come from a peer: every field is checked).
 */
int procset_from_json(const struct procset_env *env, struct json_object *m, struct procset **ret);

/*
 * State files (procset-state.c): state_dir/procsets/NAME.json for every
 * running or checkpointed set, rewritten by procset_state_save() after each
 * change; procset_state_load() adopts, at lifeboatd's start, the sets that
 * still run (same init, same start time, in its cgroup) and the
 * checkpointed ones. An adopted init is not lifeboatd's child: its exit is
 * seen through a pidfd and its exit status is unknown (-1).
 */
void procset_state_save(const struct procset_env *env, struct procset_table *t);
int procset_state_load(const struct procset_env *env, struct procset_table *t);

/* The start time of pid (field 22 of /proc/PID/stat), 0 if gone. */
uint64_t procset_pid_starttime(pid_t pid);

/* The JSON that `lifeboat ps` shows (a new reference). */
struct json_object *procset_to_json(const struct procset *ps);

const char *procset_state_name(enum procset_state s);

/* The exit code `lifeboat ps` shows (128 + signal), -1 when unknown. */
int procset_exit_code(const struct procset *ps);

#endif
