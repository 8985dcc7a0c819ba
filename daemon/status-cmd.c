// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * status-cmd.c - `lifeboat status [--json]`: one screen a person reads at a
 * glance (each mount, its store, state, journal owner and epoch, what it
 * absorbed and holds; then lifeboatd's apps and peers), or one JSON object
 * for scripts with the same facts.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "status: "
#include "lifeboat/log.h"
#include "config.h"
#include "lifeboat.h"
#include "status.h"

void status_cmd_help(void)
{
	printf("  status [--json] [--dir DIR] [--config FILE] [--socket PATH] [--standby-dir DIR]\n"
	       "                                    mounts, stores, journals, apps, standbys, peers\n"
	       "  status --wait[=S] [--dir DIR]     wait (S seconds, default 300) until every\n"
	       "                                    mount is healthy, showing replay progress\n");
}

static void format_bytes(uint64_t v, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double d = (double)v;
	unsigned int u = 0;

	while (d >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", v);
	else
		snprintf(buf, len, "%.1f %s", d, units[u]);
}

static void format_duration(double s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, len, "%.1fs", s);
	else if (s < 3600)
		snprintf(buf, len, "%dm%02ds", (int)s / 60, (int)s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
	else
		snprintf(buf, len, "%dd%02dh", (int)(s / 86400), (int)s % 86400 / 3600);
}

static double seconds_since_ms(uint64_t realtime_ms)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (double)now.tv_sec - (double)realtime_ms / 1000 + (double)now.tv_nsec / 1e9;
}

/* "EIO 12, ENOTCONN 1", or "none". */
static void format_absorbed(const struct mount_status *m, char *buf, size_t len)
{
	struct json_object *abs;
	size_t used = 0;

	buf[0] = '\0';
	if (json_object_object_get_ex(m->json, "absorbed", &abs) &&
	    json_object_is_type(abs, json_type_object)) {
		json_object_object_foreach(abs, key, val) {
			int n = snprintf(buf + used, len - used, "%s%s %" PRId64, used ? ", " : "",
					 key, json_object_get_int64(val));

			if (n < 0 || (size_t)n >= len - used)
				break;
			used += (size_t)n;
		}
	}
	if (!used)
		snprintf(buf, len, "none");
}

static bool path_flag(struct json_object *path, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(path, key, &v) && json_object_get_boolean(v);
}

/* The journal's own path (an iSCSI session), when the mount reports it. */
static void print_journal_path(const struct mount_status *m)
{
	struct json_object *path, *v;
	char down[32];

	if (!json_object_object_get_ex(m->json, "journal_path", &path))
		return;
	if (path_flag(path, "fenced"))
		printf(", FENCED (another node owns it)");
	if (!path_flag(path, "remote"))
		return;
	if (path_flag(path, "up")) {
		printf(", session up");
	} else {
		format_duration(json_object_object_get_ex(path, "down_ms", &v) ?
					(double)json_object_get_int64(v) / 1000 : 0,
				down, sizeof(down));
		printf(", session DOWN for %s", down);
	}
	if (json_object_object_get_ex(path, "reconnects", &v) && json_object_get_int64(v))
		printf(", %" PRId64 " reconnects", json_object_get_int64(v));
	if (path_flag(path, "both_paths_down"))
		printf("; store and journal both unreachable: requests hold");
}

static void print_journal_line(const struct mount_status *m)
{
	char bytes[32];

	format_bytes(mount_status_u64(m, "journal_bytes"), bytes, sizeof(bytes));
	printf("  journal   %s  %s, %s in %" PRIu64 " records",
	       *mount_status_str(m, "journal") ? mount_status_str(m, "journal") : "(none)",
	       mount_status_str(m, "journal_state"), bytes, mount_status_u64(m, "journal_records"));
	if (*mount_status_str(m, "journal_owner"))
		printf(", owner %s epoch %" PRIu64, mount_status_str(m, "journal_owner"),
		       mount_status_u64(m, "journal_epoch"));
	print_journal_path(m);
	printf("\n");
}

/*
 * A mount that is gone and left nothing to replay (a clean unmount leaves
 * its last status behind) takes one line; one that left journal records
 * (lifeboatfs killed while absorbing) gets the full entry: they wait for
 * the next mount, or `lifeboat journal replay`.
 */
static bool print_gone(const struct mount_status *m)
{
	char age[32];

	if (m->mounted || mount_status_u64(m, "journal_records"))
		return false;
	format_duration(m->age_s, age, sizeof(age));
	printf("%s  unmounted (last status %s ago: %s, journal empty)\n", mount_status_str(m, "mountpoint"), age,
	       mount_status_str(m, "state"));
	return true;
}

static void print_mount(const struct mount_status *m)
{
	const char *state = mount_status_state(m);
	char since[32], queue[32], budget[32], absorbed[256], age[32];
	uint64_t holding = mount_status_u64(m, "holding");

	format_duration(seconds_since_ms(mount_status_u64(m, "since_ms")), since, sizeof(since));
	format_bytes(mount_status_u64(m, "queue_bytes"), queue, sizeof(queue));
	format_bytes(mount_status_u64(m, "queue_budget"), budget, sizeof(budget));
	format_absorbed(m, absorbed, sizeof(absorbed));
	format_duration(m->age_s, age, sizeof(age));

	printf("%s  %s", mount_status_str(m, "mountpoint"), state);
	if (strcmp(state, mount_status_str(m, "state")) == 0)
		printf(" for %s", since);
	else
		printf(" (status file last written %s ago, said %s)", age, mount_status_str(m, "state"));
	printf("\n  store     %s\n", mount_status_str(m, "store"));
	print_journal_line(m);
	printf("  queue     %s of %s in %" PRIu64 " records\n", queue, budget,
	       mount_status_u64(m, "queue_records"));
	printf("  absorbed  %s; %" PRIu64 " holding now, %" PRIu64 " held so far, longest %.1fs\n",
	       absorbed, holding, mount_status_u64(m, "holds"),
	       (double)mount_status_u64(m, "hold_longest_ms") / 1000);
	if (mount_status_u64(m, "stalls"))
		printf("  stalls    %" PRIu64 " store calls passed path_timeout, %" PRIu64
		       " requests rescued, %" PRIu64 " calls still hanging\n",
		       mount_status_u64(m, "stalls"), mount_status_u64(m, "stalled_requests_rescued"),
		       mount_status_u64(m, "stalled_calls_left"));
	if (mount_status_u64(m, "replay_total") &&
	    mount_status_u64(m, "replay_done") < mount_status_u64(m, "replay_total"))
		printf("  replay    %" PRIu64 " of %" PRIu64 " records\n",
		       mount_status_u64(m, "replay_done"), mount_status_u64(m, "replay_total"));
}

static const char *json_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ?
		       json_object_get_string(v) : "";
}

static int64_t json_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

/* "argv[0] argv[1] ..." cut to fit a line. */
static void format_argv(struct json_object *ps, char *buf, size_t len)
{
	struct json_object *argv;
	size_t used = 0;

	buf[0] = '\0';
	if (!json_object_object_get_ex(ps, "argv", &argv) || !json_object_is_type(argv, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(argv) && used + 1 < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i ? " " : "",
				 json_object_get_string(json_object_array_get_idx(argv, i)));

		if (n < 0)
			break;
		used += (size_t)n;
	}
}

static void print_apps(const struct daemon_status *ds)
{
	struct json_object *list = daemon_status_procsets(ds);
	size_t n = list ? json_object_array_length(list) : 0;

	if (!ds->up) {
		printf("lifeboatd: not running (%s %s); no apps\n",
		       access(ds->socket, F_OK) == 0 ? "no answer on" : "no control socket at", ds->socket);
		return;
	}
	printf("lifeboatd: node %s, %zu app%s (control socket %s)\n", daemon_status_node(ds), n,
	       n == 1 ? "" : "s", ds->socket);
	if (n)
		printf("  %-20s %-13s %8s %9s %9s  %s\n", "APP", "STATE", "PID", "CPU(s)", "MEM(MiB)", "COMMAND");
	for (size_t i = 0; i < n; i++) {
		struct json_object *ps = json_object_array_get_idx(list, i);
		char cmd[64];

		format_argv(ps, cmd, sizeof(cmd));
		printf("  %-20s %-13s %8" PRId64 " %9.2f %9.1f  %s\n", json_str(ps, "name"), json_str(ps, "state"),
		       json_int(ps, "pid"), (double)json_int(ps, "cpu_ns") / 1e9,
		       (double)json_int(ps, "memory_bytes") / (1024.0 * 1024.0), cmd);
	}
}

static void print_peers(const struct daemon_status *ds)
{
	if (!ds->cfg) {
		printf("peers: none known (no valid %s)\n", CONFIG_DEFAULT_PATH);
		return;
	}
	printf("peers:%s", ds->cfg->n_peers ? "" : " none configured");
	for (unsigned i = 0; i < ds->cfg->n_peers; i++) {
		const struct config_peer *p = &ds->cfg->peers[i];

		printf("%s %s %s:%u (%s)", i ? "," : "", p->name, p->host, p->port, p->psk_hex[0] ? "psk" : "certificates");
	}
	printf("\n");
}

static void print_standby(struct json_object *standby)
{
	size_t n = json_object_array_length(standby);

	if (!n)
		return;
	printf("standby:\n");
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(standby, i), *v;
		char size[32];

		if (json_object_object_get_ex(o, "refused", &v)) {
			printf("  %-20s on %-12s refused: %s\n", json_str(o, "app"), json_str(o, "node"),
			       json_object_get_string(v));
			continue;
		}
		format_bytes((uint64_t)json_int(o, "size"), size, sizeof(size));
		printf("  %-20s on %-12s %s, generation %" PRId64 ", %s, preloaded in %.1f ms%s\n",
		       json_str(o, "app"), json_str(o, "node"), json_str(o, "mode"), json_int(o, "generation"), size,
		       (double)json_int(o, "preload_us") / 1000,
		       json_object_object_get_ex(o, "live", &v) && json_object_get_boolean(v) ? "" : ", GONE");
	}
}

static void print_text(const struct mount_status_set *set, const char *dir, const struct daemon_status *ds,
		       struct json_object *standby)
{
	char host[256] = "?";
	size_t troubled = 0, gone = 0;

	(void)gethostname(host, sizeof(host) - 1);
	for (size_t i = 0; i < set->n; i++) {
		if (!set->mounts[i].mounted)
			gone++;
		else if (strcmp(mount_status_state(&set->mounts[i]), "healthy") != 0)
			troubled++;
	}
	printf("node %s: %zu mount%s, %zu not healthy, %zu gone (status files in %s)\n",
	       *daemon_status_node(ds) ? daemon_status_node(ds) : host, set->n - gone, set->n - gone == 1 ? "" : "s",
	       troubled, gone, dir);
	for (size_t i = 0; i < set->n; i++) {
		if (!set->mounts[i].mounted)
			continue;
		printf("\n");
		print_mount(&set->mounts[i]);
	}
	/* the ones that are gone after the ones that matter now */
	for (size_t i = 0, first = 1; i < set->n; i++) {
		if (set->mounts[i].mounted)
			continue;
		if (first)
			printf("\n");
		first = 0;
		if (!print_gone(&set->mounts[i]))
			print_mount(&set->mounts[i]);
	}
	printf("\n");
	print_apps(ds);
	print_standby(standby);
	print_peers(ds);
}

static struct json_object *mount_json(const struct mount_status *m)
{
	struct json_object *o = json_object_get(m->json);

	/* Our own view next to what the mount wrote; "state" stays the mount's word. */
	json_object_object_add(o, "status_file", json_object_new_string(m->file));
	json_object_object_add(o, "status_age_s", json_object_new_double(m->age_s));
	json_object_object_add(o, "mounted", json_object_new_boolean(m->mounted));
	json_object_object_add(o, "effective_state", json_object_new_string(mount_status_state(m)));
	return o;
}

static struct json_object *daemon_json(const struct daemon_status *ds)
{
	struct json_object *o = json_object_new_object(), *list = daemon_status_procsets(ds);

	json_object_object_add(o, "socket", json_object_new_string(ds->socket));
	json_object_object_add(o, "running", json_object_new_boolean(ds->up));
	json_object_object_add(o, "node", json_object_new_string(daemon_status_node(ds)));
	json_object_object_add(o, "apps", list ? json_object_get(list) : json_object_new_array());
	return o;
}

static struct json_object *peers_json(const struct daemon_status *ds)
{
	struct json_object *a = json_object_new_array();

	for (unsigned i = 0; ds->cfg && i < ds->cfg->n_peers; i++) {
		const struct config_peer *p = &ds->cfg->peers[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(p->name));
		json_object_object_add(o, "host", json_object_new_string(p->host));
		json_object_object_add(o, "port", json_object_new_int(p->port));
		json_object_object_add(o, "auth", json_object_new_string(p->psk_hex[0] ? "psk" : "certificates"));
		json_object_array_add(a, o);
	}
	return a;
}

static void print_json(const struct mount_status_set *set, const struct daemon_status *ds,
		       struct json_object *standby)
{
	struct json_object *o = json_object_new_object(), *mounts = json_object_new_array();
	char host[256] = "";

	(void)gethostname(host, sizeof(host) - 1);
	json_object_object_add(o, "node", json_object_new_string(*daemon_status_node(ds) ? daemon_status_node(ds) : host));
	for (size_t i = 0; i < set->n; i++)
		json_object_array_add(mounts, mount_json(&set->mounts[i]));
	json_object_object_add(o, "mounts", mounts);
	json_object_object_add(o, "lifeboatd", daemon_json(ds));
	json_object_object_add(o, "peers", peers_json(ds));
	json_object_object_add(o, "standby", json_object_get(standby));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

int status_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 'S' },
		{ "standby-dir", required_argument, NULL, 'B' },
		{ "wait", optional_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	double wait_s = -1;
	char *end;
	const char *dir = status_dir_default(), *config = NULL, *socket = NULL;
	const char *standby_dir = standby_dir_default();
	struct json_object *standby;
	struct mount_status_set set;
	struct daemon_status ds;
	bool json = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jd:c:S:B:w::h", opts, NULL)) >= 0) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'S':
			socket = optarg;
			break;
		case 'B':
			standby_dir = optarg;
			break;
		case 'w':
			wait_s = optarg ? strtod(optarg, &end) : 300;
			if (optarg && (*end || end == optarg || !(wait_s >= 0 && wait_s <= 86400))) {
				log_error("--wait takes 0 to 86400 seconds, not '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			status_cmd_help();
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		log_error("unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (wait_s >= 0)
		return status_wait(dir, wait_s);
	if (mount_status_load(dir, &set) < 0)
		return EXIT_FAILED;
	if (daemon_status_load(config, socket, &ds) < 0) {
		mount_status_set_free(&set);
		return EXIT_FAILED;
	}
	(void)standby_status_load(standby_dir, &standby);
	if (json)
		print_json(&set, &ds, standby);
	else
		print_text(&set, dir, &ds, standby);
	json_object_put(standby);
	daemon_status_free(&ds);
	mount_status_set_free(&set);
	return EXIT_OK;
}
