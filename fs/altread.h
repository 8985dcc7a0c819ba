/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * altread.h - reads the overlay cannot answer while absorbing, served by
 * the peer's view of the store through the local lifeboatd (-o alt_read).
 */
#ifndef LIFEBOATFS_ALTREAD_H
#define LIFEBOATFS_ALTREAD_H

#include <sys/types.h>

struct lb_fs;
struct lb_inode;

/*
 * Asks the alternate read path for size bytes of inode at off. Returns the
 * byte count read into buf (short at end of file), or a negative errno:
 * -ENOTCONN when no alt_read socket is configured, -ENODATA when the mount
 * itself holds data of this file the store has not (it must not be asked),
 * anything else when the path did not answer in time. The caller then
 * holds as before.
 */
ssize_t altread_read(struct lb_fs *fs, struct lb_inode *inode, char *buf, size_t size, off_t off);

#endif
