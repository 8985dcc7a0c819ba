// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * control-wire.c - the frames of the control socket: a 12-byte header with
 * magic, version and a bounded length, then one JSON object.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LOG_PREFIX "control: "
#include "lifeboat/log.h"
#include "control.h"

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		/* MSG_NOSIGNAL: a peer that hung up is an error, not a SIGPIPE */
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int control_send(int fd, struct json_object *msg)
{
	struct control_header h;
	const char *body;
	size_t len;
	int r;

	body = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
	len = strlen(body);
	if (len == 0 || len > CONTROL_MSG_MAX)
		return -EMSGSIZE;
	h.magic = htonl(CONTROL_MAGIC);
	h.version = htons(CONTROL_VERSION);
	h.reserved = 0;
	h.length = htonl((uint32_t)len);
	r = write_all(fd, &h, sizeof(h));
	if (r < 0)
		return r;
	return write_all(fd, body, len);
}

static int parse_body(const char *body, size_t len, struct json_object **ret_msg)
{
	struct json_tokener *tok;
	struct json_object *obj;

	if (memchr(body, '\0', len))
		return -EBADMSG;
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	obj = json_tokener_parse_ex(tok, body, (int)len);
	/* exactly one object and nothing after it */
	if (!obj || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len || !json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		json_tokener_free(tok);
		return -EBADMSG;
	}
	json_tokener_free(tok);
	*ret_msg = obj;
	return 0;
}

int control_recv(int fd, struct json_object **ret_msg, uint16_t *ret_version)
{
	struct control_header h;
	uint32_t len;
	char *body;
	int r;

	r = read_all(fd, &h, sizeof(h));
	if (r < 0)
		return r;
	if (ntohl(h.magic) != CONTROL_MAGIC || h.reserved != 0)
		return -EPROTO;
	if (ret_version)
		*ret_version = ntohs(h.version);
	if (ntohs(h.version) != CONTROL_VERSION)
		return -EPROTONOSUPPORT;
	len = ntohl(h.length);
	if (len == 0 || len > CONTROL_MSG_MAX)
		return -EMSGSIZE;
	body = malloc(len);
	if (!body)
		return -ENOMEM;
	r = read_all(fd, body, len);
	if (r == 0)
		r = parse_body(body, len, ret_msg);
	free(body);
	return r;
}

int control_send_error(int fd, int err, const char *fmt, ...)
{
	struct json_object *msg;
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	msg = json_object_new_object();
	if (!msg)
		return err;
	json_object_object_add(msg, "ok", json_object_new_boolean(0));
	json_object_object_add(msg, "errno", json_object_new_int(abs(err)));
	json_object_object_add(msg, "error", json_object_new_string(text));
	(void)control_send(fd, msg);
	json_object_put(msg);
	return err;
}
