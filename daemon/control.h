/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * control.h - lifeboatd's control socket: framing (control-wire.c), the
 * client side used by the lifeboat CLI (control-client.c) and the server
 * side of lifeboatd (control-server.c). The frame format is in
 * include/lifeboat/control-proto.h.
 */
#ifndef LIFEBOAT_CONTROL_H
#define LIFEBOAT_CONTROL_H

#include <json-c/json.h>
#include <stdint.h>
#include <sys/types.h>

#include "lifeboat/control-proto.h"

/*
 * Writes one frame with msg as body. -EMSGSIZE when the body is larger
 * than CONTROL_MSG_MAX, else 0 or the write's -errno.
 */
int control_send(int fd, struct json_object *msg);

/*
 * Reads one frame. -EPROTO for a bad magic or reserved field, -EMSGSIZE for
 * a length of 0 or above the maximum, -EPROTONOSUPPORT for another version
 * (*ret_version tells which), -EBADMSG for a body that is not a JSON object,
 * -ECONNRESET when the peer closed early. ret_version may be NULL.
 */
int control_recv(int fd, struct json_object **ret_msg, uint16_t *ret_version);

/* Sends {"ok": false, "errno": -err, "error": text}; returns err. */
int control_send_error(int fd, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Client: connects to socket_path, sends req, reads the response. A
 * response with "ok": false is returned as its negative errno with the
 * message logged; *ret_resp is then NULL. timeout_s bounds each read/write.
 */
int control_call(const char *socket_path, struct json_object *req, int timeout_s,
		 struct json_object **ret_resp);

/* The socket path: $LIFEBOAT_SOCKET, else CONTROL_SOCKET_DEFAULT. */
const char *control_socket_path(void);

/* Server: a listening socket at path (mode 0600, its directory made 0700). */
int control_listen(const char *path, int *ret_fd);

/*
 * Accepts one connection; refuses (with an error response) a caller that is
 * not uid 0 by SO_PEERCRED and returns -EPERM. ret_pid gets the caller.
 */
int control_accept(int listen_fd, int *ret_fd, pid_t *ret_pid);

#endif
