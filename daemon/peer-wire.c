// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * peer-wire.c - building and reading peer message payloads (little-endian
 * integers, u16-length strings). Errors stick, so a decoder reads every
 * field and checks once at the end.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "peer.h"

int wire_out_init(struct wire_out *w, size_t cap)
{
	*w = (struct wire_out){ .cap = cap };
	w->buf = malloc(cap ? cap : 1);
	if (!w->buf)
		return -ENOMEM;
	return 0;
}

void wire_out_free(struct wire_out *w)
{
	free(w->buf);
	w->buf = NULL;
}

void wire_put_bytes(struct wire_out *w, const void *p, size_t n)
{
	if (w->err)
		return;
	if (n > w->cap - w->len) {
		w->err = -EMSGSIZE;
		return;
	}
	if (n)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void wire_put_u16(struct wire_out *w, uint16_t v)
{
	v = htole16(v);
	wire_put_bytes(w, &v, sizeof(v));
}

void wire_put_u32(struct wire_out *w, uint32_t v)
{
	v = htole32(v);
	wire_put_bytes(w, &v, sizeof(v));
}

void wire_put_u64(struct wire_out *w, uint64_t v)
{
	v = htole64(v);
	wire_put_bytes(w, &v, sizeof(v));
}

void wire_put_str(struct wire_out *w, const char *s)
{
	size_t n = strlen(s);

	if (n > UINT16_MAX) {
		w->err = -EMSGSIZE;
		return;
	}
	wire_put_u16(w, (uint16_t)n);
	wire_put_bytes(w, s, n);
}

int wire_put_done(struct wire_out *w)
{
	return w->err;
}

void wire_in_init(struct wire_in *r, const uint8_t *p, size_t len)
{
	*r = (struct wire_in){ .p = p, .left = len };
}

static const uint8_t *wire_take(struct wire_in *r, size_t n)
{
	const uint8_t *p = r->p;

	if (r->err || n > r->left) {
		r->err = -EBADMSG;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return p;
}

uint16_t wire_get_u16(struct wire_in *r)
{
	const uint8_t *p = wire_take(r, 2);
	uint16_t v;

	if (!p)
		return 0;
	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

uint32_t wire_get_u32(struct wire_in *r)
{
	const uint8_t *p = wire_take(r, 4);
	uint32_t v;

	if (!p)
		return 0;
	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

uint64_t wire_get_u64(struct wire_in *r)
{
	const uint8_t *p = wire_take(r, 8);
	uint64_t v;

	if (!p)
		return 0;
	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

void wire_get_str(struct wire_in *r, char *buf, size_t max)
{
	uint16_t n = wire_get_u16(r);
	const uint8_t *p;

	buf[0] = '\0';
	if (r->err)
		return;
	if (n > max) {
		r->err = -EBADMSG;
		return;
	}
	p = wire_take(r, n);
	if (!p)
		return;
	/* no NUL, and no control character: peer strings end up in logs */
	for (uint16_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] == 0x7f) {
			r->err = -EBADMSG;
			return;
		}
	memcpy(buf, p, n);
	buf[n] = '\0';
}

const uint8_t *wire_get_rest(struct wire_in *r, size_t *ret_len)
{
	const uint8_t *p = r->p;

	*ret_len = r->err ? 0 : r->left;
	r->p += *ret_len;
	r->left -= *ret_len;
	return p;
}

int wire_get_done(struct wire_in *r)
{
	if (r->err || r->left)
		return -EBADMSG;
	return 0;
}
