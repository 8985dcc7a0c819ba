// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * standby-node.c - preloads on standby nodes, the placement rules and
 * activation (see standby-node.h for where they are kept).
 *
 * Placement of NAME on a requested node N:
 *   1. N must be in [app NAME] nodes (when the app has rules);
 *   2. NAME may have at most max_standbys preloads over all nodes;
 *   3. the images preloaded on N must fit N's memory_budget and max_images;
 *      if not, over_budget decides: refuse (recorded for `ps`), elsewhere
 *      (the next allowed node), or evict (lower priorities leave first).
 * Activation picks the first allowed node, in the app's order, holding a
 * live preload of the newest generation, unless --on names one, and fences
 * the old owner of the app's journal before anything runs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "standby: "
#include "lifeboat/log.h"
#include "control.h"
#include "handoff.h"
#include "lifeboat.h"
#include "standby-node.h"

#define MAX_PRELOADS 256

struct preload {
	char node[STANDBY_NAME_MAX];
	char name[STANDBY_NAME_MAX];
	char image[PATH_MAX];
	char mode[16];
	uint64_t generation, size, preloaded, preload_us;
	int priority;
	pid_t pid;
};

static void preload_path(const struct standby_config *cfg, const char *node, const char *name,
			 const char *ext, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s/%s.%s", cfg->state_root, node, name, ext);
}

static int preload_write(const struct standby_config *cfg, const struct preload *p)
{
	char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX + 8];
	json_object *o = json_object_new_object();
	int r = 0;

	snprintf(dir, sizeof(dir), "%s/%s", cfg->state_root, p->node);
	(void)mkdir(cfg->state_root, 0700);
	(void)mkdir(dir, 0700);
	json_object_object_add(o, "name", json_object_new_string(p->name));
	json_object_object_add(o, "image", json_object_new_string(p->image));
	json_object_object_add(o, "mode", json_object_new_string(p->mode));
	json_object_object_add(o, "generation", json_object_new_uint64(p->generation));
	json_object_object_add(o, "size", json_object_new_uint64(p->size));
	json_object_object_add(o, "preloaded", json_object_new_uint64(p->preloaded));
	json_object_object_add(o, "preload_us", json_object_new_uint64(p->preload_us));
	json_object_object_add(o, "priority", json_object_new_int(p->priority));
	json_object_object_add(o, "pid", json_object_new_int(p->pid));
	preload_path(cfg, p->node, p->name, "json", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (json_object_to_file(tmp, o) < 0)
		r = -EIO;
	else if (rename(tmp, path) < 0)
		r = -errno;
	json_object_put(o);
	return r;
}

static int json_str(json_object *o, const char *key, char *buf, size_t size)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string) ||
	    strlen(json_object_get_string(v)) >= size)
		return -EBADMSG;
	strcpy(buf, json_object_get_string(v));
	return 0;
}

static int64_t json_int(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return -1;
	return json_object_get_int64(v);
}

static int preload_read(const struct standby_config *cfg, const char *node, const char *name,
			struct preload *ret)
{
	char path[PATH_MAX];
	struct preload p = { 0 };
	json_object *o;
	int r;

	preload_path(cfg, node, name, "json", path, sizeof(path));
	o = json_object_from_file(path);
	if (!o)
		return -ENOENT;
	snprintf(p.node, sizeof(p.node), "%s", node);
	r = json_str(o, "name", p.name, sizeof(p.name));
	if (!r)
		r = json_str(o, "image", p.image, sizeof(p.image));
	if (!r)
		r = json_str(o, "mode", p.mode, sizeof(p.mode));
	p.generation = (uint64_t)json_int(o, "generation");
	p.size = (uint64_t)json_int(o, "size");
	p.preloaded = (uint64_t)json_int(o, "preloaded");
	p.preload_us = (uint64_t)json_int(o, "preload_us");
	p.priority = (int)json_int(o, "priority");
	p.pid = (pid_t)json_int(o, "pid");
	json_object_put(o);
	if (r < 0 || strcmp(p.name, name) != 0)
		return -EBADMSG;
	*ret = p;
	return 0;
}

/* Every preload on node (name == NULL) or of name on every node (node == NULL). */
static int preloads_list(const struct standby_config *cfg, const char *node, const char *name,
			 struct preload *out, unsigned *ret_n)
{
	unsigned n = 0;
	struct dirent *nd;
	DIR *root;

	root = opendir(cfg->state_root);
	if (!root) {
		*ret_n = 0;
		return errno == ENOENT ? 0 : -errno;
	}
	while ((nd = readdir(root)) && n < MAX_PRELOADS) {
		char dir[PATH_MAX];
		struct dirent *de;
		DIR *d;

		if (!standby_name_valid(nd->d_name) || (node && strcmp(nd->d_name, node)))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", cfg->state_root, nd->d_name);
		d = opendir(dir);
		if (!d)
			continue;
		while ((de = readdir(d)) && n < MAX_PRELOADS) {
			char app[STANDBY_NAME_MAX];
			size_t len = strlen(de->d_name);

			if (len < 6 || len - 5 >= sizeof(app) || strcmp(de->d_name + len - 5, ".json"))
				continue;
			snprintf(app, sizeof(app), "%.*s", (int)(len - 5), de->d_name);
			if (name && strcmp(app, name))
				continue;
			if (preload_read(cfg, nd->d_name, app, &out[n]) == 0)
				n++;
		}
		closedir(d);
	}
	closedir(root);
	*ret_n = n;
	return 0;
}

static void refusal_write(const struct standby_config *cfg, const char *node, const char *name,
			  const char *reason)
{
	char dir[PATH_MAX], path[PATH_MAX];
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/%s", cfg->state_root, node);
	(void)mkdir(cfg->state_root, 0700);
	(void)mkdir(dir, 0700);
	preload_path(cfg, node, name, "refused", path, sizeof(path));
	f = fopen(path, "we");
	if (!f)
		return;
	fprintf(f, "%s\n", reason);
	fclose(f);
}

static void refusal_clear(const struct standby_config *cfg, const char *node, const char *name)
{
	char path[PATH_MAX];

	preload_path(cfg, node, name, "refused", path, sizeof(path));
	(void)unlink(path);
}

static const char *node_netns(const struct standby_config *cfg, const char *node)
{
	const struct standby_node_rule *nr = standby_config_node(cfg, node);

	return nr ? nr->netns : NULL;
}

static const char *node_socket(const struct standby_config *cfg, const char *node)
{
	const struct standby_node_rule *nr = standby_config_node(cfg, node);

	return nr && nr->socket[0] ? nr->socket : NULL;
}

#define NODE_CALL_TIMEOUT_S 120	/* a restore of a large image */

/*
 * One request to the node's lifeboatd: {"op": op, "name"?: name, "dir"?:
 * dir, "standby"?: true}; *ret_pid gets the "pid" of the answer.
 */
static int node_call(const char *socket, const char *op, const char *name, const char *dir,
		     bool standby, pid_t *ret_pid)
{
	struct json_object *req = json_object_new_object(), *resp = NULL, *v;
	int r;

	json_object_object_add(req, "op", json_object_new_string(op));
	if (name)
		json_object_object_add(req, "name", json_object_new_string(name));
	if (dir)
		json_object_object_add(req, "dir", json_object_new_string(dir));
	if (standby)
		json_object_object_add(req, "standby", json_object_new_boolean(1));
	r = control_call(socket, req, NODE_CALL_TIMEOUT_S, &resp);
	json_object_put(req);
	if (r < 0)
		return log_error_errno(r, "'%s' of '%s' by the lifeboatd at '%s' failed", op, name ? name : dir,
				       socket);
	if (ret_pid)
		*ret_pid = json_object_object_get_ex(resp, "pid", &v) ? json_object_get_int(v) : 0;
	json_object_put(resp);
	return 0;
}

static bool pid_alive(pid_t pid)
{
	return pid > 0 && kill(pid, 0) == 0;
}

/* Ends a preload: a restored, stopped set is killed, a cache entry dropped. */
static void preload_drop(const struct standby_config *cfg, const struct preload *p)
{
	char path[PATH_MAX];
	struct standby_set set;

	if (!strcmp(p->mode, "restored") && pid_alive(p->pid) && node_socket(cfg, p->node))
		(void)node_call(node_socket(cfg, p->node), "stop", p->name, NULL, false, NULL);
	else if (!strcmp(p->mode, "restored") && pid_alive(p->pid) &&
		 standby_set_collect(p->pid, &set) == 0)
		for (unsigned i = 0; i < set.n; i++)
			(void)kill(set.tgid[i], SIGKILL);
	preload_path(cfg, p->node, p->name, "json", path, sizeof(path));
	(void)unlink(path);
}

static int newest_image(const struct standby_config *cfg, const char *name, char *dir,
			size_t size, struct standby_manifest *ret_m)
{
	uint64_t next;
	int r;

	r = standby_image_next_generation(cfg->image_root, name, &next);
	if (r < 0)
		return r;
	if (next == 1)
		return log_error_errno(-ENOENT, "no image of '%s' under '%s'", name, cfg->image_root);
	snprintf(dir, size, "%s/%s/%llu", cfg->image_root, name, (unsigned long long)(next - 1));
	return standby_image_verify(dir, name, next - 1, ret_m);
}

static bool node_allowed(const struct standby_app_rule *rule, const char *node)
{
	if (!rule || rule->n_nodes == 0)
		return true;
	for (unsigned i = 0; i < rule->n_nodes; i++)
		if (!strcmp(rule->nodes[i], node))
			return true;
	return false;
}

/* Reads every image file once so that a restore finds them in the page cache. */
static int warm_cache(const char *dir)
{
	static char buf[1 << 20];
	struct dirent *de;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

		if (fd < 0)
			continue;
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
	}
	closedir(d);
	return 0;
}

/*
 * Room for size bytes on node: 0, or -ENOSPC with the reason in why.
 * With evict, lower-priority preloads are dropped (lowest first) to make it.
 */
static int make_room(const struct standby_config *cfg, const char *node, const char *name,
		     uint64_t size, int priority, bool evict, char *why, size_t why_size)
{
	const struct standby_node_rule *nr = standby_config_node(cfg, node);
	static struct preload on[MAX_PRELOADS];
	uint64_t used = 0;
	unsigned n, count = 0;

	if (!nr)
		return 0;
	if (preloads_list(cfg, node, NULL, on, &n) < 0)
		n = 0;
	for (unsigned i = 0; i < n; i++)
		if (strcmp(on[i].name, name)) {
			used += on[i].size;
			count++;
		}
	while ((nr->memory_budget && used + size > nr->memory_budget) ||
	       (nr->max_images && count + 1 > nr->max_images)) {
		int victim = -1;

		for (unsigned i = 0; evict && i < n; i++)
			if (strcmp(on[i].name, name) && on[i].size && on[i].priority < priority &&
			    (victim < 0 || on[i].priority < on[victim].priority))
				victim = (int)i;
		if (victim < 0) {
			snprintf(why, why_size,
				 "node %s: budget %.1f MiB, %u image(s) holding %.1f MiB, this one needs %.1f MiB%s",
				 node, nr->memory_budget / 1048576.0, count, used / 1048576.0,
				 size / 1048576.0,
				 nr->max_images && count + 1 > nr->max_images ? " (max_images reached)" : "");
			return -ENOSPC;
		}
		log_notice("evicting '%s' (priority %d) from node '%s' for '%s' (priority %d)",
			   on[victim].name, on[victim].priority, node, name, priority);
		preload_drop(cfg, &on[victim]);
		used -= on[victim].size;
		count--;
		on[victim].size = 0;
		snprintf(on[victim].name, sizeof(on[victim].name), "%s", name);	/* skip it now */
	}
	return 0;
}

static int preload_here(struct standby_config *cfg, const char *node, const char *dir,
			const struct standby_manifest *m, int priority, const char *mode)
{
	struct preload p = { 0 };
	uint64_t t0 = standby_now_ns();
	int r;

	snprintf(p.node, sizeof(p.node), "%s", node);
	snprintf(p.name, sizeof(p.name), "%s", m->name);
	snprintf(p.image, sizeof(p.image), "%s", dir);
	snprintf(p.mode, sizeof(p.mode), "%s", mode);
	if (!strcmp(mode, "restored") && node_socket(cfg, node))	/* a set of its lifeboatd */
		r = node_call(node_socket(cfg, node), "restore", NULL, dir, true, &p.pid);
	else if (!strcmp(mode, "restored"))
		r = standby_restore(cfg, dir, node_netns(cfg, node), &p.pid);	/* stopped */
	else
		r = warm_cache(dir);
	if (r < 0)
		return r;
	p.generation = m->generation;
	p.size = m->size;
	p.priority = priority;
	p.preloaded = (uint64_t)time(NULL);
	p.preload_us = (standby_now_ns() - t0) / 1000;
	r = preload_write(cfg, &p);
	if (r < 0)
		return log_error_errno(r, "cannot record the preload of '%s' on '%s'", p.name, node);
	refusal_clear(cfg, node, p.name);
	log_notice("preloaded '%s' generation %llu on node '%s' (%s) in %.1f ms", p.name,
		   (unsigned long long)p.generation, node, mode, p.preload_us / 1000.0);
	return 0;
}

/* Replaces an older preload of name on node; refuses to preload twice. */
static int check_existing(const struct standby_config *cfg, const char *node,
			  const struct standby_manifest *m)
{
	struct preload old;

	if (preload_read(cfg, node, m->name, &old) < 0)
		return 0;
	if (old.generation >= m->generation && (strcmp(old.mode, "restored") || pid_alive(old.pid)))
		return log_error_errno(-EEXIST, "'%s' generation %llu is already preloaded on '%s'",
				       m->name, (unsigned long long)old.generation, node);
	preload_drop(cfg, &old);
	return 0;
}

static int count_standbys(const struct standby_config *cfg, const char *name, const char *node)
{
	static struct preload all[MAX_PRELOADS];
	unsigned n;
	int count = 0;

	if (preloads_list(cfg, NULL, name, all, &n) < 0)
		return 0;
	for (unsigned i = 0; i < n; i++)
		if (strcmp(all[i].node, node))
			count++;
	return count;
}

static int try_node(struct standby_config *cfg, const char *node, const char *dir,
		    const struct standby_manifest *m, const struct standby_app_rule *rule,
		    const char *mode, char *why, size_t why_size)
{
	int r;

	if (!node_allowed(rule, node)) {
		snprintf(why, why_size, "node %s is not in the nodes of app %s", node, m->name);
		return -EPERM;
	}
	if (rule && rule->max_standbys && count_standbys(cfg, m->name, node) >= (int)rule->max_standbys) {
		snprintf(why, why_size, "app %s already has %u standby(s) (max_standbys)", m->name,
			 rule->max_standbys);
		return -ENOSPC;
	}
	r = check_existing(cfg, node, m);
	if (r < 0)
		return r;
	r = make_room(cfg, node, m->name, m->size, rule ? rule->priority : 0,
		      rule && rule->over_budget == STANDBY_OVER_EVICT, why, why_size);
	if (r < 0)
		return r;
	return preload_here(cfg, node, dir, m, rule ? rule->priority : 0, mode);
}

int standby_node_preload(struct standby_config *cfg, const char *name, const char *node,
			 const char *mode)
{
	const struct standby_app_rule *rule = standby_config_app(cfg, name);
	struct standby_manifest m;
	char dir[PATH_MAX], why[512] = "";
	int r;

	if (!standby_name_valid(node))
		return log_error_errno(-EINVAL, "bad node name '%s'", node);
	if (!standby_name_valid(name))
		return log_error_errno(-EINVAL, "bad application name '%s'", name);
	r = newest_image(cfg, name, dir, sizeof(dir), &m);
	if (r < 0)
		return r;
	r = try_node(cfg, node, dir, &m, rule, mode, why, sizeof(why));
	if (r != -ENOSPC || !rule || rule->over_budget != STANDBY_OVER_ELSEWHERE)
		goto out;
	refusal_write(cfg, node, name, why);
	log_notice("'%s' does not fit on '%s' (%s), trying its other nodes", name, node, why);
	for (unsigned i = 0; i < rule->n_nodes && r < 0; i++) {
		if (!strcmp(rule->nodes[i], node))
			continue;
		why[0] = 0;
		r = try_node(cfg, rule->nodes[i], dir, &m, rule, mode, why, sizeof(why));
		if (r == -ENOSPC || r == -EPERM)
			refusal_write(cfg, rule->nodes[i], name, why);
	}
	return r < 0 ? log_error_errno(r, "'%s' was placed on none of its nodes", name) : 0;
out:
	if (r == -ENOSPC || r == -EPERM) {
		refusal_write(cfg, node, name, why);
		return log_error_errno(r, "'%s' refused on node '%s': %s", name, node, why);
	}
	return r;
}

int standby_node_preload_cmd(struct standby_config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'n' },
		{ "mode", required_argument, NULL, 'm' },
		{ "config", required_argument, NULL, 'c' },
		{},
	};
	const char *node = "local", *mode = "restored", *config = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (c) {
		case 'n': node = optarg; break;
		case 'm': mode = optarg; break;
		case 'c': config = optarg; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || (strcmp(mode, "restored") && strcmp(mode, "cache"))) {
		log_error("standby preload NAME [--node NODE] [--mode restored|cache]");
		return EXIT_USAGE;
	}
	if (standby_config_load(config, cfg) < 0)
		return EXIT_FAILED;
	return standby_node_preload(cfg, argv[optind], node, mode) < 0 ? EXIT_FAILED : EXIT_OK;
}

/* The node activation would use: the app's order first, then any. */
static const struct preload *pick(const struct standby_config *cfg, const struct preload *p,
				  unsigned n, const char *name, const char *on)
{
	const struct standby_app_rule *rule = standby_config_app(cfg, name);
	const struct preload *best = NULL;

	for (unsigned i = 0; i < n; i++) {
		bool live = strcmp(p[i].mode, "restored") || pid_alive(p[i].pid);

		if (strcmp(p[i].name, name) || !live || (on && strcmp(p[i].node, on)))
			continue;
		if (!best || p[i].generation > best->generation)
			best = &p[i];
	}
	for (unsigned k = 0; rule && best && k < rule->n_nodes; k++)
		for (unsigned i = 0; i < n; i++)
			if (!strcmp(p[i].name, name) && !strcmp(p[i].node, rule->nodes[k]) &&
			    p[i].generation == best->generation &&
			    (strcmp(p[i].mode, "restored") || pid_alive(p[i].pid)))
				return &p[i];
	return best;
}

static void ps_refusals(const struct standby_config *cfg, const char *name)
{
	struct dirent *nd;
	DIR *root = opendir(cfg->state_root);

	while (root && (nd = readdir(root))) {
		char path[PATH_MAX], reason[512];
		FILE *f;

		if (!standby_name_valid(nd->d_name))
			continue;
		preload_path(cfg, nd->d_name, name, "refused", path, sizeof(path));
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(reason, sizeof(reason), f)) {
			reason[strcspn(reason, "\n")] = 0;
			printf("    refused on %s: %s\n", nd->d_name, reason);
		}
		fclose(f);
	}
	if (root)
		closedir(root);
}

static void ps_app(const struct standby_config *cfg, const char *name)
{
	const struct standby_app_rule *rule = standby_config_app(cfg, name);
	static struct preload p[MAX_PRELOADS];
	struct standby_manifest m;
	const struct preload *act;
	char dir[PATH_MAX];
	uint64_t next, now = (uint64_t)time(NULL);
	unsigned n;

	if (standby_image_next_generation(cfg->image_root, name, &next) < 0 || next == 1)
		return;
	snprintf(dir, sizeof(dir), "%s/%s/%llu", cfg->image_root, name, (unsigned long long)(next - 1));
	if (standby_manifest_read(dir, &m) < 0)
		return;
	printf("%s  image generation %llu  %.1f MiB  age %llus  taken before '%s'\n", name,
	       (unsigned long long)m.generation, m.size / 1048576.0,
	       (unsigned long long)(now - m.created), m.trigger);
	if (preloads_list(cfg, NULL, name, p, &n) < 0)
		n = 0;
	for (unsigned i = 0; i < n; i++) {
		bool live = strcmp(p[i].mode, "restored") || pid_alive(p[i].pid);

		printf("    preloaded on %s: %s%s, generation %llu, %.1f MiB, age %llus",
		       p[i].node, p[i].mode, live ? "" : " (gone)",
		       (unsigned long long)p[i].generation, p[i].size / 1048576.0,
		       (unsigned long long)(now - p[i].preloaded));
		if (!strcmp(p[i].mode, "restored"))
			printf(", stopped pid %d", p[i].pid);
		printf("\n");
	}
	ps_refusals(cfg, name);
	act = pick(cfg, p, n, name, NULL);
	if (act && rule) {
		char order[STANDBY_MAX_NODES * STANDBY_NAME_MAX] = "";

		for (unsigned i = 0; i < rule->n_nodes; i++)
			snprintf(order + strlen(order), sizeof(order) - strlen(order), "%s%s",
				 i ? "," : "", rule->nodes[i]);
		printf("    activation -> %s (rule: the first node of %s with a live preload, priority %d)\n",
		       act->node, order[0] ? order : "any node", rule->priority);
	}
	else if (act)
		printf("    activation -> %s (no rule for %s: newest live preload)\n", act->node, name);
	else
		printf("    activation -> none (no live preload)\n");
}

int standby_node_ps_cmd(struct standby_config *cfg, int argc, char **argv)
{
	const char *config = argc >= 3 && !strcmp(argv[1], "--config") ? argv[2] : NULL;
	struct dirent *de;
	DIR *d;

	if (argc != 1 && !config) {
		log_error("standby ps [--config FILE]");
		return EXIT_USAGE;
	}
	if (standby_config_load(config, cfg) < 0)
		return EXIT_FAILED;
	d = opendir(cfg->image_root);
	if (!d) {
		printf("no standby images under '%s'\n", cfg->image_root);
		return EXIT_OK;
	}
	while ((de = readdir(d)))
		if (standby_name_valid(de->d_name))
			ps_app(cfg, de->d_name);
	closedir(d);
	return EXIT_OK;
}

/*
 * The handoff's fencing: the journal of the app's mount is taken over with a
 * newer epoch (on iSCSI, its reservation preempted) in the activating node's
 * name, so the old owner can no longer write it, and its records are
 * replayed into the mount here before the standby runs.
 */
static int fence_old_owner(const struct standby_config *cfg, const char *name, const char *node,
			   uint64_t *ret_ns)
{
	const struct standby_app_rule *rule = standby_config_app(cfg, name);
	uint64_t replay_ns = 0;
	int r;

	if (!rule || !rule->journal[0])
		return 0;
	r = handoff_take_journal(rule->journal, node, rule->mount, ret_ns, &replay_ns);
	if (r < 0)
		return log_error_errno(r, "'%s' not activated: cannot fence the old owner of '%s'",
				       name, rule->journal);
	log_notice("'%s': journal '%s' taken over for node '%s' (fence %.2f ms, replay %.2f ms)",
		   name, rule->journal, node, *ret_ns / 1e6, replay_ns / 1e6);
	*ret_ns += replay_ns;
	return 0;
}

/*
 * The node's lifeboatd holds the standby as one of its process sets (or, for
 * a cache preload, restores it as one now): it continues it, so the active
 * copy is a set of that lifeboatd (listed, stoppable, migratable).
 */
static int activate_on_node(const struct standby_config *cfg, const struct preload *act,
			    const char *name, pid_t *ret_root)
{
	const char *socket = node_socket(cfg, act->node);
	struct standby_manifest m;
	int r;

	if (strcmp(act->mode, "restored")) {
		r = standby_image_verify(act->image, name, act->generation, &m);
		if (r == 0)
			r = node_call(socket, "restore", NULL, act->image, true, ret_root);
		if (r < 0)
			return r;
	}
	return node_call(socket, "activate", name, NULL, false, ret_root);
}

static int activate(struct standby_config *cfg, const char *name, const char *on)
{
	static struct preload p[MAX_PRELOADS];
	const struct preload *act;
	struct standby_manifest m;
	struct standby_set set;
	uint64_t t0 = standby_now_ns(), fence_ns = 0;
	pid_t root;
	unsigned n;
	int r;

	if (!standby_name_valid(name))
		return log_error_errno(-EINVAL, "bad application name '%s'", name);
	if (on && !standby_name_valid(on))
		return log_error_errno(-EINVAL, "bad node name '%s'", on);
	r = preloads_list(cfg, NULL, name, p, &n);
	if (r < 0)
		return log_error_errno(r, "cannot list preloads under '%s'", cfg->state_root);
	act = pick(cfg, p, n, name, on);
	if (!act)
		return log_error_errno(-ENOENT, "no live preload of '%s'%s%s", name,
				       on ? " on node " : "", on ? on : "");
	r = fence_old_owner(cfg, name, act->node, &fence_ns);
	if (r < 0)
		return r;	/* never two live copies against one store */
	root = act->pid;
	if (node_socket(cfg, act->node)) {
		r = activate_on_node(cfg, act, name, &root);
		if (r < 0)
			return r;
		goto done;
	}
	if (strcmp(act->mode, "restored")) {
		r = standby_image_verify(act->image, name, act->generation, &m);
		if (r < 0)
			return r;
		r = standby_restore(cfg, act->image, node_netns(cfg, act->node), &root);
		if (r < 0)
			return r;
	}
	r = standby_set_collect(root, &set);
	if (r < 0)
		return log_error_errno(r, "cannot list the processes of %d", root);
	standby_set_continue(&set);
done:
	printf("activated %s generation %llu on %s (%s) in %.2f ms (fencing %.2f ms), pid %d\n",
	       name, (unsigned long long)act->generation, act->node, act->mode,
	       (standby_now_ns() - t0) / 1e6, fence_ns / 1e6, root);
	{
		char path[PATH_MAX];

		preload_path(cfg, act->node, name, "json", path, sizeof(path));
		(void)unlink(path);	/* it is a live copy now, not a standby */
	}
	return 0;
}

int standby_node_activate_cmd(struct standby_config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "on", required_argument, NULL, 'o' },
		{ "config", required_argument, NULL, 'c' },
		{},
	};
	const char *on = NULL, *config = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (c) {
		case 'o': on = optarg; break;
		case 'c': config = optarg; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		log_error("activate NAME [--on NODE] [--config FILE]");
		return EXIT_USAGE;
	}
	if (standby_config_load(config, cfg) < 0)
		return EXIT_FAILED;
	return activate(cfg, argv[optind], on) < 0 ? EXIT_FAILED : EXIT_OK;
}
