/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * config.h - lifeboatd's configuration, /etc/lifeboat/lifeboat.conf (INI):
 *
 *   [node]
 *   name = a                         # required: this node's name
 *   listen = 0.0.0.0:7890            # peer channel address (handoff)
 *   control_socket = /run/lifeboat/control.sock
 *   state_dir = /var/lib/lifeboat    # images under state_dir/images/NAME
 *   log_dir = /var/log/lifeboat      # process set logs NAME.stdout/.stderr
 *   cgroup_parent = lifeboat         # cgroup v1 dir under each hierarchy
 *   stop_timeout = 10                # s from SIGTERM to SIGKILL at stop
 *   criu_timeout = 120               # s watchdog on every libcriu call
 *   criu_log_level = 2               # 0..4, CRIU's own logs in the image dir
 *   criu = /usr/local/lib/lifeboat/criu/sbin/criu   # the default (install-criu.sh)
 *   cert = ... key = ... ca = ...    # PEM files: mutual TLS certificates
 *
 *   [peer b]                         # one section per peer node
 *   address = 192.0.2.2:7890         # required
 *   psk = <64 hex digits>            # or psk_file = PATH (the hex in a file)
 *
 *   [mount data]                     # one section per lifeboatfs mount
 *   path = /srv/app                  # required: the mountpoint
 *   store = /srv/store
 *   journal = file:///var/lib/lifeboat/app.journal   # or iscsi://...
 *   status = /run/lifeboat/srv-app.status
 *
 * Every error names FILE:LINE and the section or key at fault; a config
 * with any error is refused as a whole.
 */
#ifndef LIFEBOAT_CONFIG_H
#define LIFEBOAT_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#define CONFIG_DEFAULT_PATH "/etc/lifeboat/lifeboat.conf"
#define CONFIG_NAME_MAX 63
#define CONFIG_PEERS_MAX 16
#define CONFIG_MOUNTS_MAX 32
#define CONFIG_PSK_HEX_LEN 64

struct config_peer {
	char name[CONFIG_NAME_MAX + 1];
	char host[256];		/* address without the port; IPv6 without brackets */
	uint16_t port;
	char psk_hex[CONFIG_PSK_HEX_LEN + 1];	/* empty: certificates */
};

struct config_mount {
	char name[CONFIG_NAME_MAX + 1];
	char path[PATH_MAX];
	char store[PATH_MAX];
	char journal[PATH_MAX];
	char status[PATH_MAX];
};

struct config {
	char node_name[CONFIG_NAME_MAX + 1];
	char listen_host[256];	/* empty: no peer listener */
	uint16_t listen_port;
	char control_socket[108];
	char state_dir[PATH_MAX];
	char log_dir[PATH_MAX];
	char cgroup_parent[CONFIG_NAME_MAX + 1];
	unsigned stop_timeout_s;
	unsigned criu_timeout_s;
	unsigned criu_log_level;
	char criu_bin[PATH_MAX];	/* empty: the build's default */
	char cert_file[PATH_MAX];
	char key_file[PATH_MAX];
	char ca_file[PATH_MAX];
	struct config_peer peers[CONFIG_PEERS_MAX];
	unsigned n_peers;
	struct config_mount mounts[CONFIG_MOUNTS_MAX];
	unsigned n_mounts;
};

/*
 * Reads and checks path into *ret (filled with defaults first). Logs every
 * error as "PATH:LINE: ..." and returns -EINVAL (or the open's -errno);
 * *ret is untouched on failure.
 */
int config_load(const char *path, struct config *ret);

/* The peer named name, or NULL. */
const struct config_peer *config_find_peer(const struct config *c, const char *name);

/* true for 1..CONFIG_NAME_MAX of [A-Za-z0-9_.-], not "." or "..". */
bool config_name_valid(const char *name);

#endif
