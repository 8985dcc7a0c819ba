// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * handoff-mount.c - what a handoff does to mounts and journals: flush a
 * mount and wait for its FUSE requests (A), check that a mount is ours at
 * the same path, take A's journal over and replay it through our mount (B);
 * and the HANDOFF_BEGIN codec.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "handoff: "
#include "lifeboat/journal.h"
#include "lifeboat/log.h"
#include "handoff.h"

#define FUSECTL_DIR "/sys/fs/fuse/connections"
#define FUSE_SUPER_MAGIC 0x65735546

uint64_t handoff_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------ flush (A) */

/* Requests of the mount's FUSE connection not answered yet, or -errno. */
static int fuse_waiting(dev_t dev)
{
	char path[96], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), FUSECTL_DIR "/%u/waiting", minor(dev));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT &&
	    mount("fusectl", FUSECTL_DIR, "fusectl", 0, NULL) == 0)	/* not mounted yet */
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	return atoi(buf);
}

int handoff_flush_mount(const char *path, int timeout_ms)
{
	uint64_t deadline;
	struct statfs sfs;
	struct stat st;
	int fd, r;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(-errno, "cannot open mount '%s'", path);
	/* dirty pages of shared mappings reach lifeboatfs, and so the journal */
	if (syncfs(fd) < 0 || fstat(fd, &st) < 0 || fstatfs(fd, &sfs) < 0) {
		r = log_error_errno(-errno, "cannot sync mount '%s'", path);
		close(fd);
		return r;
	}
	close(fd);
	if (sfs.f_type != FUSE_SUPER_MAGIC)
		return 0;	/* not FUSE (tests): no request can be in flight */
	deadline = handoff_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 10000) * 1000000u;
	/* a task waiting in a FUSE request cannot be dumped: wait for the answers */
	while ((r = fuse_waiting(st.st_dev)) > 0) {
		if (handoff_now_ns() > deadline)
			return log_error_errno(-ETIMEDOUT, "mount '%s' still has %d FUSE request(s) in flight",
					       path, r);
		(void)usleep(1000);
	}
	if (r < 0)
		return log_error_errno(r, "cannot read the FUSE requests in flight of '%s'", path);
	return 0;
}

/* ------------------------------------------------------------------ mounts (B) */

void handoff_drop_kernel_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, "2", 1) != 1)
		log_debug_errno(-errno, "cannot drop the kernel's dentries and inodes");
	if (fd >= 0)
		close(fd);
}

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] && s[3]) {
			*d++ = (char)(((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

/* The fstype of the last mount at path in our mount namespace, or "". */
static void mount_fstype(const char *path, char *fstype, size_t size)
{
	char line[8192], mnt[PATH_MAX], type[256];
	FILE *f = fopen("/proc/self/mountinfo", "re");

	fstype[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - ");

		/* id parent major:minor root mountpoint ... - fstype source options */
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%255s", type) != 1)
			continue;
		unescape(mnt);
		if (strcmp(mnt, path) == 0)
			snprintf(fstype, size, "%s", type);
	}
	fclose(f);
}

int handoff_check_mount(const char *path)
{
	char type[256];

	mount_fstype(path, type, sizeof(type));
	if (!type[0])
		return log_error_errno(-ENOENT, "nothing is mounted at '%s' on this node", path);
	if (strcmp(type, "fuse.lifeboatfs") != 0)
		return log_error_errno(-EMEDIUMTYPE, "'%s' is a %s mount here, not lifeboatfs", path,
				       type);
	return 0;
}

/* ------------------------------------------------------------------ journal (B) */

int handoff_journal_name_here(const char *name, char *buf, size_t size)
{
	const char *q = strchr(name, '?');
	size_t len = q ? (size_t)(q - name) : strlen(name);
	char sep = '?';

	if (len >= size)
		return -ENAMETOOLONG;
	memcpy(buf, name, len);
	buf[len] = '\0';
	while (q && *q) {
		const char *p = q + 1, *end = strchr(p, '&');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n && strncmp(p, "initiator=", 10) != 0 && strncmp(p, "key=", 4) != 0) {
			if (len + n + 2 > size)
				return -ENAMETOOLONG;
			buf[len++] = sep;
			memcpy(buf + len, p, n);
			len += n;
			buf[len] = '\0';
			sep = '&';
		}
		q = end;
	}
	return 0;
}

static int journal_take(const char *name, const char *node, struct journal **ret_j)
{
	struct journal_options jo = { .owner = node };
	struct journal_info info;
	struct journal *j;
	int r;

#ifdef JOURNAL_OPEN_TAKEOVER
	jo.flags = JOURNAL_OPEN_TAKEOVER | (journal_name_is_iscsi(name) ? JOURNAL_ISCSI_TAKEOVER : 0);
	(void)info;
	(void)j;
	r = journal_open(name, &jo, ret_j);
#else
	/* the file journal's fencing: a newer epoch in the header */
	struct journal_options ro = { .flags = JOURNAL_OPEN_READONLY };

	r = journal_open(name, &ro, &j);
	if (r < 0)
		return r;
	journal_get_info(j, &info);
	journal_close(j);
	jo.epoch = info.epoch + 1;
	r = journal_open(name, &jo, ret_j);
#endif
	return r;
}

static int journal_replay_into(struct journal *j, const char *mount_path)
{
	struct journal_replay_stats stats = { 0 };
	struct journal_scan_result res;
	int fd, r;

	fd = open(mount_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(-errno, "cannot open mount '%s' for replay", mount_path);
	r = journal_replay(j, fd, 0, &stats, &res);
	close(fd);
	if (r < 0)
		return log_error_errno(r, "cannot replay journal '%s' into '%s' (record %llu)",
				       journal_name(j), mount_path,
				       (unsigned long long)stats.failed_seq);
	r = journal_reset(j);
	if (r < 0)
		return log_error_errno(r, "cannot reset journal '%s' after replay", journal_name(j));
	/* its node's lifeboatfs may take it back now (fs/reclaim.c) */
	r = journal_release(j);
	if (r < 0)
		log_warning_errno(r, "cannot give journal '%s' back to its node", journal_name(j));
	log_info("replayed %llu records of '%s' into '%s'",
		 (unsigned long long)(stats.applied + stats.done), journal_name(j), mount_path);
	return 0;
}

int handoff_take_journal(const char *journal, const char *node, const char *mount_path,
			 uint64_t *fence_ns, uint64_t *replay_ns)
{
	uint64_t t0 = handoff_now_ns(), t1;
	char name[PEER_PATH_MAX + 1];
	struct journal *j;
	int r;

	r = journal_name_is_iscsi(journal) ? handoff_journal_name_here(journal, name, sizeof(name))
					   : (snprintf(name, sizeof(name), "%s", journal), 0);
	if (r == 0)
		r = journal_take(name, node, &j);
	if (r < 0)
		return log_error_errno(r, "cannot take over journal '%s' (fencing the sender)", journal);
	t1 = handoff_now_ns();
	*fence_ns += t1 - t0;
	r = journal_replay_into(j, mount_path);
	journal_close(j);
	*replay_ns += handoff_now_ns() - t1;
	return r;
}

/* ------------------------------------------------------------------ HANDOFF_BEGIN codec */

int handoff_request_encode(const struct handoff_request *req, struct wire_out *w)
{
	int r;

	r = wire_out_init(w, PEER_MSG_MAX);
	if (r < 0)
		return r;
	wire_put_str(w, req->app);
	wire_put_str(w, req->service_ip);
	wire_put_u32(w, req->flags);
	wire_put_u32(w, req->n_mounts);
	for (uint32_t i = 0; i < req->n_mounts; i++) {
		wire_put_str(w, req->mounts[i].path);
		wire_put_str(w, req->mounts[i].journal);
	}
	r = wire_put_done(w);
	if (r < 0)
		wire_out_free(w);
	return r;
}

/* Absolute, no "." or ".." component, no empty component, no trailing '/'. */
static bool path_is_clean(const char *p)
{
	if (p[0] != '/' || (p[1] && p[strlen(p) - 1] == '/'))
		return false;
	for (const char *c = p; *c; c++)
		if (c[0] == '/' && (c[1] == '/' || (c[1] == '.' && (!c[2] || c[2] == '/')) ||
				    (c[1] == '.' && c[2] == '.' && (!c[3] || c[3] == '/'))))
			return false;
	return true;
}

static bool name_is_plain(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

static int request_check(const struct handoff_request *req)
{
	if (!name_is_plain(req->app) || req->app[0] == '.')
		return log_error_errno(-EBADMSG, "handoff names a bad app '%s'", req->app);
	for (uint32_t i = 0; i < req->n_mounts; i++)
		if (!path_is_clean(req->mounts[i].path) || strcmp(req->mounts[i].path, "/") == 0)
			return log_error_errno(-EBADMSG, "handoff of '%s' names a bad mount path '%s'",
					       req->app, req->mounts[i].path);
	if (req->flags & ~PEER_HANDOFF_TCP_ESTABLISHED)
		return log_error_errno(-EBADMSG, "handoff of '%s' has unknown flags %#x", req->app,
				       req->flags);
	return 0;
}

int handoff_request_decode(const uint8_t *p, size_t len, struct handoff_request *ret_req)
{
	struct handoff_request *req = calloc(1, sizeof(*req));
	struct wire_in r;
	int ret;

	if (!req)
		return -ENOMEM;
	wire_in_init(&r, p, len);
	wire_get_str(&r, req->app, PEER_NAME_MAX);
	wire_get_str(&r, req->service_ip, sizeof(req->service_ip) - 1);
	req->flags = wire_get_u32(&r);
	req->n_mounts = wire_get_u32(&r);
	if (!r.err && req->n_mounts > PEER_MOUNTS_MAX) {
		uint32_t n = req->n_mounts;

		free(req);
		return log_error_errno(-E2BIG, "handoff names %u mounts, limit %u", n, PEER_MOUNTS_MAX);
	}
	for (uint32_t i = 0; !r.err && i < req->n_mounts; i++) {
		wire_get_str(&r, req->mounts[i].path, PEER_PATH_MAX);
		wire_get_str(&r, req->mounts[i].journal, PEER_PATH_MAX);
	}
	ret = wire_get_done(&r) < 0 ? log_error_errno(-EBADMSG, "malformed handoff request")
				    : request_check(req);
	if (ret == 0)
		*ret_req = *req;
	free(req);
	return ret;
}
