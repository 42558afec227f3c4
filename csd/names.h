/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Object names and paths: pure checks. */
#ifndef CSD_NAMES_H
#define CSD_NAMES_H

#include <stdbool.h>
#include <stddef.h>

/* A name: 1-32 characters of [a-z0-9_-], starting with a letter or digit.
 * Dots and slashes are never part of a name: '/' joins a path and '.' joins
 * the parts of kernel object names (PREFIX.tenant.vnet.endpoint). */
#define CS_NAME_MAX 32

bool cs_name_valid(const char *s);
/* Split "a/b/c" into exactly @n valid names (n = 1, 2 or 3). Writes the
 * parts into parts[i] (each CS_NAME_MAX+1). 0 or CS_EINVAL with a reason. */
int cs_path_split(const char *path, int n, char parts[][CS_NAME_MAX + 1], char *err, size_t errlen);

#endif
