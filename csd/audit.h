/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The audit log: every accepted or refused change (ops flagged
 * CSD_OP_CHANGES, and endpoint.exec) with who asked (uid, pid), what (op and
 * object) and the verdict. Each entry goes to the log ("audit: ...") and
 * into a bounded ring of the latest AUDIT_RING entries that `status` shows.
 */
#ifndef CSD_AUDIT_H
#define CSD_AUDIT_H

#include <jansson.h>

#include "csd.h"

#define AUDIT_RING 64

/*
 * Record one verdict: @code 0 for accepted, a CS_E* code for refused, with
 * @message (may be NULL or empty: cs_strerror(code)). @object names what the
 * request was about; NULL picks it from @args ("name", "vnet", ...).
 * @detail (may be NULL) is added to an accepted entry ("pid 1234").
 */
void audit_record(const struct principal *who, const char *op, const json_t *args,
		  const char *object, int code, const char *message, const char *detail);

/* The ring, oldest first, as `status` shows it: everything to
 * administrators, to anyone else only their own entries. */
json_t *audit_view(const struct principal *who);

/* Forget every entry (tests). */
void audit_clear(void);

#endif
