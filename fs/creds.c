// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * creds.c - create objects as the calling user, per worker thread.
 *
 * New inodes must get the caller's uid and gid, or the group of a setgid
 * directory, exactly as the store itself decides. The daemon runs as root,
 * so for a create the worker thread takes the caller's fsuid/fsgid (both are
 * per thread in the kernel; glibc's setgroups() is not, hence the raw
 * syscall) and re-raises the capabilities that setfsuid() drops, except
 * CAP_FSETID: without it the store strips the setgid bit of a new file in a
 * group the caller is not in, as the kernel would for the caller. The
 * kernel already checked permissions (default_permissions), so the thread
 * keeps CAP_DAC_OVERRIDE for the store's own check.
 *
 * The umask is per fs_struct, so each worker unshares CLONE_FS once and then
 * sets the caller's umask: with POSIX ACLs on, the kernel sends modes
 * unmasked, and the store must apply the umask only where no default ACL
 * exists.
 */
#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LOG_PREFIX "creds: "
#include "lifeboat/log.h"
#include "lifeboatfs.h"

#define CREDS_MAX_GROUPS 256

static __thread bool thread_fs_unshared;
static __thread mode_t thread_umask = (mode_t)-1;

static int caps_raise_for_create(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	data[0].effective |= data[0].permitted &
			     ((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH) |
			      (1u << CAP_FOWNER) | (1u << CAP_MKNOD));
	data[0].effective &= ~(1u << CAP_FSETID);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	return 0;
}

/*
 * Supplementary groups matter only when the new object asks for S_ISGID:
 * the store keeps it when the caller belongs to the object's group.
 */
static int groups_enter(fuse_req_t req)
{
	gid_t groups[CREDS_MAX_GROUPS];
	int n = fuse_req_getgroups(req, CREDS_MAX_GROUPS, groups);

	if (n < 0)
		return n;
	if (n > CREDS_MAX_GROUPS)
		n = CREDS_MAX_GROUPS;
	if (syscall(SYS_setgroups, n, groups) < 0)
		return -errno;
	return 0;
}

int creds_enter(fuse_req_t req, mode_t mode, struct lb_creds_saved *ret_saved)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int r;

	ret_saved->switched = false;
	ret_saved->groups = false;
	creds_thread_umask(req);
	if (ctx->uid == 0 && ctx->gid == 0)
		return 0;

	if (mode & S_ISGID) {
		r = groups_enter(req);
		if (r < 0)
			return r;
		ret_saved->groups = true;
	}
	setfsgid(ctx->gid);
	setfsuid(ctx->uid);
	ret_saved->switched = true;
	r = caps_raise_for_create();
	if (r < 0) {
		creds_leave(ret_saved);
		return r;
	}
	return 0;
}

void creds_leave(const struct lb_creds_saved *saved)
{
	if (saved->switched) {
		/* fsuid back to 0 restores the file-system capabilities. */
		setfsuid(0);
		setfsgid(0);
	}
	if (saved->groups)
		(void)syscall(SYS_setgroups, 0, NULL);
}

static void thread_umask_set(mode_t mask)
{
	if (!thread_fs_unshared) {
		if (unshare(CLONE_FS) < 0) {
			log_warning_errno(-errno, "cannot unshare fs attributes, umask may leak between threads");
		}
		thread_fs_unshared = true;
	}
	if (mask != thread_umask) {
		umask(mask);
		thread_umask = mask;
	}
}

void creds_thread_umask(fuse_req_t req)
{
	thread_umask_set(fuse_req_ctx(req)->umask);
}

/*
 * creds_enter() for a request libfuse never saw (tmpfile.c): the ids and
 * umask come from the request header. Supplementary groups are not taken.
 */
int creds_enter_ids(uid_t uid, gid_t gid, mode_t mask, struct lb_creds_saved *ret_saved)
{
	int r;

	ret_saved->switched = false;
	ret_saved->groups = false;
	thread_umask_set(mask);
	if (uid == 0 && gid == 0)
		return 0;
	setfsgid(gid);
	setfsuid(uid);
	ret_saved->switched = true;
	r = caps_raise_for_create();
	if (r < 0)
		creds_leave(ret_saved);
	return r;
}
