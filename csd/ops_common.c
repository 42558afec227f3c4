/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers shared by the op handlers: argument paths, tenant access, views. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops.h"
#include "qos.h"
#include "resources/qos_spec.h"
#include "resources/units.h"

int req_path(struct csd_req *r, const char *key, int n, name_t parts[])
{
	static const char *const shapes[] = { "", "TENANT", "TENANT/VNET", "TENANT/VNET/ENDPOINT" };
	const char *s = json_string_value(json_object_get(r->args, key));
	char err[256];

	if (!s)
		return req_fail(r, CS_EINVAL, "%s: missing \"%s\" (%s)", r->op, key, shapes[n]);
	if (cs_path_split(s, n, parts, err, sizeof(err)) < 0)
		return req_fail(r, CS_EINVAL, "%s", err);
	return 0;
}

int req_store_fail(struct csd_req *r, int code, const char *what)
{
	if (code == CS_EUNAVAIL)
		return req_fail(r, code, "%s: the store is unavailable; nothing was changed, "
				"retry when it is back", what);
	return req_fail(r, code, "%s: store: %s", what, cs_strerror(code));
}

bool req_may(struct csd_req *r, const json_t *tenant, const json_t *vnet)
{
	bool ok = authz_op(r->who, tenant, vnet, r->op, false);

	r->authorized = r->authorized || ok;
	return ok;
}

static int denied(struct csd_req *r, const char *t, const char *v)
{
	if (v)
		return req_fail(r, CS_EPERM, "vnet %s/%s: %s: permission denied for uid %u (a "
				"vnet's members may use it but not change it; ask an owner of "
				"tenant %s)", t, v, r->op, (unsigned)r->who->uid, t);
	return req_fail(r, CS_EPERM, "tenant %s: %s: permission denied for uid %u (ask an "
			"owner of the tenant or an administrator)", t, r->op, (unsigned)r->who->uid);
}

int req_tenant(struct csd_req *r, const char *t, json_t **doc)
{
	char key[KEY_MAX];
	int ret;

	*doc = NULL;
	key_tenant(key, t);
	ret = model_get(r->d, key, doc, NULL);
	if (ret < 0 && ret != CS_ENOENT)
		return req_store_fail(r, ret, t);
	const json_t *spec = json_object_get(*doc, "spec");
	if (ret == CS_ENOENT || !authz_visible(r->who, spec, NULL)) {
		json_decref(*doc);
		*doc = NULL;
		return req_fail(r, CS_ENOENT, "tenant %s: no such tenant", t);
	}
	if (!authz_op(r->who, spec, NULL, r->op, false)) {
		json_decref(*doc);
		*doc = NULL;
		return denied(r, t, NULL);
	}
	r->authorized = true;
	return 0;
}

/* vnet T/V, visible to the caller; @decide: and r->op allowed there */
static int vnet_access(struct csd_req *r, const char *t, const char *v, bool decide, bool opener,
		       json_t **tdoc, json_t **vdoc)
{
	char tkey[KEY_MAX], vkey[KEY_MAX];
	json_t *td = NULL, *vd = NULL;
	int ret;

	if (tdoc)
		*tdoc = NULL;
	if (vdoc)
		*vdoc = NULL;
	key_tenant(tkey, t);
	key_vnet(vkey, t, v);
	if ((ret = model_get(r->d, tkey, &td, NULL)) < 0 && ret != CS_ENOENT)
		return req_store_fail(r, ret, tkey);
	if (ret == 0 && (ret = model_get(r->d, vkey, &vd, NULL)) < 0 && ret != CS_ENOENT) {
		json_decref(td);
		return req_store_fail(r, ret, vkey);
	}
	const json_t *ts = json_object_get(td, "spec"), *vs = json_object_get(vd, "spec");
	if (!td || !authz_visible(r->who, ts, vs)) {
		/* nothing of a tenant where the caller has no role, not even whether
		 * it exists; a tenant's owners learn that a vnet is missing */
		ret = td && (authz_visible(r->who, ts, NULL) || (!vd && r->who->admin))
			      ? req_fail(r, CS_ENOENT, "vnet %s/%s: no such vnet", t, v)
			      : req_fail(r, CS_ENOENT, "tenant %s: no such tenant", t);
		goto fail;
	}
	if (!vd) {
		ret = req_fail(r, CS_ENOENT, "vnet %s/%s: no such vnet", t, v);
		goto fail;
	}
	if (decide && !authz_op(r->who, ts, vs, r->op, opener)) {
		ret = denied(r, t, v);
		goto fail;
	}
	r->authorized = r->authorized || decide;
	if (tdoc)
		*tdoc = td;
	else
		json_decref(td);
	if (vdoc)
		*vdoc = vd;
	else
		json_decref(vd);
	return 0;
fail:
	json_decref(td);
	json_decref(vd);
	return ret;
}

int req_endpoint_vnet(struct csd_req *r, const char *t, const char *v, bool opener,
		      json_t **tdoc, json_t **vdoc)
{
	return vnet_access(r, t, v, true, opener, tdoc, vdoc);
}

int req_vnet(struct csd_req *r, const char *t, const char *v, json_t **tdoc, json_t **vdoc)
{
	return vnet_access(r, t, v, true, false, tdoc, vdoc);
}

int req_visible(struct csd_req *r, const char *t, const char *v)
{
	return vnet_access(r, t, v, false, false, NULL, NULL);
}

bool list_visible(const struct principal *who, const json_t *tdocs, const json_t *vdocs,
		  const char *t, const char *v)
{
	char tkey[KEY_MAX], vkey[KEY_MAX];

	key_tenant(tkey, t);
	const json_t *ts = json_object_get(json_object_get(tdocs, tkey), "spec");
	if (!ts || authz_visible(who, ts, NULL))
		return ts != NULL;
	key_vnet(vkey, t, v);
	const json_t *vs = json_object_get(json_object_get(vdocs, vkey), "spec");
	return vs && authz_visible(who, ts, vs);
}

/* The tenant a listing's prefix narrows to ("/endpoints/T/..." -> T), or
 * "" for a listing of everything. */
static void prefix_tenant(const char *prefix, char t[CS_NAME_MAX + 1])
{
	const char *a = strchr(prefix + 1, '/'), *b = a ? strchr(a + 1, '/') : NULL;

	t[0] = '\0';
	if (b && (size_t)(b - a - 1) <= CS_NAME_MAX) {
		memcpy(t, a + 1, (size_t)(b - a - 1));
		t[b - a - 1] = '\0';
	}
}

/* The documents of @prefix and, to decide what the caller sees, of their
 * tenants and vnets: of one tenant when @prefix names it, so that a listing
 * of one vnet does not read every tenant's. */
int list_docs(struct csd_req *r, const char *prefix, const char *what, json_t **docs,
	      json_t **tdocs, json_t **vdocs)
{
	char t[CS_NAME_MAX + 1], tkey[KEY_MAX], vprefix[KEY_MAX];
	int ret;

	*docs = *tdocs = *vdocs = NULL;
	prefix_tenant(prefix, t);
	if (*t) {
		json_t *td = NULL;
		key_tenant(tkey, t);
		snprintf(vprefix, sizeof(vprefix), "/vnets/%s/", t);
		ret = model_get(r->d, tkey, &td, NULL);
		*tdocs = json_object();
		if (ret == 0)
			json_object_set_new(*tdocs, tkey, td);
		else if (ret == CS_ENOENT)
			ret = 0;
	} else {
		snprintf(vprefix, sizeof(vprefix), "/vnets/");
		ret = model_list(r->d, "/tenants/", tdocs, NULL);
	}
	if (ret < 0 || (ret = model_list(r->d, prefix, docs, NULL)) < 0 ||
	    (ret = model_list(r->d, vprefix, vdocs, NULL)) < 0) {
		json_decref(*docs);
		json_decref(*tdocs);
		*docs = *tdocs = NULL;
		return req_store_fail(r, ret, what);
	}
	return 0;
}

int req_list_filter(struct csd_req *r, const char *t, const char *v)
{
	char key[KEY_MAX];
	json_t *td = NULL, *vdocs = NULL, *doc;
	const char *k;
	bool seen = false;
	int ret;

	key_tenant(key, t);
	if ((ret = model_get(r->d, key, &td, NULL)) < 0 && ret != CS_ENOENT)
		return req_store_fail(r, ret, t);
	const json_t *ts = json_object_get(td, "spec");
	if (td && authz_visible(r->who, ts, NULL)) {
		json_decref(td);
		if (!v)
			return 0;
		/* a list narrowed to a vnet that is not there is a mistake */
		key_vnet(key, t, v);
		ret = model_get(r->d, key, &doc, NULL);
		json_decref(doc);
		if (ret == CS_ENOENT)
			return req_fail(r, ret, "vnet %s/%s: no such vnet", t, v);
		return ret < 0 ? req_store_fail(r, ret, key) : 0;
	}
	if (td) {
		if (v)
			key_vnet(key, t, v);
		else
			snprintf(key, sizeof(key), "/vnets/%s/", t);
		if ((ret = v ? model_get(r->d, key, &doc, NULL) : model_list(r->d, key, &vdocs, NULL)) < 0 &&
		    ret != CS_ENOENT) {
			json_decref(td);
			return req_store_fail(r, ret, t);
		}
		if (v && ret == 0)
			vdocs = json_pack("{so}", key, doc);
		json_object_foreach(vdocs, k, doc)
			seen = seen || authz_visible(r->who, ts, json_object_get(doc, "spec"));
		json_decref(vdocs);
	}
	json_decref(td);
	return seen ? 0 : req_fail(r, CS_ENOENT, "tenant %s: no such tenant", t);
}

int req_spec(struct csd_req *r, enum schema_object o, const char *what, json_t **spec)
{
	struct schema_errors errs = { 0 };
	json_t *s = json_object_get(r->args, "spec");

	*spec = NULL;
	if (!s)
		s = json_object();
	else
		json_incref(s);
	if (schema_validate(o, s, "", &errs) > 0) {
		/* one line per error, each naming the object */
		size_t off = 0;
		for (size_t i = 0; i < errs.n && off < sizeof(r->error); i++)
			off += (size_t)snprintf(r->error + off, sizeof(r->error) - off, "%s%s: %s",
						i ? "\n" : "", what, errs.msgs[i]);
		schema_errors_clear(&errs);
		json_decref(s);
		return CS_EINVAL;
	}
	*spec = s;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the names of @from appended to @to (moved); @from is left empty */
static int names_move(char ***to, size_t *nto, char ***from, size_t *nfrom)
{
	char **v;

	if (!*nfrom)
		return 0;
	if (!(v = realloc(*to, sizeof(char *) * (*nto + *nfrom))))
		return CS_ENOMEM;
	memcpy(v + *nto, *from, sizeof(char *) * *nfrom);
	*to = v;
	*nto += *nfrom;
	free(*from);
	*from = NULL;
	*nfrom = 0;
	return 0;
}

/* sorted, each name once (two backends may hold the same namespaces) */
static void names_sort(char **v, size_t *n)
{
	size_t k = 0;

	if (!*n)
		return;
	qsort(v, *n, sizeof(char *), cmp_str);
	for (size_t i = 1; i < *n; i++) {
		if (!strcmp(v[i], v[k]))
			free(v[i]);
		else
			v[++k] = v[i];
	}
	*n = k + 1;
}

int csd_inventory(struct csd *d, struct vnet_inventory *inv)
{
	struct vnet_backend **bs;
	size_t n = csd_backends(d, &bs);
	int r = n ? vb_inventory(bs[0], inv) : 0;

	for (size_t i = 1; r == 0 && i < n; i++) {
		struct vnet_inventory more = { 0 };
		if ((r = vb_inventory(bs[i], &more)) == 0 &&
		    (r = names_move(&inv->vnets, &inv->nvnets, &more.vnets, &more.nvnets)) == 0)
			r = names_move(&inv->endpoints, &inv->nendpoints, &more.endpoints,
				       &more.nendpoints);
		vnet_inventory_clear(&more);
	}
	if (r < 0)
		return r;
	names_sort(inv->vnets, &inv->nvnets);
	names_sort(inv->endpoints, &inv->nendpoints);
	return 0;
}

bool inventory_has(const struct vnet_inventory *inv, bool endpoint, const char *path)
{
	char *const *v = endpoint ? inv->endpoints : inv->vnets;
	size_t n = endpoint ? inv->nendpoints : inv->nvnets;

	return n && bsearch(&path, v, n, sizeof(char *), cmp_str);
}

json_t *model_count(struct csd *d, const char *prefix, int depth)
{
	struct store_kvs kvs = { 0 };
	json_t *counts = json_object();
	size_t plen = strlen(prefix);

	if (store_list(d->store, prefix, &kvs, NULL) < 0) {
		json_decref(counts);
		return NULL;
	}
	for (size_t i = 0; i < kvs.n; i++) {
		char path[KEY_MAX], *p = path;
		snprintf(path, sizeof(path), "%s", kvs.v[i].key + plen);
		for (int k = 0; k < depth && p; k++)
			p = strchr(p + 1, '/');
		if (!p)
			continue;
		*p = '\0';
		json_object_set_new(counts, path,
				    json_integer(json_integer_value(json_object_get(counts, path)) + 1));
	}
	store_kvs_clear(&kvs);
	return counts;
}

static void set_count(json_t *o, const char *key, const json_t *counts, struct csd *d,
		      const char *prefix, const char *name)
{
	if (!counts) {
		/* one object shown: list just its subtree */
		char pfx[KEY_MAX];
		struct store_kvs kvs = { 0 };
		snprintf(pfx, sizeof(pfx), "%s%s/", prefix, name);
		if (store_list(d->store, pfx, &kvs, NULL) == 0)
			json_object_set_new(o, key, json_integer((json_int_t)kvs.n));
		store_kvs_clear(&kvs);
		return;
	}
	json_object_set_new(o, key, json_integer(json_integer_value(json_object_get(counts, name))));
}

/* Spec keys first, then what csd allocated and observed. */
static json_t *view_base(const char *name, const json_t *doc)
{
	json_t *o = json_pack("{s:s}", "name", name);
	json_object_update(o, json_object_get(doc, "spec"));
	return o;
}

json_t *view_tenant(struct csd *d, const char *t, const json_t *doc, const json_t *vnet_counts,
		    const json_t *ep_counts)
{
	json_t *o = view_base(t, doc);

	set_count(o, "vnets", vnet_counts, d, "/vnets/", t);
	set_count(o, "endpoints", ep_counts, d, "/endpoints/", t);
	return o;
}

json_t *view_vnet(struct csd *d, const char *t, const char *v, const json_t *doc,
		  const struct vnet_inventory *inv, const json_t *ep_counts)
{
	char name[KEY_MAX];
	json_t *o;

	snprintf(name, sizeof(name), "%s/%s", t, v);
	o = view_base(name, doc);
	json_object_set(o, "id", json_object_get(doc, "id"));
	/* what the kernel backend sets: encapsulated across nodes, not within one */
	if (!json_object_get(o, "mtu"))
		json_object_set_new(o, "mtu", json_integer(model_vnet_nnodes(doc) < 2 ?
							   VNET_MTU_LOCAL : csd_encrypted(d) ?
							   VNET_MTU_ENCRYPTED : VNET_MTU_OVERLAY));
	if (!json_object_get(o, "backend"))
		json_object_set_new(o, "backend", json_string(vb_name(d->backend)));
	set_count(o, "endpoints", ep_counts, d, "/endpoints/", name);
	json_object_set_new(o, "state", json_string(inv && inventory_has(inv, false, name) ?
							    "up" : "down"));
	/* a shaped vnet: what its endpoints reserved and what is left to admit */
	if (qos_capacity(json_object_get(doc, "spec"))) {
		char prefix[KEY_MAX + 16], buf[32];
		struct admission_usage use;
		json_t *eps = NULL;
		snprintf(prefix, sizeof(prefix), "/endpoints/%s/", name);
		if (model_list(d, prefix, &eps, NULL) == 0 &&
		    qos_usage(d, t, v, doc, eps, &use) == 0) {
			json_object_set_new(o, "reserved",
					    json_string(cs_rate_format(use.reserved, buf, sizeof(buf))));
			json_object_set_new(o, "free",
					    json_string(cs_rate_format(use.free, buf, sizeof(buf))));
			json_object_set_new(o, "usable",
					    json_string(cs_rate_format(use.usable, buf, sizeof(buf))));
		}
		json_decref(eps);
	}
	return o;
}

json_t *view_endpoint(struct csd *d, const char *t, const char *v, const char *e,
		      const json_t *doc, const struct vnet_inventory *inv)
{
	char name[KEY_MAX], ns[KEY_MAX];
	json_t *o, *addrs = json_object_get(doc, "addresses");
	bool local = model_endpoint_local(d, doc);

	snprintf(name, sizeof(name), "%s/%s/%s", t, v, e);
	o = view_base(name, doc);
	json_object_set(o, "node", json_object_get(doc, "node"));
	if (json_array_size(addrs) == 1)
		json_object_set(o, "address", json_array_get(addrs, 0));
	else
		json_object_set(o, "address", addrs);
	if (!json_object_get(o, "groups"))
		json_object_set_new(o, "groups", json_array());
	json_object_set(o, "owner", json_object_get(doc, "owner"));
	json_object_set_new(o, "ephemeral",
			    json_boolean(json_is_true(json_object_get(doc, "ephemeral"))));
	if (!local) {
		/* on another node: "remote" while that node's csd holds its liveness
		 * lease, "unreachable" once it lost it (nobody answers for it) */
		const char *node = json_string_value(json_object_get(doc, "node"));
		json_object_set_new(o, "state", json_string(node && model_node_alive(d, node) == 0
							    ? "unreachable" : "remote"));
		return o;
	}
	snprintf(ns, sizeof(ns), "%s.%s.%s.%s", d->cfg.prefix, t, v, e);
	/* an attached endpoint: the path it was given, and its namespace under
	 * the name csd holds it by (ip netns exec works with either) */
	const json_t *given = json_object_get(json_object_get(doc, "spec"), "netns");
	if (given)
		json_object_set(o, "attached", (json_t *)given);
	json_object_set_new(o, "netns", json_string(ns));
	char etc[256];
	struct vnet_backend *b = csd_backend_for(d, t, v);
	if (vb_endpoint_etc(b, t, v, e, etc, sizeof(etc)) == 0)
		json_object_set_new(o, "etc", json_string(etc));
	/* without an inventory (one endpoint shown), the counters say whether
	 * it is realized: endpoint_stats fails for an endpoint that is not */
	bool up = !inv || inventory_has(inv, true, name);
	struct endpoint_stats st;
	if (up && vb_endpoint_stats(b, t, v, e, &st) == 0) {
		json_object_set_new(o, "counters",
				    json_pack("{s:I, s:I, s:I, s:I}", "rx_bytes",
					      (json_int_t)st.rx_bytes, "tx_bytes",
					      (json_int_t)st.tx_bytes, "rx_packets",
					      (json_int_t)st.rx_packets, "tx_packets",
					      (json_int_t)st.tx_packets));
	} else {
		up = false;
	}
	/* attached to a namespace that is gone (csd's hold on it lost: a
	 * reboot): nothing here makes it again; delete the endpoint */
	if (!up && json_object_get(json_object_get(doc, "spec"), "netns")) {
		int fd = vb_endpoint_netns(b, t, v, e);
		if (fd >= 0)
			close(fd);
		else if (fd == CS_ENOENT)
			json_object_set_new(o, "state", json_string("gone"));
	}
	if (!json_object_get(o, "state"))
		json_object_set_new(o, "state", json_string(up ? "up" : "down"));
	return o;
}
