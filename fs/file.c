// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * file.c - open files: open, create, read, write, release, fsync,
 * fallocate, copy_file_range and lseek.
 *
 * The backing file is opened without O_APPEND (the kernel already turns an
 * append into a write at the file's size, and the page-cache writeback of a
 * shared mapping may use any writable handle of the inode, so an O_APPEND
 * backing fd would misplace those writes) and without O_DIRECT (the request
 * buffers are not aligned; the handle is made direct_io instead, so the page
 * cache is bypassed as the application asked). The kernel may keep file
 * data cached across opens: every change to the store comes through here.
 */
#include <errno.h>
#include <pthread.h>
#include <linux/falloc.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "file: "
#include "lifeboat/log.h"
#include "altread.h"
#include "lifeboatfs.h"

static struct lb_file *file_of(struct fuse_file_info *fi)
{
	return (struct lb_file *)(uintptr_t)fi->fh;
}

static int backing_flags(int flags)
{
	return (flags & ~(O_APPEND | O_DIRECT | O_NOFOLLOW | O_CREAT | O_EXCL | O_TRUNC)) |
	       O_CLOEXEC;
}

static void file_fill_info(struct lb_file *f, struct fuse_file_info *fi)
{
	fi->fh = (uintptr_t)f;
	fi->noflush = 1;	/* nothing to do at close(2): saves a round trip */
	if (fi->flags & O_DIRECT)
		fi->direct_io = 1;
	else
		fi->keep_cache = 1;
}

/*
 * The backing fd of an open file. A file opened while absorbing has none
 * until the store answers again; it is opened then, on first use.
 */
static int file_fd(struct lb_fs *fs, struct lb_file *f)
{
	int fd = f->fd, expected = -1;

	if (stall_gate_closed(fs))
		return -ETIMEDOUT;
	if (fd >= 0)
		return fd;
	fd = inode_open(fs, f->inode, backing_flags(f->flags), true);
	if (fd < 0)
		return fd;
	if (!atomic_compare_exchange_strong(&f->fd, &expected, fd)) {
		close(fd);	/* another thread won */
		return expected;
	}
	return fd;
}

static struct lb_file *file_new(struct lb_inode *inode, int fd, int flags)
{
	struct lb_file *f = malloc(sizeof(*f));

	if (!f)
		return NULL;
	f->fd = fd;
	f->flags = flags;
	f->inode = inode;
	return f;
}

/*
 * An open file of @inode on the backing @fd (the file's own on success),
 * listed on the inode and described in @fi (fh and the open flags), as
 * lb_open() makes one: for replies libfuse does not send (tmpfile.c).
 */
struct lb_file *file_attach(struct lb_fs *fs, struct lb_inode *inode, int fd,
			    struct fuse_file_info *fi)
{
	struct lb_file *f = file_new(inode, fd, fi->flags);

	if (!f)
		return NULL;
	file_fill_info(f, fi);
	inode_file_add(fs, inode, f);
	return f;
}

/*
 * The object behind @inode was made again by a replay: point every open
 * file's fd at it, in place, so no thread ever holds a dangling number.
 */
void file_reopen_all(struct lb_fs *fs, struct lb_inode *inode)
{
	pthread_mutex_lock(&fs->inodes_lock);
	for (struct lb_file *f = inode->files; f; f = f->next) {
		int fd;

		if (f->fd < 0)
			continue;
		fd = inode_open(fs, inode, backing_flags(f->flags), false);
		if (fd < 0) {
			log_warning_errno(fd, "cannot reopen a file after recovery");
			continue;
		}
		(void)dup2(fd, f->fd);
		close(fd);
	}
	pthread_mutex_unlock(&fs->inodes_lock);
}

static int trunc_store(struct lb_fs *fs, struct lb_mut *m, void *arg)
{
	struct fuse_file_info *fi = arg;
	int fd = inode_open(fs, m->file, backing_flags(fi->flags) | O_TRUNC, true);

	if (fd < 0)
		return fd;
	m->fd = fd;
	inode_note_size(fs, m->file, 0, true);
	return 0;
}

/* open(O_TRUNC) changes the file: it is a mutation like any other. */
static int open_truncating(fuse_req_t req, struct lb_inode *inode, struct fuse_file_info *fi)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_mut m;
	int r;

	mut_init(&m, JOURNAL_TRUNCATE);
	m.file = inode;
	(void)mut_path(fs, &m, inode, NULL);
	m.rec.size = 0;
	r = mut_run(fs, &m, trunc_store, fi);
	if (r < 0)
		return r;
	if (m.fd >= 0 && attr_kill_suid(fs, inode, m.fd, req) > 0)
		(void)fuse_lowlevel_notify_inval_inode(fs->se, (uintptr_t)inode, -1, 0);
	return m.fd;	/* -1 when absorbed: opened once the store is back */
}

void lb_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_inode *inode = inode_of(fs, ino);
	struct lb_file *f;
	int fd;

	if (fi->flags & O_TRUNC) {
		fd = open_truncating(req, inode, fi);
	} else if (fs->state != LB_HEALTHY || inode->virt) {
		fd = -1;
	} else {
		fd = inode_open(fs, inode, backing_flags(fi->flags), true);
		if (fd < 0 && is_path_failure(fs, fd)) {
			absorb_begin(fs, fd);
			fd = -1;
		}
	}
	if (fd < -1)
		return (void)fuse_reply_err(req, -fd);
	f = file_new(inode, fd, fi->flags);
	if (!f) {
		if (fd >= 0)
			close(fd);
		return (void)fuse_reply_err(req, ENOMEM);
	}
	file_fill_info(f, fi);
	inode_file_add(fs, inode, f);
	if (fuse_reply_open(req, fi) == -ENOENT) {
		inode_file_del(fs, inode, f);
		if (fd >= 0)
			close(fd);
		free(f);
	}
}

struct create_arg {
	fuse_req_t req;
	const char *name;
	mode_t mode;
	struct fuse_file_info *fi;
};

static int create_store(struct lb_fs *fs, struct lb_mut *m, void *arg)
{
	struct create_arg *a = arg;
	struct lb_creds_saved saved;
	int dfd, fd, r;

	dfd = inode_fd_get(fs, m->dir);
	if (dfd < 0)
		return dfd;
	r = creds_enter(a->req, a->mode, &saved);
	if (r < 0)
		goto out_put;
	fd = openat(dfd, a->name, backing_flags(a->fi->flags) | O_CREAT | (a->fi->flags & O_EXCL),
		    a->mode);
	r = fd < 0 ? -errno : 0;
	creds_leave(&saved);
	if (r < 0)
		goto out_put;
	r = entry_new(fs, m->dir, dfd, a->name, &m->file, &m->st);
	if (r < 0) {
		close(fd);
		goto out_put;
	}
	m->fd = fd;
	mut_note_created(m);
out_put:
	inode_fd_put(fs, m->dir);
	return store_lost(r);
}

void lb_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi)
{
	struct lb_fs *fs = fs_of(req);
	struct create_arg a = { req, name, mode, fi };
	struct fuse_entry_param e;
	struct lb_file *f;
	struct lb_mut m;
	int r;

	mut_init(&m, JOURNAL_CREATE);
	m.dir = inode_of(fs, parent);
	(void)mut_path(fs, &m, m.dir, name);
	mut_new_object(req, &m, m.dir, S_IFREG | (mode & 07777));
	r = mut_run(fs, &m, create_store, &a);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	f = file_new(m.file, m.fd, fi->flags);
	if (!f) {
		if (m.fd >= 0)
			close(m.fd);
		inode_forget(fs, m.file, 1);
		return (void)fuse_reply_err(req, ENOMEM);
	}
	file_fill_info(f, fi);
	inode_file_add(fs, m.file, f);
	entry_fill(fs, m.file, &m.st, &e);
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		inode_file_del(fs, m.file, f);
		inode_forget(fs, m.file, 1);
		if (m.fd >= 0)
			close(m.fd);
		free(f);
	}
}

static __thread char *read_buf;
static __thread size_t read_buf_size;
static pthread_key_t read_buf_key;
static pthread_once_t read_buf_once = PTHREAD_ONCE_INIT;

static void read_buf_key_init(void)
{
	(void)pthread_key_create(&read_buf_key, free);
}

/*
 * One read buffer per worker, up to max_read. libfuse ends idle workers
 * and rescues are threads of their own: the key frees the buffer at exit.
 */
static char *thread_buf(size_t size)
{
	if (size > read_buf_size) {
		char *b;

		pthread_once(&read_buf_once, read_buf_key_init);
		b = realloc(read_buf, size);
		if (!b)
			return NULL;
		read_buf = b;
		read_buf_size = size;
		(void)pthread_setspecific(read_buf_key, b);
	}
	return read_buf;
}

/*
 * A short read where the mount's own writes left data, of a file the queue
 * holds: the store lost what it had not made durable (see inode_store_lost()).
 */
static bool read_lost_data(struct lb_fs *fs, struct lb_inode *inode, size_t size, off_t off,
			   ssize_t n)
{
	struct stat known;

	if (n < 0 || (size_t)n == size || fs->state != LB_HEALTHY)
		return false;
	inode_stat_get(fs, inode, &known);
	return off + n < known.st_size && queue_holds_inode(fs, inode);
}

static ssize_t read_store(struct lb_fs *fs, struct lb_file *f, char *buf, size_t size, off_t off)
{
	int fd = file_fd(fs, f);
	ssize_t n;

	if (fd < 0)
		return fd;
	n = pread(fd, buf, size, off);
	if (n < 0 && errno == ESTALE && inode_reresolve(fs, f->inode) == 0)
		n = pread(f->fd, buf, size, off);
	if (n < 0)
		return -errno;
	if (read_lost_data(fs, f->inode, size, off, n) ||
	    (fs->state == LB_HEALTHY && queue_read_contradicts(fs, f->inode, (uint64_t)off, buf, (size_t)n)))
		return -ESTALE;
	return n;
}

/*
 * Data is read into memory, never spliced from the store: a path error must
 * be seen here, not handed to the application by the reply.
 */
void lb_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_file *f = file_of(fi);
	char *buf = thread_buf(size);
	bool recovered_once = false;
	ssize_t n;

	if (!buf)
		return (void)fuse_reply_err(req, ENOMEM);
	for (;;) {
		uint64_t epoch = absorb_epoch(fs);

		n = -ENODATA;
		if (f->inode->ov)
			n = ov_read(fs, f->inode, f->fd, buf, size, off);
		if (n == -ENODATA) {
			n = read_store(fs, f, buf, size, off);
			/*
			 * Absorbing began meanwhile: the rollback may have come
			 * before our read, and the overlay has what was lost.
			 */
			if (n >= 0 && absorb_began_since(fs, epoch) && f->inode->ov)
				continue;
		}
		if (n >= 0 || (!is_path_failure(fs, (int)n) && n != -EAGAIN))
			break;
		/*
		 * Still stale after a recovery while the store answers: the
		 * object is gone from it for good, absorbing again cannot help.
		 */
		if (n == -ESTALE && recovered_once && fs->state == LB_HEALTHY) {
			log_warning("a read finds its object gone from the store after recovery");
			n = -EIO;
			break;
		}
		log_debug("read %p fd %d ov %p: %zd", (void *)f->inode, f->fd, (void *)f->inode->ov, n);
		if (n != -EAGAIN)
			absorb_begin(fs, (int)n);
		/* the store's bytes, through the peer: no wait on the dead path */
		n = altread_read(fs, f->inode, buf, size, off);
		if (n >= 0)
			break;
		n = hold_wait(fs);
		if (n < 0)
			break;
		recovered_once = true;
	}
	if (n < 0)
		return (void)fuse_reply_err(req, (int)-n);
	fuse_reply_buf(req, buf, (size_t)n);
}

struct write_arg {
	fuse_req_t req;
	struct lb_file *f;
	bool killed;
};

static int write_store(struct lb_fs *fs, struct lb_mut *m, void *arg)
{
	struct write_arg *a = arg;
	size_t done = 0;
	int fd = file_fd(fs, a->f);

	if (fd < 0)
		return fd;
	while (done < m->rec.data_len) {
		ssize_t n = pwrite(fd, (const char *)m->rec.data + done, m->rec.data_len - done,
				   (off_t)(m->rec.offset + done));

		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	inode_note_size(fs, m->file, m->rec.offset + done, false);
	a->killed = attr_kill_suid(fs, m->file, fd, a->req) > 0;
	return 0;
}

/* Request data as one memory buffer (it is queued or journaled as is). */
static const void *write_data(struct fuse_bufvec *in, size_t *ret_len, void **ret_owned)
{
	size_t len = fuse_buf_size(in);
	struct fuse_bufvec mem = FUSE_BUFVEC_INIT(len);

	*ret_owned = NULL;
	*ret_len = len;
	if (in->count == 1 && !(in->buf[0].flags & FUSE_BUF_IS_FD))
		return (const char *)in->buf[0].mem + in->off;
	mem.buf[0].mem = malloc(len ? len : 1);
	if (!mem.buf[0].mem)
		return NULL;
	if (fuse_buf_copy(&mem, in, 0) != (ssize_t)len) {
		free(mem.buf[0].mem);
		return NULL;
	}
	*ret_owned = mem.buf[0].mem;
	return mem.buf[0].mem;
}

void lb_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in, off_t off,
		  struct fuse_file_info *fi)
{
	struct lb_fs *fs = fs_of(req);
	struct write_arg a = { req, file_of(fi), false };
	struct lb_mut m;
	void *owned;
	int r;

	mut_init(&m, JOURNAL_WRITE);
	m.file = a.f->inode;
	m.rec.data = write_data(in, &m.rec.data_len, &owned);
	if (!m.rec.data)
		return (void)fuse_reply_err(req, ENOMEM);
	m.rec.offset = (uint64_t)off;
	(void)mut_path(fs, &m, m.file, NULL);
	r = mut_run(fs, &m, write_store, &a);
	free(owned);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	fuse_reply_write(req, m.rec.data_len);
	if (a.killed)	/* the kernel still caches the old mode */
		(void)fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
}

static void file_free(void *arg)
{
	struct lb_file *f = arg;

	if (f->fd >= 0)
		close(f->fd);
	free(f);
}

void lb_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_file *f = file_of(fi);

	inode_file_del(fs, f->inode, f);
	if (!stall_free_later(fs, file_free, f))
		file_free(f);
	fuse_reply_err(req, 0);
}

/*
 * While absorbing, everything acknowledged is already durable in the
 * journal: fsync has nothing left to do.
 */
void lb_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct lb_fs *fs = fs_of(req);
	int fd, r;

	for (;;) {
		if (fs->state != LB_HEALTHY)
			return (void)fuse_reply_err(req, 0);
		fd = file_fd(fs, file_of(fi));
		r = fd;
		if (fd >= 0)
			r = (datasync ? fdatasync(fd) : fsync(fd)) < 0 ? -errno : 0;
		if (r == -ESTALE && inode_reresolve(fs, file_of(fi)->inode) == 0)
			continue;
		if (r == 0 || !is_path_failure(fs, r))
			return (void)fuse_reply_err(req, -r);
		absorb_begin(fs, r);
	}
}

static int fallocate_store(struct lb_fs *fs, struct lb_mut *m, void *arg)
{
	int fd = file_fd(fs, arg);

	if (fd < 0)
		return fd;
	if (fallocate(fd, (int)m->rec.flags, (off_t)m->rec.offset, (off_t)m->rec.length) < 0)
		return -errno;
	if (!(m->rec.flags & FALLOC_FL_KEEP_SIZE))
		inode_note_size(fs, m->file, m->rec.offset + m->rec.length, false);
	return 0;
}

void lb_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
		  struct fuse_file_info *fi)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_mut m;

	mut_init(&m, JOURNAL_FALLOCATE);
	m.file = file_of(fi)->inode;
	m.rec.flags = (uint32_t)mode;
	m.rec.offset = (uint64_t)offset;
	m.rec.length = (uint64_t)length;
	(void)mut_path(fs, &m, m.file, NULL);
	if (mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE))
		m.journalable = false;	/* replaying a shift twice shifts twice */
	fuse_reply_err(req, -mut_run(fs, &m, fallocate_store, file_of(fi)));
}

struct copy_arg {
	struct lb_file *in;
	off_t off_in;
	struct lb_file *out;
	size_t len;
	int flags;
	void *readback;
};

/* Copies, then reads the result back: the queue keeps the bytes themselves. */
static int copy_store(struct lb_fs *fs, struct lb_mut *m, void *arg)
{
	struct copy_arg *a = arg;
	off_t off_in = a->off_in, off_out = (off_t)m->rec.offset;
	int in = file_fd(fs, a->in), out = file_fd(fs, a->out);
	ssize_t n;

	if (in < 0 || out < 0)
		return in < 0 ? in : out;
	n = copy_file_range(in, &off_in, out, &off_out, a->len, (unsigned int)a->flags);
	if (n < 0)
		return -errno;
	m->rec.data_len = (size_t)n;
	inode_note_size(fs, m->file, m->rec.offset + (uint64_t)n, false);
	a->readback = malloc(n ? (size_t)n : 1);
	if (!a->readback || pread(out, a->readback, (size_t)n, (off_t)m->rec.offset) != n)
		m->journalable = false;
	m->rec.data = a->readback;
	return 0;
}

void lb_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			struct fuse_file_info *fi_out, size_t len, int flags)
{
	struct lb_fs *fs = fs_of(req);
	struct copy_arg a = { file_of(fi_in), off_in, file_of(fi_out),
			      len > JOURNAL_DATA_MAX ? JOURNAL_DATA_MAX : len, flags, NULL };
	struct lb_mut m;
	int r;

	/* Not healthy: the kernel falls back to reads and writes, which absorb. */
	if (fs->state != LB_HEALTHY)
		return (void)fuse_reply_err(req, EOPNOTSUPP);
	mut_init(&m, JOURNAL_WRITE);
	m.file = a.out->inode;
	m.rec.offset = (uint64_t)off_out;
	(void)mut_path(fs, &m, m.file, NULL);
	r = mut_run(fs, &m, copy_store, &a);
	free(a.readback);
	if (r == -EAGAIN || (r < 0 && is_path_failure(fs, r)))
		r = -EOPNOTSUPP;
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	fuse_reply_write(req, m.rec.data_len);
}

void lb_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi)
{
	struct lb_fs *fs = fs_of(req);
	struct lb_file *f = file_of(fi);
	struct stat st;
	off_t r;
	int fd;

	if (f->inode->ov && ov_getattr(fs, f->inode, &st)) {
		/* Absorbing: the overlay knows no holes; all of it is data. */
		if (off >= st.st_size)
			return (void)fuse_reply_err(req, ENXIO);
		return (void)fuse_reply_lseek(req, whence == SEEK_DATA ? off : st.st_size);
	}
	fd = file_fd(fs, f);
	if (fd < 0)
		return (void)fuse_reply_err(req, -fd);
	r = lseek(fd, off, whence);
	if (r < 0)
		return (void)fuse_reply_err(req, errno);
	fuse_reply_lseek(req, r);
}
