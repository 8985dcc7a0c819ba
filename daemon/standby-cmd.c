// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * standby-cmd.c - `lifeboat standby run|verify|restore|preload|ps` and
 * `lifeboat activate`: the command line of warm-standby images.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "standby: "
#include "lifeboat/log.h"
#include "control.h"
#include "lifeboat.h"
#include "standby.h"
#include "standby-node.h"
#include "standby-peer.h"

static struct standby_config cfg;	/* large: kept off the stack */

extern char **environ;

void standby_cmd_help(void)
{
	printf("  standby run [--name NAME] [--config FILE] [--log FILE] [--image-root DIR]\n"
	       "              [--standby-on NODE[,NODE]] [--mode restored|cache] [--dry-run MS]\n"
	       "              [--no-trace] -- CMD...\n"
	       "                        run CMD traced; checkpoint it right before its first\n"
	       "                        external reference, let it go on, preload the image\n"
	       "  standby verify DIR [--name NAME]   check an image's manifest and checksum\n"
	       "  standby restore DIR [--name NAME] [--stopped] [--netns NETNS]\n"
	       "                        restore an image here (and let it run unless --stopped)\n"
	       "  standby preload NAME [--node NODE] [--mode restored|cache]\n"
	       "                        preload NAME's newest image as the rules allow\n"
	       "  standby ps            images, preloads, refusals and the activation node\n"
	       "  standby send NAME --to PEER        send NAME's newest image to a peer node\n"
	       "  standby receive --listen ADDR:PORT [--mode restored|cache] [--once]\n"
	       "                        take images from peers, check and preload them here\n"
	       "  (run, send, receive: --lifeboat-config FILE for the node and its peers)\n"
	       "  activate NAME [--on NODE]          start a preloaded standby of NAME\n");
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX], *p;

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

struct run_args {
	const char *name;
	const char *cwd;
	const char *config;
	const char *log;
	const char *image_root;
	const char *standby_on;
	const char *lifeboat_conf;
	const char *mode;
	const char *socket;	/* lifeboatd's control socket (run --standby-on) */
	const char *service_ip;
	long dry_run_ms;	/* >= 0: hold the stopped set this long, no checkpoint */
	bool no_trace;
	char **argv;
};

static int parse_run(int argc, char **argv, struct run_args *a, bool daemon)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "config", required_argument, NULL, 'c' },
		{ "log", required_argument, NULL, 'l' },
		{ "image-root", required_argument, NULL, 'i' },
		{ "standby-on", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'm' },
		{ "dry-run", required_argument, NULL, 'd' },
		{ "no-trace", no_argument, NULL, 'T' },
		{ "cwd", required_argument, NULL, 'C' },
		{ "lifeboat-config", required_argument, NULL, 'L' },
		{ "socket", required_argument, NULL, 'S' },
		{ "service-ip", required_argument, NULL, 'I' },
		{},
	};
	int c;

	*a = (struct run_args){ .dry_run_ms = -1, .mode = "restored" };
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) >= 0) {
		switch (c) {
		case 'n': a->name = optarg; break;
		case 'c': a->config = optarg; break;
		case 'l': a->log = optarg; break;
		case 'i': a->image_root = optarg; break;
		case 's': a->standby_on = optarg; break;
		case 'm': a->mode = optarg; break;
		case 'd': a->dry_run_ms = atol(optarg); break;
		case 'T': a->no_trace = true; break;
		case 'C': a->cwd = optarg; break;
		case 'L': a->lifeboat_conf = optarg; break;
		case 'S':
		case 'I':
			if (daemon) {
				*(c == 'S' ? &a->socket : &a->service_ip) = optarg;
				break;
			}
			log_error("--%s is not supported by standby run: the app runs traced in this process, not under lifeboatd (use lifeboat run --standby-on)",
				  c == 'S' ? "socket" : "service-ip");
			return -EINVAL;
		default: return -EINVAL;
		}
	}
	if (optind >= argc) {
		log_error("standby run: no command given (standby run [OPTIONS] -- CMD...)");
		return -EINVAL;
	}
	a->argv = argv + optind;
	if (!a->name)
		a->name = basename(a->argv[0]);
	if (!standby_name_valid(a->name)) {
		log_error("standby run: bad application name '%s'", a->name);
		return -EINVAL;
	}
	if (strcmp(a->mode, "restored") && strcmp(a->mode, "cache")) {
		log_error("standby run: bad --mode '%s' (restored or cache)", a->mode);
		return -EINVAL;
	}
	return 0;
}

/*
 * CRIU refuses to restore a file whose size changed since the dump unless it
 * was opened O_APPEND: an inherited stdout would make every image useless.
 * Output goes to IMAGE_ROOT/NAME/app.log (O_APPEND) unless --log names one.
 */
static int default_log(struct run_args *a, char *buf, size_t size)
{
	char dir[PATH_MAX];
	int r;

	snprintf(dir, sizeof(dir), "%s/%s", cfg.image_root, a->name);
	r = mkdir_p(dir, 0700);
	if (r < 0)
		return log_error_errno(r, "cannot create '%s'", dir);
	if ((size_t)snprintf(buf, size, "%s/app.log", dir) >= size)
		return log_error_errno(-ENAMETOOLONG, "image root '%s' too long", cfg.image_root);
	a->log = buf;
	log_info("output of '%s' goes to '%s'", a->name, buf);
	return 0;
}

static int wait_app(pid_t root)
{
	int status;

	while (waitpid(root, &status, 0) < 0)
		if (errno != EINTR)
			return EXIT_FAILED;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/*
 * lifeboatd's own description of the set (its `ps` entry) as procset.json in
 * the image: what a node's lifeboatd needs to restore it as a process set.
 * Part of the checksum like CRIU's files.
 */
static int write_procset_meta(const char *dir, struct json_object *meta)
{
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/procset.json", dir) >= sizeof(path))
		return -ENAMETOOLONG;
	if (json_object_to_file_ext(path, meta, JSON_C_TO_STRING_PRETTY) < 0)
		return log_error_errno(-EIO, "cannot write '%s'", path);
	return 0;
}

/* Checkpoints the stopped set, lets it go on, then writes the manifest. */
static int checkpoint_set(const struct run_args *a, pid_t root, const struct standby_set *set,
			  const struct standby_trigger *trig, uint64_t started_ns,
			  struct json_object *meta, char *dir, size_t dir_size)
{
	struct standby_manifest m = { 0 };
	uint64_t gen;
	int r;

	r = standby_image_next_generation(cfg.image_root, a->name, &gen);
	if (r < 0)
		return log_error_errno(r, "cannot list images of '%s'", a->name);
	if ((size_t)snprintf(dir, dir_size, "%s/%s/%llu", cfg.image_root, a->name,
			     (unsigned long long)gen) >= dir_size)
		return log_error_errno(-ENAMETOOLONG, "image root '%s' too long", cfg.image_root);
	r = mkdir_p(dir, 0700);
	if (r < 0)
		return log_error_errno(r, "cannot create '%s'", dir);
	if (meta && (r = write_procset_meta(dir, meta)) < 0)
		return r;
	r = standby_checkpoint(&cfg, root, dir);
	standby_set_continue(set);	/* the original makes its call, image or not */
	m.pause_us = (standby_now_ns() - trig->stopped_ns) / 1000;
	if (r < 0)
		return r;
	snprintf(m.name, sizeof(m.name), "%s", a->name);
	snprintf(m.trigger, sizeof(m.trigger), "%s", trig->what);
	m.generation = gen;
	m.init_us = (trig->stopped_ns - started_ns) / 1000;
	m.created = (uint64_t)time(NULL);
	r = standby_image_checksum(dir, &m.checksum, &m.size);
	if (r < 0)
		return log_error_errno(r, "cannot checksum '%s'", dir);
	r = standby_manifest_write(dir, &m);
	if (r < 0)
		return log_error_errno(r, "cannot write the manifest of '%s'", dir);
	log_notice("checkpoint of '%s' generation %llu before '%s': pause %.1f ms, image %.1f MiB in '%s'",
		   a->name, (unsigned long long)gen, trig->what, m.pause_us / 1000.0,
		   m.size / 1048576.0, dir);
	return 0;
}

static int hold_dry_run(const struct run_args *a, const struct standby_set *set,
			const struct standby_trigger *trig)
{
	log_notice("dry run: '%s' held before '%s' for %ld ms, %u processes", a->name, trig->what,
		   a->dry_run_ms, set->n);
	usleep((useconds_t)a->dry_run_ms * 1000);
	standby_set_continue(set);
	return 0;
}

static int preload_nodes(const struct run_args *a)
{
	char list[STANDBY_MAX_NODES * STANDBY_NAME_MAX], *save = NULL, *node;
	int ret = 0;

	snprintf(list, sizeof(list), "%s", a->standby_on);
	for (node = strtok_r(list, ",", &save); node; node = strtok_r(NULL, ",", &save)) {
		int r;

		/* a configured peer gets the image over the peer channel; any
		 * other node name is a node served from this host's state root */
		if (standby_peer_known(a->lifeboat_conf, node))
			r = standby_peer_send(&cfg, a->lifeboat_conf, a->name, node);
		else
			r = standby_node_preload(&cfg, a->name, node, a->mode);

		if (r < 0 && ret == 0)
			ret = r;
	}
	return ret;
}

/* `lifeboat run --standby-on` enters here too (the hook in the run command). */
static int standby_run(int argc, char **argv)
{
	struct standby_run_opts o = { 0 };
	struct standby_trigger trig;
	struct standby_set set;
	struct run_args a;
	char dir[PATH_MAX], logbuf[PATH_MAX];
	uint64_t started_ns;
	int status, r;
	pid_t root;

	if (parse_run(argc, argv, &a, false) < 0)
		return EXIT_USAGE;
	if (standby_config_load(a.config, &cfg) < 0)
		return EXIT_FAILED;
	if (a.image_root)
		snprintf(cfg.image_root, sizeof(cfg.image_root), "%s", a.image_root);
	if (!a.log && !a.no_trace && default_log(&a, logbuf, sizeof(logbuf)) < 0)
		return EXIT_FAILED;
	o = (struct standby_run_opts){ .argv = a.argv, .log_path = a.log, .workdir = a.cwd,
					.trace = !a.no_trace };
	started_ns = standby_now_ns();
	if (standby_spawn(&o, &root) < 0)
		return EXIT_FAILED;
	printf("pid %d\n", root);
	fflush(stdout);
	if (a.no_trace)
		return wait_app(root);
	r = standby_trace_until_external(root, &cfg, &trig, &set, &status);
	if (r == -ECHILD) {
		log_notice("'%s' exited before any external reference: no image", a.name);
		return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	if (r < 0) {
		/* no image, but the app goes on: our exit detaches every tracee */
		standby_set_continue(&set);
		log_error("'%s' goes on untraced (pid %d) without a standby image", a.name, root);
		return EXIT_FAILED;
	}
	if (a.dry_run_ms >= 0)
		r = hold_dry_run(&a, &set, &trig);
	else
		r = checkpoint_set(&a, root, &set, &trig, started_ns, NULL, dir, sizeof(dir));
	if (r == 0 && a.dry_run_ms < 0 && a.standby_on)
		(void)preload_nodes(&a);
	r = wait_app(root);
	return r;
}

static struct json_object *strv_json(char *const *v, size_t max)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; v[i] && i < max; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static int json_int_of(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int(v) : 0;
}

/* Asks lifeboatd to start the set with its command stopped before the exec. */
static int start_paused(const struct run_args *a, pid_t *ret_init, pid_t *ret_cmd)
{
	struct json_object *req = json_object_new_object(), *resp = NULL;
	char cwd[PATH_MAX];
	int r;

	if (!a->cwd && !getcwd(cwd, sizeof(cwd)))
		return log_error_errno(-errno, "cannot read the current directory; give --cwd");
	json_object_object_add(req, "op", json_object_new_string("run"));
	json_object_object_add(req, "name", json_object_new_string(a->name));
	json_object_object_add(req, "argv", strv_json(a->argv, CONTROL_ARGV_MAX));
	json_object_object_add(req, "cwd", json_object_new_string(a->cwd ? a->cwd : cwd));
	json_object_object_add(req, "env", strv_json(environ, CONTROL_ENV_MAX));
	if (a->service_ip)
		json_object_object_add(req, "service_ip", json_object_new_string(a->service_ip));
	json_object_object_add(req, "paused", json_object_new_boolean(1));
	r = control_call(a->socket, req, 60, &resp);
	json_object_put(req);
	if (r < 0)
		return log_error_errno(r, "lifeboatd at '%s' did not start '%s'", a->socket, a->name);
	*ret_init = json_int_of(resp, "pid");
	*ret_cmd = json_int_of(resp, "cmd_pid");
	json_object_put(resp);
	if (*ret_init <= 0 || *ret_cmd <= 0)
		return log_error_errno(-EPROTO, "lifeboatd at '%s' answered without the pids of '%s'", a->socket,
				       a->name);
	return 0;
}

/* The set's entry in lifeboatd's `ps` (a new reference), NULL if absent. */
static struct json_object *daemon_ps_entry(const struct run_args *a)
{
	struct json_object *req = json_object_new_object(), *resp = NULL, *list, *found = NULL;

	json_object_object_add(req, "op", json_object_new_string("ps"));
	if (control_call(a->socket, req, 60, &resp) < 0)
		resp = NULL;
	json_object_put(req);
	if (resp && json_object_object_get_ex(resp, "procsets", &list))
		for (size_t i = 0; i < json_object_array_length(list) && !found; i++) {
			struct json_object *e = json_object_array_get_idx(list, i), *n;

			if (json_object_object_get_ex(e, "name", &n) && !strcmp(json_object_get_string(n), a->name))
				found = json_object_get(e);
		}
	json_object_put(resp);
	return found;
}

/* Asks lifeboatd to stop the set it started for us (nothing else to run). */
static void stop_set(const struct run_args *a)
{
	struct json_object *req = json_object_new_object(), *resp = NULL;

	json_object_object_add(req, "op", json_object_new_string("stop"));
	json_object_object_add(req, "name", json_object_new_string(a->name));
	if (control_call(a->socket, req, 60, &resp) == 0)
		json_object_put(resp);
	json_object_put(req);
}

/*
 * `lifeboat run --name NAME --standby-on NODE[,NODE] -- CMD`: lifeboatd
 * starts the set (PID namespace, lifeboat-init, cgroups, logs) with CMD
 * stopped before its exec; we seize CMD, trace it to its first external
 * reference, checkpoint the whole set from its init (--leave-running), let
 * it go on, preload the image and exit. The set stays lifeboatd's.
 */
static int standby_run_daemon(int argc, char **argv)
{
	struct standby_trigger trig;
	struct json_object *meta;
	struct standby_set set;
	struct run_args a;
	char dir[PATH_MAX];
	uint64_t started_ns;
	pid_t init = 0, cmd = 0;
	int status, r;

	if (parse_run(argc, argv, &a, true) < 0)
		return EXIT_USAGE;
	if (!a.socket)
		a.socket = control_socket_path();
	if (a.no_trace || a.dry_run_ms >= 0 || a.log) {
		log_error("run --standby-on: --no-trace, --dry-run and --log belong to 'standby run'");
		return EXIT_USAGE;
	}
	if (standby_config_load(a.config, &cfg) < 0)
		return EXIT_FAILED;
	if (a.image_root)
		snprintf(cfg.image_root, sizeof(cfg.image_root), "%s", a.image_root);
	started_ns = standby_now_ns();
	if (start_paused(&a, &init, &cmd) < 0)
		return EXIT_FAILED;
	meta = daemon_ps_entry(&a);
	r = meta ? standby_seize_stopped(cmd) : log_error_errno(-ESRCH, "'%s' is not in lifeboatd's ps", a.name);
	if (r < 0) {
		json_object_put(meta);
		stop_set(&a);
		return EXIT_FAILED;
	}
	printf("%s started under lifeboatd: init pid %d, command pid %d\n", a.name, init, cmd);
	fflush(stdout);
	r = standby_trace_until_external(cmd, &cfg, &trig, &set, &status);
	if (r == -ECHILD) {
		json_object_put(meta);
		log_notice("'%s' exited before any external reference: no image", a.name);
		return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	if (r < 0) {
		json_object_put(meta);
		standby_set_continue(&set);	/* our exit detaches every tracee */
		log_error("'%s' goes on untraced under lifeboatd without a standby image", a.name);
		return EXIT_FAILED;
	}
	/* the whole set from its init: lifeboat-init is in the image too */
	r = checkpoint_set(&a, init, &set, &trig, started_ns, meta, dir, sizeof(dir));
	json_object_put(meta);
	if (r < 0)
		return EXIT_FAILED;
	if (a.standby_on && preload_nodes(&a) < 0)
		return EXIT_FAILED;
	printf("%s runs under lifeboatd; standby image in %s\n", a.name, dir);
	return EXIT_OK;
}

static int verify_or_restore(int argc, char **argv, bool restore)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "config", required_argument, NULL, 'c' },
		{ "stopped", no_argument, NULL, 's' },
		{ "netns", required_argument, NULL, 'N' },
		{},
	};
	const char *name = NULL, *config = NULL, *netns = NULL;
	struct standby_manifest m;
	struct standby_set set;
	bool stopped = false;
	uint64_t t0;
	pid_t root;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (c) {
		case 'n': name = optarg; break;
		case 'c': config = optarg; break;
		case 's': stopped = true; break;
		case 'N': netns = optarg; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		log_error("standby %s: give one image directory", restore ? "restore" : "verify");
		return EXIT_USAGE;
	}
	if (standby_config_load(config, &cfg) < 0)
		return EXIT_FAILED;
	if (standby_image_verify(argv[optind], name, 0, &m) < 0)
		return EXIT_FAILED;
	if (!restore) {
		printf("%s generation %llu, %llu bytes, checksum %016llx: ok\n", m.name,
		       (unsigned long long)m.generation, (unsigned long long)m.size,
		       (unsigned long long)m.checksum);
		return EXIT_OK;
	}
	t0 = standby_now_ns();
	if (netns && !standby_name_valid(netns)) {
		log_error("standby restore: bad --netns '%s'", netns);
		return EXIT_USAGE;
	}
	if (standby_restore(&cfg, argv[optind], netns, &root) < 0)
		return EXIT_FAILED;
	if (!stopped && standby_set_collect(root, &set) == 0)
		standby_set_continue(&set);
	printf("pid %d restored in %.1f ms\n", root, (standby_now_ns() - t0) / 1e6);
	return EXIT_OK;
}

/* `standby send NAME --to PEER` and `standby receive --listen ADDR:PORT` */
static int peer_cmd(int argc, char **argv, bool receive)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "listen", required_argument, NULL, 'l' },
		{ "mode", required_argument, NULL, 'm' },
		{ "once", no_argument, NULL, 'o' },
		{ "config", required_argument, NULL, 'c' },
		{ "lifeboat-config", required_argument, NULL, 'L' },
		{},
	};
	const char *to = NULL, *listen = NULL, *mode = "restored", *config = NULL, *lconf = NULL;
	bool once = false;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (c) {
		case 't': to = optarg; break;
		case 'l': listen = optarg; break;
		case 'm': mode = optarg; break;
		case 'o': once = true; break;
		case 'c': config = optarg; break;
		case 'L': lconf = optarg; break;
		default: return EXIT_USAGE;
		}
	}
	if (receive ? (!listen || optind != argc) : (!to || optind != argc - 1) ||
	    (strcmp(mode, "restored") && strcmp(mode, "cache"))) {
		log_error(receive ? "standby receive --listen ADDR:PORT [--mode restored|cache] [--once]"
				  : "standby send NAME --to PEER");
		return EXIT_USAGE;
	}
	if (standby_config_load(config, &cfg) < 0)
		return EXIT_FAILED;
	if (receive)
		r = standby_peer_receive(&cfg, lconf, listen, mode, once);
	else
		r = standby_peer_send(&cfg, lconf, argv[optind], to);
	return r < 0 ? EXIT_FAILED : EXIT_OK;
}

bool standby_run_requested(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--standby-on") || !strncmp(argv[i], "--standby-on=", 13))
			return true;
	return false;
}

int standby_run_hook(int argc, char **argv)
{
	return standby_run_daemon(argc, argv);
}

/* Only when this host holds standby images: plain `ps` output stays as it was. */
void standby_ps_hook(void)
{
	char *argv[] = { "ps", NULL };
	bool any = false;
	struct dirent *de;
	DIR *d;

	if (standby_config_load(NULL, &cfg) < 0)
		return;
	d = opendir(cfg.image_root);
	while (d && !any && (de = readdir(d)))
		any = standby_name_valid(de->d_name);
	if (d)
		closedir(d);
	if (!any)
		return;
	printf("\nSTANDBY IMAGES\n");
	(void)standby_node_ps_cmd(&cfg, 1, argv);
}

int standby_cmd(int argc, char **argv)
{
	if (argc < 2) {
		standby_cmd_help();
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "run"))
		return standby_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "verify"))
		return verify_or_restore(argc - 1, argv + 1, false);
	if (!strcmp(argv[1], "restore"))
		return verify_or_restore(argc - 1, argv + 1, true);
	if (!strcmp(argv[1], "preload"))
		return standby_node_preload_cmd(&cfg, argc - 1, argv + 1);
	if (!strcmp(argv[1], "ps"))
		return standby_node_ps_cmd(&cfg, argc - 1, argv + 1);
	if (!strcmp(argv[1], "send"))
		return peer_cmd(argc - 1, argv + 1, false);
	if (!strcmp(argv[1], "receive"))
		return peer_cmd(argc - 1, argv + 1, true);
	log_error("unknown standby command '%s', see 'lifeboat --help'", argv[1]);
	return EXIT_USAGE;
}

int standby_activate_cmd(int argc, char **argv)
{
	return standby_node_activate_cmd(&cfg, argc, argv);
}
