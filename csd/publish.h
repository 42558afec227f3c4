/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CSD_PUBLISH_H
#define CSD_PUBLISH_H

#include <jansson.h>

#include "csd.h"

/*
 * May endpoint @tve ("T/V/E") on node @node publish @list (its spec's
 * "publish")? The caller's range (policy/authz.c), no other endpoint of the
 * node publishing a host port of it (@planned: "T/V/E" -> document, what a
 * plan puts in place of the store's, or NULL), no socket of this node
 * holding one. 0, or CS_EPERM / CS_EEXIST / a store error with the reason,
 * naming the holder, in @err.
 */
int publish_check(struct csd *d, const struct principal *who, const char *tve, const char *node,
		  const json_t *list, const json_t *planned, char *err, size_t len);

#endif
