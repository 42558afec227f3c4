/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Directories and files csd writes without following links (safedir.c). */
#ifndef CSD_SAFEDIR_H
#define CSD_SAFEDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Make @dir if missing (its last component @mode), then open it without
 * following a link at any step, and check that nobody but csd's user (and
 * root) can write it or, but for root's sticky directories, any ancestor.
 * Returns an O_DIRECTORY fd, or CS_EPERM / CS_EIO with a message naming
 * @what ("run_dir") and the fix.
 */
int safedir_open(const char *dir, mode_t mode, const char *what, char *err, size_t errlen);
/*
 * Open @name in @dirfd for writing, created with @mode (set on the fd),
 * never through a link; @excl: a new file (whatever was there is removed
 * first). Returns the fd or -errno.
 */
int safedir_create(int dirfd, const char *name, bool excl, mode_t mode);

#endif
