// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * journal-record.c - the record codec: checks, encodes and decodes one
 * journal record as laid out in journal-format.h. No I/O, no state: the
 * same codec serves every journal device.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/xattr.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "lifeboat/journal.h"

enum aux_kind { AUX_NONE, AUX_PATH2, AUX_TARGET, AUX_NAME };
enum data_kind { DATA_NONE, DATA_WRITE, DATA_XATTR };

/* Numeric fields a type carries; the others are encoded as zero. */
#define F_OFFSET (1u << 0)
#define F_LENGTH (1u << 1)
#define F_SIZE (1u << 2)
#define F_RDEV (1u << 3)
#define F_TIMES (1u << 4)
#define F_MODE (1u << 5)
#define F_OWNER (1u << 6)
#define F_FLAGS (1u << 7)
#define F_INO (1u << 8)

struct type_desc {
	const char *name;
	enum aux_kind aux;
	enum data_kind data;
	unsigned fields;
};

static const struct type_desc type_descs[JOURNAL_TYPE_MAX + 1] = {
	[JOURNAL_WRITE] = { "WRITE", AUX_NONE, DATA_WRITE, F_OFFSET },
	[JOURNAL_TRUNCATE] = { "TRUNCATE", AUX_NONE, DATA_NONE, F_SIZE },
	[JOURNAL_FALLOCATE] = { "FALLOCATE", AUX_NONE, DATA_NONE, F_OFFSET | F_LENGTH | F_FLAGS },
	[JOURNAL_CREATE] = { "CREATE", AUX_NONE, DATA_NONE, F_MODE | F_OWNER },
	[JOURNAL_MKNOD] = { "MKNOD", AUX_NONE, DATA_NONE, F_MODE | F_OWNER | F_RDEV },
	[JOURNAL_MKDIR] = { "MKDIR", AUX_NONE, DATA_NONE, F_MODE | F_OWNER },
	[JOURNAL_SYMLINK] = { "SYMLINK", AUX_TARGET, DATA_NONE, F_OWNER },
	[JOURNAL_LINK] = { "LINK", AUX_PATH2, DATA_NONE, 0 },
	[JOURNAL_UNLINK] = { "UNLINK", AUX_NONE, DATA_NONE, 0 },
	[JOURNAL_RMDIR] = { "RMDIR", AUX_NONE, DATA_NONE, 0 },
	[JOURNAL_RENAME] = { "RENAME", AUX_PATH2, DATA_NONE, F_FLAGS | F_INO },
	[JOURNAL_SETATTR] = { "SETATTR", AUX_NONE, DATA_NONE,
			      F_FLAGS | F_MODE | F_OWNER | F_SIZE | F_TIMES },
	[JOURNAL_SETXATTR] = { "SETXATTR", AUX_NAME, DATA_XATTR, F_FLAGS },
	[JOURNAL_REMOVEXATTR] = { "REMOVEXATTR", AUX_NAME, DATA_NONE, 0 },
};

static const struct type_desc *type_desc(unsigned type)
{
	if (type == 0 || type > JOURNAL_TYPE_MAX)
		return NULL;
	return &type_descs[type];
}

const char *journal_type_to_string(enum journal_type type)
{
	const struct type_desc *d = type_desc(type);

	return d ? d->name : "UNKNOWN";
}

static size_t align_up(size_t n)
{
	return (n + JOURNAL_ALIGN - 1) & ~(size_t)(JOURNAL_ALIGN - 1);
}

int journal_path_check(const char *path)
{
	size_t len, comp;
	const char *p, *slash;

	if (!path || !*path || path[0] == '/')
		return -EINVAL;
	len = strnlen(path, JOURNAL_PATH_MAX);
	if (len >= JOURNAL_PATH_MAX)
		return -ENAMETOOLONG;
	for (p = path; p <= path + len; p = slash + 1) {
		slash = strchrnul(p, '/');
		comp = (size_t)(slash - p);
		if (comp == 0)
			return -EINVAL;	/* "a//b", trailing '/' */
		if (comp > JOURNAL_NAME_MAX)
			return -ENAMETOOLONG;
		if ((comp == 1 && p[0] == '.') || (comp == 2 && p[0] == '.' && p[1] == '.'))
			return -EINVAL;
	}
	return 0;
}

static const char *record_aux(const struct journal_record *rec, enum aux_kind kind)
{
	switch (kind) {
	case AUX_PATH2:
		return rec->path2;
	case AUX_TARGET:
		return rec->target;
	case AUX_NAME:
		return rec->name;
	default:
		return NULL;
	}
}

static int check_aux(const struct journal_record *rec, enum aux_kind kind)
{
	const char *aux = record_aux(rec, kind);
	size_t len;

	switch (kind) {
	case AUX_NONE:
		return 0;
	case AUX_PATH2:
		return journal_path_check(aux);
	case AUX_TARGET:
		if (!aux || !*aux)
			return -EINVAL;
		len = strnlen(aux, JOURNAL_PATH_MAX);
		return len >= JOURNAL_PATH_MAX ? -ENAMETOOLONG : 0;
	case AUX_NAME:
		if (!aux || !*aux)
			return -EINVAL;
		len = strnlen(aux, JOURNAL_XATTR_NAME_MAX + 1);
		return len > JOURNAL_XATTR_NAME_MAX ? -ENAMETOOLONG : 0;
	}
	return -EINVAL;
}

static int check_data(const struct journal_record *rec, enum data_kind kind)
{
	size_t max = kind == DATA_WRITE ? JOURNAL_DATA_MAX :
		     kind == DATA_XATTR ? JOURNAL_XATTR_VALUE_MAX : 0;

	if (rec->data_len > max)
		return kind == DATA_NONE ? -EINVAL : -E2BIG;
	if (rec->data_len > 0 && !rec->data)
		return -EINVAL;
	return 0;
}

static bool mode_type_ok(enum journal_type type, uint32_t mode)
{
	uint32_t fmt = mode & S_IFMT;

	if (mode & ~(uint32_t)(S_IFMT | 07777))
		return false;
	switch (type) {
	case JOURNAL_CREATE:
		return fmt == S_IFREG;
	case JOURNAL_MKNOD:
		return fmt == S_IFREG || fmt == S_IFCHR || fmt == S_IFBLK || fmt == S_IFIFO ||
		       fmt == S_IFSOCK;
	case JOURNAL_MKDIR:
		return fmt == 0 || fmt == S_IFDIR;
	default:
		return fmt == 0;	/* SETATTR: permission bits only */
	}
}

static bool offset_ok(uint64_t a, uint64_t b)
{
	return a <= INT64_MAX && b <= INT64_MAX && a + b <= INT64_MAX;
}

/* Modes that give the same file when applied twice. */
static bool falloc_mode_ok(uint32_t mode)
{
	switch (mode) {
	case 0:
	case FALLOC_FL_KEEP_SIZE:
	case FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE:
	case FALLOC_FL_ZERO_RANGE:
	case FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE:
		return true;
	default:
		return false;
	}
}

static int check_fields(const struct journal_record *rec)
{
	switch (rec->type) {
	case JOURNAL_WRITE:
		return offset_ok(rec->offset, rec->data_len) ? 0 : -EINVAL;
	case JOURNAL_TRUNCATE:
		return rec->size <= INT64_MAX ? 0 : -EINVAL;
	case JOURNAL_FALLOCATE:
		if (!falloc_mode_ok(rec->flags))
			return -EOPNOTSUPP;
		return offset_ok(rec->offset, rec->length) && rec->length > 0 ? 0 : -EINVAL;
	case JOURNAL_CREATE:
	case JOURNAL_MKNOD:
	case JOURNAL_MKDIR:
		return mode_type_ok(rec->type, rec->mode) ? 0 : -EINVAL;
	case JOURNAL_RENAME:
		if (rec->flags & ~(uint32_t)(RENAME_NOREPLACE | RENAME_EXCHANGE))
			return -EINVAL;
		return rec->flags == (RENAME_NOREPLACE | RENAME_EXCHANGE) ? -EINVAL : 0;
	case JOURNAL_SETATTR:
		if ((rec->flags & ~JOURNAL_ATTR_ALL) || rec->size > INT64_MAX)
			return -EINVAL;
		if ((uint64_t)rec->atime.tv_nsec >= 1000000000u ||
		    (uint64_t)rec->mtime.tv_nsec >= 1000000000u)
			return -EINVAL;
		return mode_type_ok(rec->type, rec->mode) ? 0 : -EINVAL;
	case JOURNAL_SETXATTR:
		return rec->flags & ~(uint32_t)(XATTR_CREATE | XATTR_REPLACE) ? -EINVAL : 0;
	default:
		return 0;
	}
}

int journal_record_check(const struct journal_record *rec)
{
	const struct type_desc *d = type_desc(rec->type);
	int r;

	if (!d)
		return -EINVAL;
	r = journal_path_check(rec->path);
	if (r < 0)
		return r;
	r = check_aux(rec, d->aux);
	if (r < 0)
		return r;
	r = check_data(rec, d->data);
	if (r < 0)
		return r;
	return check_fields(rec);
}

static size_t aux_len(const struct journal_record *rec, const struct type_desc *d)
{
	const char *aux = record_aux(rec, d->aux);

	return aux ? strlen(aux) + 1 : 0;
}

static size_t payload_len(const struct journal_record *rec, const struct type_desc *d)
{
	size_t data = d->data == DATA_NONE ? 0 : rec->data_len;

	return JOURNAL_ARGS_SIZE + strlen(rec->path) + 1 + aux_len(rec, d) + data;
}

size_t journal_record_size(const struct journal_record *rec)
{
	if (journal_record_check(rec) < 0)
		return 0;
	return align_up(JOURNAL_RECORD_HDR_SIZE + payload_len(rec, type_desc(rec->type)));
}

static uint64_t record_checksum(const void *hdr, const void *payload, size_t len)
{
	XXH3_state_t st;

	(void)XXH3_64bits_reset(&st);
	(void)XXH3_64bits_update(&st, hdr, JOURNAL_CSUM_COVERED_HDR);
	(void)XXH3_64bits_update(&st, payload, len);
	return XXH3_64bits_digest(&st);
}

static void encode_args(const struct journal_record *rec, const struct type_desc *d,
			struct journal_args_disk *a)
{
	unsigned f = d->fields;

	memset(a, 0, sizeof(*a));
	a->offset = htole64(f & F_OFFSET ? rec->offset : 0);
	a->length = htole64(f & F_LENGTH ? rec->length : 0);
	a->size = htole64(f & F_SIZE ? rec->size : 0);
	a->rdev = htole64(f & F_RDEV ? rec->rdev : 0);
	if (f & F_TIMES) {
		a->atime_sec = (int64_t)htole64((uint64_t)rec->atime.tv_sec);
		a->mtime_sec = (int64_t)htole64((uint64_t)rec->mtime.tv_sec);
		a->atime_nsec = htole32((uint32_t)rec->atime.tv_nsec);
		a->mtime_nsec = htole32((uint32_t)rec->mtime.tv_nsec);
	}
	a->mode = htole32(f & F_MODE ? rec->mode : 0);
	a->uid = htole32(f & F_OWNER ? rec->uid : 0);
	a->gid = htole32(f & F_OWNER ? rec->gid : 0);
	a->flags = htole32(f & F_FLAGS ? rec->flags : 0);
	a->ino = htole64(f & F_INO ? rec->ino : 0);
	a->ino2 = htole64(f & F_INO ? rec->ino2 : 0);
	a->path_len = htole32((uint32_t)strlen(rec->path) + 1);
	a->aux_len = htole32((uint32_t)aux_len(rec, d));
	a->data_len = htole32(d->data == DATA_NONE ? 0 : (uint32_t)rec->data_len);
}

static void encode_header(const struct journal_record *rec, uint32_t plen,
			  struct journal_record_disk *h)
{
	memset(h, 0, sizeof(*h));
	h->magic = htole32(JOURNAL_RECORD_MAGIC);
	h->version = htole16(JOURNAL_FORMAT_VERSION);
	h->type = htole16((uint16_t)rec->type);
	h->payload_len = htole32(plen);
	h->seq = htole64(rec->seq);
	h->epoch = htole64(rec->epoch);
	h->time_ns = htole64(rec->time_ns);
}

int journal_encode_record(const struct journal_record *rec, void *buf, size_t len,
			  size_t *ret_len)
{
	const struct type_desc *d = type_desc(rec->type);
	struct journal_record_disk h;
	struct journal_args_disk a;
	size_t plen, total, n;
	uint8_t *p = buf, *payload;
	const char *aux;
	int r;

	r = journal_record_check(rec);
	if (r < 0)
		return r;
	plen = payload_len(rec, d);
	total = align_up(JOURNAL_RECORD_HDR_SIZE + plen);
	if (len < total)
		return -ENOBUFS;

	payload = p + JOURNAL_RECORD_HDR_SIZE;
	encode_args(rec, d, &a);
	memcpy(payload, &a, sizeof(a));
	n = JOURNAL_ARGS_SIZE;
	memcpy(payload + n, rec->path, le32toh(a.path_len));
	n += le32toh(a.path_len);
	aux = record_aux(rec, d->aux);
	if (aux)
		memcpy(payload + n, aux, le32toh(a.aux_len));
	n += le32toh(a.aux_len);
	if (a.data_len)
		memcpy(payload + n, rec->data, le32toh(a.data_len));
	memset(p + JOURNAL_RECORD_HDR_SIZE + plen, 0, total - JOURNAL_RECORD_HDR_SIZE - plen);

	encode_header(rec, (uint32_t)plen, &h);
	h.checksum = htole64(record_checksum(&h, payload, plen));
	memcpy(p, &h, sizeof(h));
	*ret_len = total;
	return 0;
}

int journal_record_peek(const void *buf, size_t len, size_t *ret_size)
{
	struct journal_record_disk h;
	uint32_t plen;

	if (len < JOURNAL_RECORD_HDR_SIZE)
		return -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	if (le32toh(h.magic) != JOURNAL_RECORD_MAGIC ||
	    le16toh(h.version) != JOURNAL_FORMAT_VERSION || !type_desc(le16toh(h.type)) ||
	    h.flags != 0)
		return -EBADMSG;
	plen = le32toh(h.payload_len);
	if (plen < JOURNAL_ARGS_SIZE + 2 || plen > JOURNAL_PAYLOAD_MAX)
		return -EBADMSG;
	*ret_size = align_up(JOURNAL_RECORD_HDR_SIZE + plen);
	return 0;
}

/* A string of len bytes (NUL included) with no NUL before its end. */
static const char *decode_string(const uint8_t *p, uint32_t len)
{
	if (len == 0 || p[len - 1] != '\0' || strlen((const char *)p) != len - 1)
		return NULL;
	return (const char *)p;
}

static void decode_args(const struct journal_args_disk *a, struct journal_record *rec)
{
	rec->offset = le64toh(a->offset);
	rec->length = le64toh(a->length);
	rec->size = le64toh(a->size);
	rec->rdev = le64toh(a->rdev);
	rec->atime.tv_sec = (time_t)le64toh((uint64_t)a->atime_sec);
	rec->mtime.tv_sec = (time_t)le64toh((uint64_t)a->mtime_sec);
	rec->atime.tv_nsec = le32toh(a->atime_nsec);
	rec->mtime.tv_nsec = le32toh(a->mtime_nsec);
	rec->mode = le32toh(a->mode);
	rec->uid = le32toh(a->uid);
	rec->gid = le32toh(a->gid);
	rec->flags = le32toh(a->flags);
	rec->ino = le64toh(a->ino);
	rec->ino2 = le64toh(a->ino2);
}

static int decode_blobs(const uint8_t *payload, uint32_t plen, const struct type_desc *d,
			struct journal_record *rec)
{
	struct journal_args_disk a;
	uint64_t path_len, aux_n, data_n;
	const uint8_t *p = payload + JOURNAL_ARGS_SIZE;
	const char *aux = NULL;

	memcpy(&a, payload, sizeof(a));
	path_len = le32toh(a.path_len);
	aux_n = le32toh(a.aux_len);
	data_n = le32toh(a.data_len);
	if (a.reserved || JOURNAL_ARGS_SIZE + path_len + aux_n + data_n != plen)
		return -EBADMSG;
	if ((d->aux == AUX_NONE) != (aux_n == 0) || (d->data == DATA_NONE && data_n))
		return -EBADMSG;
	rec->path = decode_string(p, (uint32_t)path_len);
	if (aux_n) {
		aux = decode_string(p + path_len, (uint32_t)aux_n);
		if (!aux)
			return -EBADMSG;
	}
	rec->path2 = d->aux == AUX_PATH2 ? aux : NULL;
	rec->target = d->aux == AUX_TARGET ? aux : NULL;
	rec->name = d->aux == AUX_NAME ? aux : NULL;
	rec->data = data_n ? p + path_len + aux_n : NULL;
	rec->data_len = data_n;
	decode_args(&a, rec);
	return rec->path ? 0 : -EBADMSG;
}

static bool zero_bytes(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int journal_decode_record(const void *buf, size_t len, struct journal_record *ret_rec,
			  size_t *ret_size)
{
	const uint8_t *p = buf, *payload = p + JOURNAL_RECORD_HDR_SIZE;
	struct journal_record_disk h;
	struct journal_record rec = { 0 };
	size_t total;
	uint32_t plen;
	int r;

	r = journal_record_peek(buf, len, &total);
	if (r < 0)
		return r;
	if (len < total)
		return -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	plen = le32toh(h.payload_len);
	if (le64toh(h.checksum) != record_checksum(&h, payload, plen))
		return -EBADMSG;
	if (!zero_bytes(payload + plen, total - JOURNAL_RECORD_HDR_SIZE - plen))
		return -EBADMSG;

	rec.type = le16toh(h.type);
	rec.seq = le64toh(h.seq);
	rec.epoch = le64toh(h.epoch);
	rec.time_ns = le64toh(h.time_ns);
	r = decode_blobs(payload, plen, type_desc(rec.type), &rec);
	if (r < 0 || journal_record_check(&rec) < 0)
		return -EBADMSG;
	*ret_rec = rec;
	if (ret_size)
		*ret_size = total;
	return 0;
}
