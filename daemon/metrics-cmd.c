// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * metrics-cmd.c - `lifeboat metrics`: the mounts' status files as Prometheus
 * text exposition (format 0.0.4), on stdout or written atomically to a file
 * for node_exporter's textfile collector (--output DIR/lifeboat.prom; the
 * collector reads *.prom, and a rename means it never sees half a file).
 *
 * Every family is written once with one sample per mount (the format wants
 * a family's samples together), labelled by mountpoint.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "metrics: "
#include "lifeboat/log.h"
#include "lifeboat.h"
#include "status.h"

void metrics_cmd_help(void)
{
	printf("  metrics [--output FILE] [--dir DIR] [--config FILE] [--socket PATH] [--standby-dir DIR]\n"
	       "                                    Prometheus text exposition of mounts, apps, standbys\n");
}

/*
 * A number read from the status file (key, or parent.key), scaled (ms ->
 * s); booleans read as 0 or 1. A mount whose file lacks the key (a
 * lifeboatfs that does not write it) gets no sample rather than a 0 that
 * would read as "down".
 */
struct gauge_desc {
	const char *name;
	const char *type;
	const char *key;
	double scale;
	const char *help;
	const char *parent;
};

static const struct gauge_desc gauges[] = {
	{ "lifeboat_state_change_timestamp_seconds", "gauge", "since_ms", 1e-3,
	  "When the mount last changed state (Unix time)" },
	{ "lifeboat_queue_bytes", "gauge", "queue_bytes", 1,
	  "Bytes of acknowledged mutations the store has not made durable yet" },
	{ "lifeboat_queue_records", "gauge", "queue_records", 1,
	  "Mutations in the unflushed queue" },
	{ "lifeboat_queue_budget_bytes", "gauge", "queue_budget", 1,
	  "Memory budget of the unflushed queue (queue_budget=)" },
	{ "lifeboat_journal_bytes", "gauge", "journal_bytes", 1,
	  "Bytes of records in the journal, waiting for replay" },
	{ "lifeboat_journal_records", "gauge", "journal_records", 1,
	  "Records in the journal, waiting for replay" },
	{ "lifeboat_journal_epoch", "gauge", "journal_epoch", 1,
	  "Epoch of the journal's owner; grows at every change of owner" },
	{ "lifeboat_requests_holding", "gauge", "holding", 1,
	  "Requests waiting for the failed path now" },
	{ "lifeboat_holds_total", "counter", "holds", 1,
	  "Requests that waited for the failed path since mount" },
	{ "lifeboat_hold_current_seconds", "gauge", "hold_current_ms", 1e-3,
	  "How long the oldest waiting request has waited" },
	{ "lifeboat_hold_longest_seconds", "gauge", "hold_longest_ms", 1e-3,
	  "Longest wait of a request for the failed path since mount" },
	{ "lifeboat_replay_done_records", "gauge", "replay_done", 1,
	  "Journal records replayed by the running or last replay" },
	{ "lifeboat_replay_planned_records", "gauge", "replay_total", 1,
	  "Journal records the running or last replay has to apply" },
	{ "lifeboat_store_stalls_total", "counter", "stalls", 1,
	  "Store calls that passed path_timeout since mount" },
	{ "lifeboat_stalled_requests_rescued_total", "counter", "stalled_requests_rescued", 1,
	  "Requests answered absorbed while their store call hung" },
	{ "lifeboat_stalled_calls_left", "gauge", "stalled_calls_left", 1,
	  "Store calls still hanging now" },
	{ "lifeboat_journal_path_remote", "gauge", "remote", 1,
	  "1 when the journal is reached over its own iSCSI session", "journal_path" },
	{ "lifeboat_journal_path_up", "gauge", "up", 1,
	  "1 when the journal device answers", "journal_path" },
	{ "lifeboat_journal_fenced", "gauge", "fenced", 1,
	  "1 when another node took the journal over (this mount may no longer write it)",
	  "journal_path" },
	{ "lifeboat_journal_path_reconnects_total", "counter", "reconnects", 1,
	  "Reconnections of the journal's session since mount", "journal_path" },
	{ "lifeboat_journal_path_down_seconds", "gauge", "down_ms", 1e-3,
	  "How long the journal's path has been down", "journal_path" },
	{ "lifeboat_both_paths_down", "gauge", "both_paths_down", 1,
	  "1 when the store and the journal are both unreachable: requests hold",
	  "journal_path" },
};

static bool status_number(const struct mount_status *m, const struct gauge_desc *g, double *ret)
{
	struct json_object *o = m->json, *v;

	if (g->parent && !json_object_object_get_ex(m->json, g->parent, &o))
		return false;
	if (!json_object_object_get_ex(o, g->key, &v))
		return false;
	if (json_object_is_type(v, json_type_boolean))
		*ret = json_object_get_boolean(v) ? 1 : 0;
	else if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))
		*ret = json_object_get_double(v) * g->scale;
	else
		return false;
	return true;
}

/* States a mount is shown in: the mount's own three, and ours when its writer is gone. */
static const char *const mount_states[] = { "healthy", "absorbing", "recovering", "stale",
					    "unmounted" };
static const char *const journal_states[] = { "ready", "pending", "full", "fenced",
					      "corrupt", "failed", "read-only" };

/* A label value: backslash, double quote and newline escaped. */
static void put_label(FILE *f, const char *name, const char *value, bool first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", name);
	for (; *value; value++) {
		if (*value == '\\' || *value == '"')
			fprintf(f, "\\%c", *value);
		else if (*value == '\n')
			fputs("\\n", f);
		else
			fputc(*value, f);
	}
	fputc('"', f);
}

static void put_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{mountpoint="..."[,extra="..."]} value */
static void put_sample(FILE *f, const char *name, const struct mount_status *m,
		       const char *extra, const char *extra_value, double value)
{
	fprintf(f, "%s{", name);
	put_label(f, "mountpoint", mount_status_str(m, "mountpoint"), true);
	if (extra)
		put_label(f, extra, extra_value, false);
	fprintf(f, "} %.15g\n", value);
}

static void put_info(FILE *f, const struct mount_status_set *set)
{
	put_family(f, "lifeboat_mount_info", "gauge",
		   "A lifeboatfs mount: its store and journal (always 1)");
	for (size_t i = 0; i < set->n; i++) {
		const struct mount_status *m = &set->mounts[i];

		fprintf(f, "lifeboat_mount_info{");
		put_label(f, "mountpoint", mount_status_str(m, "mountpoint"), true);
		put_label(f, "store", mount_status_str(m, "store"), false);
		put_label(f, "journal", mount_status_str(m, "journal"), false);
		fprintf(f, "} 1\n");
	}
	put_family(f, "lifeboat_mount_up", "gauge",
		   "1 when the mount is in the mount table and its status is fresh");
	for (size_t i = 0; i < set->n; i++)
		put_sample(f, "lifeboat_mount_up", &set->mounts[i], NULL, NULL,
			   set->mounts[i].mounted && !set->mounts[i].stale);
	put_family(f, "lifeboat_status_age_seconds", "gauge",
		   "Seconds since the mount last rewrote its status file (every second)");
	for (size_t i = 0; i < set->n; i++)
		put_sample(f, "lifeboat_status_age_seconds", &set->mounts[i], NULL, NULL,
			   set->mounts[i].age_s);
}

/* One sample per possible value, 1 for the current one (the enum idiom). */
static void put_enum(FILE *f, const struct mount_status_set *set, const char *name,
		     const char *help, const char *const *values, size_t nvalues, bool journal)
{
	put_family(f, name, "gauge", help);
	for (size_t i = 0; i < set->n; i++) {
		const struct mount_status *m = &set->mounts[i];
		const char *now = journal ? mount_status_str(m, "journal_state") : mount_status_state(m);

		for (size_t v = 0; v < nvalues; v++)
			put_sample(f, name, m, "state", values[v], strcmp(now, values[v]) == 0);
	}
}

/*
 * lifeboat_hold_seconds: how long requests waited for a failed path, from
 * the mount's per-bucket counts (cumulative here, as the format wants).
 */
static void put_hold_histogram(FILE *f, const struct mount_status_set *set)
{
	put_family(f, "lifeboat_hold_seconds", "histogram",
		   "How long requests waited for a failed path (ended holds, since mount)");
	for (size_t i = 0; i < set->n; i++) {
		const struct mount_status *m = &set->mounts[i];
		struct json_object *h, *le, *counts, *sum;
		size_t nb;
		double total = 0;
		char bound[32];

		if (!json_object_object_get_ex(m->json, "hold_histogram", &h) ||
		    !json_object_object_get_ex(h, "le_ms", &le) || !json_object_object_get_ex(h, "counts", &counts) ||
		    !json_object_is_type(le, json_type_array) || !json_object_is_type(counts, json_type_array))
			continue;
		nb = json_object_array_length(counts);
		if (nb != json_object_array_length(le) + 1)
			continue;	/* not a histogram we understand: no half answer */
		for (size_t b = 0; b < nb; b++) {
			total += json_object_get_double(json_object_array_get_idx(counts, b));
			if (b + 1 < nb)
				snprintf(bound, sizeof(bound), "%.15g",
					 json_object_get_double(json_object_array_get_idx(le, b)) / 1000);
			put_sample(f, "lifeboat_hold_seconds_bucket", m, "le", b + 1 < nb ? bound : "+Inf", total);
		}
		put_sample(f, "lifeboat_hold_seconds_sum", m, NULL, NULL,
			   json_object_object_get_ex(h, "sum_ms", &sum) ? json_object_get_double(sum) / 1000 : 0);
		put_sample(f, "lifeboat_hold_seconds_count", m, NULL, NULL, total);
	}
}

static void put_absorbed(FILE *f, const struct mount_status_set *set)
{
	put_family(f, "lifeboat_absorbed_errors_total", "counter",
		   "Path failures absorbed since mount, by errno (the application saw none)");
	for (size_t i = 0; i < set->n; i++) {
		const struct mount_status *m = &set->mounts[i];
		struct json_object *abs;

		if (!json_object_object_get_ex(m->json, "absorbed", &abs) ||
		    !json_object_is_type(abs, json_type_object))
			continue;
		json_object_object_foreach(abs, key, val)
			put_sample(f, "lifeboat_absorbed_errors_total", m, "errno", key,
				   (double)json_object_get_int64(val));
	}
}

static void put_gauges(FILE *f, const struct mount_status_set *set)
{
	for (size_t g = 0; g < sizeof(gauges) / sizeof(gauges[0]); g++) {
		put_family(f, gauges[g].name, gauges[g].type, gauges[g].help);
		for (size_t i = 0; i < set->n; i++) {
			double v;

			if (status_number(&set->mounts[i], &gauges[g], &v))
				put_sample(f, gauges[g].name, &set->mounts[i], NULL, NULL, v);
		}
	}
}

static const char *const app_states[] = { "running", "checkpointed", "exited" };

/* name{app="..."[,state="..."]} value */
static void put_app_sample(FILE *f, const char *name, struct json_object *ps, const char *state, double value)
{
	struct json_object *v;

	fprintf(f, "%s{", name);
	put_label(f, "app", json_object_object_get_ex(ps, "name", &v) ? json_object_get_string(v) : "", true);
	if (state)
		put_label(f, "state", state, false);
	fprintf(f, "} %.15g\n", value);
}

static double app_number(struct json_object *ps, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(ps, key, &v) ? json_object_get_double(v) : 0;
}

static double ping_number(const struct daemon_status *ds, const char *key)
{
	struct json_object *v;

	return ds->ping && json_object_object_get_ex(ds->ping, key, &v) ? json_object_get_double(v) : 0;
}

/* Handoffs sent from this node (since lifeboatd started) and how long the app was frozen. */
static void put_handoffs(FILE *f, const struct daemon_status *ds)
{
	if (!ds->up)
		return;
	put_family(f, "lifeboat_handoffs_total", "counter",
		   "Handoffs sent from this node, by result (done: the app runs on the peer)");
	fprintf(f, "lifeboat_handoffs_total{result=\"done\"} %.0f\n", ping_number(ds, "handoffs_done"));
	fprintf(f, "lifeboat_handoffs_total{result=\"failed\"} %.0f\n", ping_number(ds, "handoffs_failed"));
	put_family(f, "lifeboat_handoff_frozen_seconds_total", "counter",
		   "Freeze to running on the peer, summed over the handoffs done");
	fprintf(f, "lifeboat_handoff_frozen_seconds_total %.6f\n",
		ping_number(ds, "handoff_frozen_us_sum") / 1e6);
	put_family(f, "lifeboat_handoff_last_frozen_seconds", "gauge",
		   "Freeze to running on the peer of the last handoff done");
	fprintf(f, "lifeboat_handoff_last_frozen_seconds %.6f\n",
		ping_number(ds, "handoff_last_frozen_us") / 1e6);
}

/* lifeboatd and its process sets; nothing but lifeboat_daemon_up when it is not running. */
static void put_daemon(FILE *f, const struct daemon_status *ds)
{
	struct json_object *list = daemon_status_procsets(ds);
	size_t n = list ? json_object_array_length(list) : 0;

	put_family(f, "lifeboat_daemon_up", "gauge", "1 when lifeboatd answers on its control socket");
	fprintf(f, "lifeboat_daemon_up %d\n", ds->up ? 1 : 0);
	put_handoffs(f, ds);
	put_family(f, "lifeboat_app_state", "gauge", "State of each process set of lifeboatd (1 for the current one)");
	for (size_t i = 0; i < n; i++) {
		struct json_object *ps = json_object_array_get_idx(list, i), *v;
		const char *now = json_object_object_get_ex(ps, "state", &v) ? json_object_get_string(v) : "";

		for (size_t k = 0; k < sizeof(app_states) / sizeof(app_states[0]); k++)
			put_app_sample(f, "lifeboat_app_state", ps, app_states[k], strcmp(now, app_states[k]) == 0);
	}
	put_family(f, "lifeboat_app_cpu_seconds_total", "counter", "CPU time of each process set (its cgroup)");
	for (size_t i = 0; i < n; i++)
		put_app_sample(f, "lifeboat_app_cpu_seconds_total", json_object_array_get_idx(list, i), NULL,
			       app_number(json_object_array_get_idx(list, i), "cpu_ns") / 1e9);
	put_family(f, "lifeboat_app_memory_bytes", "gauge", "Memory of each process set (its cgroup)");
	for (size_t i = 0; i < n; i++)
		put_app_sample(f, "lifeboat_app_memory_bytes", json_object_array_get_idx(list, i), NULL,
			       app_number(json_object_array_get_idx(list, i), "memory_bytes"));
	put_family(f, "lifeboat_app_start_timestamp_seconds", "gauge", "When each process set was started (Unix time)");
	for (size_t i = 0; i < n; i++)
		put_app_sample(f, "lifeboat_app_start_timestamp_seconds", json_object_array_get_idx(list, i), NULL,
			       app_number(json_object_array_get_idx(list, i), "started"));
}

/* name{app="...",node="..."} value */
static void put_standby_sample(FILE *f, const char *name, struct json_object *o, const char *mode, double value)
{
	struct json_object *v;

	fprintf(f, "%s{", name);
	put_label(f, "app", json_object_object_get_ex(o, "app", &v) ? json_object_get_string(v) : "", true);
	put_label(f, "node", json_object_object_get_ex(o, "node", &v) ? json_object_get_string(v) : "", false);
	if (mode)
		put_label(f, "mode", mode, false);
	fprintf(f, "} %.15g\n", value);
}

/* Warm-standby preloads on this host and the last refusals. */
static void put_standby(FILE *f, struct json_object *standby)
{
	static const struct {
		const char *name, *type, *key, *help;
		double scale;
	} fams[] = {
		{ "lifeboat_standby_generation", "gauge", "generation", "Generation of the preloaded standby image", 1 },
		{ "lifeboat_standby_image_bytes", "gauge", "size", "Size of the preloaded standby image", 1 },
		{ "lifeboat_standby_preload_seconds", "gauge", "preload_us", "How long the preload took", 1e-6 },
		{ "lifeboat_standby_live", "gauge", "live",
		  "1 while the preload can be activated (a restored one's process is there)", 1 },
	};
	size_t n = json_object_array_length(standby);

	for (size_t k = 0; k < sizeof(fams) / sizeof(fams[0]); k++) {
		put_family(f, fams[k].name, fams[k].type, fams[k].help);
		for (size_t i = 0; i < n; i++) {
			struct json_object *o = json_object_array_get_idx(standby, i), *v, *mode;

			if (!json_object_object_get_ex(o, fams[k].key, &v))
				continue;
			put_standby_sample(f, fams[k].name, o,
					   json_object_object_get_ex(o, "mode", &mode) ? json_object_get_string(mode) : "",
					   json_object_is_type(v, json_type_boolean) ? json_object_get_boolean(v) :
					   json_object_get_double(v) * fams[k].scale);
		}
	}
	put_family(f, "lifeboat_standby_refused", "gauge", "1 when the last preload of an app on a node was refused");
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(standby, i);

		if (json_object_object_get_ex(o, "refused", NULL))
			put_standby_sample(f, "lifeboat_standby_refused", o, NULL, 1);
	}
}

static int write_metrics(FILE *f, const struct mount_status_set *set, const struct daemon_status *ds,
			 struct json_object *standby)
{
	put_info(f, set);
	put_enum(f, set, "lifeboat_mount_state", "State of the mount (1 for the current one)",
		 mount_states, sizeof(mount_states) / sizeof(mount_states[0]), false);
	put_enum(f, set, "lifeboat_journal_state", "State of the mount's journal (1 for the current one)",
		 journal_states, sizeof(journal_states) / sizeof(journal_states[0]), true);
	put_absorbed(f, set);
	put_hold_histogram(f, set);
	put_gauges(f, set);
	put_daemon(f, ds);
	put_standby(f, standby);
	return ferror(f) ? -EIO : 0;
}

/* Writes next to path and renames over it: readers see the old file or the new one. */
static int write_file(const char *path, const struct mount_status_set *set, const struct daemon_status *ds,
		      struct json_object *standby)
{
	char tmp[4096];
	FILE *f;
	int r;

	if (snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof(tmp))
		return log_error_errno(-ENAMETOOLONG, "output path '%s'", path);
	f = fopen(tmp, "we");
	if (!f)
		return log_error_errno(-errno, "cannot create '%s'", tmp);
	r = write_metrics(f, set, ds, standby);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0)
		r = -errno;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlink(tmp);
		return log_error_errno(r, "cannot write '%s'", path);
	}
	return 0;
}

int metrics_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 'S' },
		{ "standby-dir", required_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *dir = status_dir_default(), *output = NULL, *config = NULL, *socket = NULL;
	const char *standby_dir = standby_dir_default();
	struct json_object *standby;
	struct mount_status_set set;
	struct daemon_status ds;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:d:c:S:B:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'o':
			output = optarg;
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
		case 'h':
			metrics_cmd_help();
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		log_error("unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (mount_status_load(dir, &set) < 0)
		return EXIT_FAILED;
	if (daemon_status_load(config, socket, &ds) < 0) {
		mount_status_set_free(&set);
		return EXIT_FAILED;
	}
	(void)standby_status_load(standby_dir, &standby);
	if (output)
		r = write_file(output, &set, &ds, standby);
	else
		r = write_metrics(stdout, &set, &ds, standby);
	json_object_put(standby);
	daemon_status_free(&ds);
	mount_status_set_free(&set);
	return r < 0 ? EXIT_FAILED : EXIT_OK;
}
