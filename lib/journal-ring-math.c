// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * journal-ring-math.c - the pure part of a LUN journal (journal-ring.h):
 * the ring descriptor's codec and checks, formatting, and the mapping of
 * ring ranges onto LUN extents with wrap-around.
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "journal-ring.h"

static bool is_block_size(uint32_t bs)
{
	return bs >= 512 && bs <= JOURNAL_BLOCK && (bs & (bs - 1)) == 0;
}

int ring_format(uint32_t block_size, uint64_t blocks, struct journal_ring *ret_ring)
{
	struct journal_ring ring = { .block_size = block_size, .lun_blocks = blocks };

	if (!is_block_size(block_size))
		return -EINVAL;
	if (blocks > UINT64_MAX / block_size)
		return -EINVAL;
	ring.ring_start = JOURNAL_BLOCK;
	if (blocks * block_size < JOURNAL_BLOCK + 2 * (uint64_t)JOURNAL_RECORD_MAX)
		return -ENOSPC;
	ring.ring_size = blocks * block_size - ring.ring_start;
	*ret_ring = ring;
	return 0;
}

int ring_check(const struct journal_ring *ring, uint32_t block_size, uint64_t blocks)
{
	uint32_t bs = ring->block_size;

	if (bs != block_size || ring->lun_blocks > blocks)
		return -EXDEV;
	if (!is_block_size(bs) || ring->lun_blocks > UINT64_MAX / bs)
		return -EBADMSG;
	if (ring->ring_start != JOURNAL_BLOCK || ring->ring_size == 0 || ring->ring_size % bs ||
	    ring->ring_size > ring->lun_blocks * bs - ring->ring_start)
		return -EBADMSG;
	if (ring->head >= ring->ring_size || ring->head % bs || ring->used > ring->ring_size)
		return -EBADMSG;
	return 0;
}

void ring_encode(const struct journal_ring *ring, uint8_t *sb)
{
	struct journal_ring_disk d = { 0 };

	d.magic = htole64(JOURNAL_RING_MAGIC);
	d.version = htole32(JOURNAL_RING_VERSION);
	d.block_size = htole32(ring->block_size);
	d.lun_blocks = htole64(ring->lun_blocks);
	d.ring_start = htole64(ring->ring_start);
	d.ring_size = htole64(ring->ring_size);
	d.head = htole64(ring->head);
	d.used = htole64(ring->used);
	d.generation = htole64(ring->generation);
	memcpy(d.lun_id, ring->lun_id, sizeof(d.lun_id));
	d.checksum = htole64(XXH3_64bits(&d, offsetof(struct journal_ring_disk, checksum)));
	memcpy(sb + JOURNAL_RING_SB_OFFSET, &d, sizeof(d));
}

int ring_decode(const uint8_t *sb, struct journal_ring *ret_ring)
{
	struct journal_ring_disk d;
	struct journal_ring ring = { 0 };

	memcpy(&d, sb + JOURNAL_RING_SB_OFFSET, sizeof(d));
	if (le64toh(d.magic) != JOURNAL_RING_MAGIC)
		return -EMEDIUMTYPE;
	if (le64toh(d.checksum) != XXH3_64bits(&d, offsetof(struct journal_ring_disk, checksum)))
		return -EBADMSG;
	if (le32toh(d.version) != JOURNAL_RING_VERSION)
		return -EPROTONOSUPPORT;
	ring.block_size = le32toh(d.block_size);
	ring.lun_blocks = le64toh(d.lun_blocks);
	ring.ring_start = le64toh(d.ring_start);
	ring.ring_size = le64toh(d.ring_size);
	ring.head = le64toh(d.head);
	ring.used = le64toh(d.used);
	ring.generation = le64toh(d.generation);
	memcpy(ring.lun_id, d.lun_id, sizeof(ring.lun_id));
	*ret_ring = ring;
	return 0;
}

bool ring_is_blank(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

int ring_map(const struct journal_ring *ring, uint64_t rel, uint64_t len,
	     struct ring_extent ret_ext[2])
{
	uint64_t pos, first;

	if (rel > ring->ring_size || len > ring->ring_size - rel)
		return -ENOSPC;
	if (len == 0)
		return 0;
	pos = (ring->head + rel) % ring->ring_size;
	first = ring->ring_size - pos;
	ret_ext[0].lun_off = ring->ring_start + pos;
	if (len <= first) {
		ret_ext[0].len = len;
		return 1;
	}
	ret_ext[0].len = first;
	ret_ext[1].lun_off = ring->ring_start;
	ret_ext[1].len = len - first;
	return 2;
}

uint64_t ring_reset_head(const struct journal_ring *ring)
{
	return (ring->head + ring_round_up(ring->used, ring->block_size)) % ring->ring_size;
}
