// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fault.c - the injected failure: which operation classes fail or stall,
 * from when, and the counters that `faultctl status` reports.
 *
 *   HEALTHY --fail/stall after=N--> ARMED --N matching ops later--> FIRED
 *   HEALTHY --fail/stall after=0---------------------------------> FIRED
 *   any --heal--> HEALTHY (stalled ops are released)
 *
 * The rollback of everything not yet synced (undo.c) runs once, at the
 * moment a fault fires: `fail` always, `stall` only with then=ERRNO (a stall
 * that ends as a failure). A plain `stall` models a path that hangs and
 * comes back intact: stalled ops pass through when healed.
 * Every gated op calls fault_gate() before touching the store.
 */
#define LOG_PREFIX "fault: "
#include "lifeboat/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "faultfs.h"

enum fault_mode {
	FAULT_NONE,
	FAULT_FAIL,
	FAULT_STALL,
};

struct ff_fault {
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* signalled at heal and at a new mode */
	enum fault_mode mode;		/* lock */
	unsigned classes;		/* lock */
	int err;			/* fail: the errno; stall: errno at release, 0 = pass */
	uint64_t after;			/* matching ops still let through; lock */
	bool fired;			/* lock */
	uint64_t release_gen;		/* bumped to release stalled ops; lock */
	uint64_t seen[4];		/* per class; lock */
	uint64_t failed, stalled, stalled_now, rollbacks; /* lock */
};

static const struct {
	const char *name;
	int err;
} fault_errnos[] = {
	{ "EIO", EIO },		  { "ENOTCONN", ENOTCONN },   { "ESTALE", ESTALE },
	{ "ETIMEDOUT", ETIMEDOUT }, { "EROFS", EROFS },	      { "EHOSTDOWN", EHOSTDOWN },
	{ "ENODEV", ENODEV },	  { "ENXIO", ENXIO },	      { "EREMOTEIO", EREMOTEIO },
};

static const char *const class_names[] = { "read", "write", "meta", "sync" };

int fault_parse_errno(const char *s)
{
	for (size_t i = 0; i < sizeof(fault_errnos) / sizeof(fault_errnos[0]); i++)
		if (strcmp(s, fault_errnos[i].name) == 0)
			return fault_errnos[i].err;
	return -EINVAL;
}

const char *fault_errno_name(int err)
{
	for (size_t i = 0; i < sizeof(fault_errnos) / sizeof(fault_errnos[0]); i++)
		if (fault_errnos[i].err == err)
			return fault_errnos[i].name;
	return "none";
}

/* Parses "read,write,meta,sync,all" into FF_* bits. */
int fault_parse_classes(const char *s, unsigned *ret)
{
	unsigned classes = 0;
	char buf[128], *tok, *save = NULL;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned bit = 0;

		if (strcmp(tok, "all") == 0)
			bit = FF_ALL;
		for (unsigned i = 0; i < 4; i++)
			if (strcmp(tok, class_names[i]) == 0)
				bit = 1u << i;
		if (!bit)
			return -EINVAL;
		classes |= bit;
	}
	if (!classes)
		return -EINVAL;
	*ret = classes;
	return 0;
}

const char *fault_class_names(unsigned classes, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	if (classes == FF_ALL)
		return snprintf(buf, len, "all"), buf;
	for (unsigned i = 0; i < 4; i++)
		if (classes & (1u << i))
			n += snprintf(buf + n, n < len ? len - n : 0, "%s%s", n ? "," : "",
				      class_names[i]);
	return buf;
}

struct ff_fault *fault_new(void)
{
	struct ff_fault *f = calloc(1, sizeof(*f));
	pthread_condattr_t ca;

	if (!f)
		return NULL;
	pthread_mutex_init(&f->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cond, &ca);
	pthread_condattr_destroy(&ca);
	return f;
}

void fault_free(struct ff_fault *f)
{
	if (!f)
		return;
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static unsigned class_index(unsigned cls)
{
	return (unsigned)__builtin_ctz(cls);
}

/* Called with f->lock held: the failure takes effect now. */
static void fault_fire(struct ff_fs *fs)
{
	struct ff_fault *f = fs->fault;
	char msg[256];

	f->fired = true;
	if (f->mode == FAULT_STALL && !f->err)
		return;
	f->rollbacks++;
	(void)undo_rollback(fs, msg, sizeof(msg));
	log_notice("fault fired, %s", msg);
}

/* Called with f->lock held; returns the errno a released op completes with. */
static int fault_stall_wait(struct ff_fs *fs, fuse_req_t req, unsigned cls)
{
	struct ff_fault *f = fs->fault;
	uint64_t gen = f->release_gen;
	int then = f->err;

	f->stalled++;
	f->stalled_now++;
	while (f->release_gen == gen) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 100 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		(void)pthread_cond_timedwait(&f->cond, &f->lock, &ts);
		if (req && fuse_req_interrupted(req)) {
			f->stalled_now--;
			return -EINTR;
		}
		if (fs->se && fuse_session_exited(fs->se)) {
			f->stalled_now--;
			return -EIO;	/* shutting down */
		}
	}
	f->stalled_now--;
	/* Released by a new `fail`: complete with its errno. */
	if (f->mode == FAULT_FAIL && f->fired && (f->classes & cls)) {
		f->failed++;
		return -f->err;
	}
	if (then)
		f->failed++;
	return -then;
}

/*
 * Decides the fate of one operation of class cls: 0 lets it through,
 * a negative errno fails it. Stalls here until released.
 */
int fault_gate(struct ff_fs *fs, fuse_req_t req, unsigned cls)
{
	struct ff_fault *f = fs->fault;
	int r = 0;

	pthread_mutex_lock(&f->lock);
	f->seen[class_index(cls)]++;
	if (f->mode == FAULT_NONE || !(f->classes & cls))
		goto out;
	if (!f->fired) {
		if (f->after > 0) {
			f->after--;
			goto out;
		}
		fault_fire(fs);
	}
	if (f->mode == FAULT_FAIL) {
		f->failed++;
		r = -f->err;
	} else {
		r = fault_stall_wait(fs, req, cls);
	}
out:
	pthread_mutex_unlock(&f->lock);
	return r;
}

static int fault_set(struct ff_fs *fs, enum fault_mode mode, int err, unsigned classes,
		     uint64_t after, char *msg, size_t len)
{
	struct ff_fault *f = fs->fault;
	char cbuf[64];

	pthread_mutex_lock(&f->lock);
	f->mode = mode;
	f->err = err;
	f->classes = classes;
	f->after = after;
	f->fired = false;
	f->release_gen++;	/* ops stalled by an earlier command move on */
	pthread_cond_broadcast(&f->cond);
	if (after == 0)
		fault_fire(fs);
	snprintf(msg, len, "ok %s %s after %llu ops, %s %s%s",
		 mode == FAULT_FAIL ? "failing" : "stalling",
		 fault_class_names(classes, cbuf, sizeof(cbuf)), (unsigned long long)after,
		 mode == FAULT_FAIL ? "with" : err ? "released ops fail with" : "released ops pass",
		 err ? fault_errno_name(err) : "through",
		 f->fired && (mode == FAULT_FAIL || err) ? ", store rolled back" : "");
	pthread_mutex_unlock(&f->lock);
	return 0;
}

int fault_set_fail(struct ff_fs *fs, int err, unsigned classes, uint64_t after, char *msg,
		   size_t len)
{
	return fault_set(fs, FAULT_FAIL, err, classes, after, msg, len);
}

int fault_set_stall(struct ff_fs *fs, int err, unsigned classes, uint64_t after, char *msg,
		    size_t len)
{
	return fault_set(fs, FAULT_STALL, err, classes, after, msg, len);
}

void fault_heal(struct ff_fs *fs, char *msg, size_t len)
{
	struct ff_fault *f = fs->fault;
	uint64_t n;

	pthread_mutex_lock(&f->lock);
	n = f->stalled_now;
	f->mode = FAULT_NONE;
	f->err = 0;
	f->fired = false;
	f->release_gen++;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	snprintf(msg, len, "ok healed, released %llu stalled ops", (unsigned long long)n);
}

void fault_status(struct ff_fs *fs, char *msg, size_t len)
{
	static const char *const modes[] = { "healthy", "fail", "stall" };
	struct ff_fault *f = fs->fault;
	char cbuf[64];
	int n;

	pthread_mutex_lock(&f->lock);
	n = snprintf(msg, len,
		     "ok mode=%s%s err=%s classes=%s after=%llu seen=%llu read=%llu write=%llu "
		     "meta=%llu sync=%llu failed=%llu stalled=%llu stalled_now=%llu rollbacks=%llu",
		     modes[f->mode], f->mode != FAULT_NONE && !f->fired ? "(armed)" : "",
		     fault_errno_name(f->err),
		     f->mode == FAULT_NONE ? "none" : fault_class_names(f->classes, cbuf, sizeof(cbuf)),
		     (unsigned long long)f->after,
		     (unsigned long long)(f->seen[0] + f->seen[1] + f->seen[2] + f->seen[3]),
		     (unsigned long long)f->seen[0], (unsigned long long)f->seen[1],
		     (unsigned long long)f->seen[2], (unsigned long long)f->seen[3],
		     (unsigned long long)f->failed, (unsigned long long)f->stalled,
		     (unsigned long long)f->stalled_now, (unsigned long long)f->rollbacks);
	pthread_mutex_unlock(&f->lock);
	if (n > 0 && (size_t)n < len)
		undo_status(fs, msg + n, len - (size_t)n);
}
