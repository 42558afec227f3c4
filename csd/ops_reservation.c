/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * reservation.create/delete/show/list. A reservation is an endpoint's
 * "qos": create sets it (admitted against the vnet's capacity in the same
 * store transaction that stores it), delete removes it; either is enforced
 * on this node before the reply. Owners of the tenant manage reservations;
 * a program may also reserve for an ephemeral endpoint it opened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "qos.h"
#include "resources/qos_spec.h"
#include "resources/units.h"

/* The reservation of endpoint T/V/E as `cs-ctl -j reservation show` prints it. */
static json_t *view_reservation(struct csd *d, const char *t, const char *v, const char *e,
				const json_t *edoc, const struct vnet_inventory *inv,
				const bool *enforced)
{
	const json_t *q = json_object_get(json_object_get(edoc, "spec"), "qos");
	struct admission_resv rv;
	char name[KEY_MAX], buf[32];
	json_t *o;

	snprintf(name, sizeof(name), "%s/%s/%s", t, v, e);
	if (qos_spec_parse(q, "qos", &rv, NULL, 0) < 0)
		return json_pack("{s:s, s:s}", "name", name, "state", "invalid");
	o = json_pack("{s:s, s:s}", "name", name, "rate", cs_rate_format(rv.rate, buf, sizeof(buf)));
	json_object_set_new(o, "ceil", json_string(cs_rate_format(rv.ceil ? rv.ceil : rv.rate, buf,
								   sizeof(buf))));
	if (rv.burst)
		json_object_set_new(o, "burst", json_string(cs_size_format(rv.burst, buf,
									  sizeof(buf))));
	else
		json_object_set_new(o, "burst", json_string("auto"));
	json_object_set_new(o, "class", json_string(admission_class_name(rv.cls)));
	json_object_set_new(o, "declared", json_deep_copy(q));
	json_object_set(o, "node", json_object_get(edoc, "node"));
	const char *state = "remote";
	if (model_endpoint_local(d, edoc) && enforced)
		state = *enforced ? "enforced" : "down";
	else if (model_endpoint_local(d, edoc))
		state = inv && inventory_has(inv, true, name) ? "enforced" : "down";
	json_object_set_new(o, "state", json_string(state));
	return o;
}

/* May the caller change endpoint T/V/E's reservation? policy/authz.c
 * decides; the program that opened it as an ephemeral endpoint counts as
 * its opener. */
static int may_reserve(struct csd_req *r, const char *t, const char *v, const json_t *edoc)
{
	bool opener = json_is_true(json_object_get(edoc, "ephemeral")) &&
		      json_integer_value(json_object_get(edoc, "owner")) == (json_int_t)r->who->uid;

	return req_endpoint_vnet(r, t, v, opener, NULL, NULL);
}

/*
 * Set (@spec) or remove (NULL) endpoint T/V/E's reservation: decided and
 * stored in one transaction, decided again when the store changed under
 * it; then enforced here. *out gets the endpoint's new document.
 */
static int change(struct csd_req *r, name_t p[3], const json_t *spec, json_t **out,
		  bool *enforced)
{
	struct csd *d = r->d;
	struct qos_txn qt = { 0 };
	char what[160], ekey[KEY_MAX], err[1024];
	char *text = NULL;
	json_t *doc = NULL;
	int ret = 0, attempt;

	*out = NULL;
	snprintf(what, sizeof(what), "endpoint %s/%s/%s", p[0], p[1], p[2]);
	key_endpoint(ekey, p[0], p[1], p[2]);
	for (attempt = 0; attempt < QOS_ATTEMPTS; attempt++) {
		qos_txn_clear(&qt);
		/* the caller's view names the holders of a refusal; nothing of
		 * what this read says reaches the caller before the vnet is
		 * found visible (req_visible, or may_reserve deciding) */
		ret = qos_admit_as(d, r->who, NULL, p[0], p[1], p[2], NULL, spec, &qt, err,
				   sizeof(err));
		if (ret == CS_ENOENT || !qt.self) {
			int v = req_visible(r, p[0], p[1]);
			if (v < 0) {
				ret = v;
			} else if (ret == CS_ENOENT) {
				ret = req_fail(r, ret, "%s: no such endpoint (its vnet %s/%s does not "
					       "exist)", what, p[0], p[1]);
			} else {
				ret = req_fail(r, CS_ENOENT, "%s: no such endpoint", what);
			}
			goto out;
		}
		/* who may: decided on the document this decision read (which also
		 * says "no such tenant/vnet" where the caller has no role) */
		if (attempt == 0) {
			int a = may_reserve(r, p[0], p[1], qt.self);
			if (a < 0) {
				ret = a;
				goto out;
			}
		}
		if (ret < 0) {
			ret = req_fail(r, ret, "%s", err);
			goto out;
		}
		json_t *sp = json_object_get(qt.self, "spec");
		if (!spec && !json_object_get(sp, "qos")) {
			ret = req_fail(r, CS_ENOENT, "%s holds no reservation", what);
			goto out;
		}
		json_decref(doc);
		doc = json_deep_copy(qt.self);
		sp = json_object_get(doc, "spec");
		if (!json_is_object(sp)) {
			sp = json_object();
			json_object_set_new(doc, "spec", sp);
		}
		if (spec)
			json_object_set(sp, "qos", (json_t *)spec);
		else
			json_object_del(sp, "qos");
		free(text);
		if (!(text = json_dumps(doc, JSON_COMPACT))) {
			ret = req_fail(r, CS_ENOMEM, "%s: out of memory", what);
			goto out;
		}
		struct store_op ops[2] = { { STORE_PUT, ekey, text }, qt.op };
		struct store_txn txn = { qt.cmps, qt.ncmps, ops, qt.raise ? 2 : 1 };
		int64_t rev = 0;
		ret = store_txn(d->store, &txn, &rev);
		if (ret == 0)
			qos_txn_committed(d, &qt, rev, ops, txn.nops);
		if (ret != CS_ECONFLICT)
			break;
	}
	if (ret == CS_ECONFLICT) {
		ret = req_fail(r, ret, "%s: the vnet kept changing while the reservation was "
			       "decided (%d attempts); nothing was changed, try again", what,
			       QOS_ATTEMPTS);
		goto out;
	}
	if (ret < 0) {
		ret = req_store_fail(r, ret, what);
		goto out;
	}
	/* only the caps that changed: this endpoint's, and the unreserved
	 * ones' shares when the reserved rates or their number changed */
	if (qos_realize_changed(d, p[0], p[1], p[2], &qt, doc, enforced, err, sizeof(err)) < 0)
		log_warn("%s: reservation stored, enforcing it failed: %s (the reconciler "
			 "retries)", what, err);
	*out = doc;
	doc = NULL;
out:
	free(text);
	json_decref(doc);
	qos_txn_clear(&qt);
	return ret;
}

static json_t *view_one(struct csd *d, name_t p[3], const json_t *doc)
{
	struct vnet_inventory inv = { 0 };
	csd_inventory(d, &inv);
	json_t *o = view_reservation(d, p[0], p[1], p[2], doc, &inv, NULL);
	vnet_inventory_clear(&inv);
	return o;
}

static int resv_create(struct csd_req *r)
{
	name_t p[3];
	json_t *spec = NULL, *doc = NULL;
	char what[160];
	int ret;

	if ((ret = req_path(r, "name", 3, p)) < 0)
		return ret;
	snprintf(what, sizeof(what), "reservation %s/%s/%s", p[0], p[1], p[2]);
	if ((ret = req_spec(r, SCHEMA_RESERVATION, what, &spec)) < 0)
		return ret;
	bool enforced = false;
	if ((ret = change(r, p, spec, &doc, &enforced)) == 0) {
		const json_t *q = json_object_get(json_object_get(doc, "spec"), "qos");
		char buf[32];
		struct admission_resv rv;
		qos_spec_parse(q, "qos", &rv, NULL, 0);
		log_info("%s admitted (%s) by uid %u", what, cs_rate_format(rv.rate, buf,
			 sizeof(buf)), (unsigned)r->who->uid);
		/* no inventory (a scan of every namespace): the realize said */
		r->result = view_reservation(r->d, p[0], p[1], p[2], doc, NULL, &enforced);
	}
	json_decref(doc);
	json_decref(spec);
	return ret;
}

static int resv_delete(struct csd_req *r)
{
	name_t p[3];
	json_t *doc = NULL;
	int ret;

	if ((ret = req_path(r, "name", 3, p)) < 0)
		return ret;
	bool enforced;
	if ((ret = change(r, p, NULL, &doc, &enforced)) == 0)
		log_info("reservation %s/%s/%s released by uid %u", p[0], p[1], p[2],
			 (unsigned)r->who->uid);
	json_decref(doc);
	return ret;
}

static int resv_show(struct csd_req *r)
{
	name_t p[3];
	json_t *tdoc, *doc;
	char key[KEY_MAX];
	int ret;

	if ((ret = req_path(r, "name", 3, p)) < 0 || (ret = req_vnet(r, p[0], p[1], &tdoc, NULL)) < 0)
		return ret;
	json_decref(tdoc);
	key_endpoint(key, p[0], p[1], p[2]);
	if ((ret = model_get(r->d, key, &doc, NULL)) < 0)
		return ret == CS_ENOENT ? req_fail(r, ret, "endpoint %s/%s/%s: no such endpoint",
						   p[0], p[1], p[2])
					: req_store_fail(r, ret, key);
	if (!json_object_get(json_object_get(doc, "spec"), "qos")) {
		json_decref(doc);
		return req_fail(r, CS_ENOENT, "endpoint %s/%s/%s holds no reservation", p[0], p[1],
				p[2]);
	}
	r->result = view_one(r->d, p, doc);
	json_decref(doc);
	return 0;
}

static int resv_list(struct csd_req *r)
{
	const char *filter = json_string_value(json_object_get(r->args, "filter"));
	char prefix[KEY_MAX] = "/endpoints/", err[256];
	json_t *docs = NULL, *doc, *tdocs = NULL, *vdocs = NULL;
	const char *key;
	int ret, n = 0;

	if (filter) {
		name_t p[3];
		n = 1;
		for (const char *c = filter; *c; c++)
			n += *c == '/';
		if (n > 3 || cs_path_split(filter, n, p, err, sizeof(err)) < 0)
			return req_fail(r, CS_EINVAL, "reservation list: %s: expected TENANT, "
					"TENANT/VNET or TENANT/VNET/ENDPOINT", filter);
		/* a vnet's members see its reservations too */
		if ((ret = req_list_filter(r, p[0], n >= 2 ? p[1] : NULL)) < 0)
			return ret;
		/* a whole endpoint name matches itself only: no trailing slash */
		snprintf(prefix, sizeof(prefix), "/endpoints/%s%s", filter, n < 3 ? "/" : "");
	}
	if ((ret = list_docs(r, prefix, "reservation list", &docs, &tdocs, &vdocs)) < 0)
		return ret;
	struct vnet_inventory inv = { 0 };
	csd_inventory(r->d, &inv);
	r->result = json_array();
	json_object_foreach(docs, key, doc) {
		name_t p[3];
		if (cs_path_split(key + 11, 3, p, err, sizeof(err)) < 0 ||
		    !json_object_get(json_object_get(doc, "spec"), "qos"))
			continue;
		if (n == 3 && strcmp(key + 11, filter))
			continue;
		if (!list_visible(r->who, tdocs, vdocs, p[0], p[1]))
			continue;
		json_array_append_new(r->result, view_reservation(r->d, p[0], p[1], p[2], doc, &inv,
								  NULL));
	}
	vnet_inventory_clear(&inv);
	json_decref(docs);
	json_decref(tdocs);
	json_decref(vdocs);
	return 0;
}

CSD_OP(reservation_create, "reservation.create", resv_create, CSD_OP_CHANGES,
       "reserve bandwidth for what an endpoint sends (admitted against its vnet's capacity)");
CSD_OP(reservation_delete, "reservation.delete", resv_delete, CSD_OP_CHANGES,
       "release an endpoint's reservation");
CSD_OP(reservation_show, "reservation.show", resv_show, 0, "show an endpoint's reservation");
CSD_OP(reservation_list, "reservation.list", resv_list, 0, "list reservations");
