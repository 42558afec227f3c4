/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Overlay files: validation of a whole file into plain structs (no I/O). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cs/cs.h>
#include "overlay.h"
#include "vnet/publish.h"
#include "vnet/wg.h"
#include "resources/qos_spec.h"
#include "policy/rules.h"

#define PATH_MAX_LEN 512

static const char name_rule[] = "use 1-32 characters a-z, 0-9, '-', '_', starting with a "
				"letter or digit";

static void not_object(struct schema_errors *errs, const char *path, const json_t *v,
		       const char *what)
{
	char *t = schema_value_text(v);

	schema_errors_add(errs, "%s: %s is not valid; expected %s", path, t ? t : "?", what);
	free(t);
}

void overlay_free(struct overlay *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->nvnets; i++) {
		json_decref(o->vnets[i].spec);
		free(o->vnets[i].endpoints);
		free(o->vnets[i].nodes);
	}
	free(o->vnets);
	free(o->nodes);
	free(o->tenants);
	json_decref(o->file);
	free(o);
}

const struct overlay_tenant *overlay_tenant_find(const struct overlay *o, const char *t)
{
	for (size_t i = 0; i < o->ntenants; i++)
		if (!strcmp(o->tenants[i].name, t))
			return &o->tenants[i];
	return NULL;
}

const struct overlay_vnet *overlay_vnet_find(const struct overlay *o, const char *t,
					     const char *v)
{
	for (size_t i = 0; i < o->nvnets; i++)
		if (!strcmp(o->vnets[i].tenant, t) && !strcmp(o->vnets[i].name, v))
			return &o->vnets[i];
	return NULL;
}

const struct overlay_node *overlay_node_find(const struct overlay *o, const char *n)
{
	for (size_t i = 0; i < o->nnodes; i++)
		if (!strcmp(o->nodes[i].name, n))
			return &o->nodes[i];
	return NULL;
}

static int add_tenant(struct overlay *o, const char *name, const json_t *spec)
{
	struct overlay_tenant *n = realloc(o->tenants, sizeof(*n) * (o->ntenants + 1));

	if (!n)
		return CS_ENOMEM;
	o->tenants = n;
	n = &o->tenants[o->ntenants++];
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->spec = spec;
	return 0;
}

int overlay_underlay_usable(const struct cs_addr *a, bool port_given, char *why, size_t len)
{
	static const uint8_t zero[16], loop6[16] = { [15] = 1 };
	char buf[CS_ADDRSTRLEN];
	const char *what = NULL;

	if (a->family == AF_INET) {
		if (!memcmp(a->a, zero, 4))
			what = "the unspecified address";
		else if (a->a[0] == 127 && !port_given)
			what = "a loopback address";
		else if (a->a[0] >= 224 && a->a[0] <= 239)
			what = "a multicast address";
		else if (a->a[0] == 255 && a->a[1] == 255 && a->a[2] == 255 && a->a[3] == 255)
			what = "the broadcast address";
	} else {
		if (!memcmp(a->a, zero, 16))
			what = "the unspecified address";
		else if (!memcmp(a->a, loop6, 16) && !port_given)
			what = "the loopback address";
		else if (a->a[0] == 0xff)
			what = "a multicast address";
	}
	if (!what)
		return 0;
	snprintf(why, len, "%s is %s, which other nodes cannot send to; give the node's own "
		 "unicast address on the network between the nodes, e.g. \"192.0.2.1\" (a "
		 "loopback address only with a port, \"127.0.0.1:4790\": nodes sharing one "
		 "host)", cs_addr_format(a, buf), what);
	return CS_EINVAL;
}

/* Is the underlay text @s address @a with port @port? */
static bool underlay_is(const char *s, const struct cs_addr *a, uint16_t port)
{
	struct cs_addr x;
	uint16_t xp;

	return s && cs_addr_port_parse(s, CS_VXLAN_PORT, &x, &xp) == 0 && !cs_addr_cmp(&x, a) &&
	       xp == port;
}

const char *overlay_underlay_holder(const json_t *nodes, const char *local,
				    const char *local_underlay, const struct cs_addr *a,
				    uint16_t port, const char *self)
{
	const char *key;
	json_t *doc;

	if (local && local_underlay && strcmp(local, self) && underlay_is(local_underlay, a, port))
		return local;
	json_object_foreach((json_t *)nodes, key, doc) {
		const char *n = !strncmp(key, "/nodes/", 7) ? key + 7 : key;
		const char *ul = json_string_value(json_object_get(json_object_get(doc, "spec"),
								   "underlay"));
		if (!strcmp(n, self) || (local && local_underlay && !strcmp(n, local)))
			continue;
		if (underlay_is(ul, a, port))
			return n;
	}
	return NULL;
}

static void check_public_key(const json_t *spec, const char *path, struct schema_errors *errs)
{
	const char *k = json_string_value(json_object_get(spec, "public_key"));
	uint8_t key[WG_KEY_LEN];
	char kpath[PATH_MAX_LEN];

	if (!k || wg_key_from_base64(k, key) == 0)
		return;
	schema_path_join(kpath, sizeof(kpath), path, "public_key");
	schema_errors_add(errs, "%s: not a WireGuard public key (44 base64 characters ending "
			  "in '='; cs-ctl node show on that node prints it)", kpath);
}

/* A node's declared key @k: in the file, else as stored. */
static const json_t *node_decl(const struct overlay *o, const struct overlay_env *env,
			       const char *n, const char *k)
{
	const struct overlay_node *on = overlay_node_find(o, n);
	char key[CS_NAME_MAX + 8];

	if (on)
		return json_object_get(on->spec, k);
	snprintf(key, sizeof(key), "/nodes/%s", n);
	return json_object_get(json_object_get(json_object_get(env->stored_nodes, key), "spec"), k);
}

static const char *node_key(const struct overlay *o, const struct overlay_env *env,
			    const char *n)
{
	return json_string_value(node_decl(o, env, n, "public_key"));
}

/* Does @ov span this node and another? Only this node's own pairs are its
 * to judge: a vnet it does not span is not its. */
static bool spans_here(const struct overlay_vnet *ov, const struct overlay_env *env)
{
	if (ov->nnodes < 2 || !env->node)
		return false;
	for (size_t i = 0; i < ov->nnodes; i++)
		if (!strcmp(ov->nodes[i], env->node))
			return true;
	return false;
}

/*
 * A node with privileges (this csd's backend is not "user") peers with a
 * node declared "backend": "user" only when that node is also declared
 * "unprivileged": true (csd(8), MIXED VNETS). Refused here so that nothing
 * is committed; what a node publishes of itself in cluster mode is checked
 * when the vnet is realized (csd/model.c).
 */
static void check_trust(const struct overlay *o, const struct overlay_vnet *ov, const char *path,
			const struct overlay_env *env, struct schema_errors *errs)
{
	char npath[PATH_MAX_LEN];

	if (!env->backend || !strcmp(env->backend, "user") || !spans_here(ov, env))
		return;
	schema_path_join(npath, sizeof(npath), path, "nodes");
	for (size_t i = 0; i < ov->nnodes; i++) {
		const char *n = ov->nodes[i], *be = json_string_value(node_decl(o, env, n, "backend"));

		if (!be || strcmp(be, "user") || json_is_true(node_decl(o, env, n, "unprivileged")))
			continue;
		schema_errors_add(errs, "%s: node %s runs csd without privileges (backend user), so "
				  "any local user of its host can send VXLAN as it; this node (%s) "
				  "peers with it only when its administrators declare "
				  "nodes.%s.unprivileged true (see csd(8), MIXED VNETS)", npath, n,
				  env->node, n);
	}
}

/*
 * Mixed pairs carry nothing: without a shared store (where each csd
 * publishes its key) the other nodes of a vnet across nodes must have a
 * public_key declared when this node encrypts, and none when it does not.
 */
static void check_pairs(const struct overlay *o, const struct overlay_vnet *ov, const char *path,
			const struct overlay_env *env, struct schema_errors *errs)
{
	char npath[PATH_MAX_LEN];

	if (env->encrypt == OV_ENCRYPT_UNKNOWN || env->store != OV_STORE_LOCAL ||
	    !spans_here(ov, env))
		return;
	schema_path_join(npath, sizeof(npath), path, "nodes");
	for (size_t i = 0; i < ov->nnodes; i++) {
		const char *n = ov->nodes[i], *k;
		if (env->node && !strcmp(n, env->node))
			continue;
		k = node_key(o, env, n);
		if (env->encrypt == OV_ENCRYPT_WIREGUARD && !k)
			schema_errors_add(errs, "%s: node %s has no public_key, but this node (%s) "
					  "encrypts its underlay (encrypt wireguard): declare "
					  "nodes.%s.public_key (cs-ctl node show %s on %s prints it), or "
					  "run every node of the vnet with the same encrypt setting",
					  npath, n, env->node, n, n, n);
		else if (env->encrypt == OV_ENCRYPT_NONE && k)
			schema_errors_add(errs, "%s: node %s has a public_key (it encrypts its "
					  "underlay), but this node (%s) runs with encrypt none: a mixed "
					  "pair carries nothing; run every node of the vnet with the same "
					  "encrypt setting", npath, n, env->node);
	}
}

static int add_node(struct overlay *o, const char *name, const json_t *spec, const char *path,
		    struct schema_errors *errs)
{
	struct overlay_node *n = realloc(o->nodes, sizeof(*n) * (o->nnodes + 1));
	const char *ul = json_string_value(json_object_get(spec, "underlay"));
	char upath[PATH_MAX_LEN], buf[CS_ADDRSTRLEN], why[320];
	bool given;

	if (!n)
		return CS_ENOMEM;
	o->nodes = n;
	n = &o->nodes[o->nnodes++];
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->spec = spec;
	/* shaping to the uplink needs its capacity */
	if (json_is_true(json_object_get(spec, "uplink_shape")) &&
	    !json_object_get(spec, "uplink")) {
		schema_path_join(upath, sizeof(upath), path, "uplink_shape");
		schema_errors_add(errs, "%s: true needs the uplink's capacity to shape to; give "
				  "\"uplink\" too, e.g. 10gbit (cs-ctl: uplink 10gbit)", upath);
	}
	schema_path_join(upath, sizeof(upath), path, "underlay");
	if (!json_object_get(spec, "underlay")) {
		schema_errors_add(errs, "%s: missing; a node needs the underlay address the other "
				  "nodes send its vnets' traffic to, e.g. \"192.0.2.1\"", upath);
		return 0;
	}
	if (!ul || cs_addr_port_parse(ul, 0, &n->underlay, &n->port) < 0)
		return 0; /* reported by the schema */
	given = n->port != 0;
	if (!given)
		n->port = CS_VXLAN_PORT;
	if (overlay_underlay_usable(&n->underlay, given, why, sizeof(why)) < 0) {
		schema_errors_add(errs, "%s: %s", upath, why);
		return 0;
	}
	n->has_underlay = true;
	check_public_key(spec, path, errs);
	for (size_t i = 0; i + 1 < o->nnodes; i++) {
		if (o->nodes[i].has_underlay && !cs_addr_cmp(&o->nodes[i].underlay, &n->underlay) &&
		    o->nodes[i].port == n->port) {
			schema_errors_add(errs, "%s: %s is also the underlay address of nodes.%s; each "
					  "node has its own", upath,
					  given ? cs_addr_port_format(&n->underlay, n->port, buf)
						: cs_addr_format(&n->underlay, buf),
					  o->nodes[i].name);
			break;
		}
	}
	return 0;
}

static int fam_index(int family)
{
	return family == AF_INET ? OV_V4 : OV_V6;
}

static const char *fam_text(int family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

/*
 * The vnet's subnets as declared. Returns how many, or -1 when the value is
 * malformed (schema_validate has reported it already).
 */
static int parse_subnets(const json_t *s, struct cs_prefix out[2])
{
	char err[256];
	int n = 0;

	if (json_is_string(s))
		return cs_prefix_parse(json_string_value(s), &out[0], err, sizeof(err)) < 0 ? -1 : 1;
	if (!json_is_array(s) || json_array_size(s) < 1 || json_array_size(s) > 2)
		return -1;
	for (size_t i = 0; i < json_array_size(s); i++) {
		const char *t = json_string_value(json_array_get(s, i));
		if (!t || cs_prefix_parse(t, &out[n], err, sizeof(err)) < 0)
			return -1;
		n++;
	}
	if (n == 2 && out[0].addr.family == out[1].addr.family)
		return -1;
	return n;
}

/* Fixed addresses of one endpoint, checked against its vnet's subnets. */
static void check_addresses(struct overlay_vnet *ov, struct overlay_endpoint *oe,
			    const char *path, json_t *seen, struct schema_errors *errs)
{
	const json_t *a = json_object_get(oe->spec, "address");
	char apath[PATH_MAX_LEN], err[256], abuf[CS_ADDRSTRLEN], sbuf[CS_ADDRSTRLEN];
	const json_t *items[2];
	size_t n = 0;

	if (!a)
		return;
	schema_path_join(apath, sizeof(apath), path, "address");
	if (json_is_string(a)) {
		items[n++] = a;
	} else if (json_is_array(a) && json_array_size(a) <= 2) {
		for (size_t i = 0; i < json_array_size(a); i++)
			items[n++] = json_array_get(a, i);
	} else {
		return; /* reported by the schema */
	}
	for (size_t i = 0; i < n; i++) {
		struct cs_addr x;
		const char *s = json_string_value(items[i]);
		int k;

		if (!s || cs_addr_parse(s, &x) < 0)
			return; /* reported by the schema */
		for (k = 0; k < ov->nsubnets; k++)
			if (ov->subnets[k].addr.family == x.family)
				break;
		if (k == ov->nsubnets) {
			schema_errors_add(errs, "%s: %s is %s but the vnet has no %s subnet (it has "
					  "%s)", apath, s, fam_text(x.family), fam_text(x.family),
					  cs_prefix_format(&ov->subnets[0], sbuf));
			continue;
		}
		if (ipam_check_fixed(&ov->subnets[k], &x, err, sizeof(err)) < 0) {
			schema_errors_add(errs, "%s: %s; give a free host address of the subnet or "
					  "leave address out", apath, err);
			continue;
		}
		if (oe->has_fixed[fam_index(x.family)])
			continue; /* two of one family: reported by the schema */
		cs_addr_format(&x, abuf);
		const char *other = json_string_value(json_object_get(seen, abuf));
		if (other) {
			schema_errors_add(errs, "%s: %s is also the address of endpoints.%s; an "
					  "address is used once per vnet", apath, s, other);
			continue;
		}
		json_object_set_new(seen, abuf, json_string(oe->name));
		oe->has_fixed[fam_index(x.family)] = true;
		oe->fixed[fam_index(x.family)] = x;
	}
}

/* The vnet's nodes as one line: "n1, n2". */
static void nodes_text(const struct overlay_vnet *ov, char *out, size_t len)
{
	size_t off = 0;

	*out = '\0';
	for (size_t i = 0; i < ov->nnodes && off < len; i++)
		off += (size_t)snprintf(out + off, len - off, "%s%s", i ? ", " : "", ov->nodes[i]);
}

/* An endpoint lives on one of its vnet's nodes; where the vnet spans
 * several, which one must be said (each node applies the same file). */
static void check_node(struct overlay_vnet *ov, struct overlay_endpoint *oe, const char *epath,
		       struct schema_errors *errs)
{
	const char *node = json_string_value(json_object_get(oe->spec, "node"));
	char npath[PATH_MAX_LEN], list[512];

	schema_path_join(npath, sizeof(npath), epath, "node");
	nodes_text(ov, list, sizeof(list));
	if (!node) {
		if (ov->nnodes > 1)
			schema_errors_add(errs, "%s: required when the vnet spans several nodes "
					  "(%s); say which one the endpoint lives on", npath, list);
		else if (ov->nnodes == 1)
			oe->node = ov->nodes[0];
		return;
	}
	if (!cs_name_valid(node))
		return; /* reported by the schema */
	oe->node = node;
	if (ov->nnodes == 0)
		return; /* the vnet's nodes are not known here */
	for (size_t i = 0; i < ov->nnodes; i++)
		if (!strcmp(ov->nodes[i], node))
			return;
	schema_errors_add(errs, "%s: node %s is not one of the vnet's nodes (%s); place the "
			  "endpoint on one of them or add %s to the vnet's nodes", npath, node,
			  list, node);
}

/* Each entry of "publish" well formed, no two taking the same host port. */
static void check_publish(const json_t *body, const char *epath, struct schema_errors *errs)
{
	const json_t *list = json_object_get(body, "publish");
	struct vnet_publish pub[64];
	char path[PATH_MAX_LEN], why[256];
	size_t i, n = 0;
	json_t *el;

	json_array_foreach(list, i, el) {
		snprintf(path, sizeof(path), "%s.publish[%zu]", epath, i);
		if (i >= 64) {
			schema_errors_add(errs, "%s: at most 64 published ports per endpoint", path);
			return;
		}
		if (vnet_publish_parse(json_string_value(el), &pub[n], why, sizeof(why)) < 0) {
			schema_errors_add(errs, "%s: %s", path, why);
			continue;
		}
		for (size_t k = 0; k < n; k++)
			if (vnet_publish_clash(&pub[k], &pub[n]))
				schema_errors_add(errs, "%s: host port %u is published twice; publish "
						  "it once", path, pub[n].hport);
		n++;
	}
}

static int load_endpoints(struct overlay_vnet *ov, const json_t *eps, const char *vpath,
			  const struct overlay_env *env, struct schema_errors *errs)
{
	char path[PATH_MAX_LEN], epath[PATH_MAX_LEN];
	const char *name;
	json_t *body, *seen;

	schema_path_join(path, sizeof(path), vpath, "endpoints");
	if (!json_is_object(eps)) {
		not_object(errs, path, eps, "an object keyed by endpoint name");
		return 0;
	}
	if (!(seen = json_object()))
		return CS_ENOMEM;
	ov->endpoints = calloc(json_object_size(eps) + 1, sizeof(*ov->endpoints));
	if (!ov->endpoints) {
		json_decref(seen);
		return CS_ENOMEM;
	}
	json_object_foreach((json_t *)eps, name, body) {
		schema_path_join(epath, sizeof(epath), path, name);
		if (!cs_name_valid(name)) {
			schema_errors_add(errs, "%s: \"%s\" is not a valid endpoint name; %s", epath,
					  name, name_rule);
			continue;
		}
		size_t before = errs->n;
		if (schema_validate(SCHEMA_ENDPOINT, body, epath, errs) && !json_is_object(body))
			continue;
		const json_t *qos = json_object_get(body, "qos");
		if (qos && errs->n == before) {
			/* what spans keys; each value was checked by the schema */
			struct admission_resv rv;
			char qpath[PATH_MAX_LEN], why[1024];
			schema_path_join(qpath, sizeof(qpath), epath, "qos");
			if (qos_spec_parse(qos, qpath, &rv, why, sizeof(why)) < 0)
				schema_errors_add(errs, "%s", why);
			else if (!json_object_get(ov->spec, "capacity"))
				schema_errors_add(errs, "%s: vnet %s/%s has no capacity: it is not shaped "
						  "and takes no reservations; give it a capacity (e.g. "
						  "\"capacity\": \"1gbit\") or leave qos out", qpath,
						  ov->tenant, ov->name);
		}
		struct overlay_endpoint *oe = &ov->endpoints[ov->nendpoints++];
		snprintf(oe->name, sizeof(oe->name), "%s", name);
		oe->spec = body;
		check_node(ov, oe, epath, errs);
		check_publish(body, epath, errs);
		(void)env;
		if (ov->nsubnets > 0)
			check_addresses(ov, oe, epath, seen, errs);
	}
	json_decref(seen);
	return 0;
}

static bool node_known(const struct overlay *o, const struct overlay_env *env, const char *n)
{
	if (overlay_node_find(o, n) || (env->node && !strcmp(env->node, n)))
		return true;
	if (env->node_known)
		return env->node_known(env->arg, n);
	return !env->node; /* nothing to check against */
}

/* The vnet's nodes: as declared, each known; this node when left out. */
static int load_vnet_nodes(struct overlay *o, struct overlay_vnet *ov, const char *path,
			   const struct overlay_env *env, struct schema_errors *errs)
{
	const json_t *jn = json_object_get(ov->spec, "nodes");
	char npath[PATH_MAX_LEN];
	size_t i;
	json_t *el;

	schema_path_join(npath, sizeof(npath), path, "nodes");
	if (!jn) {
		if (!env->node)
			return 0;
		if (!(ov->nodes = calloc(1, sizeof(*ov->nodes))))
			return CS_ENOMEM;
		ov->nodes[ov->nnodes++] = env->node;
		return 0;
	}
	if (!json_is_array(jn))
		return 0; /* reported by the schema */
	if (json_array_size(jn) == 0) {
		schema_errors_add(errs, "%s: [] spans no node; list at least one (or leave nodes "
				  "out for this node)", npath);
		return 0;
	}
	if (!(ov->nodes = calloc(json_array_size(jn), sizeof(*ov->nodes))))
		return CS_ENOMEM;
	json_array_foreach(jn, i, el) {
		const char *n = json_string_value(el);
		bool dup = false;
		if (!n || !cs_name_valid(n))
			continue; /* reported by the schema */
		for (size_t k = 0; k < ov->nnodes; k++)
			dup = dup || !strcmp(ov->nodes[k], n);
		if (dup)
			continue; /* reported by the schema */
		if (!node_known(o, env, n))
			schema_errors_add(errs, "%s[%zu]: node %s is not declared; declare it in "
					  "nodes (\"nodes\": {\"%s\": {\"underlay\": ADDRESS}}, "
					  "or cs-ctl node create %s underlay ADDRESS)", npath, i, n,
					  n, n);
		ov->nodes[ov->nnodes++] = n;
	}
	return 0;
}

/* what types cannot say about a vnet's policy: selectors, ranges, ports
 * with icmp; asked unless the policy itself has errors of its types (errors
 * from index before on; an error elsewhere in the vnet does not hide these) */
static void check_vnet_policy(const json_t *spec, const char *path, size_t before,
			      struct schema_errors *errs)
{
	char ppath[PATH_MAX_LEN], why[4096];
	struct rules_policy *pol = NULL;
	bool typed = true;

	if (!json_object_get(spec, "policy"))
		return;
	schema_path_join(ppath, sizeof(ppath), path, "policy");
	for (size_t i = before; i < errs->n; i++)
		typed = typed && strncmp(errs->msgs[i], ppath, strlen(ppath));
	if (typed && rules_parse(json_object_get(spec, "policy"), ppath, &pol, why,
				 sizeof(why)) < 0)
		schema_errors_add(errs, "%s", why);
	rules_free(pol);
}

static void load_vnet_subnets(struct overlay_vnet *ov, const char *path,
			      struct schema_errors *errs)
{
	const json_t *subnet = json_object_get(ov->spec, "subnet");
	char spath[PATH_MAX_LEN], err[256];

	schema_path_join(spath, sizeof(spath), path, "subnet");
	if (!subnet) {
		schema_errors_add(errs, "%s: missing; a vnet needs a subnet, e.g. \"10.0.0.0/24\", "
				  "or [\"10.0.0.0/24\", \"fd00::/64\"] for both families", spath);
	} else if ((ov->nsubnets = parse_subnets(subnet, ov->subnets)) > 0) {
		for (int i = 0; i < ov->nsubnets; i++) {
			if (ipam_subnet_usable(&ov->subnets[i], err, sizeof(err)) < 0) {
				schema_errors_add(errs, "%s: %s", spath, err);
				ov->nsubnets = -1;
				break;
			}
		}
	}
	if (ov->nsubnets < 0)
		ov->nsubnets = 0;
}

/* the vnet's id, one vnet's only in the file (ids: id text -> key) */
static void load_vnet_id(struct overlay_vnet *ov, const char *key, const char *path, json_t *ids,
			 struct schema_errors *errs)
{
	const json_t *id = json_object_get(ov->spec, "id");
	char ik[32];

	if (!json_is_integer(id) || json_integer_value(id) < 1 ||
	    json_integer_value(id) > 16777215)
		return;
	ov->id = (uint32_t)json_integer_value(id);
	snprintf(ik, sizeof(ik), "%u", ov->id);
	const char *other = json_string_value(json_object_get(ids, ik));
	if (other) {
		char ipath[PATH_MAX_LEN], opath[PATH_MAX_LEN];
		schema_path_join(ipath, sizeof(ipath), path, "id");
		schema_path_join(opath, sizeof(opath), "vnets", other);
		schema_errors_add(errs, "%s: %u is also the id of %s; a VNI is used by one vnet "
				  "only (leave id out to have one allocated)", ipath, ov->id,
				  opath);
	} else {
		json_object_set_new(ids, ik, json_string(key));
	}
}

/* what a vnet across nodes needs: an MTU the underlay carries, and without
 * a shared store an id that every node uses */
static void check_vnet_across(const struct overlay_vnet *ov, const json_t *body,
			      const char *path, const struct overlay_env *env,
			      struct schema_errors *errs)
{
	json_int_t mtu = json_integer_value(json_object_get(body, "mtu"));

	if (ov->nnodes > 1 && env->mtu_max_across && mtu > env->mtu_max_across) {
		char mpath[PATH_MAX_LEN];
		schema_path_join(mpath, sizeof(mpath), path, "mtu");
		schema_errors_add(errs, "%s: %lld is more than the encrypted underlay carries "
				  "between nodes (%d: WireGuard takes 80 bytes and VXLAN 50 of "
				  "1500); lower it or leave it out", mpath, (long long)mtu,
				  env->mtu_max_across);
	}
	if (ov->nnodes > 1 && !ov->id && env->store == OV_STORE_LOCAL) {
		char ipath[PATH_MAX_LEN];
		schema_path_join(ipath, sizeof(ipath), path, "id");
		schema_errors_add(errs, "%s: required when a vnet spans nodes without a shared store "
				  "(every node allocates on its own, so the file must give the "
				  "VNI all of them use)", ipath);
	}
}

/* the backend a vnet names is one this csd runs (and, across nodes, the
 * one that owns the node's VXLAN port) */
static void check_vnet_backend(const struct overlay_vnet *ov, const char *path,
			       const struct overlay_env *env, struct schema_errors *errs)
{
	const char *backend = json_string_value(json_object_get(ov->spec, "backend"));
	char bpath[PATH_MAX_LEN], why[512];

	if (!backend || !env->backend_usable ||
	    env->backend_usable(env->backend_arg, backend, ov->nnodes > 1, why, sizeof(why)))
		return;
	schema_path_join(bpath, sizeof(bpath), path, "backend");
	schema_errors_add(errs, "%s: %s", bpath, why);
}

static int load_vnet(struct overlay *o, const char *key, const json_t *body,
		     const json_t *tenants, json_t *ids, const struct overlay_env *env,
		     struct schema_errors *errs)
{
	char path[PATH_MAX_LEN], err[256];
	char p[2][CS_NAME_MAX + 1];
	struct overlay_vnet *ov;
	json_t *spec;
	int r;

	schema_path_join(path, sizeof(path), "vnets", key);
	if (cs_path_split(key, 2, p, err, sizeof(err)) < 0) {
		schema_errors_add(errs, "%s: %s (vnets are keyed TENANT/VNET, e.g. \"acme/blue\")",
				  path, err);
		return 0;
	}
	if (!json_is_object(body)) {
		not_object(errs, path, body, "an object with the vnet's keys");
		return 0;
	}
	if (!(spec = json_deep_copy(body)))
		return CS_ENOMEM;
	json_object_del(spec, "endpoints");
	size_t before = errs->n;
	schema_validate(SCHEMA_VNET, spec, path, errs);
	check_vnet_policy(spec, path, before, errs);

	if (!(ov = realloc(o->vnets, sizeof(*ov) * (o->nvnets + 1)))) {
		json_decref(spec);
		return CS_ENOMEM;
	}
	o->vnets = ov;
	ov = &o->vnets[o->nvnets++];
	memset(ov, 0, sizeof(*ov));
	snprintf(ov->tenant, sizeof(ov->tenant), "%s", p[0]);
	snprintf(ov->name, sizeof(ov->name), "%s", p[1]);
	ov->spec = spec;

	if (!json_object_get(tenants, p[0]) &&
	    !(env->tenant_known && env->tenant_known(env->arg, p[0])))
		schema_errors_add(errs, "%s: tenant %s is not declared in tenants and does not "
				  "exist; declare it (\"tenants\": {\"%s\": {}})", path, p[0],
				  p[0]);
	load_vnet_subnets(ov, path, errs);

	load_vnet_id(ov, key, path, ids, errs);

	if ((r = load_vnet_nodes(o, ov, path, env, errs)) < 0)
		return r;
	check_vnet_backend(ov, path, env, errs);
	check_pairs(o, ov, path, env, errs);
	check_trust(o, ov, path, env, errs);
	check_vnet_across(ov, body, path, env, errs);

	const json_t *eps = json_object_get(body, "endpoints");
	if (eps && (r = load_endpoints(ov, eps, path, env, errs)) < 0)
		return r;
	return 0;
}

/* a top-level section: an object, or NULL after saying what it should be */
static const json_t *section(const json_t *file, const char *key, const char *what,
			     struct schema_errors *errs)
{
	const json_t *s = json_object_get(file, key);

	if (s && !json_is_object(s)) {
		not_object(errs, key, s, what);
		return NULL;
	}
	return s;
}

static int load_tenants(struct overlay *o, const json_t *tenants, struct schema_errors *errs)
{
	const char *key;
	json_t *v;
	int r;

	json_object_foreach((json_t *)tenants, key, v) {
		char path[PATH_MAX_LEN];
		schema_path_join(path, sizeof(path), "tenants", key);
		o->nobjects++;
		if (!cs_name_valid(key)) {
			schema_errors_add(errs, "%s: \"%s\" is not a valid tenant name; %s", path, key,
					  name_rule);
			continue;
		}
		schema_validate(SCHEMA_TENANT, v, path, errs);
		if ((r = add_tenant(o, key, v)) < 0)
			return r;
	}
	return 0;
}

static int load_nodes(struct overlay *o, const json_t *nodes, struct schema_errors *errs)
{
	const char *key;
	json_t *v;
	int r;

	json_object_foreach((json_t *)nodes, key, v) {
		char path[PATH_MAX_LEN];
		schema_path_join(path, sizeof(path), "nodes", key);
		o->nobjects++;
		if (!cs_name_valid(key)) {
			schema_errors_add(errs, "%s: \"%s\" is not a valid node name; %s", path, key,
					  name_rule);
			continue;
		}
		if (schema_validate(SCHEMA_NODE, v, path, errs) && !json_is_object(v))
			continue;
		if ((r = add_node(o, key, v, path, errs)) < 0)
			return r;
	}
	return 0;
}

/* a node the file does not declare keeps its underlay */
static void check_underlays(const struct overlay *o, const struct overlay_env *env,
			    struct schema_errors *errs)
{
	for (size_t i = 0; i < o->nnodes && (env->stored_nodes || env->node_underlay); i++) {
		const struct overlay_node *on = &o->nodes[i];
		char path[PATH_MAX_LEN], buf[CS_ADDRSTRLEN];
		const char *h;
		if (!on->has_underlay)
			continue;
		h = overlay_underlay_holder(env->stored_nodes, env->node, env->node_underlay,
					    &on->underlay, on->port, on->name);
		if (h && !overlay_node_find(o, h)) {
			char npath[PATH_MAX_LEN];
			schema_path_join(npath, sizeof(npath), "nodes", on->name);
			schema_path_join(path, sizeof(path), npath, "underlay");
			schema_errors_add(errs, "%s: %s is also the underlay address of node %s; each "
					  "node has its own (choose another, or change node %s "
					  "first)", path, cs_addr_format(&on->underlay, buf), h, h);
		}
	}
}

int overlay_load(const json_t *file, const struct overlay_env *env, struct overlay **out,
		 struct schema_errors *errs)
{
	size_t before = errs->n;
	struct overlay *o;
	const char *key;
	json_t *v, *ids = NULL;
	int r = 0;

	*out = NULL;
	if (!json_is_object(file)) {
		not_object(errs, "(top level)", file, "an object with \"tenants\", \"nodes\" and "
			   "\"vnets\"");
		return CS_EINVAL;
	}
	if (!(o = calloc(1, sizeof(*o))) || !(ids = json_object())) {
		free(o);
		return CS_ENOMEM;
	}
	o->file = json_incref((json_t *)file);
	json_object_foreach((json_t *)file, key, v) {
		if (strcmp(key, "tenants") && strcmp(key, "nodes") && strcmp(key, "vnets")) {
			char path[PATH_MAX_LEN];
			schema_path_join(path, sizeof(path), "", key);
			schema_errors_add(errs, "%s: unknown key; the top level has tenants, nodes "
					  "and vnets", path);
		}
	}
	const json_t *tenants = section(file, "tenants", "an object keyed by tenant name", errs);
	if ((r = load_tenants(o, tenants, errs)) < 0)
		goto out;
	const json_t *nodes = section(file, "nodes", "an object keyed by node name", errs);
	if ((r = load_nodes(o, nodes, errs)) < 0)
		goto out;
	check_underlays(o, env, errs);
	const json_t *vnets = section(file, "vnets", "an object keyed by TENANT/VNET", errs);
	json_object_foreach((json_t *)vnets, key, v) {
		if ((r = load_vnet(o, key, v, tenants, ids, env, errs)) < 0)
			goto out;
	}
	for (size_t i = 0; i < o->nvnets; i++) {
		o->nobjects += 1 + o->vnets[i].nendpoints;
		if (!overlay_tenant_find(o, o->vnets[i].tenant) &&
		    (r = add_tenant(o, o->vnets[i].tenant, NULL)) < 0)
			goto out;
	}
	if (errs->n > before)
		r = CS_EINVAL;
out:
	json_decref(ids);
	if (r < 0 && !(r == CS_EINVAL && env->partial)) {
		overlay_free(o);
		return r;
	}
	*out = o;
	return r;
}
