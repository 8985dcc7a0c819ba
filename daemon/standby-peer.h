/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * standby-peer.h - sending standby images to standby nodes over the peer
 * channel (peer.h, image.h), and the receiving side that checks and
 * preloads them. lifeboat_conf NULL means /etc/lifeboat/lifeboat.conf.
 */
#ifndef LIFEBOAT_STANDBY_PEER_H
#define LIFEBOAT_STANDBY_PEER_H

#include <stdbool.h>

#include "standby.h"

/* true if lifeboat_conf has a [peer node] section. */
bool standby_peer_known(const char *lifeboat_conf, const char *node);

/*
 * Sends NAME's newest image to peer_name; 0 once the peer has checked and
 * preloaded it, its refusal as a negative errno otherwise (logged).
 */
int standby_peer_send(const struct standby_config *cfg, const char *lifeboat_conf,
		      const char *name, const char *peer_name);

/*
 * Accepts peers on listen ("ADDR:PORT"), receives their images, refuses
 * stale, foreign or damaged ones, preloads the others on this node (its
 * lifeboat.conf name) in mode. Serves one connection if once, else forever.
 */
int standby_peer_receive(struct standby_config *cfg, const char *lifeboat_conf,
			 const char *listen, const char *mode, bool once);

#endif
