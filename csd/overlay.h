/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Overlay files (cs-overlay.json(5)): parse and validate a whole file into
 * plain structs that ops_apply.c plans from. Pure: no store, no kernel, no
 * logging; what it needs to know of the world comes through overlay_env.
 *
 * Every error names its JSON path in the style of schema.c
 * (vnets."acme/blue".endpoints.web.address), the value and what is allowed,
 * and all errors of a file are collected, not just the first.
 */
#ifndef CSD_OVERLAY_H
#define CSD_OVERLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "csd/names.h"
#include "schema.h"
#include "vnet/ipam.h"

/* Index of an address family in the per-family arrays below. */
#define OV_V4 0
#define OV_V6 1

struct overlay_endpoint {
	char name[CS_NAME_MAX + 1];
	const json_t *spec;          /* the declared body (borrowed from the file) */
	bool has_fixed[2];           /* by family: OV_V4, OV_V6 */
	struct cs_addr fixed[2];
	/* where it lives: its "node", else the vnet's only node; NULL when
	 * that is the applying node and it is not known (cs-ctl) */
	const char *node;
};

struct overlay_vnet {
	char tenant[CS_NAME_MAX + 1];
	char name[CS_NAME_MAX + 1];
	json_t *spec;                /* the body without "endpoints" (owned) */
	uint32_t id;                 /* declared VNI, 0 if left out */
	struct cs_prefix subnets[2]; /* in the order declared */
	int nsubnets;
	struct overlay_endpoint *endpoints;
	size_t nendpoints;
	/* the nodes it spans: "nodes" as declared, or the applying node when
	 * left out (none when that is not known, as in cs-ctl); borrowed */
	const char **nodes;
	size_t nnodes;
};

struct overlay_node {
	char name[CS_NAME_MAX + 1];
	const json_t *spec;          /* the declared body (borrowed from the file) */
	bool has_underlay;
	struct cs_addr underlay;
	uint16_t port;               /* its VXLAN port (CS_VXLAN_PORT unless given) */
};

struct overlay_tenant {
	char name[CS_NAME_MAX + 1];
	/* the declared body, or NULL for a tenant the file names only as
	 * the tenant of a vnet (it must exist already) */
	const json_t *spec;
};

struct overlay {
	json_t *file;                /* held: specs point into it */
	/* the tenants the file names: those of "tenants" in file order, then
	 * those named only by "vnets" keys */
	struct overlay_tenant *tenants;
	size_t ntenants;
	struct overlay_vnet *vnets;  /* in file order */
	size_t nvnets;
	size_t nobjects;             /* tenants, nodes, vnets and endpoints declared */
	struct overlay_node *nodes;  /* "nodes" in file order */
	size_t nnodes;
};

/* Is the store shared by the nodes (etcd), so that ids and addresses are
 * allocated once for all of them? Unknown: checks that need it are left. */
enum overlay_store { OV_STORE_UNKNOWN = 0, OV_STORE_LOCAL, OV_STORE_SHARED };

struct overlay_env {
	/* this csd's node: what a vnet spans when its "nodes" are left out;
	 * NULL when not known (cs-ctl checks a file before sending it) */
	const char *node;
	/* Does tenant @name already exist (as far as the caller may see)? */
	bool (*tenant_known)(void *arg, const char *name);
	void *arg;
	/* Is node @name declared already (in the store)? NULL: a node the
	 * file does not declare is taken as known when node is NULL too */
	bool (*node_known)(void *arg, const char *name);
	enum overlay_store store;
	/* The nodes as stored ("/nodes/N" -> doc) and this node's own underlay
	 * (csd's --underlay, which wins for it): a declared underlay that
	 * another node has is refused. NULL: not known (cs-ctl). */
	const json_t *stored_nodes;
	const char *node_underlay;
	/* the largest MTU a vnet across nodes may declare (the encrypted
	 * underlay's path); 0: no bound */
	int mtu_max_across;
	/* this node's encrypt setting: without a shared store, every other
	 * node of a vnet across nodes must agree (a public_key declared, or
	 * none). OV_ENCRYPT_UNKNOWN: not checked (cs-ctl) */
	enum { OV_ENCRYPT_UNKNOWN = 0, OV_ENCRYPT_NONE, OV_ENCRYPT_WIREGUARD } encrypt;
	/* This csd's --backend (what peers it trusts depends on it); NULL:
	 * unknown (cs-ctl; a backend that stands in for all). */
	const char *backend;
	/* Whether a vnet may name backend @name here (@across: it spans
	 * nodes); false with @why saying what to do. NULL: any (cs-ctl). */
	bool (*backend_usable)(void *arg, const char *name, bool across, char *why,
			       size_t whylen);
	void *backend_arg;
	/* On CS_EINVAL, still give *out what could be read, so that a caller
	 * can find the errors only a plan finds (all errors in one answer). */
	bool partial;
};

/*
 * Validate @file (a parsed overlay file) and build *out. Returns 0, or
 * CS_EINVAL with every error of the file appended to @errs (one message per
 * error, each starting with its JSON path), or CS_ENOMEM.
 */
int overlay_load(const json_t *file, const struct overlay_env *env, struct overlay **out,
		 struct schema_errors *errs);
void overlay_free(struct overlay *o);

/*
 * Is @a usable as a node's underlay address (not unspecified, multicast or
 * broadcast; loopback only with a port given: nodes sharing one host)? 0,
 * or CS_EINVAL with the reason in @why.
 */
int overlay_underlay_usable(const struct cs_addr *a, bool port_given, char *why, size_t len);

/*
 * The node other than @self whose underlay is @a with UDP port @port (an
 * underlay without one has CS_VXLAN_PORT): among @nodes ("/nodes/N" ->
 * doc), where node @local's is @local_underlay when given. NULL when none.
 * Used by apply and node.create alike.
 */
const char *overlay_underlay_holder(const json_t *nodes, const char *local,
				    const char *local_underlay, const struct cs_addr *a,
				    uint16_t port, const char *self);

/* The tenant or vnet of that name in @o, or NULL. */
const struct overlay_tenant *overlay_tenant_find(const struct overlay *o, const char *t);
const struct overlay_vnet *overlay_vnet_find(const struct overlay *o, const char *t,
					     const char *v);
const struct overlay_node *overlay_node_find(const struct overlay *o, const char *n);

/*
 * In csd (ops_apply.c): validate @file as apply does, with what this csd
 * knows (its node, the stored tenants and nodes), so that a create refuses
 * what an apply of the same object would. 0; CS_EINVAL with every error in
 * @errs; or a store error.
 */
struct csd_req;
int overlay_check_here(struct csd_req *r, const json_t *file, struct schema_errors *errs);

/* In csd (ops_misc.c): refuse, with req_fail and what apply would say,
 * what an apply of {@section: {@name: @spec}} refuses. 0 or the error. */
int create_check(struct csd_req *r, const char *what, const char *section, const char *name,
		 const json_t *spec);

#endif
