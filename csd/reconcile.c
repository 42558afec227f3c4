/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reconciliation: make this node's kernel match the store. Runs at start,
 * on a timer and on SIGHUP; op handlers realize what they change at once.
 * Every step is idempotent and adopts what exists. Deleting what the store
 * does not hold happens only after every read succeeded, and never when the
 * store holds no vnet at all while the kernel still has some: an empty or
 * failed read is not taken to mean "delete everything".
 */
#include <stdio.h>
#include <string.h>

#include "ops.h"
#include "qos.h"
#include "policy.h"

bool endpoint_owner_gone(const json_t *doc);

int reconcile_all(struct csd *d)
{
	json_t *vnets = NULL, *eps = NULL, *doc;
	struct vnet_inventory inv = { 0 };
	const char *key;
	char err[512];
	int r, failed = 0, removed = 0;

	if ((r = model_list(d, "/vnets/", &vnets, NULL)) < 0 ||
	    (r = model_list(d, "/endpoints/", &eps, NULL)) < 0) {
		log_warn("reconcile: cannot read the store (%s); nothing changed", cs_strerror(r));
		goto out;
	}
	json_object_foreach(vnets, key, doc) {
		name_t p[2];
		if (cs_path_split(key + 7, 2, p, err, sizeof(err)) < 0 || !model_vnet_here(d, doc))
			continue;
		if (realize_vnet(d, p[0], p[1], doc, err, sizeof(err)) < 0) {
			log_warn("reconcile: %s", err);
			failed++;
		}
	}
	json_object_foreach(eps, key, doc) {
		name_t p[3];
		char vkey[KEY_MAX];
		if (cs_path_split(key + 11, 3, p, err, sizeof(err)) < 0 || !model_endpoint_local(d, doc))
			continue;
		char full[KEY_MAX];
		snprintf(full, sizeof(full), "%s/%s/%s", p[0], p[1], p[2]);
		if (json_is_true(json_object_get(doc, "ephemeral")) && !csd_ephemeral_held(d, full) &&
		    endpoint_owner_gone(doc)) {
			/* its program is gone and no connection holds it */
			const char *const prefixes[] = { key };
			d->gen++;
			if (model_delete_tree(d, prefixes, 1, err, sizeof(err)) == 0)
				log_info("ephemeral endpoint %s/%s/%s deleted: its owner is gone",
					 p[0], p[1], p[2]);
			continue;
		}
		key_vnet(vkey, p[0], p[1]);
		json_t *vdoc = json_object_get(vnets, vkey);
		if (!vdoc)
			continue;
		if (realize_endpoint(d, p[0], p[1], p[2], vdoc, doc, err, sizeof(err)) < 0) {
			log_warn("reconcile: %s", err);
			failed++;
		}
	}
	/* reservations and shares, from the same reading */
	json_object_foreach(vnets, key, doc) {
		name_t p[2];
		if (cs_path_split(key + 7, 2, p, err, sizeof(err)) < 0)
			continue;
		if (realize_vnet_qos(d, p[0], p[1], doc, eps, err, sizeof(err)) < 0) {
			log_warn("reconcile: %s", err);
			failed++;
		}
		/* rules: drift repair of every local endpoint's ingress */
		if (model_vnet_here(d, doc) &&
		    realize_vnet_policy(d, p[0], p[1], doc, eps, err, sizeof(err)) < 0) {
			log_warn("reconcile: %s", err);
			failed++;
		}
	}
	if ((r = d->backend->ops->inventory(d->backend, &inv)) < 0) {
		log_warn("reconcile: cannot list kernel objects: %s", vnet_backend_error(d->backend));
		goto out;
	}
	if (json_object_size(vnets) == 0 && inv.nvnets > 0) {
		log_warn("reconcile: the store holds no vnet but %zu are realized with prefix %s; "
			 "leaving them (an empty read never deletes everything); delete them "
			 "through a csd whose store declares them, or by hand", inv.nvnets,
			 d->cfg.prefix);
		goto out;
	}
	for (size_t i = 0; i < inv.nendpoints; i++) {
		char ekey[KEY_MAX];
		name_t p[3];
		if (cs_path_split(inv.endpoints[i], 3, p, err, sizeof(err)) < 0)
			continue;
		key_endpoint(ekey, p[0], p[1], p[2]);
		doc = json_object_get(eps, ekey);
		if (!doc || !model_endpoint_local(d, doc)) {
			unrealize_endpoint(d, p[0], p[1], p[2]);
			removed++;
		}
	}
	for (size_t i = 0; i < inv.nvnets; i++) {
		char vkey[KEY_MAX];
		name_t p[2];
		if (cs_path_split(inv.vnets[i], 2, p, err, sizeof(err)) < 0)
			continue;
		key_vnet(vkey, p[0], p[1]);
		doc = json_object_get(vnets, vkey);
		if (!doc || !model_vnet_here(d, doc)) {
			unrealize_vnet(d, p[0], p[1]);
			removed++;
		}
	}
	if (model_underlay_sync(d) < 0)
		failed++;
	log_debug("reconcile: %zu vnets, %zu endpoints in the store; %d failed, %d removed",
		  json_object_size(vnets), json_object_size(eps), failed, removed);
	r = failed ? CS_EIO : 0;
out:
	vnet_inventory_clear(&inv);
	json_decref(vnets);
	json_decref(eps);
	return r;
}
