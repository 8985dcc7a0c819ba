/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * altread-proto.h - the alternate read path between lifeboatfs and the
 * local lifeboatd (a unix stream socket, state_dir/altread.sock, mode 0600).
 *
 * While a mount absorbs, a read its overlay cannot answer is asked here:
 * lifeboatd forwards it to its peer over the authenticated channel
 * (PEER_MSG_ALT_READ), the peer reads the bytes from its own mount of the
 * same store, and the answer comes back. One request per connection.
 *
 *   lifeboatfs -> lifeboatd: struct altread_req, mount path, store path
 *   lifeboatd -> lifeboatfs: struct altread_reply, then length data bytes
 *
 * Both ends are on one host: integers in host order. lifeboatd still checks
 * every length (a local process may write anything to the socket).
 */
#ifndef LIFEBOAT_ALTREAD_PROTO_H
#define LIFEBOAT_ALTREAD_PROTO_H

#include <stdint.h>

#define ALTREAD_MAGIC UINT32_C(0x4452414c)	/* "LARD" */
#define ALTREAD_VERSION 1
#define ALTREAD_SOCKET_NAME "altread.sock"	/* in lifeboatd's state_dir */
#define ALTREAD_LEN_MAX (1u << 20)	/* data bytes of one read */
#define ALTREAD_PATH_MAX 4095u		/* mount and store paths */

struct altread_req {
	uint32_t magic;
	uint16_t version;
	uint16_t reserved;
	uint32_t mount_len;	/* the mount point, absolute, as configured */
	uint32_t path_len;	/* relative to the store root: "a/b" */
	uint64_t offset;
	uint32_t length;	/* <= ALTREAD_LEN_MAX */
	uint32_t reserved2;
	uint64_t ino;		/* the store's inode number of the file, as the mount knows it */
};

struct altread_reply {
	uint32_t magic;
	uint32_t err;		/* 0, or a positive errno: not answered */
	uint32_t length;	/* data bytes that follow (short at end of file) */
	uint32_t reserved;
};

#endif
