/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stall.h - path_timeout: a store call that does not return in time is a
 * path failure, and the request it serves is answered another way.
 *
 * A stalled call cannot be interrupted (NFS hard mounts, a FUSE store that
 * hangs): its thread is left behind. Every thread that calls the store has
 * a slot saying what it does:
 *
 *   IDLE --request read / store call--> BUSY --hold, journal--> WAITING
 *   WAITING --> BUSY (the clock starts again)
 *   BUSY --mutation queued--> COMMITTED (its result is in the queue: final)
 *   BUSY, overdue --watchdog--> ABANDONED --request over--> IDLE
 *
 * When a BUSY slot is older than path_timeout the watchdog closes the gate
 * (no new store call is made: they fail at once with ETIMEDOUT, so the
 * usual path-failure code absorbs or holds), abandons the slot (its read
 * hold on the mode lock no longer counts, its reply is dropped), starts
 * absorbing, and hands the slot's FUSE request to a rescue thread that
 * processes a copy of it again, now absorbed. The left-behind thread, when
 * its call returns, finds itself abandoned and gives up without touching
 * the queue, the journal or the kernel. Recovery waits until every
 * abandoned call has returned, so none can land on the store after the
 * replay.
 *
 * The mode lock (absorb.h) lives here because abandoning a reader is part
 * of it.
 */
#ifndef LIFEBOATFS_STALL_H
#define LIFEBOATFS_STALL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct lb_fs;
struct lb_slot;
struct stall_grave;

struct lb_stall {
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* readers gone, writer gone, abandoned back */
	pthread_cond_t tick;		/* wakes the watchdog to stop */
	struct lb_slot *slots;		/* every registered thread; lock */
	unsigned int readers;		/* mode lock readers that count; lock */
	unsigned int writers_waiting;	/* lock */
	bool writer;			/* lock */
	unsigned int abandoned;		/* abandoned slots not back yet; lock */
	atomic_bool stalled;		/* the gate: no new store calls */
	bool stopping;			/* lock */
	uint64_t stalls;		/* stalls detected; lock */
	uint64_t rescued;		/* requests answered another way; lock */
	struct stall_grave *graves;	/* objects kept for abandoned threads; lock */
	pthread_key_t key;
	pthread_t watchdog;
};

int stall_init(struct lb_fs *fs);
int stall_start(struct lb_fs *fs);
void stall_stop(struct lb_fs *fs);

/* The mode lock. rdlock: -ECANCELED when this thread was abandoned. */
int mode_rdlock(struct lb_fs *fs);
void mode_rdunlock(struct lb_fs *fs);
void mode_wrlock(struct lb_fs *fs);
void mode_wrunlock(struct lb_fs *fs);

/*
 * A healthy mutation succeeded on the store and goes into the queue now:
 * -ECANCELED if it was abandoned meanwhile (a rescue journals it instead).
 */
int stall_commit(struct lb_fs *fs);

/* Around waits that are not store calls (holds, the journal, queue room). */
int stall_wait_begin(struct lb_fs *fs);
int stall_wait_end(struct lb_fs *fs);

/*
 * Around one store call of a thread that serves no request (the flusher),
 * registered before it takes the mode lock. No-ops in a request's thread.
 */
void stall_thread_register(struct lb_fs *fs);
void stall_call_begin(struct lb_fs *fs);
int stall_call_end(struct lb_fs *fs);

/* session.c: a FUSE worker read a request / is about to read the next one. */
void stall_request_begin(struct lb_fs *fs, int ch_fd, const void *buf, size_t len);
void stall_request_end(struct lb_fs *fs);

/* session.c: where this thread's reply goes; -1 to drop it (abandoned). */
int stall_reply_fd(int fd);

/*
 * An abandoned thread comes back to the inode, file or directory of its
 * request even when its rescue answered long ago and the kernel has since
 * forgotten or released them: their memory, and their fds (a number reused
 * by a new open would take the late call to another object), must outlive
 * every abandoned thread. Returns true when @free_fn(@obj) was put off until
 * then; false when no thread is out and the caller frees @obj now.
 */
bool stall_free_later(struct lb_fs *fs, void (*free_fn)(void *), void *obj);

/* The prober: waits until every abandoned call returned, then opens the gate. */
void stall_drain(struct lb_fs *fs);

void stall_stats(struct lb_fs *fs, uint64_t *ret_stalls, uint64_t *ret_rescued,
		 unsigned int *ret_stuck);

#endif
