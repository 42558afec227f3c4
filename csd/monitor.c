/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Monitors: the store's watch, turned into events a caller may see.
 *
 * Each monitor has a watch of its own from the revision it asked for: the
 * store keeps the history (SQLite: the last SQ_HISTORY revisions; etcd:
 * until compaction), so a client that lost csd resumes from the revision it
 * printed last and loses nothing committed meanwhile, by this node or
 * another. Watches are readable through their fds, which sit in one epoll
 * set of their own, itself in the loop's: the loop needs one pointer to
 * recognise them all.
 *
 * Who made a change is not in the store: csd notes, for each request that
 * changed it while someone monitors, the revisions it wrote and its caller,
 * and events of those revisions (written through this csd: "own") carry
 * the caller's uid and op. Changes through other nodes carry none.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "monitor.h"
#include "ops.h"

#define NOTES 256
#define FILTER_MAX (2 * (CS_NAME_MAX + 1) + 1)

struct monitor {
	struct monitor *next;
	struct client *c;
	json_int_t id;          /* the monitor request's id, on every event */
	char t[CS_NAME_MAX + 1], v[CS_NAME_MAX + 1]; /* the filter; "" for none */
	struct store_watch *w;
	/* "T" -> tenant spec, "T/V" -> vnet spec (null: absent) as last seen,
	 * so that the deletes of a tenant's objects are shown to whoever saw
	 * them, though the documents that decided it are gone */
	json_t *specs;
	json_t *gone;           /* names of specs deleted in this batch */
	json_t *alive;          /* node -> its liveness as last reported */
	bool dead;
};

struct who_note {
	int64_t lo, hi; /* revisions (lo, hi] */
	uid_t uid;
	char op[32];
};

struct monitors {
	int epfd;
	struct monitor *list;
	struct who_note notes[NOTES];
	unsigned next;
};

/* What a store key names, when it is an object a monitor reports. */
enum mon_kind { MK_NONE, MK_TENANT, MK_VNET, MK_ENDPOINT, MK_NODE, MK_ALIVE };

struct mon_key {
	enum mon_kind kind;
	name_t part[3];
	char name[3 * (CS_NAME_MAX + 1)]; /* "T/V/E", "N" */
};

static int split(const char *s, int n, name_t part[])
{
	for (int i = 0; i < n; i++) {
		const char *end = i + 1 < n ? strchr(s, '/') : s + strlen(s);
		if (!end || end == s || (size_t)(end - s) > CS_NAME_MAX ||
		    (i + 1 == n && strchr(s, '/')))
			return -1;
		memcpy(part[i], s, (size_t)(end - s));
		part[i][end - s] = '\0';
		s = end + 1;
	}
	return 0;
}

static void parse_key(const char *key, struct mon_key *k)
{
	static const struct {
		const char *prefix;
		enum mon_kind kind;
		int n;
	} kinds[] = {
		{ "/tenants/", MK_TENANT, 1 }, { "/vnets/", MK_VNET, 2 },
		{ "/endpoints/", MK_ENDPOINT, 3 }, { "/nodes/", MK_NODE, 1 },
		{ ALIVE_PREFIX, MK_ALIVE, 1 },
	};

	k->kind = MK_NONE;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t l = strlen(kinds[i].prefix);
		if (strncmp(key, kinds[i].prefix, l) || strlen(key + l) >= sizeof(k->name))
			continue;
		if (split(key + l, kinds[i].n, k->part) == 0) {
			k->kind = kinds[i].kind;
			strcpy(k->name, key + l);
		}
		return;
	}
}

static void pump_all(struct csd *d);

/* ---- who ---- */

int64_t monitor_rev(struct csd *d, bool changes)
{
	int64_t rev = 0;

	if (!changes || !d->monitors || !d->monitors->list)
		return 0;
	return store_revision(d->store, &rev) == 0 ? rev : 0;
}

void monitor_note(struct csd *d, const struct principal *who, const char *op, int64_t rev0)
{
	struct monitors *ms = d->monitors;
	int64_t rev = 0;

	if (rev0 <= 0 || !ms || store_revision(d->store, &rev) < 0 || rev <= rev0)
		return;
	struct who_note *n = &ms->notes[ms->next++ % NOTES];
	n->lo = rev0;
	n->hi = rev;
	n->uid = who->uid;
	snprintf(n->op, sizeof(n->op), "%s", op);
	/* out at once, before the next request: the store still holds what
	 * the change made (create or update, the endpoint's state) */
	pump_all(d);
}

static const struct who_note *who_of(const struct monitors *ms, const struct store_event *e)
{
	if (!e->own)
		return NULL;
	for (unsigned i = 0; i < NOTES; i++)
		if (ms->notes[i].hi && e->mod_rev > ms->notes[i].lo && e->mod_rev <= ms->notes[i].hi)
			return &ms->notes[i];
	return NULL;
}

/* ---- what a monitor may see ---- */

/* The spec of /tenants/T (@v NULL) or /vnets/T/V as the monitor knows it,
 * read once; NULL when absent or unreadable. */
static const json_t *spec_of(struct csd *d, struct monitor *m, const char *t, const char *v)
{
	char name[FILTER_MAX], key[KEY_MAX];
	json_t *doc = NULL, *s;
	int r;

	snprintf(name, sizeof(name), "%s%s%s", t, v ? "/" : "", v ? v : "");
	if (!(s = json_object_get(m->specs, name))) {
		if (v)
			key_vnet(key, t, v);
		else
			key_tenant(key, t);
		r = model_get(d, key, &doc, NULL);
		if (r < 0 && r != CS_ENOENT)
			return NULL;
		s = json_object_get(doc, "spec");
		s = s ? json_incref(s) : json_null();
		json_object_set_new(m->specs, name, s);
		json_decref(doc);
	}
	return json_is_null(s) ? NULL : s;
}

/* A put of a tenant or vnet: what decides who sees it changed. */
static void spec_learn(struct monitor *m, const struct mon_key *k, const char *value)
{
	json_t *doc = value ? json_loads(value, 0, NULL) : NULL;
	json_t *s = json_object_get(doc, "spec");

	json_object_set_new(m->specs, k->name, s ? json_incref(s) : json_null());
	json_decref(doc);
}

static bool visible(struct csd *d, struct monitor *m, const struct principal *who,
		    const char *t, const char *v)
{
	if (who->admin)
		return true;
	const json_t *ts = spec_of(d, m, t, NULL);

	/* a vnet's spec names its members; without it, the tenant's owners */
	return ts && authz_visible(who, ts, v ? spec_of(d, m, t, v) : NULL);
}

static bool in_filter(const struct monitor *m, const struct mon_key *k)
{
	/* liveness: its endpoints' events are filtered one by one */
	if (!m->t[0] || k->kind == MK_ALIVE)
		return true;
	if (k->kind == MK_NODE || strcmp(k->part[0], m->t))
		return false;
	if (!m->v[0])
		return true;
	return k->kind != MK_TENANT && !strcmp(k->part[1], m->v);
}

/* ---- events ---- */

static int send_event(struct csd *d, struct monitor *m, json_t *ev)
{
	json_t *msg = ev ? json_pack("{s:I, s:o}", "id", m->id, "event", ev) : NULL;
	int r = msg ? client_push(d, m->c, msg, d->cfg.limits.monitor) : CS_ENOMEM;

	json_decref(msg);
	if (r < 0)
		m->dead = true;
	return r;
}

/* create, update, or put when the store no longer tells (the key was
 * deleted or created again since); *kv the key as it is now */
static const char *put_verb(struct csd *d, const struct store_event *e, struct store_kv *kv)
{
	if (store_get(d->store, e->key, kv) < 0 || kv->create_rev > e->mod_rev)
		return "put";
	return kv->create_rev == e->mod_rev ? "create" : "update";
}

static const char *const kind_names[] = { [MK_TENANT] = "tenant", [MK_VNET] = "vnet",
					  [MK_ENDPOINT] = "endpoint", [MK_NODE] = "node" };

/* One object's change as an event. */
static json_t *object_event(struct csd *d, const struct monitors *ms, const struct mon_key *k,
			    const struct store_event *e)
{
	struct store_kv kv = { 0 };
	const char *verb = e->type == STORE_DELETE ? "delete" : put_verb(d, e, &kv);
	const struct who_note *n = who_of(ms, e);
	json_t *ev = json_pack("{s:I, s:s, s:s, s:s}", "revision", (json_int_t)e->mod_rev, "object",
			       kind_names[k->kind], "name", k->name, "verb", verb);

	if (ev && n) {
		json_object_set_new(ev, "uid", json_integer(n->uid));
		json_object_set_new(ev, "op", json_string(n->op));
	}
	/* an endpoint's state now, when this event is its latest change: the
	 * handler that made it returned once it was realized here */
	if (ev && k->kind == MK_ENDPOINT && kv.key && kv.mod_rev == e->mod_rev) {
		json_t *doc = json_loads(kv.value, 0, NULL);
		json_t *view = doc ? view_endpoint(d, k->part[0], k->part[1], k->part[2], doc,
						   NULL) : NULL;
		json_t *state = json_object_get(view, "state");
		if (state && !strcmp(verb, "create"))
			json_object_set_new(ev, "was", json_string("pending"));
		if (state)
			json_object_set(ev, "state", state);
		json_decref(view);
		json_decref(doc);
	}
	store_kv_clear(&kv);
	return ev;
}

/*
 * A node's liveness changed (cluster mode): its endpoints are unreachable
 * from here, or reachable again.
 */
static int alive_events(struct csd *d, struct monitor *m, const struct principal *who,
			const struct mon_key *k, const struct store_event *e)
{
	char prefix[KEY_MAX];
	json_t *docs = NULL, *doc;
	const char *key;
	bool down = e->type == STORE_DELETE;
	int r = 0;

	/* this node's own come back with it; a new lease of a node that was
	 * up (a csd restarted at once) changes nothing */
	json_t *was = json_object_get(m->alive, k->name);
	if (!strcmp(k->name, d->cfg.node) || (was && json_is_true(was) == !down))
		return 0;
	json_object_set_new(m->alive, k->name, json_boolean(!down));
	if (!m->t[0] && (r = send_event(d, m, json_pack("{s:I, s:s, s:s, s:s, s:s}", "revision",
			(json_int_t)e->mod_rev, "object", "node", "name", k->name, "verb",
			"state", "state", down ? "down" : "up"))) < 0)
		return r;
	snprintf(prefix, sizeof(prefix), "/endpoints/%s%s%s%s", m->t, m->t[0] ? "/" : "", m->v,
		 m->v[0] ? "/" : "");
	if (model_list(d, prefix, &docs, NULL) < 0)
		return 0;
	json_object_foreach(docs, key, doc) {
		struct mon_key ek;
		parse_key(key, &ek);
		if (ek.kind != MK_ENDPOINT ||
		    strcmp(json_string_value(json_object_get(doc, "node")) ?: "", k->name) ||
		    !visible(d, m, who, ek.part[0], ek.part[1]))
			continue;
		r = send_event(d, m, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "revision",
					       (json_int_t)e->mod_rev, "object", "endpoint", "name",
					       ek.name, "verb", "state", "was",
					       down ? "remote" : "unreachable", "state",
					       down ? "unreachable" : "remote"));
		if (r < 0)
			break;
	}
	json_decref(docs);
	return r;
}

static int emit(struct csd *d, struct monitor *m, const struct store_event *e)
{
	const struct principal *who = client_who(m->c);
	struct mon_key k;

	parse_key(e->key, &k);
	if (k.kind == MK_NONE || !in_filter(m, &k))
		return 0;
	if (k.kind == MK_ALIVE)
		return alive_events(d, m, who, &k, e);
	/* a tenant or vnet put changes who sees it and what it holds; a delete
	 * is shown to those who saw it */
	if ((k.kind == MK_TENANT || k.kind == MK_VNET) && e->type == STORE_PUT)
		spec_learn(m, &k, e->value);
	else if (k.kind == MK_TENANT || k.kind == MK_VNET)
		json_object_set_new(m->gone, k.name, json_true());
	if (k.kind != MK_NODE && !visible(d, m, who, k.part[0], k.kind == MK_TENANT ? NULL :
					  k.part[1]))
		return 0;
	return send_event(d, m, object_event(d, d->monitors, &k, e));
}

static void pump(struct csd *d, struct monitor *m)
{
	struct store_events ev = { 0 };
	int r = store_watch_read(m->w, &ev);

	for (size_t i = 0; i < ev.n && !m->dead; i++)
		emit(d, m, &ev.v[i]);
	store_events_clear(&ev);
	/* what was deleted is forgotten once its revision's events are out
	 * (they come in one read), so the specs stay those that exist */
	const char *name;
	json_t *x;
	json_object_foreach(m->gone, name, x)
		json_object_del(m->specs, name);
	json_object_clear(m->gone);
	if (r < 0 && !m->dead) {
		/* the client reconnects and resumes from what it printed last */
		json_t *e = cs_msg_error(m->id, r, "monitor: the store's watch failed (%s); "
					 "resume from the last revision received", cs_strerror(r));
		if (e)
			client_push(d, m->c, e, (size_t)-1);
		json_decref(e);
		client_push(d, m->c, NULL, 0);
		m->dead = true;
	}
}

static void monitor_free(struct csd *d, struct monitor *m)
{
	/* a watch that never made it into the set fails this harmlessly */
	if (m->w && d->monitors && store_watch_fd(m->w) >= 0)
		epoll_ctl(d->monitors->epfd, EPOLL_CTL_DEL, store_watch_fd(m->w), NULL);
	store_watch_free(m->w);
	json_decref(m->specs);
	json_decref(m->gone);
	json_decref(m->alive);
	free(m);
}

static void reap(struct csd *d)
{
	for (struct monitor **p = &d->monitors->list; *p;) {
		struct monitor *m = *p;
		if (m->dead) {
			*p = m->next;
			monitor_free(d, m);
		} else {
			p = &m->next;
		}
	}
}

static void pump_all(struct csd *d)
{
	for (struct monitor *m = d->monitors->list; m; m = m->next)
		if (!m->dead)
			pump(d, m);
	reap(d);
}

bool monitor_event(struct csd *d, void *p)
{
	struct epoll_event ev[64];

	if (!d->monitors || p != d->monitors)
		return false;
	int n = epoll_wait(d->monitors->epfd, ev, 64, 0);
	store_memo(d->store, true);
	for (int i = 0; i < n; i++) {
		struct monitor *m = ev[i].data.ptr;
		if (!m->dead)
			pump(d, m);
	}
	store_memo(d->store, false);
	reap(d);
	return true;
}

void monitor_client_gone(struct csd *d, struct client *c)
{
	if (!d->monitors)
		return;
	for (struct monitor *m = d->monitors->list; m; m = m->next)
		if (m->c == c)
			m->dead = true;
	reap(d);
}

void monitor_fini(struct csd *d)
{
	if (!d->monitors)
		return;
	for (struct monitor *m = d->monitors->list; m; m = m->next)
		m->dead = true;
	reap(d);
	close(d->monitors->epfd);
	free(d->monitors);
	d->monitors = NULL;
}

/* ---- the op ---- */

static int monitors_get(struct csd *d)
{
	struct monitors *ms;

	if (d->monitors)
		return 0;
	if (!(ms = calloc(1, sizeof(*ms))))
		return CS_ENOMEM;
	ms->epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = ms };
	if (ms->epfd < 0 || epoll_ctl(d->epfd, EPOLL_CTL_ADD, ms->epfd, &e) < 0) {
		if (ms->epfd >= 0)
			close(ms->epfd);
		free(ms);
		return CS_EIO;
	}
	d->monitors = ms;
	return 0;
}

/* args.filter ("T" or "T/V") into @m, checked as a listing's filter. */
static int take_filter(struct csd_req *r, struct monitor *m)
{
	const json_t *f = json_object_get(r->args, "filter");
	name_t part[2];
	const char *s;

	if (!f || json_is_null(f))
		return 0;
	if (!(s = json_string_value(f)) || !*s)
		return req_fail(r, CS_EINVAL, "monitor: filter must be TENANT or TENANT/VNET");
	char why[256];
	int n = strchr(s, '/') ? 2 : 1;
	if (cs_path_split(s, n, part, why, sizeof(why)) < 0)
		return req_fail(r, CS_EINVAL, "monitor: filter \"%.200s\": %s (TENANT or "
				"TENANT/VNET)", s, why);
	int ret = req_list_filter(r, part[0], n == 2 ? part[1] : NULL);
	if (ret < 0)
		return ret;
	strcpy(m->t, part[0]);
	if (n == 2)
		strcpy(m->v, part[1]);
	return 0;
}

/* From which revision: args.from, else the next one. */
static int take_from(struct csd_req *r, int64_t cur, int64_t *from)
{
	const json_t *f = json_object_get(r->args, "from");

	*from = cur + 1;
	if (!f || json_is_null(f))
		return 0;
	if (!json_is_integer(f) || json_integer_value(f) < 1)
		return req_fail(r, CS_EINVAL, "monitor: from must be a store revision, 1 or more");
	*from = json_integer_value(f);
	if (*from > cur + 1)
		return req_fail(r, CS_EINVAL, "monitor: revision %lld is beyond the store's "
				"(%lld): was the state directory replaced? Monitor from now "
				"(leave from out)", (long long)*from, (long long)cur);
	return 0;
}

static int monitor_start(struct csd_req *r, struct monitor *m, int64_t *from, int64_t *cur)
{
	struct csd *d = r->d;
	int ret;

	if ((ret = take_filter(r, m)) < 0)
		return ret;
	if ((ret = store_revision(d->store, cur)) < 0)
		return req_store_fail(r, ret, "monitor");
	if ((ret = take_from(r, *cur, from)) < 0)
		return ret;
	ret = store_watch(d->store, "/", *from, &m->w);
	if (ret == CS_ECOMPACTED)
		return req_fail(r, ret, "monitor: the store no longer holds the changes from "
				"revision %lld (compacted); monitor from now (leave from out)",
				(long long)*from);
	if (ret < 0)
		return req_store_fail(r, ret, "monitor");
	if ((ret = monitors_get(d)) < 0)
		return req_fail(r, ret, "monitor: %s", cs_strerror(ret));
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = m };
	if (store_watch_fd(m->w) < 0 ||
	    epoll_ctl(d->monitors->epfd, EPOLL_CTL_ADD, store_watch_fd(m->w), &e) < 0)
		return req_fail(r, CS_EIO, "monitor: cannot wait for the store's watch");
	return 0;
}

static int monitor_op(struct csd_req *r)
{
	struct csd *d = r->d;
	struct monitor *m;
	int64_t from = 0, cur = 0;
	int ret;

	if (!r->client)
		return req_fail(r, CS_EINVAL, "monitor: needs a connection of its own");
	for (m = d->monitors ? d->monitors->list : NULL; m; m = m->next)
		if (m->c == r->client && !m->dead)
			return req_fail(r, CS_EINVAL, "monitor: this connection monitors already; "
					"open another connection for another monitor");
	if (!(m = calloc(1, sizeof(*m))) || !(m->specs = json_object()) ||
	    !(m->gone = json_object()) || !(m->alive = json_object())) {
		if (m)
			monitor_free(d, m);
		return req_fail(r, CS_ENOMEM, "monitor: out of memory");
	}
	m->c = r->client;
	if ((ret = monitor_start(r, m, &from, &cur)) < 0) {
		monitor_free(d, m);
		return ret;
	}
	m->id = r->id;
	m->next = d->monitors->list;
	d->monitors->list = m;
	r->result = json_pack("{s:I, s:I}", "from", (json_int_t)from, "revision",
			      (json_int_t)cur);
	return 0;
}

CSD_OP(monitor, "monitor", monitor_op, 0,
       "stream changes (filter TENANT or TENANT/VNET; from a revision)");
