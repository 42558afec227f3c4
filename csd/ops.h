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
/*
 * Authorization, decided by policy/authz.c's table for the request's op
 * (r->op); handlers never choose the right they check.
 *
 * req_tenant: the tenant's document, if the caller may call r->op on it.
 * req_vnet: the same for vnet T/V (@tdoc, @vdoc, either NULL, get the
 * documents). req_endpoint_vnet: req_vnet for an op on one endpoint;
 * @opener says the endpoint is an ephemeral one the caller opened.
 *
 * They fail the request with "no such tenant" (or "no such vnet") when the
 * object is absent or the caller has no role there, so nothing of another
 * tenant shows, and with CS_EPERM when it may see but not do r->op.
 */
int req_tenant(struct csd_req *r, const char *t, json_t **doc);
int req_vnet(struct csd_req *r, const char *t, const char *v, json_t **tdoc, json_t **vdoc);
int req_endpoint_vnet(struct csd_req *r, const char *t, const char *v, bool opener,
		      json_t **tdoc, json_t **vdoc);
/* Only that vnet T/V exists and the caller may see it (the op is decided
 * later, on a document read in the op's own transaction). */
int req_visible(struct csd_req *r, const char *t, const char *v);
/* A list narrowed to tenant T (or vnet T/V, @v not NULL): fails with "no
 * such tenant" unless the caller has a role in the tenant or, as a member,
 * in one of its vnets (that vnet, when @v is given), and with "no such
 * vnet" when the vnet is missing from a tenant the caller sees. */
int req_list_filter(struct csd_req *r, const char *t, const char *v);
/* What a listing of objects under @prefix reads: those (*docs) and the
 * tenants and vnets (*tdocs, *vdocs) that decide what the caller sees
 * (list_visible()). Fails the request, releasing all, with @what. */
int list_docs(struct csd_req *r, const char *prefix, const char *what, json_t **docs,
	      json_t **tdocs, json_t **vdocs);
/* In a listing: may the caller see vnet T/V? @tdocs, @vdocs: the listings
 * of /tenants/ and /vnets/. */
bool list_visible(const struct principal *who, const json_t *tdocs, const json_t *vdocs,
		  const char *t, const char *v);
/* Check r->op for an object the handler already read (apply, per tenant):
 * @tenant (spec, NULL: to be created) and @vnet (spec or NULL). */
bool req_may(struct csd_req *r, const json_t *tenant, const json_t *vnet);
/* args["spec"] validated against the schema (all errors at once). */
int req_spec(struct csd_req *r, enum schema_object o, const char *what, json_t **spec);
/* Refuse arguments @op does not take (@known, NULL-terminated) and @bools
 * that are not true/false (ops_endpoint.c). */
int args_check(struct csd_req *r, const char *op, const char *const *known,
	       const char *const *bools);
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
/* The same, attaching network namespace @nsfd (key "netns": the fd the
 * caller passed, or -1 for csd to open the path, administrators only). */
int endpoint_create_in(struct csd_req *r, const char *t, const char *v, const char *e,
		       const json_t *spec, bool ephemeral, int nsfd, json_t **out);

#endif
