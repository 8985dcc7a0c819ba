// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * status-daemon.c - what `lifeboat status` and `lifeboat metrics` learn
 * from lifeboatd: its configuration (node, peers) and, when it runs, its
 * answers to ping and ps on the control socket. A node without lifeboatd
 * (only lifeboatfs mounts) is a normal case, not an error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_PREFIX "status: "
#include "lifeboat/log.h"
#include "config.h"
#include "control.h"
#include "status.h"

#define DAEMON_TIMEOUT_S 2	/* lifeboatd serves one request at a time: do not wait out a handoff */

static struct json_object *request(const char *op)
{
	struct json_object *req = json_object_new_object();

	json_object_object_add(req, "op", json_object_new_string(op));
	return req;
}

static int call(const char *socket, const char *op, struct json_object **ret)
{
	struct json_object *req = request(op);
	int r = control_call(socket, req, DAEMON_TIMEOUT_S, ret);

	json_object_put(req);
	return r;
}

/* The configuration, when there is one; a missing file is no configuration. */
static int load_config(const char *path, struct daemon_status *ds)
{
	struct config *cfg;

	if (access(path, F_OK) < 0)
		return 0;
	cfg = malloc(sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	if (config_load(path, cfg) < 0) {
		log_warning("'%s' is not valid: peers not shown", path);
		free(cfg);
		return 0;
	}
	ds->cfg = cfg;
	return 0;
}

int daemon_status_load(const char *config_path, const char *socket, struct daemon_status *ret)
{
	struct daemon_status ds = { 0 };
	struct stat st;
	int r;

	r = load_config(config_path ? config_path : CONFIG_DEFAULT_PATH, &ds);
	if (r < 0)
		return r;
	if (!socket)
		socket = getenv("LIFEBOAT_SOCKET") && *getenv("LIFEBOAT_SOCKET") ? control_socket_path() :
			 ds.cfg ? ds.cfg->control_socket : CONTROL_SOCKET_DEFAULT;
	snprintf(ds.socket, sizeof(ds.socket), "%s", socket);
	/* No socket: lifeboatd is not running here, quietly. */
	if (stat(ds.socket, &st) == 0 && S_ISSOCK(st.st_mode) && call(ds.socket, "ping", &ds.ping) == 0) {
		ds.up = true;
		if (call(ds.socket, "ps", &ds.ps) < 0)
			ds.ps = NULL;
	}
	*ret = ds;
	return 0;
}

void daemon_status_free(struct daemon_status *ds)
{
	free(ds->cfg);
	json_object_put(ds->ping);
	json_object_put(ds->ps);
	memset(ds, 0, sizeof(*ds));
}

struct json_object *daemon_status_procsets(const struct daemon_status *ds)
{
	struct json_object *list;

	if (!ds->ps || !json_object_object_get_ex(ds->ps, "procsets", &list) ||
	    !json_object_is_type(list, json_type_array))
		return NULL;
	return list;
}

const char *daemon_status_node(const struct daemon_status *ds)
{
	struct json_object *v;

	if (ds->ping && json_object_object_get_ex(ds->ping, "node", &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return ds->cfg ? ds->cfg->node_name : "";
}
