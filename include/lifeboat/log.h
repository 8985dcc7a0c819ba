/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * log.h - one logging call per decision, shared by fs/, daemon/ and lib/.
 *
 * Define LOG_PREFIX ("journal: ") before including this header. The
 * *_errno() variants take a negative errno, append ": <strerror>" and return
 * that same negative errno, so a caller can log and return in one line:
 *
 *	return log_error_errno(r, "cannot open '%s'", path);
 *
 * Version history: 1 (0.1.0) first version.
 */
#ifndef LIFEBOAT_LOG_H
#define LIFEBOAT_LOG_H

#include <stdbool.h>
#include <stdlib.h>

#ifndef LOG_PREFIX
#define LOG_PREFIX ""
#endif

enum log_level {
	LOG_LVL_ERROR = 3,
	LOG_LVL_WARNING = 4,
	LOG_LVL_NOTICE = 5,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

/* Messages above this level are dropped; LIFEBOAT_LOG=debug|info|... sets it. */
extern int log_max_level;

/* Reads LIFEBOAT_LOG from the environment; ident names the program. */
void log_setup(const char *ident);

/* Sends messages to syslog instead of stderr (a daemonized mount has no tty). */
void log_use_syslog(bool on);

int log_internal(int level, int err, const char *prefix, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define log_full_errno(level, err, ...)                                                  \
	({                                                                               \
		int _l = (level), _e = (err);                                            \
		_l <= log_max_level ? log_internal(_l, _e, LOG_PREFIX, __VA_ARGS__) : -abs(_e); \
	})

#define log_error_errno(err, ...) log_full_errno(LOG_LVL_ERROR, err, __VA_ARGS__)
#define log_warning_errno(err, ...) log_full_errno(LOG_LVL_WARNING, err, __VA_ARGS__)
#define log_notice_errno(err, ...) log_full_errno(LOG_LVL_NOTICE, err, __VA_ARGS__)
#define log_debug_errno(err, ...) log_full_errno(LOG_LVL_DEBUG, err, __VA_ARGS__)

#define log_error(...) ((void)log_full_errno(LOG_LVL_ERROR, 0, __VA_ARGS__))
#define log_warning(...) ((void)log_full_errno(LOG_LVL_WARNING, 0, __VA_ARGS__))
#define log_notice(...) ((void)log_full_errno(LOG_LVL_NOTICE, 0, __VA_ARGS__))
#define log_info(...) ((void)log_full_errno(LOG_LVL_INFO, 0, __VA_ARGS__))
#define log_debug(...) ((void)log_full_errno(LOG_LVL_DEBUG, 0, __VA_ARGS__))

#endif
