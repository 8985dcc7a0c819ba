// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * standby-external.c - is this syscall an external reference?
 *
 * External: connect/sendto/sendmsg/sendmmsg to an inet or unix address that
 * no process of the set listens on (nor a configured internal endpoint; a
 * unix address that is no socket at all only fails, so it does not count);
 * opening a FIFO or a socket file; System V IPC by key, or attaching a
 * segment the set did not create; mq_open; and, when configured, the first
 * write to a file under the shared store. The tracee's memory is read with
 * process_vm_readv; its sockets are looked up in its own /proc/PID/net.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/pidfd.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define LOG_PREFIX "standby: "
#include "lifeboat/log.h"
#include "standby.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL	/* Linux 6.9: a pidfd for one thread */
#endif

#define MAX_SET_SOCKETS 65536
#define MAX_MMSG 64

struct ino_list {
	unsigned long *ino;
	size_t n, cap;
};

static void tracee_path(pid_t tid, int dirfd, const char *path, char *buf, size_t size);

static int mem_read(pid_t tid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t n;

	n = process_vm_readv(tid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

/* A NUL-terminated string of at most size-1 bytes, read page-safely. */
static int mem_read_string(pid_t tid, uint64_t addr, char *buf, size_t size)
{
	size_t got = 0;

	while (got < size - 1) {
		size_t chunk = 256 - ((addr + got) & 255);	/* never cross a page */
		char *nul;

		if (chunk > size - 1 - got)
			chunk = size - 1 - got;
		if (mem_read(tid, addr + got, buf + got, chunk) < 0)
			return -EFAULT;
		nul = memchr(buf + got, 0, chunk);
		got += chunk;
		if (nul)
			return 0;
	}
	buf[size - 1] = 0;
	return -ENAMETOOLONG;
}

static int ino_add(struct ino_list *l, unsigned long ino)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		unsigned long *p;

		if (cap > MAX_SET_SOCKETS)
			return -E2BIG;
		p = realloc(l->ino, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		l->ino = p;
		l->cap = cap;
	}
	l->ino[l->n++] = ino;
	return 0;
}

static bool ino_has(const struct ino_list *l, unsigned long ino)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->ino[i] == ino)
			return true;
	return false;
}

/* Socket inodes held by the set's processes. */
static int set_sockets(const struct standby_set *set, struct ino_list *ret)
{
	for (unsigned i = 0; i < set->n; i++) {
		char dir[64], path[384], link[64];
		struct dirent *de;
		DIR *d;

		snprintf(dir, sizeof(dir), "/proc/%d/fd", set->tgid[i]);
		d = opendir(dir);
		if (!d)
			continue;	/* exited meanwhile */
		while ((de = readdir(d))) {
			unsigned long ino;
			ssize_t n;

			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = 0;
			if (sscanf(link, "socket:[%lu]", &ino) == 1 && ino_add(ret, ino) < 0) {
				closedir(d);
				return -E2BIG;
			}
		}
		closedir(d);
	}
	return 0;
}

static uint32_t hex_word(const char *s)
{
	char w[9];

	memcpy(w, s, 8);
	w[8] = 0;
	return (uint32_t)strtoul(w, NULL, 16);
}

/* /proc/net/{tcp,udp}{,6}: "sl local_address rem_address st ... inode" */
static bool inet_table_has(pid_t pid, const char *table, const struct standby_endpoint *dst,
			   bool want_listen, const struct ino_list *socks)
{
	char path[64], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, table);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char local[64];
		unsigned port, st;
		unsigned long ino;
		uint8_t a[16] = { 0 }, zero[16] = { 0 };
		size_t alen = dst->family == AF_INET6 ? 16 : 4;

		if (sscanf(line, " %*d: %63[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*s %*s %lu", local,
			   &port, &st, &ino) != 4)
			continue;
		if (port != dst->port || (want_listen && st != 0x0A) || !ino_has(socks, ino))
			continue;
		if (strlen(local) != alen * 2)
			continue;
		/* the kernel prints each 32-bit word in host order */
		for (size_t w = 0; w < alen / 4; w++) {
			uint32_t v = hex_word(local + w * 8);

			memcpy(a + w * 4, &v, 4);
		}
		found = memcmp(a, zero, alen) == 0 || memcmp(a, dst->addr, alen) == 0;
	}
	fclose(f);
	return found;
}

/* /proc/net/unix: "Num RefCount Protocol Flags Type St Inode Path" */
static bool unix_table_has(pid_t pid, const char *name, const struct ino_list *socks)
{
	char path[64], line[512 + 128];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/net/unix", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char sockpath[512] = "";
		unsigned long ino;

		if (sscanf(line, "%*s %*s %*s %*s %*s %*s %lu %511[^\n]", &ino, sockpath) < 2)
			continue;
		found = ino_has(socks, ino) && strcmp(sockpath, name) == 0;
	}
	fclose(f);
	return found;
}

static bool endpoint_matches(const struct standby_endpoint *cfg_ep,
			     const struct standby_endpoint *ep)
{
	if (cfg_ep->kind != ep->kind)
		return false;
	if (ep->kind == STANDBY_EP_UNIX)
		return strcmp(cfg_ep->path, ep->path) == 0;
	if (cfg_ep->port != ep->port)
		return false;
	if (cfg_ep->family == 0)
		return true;
	return cfg_ep->family == ep->family &&
	       memcmp(cfg_ep->addr, ep->addr, ep->family == AF_INET6 ? 16 : 4) == 0;
}

/*
 * A unix connect that can only fail makes no reference: a path that is not
 * a socket (glibc probes nscd's socket this way), an abstract name that no
 * one has bound.
 */
static bool unix_target_exists(pid_t tid, const char *name)
{
	char full[4200], path[64], line[640];
	bool found = false;
	struct stat st;
	FILE *f;

	if (name[0] != '@') {
		tracee_path(tid, AT_FDCWD, name, full, sizeof(full));
		return stat(full, &st) == 0 && S_ISSOCK(st.st_mode);
	}
	snprintf(path, sizeof(path), "/proc/%d/net/unix", tid);
	f = fopen(path, "re");
	if (!f)
		return true;	/* cannot tell: count it */
	while (!found && fgets(line, sizeof(line), f)) {
		char sockpath[512] = "";

		if (sscanf(line, "%*s %*s %*s %*s %*s %*s %*s %511[^\n]", sockpath) == 1)
			found = strcmp(sockpath, name) == 0;
	}
	fclose(f);
	return found;
}

static bool set_listens(const struct standby_set *set, const struct standby_endpoint *ep)
{
	struct ino_list socks = { 0 };
	bool found = false;
	pid_t pid = set->tgid[0];

	if (set_sockets(set, &socks) < 0 || socks.n == 0)
		goto out;
	if (ep->kind == STANDBY_EP_UNIX)
		found = unix_table_has(pid, ep->path, &socks);
	else if (ep->kind == STANDBY_EP_TCP)
		found = inet_table_has(pid, ep->family == AF_INET6 ? "tcp6" : "tcp", ep, true,
				       &socks);
	else
		found = inet_table_has(pid, ep->family == AF_INET6 ? "udp6" : "udp", ep, false,
				       &socks);
out:
	free(socks.ino);
	return found;
}

static int socket_type(pid_t tid, int fd)
{
	int pidfd, sfd, type = 0;
	socklen_t len = sizeof(type);

	pidfd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
	if (pidfd < 0)
		return -errno;
	sfd = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	close(pidfd);
	if (sfd < 0)
		return -errno;
	if (getsockopt(sfd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		type = -errno;
	close(sfd);
	return type;
}

/* "@name" for an abstract address, the path as given otherwise (as listed). */
static void unix_name(const struct sockaddr_un *sun, socklen_t len, char *buf,
		      size_t size)
{
	size_t plen = len > offsetof(struct sockaddr_un, sun_path)
			      ? len - offsetof(struct sockaddr_un, sun_path)
			      : 0;

	if (plen > sizeof(sun->sun_path))
		plen = sizeof(sun->sun_path);
	if (plen > 0 && sun->sun_path[0] == 0) {
		snprintf(buf, size, "@%.*s", (int)(plen - 1), sun->sun_path + 1);
		return;
	}
	snprintf(buf, size, "%.*s", (int)strnlen(sun->sun_path, plen), sun->sun_path);
}

static int endpoint_from_sockaddr(pid_t tid, int fd, const struct sockaddr_storage *ss,
				  socklen_t len, struct standby_endpoint *ret)
{
	int type;

	memset(ret, 0, sizeof(*ret));
	if (ss->ss_family == AF_UNIX) {
		ret->kind = STANDBY_EP_UNIX;
		unix_name((const struct sockaddr_un *)ss, len, ret->path, sizeof(ret->path));
		return 1;
	}
	if (ss->ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const void *)ss;

		ret->family = AF_INET;
		memcpy(ret->addr, &sin->sin_addr, 4);
		ret->port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		ret->family = AF_INET6;
		memcpy(ret->addr, &sin6->sin6_addr, 16);
		ret->port = ntohs(sin6->sin6_port);
	} else {
		return 0;	/* netlink, packet, AF_UNSPEC (disconnect): not a reference */
	}
	type = socket_type(tid, fd);
	if (type < 0)
		return type;
	ret->kind = (type & 0xf) == SOCK_DGRAM ? STANDBY_EP_UDP : STANDBY_EP_TCP;
	return 1;
}

static void endpoint_format(const struct standby_endpoint *ep, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ep->kind == STANDBY_EP_UNIX) {
		snprintf(buf, size, "unix %s", ep->path);
		return;
	}
	(void)inet_ntop(ep->family, ep->addr, a, sizeof(a));
	snprintf(buf, size, "%s %s%s%s:%u", ep->kind == STANDBY_EP_UDP ? "udp" : "tcp",
		 ep->family == AF_INET6 ? "[" : "", a, ep->family == AF_INET6 ? "]" : "",
		 ep->port);
}

static int judge_sockaddr(const struct standby_config *cfg, const struct standby_set *set,
			  pid_t tid, int fd, uint64_t addr, uint64_t len, const char *call,
			  char *what, size_t what_size)
{
	struct sockaddr_storage ss = { 0 };
	struct standby_endpoint ep;
	char name[160];
	int r;

	if (!addr || len < sizeof(sa_family_t))
		return 0;	/* no address: a connected socket, judged at its connect */
	if (len > sizeof(ss))
		len = sizeof(ss);
	r = mem_read(tid, addr, &ss, len);
	if (r < 0)
		return r;
	r = endpoint_from_sockaddr(tid, fd, &ss, (socklen_t)len, &ep);
	if (r <= 0)
		return r;
	for (unsigned i = 0; i < cfg->n_internal; i++)
		if (endpoint_matches(&cfg->internal[i], &ep))
			return 0;
	if (set_listens(set, &ep))
		return 0;
	if (ep.kind == STANDBY_EP_UNIX && !unix_target_exists(tid, ep.path))
		return 0;	/* it will fail with ENOENT or ECONNREFUSED */
	endpoint_format(&ep, name, sizeof(name));
	snprintf(what, what_size, "%s %s", call, name);
	return 1;
}

static int judge_sendmsg(const struct standby_config *cfg, const struct standby_set *set,
			 pid_t tid, const uint64_t args[6], bool multi, char *what,
			 size_t what_size)
{
	unsigned n = multi ? (unsigned)args[2] : 1;
	size_t stride = multi ? sizeof(struct mmsghdr) : sizeof(struct msghdr);

	if (n > MAX_MMSG)
		n = MAX_MMSG;
	for (unsigned i = 0; i < n; i++) {
		struct msghdr mh;
		int r;

		r = mem_read(tid, args[1] + i * stride, &mh, sizeof(mh));
		if (r < 0)
			return r;
		r = judge_sockaddr(cfg, set, tid, (int)args[0], (uintptr_t)mh.msg_name,
				   mh.msg_namelen, multi ? "sendmmsg" : "sendmsg", what, what_size);
		if (r != 0)
			return r;
	}
	return 0;
}

/* The path as the tracee sees it, reachable from here through /proc. */
static void tracee_path(pid_t tid, int dirfd, const char *path, char *buf, size_t size)
{
	if (path[0] == '/')
		snprintf(buf, size, "/proc/%d/root%s", tid, path);
	else if (dirfd == AT_FDCWD)
		snprintf(buf, size, "/proc/%d/cwd/%s", tid, path);
	else
		snprintf(buf, size, "/proc/%d/fd/%d/%s", tid, dirfd, path);
}

/* The tracee's path, resolved here; a missing last component through its parent. */
static bool resolve(pid_t tid, int dirfd, const char *path, char *real)
{
	char full[4200], *slash;

	tracee_path(tid, dirfd, path, full, sizeof(full));
	if (realpath(full, real))
		return true;
	slash = strrchr(full, '/');
	if (!slash)
		return false;
	*slash = 0;
	return realpath(full, real) != NULL;
}

static bool under_store(const struct standby_config *cfg, const char *path)
{
	size_t n = strlen(cfg->store);

	return n > 0 && strncmp(path, cfg->store, n) == 0 && (path[n] == '/' || path[n] == 0);
}

static int judge_open(const struct standby_config *cfg, pid_t tid, int dirfd, uint64_t upath,
		      uint64_t flags, char *what, size_t what_size)
{
	char path[4096], full[4200], real[4096];
	struct stat st;

	if (mem_read_string(tid, upath, path, sizeof(path)) < 0)
		return 0;	/* the call itself will fail with EFAULT/ENAMETOOLONG */
	tracee_path(tid, dirfd, path, full, sizeof(full));
	if (stat(full, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
		snprintf(what, what_size, "open %s %s", S_ISFIFO(st.st_mode) ? "fifo" : "socket",
			 path);
		return 1;
	}
	if (!cfg->store_write_external || !(flags & (O_TRUNC | O_CREAT)))
		return 0;
	/* a new or truncated file writes the store */
	if (!resolve(tid, dirfd, path, real) || !under_store(cfg, real))
		return 0;
	snprintf(what, what_size, "open for writing under store %s", path);
	return 1;
}

/* mkdir, unlink, rename, truncate, link, symlink... of a path under the store */
static int judge_path_write(const struct standby_config *cfg, pid_t tid, const char *call,
			    int dirfd, uint64_t upath, char *what, size_t what_size)
{
	char path[4096], real[4096];

	if (!cfg->store_write_external || mem_read_string(tid, upath, path, sizeof(path)) < 0)
		return 0;
	if (!resolve(tid, dirfd, path, real) || !under_store(cfg, real))
		return 0;
	snprintf(what, what_size, "%s under store %s", call, path);
	return 1;
}

static int judge_write(const struct standby_config *cfg, pid_t tid, int fd, char *what,
		       size_t what_size)
{
	char link[64], target[4096];
	ssize_t n;

	if (!cfg->store_write_external)
		return 0;
	snprintf(link, sizeof(link), "/proc/%d/fd/%d", tid, fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return 0;
	target[n] = 0;
	if (!under_store(cfg, target))
		return 0;
	snprintf(what, what_size, "write to store %s", target);
	return 1;
}

static int judge_shmat(const struct standby_set *set, int id, char *what, size_t what_size)
{
	struct shmid_ds ds;

	if (shmctl(id, IPC_STAT, &ds) < 0)
		return 0;	/* the call will fail */
	for (unsigned i = 0; i < set->n; i++)
		if (set->tgid[i] == ds.shm_cpid)
			return 0;
	snprintf(what, what_size, "shmat segment %d created by pid %d", id, ds.shm_cpid);
	return 1;
}

static int judge_ipc_key(const char *call, uint64_t key, char *what, size_t what_size)
{
	if ((key_t)key == IPC_PRIVATE)
		return 0;
	snprintf(what, what_size, "%s key 0x%llx", call, (unsigned long long)(uint32_t)key);
	return 1;
}

int standby_external_judge(const struct standby_config *cfg, const struct standby_set *set,
			   pid_t tid, long nr, const uint64_t args[6], char *what,
			   size_t what_size)
{
	struct open_how how;
	int fd = (int)args[0];

	switch (nr) {
	case __NR_connect:
		return judge_sockaddr(cfg, set, tid, fd, args[1], args[2], "connect", what,
				      what_size);
	case __NR_sendto:
		return judge_sockaddr(cfg, set, tid, fd, args[4], args[5], "sendto", what,
				      what_size);
	case __NR_sendmsg:
		return judge_sendmsg(cfg, set, tid, args, false, what, what_size);
	case __NR_sendmmsg:
		return judge_sendmsg(cfg, set, tid, args, true, what, what_size);
	case __NR_open:
		return judge_open(cfg, tid, AT_FDCWD, args[0], args[1], what, what_size);
	case __NR_creat:
		return judge_open(cfg, tid, AT_FDCWD, args[0], O_CREAT | O_TRUNC, what, what_size);
	case __NR_openat:
		return judge_open(cfg, tid, fd, args[1], args[2], what, what_size);
	case __NR_openat2:
		if (mem_read(tid, args[2], &how, sizeof(how)) < 0)
			return 0;
		return judge_open(cfg, tid, fd, args[1], how.flags, what, what_size);
	case __NR_mq_open:
		snprintf(what, what_size, "mq_open");
		return 1;
	case __NR_shmget:
		return judge_ipc_key("shmget", args[0], what, what_size);
	case __NR_semget:
		return judge_ipc_key("semget", args[0], what, what_size);
	case __NR_msgget:
		return judge_ipc_key("msgget", args[0], what, what_size);
	case __NR_shmat:
		return judge_shmat(set, (int)args[0], what, what_size);
	case __NR_write:
	case __NR_pwrite64:
	case __NR_writev:
	case __NR_pwritev:
	case __NR_pwritev2:
	case __NR_ftruncate:
	case __NR_fallocate:
		return judge_write(cfg, tid, fd, what, what_size);
	case __NR_copy_file_range:
		return judge_write(cfg, tid, (int)args[2], what, what_size);
	case __NR_mkdir:
	case __NR_rmdir:
	case __NR_unlink:
	case __NR_truncate:
		return judge_path_write(cfg, tid, nr == __NR_mkdir ? "mkdir" : nr == __NR_rmdir ? "rmdir"
						  : nr == __NR_unlink ? "unlink" : "truncate",
					AT_FDCWD, args[0], what, what_size);
	case __NR_rename:
	case __NR_link:
	case __NR_symlink:	/* the new name (args[1]) is what lands in a directory */
		return judge_path_write(cfg, tid, nr == __NR_rename ? "rename" : "link", AT_FDCWD,
					args[nr == __NR_symlink ? 1 : 0], what, what_size) ||
		       judge_path_write(cfg, tid, nr == __NR_rename ? "rename" : "link", AT_FDCWD,
					args[1], what, what_size);
	case __NR_mkdirat:
	case __NR_unlinkat:
		return judge_path_write(cfg, tid, nr == __NR_mkdirat ? "mkdir" : "unlink",
					(int)args[0], args[1], what, what_size);
	case __NR_renameat:
	case __NR_renameat2:
	case __NR_linkat:
		return judge_path_write(cfg, tid, nr == __NR_linkat ? "link" : "rename", (int)args[0],
					args[1], what, what_size) ||
		       judge_path_write(cfg, tid, nr == __NR_linkat ? "link" : "rename", (int)args[2],
					args[3], what, what_size);
	case __NR_symlinkat:
		return judge_path_write(cfg, tid, "symlink", (int)args[1], args[2], what, what_size);
	default:
		return 0;
	}
}
