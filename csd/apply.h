/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * apply's engine (csd/ops_apply.c), shared with the ops that change keys
 * in place (csd/ops_set.c): a `set` is apply of the tenant as stored with
 * the keys changed, so it has apply's validation, messages, allocation,
 * admission and realization, and no second copy of them.
 */
#ifndef CSD_APPLY_H
#define CSD_APPLY_H

#include <stdbool.h>
#include <jansson.h>

#include "csd.h"

/* One reading of the store, as apply plans against it. */
struct apply_state {
	const json_t *tenants; /* T -> doc */
	const json_t *vnets;   /* T -> {V -> doc} */
	const json_t *eps;     /* "T/V" -> {E -> doc} */
};

struct apply_src {
	const char *what;      /* names the request in messages: "apply", "vnet acme/blue" */
	const json_t *file;    /* the overlay file, or NULL: build() makes it */
	/*
	 * Makes the file from @st, on every attempt, so that what it copies
	 * from the store is of the same reading the plan compares in its
	 * transaction (a concurrent change makes it build again, never undo
	 * that change). Returns 0 or fails the request.
	 */
	int (*build)(struct csd_req *r, const struct apply_state *st, void *arg, json_t **file);
	void *arg;
	bool dry_run, prune;
};

/* Plan, commit in one transaction, realize here; r->result holds the
 * changes. 0, or the request has failed (nothing changed when refused). */
int apply_run(struct csd_req *r, const struct apply_src *src);

#endif
