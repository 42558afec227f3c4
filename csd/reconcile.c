/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reconciliation: make this node's kernel match the store. Runs at start,
 * on a timer and on SIGHUP; op handlers realize what they change at once;
 * on a shared store, the watch's changes reconcile just the vnets they
 * touch (reconcile_vnets). Every step is idempotent and adopts what
 * exists.
 *
 * Deleting what the store does not hold happens only after every read
 * succeeded: a read that failed deletes nothing. A successful read carries
 * the store's revision, which proves it happened; an empty answer is then
 * believed, so deleting a cluster's last vnet removes it on every node,
 * except from a store that was never written (revision 1) or that went back
 * in time (a revision older than one already read: restored from a backup,
 * or another etcd): an empty store that is not the one the kernel was
 * realized from is not taken to mean "delete everything".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "ops.h"
#include "qos.h"
#include "policy.h"

bool endpoint_owner_gone(const json_t *doc);

/* Tear down the endpoints in @inv whose path starts with @prefix ("" for
 * all) and that @eps does not hold (NULL: holds none) or places elsewhere. */
static int remove_stale_endpoints(struct csd *d, const char *prefix, const json_t *eps,
				  const struct vnet_inventory *inv)
{
	char ekey[KEY_MAX], err[256];
	size_t l = strlen(prefix);
	int removed = 0;

	for (size_t i = 0; i < inv->nendpoints; i++) {
		name_t p[3];
		const json_t *doc;
		if (strncmp(inv->endpoints[i], prefix, l) ||
		    cs_path_split(inv->endpoints[i], 3, p, err, sizeof(err)) < 0)
			continue;
		key_endpoint(ekey, p[0], p[1], p[2]);
		doc = json_object_get(eps, ekey);
		if (!doc || !model_endpoint_local(d, doc)) {
			/* nobody waits for it: off the loop (teardown.c) */
			bool defer = d->teardown_defer;
			d->teardown_defer = true;
			unrealize_endpoint(d, p[0], p[1], p[2]);
			d->teardown_defer = defer;
			removed++;
		}
	}
	return removed;
}

/* Tear down what vnet T/V has here: its endpoints in @inv but not in @eps
 * (NULL: all of them) or not placed here; with @vnet_too the vnet. */
static int remove_stale(struct csd *d, const char *t, const char *v, const json_t *eps,
			const struct vnet_inventory *inv, bool vnet_too)
{
	char tv[KEY_MAX];
	int removed;

	snprintf(tv, sizeof(tv), "%s/%s/", t, v);
	removed = remove_stale_endpoints(d, tv, eps, inv);
	tv[strlen(tv) - 1] = '\0';
	for (size_t i = 0; vnet_too && i < inv->nvnets; i++) {
		if (!strcmp(inv->vnets[i], tv)) {
			unrealize_vnet(d, t, v);
			removed++;
		}
	}
	return removed;
}

/* One vnet from the store: realized here as declared, or torn down when
 * the store answered that it is gone or no longer spans this node. Sets
 * *@underlay when the node's underlay filter may have to change. */
static int reconcile_vnet(struct csd *d, const char *t, const char *v, bool vnet_changed,
			  const json_t *changed_eps, const struct vnet_inventory *inv, bool *underlay)
{
	char vkey[KEY_MAX], prefix[KEY_MAX + 16], err[512];
	json_t *vdoc = NULL, *eps = NULL, *doc;
	const char *key;
	int r, failed = 0;

	key_vnet(vkey, t, v);
	r = model_get(d, vkey, &vdoc, NULL);
	if (r == CS_ENOENT) {
		/* the store answered (a revision came with it): a real delete */
		if (remove_stale(d, t, v, NULL, inv, true))
			*underlay = true;
		return 0;
	}
	snprintf(prefix, sizeof(prefix), "/endpoints/%s/%s/", t, v);
	if (r < 0 || (r = model_list(d, prefix, &eps, NULL)) < 0) {
		log_warn("reconcile: vnet %s/%s: cannot read the store (%s); nothing changed", t,
			 v, cs_strerror(r));
		goto out;
	}
	if (!model_vnet_here(d, vdoc)) {
		if (remove_stale(d, t, v, NULL, inv, true))
			*underlay = true;
		goto out;
	}
	if (vnet_changed && model_vnet_nnodes(vdoc) > 1)
		*underlay = true;
	if (vnet_changed && realize_vnet(d, t, v, vdoc, err, sizeof(err)) < 0) {
		log_warn("reconcile: %s", err);
		failed++;
	}
	/* a vnet that changed: all its endpoints here (its MTU, its peers);
	 * else only those whose keys changed (each brings its vnet up) */
	json_object_foreach(eps, key, doc) {
		name_t p[3];
		if (cs_path_split(key + 11, 3, p, err, sizeof(err)) < 0 ||
		    !model_endpoint_local(d, doc) ||
		    (!vnet_changed && !json_object_get(changed_eps, p[2])))
			continue;
		if (realize_endpoint(d, p[0], p[1], p[2], vdoc, doc, err, sizeof(err)) < 0) {
			log_warn("reconcile: %s", err);
			failed++;
		}
	}
	remove_stale(d, t, v, eps, inv, false);
	if (realize_vnet_qos(d, t, v, vdoc, eps, err, sizeof(err)) < 0) {
		log_warn("reconcile: %s", err);
		failed++;
	}
	if (realize_vnet_policy(d, t, v, vdoc, eps, err, sizeof(err)) < 0) {
		log_warn("reconcile: %s", err);
		failed++;
	}
	r = failed ? CS_EIO : 0;
out:
	json_decref(vdoc);
	json_decref(eps);
	return r;
}

int reconcile_vnets(struct csd *d, const json_t *vnets)
{
	struct vnet_inventory inv = { 0 };
	bool underlay = false;
	const char *tv;
	json_t *what;
	char err[256];
	int r, ret = 0;
	uint64_t t0 = metrics_clock();

	/* what is realized here: to find endpoints the store no longer holds */
	if ((r = csd_inventory(d, &inv)) < 0) {
		log_warn("reconcile: cannot list kernel objects: %s", vnet_backend_error(d->backend));
		return r;
	}
	model_span(d, true);
	json_object_foreach((json_t *)vnets, tv, what) {
		name_t p[2];
		if (cs_path_split(tv, 2, p, err, sizeof(err)) < 0)
			continue;
		r = reconcile_vnet(d, p[0], p[1], json_is_true(json_object_get(what, "vnet")),
				   json_object_get(what, "endpoints"), &inv, &underlay);
		if (r < 0)
			ret = r;
	}
	model_span(d, false);
	if (underlay && model_underlay_sync(d) < 0)
		ret = CS_EIO;
	log_debug("reconcile: %zu vnets touched by changes", json_object_size(vnets));
	vnet_inventory_clear(&inv);
	metrics_reconcile(d, "vnets", ret, t0);
	return ret;
}

/* 1 (logged) when a realization failed, else 0 */
static int failed_logged(int r, const char *err)
{
	if (r >= 0)
		return 0;
	log_warn("reconcile: %s", err);
	return 1;
}

/* an ephemeral endpoint whose program is gone and that no connection
 * holds is deleted, and taken out of eps (the reading of this pass) */
static bool reap_ephemeral(struct csd *d, json_t *eps, const char *key, const json_t *doc,
			   name_t p[3])
{
	char full[KEY_MAX], err[512];

	snprintf(full, sizeof(full), "%s/%s/%s", p[0], p[1], p[2]);
	if (!json_is_true(json_object_get(doc, "ephemeral")) || csd_ephemeral_held(d, full) ||
	    !endpoint_owner_gone(doc))
		return false;
	const char *const prefixes[] = { key };
	d->gen++;
	if (model_delete_tree(d, prefixes, 1, err, sizeof(err)) == 0) {
		log_info("ephemeral endpoint %s/%s/%s deleted: its owner is gone", p[0], p[1], p[2]);
		/* out of this pass's reading too: the stale pass removes its
		 * namespace now, and QoS and rules no longer count it (not at
		 * a later reconcile, nor as "not realized") */
		json_object_del(eps, key);
	} else {
		log_warn("reconcile: ephemeral endpoint %s/%s/%s: its owner is gone "
			 "but it cannot be deleted: %s", p[0], p[1], p[2], err);
	}
	return true;
}

/* Delete the ephemeral endpoints here of @eps whose program is gone and
 * that no connection holds, from the store and from @eps. */
static void ephemerals_gone(struct csd *d, json_t *eps)
{
	const char *key;
	json_t *doc;
	char err[64];
	void *tmp;

	json_object_foreach_safe(eps, tmp, key, doc) {
		name_t p[3];
		if (cs_path_split(key + 11, 3, p, err, sizeof(err)) == 0 &&
		    model_endpoint_local(d, doc))
			reap_ephemeral(d, eps, key, doc, p);
	}
}

/* every local endpoint of the reading realized; returns how many failed */
static int reconcile_endpoints(struct csd *d, const json_t *vnets, json_t *eps)
{
	const char *key;
	json_t *doc;
	char err[512];
	int failed = 0;
	void *tmp;

	json_object_foreach_safe(eps, tmp, key, doc) {
		name_t p[3];
		char vkey[KEY_MAX];
		if (cs_path_split(key + 11, 3, p, err, sizeof(err)) < 0 || !model_endpoint_local(d, doc))
			continue;
		if (reap_ephemeral(d, eps, key, doc, p))
			continue;
		key_vnet(vkey, p[0], p[1]);
		json_t *vdoc = json_object_get(vnets, vkey);
		if (!vdoc)
			continue;
		failed += failed_logged(realize_endpoint(d, p[0], p[1], p[2], vdoc, doc, err,
							 sizeof(err)), err);
	}
	return failed;
}

/* one vnet of a pass of reconcile_all: how many failed (logged) */
typedef int vnet_pass_fn(struct csd *d, name_t p[2], const json_t *vdoc, const json_t *eps);

/* the vnet itself, where this node holds it */
static int pass_vnet(struct csd *d, name_t p[2], const json_t *vdoc, const json_t *eps)
{
	char err[512];

	(void)eps;
	if (!model_vnet_here(d, vdoc))
		return 0;
	return failed_logged(realize_vnet(d, p[0], p[1], vdoc, err, sizeof(err)), err);
}

/* its reservations and shares, and its rules (drift repair of every local
 * endpoint's ingress), from the same reading */
static int pass_qos_rules(struct csd *d, name_t p[2], const json_t *vdoc, const json_t *eps)
{
	char err[512];
	int failed = failed_logged(realize_vnet_qos(d, p[0], p[1], vdoc, eps, err, sizeof(err)),
				   err);

	if (model_vnet_here(d, vdoc))
		failed += failed_logged(realize_vnet_policy(d, p[0], p[1], vdoc, eps, err,
							    sizeof(err)), err);
	return failed;
}

static int pass_each(struct csd *d, const json_t *vnets, const json_t *eps,
		     vnet_pass_fn *one)
{
	const char *key;
	json_t *doc;
	char err[512];
	int failed = 0;

	json_object_foreach((json_t *)vnets, key, doc) {
		name_t p[2];
		if (cs_path_split(key + 7, 2, p, err, sizeof(err)) == 0)
			failed += one(d, p, doc, eps);
	}
	return failed;
}

/* realized vnets the store does not hold here; returns how many went */
static int remove_stale_vnets(struct csd *d, const json_t *vnets,
			      const struct vnet_inventory *inv)
{
	char err[512];
	int removed = 0;

	for (size_t i = 0; i < inv->nvnets; i++) {
		char vkey[KEY_MAX];
		name_t p[2];
		if (cs_path_split(inv->vnets[i], 2, p, err, sizeof(err)) < 0)
			continue;
		key_vnet(vkey, p[0], p[1]);
		json_t *doc = json_object_get(vnets, vkey);
		if (!doc || !model_vnet_here(d, doc)) {
			unrealize_vnet(d, p[0], p[1]);
			removed++;
		}
	}
	return removed;
}

int reconcile_all(struct csd *d)
{
	json_t *vnets = NULL, *eps = NULL;
	struct vnet_inventory inv = { 0 };
	int r, failed = 0, removed = 0;

	int64_t vrev = 0;
	uint64_t t0 = metrics_clock();

	model_span(d, true);
	if ((r = model_list(d, "/vnets/", &vnets, &vrev)) < 0 ||
	    (r = model_list(d, "/endpoints/", &eps, NULL)) < 0) {
		log_warn("reconcile: cannot read the store (%s); nothing changed", cs_strerror(r));
		goto out;
	}
	failed += pass_each(d, vnets, eps, pass_vnet);
	failed += reconcile_endpoints(d, vnets, eps);
	failed += pass_each(d, vnets, eps, pass_qos_rules);
	if ((r = csd_inventory(d, &inv)) < 0) {
		log_warn("reconcile: cannot list kernel objects: %s", vnet_backend_error(d->backend));
		goto out;
	}
	if (json_object_size(vnets) == 0 && inv.nvnets > 0 &&
	    (vrev <= 1 || vrev < d->rev_seen)) {
		log_warn("reconcile: the store holds no vnet but %zu are realized with prefix %s, "
			 "and its revision (%lld) says it %s; leaving them; delete them through a "
			 "csd whose store declares them, or by hand", inv.nvnets, d->cfg.prefix,
			 (long long)vrev, vrev <= 1 ? "was never written"
			 : "is older than what was read before");
		goto out;
	}
	if (vrev > d->rev_seen)
		d->rev_seen = vrev;
	removed += remove_stale_endpoints(d, "", eps, &inv);
	removed += remove_stale_vnets(d, vnets, &inv);
	if (model_underlay_sync(d) < 0)
		failed++;
	log_debug("reconcile: %zu vnets, %zu endpoints in the store; %d failed, %d removed",
		  json_object_size(vnets), json_object_size(eps), failed, removed);
	r = failed ? CS_EIO : 0;
out:
	model_span(d, false);
	vnet_inventory_clear(&inv);
	json_decref(vnets);
	json_decref(eps);
	metrics_reconcile(d, "full", r, t0);
	return r;
}

/*
 * The full pass at start and on the timer, in slices (csd_poll calls
 * reconcile_pass_step between its turns): the store's vnets and those the
 * kernel holds, one after another as the watch's changes reconcile one
 * (reconcile_vnet), until RECONCILE_SLICE_MS have gone; then the clients
 * are served again (server.c decides when the next slice runs). Done in one go (reconcile_all) csd answered nobody for
 * seconds at 10,000 endpoints: after a start, and every 30 s.
 */
#define RECONCILE_SLICE_MS 10

struct reconcile_pass {
	json_t *todo;			/* "T/V" strings */
	size_t next;
	struct vnet_inventory inv;	/* read when the pass began */
	bool underlay;
	int failed;
	uint64_t t0;
};

static void pass_free(struct reconcile_pass *ps)
{
	vnet_inventory_clear(&ps->inv);
	json_decref(ps->todo);
	free(ps);
}

static void todo_add(json_t *todo, json_t *seen, const char *tv)
{
	if (!json_object_get(seen, tv)) {
		json_object_set_new(seen, tv, json_true());
		json_array_append_new(todo, json_string(tv));
	}
}

/* The vnets of the pass: the store's, and what the kernel holds (vnets, and
 * the vnets of its endpoints) unless the store may not be believed (see
 * the top of this file). */
static int pass_plan(struct csd *d, struct reconcile_pass *ps)
{
	json_t *vnets = NULL, *eps = NULL, *seen = json_object(), *doc;
	const char *key;
	int64_t vrev = 0;
	int r;

	if ((r = model_list(d, "/vnets/", &vnets, &vrev)) < 0 ||
	    (r = model_list(d, "/endpoints/", &eps, NULL)) < 0 ||
	    (r = csd_inventory(d, &ps->inv)) < 0) {
		log_warn("reconcile: cannot read the store or the kernel (%s); nothing changed",
			 r == CS_EIO ? vnet_backend_error(d->backend) : cs_strerror(r));
		goto out;
	}
	ephemerals_gone(d, eps);
	json_object_foreach(vnets, key, doc)
		todo_add(ps->todo, seen, key + 7);
	if (json_object_size(vnets) == 0 && ps->inv.nvnets > 0 &&
	    (vrev <= 1 || vrev < d->rev_seen)) {
		log_warn("reconcile: the store holds no vnet but %zu are realized with prefix %s, "
			 "and its revision (%lld) says it %s; leaving them; delete them through a "
			 "csd whose store declares them, or by hand", ps->inv.nvnets, d->cfg.prefix,
			 (long long)vrev, vrev <= 1 ? "was never written"
			 : "is older than what was read before");
		goto out;
	}
	if (vrev > d->rev_seen)
		d->rev_seen = vrev;
	for (size_t i = 0; i < ps->inv.nvnets; i++)
		todo_add(ps->todo, seen, ps->inv.vnets[i]);
	for (size_t i = 0; i < ps->inv.nendpoints; i++) {
		char tv[KEY_MAX], *slash;
		snprintf(tv, sizeof(tv), "%s", ps->inv.endpoints[i]);
		if ((slash = strrchr(tv, '/')))
			*slash = '\0';
		todo_add(ps->todo, seen, tv);
	}
out:
	json_decref(seen);
	json_decref(vnets);
	json_decref(eps);
	return r;
}

int reconcile_pass_start(struct csd *d)
{
	struct reconcile_pass *ps;
	int r;

	if (d->pass)
		return 0;
	if (!(ps = calloc(1, sizeof(*ps))) || !(ps->todo = json_array())) {
		free(ps);
		return CS_ENOMEM;
	}
	ps->t0 = metrics_clock();
	if ((r = pass_plan(d, ps)) < 0) {
		metrics_reconcile(d, "full", r, ps->t0);
		pass_free(ps);
		return r;
	}
	d->pass = ps;
	return 0;
}

bool reconcile_pass_step(struct csd *d)
{
	struct reconcile_pass *ps = d->pass;
	uint64_t until = metrics_clock() + RECONCILE_SLICE_MS * 1000000ull;
	char err[256];

	if (!ps)
		return false;
	model_span(d, true);
	do {
		name_t p[2];
		const char *tv = json_string_value(json_array_get(ps->todo, ps->next++));
		if (tv && cs_path_split(tv, 2, p, err, sizeof(err)) == 0 &&
		    reconcile_vnet(d, p[0], p[1], true, NULL, &ps->inv, &ps->underlay) < 0)
			ps->failed++;
	} while (ps->next < json_array_size(ps->todo) && metrics_clock() < until);
	model_span(d, false);
	if (ps->next < json_array_size(ps->todo))
		return true;
	if (model_underlay_sync(d) < 0)
		ps->failed++;
	log_debug("reconcile: a pass over %zu vnets; %d failed", json_array_size(ps->todo),
		  ps->failed);
	metrics_reconcile(d, "full", ps->failed ? CS_EIO : 0, ps->t0);
	d->pass = NULL;
	pass_free(ps);
	return false;
}

void reconcile_pass_stop(struct csd *d)
{
	if (d->pass)
		pass_free(d->pass);
	d->pass = NULL;
}
