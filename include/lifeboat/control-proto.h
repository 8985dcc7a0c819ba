/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * control-proto.h - the framing of lifeboatd's local control socket.
 *
 * A unix stream socket (default /run/lifeboat/control.sock, mode 0600),
 * root only: lifeboatd checks every caller with SO_PEERCRED and refuses any
 * uid but 0 before reading a byte. One request and one response per
 * connection, each one frame:
 *
 *   offset  size  field
 *   0       4     magic    CONTROL_MAGIC, big endian
 *   4       2     version  CONTROL_VERSION, big endian
 *   6       2     reserved must be 0
 *   8       4     length   of the body, big endian, 1..CONTROL_MSG_MAX
 *   12      len   body     one JSON object, UTF-8, no NUL
 *
 * Request:  {"op": "<op>", ...arguments}
 * Response: {"ok": true, ...results} or
 *           {"ok": false, "errno": <positive errno>, "error": "<message>"}
 *
 * Ops (arguments -> results):
 *   ping       -> node, version, procsets
 *   run        name, argv[], cwd, env[], service_ip?, paused? -> name, pid,
 *              cmd_pid (paused only: the command, stopped before its exec,
 *              for `lifeboat run --standby-on` to seize and trace)
 *   ps         -> procsets[] {name, state, pid, argv[], cwd, service_ip,
 *                 started, cpu_ns, memory_bytes, exit_status}
 *   stop       name, timeout_s? -> name, exit_status
 *   checkpoint name, dir?, leave_running? -> dir, freeze_us, sync_us, dump_us
 *   restore    name?, dir?, standby? -> name, pid, restore_us (standby: a
 *              warm-standby image, held stopped until `activate`; `ps` shows
 *              it with "standby": true)
 *   activate   name -> name, pid, activate_us (SIGCONT to a held standby)
 *   migrate    name, peer -> results of the handoff
 *
 * A frame of another version is answered with a frame of our version:
 * {"ok": false, "errno": EPROTONOSUPPORT, ...}. Bad magic, a reserved field
 * that is not 0, a length of 0 or above CONTROL_MSG_MAX, or a body that is
 * not one JSON object: the connection is closed after an error response
 * (when the header could be read) and nothing is done.
 *
 * Version history:
 *   1 (0.1.0) first version; later compatible additions: run paused,
 *     restore standby, activate (issue 6).
 */
#ifndef LIFEBOAT_CONTROL_PROTO_H
#define LIFEBOAT_CONTROL_PROTO_H

#include <stdint.h>

#define CONTROL_MAGIC 0x4c42434fu	/* "LBCO" */
#define CONTROL_VERSION 1u
#define CONTROL_HEADER_SIZE 12u
#define CONTROL_MSG_MAX (256u * 1024u)	/* bytes of JSON body */

#define CONTROL_SOCKET_DEFAULT "/run/lifeboat/control.sock"

/* Bounds on what a request may ask for (checked by lifeboatd). */
#define CONTROL_NAME_MAX 63		/* process set names: [A-Za-z0-9_.-], not "." or ".." */
#define CONTROL_ARGV_MAX 1024		/* arguments of `run` */
#define CONTROL_ENV_MAX 1024		/* environment entries of `run` */

struct control_header {
	uint32_t magic;
	uint16_t version;
	uint16_t reserved;
	uint32_t length;
} __attribute__((packed));

#endif
