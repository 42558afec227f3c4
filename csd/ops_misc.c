/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hello, status, and node.list/show/create/delete */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "config.h"
#include "ops.h"
#include "overlay.h"
#include "qos.h"

static int hello(struct csd_req *r)
{
	json_int_t v = 0;

	if (json_unpack(r->args, "{s:I}", "version", &v) < 0)
		return req_fail(r, CS_EPROTO, "hello: missing integer \"version\"");
	if (v != CS_PROTOCOL_VERSION)
		return req_fail(r, CS_EVERSION, "hello: protocol version %" JSON_INTEGER_FORMAT
				" is not supported; this csd speaks version %d", v,
				CS_PROTOCOL_VERSION);
	client_set_hello(r->client);
	r->result = json_pack("{s:i, s:s, s:s, s:I}", "version", CS_PROTOCOL_VERSION, "server",
			      "csd " CS_VERSION, "node", r->d->cfg.node, "max_message",
			      (json_int_t)r->d->cfg.msg_max);
	return 0;
}

static int count(struct csd *d, const char *prefix)
{
	struct store_kvs kvs = { 0 };
	int n = store_list(d->store, prefix, &kvs, NULL) == 0 ? (int)kvs.n : -1;
	store_kvs_clear(&kvs);
	return n;
}

static int status(struct csd_req *r)
{
	struct csd *d = r->d;
	struct timespec ts;
	int64_t rev = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	int sr = store_revision(d->store, &rev);
	r->result = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I}",
			      "version", CS_VERSION, "node", d->cfg.node, "prefix", d->cfg.prefix,
			      "store", d->store->ops->name, "backend", vb_name(d->backend),
			      "revision", (json_int_t)rev, "uptime_s",
			      (json_int_t)((now - d->started) / 1000), "clients",
			      (json_int_t)d->nclients, "requests", (json_int_t)d->requests);
	/* csd serves what exists while its store is away, and says so */
	json_object_set_new(r->result, "store_state",
			    json_string(sr == 0 ? "available" : sr == CS_EUNAVAIL ? "unavailable"
						: "error"));
	if (authz_admin(r->who)) {
		json_object_set_new(r->result, "state_dir", json_string(d->cfg.state_dir));
		json_object_set_new(r->result, "tenants", json_integer(count(d, "/tenants/")));
		json_object_set_new(r->result, "vnets", json_integer(count(d, "/vnets/")));
		json_object_set_new(r->result, "endpoints", json_integer(count(d, "/endpoints/")));
	}
	/* a full reconcile under way (in slices: after a start, every 30 s) */
	json_object_set_new(r->result, "reconciling", json_boolean(d->pass != NULL));
	/* the latest changes: all of them to administrators, their own to others */
	json_object_set_new(r->result, "audit", audit_view(r->who));
	return 0;
}

CSD_OP(hello, "hello", hello, CSD_OP_NO_HELLO, "agree the protocol version");
CSD_OP(status, "status", status, 0, "the daemon's status");

/* ---- nodes: /nodes/N, declared by overlay files (or node.create) ---- */

/* Liveness on a shared store: each csd holds /nodes-alive/N on a lease it
 * keeps alive (server.c); the key, hence "up", goes when the lease expires. */
static void node_liveness(struct csd *d, json_t *o, const char *n, const json_t *alive)
{
	char key[KEY_MAX];
	const json_t *a;

	if (!csd_store_shared(d))
		return;
	snprintf(key, sizeof(key), ALIVE_PREFIX "%s", n);
	a = json_object_get(alive, key);
	if (!model_alive_doc(a)) {
		json_object_set_new(o, "state", json_string("down"));
		return;
	}
	json_object_set_new(o, "state", json_string("up"));
	if (json_object_get(a, "since")) {
		json_int_t up = (json_int_t)time(NULL) - json_integer_value(json_object_get(a, "since"));
		json_object_set_new(o, "up_s", json_integer(up < 0 ? 0 : up));
	}
	if (json_object_get(a, "ttl"))
		json_object_set(o, "lease_ttl_s", json_object_get(a, "ttl"));
	if (!json_string_value(json_object_get(o, "underlay")) &&
	    json_string_value(json_object_get(a, "underlay")))
		json_object_set(o, "underlay", json_object_get(a, "underlay"));
	/* what its csd runs, as it says (a declaration wins) */
	if (!json_object_get(o, "backend") && json_string_value(json_object_get(a, "backend")))
		json_object_set(o, "backend", json_object_get(a, "backend"));
}

static json_t *view_node(struct csd *d, const char *n, const json_t *doc)
{
	json_t *o = json_pack("{s:s}", "name", n);
	const char *ul;

	json_object_update(o, json_object_get(doc, "spec"));
	/* csd's own setting wins for this node, as it does for its vnets */
	if (!strcmp(n, d->cfg.node) && d->cfg.underlay)
		json_object_set_new(o, "underlay", json_string(d->cfg.underlay));
	ul = json_string_value(json_object_get(o, "underlay"));
	if (!ul)
		json_object_set_new(o, "underlay", json_null());
	json_object_set_new(o, "declared", json_boolean(doc != NULL));
	encrypt_view_node(d, n, o);
	json_object_set_new(o, "state", json_string(strcmp(n, d->cfg.node) ? "remote" : "local"));
	return o;
}

static int node_list(struct csd_req *r)
{
	json_t *docs, *doc, *alive = NULL, *v;
	const char *key;
	char lkey[KEY_MAX];
	int ret;

	if ((ret = model_list(r->d, "/nodes/", &docs, NULL)) < 0)
		return req_store_fail(r, ret, "node list");
	if (csd_store_shared(r->d) && (ret = model_list(r->d, ALIVE_PREFIX, &alive, NULL)) < 0) {
		json_decref(docs);
		return req_store_fail(r, ret, "node list");
	}
	r->result = json_array();
	/* this node, even when no file declared it */
	key_node(lkey, r->d->cfg.node);
	if (!json_object_get(docs, lkey)) {
		json_array_append_new(r->result, v = view_node(r->d, r->d->cfg.node, NULL));
		node_liveness(r->d, v, r->d->cfg.node, alive);
	}
	json_object_foreach(docs, key, doc) {
		json_array_append_new(r->result, v = view_node(r->d, key + 7, doc));
		node_liveness(r->d, v, key + 7, alive);
	}
	/* nodes that heartbeat without an underlay to register */
	json_object_foreach(alive, key, doc) {
		key_node(lkey, key + 13);
		if (json_object_get(docs, lkey) || !strcmp(key + 13, r->d->cfg.node))
			continue;
		json_array_append_new(r->result, v = view_node(r->d, key + 13, NULL));
		node_liveness(r->d, v, key + 13, alive);
	}
	json_decref(docs);
	json_decref(alive);
	return 0;
}

static int node_name(struct csd_req *r, char *key, const char **name)
{
	*name = json_string_value(json_object_get(r->args, "name"));
	if (!*name)
		return req_fail(r, CS_EINVAL, "%s: missing \"name\" (NODE)", r->op);
	if (!cs_name_valid(*name))
		return req_fail(r, CS_EINVAL, "node \"%s\": not a valid name (use 1-32 characters "
				"a-z, 0-9, '-', '_', starting with a letter or digit)", *name);
	key_node(key, *name);
	return 0;
}

static int node_show(struct csd_req *r)
{
	char key[KEY_MAX];
	const char *n;
	json_t *doc = NULL;
	int ret;

	if ((ret = node_name(r, key, &n)) < 0)
		return ret;
	ret = model_get(r->d, key, &doc, NULL);
	if (ret == CS_ENOENT && strcmp(n, r->d->cfg.node))
		return req_fail(r, ret, "node %s: no such node (declare it with cs-ctl node create "
				"%s underlay ADDRESS, or in an overlay file: \"nodes\": {\"%s\": "
				"{\"underlay\": ADDRESS}})", n, n, n);
	if (ret < 0 && ret != CS_ENOENT)
		return req_store_fail(r, ret, key);
	r->result = view_node(r->d, n, doc);
	json_decref(doc);
	if (csd_store_shared(r->d)) {
		json_t *alive = NULL;
		if (model_list(r->d, ALIVE_PREFIX, &alive, NULL) == 0)
			node_liveness(r->d, r->result, n, alive);
		json_decref(alive);
	}
	return 0;
}

/*
 * Refuse what an apply of {@section: {@name: @spec}} would refuse, with its
 * messages. Used by node.create and vnet.create.
 */
int create_check(struct csd_req *r, const char *what, const char *section, const char *name,
		 const json_t *spec)
{
	struct schema_errors errs = { 0 };
	json_t *file = json_pack("{s:{s:O}}", section, name, spec);
	int ret;

	if (!file)
		return req_fail(r, CS_ENOMEM, "%s: out of memory", what);
	ret = overlay_check_here(r, file, &errs);
	json_decref(file);
	if (ret == CS_EINVAL) {
		char *all = schema_errors_join(&errs);
		ret = req_fail(r, ret, "%s: %s", what, all ? all : "invalid");
		free(all);
	} else if (ret < 0) {
		ret = req_store_fail(r, ret, what);
	}
	schema_errors_clear(&errs);
	return ret;
}

static int node_create(struct csd_req *r)
{
	char key[KEY_MAX], what[64];
	const char *n;
	json_t *spec = NULL, *doc = NULL;
	char *text = NULL;
	int ret;

	if ((ret = node_name(r, key, &n)) < 0)
		return ret;
	snprintf(what, sizeof(what), "node %s", n);
	if (!authz_admin(r->who))
		return req_fail(r, CS_EPERM, "%s: only administrators may declare nodes", what);
	if ((ret = req_spec(r, SCHEMA_NODE, what, &spec)) < 0)
		return ret;
	/* what apply would refuse of the same declaration, so that an export
	 * always applies again: an underlay, usable, that no other node has */
	if ((ret = create_check(r, what, "nodes", n, spec)) < 0)
		goto out;
	doc = json_pack("{s:O}", "spec", spec);
	text = json_dumps(doc, JSON_COMPACT);
	struct store_cmp cmps[1] = { { key, 0 } };
	struct store_op ops[1] = { { STORE_PUT, key, text } };
	struct store_txn txn = { cmps, 1, ops, 1 };
	ret = store_txn(r->d->store, &txn, NULL);
	if (ret == CS_ECONFLICT) {
		ret = req_fail(r, CS_EEXIST, "%s: already exists", what);
		goto out;
	} else if (ret < 0) {
		ret = req_store_fail(r, ret, what);
		goto out;
	}
	r->d->gen++;
	/* vnets that span it learn its address */
	reconcile_all(r->d);
	/* this node's uplink shaping (uplink_shape) */
	char uerr[512];
	if (!strcmp(n, r->d->cfg.node) && realize_uplink_qos(r->d, doc, false, uerr, sizeof(uerr)) < 0)
		log_warn("%s: %s (the reconciler retries)", what, uerr);
	log_info("%s declared (underlay %s) by uid %u", what,
		 json_string_value(json_object_get(spec, "underlay")), (unsigned)r->who->uid);
	r->result = view_node(r->d, n, doc);
out:
	free(text);
	json_decref(doc);
	json_decref(spec);
	return ret;
}

static int node_delete(struct csd_req *r)
{
	char key[KEY_MAX], what[64];
	const char *n, *vkey;
	json_t *doc = NULL, *vnets = NULL, *vdoc;
	int ret;

	if ((ret = node_name(r, key, &n)) < 0)
		return ret;
	snprintf(what, sizeof(what), "node %s", n);
	if (!authz_admin(r->who))
		return req_fail(r, CS_EPERM, "%s: only administrators may delete nodes", what);
	ret = model_get(r->d, key, &doc, NULL);
	if (ret == CS_ENOENT && !strcmp(n, r->d->cfg.node))
		return req_fail(r, ret, "%s: this csd's own node (csd -n %s), listed without a "
				"declaration: there is no declaration to delete, and the node stays "
				"while csd runs as %s", what, n, n);
	if (ret == CS_ENOENT)
		return req_fail(r, ret, "%s: no such node (cs-ctl node list shows the nodes)",
				what);
	if (ret < 0)
		return req_store_fail(r, ret, key);
	json_decref(doc);
	if ((ret = model_list(r->d, "/vnets/", &vnets, NULL)) < 0)
		return req_store_fail(r, ret, what);
	json_object_foreach(vnets, vkey, vdoc) {
		size_t i;
		json_t *el;
		json_array_foreach(json_object_get(json_object_get(vdoc, "spec"), "nodes"), i, el) {
			if (json_is_string(el) && !strcmp(json_string_value(el), n)) {
				ret = req_fail(r, CS_EBUSY, "%s: vnet %s spans it; remove %s from the "
					       "vnet's nodes first", what, vkey + 7, n);
				json_decref(vnets);
				return ret;
			}
		}
	}
	json_decref(vnets);
	struct store_op ops[1] = { { STORE_DELETE, key, NULL } };
	struct store_txn txn = { NULL, 0, ops, 1 };
	if ((ret = store_txn(r->d->store, &txn, NULL)) < 0)
		return req_store_fail(r, ret, what);
	r->d->gen++;
	char uerr[512];
	if (!strcmp(n, r->d->cfg.node) && realize_uplink_qos(r->d, NULL, false, uerr, sizeof(uerr)) < 0)
		log_warn("%s: %s", what, uerr);
	log_info("%s deleted by uid %u", what, (unsigned)r->who->uid);
	return 0;
}

CSD_OP(node_list, "node.list", node_list, 0, "list the nodes");
CSD_OP(node_show, "node.show", node_show, 0, "show a node");
CSD_OP(node_create, "node.create", node_create, CSD_OP_CHANGES,
       "declare a node and its underlay address");
CSD_OP(node_delete, "node.delete", node_delete, CSD_OP_CHANGES, "delete a node's declaration");
