// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-control-wire.c tests the control socket frames (daemon/control-wire.c):
 * a round trip, and every bound: magic, version, reserved field, length,
 * body that is not exactly one JSON object, a peer that closes early.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"

static int sk[2];

static int setup(void **state)
{
	(void)state;
	return socketpair(AF_UNIX, SOCK_STREAM, 0, sk);
}

static int teardown(void **state)
{
	(void)state;
	close(sk[0]);
	close(sk[1]);
	return 0;
}

static void send_raw(uint32_t magic, uint16_t version, uint16_t reserved, uint32_t len, const char *body)
{
	struct control_header h = { htonl(magic), htons(version), htons(reserved), htonl(len) };

	assert_int_equal(write(sk[0], &h, sizeof(h)), sizeof(h));
	if (body)
		assert_int_equal(write(sk[0], body, strlen(body)), (ssize_t)strlen(body));
}

static int recv_one(uint16_t *version)
{
	struct json_object *o = NULL;
	int r = control_recv(sk[1], &o, version);

	json_object_put(o);
	return r;
}

static void test_round_trip(void **state)
{
	struct json_object *o = json_object_new_object(), *got = NULL, *v;
	uint16_t version = 0;

	(void)state;
	json_object_object_add(o, "op", json_object_new_string("ping"));
	assert_int_equal(control_send(sk[0], o), 0);
	assert_int_equal(control_recv(sk[1], &got, &version), 0);
	assert_int_equal(version, CONTROL_VERSION);
	assert_true(json_object_object_get_ex(got, "op", &v));
	assert_string_equal(json_object_get_string(v), "ping");
	json_object_put(o);
	json_object_put(got);
}

static void test_bad_header(void **state)
{
	(void)state;
	send_raw(0x11223344, CONTROL_VERSION, 0, 2, "{}");
	assert_int_equal(recv_one(NULL), -EPROTO);
}

static void test_reserved(void **state)
{
	(void)state;
	send_raw(CONTROL_MAGIC, CONTROL_VERSION, 1, 2, "{}");
	assert_int_equal(recv_one(NULL), -EPROTO);
}

static void test_version(void **state)
{
	uint16_t version = 0;

	(void)state;
	send_raw(CONTROL_MAGIC, 7, 0, 2, "{}");
	assert_int_equal(recv_one(&version), -EPROTONOSUPPORT);
	assert_int_equal(version, 7);
}

static void test_lengths(void **state)
{
	(void)state;
	send_raw(CONTROL_MAGIC, CONTROL_VERSION, 0, 0, NULL);
	assert_int_equal(recv_one(NULL), -EMSGSIZE);
	send_raw(CONTROL_MAGIC, CONTROL_VERSION, 0, CONTROL_MSG_MAX + 1, NULL);
	assert_int_equal(recv_one(NULL), -EMSGSIZE);
}

static void test_bodies(void **state)
{
	static const char *const bad[] = { "[1,2]", "{} {}", "{\"a\":1", "\"str\"", "nul" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		send_raw(CONTROL_MAGIC, CONTROL_VERSION, 0, (uint32_t)strlen(bad[i]), bad[i]);
		assert_int_equal(recv_one(NULL), -EBADMSG);
	}
	/* a NUL inside the body */
	send_raw(CONTROL_MAGIC, CONTROL_VERSION, 0, 4, NULL);
	assert_int_equal(write(sk[0], "{}\0x", 4), 4);
	assert_int_equal(recv_one(NULL), -EBADMSG);
}

static void test_short(void **state)
{
	(void)state;
	send_raw(CONTROL_MAGIC, CONTROL_VERSION, 0, 10, "{}");
	shutdown(sk[0], SHUT_WR);
	assert_int_equal(recv_one(NULL), -ECONNRESET);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reserved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bodies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
