/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The store: a revisioned key/value store of JSON documents keyed by path
 * ("/tenants/acme", "/vnets/acme/blue", "/endpoints/acme/blue/web").
 *
 * Semantics (etcd's, so that the SQLite and etcd implementations agree and
 * pass one conformance suite, tests/unit/store/conformance.c):
 *  - one revision counter for the whole store, starting at 1 for an empty
 *    store; every successful put, delete or transaction that changes
 *    anything increments it by exactly one; the revision survives restarts;
 *  - each key carries create_rev (revision that created it) and mod_rev
 *    (revision of its last change);
 *  - a transaction compares keys' mod_rev (0 = the key must not exist) and,
 *    if all compares hold, applies its operations atomically under a single
 *    new revision; otherwise it changes nothing and returns CS_ECONFLICT;
 *  - a watch delivers, in revision order, every change with revision >=
 *    from_rev to keys under its prefix; if the store no longer holds
 *    history back to from_rev it returns CS_ECOMPACTED (re-list, then
 *    watch from the list's revision + 1);
 *  - a lease (etcd's) lives for its TTL in seconds unless kept alive; a
 *    key put with a lease is deleted when the lease expires or is revoked
 *    (a delete under a new revision, seen by watches); a put without a
 *    lease detaches the key from the one it had.  Granting and keeping
 *    alive change no revision.  An expired lease is gone: keepalive,
 *    revoke and puts naming it fail with CS_ENOENT.
 * Values are opaque text to the store (JSON by convention).
 * All calls return 0 or a negative CS_E* code (CS_ENOENT, CS_ECONFLICT,
 * CS_EUNAVAIL when the backing engine cannot be reached, CS_EIO, CS_ENOMEM).
 */
#ifndef CSD_STORE_H
#define CSD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct store_watch;

struct store_kv {
	char *key;
	char *value;
	int64_t create_rev;
	int64_t mod_rev;
};

struct store_kvs {
	struct store_kv *v;
	size_t n;
};

enum store_op_type { STORE_PUT = 1, STORE_DELETE = 2 };

struct store_cmp {
	const char *key;
	int64_t mod_rev; /* expected mod_rev; 0: the key must not exist */
};

struct store_op {
	enum store_op_type type;
	const char *key;
	const char *value; /* STORE_PUT only */
};

struct store_txn {
	const struct store_cmp *cmps;
	size_t ncmps;
	const struct store_op *ops;
	size_t nops;
};

struct store_event {
	enum store_op_type type;
	char *key;
	char *value; /* NULL for STORE_DELETE */
	int64_t mod_rev;
	/* written through the struct store this watch was made on (the
	 * write call returned before the event was read), whose caller has
	 * seen to its consequences already */
	bool own;
};

/* The revisions of the last writes through one struct store. */
#define STORE_OWN_REVS 128
struct store_own {
	int64_t rev[STORE_OWN_REVS];
	unsigned next;
};

static inline void store_own_add(struct store_own *o, int64_t rev)
{
	o->rev[o->next++ % STORE_OWN_REVS] = rev;
}

static inline bool store_own_has(const struct store_own *o, int64_t rev)
{
	for (unsigned i = 0; i < STORE_OWN_REVS; i++)
		if (o->rev[i] == rev && rev > 0)
			return true;
	return false;
}

struct store_events {
	struct store_event *v;
	size_t n;
};

/* One implementation (SQLite, etcd). */
struct store_ops {
	const char *name;
	/* the nodes share it (etcd): ids and addresses are owned there, and
	 * csd watches it for the others' changes */
	bool shared;
	void (*close)(struct store *s);
	int (*get)(struct store *s, const char *key, struct store_kv *out);
	int (*list)(struct store *s, const char *prefix, struct store_kvs *out, int64_t *rev);
	int (*put)(struct store *s, const char *key, const char *value, int64_t *rev);
	int (*del)(struct store *s, const char *key, int64_t *rev);
	int (*txn)(struct store *s, const struct store_txn *t, int64_t *rev);
	int (*revision)(struct store *s, int64_t *rev);
	int (*watch)(struct store *s, const char *prefix, int64_t from_rev,
		     struct store_watch **out);
	/* readable when events may be pending (poll/epoll); -1 if only timed */
	int (*watch_fd)(struct store_watch *w);
	/* non-blocking: appends pending events (possibly none) */
	int (*watch_read)(struct store_watch *w, struct store_events *out);
	void (*watch_free)(struct store_watch *w);
	/* a lease of @ttl seconds (the store may raise it: *granted says) */
	int (*lease_grant)(struct store *s, int64_t ttl, int64_t *id, int64_t *granted);
	/* renews it for its TTL; *ttl the seconds left; CS_ENOENT: expired */
	int (*lease_keepalive)(struct store *s, int64_t id, int64_t *ttl);
	/* ends it now, deleting its keys; CS_ENOENT if it is already gone */
	int (*lease_revoke)(struct store *s, int64_t id, int64_t *rev);
	/* put attached to lease @lease (CS_ENOENT if that lease is gone) */
	int (*put_lease)(struct store *s, const char *key, const char *value, int64_t lease,
			 int64_t *rev);
	/* optional: between memo(true) and memo(false) a get or list may be
	 * answered with what the same read returned earlier in that span;
	 * every write through the handle, and every failure, forgets them */
	void (*memo)(struct store *s, bool on);
	/* optional: why the last call failed when the store's configuration is
	 * at fault (certificates, credentials, permissions) rather than an
	 * outage; NULL otherwise.  Such calls fail with CS_EUNAVAIL. */
	const char *(*error)(struct store *s);
};

struct store {
	const struct store_ops *ops;
};

/* Whether the nodes share this store, rather than each having its own. */
static inline bool store_shared(const struct store *s)
{
	return s && s->ops->shared;
}

/* Every implementation's watch starts with this. */
struct store_watch {
	struct store *store;
};

/* Settings of a store, from csd's configuration. */
struct store_config {
	const char *type;        /* "sqlite" (default) or "etcd" */
	const char *dir;         /* state directory (sqlite) */
	const char *const *endpoints; /* etcd endpoints, NULL-terminated */
	const char *prefix;      /* etcd key prefix */
	/* etcd over TLS (NULL: not given): the CA that signed etcd's certificate
	 * (NULL: the system's), csd's client certificate and its key */
	const char *tls_ca, *tls_cert, *tls_key;
	/* etcd's own authentication (NULL user: none); the password was read
	 * from password_file, which messages name (they never show the password) */
	const char *user, *password, *password_file;
};

int store_open(const struct store_config *cfg, struct store **out);
int store_sqlite_open(const char *dir, struct store **out);
/* @cfg->endpoints: NULL-terminated "http(s)://host:port"; prefix NULL for "/cs".
 * Does not contact etcd: an unreachable etcd shows as CS_EUNAVAIL per call,
 * a misconfigured one too, with store_error() saying what is wrong. */
int store_etcd_open_config(const struct store_config *cfg, struct store **out);
/* The same without TLS files or authentication. */
int store_etcd_open(const char *const *endpoints, const char *prefix, struct store **out);

static inline void store_close(struct store *s) { if (s) s->ops->close(s); }
static inline int store_get(struct store *s, const char *k, struct store_kv *o)
{ return s->ops->get(s, k, o); }
static inline int store_list(struct store *s, const char *p, struct store_kvs *o, int64_t *rev)
{ return s->ops->list(s, p, o, rev); }
static inline int store_put(struct store *s, const char *k, const char *v, int64_t *rev)
{ return s->ops->put(s, k, v, rev); }
static inline int store_delete(struct store *s, const char *k, int64_t *rev)
{ return s->ops->del(s, k, rev); }
static inline int store_txn(struct store *s, const struct store_txn *t, int64_t *rev)
{ return s->ops->txn(s, t, rev); }
static inline int store_revision(struct store *s, int64_t *rev)
{ return s->ops->revision(s, rev); }
static inline int store_watch(struct store *s, const char *p, int64_t from, struct store_watch **w)
{ return s->ops->watch(s, p, from, w); }
static inline int store_watch_fd(struct store_watch *w)
{ return w->store->ops->watch_fd(w); }
static inline int store_watch_read(struct store_watch *w, struct store_events *o)
{ return w->store->ops->watch_read(w, o); }
static inline void store_watch_free(struct store_watch *w)
{ if (w) w->store->ops->watch_free(w); }
static inline int store_lease_grant(struct store *s, int64_t ttl, int64_t *id, int64_t *granted)
{ return s->ops->lease_grant(s, ttl, id, granted); }
static inline int store_lease_keepalive(struct store *s, int64_t id, int64_t *ttl)
{ return s->ops->lease_keepalive(s, id, ttl); }
static inline int store_lease_revoke(struct store *s, int64_t id, int64_t *rev)
{ return s->ops->lease_revoke(s, id, rev); }
/* One request's reads: a store far away (etcd) answers repeats from memory. */
static inline void store_memo(struct store *s, bool on)
{ if (s && s->ops->memo) s->ops->memo(s, on); }
/* What is wrong with the store's configuration, after a call failed; or NULL. */
static inline const char *store_error(struct store *s)
{ return s && s->ops->error ? s->ops->error(s) : NULL; }
static inline int store_put_lease(struct store *s, const char *k, const char *v, int64_t lease,
				  int64_t *rev)
{ return s->ops->put_lease(s, k, v, lease, rev); }

/* Free helpers; all accept NULL/empty. */
void store_kv_clear(struct store_kv *kv);
void store_kvs_clear(struct store_kvs *kvs);
void store_events_clear(struct store_events *ev);

#endif
