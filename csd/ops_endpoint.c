/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * endpoint.create/delete/show/list, endpoint.open (join a vnet from a
 * program), endpoint.socket (a socket made inside the endpoint, passed back
 * by SCM_RIGHTS), endpoint.netns (for exec) and resolve.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "audit.h"
#include "charges.h"
#include "ops.h"
#include "publish.h"
#include "qos.h"
#include "policy.h"
#include "resources/qos_spec.h"
#include "vnet/netns.h"

/* Start time of a process (clock ticks since boot), 0 if it is gone. */
static unsigned long long pid_start(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long start = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "re")))
		return 0;
	if (fgets(buf, sizeof(buf), f)) {
		char *p = strrchr(buf, ')');
		/* field 22 (starttime), counting from after the command name */
		for (int field = 2; p && field < 22; field++)
			p = strchr(p + 1, ' ');
		if (p)
			start = strtoull(p + 1, NULL, 10);
	}
	fclose(f);
	return start;
}

bool endpoint_owner_gone(const json_t *doc);
bool endpoint_owner_gone(const json_t *doc)
{
	json_int_t pid = json_integer_value(json_object_get(doc, "pid"));
	json_int_t start = json_integer_value(json_object_get(doc, "pid_start"));

	return pid <= 0 || (json_int_t)pid_start((pid_t)pid) != start;
}

static int used_addresses(struct csd *d, const char *t, const char *v, struct cs_addr **out,
			  size_t *n)
{
	char prefix[KEY_MAX];
	struct store_kvs kvs = { 0 };
	int r;

	*out = NULL;
	*n = 0;
	snprintf(prefix, sizeof(prefix), "/alloc/addr/%s/%s/", t, v);
	if ((r = store_list(d->store, prefix, &kvs, NULL)) < 0)
		return r;
	*out = calloc(kvs.n + 1, sizeof(**out));
	if (!*out) {
		store_kvs_clear(&kvs);
		return CS_ENOMEM;
	}
	for (size_t i = 0; i < kvs.n; i++)
		if (cs_addr_parse(kvs.v[i].key + strlen(prefix), &(*out)[*n]) == 0)
			(*n)++;
	store_kvs_clear(&kvs);
	return 0;
}

/* Fixed addresses from the spec, checked against the vnet's subnets. */
static int fixed_addresses(struct csd_req *r, const char *what, const json_t *spec,
			   const struct cs_prefix *subnets, int nsub, struct cs_addr fixed[2],
			   bool have[2])
{
	const json_t *a = json_object_get(spec, "address");
	json_t *list = json_is_array(a) ? json_incref((json_t *)a) : json_pack("[O]", a);
	size_t i;
	json_t *el;
	int ret = 0;
	char err[256];

	have[0] = have[1] = false;
	json_array_foreach(list, i, el) {
		struct cs_addr x;
		if (!json_is_string(el) || cs_addr_parse(json_string_value(el), &x) < 0)
			continue;
		int s;
		for (s = 0; s < nsub; s++)
			if (subnets[s].addr.family == x.family)
				break;
		if (s == nsub) {
			char sbuf[CS_ADDRSTRLEN];
			ret = req_fail(r, CS_EINVAL, "%s: address %s is %s but the vnet has no %s "
				       "subnet (it has %s)", what, json_string_value(el),
				       x.family == AF_INET ? "IPv4" : "IPv6",
				       x.family == AF_INET ? "IPv4" : "IPv6",
				       nsub ? cs_prefix_format(&subnets[0], sbuf) : "none");
			break;
		}
		if (ipam_check_fixed(&subnets[s], &x, err, sizeof(err)) < 0) {
			ret = req_fail(r, CS_EINVAL, "%s: address %s", what, err);
			break;
		}
		fixed[s] = x;
		have[s] = true;
	}
	json_decref(list);
	return ret;
}

/* What creating one endpoint works on (endpoint_create and its parts). */
struct ep_new {
	const char *t, *v, *e;
	char what[160], key[KEY_MAX];
	const json_t *spec;     /* the caller's, or own_spec */
	json_t *vdoc, *own_spec, *doc;
	const char *node;
	struct cs_prefix subnets[2];
	struct cs_addr fixed[2];
	bool have[2];
	int nsub;
	bool ephemeral;
	int nsfd;               /* the namespace to attach (key "netns"), or -1 */
};

/* Where it lives, checked against the vnet's nodes and the store's reach. */
static int ep_place(struct csd_req *r, struct ep_new *c)
{
	struct csd *d = r->d;
	char err[2048];
	int ret;

	c->node = json_string_value(json_object_get(c->spec, "node"));
	if (!c->node)
		c->node = d->cfg.node;
	if (strcmp(c->node, d->cfg.node) && !csd_store_shared(d))
		/* nothing would tell that node: its csd reads a store of its own */
		return req_fail(r, CS_EINVAL, "%s: node %s is not this node (%s), and each node "
				"has a store of its own; declare the endpoint in an overlay file "
				"applied on every node, or create it through node %s's csd", c->what,
				c->node, d->cfg.node, c->node);
	bool all_fixed = c->nsub > 0;
	for (int s = 0; s < c->nsub; s++)
		all_fixed = all_fixed && c->have[s];
	if (model_vnet_nnodes(c->vdoc) > 1 && !csd_store_shared(d) && !all_fixed)
		return req_fail(r, CS_EINVAL, "%s: vnet %s/%s spans several nodes, each with a "
				"store of its own, so an address allocated here could be given out "
				"on another node too; give the endpoint a fixed address, or declare "
				"it in the overlay file applied on every node", c->what, c->t, c->v);
	if (model_vnet_nnodes(c->vdoc) > 1 && !json_object_get(c->spec, "node")) {
		/* declared where it lives, so that export gives a file apply takes
		 * back (a vnet across nodes needs each endpoint's node) */
		if (!(c->own_spec = json_deep_copy(c->spec)))
			return req_fail(r, CS_ENOMEM, "%s: out of memory", c->what);
		json_object_set_new(c->own_spec, "node", json_string(c->node));
		c->spec = c->own_spec;
	}
	if (!model_vnet_here(d, c->vdoc) && !strcmp(c->node, d->cfg.node))
		return req_fail(r, CS_EINVAL, "%s: vnet %s/%s does not span this node (%s); add "
				"%s to its nodes or open the endpoint on one of them", c->what, c->t,
				c->v, d->cfg.node, d->cfg.node);
	const json_t *publish = json_object_get(c->spec, "publish");
	if (json_array_size(publish)) {
		char tve[3 * (CS_NAME_MAX + 1)];
		snprintf(tve, sizeof(tve), "%s/%s/%s", c->t, c->v, c->e);
		ret = publish_check(d, r->who, tve, c->node, publish, NULL, err, sizeof(err));
		if (ret < 0)
			return req_fail(r, ret, "%s: publish: %s", c->what, err);
	}
	return 0;
}

/*
 * Key "netns": the namespace to attach, into c->nsfd. csd is root, so it
 * opens a path only for an administrator; anyone else passes the namespace
 * opened (@fd, by SCM_RIGHTS), and only one whose user namespace the
 * caller owns (its own unprivileged namespaces, a rootless runtime's):
 * otherwise any user could open another's container's namespace, or the
 * node's, and have cs put an interface and routes there.
 */
static int ep_attach_fd(struct csd_req *r, struct ep_new *c, int fd)
{
	const char *path = json_string_value(json_object_get(c->spec, "netns"));
	const char *ifname = json_string_value(json_object_get(c->spec, "ifname"));
	bool admin = authz_admin(r->who);
	unsigned int owner;
	char err[256];

	if (!path && ifname)
		return req_fail(r, CS_EINVAL, "%s: ifname names the interface in an attached "
				"namespace; give netns PATH too, or leave ifname out", c->what);
	if (!path)
		return 0;
	if (ifname && !vnet_ifname_valid(ifname))
		return req_fail(r, CS_EINVAL, "%s: ifname \"%s\" is not an interface name (1-15 "
				"characters, no '/', ':' or white space, not lo)", c->what, ifname);
	if (strcmp(c->node, r->d->cfg.node))
		return req_fail(r, CS_EINVAL, "%s: netns attaches a namespace of this node (%s), "
				"not of node %s; create the endpoint through that node's csd",
				c->what, r->d->cfg.node, c->node);
	if (fd < 0 && !admin)
		return req_fail(r, CS_EPERM, "%s: netns %s: only administrators may name a "
				"namespace by its path (csd would open it as root); pass it opened "
				"instead (cs-ctl endpoint create opens PATH as you and passes it)",
				c->what, path);
	/* O_NONBLOCK: a FIFO there (or a link to one) must not hold csd in
	 * open(2); what is not nsfs is refused below */
	c->nsfd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0)
			  : open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (c->nsfd < 0)
		return req_fail(r, CS_EINVAL, "%s: netns %s: cannot open it: %s", c->what, path,
				strerror(errno));
	if (netns_check_fd(c->nsfd, err, sizeof(err)) < 0)
		return req_fail(r, CS_EINVAL, "%s: netns %s: %s", c->what, path, err);
	if (!admin && (netns_owner_uid(c->nsfd, &owner) < 0 || owner != r->who->uid))
		return req_fail(r, CS_EPERM, "%s: netns %s: the namespace is not yours (its user "
				"namespace is owned by uid %u): attach a namespace you made (e.g. "
				"with unshare -rn, or a rootless container's)", c->what, path, owner);
	return 0;
}

/* The endpoint's document, its addresses and charges stored in one
 * transaction, allocating again when another took an address meanwhile. */
static int ep_store(struct csd_req *r, struct ep_new *c);

/* Attach its namespace and realize it here, or undo the stored endpoint. */
static int ep_realize(struct csd_req *r, struct ep_new *c)
{
	struct csd *d = r->d;
	char err[2048];
	int ret = 0;

	if (strcmp(c->node, d->cfg.node))
		return 0;
	struct vnet_backend *b = csd_backend_of(d, c->vdoc);

	if (c->nsfd >= 0) {
		ret = vb_endpoint_attach(b, c->t, c->v, c->e, c->nsfd,
					 json_string_value(json_object_get(c->spec, "ifname")));
		if (ret == CS_ENOTSUP)
			snprintf(err, sizeof(err), "%s: netns: the %s backend cannot attach "
				 "namespaces", c->what, vb_name(b));
		else if (ret < 0)
			backend_why(d, c->what, err, sizeof(err));
	}
	bool attached = c->nsfd >= 0 && ret == 0;
	if (ret == 0)
		ret = realize_endpoint(d, c->t, c->v, c->e, c->vdoc, c->doc, err, sizeof(err));
	if (ret < 0) {
		const char *const prefixes[] = { c->key };
		char e2[256];
		/* an attached namespace is left as found: destroy removes only
		 * what cs added there, and its hold on it */
		if (attached)
			vb_endpoint_destroy(b, c->t, c->v, c->e);
		model_delete_tree(d, prefixes, 1, e2, sizeof(e2));
		return req_fail(r, ret, "%s", err);
	}
	return 0;
}

int endpoint_create_in(struct csd_req *r, const char *t, const char *v, const char *e,
		       const json_t *spec, bool ephemeral, int nsfd, json_t **out)
{
	struct csd *d = r->d;
	struct ep_new c = { .t = t, .v = v, .e = e, .spec = spec, .ephemeral = ephemeral,
			    .nsfd = -1 };
	char vkey[KEY_MAX], err[2048];
	int ret;

	*out = NULL;
	snprintf(c.what, sizeof(c.what), "endpoint %s/%s/%s", t, v, e);
	key_vnet(vkey, t, v);
	if ((ret = model_get(d, vkey, &c.vdoc, NULL)) < 0) {
		if (ret == CS_ENOENT)
			return req_fail(r, ret, "%s: vnet %s/%s does not exist; create it first",
					c.what, t, v);
		return req_store_fail(r, ret, c.what);
	}
	c.nsub = model_vnet_subnets(c.vdoc, c.subnets);
	key_endpoint(c.key, t, v, e);
	if ((ret = fixed_addresses(r, c.what, spec, c.subnets, c.nsub, c.fixed, c.have)) < 0 ||
	    (ret = ep_place(r, &c)) < 0 || (ret = ep_attach_fd(r, &c, nsfd)) < 0 ||
	    (ret = ep_store(r, &c)) < 0 || (ret = ep_realize(r, &c)) < 0)
		goto out;
	/* its share, or its reservation, and its siblings' shares */
	if (qos_capacity(json_object_get(c.vdoc, "spec")) &&
	    realize_vnet_qos(d, t, v, NULL, NULL, err, sizeof(err)) < 0)
		log_warn("%s: %s (the reconciler retries)", c.what, err);
	/* its own ingress, and its siblings' rules that name it or its groups;
	 * a vnet without rules has none to change (and a new endpoint none
	 * to remove) */
	if (json_object_get(json_object_get(c.vdoc, "spec"), "policy") &&
	    realize_vnet_policy(d, t, v, c.vdoc, NULL, err, sizeof(err)) < 0)
		log_warn("%s: %s (the reconciler retries)", c.what, err);
	log_info("%s created (%s%s%s) by uid %u", c.what, json_string_value(json_array_get(
		 json_object_get(c.doc, "addresses"), 0)) ?: "no address",
		 c.nsfd >= 0 ? ", attached to " : "",
		 c.nsfd >= 0 ? json_string_value(json_object_get(c.spec, "netns")) : "",
		 (unsigned)r->who->uid);
	*out = c.doc;
	c.doc = NULL;
out:
	if (c.nsfd >= 0)
		close(c.nsfd);
	json_decref(c.doc);
	json_decref(c.vdoc);
	json_decref(c.own_spec);
	return ret;
}

int endpoint_create(struct csd_req *r, const char *t, const char *v, const char *e,
		    const json_t *spec, bool ephemeral, json_t **out)
{
	return endpoint_create_in(r, t, v, e, spec, ephemeral, -1, out);
}

/* One attempt's document into c->doc and its text into *text. */
static int ep_doc(struct csd_req *r, struct ep_new *c, const struct cs_addr *addr,
		  char **text)
{
	json_t *addrs = json_array();
	char abuf[CS_ADDRSTRLEN];

	for (int s = 0; s < c->nsub; s++)
		json_array_append_new(addrs, json_string(cs_addr_format(&addr[s], abuf)));
	json_decref(c->doc);
	c->doc = json_pack("{s:O, s:o, s:s, s:I, s:b}", "spec", c->spec, "addresses", addrs,
			   "node", c->node, "owner", (json_int_t)r->who->uid, "ephemeral",
			   c->ephemeral);
	if (!c->doc)
		return req_fail(r, CS_ENOMEM, "%s: out of memory", c->what);
	if (c->ephemeral) {
		json_object_set_new(c->doc, "pid", json_integer(r->who->pid));
		json_object_set_new(c->doc, "pid_start",
				    json_integer((json_int_t)pid_start(r->who->pid)));
	}
	free(*text);
	*text = json_dumps(c->doc, JSON_COMPACT);
	return *text ? 0 : req_fail(r, CS_ENOMEM, "%s: out of memory", c->what);
}

/* After a conflict: an error naming what exists already, or 0 to retry. */
static int ep_conflict(struct csd_req *r, struct ep_new *c, char akey[][KEY_MAX],
		       char abuf[][CS_ADDRSTRLEN])
{
	struct store_kv kv = { 0 };
	struct csd *d = r->d;

	if (store_get(d->store, c->key, &kv) == 0) {
		store_kv_clear(&kv);
		return req_fail(r, CS_EEXIST, "%s: already exists", c->what);
	}
	for (int s = 0; s < c->nsub; s++) {
		if (c->have[s] && store_get(d->store, akey[s], &kv) == 0) {
			/* the value is the holder's name as a JSON string */
			json_t *holder = json_loads(kv.value, JSON_DECODE_ANY, NULL);
			int ret = req_fail(r, CS_EEXIST, "%s: address %s is already used by "
					   "endpoint %s/%s/%s", c->what, abuf[s], c->t, c->v,
					   json_string_value(holder) ?: kv.value);
			json_decref(holder);
			store_kv_clear(&kv);
			return ret;
		}
	}
	return 0;
}
/* Addresses for one attempt: the fixed ones, the rest allocated. */
static int ep_addrs(struct csd_req *r, struct ep_new *c, struct cs_addr *addr,
		    char akey[][KEY_MAX], char abuf[][CS_ADDRSTRLEN])
{
	struct cs_addr *used = NULL;
	size_t nused = 0;
	int ret;

	if ((ret = used_addresses(r->d, c->t, c->v, &used, &nused)) < 0)
		return req_store_fail(r, ret, c->what);
	for (int s = 0; s < c->nsub; s++) {
		if (c->have[s]) {
			addr[s] = c->fixed[s];
		} else if ((ret = ipam_alloc(&c->subnets[s], used, nused, &addr[s])) < 0) {
			free(used);
			return req_fail(r, ret, "%s: no free address left in %s", c->what,
					cs_prefix_format(&c->subnets[s], abuf[0]));
		}
		cs_addr_format(&addr[s], abuf[s]);
		key_addr(akey[s], c->t, c->v, abuf[s]);
	}
	free(used);
	return 0;
}

/* One transaction: the document, its addresses, its reservation (admitted
 * in the transaction that stores it), the tenant's quota and the
 * caller's charges. The store's answer (CS_ECONFLICT: try again). */
static int ep_txn(struct csd_req *r, struct ep_new *c, char akey[][KEY_MAX], char **text)
{
	struct csd *d = r->d;
	const json_t *qos = json_object_get(c->spec, "qos");
	struct qos_txn qt = { 0 };
	struct store_cmp *cmps = NULL;
	struct quota_txn quo;
	struct charge_txn ch;
	char err[2048], ename[CS_NAME_MAX + 3];
	int ret;

	snprintf(ename, sizeof(ename), "\"%s\"", c->e);
	if (qos && (ret = qos_admit(d, c->t, c->v, c->e, qos, &qt, err, sizeof(err))) < 0) {
		ret = req_fail(r, ret, "%s", err);
		goto out;
	}
	if ((ret = quota_check(d, c->t, "endpoints", &quo, err, sizeof(err))) < 0 ||
	    (ret = charge_txn(d, r->who, c->key, &ch, err, sizeof(err))) < 0) {
		ret = req_fail(r, ret, "%s: %s", c->what, err);
		goto out;
	}
	if (!(cmps = calloc(5 + qt.ncmps, sizeof(*cmps)))) {
		ret = req_fail(r, CS_ENOMEM, "%s: out of memory", c->what);
		goto out;
	}
	if (ch.active) {
		charge_mark(c->doc, r->who);
		free(*text);
		*text = json_dumps(c->doc, JSON_COMPACT);
	}
	struct store_op ops[7] = { { STORE_PUT, c->key, *text } };
	size_t n = 1;
	cmps[0] = (struct store_cmp){ c->key, 0 };
	for (int s = 0; s < c->nsub; s++, n++) {
		cmps[n] = (struct store_cmp){ akey[s], 0 };
		ops[n] = (struct store_op){ STORE_PUT, akey[s], ename };
	}
	size_t nops = n;
	if (qos) {
		memcpy(cmps + n, qt.cmps, qt.ncmps * sizeof(*cmps));
		n += qt.ncmps;
		ops[nops++] = qt.op;
	}
	if (quo.active) {
		cmps[n++] = quo.cmp;
		ops[nops++] = quo.op;
	}
	if (ch.active) {
		cmps[n++] = ch.cmp;
		ops[nops++] = ch.ops[0];
		ops[nops++] = ch.ops[1];
	}
	struct store_txn txn = { cmps, n, ops, nops };
	ret = store_txn(d->store, &txn, NULL);
	if (ret < 0 && ret != CS_ECONFLICT)
		ret = req_store_fail(r, ret, c->what);
out:
	free(cmps);
	qos_txn_clear(&qt);
	return ret;
}

static int ep_store(struct csd_req *r, struct ep_new *c)
{
	char *text = NULL;
	int ret = CS_ECONFLICT;

	for (int attempt = 0; attempt < 16 && ret == CS_ECONFLICT; attempt++) {
		struct cs_addr addr[2];
		char abuf[2][CS_ADDRSTRLEN], akey[2][KEY_MAX];
		if ((ret = ep_addrs(r, c, addr, akey, abuf)) < 0 ||
		    (ret = ep_doc(r, c, addr, &text)) < 0)
			break;
		ret = ep_txn(r, c, akey, &text);
		/* someone took the allocated address meanwhile: allocate again */
		if (ret == CS_ECONFLICT && ep_conflict(r, c, akey, abuf) < 0)
			ret = CS_EEXIST;
	}
	if (ret == CS_ECONFLICT)
		ret = req_store_fail(r, ret, c->what);
	free(text);
	return ret;
}

static json_t *view_one(struct csd *d, const char *t, const char *v, const char *e,
			const json_t *doc)
{
	/* no inventory (a scan of every namespace, O(N) for one endpoint):
	 * view_endpoint asks the backend about this one */
	return view_endpoint(d, t, v, e, doc, NULL);
}

/* server.c */
int client_take_fds(struct client *c, int fds[CS_WIRE_MAX_FDS]);

static int ep_create(struct csd_req *r)
{
	int fds[CS_WIRE_MAX_FDS], nfds = 0;
	name_t p[3];
	json_t *tdoc = NULL, *spec = NULL, *doc = NULL;
	char what[160];
	int ret;

	if ((ret = req_path(r, "name", 3, p)) < 0)
		return ret;
	snprintf(what, sizeof(what), "endpoint %s/%s/%s", p[0], p[1], p[2]);
	/* the namespace to attach (key "netns"), opened by the caller */
	nfds = r->client ? client_take_fds(r->client, fds) : 0;
	if ((ret = req_vnet(r, p[0], p[1], &tdoc, NULL)) < 0 ||
	    (ret = req_spec(r, SCHEMA_ENDPOINT, what, &spec)) < 0)
		goto out;
	if (nfds > 1 || (nfds == 1 && !json_object_get(spec, "netns"))) {
		ret = req_fail(r, CS_EINVAL, "%s: endpoint.create takes one fd, the namespace "
			       "named by key netns, and only with it", what);
		goto out;
	}
	if ((ret = endpoint_create_in(r, p[0], p[1], p[2], spec, false, nfds ? fds[0] : -1,
				      &doc)) < 0)
		goto out;
	r->result = view_one(r->d, p[0], p[1], p[2], doc);
out:
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	json_decref(doc);
	json_decref(spec);
	json_decref(tdoc);
	return ret;
}

static int ep_delete(struct csd_req *r)
{
	name_t p[3];
	json_t *tdoc, *doc;
	char key[KEY_MAX], err[256], full[KEY_MAX];
	int ret;

	if ((ret = req_path(r, "name", 3, p)) < 0 || (ret = req_vnet(r, p[0], p[1], &tdoc, NULL)) < 0)
		return ret;
	json_decref(tdoc);
	key_endpoint(key, p[0], p[1], p[2]);
	if ((ret = model_get(r->d, key, &doc, NULL)) < 0)
		return ret == CS_ENOENT ? req_fail(r, ret, "endpoint %s/%s/%s: no such endpoint",
						   p[0], p[1], p[2])
					: req_store_fail(r, ret, key);
	json_decref(doc);
	const char *const prefixes[] = { key };
	if ((ret = model_delete_tree(r->d, prefixes, 1, err, sizeof(err))) < 0)
		return req_fail(r, ret, "endpoint %s/%s/%s: %s", p[0], p[1], p[2], err);
	snprintf(full, sizeof(full), "%s/%s/%s", p[0], p[1], p[2]);
	client_drop_ephemeral(r->client, full);
	log_info("endpoint %s deleted by uid %u", full, (unsigned)r->who->uid);
	return 0;
}

static int ep_get(struct csd_req *r, name_t p[3], json_t **doc)
{
	json_t *tdoc;
	char key[KEY_MAX];
	int ret;

	/* a vnet's members see its endpoints (policy/authz.c) */
	if ((ret = req_path(r, "name", 3, p)) < 0 ||
	    (ret = req_vnet(r, p[0], p[1], &tdoc, NULL)) < 0)
		return ret;
	json_decref(tdoc);
	key_endpoint(key, p[0], p[1], p[2]);
	if ((ret = model_get(r->d, key, doc, NULL)) < 0)
		return ret == CS_ENOENT ? req_fail(r, ret, "endpoint %s/%s/%s: no such endpoint",
						   p[0], p[1], p[2])
					: req_store_fail(r, ret, key);
	return 0;
}

static int ep_show(struct csd_req *r)
{
	name_t p[3];
	json_t *doc;
	int ret = ep_get(r, p, &doc);

	if (ret < 0)
		return ret;
	r->result = view_one(r->d, p[0], p[1], p[2], doc);
	json_decref(doc);
	return 0;
}

static int ep_list(struct csd_req *r)
{
	const char *filter = json_string_value(json_object_get(r->args, "filter"));
	char prefix[KEY_MAX] = "/endpoints/", err[256];
	json_t *docs = NULL, *doc, *tdocs = NULL, *vdocs = NULL;
	const char *key;
	int ret;

	if (filter) {
		name_t p[2];
		int n = strchr(filter, '/') ? 2 : 1;
		if (cs_path_split(filter, n, p, err, sizeof(err)) < 0)
			return req_fail(r, CS_EINVAL, "endpoint list: %s (expected TENANT or "
					"TENANT/VNET)", err);
		if ((ret = req_list_filter(r, p[0], n == 2 ? p[1] : NULL)) < 0)
			return ret;
		if (n == 1)
			snprintf(prefix, sizeof(prefix), "/endpoints/%s/", p[0]);
		else
			snprintf(prefix, sizeof(prefix), "/endpoints/%s/%s/", p[0], p[1]);
	}
	if ((ret = list_docs(r, prefix, "endpoint list", &docs, &tdocs, &vdocs)) < 0)
		return ret;
	struct vnet_inventory inv = { 0 };
	csd_inventory(r->d, &inv);
	r->result = json_array();
	json_object_foreach(docs, key, doc) {
		name_t p[3];
		if (cs_path_split(key + 11, 3, p, err, sizeof(err)) < 0 ||
		    !list_visible(r->who, tdocs, vdocs, p[0], p[1]))
			continue;
		json_array_append_new(r->result, view_endpoint(r->d, p[0], p[1], p[2], doc, &inv));
	}
	vnet_inventory_clear(&inv);
	json_decref(docs);
	json_decref(tdocs);
	json_decref(vdocs);
	return 0;
}

/*
 * Refuse arguments @op does not take, and @bools that are not true/false, so
 * that a client's typo or wrong type is not silently read as "absent".
 */
int args_check(struct csd_req *r, const char *op, const char *const *known,
		      const char *const *bools)
{
	const char *key;
	json_t *v;

	json_object_foreach(r->args, key, v) {
		size_t i;
		for (i = 0; known[i] && strcmp(known[i], key); i++)
			;
		if (!known[i]) {
			char list[256] = "";
			for (i = 0; known[i]; i++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
					 i ? ", " : "", known[i]);
			return req_fail(r, CS_EINVAL, "%s: unknown argument \"%s\" (it takes %s)",
					op, key, list);
		}
	}
	for (size_t i = 0; bools && bools[i]; i++) {
		v = json_object_get(r->args, bools[i]);
		if (v && !json_is_boolean(v))
			return req_fail(r, CS_EINVAL, "%s: argument \"%s\" must be true or false",
					op, bools[i]);
	}
	return 0;
}

static void gone_first(struct csd *d, const char *name);

static int ep_open(struct csd_req *r)
{
	name_t p[2], e;
	json_t *tdoc = NULL, *vdoc = NULL, *doc = NULL;
	char key[KEY_MAX], full[KEY_MAX];
	bool ephemeral = json_is_true(json_object_get(r->args, "ephemeral"));
	bool attach = json_is_true(json_object_get(r->args, "attach"));
	const char *name = json_string_value(json_object_get(r->args, "name"));
	bool created = false;
	int ret;

	if ((ret = args_check(r, "endpoint.open",
			      (const char *const[]){ "vnet", "name", "ephemeral", "attach", NULL },
			      (const char *const[]){ "ephemeral", "attach", NULL })) < 0)
		return ret;
	if (json_object_get(r->args, "name") && !name)
		return req_fail(r, CS_EINVAL, "endpoint.open: argument \"name\" must be a string");
	if ((ret = req_path(r, "vnet", 2, p)) < 0)
		return ret;
	if (name && !cs_name_valid(name))
		return req_fail(r, CS_EINVAL, "endpoint \"%s\" in %s/%s: not a valid name (use 1-32 "
				"characters a-z, 0-9, '-', '_', starting with a letter or digit)",
				name, p[0], p[1]);
	if ((ret = req_vnet(r, p[0], p[1], &tdoc, &vdoc)) < 0)
		goto out;
	if (name) {
		snprintf(e, sizeof(e), "%s", name);
	} else {
		uint32_t x = 0;
		if (getrandom(&x, sizeof(x), 0) != sizeof(x))
			x = (uint32_t)getpid() ^ (uint32_t)r->d->requests;
		snprintf(e, sizeof(e), "eph-%08x", x);
		ephemeral = true;
	}
	key_endpoint(key, p[0], p[1], e);
	snprintf(full, sizeof(full), "%s/%s/%s", p[0], p[1], e);
	gone_first(r->d, full);
	ret = model_get(r->d, key, &doc, NULL);
	if (ret == CS_ENOENT && attach) {
		ret = req_fail(r, ret, "endpoint %s/%s/%s: no such endpoint", p[0], p[1], e);
		goto out;
	} else if (ret == CS_ENOENT && !ephemeral &&
		   !authz_op_persist(r->who, json_object_get(tdoc, "spec"),
				     json_object_get(vdoc, "spec"), r->op)) {
		ret = req_fail(r, CS_EPERM, "endpoint %s/%s/%s: a vnet's members open ephemeral "
			       "endpoints only (they go with the connection); ask an owner of "
			       "tenant %s to create it, then attach to it", p[0], p[1], e, p[0]);
		goto out;
	} else if (ret == CS_ENOENT) {
		json_t *spec = json_object();
		ret = endpoint_create(r, p[0], p[1], e, spec, ephemeral, &doc);
		json_decref(spec);
		if (ret < 0)
			goto out;
		created = true;
	} else if (ret < 0) {
		ret = req_store_fail(r, ret, key);
		goto out;
	} else if (!model_endpoint_local(r->d, doc)) {
		ret = req_fail(r, CS_EINVAL, "endpoint %s/%s/%s lives on node %s; open it there",
			       p[0], p[1], e, json_string_value(json_object_get(doc, "node")));
		goto out;
	}
	snprintf(full, sizeof(full), "%s/%s/%s", p[0], p[1], e);
	if (created && ephemeral)
		client_add_ephemeral(r->client, full);
	r->result = view_one(r->d, p[0], p[1], e, doc);
	json_object_set_new(r->result, "created", json_boolean(created));
out:
	json_decref(doc);
	json_decref(vdoc);
	json_decref(tdoc);
	return ret;
}

/* Fail with the backend's reason about endpoint p[0]/p[1]/p[2]. */
static int backend_fail(struct csd_req *r, int code, name_t p[3])
{
	char what[3 * CS_NAME_MAX + 16];

	snprintf(what, sizeof(what), "endpoint %s/%s/%s", p[0], p[1], p[2]);
	backend_why(r->d, what, r->error, sizeof(r->error));
	return code;
}

static int ep_socket(struct csd_req *r)
{
	name_t p[3];
	json_t *doc;
	json_int_t domain = 0, type = 0, protocol = 0;
	int ret;

	if ((ret = args_check(r, "endpoint.socket",
			      (const char *const[]){ "name", "domain", "type", "protocol", NULL },
			      NULL)) < 0)
		return ret;
	if (json_unpack(r->args, "{s:I, s:I, s?I}", "domain", &domain, "type", &type, "protocol",
			&protocol) < 0)
		return req_fail(r, CS_EINVAL, "endpoint.socket: needs integer domain and type");
	/* the socket(2) arguments are ints: a wider value must not be cut */
	if (type < 0 || type > INT_MAX)
		return req_fail(r, CS_EINVAL, "endpoint.socket: argument \"type\" %"
				JSON_INTEGER_FORMAT " is out of range (a socket(2) type)", type);
	if (protocol < 0 || protocol > INT_MAX)
		return req_fail(r, CS_EINVAL, "endpoint.socket: argument \"protocol\" %"
				JSON_INTEGER_FORMAT " is out of range (a socket(2) protocol)",
				protocol);
	if (domain != AF_INET && domain != AF_INET6 && domain != AF_PACKET)
		return req_fail(r, CS_EINVAL, "endpoint.socket: domain %" JSON_INTEGER_FORMAT
				" is not supported (AF_INET or AF_INET6)", domain);
	const char *name = json_string_value(json_object_get(r->args, "name"));
	if (name && client_may_use(r->d, r->client, name)) {
		/* req_vnet() allowed this connection endpoint.socket on it, and
		 * nothing changed since (any change clears what client_may_use
		 * remembers) */
		char err[128];
		r->authorized = true;
		if (cs_path_split(name, 3, p, err, sizeof(err)) < 0)
			return req_fail(r, CS_EINVAL, "%s", err);
	} else {
		if ((ret = ep_get(r, p, &doc)) < 0)
			return ret;
		json_decref(doc);
		client_note_use(r->d, r->client, name);
	}
	if (!authz_socket(r->who, (int)domain, (int)type))
		return req_fail(r, CS_EPERM, "endpoint %s/%s/%s: raw and packet sockets need "
				"administrator rights", p[0], p[1], p[2]);
	struct vnet_backend *b = csd_backend_for(r->d, p[0], p[1]);
	int fd = vb_endpoint_socket(b, p[0], p[1], p[2], (int)domain, (int)type | SOCK_CLOEXEC,
				    (int)protocol);
	if (fd < 0)
		return backend_fail(r, fd, p);
	r->fds[r->nfds++] = fd;
	return 0;
}

static int ep_netns_get(struct csd_req *r)
{
	name_t p[3];
	json_t *doc;
	int ret;

	if ((ret = ep_get(r, p, &doc)) < 0)
		return ret;
	bool local = model_endpoint_local(r->d, doc);
	char node[KEY_MAX];
	snprintf(node, sizeof(node), "%s", json_string_value(json_object_get(doc, "node")) ?: "?");
	json_decref(doc);
	if (!local)
		return req_fail(r, CS_EINVAL, "endpoint %s/%s/%s lives on node %s; run exec there "
				"(cs-ctl -S with that node's csd socket)", p[0], p[1], p[2], node);
	/* entering a namespace needs CAP_SYS_ADMIN: only root's cs-ctl exec
	 * comes here; everyone else's goes through endpoint.exec */
	if (!r->who->admin)
		return req_fail(r, CS_EPERM, "endpoint %s/%s/%s: only administrators may enter "
				"the namespace", p[0], p[1], p[2]);
	int fd = vb_endpoint_netns(csd_backend_for(r->d, p[0], p[1]), p[0], p[1], p[2]);
	if (fd < 0)
		return backend_fail(r, fd, p);
	r->fds[r->nfds++] = fd;
	return 0;
}

/* audited like endpoint.exec: root's cs-ctl exec enters this way */
static int ep_netns(struct csd_req *r)
{
	int ret = ep_netns_get(r);

	audit_record(r->who, r->op, r->args, NULL, ret, r->error, ret < 0 ? NULL : "namespace fd");
	return ret;
}

static int resolve(struct csd_req *r)
{
	name_t v[2], p[3];
	const char *name = json_string_value(json_object_get(r->args, "name"));
	json_t *tdoc, *doc;
	char key[KEY_MAX], err[256];
	int ret;

	json_t *jfam = json_object_get(r->args, "family");
	json_int_t family = AF_UNSPEC;

	if ((ret = args_check(r, "resolve",
			      (const char *const[]){ "vnet", "name", "family", NULL }, NULL)) < 0)
		return ret;
	if (jfam) {
		family = json_is_integer(jfam) ? json_integer_value(jfam) : -1;
		if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6)
			return req_fail(r, CS_EINVAL, "resolve: argument \"family\" must be %d "
					"(AF_UNSPEC), %d (AF_INET) or %d (AF_INET6)", AF_UNSPEC,
					AF_INET, AF_INET6);
	}
	if ((ret = req_path(r, "vnet", 2, v)) < 0)
		return ret;
	if (!name)
		return req_fail(r, CS_EINVAL, "resolve: missing \"name\"");
	if (strchr(name, '/')) {
		if (cs_path_split(name, 3, p, err, sizeof(err)) < 0)
			return req_fail(r, CS_EINVAL, "resolve: %s", err);
		if (strcmp(p[0], v[0]) || strcmp(p[1], v[1]))
			return req_fail(r, CS_ENOENT, "%s: not in vnet %s/%s", name, v[0], v[1]);
	} else if (!cs_name_valid(name)) {
		return req_fail(r, CS_EINVAL, "resolve: \"%s\" is not a valid name", name);
	} else {
		snprintf(p[2], sizeof(p[2]), "%s", name);
	}
	if ((ret = req_vnet(r, v[0], v[1], &tdoc, NULL)) < 0)
		return ret;
	json_decref(tdoc);
	key_endpoint(key, v[0], v[1], p[2]);
	if ((ret = model_get(r->d, key, &doc, NULL)) < 0)
		return ret == CS_ENOENT ? req_fail(r, ret, "%s: no endpoint of that name in vnet %s/%s",
						   name, v[0], v[1])
					: req_store_fail(r, ret, key);
	/* with a family, only its addresses (IPv6 ones hold a ':') */
	json_t *addrs = json_array(), *a;
	size_t i;
	json_array_foreach(json_object_get(doc, "addresses"), i, a) {
		const char *s = json_string_value(a);
		if (family == AF_UNSPEC || (s && !!strchr(s, ':') == (family == AF_INET6)))
			json_array_append(addrs, a);
	}
	r->result = json_pack("{s:o}", "addresses", addrs);
	json_decref(doc);
	return 0;
}

/*
 * A closed connection's ephemeral endpoints: their names join d->gone and
 * are deleted a slice per turn of the loop (ephemeral_gone_slice), so a
 * program that held a thousand does not stall everyone else while they go.
 */
void client_on_close(struct csd *d, struct client *c)
{
	extern const char *client_ephemeral(const struct client *c, size_t i);
	const char *name;

	/* csd stopping is not the program going away: its endpoints stay */
	if (d->stopping)
		return;
	while ((name = client_ephemeral(c, 0))) {
		char **v = realloc(d->gone, sizeof(*v) * (d->ngone + 1));
		if (v) {
			d->gone = v;
			if ((v[d->ngone] = strdup(name)))
				d->ngone++;
		}
		/* without memory the reconciler finds it ownerless later */
		client_drop_ephemeral(c, name);
	}
}

#define GONE_SLICE 64

/* Delete the first @n names of d->gone in one transaction; their kernel
 * objects go to the teardown thread. */
static void gone_delete(struct csd *d, size_t n)
{
	char keys[GONE_SLICE][KEY_MAX], err[256];
	const char *prefixes[GONE_SLICE];
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		name_t p[3];
		if (cs_path_split(d->gone[i], 3, p, err, sizeof(err)) < 0)
			continue;
		key_endpoint(keys[k], p[0], p[1], p[2]);
		prefixes[k] = keys[k];
		k++;
	}
	d->gen++;
	d->teardown_defer = true;
	int r = k ? model_delete_tree(d, prefixes, k, err, sizeof(err)) : 0;
	d->teardown_defer = false;
	for (size_t i = 0; i < n; i++) {
		if (r == 0)
			log_info("ephemeral endpoint %s deleted: its connection closed", d->gone[i]);
		else
			log_warn("ephemeral endpoint %s: %s (the reconciler retries)", d->gone[i], err);
		free(d->gone[i]);
	}
	memmove(d->gone, d->gone + n, sizeof(*d->gone) * (d->ngone - n));
	d->ngone -= n;
	if (!d->ngone) {
		free(d->gone);
		d->gone = NULL;
	}
}

size_t ephemeral_gone_slice(struct csd *d)
{
	if (d->ngone)
		gone_delete(d, d->ngone < GONE_SLICE ? d->ngone : GONE_SLICE);
	return d->ngone;
}

/* Opening a name whose connection just closed: it goes first, so the
 * open makes it anew rather than attaching to what is about to go. */
static void gone_first(struct csd *d, const char *name)
{
	for (size_t i = 0; i < d->ngone; i++) {
		if (strcmp(d->gone[i], name))
			continue;
		char *mine = d->gone[i];
		d->gone[i] = d->gone[0];
		d->gone[0] = mine;
		gone_delete(d, 1);
		return;
	}
}

CSD_OP(endpoint_create, "endpoint.create", ep_create, CSD_OP_CHANGES, "create an endpoint");
CSD_OP(endpoint_delete, "endpoint.delete", ep_delete, CSD_OP_CHANGES, "delete an endpoint");
CSD_OP(endpoint_show, "endpoint.show", ep_show, 0, "show an endpoint");
CSD_OP(endpoint_list, "endpoint.list", ep_list, 0, "list endpoints");
CSD_OP(endpoint_open, "endpoint.open", ep_open, CSD_OP_CHANGES,
       "join a vnet as an endpoint (attach or create)");
CSD_OP(endpoint_socket, "endpoint.socket", ep_socket, 0, "a socket inside an endpoint");
CSD_OP(endpoint_netns, "endpoint.netns", ep_netns, 0, "the endpoint's network namespace");
CSD_OP(resolve, "resolve", resolve, 0, "an endpoint name in a vnet to its addresses");
