/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * faultfs.h - shared state of faultfs, the fault-injecting FUSE passthrough
 * that sits between lifeboatfs and a real store in the absorb tests.
 *
 * Lock order (outer first): fault->lock, undo->rw, inode->undo_lock,
 * undo->lock, fs->inodes_lock. Nothing is held across a FUSE reply.
 */
#ifndef FAULTFS_H
#define FAULTFS_H

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct ff_undo_file;

struct ff_inode {
	uint64_t nodeid;		/* immutable; index into fs->by_id */
	uint64_t generation;		/* protected by fs->inodes_lock */
	dev_t dev;			/* immutable */
	ino_t ino;			/* immutable */
	mode_t type;			/* S_IFMT bits, immutable */
	struct ff_inode *hnext;		/* protected by fs->inodes_lock */
	int fd;				/* O_PATH, owned; -1 while forgotten; inodes_lock */
	uint64_t nlookup;		/* protected by fs->inodes_lock */
	uint64_t pins;			/* undo records using fd; fs->inodes_lock */
	struct file_handle *handle;	/* backing handle or NULL; fs->inodes_lock */
	pthread_mutex_t undo_lock;	/* orders snapshot+mutation per file */
	struct ff_undo_file *undo;	/* protected by undo->lock */
	bool writeback_lost;		/* next sync reports EIO; atomic */
};

/* Operation classes a fault can target. */
enum ff_class {
	FF_READ = 1 << 0,	/* read, readdir, readlink, lseek */
	FF_WRITE = 1 << 1,	/* write, truncate, fallocate, copy_file_range */
	FF_META = 1 << 2,	/* lookup, getattr, namespace ops, open, xattrs, statfs */
	FF_SYNC = 1 << 3,	/* fsync, fsyncdir, flush */
	FF_ALL = FF_READ | FF_WRITE | FF_META | FF_SYNC,
};

struct ff_fs {
	int root_fd;			/* O_PATH of REALDIR */
	int mount_fd;			/* O_RDONLY of REALDIR: open_by_handle_at refuses O_PATH */
	struct fuse_session *se;

	pthread_mutex_t inodes_lock;
	struct ff_inode **by_id;	/* nodeid - 1 -> inode; inodes_lock */
	size_t n_ids, cap_ids;		/* inodes_lock */
	struct ff_inode **buckets;	/* (dev, ino) hash; inodes_lock */
	size_t n_buckets;		/* inodes_lock */

	struct ff_fault *fault;
	struct ff_undo *undo;
};

/* inode.c: the inode table. Inode structs live as long as the fs. */
int inode_table_init(struct ff_fs *fs, int root_fd);
struct ff_inode *inode_get(struct ff_fs *fs, fuse_ino_t nodeid);
int inode_from_fd(struct ff_fs *fs, int fd, const struct stat *st, struct ff_inode **ret);
int inode_revive(struct ff_fs *fs, struct ff_inode *inode);
void inode_forget(struct ff_fs *fs, struct ff_inode *inode, uint64_t n);
void inode_pin(struct ff_fs *fs, struct ff_inode *inode);
void inode_unpin(struct ff_fs *fs, struct ff_inode *inode);
int inode_fd(struct ff_fs *fs, struct ff_inode *inode);
int inode_reopen(struct ff_inode *inode, int flags);
void inode_proc_path(int fd, char *buf, size_t len);

/* fault.c: the injected failure state, driven by the control socket. */
struct ff_fault *fault_new(void);
void fault_free(struct ff_fault *f);
int fault_gate(struct ff_fs *fs, fuse_req_t req, unsigned cls);
int fault_set_fail(struct ff_fs *fs, int err, unsigned classes, uint64_t after, char *msg, size_t len);
int fault_set_stall(struct ff_fs *fs, int err, unsigned classes, uint64_t after, char *msg, size_t len);
void fault_heal(struct ff_fs *fs, char *msg, size_t len);
void fault_status(struct ff_fs *fs, char *msg, size_t len);
const char *fault_class_names(unsigned classes, char *buf, size_t len);
int fault_parse_classes(const char *s, unsigned *ret);
int fault_parse_errno(const char *s);
const char *fault_errno_name(int err);

/* undo.c: what the store has not made durable, and the rollback. */
struct ff_undo *undo_new(uint64_t limit);
void undo_free(struct ff_undo *u);
void undo_begin(struct ff_fs *fs, struct ff_inode *inode);
void undo_end(struct ff_fs *fs, struct ff_inode *inode);
int undo_save(struct ff_fs *fs, struct ff_inode *inode, off_t off, off_t len);
int undo_save_from(struct ff_fs *fs, struct ff_inode *inode, off_t off);
void undo_file_synced_locked(struct ff_fs *fs, struct ff_inode *inode);
uint64_t undo_generation(struct ff_fs *fs);
int undo_sync(struct ff_fs *fs, struct ff_inode *inode, int fd, bool datasync, uint64_t gen);
void undo_created(struct ff_fs *fs, struct ff_inode *parent, const char *name,
		  struct ff_inode *inode, bool fresh);
void undo_unlinked(struct ff_fs *fs, struct ff_inode *parent, const char *name);
void undo_renamed(struct ff_fs *fs, struct ff_inode *parent, const char *name,
		  struct ff_inode *newparent, const char *newname, unsigned flags);
void undo_sync_all(struct ff_fs *fs);
int undo_rollback(struct ff_fs *fs, char *msg, size_t len);
void undo_status(struct ff_fs *fs, char *msg, size_t len);

/* ops.c: the operation table and what every handler shares. */
extern const struct fuse_lowlevel_ops ff_ops;
struct ff_fs *fs_of(fuse_req_t req);
bool ff_gate(fuse_req_t req, unsigned cls);
struct ff_inode *ff_inode(fuse_req_t req, fuse_ino_t ino);
int ff_lookup_fd(struct ff_fs *fs, int fd, struct fuse_entry_param *e);
int ff_lookup_name(struct ff_fs *fs, struct ff_inode *parent, const char *name,
		   struct fuse_entry_param *e);
void ff_chown_new(fuse_req_t req, int dirfd, const char *name, int fd);

/* dir.c: entries, attributes, directories, xattrs. */
void ff_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void ff_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void ff_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void ff_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ff_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
		struct fuse_file_info *fi);
void ff_readlink(fuse_req_t req, fuse_ino_t ino);
void ff_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void ff_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void ff_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void ff_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void ff_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void ff_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
	       const char *newname, unsigned int flags);
void ff_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void ff_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ff_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void ff_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ff_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void ff_statfs(fuse_req_t req, fuse_ino_t ino);
void ff_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		 size_t size, int flags);
void ff_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void ff_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void ff_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* file.c: open files and their data. */
void ff_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ff_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi);
void ff_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void ff_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	      struct fuse_file_info *fi);
void ff_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ff_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ff_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void ff_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		  struct fuse_file_info *fi);
void ff_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			struct fuse_file_info *fi_out, size_t len, int flags);
void ff_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi);

/* ctl.c: the root-only control socket. */
int ctl_listen(const char *path);
int ctl_start(struct ff_fs *fs, int sock);
int ctl_handle_line(struct ff_fs *fs, char *line, char *reply, size_t len);

#endif
