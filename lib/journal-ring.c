// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * journal-ring.c - a journal device on a block device (an iSCSI LUN): the
 * superblock and the ring of journal-format.h behind the flat byte space the
 * journal core expects, so one record codec and one core serve files and
 * LUNs.
 *
 * The core's byte space:      the LUN:
 *   [0, JOURNAL_BLOCK)          superblock: the header bytes, ring descriptor
 *   [JOURNAL_BLOCK, + used)     ring bytes [head, head + used), wrapping
 *
 *   size()      JOURNAL_BLOCK + used (0 while the LUN is blank)
 *   write()     whole blocks: the partial first block is completed with the
 *               bytes already there (the previous group's tail, kept in
 *               memory), the last is padded with zeros; past ring_size: -ENOSPC
 *   sync()      superblock (used, head) rewritten when it changed, then the
 *               block device's sync (SYNCHRONIZE CACHE): nothing is durable,
 *               hence acknowledged, before that
 *   truncate()  to JOURNAL_BLOCK: a reset, head moves past the last record;
 *               shorter: cuts a torn tail
 *
 * Invariants: (1) a block that holds acknowledged bytes is only rewritten
 * with those same bytes in place, so a torn rewrite of whole sectors loses
 * nothing acknowledged; (2) the superblock's used never covers bytes that
 * were not written before it (a crash in between leaves a torn tail, which
 * the scan finds and the next writable open cuts).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "journal-ring.h"

#define IO_CHUNK (4u << 20)		/* bytes per block device call at most */
#define READ_AHEAD (256u << 10)		/* scans read records one by one */
#define NO_BLOCK UINT64_MAX

/* Every field below lock is protected by it: the ops may come from any thread. */
struct ring_device {
	struct journal_device dev;	/* first: the ops get &dev */
	struct journal_blockdev *bd;	/* owned */
	pthread_mutex_t lock;
	uint32_t bs;
	bool blank;			/* no superblock yet */
	uint8_t *sb;			/* block 0 as last read or written */
	struct journal_ring durable;	/* the descriptor on the LUN */
	struct journal_ring ring;	/* in memory: used grows with writes */
	uint8_t *tail_blk;		/* the block holding ring byte `used`, when partial */
	uint64_t tail_rel;		/* its ring offset, NO_BLOCK when none */
	uint8_t *buf;			/* staging for whole-block I/O */
	size_t buf_size;
	uint64_t ra_rel;		/* ring offset of the read-ahead window */
	uint64_t ra_len;		/* 0: empty */
	uint8_t *ra;
	size_t ra_size;
};

static struct ring_device *ring_of(struct journal_device *dev)
{
	return (struct ring_device *)dev;
}

static int buf_grow(uint8_t **buf, size_t *size, size_t want)
{
	uint8_t *p;

	if (want <= *size)
		return 0;
	p = realloc(*buf, want);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*size = want;
	return 0;
}

/* ------------------------------------------------------------------ block I/O */

/* Whole-block I/O at a LUN byte offset, in chunks the target accepts. */
static int lun_io(struct ring_device *rd, bool write, uint64_t lun_off, uint8_t *p, uint64_t len)
{
	struct journal_blockdev *bd = rd->bd;

	while (len > 0) {
		uint32_t n = (uint32_t)((len < IO_CHUNK ? len : IO_CHUNK) / rd->bs);
		int r = write ? bd->ops->write(bd, lun_off / rd->bs, n, p) :
				bd->ops->read(bd, lun_off / rd->bs, n, p);

		if (r < 0)
			return r;
		lun_off += (uint64_t)n * rd->bs;
		p += (size_t)n * rd->bs;
		len -= (uint64_t)n * rd->bs;
	}
	return 0;
}

/* Whole blocks of the ring, [rel, rel + len), both block aligned. */
static int ring_io(struct ring_device *rd, bool write, uint64_t rel, uint8_t *p, uint64_t len)
{
	struct ring_extent ext[2];
	int n, r;

	n = ring_map(&rd->ring, rel, len, ext);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		r = lun_io(rd, write, ext[i].lun_off, p, ext[i].len);
		if (r < 0)
			return r;
		p += ext[i].len;
	}
	return 0;
}

static int superblock_write(struct ring_device *rd, const struct journal_ring *ring)
{
	struct journal_ring next = *ring;
	int r;

	next.generation = rd->durable.generation + 1;
	ring_encode(&next, rd->sb);
	r = lun_io(rd, true, 0, rd->sb, rd->bs);
	if (r < 0)
		return r;
	rd->durable = next;
	rd->ring.generation = next.generation;
	rd->blank = false;
	return 0;
}

/* ------------------------------------------------------------------ header */

static ssize_t header_read(struct ring_device *rd, uint8_t *buf, size_t len, uint64_t off)
{
	size_t n = len < JOURNAL_BLOCK - off ? len : JOURNAL_BLOCK - off;
	int r;

	if (rd->blank)
		return 0;
	/* Without a reservation another writer may have fenced us: look again. */
	if (!rd->bd->exclusive) {
		r = lun_io(rd, false, 0, rd->sb, rd->bs);
		if (r < 0)
			return r;
	}
	memset(buf, 0, n);
	if (off < rd->bs)
		memcpy(buf, rd->sb + off, (n < rd->bs - off ? n : rd->bs - off));
	return (ssize_t)n;
}

/* The core writes its header block: ours takes the header part, then ours. */
static int header_write(struct ring_device *rd, const uint8_t *buf, size_t len)
{
	uint8_t id[JOURNAL_RING_ID_SIZE];
	struct journal_ring fresh;
	int r;

	if (len != JOURNAL_BLOCK || !ring_is_blank(buf + JOURNAL_RING_SB_OFFSET,
						   JOURNAL_BLOCK - JOURNAL_RING_SB_OFFSET))
		return -EINVAL;
	if (rd->blank) {
		r = ring_format(rd->bs, rd->bd->blocks, &fresh);
		if (r < 0)
			return r;
		if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id))
			return -EIO;
		memcpy(fresh.lun_id, id, sizeof(id));
		rd->ring = rd->durable = fresh;
	}
	memset(rd->sb, 0, rd->bs);
	memcpy(rd->sb, buf, JOURNAL_RING_SB_OFFSET);
	/* The durable descriptor: used must not run ahead of a sync. */
	return superblock_write(rd, &rd->durable);
}

/* ------------------------------------------------------------------ ring */

static ssize_t ring_read(struct ring_device *rd, uint8_t *buf, size_t len, uint64_t rel)
{
	uint64_t start, end, want;
	int r;

	if (rel >= rd->ring.used)
		return 0;
	if (len > rd->ring.used - rel)
		len = (size_t)(rd->ring.used - rel);
	if (rd->ra_len && rel >= rd->ra_rel && rel + len <= rd->ra_rel + rd->ra_len) {
		memcpy(buf, rd->ra + (rel - rd->ra_rel), len);
		return (ssize_t)len;
	}
	start = ring_round_down(rel, rd->bs);
	want = rel + len - start > READ_AHEAD ? rel + len - start : READ_AHEAD;
	end = ring_round_up(start + want, rd->bs);
	if (end > ring_round_up(rd->ring.used, rd->bs))
		end = ring_round_up(rd->ring.used, rd->bs);
	rd->ra_len = 0;
	r = buf_grow(&rd->ra, &rd->ra_size, (size_t)(end - start));
	if (r < 0)
		return r;
	r = ring_io(rd, false, start, rd->ra, end - start);
	if (r < 0)
		return r;
	rd->ra_rel = start;
	rd->ra_len = end - start;
	memcpy(buf, rd->ra + (rel - start), len);
	return (ssize_t)len;
}

/* The bytes already in the block at ring offset blk, before a partial rewrite. */
static int block_prefix(struct ring_device *rd, uint64_t blk, uint8_t *dst)
{
	if (rd->tail_rel == blk) {
		memcpy(dst, rd->tail_blk, rd->bs);
		return 0;
	}
	return ring_io(rd, false, blk, dst, rd->bs);
}

static int ring_write(struct ring_device *rd, const uint8_t *data, size_t len, uint64_t rel)
{
	uint64_t end = rel + len, start, stop;
	size_t n;
	int r;

	if (len == 0)
		return 0;
	if (rel > rd->ring.used)
		return -EINVAL;	/* the core appends at the tail: no holes */
	if (end > rd->ring.ring_size || end < rel)
		return -ENOSPC;
	start = ring_round_down(rel, rd->bs);
	stop = ring_round_up(end, rd->bs);
	n = (size_t)(stop - start);
	r = buf_grow(&rd->buf, &rd->buf_size, n);
	if (r < 0)
		return r;
	if (rel > start) {
		r = block_prefix(rd, start, rd->buf);
		if (r < 0)
			return r;
	}
	memcpy(rd->buf + (rel - start), data, len);
	memset(rd->buf + (end - start), 0, (size_t)(stop - end));
	rd->ra_len = 0;
	r = ring_io(rd, true, start, rd->buf, n);
	if (r < 0) {
		rd->tail_rel = NO_BLOCK;	/* what the LUN holds there is unknown now */
		return r;
	}
	if (end > rd->ring.used)
		rd->ring.used = end;
	rd->tail_rel = NO_BLOCK;
	if (end % rd->bs) {
		memcpy(rd->tail_blk, rd->buf + (n - rd->bs), rd->bs);
		rd->tail_rel = stop - rd->bs;
	}
	return 0;
}

/* ------------------------------------------------------------------ ops */

static ssize_t read_locked(struct ring_device *rd, void *buf, size_t len, uint64_t off)
{
	if (off < JOURNAL_BLOCK)
		return header_read(rd, buf, len, off);
	if (rd->blank)
		return 0;
	return ring_read(rd, buf, len, off - JOURNAL_BLOCK);
}

static ssize_t rd_read(struct journal_device *dev, void *buf, size_t len, uint64_t off)
{
	struct ring_device *rd = ring_of(dev);
	ssize_t n;

	pthread_mutex_lock(&rd->lock);
	n = read_locked(rd, buf, len, off);
	pthread_mutex_unlock(&rd->lock);
	return n;
}

static int write_locked(struct ring_device *rd, const void *buf, size_t len, uint64_t off)
{
	if (rd->dev.read_only)
		return -EROFS;
	if (off == 0)
		return header_write(rd, buf, len);
	if (off < JOURNAL_BLOCK || rd->blank)
		return -EINVAL;
	return ring_write(rd, buf, len, off - JOURNAL_BLOCK);
}

static int rd_write(struct journal_device *dev, const void *buf, size_t len, uint64_t off)
{
	struct ring_device *rd = ring_of(dev);
	int r;

	pthread_mutex_lock(&rd->lock);
	r = write_locked(rd, buf, len, off);
	pthread_mutex_unlock(&rd->lock);
	return r;
}

static int rd_sync(struct journal_device *dev)
{
	struct ring_device *rd = ring_of(dev);
	int r = 0;

	if (dev->read_only)
		return 0;
	pthread_mutex_lock(&rd->lock);
	if (!rd->blank && (rd->ring.used != rd->durable.used || rd->ring.head != rd->durable.head))
		r = superblock_write(rd, &rd->ring);
	if (r >= 0)
		r = rd->bd->ops->sync(rd->bd);
	pthread_mutex_unlock(&rd->lock);
	return r;
}

static int rd_size(struct journal_device *dev, uint64_t *ret_size)
{
	struct ring_device *rd = ring_of(dev);

	pthread_mutex_lock(&rd->lock);
	*ret_size = rd->blank ? 0 : JOURNAL_BLOCK + rd->ring.used;
	pthread_mutex_unlock(&rd->lock);
	return 0;
}

static int rd_truncate(struct journal_device *dev, uint64_t size)
{
	struct ring_device *rd = ring_of(dev);
	int r = 0;

	if (dev->read_only)
		return -EROFS;
	pthread_mutex_lock(&rd->lock);
	if (size < JOURNAL_BLOCK || size - JOURNAL_BLOCK > rd->ring.used) {
		r = -EINVAL;
	} else if (size == JOURNAL_BLOCK) {
		rd->ring.head = ring_reset_head(&rd->ring);
		rd->ring.used = 0;
	} else {
		rd->ring.used = size - JOURNAL_BLOCK;
	}
	rd->tail_rel = NO_BLOCK;
	rd->ra_len = 0;
	pthread_mutex_unlock(&rd->lock);
	return r;
}

static void rd_path_info(struct journal_device *dev, struct journal_path_info *ret_info)
{
	struct ring_device *rd = ring_of(dev);

	if (rd->bd->ops->path_info)
		rd->bd->ops->path_info(rd->bd, ret_info);
}

static void rd_close(struct journal_device *dev)
{
	struct ring_device *rd = ring_of(dev);

	if (!dev)
		return;
	if (rd->bd)
		rd->bd->ops->close(rd->bd);
	free(rd->sb);
	free(rd->tail_blk);
	free(rd->buf);
	free(rd->ra);
	free(dev->name);
	pthread_mutex_destroy(&rd->lock);
	free(rd);
}

static const struct journal_device_ops ring_ops = {
	.read = rd_read,
	.write = rd_write,
	.sync = rd_sync,
	.size = rd_size,
	.truncate = rd_truncate,
	.close = rd_close,
	.path_info = rd_path_info,
};

/* ------------------------------------------------------------------ open */

static int superblock_load(struct ring_device *rd)
{
	int r;

	r = lun_io(rd, false, 0, rd->sb, rd->bs);
	if (r < 0)
		return r;
	r = ring_decode(rd->sb, &rd->durable);
	if (r == -EMEDIUMTYPE && ring_is_blank(rd->sb, rd->bs)) {
		rd->blank = true;
		return 0;
	}
	if (r < 0)
		return r;
	r = ring_check(&rd->durable, rd->bs, rd->bd->blocks);
	if (r < 0)
		return r;
	rd->ring = rd->durable;
	return 0;
}

int journal_ring_device_open(struct journal_blockdev *bd, unsigned flags,
			     struct journal_device **ret_dev)
{
	struct ring_device *rd;
	int r = -ENOMEM;

	rd = calloc(1, sizeof(*rd));
	if (!rd) {
		bd->ops->close(bd);
		return -ENOMEM;
	}
	pthread_mutex_init(&rd->lock, NULL);
	rd->dev.ops = &ring_ops;
	rd->dev.read_only = bd->read_only || (flags & JOURNAL_OPEN_READONLY);
	rd->bd = bd;
	rd->bs = bd->block_size;
	rd->tail_rel = NO_BLOCK;
	rd->dev.name = strdup(bd->name);
	if (rd->bs < 512 || rd->bs > JOURNAL_BLOCK || (rd->bs & (rd->bs - 1))) {
		r = -EXDEV;
		goto out_close;
	}
	rd->sb = calloc(1, rd->bs);
	rd->tail_blk = malloc(rd->bs);
	if (!rd->dev.name || !rd->sb || !rd->tail_blk)
		goto out_close;
	r = superblock_load(rd);
	if (r < 0)
		goto out_close;
	*ret_dev = &rd->dev;
	return 0;

out_close:
	rd_close(&rd->dev);
	return r;
}

int journal_device_lun_info(struct journal_device *dev, struct journal_lun_info *ret_info)
{
	struct ring_device *rd = ring_of(dev);
	struct journal_lun_info info;

	if (dev->ops != &ring_ops)
		return -ENOTTY;
	pthread_mutex_lock(&rd->lock);
	if (rd->blank) {
		pthread_mutex_unlock(&rd->lock);
		return -ENOTTY;
	}
	info.block_size = rd->durable.block_size;
	info.lun_blocks = rd->durable.lun_blocks;
	info.ring_start = rd->durable.ring_start;
	info.ring_size = rd->durable.ring_size;
	info.head = rd->durable.head;
	info.used = rd->durable.used;
	info.generation = rd->durable.generation;
	memcpy(info.lun_id, rd->durable.lun_id, sizeof(info.lun_id));
	pthread_mutex_unlock(&rd->lock);
	*ret_info = info;
	return 0;
}
