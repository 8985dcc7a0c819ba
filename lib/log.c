// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * log.c - stderr/syslog sink behind include/lifeboat/log.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "lifeboat/log.h"

int log_max_level = LOG_LVL_INFO;
static const char *log_ident = "lifeboat";
static bool log_to_syslog;

static const struct {
	const char *name;
	int level;
} log_level_names[] = {
	{ "error", LOG_LVL_ERROR },   { "warning", LOG_LVL_WARNING }, { "notice", LOG_LVL_NOTICE },
	{ "info", LOG_LVL_INFO },     { "debug", LOG_LVL_DEBUG },
};

void log_setup(const char *ident)
{
	const char *env = getenv("LIFEBOAT_LOG");

	log_ident = ident;
	if (!env)
		return;
	for (size_t i = 0; i < sizeof(log_level_names) / sizeof(log_level_names[0]); i++)
		if (strcasecmp(env, log_level_names[i].name) == 0)
			log_max_level = log_level_names[i].level;
}

void log_use_syslog(bool on)
{
	if (on && !log_to_syslog)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_to_syslog = on;
}

int log_internal(int level, int err, const char *prefix, const char *fmt, ...)
{
	char msg[1024];
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	err = abs(err);
	if (log_to_syslog) {
		if (err)
			syslog(level, "%s%s: %s", prefix, msg, strerror(err));
		else
			syslog(level, "%s%s", prefix, msg);
	} else {
		if (err)
			fprintf(stderr, "%s: %s%s: %s\n", log_ident, prefix, msg, strerror(err));
		else
			fprintf(stderr, "%s: %s%s\n", log_ident, prefix, msg);
	}
	errno = saved;
	return -err;
}
