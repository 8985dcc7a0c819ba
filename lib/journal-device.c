// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * journal-device.c - a journal device by name: a file path, or an iscsi://
 * URL (an iSCSI session and the ring layout on its LUN).
 */
#include "lifeboat/journal.h"

int journal_device_open_name(const char *name, unsigned flags, struct journal_device **ret_dev)
{
	struct journal_blockdev *bd;
	unsigned bd_flags = flags;
	int r;

	if (!journal_name_is_iscsi(name))
		return journal_file_device_open(name, flags, ret_dev);
	if (flags & JOURNAL_OPEN_READONLY)
		bd_flags |= JOURNAL_ISCSI_NO_RESERVE;
	if (flags & JOURNAL_OPEN_TAKEOVER)
		bd_flags |= JOURNAL_ISCSI_TAKEOVER;
	r = journal_iscsi_blockdev_open(name, bd_flags, &bd);
	if (r < 0)
		return r;
	return journal_ring_device_open(bd, flags, ret_dev);
}
