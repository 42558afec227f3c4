/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vnet.create, vnet.delete, vnet.show, vnet.list */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "charges.h"
#include "vni.h"
#include "ops.h"
#include "overlay.h"
#include "policy.h"

/* The lowest VNI not in use. */
/* What apply refuses of the same vnet, with its messages (the subnet
 * missing or unusable, the policy's rules, nodes not declared, an id
 * missing across nodes without a shared store...), who may span nodes, and
 * what a non-administrator may store. */
static int vnet_create_check(struct csd_req *r, name_t p[2], const char *what, const json_t *spec)
{
	char tv[2 * CS_NAME_MAX + 3], err[1024];
	int ret;

	snprintf(tv, sizeof(tv), "%s/%s", p[0], p[1]);
	if ((ret = create_check(r, what, "vnets", tv, spec)) < 0)
		return ret;
	if (!authz_vnet_span(r->who, csd_store_shared(r->d), NULL, spec, err, sizeof(err)))
		return req_fail(r, CS_EPERM, "%s: %s", what, err);
	if ((ret = charge_spec(r->d, r->who, spec, err, sizeof(err))) < 0)
		return req_fail(r, ret, "%s: %s", what, err);
	return 0;
}

/* the vnet's document and its VNI's owner key, created together, with the
 * tenant's quota key and the caller's charge when they apply */
static int vnet_commit(struct csd *d, const char *key, const char *text, const char *vkey,
		       const char *value, const struct quota_txn *qt, const struct charge_txn *ch)
{
	struct store_cmp cmps[4] = { { key, 0 }, { vkey, 0 } };
	struct store_op ops[5] = { { STORE_PUT, key, text }, { STORE_PUT, vkey, value } };
	size_t nc = 2, no = 2;

	if (qt->active) {
		cmps[nc++] = qt->cmp;
		ops[no++] = qt->op;
	}
	if (ch->active) {
		cmps[nc++] = ch->cmp;
		ops[no++] = ch->ops[0];
		ops[no++] = ch->ops[1];
	}
	struct store_txn txn = { cmps, nc, ops, no };
	return store_txn(d->store, &txn, NULL);
}

/* a committed vnet realized here (deleted again when that fails) and
 * shown to the caller */
static int vnet_created(struct csd_req *r, name_t p[2], const char *what, const char *key,
			const json_t *doc)
{
	char err[1024];
	int ret;

	vni_note(r->d, (uint32_t)json_integer_value(json_object_get(doc, "id")), true);
	if ((ret = realize_vnet(r->d, p[0], p[1], doc, err, sizeof(err))) < 0) {
		const char *const prefixes[] = { key };
		char e2[256];
		model_delete_tree(r->d, prefixes, 1, e2, sizeof(e2));
		return req_fail(r, ret, "%s", err);
	}
	if (model_vnet_nnodes(doc) > 1)
		model_underlay_sync(r->d);
	log_info("%s created (id %" JSON_INTEGER_FORMAT ") by uid %u", what,
		 json_integer_value(json_object_get(doc, "id")), (unsigned)r->who->uid);
	struct vnet_inventory inv = { 0 };
	csd_inventory(r->d, &inv);
	r->result = view_vnet(r->d, p[0], p[1], doc, &inv, NULL);
	vnet_inventory_clear(&inv);
	return 0;
}

static int vnet_create(struct csd_req *r)
{
	name_t p[2];
	json_t *tdoc = NULL, *spec = NULL, *doc = NULL;
	char what[128], key[KEY_MAX], vkey[KEY_MAX], value[2 * CS_NAME_MAX + 8], err[1024];
	char *text = NULL;
	int ret;

	if ((ret = req_path(r, "name", 2, p)) < 0)
		return ret;
	snprintf(what, sizeof(what), "vnet %s/%s", p[0], p[1]);
	if ((ret = req_tenant(r, p[0], &tdoc)) < 0 ||
	    (ret = req_spec(r, SCHEMA_VNET, what, &spec)) < 0)
		goto out;
	if ((ret = vnet_create_check(r, p, what, spec)) < 0)
		goto out;
	key_vnet(key, p[0], p[1]);
	snprintf(value, sizeof(value), "\"%s/%s\"", p[0], p[1]);
	json_int_t fixed = json_integer_value(json_object_get(spec, "id"));
	for (int attempt = 0; attempt < 16; attempt++) {
		uint32_t id = (uint32_t)fixed;
		if (!fixed && (ret = vni_alloc(r->d, &id)) < 0) {
			ret = ret == CS_ENOSPC ? req_fail(r, ret, "%s: no free VNI", what)
					       : req_store_fail(r, ret, what);
			goto out;
		}
		json_decref(doc);
		free(text);
		doc = json_pack("{s:O, s:I}", "spec", spec, "id", (json_int_t)id);
		text = json_dumps(doc, JSON_COMPACT);
		key_vni(vkey, id);
		struct quota_txn qt;
		if ((ret = quota_check(r->d, p[0], "vnets", &qt, err, sizeof(err))) < 0) {
			ret = req_fail(r, ret, "%s: %s", what, err);
			goto out;
		}
		struct charge_txn ch;
		if ((ret = charge_txn(r->d, r->who, key, &ch, err, sizeof(err))) < 0) {
			ret = req_fail(r, ret, "%s: %s", what, err);
			goto out;
		}
		if (ch.active) {
			charge_mark(doc, r->who);
			free(text);
			text = json_dumps(doc, JSON_COMPACT);
		}
		ret = vnet_commit(r->d, key, text, vkey, value, &qt, &ch);
		if (ret != CS_ECONFLICT)
			break;
		struct store_kv kv = { 0 };
		if (store_get(r->d->store, key, &kv) == 0) {
			store_kv_clear(&kv);
			ret = req_fail(r, CS_EEXIST, "%s: already exists", what);
			goto out;
		}
		if (fixed) {
			ret = req_fail(r, CS_EEXIST, "%s: id %u is already used by another vnet; "
				       "choose another or leave id out", what, id);
			goto out;
		}
		/* taken meanwhile, maybe through another node */
		vni_forget(r->d);
	}
	if (ret < 0) {
		ret = req_store_fail(r, ret, what);
		goto out;
	}
	ret = vnet_created(r, p, what, key, doc);
out:
	free(text);
	json_decref(doc);
	json_decref(spec);
	json_decref(tdoc);
	return ret;
}

static int vnet_delete(struct csd_req *r)
{
	name_t p[2];
	json_t *tdoc, *doc;
	char k[2][KEY_MAX], err[256];
	int ret;

	/* a member sees the vnet, so it is told "permission denied" */
	if ((ret = req_path(r, "name", 2, p)) < 0 ||
	    (ret = req_vnet(r, p[0], p[1], &tdoc, &doc)) < 0)
		return ret;
	json_decref(tdoc);
	key_vnet(k[1], p[0], p[1]);
	json_decref(doc);
	snprintf(k[0], KEY_MAX, "/endpoints/%s/%s/", p[0], p[1]);
	const char *const prefixes[] = { k[0], k[1] };
	if ((ret = model_delete_tree(r->d, prefixes, 2, err, sizeof(err))) < 0)
		return req_fail(r, ret, "vnet %s/%s: %s", p[0], p[1], err);
	log_info("vnet %s/%s deleted by uid %u", p[0], p[1], (unsigned)r->who->uid);
	return 0;
}

static int vnet_show(struct csd_req *r)
{
	name_t p[2];
	json_t *tdoc, *doc;
	int ret;

	if ((ret = req_path(r, "name", 2, p)) < 0 ||
	    (ret = req_vnet(r, p[0], p[1], &tdoc, &doc)) < 0)
		return ret;
	json_decref(tdoc);
	struct vnet_inventory inv = { 0 };
	csd_inventory(r->d, &inv);
	r->result = view_vnet(r->d, p[0], p[1], doc, &inv, NULL);
	vnet_inventory_clear(&inv);
	json_decref(doc);
	return 0;
}

static int vnet_list(struct csd_req *r)
{
	const char *filter = json_string_value(json_object_get(r->args, "filter"));
	char prefix[KEY_MAX] = "/vnets/";
	json_t *docs, *doc, *tdocs = NULL;
	const char *key;
	name_t t[1];
	int ret;

	if (filter) {
		if ((ret = req_path(r, "filter", 1, t)) < 0 || (ret = req_list_filter(r, t[0], NULL)) < 0)
			return ret;
		snprintf(prefix, sizeof(prefix), "/vnets/%s/", t[0]);
	}
	if ((ret = model_list(r->d, prefix, &docs, NULL)) < 0 ||
	    (ret = model_list(r->d, "/tenants/", &tdocs, NULL)) < 0) {
		json_decref(docs);
		return req_store_fail(r, ret, "vnet list");
	}
	struct vnet_inventory inv = { 0 };
	csd_inventory(r->d, &inv);
	json_t *ec = model_count(r->d, "/endpoints/", 2);
	r->result = json_array();
	json_object_foreach(docs, key, doc) {
		name_t p[2];
		char err[128];
		if (cs_path_split(key + 7, 2, p, err, sizeof(err)) < 0 ||
		    !list_visible(r->who, tdocs, docs, p[0], p[1]))
			continue;
		json_array_append_new(r->result, view_vnet(r->d, p[0], p[1], doc, &inv, ec));
	}
	vnet_inventory_clear(&inv);
	json_decref(ec);
	json_decref(docs);
	json_decref(tdocs);
	return 0;
}

CSD_OP(vnet_create, "vnet.create", vnet_create, CSD_OP_CHANGES, "create a vnet");
CSD_OP(vnet_delete, "vnet.delete", vnet_delete, CSD_OP_CHANGES,
       "delete a vnet and its endpoints");
CSD_OP(vnet_show, "vnet.show", vnet_show, 0, "show a vnet");
CSD_OP(vnet_list, "vnet.list", vnet_list, 0, "list vnets");
