/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers shared by the op handlers (ops_*.c). */
#ifndef CSD_OPS_H
#define CSD_OPS_H

#include "csd.h"
#include "model.h"
#include "policy/authz.h"
#include "schema.h"

typedef char name_t[CS_NAME_MAX + 1];

/* args[key] as a path of n names ("acme/blue"); fails the request if not. */
int req_path(struct csd_req *r, const char *key, int n, name_t parts[]);
/* The tenant's document, if the caller may see it and do @a: CS_ENOENT
 * "no such tenant" when absent or invisible, CS_EPERM when visible but @a
 * is not allowed. */
int req_tenant(struct csd_req *r, const char *t, enum authz_action a, json_t **doc);
/* args["spec"] validated against the schema (all errors at once). */
int req_spec(struct csd_req *r, enum schema_object o, const char *what, json_t **spec);
/* Copy a store failure into the request. */
int req_store_fail(struct csd_req *r, int code, const char *what);

/* Views, as `cs-ctl -j` prints them. */
/* @counts from model_count(); NULL counts them for this one object */
json_t *view_tenant(struct csd *d, const char *t, const json_t *doc, const json_t *vnet_counts,
		    const json_t *ep_counts);
json_t *view_vnet(struct csd *d, const char *t, const char *v, const json_t *doc,
		  const struct vnet_inventory *inv, const json_t *ep_counts);
json_t *view_endpoint(struct csd *d, const char *t, const char *v, const char *e,
		      const json_t *doc, const struct vnet_inventory *inv);
bool inventory_has(const struct vnet_inventory *inv, bool endpoint, const char *path);
/* What the backend realized here, sorted for inventory_has(). */
int csd_inventory(struct csd *d, struct vnet_inventory *inv);
/* Objects per tenant or vnet ("acme" or "acme/blue" -> count), from one
 * listing of @prefix ("/vnets/" or "/endpoints/"); @depth path parts kept. */
json_t *model_count(struct csd *d, const char *prefix, int depth);

/* Create an endpoint (validated, allocated, stored, realized here). */
int endpoint_create(struct csd_req *r, const char *t, const char *v, const char *e,
		    const json_t *spec, bool ephemeral, json_t **doc);

#endif
