/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reservations in csd: admission in the store transaction, enforcement here. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qos.h"
#include "resources/qos_spec.h"

void key_qos(char *buf, const char *t, const char *v)
{
	snprintf(buf, KEY_MAX, "/alloc/qos/%s/%s", t, v);
}

void qos_txn_clear(struct qos_txn *qt)
{
	json_decref(qt->vdoc);
	json_decref(qt->self);
	free(qt->cmps);
	store_kvs_clear(&qt->eps);
	memset(qt, 0, sizeof(*qt));
}

/* The endpoint's name from "/endpoints/T/V/E" when it is one of vnet T/V's. */
static const char *ep_name(const char *key, const char *prefix)
{
	size_t l = strlen(prefix);

	if (strncmp(key, prefix, l) || !key[l] || strchr(key + l, '/'))
		return NULL;
	return key + l;
}

static void pool_of(struct csd *d, const char *t, const char *v, const json_t *vdoc,
		    char *name, size_t len, struct admission_pool *pool)
{
	snprintf(name, len, "vnet %s/%s", t, v);
	pool->name = name;
	pool->capacity = qos_capacity(json_object_get(vdoc, "spec"));
	pool->headroom = d->cfg.headroom;
}

/* The reservation an endpoint document declares; false if none (or one
 * that no longer parses, which validation kept out of the store). */
static bool resv_of(const json_t *edoc, const char *id, struct admission_resv *out)
{
	const json_t *q = json_object_get(json_object_get(edoc, "spec"), "qos");

	if (!q || qos_spec_parse(q, "qos", out, NULL, 0) < 0)
		return false;
	out->id = id;
	return true;
}

int qos_admit(struct csd *d, const char *t, const char *v, const char *e, const json_t *qos,
	      struct qos_txn *qt, char *err, size_t errlen)
{
	struct admission_resv *cur = NULL, req;
	struct admission_pool pool;
	struct store_kv tok = { 0 };
	char prefix[KEY_MAX], pname[KEY_MAX + 8], full[KEY_MAX], why[512];
	char (*ids)[KEY_MAX] = NULL;
	int64_t vrev = 0;
	size_t n = 0;
	int r;

	memset(qt, 0, sizeof(*qt));
	snprintf(full, sizeof(full), "%s/%s/%s", t, v, e);
	key_vnet(qt->vkey, t, v);
	if ((r = model_get(d, qt->vkey, &qt->vdoc, &vrev)) < 0) {
		if (r == CS_ENOENT)
			snprintf(err, errlen, "endpoint %s: vnet %s/%s does not exist", full, t, v);
		else
			snprintf(err, errlen, "endpoint %s: store: %s", full, cs_strerror(r));
		return r;
	}
	key_qos(qt->tkey, t, v);
	r = store_get(d->store, qt->tkey, &tok);
	if (r < 0 && r != CS_ENOENT)
		goto store_fail;
	snprintf(qt->tval, sizeof(qt->tval), "%" PRIu64,
		 (uint64_t)(r == 0 ? strtoull(tok.value, NULL, 10) : 0) + 1);
	snprintf(prefix, sizeof(prefix), "/endpoints/%s/%s/", t, v);
	if ((r = store_list(d->store, prefix, &qt->eps, NULL)) < 0)
		goto store_fail;

	qt->cmps = calloc(qt->eps.n + 2, sizeof(*qt->cmps));
	cur = calloc(qt->eps.n + 1, sizeof(*cur));
	ids = calloc(qt->eps.n + 1, sizeof(*ids));
	if (!qt->cmps || !cur || !ids) {
		r = CS_ENOMEM;
		snprintf(err, errlen, "endpoint %s: out of memory", full);
		goto out;
	}
	qt->cmps[qt->ncmps++] = (struct store_cmp){ qt->vkey, vrev };
	qt->cmps[qt->ncmps++] = (struct store_cmp){ qt->tkey, tok.key ? tok.mod_rev : 0 };
	for (size_t i = 0; i < qt->eps.n; i++) {
		const char *name = ep_name(qt->eps.v[i].key, prefix);
		json_t *doc;

		if (!name)
			continue;
		qt->cmps[qt->ncmps++] = (struct store_cmp){ qt->eps.v[i].key, qt->eps.v[i].mod_rev };
		if (!(doc = json_loads(qt->eps.v[i].value, 0, NULL)))
			continue;
		snprintf(ids[n], KEY_MAX, "%s/%s/%s", t, v, name);
		if (resv_of(doc, ids[n], &cur[n]))
			n++;
		if (!strcmp(name, e))
			qt->self = json_incref(doc);
		json_decref(doc);
	}
	qt->op = (struct store_op){ STORE_PUT, qt->tkey, qt->tval };
	if (!qos)
		goto out;
	if ((r = qos_spec_parse(qos, "qos", &req, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "endpoint %s: %s", full, why);
		goto out;
	}
	req.id = full;
	pool_of(d, t, v, qt->vdoc, pname, sizeof(pname), &pool);
	if (!pool.capacity) {
		r = CS_EINVAL;
		snprintf(err, errlen, "endpoint %s: vnet %s/%s has no capacity: it is not shaped and "
			 "takes no reservations; give the vnet a capacity (\"capacity\": \"1gbit\" in "
			 "its overlay file) first", full, t, v);
		goto out;
	}
	r = admission_check(&pool, cur, n, &req, &qt->use, why, sizeof(why));
	if (r == CS_EADMIT)
		snprintf(err, errlen, "endpoint %s: reservation refused: %s", full, why);
	else if (r < 0)
		snprintf(err, errlen, "endpoint %s: %s", full, why);
	goto out;
store_fail:
	snprintf(err, errlen, "endpoint %s: store: %s", full, cs_strerror(r));
out:
	store_kv_clear(&tok);
	free(cur);
	free(ids);
	return r;
}

int qos_usage(struct csd *d, const char *t, const char *v, const json_t *vdoc, const json_t *eps,
	      struct admission_usage *use)
{
	struct admission_pool pool;
	struct admission_resv req = { .id = "(usage)", .rate = 1, .cls = ADMISSION_BULK }, *cur;
	char prefix[KEY_MAX], pname[KEY_MAX + 8];
	const char *key;
	json_t *doc;
	size_t n = 0;
	int r;

	memset(use, 0, sizeof(*use));
	pool_of(d, t, v, vdoc, pname, sizeof(pname), &pool);
	if (!pool.capacity)
		return CS_EINVAL;
	snprintf(prefix, sizeof(prefix), "/endpoints/%s/%s/", t, v);
	if (!(cur = calloc(json_object_size(eps) + 1, sizeof(*cur))))
		return CS_ENOMEM;
	json_object_foreach((json_t *)eps, key, doc)
		if (ep_name(key, prefix) && resv_of(doc, key, &cur[n]))
			n++;
	/* a probe of one bit/s, never admitted: only the usage is wanted */
	r = admission_check(&pool, cur, n, &req, use, NULL, 0);
	free(cur);
	return r == CS_EINVAL ? r : 0;
}

int realize_vnet_qos(struct csd *d, const char *t, const char *v, const json_t *vdoc,
		     const json_t *eps, char *err, size_t errlen)
{
	const struct admission_resv **resv = NULL;
	struct admission_resv *store = NULL;
	struct admission_cap *caps = NULL;
	struct admission_pool pool;
	json_t *own_v = NULL, *own_e = NULL, *doc;
	const json_t **docs = NULL;
	const char **names = NULL;
	char prefix[KEY_MAX], pname[KEY_MAX + 8], why[512];
	const char *key;
	size_t n = 0;
	int r = 0, first = 0;

	if (!vdoc) {
		char vkey[KEY_MAX];
		key_vnet(vkey, t, v);
		if ((r = model_get(d, vkey, &own_v, NULL)) < 0) {
			if (r == CS_ENOENT)
				return 0;
			snprintf(err, errlen, "vnet %s/%s: store: %s", t, v, cs_strerror(r));
			return r;
		}
		vdoc = own_v;
	}
	snprintf(prefix, sizeof(prefix), "/endpoints/%s/%s/", t, v);
	if (!eps) {
		if ((r = model_list(d, prefix, &own_e, NULL)) < 0) {
			snprintf(err, errlen, "vnet %s/%s: store: %s", t, v, cs_strerror(r));
			goto out;
		}
		eps = own_e;
	}
	size_t max = json_object_size(eps) + 1;
	resv = calloc(max, sizeof(*resv));
	store = calloc(max, sizeof(*store));
	caps = calloc(max, sizeof(*caps));
	docs = calloc(max, sizeof(*docs));
	names = calloc(max, sizeof(*names));
	if (!resv || !store || !caps || !docs || !names) {
		r = CS_ENOMEM;
		snprintf(err, errlen, "vnet %s/%s: out of memory", t, v);
		goto out;
	}
	json_object_foreach((json_t *)eps, key, doc) {
		const char *name = ep_name(key, prefix);
		if (!name)
			continue;
		names[n] = name;
		docs[n] = doc;
		resv[n] = resv_of(doc, key, &store[n]) ? &store[n] : NULL;
		n++;
	}
	pool_of(d, t, v, vdoc, pname, sizeof(pname), &pool);
	bool shaped = pool.capacity && admission_caps(&pool, resv, n, caps, why, sizeof(why)) == 0;
	if (pool.capacity && !shaped)
		log_warn("vnet %s/%s: %s; its endpoints are left unshaped", t, v, why);
	for (size_t i = 0; i < n; i++) {
		struct vnet_qos q;
		if (!model_endpoint_local(d, docs[i]))
			continue;
		if (shaped)
			q = (struct vnet_qos){ caps[i].rate, caps[i].ceil, caps[i].burst,
					       (enum vnet_qos_class)caps[i].cls };
		int rr = d->backend->ops->endpoint_qos(d->backend, t, v, names[i],
						       shaped ? &q : NULL);
		if (rr < 0 && !first) {
			first = rr;
			snprintf(err, errlen, "endpoint %s/%s/%s: qos: %s", t, v, names[i],
				 vnet_backend_error(d->backend));
		}
	}
	r = first;
out:
	free(resv);
	free(store);
	free(caps);
	free(docs);
	free(names);
	json_decref(own_v);
	json_decref(own_e);
	return r;
}
