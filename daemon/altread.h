/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * altread.h - the alternate read path in lifeboatd (see
 * include/lifeboat/altread-proto.h): the asking side forwards its mounts'
 * reads to the peer; the serving side answers them from its own mounts.
 */
#ifndef LIFEBOAT_ALTREAD_H
#define LIFEBOAT_ALTREAD_H

#include <stdbool.h>
#include <stddef.h>

#include "peer.h"

struct lifeboatd;

/*
 * Listens on state_dir/altread.sock and forwards every read to the first
 * configured peer, on a thread of its own (so a daemon busy with a handoff
 * still answers). 0, or -errno; no peer configured is 0 (nothing to do).
 */
int altread_start(struct lifeboatd *d);

struct altread_mount {
	const char *path;	/* the mount point, as configured */
	bool absorbing;		/* its own path fails: a read would wait */
};

/*
 * Answers the ALT_READ just received on conn (payload p, len bytes): reads
 * the file beneath one of mounts, read-only, no "..", no symlinks, regular
 * files only. Anything else is refused with ERROR, and so is a read of a
 * mount that absorbs (it would hold this node's only thread). Returns 0 or
 * -errno.
 */
int altread_serve(struct peer_conn *conn, const uint8_t *p, size_t len,
		  const struct altread_mount *mounts, size_t n_mounts);

struct config;

/*
 * Takes conn, whose first message (p, len) is an ALT_READ, for a thread
 * that answers it and the next reads on conn (lifeboatd, altread-node.c).
 * 0: the thread owns conn now; 1: answered here, the caller frees conn;
 * -errno: failed, the caller frees conn.
 */
int altread_node_take(const struct config *cfg, struct peer_conn *conn, const uint8_t *p, size_t len);

#endif
