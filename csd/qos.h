/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reservations in csd: admission inside the store transaction that makes a
 * change, and enforcement on this node. A reservation is an endpoint's
 * "qos" (spec.qos in /endpoints/T/V/E); a vnet's "capacity" is what they are
 * admitted against, less csd's headroom.
 *
 * Atomic admission: every change that may raise what a vnet has reserved
 * compares the vnet's document, every endpoint document of the vnet it read
 * and the vnet's admission key /alloc/qos/T/V, and writes that key. So two
 * such changes (in this csd or in another sharing the store) never both
 * commit on the same reading: the second fails its compare, reads again and
 * is decided again. (Changes that only lower or free, such as deleting an
 * endpoint, need not serialise: a decision that still counted them erred
 * on the safe side.)
 */
#ifndef CSD_QOS_H
#define CSD_QOS_H

#include <jansson.h>

#include "csd.h"
#include "model.h"
#include "resources/admission.h"

/* How often a change whose compare failed is decided again. */
#define QOS_ATTEMPTS 100

void key_qos(char *buf, const char *t, const char *v);

/* One reading of a vnet for an admission decision. */
struct qos_txn {
	json_t *vdoc;             /* the vnet's document */
	json_t *self;             /* endpoint E's document, NULL if it does not exist */
	struct store_cmp *cmps;   /* for the caller's transaction */
	size_t ncmps;
	struct store_op op;       /* bumps the admission key; add it to the transaction */
	struct admission_usage use;
	struct store_kvs eps;     /* the endpoint documents read (own the cmp keys) */
	char vkey[KEY_MAX], tkey[KEY_MAX], tval[32];
};
void qos_txn_clear(struct qos_txn *qt);

/*
 * Read vnet T/V and its endpoints and decide whether endpoint E (existing
 * or about to be created) may hold reservation @qos (a "qos" object as
 * declared). Fills @qt (cleared first) with what the caller's transaction
 * must compare and write. Returns 0; CS_ENOENT (no such vnet); CS_EINVAL
 * (@qos malformed, or the vnet has no capacity); CS_EADMIT (does not fit:
 * the message says how much is free); a store error. @err gets the reason.
 */
int qos_admit(struct csd *d, const char *t, const char *v, const char *e, const json_t *qos,
	      struct qos_txn *qt, char *err, size_t errlen);

/*
 * Of vnet T/V's endpoints in @eps (documents keyed "/endpoints/T/V/E"; other
 * keys are skipped), the sum of the admitted rates. Returns 0 and fills @use
 * (capacity, usable, reserved, free) when the vnet has a capacity, else
 * CS_EINVAL.
 */
int qos_usage(struct csd *d, const char *t, const char *v, const json_t *vdoc, const json_t *eps,
	      struct admission_usage *use);

/*
 * Make this node's endpoints of vnet T/V send as its reservations say: a
 * reserved endpoint capped at its rate (ceil when given) with its class, an
 * unreserved one at an even share of what is left of the capacity (as
 * bulk), none shaped in a vnet without capacity. @vdoc NULL: read it (an
 * absent vnet is nothing to do); @eps NULL: list its endpoints, else the
 * documents keyed "/endpoints/..." (others skipped). Idempotent; returns 0
 * or the first failure (the rest are still tried) with a reason in @err.
 */
int realize_vnet_qos(struct csd *d, const char *t, const char *v, const json_t *vdoc,
		     const json_t *eps, char *err, size_t errlen);

#endif
