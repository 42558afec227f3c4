/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tenant.set, vnet.set, endpoint.set: change keys of one object in place.
 *
 * args: {"name": "acme/blue", "set": PATCH}, PATCH a JSON merge patch (RFC
 * 7386) of the object's keys as the overlay file nests them: a value
 * replaces what was there (a list whole), an object is merged key by key
 * (qos, owners, members, policy keep the keys not named), null removes the
 * key so that it takes its default again. A set is apply of the tenant as
 * stored with these keys changed (csd/apply.h), so it has apply's
 * validation and messages and nothing of its own to drift: the file is
 * built from the same reading of the store the plan commits against. Keys
 * the object cannot change while it exists are refused with what to do
 * instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "ops.h"

struct set_req {
	enum schema_object obj;
	int arity;
	name_t p[3];
	char what[3 * (CS_NAME_MAX + 1) + 16];
	const json_t *set;    /* the merge patch */
};

struct fixed_key {
	enum schema_object obj;
	const char *key;
	const char *why;      /* why it is fixed, and what to do instead */
};

static const struct fixed_key fixed_keys[] = {
	{ SCHEMA_VNET, "id", "it is the VNI every node of the vnet uses; delete the vnet and "
	  "create it again with the new id" },
	{ SCHEMA_VNET, "subnet", "every endpoint's address is taken from it; delete the vnet "
	  "and create it again, or export, edit the subnet and apply (which gives its "
	  "endpoints new addresses and deletes the ephemeral ones)" },
	{ SCHEMA_VNET, "backend", "the vnet's objects are its backend's; delete the vnet and "
	  "create it again with the other backend" },
	{ SCHEMA_VNET, "endpoints", "endpoints are objects of their own; use cs-ctl endpoint "
	  "create, set or delete" },
	{ SCHEMA_ENDPOINT, "node", "the endpoint lives on its node; delete it and create it "
	  "again on the other node" },
	{ SCHEMA_ENDPOINT, "netns", "the endpoint lives in the namespace it was attached to; "
	  "delete it and create it again with the other namespace" },
	{ SCHEMA_ENDPOINT, "ifname", "the interface is made with its name when the namespace is "
	  "attached; delete the endpoint and create it again" },
};

/* The first part of dotted @path ("qos" of "qos.rate") into @out. */
static void top_key(const char *path, char *out, size_t len)
{
	snprintf(out, len, "%.*s", (int)strcspn(path, "."), path);
}

static int refuse_fixed(struct csd_req *r, const struct set_req *s, const char *path)
{
	char top[64];

	top_key(path, top, sizeof(top));
	for (size_t i = 0; i < sizeof(fixed_keys) / sizeof(fixed_keys[0]); i++)
		if (fixed_keys[i].obj == s->obj && !strcmp(fixed_keys[i].key, top))
			return req_fail(r, CS_EINVAL, "%s: %s cannot change in place: %s",
					s->what, top, fixed_keys[i].why);
	return 0;
}

/* Every key removed (null) in @o, below dotted @prefix, is a key of the
 * object: a misspelt removal is an error, not a silent no-op. */
static int check_removals(struct csd_req *r, const struct set_req *s, const json_t *o,
			  const char *prefix)
{
	const char *k;
	json_t *v;
	int ret;

	json_object_foreach((json_t *)o, k, v) {
		char path[256];
		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", k);
		if (json_is_null(v) && !schema_find(s->obj, path))
			return req_fail(r, CS_EINVAL, "%s: unknown key \"%s\" for %s", s->what,
					path, schema_object_name(s->obj));
		if (json_is_object(v) && (ret = check_removals(r, s, v, path)) < 0)
			return ret;
	}
	return 0;
}

/* The patch is an object with keys, none of them fixed. */
static int check_keys(struct csd_req *r, const struct set_req *s)
{
	const char *k;
	json_t *v;
	int ret;

	if (!json_is_object(s->set))
		return req_fail(r, CS_EINVAL, "%s: \"set\" must be an object of the keys to "
				"change (null removes one)", s->what);
	if (!json_object_size(s->set))
		return req_fail(r, CS_EINVAL, "%s: nothing to set; name a key and its value "
				"(an empty value removes the key)", s->what);
	json_object_foreach((json_t *)s->set, k, v)
		if ((ret = refuse_fixed(r, s, k)) < 0)
			return ret;
	return check_removals(r, s, s->set, "");
}

/* RFC 7386: @patch merged into @dst; objects a removal leaves empty go. */
static int merge(json_t *dst, const json_t *patch)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)patch, k, v) {
		json_t *d = json_object_get(dst, k);
		if (json_is_null(v)) {
			json_object_del(dst, k);
		} else if (json_is_object(v)) {
			if (!json_is_object(d) &&
			    (!(d = json_object()) || json_object_set_new(dst, k, d) < 0))
				return CS_ENOMEM;
			if (merge(d, v) < 0)
				return CS_ENOMEM;
			if (!json_object_size(d))
				json_object_del(dst, k);
		} else if (json_object_set_new(dst, k, json_deep_copy(v)) < 0) {
			return CS_ENOMEM;
		}
	}
	return 0;
}

/* The declared vnets of tenant @t, each with its declared endpoints, as
 * export writes them. */
static json_t *tenant_vnets(const struct apply_state *st, const char *t)
{
	json_t *vnets = json_object(), *vdoc, *edoc;
	const char *v, *e;

	json_object_foreach(json_object_get(st->vnets, t), v, vdoc) {
		char tv[2 * CS_NAME_MAX + 2];
		const json_t *vspec = json_object_get(vdoc, "spec");
		json_t *out = vspec ? json_deep_copy(vspec) : json_object(), *eps = json_object();

		snprintf(tv, sizeof(tv), "%s/%s", t, v);
		json_object_foreach(json_object_get(st->eps, tv), e, edoc) {
			const json_t *espec = json_object_get(edoc, "spec");
			if (!json_is_true(json_object_get(edoc, "ephemeral")))
				json_object_set_new(eps, e, espec ? json_deep_copy(espec)
								  : json_object());
		}
		json_object_set_new(out, "endpoints", eps);
		json_object_set_new(vnets, tv, out);
	}
	return vnets;
}

/* *@target: where the object's keys sit in @file; or the request fails. */
static int target_of(struct csd_req *r, const struct set_req *s, const struct apply_state *st,
		     json_t *file, json_t **target)
{
	char tv[2 * CS_NAME_MAX + 2];
	json_t *o;

	if (s->arity == 1) {
		*target = json_object_get(json_object_get(file, "tenants"), s->p[0]);
		return 0;
	}
	snprintf(tv, sizeof(tv), "%s/%s", s->p[0], s->p[1]);
	if (!(o = json_object_get(json_object_get(file, "vnets"), tv)))
		return req_fail(r, CS_ENOENT, "vnet %s: no such vnet", tv);
	if (s->arity == 2) {
		*target = o;
		return 0;
	}
	const json_t *edoc = json_object_get(json_object_get(st->eps, tv), s->p[2]);
	if (!edoc)
		return req_fail(r, CS_ENOENT, "%s: no such endpoint", s->what);
	if (json_is_true(json_object_get(edoc, "ephemeral")))
		return req_fail(r, CS_EINVAL, "%s: the endpoint is held by a running program "
				"(opened with cs_endpoint_open); it has no keys to set", s->what);
	*target = json_object_get(json_object_get(o, "endpoints"), s->p[2]);
	return 0;
}

static int set_build(struct csd_req *r, const struct apply_state *st, void *arg, json_t **file)
{
	struct set_req *s = arg;
	const json_t *tdoc = json_object_get(st->tenants, s->p[0]);
	json_t *target = NULL;
	int ret;

	*file = NULL;
	if (!tdoc)
		return req_fail(r, CS_ENOENT, "tenant %s: no such tenant", s->p[0]);
	const json_t *tspec = json_object_get(tdoc, "spec");
	*file = json_pack("{s:{s:o}, s:o}", "tenants", s->p[0],
			  tspec ? json_deep_copy(tspec) : json_object(), "vnets",
			  tenant_vnets(st, s->p[0]));
	if (!*file)
		return req_fail(r, CS_ENOMEM, "%s: out of memory", s->what);
	if ((ret = target_of(r, s, st, *file, &target)) < 0) {
		json_decref(*file);
		*file = NULL;
		return ret;
	}
	if (merge(target, s->set) < 0)
		return req_fail(r, CS_ENOMEM, "%s: out of memory", s->what);
	return 0;
}

/* The object as show prints it, after the change. */
static json_t *set_view(struct csd_req *r, const struct set_req *s)
{
	char key[KEY_MAX];
	json_t *doc = NULL, *view = NULL;
	struct vnet_inventory inv = { 0 };

	if (s->arity == 1)
		key_tenant(key, s->p[0]);
	else if (s->arity == 2)
		key_vnet(key, s->p[0], s->p[1]);
	else
		key_endpoint(key, s->p[0], s->p[1], s->p[2]);
	if (model_get(r->d, key, &doc, NULL) < 0)
		return NULL;
	if (s->arity == 1) {
		view = view_tenant(r->d, s->p[0], doc, NULL, NULL);
	} else {
		csd_inventory(r->d, &inv);
		view = s->arity == 2 ? view_vnet(r->d, s->p[0], s->p[1], doc, &inv, NULL)
				     : view_endpoint(r->d, s->p[0], s->p[1], s->p[2], doc, &inv);
		vnet_inventory_clear(&inv);
	}
	json_decref(doc);
	return view;
}

static int set_op(struct csd_req *r, enum schema_object obj, int arity)
{
	struct set_req s = { .obj = obj, .arity = arity };
	json_t *tdoc = NULL, *vdoc = NULL;
	int ret;

	if ((ret = req_path(r, "name", arity, s.p)) < 0)
		return ret;
	snprintf(s.what, sizeof(s.what), "%s %s", schema_object_name(obj),
		 json_string_value(json_object_get(r->args, "name")));
	s.set = json_object_get(r->args, "set");
	if ((ret = check_keys(r, &s)) < 0)
		return ret;
	ret = arity == 1 ? req_tenant(r, s.p[0], &tdoc)
			 : req_vnet(r, s.p[0], s.p[1], &tdoc, &vdoc);
	json_decref(tdoc);
	json_decref(vdoc);
	if (ret < 0)
		return ret;
	const struct apply_src src = { .what = s.what, .build = set_build, .arg = &s };
	if ((ret = apply_run(r, &src)) < 0)
		return ret;
	json_t *view = set_view(r, &s);
	if (view) {
		json_decref(r->result);
		r->result = view;
	}
	return 0;
}

static int tenant_set(struct csd_req *r)
{
	return set_op(r, SCHEMA_TENANT, 1);
}

static int vnet_set(struct csd_req *r)
{
	return set_op(r, SCHEMA_VNET, 2);
}

static int endpoint_set(struct csd_req *r)
{
	return set_op(r, SCHEMA_ENDPOINT, 3);
}

CSD_OP(tenant_set, "tenant.set", tenant_set, CSD_OP_CHANGES, "change a tenant's keys in place");
CSD_OP(vnet_set, "vnet.set", vnet_set, CSD_OP_CHANGES, "change a vnet's keys in place");
CSD_OP(endpoint_set, "endpoint.set", endpoint_set, CSD_OP_CHANGES,
       "change an endpoint's keys in place");
