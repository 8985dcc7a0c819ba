/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * status.h - what `lifeboat status` and `lifeboat metrics` read: the JSON
 * status file each lifeboatfs mount rewrites every second (fs/status.c,
 * `-o status=`), checked against /proc/self/mountinfo.
 */
#ifndef LIFEBOAT_STATUS_H
#define LIFEBOAT_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define STATUS_DIR_DEFAULT "/run/lifeboat"
#define STATUS_MAX_FILES 1024u		/* status files read from one directory */
#define STATUS_MAX_SIZE (256u << 10)	/* bytes of one status file */
#define STATUS_STALE_S 5.0		/* a file older than this: its writer is gone or stuck */

/* One mount, as its status file and the mount table tell it. */
struct mount_status {
	char *file;			/* the status file read */
	struct json_object *json;	/* its contents, an object (owned) */
	double age_s;			/* seconds since the file was last rewritten */
	bool mounted;			/* a fuse.lifeboatfs mount is at its mountpoint */
	bool stale;			/* age_s > STATUS_STALE_S */
};

struct mount_status_set {
	struct mount_status *mounts;	/* sorted by mountpoint */
	size_t n;
};

/*
 * Reads every *.status file in dir. A file that cannot be read or is not a
 * status object is skipped with a warning naming it; a missing dir is an
 * empty set. Returns 0 or -errno (dir unreadable, -ENOMEM).
 */
int mount_status_load(const char *dir, struct mount_status_set *ret_set);
void mount_status_set_free(struct mount_status_set *set);

/* Field accessors: a missing or mistyped field reads as "" or 0. */
const char *mount_status_str(const struct mount_status *m, const char *key);
uint64_t mount_status_u64(const struct mount_status *m, const char *key);
/* "healthy", "absorbing", "recovering"; "stale" or "unmounted" when the writer is gone. */
const char *mount_status_state(const struct mount_status *m);

/* The status directory: $LIFEBOAT_STATUS_DIR, else STATUS_DIR_DEFAULT. */
const char *status_dir_default(void);

/* What lifeboatd tells (daemon/status-daemon.c). */
struct config;
struct daemon_status {
	struct config *cfg;		/* lifeboat.conf, NULL when absent or invalid */
	char socket[108];		/* the control socket asked */
	bool up;			/* lifeboatd answered ping */
	struct json_object *ping;	/* its answers, NULL when not up */
	struct json_object *ps;
};

/*
 * Reads config_path (NULL: the default; missing: no config) and asks the
 * control socket (NULL: $LIFEBOAT_SOCKET, else the config's, else the
 * default) for ping and ps, each bounded to a few seconds. A node without
 * lifeboatd is up == false, not an error. Returns 0 or -ENOMEM.
 */
int daemon_status_load(const char *config_path, const char *socket, struct daemon_status *ret);
void daemon_status_free(struct daemon_status *ds);
/* ps's array of process sets (borrowed), or NULL. */
struct json_object *daemon_status_procsets(const struct daemon_status *ds);
/* The node's name: lifeboatd's answer, else the config's, else "". */
const char *daemon_status_node(const struct daemon_status *ds);

/*
 * Warm-standby preloads (daemon/status-standby.c): an array, one object per
 * STATE_ROOT/NODE/APP.json ({node, app, mode, generation, size, preload_us,
 * pid, live, ...}) or APP.refused ({node, app, refused: reason}). A missing
 * root is an empty array. Always returns 0.
 */
#define STANDBY_DIR_DEFAULT "/run/lifeboat/standby"
int standby_status_load(const char *root, struct json_object **ret_list);
/* $LIFEBOAT_STANDBY_DIR, else STANDBY_DIR_DEFAULT (the standby config's state_root). */
const char *standby_dir_default(void);

/* `lifeboat status [--json] [--dir DIR]`, `lifeboat metrics [--output FILE] [--dir DIR]`. */
/*
 * Waits until every mounted lifeboatfs mount in dir is healthy, with a
 * progress line on stderr; EXIT_OK, or EXIT_FAILED after timeout_s.
 */
int status_wait(const char *dir, double timeout_s);
int status_cmd(int argc, char **argv);
void status_cmd_help(void);
int metrics_cmd(int argc, char **argv);
void metrics_cmd_help(void);

#endif
