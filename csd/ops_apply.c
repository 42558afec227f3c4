/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * apply (an overlay file, declaratively) and export (the declared state as
 * an overlay file).
 *
 * apply: the file is validated whole (overlay.c), then planned against one
 * reading of the store: for every tenant the file names, what to create,
 * change and delete so that afterwards it holds exactly what the file
 * declares. Allocated values are kept where the declaration allows (a vnet
 * without an id keeps its VNI, an endpoint without an address keeps its
 * addresses); new ones are the lowest free, counting what the same plan
 * frees and takes. The plan is committed in one store transaction that
 * compares every key it read and writes (0 for the keys it creates), so a
 * concurrent change makes it re-read and re-plan; a refused apply changes
 * nothing. Only then is this node made to match.
 *
 * Ephemeral endpoints (held by running programs) are not declared and not
 * touched, except that they go with their vnet when it is deleted or its
 * subnet changes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "apply.h"
#include "publish.h"
#include "charges.h"
#include "vni.h"
#include "ops.h"
#include "overlay.h"
#include "qos.h"
#include "policy.h"
#include "resources/qos_spec.h"
#include "resources/units.h"

#define APPLY_ATTEMPTS 8

/* ---- one reading of the store ---- */

struct snap {
	json_t *revs;    /* key -> mod_rev */
	json_t *tenants; /* T -> doc */
	json_t *vnets;   /* T -> {V -> doc} */
	json_t *eps;     /* "T/V" -> {E -> doc} */
	json_t *addrs;   /* "T/V" -> {ADDR -> E} */
	json_t *vnis;    /* "N" -> "T/V" */
	json_t *nodes;   /* N -> doc */
};

static void snap_clear(struct snap *s)
{
	json_decref(s->revs);
	json_decref(s->tenants);
	json_decref(s->vnets);
	json_decref(s->eps);
	json_decref(s->addrs);
	json_decref(s->vnis);
	json_decref(s->nodes);
	memset(s, 0, sizeof(*s));
}

/* o[k1][k2] = v (stolen), creating o[k1]. */
static void set2(json_t *o, const char *k1, const char *k2, json_t *v)
{
	json_t *in = json_object_get(o, k1);

	if (!in) {
		in = json_object();
		json_object_set_new(o, k1, in);
	}
	json_object_set_new(in, k2, v);
}

static int snap_load(struct csd *d, struct snap *s)
{
	static const char *const prefixes[] = { "/tenants/", "/vnets/", "/endpoints/", "/alloc/",
						"/nodes/" };
	int r = 0;

	memset(s, 0, sizeof(*s));
	s->revs = json_object();
	s->tenants = json_object();
	s->vnets = json_object();
	s->eps = json_object();
	s->addrs = json_object();
	s->vnis = json_object();
	s->nodes = json_object();
	if (!s->revs || !s->tenants || !s->vnets || !s->eps || !s->addrs || !s->vnis || !s->nodes)
		return CS_ENOMEM;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]) && r == 0; i++) {
		struct store_kvs kvs = { 0 };
		if ((r = store_list(d->store, prefixes[i], &kvs, NULL)) < 0)
			break;
		for (size_t j = 0; j < kvs.n; j++) {
			const char *key = kvs.v[j].key;
			char p[3][CS_NAME_MAX + 1], err[128], tv[2 * CS_NAME_MAX + 2];
			json_t *doc = json_loads(kvs.v[j].value, JSON_DECODE_ANY, NULL);

			if (!doc) {
				log_warn("store: %s does not hold JSON; apply ignores it", key);
				continue;
			}
			json_object_set_new(s->revs, key, json_integer(kvs.v[j].mod_rev));
			if (!strncmp(key, "/tenants/", 9) && cs_name_valid(key + 9)) {
				json_object_set_new(s->tenants, key + 9, doc);
			} else if (!strncmp(key, "/nodes/", 7) && cs_name_valid(key + 7)) {
				json_object_set_new(s->nodes, key + 7, doc);
			} else if (!strncmp(key, "/vnets/", 7) &&
				   cs_path_split(key + 7, 2, p, err, sizeof(err)) == 0) {
				set2(s->vnets, p[0], p[1], doc);
			} else if (!strncmp(key, "/endpoints/", 11) &&
				   cs_path_split(key + 11, 3, p, err, sizeof(err)) == 0) {
				snprintf(tv, sizeof(tv), "%s/%s", p[0], p[1]);
				set2(s->eps, tv, p[2], doc);
			} else if (!strncmp(key, "/alloc/vni/", 11)) {
				json_object_set_new(s->vnis, key + 11, doc);
			} else if (!strncmp(key, "/alloc/addr/", 12)) {
				/* /alloc/addr/T/V/ADDR: ADDR has no slash */
				const char *rest = key + 12, *last = strrchr(rest, '/');
				if (last && (size_t)(last - rest) < sizeof(tv)) {
					snprintf(tv, sizeof(tv), "%.*s", (int)(last - rest), rest);
					set2(s->addrs, tv, last + 1, doc);
				} else {
					json_decref(doc);
				}
			} else {
				json_decref(doc);
			}
		}
		store_kvs_clear(&kvs);
	}
	return r;
}

static int64_t snap_rev(const struct snap *s, const char *key)
{
	return json_integer_value(json_object_get(s->revs, key));
}

/* ---- the transaction, one entry per key ---- */

struct txe {
	char *key;
	char *value;   /* NULL: delete (when op) */
	bool op;       /* false: only compared */
	int64_t cmp;   /* mod_rev when read; 0: must not exist */
};

struct txb {
	struct txe *v;
	size_t n, cap;
	json_t *index; /* key -> position */
};

static void txb_clear(struct txb *tb)
{
	for (size_t i = 0; i < tb->n; i++) {
		free(tb->v[i].key);
		free(tb->v[i].value);
	}
	free(tb->v);
	json_decref(tb->index);
	memset(tb, 0, sizeof(*tb));
}

/* room for one more of size size after n in *v (capacity *cap), doubling */
static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? 2 * *cap : 64;
	void *nv = realloc(*v, size * c);
	if (!nv)
		return CS_ENOMEM;
	*v = nv;
	*cap = c;
	return 0;
}

static struct txe *txb_entry(struct txb *tb, const struct snap *s, const char *key)
{
	json_t *at;

	if (!tb->index && !(tb->index = json_object()))
		return NULL;
	if ((at = json_object_get(tb->index, key)))
		return &tb->v[json_integer_value(at)];
	if (grow((void **)&tb->v, &tb->cap, tb->n, sizeof(*tb->v)) < 0)
		return NULL;
	struct txe *e = &tb->v[tb->n];
	memset(e, 0, sizeof(*e));
	if (!(e->key = strdup(key)))
		return NULL;
	/* the first sight of a key is what the store held when it was read */
	e->cmp = snap_rev(s, key);
	json_object_set_new(tb->index, key, json_integer((json_int_t)tb->n));
	tb->n++;
	return e;
}

static int txb_cmp(struct txb *tb, const struct snap *s, const char *key)
{
	return txb_entry(tb, s, key) ? 0 : CS_ENOMEM;
}

static int txb_put(struct txb *tb, const struct snap *s, const char *key, const json_t *v)
{
	struct txe *e = txb_entry(tb, s, key);

	if (!e)
		return CS_ENOMEM;
	free(e->value);
	e->value = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	e->op = true;
	return e->value ? 0 : CS_ENOMEM;
}

static int txb_del(struct txb *tb, const struct snap *s, const char *key)
{
	struct txe *e = txb_entry(tb, s, key);

	if (!e)
		return CS_ENOMEM;
	free(e->value);
	e->value = NULL;
	e->op = true;
	return 0;
}

static size_t txb_nops(const struct txb *tb)
{
	size_t n = 0;

	for (size_t i = 0; i < tb->n; i++)
		n += tb->v[i].op;
	return n;
}

static int txb_commit(struct csd *d, const struct txb *tb)
{
	struct store_cmp *cmps = calloc(tb->n + 1, sizeof(*cmps));
	struct store_op *ops = calloc(tb->n + 1, sizeof(*ops));
	size_t nops = 0;
	int r = CS_ENOMEM;

	if (!cmps || !ops)
		goto out;
	for (size_t i = 0; i < tb->n; i++) {
		const struct txe *e = &tb->v[i];
		cmps[i] = (struct store_cmp){ e->key, e->cmp };
		if (!e->op)
			continue;
		/* deleting what is already absent is no change worth a compare fail */
		if (!e->value && !e->cmp)
			continue;
		ops[nops++] = (struct store_op){ e->value ? STORE_PUT : STORE_DELETE, e->key, e->value };
	}
	struct store_txn t = { cmps, tb->n, ops, nops };
	r = store_txn(d->store, &t, NULL);
out:
	free(cmps);
	free(ops);
	return r;
}

/* The ids a committed plan took and gave back, for vnet create's
 * allocator (vni.c). */
static void vni_note_txb(struct csd *d, const struct txb *tb)
{
	for (size_t i = 0; i < tb->n; i++) {
		const struct txe *e = &tb->v[i];
		if (e->op && !strncmp(e->key, "/alloc/vni/", 11))
			vni_note(d, (uint32_t)strtoul(e->key + 11, NULL, 10), e->value != NULL);
	}
}

/* ---- the plan ---- */

struct plan {
	struct csd_req *r;
	const struct overlay *ov;
	struct snap *s;
	struct txb tb;
	json_t *changes;        /* lines, "+ vnet acme/blue (...)" */
	size_t created, updated, deleted;
	json_t *down_eps;       /* "T/V/E" of local endpoints to tear down */
	json_t *down_vnets;     /* "T/V" */
	json_t *up_vnets;       /* "T/V" -> final doc, to realize */
	json_t *up_eps;         /* "T/V/E" -> final doc, to realize */
	json_t *vni_owner;      /* "N" -> "T/V" after the plan */
	json_t *vnet_eps;       /* "T/V" -> {E -> doc}: what each planned vnet holds after */
	json_t *refused;        /* T -> true: a tenant refused, whose vnets are not planned */
	json_t *charges;        /* kind -> [keys of the objects the plan creates] (charges.c) */
	bool ov_failed;         /* the file has errors already: plan only to find more */
	struct schema_errors errs;
	int code;               /* of the first error */
	int fatal;              /* ENOMEM and the like: stop at once */
	bool nodes_changed;     /* a node declaration: vnets' peers may change */
};

static void plan_clear(struct plan *pl)
{
	txb_clear(&pl->tb);
	json_decref(pl->changes);
	json_decref(pl->down_eps);
	json_decref(pl->down_vnets);
	json_decref(pl->up_vnets);
	json_decref(pl->up_eps);
	json_decref(pl->vni_owner);
	json_decref(pl->vnet_eps);
	json_decref(pl->refused);
	json_decref(pl->charges);
	schema_errors_clear(&pl->errs);
	struct csd_req *r = pl->r;
	const struct overlay *ov = pl->ov;
	struct snap *s = pl->s;
	bool ov_failed = pl->ov_failed;
	memset(pl, 0, sizeof(*pl));
	pl->r = r;
	pl->ov = ov;
	pl->s = s;
	pl->ov_failed = ov_failed;
}

static int plan_init(struct plan *pl)
{
	pl->changes = json_array();
	pl->down_eps = json_array();
	pl->down_vnets = json_array();
	pl->up_vnets = json_object();
	pl->up_eps = json_object();
	pl->vni_owner = json_deep_copy(pl->s->vnis);
	pl->vnet_eps = json_object();
	pl->refused = json_object();
	pl->charges = json_pack("{s:[], s:[], s:[]}", "tenants", "vnets", "endpoints");
	if (!pl->changes || !pl->down_eps || !pl->down_vnets || !pl->up_vnets || !pl->up_eps ||
	    !pl->vni_owner || !pl->vnet_eps || !pl->refused || !pl->charges)
		return CS_ENOMEM;
	return 0;
}

static void plan_error(struct plan *pl, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void plan_error(struct plan *pl, int code, const char *fmt, ...)
{
	va_list ap;
	char *m;

	va_start(ap, fmt);
	int n = vasprintf(&m, fmt, ap);
	va_end(ap);
	if (n < 0) {
		pl->fatal = CS_ENOMEM;
		return;
	}
	schema_errors_add(&pl->errs, "%s", m);
	free(m);
	if (!pl->code)
		pl->code = code;
}

static void plan_change(struct plan *pl, char kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void plan_change(struct plan *pl, char kind, const char *fmt, ...)
{
	va_list ap;
	char line[2048];

	line[0] = kind;
	line[1] = ' ';
	va_start(ap, fmt);
	vsnprintf(line + 2, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	json_array_append_new(pl->changes, json_string(line));
	if (kind == '+')
		pl->created++;
	else if (kind == '~')
		pl->updated++;
	else
		pl->deleted++;
}

/* A value as a person reads it: strings bare, lists comma-joined. */
static void value_text(const json_t *v, char *out, size_t len)
{
	size_t i, off = 0;
	json_t *el;

	if (!v) {
		snprintf(out, len, "(unset)");
	} else if (json_is_string(v)) {
		snprintf(out, len, "%s", json_string_value(v));
	} else if (json_is_array(v) && json_array_size(v) == 0) {
		snprintf(out, len, "[]");
	} else if (json_is_array(v)) {
		*out = '\0';
		json_array_foreach(v, i, el) {
			char one[256];
			value_text(el, one, sizeof(one));
			off += (size_t)snprintf(out + off, off < len ? len - off : 0, "%s%s",
						i ? "," : "", one);
			if (off >= len)
				break;
		}
	} else {
		char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		snprintf(out, len, "%s", t ? t : "?");
		free(t);
	}
}

static void append(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Append to the string in @out; a line of a plan may be cut short. */
static void append(char *out, size_t len, const char *fmt, ...)
{
	size_t off = strlen(out);
	va_list ap;

	if (off + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(out + off, len - off, fmt, ap);
	va_end(ap);
}

/* "mtu 1450 -> 1400; owners.uids 1000 -> 1000,1001" for what differs. */
static void diff_text(const json_t *old, const json_t *new, const char *prefix, char *out,
		      size_t len)
{
	const char *key;
	json_t *v;

	for (int pass = 0; pass < 2; pass++) {
		json_object_foreach((json_t *)(pass ? new : old), key, v) {
			const json_t *a = json_object_get(old, key), *b = json_object_get(new, key);
			char path[256], ta[512], tb[512];
			if (pass && a)
				continue; /* seen in the first pass */
			if (json_equal((json_t *)a, (json_t *)b))
				continue;
			snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", key);
			if (json_is_object(a) && json_is_object(b)) {
				diff_text(a, b, path, out, len);
				continue;
			}
			value_text(a, ta, sizeof(ta));
			value_text(b, tb, sizeof(tb));
			append(out, len, "%s%s %s -> %s", *out ? "; " : "", path, ta, tb);
		}
	}
}

static bool is_local(struct plan *pl, const json_t *edoc)
{
	return model_endpoint_local(pl->r->d, edoc);
}

/* What a deleted object was charged to its creator goes with it. */
static void plan_uncharge(struct plan *pl, const char *key, const json_t *doc)
{
	char ck[KEY_MAX];

	if (charge_of_doc(key, doc, ck) && txb_del(&pl->tb, pl->s, ck) < 0)
		pl->fatal = CS_ENOMEM;
}

static void plan_delete_endpoint(struct plan *pl, const char *t, const char *v, const char *e,
				 const json_t *doc, const char *why)
{
	char key[KEY_MAX], full[3 * CS_NAME_MAX + 3];
	size_t i;
	json_t *a;

	key_endpoint(key, t, v, e);
	if (txb_del(&pl->tb, pl->s, key) < 0) {
		pl->fatal = CS_ENOMEM;
		return;
	}
	plan_uncharge(pl, key, doc);
	json_array_foreach(json_object_get(doc, "addresses"), i, a) {
		if (!json_is_string(a))
			continue;
		key_addr(key, t, v, json_string_value(a));
		if (txb_del(&pl->tb, pl->s, key) < 0)
			pl->fatal = CS_ENOMEM;
	}
	snprintf(full, sizeof(full), "%s/%s/%s", t, v, e);
	plan_change(pl, '-', "endpoint %s%s", full, why);
	if (is_local(pl, doc))
		json_array_append_new(pl->down_eps, json_string(full));
}

static void plan_delete_vnet(struct plan *pl, const char *t, const char *v, const json_t *vdoc)
{
	char key[KEY_MAX], tv[2 * CS_NAME_MAX + 2], ik[32];
	const char *name;
	json_t *doc;

	snprintf(tv, sizeof(tv), "%s/%s", t, v);
	json_object_foreach(json_object_get(pl->s->eps, tv), name, doc)
		plan_delete_endpoint(pl, t, v, name, doc,
				     json_is_true(json_object_get(doc, "ephemeral")) ?
					     " (ephemeral; its vnet is deleted)" : "");
	/* addresses nobody holds any more go too */
	json_object_foreach(json_object_get(pl->s->addrs, tv), name, doc) {
		key_addr(key, t, v, name);
		if (txb_del(&pl->tb, pl->s, key) < 0)
			pl->fatal = CS_ENOMEM;
	}
	key_vnet(key, t, v);
	if (txb_del(&pl->tb, pl->s, key) < 0)
		pl->fatal = CS_ENOMEM;
	plan_uncharge(pl, key, vdoc);
	key_qos(key, t, v);
	if (snap_rev(pl->s, key) && txb_del(&pl->tb, pl->s, key) < 0)
		pl->fatal = CS_ENOMEM;
	json_int_t id = json_integer_value(json_object_get(vdoc, "id"));
	if (id > 0) {
		snprintf(ik, sizeof(ik), "%" JSON_INTEGER_FORMAT, id);
		const char *owner = json_string_value(json_object_get(pl->vni_owner, ik));
		if (owner && !strcmp(owner, tv)) {
			key_vni(key, (uint32_t)id);
			if (txb_del(&pl->tb, pl->s, key) < 0)
				pl->fatal = CS_ENOMEM;
			json_object_del(pl->vni_owner, ik);
		}
	}
	plan_change(pl, '-', "vnet %s", tv);
	json_array_append_new(pl->down_vnets, json_string(tv));
}

static void plan_delete_tenant(struct plan *pl, const char *t)
{
	char key[KEY_MAX];
	const char *v, *e;
	json_t *doc, *eps;

	json_object_foreach(json_object_get(pl->s->vnets, t), v, doc)
		plan_delete_vnet(pl, t, v, doc);
	/* endpoints whose vnet document is gone: nothing should hold them */
	json_object_foreach(pl->s->eps, v, eps) {
		char p[2][CS_NAME_MAX + 1], err[128];
		if (cs_path_split(v, 2, p, err, sizeof(err)) < 0 || strcmp(p[0], t) ||
		    json_object_get(json_object_get(pl->s->vnets, t), p[1]))
			continue;
		json_object_foreach(eps, e, doc)
			plan_delete_endpoint(pl, p[0], p[1], e, doc, "");
	}
	key_tenant(key, t);
	if (txb_del(&pl->tb, pl->s, key) < 0)
		pl->fatal = CS_ENOMEM;
	plan_uncharge(pl, key, json_object_get(pl->s->tenants, t));
	plan_change(pl, '-', "tenant %s", t);
}

/* The tenant's spec as it will be stored: owners default as tenant.create
 * does for a new tenant, and stay as they are for an existing one. */
static json_t *tenant_spec(const json_t *declared, const json_t *old_spec, uid_t uid)
{
	json_t *s = json_deep_copy(declared), *owners;

	if (!s)
		return NULL;
	if (!(owners = json_object_get(s, "owners"))) {
		const json_t *oo = json_object_get(old_spec, "owners");
		owners = oo ? json_deep_copy(oo)
			    : json_pack("{s:[I], s:[]}", "uids", (json_int_t)uid, "gids");
		json_object_set_new(s, "owners", owners);
	}
	if (!json_object_get(owners, "uids"))
		json_object_set_new(owners, "uids", json_array());
	if (!json_object_get(owners, "gids"))
		json_object_set_new(owners, "gids", json_array());
	return s;
}

/* A new object @doc at @key: charged to its creator (charges.c). */
static void plan_charge(struct plan *pl, const char *kind, const char *key, json_t *doc)
{
	if (pl->r->who->admin)
		return;
	charge_mark(doc, pl->r->who);
	if (json_array_append_new(json_object_get(pl->charges, kind), json_string(key)) < 0)
		pl->fatal = CS_ENOMEM;
}

/* The new objects fit the creator's bounds; their charges join the
 * transaction, and the creator's token is bumped. */
static void plan_charges(struct plan *pl)
{
	const struct principal *who = pl->r->who;
	char key[KEY_MAX], err[512];
	const char *kind;
	json_t *keys, *k;
	size_t i, total = 0;

	json_object_foreach(pl->charges, kind, keys) {
		if (charge_room(pl->r->d, who, kind, json_array_size(keys), err, sizeof(err)) < 0)
			plan_error(pl, CS_EQUOTA, "%s", err);
		json_array_foreach(keys, i, k) {
			charge_key(key, principal_charged(who), json_string_value(k));
			if (txb_put(&pl->tb, pl->s, key, k) < 0)
				pl->fatal = CS_ENOMEM;
		}
		total += json_array_size(keys);
	}
	if (!total)
		return;
	charge_token(key, principal_charged(who));
	json_t *tok = json_integer((json_int_t)snap_rev(pl->s, key) + 1);
	if (!tok || txb_put(&pl->tb, pl->s, key, tok) < 0)
		pl->fatal = CS_ENOMEM;
	json_decref(tok);
}

static void plan_tenant(struct plan *pl, const struct overlay_tenant *ot)
{
	const struct principal *who = pl->r->who;
	const json_t *old = json_object_get(pl->s->tenants, ot->name);
	const json_t *old_spec = json_object_get(old, "spec");
	char key[KEY_MAX], why[256];
	json_t *spec, *doc;

	key_tenant(key, ot->name);
	/* a refused tenant's vnets are not planned: what they hold is not
	 * the caller's to learn */
	if (old && !authz_visible(who, old_spec, NULL)) {
		json_object_set_new(pl->refused, ot->name, json_true());
		if (ot->spec)
			plan_error(pl, CS_EEXIST, "tenant %s: already exists", ot->name);
		else if (!pl->ov_failed) /* else overlay_load said it */
			plan_error(pl, CS_ENOENT, "tenant %s: no such tenant", ot->name);
		return;
	}
	if (old && !req_may(pl->r, old_spec, NULL)) {
		json_object_set_new(pl->refused, ot->name, json_true());
		plan_error(pl, CS_EPERM, "tenant %s: permission denied for uid %u (ask an owner of "
			   "the tenant or an administrator)", ot->name, (unsigned)who->uid);
		return;
	}
	if (!ot->spec) {
		/* named only by its vnets: its own declaration stays */
		if (!old) {
			json_object_set_new(pl->refused, ot->name, json_true());
			if (!pl->ov_failed)
				plan_error(pl, CS_ENOENT, "tenant %s: no such tenant", ot->name);
		} else if (txb_cmp(&pl->tb, pl->s, key) < 0) {
			pl->fatal = CS_ENOMEM;
		}
		return;
	}
	if (!json_is_object(ot->spec)) {
		json_object_set_new(pl->refused, ot->name, json_true());
		return; /* reported by overlay_load */
	}
	if (!(spec = tenant_spec(ot->spec, old_spec, who->uid))) {
		pl->fatal = CS_ENOMEM;
		return;
	}
	/* quotas are the administrators': anyone else's file keeps them (or,
	 * for a new tenant, gets the configured default) and may not change
	 * them */
	if (!who->admin) {
		const json_t *was = old ? json_object_get(old_spec, "quotas") :
					  pl->r->d->cfg.default_quotas;
		const json_t *q = json_object_get(spec, "quotas");
		if (q && !authz_quotas(who, was, q, why, sizeof(why))) {
			json_object_set_new(pl->refused, ot->name, json_true());
			plan_error(pl, CS_EPERM, "tenants.%s.quotas: %s", ot->name, why);
			json_decref(spec);
			return;
		}
		if (!q && was)
			json_object_set_new(spec, "quotas", json_deep_copy(was));
	}
	if (old && json_equal(spec, (json_t *)old_spec)) {
		if (txb_cmp(&pl->tb, pl->s, key) < 0)
			pl->fatal = CS_ENOMEM;
		json_decref(spec);
		return;
	}
	const json_t *owners = json_object_get(spec, "owners");
	if ((!old || !json_equal((json_t *)owners, json_object_get(old_spec, "owners"))) &&
	    !authz_tenant_create(who, owners, why, sizeof(why))) {
		json_object_set_new(pl->refused, ot->name, json_true());
		plan_error(pl, CS_EPERM, "tenants.%s.owners: %s", ot->name, why);
		json_decref(spec);
		return;
	}
	doc = old ? json_deep_copy(old) : json_object();
	json_object_set(doc, "spec", spec);
	if (!old)
		plan_charge(pl, "tenants", key, doc);
	if (txb_put(&pl->tb, pl->s, key, doc) < 0)
		pl->fatal = CS_ENOMEM;
	if (!old) {
		plan_change(pl, '+', "tenant %s", ot->name);
	} else {
		char diff[1024] = "";
		diff_text(old_spec, spec, "", diff, sizeof(diff));
		plan_change(pl, '~', "tenant %s: %s", ot->name, diff);
	}
	json_decref(doc);
	json_decref(spec);
}

/* ---- nodes ---- */

/* Nodes are declared like tenants: those the file names become exactly as
 * declared, the others stay (--prune deletes them). They are the machines
 * of the installation, so only administrators change them. */
static void plan_nodes(struct plan *pl, bool prune)
{
	const struct overlay *ov = pl->ov;
	const bool admin = authz_admin(pl->r->who);
	char key[KEY_MAX], diff[1024];
	const char *name;
	json_t *doc;

	for (size_t i = 0; i < ov->nnodes; i++) {
		const struct overlay_node *on = &ov->nodes[i];
		const json_t *old = json_object_get(pl->s->nodes, on->name);
		const json_t *old_spec = json_object_get(old, "spec");

		key_node(key, on->name);
		if (old && json_equal((json_t *)old_spec, (json_t *)on->spec)) {
			if (txb_cmp(&pl->tb, pl->s, key) < 0)
				pl->fatal = CS_ENOMEM;
			continue;
		}
		if (!admin) {
			plan_error(pl, CS_EPERM, "nodes.%s: only administrators may declare or change "
				   "nodes (uid %u is not one)", on->name, (unsigned)pl->r->who->uid);
			continue;
		}
		doc = old ? json_deep_copy(old) : json_object();
		json_object_set(doc, "spec", (json_t *)on->spec);
		if (txb_put(&pl->tb, pl->s, key, doc) < 0)
			pl->fatal = CS_ENOMEM;
		json_decref(doc);
		if (!old) {
			plan_change(pl, '+', "node %s (%s)", on->name,
				    json_string_value(json_object_get(on->spec, "underlay")) ?: "");
		} else {
			diff[0] = '\0';
			diff_text(old_spec, on->spec, "", diff, sizeof(diff));
			plan_change(pl, '~', "node %s: %s", on->name, diff);
		}
		pl->nodes_changed = true;
	}
	if (!prune)
		return;
	json_object_foreach(pl->s->nodes, name, doc) {
		if (overlay_node_find(ov, name))
			continue;
		key_node(key, name);
		if (txb_del(&pl->tb, pl->s, key) < 0)
			pl->fatal = CS_ENOMEM;
		plan_change(pl, '-', "node %s", name);
		pl->nodes_changed = true;
	}
}

/* ---- vnets: ids ---- */

struct vplan {
	const struct overlay_vnet *ov;
	const json_t *old;  /* the stored document, or NULL */
	uint32_t old_id, id;
};

static void vni_key(char *buf, size_t len, uint32_t id)
{
	snprintf(buf, len, "%u", id);
}

static void plan_ids(struct plan *pl, struct vplan *vp, size_t n)
{
	char ik[32], tv[2 * CS_NAME_MAX + 2];

	/* ids given up first, so that two vnets may swap theirs */
	for (size_t i = 0; i < n; i++) {
		if (!vp[i].old_id || !vp[i].ov->id || vp[i].ov->id == vp[i].old_id)
			continue;
		vni_key(ik, sizeof(ik), vp[i].old_id);
		json_object_del(pl->vni_owner, ik);
	}
	for (size_t i = 0; i < n; i++) {
		const struct overlay_vnet *ov = vp[i].ov;
		uint32_t want = ov->id ? ov->id : vp[i].old_id;
		if (!want)
			continue;
		snprintf(tv, sizeof(tv), "%s/%s", ov->tenant, ov->name);
		vni_key(ik, sizeof(ik), want);
		const char *owner = json_string_value(json_object_get(pl->vni_owner, ik));
		if (owner && strcmp(owner, tv)) {
			plan_error(pl, CS_EEXIST, "vnets.\"%s\".id: %u is already used by another "
				   "vnet; choose another or leave id out", tv, want);
			continue;
		}
		json_object_set_new(pl->vni_owner, ik, json_string(tv));
		vp[i].id = want;
	}
	/* then the lowest free for the rest */
	uint32_t next = 1;
	for (size_t i = 0; i < n; i++) {
		if (vp[i].id || vp[i].ov->id)
			continue;
		for (;; next++) {
			if (next > 16777215) {
				plan_error(pl, CS_ENOSPC, "vnets.\"%s/%s\": no free VNI left",
					   vp[i].ov->tenant, vp[i].ov->name);
				return;
			}
			vni_key(ik, sizeof(ik), next);
			if (!json_object_get(pl->vni_owner, ik))
				break;
		}
		snprintf(tv, sizeof(tv), "%s/%s", vp[i].ov->tenant, vp[i].ov->name);
		json_object_set_new(pl->vni_owner, ik, json_string(tv));
		vp[i].id = next++;
	}
}

/* ---- vnets: endpoints and addresses ---- */

struct eplan {
	const struct overlay_endpoint *oe;
	const json_t *old;
	bool has[2];             /* by subnet index */
	struct cs_addr addr[2];
};

struct used {
	struct cs_addr *v;
	size_t n, cap;
	json_t *owner;           /* address text -> endpoint name */
	json_t *index;           /* address text -> true: every one in v */
};

static int used_add(struct used *u, const struct cs_addr *a)
{
	char buf[CS_ADDRSTRLEN];

	if (grow((void **)&u->v, &u->cap, u->n, sizeof(*u->v)) < 0)
		return CS_ENOMEM;
	if ((!u->index && !(u->index = json_object())) ||
	    json_object_set_new(u->index, cs_addr_format(a, buf), json_true()) < 0)
		return CS_ENOMEM;
	u->v[u->n++] = *a;
	return 0;
}

static bool used_has(const struct used *u, const struct cs_addr *a)
{
	char buf[CS_ADDRSTRLEN];

	return json_object_get(u->index, cs_addr_format(a, buf)) != NULL;
}

static bool same_subnets(const json_t *old, const struct overlay_vnet *ov)
{
	struct cs_prefix p[2];
	int n = model_vnet_subnets(old, p);

	if (n != ov->nsubnets)
		return false;
	for (int i = 0; i < n; i++) {
		bool found = false;
		for (int j = 0; j < ov->nsubnets; j++)
			if (p[i].plen == ov->subnets[j].plen &&
			    !cs_addr_cmp(&p[i].addr, &ov->subnets[j].addr))
				found = true;
		if (!found)
			return false;
	}
	return true;
}

static json_t *addr_list(const struct eplan *ep, int nsub)
{
	json_t *a = json_array();
	char buf[CS_ADDRSTRLEN];

	for (int k = 0; a && k < nsub; k++)
		if (ep->has[k])
			json_array_append_new(a, json_string(cs_addr_format(&ep->addr[k], buf)));
	return a;
}

static bool in_list(const json_t *list, const char *s)
{
	size_t i;
	json_t *el;

	json_array_foreach(list, i, el)
		if (json_is_string(el) && !strcmp(json_string_value(el), s))
			return true;
	return false;
}

/* The endpoints still without an address of subnet @k get the lowest free
 * ones, in file order, all found in one pass over what is used. */
static void plan_allocate(struct plan *pl, const struct overlay_vnet *ov, struct eplan *ep,
			  struct used *u, const char *tv, int k)
{
	char buf[CS_ADDRSTRLEN];
	size_t want = 0, got = 0;
	struct cs_addr *free_;

	for (size_t i = 0; i < ov->nendpoints; i++)
		want += !ep[i].has[k];
	if (!want)
		return;
	if (!(free_ = calloc(want, sizeof(*free_)))) {
		pl->fatal = CS_ENOMEM;
		return;
	}
	/* as many as there are, when fewer than wanted: the first without
	 * one is named */
	while (want > 0 && ipam_alloc_many(&ov->subnets[k], u->v, u->n, free_, want) < 0)
		want = want > 64 ? want / 2 : want - 1;
	for (size_t i = 0; i < ov->nendpoints; i++) {
		if (ep[i].has[k])
			continue;
		if (got == want) {
			plan_error(pl, CS_ENOSPC, "vnets.\"%s\".subnet: no free address left in %s "
				   "for endpoints.%s; use a larger subnet", tv,
				   cs_prefix_format(&ov->subnets[k], buf), ep[i].oe->name);
			break;
		}
		ep[i].addr[k] = free_[got++];
		ep[i].has[k] = true;
		if (used_add(u, &ep[i].addr[k]) < 0)
			pl->fatal = CS_ENOMEM;
	}
	free(free_);
}

/* Assign each declared endpoint its addresses: fixed ones, then the ones
 * it keeps, then the lowest free. */
static void plan_addresses(struct plan *pl, const struct overlay_vnet *ov, struct eplan *ep,
			   struct used *u, const char *tv)
{
	char buf[CS_ADDRSTRLEN], path[512];

	for (size_t i = 0; i < ov->nendpoints; i++) {
		for (int k = 0; k < ov->nsubnets; k++) {
			int f = ov->subnets[k].addr.family == AF_INET ? OV_V4 : OV_V6;
			if (!ep[i].oe->has_fixed[f])
				continue;
			const struct cs_addr *a = &ep[i].oe->fixed[f];
			cs_addr_format(a, buf);
			if (used_has(u, a)) {
				snprintf(path, sizeof(path), "vnets.\"%s\".endpoints.%s.address", tv,
					 ep[i].oe->name);
				plan_error(pl, CS_EEXIST, "%s: %s is already used by endpoint %s/%s "
					   "(not declared in the file: an ephemeral endpoint of a "
					   "running program); choose another address", path, buf, tv,
					   json_string_value(json_object_get(u->owner, buf)) ?: "?");
				continue;
			}
			if (used_add(u, a) < 0)
				pl->fatal = CS_ENOMEM;
			ep[i].has[k] = true;
			ep[i].addr[k] = *a;
		}
	}
	for (size_t i = 0; i < ov->nendpoints; i++) {
		size_t j;
		json_t *el;
		json_array_foreach(json_object_get(ep[i].old, "addresses"), j, el) {
			struct cs_addr a;
			char err[256];
			if (!json_is_string(el) || cs_addr_parse(json_string_value(el), &a) < 0)
				continue;
			for (int k = 0; k < ov->nsubnets; k++) {
				if (ep[i].has[k] || ov->subnets[k].addr.family != a.family ||
				    ipam_check_fixed(&ov->subnets[k], &a, err, sizeof(err)) < 0 ||
				    used_has(u, &a))
					continue;
				if (used_add(u, &a) < 0)
					pl->fatal = CS_ENOMEM;
				ep[i].has[k] = true;
				ep[i].addr[k] = a;
			}
		}
	}
	for (int k = 0; k < ov->nsubnets; k++)
		plan_allocate(pl, ov, ep, u, tv, k);
}

/*
 * What the vnet will hold must fit its capacity less the headroom: the
 * reservations of the ephemeral endpoints it keeps first, then the declared
 * ones in file order (a refusal names the first that does not fit). When a
 * reservation is added or changed, the plan writes the vnet's admission key
 * and compares every endpoint of the vnet it read, so that it and
 * concurrent reservations are decided one after the other (qos.h).
 */
static void plan_admission(struct plan *pl, const struct overlay_vnet *ov, const json_t *olds,
			   const json_t *keep, const char *tv, bool vchanged)
{
	struct admission_pool pool = { 0 };
	struct admission_resv *cur = calloc(ov->nendpoints + json_object_size(keep) + 1,
					    sizeof(*cur));
	char (*ids)[3 * CS_NAME_MAX + 3] = calloc(ov->nendpoints + json_object_size(keep) + 1,
						  sizeof(*ids));
	char pname[2 * CS_NAME_MAX + 8], why[512], key[KEY_MAX];
	const char *name;
	json_t *doc;
	size_t n = 0;
	bool changed = vchanged;

	if (!cur || !ids) {
		pl->fatal = CS_ENOMEM;
		goto out;
	}
	snprintf(pname, sizeof(pname), "vnet %s", tv);
	pool.name = pname;
	pool.capacity = qos_capacity(ov->spec);
	pool.headroom = pl->r->d->cfg.headroom;
	json_object_foreach((json_t *)keep, name, doc) {
		const json_t *q = json_object_get(json_object_get(doc, "spec"), "qos");
		if (!q)
			continue;
		if (!pool.capacity) {
			plan_error(pl, CS_EINVAL, "vnets.\"%s\": the ephemeral endpoint %s/%s of a "
				   "running program holds a reservation, so the vnet needs a "
				   "capacity; keep one or release the reservation first", tv, tv,
				   name);
			continue;
		}
		snprintf(ids[n], sizeof(ids[n]), "%s/%s", tv, name);
		if (qos_spec_parse(q, "qos", &cur[n], NULL, 0) == 0) {
			cur[n].id = ids[n];
			n++;
		}
	}
	for (size_t i = 0; i < ov->nendpoints; i++) {
		const json_t *q = json_object_get(ov->endpoints[i].spec, "qos");
		const json_t *old = json_object_get(olds, ov->endpoints[i].name);
		struct admission_usage use;

		const json_t *oq = json_object_get(json_object_get(old, "spec"), "qos");
		if ((q || oq) && !json_equal((json_t *)q, (json_t *)oq))
			changed = true;
		if (!q || !pool.capacity ||
		    qos_spec_parse(q, "qos", &cur[n], NULL, 0) < 0)
			continue; /* no capacity: reported by overlay_load */
		snprintf(ids[n], sizeof(ids[n]), "%s/%s", tv, ov->endpoints[i].name);
		cur[n].id = ids[n];
		if (admission_check(&pool, cur, n, &cur[n], &use, why, sizeof(why)) < 0) {
			plan_error(pl, CS_EADMIT, "vnets.\"%s\".endpoints.%s.qos: reservation refused: "
				   "%s", tv, ov->endpoints[i].name, why);
			continue;
		}
		n++;
	}
	if (!pool.capacity || !changed)
		goto out;
	key_qos(key, ov->tenant, ov->name);
	json_t *tok = json_integer((json_int_t)snap_rev(pl->s, key) + 1);
	if (txb_put(&pl->tb, pl->s, key, tok) < 0)
		pl->fatal = CS_ENOMEM;
	json_decref(tok);
	json_object_foreach((json_t *)olds, name, doc) {
		key_endpoint(key, ov->tenant, ov->name, name);
		if (txb_cmp(&pl->tb, pl->s, key) < 0)
			pl->fatal = CS_ENOMEM;
	}
out:
	free(cur);
	free(ids);
}

/* the vnet's own document: who may span it, what it is charged, the line
 * the plan prints and its store write; returns the document to write */
static json_t *plan_vnet_doc(struct plan *pl, const struct vplan *vp, const char *tv,
			     bool subnet_changed, bool *vchanged)
{
	const struct overlay_vnet *ov = vp->ov;
	const json_t *old = vp->old;
	char key[KEY_MAX], buf[CS_ADDRSTRLEN], why[512];
	json_t *vdoc;

	key_vnet(key, ov->tenant, ov->name);
	/* one owner per VNI: across nodes without a shared store, the
	 * administrators' (policy/authz.h) */
	if (!authz_vnet_span(pl->r->who, csd_store_shared(pl->r->d), json_object_get(old, "spec"),
			     ov->spec, why, sizeof(why)))
		plan_error(pl, CS_EPERM, "vnets.\"%s\".nodes: %s", tv, why);
	if (charge_spec(pl->r->d, pl->r->who, ov->spec, why, sizeof(why)) < 0)
		plan_error(pl, CS_EQUOTA, "vnets.\"%s\": %s", tv, why);
	vdoc = old ? json_deep_copy(old) : json_object();
	if (!vdoc)
		return NULL;
	json_object_set(vdoc, "spec", ov->spec);
	json_object_set_new(vdoc, "id", json_integer(vp->id));
	if (!old)
		plan_charge(pl, "vnets", key, vdoc);
	*vchanged = !old || !json_equal(vdoc, (json_t *)old);
	if (!old) {
		char subs[160] = "";
		for (int k = 0; k < ov->nsubnets; k++)
			snprintf(subs + strlen(subs), sizeof(subs) - strlen(subs), ", %s",
				 cs_prefix_format(&ov->subnets[k], buf));
		plan_change(pl, '+', "vnet %s (id %u%s)", tv, vp->id, subs);
	} else if (*vchanged) {
		char diff[1024] = "";
		diff_text(json_object_get(old, "spec"), ov->spec, "", diff, sizeof(diff));
		if (vp->id != vp->old_id && !strstr(diff, "id "))
			snprintf(diff + strlen(diff), sizeof(diff) - strlen(diff), "%sid %u -> %u",
				 *diff ? "; " : "", vp->old_id, vp->id);
		plan_change(pl, '~', "vnet %s: %s%s", tv, diff,
			    subnet_changed ? " (its endpoints are re-addressed)" : "");
	}
	if ((*vchanged ? txb_put(&pl->tb, pl->s, key, vdoc) : txb_cmp(&pl->tb, pl->s, key)) < 0)
		pl->fatal = CS_ENOMEM;
	return vdoc;
}

/* the VNI's owner key moves with the vnet's id */
static void plan_vni_owner(struct plan *pl, const struct vplan *vp, const char *tv)
{
	char key[KEY_MAX];

	if (vp->id == vp->old_id)
		return;
	if (vp->old_id) {
		char ik[32];
		vni_key(ik, sizeof(ik), vp->old_id);
		key_vni(key, vp->old_id);
		/* unless another vnet of this plan took it over */
		if (!json_object_get(pl->vni_owner, ik) && txb_del(&pl->tb, pl->s, key) < 0)
			pl->fatal = CS_ENOMEM;
	}
	json_t *owner = json_string(tv);
	key_vni(key, vp->id);
	if (txb_put(&pl->tb, pl->s, key, owner) < 0)
		pl->fatal = CS_ENOMEM;
	json_decref(owner);
}

/* endpoints that exist: declared ones are planned by plan_endpoint (ep[i].old
 * set here); the others go, except ephemeral ones while the subnet stays,
 * which land in keep */
static void plan_existing_endpoints(struct plan *pl, const struct overlay_vnet *ov,
				    struct eplan *ep, const json_t *olds, json_t *keep,
				    const char *tv, bool subnet_changed)
{
	const char *name;
	json_t *doc;
	size_t i;

	json_object_foreach((json_t *)olds, name, doc) {
		bool eph = json_is_true(json_object_get(doc, "ephemeral"));
		bool declared = false;
		for (i = 0; i < ov->nendpoints; i++)
			if (!strcmp(ov->endpoints[i].name, name)) {
				declared = true;
				ep[i].old = doc;
			}
		if (eph && declared) {
			plan_error(pl, CS_EEXIST, "vnets.\"%s\".endpoints.%s: endpoint %s/%s is an "
				   "ephemeral endpoint of a running program; choose another name",
				   tv, name, tv, name);
			continue;
		}
		if (eph && !subnet_changed) {
			json_object_set(keep, name, doc);
			continue;
		}
		if (!declared)
			plan_delete_endpoint(pl, ov->tenant, ov->name, name, doc,
					     eph ? " (ephemeral; its vnet's subnet changed)" : "");
	}
	for (i = 0; i < ov->nendpoints; i++) {
		if (ep[i].old && json_is_true(json_object_get(ep[i].old, "ephemeral")))
			ep[i].old = NULL; /* refused above */
		ep[i].oe = &ov->endpoints[i];
	}
}

/* addresses held by what the plan does not re-address */
static void plan_held_addresses(struct plan *pl, struct used *u, const json_t *olds,
				const json_t *keep, const char *tv)
{
	char buf[CS_ADDRSTRLEN];
	const char *name;
	json_t *el;

	json_object_foreach(json_object_get(pl->s->addrs, tv), name, el) {
		const char *holder = json_string_value(el);
		json_t *hdoc = holder ? json_object_get(olds, holder) : NULL;
		struct cs_addr a;
		if (hdoc && !json_object_get(keep, holder))
			continue; /* re-addressed or deleted by this plan */
		if (cs_addr_parse(name, &a) < 0)
			continue;
		if (used_add(u, &a) < 0)
			pl->fatal = CS_ENOMEM;
		json_object_set_new(u->owner, cs_addr_format(&a, buf), json_string(holder ?: "?"));
	}
}

/* allocation keys that endpoints give up: deleted before any is taken, so
 * that one endpoint's old address may become another's */
static void plan_released_addresses(struct plan *pl, const struct overlay_vnet *ov,
				    const struct eplan *ep)
{
	char key[KEY_MAX];
	json_t *el;

	for (size_t i = 0; i < ov->nendpoints; i++) {
		json_t *now = addr_list(&ep[i], ov->nsubnets);
		size_t j;
		json_array_foreach(json_object_get(ep[i].old, "addresses"), j, el) {
			if (!json_is_string(el) || in_list(now, json_string_value(el)))
				continue;
			key_addr(key, ov->tenant, ov->name, json_string_value(el));
			if (txb_del(&pl->tb, pl->s, key) < 0)
				pl->fatal = CS_ENOMEM;
		}
		json_decref(now);
	}
}

/* the line the plan prints for one declared endpoint */
static void plan_endpoint_change(struct plan *pl, const struct eplan *ep, const json_t *edoc,
				 const json_t *now, const char *full, const char *node)
{
	char addrs[256], diff[1024] = "", was[256];

	value_text(now, addrs, sizeof(addrs));
	if (!ep->old) {
		plan_change(pl, '+', "endpoint %s (%s)", full, addrs);
		return;
	}
	if (json_equal((json_t *)edoc, (json_t *)ep->old))
		return;
	diff_text(json_object_get(ep->old, "spec"), ep->oe->spec, "", diff, sizeof(diff));
	if (!json_equal((json_t *)now, json_object_get(ep->old, "addresses"))) {
		value_text(json_object_get(ep->old, "addresses"), was, sizeof(was));
		snprintf(diff + strlen(diff), sizeof(diff) - strlen(diff),
			 "%saddresses %s -> %s", *diff ? "; " : "", was, addrs);
	}
	if (!*diff)
		snprintf(diff, sizeof(diff), "node %s", node);
	plan_change(pl, '~', "endpoint %s: %s", full, diff);
}

/* one declared endpoint: the addresses it takes, its document, and whether
 * this node brings it up or down; after collects what the vnet holds */
static void plan_endpoint(struct plan *pl, const struct overlay_vnet *ov, const struct eplan *ep,
			  const char *tv, bool vchanged, json_t *after)
{
	const struct overlay_endpoint *oe = ep->oe;
	json_t *now = addr_list(ep, ov->nsubnets), *edoc, *el;
	json_t *ename = json_string(oe->name);
	char full[3 * CS_NAME_MAX + 3], key[KEY_MAX], ekey[KEY_MAX];
	size_t j;

	snprintf(full, sizeof(full), "%s/%s", tv, oe->name);
	json_array_foreach(now, j, el) {
		if (in_list(json_object_get(ep->old, "addresses"), json_string_value(el)))
			continue;
		key_addr(key, ov->tenant, ov->name, json_string_value(el));
		if (txb_put(&pl->tb, pl->s, key, ename) < 0)
			pl->fatal = CS_ENOMEM;
	}
	json_decref(ename);
	const char *node = oe->node ? oe->node : pl->r->d->cfg.node;
	if (ep->old)
		edoc = json_deep_copy(ep->old);
	else
		edoc = json_pack("{s:I, s:b}", "owner", (json_int_t)pl->r->who->uid,
				 "ephemeral", 0);
	json_object_set(edoc, "spec", (json_t *)oe->spec);
	json_object_set(edoc, "addresses", now);
	json_object_set_new(edoc, "node", json_string(node));
	key_endpoint(ekey, ov->tenant, ov->name, oe->name);
	if (!ep->old)
		plan_charge(pl, "endpoints", ekey, edoc);
	json_object_set(after, oe->name, edoc);
	plan_endpoint_change(pl, ep, edoc, now, full, node);
	bool echanged = !ep->old || !json_equal(edoc, (json_t *)ep->old);
	if ((echanged ? txb_put(&pl->tb, pl->s, ekey, edoc) : 0) < 0)
		pl->fatal = CS_ENOMEM;
	if ((echanged || vchanged) && is_local(pl, edoc))
		json_object_set(pl->up_eps, full, edoc);
	else if (echanged && ep->old && is_local(pl, ep->old))
		json_array_append_new(pl->down_eps, json_string(full)); /* moved away */
	json_decref(edoc);
	json_decref(now);
}

/* An endpoint's netns and ifname are fixed as for set (ops_set.c): only
 * endpoint create attaches a namespace, checked and opened as its caller;
 * a file that adds, changes or drops them would make csd treat a namespace
 * of its own as someone else's, or a container's as its own. */
static void plan_attach_fixed(struct plan *pl, const struct eplan *ep, size_t n, const char *tv)
{
	static const char *const keys[] = { "netns", "ifname" };

	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < 2; k++) {
			const json_t *was = json_object_get(json_object_get(ep[i].old, "spec"),
							    keys[k]);
			const json_t *is = json_object_get(ep[i].oe->spec, keys[k]);
			if ((was || is) && !(was && is && json_equal(was, is)))
				plan_error(pl, CS_EINVAL, "vnets.\"%s\".endpoints.%s.%s: %s; keep it "
					   "as it is (attach a namespace with cs-ctl endpoint create "
					   "T/V/E netns PATH, and delete the endpoint to detach it)",
					   tv, ep[i].oe->name, keys[k], ep[i].old ? "cannot change "
					   "on an endpoint that exists" : "an endpoint a file declares "
					   "cannot attach a namespace");
		}
}

static void plan_vnet(struct plan *pl, const struct vplan *vp)
{
	const struct overlay_vnet *ov = vp->ov;
	char tv[2 * CS_NAME_MAX + 2];
	struct eplan *ep = calloc(ov->nendpoints + 1, sizeof(*ep));
	struct used u = { 0 };
	json_t *vdoc = NULL, *olds = NULL, *keep = NULL, *after = NULL;
	const char *name;
	json_t *doc;
	size_t i, nerrs = pl->errs.n;
	bool vchanged = false;

	snprintf(tv, sizeof(tv), "%s/%s", ov->tenant, ov->name);
	if (!ep || !(u.owner = json_object()) || !(keep = json_object()) ||
	    !(after = json_object())) {
		pl->fatal = CS_ENOMEM;
		goto out;
	}
	olds = json_object_get(pl->s->eps, tv);
	bool subnet_changed = vp->old && !same_subnets(vp->old, ov);

	if (!(vdoc = plan_vnet_doc(pl, vp, tv, subnet_changed, &vchanged))) {
		pl->fatal = CS_ENOMEM;
		goto out;
	}
	plan_vni_owner(pl, vp, tv);
	plan_existing_endpoints(pl, ov, ep, olds, keep, tv, subnet_changed);
	plan_held_addresses(pl, &u, olds, keep, tv);
	plan_attach_fixed(pl, ep, ov->nendpoints, tv);
	plan_addresses(pl, ov, ep, &u, tv);
	if (pl->errs.n > nerrs || pl->fatal)
		goto out;
	plan_released_addresses(pl, ov, ep);
	for (i = 0; i < ov->nendpoints; i++)
		plan_endpoint(pl, ov, &ep[i], tv, vchanged, after);
	/* what the vnet holds afterwards, on every node: its policy tests
	 * name any of them */
	json_object_foreach(keep, name, doc)
		json_object_set(after, name, doc);
	if (json_object_set(pl->vnet_eps, tv, after) < 0)
		pl->fatal = CS_ENOMEM;
	plan_admission(pl, ov, olds, keep, tv, vchanged);
	/* a changed vnet (mtu, id) reaches the ephemeral endpoints it keeps */
	if (vchanged) {
		json_object_foreach(keep, name, doc) {
			char full[3 * CS_NAME_MAX + 3];
			snprintf(full, sizeof(full), "%s/%s", tv, name);
			if (is_local(pl, doc))
				json_object_set(pl->up_eps, full, doc);
		}
	}
	if (vchanged || ov->nendpoints)
		json_object_set(pl->up_vnets, tv, vdoc);
out:
	json_decref(vdoc);
	json_decref(keep);
	json_decref(after);
	json_decref(u.owner);
	json_decref(u.index);
	free(u.v);
	free(ep);
}

/*
 * Tenant quotas (quotas.vnets, quotas.endpoints, quotas.bandwidth) hold for
 * what each tenant of the file holds afterwards: its declared vnets and
 * endpoints, plus the ephemeral endpoints (and their reservations) of
 * running programs in the vnets it keeps. The quotas are the tenant's as
 * the file declares it, else as stored. The first object over a limit is
 * named. The plan compares the tenant's quota key and its vnets' admission
 * keys, which every concurrent creation and raise bumps (policy.h, qos.h).
 */
/* what a tenant's running programs hold in the vnets the file declares:
 * their ephemeral endpoints and reservations, there already */
static void quota_kept(struct plan *pl, const char *t, json_int_t *ne, unsigned __int128 *bw)
{
	const struct overlay *ov = pl->ov;

	for (size_t i = 0; i < ov->nvnets; i++) {
		char tv[2 * CS_NAME_MAX + 2];
		const char *name;
		json_t *doc;
		if (strcmp(ov->vnets[i].tenant, t))
			continue;
		snprintf(tv, sizeof(tv), "%s/%s", t, ov->vnets[i].name);
		json_object_foreach(json_object_get(pl->s->eps, tv), name, doc) {
			struct admission_resv rv;
			if (!json_is_true(json_object_get(doc, "ephemeral")))
				continue;
			(*ne)++;
			if (qos_spec_parse(json_object_get(json_object_get(doc, "spec"), "qos"),
					   "qos", &rv, NULL, 0) == 0)
				*bw += rv.rate;
		}
	}
}

/* a tenant's quotas as the plan checks them */
struct quota_limits {
	const json_t *vnets, *endpoints;  /* integers, or not set */
	uint64_t bandwidth;
	bool has_bandwidth;
};

/* the declared vnets and endpoints of tenant t counted against its limits,
 * after what it keeps; the first object over each limit is named */
static void quota_declared(struct plan *pl, const char *t, const struct quota_limits *q,
			   json_int_t ne, unsigned __int128 bw)
{
	const struct overlay *ov = pl->ov;
	const json_t *qv = q->vnets, *qe = q->endpoints;
	json_int_t nv = 0;
	bool over_v = false, over_e = false, over_b = false;
	char a[32], b[32];

	for (size_t i = 0; i < ov->nvnets; i++) {
		const struct overlay_vnet *v = &ov->vnets[i];
		if (strcmp(v->tenant, t))
			continue;
		if (json_is_integer(qv) && ++nv > json_integer_value(qv) && !over_v) {
			over_v = true;
			plan_error(pl, CS_EQUOTA, "vnets.\"%s/%s\": tenant %s: quota of %"
				   JSON_INTEGER_FORMAT " vnets exceeded (the file declares more); "
				   "declare fewer or raise quotas.vnets", t, v->name, t,
				   json_integer_value(qv));
		}
		for (size_t k = 0; k < v->nendpoints; k++) {
			const char *en = v->endpoints[k].name;
			struct admission_resv rv;
			if (json_is_integer(qe) && ++ne > json_integer_value(qe) && !over_e) {
				over_e = true;
				plan_error(pl, CS_EQUOTA, "vnets.\"%s/%s\".endpoints.%s: tenant %s: "
					   "quota of %" JSON_INTEGER_FORMAT " endpoints exceeded "
					   "(with the ephemeral endpoints it keeps); declare fewer "
					   "or raise quotas.endpoints", t, v->name, en, t,
					   json_integer_value(qe));
			}
			if (!q->has_bandwidth ||
			    qos_spec_parse(json_object_get(v->endpoints[k].spec, "qos"), "qos", &rv,
					   NULL, 0) < 0)
				continue;
			bw += rv.rate;
			if (bw > q->bandwidth && !over_b) {
				over_b = true;
				plan_error(pl, CS_EQUOTA, "vnets.\"%s/%s\".endpoints.%s.qos: tenant "
					   "%s: quotas.bandwidth of %s exceeded: the reservations "
					   "up to this one hold %s; reserve less or raise "
					   "quotas.bandwidth", t, v->name, en, t,
					   cs_rate_format(q->bandwidth, a, sizeof(a)),
					   cs_rate_format(bw > UINT64_MAX ? UINT64_MAX : (uint64_t)bw,
							  b, sizeof(b)));
			}
		}
	}
}

/* decided against concurrent creations and raises in the tenant: they
 * compare the quota key, so it is bumped; a bandwidth quota also compares
 * the admission key of each vnet the tenant holds or declares */
static void quota_keys(struct plan *pl, const char *t, bool bandwidth)
{
	const struct overlay *ov = pl->ov;
	char key[KEY_MAX];

	snprintf(key, sizeof(key), "/alloc/quota/%s", t);
	json_t *tok = json_integer((json_int_t)snap_rev(pl->s, key) + 1);
	if (!tok || txb_put(&pl->tb, pl->s, key, tok) < 0)
		pl->fatal = CS_ENOMEM;
	json_decref(tok);
	if (!bandwidth)
		return;
	const char *vn;
	json_t *vd;
	json_object_foreach(json_object_get(pl->s->vnets, t), vn, vd) {
		key_qos(key, t, vn);
		if (txb_cmp(&pl->tb, pl->s, key) < 0)
			pl->fatal = CS_ENOMEM;
	}
	for (size_t i = 0; i < ov->nvnets; i++) {
		if (strcmp(ov->vnets[i].tenant, t))
			continue;
		key_qos(key, t, ov->vnets[i].name);
		if (txb_cmp(&pl->tb, pl->s, key) < 0)
			pl->fatal = CS_ENOMEM;
	}
}

static void plan_quotas(struct plan *pl)
{
	const struct overlay *ov = pl->ov;

	for (size_t ti = 0; ti < ov->ntenants; ti++) {
		const char *t = ov->tenants[ti].name;
		const json_t *spec = ov->tenants[ti].spec;
		if (json_object_get(pl->refused, t))
			continue;
		if (!spec)
			spec = json_object_get(json_object_get(pl->s->tenants, t), "spec");
		const json_t *qs = json_object_get(spec, "quotas");
		struct quota_limits q = {
			.vnets = json_object_get(qs, "vnets"),
			.endpoints = json_object_get(qs, "endpoints"),
		};
		q.has_bandwidth = json_object_get(qs, "bandwidth") &&
			qos_rate_value(json_object_get(qs, "bandwidth"), &q.bandwidth, NULL, 0) == 0;
		if (!json_is_integer(q.vnets) && !json_is_integer(q.endpoints) && !q.has_bandwidth)
			continue;
		json_int_t ne = 0;
		unsigned __int128 bw = 0;
		quota_kept(pl, t, &ne, &bw);
		quota_declared(pl, t, &q, ne, bw);
		quota_keys(pl, t, q.has_bandwidth);
	}
}

/* Does vnet @vspec span node @n and at least one other? */
static bool spans_across(const json_t *vspec, const char *n)
{
	const json_t *ns = json_object_get(vspec, "nodes");
	bool here = false;
	size_t i;
	json_t *el;

	json_array_foreach(ns, i, el)
		here |= json_is_string(el) && !strcmp(json_string_value(el), n);
	return here && json_array_size(ns) > 1;
}

/*
 * Node uplinks: for every node with an "uplink" (as the file declares it,
 * else as stored), what will be reserved on it in vnets spanning more than
 * one node must fit the uplink less the headroom: the stored reservations
 * of tenants the file does not name and the ephemeral ones it keeps first,
 * then the file's in file order (a refusal names the first that does not
 * fit). The plan compares the admission keys of those vnets, which every
 * concurrent raise bumps (qos.h).
 */
static void check_uplink_of(struct plan *pl, const char *n, const json_t *nspec)
{
	const struct overlay *ov = pl->ov;
	struct admission_pool pool = { .headroom = pl->r->d->cfg.headroom };
	struct admission_resv sum = { .id = "(held)", .cls = ADMISSION_BULK }, rv;
	unsigned __int128 held = 0;
	char pname[CS_NAME_MAX + 16], key[KEY_MAX], why[512];
	const char *t, *v, *e;
	json_t *vs, *vdoc, *doc;

	if (qos_rate_value(json_object_get(nspec, "uplink"), &pool.capacity, NULL, 0) < 0 ||
	    !pool.capacity)
		return;
	snprintf(pname, sizeof(pname), "node %s uplink", n);
	pool.name = pname;
	json_object_foreach(pl->s->vnets, t, vs) {
		bool named = overlay_tenant_find(ov, t) != NULL;
		json_object_foreach(vs, v, vdoc) {
			char tv[2 * CS_NAME_MAX + 2];
			if (!spans_across(json_object_get(vdoc, "spec"), n))
				continue;
			snprintf(tv, sizeof(tv), "%s/%s", t, v);
			key_qos(key, t, v);
			if (txb_cmp(&pl->tb, pl->s, key) < 0)
				pl->fatal = CS_ENOMEM;
			if (named && !overlay_vnet_find(ov, t, v))
				continue;	/* deleted by the file */
			json_object_foreach(json_object_get(pl->s->eps, tv), e, doc) {
				const char *en = json_string_value(json_object_get(doc, "node"));
				if ((named && !json_is_true(json_object_get(doc, "ephemeral"))) ||
				    !en || strcmp(en, n) ||
				    qos_spec_parse(json_object_get(json_object_get(doc, "spec"), "qos"),
						   "qos", &rv, NULL, 0) < 0)
					continue;
				held += rv.rate;
			}
		}
	}
	for (size_t i = 0; i < ov->nvnets; i++) {
		const struct overlay_vnet *ovn = &ov->vnets[i];
		if (!spans_across(ovn->spec, n))
			continue;
		for (size_t k = 0; k < ovn->nendpoints; k++) {
			const struct overlay_endpoint *oe = &ovn->endpoints[k];
			const char *en = oe->node ? oe->node : pl->r->d->cfg.node;
			if (strcmp(en, n) || qos_spec_parse(json_object_get(oe->spec, "qos"), "qos",
							    &rv, NULL, 0) < 0)
				continue;
			sum.rate = held > UINT64_MAX ? UINT64_MAX : (uint64_t)held;
			rv.id = oe->name;
			if (admission_check(&pool, &sum, sum.rate ? 1 : 0, &rv, NULL, why,
					    sizeof(why)) == CS_EADMIT) {
				plan_error(pl, CS_EADMIT, "vnets.\"%s/%s\".endpoints.%s.qos: reservation "
					   "refused: %s (what vnets spanning several nodes reserve on "
					   "node %s leaves it); reserve less or raise nodes.%s.uplink",
					   ovn->tenant, ovn->name, oe->name, why, n, n);
				return;
			}
			held += rv.rate;
		}
	}
}

static void plan_uplinks(struct plan *pl)
{
	const struct overlay *ov = pl->ov;
	const char *n;
	json_t *doc;

	for (size_t i = 0; i < ov->nnodes; i++)
		check_uplink_of(pl, ov->nodes[i].name, ov->nodes[i].spec);
	json_object_foreach(pl->s->nodes, n, doc) {
		size_t i;
		for (i = 0; i < ov->nnodes && strcmp(ov->nodes[i].name, n); i++)
			;
		if (i == ov->nnodes)
			check_uplink_of(pl, n, json_object_get(doc, "spec"));
	}
}

/* The published ports of the endpoints the plan puts in place: allowed for
 * the caller and free on their node (csd/publish.c). */
static void plan_publish(struct plan *pl)
{
	const char *name;
	json_t *doc;
	char err[512], why[128], p[3][CS_NAME_MAX + 1];

	json_object_foreach(pl->up_eps, name, doc) {
		const json_t *list = json_object_get(json_object_get(doc, "spec"), "publish");
		const char *node = json_string_value(json_object_get(doc, "node"));
		int r;
		if (!json_array_size(list) || !node)
			continue;
		r = publish_check(pl->r->d, pl->r->who, name, node, list, pl->up_eps, err,
				  sizeof(err));
		if (r < 0 && cs_path_split(name, 3, p, why, sizeof(why)) == 0)
			plan_error(pl, r, "vnets.\"%s/%s\".endpoints.%s.publish: %s", p[0], p[1],
				   p[2], err);
	}
}

static void plan_build(struct plan *pl, bool prune)
{
	const struct overlay *ov = pl->ov;
	const char *name;
	json_t *doc;
	struct vplan *vp = NULL;

	if (plan_init(pl) < 0) {
		pl->fatal = CS_ENOMEM;
		return;
	}
	for (size_t i = 0; i < ov->ntenants; i++)
		plan_tenant(pl, &ov->tenants[i]);
	plan_nodes(pl, prune);
	/* on with the rest even after errors, to say all of them at once
	 * (nothing is committed then); refused tenants are left out */
	if (pl->fatal)
		return;
	/* deletions first: what they free, the rest of the plan may take */
	if (prune) {
		json_object_foreach(pl->s->tenants, name, doc)
			if (!overlay_tenant_find(ov, name))
				plan_delete_tenant(pl, name);
	}
	for (size_t i = 0; i < ov->ntenants; i++) {
		const char *t = ov->tenants[i].name;
		if (json_object_get(pl->refused, t))
			continue;
		json_object_foreach(json_object_get(pl->s->vnets, t), name, doc)
			if (!overlay_vnet_find(ov, t, name))
				plan_delete_vnet(pl, t, name, doc);
	}
	if (!(vp = calloc(ov->nvnets + 1, sizeof(*vp)))) {
		pl->fatal = CS_ENOMEM;
		return;
	}
	size_t nvp = 0;
	for (size_t i = 0; i < ov->nvnets; i++) {
		if (json_object_get(pl->refused, ov->vnets[i].tenant))
			continue;
		vp[nvp].ov = &ov->vnets[i];
		vp[nvp].old = json_object_get(json_object_get(pl->s->vnets, ov->vnets[i].tenant),
					      ov->vnets[i].name);
		vp[nvp].old_id = (uint32_t)json_integer_value(json_object_get(vp[nvp].old, "id"));
		nvp++;
	}
	plan_ids(pl, vp, nvp);
	for (size_t i = 0; i < nvp && !pl->fatal; i++)
		plan_vnet(pl, &vp[i]);
	free(vp);
	if (!pl->fatal)
		plan_publish(pl);
	if (!pl->fatal)
		plan_quotas(pl);
	if (!pl->fatal)
		plan_charges(pl);
	if (!pl->fatal)
		plan_uplinks(pl);
}

/* ---- the op ---- */

/* Errors one per line, as many as the reply holds. */
static int fail_lines(struct csd_req *r, int code, const struct schema_errors *errs)
{
	size_t off = 0, i;

	r->error[0] = '\0';
	for (i = 0; i < errs->n; i++) {
		size_t l = strlen(errs->msgs[i]);
		/* keep room for the "and N more" line */
		if (off + l + 1 + 64 >= sizeof(r->error) && i > 0)
			break;
		off += (size_t)snprintf(r->error + off, sizeof(r->error) - off, "%s%s",
					i ? "\n" : "", errs->msgs[i]);
		if (off >= sizeof(r->error))
			off = sizeof(r->error) - 1;
	}
	if (i < errs->n)
		snprintf(r->error + off, sizeof(r->error) - off, "\n... and %zu more error%s",
			 errs->n - i, errs->n - i == 1 ? "" : "s");
	return code;
}

struct known {
	const json_t *tenants; /* "/tenants/T" -> doc */
	const struct principal *who;
	const json_t *nodes;   /* "/nodes/N" -> doc */
};

static bool node_known(void *arg, const char *name)
{
	const struct known *k = arg;
	char key[KEY_MAX];

	key_node(key, name);
	return json_object_get(k->nodes, key) != NULL;
}

static bool tenant_known(void *arg, const char *name)
{
	const struct known *k = arg;
	char key[KEY_MAX];

	key_tenant(key, name);
	const json_t *doc = json_object_get(k->tenants, key);
	return doc && authz_visible(k->who, json_object_get(doc, "spec"), NULL);
}

/* What overlay_load knows of the world here, for apply and the creates. */
static void apply_env(struct csd_req *r, const json_t *tdocs, const json_t *ndocs, struct known *k,
	       struct overlay_env *env)
{
	*k = (struct known){ tdocs, r->who, ndocs };
	*env = (struct overlay_env){
		.node = r->d->cfg.node, .tenant_known = tenant_known, .arg = k,
		.node_known = node_known,
		.store = csd_store_shared(r->d) ? OV_STORE_SHARED : OV_STORE_LOCAL,
		.stored_nodes = ndocs, .node_underlay = r->d->cfg.underlay,
		.mtu_max_across = csd_encrypted(r->d) ? VNET_MTU_ENCRYPTED : 0,
		.encrypt = csd_encrypted(r->d) ? OV_ENCRYPT_WIREGUARD : OV_ENCRYPT_NONE,
		.backend = vb_has(r->d->backend, VNET_CAP_ANY_KIND) ? NULL : vb_name(r->d->backend),
		.backend_usable = csd_backend_usable, .backend_arg = r->d,
	};
}

int overlay_check_here(struct csd_req *r, const json_t *file, struct schema_errors *errs)
{
	json_t *tdocs = NULL, *ndocs = NULL;
	struct overlay_env env;
	struct overlay *ov = NULL;
	struct known k;
	int ret;

	/* only the tenants the file's vnets name: a create checks one vnet,
	 * and listing every tenant made each create cost O(tenants) */
	const char *tv;
	json_t *el;
	if (!(tdocs = json_object()))
		return CS_ENOMEM;
	json_object_foreach(json_object_get(file, "vnets"), tv, el) {
		char key[KEY_MAX], t[CS_NAME_MAX + 1];
		json_t *doc = NULL;
		size_t n = strcspn(tv, "/");
		if (n > CS_NAME_MAX)
			continue;
		memcpy(t, tv, n);
		t[n] = '\0';
		key_tenant(key, t);
		if (json_object_get(tdocs, key))
			continue;
		if ((ret = model_get(r->d, key, &doc, NULL)) == 0)
			json_object_set_new(tdocs, key, doc);
		else if (ret != CS_ENOENT) {
			json_decref(tdocs);
			return ret;
		}
	}
	if ((ret = model_list(r->d, "/nodes/", &ndocs, NULL)) < 0) {
		json_decref(tdocs);
		return ret;
	}
	apply_env(r, tdocs, ndocs, &k, &env);
	ret = overlay_load(file, &env, &ov, errs);
	overlay_free(ov);
	json_decref(tdocs);
	json_decref(ndocs);
	return ret;
}

/* etcd refused the transaction for its size (--max-txn-ops, or
 * --max-request-bytes): say what it needs and what to do. */
static int too_big(struct csd_req *r, const struct txb *tb)
{
	size_t nops = txb_nops(tb);

	return req_fail(r, CS_ETOOBIG, "apply: the change needs %zu store operations and %zu "
			"compares, more than etcd accepts in one transaction (--max-txn-ops, "
			"128 by default; or --max-request-bytes); start etcd with a larger "
			"--max-txn-ops (e.g. %zu) or apply the file in parts; nothing was changed",
			nops, tb->n, tb->n > nops ? tb->n : nops);
}

static void split_name(const char *full, int n, char p[3][CS_NAME_MAX + 1])
{
	char err[128];

	if (cs_path_split(full, n, p, err, sizeof(err)) < 0)
		p[0][0] = p[1][0] = p[2][0] = '\0';
}

/* Make this node match what the committed plan declared. */
static int realize(struct csd_req *r, struct plan *pl)
{
	struct csd *d = r->d;
	struct schema_errors errs = { 0 };
	char p[3][CS_NAME_MAX + 1], err[512];
	const char *name;
	json_t *el;
	size_t i;
	int code = 0, ret;

	/* what goes first: endpoints (their links) before their vnets */
	json_array_foreach(pl->down_eps, i, el) {
		split_name(json_string_value(el), 3, p);
		if (*p[0])
			unrealize_endpoint(d, p[0], p[1], p[2]);
	}
	json_array_foreach(pl->down_vnets, i, el) {
		split_name(json_string_value(el), 2, p);
		if (*p[0])
			unrealize_vnet(d, p[0], p[1]);
	}
	json_object_foreach(pl->up_vnets, name, el) {
		split_name(name, 2, p);
		if (*p[0] && (ret = realize_vnet(d, p[0], p[1], el, err, sizeof(err))) < 0) {
			schema_errors_add(&errs, "%s", err);
			code = code ? code : ret;
		}
	}
	json_object_foreach(pl->up_eps, name, el) {
		char tv[2 * CS_NAME_MAX + 2];
		split_name(name, 3, p);
		if (!*p[0])
			continue;
		snprintf(tv, sizeof(tv), "%s/%s", p[0], p[1]);
		const json_t *vdoc = json_object_get(pl->up_vnets, tv);
		if (!vdoc)
			vdoc = json_object_get(json_object_get(pl->s->vnets, p[0]), p[1]);
		if ((ret = realize_endpoint(d, p[0], p[1], p[2], vdoc, el, err, sizeof(err))) < 0) {
			schema_errors_add(&errs, "%s", err);
			code = code ? code : ret;
		}
	}
	/* a node's address changed: every vnet realized here may have new peers */
	if (pl->nodes_changed && reconcile_all(d) < 0 && !code) {
		schema_errors_add(&errs, "some vnets could not be realized with the new nodes "
				  "(see csd's log)");
		code = CS_EIO;
	}
	if (json_object_size(pl->up_vnets) || json_array_size(pl->down_vnets) || pl->nodes_changed)
		model_underlay_sync(d);
	json_t *touched = json_object();
	json_object_foreach(pl->up_vnets, name, el)
		json_object_set(touched, name, el);
	json_array_foreach(pl->down_eps, i, el) {
		char tv[2 * CS_NAME_MAX + 2];
		split_name(json_string_value(el), 3, p);
		snprintf(tv, sizeof(tv), "%s/%s", p[0], p[1]);
		if (*p[0] && !json_object_get(touched, tv))
			json_object_set_new(touched, tv, json_null());
	}
	/* an endpoint added or regrouped changes its vnet's rules everywhere */
	json_object_foreach(pl->up_eps, name, el) {
		char tv[2 * CS_NAME_MAX + 2];
		split_name(name, 3, p);
		snprintf(tv, sizeof(tv), "%s/%s", p[0], p[1]);
		if (*p[0] && !json_object_get(touched, tv))
			json_object_set_new(touched, tv, json_null());
	}
	json_object_foreach(touched, name, el) {
		split_name(name, 2, p);
		/* a vnet deleted by the plan is not read back: nothing to shape */
		if (*p[0] && (ret = realize_vnet_qos(d, p[0], p[1], json_is_null(el) ? NULL : el,
						     NULL, err, sizeof(err))) < 0) {
			schema_errors_add(&errs, "%s", err);
			code = code ? code : ret;
		}
		if (*p[0] && (ret = realize_vnet_policy(d, p[0], p[1], json_is_null(el) ? NULL : el,
							NULL, err, sizeof(err))) < 0) {
			schema_errors_add(&errs, "%s", err);
			code = code ? code : ret;
		}
	}
	json_decref(touched);
	/* the node's uplink shaping, when its declaration changed it */
	if (realize_uplink_qos(d, NULL, false, err, sizeof(err)) < 0) {
		schema_errors_add(&errs, "%s", err);
		code = code ? code : CS_EIO;
	}
	if (code) {
		char *all = schema_errors_join(&errs);
		req_fail(r, code, "apply: the changes were committed, but making node %s match "
			 "them failed:\n%s\nthe store keeps the declared state and the reconciler "
			 "retries", d->cfg.node, all ? all : "?");
		free(all);
	}
	schema_errors_clear(&errs);
	return code;
}

/*
 * Run every "policy.tests" of the file against the endpoints the vnet
 * would have once the plan commits, on every node (as rule.check sees
 * them): the declared ones as planned and the ephemeral ones it keeps. A
 * failure is an error of the plan, so nothing is committed. A vnet the
 * plan could not place (errors of its own) is not tested.
 */
static void plan_policy_tests(struct plan *pl)
{
	for (size_t i = 0; i < pl->ov->nvnets; i++) {
		const struct overlay_vnet *ov = &pl->ov->vnets[i];
		const json_t *tests = json_object_get(json_object_get(ov->spec, "policy"), "tests");
		struct rules_policy *pol = NULL;
		struct policy_eps pe = { 0 };
		char tv[2 * CS_NAME_MAX + 2], path[512], why[512], report[4096];
		const json_t *eps;

		if (!json_array_size(tests))
			continue;
		snprintf(tv, sizeof(tv), "%s/%s", ov->tenant, ov->name);
		if (!(eps = json_object_get(pl->vnet_eps, tv)))
			continue;
		schema_path_join(path, sizeof(path), "vnets", tv);
		if (policy_of_spec(ov->spec, path, &pol, why, sizeof(why)) < 0)
			continue; /* reported by overlay_load */
		if (policy_eps_build(eps, NULL, &pe) < 0) {
			pl->fatal = CS_ENOMEM;
		} else {
			int n = rules_run_tests(pol, pe.v, pe.n, report, sizeof(report));
			if (n != 0) {
				size_t l = strlen(report);
				while (l && report[l - 1] == '\n')
					report[--l] = '\0';
				schema_errors_add(&pl->errs, "%s.policy.tests: %s; nothing was "
						  "changed:\n%s", path, n > 0 ? "failing tests" :
						  "a test names no endpoint of the vnet", report);
				if (!pl->code)
					pl->code = CS_EINVAL;
			}
		}
		policy_eps_clear(&pe);
		rules_free(pol);
	}
}

/* Validate @file as the overlay of the request (apply_src.what names it in
 * messages); *failed: it has errors, planned still to find the plan's. */
static int apply_load(struct csd_req *r, const struct apply_src *src, const json_t *file,
		      struct overlay **ov, struct schema_errors *errs, bool *failed)
{
	json_t *tdocs = NULL, *ndocs = NULL;
	struct overlay_env env;
	struct known k;
	int ret;

	*failed = false;
	if ((ret = model_list(r->d, "/tenants/", &tdocs, NULL)) < 0)
		return req_store_fail(r, ret, src->what);
	if ((ret = model_list(r->d, "/nodes/", &ndocs, NULL)) < 0) {
		json_decref(tdocs);
		return req_store_fail(r, ret, src->what);
	}
	apply_env(r, tdocs, ndocs, &k, &env);
	env.partial = true;
	ret = overlay_load(file, &env, ov, errs);
	json_decref(tdocs);
	json_decref(ndocs);
	if (ret == CS_EINVAL && !*ov)
		return fail_lines(r, ret, errs);
	if (ret < 0 && ret != CS_EINVAL)
		return req_fail(r, ret, "%s: %s", src->what, cs_strerror(ret));
	*failed = ret == CS_EINVAL;
	return 0;
}

/* A file built from this reading of the store (set), validated. */
static int apply_build(struct csd_req *r, const struct apply_src *src, const struct snap *s,
		       struct plan *pl, struct overlay **ov, struct schema_errors *errs)
{
	const struct apply_state st = { s->tenants, s->vnets, s->eps };
	json_t *file = NULL;
	int ret;

	overlay_free(*ov);
	*ov = NULL;
	schema_errors_clear(errs);
	if ((ret = src->build(r, &st, src->arg, &file)) < 0) {
		json_decref(file);
		return ret;
	}
	ret = apply_load(r, src, file, ov, errs, &pl->ov_failed);
	json_decref(file);
	pl->ov = *ov;
	return ret;
}

/* Plan against one reading of the store and commit, again while the store
 * changes under the plan. 0: committed (or nothing to commit, or a dry
 * run); else the request has failed. */
static int apply_commit(struct csd_req *r, const struct apply_src *src, struct plan *pl,
			struct overlay **ov, struct schema_errors *errs)
{
	int ret;

	for (int attempt = 0;; attempt++) {
		if (attempt == APPLY_ATTEMPTS)
			return req_fail(r, CS_ECONFLICT, "%s: the store kept changing while the "
					"plan was made (%d attempts); nothing was changed, try again",
					src->what, APPLY_ATTEMPTS);
		snap_clear(pl->s);
		plan_clear(pl);
		if ((ret = snap_load(r->d, pl->s)) < 0)
			/* the file's own errors still come, without the plan's */
			return pl->ov_failed ? fail_lines(r, CS_EINVAL, errs)
					     : req_store_fail(r, ret, src->what);
		if (src->build && (ret = apply_build(r, src, pl->s, pl, ov, errs)) < 0)
			return ret;
		plan_build(pl, src->prune);
		if (!pl->fatal)
			plan_policy_tests(pl);
		if (pl->fatal)
			return req_fail(r, pl->fatal, "%s: %s", src->what, cs_strerror(pl->fatal));
		if (pl->ov_failed || pl->errs.n) {
			for (size_t i = 0; i < pl->errs.n; i++)
				schema_errors_add(errs, "%s", pl->errs.msgs[i]);
			return fail_lines(r, pl->ov_failed || !pl->code ? CS_EINVAL : pl->code,
					  errs);
		}
		if (src->dry_run || txb_nops(&pl->tb) == 0)
			return 0;
		ret = txb_commit(r->d, &pl->tb);
		if (ret == 0) {
			vni_note_txb(r->d, &pl->tb);
			return 0;
		}
		if (ret == CS_ETOOBIG)
			return too_big(r, &pl->tb);
		if (ret != CS_ECONFLICT)
			return req_store_fail(r, ret, src->what);
		log_debug("%s: the store changed under the plan; planning again", src->what);
	}
}

int apply_run(struct csd_req *r, const struct apply_src *src)
{
	struct schema_errors errs = { 0 };
	struct overlay *ov = NULL;
	struct snap s = { 0 };
	struct plan pl = { .r = r, .s = &s };
	int ret;

	if (src->file) {
		if ((ret = apply_load(r, src, src->file, &ov, &errs, &pl.ov_failed)) < 0)
			goto out;
		/* a file with errors is still planned, for the errors only a
		 * plan finds (permissions, ids, addresses, admission, quotas,
		 * policy tests): all are said in one answer, and nothing is
		 * committed */
		pl.ov = ov;
	}
	if ((ret = apply_commit(r, src, &pl, &ov, &errs)) < 0)
		goto out;
	size_t i;
	json_t *el;
	if (!src->dry_run)
		json_array_foreach(pl.changes, i, el)
			log_info("%s by uid %u: %s", src->what, (unsigned)r->who->uid,
				 json_string_value(el));
	if (!src->dry_run && (ret = realize(r, &pl)) < 0)
		goto out;
	r->result = json_pack("{s:O, s:{s:I, s:I, s:I}, s:b}", "changes", pl.changes, "summary",
			      "created", (json_int_t)pl.created, "updated", (json_int_t)pl.updated,
			      "deleted", (json_int_t)pl.deleted, "dry_run", src->dry_run);
	ret = r->result ? 0 : req_fail(r, CS_ENOMEM, "%s: out of memory", src->what);
out:
	plan_clear(&pl);
	snap_clear(&s);
	overlay_free(ov);
	schema_errors_clear(&errs);
	return ret;
}

static int apply(struct csd_req *r)
{
	const json_t *file = json_object_get(r->args, "file");
	const json_t *jdry = json_object_get(r->args, "dry_run");
	const json_t *jprune = json_object_get(r->args, "prune");
	struct apply_src src = { .what = "apply", .file = file, .dry_run = json_is_true(jdry),
				 .prune = json_is_true(jprune) };

	if (!json_is_object(file))
		return req_fail(r, CS_EINVAL, "apply: \"file\" must be the overlay file as a JSON "
				"object ({\"tenants\": ..., \"vnets\": ...})");
	if ((jdry && !json_is_boolean(jdry)) || (jprune && !json_is_boolean(jprune)))
		return req_fail(r, CS_EINVAL, "apply: \"dry_run\" and \"prune\" must be true or "
				"false");
	if (src.prune && !authz_admin(r->who))
		return req_fail(r, CS_EPERM, "apply --prune: only administrators may prune (it "
				"deletes every tenant the file does not name); leave --prune out");
	/* decided per object while planning: plan_tenant() asks req_may() for
	 * every tenant the file names, new owners go through
	 * authz_tenant_create(), nodes and --prune need an administrator */
	r->authorized = true;
	return apply_run(r, &src);
}

static int export(struct csd_req *r)
{
	struct snap s = { 0 };
	json_t *tenants = json_object(), *vnets = json_object();
	const char *t, *v, *e;
	json_t *tdoc, *vs, *vdoc, *edoc;
	int ret;

	if (!tenants || !vnets) {
		ret = req_fail(r, CS_ENOMEM, "export: out of memory");
		goto out;
	}
	if ((ret = snap_load(r->d, &s)) < 0) {
		ret = req_store_fail(r, ret, "export");
		goto out;
	}
	json_object_foreach(s.tenants, t, tdoc) {
		const json_t *spec = json_object_get(tdoc, "spec");
		if (!authz_visible(r->who, spec, NULL))
			continue;
		json_object_set_new(tenants, t, spec ? json_deep_copy(spec) : json_object());
		vs = json_object_get(s.vnets, t);
		json_object_foreach(vs, v, vdoc) {
			char tv[2 * CS_NAME_MAX + 2];
			const json_t *vspec = json_object_get(vdoc, "spec");
			json_t *out = vspec ? json_deep_copy(vspec) : json_object(), *eps = json_object();
			snprintf(tv, sizeof(tv), "%s/%s", t, v);
			json_object_foreach(json_object_get(s.eps, tv), e, edoc) {
				const json_t *espec = json_object_get(edoc, "spec");
				/* held by programs, not declared */
				if (json_is_true(json_object_get(edoc, "ephemeral")))
					continue;
				json_object_set_new(eps, e, espec ? json_deep_copy(espec)
								  : json_object());
			}
			json_object_set_new(out, "endpoints", eps);
			json_object_set_new(vnets, tv, out);
		}
	}
	r->result = json_pack("{s:O}", "tenants", tenants);
	if (r->result && json_object_size(s.nodes)) {
		json_t *nodes = json_object();
		json_object_foreach(s.nodes, t, tdoc) {
			const json_t *spec = json_object_get(tdoc, "spec");
			json_object_set_new(nodes, t, spec ? json_deep_copy(spec) : json_object());
		}
		json_object_set_new(r->result, "nodes", nodes);
	}
	if (r->result)
		json_object_set(r->result, "vnets", vnets);
	ret = r->result ? 0 : req_fail(r, CS_ENOMEM, "export: out of memory");
out:
	json_decref(tenants);
	json_decref(vnets);
	snap_clear(&s);
	return ret;
}

CSD_OP(apply, "apply", apply, CSD_OP_CHANGES,
       "make the tenants an overlay file names exactly as declared");
CSD_OP(export, "export", export, 0, "the declared state as an overlay file");
