/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * journal-ring.h - the arithmetic of a LUN journal (journal-format.h):
 * the ring descriptor's codec, formatting a geometry from the LUN's
 * capacity, and mapping ring ranges onto LUN byte extents with wrap-around.
 * Pure functions, no I/O: journal-ring.c builds the device on them and the
 * unit tests check them. Not installed.
 */
#ifndef LIFEBOAT_JOURNAL_RING_H
#define LIFEBOAT_JOURNAL_RING_H

#include <stddef.h>
#include <stdint.h>

#include "lifeboat/journal.h"

/* The ring descriptor, host-endian. */
struct journal_ring {
	uint32_t block_size;
	uint64_t lun_blocks;
	uint64_t ring_start;
	uint64_t ring_size;
	uint64_t head;
	uint64_t used;
	uint64_t generation;
	uint8_t lun_id[JOURNAL_RING_ID_SIZE];
};

/* A byte range on the LUN. */
struct ring_extent {
	uint64_t lun_off;
	uint64_t len;
};

/*
 * The geometry of a fresh ring on a LUN of blocks blocks of block_size
 * bytes: ring from JOURNAL_BLOCK to the end, head 0, used 0.
 * -EINVAL for a block size that is not a power of two in 512..JOURNAL_BLOCK,
 * -ENOSPC for a LUN too small to hold the superblock and one largest record.
 */
int ring_format(uint32_t block_size, uint64_t blocks, struct journal_ring *ret_ring);

/* Checks a descriptor's geometry against itself and the LUN: -EBADMSG, -EXDEV. */
int ring_check(const struct journal_ring *ring, uint32_t block_size, uint64_t blocks);

/* Encodes ring into the superblock sector at sb (JOURNAL_RING_SB_OFFSET on). */
void ring_encode(const struct journal_ring *ring, uint8_t *sb);

/*
 * Decodes the descriptor from the superblock sector at sb (512 bytes).
 * -EMEDIUMTYPE: no ring magic; -EPROTONOSUPPORT: newer version; -EBADMSG:
 * checksum. The geometry is not checked here (ring_check()).
 */
int ring_decode(const uint8_t *sb, struct journal_ring *ret_ring);

/* True when the len bytes at p are all zero. */
bool ring_is_blank(const uint8_t *p, size_t len);

/*
 * Maps ring bytes [rel, rel + len), counted from the head, onto at most two
 * LUN extents (two when the range wraps past the ring's end). Returns the
 * number of extents; -ENOSPC when rel + len passes ring_size.
 */
int ring_map(const struct journal_ring *ring, uint64_t rel, uint64_t len,
	     struct ring_extent ret_ext[2]);

/* The head after a reset: just past the last record, rounded up to a block. */
uint64_t ring_reset_head(const struct journal_ring *ring);

static inline uint64_t ring_round_down(uint64_t v, uint32_t bs)
{
	return v - v % bs;
}

static inline uint64_t ring_round_up(uint64_t v, uint32_t bs)
{
	return ring_round_down(v + bs - 1, bs);
}

#endif
