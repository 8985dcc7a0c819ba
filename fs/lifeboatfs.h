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
#include <sys/statvfs.h>
#include <sys/types.h>

#include "absorb.h"
#include "stall.h"

struct lb_options {
	char *store;		/* backing directory, absolute */
	char *mountpoint;
	double attr_timeout;	/* seconds the kernel may cache attributes */
	double entry_timeout;	/* seconds the kernel may cache names */
	double negative_timeout; /* seconds the kernel may cache ENOENT */
	unsigned int max_fds;	/* cached O_PATH fds when file handles work */
	unsigned int name_cache; /* inodes the kernel forgot, kept to answer lookups */
	unsigned int max_threads;
	char *journal;		/* journal file */
	char *status;		/* status file (JSON), rewritten at every change */
	char *alt_read;		/* lifeboatd's alternate read socket, or NULL */
	uint64_t queue_budget;	/* bytes the unflushed queue may hold */
	double flush_interval;	/* seconds between flushes of the queue */
	double hold;		/* seconds a request may wait for the path */
	bool hold_eio;		/* on_hold_timeout=eio: fail with EIO after hold */
	double path_timeout;	/* seconds before a store call counts as failed */
	double probe_interval;	/* seconds between probes of a failed store */
	bool splice_read;	/* splice file data into replies */
	bool splice_write;	/* splice request data into files */
	bool foreground;
	bool debug;
	bool show_help;
	bool show_version;
};

struct ov_node;
struct lb_name;
struct lb_absent;
struct lb_dirset;
struct lb_acl;

/*
 * One object of the store. Its path (for journal records, which name files
 * relative to the store root) is kept as a parent pointer and a name, both
 * updated by the name operations that go through the mount; a hard-linked
 * object keeps the first name it was seen by while that name exists.
 */
struct lb_inode {
	struct lb_inode *hash_next;	/* protected by fs->inodes_lock */
	struct lb_inode *lru_prev;	/* protected by fs->inodes_lock */
	struct lb_inode *lru_next;	/* protected by fs->inodes_lock */
	struct lb_inode *retired_prev;	/* forgotten but kept; protected by fs->inodes_lock */
	struct lb_inode *retired_next;	/* protected by fs->inodes_lock */
	struct lb_name *names;		/* known names, see names.c; protected by fs->inodes_lock */
	dev_t dev;			/* changes only while absorbing (virtual inodes) */
	ino_t ino;			/* changes only while absorbing (virtual inodes) */
	uint64_t generation;		/* immutable */
	uint64_t nlookup;		/* kernel lookups; protected by fs->inodes_lock */
	unsigned int refs;		/* children, queue entries; protected by fs->inodes_lock */
	int fd;				/* O_PATH or -1; protected by fs->inodes_lock */
	unsigned int fd_users;		/* pins on fd; protected by fs->inodes_lock */
	bool pinned;			/* fd is never evicted (root, no handle) */
	bool hashed;			/* in the (dev, ino) table; protected by fs->inodes_lock */
	bool retired;			/* on fs->retired; protected by fs->inodes_lock */
	bool virt;			/* created while absorbing, not on the store yet */
	_Atomic mode_t mode;		/* type and mode bits as last seen */
	struct file_handle *handle;	/* NULL when fd is pinned or virtual */
	struct stat st;			/* last known attributes; protected by fs->inodes_lock */
	_Atomic uint64_t st_gen;	/* changes of st; changed under inodes_lock, read without */
	atomic_uint mutating;		/* mutations of it at the store now (run_healthy) */
	struct ov_node *ov;		/* absorbing: the overlay; protected by fs->ov_lock */
	struct lb_file *files;		/* open files; protected by fs->inodes_lock */
	struct lb_absent *absent;	/* names known absent; protected by fs->inodes_lock */
	unsigned int nabsent;		/* protected by fs->inodes_lock */
	struct lb_dirset *dirset;	/* all names, when complete; protected by fs->inodes_lock */
	struct lb_acl *acl[2];		/* POSIX ACLs last seen (access, default); inodes_lock */
	uint64_t flush_mark;		/* flusher's dedup mark; flusher thread only */
	size_t flush_slot;		/* where the flush marked it has it; flusher thread only */
	unsigned int queued;		/* queue entries changing its content; fs->queue.lock */
	unsigned int queue_refs;	/* queue entries involving it at all; fs->queue.lock */
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
	struct lb_inode retired;	/* head of forgotten inodes kept for lookups; inodes_lock */
	size_t nretired;		/* protected by inodes_lock */
	unsigned int open_fds;		/* cached O_PATH fds, protected by inodes_lock */
	uint64_t next_generation;	/* protected by inodes_lock */
	struct lb_name **name_buckets;	/* protected by inodes_lock */
	size_t name_nbuckets;		/* protected by inodes_lock */
	size_t nnames;			/* protected by inodes_lock */

	_Atomic int state;		/* enum lb_state; written under the mode lock (write) */
	_Atomic uint64_t absorb_starts;	/* absorb_begin() runs begun, see absorb_began_since() */
	_Atomic uint64_t absorb_ends;	/* and ended; changed under state_mutex */
	struct lb_stall stall;		/* path_timeout, and the mode lock: see stall.h */
	bool store_writable;		/* the store accepted writes at mount */
	bool store_syncfs;		/* syncfs(2) reaches the store (it is not FUSE) */
	struct lb_queue queue;
	struct journal *journal;
	pthread_mutex_t ov_lock;
	struct ov_node *ov_nodes;	/* protected by ov_lock */
	int64_t space_left;		/* absorbing: store bytes writes may still take; ov_lock */
	pthread_mutex_t space_lock;
	struct statvfs last_statvfs;	/* the store's last answer; space_lock */
	int64_t space_freed;		/* removed since, maybe not yet seen there; space_lock */
	uint64_t space_freed_ms;	/* CLOCK_MONOTONIC of the last removal; space_lock */
	pthread_mutex_t state_mutex;	/* holds wait here for state changes */
	pthread_cond_t state_cond;
	struct lb_absorb_stats stats;	/* protected by state_mutex */
	bool stopping;			/* protected by state_mutex */
	pthread_t prober;
	pthread_t status_thread;
};

/* An open file: fuse_file_info.fh points here. */
struct lb_file {
	_Atomic int fd;			/* backing fd; -1 when opened while absorbing */
	int flags;			/* open flags, to reopen after recovery */
	struct lb_inode *inode;
	struct lb_file *next;		/* in inode->files; protected by fs->inodes_lock */
	struct lb_file *prev;		/* protected by fs->inodes_lock */
};

/* True while a store call stalls: no new one is made, they fail with ETIMEDOUT. */
static inline bool stall_gate_closed(struct lb_fs *fs)
{
	return atomic_load_explicit(&fs->stall.stalled, memory_order_relaxed);
}

static inline struct lb_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/*
 * Every error reply of a handler goes through here (session.c): a path
 * failure that reaches the application is a bug or an expired hold, and
 * the log says which handler let it through.
 */
int lb_reply_err(fuse_req_t req, int err, const char *handler);
#define fuse_reply_err(req, err) lb_reply_err((req), (err), __func__)

/* xattr.c */
void acl_cache_free_locked(struct lb_inode *inode);

/* options.c */
int options_parse(struct fuse_args *args, struct lb_options *ret_opt);
void options_usage(const char *progname);
void options_free(struct lb_options *opt);

/* inode.c */
int inode_table_init(struct lb_fs *fs);
void inode_table_free(struct lb_fs *fs);
void inode_root_listing(struct lb_fs *fs);
struct lb_inode *inode_of(struct lb_fs *fs, fuse_ino_t ino);
int inode_fd_get(struct lb_fs *fs, struct lb_inode *inode);
void inode_fd_put(struct lb_fs *fs, struct lb_inode *inode);
int inode_lookup_child(struct lb_fs *fs, struct lb_inode *parent, int parent_fd,
		       const char *name, struct fuse_entry_param *ret_e);
int inode_from_fd(struct lb_fs *fs, int fd, const struct stat *st, struct lb_inode *parent,
		  const char *name, struct lb_inode **ret);
void entry_fill(struct lb_fs *fs, struct lb_inode *inode, const struct stat *st,
		struct fuse_entry_param *ret_e);
void inode_forget(struct lb_fs *fs, struct lb_inode *inode, uint64_t nlookup);
void inode_ref(struct lb_fs *fs, struct lb_inode *inode);
void inode_revive_locked(struct lb_fs *fs, struct lb_inode *inode);
void inode_retired_drop_all(struct lb_fs *fs);
void inode_unref(struct lb_fs *fs, struct lb_inode *inode);
void inode_move_link(struct lb_fs *fs, struct lb_inode *inode, struct lb_inode *parent,
		     const char *name, struct lb_inode *newparent, const char *newname);
void inode_clear_link(struct lb_fs *fs, struct lb_inode *inode, struct lb_inode *parent,
		      const char *name);
struct lb_inode *inode_child_get(struct lb_fs *fs, struct lb_inode *dir, const char *name);
int inode_path(struct lb_fs *fs, struct lb_inode *inode, const char *name, char *buf, size_t len);
bool inode_named(struct lb_fs *fs, struct lb_inode *inode);
bool inode_name_bound(struct lb_fs *fs, struct lb_inode *dir, const char *name);
bool inode_store_lost(struct lb_fs *fs, struct lb_inode *inode, const struct stat *st);
void inode_stat_get(struct lb_fs *fs, struct lb_inode *inode, struct stat *ret_st);
void inode_stat_set(struct lb_fs *fs, struct lb_inode *inode, const struct stat *st);
uint64_t inode_stat_gen(struct lb_inode *inode);
void inode_stat_set_since(struct lb_fs *fs, struct lb_inode *inode, const struct stat *st,
			  uint64_t gen);
void inode_note_size(struct lb_fs *fs, struct lb_inode *inode, uint64_t end, bool exact);
void inode_note_replayed(struct lb_fs *fs, struct lb_inode *inode, const struct stat *attr);
struct lb_inode *inode_new_virtual(struct lb_fs *fs, struct lb_inode *parent, const char *name,
				   const struct stat *st);
void inode_add_lookup(struct lb_fs *fs, struct lb_inode *inode);
void inode_realize(struct lb_fs *fs, struct lb_inode *inode, int fd, const struct stat *st);
int inode_reresolve(struct lb_fs *fs, struct lb_inode *inode);
#define PROC_FD_PATH_MAX 32
void proc_fd_path(int fd, char *buf, size_t len);
int inode_open(struct lb_fs *fs, struct lb_inode *inode, int flags, bool reresolve);
void inode_unhash(struct lb_fs *fs, struct lb_inode *inode);
void inode_name_absent(struct lb_fs *fs, struct lb_inode *dir, const char *name, bool absent);
bool inode_name_known_absent(struct lb_fs *fs, struct lb_inode *dir, const char *name);
void inode_dir_complete(struct lb_fs *fs, struct lb_inode *dir);
int inode_dir_empty(struct lb_fs *fs, struct lb_inode *dir);
void inode_add_link(struct lb_fs *fs, struct lb_inode *inode, struct lb_inode *dir,
		    const char *name);
void inode_file_add(struct lb_fs *fs, struct lb_inode *inode, struct lb_file *f);
void inode_file_del(struct lb_fs *fs, struct lb_inode *inode, struct lb_file *f);

/* names.c: all under fs->inodes_lock */
int names_init(struct lb_fs *fs);
void names_free(struct lb_fs *fs);
struct lb_inode *names_find_locked(struct lb_fs *fs, struct lb_inode *parent, const char *name);
struct lb_inode *names_remove_locked(struct lb_fs *fs, struct lb_inode *parent, const char *name);
void names_add_locked(struct lb_fs *fs, struct lb_inode *inode, struct lb_inode *parent,
		      const char *name);
void names_drop_inode_locked(struct lb_fs *fs, struct lb_inode *inode,
			     void (*parent_fn)(struct lb_fs *fs, struct lb_inode *parent));
void names_absent_add_locked(struct lb_inode *dir, const char *name);
void names_absent_del_locked(struct lb_inode *dir, const char *name);
bool names_absent_has_locked(struct lb_inode *dir, const char *name);
void names_absent_free_locked(struct lb_inode *dir);
void dirset_init_locked(struct lb_inode *dir);
void dirset_free_locked(struct lb_inode *dir);
void dirset_add_locked(struct lb_inode *dir, const char *name);
void dirset_del_locked(struct lb_inode *dir, const char *name);
bool dirset_knows_absent_locked(struct lb_inode *dir, const char *name);
int dirset_empty_locked(const struct lb_inode *dir);
ssize_t dirset_count_locked(const struct lb_inode *dir);
bool names_primary_locked(const struct lb_inode *inode, struct lb_inode **ret_parent,
			  const char **ret_name);

/* creds.c */
struct lb_creds_saved {
	bool switched;
	bool groups;
};
int creds_enter(fuse_req_t req, mode_t mode, struct lb_creds_saved *ret_saved);
int creds_enter_ids(uid_t uid, gid_t gid, mode_t mask, struct lb_creds_saved *ret_saved);
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
int store_lost(int r);
int entry_new(struct lb_fs *fs, struct lb_inode *dir, int dfd, const char *name,
	      struct lb_inode **ret_inode, struct stat *ret_st);
void mut_new_object(fuse_req_t req, struct lb_mut *m, struct lb_inode *dir, mode_t mode);
void mut_note_created(struct lb_mut *m);
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
void file_reopen_all(struct lb_fs *fs, struct lb_inode *inode);
struct lb_file *file_attach(struct lb_fs *fs, struct lb_inode *inode, int fd,
			    struct fuse_file_info *fi);

/* tmpfile.c */
bool tmpfile_intercept(struct lb_fs *fs, int devfd, const void *buf, size_t len);

/* xattr.c */
void lb_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		 size_t size, int flags);
void lb_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void lb_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void lb_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* session.c */
int session_run(struct lb_fs *fs, struct fuse_args *args);

#endif
