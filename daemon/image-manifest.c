// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * image-manifest.c - the list of an image's files with sizes and hashes:
 * built from a directory, encoded for the wire, decoded and checked.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define LOG_PREFIX "image: "
#include "lifeboat/log.h"
#include "image.h"

#define HASH_BUF (1u << 20)

__thread char image_refusal[PEER_TEXT_MAX + 1];

int image_refuse(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(image_refusal, sizeof(image_refusal), fmt, ap);
	va_end(ap);
	return log_error_errno(err, "%s", image_refusal);
}

int image_name_check(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > PEER_IMAGE_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return -EINVAL;
	}
	return 0;
}

void image_manifest_free(struct image_manifest *m)
{
	if (!m)
		return;
	free(m->files);
	free(m);
}

/* The image hash covers each entry exactly as the wire carries it. */
static void entry_hash_update(XXH3_state_t *st, const struct image_entry *e)
{
	struct wire_out w;
	uint8_t buf[PEER_IMAGE_NAME_MAX + 32];

	w = (struct wire_out){ .buf = buf, .cap = sizeof(buf) };
	wire_put_str(&w, e->name);
	wire_put_u64(&w, e->size);
	wire_put_u32(&w, e->mode);
	wire_put_u64(&w, e->hash);
	(void)XXH3_64bits_update(st, w.buf, w.len);
}

void image_manifest_seal(struct image_manifest *m)
{
	XXH3_state_t *st = XXH3_createState();

	m->total = 0;
	(void)XXH3_64bits_reset(st);
	for (uint32_t i = 0; i < m->n_files; i++) {
		entry_hash_update(st, &m->files[i]);
		m->total += m->files[i].size;
	}
	m->hash = XXH3_64bits_digest(st);
	XXH3_freeState(st);
}

static int file_hash(int dirfd, const char *name, uint64_t size, uint64_t *ret_hash)
{
	XXH3_state_t *st;
	uint8_t *buf;
	uint64_t done = 0;
	int fd, r = 0;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(HASH_BUF);
	st = XXH3_createState();
	if (!buf || !st) {
		r = -ENOMEM;
		goto out;
	}
	(void)XXH3_64bits_reset(st);
	while (done < size) {
		ssize_t n = read(fd, buf, HASH_BUF);

		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		(void)XXH3_64bits_update(st, buf, (size_t)n);
		done += (uint64_t)n;
	}
	if (done != size)
		r = -ESTALE;	/* it changed while we read it */
	else
		*ret_hash = XXH3_64bits_digest(st);
out:
	XXH3_freeState(st);
	free(buf);
	close(fd);
	return r;
}

static int scan_add(struct image_manifest *m, int dirfd, const char *name, bool hash)
{
	struct image_entry *e;
	struct stat st;
	int r;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return log_error_errno(-errno, "cannot stat image file '%s'", name);
	if (!S_ISREG(st.st_mode))
		return log_error_errno(-EINVAL, "image file '%s' is not a regular file", name);
	if (image_name_check(name) < 0)
		return log_error_errno(-EINVAL, "image file name '%s' cannot be sent", name);
	if (m->n_files >= PEER_IMAGE_FILES_MAX)
		return log_error_errno(-E2BIG, "image has more than %u files", PEER_IMAGE_FILES_MAX);
	if ((uint64_t)st.st_size > PEER_IMAGE_FILE_MAX)
		return log_error_errno(-EFBIG, "image file '%s' is larger than the protocol allows", name);
	e = realloc(m->files, (m->n_files + 1) * sizeof(*m->files));
	if (!e)
		return -ENOMEM;
	m->files = e;
	e = &m->files[m->n_files];
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->size = (uint64_t)st.st_size;
	e->mode = st.st_mode & 07777;
	e->hash = 0;
	r = hash ? file_hash(dirfd, name, e->size, &e->hash) : 0;
	if (r < 0)
		return log_error_errno(r, "cannot read image file '%s'", name);
	m->n_files++;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct image_entry *)a)->name, ((const struct image_entry *)b)->name);
}

static int manifest_scan(int dirfd, const char *image_name, bool hash, struct image_manifest **ret_m)
{
	struct image_manifest *m;
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	if (strlen(image_name) > PEER_NAME_MAX)
		return log_error_errno(-ENAMETOOLONG, "image name '%s' is too long", image_name);
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(-errno, "cannot open the image directory");
	d = fdopendir(fd);
	m = calloc(1, sizeof(*m));
	if (!d || !m) {
		r = -ENOMEM;
		if (!d)
			close(fd);
		goto out;
	}
	snprintf(m->name, sizeof(m->name), "%s", image_name);
	while (r == 0 && (errno = 0, de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			r = scan_add(m, dirfd, de->d_name, hash);
	if (r == 0 && errno)
		r = log_error_errno(-errno, "cannot list the image directory");
	if (r == 0) {
		qsort(m->files, m->n_files, sizeof(*m->files), name_cmp);
		image_manifest_seal(m);
		*ret_m = m;
		m = NULL;
	}
out:
	image_manifest_free(m);
	if (d)
		closedir(d);
	return r;
}

int image_manifest_scan(int dirfd, const char *image_name, struct image_manifest **ret_m)
{
	return manifest_scan(dirfd, image_name, true, ret_m);
}

int image_manifest_list(int dirfd, const char *image_name, struct image_manifest **ret_m)
{
	return manifest_scan(dirfd, image_name, false, ret_m);
}

int image_manifest_encode(const struct image_manifest *m, struct wire_out *w)
{
	int r;

	r = wire_out_init(w, PEER_MSG_MAX);
	if (r < 0)
		return r;
	wire_put_str(w, m->name);
	wire_put_u32(w, m->n_files);
	wire_put_u64(w, m->total);
	for (uint32_t i = 0; i < m->n_files; i++) {
		wire_put_str(w, m->files[i].name);
		wire_put_u64(w, m->files[i].size);
		wire_put_u32(w, m->files[i].mode);
	}
	r = wire_put_done(w);
	if (r < 0)
		wire_out_free(w);
	return r;
}

int image_end_encode(const struct image_manifest *m, struct wire_out *w)
{
	int r;

	r = wire_out_init(w, 16 + (size_t)m->n_files * 8);
	if (r < 0)
		return r;
	wire_put_u32(w, m->n_files);
	for (uint32_t i = 0; i < m->n_files; i++)
		wire_put_u64(w, m->files[i].hash);
	wire_put_u64(w, m->hash);
	r = wire_put_done(w);
	if (r < 0)
		wire_out_free(w);
	return r;
}

static void limits_resolve(const struct image_limits *lim, struct image_limits *out)
{
	*out = (struct image_limits){ PEER_IMAGE_FILES_MAX, PEER_IMAGE_FILE_MAX, PEER_IMAGE_TOTAL_MAX };
	if (lim && lim->max_files && lim->max_files < out->max_files)
		out->max_files = lim->max_files;
	if (lim && lim->max_file && lim->max_file < out->max_file)
		out->max_file = lim->max_file;
	if (lim && lim->max_total && lim->max_total < out->max_total)
		out->max_total = lim->max_total;
}

/* Each entry: a plain unique name, a size within the limits. */
static int manifest_check_entries(const struct image_manifest *m, const struct image_limits *lim)
{
	uint64_t total = 0;

	for (uint32_t i = 0; i < m->n_files; i++) {
		const struct image_entry *e = &m->files[i];

		if (image_name_check(e->name) < 0)
			return image_refuse(-EBADMSG, "manifest of '%s' names a file '%s' that is not a plain file name (path traversal?)",
					       m->name, e->name);
		if (e->size > lim->max_file)
			return image_refuse(-EFBIG, "manifest of '%s': file '%s' has %llu bytes, limit %llu",
					       m->name, e->name, (unsigned long long)e->size,
					       (unsigned long long)lim->max_file);
		if (i > 0 && strcmp(m->files[i - 1].name, e->name) >= 0)
			return image_refuse(-EBADMSG, "manifest of '%s': file '%s' is out of order or twice",
					       m->name, e->name);
		total += e->size;
		if (total > lim->max_total)
			return image_refuse(-EFBIG, "manifest of '%s': more than %llu bytes in all",
					       m->name, (unsigned long long)lim->max_total);
	}
	return 0;
}

static int manifest_check(struct image_manifest *m, const struct image_limits *lim,
			  uint64_t total)
{
	int r;

	if (image_name_check(m->name) < 0)
		return image_refuse(-EBADMSG, "manifest has a bad image name '%s'", m->name);
	r = manifest_check_entries(m, lim);
	if (r < 0)
		return r;
	image_manifest_seal(m);
	if (m->total != total)
		return image_refuse(-EBADMSG, "manifest of '%s' does not match its own total",
				       m->name);
	return 0;
}

int image_manifest_decode(const uint8_t *p, size_t len, const struct image_limits *lim,
			  struct image_manifest **ret_m)
{
	struct image_limits l;
	struct image_manifest *m;
	struct wire_in r;
	uint64_t total;
	int ret;

	limits_resolve(lim, &l);
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	wire_in_init(&r, p, len);
	wire_get_str(&r, m->name, PEER_NAME_MAX);
	m->n_files = wire_get_u32(&r);
	total = wire_get_u64(&r);
	if (r.err) {
		ret = image_refuse(-EBADMSG, "malformed image manifest");
		goto out;
	}
	if (m->n_files > l.max_files) {
		ret = image_refuse(-E2BIG, "manifest of '%s' has %u files, limit %u", m->name,
				      m->n_files, l.max_files);
		goto out;
	}
	m->files = calloc(m->n_files ? m->n_files : 1, sizeof(*m->files));
	if (!m->files) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < m->n_files; i++) {
		wire_get_str(&r, m->files[i].name, PEER_IMAGE_NAME_MAX);
		m->files[i].size = wire_get_u64(&r);
		m->files[i].mode = wire_get_u32(&r) & 07777;
	}
	if (wire_get_done(&r) < 0) {
		ret = image_refuse(-EBADMSG, "malformed image manifest of '%s'", m->name);
		goto out;
	}
	ret = manifest_check(m, &l, total);
	if (ret == 0) {
		*ret_m = m;
		m = NULL;
	}
out:
	image_manifest_free(m);
	return ret;
}
