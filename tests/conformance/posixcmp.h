/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * posixcmp.h - helpers shared by the cases of posixcmp, the differential
 * POSIX conformance runner. Every helper prints one transcript line,
 * "<case>: <what> = <result>", that must not depend on inode numbers, times,
 * fd numbers or readdir order, so that a run on a native directory and a run
 * on a mount of the same file system can be compared with diff(1).
 */
#ifndef POSIXCMP_H
#define POSIXCMP_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Runs in the root pass only, or in the unprivileged (--as) pass only. */
#define PC_ROOT		0x1
#define PC_USER		0x2

struct pc_case {
	const char *name;
	void (*prep)(void);	/* as root in the case dir, may be NULL */
	void (*run)(void);	/* in the case dir, after dropping privileges */
	unsigned int flags;
};

#define PC_MAX_GROUPS	16

/* Who runs the cases: root (dropped == false) or the --as identity. */
struct pc_ident {
	bool dropped;
	uid_t uid;
	gid_t gid;
	gid_t groups[PC_MAX_GROUPS];	/* supplementary, groups[0] may equal gid */
	int ngroups;
};

extern struct pc_ident pc_id;
extern const char *pc_case_name;
extern unsigned long pc_assertions;

/* Someone who is never the runner, and a group the runner is never in. */
#define PC_OTHER_UID	4242
#define PC_OTHER_GID	4343

/* Print "<call> = <r>" or "<call> = -1 ENAME"; PC_FD prints "fd" for r >= 0. */
enum pc_how { PC_RAW, PC_FD };
void pc_result(const char *call, long r, int err, enum pc_how how);

/*
 * T(call): run a call, print it and its result, yield the result.
 * TFD(call): the same for calls that return an fd.
 */
#define T(...) ({							\
	long r_;							\
	errno = 0;							\
	r_ = (long)(__VA_ARGS__);					\
	pc_result(#__VA_ARGS__, r_, errno, PC_RAW);			\
	r_;								\
})
#define TFD(...) ({							\
	long r_;							\
	errno = 0;							\
	r_ = (long)(__VA_ARGS__);					\
	pc_result(#__VA_ARGS__, r_, errno, PC_FD);			\
	(int)r_;							\
})

/* "ENOENT" for ENOENT; never NULL. */
const char *pc_errname(int err);
void pc_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pc_yes(const char *what, bool cond);

/* Normalized stat lines: type, mode, nlink, uid, gid, size, rdev. */
void pc_stat(const char *path);
void pc_lstat(const char *path);
void pc_fstat(int fd, const char *label);
void pc_statat(int dirfd, const char *path, int flags, const char *label);
void pc_blocks(const char *path);

/* lstat() without printing; a zeroed struct when it fails. */
struct stat pc_get(const char *path);
struct stat pc_fget(int fd);
bool pc_ts_eq(const struct timespec *a, const struct timespec *b);
void pc_old_times(const char *path);
void pc_tick(void);

/* Contents: escaped text up to 64 bytes, else length and a hash. */
void pc_content(const char *path);
void pc_fdcontent(int fd, const char *label);
void pc_readlink(const char *path);
void pc_readdir(const char *path);
void pc_write_file(const char *path, const char *text, mode_t mode);
void pc_pattern(char *buf, size_t len, unsigned int seed);
unsigned long pc_hash(const void *buf, size_t len);

/* A name of len bytes made of c (malloc'ed, never freed: cases are children). */
char *pc_name(char c, size_t len);
const char *pc_short(const char *s);

void pc_xattr_get(const char *path, const char *name);
void pc_xattr_list(const char *path);
void pc_acl_get(const char *path, const char *name);
size_t pc_acl_build(void *buf, size_t size, const char *text);

extern const struct pc_case pc_cases_file[];
extern const struct pc_case pc_cases_ns[];
extern const struct pc_case pc_cases_attr[];
extern const struct pc_case pc_cases_data[];
extern const struct pc_case pc_cases_user[];

#endif
