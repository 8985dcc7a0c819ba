/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * proc-stat.h - reading /proc/PID/stat, whose second field (comm) may hold
 * spaces and parentheses: the fields that follow start after its last ')'.
 */
#ifndef LIFEBOAT_PROC_STAT_H
#define LIFEBOAT_PROC_STAT_H

#include <stddef.h>
#include <sys/types.h>

/* The fields after comm, state first, read into @buf; NULL if @pid is gone. */
const char *proc_stat_fields(pid_t pid, char *buf, size_t len);

/* The state letter of @pid (R, S, T, Z...), 0 if it is gone. */
char proc_stat_state(pid_t pid);

#endif
