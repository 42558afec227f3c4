/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The object model in the store, and realizing objects on this node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "model.h"
#include "qos.h"
#include "policy.h"
#include "teardown.h"
#include "charges.h"
#include "vni.h"

void key_tenant(char *buf, const char *t)
{
	snprintf(buf, KEY_MAX, "/tenants/%s", t);
}

void key_vnet(char *buf, const char *t, const char *v)
{
	snprintf(buf, KEY_MAX, "/vnets/%s/%s", t, v);
}

void key_endpoint(char *buf, const char *t, const char *v, const char *e)
{
	snprintf(buf, KEY_MAX, "/endpoints/%s/%s/%s", t, v, e);
}

void key_vni(char *buf, uint32_t id)
{
	snprintf(buf, KEY_MAX, "/alloc/vni/%u", id);
}

void key_addr(char *buf, const char *t, const char *v, const char *addr)
{
	snprintf(buf, KEY_MAX, "/alloc/addr/%s/%s/%s", t, v, addr);
}

void key_node(char *buf, const char *n)
{
	snprintf(buf, KEY_MAX, "/nodes/%s", n);
}

int model_get(struct csd *d, const char *key, json_t **doc, int64_t *mod_rev)
{
	struct store_kv kv = { 0 };
	int r = store_get(d->store, key, &kv);

	*doc = NULL;
	if (r < 0)
		return r;
	*doc = json_loads(kv.value, JSON_DECODE_ANY, NULL);
	if (mod_rev)
		*mod_rev = kv.mod_rev;
	store_kv_clear(&kv);
	return *doc ? 0 : CS_EIO;
}

int model_list(struct csd *d, const char *prefix, json_t **docs, int64_t *rev)
{
	struct store_kvs kvs = { 0 };
	int r = store_list(d->store, prefix, &kvs, rev);

	*docs = NULL;
	if (r < 0)
		return r;
	json_t *o = json_object();
	for (size_t i = 0; o && i < kvs.n; i++) {
		json_t *doc = json_loads(kvs.v[i].value, JSON_DECODE_ANY, NULL);
		if (doc)
			json_object_set_new(o, kvs.v[i].key, doc);
		else
			log_warn("store: %s does not hold JSON; ignored", kvs.v[i].key);
	}
	store_kvs_clear(&kvs);
	if (!o)
		return CS_ENOMEM;
	*docs = o;
	return 0;
}

int model_vnet_subnets(const json_t *vdoc, struct cs_prefix out[2])
{
	const json_t *s = json_object_get(json_object_get(vdoc, "spec"), "subnet");
	json_t *list = json_is_array(s) ? json_incref((json_t *)s) : json_pack("[O]", s);
	int n = 0;
	size_t i;
	json_t *el;

	json_array_foreach(list, i, el) {
		char err[128];
		if (n < 2 && json_is_string(el) &&
		    cs_prefix_parse(json_string_value(el), &out[n], err, sizeof(err)) == 0)
			n++;
	}
	json_decref(list);
	return n;
}

int model_vnet_spec(const char *tenant, const char *vnet, const json_t *doc,
		    struct vnet_spec *out)
{
	const json_t *spec = json_object_get(doc, "spec");
	struct cs_prefix p[2];
	int n = model_vnet_subnets(doc, p);

	memset(out, 0, sizeof(*out));
	out->tenant = tenant;
	out->name = vnet;
	out->id = (uint32_t)json_integer_value(json_object_get(doc, "id"));
	out->mtu = (int)json_integer_value(json_object_get(spec, "mtu"));
	out->egress = json_is_true(json_object_get(spec, "egress"));
	for (int i = 0; i < n; i++) {
		if (p[i].addr.family == AF_INET) {
			out->has4 = true;
			out->subnet4 = p[i];
		} else {
			out->has6 = true;
			out->subnet6 = p[i];
		}
	}
	return out->id ? 0 : CS_EIO;
}

int model_endpoint_spec(const char *name, const json_t *doc, struct endpoint_spec *out)
{
	size_t i;
	json_t *el;

	memset(out, 0, sizeof(*out));
	out->name = name;
	json_array_foreach(json_object_get(doc, "addresses"), i, el) {
		struct cs_addr a;
		if (!json_is_string(el) || cs_addr_parse(json_string_value(el), &a) < 0)
			continue;
		if (a.family == AF_INET) {
			out->has4 = true;
			out->addr4 = a;
		} else {
			out->has6 = true;
			out->addr6 = a;
		}
	}
	const json_t *spec = json_object_get(doc, "spec");
	/* in a namespace someone else made (ops_endpoint.c attaches it) */
	out->attached = json_object_get(spec, "netns") != NULL;
	out->ifname = json_string_value(json_object_get(spec, "ifname"));
	char why[256];
	json_array_foreach(json_object_get(json_object_get(doc, "spec"), "publish"), i, el)
		if (out->npublish < VNET_PUBLISH_MAX &&
		    vnet_publish_parse(json_string_value(el), &out->publish[out->npublish], why,
				       sizeof(why)) == 0)
			out->npublish++;
	return 0;
}

bool model_endpoint_local(struct csd *d, const json_t *edoc)
{
	const char *node = json_string_value(json_object_get(edoc, "node"));
	return !node || !strcmp(node, d->cfg.node);
}

/* an old-style heartbeat older than this is a node gone */
#define ALIVE_SEEN_MAX_S 10
#define ALIVE_CACHE_MS 1000

bool model_alive_doc(const json_t *adoc)
{
	const json_t *seen = json_object_get(adoc, "seen");

	if (!adoc)
		return false;
	/* on a lease: present means alive */
	if (!seen || json_object_get(adoc, "lease"))
		return true;
	return (json_int_t)time(NULL) - json_integer_value(seen) <= ALIVE_SEEN_MAX_S;
}

void model_alive_forget(struct csd *d)
{
	d->alive_at = 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int model_node_alive(struct csd *d, const char *n)
{
	char key[KEY_MAX];
	uint64_t now = mono_ms();
	json_t *alive = NULL;
	int r;

	if (!csd_store_shared(d))
		return 1;
	if (!d->alive || !d->alive_at || now - d->alive_at >= ALIVE_CACHE_MS) {
		if ((r = model_list(d, ALIVE_PREFIX, &alive, NULL)) < 0)
			return r;
		json_decref(d->alive);
		d->alive = alive;
		d->alive_at = now ? now : 1;
	}
	snprintf(key, sizeof(key), ALIVE_PREFIX "%s", n);
	return model_alive_doc(json_object_get(d->alive, key));
}

static const json_t *vnet_nodes(const json_t *vdoc)
{
	return json_object_get(json_object_get(vdoc, "spec"), "nodes");
}

size_t model_vnet_nnodes(const json_t *vdoc)
{
	const json_t *n = vnet_nodes(vdoc);

	return n ? json_array_size(n) : 1;
}

bool model_vnet_here(struct csd *d, const json_t *vdoc)
{
	const json_t *n = vnet_nodes(vdoc);
	size_t i;
	json_t *el;

	if (!n)
		return true;
	json_array_foreach(n, i, el)
		if (json_is_string(el) && !strcmp(json_string_value(el), d->cfg.node))
			return true;
	return false;
}

void vnet_where_clear(struct vnet_where *w)
{
	free(w->peers);
	free(w->ports);
	free(w->from_port);
	free(w->wg);
	memset(w, 0, sizeof(*w));
}

static const json_t *node_spec(const json_t *nodes, const char *n)
{
	char key[KEY_MAX];

	key_node(key, n);
	return json_object_get(json_object_get(nodes, key), "spec");
}

/* The declared underlay address of node @n, from @nodes, and its port. */
static int node_underlay(const json_t *nodes, const char *n, struct cs_addr *out,
			 uint16_t *port)
{
	const char *s = json_string_value(json_object_get(node_spec(nodes, n), "underlay"));

	if (!s)
		return CS_ENOENT;
	return cs_addr_port_parse(s, CS_VXLAN_PORT, out, port) < 0 ? CS_EIO : 0;
}

/* The backend node @n says it runs: in its declaration, else (cluster
 * mode) in the liveness document its csd publishes; NULL when unsaid. */
static const char *node_backend(struct csd *d, const json_t *spec, const char *n)
{
	const char *be = json_string_value(json_object_get(spec, "backend"));
	char key[KEY_MAX];

	if (be || !csd_store_shared(d) || model_node_alive(d, n) < 0)
		return be;
	snprintf(key, sizeof(key), ALIVE_PREFIX "%s", n);
	return json_string_value(json_object_get(json_object_get(d->alive, key), "backend"));
}

/*
 * May this node peer with node @n (port @port)? A node running csd without
 * privileges (backend user) cannot keep the other users of its host off
 * its VXLAN socket's address and port: a node that has privileges peers
 * with it only when its own declaration of @n says "unprivileged": true,
 * and then takes its VXLAN only from that port (*from_port).
 */
static int peer_trust(struct csd *d, const json_t *nodes, const char *n, bool *from_port,
		      char *err, size_t errlen)
{
	const json_t *spec = node_spec(nodes, n);
	const char *be = node_backend(d, spec, n);
	bool declared = json_is_true(json_object_get(spec, "unprivileged"));
	bool user = be && !strcmp(be, "user");

	/* either way it sends from its underlay port */
	*from_port = declared || user;
	/* a node without privileges itself trusts its peers as they come */
	if (declared || !user || !strcmp(d->cfg.backend, "user"))
		return 0;
	snprintf(err, errlen, "node %s runs csd without privileges (backend user), so any "
		 "local user of its host can send VXLAN as it; this node (%s) peers with it "
		 "only when its administrators declare nodes.%s.unprivileged true (see csd(8), "
		 "MIXED VNETS)", n, d->cfg.node, n);
	return CS_EPERM;
}

/* Peer @n of a vnet into slot w->npeers: underlay, port, trust, key. */
static int where_peer(struct csd *d, const json_t *nodes, const char *n, struct vnet_where *w,
		      char *err, size_t errlen)
{
	size_t k = w->npeers;
	int r;

	if (node_underlay(nodes, n, &w->peers[k], &w->ports[k]) < 0) {
		snprintf(err, errlen, "node %s is not declared with an underlay address; "
			 "declare nodes.%s.underlay in the overlay file", n, n);
		return CS_ENOENT;
	}
	if ((r = peer_trust(d, nodes, n, &w->from_port[k], err, errlen)) < 0)
		return r;
	/* the pair must agree on encryption; with it, the peer's key */
	if ((r = encrypt_peer(d, nodes, n, &w->peers[k],
			      w->wg ? &w->wg[k] : &(struct vnet_wg_peer){ 0 }, err, errlen)) < 0)
		return r;
	w->npeers++;
	return 0;
}

int model_vnet_where(struct csd *d, const json_t *vdoc, const json_t *nodes,
		     struct vnet_where *w, char *err, size_t errlen)
{
	const json_t *list = vnet_nodes(vdoc);
	json_t *owned = NULL, *el;
	size_t i;
	int r = 0;

	memset(w, 0, sizeof(*w));
	if (!list || json_array_size(list) < 2)
		return 0;
	if (!nodes) {
		if ((r = model_list(d, "/nodes/", &owned, NULL)) < 0) {
			snprintf(err, errlen, "cannot read the nodes from the store: %s",
				 cs_strerror(r));
			return r;
		}
		nodes = owned;
	}
	if (d->cfg.underlay) {
		w->has_local = cs_addr_port_parse(d->cfg.underlay, CS_VXLAN_PORT, &w->local,
						  &w->local_port) == 0;
	} else if (node_underlay(nodes, d->cfg.node, &w->local, &w->local_port) == 0) {
		w->has_local = true;
	}
	if (!w->has_local) {
		snprintf(err, errlen, "this node's (%s) underlay address is not known; give csd "
			 "--underlay or \"underlay\" in its configuration, or declare "
			 "nodes.%s.underlay in the overlay file", d->cfg.node, d->cfg.node);
		r = CS_ENOTSUP;
		goto out;
	}
	i = json_array_size(list);
	if (!(w->peers = calloc(i, sizeof(*w->peers))) || !(w->ports = calloc(i, sizeof(*w->ports))) ||
	    !(w->from_port = calloc(i, sizeof(*w->from_port))) ||
	    (csd_encrypted(d) && !(w->wg = calloc(i, sizeof(*w->wg))))) {
		r = CS_ENOMEM;
		goto out;
	}
	json_array_foreach(list, i, el) {
		const char *n = json_string_value(el);
		if (!n || !strcmp(n, d->cfg.node))
			continue;
		if ((r = where_peer(d, nodes, n, w, err, errlen)) < 0)
			goto out;
	}
out:
	json_decref(owned);
	if (r < 0)
		vnet_where_clear(w);
	return r;
}

/* The backend's spec of a vnet realized here, peers included (@w owns them). */
static int vnet_spec_here(struct csd *d, const char *t, const char *v, const json_t *vdoc,
			  struct vnet_spec *vs, struct vnet_where *w, char *err, size_t errlen)
{
	char why[400];
	int r = model_vnet_spec(t, v, vdoc, vs);

	memset(w, 0, sizeof(*w));
	if (r < 0) {
		snprintf(err, errlen, "vnet %s/%s: stored document has no id", t, v);
		return r;
	}
	if ((r = model_vnet_where(d, vdoc, NULL, w, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "vnet %s/%s: %s", t, v, why);
		return r;
	}
	vs->peers = w->peers;
	vs->npeers = w->npeers;
	vs->peer_ports = w->ports;
	vs->peer_from_port = w->from_port;
	vs->local_port = w->local_port;
	/* VXLAN inside WireGuard leaves 1370 of a 1500-byte underlay */
	if (!vs->mtu && vs->npeers && csd_encrypted(d))
		vs->mtu = VNET_MTU_ENCRYPTED;
	vs->local = w->has_local ? &w->local : NULL;
	return 0;
}

/* the backend vnet t/v (vdoc) names, or NULL with err saying why */
static struct vnet_backend *vnet_backend(struct csd *d, const char *t, const char *v,
					 const json_t *vdoc, char *err, size_t errlen)
{
	const char *name = json_string_value(json_object_get(json_object_get(vdoc, "spec"),
							     "backend"));
	char why[512];
	struct vnet_backend *b = csd_backend_get(d, name, model_vnet_nnodes(vdoc) > 1, why,
						 sizeof(why));

	if (!b)
		snprintf(err, errlen, "vnet %s/%s: %s", t, v, why);
	return b;
}

void model_span(struct csd *d, bool on)
{
	if (on) {
		if (d->span_depth++ == 0)
			d->ensured = json_object();
	} else if (d->span_depth > 0 && --d->span_depth == 0) {
		json_decref(d->ensured);
		d->ensured = NULL;
	}
}

/* Ensure vnet T/V (spec @vs from @vdoc) with backend @b unless this span
 * did already (@again: whatever it did). */
static int vnet_ensure_once(struct csd *d, struct vnet_backend *b, const char *t, const char *v,
			    const json_t *vdoc, const struct vnet_spec *vs, bool again)
{
	char tv[2 * CS_NAME_MAX + 2];
	json_t *had;
	int r;

	snprintf(tv, sizeof(tv), "%s/%s", t, v);
	had = d->ensured ? json_object_get(d->ensured, tv) : NULL;
	if (!again && had && json_equal(had, (json_t *)vdoc))
		return 0;
	r = vb_vnet_ensure(b, vs);
	if (d->ensured) {
		if (r == 0)
			json_object_set_new(d->ensured, tv, json_deep_copy(vdoc));
		else
			json_object_del(d->ensured, tv);
	}
	return r;
}

/* vnet t/v realized by its backend (*b), as spec *vs (w holds its peers,
 * cleared by the caller); @again as vnet_ensure_once's */
static int vnet_ensure_here(struct csd *d, const char *t, const char *v, const json_t *vdoc,
			    struct vnet_backend **b, struct vnet_spec *vs, struct vnet_where *w,
			    bool again, char *err, size_t errlen)
{
	char what[2 * CS_NAME_MAX + 8];
	int r;

	memset(w, 0, sizeof(*w));
	if (!(*b = vnet_backend(d, t, v, vdoc, err, errlen)))
		return CS_ENOTSUP;
	if ((r = vnet_spec_here(d, t, v, vdoc, vs, w, err, errlen)) < 0)
		return r;
	if ((r = vnet_ensure_once(d, *b, t, v, vdoc, vs, again)) < 0) {
		snprintf(what, sizeof(what), "vnet %s/%s", t, v);
		backend_why_of(*b, what, err, errlen);
	}
	return r;
}

int realize_vnet(struct csd *d, const char *t, const char *v, const json_t *vdoc, char *err,
		 size_t errlen)
{
	struct vnet_backend *b;
	struct vnet_spec vs;
	struct vnet_where w;
	int r;

	/* a vnet that no longer spans this node goes, with what it held here */
	if (!model_vnet_here(d, vdoc)) {
		if ((r = unrealize_vnet(d, t, v)) < 0)
			snprintf(err, errlen, "vnet %s/%s: no longer spans node %s; teardown failed: "
				 "%s", t, v, d->cfg.node,
				 vnet_backend_error(csd_backend_of(d, vdoc)));
		return r;
	}
	/* asked for directly: ensured whatever the span did */
	r = vnet_ensure_here(d, t, v, vdoc, &b, &vs, &w, true, err, errlen);
	vnet_where_clear(&w);
	return r;
}

int model_vnet_docs(struct csd *d, const char *t, const char *v, const json_t **vdoc,
		    const json_t **eps, json_t **own_v, json_t **own_e, char *err,
		    size_t errlen)
{
	char key[KEY_MAX];
	int r;

	*own_v = *own_e = NULL;
	if (!*vdoc) {
		key_vnet(key, t, v);
		if ((r = model_get(d, key, own_v, NULL)) < 0) {
			if (r == CS_ENOENT)
				return 1;
			snprintf(err, errlen, "vnet %s/%s: store: %s", t, v, cs_strerror(r));
			return r;
		}
		*vdoc = *own_v;
	}
	if (!*eps) {
		snprintf(key, sizeof(key), "/endpoints/%s/%s/", t, v);
		if ((r = model_list(d, key, own_e, NULL)) < 0) {
			snprintf(err, errlen, "vnet %s/%s: store: %s", t, v, cs_strerror(r));
			return r;
		}
		*eps = *own_e;
	}
	return 0;
}

void backend_why(struct csd *d, const char *what, char *err, size_t errlen)
{
	backend_why_of(d->backend, what, err, errlen);
}

void backend_why_of(struct vnet_backend *b, const char *what, char *err, size_t errlen)
{
	const char *why = vnet_backend_error(b);
	size_t n = strlen(what);

	/* the kernel backend names the object already: do not say it twice */
	if (!strncmp(why, what, n) && (why[n] == ':' || why[n] == ' '))
		snprintf(err, errlen, "%s", why);
	else
		snprintf(err, errlen, "%s: %s", what, why);
}

int realize_endpoint(struct csd *d, const char *t, const char *v, const char *e,
		     const json_t *vdoc, const json_t *edoc, char *err, size_t errlen)
{
	char what[3 * CS_NAME_MAX + 16];
	struct vnet_backend *b;
	struct vnet_spec vs;
	struct vnet_where w;
	struct endpoint_spec es;
	int r;

	/* a name reused at once gets a namespace of its own, not the one
	 * the teardown thread is about to delete */
	teardown_wait(d, t, v, e);
	if (!model_vnet_here(d, vdoc)) {
		snprintf(err, errlen, "endpoint %s/%s/%s: is placed on node %s, but vnet %s/%s does "
			 "not span it", t, v, e, d->cfg.node, t, v);
		return CS_EINVAL;
	}
	if ((r = vnet_ensure_here(d, t, v, vdoc, &b, &vs, &w, false, err, errlen)) < 0)
		goto out;
	model_endpoint_spec(e, edoc, &es);
	es.guarded = json_object_get(json_object_get(vdoc, "spec"), "policy") != NULL;
	r = vb_endpoint_ensure(b, &vs, &es);
	if (r < 0) {
		snprintf(what, sizeof(what), "endpoint %s/%s/%s", t, v, e);
		backend_why_of(b, what, err, errlen);
	}
out:
	vnet_where_clear(&w);
	return r;
}

int model_underlay_sync(struct csd *d)
{
	json_t *vnets = NULL, *nodes = NULL, *doc;
	struct vnet_underlay_rule *rules = NULL;
	struct vnet_where *ws = NULL;
	size_t n = 0, cap;
	const char *key;
	char err[400];
	int r;

	if ((r = model_list(d, "/vnets/", &vnets, NULL)) < 0 ||
	    (r = model_list(d, "/nodes/", &nodes, NULL)) < 0) {
		log_warn("underlay filter: cannot read the store (%s); left as it is",
			 cs_strerror(r));
		goto out;
	}
	cap = json_object_size(vnets) + 1;
	rules = calloc(cap, sizeof(*rules));
	ws = calloc(cap, sizeof(*ws));
	if (!rules || !ws) {
		r = CS_ENOMEM;
		goto out;
	}
	json_object_foreach(vnets, key, doc) {
		json_int_t id = json_integer_value(json_object_get(doc, "id"));
		if (model_vnet_nnodes(doc) < 2 || !model_vnet_here(d, doc) || id < 1)
			continue;
		if (model_vnet_where(d, doc, nodes, &ws[n], err, sizeof(err)) < 0) {
			/* not realized either: its VNI stays closed */
			log_warn("underlay filter: vnet %s: %s", key + 7, err);
			continue;
		}
		rules[n] = (struct vnet_underlay_rule){ .vni = (uint32_t)id, .peers = ws[n].peers,
							.npeers = ws[n].npeers, .ports = ws[n].ports,
							.from_port = ws[n].from_port,
							.port = ws[n].has_local ? ws[n].local_port : 0 };
		n++;
	}
	/* the tunnel first: the filter then takes VXLAN only out of it */
	encrypt_sync(d, ws, n);
	if ((r = vb_underlay_filter(d->backend, rules, n)) < 0)
		log_warn("underlay filter: %s", vnet_backend_error(d->backend));
out:
	for (size_t i = 0; ws && i < n; i++)
		vnet_where_clear(&ws[i]);
	free(ws);
	free(rules);
	json_decref(vnets);
	json_decref(nodes);
	return r;
}

int unrealize_endpoint(struct csd *d, const char *t, const char *v, const char *e)
{
	/* on its way already; or, where nobody waits for it, off the loop */
	if (teardown_pending(d, t, v, e))
		return 0;
	if (d->teardown_defer && teardown_queue(d, t, v, e) == 0)
		return 0;
	/* its vnet's document may be gone: each backend removes what it holds */
	struct vnet_backend **bs;
	size_t n = csd_backends(d, &bs);
	int r = 0;
	for (size_t i = 0; i < n; i++) {
		int ri = vb_endpoint_destroy(bs[i], t, v, e);
		if (ri < 0) {
			log_warn("endpoint %s/%s/%s: teardown failed: %s (the reconciler retries)",
				 t, v, e, vnet_backend_error(bs[i]));
			r = ri;
		}
	}
	return r;
}

int unrealize_vnet(struct csd *d, const char *t, const char *v)
{
	struct vnet_backend **bs;
	size_t n = csd_backends(d, &bs);
	char tv[2 * CS_NAME_MAX + 2];
	int r = 0;

	snprintf(tv, sizeof(tv), "%s/%s", t, v);
	if (d->ensured)
		json_object_del(d->ensured, tv);
	for (size_t i = 0; i < n; i++) {
		int ri = vb_vnet_destroy(bs[i], t, v);
		if (ri < 0) {
			log_warn("vnet %s/%s: teardown failed: %s (the reconciler retries)", t, v,
				 vnet_backend_error(bs[i]));
			r = ri;
		}
	}
	return r;
}

/* Growable arrays of ops and compares for one transaction. */
struct txn_build {
	struct store_op *ops;
	struct store_cmp *cmps;
	size_t nops, ncmps;
	char **keys; /* owned copies */
	size_t nkeys;
};

static const char *tb_key(struct txn_build *tb, const char *key)
{
	char **k = realloc(tb->keys, sizeof(*k) * (tb->nkeys + 1));
	if (!k)
		return NULL;
	tb->keys = k;
	return tb->keys[tb->nkeys++] = strdup(key);
}

static int tb_delete(struct txn_build *tb, const char *key, int64_t mod_rev)
{
	const char *k = tb_key(tb, key);
	struct store_op *o = realloc(tb->ops, sizeof(*o) * (tb->nops + 1));
	struct store_cmp *c;

	if (!k || !o)
		return CS_ENOMEM;
	tb->ops = o;
	tb->ops[tb->nops++] = (struct store_op){ STORE_DELETE, k, NULL };
	if (mod_rev > 0) {
		if (!(c = realloc(tb->cmps, sizeof(*c) * (tb->ncmps + 1))))
			return CS_ENOMEM;
		tb->cmps = c;
		tb->cmps[tb->ncmps++] = (struct store_cmp){ k, mod_rev };
	}
	return 0;
}

static void tb_free(struct txn_build *tb)
{
	for (size_t i = 0; i < tb->nkeys; i++)
		free(tb->keys[i]);
	free(tb->keys);
	free(tb->ops);
	free(tb->cmps);
	memset(tb, 0, sizeof(*tb));
}

/* Add a key and what it allocated to the transaction. */
static int tb_delete_object(struct txn_build *tb, const char *key, const char *value,
			    int64_t mod_rev)
{
	char k[KEY_MAX + 64];
	int r = tb_delete(tb, key, mod_rev);
	json_t *doc;

	if (r < 0 || !(doc = json_loads(value, 0, NULL)))
		return r;
	/* what it was charged to its creator goes with it (charges.c) */
	if (charge_of_doc(key, doc, k) && (r = tb_delete(tb, k, 0)) < 0) {
		json_decref(doc);
		return r;
	}
	if (!strncmp(key, "/vnets/", 7) && json_integer_value(json_object_get(doc, "id")) > 0) {
		key_vni(k, (uint32_t)json_integer_value(json_object_get(doc, "id")));
		r = tb_delete(tb, k, 0);
		char p[2][CS_NAME_MAX + 1], e[64];
		/* the vnet's admission key goes with it */
		if (r == 0 && cs_path_split(key + 7, 2, p, e, sizeof(e)) == 0) {
			key_qos(k, p[0], p[1]);
			r = tb_delete(tb, k, 0);
		}
	} else if (!strncmp(key, "/endpoints/", 11)) {
		char path[KEY_MAX], *slash;
		snprintf(path, sizeof(path), "%s", key + 11);
		if ((slash = strrchr(path, '/')))
			*slash = '\0';
		size_t i;
		json_t *a;
		json_array_foreach(json_object_get(doc, "addresses"), i, a) {
			snprintf(k, sizeof(k), "/alloc/addr/%s/%s", path, json_string_value(a));
			if ((r = tb_delete(tb, k, 0)) < 0)
				break;
		}
	}
	json_decref(doc);
	return r;
}

/* Split "/endpoints/T/V/E" or "/vnets/T/V" into its names. */
static int split_key(const char *key, const char *top, char parts[3][CS_NAME_MAX + 1], int n)
{
	char err[64];
	size_t l = strlen(top);

	if (strncmp(key, top, l))
		return CS_EINVAL;
	return cs_path_split(key + l, n, parts, err, sizeof(err));
}

/* Is vnet p[0]/p[1] among the deleted documents? */
static bool vnet_deleted(const struct store_kvs *all, const char *t, const char *v)
{
	char key[KEY_MAX];

	key_vnet(key, t, v);
	for (size_t i = 0; i < all->n; i++)
		if (!strcmp(all->v[i].key, key))
			return true;
	return false;
}

/*
 * The kernel side of what a delete removed. An endpoint whose vnet stays
 * loses its link first, then its namespace. Where the vnet goes too, its
 * vx0 goes first: that takes every endpoint's link with it in one step
 * (one wait for the kernel, not one per endpoint), and the namespaces
 * left behind go quickly. (Where nobody waits for the result, the teardown
 * thread does it all: d->teardown_defer.)
 */
static void teardown_deleted(struct csd *d, const struct store_kvs *all, bool *vnets_gone)
{
	char p[3][CS_NAME_MAX + 1];

	for (size_t i = 0; i < all->n; i++) {
		if (split_key(all->v[i].key, "/endpoints/", p, 3) < 0 ||
		    vnet_deleted(all, p[0], p[1]))
			continue;
		json_t *doc = json_loads(all->v[i].value, 0, NULL);
		if (model_endpoint_local(d, doc))
			unrealize_endpoint(d, p[0], p[1], p[2]);
		json_decref(doc);
	}
	*vnets_gone = false;
	for (size_t i = 0; i < all->n; i++) {
		if (split_key(all->v[i].key, "/vnets/", p, 2) == 0) {
			json_t *doc = json_loads(all->v[i].value, 0, NULL);
			unrealize_vnet(d, p[0], p[1]);
			/* only a vnet across nodes had its VNI open on the underlay */
			*vnets_gone = *vnets_gone || model_vnet_nnodes(doc) > 1;
			vni_note(d, (uint32_t)json_integer_value(json_object_get(doc, "id")), false);
			json_decref(doc);
		}
	}
	/* with their links gone, what is left of each costs little */
	for (size_t i = 0; i < all->n; i++) {
		if (split_key(all->v[i].key, "/endpoints/", p, 3) < 0 ||
		    !vnet_deleted(all, p[0], p[1]))
			continue;
		json_t *doc = json_loads(all->v[i].value, 0, NULL);
		if (model_endpoint_local(d, doc))
			unrealize_endpoint(d, p[0], p[1], p[2]);
		json_decref(doc);
	}
}

/* a prefix ending in '/' lists a subtree; another names one key, which
 * may be missing */
static int read_prefix(struct csd *d, const char *prefix, struct store_kvs *kvs)
{
	struct store_kv kv = { 0 };
	size_t l = strlen(prefix);
	int r;

	if (prefix[l - 1] == '/')
		return store_list(d->store, prefix, kvs, NULL);
	r = store_get(d->store, prefix, &kv);
	if (r == CS_ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (!(kvs->v = malloc(sizeof(kv)))) {
		store_kv_clear(&kv);
		return CS_ENOMEM;
	}
	kvs->v[0] = kv;
	kvs->n = 1;
	return 0;
}

/* what a deleted endpoint held (its reservation, its share) goes to the
 * endpoints left in its vnet, once per vnet of the deleted documents */
static void realize_after_delete(struct csd *d, const struct store_kvs *all)
{
	for (size_t i = 0; i < all->n; i++) {
		char p[3][CS_NAME_MAX + 1], e2[256];
		if (split_key(all->v[i].key, "/endpoints/", p, 3) < 0)
			continue;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++) {
			char q[3][CS_NAME_MAX + 1];
			seen = split_key(all->v[j].key, "/endpoints/", q, 3) == 0 &&
			       !strcmp(p[0], q[0]) && !strcmp(p[1], q[1]);
		}
		if (seen)
			continue;
		/* only a shaped vnet has shares, and only one with rules has
		 * rules to change: the rest cost nothing however many
		 * endpoints they hold */
		char vkey[KEY_MAX];
		json_t *vdoc = NULL;
		key_vnet(vkey, p[0], p[1]);
		if (model_get(d, vkey, &vdoc, NULL) < 0)
			continue; /* the vnet went too */
		const json_t *vspec = json_object_get(vdoc, "spec");
		if (json_object_get(vspec, "capacity") &&
		    realize_vnet_qos(d, p[0], p[1], vdoc, NULL, e2, sizeof(e2)) < 0)
			log_warn("%s (the reconciler retries)", e2);
		/* rules that named it or its groups no longer match its address */
		if (json_object_get(vspec, "policy") &&
		    realize_vnet_policy(d, p[0], p[1], vdoc, NULL, e2, sizeof(e2)) < 0)
			log_warn("%s (the reconciler retries)", e2);
		json_decref(vdoc);
	}
}

int model_delete_tree(struct csd *d, const char *const *prefixes, size_t nprefixes, char *err,
		      size_t errlen)
{
	struct txn_build tb = { 0 };
	struct store_kvs all = { 0 };
	int r = 0;

	for (int attempt = 0; attempt < 8; attempt++) {
		tb_free(&tb);
		store_kvs_clear(&all);
		for (size_t i = 0; i < nprefixes && r == 0; i++) {
			struct store_kvs kvs = { 0 };
			r = read_prefix(d, prefixes[i], &kvs);
			for (size_t j = 0; r == 0 && j < kvs.n; j++)
				r = tb_delete_object(&tb, kvs.v[j].key, kvs.v[j].value,
						     kvs.v[j].mod_rev);
			/* keep the documents to tear down after the commit */
			if (kvs.n == 0)
				continue;
			struct store_kv *nv = realloc(all.v, sizeof(*nv) * (all.n + kvs.n));
			if (nv) {
				all.v = nv;
				memcpy(all.v + all.n, kvs.v, sizeof(*nv) * kvs.n);
				all.n += kvs.n;
				free(kvs.v);
			} else {
				store_kvs_clear(&kvs);
				r = CS_ENOMEM;
			}
		}
		if (r < 0)
			break;
		if (tb.nops == 0)
			break;
		struct store_txn t = { tb.cmps, tb.ncmps, tb.ops, tb.nops };
		r = store_txn(d->store, &t, NULL);
		if (r != CS_ECONFLICT)
			break;
	}
	if (r < 0) {
		snprintf(err, errlen, "store: %s", cs_strerror(r));
		goto out;
	}
	bool vnets_gone;
	teardown_deleted(d, &all, &vnets_gone);
	/* their VNIs close on the underlay */
	if (vnets_gone)
		model_underlay_sync(d);
	realize_after_delete(d, &all);
out:
	tb_free(&tb);
	store_kvs_clear(&all);
	return r;
}
