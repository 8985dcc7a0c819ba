/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lifeboatfs.h - objects shared by the files of the lifeboatfs daemon.
 *
 * Lock order (outer first): none nested. fs->inodes_lock is the only lock
 * touched on the hot path and is never held across a system call other than
 * close(2) of an evicted fd.
 */
#ifndef LIFEBOATFS_H
#define LIFEBOATFS_H

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct lb_options {
	char *store;		/* backing directory, absolute */
	char *mountpoint;
	double attr_timeout;	/* seconds the kernel may cache attributes */
	double entry_timeout;	/* seconds the kernel may cache names */
	double negative_timeout; /* seconds the kernel may cache ENOENT */
	unsigned int max_fds;	/* cached O_PATH fds when file handles work */
	unsigned int max_threads;
	bool splice_read;	/* splice file data into replies */
	bool splice_write;	/* splice request data into files */
	bool foreground;
	bool debug;
	bool show_help;
	bool show_version;
};

struct lb_inode {
	struct lb_inode *hash_next;	/* protected by fs->inodes_lock */
	struct lb_inode *lru_prev;	/* protected by fs->inodes_lock */
	struct lb_inode *lru_next;	/* protected by fs->inodes_lock */
	dev_t dev;			/* immutable */
	ino_t ino;			/* immutable */
	uint64_t generation;		/* immutable */
	uint64_t nlookup;		/* protected by fs->inodes_lock */
	int fd;				/* O_PATH or -1; protected by fs->inodes_lock */
	unsigned int fd_users;		/* pins on fd; protected by fs->inodes_lock */
	bool pinned;			/* fd is never evicted (root, no handle) */
	_Atomic mode_t mode;		/* type and mode bits as last seen */
	struct file_handle *handle;	/* immutable; NULL when fd is pinned */
};

struct lb_fs {
	struct lb_options opt;
	struct fuse_session *se;
	struct lb_inode root;
	int mount_fd;			/* for open_by_handle_at(2) */
	bool use_handles;		/* the store supports file handles */

	pthread_mutex_t inodes_lock;
	struct lb_inode **buckets;	/* protected by inodes_lock */
	size_t nbuckets;		/* protected by inodes_lock */
	size_t ninodes;			/* protected by inodes_lock */
	struct lb_inode lru;		/* head of unpinned open fds, protected by inodes_lock */
	unsigned int open_fds;		/* cached O_PATH fds, protected by inodes_lock */
	uint64_t next_generation;	/* protected by inodes_lock */
};

/* An open file or directory: fuse_file_info.fh points here. */
struct lb_file {
	int fd;
	struct lb_inode *inode;
};

static inline struct lb_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* options.c */
int options_parse(struct fuse_args *args, struct lb_options *ret_opt);
void options_usage(const char *progname);
void options_free(struct lb_options *opt);

/* inode.c */
int inode_table_init(struct lb_fs *fs);
void inode_table_free(struct lb_fs *fs);
struct lb_inode *inode_of(struct lb_fs *fs, fuse_ino_t ino);
int inode_fd_get(struct lb_fs *fs, struct lb_inode *inode);
void inode_fd_put(struct lb_fs *fs, struct lb_inode *inode);
int inode_lookup_child(struct lb_fs *fs, struct lb_inode *parent, int parent_fd,
		       const char *name, struct fuse_entry_param *ret_e);
int inode_from_fd(struct lb_fs *fs, int fd, const struct stat *st, struct lb_inode **ret);
void inode_forget(struct lb_fs *fs, struct lb_inode *inode, uint64_t nlookup);
void inode_note_mode(struct lb_inode *inode, mode_t mode);

/* creds.c */
struct lb_creds_saved {
	bool switched;
	bool groups;
};
int creds_enter(fuse_req_t req, mode_t mode, struct lb_creds_saved *ret_saved);
void creds_leave(const struct lb_creds_saved *saved);
void creds_thread_umask(fuse_req_t req);

/* attr.c */
void lb_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void lb_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		struct fuse_file_info *fi);
void lb_readlink(fuse_req_t req, fuse_ino_t ino);
void lb_statfs(fuse_req_t req, fuse_ino_t ino);
int attr_kill_suid(struct lb_fs *fs, struct lb_inode *inode, int fd, fuse_req_t req);
void entry_fill_timeouts(struct lb_fs *fs, struct fuse_entry_param *e);

/* dir.c */
void lb_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void lb_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void lb_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void lb_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void lb_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void lb_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void lb_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void lb_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void lb_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void lb_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
	       const char *newname, unsigned int flags);

/* readdir.c */
void lb_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void lb_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void lb_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);
void lb_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void lb_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);

/* file.c */
void lb_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void lb_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi);
void lb_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void lb_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv, off_t off,
		  struct fuse_file_info *fi);
void lb_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void lb_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void lb_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
		  struct fuse_file_info *fi);
void lb_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			struct fuse_file_info *fi_out, size_t len, int flags);
void lb_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi);

/* xattr.c */
void lb_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		 size_t size, int flags);
void lb_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void lb_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void lb_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);
int xattr_proc_path(int fd, char *buf, size_t len);

/* session.c */
int session_run(struct lb_fs *fs, struct fuse_args *args);

#endif
