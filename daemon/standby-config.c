// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * standby-config.c - the [standby], [node NAME] and [app NAME] sections of
 * the standby config (INI, read with inih; --config FILE, else
 * $LIFEBOAT_STANDBY_CONFIG, else /etc/lifeboat/standby.conf when it
 * exists, else the defaults):
 *
 *   [standby]
 *   internal = tcp:127.0.0.1:5432      ; repeatable: endpoints that are internal
 *   store = /mnt/app                    ; shared store mount
 *   store_write_external = yes          ; its first write is an external reference
 *   image_root = /var/lib/lifeboat/standby
 *   state_root = /run/lifeboat/standby  ; preloads, one directory per node
 *   criu = /usr/local/lib/lifeboat/criu/sbin/criu
 *
 *   [node B]
 *   memory_budget = 512M                ; bytes of preloaded images
 *   max_images = 4
 *   netns = lb-nodeB                    ; its preloads run in /run/netns/lb-nodeB
 *                                       ; (a node simulated on this host)
 *   socket = /run/lifeboat-B/control.sock  ; its lifeboatd: preloads are
 *                                       ; process sets of it (restore standby,
 *                                       ; activate), not CRIU run from here
 *
 *   [app NAME]
 *   nodes = B,C                         ; may host it, in order of preference
 *   priority = 10
 *   max_standbys = 1
 *   over_budget = refuse|elsewhere|evict
 *   journal = /var/lib/lifeboat/app.journal  ; or iscsi://...: fenced before
 *   mount = /srv/app                          ; activation, replayed here
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define LOG_PREFIX "standby: "
#include "lifeboat/log.h"
#include "standby.h"

#define DEFAULT_CONFIG "/etc/lifeboat/standby.conf"	/* used when no --config */
#define DEFAULT_CRIU "/usr/local/lib/lifeboat/criu/sbin/criu"
#define DEFAULT_IMAGE_ROOT "/var/lib/lifeboat/standby"
#define DEFAULT_STATE_ROOT "/run/lifeboat/standby"

struct parse_state {
	struct standby_config *cfg;
	const char *path;
	int error;
};

static int copy_str(char *dst, size_t size, const char *src)
{
	if (strlen(src) >= size)
		return -ENAMETOOLONG;
	strcpy(dst, src);
	return 0;
}

static int parse_inet(const char *host, struct standby_endpoint *ep)
{
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(host);

	if (strcmp(host, "*") == 0) {
		ep->family = 0;
		return 0;
	}
	if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
		if (n - 2 >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = 0;
		ep->family = AF_INET6;
		return inet_pton(AF_INET6, buf, ep->addr) == 1 ? 0 : -EINVAL;
	}
	ep->family = AF_INET;
	return inet_pton(AF_INET, host, ep->addr) == 1 ? 0 : -EINVAL;
}

int standby_endpoint_parse(const char *spec, struct standby_endpoint *ret_ep)
{
	struct standby_endpoint ep = { 0 };
	char host[128], *colon, *end;
	unsigned long port;
	const char *rest;

	if (strncmp(spec, "unix:", 5) == 0) {
		ep.kind = STANDBY_EP_UNIX;
		if (!spec[5] || copy_str(ep.path, sizeof(ep.path), spec + 5) < 0)
			return -EINVAL;
		*ret_ep = ep;
		return 0;
	}
	if (strncmp(spec, "tcp:", 4) == 0)
		ep.kind = STANDBY_EP_TCP;
	else if (strncmp(spec, "udp:", 4) == 0)
		ep.kind = STANDBY_EP_UDP;
	else
		return -EINVAL;
	rest = spec + 4;
	if (copy_str(host, sizeof(host), rest) < 0)
		return -EINVAL;
	colon = strrchr(host, ':');
	if (!colon)
		return -EINVAL;
	*colon = 0;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port == 0 || port > 65535)
		return -EINVAL;
	ep.port = (uint16_t)port;
	if (parse_inet(host, &ep) < 0)
		return -EINVAL;
	*ret_ep = ep;
	return 0;
}

static int parse_bool(const char *v, bool *ret)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1"))
		*ret = true;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0"))
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

/* "512M", "2G", "1048576" */
static int parse_size(const char *v, uint64_t *ret)
{
	unsigned long long n;
	char *end;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || end == v)
		return -EINVAL;
	switch (*end) {
	case 0: break;
	case 'K': case 'k': n <<= 10; end++; break;
	case 'M': case 'm': n <<= 20; end++; break;
	case 'G': case 'g': n <<= 30; end++; break;
	default: return -EINVAL;
	}
	if (*end)
		return -EINVAL;
	*ret = n;
	return 0;
}

static int parse_uint(const char *v, unsigned *ret)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || n > 1000000)
		return -EINVAL;
	*ret = (unsigned)n;
	return 0;
}

static int parse_global(struct standby_config *cfg, const char *key, const char *v)
{
	if (!strcmp(key, "internal")) {
		if (cfg->n_internal >= STANDBY_MAX_INTERNAL)
			return -E2BIG;
		return standby_endpoint_parse(v, &cfg->internal[cfg->n_internal++]);
	}
	if (!strcmp(key, "store"))
		return v[0] == '/' ? copy_str(cfg->store, sizeof(cfg->store), v) : -EINVAL;
	if (!strcmp(key, "store_write_external"))
		return parse_bool(v, &cfg->store_write_external);
	if (!strcmp(key, "image_root"))
		return copy_str(cfg->image_root, sizeof(cfg->image_root), v);
	if (!strcmp(key, "state_root"))
		return copy_str(cfg->state_root, sizeof(cfg->state_root), v);
	if (!strcmp(key, "criu"))
		return copy_str(cfg->criu, sizeof(cfg->criu), v);
	return -ENOENT;
}

static bool valid_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= STANDBY_NAME_MAX || name[0] == '.')
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static struct standby_node_rule *node_get(struct standby_config *cfg, const char *name)
{
	struct standby_node_rule *n = (struct standby_node_rule *)standby_config_node(cfg, name);

	if (n || cfg->n_nodes >= STANDBY_MAX_NODES)
		return n;
	n = &cfg->nodes[cfg->n_nodes++];
	memset(n, 0, sizeof(*n));
	strcpy(n->name, name);
	return n;
}

static struct standby_app_rule *app_get(struct standby_config *cfg, const char *name)
{
	struct standby_app_rule *a = (struct standby_app_rule *)standby_config_app(cfg, name);

	if (a || cfg->n_apps >= STANDBY_MAX_APPS)
		return a;
	a = &cfg->apps[cfg->n_apps++];
	memset(a, 0, sizeof(*a));
	strcpy(a->name, name);
	return a;
}

static int parse_nodes(struct standby_app_rule *a, const char *v)
{
	char buf[STANDBY_MAX_NODES * STANDBY_NAME_MAX], *save = NULL, *tok;

	if (copy_str(buf, sizeof(buf), v) < 0)
		return -EINVAL;
	a->n_nodes = 0;
	for (tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		if (!valid_name(tok) || a->n_nodes >= STANDBY_MAX_NODES)
			return -EINVAL;
		strcpy(a->nodes[a->n_nodes++], tok);
	}
	return a->n_nodes ? 0 : -EINVAL;
}

static int parse_app(struct standby_app_rule *a, const char *key, const char *v)
{
	if (!strcmp(key, "nodes"))
		return parse_nodes(a, v);
	if (!strcmp(key, "priority")) {
		char *end;
		long p;

		errno = 0;
		p = strtol(v, &end, 10);
		if (errno || end == v || *end || p < -1000 || p > 1000)
			return -EINVAL;
		a->priority = (int)p;
		return 0;
	}
	if (!strcmp(key, "max_standbys"))
		return parse_uint(v, &a->max_standbys);
	if (!strcmp(key, "journal"))
		return v[0] ? copy_str(a->journal, sizeof(a->journal), v) : -EINVAL;
	if (!strcmp(key, "mount"))
		return v[0] == '/' ? copy_str(a->mount, sizeof(a->mount), v) : -EINVAL;
	if (!strcmp(key, "over_budget")) {
		if (!strcmp(v, "refuse"))
			a->over_budget = STANDBY_OVER_REFUSE;
		else if (!strcmp(v, "elsewhere"))
			a->over_budget = STANDBY_OVER_ELSEWHERE;
		else if (!strcmp(v, "evict"))
			a->over_budget = STANDBY_OVER_EVICT;
		else
			return -EINVAL;
		return 0;
	}
	return -ENOENT;
}

/* A node's lifeboatd control socket: an absolute path without ".." components. */
static bool socket_path_valid(const char *v)
{
	size_t len = strlen(v);

	return v[0] == '/' && !strstr(v, "/../") && !(len >= 3 && !strcmp(v + len - 3, "/.."));
}

static int parse_section(struct standby_config *cfg, const char *section, const char *key,
			 const char *v)
{
	if (!strcmp(section, "standby"))
		return parse_global(cfg, key, v);
	if (!strncmp(section, "node ", 5)) {
		struct standby_node_rule *n;

		if (!valid_name(section + 5))
			return -EINVAL;
		n = node_get(cfg, section + 5);
		if (!n)
			return -E2BIG;
		if (!strcmp(key, "memory_budget"))
			return parse_size(v, &n->memory_budget);
		if (!strcmp(key, "max_images"))
			return parse_uint(v, &n->max_images);
		if (!strcmp(key, "netns"))
			return valid_name(v) ? copy_str(n->netns, sizeof(n->netns), v) : -EINVAL;
		if (!strcmp(key, "socket"))
			return socket_path_valid(v) ? copy_str(n->socket, sizeof(n->socket), v) : -EINVAL;
		return -ENOENT;
	}
	if (!strncmp(section, "app ", 4)) {
		struct standby_app_rule *a;

		if (!valid_name(section + 4))
			return -EINVAL;
		a = app_get(cfg, section + 4);
		return a ? parse_app(a, key, v) : -E2BIG;
	}
	return 0;	/* other sections belong to other parts of lifeboat */
}

static int on_line(void *user, const char *section, const char *key, const char *v)
{
	struct parse_state *ps = user;
	int r;

	if (ps->error)
		return 0;
	r = parse_section(ps->cfg, section, key, v);
	if (r == -ENOENT)
		log_error("%s: unknown key '%s' in [%s]", ps->path, key, section);
	else if (r < 0)
		log_error("%s: bad value '%s' for '%s' in [%s]", ps->path, v, key, section);
	if (r < 0)
		ps->error = -EINVAL;
	return r < 0 ? 0 : 1;
}

int standby_config_load(const char *path, struct standby_config *ret_cfg)
{
	struct standby_config *cfg;
	struct parse_state ps;
	int r;

	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	strcpy(cfg->criu, DEFAULT_CRIU);
	strcpy(cfg->image_root, DEFAULT_IMAGE_ROOT);
	strcpy(cfg->state_root, DEFAULT_STATE_ROOT);
	if (!path)
		path = getenv("LIFEBOAT_STANDBY_CONFIG");
	if (!path && access(DEFAULT_CONFIG, F_OK) == 0)
		path = DEFAULT_CONFIG;
	ps = (struct parse_state){ .cfg = cfg, .path = path };
	if (path) {
		r = ini_parse(path, on_line, &ps);
		if (r < 0) {
			free(cfg);
			return log_error_errno(-ENOENT, "cannot read config '%s'", path);
		}
		if (r > 0 && !ps.error) {
			log_error("%s: line %d: syntax error", path, r);
			ps.error = -EINVAL;
		}
		for (unsigned i = 0; i < cfg->n_apps && !ps.error; i++)
			if (!cfg->apps[i].journal[0] != !cfg->apps[i].mount[0]) {
				log_error("%s: [app %s] needs both 'journal' and 'mount', or neither",
					  path, cfg->apps[i].name);
				ps.error = -EINVAL;
			}
		if (ps.error) {
			free(cfg);
			return ps.error;
		}
	}
	*ret_cfg = *cfg;
	free(cfg);
	return 0;
}

const struct standby_app_rule *standby_config_app(const struct standby_config *cfg,
						  const char *name)
{
	for (unsigned i = 0; i < cfg->n_apps; i++)
		if (!strcmp(cfg->apps[i].name, name))
			return &cfg->apps[i];
	return NULL;
}

const struct standby_node_rule *standby_config_node(const struct standby_config *cfg,
						    const char *name)
{
	for (unsigned i = 0; i < cfg->n_nodes; i++)
		if (!strcmp(cfg->nodes[i].name, name))
			return &cfg->nodes[i];
	return NULL;
}

bool standby_name_valid(const char *name)
{
	return valid_name(name);
}
