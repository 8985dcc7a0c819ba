/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lifeboatd.h - the state of one lifeboatd and the entry points of its
 * control requests (control-ops.c), for code that extends the daemon
 * (handoff, standby).
 */
#ifndef LIFEBOAT_LIFEBOATD_H
#define LIFEBOAT_LIFEBOATD_H

#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>

#include "config.h"
#include "procset.h"

struct lifeboatd {
	struct config cfg;
	const char *config_path;
	char init_path[PATH_MAX];	/* lifeboat-init */
	char criu_bin[PATH_MAX];
	char criu_conf[PATH_MAX];	/* state_dir/criu.conf */
	struct procset_env env;		/* points into the fields above */
	struct procset_table sets;
	int listen_fd;
	bool quit;
	struct {			/* handoffs sent from here, for `ping` and metrics */
		uint64_t done;		/* the app runs on the peer */
		uint64_t failed;	/* refused or failed: the app runs here again */
		uint64_t frozen_us_sum;	/* freeze to running on the peer, summed over done */
		uint64_t last_frozen_us;
	} handoffs;
};

/*
 * Handles one control request; *ret_resp is always set (an "ok": false
 * response on failure). Runs on lifeboatd's only thread.
 */
void lifeboatd_handle(struct lifeboatd *d, struct json_object *req, struct json_object **ret_resp);

/* Reaps exited inits (on SIGCHLD); only pids of known process sets. */
void lifeboatd_reap(struct lifeboatd *d);

/*
 * The planned move of a process set to a peer (`lifeboat migrate`). The
 * default, weak definition answers -EOPNOTSUPP; the handoff code provides
 * the real one (compile it into lifeboatd itself, not through a static
 * library, so the linker takes the strong definition). On success it fills
 * *ret_result (a new JSON object with the step timings) and the set runs
 * on the peer; on failure the set keeps running here and err holds the
 * reason.
 */
int lifeboatd_migrate(struct lifeboatd *d, struct procset *ps, const struct config_peer *peer,
		      struct json_object **ret_result, char *err, size_t err_size);

#endif
