/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * handoff-node.h - the hooks lifeboatd calls for handoffs (handoff-node.c;
 * lifeboatd_migrate() itself is declared in lifeboatd.h).
 */
#ifndef LIFEBOAT_HANDOFF_NODE_H
#define LIFEBOAT_HANDOFF_NODE_H

struct lifeboatd;

/* How often lifeboatd should call handoff_node_watch(), at most. */
#define HANDOFF_WATCH_MS 100

/*
 * Opens the peer listener of [node] listen. 1 and *ret_fd when listening,
 * 0 when no listen address is configured, or -errno.
 */
int handoff_node_listen(struct lifeboatd *d, int *ret_fd);

/* listen_fd is readable: serves one incoming handoff (blocks until done). */
int handoff_node_accept(struct lifeboatd *d, int listen_fd);

/*
 * Reads the status file of every configured mount; when one is absorbing
 * (its path failed), hands every running process set off to the first
 * configured peer (again at most every 5 s while it stays absorbing).
 */
void handoff_node_watch(struct lifeboatd *d);

#endif
