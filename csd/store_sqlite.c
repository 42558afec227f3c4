/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The SQLite store: one file DIR/cs.db in WAL mode.
 *
 * Tables:
 *  meta(k, v)    'rev' = current revision, 'compact' = oldest revision whose
 *                events are all still held (watches from before it fail);
 *  kv            the current state, one row per key, with its lease (0: none);
 *  events        one row per change, (rev, idx) ordered, for watch;
 *  lease         leases and when they expire (wall-clock ms, as several
 *                processes share the file and it outlives them).
 *
 * Leases: reads ignore keys whose lease has expired; the first write, lease
 * call or watch read after the expiry deletes them, one revision per lease
 * as etcd does, so watches see the deletes.
 *
 * Every write runs under BEGIN IMMEDIATE, which takes the database's write
 * lock before the revision is read, so writers in other processes or on
 * other connections serialise and no update is lost.  Reads that must be
 * consistent (list, watch) run in one deferred transaction: WAL gives them a
 * snapshot without blocking writers.
 *
 * A struct store is one connection and is not thread-safe.  Watches created
 * on it are woken (eventfd) by writes through it; writes by other processes
 * are found by the next watch_read, which always queries the table.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <cs/cs.h>

#include "csd/store.h"

/* Revisions of event history kept for watches that fall behind. */
#define SQ_HISTORY 10000
#define SQ_BUSY_MS 5000
#define SQ_SCHEMA_VERSION 2

enum sq_stmt {
	SQ_BEGIN,
	SQ_BEGIN_IMMEDIATE,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ_META_GET,
	SQ_META_SET,
	SQ_KV_GET,
	SQ_KV_MODREV,
	SQ_KV_LIST,
	SQ_KV_PUT,
	SQ_KV_DEL,
	SQ_EV_INSERT,
	SQ_EV_COMPACT,
	SQ_EV_READ,
	SQ_LEASE_DUE,
	SQ_LEASE_EXPIRED,
	SQ_LEASE_GET,
	SQ_LEASE_INSERT,
	SQ_LEASE_RENEW,
	SQ_LEASE_DEL,
	SQ_LEASE_KEYS,
	SQ_NSTMT,
};

/* A key is live unless its lease expired (@now: the statement's parameter). */
#define SQ_LIVE(now) " AND (kv.lease = 0 OR NOT EXISTS (SELECT 1 FROM lease" \
	" WHERE lease.id = kv.lease AND lease.expires <= " now "))"

static const char *const sq_sql[SQ_NSTMT] = {
	[SQ_BEGIN] = "BEGIN",
	[SQ_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
	[SQ_COMMIT] = "COMMIT",
	[SQ_ROLLBACK] = "ROLLBACK",
	[SQ_META_GET] = "SELECT v FROM meta WHERE k = ?1",
	[SQ_META_SET] = "UPDATE meta SET v = ?2 WHERE k = ?1",
	[SQ_KV_GET] = "SELECT value, create_rev, mod_rev FROM kv WHERE key = ?1" SQ_LIVE("?2"),
	[SQ_KV_MODREV] = "SELECT mod_rev FROM kv WHERE key = ?1",
	[SQ_KV_LIST] = "SELECT key, value, create_rev, mod_rev FROM kv"
		       " WHERE key >= ?1 AND key < ?2" SQ_LIVE("?3") " ORDER BY key",
	[SQ_KV_PUT] = "INSERT INTO kv (key, value, create_rev, mod_rev, lease)"
		      " VALUES (?1, ?2, ?3, ?3, ?4) ON CONFLICT (key) DO UPDATE"
		      " SET value = excluded.value, mod_rev = excluded.mod_rev,"
		      " lease = excluded.lease",
	[SQ_KV_DEL] = "DELETE FROM kv WHERE key = ?1",
	[SQ_EV_INSERT] = "INSERT INTO events (rev, idx, type, key, value)"
			 " VALUES (?1, ?2, ?3, ?4, ?5)",
	[SQ_EV_COMPACT] = "DELETE FROM events WHERE rev < ?1",
	[SQ_EV_READ] = "SELECT rev, type, key, value FROM events"
		       " WHERE rev >= ?1 AND rev <= ?2 AND key >= ?3 AND key < ?4"
		       " ORDER BY rev, idx",
	[SQ_LEASE_DUE] = "SELECT 1 FROM lease WHERE expires <= ?1 LIMIT 1",
	[SQ_LEASE_EXPIRED] = "SELECT id FROM lease WHERE expires <= ?1 ORDER BY expires",
	[SQ_LEASE_GET] = "SELECT ttl FROM lease WHERE id = ?1 AND expires > ?2",
	[SQ_LEASE_INSERT] = "INSERT INTO lease (id, ttl, expires) VALUES (?1, ?2, ?3)",
	[SQ_LEASE_RENEW] = "UPDATE lease SET expires = ?2 + ttl * 1000 WHERE id = ?1"
			   " AND expires > ?2 RETURNING ttl",
	[SQ_LEASE_DEL] = "DELETE FROM lease WHERE id = ?1",
	[SQ_LEASE_KEYS] = "SELECT key FROM kv WHERE lease = ?1 ORDER BY key",
};

static const char sq_schema[] =
	"CREATE TABLE IF NOT EXISTS meta ("
	" k TEXT PRIMARY KEY NOT NULL,"
	" v INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS kv ("
	" key TEXT PRIMARY KEY NOT NULL,"
	" value TEXT NOT NULL,"
	" create_rev INTEGER NOT NULL,"
	" mod_rev INTEGER NOT NULL,"
	" lease INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS events ("
	" rev INTEGER NOT NULL,"
	" idx INTEGER NOT NULL,"
	" type INTEGER NOT NULL,"
	" key TEXT NOT NULL,"
	" value TEXT,"
	" PRIMARY KEY (rev, idx)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS lease ("
	" id INTEGER PRIMARY KEY NOT NULL,"
	" ttl INTEGER NOT NULL,"
	" expires INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS lease_expires ON lease (expires);"
	"CREATE INDEX IF NOT EXISTS kv_lease ON kv (lease) WHERE lease != 0;"
	"INSERT OR IGNORE INTO meta (k, v) VALUES ('lease', 0);"
	"INSERT OR IGNORE INTO meta (k, v) VALUES ('rev', 1);"
	"INSERT OR IGNORE INTO meta (k, v) VALUES ('compact', 1);";

struct sq_watch;

struct sq_store {
	struct store base;
	sqlite3 *db;
	sqlite3_stmt *stmt[SQ_NSTMT];
	struct sq_watch *watches;
	/* closed while watches were alive: freed with the last of them */
	int closed;
	/* revisions this connection wrote: its watches mark their events own */
	struct store_own own;
};

struct sq_watch {
	struct store_watch base;
	struct sq_watch *next, *prev;
	char *prefix;
	int64_t next_rev;
	int efd;
};

static inline struct sq_store *sq_of(struct store *s)
{
	return (struct sq_store *)s;
}

static int sq_err(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_NOMEM:
		return CS_ENOMEM;
	default:
		/* includes SQLITE_BUSY: another writer held the lock past the
		 * busy timeout; the write was not applied */
		return CS_EIO;
	}
}

static void sq_reset(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Runs a statement that returns no rows. */
static int sq_exec(struct sq_store *s, enum sq_stmt which)
{
	sqlite3_stmt *st = s->stmt[which];
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : sq_err(rc);
}

/* Ends a failed transaction; harmless if SQLite already rolled it back. */
static void sq_abort(struct sq_store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sq_exec(s, SQ_ROLLBACK);
}

static int sq_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	return sq_err(sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC));
}

/*
 * Binds the parameters of @st in order, one character of @types each: 't'
 * text, 'n' text or NULL, 'I' an int64_t, 'i' an int.
 */
static int sq_bindv(sqlite3_stmt *st, const char *types, va_list ap)
{
	int ret = 0;

	for (int i = 0; !ret && types[i]; i++) {
		const char *t;
		switch (types[i]) {
		case 't':
			ret = sq_bind_text(st, i + 1, va_arg(ap, const char *));
			break;
		case 'n':
			t = va_arg(ap, const char *);
			ret = t ? sq_bind_text(st, i + 1, t) : sq_err(sqlite3_bind_null(st, i + 1));
			break;
		case 'I':
			ret = sq_err(sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t)));
			break;
		default:
			ret = sq_err(sqlite3_bind_int(st, i + 1, va_arg(ap, int)));
			break;
		}
	}
	return ret;
}

/* Binds @types (sq_bindv) and steps @st once, a statement that returns no
 * rows; it is reset afterwards. */
static int sq_run(sqlite3_stmt *st, const char *types, ...)
{
	va_list ap;
	int ret;

	va_start(ap, types);
	ret = sq_bindv(st, types, ap);
	va_end(ap);
	if (!ret)
		ret = sq_err(sqlite3_step(st));
	sq_reset(st);
	return ret;
}

/*
 * Binds the exclusive upper bound of the keys starting with @prefix: the
 * prefix with its last byte incremented (after dropping trailing 0xff).
 * With no such string every key qualifies; an empty BLOB serves as the
 * bound then, since SQLite orders every TEXT value before every BLOB.
 * LIKE/GLOB are avoided on purpose: '%' and '_' are ordinary key bytes.
 */
static int sq_bind_prefix_end(sqlite3_stmt *st, int i, const char *prefix, char **buf)
{
	size_t n = strlen(prefix);
	char *end;

	*buf = NULL;
	while (n > 0 && (unsigned char)prefix[n - 1] == 0xff)
		n--;
	if (n == 0)
		return sq_err(sqlite3_bind_zeroblob(st, i, 0));
	end = malloc(n + 1);
	if (!end)
		return CS_ENOMEM;
	memcpy(end, prefix, n);
	end[n - 1] = (char)((unsigned char)end[n - 1] + 1);
	end[n] = '\0';
	*buf = end;
	return sq_err(sqlite3_bind_text(st, i, end, (int)n, SQLITE_STATIC));
}

/* The int64 column of the row of @key that @st selects; without one,
 * @none (with *v 0 when that is 0). */
static int sq_key_int64(sqlite3_stmt *st, const char *key, int64_t *v, int none)
{
	int rc, ret = sq_bind_text(st, 1, key);

	if (!ret) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			*v = sqlite3_column_int64(st, 0);
		else if (rc == SQLITE_DONE && !(ret = none))
			*v = 0;
		else if (rc != SQLITE_DONE)
			ret = sq_err(rc);
	}
	sq_reset(st);
	return ret;
}

static int sq_meta_get(struct sq_store *s, const char *k, int64_t *v)
{
	return sq_key_int64(s->stmt[SQ_META_GET], k, v, CS_EIO);
}

static int sq_meta_set(struct sq_store *s, const char *k, int64_t v)
{
	return sq_run(s->stmt[SQ_META_SET], "tI", k, v);
}

/* mod_rev of @key, 0 if absent. */
static int sq_mod_rev(struct sq_store *s, const char *key, int64_t *mod_rev)
{
	return sq_key_int64(s->stmt[SQ_KV_MODREV], key, mod_rev, 0);
}

static char *sq_column_strdup(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	int n = sqlite3_column_bytes(st, col);
	char *p;

	if (!t)
		return NULL;
	p = malloc((size_t)n + 1);
	if (!p)
		return NULL;
	memcpy(p, t, (size_t)n);
	p[n] = '\0';
	return p;
}

/* Lease expiry is wall-clock: the file outlives processes and boots. */
static int64_t sq_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sq_signal(struct sq_store *s)
{
	struct sq_watch *w;
	uint64_t one = 1;

	for (w = s->watches; w; w = w->next)
		if (write(w->efd, &one, sizeof(one)) < 0) {
			/* EAGAIN: counter saturated, the fd is readable anyway */
		}
}

static int sq_get(struct store *store, const char *key, struct store_kv *out)
{
	struct sq_store *s = sq_of(store);
	struct store_kv kv = { 0 };
	sqlite3_stmt *st;
	int rc, ret;

	if (!key || !*key || !out)
		return CS_EINVAL;
	if (!s->db)
		return CS_EUNAVAIL;
	st = s->stmt[SQ_KV_GET];
	ret = sq_bind_text(st, 1, key);
	if (!ret)
		ret = sq_err(sqlite3_bind_int64(st, 2, sq_now_ms()));
	if (ret)
		goto out;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		ret = rc == SQLITE_DONE ? CS_ENOENT : sq_err(rc);
		goto out;
	}
	kv.key = strdup(key);
	kv.value = sq_column_strdup(st, 0);
	kv.create_rev = sqlite3_column_int64(st, 1);
	kv.mod_rev = sqlite3_column_int64(st, 2);
	if (!kv.key || !kv.value) {
		ret = CS_ENOMEM;
		goto out;
	}
	*out = kv;
	memset(&kv, 0, sizeof(kv));
out:
	sq_reset(st);
	store_kv_clear(&kv);
	return ret;
}

static int sq_list(struct store *store, const char *prefix, struct store_kvs *out,
		   int64_t *rev)
{
	struct sq_store *s = sq_of(store);
	struct store_kvs kvs = { 0 };
	size_t cap = 0;
	sqlite3_stmt *st;
	char *end = NULL;
	int64_t r = 0;
	int rc, ret;

	if (!out)
		return CS_EINVAL;
	if (!s->db)
		return CS_EUNAVAIL;
	if (!prefix)
		prefix = "";
	st = s->stmt[SQ_KV_LIST];
	ret = sq_exec(s, SQ_BEGIN);
	if (ret)
		return ret;
	ret = sq_meta_get(s, "rev", &r);
	if (ret)
		goto out;
	ret = sq_bind_text(st, 1, prefix);
	if (!ret)
		ret = sq_bind_prefix_end(st, 2, prefix, &end);
	if (!ret)
		ret = sq_err(sqlite3_bind_int64(st, 3, sq_now_ms()));
	if (ret)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_kv *kv;

		if (kvs.n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct store_kv *v = realloc(kvs.v, ncap * sizeof(*v));

			if (!v) {
				ret = CS_ENOMEM;
				goto out;
			}
			kvs.v = v;
			cap = ncap;
		}
		kv = &kvs.v[kvs.n++];
		kv->key = sq_column_strdup(st, 0);
		kv->value = sq_column_strdup(st, 1);
		kv->create_rev = sqlite3_column_int64(st, 2);
		kv->mod_rev = sqlite3_column_int64(st, 3);
		if (!kv->key || !kv->value) {
			ret = CS_ENOMEM;
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		ret = sq_err(rc);
		goto out;
	}
	sq_reset(st);
	ret = sq_exec(s, SQ_COMMIT);
	if (ret)
		goto out;
	*out = kvs;
	memset(&kvs, 0, sizeof(kvs));
	if (rev)
		*rev = r;
out:
	sq_reset(st);
	sq_abort(s);
	free(end);
	store_kvs_clear(&kvs);
	return ret;
}

static int sq_revision(struct store *store, int64_t *rev)
{
	struct sq_store *s = sq_of(store);

	if (!rev)
		return CS_EINVAL;
	if (!s->db)
		return CS_EUNAVAIL;
	return sq_meta_get(s, "rev", rev);
}

static int sq_event_insert(struct sq_store *s, int64_t rev, int idx,
			   enum store_op_type type, const char *key, const char *value)
{
	return sq_run(s->stmt[SQ_EV_INSERT], "Iiitn", rev, idx, (int)type, key, value);
}

/* CS_ENOENT unless lease @id exists and has not expired. */
/* Runs lease statement @which on (@id, now): its row's ttl, or CS_ENOENT. */
static int sq_lease_step(struct sq_store *s, enum sq_stmt which, int64_t id, int64_t *ttl)
{
	sqlite3_stmt *st = s->stmt[which];
	int rc, ret;

	ret = sq_err(sqlite3_bind_int64(st, 1, id));
	if (!ret)
		ret = sq_err(sqlite3_bind_int64(st, 2, sq_now_ms()));
	if (ret)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (ttl)
			*ttl = sqlite3_column_int64(st, 0);
		/* an UPDATE ... RETURNING is done once stepped to its end */
		rc = sqlite3_step(st);
		if (rc != SQLITE_DONE && rc != SQLITE_ROW)
			ret = sq_err(rc);
	} else {
		ret = rc == SQLITE_DONE ? CS_ENOENT : sq_err(rc);
	}
out:
	sq_reset(st);
	return ret;
}

static int sq_lease_live(struct sq_store *s, int64_t id, int64_t *ttl)
{
	return sq_lease_step(s, SQ_LEASE_GET, id, ttl);
}

static int sq_apply_put(struct sq_store *s, const char *key, const char *value, int64_t rev,
			int64_t lease)
{
	int ret;

	/* as etcd: a put naming a lease that is gone fails the whole write */
	if (lease && (ret = sq_lease_live(s, lease, NULL)))
		return ret;
	return sq_run(s->stmt[SQ_KV_PUT], "ttII", key, value, rev, lease);
}

static int sq_apply_del(struct sq_store *s, const char *key, int *deleted)
{
	int ret = sq_run(s->stmt[SQ_KV_DEL], "t", key);

	*deleted = !ret && sqlite3_changes(s->db) > 0;
	return ret;
}

static int sq_compact(struct sq_store *s, int64_t rev)
{
	int64_t floor = rev - SQ_HISTORY + 1, cur;
	int ret;

	ret = sq_meta_get(s, "compact", &cur);
	if (ret || floor <= cur)
		return ret;
	ret = sq_run(s->stmt[SQ_EV_COMPACT], "I", floor);
	if (!ret)
		ret = sq_meta_set(s, "compact", floor);
	return ret;
}

static int sq_txn_valid(const struct store_txn *t)
{
	size_t i, j;

	if (!t || (t->ncmps && !t->cmps) || (t->nops && !t->ops))
		return 0;
	for (i = 0; i < t->ncmps; i++)
		if (!t->cmps[i].key || !*t->cmps[i].key || t->cmps[i].mod_rev < 0)
			return 0;
	for (i = 0; i < t->nops; i++) {
		const struct store_op *op = &t->ops[i];

		if (!op->key || !*op->key)
			return 0;
		if (op->type == STORE_PUT ? !op->value : op->type != STORE_DELETE)
			return 0;
		/* as etcd: one key may not be changed twice in one revision */
		for (j = 0; j < i; j++)
			if (!strcmp(t->ops[j].key, op->key))
				return 0;
	}
	return 1;
}

/*
 * Deletes the keys of lease @id (one event each, under revision @next,
 * counted in *@changed) and the lease itself.  In a write transaction.
 */
static int sq_lease_drop(struct sq_store *s, int64_t id, int64_t next, int *changed)
{
	sqlite3_stmt *st = s->stmt[SQ_LEASE_KEYS];
	char **keys = NULL, **nk;
	size_t n = 0, i;
	int rc, ret, deleted;

	ret = sq_err(sqlite3_bind_int64(st, 1, id));
	while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		nk = realloc(keys, (n + 1) * sizeof(*keys));
		if (!nk || !(nk[n] = sq_column_strdup(st, 0))) {
			if (nk)
				keys = nk;
			ret = CS_ENOMEM;
			break;
		}
		keys = nk;
		n++;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = sq_err(rc);
	sq_reset(st);
	/* collected first: no delete from kv while a select on it is open */
	for (i = 0; !ret && i < n; i++) {
		ret = sq_apply_del(s, keys[i], &deleted);
		if (!ret && deleted)
			ret = sq_event_insert(s, next, (*changed)++, STORE_DELETE, keys[i], NULL);
	}
	if (!ret) {
		ret = sq_run(s->stmt[SQ_LEASE_DEL], "I", id);
	}
	for (i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	return ret;
}

/* The store's revision is now @rev; history beyond SQ_HISTORY goes. */
static int sq_bump_rev(struct sq_store *s, int64_t rev)
{
	int ret = sq_meta_set(s, "rev", rev);

	return ret ? ret : sq_compact(s, rev);
}

/* Commits a write that changed @changed keys under revision @next. */
static int sq_commit_rev(struct sq_store *s, int changed, int64_t next)
{
	int ret = changed ? sq_bump_rev(s, next) : 0;

	if (!ret)
		ret = sq_exec(s, SQ_COMMIT);
	if (!ret && changed)
		sq_signal(s);
	return ret;
}

/* Expired leases lose their keys, one revision per lease that held any. */
static int sq_expire(struct sq_store *s)
{
	sqlite3_stmt *st = s->stmt[SQ_LEASE_DUE];
	int64_t now = sq_now_ms(), cur = 0, *ids = NULL, *ni;
	size_t n = 0, i;
	int rc, ret, changed;

	/* the common case, no lease due, costs one indexed lookup */
	ret = sq_err(sqlite3_bind_int64(st, 1, now));
	rc = ret ? SQLITE_DONE : sqlite3_step(st);
	sq_reset(st);
	if (ret || rc != SQLITE_ROW)
		return ret ? ret : sq_err(rc);
	ret = sq_exec(s, SQ_BEGIN_IMMEDIATE);
	if (ret)
		return ret;
	st = s->stmt[SQ_LEASE_EXPIRED];
	ret = sq_err(sqlite3_bind_int64(st, 1, now));
	while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!(ni = realloc(ids, (n + 1) * sizeof(*ids)))) {
			ret = CS_ENOMEM;
			break;
		}
		ids = ni;
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	if (!ret && rc != SQLITE_DONE)
		ret = sq_err(rc);
	sq_reset(st);
	if (!ret)
		ret = sq_meta_get(s, "rev", &cur);
	for (i = 0; !ret && i < n; i++) {
		changed = 0;
		ret = sq_lease_drop(s, ids[i], cur + 1, &changed);
		if (!ret && changed)
			ret = sq_bump_rev(s, ++cur);
	}
	if (!ret)
		ret = sq_exec(s, SQ_COMMIT);
	if (!ret && n)
		sq_signal(s);
	sq_abort(s);
	free(ids);
	return ret;
}

static int sq_lease_grant(struct store *store, int64_t ttl, int64_t *id, int64_t *granted)
{
	struct sq_store *s = sq_of(store);
	sqlite3_stmt *st = s->stmt[SQ_LEASE_INSERT];
	int64_t last = 0;
	int ret;

	if (ttl < 1 || ttl > INT32_MAX || !id)
		return CS_EINVAL;
	if (!s->db)
		return CS_EUNAVAIL;
	ret = sq_exec(s, SQ_BEGIN_IMMEDIATE);
	if (ret)
		return ret;
	/* ids are never reused, as a counter in meta keeps them */
	ret = sq_meta_get(s, "lease", &last);
	if (!ret)
		ret = sq_run(st, "III", last + 1, ttl, sq_now_ms() + ttl * 1000);
	if (!ret)
		ret = sq_meta_set(s, "lease", last + 1);
	/* no revision: a lease alone changes no key */
	if (!ret)
		ret = sq_exec(s, SQ_COMMIT);
	sq_abort(s);
	if (!ret) {
		*id = last + 1;
		if (granted)
			*granted = ttl;
	}
	return ret;
}

static int sq_lease_keepalive(struct store *store, int64_t id, int64_t *ttl)
{
	struct sq_store *s = sq_of(store);

	if (id <= 0)
		return CS_EINVAL;
	if (!s->db)
		return CS_EUNAVAIL;
	sq_expire(s);
	return sq_lease_step(s, SQ_LEASE_RENEW, id, ttl);
}

/*
 * Opens a write: expired leases' deletes first, under revisions of their
 * own (a sweep that fails is retried by the next call, the write goes on),
 * then the write lock and the revision as it stands under it.
 */
static int sq_write_begin(struct sq_store *s, int64_t *cur)
{
	int ret;

	sq_expire(s);
	ret = sq_exec(s, SQ_BEGIN_IMMEDIATE);
	if (!ret)
		ret = sq_meta_get(s, "rev", cur);
	return ret;
}

static int sq_lease_revoke(struct store *store, int64_t id, int64_t *rev)
{
	struct sq_store *s = sq_of(store);
	int64_t cur = 0;
	int ret, changed = 0;

	if (id <= 0)
		return CS_EINVAL;
	if (!s->db)
		return CS_EUNAVAIL;
	ret = sq_write_begin(s, &cur);
	if (!ret)
		ret = sq_lease_live(s, id, NULL);
	if (!ret)
		ret = sq_lease_drop(s, id, cur + 1, &changed);
	if (!ret)
		ret = sq_commit_rev(s, changed, cur + 1);
	if (!ret && changed)
		cur++;
	sq_abort(s);
	if (!ret && rev)
		*rev = cur;
	return ret;
}

/*
 * The one write path.  @strict: a lone delete of an absent key fails with
 * CS_ENOENT (store_delete) instead of succeeding without change (txn).
 * @lease: the lease its puts are attached to (0: none, detaching them).
 */
static int sq_write(struct sq_store *s, const struct store_txn *t, int strict,
		    int64_t lease, int64_t *rev)
{
	int64_t cur = 0, next, mr = 0;
	int ret, changed = 0, deleted;
	size_t i;

	if (!sq_txn_valid(t))
		return CS_EINVAL;
	if (!s->db)
		return CS_EUNAVAIL;
	ret = sq_write_begin(s, &cur);
	if (ret)
		goto out;
	for (i = 0; i < t->ncmps; i++) {
		ret = sq_mod_rev(s, t->cmps[i].key, &mr);
		if (ret)
			goto out;
		if (mr != t->cmps[i].mod_rev) {
			ret = CS_ECONFLICT;
			goto out;
		}
	}
	next = cur + 1;
	for (i = 0; i < t->nops; i++) {
		const struct store_op *op = &t->ops[i];

		if (op->type == STORE_PUT) {
			ret = sq_apply_put(s, op->key, op->value, next, lease);
		} else {
			ret = sq_apply_del(s, op->key, &deleted);
			if (!ret && !deleted) {
				if (strict) {
					ret = CS_ENOENT;
					goto out;
				}
				continue;
			}
		}
		if (!ret)
			ret = sq_event_insert(s, next, changed, op->type, op->key,
					      op->type == STORE_PUT ? op->value : NULL);
		if (ret)
			goto out;
		changed++;
	}
	if (!changed) {
		/* nothing changed: no new revision; just release the lock */
		ret = sq_exec(s, SQ_COMMIT);
		goto out;
	}
	ret = sq_bump_rev(s, next);
	if (!ret)
		ret = sq_exec(s, SQ_COMMIT);
	if (ret)
		goto out;
	cur = next;
	store_own_add(&s->own, next);
	sq_signal(s);
out:
	sq_abort(s);
	if (rev && (!ret || ret == CS_ECONFLICT || ret == CS_ENOENT))
		*rev = cur;
	return ret;
}

static int sq_put(struct store *store, const char *key, const char *value, int64_t *rev)
{
	struct store_op op = { .type = STORE_PUT, .key = key, .value = value };
	struct store_txn t = { .ops = &op, .nops = 1 };

	return sq_write(sq_of(store), &t, 0, 0, rev);
}

static int sq_put_lease(struct store *store, const char *key, const char *value,
			int64_t lease, int64_t *rev)
{
	struct store_op op = { .type = STORE_PUT, .key = key, .value = value };
	struct store_txn t = { .ops = &op, .nops = 1 };

	if (lease < 0)
		return CS_EINVAL;
	return sq_write(sq_of(store), &t, 0, lease, rev);
}

static int sq_del(struct store *store, const char *key, int64_t *rev)
{
	struct store_op op = { .type = STORE_DELETE, .key = key };
	struct store_txn t = { .ops = &op, .nops = 1 };

	return sq_write(sq_of(store), &t, 1, 0, rev);
}

static int sq_txn(struct store *store, const struct store_txn *t, int64_t *rev)
{
	return sq_write(sq_of(store), t, 0, 0, rev);
}

static void sq_destroy(struct sq_store *s)
{
	int i;

	for (i = 0; i < SQ_NSTMT; i++) {
		sqlite3_finalize(s->stmt[i]);
		s->stmt[i] = NULL;
	}
	if (s->db)
		sqlite3_close(s->db);
	s->db = NULL;
}

static void sq_close(struct store *store)
{
	struct sq_store *s = sq_of(store);

	sq_destroy(s);
	if (s->watches) {
		/* watches still point at us: last watch_free frees */
		s->closed = 1;
		return;
	}
	free(s);
}

static int sq_watch(struct store *store, const char *prefix, int64_t from_rev,
		    struct store_watch **out)
{
	struct sq_store *s = sq_of(store);
	struct sq_watch *w = NULL;
	int64_t cur, compact;
	uint64_t one = 1;
	int ret;

	if (!out)
		return CS_EINVAL;
	*out = NULL;
	if (!s->db)
		return CS_EUNAVAIL;
	if (!prefix)
		prefix = "";
	ret = sq_exec(s, SQ_BEGIN);
	if (ret)
		return ret;
	ret = sq_meta_get(s, "rev", &cur);
	if (!ret)
		ret = sq_meta_get(s, "compact", &compact);
	if (!ret)
		ret = sq_exec(s, SQ_COMMIT);
	if (ret)
		goto out;
	/* as etcd: 0 watches from now on */
	if (from_rev <= 0)
		from_rev = cur + 1;
	if (from_rev < compact) {
		ret = CS_ECOMPACTED;
		goto out;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		ret = CS_ENOMEM;
		goto out;
	}
	w->efd = -1;
	w->base.store = store;
	w->next_rev = from_rev;
	w->prefix = strdup(prefix);
	if (!w->prefix) {
		ret = CS_ENOMEM;
		goto out;
	}
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		ret = errno == ENOMEM ? CS_ENOMEM : CS_EIO;
		goto out;
	}
	/* history is already pending: make the first poll see it */
	if (from_rev <= cur && write(w->efd, &one, sizeof(one)) < 0) {
		ret = CS_EIO;
		goto out;
	}
	w->next = s->watches;
	if (s->watches)
		s->watches->prev = w;
	s->watches = w;
	*out = &w->base;
	w = NULL;
out:
	sq_abort(s);
	if (w) {
		if (w->efd >= 0)
			close(w->efd);
		free(w->prefix);
		free(w);
	}
	return ret;
}

static int sq_watch_fd(struct store_watch *base)
{
	return ((struct sq_watch *)base)->efd;
}

static int sq_events_grow(struct store_events *ev, size_t *cap)
{
	struct store_event *v;
	size_t ncap;

	if (ev->n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	v = realloc(ev->v, ncap * sizeof(*v));
	if (!v)
		return CS_ENOMEM;
	ev->v = v;
	*cap = ncap;
	return 0;
}

static int sq_watch_read(struct store_watch *base, struct store_events *out)
{
	struct sq_watch *w = (struct sq_watch *)base;
	struct sq_store *s = sq_of(base->store);
	size_t n0, cap, i;
	sqlite3_stmt *st;
	int64_t cur, compact;
	uint64_t cnt;
	char *end = NULL;
	int rc, ret;

	if (!out)
		return CS_EINVAL;
	if (!s->db)
		return CS_EUNAVAIL;
	/* expiries are deletes a watch must see */
	sq_expire(s);
	/* drain before querying so a write racing with us re-arms the fd */
	if (read(w->efd, &cnt, sizeof(cnt)) < 0) {
		/* EAGAIN: nothing signalled; the table may still have news */
	}
	n0 = cap = out->n;
	st = s->stmt[SQ_EV_READ];
	ret = sq_exec(s, SQ_BEGIN);
	if (ret)
		return ret;
	ret = sq_meta_get(s, "rev", &cur);
	if (!ret)
		ret = sq_meta_get(s, "compact", &compact);
	if (ret)
		goto out;
	if (w->next_rev < compact) {
		ret = CS_ECOMPACTED;
		goto out;
	}
	if (w->next_rev > cur) {
		ret = sq_exec(s, SQ_COMMIT);
		goto out;
	}
	ret = sq_err(sqlite3_bind_int64(st, 1, w->next_rev));
	if (!ret)
		ret = sq_err(sqlite3_bind_int64(st, 2, cur));
	if (!ret)
		ret = sq_bind_text(st, 3, w->prefix);
	if (!ret)
		ret = sq_bind_prefix_end(st, 4, w->prefix, &end);
	if (ret)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_event *e;

		ret = sq_events_grow(out, &cap);
		if (ret)
			goto out;
		e = &out->v[out->n++];
		e->mod_rev = sqlite3_column_int64(st, 0);
		e->own = store_own_has(&s->own, e->mod_rev);
		e->type = sqlite3_column_int(st, 1) == STORE_DELETE ? STORE_DELETE : STORE_PUT;
		e->key = sq_column_strdup(st, 2);
		e->value = NULL;
		if (e->type == STORE_PUT)
			e->value = sq_column_strdup(st, 3);
		if (!e->key || (e->type == STORE_PUT && !e->value)) {
			ret = CS_ENOMEM;
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		ret = sq_err(rc);
		goto out;
	}
	sq_reset(st);
	ret = sq_exec(s, SQ_COMMIT);
	if (!ret)
		w->next_rev = cur + 1;
out:
	sq_reset(st);
	sq_abort(s);
	free(end);
	if (ret) {
		/* leave @out as it was: the same events come again next time */
		for (i = n0; i < out->n; i++) {
			free(out->v[i].key);
			free(out->v[i].value);
		}
		out->n = n0;
		if (!n0) {
			free(out->v);
			out->v = NULL;
		}
	}
	return ret;
}

static void sq_watch_free(struct store_watch *base)
{
	struct sq_watch *w = (struct sq_watch *)base;
	struct sq_store *s;

	if (!w)
		return;
	s = sq_of(base->store);
	if (w->prev)
		w->prev->next = w->next;
	else
		s->watches = w->next;
	if (w->next)
		w->next->prev = w->prev;
	close(w->efd);
	free(w->prefix);
	free(w);
	if (s->closed && !s->watches)
		free(s);
}

static const struct store_ops sq_ops = {
	.name = "sqlite",
	.close = sq_close,
	.get = sq_get,
	.list = sq_list,
	.put = sq_put,
	.del = sq_del,
	.txn = sq_txn,
	.revision = sq_revision,
	.watch = sq_watch,
	.watch_fd = sq_watch_fd,
	.watch_read = sq_watch_read,
	.watch_free = sq_watch_free,
	.lease_grant = sq_lease_grant,
	.lease_keepalive = sq_lease_keepalive,
	.lease_revoke = sq_lease_revoke,
	.put_lease = sq_put_lease,
};

/* mkdir -p; only the last component gets 0700 (it holds the database). */
static int sq_mkdirs(const char *dir)
{
	struct stat sb;
	char *p, *q;
	int ret = 0;

	if (stat(dir, &sb) == 0)
		return S_ISDIR(sb.st_mode) ? 0 : -ENOTDIR;
	p = strdup(dir);
	if (!p)
		return -ENOMEM;
	for (q = p + strlen(p) - 1; q > p && *q == '/'; q--)
		*q = '\0';
	for (q = p + 1; *q; q++) {
		if (*q != '/')
			continue;
		*q = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			ret = -errno;
			goto out;
		}
		*q = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		ret = -errno;
out:
	free(p);
	return ret;
}

static int sq_pragmas(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *mode;
	int rc, ret = 0;

	/* WAL lets readers and watches proceed while another process writes */
	rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		ret = sq_err(rc);
		goto out;
	}
	mode = sqlite3_column_text(st, 0);
	if (!mode || strcmp((const char *)mode, "wal")) {
		ret = CS_EIO;
		goto out;
	}
	/* NORMAL in WAL mode: a power loss may lose the last commits, never
	 * consistency */
	rc = sqlite3_exec(db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF",
			  NULL, NULL, NULL);
	ret = sq_err(rc);
out:
	sqlite3_finalize(st);
	return ret;
}

static int sq_schema_init(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = 0, version = 0;
	char sql[64];

	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sq_err(rc);
	rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		ret = sq_err(rc);
		goto out;
	}
	version = sqlite3_column_int(st, 0);
	if (version > SQ_SCHEMA_VERSION) {
		/* written by a newer csd: do not guess at its layout */
		ret = CS_ENOTSUP;
		goto out;
	}
	/* version 1 had no leases: its keys get none */
	if (version == 1)
		ret = sq_err(sqlite3_exec(db, "ALTER TABLE kv ADD COLUMN lease INTEGER NOT NULL"
					  " DEFAULT 0", NULL, NULL, NULL));
	if (!ret)
		ret = sq_err(sqlite3_exec(db, sq_schema, NULL, NULL, NULL));
	if (ret)
		goto out;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SQ_SCHEMA_VERSION);
	ret = sq_err(sqlite3_exec(db, sql, NULL, NULL, NULL));
	if (ret)
		goto out;
	ret = sq_err(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL));
out:
	sqlite3_finalize(st);
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

int store_sqlite_open(const char *dir, struct store **out)
{
	struct sq_store *s = NULL;
	char *path = NULL;
	int rc, ret, i;

	if (!out)
		return CS_EINVAL;
	*out = NULL;
	if (!dir || !*dir)
		return CS_EINVAL;
	ret = sq_mkdirs(dir);
	if (ret) {
		ret = ret == -ENOMEM ? CS_ENOMEM : CS_EUNAVAIL;
		goto out;
	}
	if (asprintf(&path, "%s/cs.db", dir) < 0) {
		path = NULL;
		ret = CS_ENOMEM;
		goto out;
	}
	/* every tenant's declarations: readable by csd's user only, whatever
	 * the umask; SQLite gives its -wal and -shm files the same mode */
	int dbfd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dbfd < 0 || fchmod(dbfd, 0600) < 0) {
		if (dbfd >= 0)
			close(dbfd);
		ret = CS_EUNAVAIL;
		goto out;
	}
	close(dbfd);
	s = calloc(1, sizeof(*s));
	if (!s) {
		ret = CS_ENOMEM;
		goto out;
	}
	s->base.ops = &sq_ops;
	/* one connection per struct store, never shared across threads */
	/* never through a link planted where the file should be */
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			     SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc != SQLITE_OK) {
		ret = rc == SQLITE_NOMEM ? CS_ENOMEM : CS_EUNAVAIL;
		goto out;
	}
	sqlite3_busy_timeout(s->db, SQ_BUSY_MS);
	ret = sq_pragmas(s->db);
	if (!ret)
		ret = sq_schema_init(s->db);
	if (ret) {
		if (ret != CS_ENOMEM && ret != CS_ENOTSUP)
			ret = CS_EUNAVAIL;
		goto out;
	}
	for (i = 0; i < SQ_NSTMT; i++) {
		rc = sqlite3_prepare_v3(s->db, sq_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					&s->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			ret = rc == SQLITE_NOMEM ? CS_ENOMEM : CS_EUNAVAIL;
			goto out;
		}
	}
	*out = &s->base;
	s = NULL;
out:
	if (s) {
		sq_destroy(s);
		free(s);
	}
	free(path);
	return ret;
}
