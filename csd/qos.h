/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reservations in csd: admission inside the store transaction that makes a
 * change, and enforcement on this node. A reservation is an endpoint's
 * "qos" (spec.qos in /endpoints/T/V/E); a vnet's "capacity" is what they are
 * admitted against, less csd's headroom.
 *
 * Atomic admission: every change that may raise what a vnet has reserved
 * (reservation create, endpoint create with qos, apply) compares the vnet's
 * document, the endpoint's own document and the vnet's admission key
 * /alloc/qos/T/V, and writes that key. So two such changes (in this csd or
 * in another sharing the store) never both commit on the same reading: the
 * second fails its compare, reads again and is decided again. (Changes that
 * only lower or free, such as deleting an endpoint, need not serialise: a
 * decision that still counted them erred on the safe side.) The tenant's
 * quotas.bandwidth and the node uplinks are kept the same way: a raise
 * compares the admission keys of every vnet that counts toward them.
 */
#ifndef CSD_QOS_H
#define CSD_QOS_H

#include <jansson.h>

#include "csd.h"
#include "model.h"
#include "resources/admission.h"

/* How often a change whose compare failed is decided again. */
#define QOS_ATTEMPTS 100
/* A refusal names at most this many holders ("and N more" for the rest). */
#define QOS_HOLDERS_MAX 5

void key_qos(char *buf, const char *t, const char *v);

/* One endpoint of the vnet as qos_admit() read it. */
struct qos_ep {
	const char *name;         /* E of "/endpoints/T/V/E" (points into eps) */
	json_t *doc;              /* owned */
	struct admission_resv resv;
	bool has;                 /* it holds a (valid) reservation */
	char id[KEY_MAX];
};

/* One reading of a vnet for an admission decision. */
struct qos_txn {
	json_t *vdoc;             /* the vnet's document */
	json_t *self;             /* endpoint E's document, NULL if it does not exist */
	struct store_cmp *cmps;   /* for the caller's transaction */
	size_t ncmps;
	struct store_op op;       /* bumps the admission key; add it to the transaction
				   * when @raise (always so for a new endpoint with qos) */
	bool raise;               /* the change may raise what is reserved: else only
				   * E's document is in cmps and op need not be made */
	struct admission_usage use;
	struct store_kvs eps;     /* the endpoint documents read (own the cmp keys) */
	struct qos_ep *ep;        /* the vnet's endpoints, parsed */
	size_t nep;
	struct store_kvs more;    /* other keys compared (tenant, uplink pools) */
	int64_t read_rev;         /* the store revision the reading began at (0: unknown) */
	char vkey[KEY_MAX], tkey[KEY_MAX], tval[32];
};
void qos_txn_clear(struct qos_txn *qt);

/*
 * Read vnet T/V and its endpoints and decide whether endpoint E (existing
 * or about to be created) may hold reservation @qos (a "qos" object as
 * declared). Fills @qt (cleared first) with what the caller's transaction
 * must compare and write. Returns 0; CS_ENOENT (no such vnet); CS_EINVAL
 * (@qos malformed, or the vnet has no capacity); CS_EADMIT (does not fit
 * the vnet's capacity or the uplink of the endpoint's node: the message
 * says how much is free and names the holders @who may see, the largest
 * QOS_HOLDERS_MAX; @who NULL: those of the same vnet only); CS_EQUOTA (the
 * tenant's quotas.bandwidth would be exceeded); a store error. @err gets
 * the reason. @tdoc: the tenant's document when the caller has it (NULL:
 * read). @node: the node of an endpoint about to be created (NULL: its
 * document's, else this node).
 *
 * Every change that may raise a reservation bumps its vnet's admission
 * key, so the tenant quota and the uplinks are kept atomically by comparing
 * the admission keys of every vnet that counts toward them (the tenant's
 * vnets; the multi-node vnets spanning the node) and the endpoints read.
 */
int qos_admit_as(struct csd *d, const struct principal *who, const json_t *tdoc, const char *t,
		 const char *v, const char *e, const char *node, const json_t *qos,
		 struct qos_txn *qt, char *err, size_t errlen);
/*
 * The transaction made on @qt committed at revision @rev with @ops: lets
 * the next decision answer its reads from what this one read (qos.c's read
 * cache), when nothing else was written in between. Optional.
 */
void qos_txn_committed(struct csd *d, const struct qos_txn *qt, int64_t rev,
		       const struct store_op *ops, size_t nops);

/* qos_admit_as(d, NULL, NULL, t, v, e, NULL, qos, ...) */
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
 * documents keyed "/endpoints/..." (others skipped). Idempotent: asks the
 * backend about every local endpoint (the reconciler's check for drift);
 * returns 0 or the first failure (the rest are still tried) with a reason
 * in @err. What it applied is remembered for qos_realize_changed().
 */
int realize_vnet_qos(struct csd *d, const char *t, const char *v, const json_t *vdoc,
		     const json_t *eps, char *err, size_t errlen);

/*
 * After a change committed on the reading @qt (endpoint E's document now
 * @self, NULL if it went): the same caps as realize_vnet_qos(), but the
 * backend is called only for the local endpoints whose cap differs from
 * what this csd last applied (a reservation changes its endpoint's cap; the
 * unreserved ones' shares change only when the reserved rates or their
 * number do). *@enforced tells whether E's cap is in place. 0 or the
 * first failure, with a reason in @err.
 */
int qos_realize_changed(struct csd *d, const char *t, const char *v, const char *e,
			const struct qos_txn *qt, const json_t *self, bool *enforced, char *err,
			size_t errlen);

/*
 * Shape what leaves this node by VXLAN as its declaration (/nodes/NODE)
 * says: with "uplink_shape": true and an "uplink", VXLAN traffic on the
 * underlay device limited to the uplink; otherwise none of ours there.
 * @ndoc NULL: read it (absent: none). Calls the backend only when that
 * changed since the last call, unless @force. 0 or a failure with a
 * reason in @err.
 */
int realize_uplink_qos(struct csd *d, const json_t *ndoc, bool force, char *err, size_t errlen);

#endif
