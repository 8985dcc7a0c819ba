// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * control-client.c - the lifeboat CLI's side of the control socket: one
 * request, one response per connection.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define LOG_PREFIX ""
#include "lifeboat/log.h"
#include "control.h"

const char *control_socket_path(void)
{
	const char *p = getenv("LIFEBOAT_SOCKET");

	return p && *p ? p : CONTROL_SOCKET_DEFAULT;
}

static int connect_socket(const char *path, int timeout_s, int *ret_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = timeout_s };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return log_error_errno(-ENAMETOOLONG, "control socket path '%s' too long", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_error_errno(-errno, "cannot create a unix socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return log_error_errno(r, "cannot connect to lifeboatd at '%s'", path);
	}
	*ret_fd = fd;
	return 0;
}

int control_call(const char *socket_path, struct json_object *req, int timeout_s,
		 struct json_object **ret_resp)
{
	struct json_object *resp = NULL, *v;
	uint16_t version = 0;
	int fd = -1, r;

	r = connect_socket(socket_path, timeout_s, &fd);
	if (r < 0)
		return r;
	r = control_send(fd, req);
	/* a refusing lifeboatd answers and hangs up before reading: read it */
	if (r < 0 && r != -EPIPE && r != -ECONNRESET) {
		close(fd);
		return log_error_errno(r, "cannot send the request to lifeboatd");
	}
	r = control_recv(fd, &resp, &version);
	close(fd);
	if (r == -EPROTONOSUPPORT)
		return log_error_errno(r, "lifeboatd answered with control protocol version %u, we speak %u",
				       version, CONTROL_VERSION);
	if (r < 0)
		return log_error_errno(r, "no valid response from lifeboatd");
	if (json_object_object_get_ex(resp, "ok", &v) && json_object_get_boolean(v)) {
		*ret_resp = resp;
		return 0;
	}
	r = json_object_object_get_ex(resp, "errno", &v) ? -abs(json_object_get_int(v)) : -EIO;
	if (r == 0)
		r = -EIO;
	log_error("%s", json_object_object_get_ex(resp, "error", &v) ? json_object_get_string(v)
								      : "lifeboatd refused the request");
	json_object_put(resp);
	return r;
}
