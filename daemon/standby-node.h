/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * standby-node.h - preloaded standby images on a node, the rules that place
 * them (memory budget, max standbys, priorities) and activation.
 *
 * A node's preloads live in STATE_ROOT/NODE/: NAME.json for a preload,
 * NAME.refused for the last refusal and its reason. Today every node named
 * in the config is served from this host's state root; the peer channel
 * (daemon/peer*.c) is where a remote node's lifeboatd would run the same
 * calls on its side.
 */
#ifndef LIFEBOAT_STANDBY_NODE_H
#define LIFEBOAT_STANDBY_NODE_H

#include "standby.h"

/*
 * Preloads NAME's newest image on node (mode "restored": a stopped, restored
 * set; "cache": files read into the page cache), as the rules allow.
 * -ENOSPC when a budget refused it (the reason is recorded for `ps`).
 */
int standby_node_preload(struct standby_config *cfg, const char *name, const char *node,
			 const char *mode);

int standby_node_preload_cmd(struct standby_config *cfg, int argc, char **argv);
int standby_node_ps_cmd(struct standby_config *cfg, int argc, char **argv);
int standby_node_activate_cmd(struct standby_config *cfg, int argc, char **argv);

#endif
