// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * config.c - parse and check lifeboat.conf with inih. inih does not hand
 * the line number to the handler, so a line-counting reader feeds it and
 * every message names FILE:LINE.
 */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_PREFIX "config: "
#include "lifeboat/log.h"
#include "config.h"

enum section_kind { SEC_NONE, SEC_NODE, SEC_PEER, SEC_MOUNT };

struct parse_state {
	const char *path;
	FILE *f;
	unsigned line;
	unsigned errors;
	char section[CONFIG_NAME_MAX + 16];	/* the section being filled */
	bool section_bad;			/* its header was refused */
	struct config *c;
	bool seen_node;
};

/* Logs "FILE:LINE: message", counts it, and returns 0 (inih's "error"). */
static int parse_error(struct parse_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int parse_error(struct parse_state *st, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s:%u: %s", st->path, st->line, msg);
	st->errors++;
	return 0;
}

static int open_section(struct parse_state *st, const char *section);

/*
 * inih's reader: counts lines, and opens each [section] on its own line
 * (inih only reports sections through their keys, so an empty or unknown
 * section would otherwise pass unseen, or be blamed on its first key).
 */
static char *read_line(char *str, int num, void *stream)
{
	struct parse_state *st = stream;
	char *r = fgets(str, num, st->f);
	const char *p, *end;
	char name[sizeof(st->section)];

	if (!r)
		return r;
	st->line++;
	p = r + strspn(r, " \t");
	end = strchr(p, ']');
	if (*p == '[' && end && (size_t)(end - p - 1) < sizeof(name)) {
		memcpy(name, p + 1, (size_t)(end - p - 1));
		name[end - p - 1] = '\0';
		open_section(st, name);
	}
	return r;
}

bool config_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > CONFIG_NAME_MAX || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
			return false;
	return true;
}

static int set_string(struct parse_state *st, const char *key, const char *value, char *dst, size_t size)
{
	if (strlen(value) >= size)
		return parse_error(st, "value of '%s' too long (at most %zu bytes)", key, size - 1);
	strcpy(dst, value);
	return 1;
}

static int set_abs_path(struct parse_state *st, const char *key, const char *value, char *dst, size_t size)
{
	if (value[0] != '/')
		return parse_error(st, "'%s' must be an absolute path, not '%s'", key, value);
	return set_string(st, key, value, dst, size);
}

static int set_uint(struct parse_state *st, const char *key, const char *value, unsigned min, unsigned max,
		    unsigned *dst)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(value, &end, 10);
	if (errno || end == value || *end || !isdigit((unsigned char)value[0]) || v < min || v > max)
		return parse_error(st, "'%s' must be a number from %u to %u, not '%s'", key, min, max, value);
	*dst = (unsigned)v;
	return 1;
}

/* "host:port", "[v6]:port" */
static int set_host_port(struct parse_state *st, const char *key, const char *value, char *host, size_t size,
			 uint16_t *port)
{
	const char *colon = strrchr(value, ':');
	const char *h = value;
	size_t hlen;
	unsigned p;

	if (!colon || colon == value)
		return parse_error(st, "'%s' must be HOST:PORT, not '%s'", key, value);
	hlen = (size_t)(colon - value);
	if (value[0] == '[') {
		if (hlen < 3 || value[hlen - 1] != ']')
			return parse_error(st, "'%s': bad IPv6 address in '%s'", key, value);
		h++;
		hlen -= 2;
	}
	if (hlen >= size)
		return parse_error(st, "'%s': host too long in '%s'", key, value);
	if (!set_uint(st, key, colon + 1, 1, 65535, &p))
		return 0;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (uint16_t)p;
	return 1;
}

static int check_psk(struct parse_state *st, const char *key, const char *hex, char *dst)
{
	size_t n = strlen(hex);

	while (n > 0 && isspace((unsigned char)hex[n - 1]))
		n--;
	if (n != CONFIG_PSK_HEX_LEN)
		return parse_error(st, "'%s' must be %u hex digits (a 32-byte key), found %zu characters", key,
				   CONFIG_PSK_HEX_LEN, n);
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)hex[i]))
			return parse_error(st, "'%s' must be hex digits only", key);
	memcpy(dst, hex, n);
	dst[n] = '\0';
	return 1;
}

static int read_psk_file(struct parse_state *st, const char *key, const char *path, char *dst)
{
	char buf[CONFIG_PSK_HEX_LEN + 8] = "";
	FILE *f;

	if (path[0] != '/')
		return parse_error(st, "'%s' must be an absolute path, not '%s'", key, path);
	f = fopen(path, "re");
	if (!f)
		return parse_error(st, "'%s': cannot read '%s': %s", key, path, strerror(errno));
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return check_psk(st, key, buf, dst);
}

static int node_key(struct parse_state *st, const char *key, const char *v)
{
	struct config *c = st->c;

	if (!strcmp(key, "name")) {
		if (!config_name_valid(v))
			return parse_error(st, "'name' must be 1-%u of A-Z a-z 0-9 _ . -, not '%s'", CONFIG_NAME_MAX, v);
		return set_string(st, key, v, c->node_name, sizeof(c->node_name));
	}
	if (!strcmp(key, "listen"))
		return set_host_port(st, key, v, c->listen_host, sizeof(c->listen_host), &c->listen_port);
	if (!strcmp(key, "control_socket"))
		return set_abs_path(st, key, v, c->control_socket, sizeof(c->control_socket));
	if (!strcmp(key, "state_dir"))
		return set_abs_path(st, key, v, c->state_dir, sizeof(c->state_dir));
	if (!strcmp(key, "log_dir"))
		return set_abs_path(st, key, v, c->log_dir, sizeof(c->log_dir));
	if (!strcmp(key, "cgroup_parent")) {
		if (!config_name_valid(v))
			return parse_error(st, "'cgroup_parent' must be one directory name, not '%s'", v);
		return set_string(st, key, v, c->cgroup_parent, sizeof(c->cgroup_parent));
	}
	if (!strcmp(key, "stop_timeout"))
		return set_uint(st, key, v, 1, 3600, &c->stop_timeout_s);
	if (!strcmp(key, "criu_timeout"))
		return set_uint(st, key, v, 1, 3600, &c->criu_timeout_s);
	if (!strcmp(key, "criu_log_level"))
		return set_uint(st, key, v, 0, 4, &c->criu_log_level);
	if (!strcmp(key, "criu"))
		return set_abs_path(st, key, v, c->criu_bin, sizeof(c->criu_bin));
	if (!strcmp(key, "cert"))
		return set_abs_path(st, key, v, c->cert_file, sizeof(c->cert_file));
	if (!strcmp(key, "key"))
		return set_abs_path(st, key, v, c->key_file, sizeof(c->key_file));
	if (!strcmp(key, "ca"))
		return set_abs_path(st, key, v, c->ca_file, sizeof(c->ca_file));
	return parse_error(st, "unknown key '%s' in section [node]", key);
}

static int peer_key(struct parse_state *st, struct config_peer *p, const char *key, const char *v)
{
	if (!strcmp(key, "address"))
		return set_host_port(st, key, v, p->host, sizeof(p->host), &p->port);
	if (!strcmp(key, "psk"))
		return check_psk(st, key, v, p->psk_hex);
	if (!strcmp(key, "psk_file"))
		return read_psk_file(st, key, v, p->psk_hex);
	return parse_error(st, "unknown key '%s' in section [peer %s]", key, p->name);
}

static int mount_key(struct parse_state *st, struct config_mount *m, const char *key, const char *v)
{
	if (!strcmp(key, "path"))
		return set_abs_path(st, key, v, m->path, sizeof(m->path));
	if (!strcmp(key, "store"))
		return set_abs_path(st, key, v, m->store, sizeof(m->store));
	if (!strcmp(key, "journal")) {
		if (strncmp(v, "file:///", 8) && strncmp(v, "iscsi://", 8) && v[0] != '/')
			return parse_error(st, "'journal' must be a path, file:///PATH or iscsi://..., not '%s'", v);
		return set_string(st, key, v, m->journal, sizeof(m->journal));
	}
	if (!strcmp(key, "status"))
		return set_abs_path(st, key, v, m->status, sizeof(m->status));
	return parse_error(st, "unknown key '%s' in section [mount %s]", key, m->name);
}

/* "peer b" -> SEC_PEER, "b" */
static enum section_kind split_section(const char *section, const char **ret_name)
{
	static const struct {
		const char *word;
		enum section_kind kind;
	} kinds[] = { { "peer", SEC_PEER }, { "mount", SEC_MOUNT } };

	*ret_name = NULL;
	if (!strcmp(section, "node"))
		return SEC_NODE;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t n = strlen(kinds[i].word);

		if (!strncmp(section, kinds[i].word, n) && section[n] == ' ') {
			*ret_name = section + n + 1;
			return kinds[i].kind;
		}
	}
	return SEC_NONE;
}

/* Called at a section's header line: makes its entry. */
static int open_section_entry(struct parse_state *st, const char *section)
{
	struct config *c = st->c;
	const char *name;
	enum section_kind kind = split_section(section, &name);

	snprintf(st->section, sizeof(st->section), "%s", section);
	if (kind == SEC_NONE)
		return parse_error(st, "unknown section [%s] (expected [node], [peer NAME] or [mount NAME])", section);
	if (kind == SEC_NODE) {
		if (st->seen_node)
			return parse_error(st, "section [node] appears twice");
		st->seen_node = true;
		return 1;
	}
	if (!config_name_valid(name))
		return parse_error(st, "bad name in section [%s]: 1-%u of A-Z a-z 0-9 _ . -", section, CONFIG_NAME_MAX);
	if (kind == SEC_PEER) {
		if (config_find_peer(c, name))
			return parse_error(st, "section [peer %s] appears twice", name);
		if (c->n_peers == CONFIG_PEERS_MAX)
			return parse_error(st, "more than %u peers", CONFIG_PEERS_MAX);
		strcpy(c->peers[c->n_peers++].name, name);
		return 1;
	}
	for (unsigned i = 0; i < c->n_mounts; i++)
		if (!strcmp(c->mounts[i].name, name))
			return parse_error(st, "section [mount %s] appears twice", name);
	if (c->n_mounts == CONFIG_MOUNTS_MAX)
		return parse_error(st, "more than %u mounts", CONFIG_MOUNTS_MAX);
	strcpy(c->mounts[c->n_mounts++].name, name);
	return 1;
}

static int open_section(struct parse_state *st, const char *section)
{
	int r = open_section_entry(st, section);

	st->section_bad = r == 0;
	return r;
}

static int handle_key(void *user, const char *section, const char *key, const char *value)
{
	struct parse_state *st = user;
	const char *name;
	enum section_kind kind;

	if (!section[0])
		return parse_error(st, "key '%s' outside of any section", key);
	if (strcmp(section, st->section) || st->section_bad)
		return 0;	/* a bad section, reported at its header */
	kind = split_section(section, &name);
	switch (kind) {
	case SEC_NODE:
		return node_key(st, key, value);
	case SEC_PEER:
		return peer_key(st, &st->c->peers[st->c->n_peers - 1], key, value);
	case SEC_MOUNT:
		return mount_key(st, &st->c->mounts[st->c->n_mounts - 1], key, value);
	default:
		return 0;	/* reported when the section opened */
	}
}

static void set_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->control_socket, "/run/lifeboat/control.sock");
	strcpy(c->state_dir, "/var/lib/lifeboat");
	strcpy(c->log_dir, "/var/log/lifeboat");
	strcpy(c->cgroup_parent, "lifeboat");
	c->stop_timeout_s = 10;
	c->criu_timeout_s = 120;
	c->criu_log_level = 2;
}

/* Checks that need the whole file: required keys, certificates all or none. */
static void check_complete(struct parse_state *st)
{
	struct config *c = st->c;
	unsigned certs = !!c->cert_file[0] + !!c->key_file[0] + !!c->ca_file[0];

	st->line = 0;
	if (!c->node_name[0])
		log_error("%s: [node] 'name' is required", st->path), st->errors++;
	if (certs != 0 && certs != 3)
		log_error("%s: [node] 'cert', 'key' and 'ca' go together: set all three or none", st->path),
			st->errors++;
	for (unsigned i = 0; i < c->n_peers; i++) {
		if (!c->peers[i].host[0])
			log_error("%s: [peer %s] 'address' is required", st->path, c->peers[i].name), st->errors++;
		if (!c->peers[i].psk_hex[0] && certs != 3)
			log_error("%s: [peer %s] needs 'psk' or 'psk_file' (or [node] cert/key/ca)", st->path,
				  c->peers[i].name), st->errors++;
		if (!strcmp(c->peers[i].name, c->node_name))
			log_error("%s: [peer %s] has this node's own name", st->path, c->peers[i].name), st->errors++;
	}
	for (unsigned i = 0; i < c->n_mounts; i++)
		if (!c->mounts[i].path[0])
			log_error("%s: [mount %s] 'path' is required", st->path, c->mounts[i].name), st->errors++;
}

int config_load(const char *path, struct config *ret)
{
	struct config *c = calloc(1, sizeof(*c));
	struct parse_state st = { .path = path, .c = c };
	int r;

	if (!c)
		return -ENOMEM;
	set_defaults(c);
	st.f = fopen(path, "re");
	if (!st.f) {
		r = -errno;
		free(c);
		return log_error_errno(r, "cannot open '%s'", path);
	}
	r = ini_parse_stream(read_line, &st, handle_key, &st);
	fclose(st.f);
	if (r > 0 && st.errors == 0) {
		/* inih's own complaint: no handler call, so the syntax */
		log_error("%s:%d: syntax error (expected [section], key = value or a ; comment)", path, r);
		st.errors++;
	} else if (r < 0) {
		log_error("%s: cannot parse (out of memory)", path);
		st.errors++;
	}
	if (st.errors == 0)
		check_complete(&st);
	if (st.errors) {
		free(c);
		return -EINVAL;
	}
	*ret = *c;
	free(c);
	return 0;
}

const struct config_peer *config_find_peer(const struct config *c, const char *name)
{
	for (unsigned i = 0; i < c->n_peers; i++)
		if (!strcmp(c->peers[i].name, name))
			return &c->peers[i];
	return NULL;
}
