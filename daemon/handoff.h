/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * handoff.h - moving one app from this node (A) to a peer (B).
 *
 * On A, handoff_send():
 *
 *   connect to B (before anything else: an unreachable peer changes nothing)
 *   --> HANDOFF_BEGIN (B checks its mounts meanwhile) --> freeze the app -->
 *   syncfs each mount --> wait until no FUSE request of each mount is in
 *   flight --> dump (the app stays frozen, or its tasks end) --> send the
 *   image --> B: READY --> COMMIT --> B: RESULT
 *     RESULT restored            --> kill A's copy: it never runs again
 *     RESULT failed, not restored --> thaw: the app resumes on A
 *     any failure before COMMIT  --> thaw: the app resumes on A
 *     connection lost after COMMIT --> leave it frozen, report: B may run it
 *
 * On B, handoff_serve() answers one connection:
 *
 *   HANDOFF_BEGIN: every mount must be a lifeboatfs mount here, at the same
 *   path (CRIU reopens files by path and checks their sizes) --> receive the
 *   image into a fresh directory --> READY --> wait for COMMIT (none: remove
 *   the image, change nothing) --> fence A on each mount's journal --> replay
 *   it through our own mount --> restore --> RESULT.
 *
 * The app itself (freezing, CRIU, killing) is reached through struct
 * handoff_app_ops, which lifeboatd fills from its process sets and CRIU
 * wrapper; the tests fill it with stand-ins. Functions return 0 or a
 * negative errno and log what they decide, once.
 */
#ifndef LIFEBOAT_HANDOFF_H
#define LIFEBOAT_HANDOFF_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lifeboat/peer-proto.h"
#include "peer.h"

struct handoff_app_ops {
	void *userdata;
	/* A: stop every task of the app; returns once all are stopped. */
	int (*freeze)(void *userdata, const char *app);
	/*
	 * A: let it run again after a failed handoff: thaw it, or, if the dump
	 * ended its tasks, restore it here from dir (still in place).
	 */
	int (*thaw)(void *userdata, const char *app, const char *dir);
	/*
	 * A: checkpoint into the empty directory dir. Afterwards the app is
	 * frozen, or its tasks are gone (thaw then restores it from dir).
	 */
	int (*dump)(void *userdata, const char *app, const char *dir);
	/* A: the app moved: end A's copy for good. */
	int (*kill)(void *userdata, const char *app);
	/* B: restore from dir; ret_pid gets the restored init. */
	int (*restore)(void *userdata, const char *app, const char *dir, pid_t *ret_pid);
};

struct handoff_mount {
	char path[PEER_PATH_MAX + 1];		/* the mount point, the same on both nodes */
	char journal[PEER_PATH_MAX + 1];	/* A's journal of it ("" none) */
};

struct handoff_request {
	char app[PEER_NAME_MAX + 1];
	char service_ip[64];			/* "" none */
	uint32_t flags;				/* PEER_HANDOFF_* */
	uint32_t n_mounts;
	struct handoff_mount mounts[PEER_MOUNTS_MAX];
};

/* Where each step's time went (ns); B's steps come back in RESULT. */
struct handoff_times {
	uint64_t connect, freeze, flush, dump, transfer, fence, replay, restore, total;
	uint64_t image_bytes;
};

struct handoff_config {
	const char *node_name;		/* ours: journal owner when we take over */
	const char *image_dir;		/* where images are written and received */
	int flush_timeout_ms;		/* in-flight FUSE requests; 0: 10 s */
	int result_timeout_ms;		/* per read on a handoff connection (a dump,
					 * a replay and restore); 0: 120 s */
	bool any_mount;			/* tests only: mounts need not be lifeboatfs */
	/* B: journals of our own mounts, which a peer may never name */
	const char *const *own_journals;
	size_t n_own_journals;
};

/*
 * A: hands req->app off to peer peer_name at addr:port. 0 once B runs the
 * app and A's copy is gone. On failure the app runs on A again, except
 * -ENOTRECOVERABLE: B may have restored it (connection lost after COMMIT);
 * A's copy is left frozen. times may be NULL.
 */
int handoff_send(struct peer_ctx *ctx, const char *peer_name, const char *addr, uint16_t port,
		 const struct handoff_config *cfg, const struct handoff_request *req,
		 const struct handoff_app_ops *ops, struct handoff_times *times);

/*
 * B: serves one handoff on conn (after peer_accept). 0 once the app runs
 * here; ret_pid (may be NULL) gets its init.
 */
int handoff_serve(struct peer_conn *conn, const struct handoff_config *cfg,
		  const struct handoff_app_ops *ops, pid_t *ret_pid);

/* ------------------------------------------------------------------ helpers */

/* Encodes/decodes HANDOFF_BEGIN (decode checks names, paths and counts). */
int handoff_request_encode(const struct handoff_request *req, struct wire_out *w);
int handoff_request_decode(const uint8_t *p, size_t len, struct handoff_request *ret_req);

/*
 * syncfs on the mount at path, then waits until its FUSE connection has no
 * request in flight (/sys/fs/fuse/connections/N/waiting is 0). -ETIMEDOUT.
 */
int handoff_flush_mount(const char *path, int timeout_ms);

/* 0 if path is a lifeboatfs mount point here (/proc/self/mountinfo). */
int handoff_check_mount(const char *path);

/*
 * B: fences A on the journal name (takes it over with a newer epoch, owner
 * node) and replays its records through our mount at mount_path. Records
 * are applied in order, then the journal is reset. fence_ns and replay_ns
 * get the two times.
 */
int handoff_take_journal(const char *journal, const char *node, const char *mount_path,
			 uint64_t *fence_ns, uint64_t *replay_ns);

/*
 * B, before it replays and restores: drops the kernel's unused dentries and
 * inodes (vm.drop_caches = 2). Mounts of a shared store keep attributes and
 * names for a day (lifeboatfs's default, which also keeps a dump on an
 * absorbing node from asking the failed store); this node may hold stale
 * ones of files the app changed on the other node since (a move back), and
 * CRIU compares file sizes at restore. Global, but cheap and only at a
 * handoff; best effort.
 */
void handoff_drop_kernel_caches(void);

/*
 * A's iscsi:// journal URL as this node opens it: without A's initiator=
 * and key= parameters, so that we log in and register as ourselves (our
 * default initiator name and key, or $LIFEBOAT_ISCSI_INITIATOR / _KEY) and
 * PREEMPT A's reservation instead of posing as A. -ENAMETOOLONG.
 */
int handoff_journal_name_here(const char *name, char *buf, size_t size);

/*
 * The service address and established TCP connections (handoff-net.c).
 * A: after the dump, saves CRIU's lock table and the address into the image
 * dir and removes the address here; readd puts it back after a failure;
 * drop_lock removes the leftover lock table once B restored. B: claim loads
 * the table, adds the address to the interface holding near_addr (our peer
 * address) and sends a gratuitous ARP; unclaim undoes it after a failed
 * restore. Each is a no-op for an image without a service address.
 */
int handoff_net_release(const char *addr, const char *dir);
int handoff_net_readd(const char *dir);
void handoff_net_drop_lock(void);
int handoff_net_claim(const char *dir, const char *near_addr);
int handoff_net_unclaim(const char *dir);

uint64_t handoff_now_ns(void);

#endif
