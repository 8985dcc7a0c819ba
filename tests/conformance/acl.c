// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * acl.c - POSIX ACLs as raw system.posix_acl_* xattr blobs, built from and
 * printed as the short text form "u::rwx,u:1234:r-x,g::r--,m::rw-,o::---",
 * without libacl.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "posixcmp.h"

#define ACL_XATTR_VERSION	2
#define ACL_TAG_USER_OBJ	0x01
#define ACL_TAG_USER		0x02
#define ACL_TAG_GROUP_OBJ	0x04
#define ACL_TAG_GROUP		0x08
#define ACL_TAG_MASK		0x10
#define ACL_TAG_OTHER		0x20
#define ACL_NO_ID		0xffffffffu

/* The on-disk/xattr layout, little endian (x86 only runs these tests). */
struct acl_entry {
	uint16_t tag;
	uint16_t perm;
	uint32_t id;
};

struct acl_header {
	uint32_t version;
};

static int tag_of(char c, bool has_id)
{
	switch (c) {
	case 'u':	return has_id ? ACL_TAG_USER : ACL_TAG_USER_OBJ;
	case 'g':	return has_id ? ACL_TAG_GROUP : ACL_TAG_GROUP_OBJ;
	case 'm':	return ACL_TAG_MASK;
	case 'o':	return ACL_TAG_OTHER;
	}
	return -1;
}

static int perm_of(const char *p)
{
	return (p[0] == 'r') << 2 | (p[1] == 'w') << 1 | (p[2] == 'x');
}

static int cmp_entry(const void *a, const void *b)
{
	const struct acl_entry *x = a, *y = b;

	if (x->tag != y->tag)
		return x->tag - y->tag;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Parse one "t:id:rwx" entry; returns 0 or -1. */
static int parse_entry(const char *s, struct acl_entry *e)
{
	char t, idbuf[16] = "", perm[4] = "";
	int tag;

	if (sscanf(s, "%c:%15[0-9]:%3[-rwx]", &t, idbuf, perm) != 3 &&
	    sscanf(s, "%c::%3[-rwx]", &t, perm) != 2)
		return -1;
	tag = tag_of(t, idbuf[0] != 0);
	if (tag < 0 || strlen(perm) != 3)
		return -1;
	e->tag = tag;
	e->perm = perm_of(perm);
	e->id = idbuf[0] ? (uint32_t)strtoul(idbuf, NULL, 10) : ACL_NO_ID;
	return 0;
}

/* Build the xattr blob of text, entries sorted as the kernel wants them. */
size_t pc_acl_build(void *buf, size_t size, const char *text)
{
	struct acl_header *h = buf;
	struct acl_entry *e = (struct acl_entry *)(h + 1);
	char *copy = strdup(text), *tok, *save = NULL;
	size_t n = 0, max = (size - sizeof(*h)) / sizeof(*e);

	h->version = ACL_XATTR_VERSION;
	for (tok = strtok_r(copy, ",", &save); tok && n < max;
	     tok = strtok_r(NULL, ",", &save)) {
		if (parse_entry(tok, &e[n]) == 0)
			n++;
	}
	free(copy);
	qsort(e, n, sizeof(*e), cmp_entry);
	return sizeof(*h) + n * sizeof(*e);
}

static char tag_char(uint16_t tag)
{
	switch (tag) {
	case ACL_TAG_USER_OBJ:
	case ACL_TAG_USER:	return 'u';
	case ACL_TAG_GROUP_OBJ:
	case ACL_TAG_GROUP:	return 'g';
	case ACL_TAG_MASK:	return 'm';
	case ACL_TAG_OTHER:	return 'o';
	}
	return '?';
}

static void acl_text(const struct acl_entry *e, size_t n, char *out, size_t size)
{
	size_t i, len = 0;

	out[0] = 0;
	for (i = 0; i < n && len + 32 < size; i++) {
		char id[16] = "";

		if (e[i].tag == ACL_TAG_USER || e[i].tag == ACL_TAG_GROUP)
			snprintf(id, sizeof(id), "%u", e[i].id);
		len += snprintf(out + len, size - len, "%s%c:%s:%c%c%c",
				i ? "," : "", tag_char(e[i].tag), id,
				e[i].perm & 4 ? 'r' : '-', e[i].perm & 2 ? 'w' : '-',
				e[i].perm & 1 ? 'x' : '-');
	}
}

/* Print the ACL in the named xattr (system.posix_acl_access or _default). */
void pc_acl_get(const char *path, const char *name)
{
	char buf[4096], text[1024];
	const char *what = strstr(name, "default") ? "default" : "access";
	ssize_t n = lgetxattr(path, name, buf, sizeof(buf));

	if (n < 0)
		return pc_say("acl %s %s = -1 %s", what, path,
			      pc_errname(errno));
	if ((size_t)n < sizeof(struct acl_header) ||
	    ((struct acl_header *)buf)->version != ACL_XATTR_VERSION)
		return pc_say("acl %s %s = %zd bytes, bad header", what, path, n);
	acl_text((struct acl_entry *)(buf + sizeof(struct acl_header)),
		 (n - sizeof(struct acl_header)) / sizeof(struct acl_entry),
		 text, sizeof(text));
	pc_say("acl %s %s = %s", what, path, text);
}
