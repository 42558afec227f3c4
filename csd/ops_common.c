/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers shared by the op handlers: argument paths, tenant access, views. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

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

int req_tenant(struct csd_req *r, const char *t, enum authz_action a, json_t **doc)
{
	char key[KEY_MAX];
	int ret;

	*doc = NULL;
	key_tenant(key, t);
	ret = model_get(r->d, key, doc, NULL);
	if (ret == CS_ENOENT ||
	    (ret == 0 && !authz_tenant(r->who, json_object_get(*doc, "spec"), AZ_SEE))) {
		json_decref(*doc);
		*doc = NULL;
		return req_fail(r, CS_ENOENT, "tenant %s: no such tenant", t);
	}
	if (ret < 0)
		return req_store_fail(r, ret, t);
	if (!authz_tenant(r->who, json_object_get(*doc, "spec"), a)) {
		json_decref(*doc);
		*doc = NULL;
		return req_fail(r, CS_EPERM, "tenant %s: permission denied for uid %u", t,
				(unsigned)r->who->uid);
	}
	return 0;
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

bool inventory_has(const struct vnet_inventory *inv, bool endpoint, const char *path)
{
	char *const *v = endpoint ? inv->endpoints : inv->vnets;
	size_t n = endpoint ? inv->nendpoints : inv->nvnets;

	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], path))
			return true;
	return false;
}

/* Spec keys first, then what csd allocated and observed. */
static json_t *view_base(const char *name, const json_t *doc)
{
	json_t *o = json_pack("{s:s}", "name", name);
	json_object_update(o, json_object_get(doc, "spec"));
	return o;
}

json_t *view_tenant(struct csd *d, const char *t, const json_t *doc)
{
	char prefix[KEY_MAX];
	struct store_kvs kvs = { 0 };
	json_t *o = view_base(t, doc);

	snprintf(prefix, sizeof(prefix), "/vnets/%s/", t);
	if (store_list(d->store, prefix, &kvs, NULL) == 0)
		json_object_set_new(o, "vnets", json_integer((json_int_t)kvs.n));
	store_kvs_clear(&kvs);
	snprintf(prefix, sizeof(prefix), "/endpoints/%s/", t);
	if (store_list(d->store, prefix, &kvs, NULL) == 0)
		json_object_set_new(o, "endpoints", json_integer((json_int_t)kvs.n));
	store_kvs_clear(&kvs);
	return o;
}

json_t *view_vnet(struct csd *d, const char *t, const char *v, const json_t *doc,
		  const struct vnet_inventory *inv)
{
	char name[KEY_MAX], prefix[KEY_MAX];
	struct store_kvs kvs = { 0 };
	json_t *o;

	snprintf(name, sizeof(name), "%s/%s", t, v);
	o = view_base(name, doc);
	json_object_set(o, "id", json_object_get(doc, "id"));
	if (!json_object_get(o, "mtu"))
		json_object_set_new(o, "mtu", json_integer(1450));
	if (!json_object_get(o, "backend"))
		json_object_set_new(o, "backend", json_string("kernel"));
	snprintf(prefix, sizeof(prefix), "/endpoints/%s/%s/", t, v);
	if (store_list(d->store, prefix, &kvs, NULL) == 0)
		json_object_set_new(o, "endpoints", json_integer((json_int_t)kvs.n));
	store_kvs_clear(&kvs);
	json_object_set_new(o, "state", json_string(inv && inventory_has(inv, false, name) ?
							    "up" : "down"));
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
		json_object_set_new(o, "state", json_string("remote"));
		return o;
	}
	snprintf(ns, sizeof(ns), "%s.%s.%s.%s", d->cfg.prefix, t, v, e);
	json_object_set_new(o, "netns", json_string(ns));
	bool up = inv && inventory_has(inv, true, name);
	struct endpoint_stats st;
	if (up && d->backend->ops->endpoint_stats(d->backend, t, v, e, &st) == 0) {
		json_object_set_new(o, "counters",
				    json_pack("{s:I, s:I, s:I, s:I}", "rx_bytes",
					      (json_int_t)st.rx_bytes, "tx_bytes",
					      (json_int_t)st.tx_bytes, "rx_packets",
					      (json_int_t)st.rx_packets, "tx_packets",
					      (json_int_t)st.tx_packets));
	} else {
		up = false;
	}
	json_object_set_new(o, "state", json_string(up ? "up" : "down"));
	return o;
}
