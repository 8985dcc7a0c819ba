/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * overlay.h - the data of one file while the mount is absorbing.
 *
 * While the store is unreachable every mutation is journaled and applied to
 * an ov_file, so the application reads its own writes and sizes. The store
 * keeps the last synced state (the "base"); an ov_file records what changed
 * since, and answers reads from its own data, from ranges it knows are zero,
 * or by asking the caller to read the base.
 *
 * Thread safety is the caller's: one lock per file around every call.
 * Offsets and sizes are bytes; the largest size is OV_SIZE_MAX (an off_t).
 * Every call that fails leaves the file unchanged.
 */
#ifndef LIFEBOAT_OVERLAY_H
#define LIFEBOAT_OVERLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define OV_SIZE_MAX ((uint64_t)INT64_MAX)

struct ov_file;

/*
 * A new overlay for a file whose size on the store was base_size when
 * absorbing began. Returns NULL when out of memory or when base_size is past
 * OV_SIZE_MAX.
 */
struct ov_file *ov_file_new(uint64_t base_size);

/* Frees the overlay and all its data. Accepts NULL. */
void ov_file_free(struct ov_file *f);

/*
 * Copies data to [off, off+len), growing the size to off+len if needed; the
 * bytes between the old size and off read as zeros. len 0 changes nothing.
 * Returns 0, -EINVAL when off+len is past OV_SIZE_MAX, or -ENOMEM.
 */
int ov_file_write(struct ov_file *f, uint64_t off, const void *data, size_t len);

/*
 * Sets the size. Shrinking drops the data past size, and the base bytes past
 * it read as zeros if the file grows again; growing extends with zeros.
 * Returns 0 or -EINVAL when size is past OV_SIZE_MAX. Never allocates.
 */
int ov_file_truncate(struct ov_file *f, uint64_t size);

/*
 * fallocate(2) on the overlay. Modes:
 *   0                                   size grows to off+len, contents unchanged
 *   FALLOC_FL_KEEP_SIZE                 nothing changes (space is the store's business)
 *   FALLOC_FL_PUNCH_HOLE|KEEP_SIZE      [off, off+len) below the size reads as zeros
 *   FALLOC_FL_ZERO_RANGE                [off, off+len) reads as zeros, size grows to off+len
 *   FALLOC_FL_ZERO_RANGE|KEEP_SIZE      as above, size unchanged
 * Returns 0, -EOPNOTSUPP for any other mode (the caller then waits for the
 * store), -EINVAL when len is 0 or off+len is past OV_SIZE_MAX, or -ENOMEM.
 */
int ov_file_fallocate(struct ov_file *f, int mode, uint64_t off, uint64_t len);

/* The size the application sees. */
uint64_t ov_file_size(const struct ov_file *f);

/*
 * Reads a range of the store's file (the base) into dst. Must fill exactly
 * len bytes and return 0, or return -errno. Only asked for ranges below the
 * base size, one call per contiguous range the overlay does not know.
 */
typedef int (*ov_read_base_fn)(void *ctx, void *dst, uint64_t off, size_t len);

/*
 * Reads [off, off+len), clipped at the size, into buf. Returns the bytes read
 * (0 at or past the end of file) or -errno. Ranges the overlay has data for
 * come from it, ranges it knows are zero are zeros, every other range comes
 * from read_base(ctx, ...). A read_base error is returned as is (buf is then
 * partly filled) and the caller retries later. read_base may be NULL when
 * ov_file_covers() said yes; otherwise a range needing it gives -EAGAIN.
 */
ssize_t ov_file_read(const struct ov_file *f, void *buf, uint64_t off, size_t len,
		     ov_read_base_fn read_base, void *ctx);

/* True when ov_file_read(f, _, off, len, ...) would not call read_base. */
bool ov_file_covers(const struct ov_file *f, uint64_t off, size_t len);

/* Bytes of memory the overlay holds (structures and data), for the budget. */
size_t ov_file_mem(const struct ov_file *f);

/* Number of extents (data and zero ranges), for status and tests. */
size_t ov_file_extents(const struct ov_file *f);

/* Whether the overlay's invariants hold (see overlay.c), for tests and debug checks. */
bool ov_file_valid(const struct ov_file *f);

#endif
