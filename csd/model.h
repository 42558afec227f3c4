/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The object model in the store.
 *
 *   /tenants/T            {"spec":{owners...}}
 *   /vnets/T/V            {"spec":{subnet, mtu, ...}, "id":N}
 *   /endpoints/T/V/E      {"spec":{node, address, groups}, "addresses":[...],
 *                          "node":"n1", "owner":uid, "ephemeral":bool,
 *                          "pid":P, "pid_start":S}
 *   /nodes/N              {"spec":{underlay}}  (declared by overlay files)
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
void key_node(char *buf, const char *n);

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

/*
 * A span of work (one request, one reconcile pass; they nest): within it, a
 * vnet realized once is not ensured again for each endpoint realized after
 * it, unless its document changed. Each vnet ensure visits the vnet's
 * namespace for its links, gateway and filter: for a pass over 10,000
 * endpoints of 1,000 vnets, 10,000 visits where 1,000 do.
 */
void model_span(struct csd *d, bool on);

/* Make this node match one object (idempotent), or tear it down. */
int realize_vnet(struct csd *d, const char *t, const char *v, const json_t *vdoc,
		 char *err, size_t errlen);
/*
 * What realizing vnet T/V here needs: its document and its endpoints' (as
 * listed under /endpoints/T/V/), each the caller's when given (*@vdoc,
 * *@eps not NULL) or read, then owned through *@own_v, *@own_e, which the
 * caller releases. 1 when the vnet is gone (nothing to realize), 0, or a
 * code with @err set.
 */
int model_vnet_docs(struct csd *d, const char *t, const char *v, const json_t **vdoc,
		    const json_t **eps, json_t **own_v, json_t **own_e, char *err,
		    size_t errlen);
/* "@what: why" from the backend's last error, @what not repeated when the
 * error names it already. */
void backend_why(struct csd *d, const char *what, char *err, size_t errlen);
/* the same with the last error of backend @b */
void backend_why_of(struct vnet_backend *b, const char *what, char *err, size_t errlen);
int realize_endpoint(struct csd *d, const char *t, const char *v, const char *e,
		     const json_t *vdoc, const json_t *edoc, char *err, size_t errlen);
int unrealize_endpoint(struct csd *d, const char *t, const char *v, const char *e);
int unrealize_vnet(struct csd *d, const char *t, const char *v);

/*
 * Vnets across nodes. A vnet spans the nodes its spec lists ("nodes"), or
 * only the node that holds it when they are left out; it is realized on the
 * nodes it spans. Its peers are the underlay addresses of its other nodes,
 * from their declarations (/nodes/N); this node's own address is csd's
 * "underlay" setting, else its declaration. Read when used, so applying a
 * file that declares the node is enough.
 */
bool model_vnet_here(struct csd *d, const json_t *vdoc);
size_t model_vnet_nnodes(const json_t *vdoc);

struct vnet_where {
	struct cs_addr *peers;  /* owned */
	size_t npeers;
	/* parallel to peers (owned): each one's VXLAN port, and whether its
	 * VXLAN must come from that port (a node declared "unprivileged" or
	 * running the user backend) */
	uint16_t *ports;
	bool *from_port;
	/* encrypt wireguard: each peer's key and port (owned, parallel to
	 * peers); NULL otherwise */
	struct vnet_wg_peer *wg;
	bool has_local;
	struct cs_addr local;
	uint16_t local_port;
};
/* Fill @w for @vdoc; @nodes is "/nodes/N" -> doc, or NULL to read the
 * store. 0, or a code with a message naming what is missing in @err. */
int model_vnet_where(struct csd *d, const json_t *vdoc, const json_t *nodes,
		     struct vnet_where *w, char *err, size_t errlen);
void vnet_where_clear(struct vnet_where *w);
/* Set the node's underlay filter from the store: for every vnet realized
 * here that spans other nodes, its VNI from its peers only. A failed read
 * leaves the filter as it is. */
int model_underlay_sync(struct csd *d);

/* Is the endpoint placed on this node? */
bool model_endpoint_local(struct csd *d, const json_t *edoc);

/*
 * Node liveness on a shared store: each csd holds /nodes-alive/NODE on a
 * lease it keeps alive (server.c); the key goes when the lease expires.
 */
#define ALIVE_PREFIX "/nodes-alive/"
/* Does /nodes-alive/N's document say the node is up? (Keys written by an
 * older csd carry a heartbeat time "seen" instead of a lease.) */
bool model_alive_doc(const json_t *adoc);
/* Is node @n up: 1 yes, 0 no, or a store error. Always 1 without a shared
 * store. Reads /nodes-alive/ at most once a second; model_alive_forget
 * drops that reading (a watch event changed it). */
int model_node_alive(struct csd *d, const char *n);
void model_alive_forget(struct csd *d);

/* Full reconcile of this node (reconcile.c): never deletes on a failed read. */
int reconcile_all(struct csd *d);
/* The same in slices, between which csd serves its clients: begun (unless
 * one runs), then a slice at a time while reconcile_pass_step() returns
 * true; reconcile_pass_stop() drops what is left. */
int reconcile_pass_start(struct csd *d);
bool reconcile_pass_step(struct csd *d);
void reconcile_pass_stop(struct csd *d);
/* Reconcile only the vnets named in @vnets, an object "T/V" ->
 * {"vnet": whether the vnet's own key changed, "endpoints": {"E": true} the
 * endpoints whose keys changed}: the vnet and all its endpoints here when
 * its key changed, else just those endpoints; then its QoS and rules, and
 * what the inventory holds that the store no longer does. A vnet whose key
 * the store says is gone is torn down here. */
int reconcile_vnets(struct csd *d, const json_t *vnets);

/* Delete endpoints (and their allocations) matching a key prefix, in one
 * transaction with @extra ops; then tear down what was local. */
int model_delete_tree(struct csd *d, const char *const *prefixes, size_t nprefixes,
		      char *err, size_t errlen);

#endif
