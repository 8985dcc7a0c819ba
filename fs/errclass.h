/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * errclass.h - which errnos of a store call mean "the path to the store
 * failed" (absorbed) and which are the application's own (passed through).
 */
#ifndef LIFEBOAT_ERRCLASS_H
#define LIFEBOAT_ERRCLASS_H

#include <stdbool.h>

/* Path-failure errnos, in the order status reports count them. */
#define ERRCLASS_PATH_ERRNOS(X) \
	X(EIO) X(ENOTCONN) X(ESTALE) X(ETIMEDOUT) X(EHOSTDOWN) X(EHOSTUNREACH) \
	X(ENETDOWN) X(ENETUNREACH) X(ECONNRESET) X(ECONNABORTED) X(ENODEV) X(ENXIO) \
	X(EREMOTEIO) X(ENOLINK) X(EROFS)

enum errclass_slot {
#define ERRCLASS_SLOT(e) ERRCLASS_##e,
	ERRCLASS_PATH_ERRNOS(ERRCLASS_SLOT)
#undef ERRCLASS_SLOT
	ERRCLASS_TIMEOUT,	/* a call that did not return within path_timeout */
	ERRCLASS_NSLOTS,
};

/*
 * Returns true when @err (positive or negative errno) from a store call is a
 * path failure. EROFS counts only on a store that was writable: a store
 * mounted read-only from the start gives the application its EROFS.
 */
bool errclass_is_path_failure(int err, bool store_writable);

/* Slot of a path-failure errno for counting, ERRCLASS_NSLOTS if none. */
enum errclass_slot errclass_slot_of(int err);
const char *errclass_slot_name(enum errclass_slot slot);

#endif
