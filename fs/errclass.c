// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * errclass.c - the one table that sorts store errnos into path failures and
 * application errors. Everything not listed in errclass.h is the
 * application's (ENOENT, EEXIST, EACCES, EPERM, ENOSPC, EDQUOT, ENOTEMPTY,
 * EISDIR, ENOTDIR, EINVAL, EFBIG, ENAMETOOLONG, ELOOP, EXDEV, EMLINK, ETXTBSY,
 * EBUSY, ENODATA, ERANGE, EOPNOTSUPP, ...) and reaches it unchanged, as the
 * native directory would have returned it.
 */
#include <errno.h>
#include <stdlib.h>

#include "errclass.h"

static const char *const slot_names[ERRCLASS_NSLOTS] = {
#define ERRCLASS_NAME(e) [ERRCLASS_##e] = #e,
	ERRCLASS_PATH_ERRNOS(ERRCLASS_NAME)
#undef ERRCLASS_NAME
	[ERRCLASS_TIMEOUT] = "TIMEOUT",
};

enum errclass_slot errclass_slot_of(int err)
{
	switch (abs(err)) {
#define ERRCLASS_CASE(e) case e: return ERRCLASS_##e;
	ERRCLASS_PATH_ERRNOS(ERRCLASS_CASE)
#undef ERRCLASS_CASE
	default:
		return ERRCLASS_NSLOTS;
	}
}

bool errclass_is_path_failure(int err, bool store_writable)
{
	if (abs(err) == EROFS)
		return store_writable;
	return errclass_slot_of(err) != ERRCLASS_NSLOTS;
}

const char *errclass_slot_name(enum errclass_slot slot)
{
	return slot < ERRCLASS_NSLOTS ? slot_names[slot] : "UNKNOWN";
}
