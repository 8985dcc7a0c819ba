// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * procset-cmd.c - `lifeboat run|ps|stop|checkpoint|restore|migrate|ping`:
 * each builds one control request for lifeboatd and prints its answer.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX ""
#include "lifeboat/log.h"
#include "control.h"
#include "lifeboat.h"
#include "standby.h"	/* issue 6 hooks in cmd_run and cmd_ps */

extern char **environ;

#define SHORT_TIMEOUT_S 60	/* run, ps, stop (stop waits up to its own timeout) */
#define LONG_TIMEOUT_S 900	/* checkpoint, restore, migrate: CRIU's watchdog ends sooner */

void procset_cmd_help(void)
{
	printf("  run --name NAME [--service-ip ADDR] [--cwd DIR] -- CMD [ARGS...]\n"
	       "                             start CMD as a process set under lifeboatd (own PID\n"
	       "                             namespace and cgroup; cwd defaults to the current one)\n"
	       "  run --name NAME --standby-on NODE[,NODE] [--cwd DIR] [--config FILE] -- CMD [ARGS...]\n"
	       "                             start CMD as a set paused, trace it here to its first\n"
	       "                             external reference, checkpoint it for a warm standby,\n"
	       "                             preload it on NODE; the set runs on under lifeboatd\n"
	       "  ps [--json]                list the process sets\n"
	       "  stop NAME [--timeout S]    SIGTERM the set, SIGKILL after S seconds\n"
	       "  checkpoint NAME [--dir DIR] [--leave-running] [--json]\n"
	       "                             freeze, sync the mounts, dump with CRIU\n"
	       "  restore NAME | --dir DIR [--json]\n"
	       "                             restore a checkpointed set\n"
	       "  migrate NAME --to PEER     move a set to a peer node (planned handoff)\n"
	       "  ping                       is lifeboatd there?\n"
	       "  (all: --socket PATH or $LIFEBOAT_SOCKET, default %s)\n",
	       CONTROL_SOCKET_DEFAULT);
}

struct cmd_opts {
	const char *socket;
	const char *name;
	const char *service_ip;
	const char *cwd;
	const char *dir;
	const char *peer;
	int timeout_s;
	bool json;
	bool leave_running;
};

static int parse_opts(int argc, char **argv, struct cmd_opts *o)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },   { "name", required_argument, NULL, 'n' },
		{ "service-ip", required_argument, NULL, 'i' }, { "cwd", required_argument, NULL, 'C' },
		{ "dir", required_argument, NULL, 'd' },       { "to", required_argument, NULL, 't' },
		{ "timeout", required_argument, NULL, 'T' },   { "json", no_argument, NULL, 'j' },
		{ "leave-running", no_argument, NULL, 'l' },   {},
	};
	char *end;
	int c;

	if (!o->socket)
		o->socket = control_socket_path();
	optind = 0;	/* a full restart of getopt: this runs twice per command */
	/* '+': stop at the first non-option, so CMD's own options stay CMD's */
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'S': o->socket = optarg; break;
		case 'n': o->name = optarg; break;
		case 'i': o->service_ip = optarg; break;
		case 'C': o->cwd = optarg; break;
		case 'd': o->dir = optarg; break;
		case 't': o->peer = optarg; break;
		case 'j': o->json = true; break;
		case 'l': o->leave_running = true; break;
		case 'T':
			o->timeout_s = (int)strtol(optarg, &end, 10);
			if (*end || o->timeout_s < 1 || o->timeout_s > 3600) {
				log_error("--timeout must be 1 to 3600 seconds, not '%s'", optarg);
				return -EINVAL;
			}
			break;
		default:
			return -EINVAL;
		}
	}
	return 0;
}

static struct json_object *request(const char *op)
{
	struct json_object *req = json_object_new_object();

	json_object_object_add(req, "op", json_object_new_string(op));
	return req;
}

static int call(const struct cmd_opts *o, struct json_object *req, int timeout_s, struct json_object **ret)
{
	int r = control_call(o->socket, req, timeout_s, ret);

	json_object_put(req);
	return r < 0 ? EXIT_FAILED : EXIT_OK;
}

static void print_json(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

static int64_t get_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static struct json_object *strv_json(char **v, int n)
{
	struct json_object *a = json_object_new_array();

	for (int i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static int cmd_run(int argc, char **argv)
{
	struct cmd_opts o = { 0 };
	struct json_object *req, *resp;
	char cwd[PATH_MAX];
	int n_env = 0;

	/* issue 6 hook: --standby-on: lifeboatd starts the set paused, daemon/standby-cmd.c traces it */
	if (standby_run_requested(argc, argv))
		return standby_run_hook(argc, argv);
	if (parse_opts(argc, argv, &o) < 0)
		return EXIT_USAGE;
	if (!o.name || optind >= argc) {
		log_error("usage: lifeboat run --name NAME [--service-ip ADDR] [--cwd DIR] -- CMD [ARGS...]");
		return EXIT_USAGE;
	}
	if (!o.cwd && !(o.cwd = getcwd(cwd, sizeof(cwd)))) {
		log_error_errno(-errno, "cannot read the current directory; give --cwd");
		return EXIT_FAILED;
	}
	while (environ[n_env])
		n_env++;
	req = request("run");
	json_object_object_add(req, "name", json_object_new_string(o.name));
	json_object_object_add(req, "argv", strv_json(argv + optind, argc - optind));
	json_object_object_add(req, "cwd", json_object_new_string(o.cwd));
	json_object_object_add(req, "env", strv_json(environ, n_env < CONTROL_ENV_MAX ? n_env : CONTROL_ENV_MAX));
	if (o.service_ip)
		json_object_object_add(req, "service_ip", json_object_new_string(o.service_ip));
	if (call(&o, req, SHORT_TIMEOUT_S, &resp) != EXIT_OK)
		return EXIT_FAILED;
	printf("%s started: init pid %lld, logs %s %s\n", get_str(resp, "name"), (long long)get_int(resp, "pid"),
	       get_str(resp, "stdout"), get_str(resp, "stderr"));
	json_object_put(resp);
	return EXIT_OK;
}

static void print_ps_line(struct json_object *ps)
{
	struct json_object *argv;
	char cmd[256] = "";
	size_t len = 0;

	if (json_object_object_get_ex(ps, "argv", &argv))
		for (size_t i = 0; i < json_object_array_length(argv) && len < sizeof(cmd) - 1; i++)
			len += (size_t)snprintf(cmd + len, sizeof(cmd) - len, "%s%s", i ? " " : "",
						json_object_get_string(json_object_array_get_idx(argv, i)));
	struct json_object *sb;
	bool standby = json_object_object_get_ex(ps, "standby", &sb) && json_object_get_boolean(sb);

	printf("%-20s %-13s %8lld %10.2f %10.1f  %s\n", get_str(ps, "name"), standby ? "standby" : get_str(ps, "state"),
	       (long long)get_int(ps, "pid"), (double)get_int(ps, "cpu_ns") / 1e9,
	       (double)get_int(ps, "memory_bytes") / (1024.0 * 1024.0), cmd);
}

static int cmd_ps(int argc, char **argv)
{
	struct cmd_opts o = { 0 };
	struct json_object *resp, *list;

	if (parse_opts(argc, argv, &o) < 0 || optind != argc)
		return EXIT_USAGE;
	if (call(&o, request("ps"), SHORT_TIMEOUT_S, &resp) != EXIT_OK)
		return EXIT_FAILED;
	if (o.json) {
		print_json(resp);
	} else if (json_object_object_get_ex(resp, "procsets", &list)) {
		printf("%-20s %-13s %8s %10s %10s  %s\n", "NAME", "STATE", "PID", "CPU(s)", "MEM(MiB)", "COMMAND");
		for (size_t i = 0; i < json_object_array_length(list); i++)
			print_ps_line(json_object_array_get_idx(list, i));
		standby_ps_hook();	/* issue 6 hook: standby images (daemon/standby-cmd.c) */
	}
	json_object_put(resp);
	return EXIT_OK;
}

/* NAME as the one positional argument (options may come before or after). */
static int name_arg(int argc, char **argv, struct cmd_opts *o, const char *usage)
{
	if (parse_opts(argc, argv, o) < 0)
		return EXIT_USAGE;
	if (optind < argc && !o->name)
		o->name = argv[optind++];
	if (optind < argc && parse_opts(argc - optind + 1, argv + optind - 1, o) < 0)
		return EXIT_USAGE;
	if (!o->name && !o->dir) {
		log_error("usage: %s", usage);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int cmd_stop(int argc, char **argv)
{
	struct cmd_opts o = { 0 };
	struct json_object *req, *resp;

	if (name_arg(argc, argv, &o, "lifeboat stop NAME [--timeout S]") || !o.name)
		return EXIT_USAGE;
	req = request("stop");
	json_object_object_add(req, "name", json_object_new_string(o.name));
	if (o.timeout_s)
		json_object_object_add(req, "timeout_s", json_object_new_int(o.timeout_s));
	if (call(&o, req, SHORT_TIMEOUT_S + o.timeout_s, &resp) != EXIT_OK)
		return EXIT_FAILED;
	if (json_object_object_get_ex(resp, "exit_status", NULL))
		printf("%s stopped (exit status %lld)\n", o.name, (long long)get_int(resp, "exit_status"));
	else
		printf("%s forgotten (it was checkpointed; the image stays)\n", o.name);
	json_object_put(resp);
	return EXIT_OK;
}

static void print_times(struct json_object *resp)
{
	static const char *const keys[] = { "freeze_us", "sync_us", "dump_us", "restore_us" };

	for (size_t i = 0; i < 4; i++)
		if (get_int(resp, keys[i]))
			printf("  %-10s %10.3f ms\n", keys[i], (double)get_int(resp, keys[i]) / 1000.0);
}

static int cmd_checkpoint(int argc, char **argv)
{
	struct cmd_opts o = { 0 };
	struct json_object *req, *resp;

	if (name_arg(argc, argv, &o, "lifeboat checkpoint NAME [--dir DIR] [--leave-running]") || !o.name)
		return EXIT_USAGE;
	req = request("checkpoint");
	json_object_object_add(req, "name", json_object_new_string(o.name));
	if (o.dir)
		json_object_object_add(req, "dir", json_object_new_string(o.dir));
	json_object_object_add(req, "leave_running", json_object_new_boolean(o.leave_running));
	if (call(&o, req, LONG_TIMEOUT_S, &resp) != EXIT_OK)
		return EXIT_FAILED;
	if (o.json) {
		print_json(resp);
	} else {
		printf("%s checkpointed into %s\n", o.name, get_str(resp, "dir"));
		print_times(resp);
	}
	json_object_put(resp);
	return EXIT_OK;
}

static int cmd_restore(int argc, char **argv)
{
	struct cmd_opts o = { 0 };
	struct json_object *req, *resp;

	if (name_arg(argc, argv, &o, "lifeboat restore NAME | --dir DIR"))
		return EXIT_USAGE;
	req = request("restore");
	if (o.name)
		json_object_object_add(req, "name", json_object_new_string(o.name));
	if (o.dir)
		json_object_object_add(req, "dir", json_object_new_string(o.dir));
	if (call(&o, req, LONG_TIMEOUT_S, &resp) != EXIT_OK)
		return EXIT_FAILED;
	if (o.json) {
		print_json(resp);
	} else {
		printf("%s restored: init pid %lld\n", get_str(resp, "name"), (long long)get_int(resp, "pid"));
		print_times(resp);
	}
	json_object_put(resp);
	return EXIT_OK;
}

static int cmd_migrate(int argc, char **argv)
{
	struct cmd_opts o = { 0 };
	struct json_object *req, *resp;

	if (name_arg(argc, argv, &o, "lifeboat migrate NAME --to PEER") || !o.name || !o.peer) {
		log_error("usage: lifeboat migrate NAME --to PEER");
		return EXIT_USAGE;
	}
	req = request("migrate");
	json_object_object_add(req, "name", json_object_new_string(o.name));
	json_object_object_add(req, "peer", json_object_new_string(o.peer));
	if (call(&o, req, LONG_TIMEOUT_S, &resp) != EXIT_OK)
		return EXIT_FAILED;
	print_json(resp);
	json_object_put(resp);
	return EXIT_OK;
}

static int cmd_ping(int argc, char **argv)
{
	struct cmd_opts o = { 0 };
	struct json_object *resp;

	if (parse_opts(argc, argv, &o) < 0 || optind != argc)
		return EXIT_USAGE;
	if (call(&o, request("ping"), 10, &resp) != EXIT_OK)
		return EXIT_FAILED;
	printf("lifeboatd on node %s: %lld process set(s)\n", get_str(resp, "node"),
	       (long long)get_int(resp, "procsets"));
	json_object_put(resp);
	return EXIT_OK;
}

int procset_cmd(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "run", cmd_run },         { "ps", cmd_ps },           { "stop", cmd_stop },
		{ "checkpoint", cmd_checkpoint }, { "restore", cmd_restore }, { "migrate", cmd_migrate },
		{ "ping", cmd_ping },
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[0], cmds[i].name))
			return cmds[i].fn(argc, argv);
	return -1;
}
