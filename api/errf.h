/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Writing the reason of a failure into a caller's buffer. */
#ifndef CS_ERRF_H
#define CS_ERRF_H

#include <stddef.h>

/* printf into @err (of @errlen bytes); nothing when @err is NULL or
 * @errlen 0, so callers that do not want the reason pass NULL, 0. */
void cs_errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
