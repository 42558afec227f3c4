/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tenant.create, tenant.delete, tenant.show, tenant.list */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "charges.h"
#include "ops.h"

static int tenant_create(struct csd_req *r)
{
	name_t t[1];
	json_t *spec = NULL, *doc = NULL;
	char key[KEY_MAX], what[64], why[256], *text = NULL;
	int ret;

	if ((ret = req_path(r, "name", 1, t)) < 0)
		return ret;
	snprintf(what, sizeof(what), "tenant %s", t[0]);
	if ((ret = req_spec(r, SCHEMA_TENANT, what, &spec)) < 0)
		return ret;
	/* a tenant created without owners is owned by its creator */
	json_t *owners = json_object_get(spec, "owners");
	if (!owners) {
		owners = json_pack("{s:[I], s:[]}", "uids", (json_int_t)r->who->uid, "gids");
		json_object_set_new(spec, "owners", owners);
	}
	if (!json_object_get(owners, "uids"))
		json_object_set_new(owners, "uids", json_array());
	if (!json_object_get(owners, "gids"))
		json_object_set_new(owners, "gids", json_array());
	if (!authz_tenant_create(r->who, owners, why, sizeof(why))) {
		ret = req_fail(r, CS_EPERM, "tenant %s: %s", t[0], why);
		goto out;
	}
	/* quotas are set by administrators; the tenant anyone else creates
	 * gets the configured default */
	const json_t *dq = r->who->admin ? NULL : r->d->cfg.default_quotas;
	const json_t *q = json_object_get(spec, "quotas");
	if (q && !authz_quotas(r->who, dq, q, why, sizeof(why))) {
		ret = req_fail(r, CS_EPERM, "tenant %s: quotas: %s", t[0], why);
		goto out;
	}
	if (dq && !q)
		json_object_set_new(spec, "quotas", json_deep_copy(dq));
	key_tenant(key, t[0]);
	doc = json_pack("{s:O}", "spec", spec);
	struct charge_txn ch;
	char err[512];
	if ((ret = charge_txn(r->d, r->who, key, &ch, err, sizeof(err))) < 0) {
		ret = req_fail(r, ret, "tenant %s: %s", t[0], err);
		goto out;
	}
	if (ch.active)
		charge_mark(doc, r->who);
	text = json_dumps(doc, JSON_COMPACT);
	struct store_cmp cmps[2] = { { key, 0 }, ch.cmp };
	struct store_op ops[3] = { { STORE_PUT, key, text }, ch.ops[0], ch.ops[1] };
	struct store_txn txn = { cmps, ch.active ? 2 : 1, ops, ch.active ? 3 : 1 };
	ret = store_txn(r->d->store, &txn, NULL);
	if (ret == CS_ECONFLICT) {
		ret = req_fail(r, CS_EEXIST, "tenant %s: already exists", t[0]);
		goto out;
	}
	if (ret < 0) {
		ret = req_store_fail(r, ret, what);
		goto out;
	}
	log_info("tenant %s created by uid %u", t[0], (unsigned)r->who->uid);
	r->result = view_tenant(r->d, t[0], doc, NULL, NULL);
out:
	free(text);
	json_decref(doc);
	json_decref(spec);
	return ret;
}

static int tenant_delete(struct csd_req *r)
{
	name_t t[1];
	json_t *doc;
	char k[4][KEY_MAX], err[256];
	int ret;

	if ((ret = req_path(r, "name", 1, t)) < 0 || (ret = req_tenant(r, t[0], &doc)) < 0)
		return ret;
	json_decref(doc);
	snprintf(k[0], KEY_MAX, "/endpoints/%s/", t[0]);
	snprintf(k[1], KEY_MAX, "/vnets/%s/", t[0]);
	key_tenant(k[2], t[0]);
	const char *const prefixes[] = { k[0], k[1], k[2] };
	if ((ret = model_delete_tree(r->d, prefixes, 3, err, sizeof(err))) < 0)
		return req_fail(r, ret, "tenant %s: %s", t[0], err);
	log_info("tenant %s deleted by uid %u", t[0], (unsigned)r->who->uid);
	return 0;
}

static int tenant_show(struct csd_req *r)
{
	name_t t[1];
	json_t *doc;
	int ret;

	if ((ret = req_path(r, "name", 1, t)) < 0 || (ret = req_tenant(r, t[0], &doc)) < 0)
		return ret;
	r->result = view_tenant(r->d, t[0], doc, NULL, NULL);
	json_decref(doc);
	return 0;
}

static int tenant_list(struct csd_req *r)
{
	json_t *docs, *doc;
	const char *key;
	int ret = model_list(r->d, "/tenants/", &docs, NULL);

	if (ret < 0)
		return req_store_fail(r, ret, "tenant list");
	json_t *vc = model_count(r->d, "/vnets/", 1), *ec = model_count(r->d, "/endpoints/", 1);
	r->result = json_array();
	json_object_foreach(docs, key, doc) {
		if (authz_visible(r->who, json_object_get(doc, "spec"), NULL))
			json_array_append_new(r->result, view_tenant(r->d, key + 9, doc, vc, ec));
	}
	json_decref(vc);
	json_decref(ec);
	json_decref(docs);
	return 0;
}

CSD_OP(tenant_create, "tenant.create", tenant_create, CSD_OP_CHANGES, "create a tenant");
CSD_OP(tenant_delete, "tenant.delete", tenant_delete, CSD_OP_CHANGES,
       "delete a tenant and all it holds");
CSD_OP(tenant_show, "tenant.show", tenant_show, 0, "show a tenant");
CSD_OP(tenant_list, "tenant.list", tenant_list, 0, "list the tenants the caller may see");
