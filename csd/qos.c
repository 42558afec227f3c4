/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reservations in csd: admission in the store transaction, enforcement here. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qos.h"
#include "policy/authz.h"
#include "resources/qos_spec.h"
#include "resources/units.h"
#include "vnet/ipam.h"

void key_qos(char *buf, const char *t, const char *v)
{
	snprintf(buf, KEY_MAX, "/alloc/qos/%s/%s", t, v);
}

void qos_txn_clear(struct qos_txn *qt)
{
	json_decref(qt->vdoc);
	json_decref(qt->self);
	free(qt->cmps);
	for (size_t i = 0; i < qt->nep; i++)
		json_decref(qt->ep[i].doc);
	free(qt->ep);
	store_kvs_clear(&qt->eps);
	store_kvs_clear(&qt->more);
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

/*
 * Endpoint documents as parsed, by key and revision: a decision reads all
 * of a vnet's endpoints, and parsing them again each time was most of its
 * cost. A revision names one content of a key for good (the store never
 * reuses one), so an entry at the revision read is that document. Bounded:
 * emptied when it grows past PARSED_MAX (endpoints deleted leave entries).
 */
struct parsed {
	struct parsed *next;
	const struct csd *d;
	int64_t rev;
	json_t *doc;
	char key[];
};
#define PARSED_BUCKETS 4096
#define PARSED_MAX 200000
static struct parsed *parsed_tab[PARSED_BUCKETS];
static size_t parsed_n;

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static void parsed_flush(void)
{
	for (size_t b = 0; b < PARSED_BUCKETS; b++)
		while (parsed_tab[b]) {
			struct parsed *p = parsed_tab[b];
			parsed_tab[b] = p->next;
			json_decref(p->doc);
			free(p);
		}
	parsed_n = 0;
}

/* The document of @kv, parsed (a new reference), or NULL if it is not JSON. */
static json_t *parse_kv(const struct csd *d, const struct store_kv *kv)
{
	struct parsed **pp = &parsed_tab[hash_str(kv->key) % PARSED_BUCKETS], *p;

	for (p = *pp; p; p = p->next)
		if (p->d == d && !strcmp(p->key, kv->key))
			break;
	if (p && p->rev == kv->mod_rev)
		return json_incref(p->doc);
	json_t *doc = json_loads(kv->value, 0, NULL);
	if (!doc)
		return NULL;
	if (!p) {
		size_t l = strlen(kv->key) + 1;
		if (parsed_n >= PARSED_MAX) {
			parsed_flush();
			pp = &parsed_tab[hash_str(kv->key) % PARSED_BUCKETS];
		}
		if (!(p = calloc(1, sizeof(*p) + l)))
			return doc;
		p->d = d;
		memcpy(p->key, kv->key, l);
		p->next = *pp;
		*pp = p;
		parsed_n++;
	}
	json_decref(p->doc);
	p->doc = json_incref(doc);
	p->rev = kv->mod_rev;
	return doc;
}

/*
 * What admission read, valid at one store revision. A decision first reads
 * the store's revision: when it is the one this cache was filled at (or
 * brought to by qos_txn_committed(), applying our own transaction), every
 * get and list is answered from here, so a run of decisions by one csd
 * costs one read each instead of four. Whatever else writes moves the
 * revision and empties it. Correctness does not rest on it: the
 * transaction's compares still catch any change.
 */
#define RC_MAX 64
struct rc_entry {
	char *key;                /* the key, or the prefix of a list */
	bool list, found;
	struct store_kv kv;
	struct store_kvs kvs;
};
static struct {
	const struct csd *d;
	int64_t rev;              /* 0: nothing valid */
	struct rc_entry e[RC_MAX];
	size_t n;
} rc;

static void rc_clear(void)
{
	for (size_t i = 0; i < rc.n; i++) {
		free(rc.e[i].key);
		store_kv_clear(&rc.e[i].kv);
		store_kvs_clear(&rc.e[i].kvs);
	}
	rc.n = 0;
	rc.rev = 0;
	rc.d = NULL;
}

static int kv_copy(const struct store_kv *from, struct store_kv *to)
{
	*to = *from;
	to->key = strdup(from->key);
	to->value = from->value ? strdup(from->value) : NULL;
	if (!to->key || (from->value && !to->value)) {
		store_kv_clear(to);
		return CS_ENOMEM;
	}
	return 0;
}

static int kvs_copy(const struct store_kvs *from, struct store_kvs *to)
{
	to->n = 0;
	if (!(to->v = calloc(from->n + 1, sizeof(*to->v))))
		return CS_ENOMEM;
	for (; to->n < from->n; to->n++)
		if (kv_copy(&from->v[to->n], &to->v[to->n]) < 0) {
			store_kvs_clear(to);
			return CS_ENOMEM;
		}
	return 0;
}

/* Start a decision: the revision it reads at (0 if unknown). */
static int64_t rc_begin(struct csd *d)
{
	int64_t cur = 0;

	/* on a shared store (etcd) the revision moves with every node's
	 * writes and costs a round trip: read directly there */
	if (csd_store_shared(d) || store_revision(d->store, &cur) < 0 || cur <= 0) {
		rc_clear();
		return 0;
	}
	if (rc.d != d || rc.rev != cur) {
		rc_clear();
		rc.d = d;
		rc.rev = cur;
	}
	return cur;
}

static struct rc_entry *rc_find(struct csd *d, const char *key, bool list)
{
	if (rc.d != d || !rc.rev)
		return NULL;
	for (size_t i = 0; i < rc.n; i++)
		if (rc.e[i].list == list && !strcmp(rc.e[i].key, key))
			return &rc.e[i];
	return NULL;
}

static struct rc_entry *rc_add(struct csd *d, const char *key, bool list)
{
	if (rc.d != d || !rc.rev)
		return NULL;
	if (rc.n == RC_MAX) {
		int64_t rev = rc.rev;
		rc_clear();
		rc.d = d;
		rc.rev = rev;
	}
	struct rc_entry *e = &rc.e[rc.n];
	memset(e, 0, sizeof(*e));
	if (!(e->key = strdup(key)))
		return NULL;
	e->list = list;
	rc.n++;
	return e;
}

static int rc_get(struct csd *d, const char *key, struct store_kv *out)
{
	struct rc_entry *e = rc_find(d, key, false);
	int r;

	memset(out, 0, sizeof(*out));
	if (e)
		return e->found ? kv_copy(&e->kv, out) : CS_ENOENT;
	r = store_get(d->store, key, out);
	if ((r == 0 || r == CS_ENOENT) && (e = rc_add(d, key, false))) {
		e->found = r == 0;
		if (r == 0 && kv_copy(out, &e->kv) < 0)
			rc_clear();
	}
	return r;
}

static int rc_list(struct csd *d, const char *prefix, struct store_kvs *out)
{
	struct rc_entry *e = rc_find(d, prefix, true);
	int r;

	memset(out, 0, sizeof(*out));
	if (e)
		return kvs_copy(&e->kvs, out);
	r = store_list(d->store, prefix, out, NULL);
	if (r == 0 && (e = rc_add(d, prefix, true)) && kvs_copy(out, &e->kvs) < 0)
		rc_clear();
	return r;
}

/* Put (@value) or delete (NULL) @key in the list entry @e, kept sorted. */
static int rc_list_apply(struct rc_entry *e, const char *key, const char *value, int64_t rev)
{
	size_t i;

	for (i = 0; i < e->kvs.n && strcmp(e->kvs.v[i].key, key) < 0; i++)
		;
	bool there = i < e->kvs.n && !strcmp(e->kvs.v[i].key, key);
	if (!value) {
		if (there) {
			store_kv_clear(&e->kvs.v[i]);
			memmove(&e->kvs.v[i], &e->kvs.v[i + 1], (e->kvs.n - i - 1) * sizeof(e->kvs.v[0]));
			e->kvs.n--;
		}
		return 0;
	}
	char *v = strdup(value), *k = there ? NULL : strdup(key);
	if (!v || (!there && !k)) {
		free(v);
		free(k);
		return CS_ENOMEM;
	}
	if (there) {
		free(e->kvs.v[i].value);
		e->kvs.v[i].value = v;
		e->kvs.v[i].mod_rev = rev;
		return 0;
	}
	struct store_kv *nv = realloc(e->kvs.v, (e->kvs.n + 1) * sizeof(*nv));
	if (!nv) {
		free(v);
		free(k);
		return CS_ENOMEM;
	}
	e->kvs.v = nv;
	memmove(&nv[i + 1], &nv[i], (e->kvs.n - i) * sizeof(*nv));
	nv[i] = (struct store_kv){ k, v, rev, rev };
	e->kvs.n++;
	return 0;
}

void qos_txn_committed(struct csd *d, const struct qos_txn *qt, int64_t rev,
		       const struct store_op *ops, size_t nops)
{
	if (rc.d != d || !rc.rev || rc.rev != qt->read_rev || rev != qt->read_rev + 1) {
		rc_clear();
		return;
	}
	for (size_t o = 0; o < nops; o++) {
		const char *val = ops[o].type == STORE_PUT ? ops[o].value : NULL;
		for (size_t i = 0; i < rc.n; i++) {
			struct rc_entry *e = &rc.e[i];
			if (e->list) {
				if (!strncmp(ops[o].key, e->key, strlen(e->key)) &&
				    rc_list_apply(e, ops[o].key, val, rev) < 0) {
					rc_clear();
					return;
				}
			} else if (!strcmp(e->key, ops[o].key)) {
				int64_t cr = e->found ? e->kv.create_rev : rev;
				store_kv_clear(&e->kv);
				e->found = val != NULL;
				if (val) {
					struct store_kv kv = { (char *)ops[o].key, (char *)val, cr, rev };
					if (kv_copy(&kv, &e->kv) < 0) {
						rc_clear();
						return;
					}
				}
			}
		}
	}
	rc.rev = rev;
}

/* model_get() through the cache of parsed documents (read only). */
static int get_parsed(struct csd *d, const char *key, json_t **doc, int64_t *rev)
{
	struct store_kv kv = { 0 };
	int r = rc_get(d, key, &kv);

	*doc = NULL;
	if (r < 0)
		return r;
	*doc = parse_kv(d, &kv);
	if (rev)
		*rev = kv.mod_rev;
	store_kv_clear(&kv);
	return *doc ? 0 : CS_EIO;
}

/* Append compares of the admission keys of vnets @vkeys ("/vnets/T/V"),
 * each at the revision @have says ("/alloc/qos/T/V"; absent: 0). */
static int cmp_admission_keys(struct qos_txn *qt, const char *const *vkeys, size_t n,
			      const struct store_kvs *have)
{
	struct store_cmp *c = realloc(qt->cmps, (qt->ncmps + n) * sizeof(*c));
	size_t k = 0;

	if (!c)
		return CS_ENOMEM;
	qt->cmps = c;
	for (size_t i = 0; i < n; i++) {
		char want[KEY_MAX];
		int64_t rev = 0;
		snprintf(want, sizeof(want), "/alloc/qos/%s", vkeys[i] + 7);
		if (!strcmp(want, qt->tkey))
			continue;	/* compared already */
		/* both lists come sorted by key: look from the last match on */
		for (size_t m = 0; m < have->n; m++) {
			size_t j = (k + m) % have->n;
			if (!strcmp(have->v[j].key, want)) {
				rev = have->v[j].mod_rev;
				k = j;
				break;
			}
		}
		/* the key string must outlive the transaction: vkeys live in qt->more */
		qt->cmps[qt->ncmps++] = (struct store_cmp){ NULL, rev };
		char *kcopy = strdup(want);
		if (!kcopy)
			return CS_ENOMEM;
		/* kept in qt->more as a key without value, freed with it */
		struct store_kv *nv = realloc(qt->more.v, (qt->more.n + 1) * sizeof(*nv));
		if (!nv) {
			free(kcopy);
			return CS_ENOMEM;
		}
		qt->more.v = nv;
		qt->more.v[qt->more.n++] = (struct store_kv){ kcopy, NULL, 0, 0 };
		qt->cmps[qt->ncmps - 1].key = kcopy;
	}
	return 0;
}

/* The tenant's reserved bandwidth: all its endpoints' rates (but @skip's),
 * from "/endpoints/T/..." documents in @all (raw). */
static uint64_t tenant_reserved(const struct store_kvs *all, const char *skip_key)
{
	unsigned __int128 sum = 0;

	for (size_t i = 0; i < all->n; i++) {
		struct admission_resv rv;
		json_t *doc;
		if (!strcmp(all->v[i].key, skip_key) || !strstr(all->v[i].value, "\"qos\""))
			continue;
		if (!(doc = json_loads(all->v[i].value, 0, NULL)))
			continue;
		if (resv_of(doc, all->v[i].key, &rv))
			sum += rv.rate;
		json_decref(doc);
	}
	return sum > UINT64_MAX ? UINT64_MAX : (uint64_t)sum;
}

/*
 * The tenant's quotas.bandwidth: the rates of all its endpoints (E's
 * replaced by @req) must fit. Compares the admission keys of all the
 * tenant's vnets, so that concurrent raises in other vnets are decided one
 * after the other.
 */
static int check_tenant_quota(struct csd *d, const json_t *tdoc, const char *t, const char *ekey,
			      const struct admission_resv *req, struct qos_txn *qt, char *err,
			      size_t errlen)
{
	const json_t *lim = json_object_get(json_object_get(json_object_get(tdoc, "spec"),
							    "quotas"), "bandwidth");
	struct store_kvs eps = { 0 }, vnets = { 0 }, keys = { 0 };
	const char **vk = NULL;
	char prefix[KEY_MAX], a[32], b[32], c[32];
	uint64_t quota = 0;
	int r;

	if (!lim || qos_rate_value(lim, &quota, NULL, 0) < 0)
		return 0;
	snprintf(prefix, sizeof(prefix), "/alloc/qos/%s/", t);
	if ((r = rc_list(d, prefix, &keys)) < 0)
		goto store;
	snprintf(prefix, sizeof(prefix), "/vnets/%s/", t);
	if ((r = rc_list(d, prefix, &vnets)) < 0)
		goto store;
	snprintf(prefix, sizeof(prefix), "/endpoints/%s/", t);
	if ((r = rc_list(d, prefix, &eps)) < 0)
		goto store;
	if (!(vk = calloc(vnets.n + 1, sizeof(*vk)))) {
		r = CS_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < vnets.n; i++)
		vk[i] = vnets.v[i].key;
	if ((r = cmp_admission_keys(qt, vk, vnets.n, &keys)) < 0)
		goto out;
	/* E's own document is compared already (it is one of the vnet's); the
	 * others of the tenant may be lowered concurrently, never raised */
	uint64_t held = tenant_reserved(&eps, ekey);
	if ((unsigned __int128)held + req->rate > quota) {
		r = CS_EQUOTA;
		snprintf(err, errlen, "tenant %s: quotas.bandwidth of %s exceeded: its other "
			 "reservations hold %s and endpoint %s asks for %s; release a reservation "
			 "of the tenant, ask for less, or have an administrator raise the quota "
			 "(cs-ctl export > f.json, set tenants.%s.quotas.bandwidth higher there, "
			 "cs-ctl apply -f f.json)", t,
			 cs_rate_format(quota, a, sizeof(a)), cs_rate_format(held, b, sizeof(b)),
			 req->id, cs_rate_format(req->rate, c, sizeof(c)), t);
	}
	goto out;
store:
	snprintf(err, errlen, "tenant %s: store: %s", t, cs_strerror(r));
out:
	free(vk);
	store_kvs_clear(&eps);
	store_kvs_clear(&vnets);
	store_kvs_clear(&keys);
	return r;
}

/* the vnets of vnets (raw) that span node and others: their keys into vk,
 * their documents into vdocs (the caller frees them); returns how many */
static size_t vnets_leaving(const struct store_kvs *vnets, const char *node, const char **vk,
			    json_t **vdocs)
{
	size_t nv = 0;

	for (size_t i = 0; i < vnets->n; i++) {
		json_t *vd = json_loads(vnets->v[i].value, 0, NULL);
		const json_t *ns = json_object_get(json_object_get(vd, "spec"), "nodes");
		bool spans = false;
		size_t j;
		json_t *el;
		json_array_foreach(ns, j, el)
			spans |= json_is_string(el) && !strcmp(json_string_value(el), node);
		if (vd && spans && model_vnet_nnodes(vd) > 1) {
			vk[nv] = vnets->v[i].key;
			vdocs[nv++] = vd;
		} else {
			json_decref(vd);
		}
	}
	return nv;
}

/* the reservations an uplink holds, and whether the caller may see each */
struct uplink_held {
	struct admission_resv *cur;
	bool *vis;
	char (*ids)[KEY_MAX];
	size_t n;
};

/* endpoint document kv, when it reserves on node in one of the nv vnets
 * leaving it (and is not full, the request's own), into h */
static void uplink_note(struct uplink_held *h, const struct store_kv *kv, const char *node,
			const char *full, const struct principal *who, const json_t *tdocs,
			const char *const *vk, json_t *const *vdocs, size_t nv)
{
	const char *ek = kv->key + 11, *slash = strchr(ek, '/');
	size_t vi, n = h->n;

	slash = slash ? strchr(slash + 1, '/') : NULL;
	if (!slash || !strcmp(ek, full) || !strstr(kv->value, "\"qos\""))
		return;
	for (vi = 0; vi < nv; vi++)
		if (strlen(vk[vi] + 7) == (size_t)(slash - ek) &&
		    !strncmp(vk[vi] + 7, ek, (size_t)(slash - ek)))
			break;
	if (vi == nv)
		return;
	json_t *doc = json_loads(kv->value, 0, NULL);
	const char *en = json_string_value(json_object_get(doc, "node"));
	snprintf(h->ids[n], KEY_MAX, "%s", ek);
	if (en && !strcmp(en, node) && resv_of(doc, h->ids[n], &h->cur[n])) {
		char tk[KEY_MAX];
		snprintf(tk, sizeof(tk), "/tenants/%.*s", (int)(strchr(ek, '/') - ek), ek);
		/* without a caller: only the request's own vnet */
		size_t tvlen = (size_t)(strrchr(full, '/') - full) + 1;
		h->vis[n] = who ? authz_vnet(who, json_object_get(json_object_get(tdocs, tk), "spec"),
					     json_object_get(vdocs[vi], "spec"), AZ_SEE)
				: !strncmp(ek, full, tvlen);
		h->n++;
	}
	json_decref(doc);
}

/*
 * The uplink of node @node, when it declares one: the reserved endpoints
 * on it in vnets spanning more than one node (their traffic leaves the
 * node) must fit uplink less headroom. Compares the admission keys of all
 * those vnets.
 */
static int check_uplink(struct csd *d, const struct principal *who, const char *node,
			const char *full, const struct admission_resv *req, struct qos_txn *qt,
			char *err, size_t errlen)
{
	struct store_kvs vnets = { 0 }, keys = { 0 }, eps = { 0 };
	struct admission_resv *cur = NULL;
	bool *vis = NULL;
	const char **vk = NULL;
	json_t *ndoc = NULL, *tdocs = NULL;
	char nkey[KEY_MAX], pname[KEY_MAX + 16], why[512], holders[1024];
	char (*ids)[KEY_MAX] = NULL;
	size_t nv = 0, n = 0;
	int r;

	key_node(nkey, node);
	if ((r = model_get(d, nkey, &ndoc, NULL)) < 0)
		return r == CS_ENOENT ? 0 : r;
	struct admission_pool pool = { .name = pname, .headroom = d->cfg.headroom };
	const json_t *ul = json_object_get(json_object_get(ndoc, "spec"), "uplink");
	if (!ul || qos_rate_value(ul, &pool.capacity, NULL, 0) < 0 || !pool.capacity) {
		json_decref(ndoc);
		return 0;
	}
	snprintf(pname, sizeof(pname), "node %s uplink", node);
	if ((r = rc_list(d, "/alloc/qos/", &keys)) < 0 ||
	    (r = rc_list(d, "/vnets/", &vnets)) < 0 ||
	    (r = rc_list(d, "/endpoints/", &eps)) < 0 ||
	    (who && (r = model_list(d, "/tenants/", &tdocs, NULL)) < 0)) {
		snprintf(err, errlen, "%s: store: %s", pname, cs_strerror(r));
		goto out;
	}
	vk = calloc(vnets.n + 1, sizeof(*vk));
	cur = calloc(eps.n + 1, sizeof(*cur));
	vis = calloc(eps.n + 1, sizeof(*vis));
	ids = calloc(eps.n + 1, sizeof(*ids));
	if (!vk || !cur || !vis || !ids) {
		r = CS_ENOMEM;
		goto out;
	}
	/* the vnets whose traffic leaves the node: they span it and others */
	json_t **vdocs = calloc(vnets.n + 1, sizeof(*vdocs));
	if (!vdocs) {
		r = CS_ENOMEM;
		goto out;
	}
	nv = vnets_leaving(&vnets, node, vk, vdocs);
	struct uplink_held h = { cur, vis, ids, 0 };
	for (size_t i = 0; i < eps.n && nv; i++)
		uplink_note(&h, &eps.v[i], node, full, who, tdocs, vk, vdocs, nv);
	n = h.n;
	for (size_t i = 0; i < nv; i++)
		json_decref(vdocs[i]);
	free(vdocs);
	if ((r = cmp_admission_keys(qt, vk, nv, &keys)) < 0)
		goto out;
	struct admission_resv rq = *req;
	rq.id = full;
	struct admission_usage use;
	r = admission_check(&pool, cur, n, &rq, &use, why, sizeof(why));
	if (r == CS_EADMIT) {
		admission_holders(cur, n, vis, full, QOS_HOLDERS_MAX, holders, sizeof(holders));
		snprintf(err, errlen, "endpoint %s: reservation refused: %s (what its vnets spanning "
			 "several nodes reserve on node %s leaves the node)%s%s; release one or "
			 "raise the node's uplink", full, why, node, *holders ? "; " : "", holders);
	} else if (r < 0) {
		snprintf(err, errlen, "endpoint %s: %s", full, why);
	}
out:
	json_decref(ndoc);
	json_decref(tdocs);
	free(vk);
	free(cur);
	free(vis);
	free(ids);
	store_kvs_clear(&vnets);
	store_kvs_clear(&keys);
	store_kvs_clear(&eps);
	return r;
}

/* the vnet's endpoints as read into qt (E's document compared, E noted as
 * qt->self); their reservations into cur, returning how many */
static size_t note_eps(struct csd *d, struct qos_txn *qt, const char *t, const char *v,
		       const char *e, const char *prefix, struct admission_resv *cur)
{
	size_t n = 0;

	for (size_t i = 0; i < qt->eps.n; i++) {
		const char *name = ep_name(qt->eps.v[i].key, prefix);
		struct qos_ep *ep = &qt->ep[qt->nep];
		json_t *doc;

		if (!name)
			continue;
		/* E itself, so that the change is made on what was read; the
		 * others need no compare: whatever raises a reservation bumps
		 * the admission key, and what lowers one erred on the safe side */
		if (!strcmp(name, e))
			qt->cmps[qt->ncmps++] = (struct store_cmp){ qt->eps.v[i].key,
								    qt->eps.v[i].mod_rev };
		/* shared with the cache: read only */
		if (!(doc = parse_kv(d, &qt->eps.v[i])))
			continue;
		ep->name = name;
		ep->doc = doc;
		snprintf(ep->id, sizeof(ep->id), "%s/%s/%s", t, v, name);
		ep->has = resv_of(doc, ep->id, &ep->resv);
		if (ep->has)
			cur[n++] = ep->resv;
		if (!strcmp(name, e))
			qt->self = json_incref(doc);
		qt->nep++;
	}
	return n;
}

/* a raise of req (E's, at ekey) counts toward the tenant's bandwidth quota
 * and, in a vnet across nodes, toward the uplink of E's node */
static int admit_raise(struct csd *d, const struct principal *who, const json_t *tdoc,
		       const char *t, const char *node, const char *ekey,
		       const struct admission_resv *req, struct qos_txn *qt, char *err,
		       size_t errlen)
{
	json_t *own_t = NULL;
	int r;

	if (!tdoc) {
		char tk[KEY_MAX];
		key_tenant(tk, t);
		if ((r = get_parsed(d, tk, &own_t, NULL)) < 0) {
			snprintf(err, errlen, "endpoint %s: store: %s", req->id, cs_strerror(r));
			return r;
		}
		tdoc = own_t;
	}
	if ((r = check_tenant_quota(d, tdoc, t, ekey, req, qt, err, errlen)) < 0)
		goto out;
	if (model_vnet_nnodes(qt->vdoc) > 1) {
		const char *n2 = node ? node : json_string_value(json_object_get(qt->self, "node"));
		r = check_uplink(d, who, n2 ? n2 : d->cfg.node, req->id, req, qt, err, errlen);
	}
out:
	json_decref(own_t);
	return r;
}

/* keeping, lowering or releasing needs no serialising (qos.h): only E's
 * own document (at ekey) is compared, and the admission key is not bumped */
static void only_self(struct qos_txn *qt, const char *ekey)
{
	for (size_t i = 0; i < qt->ncmps; i++)
		if (!strcmp(qt->cmps[i].key, ekey)) {
			qt->cmps[0] = qt->cmps[i];
			qt->ncmps = 1;
			return;
		}
	qt->ncmps = 0;
}

int qos_admit_as(struct csd *d, const struct principal *who, const json_t *tdoc, const char *t,
		 const char *v, const char *e, const char *node, const json_t *qos,
		 struct qos_txn *qt, char *err, size_t errlen)
{
	struct admission_resv *cur = NULL, req;
	struct admission_pool pool;
	struct store_kv tok = { 0 };
	char prefix[KEY_MAX], pname[KEY_MAX + 8], full[KEY_MAX], ekey[KEY_MAX], why[512];
	char holders[1024];
	int64_t vrev = 0;
	size_t n = 0;
	int r;

	memset(qt, 0, sizeof(*qt));
	qt->read_rev = rc_begin(d);
	snprintf(full, sizeof(full), "%s/%s/%s", t, v, e);
	key_endpoint(ekey, t, v, e);
	key_vnet(qt->vkey, t, v);
	if ((r = get_parsed(d, qt->vkey, &qt->vdoc, &vrev)) < 0) {
		if (r == CS_ENOENT)
			snprintf(err, errlen, "endpoint %s: vnet %s/%s does not exist", full, t, v);
		else
			snprintf(err, errlen, "endpoint %s: store: %s", full, cs_strerror(r));
		return r;
	}
	key_qos(qt->tkey, t, v);
	r = rc_get(d, qt->tkey, &tok);
	if (r < 0 && r != CS_ENOENT)
		goto store_fail;
	snprintf(qt->tval, sizeof(qt->tval), "%" PRIu64,
		 (uint64_t)(r == 0 ? strtoull(tok.value, NULL, 10) : 0) + 1);
	snprintf(prefix, sizeof(prefix), "/endpoints/%s/%s/", t, v);
	if ((r = rc_list(d, prefix, &qt->eps)) < 0)
		goto store_fail;

	qt->cmps = calloc(qt->eps.n + 2, sizeof(*qt->cmps));
	qt->ep = calloc(qt->eps.n + 1, sizeof(*qt->ep));
	cur = calloc(qt->eps.n + 1, sizeof(*cur));
	if (!qt->cmps || !cur || !qt->ep) {
		r = CS_ENOMEM;
		snprintf(err, errlen, "endpoint %s: out of memory", full);
		goto out;
	}
	qt->cmps[qt->ncmps++] = (struct store_cmp){ qt->vkey, vrev };
	qt->cmps[qt->ncmps++] = (struct store_cmp){ qt->tkey, tok.key ? tok.mod_rev : 0 };
	n = note_eps(d, qt, t, v, e, prefix, cur);
	qt->op = (struct store_op){ STORE_PUT, qt->tkey, qt->tval };
	if (!qos)
		goto lowers;
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
	if (r == CS_EADMIT) {
		/* all of them are of this vnet: whoever may reserve here may see them */
		admission_holders(cur, n, NULL, full, QOS_HOLDERS_MAX, holders, sizeof(holders));
		snprintf(err, errlen, "endpoint %s: reservation refused: %s%s%s", full, why,
			 *holders ? "; " : "", holders);
		goto out;
	} else if (r < 0) {
		snprintf(err, errlen, "endpoint %s: %s", full, why);
		goto out;
	}
	/* raising what the endpoint holds counts toward the tenant and the uplink */
	uint64_t held = 0;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(cur[i].id, full))
			held = cur[i].rate;
	if (req.rate <= held)
		goto lowers;
	qt->raise = true;
	r = admit_raise(d, who, tdoc, t, node, ekey, &req, qt, err, errlen);
	goto out;
lowers:
	only_self(qt, ekey);
	goto out;
store_fail:
	snprintf(err, errlen, "endpoint %s: store: %s", full, cs_strerror(r));
out:
	store_kv_clear(&tok);
	free(cur);
	return r;
}

int qos_admit(struct csd *d, const char *t, const char *v, const char *e, const json_t *qos,
	      struct qos_txn *qt, char *err, size_t errlen)
{
	return qos_admit_as(d, NULL, NULL, t, v, e, NULL, qos, qt, err, errlen);
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

/*
 * What this csd last applied to each local endpoint (by any realize), so
 * that a reservation change calls the backend only for the caps that
 * changed. An entry is dropped when applying failed; a restarted csd
 * starts empty (everything is applied once). Keyed by csd, for tests that
 * run several in one process.
 */
struct applied {
	struct applied *next;
	const struct csd *d;
	bool shaped;
	struct vnet_qos q;
	char name[];              /* "T/V/E" */
};
#define APPLIED_BUCKETS 4096
static struct applied *applied_tab[APPLIED_BUCKETS];

static struct applied **applied_slot(const struct csd *d, const char *name)
{
	struct applied **pp = &applied_tab[hash_str(name) % APPLIED_BUCKETS];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->d == d && !strcmp((*pp)->name, name))
			break;
	return pp;
}

static bool qos_equal(const struct vnet_qos *a, const struct vnet_qos *b)
{
	return a->rate == b->rate && a->ceil == b->ceil && a->burst == b->burst && a->cls == b->cls;
}

/* Is @q (NULL: unshaped) what was last applied to @name? */
static bool applied_is(const struct csd *d, const char *name, const struct vnet_qos *q)
{
	struct applied *a = *applied_slot(d, name);

	return a && a->shaped == (q != NULL) && (!q || qos_equal(&a->q, q));
}

static void applied_set(const struct csd *d, const char *name, const struct vnet_qos *q, bool ok)
{
	struct applied **pp = applied_slot(d, name), *a = *pp;

	if (!ok) {
		if (a) {
			*pp = a->next;
			free(a);
		}
		return;
	}
	if (!a) {
		size_t l = strlen(name) + 1;
		if (!(a = calloc(1, sizeof(*a) + l)))
			return;	/* not remembered: applied again next time */
		a->d = d;
		memcpy(a->name, name, l);
		*pp = a;
	}
	a->shaped = q != NULL;
	if (q)
		a->q = *q;
}

/*
 * Apply the caps of vnet T/V's @n endpoints (@resv[i] NULL: unreserved) to
 * the local ones; @only_changed: skip those whose cap is what was last
 * applied. *@enforced (may be NULL) tells whether endpoint @watch's cap is
 * in place afterwards.
 */
static int apply_caps(struct csd *d, const char *t, const char *v, const json_t *vdoc, size_t n,
		      const char *const *names, const json_t *const *docs,
		      const struct admission_resv *const *resv, bool only_changed,
		      const char *watch, bool *enforced, char *err, size_t errlen)
{
	struct admission_cap *caps = calloc(n + 1, sizeof(*caps));
	struct admission_pool pool;
	char pname[KEY_MAX + 8], why[512], full[KEY_MAX];
	int first = 0;

	if (enforced)
		*enforced = false;
	if (!caps) {
		snprintf(err, errlen, "vnet %s/%s: out of memory", t, v);
		return CS_ENOMEM;
	}
	pool_of(d, t, v, vdoc, pname, sizeof(pname), &pool);
	struct vnet_backend *b = csd_backend_of(d, vdoc);
	bool shaped = pool.capacity && admission_caps(&pool, resv, n, caps, why, sizeof(why)) == 0;
	if (pool.capacity && !shaped)
		log_warn("vnet %s/%s: %s; its endpoints are left unshaped", t, v, why);
	for (size_t i = 0; i < n; i++) {
		struct vnet_qos q = { 0 };
		bool mine = watch && !strcmp(names[i], watch);
		if (!model_endpoint_local(d, docs[i]))
			continue;
		if (shaped)
			q = (struct vnet_qos){ caps[i].rate, caps[i].ceil, caps[i].burst,
					       (enum vnet_qos_class)caps[i].cls };
		snprintf(full, sizeof(full), "%s/%s/%s", t, v, names[i]);
		if (only_changed && applied_is(d, full, shaped ? &q : NULL)) {
			if (mine && enforced)
				*enforced = true;
			continue;
		}
		int rr = vb_endpoint_qos(b, t, v, names[i], shaped ? &q : NULL);
		applied_set(d, full, shaped ? &q : NULL, rr == 0);
		if (mine && enforced)
			*enforced = rr == 0;
		if (rr < 0 && !first) {
			first = rr;
			char what[3 * CS_NAME_MAX + 16];
			snprintf(what, sizeof(what), "endpoint %s", full);
			backend_why_of(b, what, err, errlen);
		}
	}
	free(caps);
	return first;
}

int realize_vnet_qos(struct csd *d, const char *t, const char *v, const json_t *vdoc,
		     const json_t *eps, char *err, size_t errlen)
{
	const struct admission_resv **resv = NULL;
	struct admission_resv *store = NULL;
	json_t *own_v = NULL, *own_e = NULL, *doc;
	const json_t **docs = NULL;
	const char **names = NULL;
	char prefix[KEY_MAX];
	const char *key;
	size_t n = 0;
	int r = 0;

	snprintf(prefix, sizeof(prefix), "/endpoints/%s/%s/", t, v);
	if ((r = model_vnet_docs(d, t, v, &vdoc, &eps, &own_v, &own_e, err, errlen)) != 0) {
		r = r > 0 ? 0 : r; /* a vnet gone has nothing to realize */
		goto out;
	}
	size_t max = json_object_size(eps) + 1;
	resv = calloc(max, sizeof(*resv));
	store = calloc(max, sizeof(*store));
	docs = calloc(max, sizeof(*docs));
	names = calloc(max, sizeof(*names));
	if (!resv || !store || !docs || !names) {
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
	r = apply_caps(d, t, v, vdoc, n, names, docs, resv, false, NULL, NULL, err, errlen);
	/* the reconciler passes here for every vnet: the node's uplink too,
	 * read at most once a second (the backend only when it changed) */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	static int64_t uplink_read_s = -1;
	char uerr[512];
	if (ts.tv_sec != uplink_read_s) {
		uplink_read_s = ts.tv_sec;
		if (realize_uplink_qos(d, NULL, false, uerr, sizeof(uerr)) < 0)
			log_warn("%s (the reconciler retries)", uerr);
	}
out:
	free(resv);
	free(store);
	free(docs);
	free(names);
	json_decref(own_v);
	json_decref(own_e);
	return r;
}

int qos_realize_changed(struct csd *d, const char *t, const char *v, const char *e,
			const struct qos_txn *qt, const json_t *self, bool *enforced, char *err,
			size_t errlen)
{
	const struct admission_resv **resv = calloc(qt->nep + 2, sizeof(*resv));
	struct admission_resv mine;
	const json_t **docs = calloc(qt->nep + 2, sizeof(*docs));
	const char **names = calloc(qt->nep + 2, sizeof(*names));
	char id[KEY_MAX];
	size_t n = 0;
	bool seen = false;
	int r;

	if (!resv || !docs || !names) {
		r = CS_ENOMEM;
		snprintf(err, errlen, "vnet %s/%s: out of memory", t, v);
		goto out;
	}
	snprintf(id, sizeof(id), "%s/%s/%s", t, v, e);
	for (size_t i = 0; i < qt->nep; i++) {
		if (!strcmp(qt->ep[i].name, e)) {
			seen = true;
			if (!self)
				continue;
			names[n] = e;
			docs[n] = self;
			resv[n++] = resv_of(self, id, &mine) ? &mine : NULL;
			continue;
		}
		names[n] = qt->ep[i].name;
		docs[n] = qt->ep[i].doc;
		resv[n++] = qt->ep[i].has ? &qt->ep[i].resv : NULL;
	}
	if (!seen && self) {
		names[n] = e;
		docs[n] = self;
		resv[n++] = resv_of(self, id, &mine) ? &mine : NULL;
	}
	r = apply_caps(d, t, v, qt->vdoc, n, names, docs, resv, true, e, enforced, err, errlen);
out:
	free(resv);
	free(docs);
	free(names);
	return r;
}

/* What the uplink shaping of this node was last set to, per csd. */
static struct {
	const struct csd *d;
	bool known;
	uint64_t bps;
} uplink_applied;

int realize_uplink_qos(struct csd *d, const json_t *ndoc, bool force, char *err, size_t errlen)
{
	const json_t *spec;
	json_t *own = NULL;
	struct cs_addr ul, *ulp = NULL;
	uint64_t bps = 0;
	char key[KEY_MAX];
	int r = 0;

	if (!vb_has_uplink_qos(d->backend))
		return 0;
	if (!ndoc) {
		key_node(key, d->cfg.node);
		if ((r = model_get(d, key, &own, NULL)) < 0 && r != CS_ENOENT) {
			snprintf(err, errlen, "node %s: store: %s", d->cfg.node, cs_strerror(r));
			return r;
		}
		ndoc = own;
	}
	spec = json_object_get(ndoc, "spec");
	if (json_is_true(json_object_get(spec, "uplink_shape")) &&
	    qos_rate_value(json_object_get(spec, "uplink"), &bps, NULL, 0) < 0)
		bps = 0;
	if (!json_is_true(json_object_get(spec, "uplink_shape")))
		bps = 0;
	const char *ua = d->cfg.underlay ? d->cfg.underlay
					 : json_string_value(json_object_get(spec, "underlay"));
	uint16_t uport;
	if (ua && cs_addr_port_parse(ua, CS_VXLAN_PORT, &ul, &uport) == 0)
		ulp = &ul;
	r = 0;
	if (!force && uplink_applied.d == d && uplink_applied.known && uplink_applied.bps == bps)
		goto out;
	/* nothing of ours can be there without an address to find it by */
	if (!ulp && !bps)
		goto out;
	if ((r = vb_uplink_qos(d->backend, ulp, bps)) < 0) {
		snprintf(err, errlen, "node %s: uplink shaping: %s", d->cfg.node,
			 vnet_backend_error(d->backend));
		uplink_applied.known = false;
		goto out;
	}
	uplink_applied.d = d;
	uplink_applied.known = true;
	uplink_applied.bps = bps;
out:
	json_decref(own);
	return r;
}
