/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The object model in the store.
 *
 *   /tenants/T            {"spec":{owners...}}
 *   /vnets/T/V            {"spec":{subnet, mtu, ...}, "id":N}
 *   /endpoints/T/V/E      {"spec":{node, address, groups}, "addresses":[...],
 *                          "node":"n1", "owner":uid, "ephemeral":bool,
 *                          "pid":P, "pid_start":S}
 *   /alloc/vni/N          "T/V"          (a VNI is used once)
 *   /alloc/addr/T/V/ADDR  "E"            (an address is used once per vnet)
 *
 * "spec" is exactly what was declared (export prints it back); the rest is
 * what csd allocated or recorded. Creations go through store transactions
 * that compare the allocation keys as absent, so concurrent creators (other
 * clients, other nodes sharing etcd) never get the same id or address.
 */
#ifndef CSD_MODEL_H
#define CSD_MODEL_H

#include <jansson.h>

#include "csd.h"
#include "names.h"

#define KEY_MAX 256

void key_tenant(char *buf, const char *t);
void key_vnet(char *buf, const char *t, const char *v);
void key_endpoint(char *buf, const char *t, const char *v, const char *e);
void key_vni(char *buf, uint32_t id);
void key_addr(char *buf, const char *t, const char *v, const char *addr);

/* Load a JSON document. CS_ENOENT if absent; CS_EIO if it is not JSON. */
int model_get(struct csd *d, const char *key, json_t **doc, int64_t *mod_rev);
/* All documents under @prefix as an object key -> doc; *rev the revision. */
int model_list(struct csd *d, const char *prefix, json_t **docs, int64_t *rev);

/* Fill a backend spec from documents; strings point into the arguments,
 * which must outlive the spec. */
int model_vnet_spec(const char *tenant, const char *vnet, const json_t *doc,
		    struct vnet_spec *out);
int model_endpoint_spec(const char *name, const json_t *doc, struct endpoint_spec *out);

/* The vnet's subnets from its document; returns how many (0-2). */
int model_vnet_subnets(const json_t *vdoc, struct cs_prefix out[2]);

/* Make this node match one object (idempotent), or tear it down. */
int realize_vnet(struct csd *d, const char *t, const char *v, const json_t *vdoc,
		 char *err, size_t errlen);
int realize_endpoint(struct csd *d, const char *t, const char *v, const char *e,
		     const json_t *vdoc, const json_t *edoc, char *err, size_t errlen);
int unrealize_endpoint(struct csd *d, const char *t, const char *v, const char *e);
int unrealize_vnet(struct csd *d, const char *t, const char *v);

/* Is the endpoint placed on this node? */
bool model_endpoint_local(struct csd *d, const json_t *edoc);

/* Full reconcile of this node (reconcile.c): never deletes on a failed read. */
int reconcile_all(struct csd *d);

/* Delete endpoints (and their allocations) matching a key prefix, in one
 * transaction with @extra ops; then tear down what was local. */
int model_delete_tree(struct csd *d, const char *const *prefixes, size_t nprefixes,
		      char *err, size_t errlen);

#endif
