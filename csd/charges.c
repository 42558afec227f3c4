/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What each uid that is not an administrator has created, in total across
 * tenants: a tenant's quotas bound what the tenant holds, but anyone may
 * create tenants, so without a bound per uid one user could fill a node
 * by creating tenant after tenant. Every object a non-administrator
 * creates (tenant, vnet, endpoint, ephemeral ones included) is charged to
 * its uid in the same transaction that creates it:
 *   /alloc/charge/UID/KIND/PATH  = "the object's key"
 *   /alloc/uid/UID               = a token every charge bumps, so that
 *                                  concurrent creations (other csd on the
 *                                  same store) are decided one at a time
 * and the object's document says "charged": UID, so that deleting it
 * deletes the charge in the same transaction. A check lists one uid's
 * charges of one kind (never more than its bound), not every tenant. A
 * charge whose object went by a path that did not remove it is found
 * when the uid reaches its bound and is dropped then.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "charges.h"
#include "model.h"

static const char *kind_of(const char *objkey)
{
	if (!strncmp(objkey, "/tenants/", 9))
		return "tenants";
	if (!strncmp(objkey, "/vnets/", 7))
		return "vnets";
	if (!strncmp(objkey, "/endpoints/", 11))
		return "endpoints";
	return NULL;
}

static size_t limit_of(const struct csd *d, const char *kind)
{
	const struct csd_limits *l = &d->cfg.limits;

	return !strcmp(kind, "tenants") ? l->tenants : !strcmp(kind, "vnets") ? l->vnets
									      : l->endpoints;
}

void charge_key(char out[KEY_MAX], uid_t uid, const char *objkey)
{
	snprintf(out, KEY_MAX, CHARGE_PREFIX "%u%s", (unsigned)uid, objkey);
}

void charge_token(char out[KEY_MAX], uid_t uid)
{
	snprintf(out, KEY_MAX, CHARGE_TOKEN "%u", (unsigned)uid);
}

/* Does the object a charge names still exist, charged to @uid? */
static bool charge_live(struct csd *d, uid_t uid, const char *value)
{
	json_t *k = json_loads(value, JSON_DECODE_ANY, NULL), *doc = NULL;
	bool live = false;

	if (json_is_string(k) && model_get(d, json_string_value(k), &doc, NULL) == 0)
		live = json_integer_value(json_object_get(doc, "charged")) == (json_int_t)uid;
	json_decref(doc);
	json_decref(k);
	return live;
}

/* Drop the charges in @kvs whose objects are gone; returns how many stay. */
static size_t prune(struct csd *d, uid_t uid, const struct store_kvs *kvs)
{
	struct store_op *ops = calloc(kvs->n + 1, sizeof(*ops));
	size_t n = 0, live = 0;

	for (size_t i = 0; i < kvs->n; i++) {
		if (charge_live(d, uid, kvs->v[i].value))
			live++;
		else if (ops)
			ops[n++] = (struct store_op){ STORE_DELETE, kvs->v[i].key, NULL };
	}
	if (n) {
		struct store_txn t = { NULL, 0, ops, n };
		if (store_txn(d->store, &t, NULL) == 0)
			log_info("uid %u: %zu charges of objects gone were dropped", (unsigned)uid, n);
	}
	free(ops);
	return live;
}

int charge_room(struct csd *d, const struct principal *who, const char *kind, size_t more,
		char *err, size_t errlen)
{
	char prefix[KEY_MAX];
	struct store_kvs kvs = { 0 };
	size_t max = limit_of(d, kind), n;
	int r;

	if (who->admin || !more)
		return 0;
	snprintf(prefix, sizeof(prefix), CHARGE_PREFIX "%u/%s/", (unsigned)principal_charged(who), kind);
	if ((r = store_list(d->store, prefix, &kvs, NULL)) < 0) {
		snprintf(err, errlen, "store: %s", cs_strerror(r));
		return r;
	}
	n = kvs.n;
	if (n + more > max)
		n = prune(d, principal_charged(who), &kvs);
	store_kvs_clear(&kvs);
	if (n + more <= max)
		return 0;
	snprintf(err, errlen, "uid %u has created %zu %s (in all tenants), and %zu more would pass "
		 "its bound of %zu (limits.%s in csd's configuration, for every uid that is not an "
		 "administrator); delete some, or have an administrator raise limits.%s", (unsigned)
		 principal_charged(who), n, kind, more, max, kind, kind);
	return CS_EQUOTA;
}

int charge_txn(struct csd *d, const struct principal *who, const char *objkey,
	       struct charge_txn *ch, char *err, size_t errlen)
{
	const char *kind = kind_of(objkey);
	struct store_kv kv = { 0 };
	int r;

	memset(ch, 0, sizeof(*ch));
	if (who->admin || !kind)
		return 0;
	if ((r = charge_room(d, who, kind, 1, err, errlen)) < 0)
		return r;
	charge_token(ch->tok, principal_charged(who));
	/* the token first: a charge committed after this read bumps it */
	r = store_get(d->store, ch->tok, &kv);
	if (r < 0 && r != CS_ENOENT) {
		snprintf(err, errlen, "store: %s", cs_strerror(r));
		return r;
	}
	ch->cmp = (struct store_cmp){ ch->tok, r == 0 ? kv.mod_rev : 0 };
	snprintf(ch->tokval, sizeof(ch->tokval), "%lld", (long long)(r == 0 ? kv.mod_rev + 1 : 1));
	store_kv_clear(&kv);
	charge_key(ch->key, principal_charged(who), objkey);
	snprintf(ch->val, sizeof(ch->val), "\"%s\"", objkey);
	ch->ops[0] = (struct store_op){ STORE_PUT, ch->tok, ch->tokval };
	ch->ops[1] = (struct store_op){ STORE_PUT, ch->key, ch->val };
	ch->active = true;
	return 0;
}

void charge_mark(json_t *doc, const struct principal *who)
{
	if (!who->admin)
		json_object_set_new(doc, "charged", json_integer((json_int_t)principal_charged(who)));
}

bool charge_of_doc(const char *objkey, const json_t *doc, char out[KEY_MAX])
{
	const json_t *u = json_object_get(doc, "charged");

	if (!json_is_integer(u) || !kind_of(objkey))
		return false;
	charge_key(out, (uid_t)json_integer_value(u), objkey);
	return true;
}

int charge_spec(const struct csd *d, const struct principal *who, const json_t *spec,
		char *err, size_t errlen)
{
	const struct csd_limits *l = &d->cfg.limits;
	size_t rules = json_array_size(json_object_get(json_object_get(spec, "policy"), "rules"));

	if (who->admin)
		return 0;
	if (rules > l->rules) {
		snprintf(err, errlen, "%zu rules, more than a uid that is not an administrator may "
			 "give a vnet (limits.rules, %zu in csd's configuration); use groups and "
			 "cidr: selectors to say the same in fewer, or ask an administrator", rules,
			 l->rules);
		return CS_EQUOTA;
	}
	char *text = json_dumps(spec, JSON_COMPACT);
	size_t len = text ? strlen(text) : 0;
	free(text);
	if (len > l->document) {
		snprintf(err, errlen, "its declaration takes %zu bytes, more than a uid that is not "
			 "an administrator may store in one object (limits.document, %zu in csd's "
			 "configuration)", len, l->document);
		return CS_EQUOTA;
	}
	return 0;
}
