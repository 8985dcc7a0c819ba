// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * session.c - the FUSE session: capabilities negotiated at INIT, the
 * multi-threaded loop, and a clean unmount that makes the store durable.
 *
 * libfuse 3.14 cannot negotiate FUSE_HANDLE_KILLPRIV_V2, without which the
 * kernel asks for security.capability before every write (25-30 us per 4
 * KiB write here). The session therefore writes through a thin custom I/O
 * layer that adds the flag to the INIT reply; clearing setuid/setgid on
 * unprivileged writes and truncates is implemented in attr.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define LOG_PREFIX ""
#include "lifeboat/log.h"
#include "lifeboatfs.h"

#define LB_MAX_WRITE (1024 * 1024)

static atomic_bool init_reply_seen;

static void lb_init(void *userdata, struct fuse_conn_info *conn)
{
	struct lb_fs *fs = userdata;
	unsigned int want = FUSE_CAP_ASYNC_READ | FUSE_CAP_ATOMIC_O_TRUNC |
			    FUSE_CAP_PARALLEL_DIROPS | FUSE_CAP_READDIRPLUS |
			    FUSE_CAP_READDIRPLUS_AUTO | FUSE_CAP_POSIX_ACL |
			    FUSE_CAP_DONT_MASK | FUSE_CAP_CACHE_SYMLINKS | FUSE_CAP_ASYNC_DIO;

	if (fs->opt.splice_read)
		want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
	if (fs->opt.splice_write)
		want |= FUSE_CAP_SPLICE_READ;
	conn->want |= want & conn->capable;
	/*
	 * The mount owns its store: cached pages stay valid when attributes
	 * change through the mount itself, and the kernel must not write back
	 * behind a checkpoint's back.
	 */
	conn->want &= ~(FUSE_CAP_AUTO_INVAL_DATA | FUSE_CAP_WRITEBACK_CACHE |
			FUSE_CAP_EXPORT_SUPPORT);
	if (!fs->opt.splice_read)
		conn->want &= ~(FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
	if (!fs->opt.splice_write)
		conn->want &= ~FUSE_CAP_SPLICE_READ;
	conn->max_write = LB_MAX_WRITE;
	conn->max_background = 64;
	conn->congestion_threshold = 48;
	conn->time_gran = 1;
}

static void lb_destroy(void *userdata)
{
	struct lb_fs *fs = userdata;

	/* Unmounting makes everything durable on the store (or in the journal). */
	absorb_shutdown(fs);
	if (fs->state == LB_HEALTHY && syncfs(fs->mount_fd) < 0)
		log_warning_errno(-errno, "cannot sync store '%s' at unmount", fs->opt.store);
}

static const struct fuse_lowlevel_ops lb_ops = {
	.init = lb_init,
	.destroy = lb_destroy,
	.lookup = lb_lookup,
	.forget = lb_forget,
	.forget_multi = lb_forget_multi,
	.getattr = lb_getattr,
	.setattr = lb_setattr,
	.readlink = lb_readlink,
	.mknod = lb_mknod,
	.mkdir = lb_mkdir,
	.symlink = lb_symlink,
	.link = lb_link,
	.unlink = lb_unlink,
	.rmdir = lb_rmdir,
	.rename = lb_rename,
	.open = lb_open,
	.create = lb_create,
	.read = lb_read,
	.write_buf = lb_write_buf,
	.release = lb_release,
	.fsync = lb_fsync,
	.opendir = lb_opendir,
	.readdir = lb_readdir,
	.readdirplus = lb_readdirplus,
	.releasedir = lb_releasedir,
	.fsyncdir = lb_fsyncdir,
	.statfs = lb_statfs,
	.setxattr = lb_setxattr,
	.getxattr = lb_getxattr,
	.listxattr = lb_listxattr,
	.removexattr = lb_removexattr,
	.fallocate = lb_fallocate,
	.copy_file_range = lb_copy_file_range,
	.lseek = lb_lseek,
};

/*
 * The first reply on the device answers INIT: add HANDLE_KILLPRIV_V2 to
 * it. True for the INIT reply (even one it cannot patch).
 */
static bool patch_init_reply(struct iovec *iov, int count)
{
	struct fuse_out_header *out = iov[0].iov_base;
	struct fuse_init_out *init;

	if (atomic_exchange(&init_reply_seen, true))
		return false;
	if (count < 2 || iov[0].iov_len != sizeof(*out) || out->error != 0 ||
	    iov[1].iov_len < offsetof(struct fuse_init_out, max_background))
		return true;
	init = iov[1].iov_base;
	init->flags |= FUSE_HANDLE_KILLPRIV_V2;
	return true;
}

/* @path as /proc/self/mountinfo writes it (octal escapes). */
static void mountinfo_escape(const char *path, char *buf, size_t len)
{
	size_t n = 0;

	for (; *path && n + 5 < len; path++) {
		if (strchr(" \t\n\\", *path))
			n += (size_t)snprintf(buf + n, len - n, "\\%03o", (unsigned char)*path);
		else
			buf[n++] = *path;
	}
	buf[n] = '\0';
}

/* The device number of the newest mount at @mountpoint, from mountinfo. */
static int mount_devnum(const char *mountpoint, unsigned int *ret_major, unsigned int *ret_minor)
{
	char want[2 * PATH_MAX], mnt[2 * PATH_MAX], *line = NULL;
	unsigned int maj, min;
	size_t cap = 0;
	int r = -ENOENT;
	FILE *f;

	mountinfo_escape(mountpoint, want, sizeof(want));
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		if (strlen(line) >= sizeof(mnt) ||
		    sscanf(line, "%*d %*d %u:%u %*s %s", &maj, &min, mnt) != 3 || strcmp(mnt, want))
			continue;
		*ret_major = maj;	/* a later line is a mount on top */
		*ret_minor = min;
		r = 0;
	}
	free(line);
	fclose(f);
	return r;
}

/*
 * The kernel reads ahead at most 128 KiB on a FUSE mount (it lowers the
 * mount's readahead to what INIT offered, which is its default), so a
 * sequential read costs a READ per 128 KiB although one may carry
 * LB_MAX_WRITE. The mount's own readahead, raised once INIT is in effect,
 * lets a cold sequential read go in 1 MiB READs. Not root, or no sysfs:
 * the kernel's default stays.
 */
static void raise_readahead(struct lb_fs *fs)
{
	unsigned int maj, min;
	char path[64], val[16];
	int fd, r;

	r = mount_devnum(fs->opt.mountpoint, &maj, &min);
	if (r < 0)
		return (void)log_debug_errno(r, "cannot find the mount's device: readahead unchanged");
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", maj, min);
	snprintf(val, sizeof(val), "%d", LB_MAX_WRITE / 1024);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	r = fd < 0 || write(fd, val, strlen(val)) < 0 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	if (r < 0)
		log_debug_errno(r, "cannot set %s: readahead unchanged", path);
}

/*
 * A rescued request is answered by its rescue, on the channel it came
 * from; the left-behind thread's late answer is dropped as if the kernel
 * had refused it (ENOENT: what libfuse sees for an interrupted request).
 */
static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	bool init = false;
	ssize_t n;

	if (!atomic_load_explicit(&init_reply_seen, memory_order_relaxed))
		init = patch_init_reply(iov, count);
	fd = stall_reply_fd(fd);
	if (fd < 0) {
		errno = ENOENT;
		return -1;
	}
	n = writev(fd, iov, count);
	if (init && n >= 0)
		raise_readahead(userdata);	/* the kernel applied INIT in writev() */
	return n;
}

/*
 * FUSE_TMPFILE, unknown to libfuse 3.14, is answered by tmpfile.c. Each
 * request read here is served by this thread until its next read: the
 * stall watchdog watches it in between.
 */
static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n;

	stall_request_end(userdata);
	do
		n = read(fd, buf, len);
	while (n > 0 && tmpfile_intercept(userdata, fd, buf, (size_t)n));
	if (n > 0)
		stall_request_begin(userdata, fd, buf, (size_t)n);
	return n;
}

static ssize_t io_splice(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
			 unsigned int flags, void *userdata)
{
	return splice(fdin, offin, fdout, offout, len, flags);
}

static const struct fuse_custom_io lb_io = {
	.writev = io_writev,
	.read = io_read,
	.splice_receive = io_splice,
	.splice_send = io_splice,
};

static int session_loop(struct lb_fs *fs)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	int r;

	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(cfg, 1);
	fuse_loop_cfg_set_max_threads(cfg, fs->opt.max_threads);
	r = fuse_session_loop_mt(fs->se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return r;
}

static int add_fsname(struct fuse_args *args, const char *store)
{
	char *opt, *p;
	int r;

	/* libfuse splits -o values at commas unless escaped. */
	opt = malloc(strlen("-ofsname=") + 2 * strlen(store) + 1);
	if (!opt)
		return -ENOMEM;
	p = stpcpy(opt, "-ofsname=");
	for (; *store; store++) {
		if (*store == ',' || *store == '\\')
			*p++ = '\\';
		*p++ = *store;
	}
	*p = '\0';
	r = fuse_opt_add_arg(args, opt);
	free(opt);
	return r;
}

int session_run(struct lb_fs *fs, struct fuse_args *args)
{
	int r;

	/* The kernel checks access: the daemon acts as root on the store. */
	if (fuse_opt_add_arg(args, "-odefault_permissions") < 0 ||
	    fuse_opt_add_arg(args, "-osubtype=lifeboatfs") < 0 ||
	    add_fsname(args, fs->opt.store) < 0)
		return -ENOMEM;
	fs->se = fuse_session_new(args, &lb_ops, sizeof(lb_ops), fs);
	if (!fs->se)
		return -EINVAL;	/* libfuse named the bad option */
	r = -EIO;
	if (fuse_set_signal_handlers(fs->se) < 0)
		goto out_destroy;
	if (fuse_session_mount(fs->se, fs->opt.mountpoint) < 0)
		goto out_signals;
	r = fuse_session_custom_io(fs->se, &lb_io, fuse_session_fd(fs->se));
	if (r < 0) {
		log_error_errno(r, "cannot set up the FUSE device I/O");
		goto out_unmount;
	}
	fuse_daemonize(fs->opt.foreground);
	if (!fs->opt.foreground)
		log_use_syslog(true);
	r = absorb_start(fs);
	if (r < 0)
		goto out_unmount;
	log_info("serving '%s' at '%s'", fs->opt.store, fs->opt.mountpoint);
	r = session_loop(fs);
	/* libfuse reports the signal that ended the loop: that is a clean stop. */
	if (r == SIGTERM || r == SIGINT || r == SIGHUP)
		r = 0;
	if (r > 0)
		r = -r;

out_unmount:
	fuse_session_unmount(fs->se);
out_signals:
	fuse_remove_signal_handlers(fs->se);
out_destroy:
	fuse_session_destroy(fs->se);
	return r;
}

#undef fuse_reply_err
int lb_reply_err(fuse_req_t req, int err, const char *handler)
{
	struct lb_fs *fs = fs_of(req);

	if (err != 0 && errclass_is_path_failure(-err, fs->store_writable))
		log_warning("%s answers %s (%s): the application sees a path failure", handler,
			    strerrorname_np(err) ?: "?", lb_state_name(fs->state));
	return fuse_reply_err(req, err);
}
