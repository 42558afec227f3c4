/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The object model in the store, and realizing objects on this node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "model.h"

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
	return 0;
}

bool model_endpoint_local(struct csd *d, const json_t *edoc)
{
	const char *node = json_string_value(json_object_get(edoc, "node"));
	return !node || !strcmp(node, d->cfg.node);
}

int realize_vnet(struct csd *d, const char *t, const char *v, const json_t *vdoc, char *err,
		 size_t errlen)
{
	struct vnet_spec vs;
	int r = model_vnet_spec(t, v, vdoc, &vs);

	if (r < 0) {
		snprintf(err, errlen, "vnet %s/%s: stored document has no id", t, v);
		return r;
	}
	r = d->backend->ops->vnet_ensure(d->backend, &vs);
	if (r < 0)
		snprintf(err, errlen, "vnet %s/%s: %s", t, v, vnet_backend_error(d->backend));
	return r;
}

int realize_endpoint(struct csd *d, const char *t, const char *v, const char *e,
		     const json_t *vdoc, const json_t *edoc, char *err, size_t errlen)
{
	struct vnet_spec vs;
	struct endpoint_spec es;
	int r;

	if ((r = realize_vnet(d, t, v, vdoc, err, errlen)) < 0)
		return r;
	model_vnet_spec(t, v, vdoc, &vs);
	model_endpoint_spec(e, edoc, &es);
	r = d->backend->ops->endpoint_ensure(d->backend, &vs, &es);
	if (r < 0)
		snprintf(err, errlen, "endpoint %s/%s/%s: %s", t, v, e,
			 vnet_backend_error(d->backend));
	return r;
}

int unrealize_endpoint(struct csd *d, const char *t, const char *v, const char *e)
{
	int r = d->backend->ops->endpoint_destroy(d->backend, t, v, e);
	if (r < 0)
		log_warn("endpoint %s/%s/%s: teardown failed: %s (the reconciler retries)", t, v,
			 e, vnet_backend_error(d->backend));
	return r;
}

int unrealize_vnet(struct csd *d, const char *t, const char *v)
{
	int r = d->backend->ops->vnet_destroy(d->backend, t, v);
	if (r < 0)
		log_warn("vnet %s/%s: teardown failed: %s (the reconciler retries)", t, v,
			 vnet_backend_error(d->backend));
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
	char k[KEY_MAX];
	int r = tb_delete(tb, key, mod_rev);
	json_t *doc;

	if (r < 0 || !(doc = json_loads(value, 0, NULL)))
		return r;
	if (!strncmp(key, "/vnets/", 7) && json_integer_value(json_object_get(doc, "id")) > 0) {
		key_vni(k, (uint32_t)json_integer_value(json_object_get(doc, "id")));
		r = tb_delete(tb, k, 0);
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
			size_t l = strlen(prefixes[i]);
			if (prefixes[i][l - 1] == '/') {
				r = store_list(d->store, prefixes[i], &kvs, NULL);
			} else {
				struct store_kv kv = { 0 };
				r = store_get(d->store, prefixes[i], &kv);
				if (r == 0) {
					kvs.v = malloc(sizeof(kv));
					if (kvs.v) {
						kvs.v[0] = kv;
						kvs.n = 1;
					} else {
						store_kv_clear(&kv);
						r = CS_ENOMEM;
					}
				} else if (r == CS_ENOENT) {
					r = 0;
				}
			}
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
	/* endpoints first: each removes its link before its namespace */
	for (size_t i = 0; i < all.n; i++) {
		char p[3][CS_NAME_MAX + 1];
		json_t *doc = json_loads(all.v[i].value, 0, NULL);
		if (split_key(all.v[i].key, "/endpoints/", p, 3) == 0 && model_endpoint_local(d, doc))
			unrealize_endpoint(d, p[0], p[1], p[2]);
		json_decref(doc);
	}
	for (size_t i = 0; i < all.n; i++) {
		char p[3][CS_NAME_MAX + 1];
		if (split_key(all.v[i].key, "/vnets/", p, 2) == 0)
			unrealize_vnet(d, p[0], p[1]);
	}
out:
	tb_free(&tb);
	store_kvs_clear(&all);
	return r;
}
