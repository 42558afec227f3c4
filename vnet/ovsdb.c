/* SPDX-License-Identifier: GPL-2.0-or-later */
/* An OVSDB client: RFC 7047 JSON-RPC over a unix stream socket (ovsdb.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cs/cs.h"
#include "errf.h"
#include "ovsdb.h"

/* an answer ovsdb-server owes us: it never takes long unless it is gone */
#define REPLY_MS 10000
/* how long ovs-vswitchd may take to connect again after ovsdb-server
 * restarted (its first reconnection backoff is 1 s) */
#define VSWITCHD_GRACE_MS 3000

/* ------------------------------------------------------------------ */
/* message layer                                                      */
/* ------------------------------------------------------------------ */

long ovsdb_frame_end(const char *buf, size_t len)
{
	size_t i = 0, depth = 0;
	bool str = false, esc = false;

	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
		i++;
	if (i == len)
		return 0;
	if (buf[i] != '{' && buf[i] != '[')
		return CS_EPROTO;
	for (; i < len; i++) {
		char c = buf[i];
		if (str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				str = false;
			continue;
		}
		if (c == '"') {
			str = true;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (--depth == 0)
				return (long)(i + 1);
		}
	}
	return 0;
}

json_t *ovsdb_msg_request(const char *method, json_t *params, uint64_t id)
{
	if (!params)
		return NULL;
	return json_pack("{s:s, s:o, s:I}", "method", method, "params", params, "id",
			 (json_int_t)id);
}

json_t *ovsdb_msg_transact(const char *db, json_t *ops, uint64_t id)
{
	json_t *params = json_array();

	if (!params || !ops || json_array_append_new(params, json_string(db)) < 0 ||
	    json_array_extend(params, ops) < 0) {
		json_decref(params);
		json_decref(ops);
		return NULL;
	}
	json_decref(ops);
	return ovsdb_msg_request("transact", params, id);
}

json_t *ovsdb_msg_monitor(const char *db, const char *const *tables, uint64_t id)
{
	json_t *req = json_object();
	size_t i = 0;

	if (!req)
		return NULL;
	while (tables[i]) {
		const char *table = tables[i++];
		json_t *cols = json_array();
		while (tables[i])
			json_array_append_new(cols, json_string(tables[i++]));
		i++;
		json_object_set_new(req, table, json_pack("{s:o}", "columns", cols));
	}
	return ovsdb_msg_request("monitor", json_pack("[s, s, o]", db, "cs", req), id);
}

enum ovsdb_kind ovsdb_msg_kind(const json_t *msg, uint64_t *id)
{
	const json_t *m, *i;

	if (!json_is_object(msg))
		return OVSDB_BAD;
	m = json_object_get(msg, "method");
	i = json_object_get(msg, "id");
	if (json_is_string(m))
		return json_is_null(i) || !i ? OVSDB_NOTIFY : OVSDB_REQUEST;
	if (m || !json_is_integer(i) || json_integer_value(i) < 0 ||
	    (!json_object_get(msg, "result") && !json_object_get(msg, "error")))
		return OVSDB_BAD;
	if (id)
		*id = (uint64_t)json_integer_value(i);
	return OVSDB_REPLY;
}

json_t *ovsdb_msg_echo_reply(const json_t *req)
{
	const json_t *params = json_object_get(req, "params");

	if (strcmp(json_string_value(json_object_get(req, "method")) ?: "", "echo"))
		return NULL;
	return json_pack("{s:O, s:n, s:O}", "result", params ? params : json_array(), "error",
			 "id", json_object_get(req, "id"));
}

/* "error" and "details" of an OVSDB error object, as one sentence */
static void error_text(const json_t *e, char *err, size_t errlen)
{
	const char *what = json_string_value(json_object_get(e, "error"));
	const char *details = json_string_value(json_object_get(e, "details"));

	if (!what && json_is_string(e))
		what = json_string_value(e);
	cs_errf(err, errlen, "%s%s%s", what ? what : "unknown error", details ? ": " : "",
	    details ? details : "");
}

int ovsdb_msg_transact_check(const json_t *reply, char *err, size_t errlen)
{
	const json_t *res = json_object_get(reply, "result"), *e = json_object_get(reply, "error");
	const json_t *op;
	size_t i;

	if (e && !json_is_null(e)) {
		error_text(e, err, errlen);
		return CS_EIO;
	}
	if (!json_is_array(res)) {
		cs_errf(err, errlen, "malformed transact reply (no result array)");
		return CS_EPROTO;
	}
	json_array_foreach(res, i, op) {
		const char *what;
		if (!json_is_object(op) || !(e = json_object_get(op, "error")) || json_is_null(e))
			continue;
		what = json_string_value(e);
		error_text(op, err, errlen);
		/* a wait that did not hold: someone changed the rows first */
		return what && !strcmp(what, "timed out") ? CS_ECONFLICT : CS_EIO;
	}
	/* RFC 7047 4.1.3: a failed commit adds one error past the operations */
	return 0;
}

json_t *ovsdb_val_uuid(const char *uuid)
{
	return json_pack("[s, s]", "uuid", uuid);
}

json_t *ovsdb_val_named(const char *name)
{
	return json_pack("[s, s]", "named-uuid", name);
}

json_t *ovsdb_val_set(json_t *elems)
{
	return elems ? json_pack("[s, o]", "set", elems) : NULL;
}

json_t *ovsdb_val_map(const char *const *kv)
{
	json_t *pairs = json_array();

	if (!pairs)
		return NULL;
	for (size_t i = 0; kv[i] && kv[i + 1]; i += 2)
		json_array_append_new(pairs, json_pack("[s, s]", kv[i], kv[i + 1]));
	return json_pack("[s, o]", "map", pairs);
}

const char *ovsdb_map_get(const json_t *map, const char *key)
{
	const json_t *pairs, *p;
	size_t i;

	if (!json_is_array(map) || json_array_size(map) != 2 ||
	    strcmp(json_string_value(json_array_get(map, 0)) ?: "", "map"))
		return NULL;
	pairs = json_array_get(map, 1);
	json_array_foreach(pairs, i, p) {
		const char *k = json_string_value(json_array_get(p, 0));
		if (k && !strcmp(k, key))
			return json_string_value(json_array_get(p, 1));
	}
	return NULL;
}

/* ["uuid", U] -> U */
static const char *uuid_of(const json_t *v)
{
	if (!json_is_array(v) || json_array_size(v) != 2 ||
	    strcmp(json_string_value(json_array_get(v, 0)) ?: "", "uuid"))
		return NULL;
	return json_string_value(json_array_get(v, 1));
}

int ovsdb_set_each_uuid(const json_t *set, int (*fn)(const char *uuid, void *arg), void *arg)
{
	const json_t *elems, *v;
	const char *u;
	size_t i;
	int r;

	if ((u = uuid_of(set)))
		return fn(u, arg);
	if (!json_is_array(set) || json_array_size(set) != 2 ||
	    strcmp(json_string_value(json_array_get(set, 0)) ?: "", "set"))
		return 0;
	elems = json_array_get(set, 1);
	json_array_foreach(elems, i, v) {
		if ((u = uuid_of(v)) && (r = fn(u, arg)) != 0)
			return r;
	}
	return 0;
}

static int uuid_is(const char *uuid, void *arg)
{
	return !strcmp(uuid, (const char *)arg);
}

bool ovsdb_set_has_uuid(const json_t *set, const char *uuid)
{
	return ovsdb_set_each_uuid(set, uuid_is, (void *)uuid) == 1;
}

int ovsdb_cache_update(json_t *cache, const json_t *updates)
{
	const char *table, *uuid;
	json_t *rows, *u;

	if (!json_is_object(cache) || !json_is_object(updates))
		return CS_EPROTO;
	json_object_foreach((json_t *)updates, table, rows) {
		json_t *t = json_object_get(cache, table);
		if (!json_is_object(rows))
			return CS_EPROTO;
		if (!t) {
			t = json_object();
			if (!t || json_object_set_new(cache, table, t) < 0)
				return CS_ENOMEM;
		}
		json_object_foreach(rows, uuid, u) {
			/* RFC 7047 4.1.6: "new" holds every monitored column of an
			 * inserted or modified row; no "new" means deleted */
			json_t *n = json_object_get(u, "new");
			if (!json_is_object(u))
				return CS_EPROTO;
			if (json_is_object(n)) {
				if (json_object_set(t, uuid, n) < 0)
					return CS_ENOMEM;
			} else {
				json_object_del(t, uuid);
			}
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* session                                                            */
/* ------------------------------------------------------------------ */

struct ovsdb {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd;
	uint64_t next_id;
	json_t *cache;
	char *buf;
	size_t len, cap;
	int64_t vswitchd_missing_until;	/* ms, monotonic */
};

/* the tables and columns the ovs backend reads */
static const char *const monitored[] = {
	"Open_vSwitch", "bridges", "next_cfg", "cur_cfg", NULL,
	"Bridge", "name", "ports", "datapath_type", "external_ids", NULL,
	"Port", "name", "interfaces", "external_ids", "protected", NULL,
	"Interface", "name", "type", "options", "external_ids", "error", "ofport", "mtu_request",
	NULL,
	NULL,
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ovsdb_new(const char *addr, struct ovsdb **out, char *err, size_t errlen)
{
	struct ovsdb *db;
	const char *path;

	*out = NULL;
	if (!addr || strncmp(addr, "unix:", 5) || !addr[5]) {
		cs_errf(err, errlen, "ovsdb \"%s\": expected unix:PATH (e.g. %s)", addr ? addr : "",
		    OVSDB_DEFAULT);
		return CS_EINVAL;
	}
	path = addr + 5;
	if (strlen(path) >= sizeof(db->path)) {
		cs_errf(err, errlen, "ovsdb \"%s\": the path is longer than a unix socket's %zu bytes",
		    addr, sizeof(db->path) - 1);
		return CS_EINVAL;
	}
	db = calloc(1, sizeof(*db));
	if (!db)
		return CS_ENOMEM;
	strcpy(db->path, path);
	db->fd = -1;
	db->next_id = 1;
	*out = db;
	return 0;
}

static void disconnect(struct ovsdb *db)
{
	if (db->fd >= 0)
		close(db->fd);
	db->fd = -1;
	db->len = 0;
	json_decref(db->cache);
	db->cache = NULL;
}

void ovsdb_free(struct ovsdb *db)
{
	if (!db)
		return;
	disconnect(db);
	free(db->buf);
	free(db);
}

bool ovsdb_connected(const struct ovsdb *db)
{
	return db && db->fd >= 0 && db->cache;
}

const json_t *ovsdb_table(struct ovsdb *db, const char *table)
{
	return db->cache ? json_object_get(db->cache, table) : NULL;
}

static int send_msg(struct ovsdb *db, json_t *msg, char *err, size_t errlen)
{
	char *s = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	size_t len, off = 0;
	int r = 0;

	json_decref(msg);
	if (!s)
		return CS_ENOMEM;
	len = strlen(s);
	while (off < len) {
		ssize_t n = send(db->fd, s + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = db->fd, .events = POLLOUT };
			if (poll(&p, 1, REPLY_MS) > 0)
				continue;
			errno = ETIMEDOUT;
		}
		if (n <= 0) {
			cs_errf(err, errlen, "cannot write to ovsdb-server at %s: %s", db->path,
			    strerror(errno));
			r = CS_ECONN;
			break;
		}
		off += (size_t)n;
	}
	free(s);
	return r;
}

/* One message from the buffer, or read until one is there or @deadline
 * (ms, monotonic; 0: do not wait) passes. *out NULL: none yet. */
static int recv_msg(struct ovsdb *db, int64_t deadline, json_t **out, char *err, size_t errlen)
{
	json_error_t je;
	long end;

	*out = NULL;
	for (;;) {
		end = ovsdb_frame_end(db->buf, db->len);
		if (end < 0) {
			cs_errf(err, errlen, "ovsdb-server at %s sent something that is not JSON-RPC",
			    db->path);
			return CS_EPROTO;
		}
		if (end > 0)
			break;
		if (db->len == db->cap) {
			size_t cap = db->cap ? db->cap * 2 : 65536;
			char *nb;
			if (cap > OVSDB_MSG_MAX) {
				cs_errf(err, errlen, "ovsdb-server at %s sent a message over %u bytes",
				    db->path, OVSDB_MSG_MAX);
				return CS_ETOOBIG;
			}
			if (!(nb = realloc(db->buf, cap)))
				return CS_ENOMEM;
			db->buf = nb;
			db->cap = cap;
		}
		struct pollfd p = { .fd = db->fd, .events = POLLIN };
		int64_t left = deadline ? deadline - now_ms() : 0;
		int pr = poll(&p, 1, left > 0 ? (int)left : 0);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0)
			return 0;
		ssize_t n = read(db->fd, db->buf + db->len, db->cap - db->len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			cs_errf(err, errlen, "ovsdb-server at %s closed the connection%s%s", db->path,
			    n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
			return CS_ECONN;
		}
		db->len += (size_t)n;
	}
	*out = json_loadb(db->buf, (size_t)end, 0, &je);
	memmove(db->buf, db->buf + end, db->len - (size_t)end);
	db->len -= (size_t)end;
	if (!*out) {
		cs_errf(err, errlen, "ovsdb-server at %s sent bad JSON: %s", db->path, je.text);
		return CS_EPROTO;
	}
	return 0;
}

/* Handle what ovsdb-server says unasked: updates and echo. */
static int dispatch(struct ovsdb *db, const json_t *msg, char *err, size_t errlen)
{
	const char *method = json_string_value(json_object_get(msg, "method"));
	const json_t *params = json_object_get(msg, "params");

	switch (ovsdb_msg_kind(msg, NULL)) {
	case OVSDB_NOTIFY:
		if (method && !strcmp(method, "update") && db->cache &&
		    ovsdb_cache_update(db->cache, json_array_get(params, 1)) < 0) {
			cs_errf(err, errlen, "ovsdb-server at %s sent a malformed update", db->path);
			return CS_EPROTO;
		}
		return 0;
	case OVSDB_REQUEST:
		if (method && !strcmp(method, "echo"))
			return send_msg(db, ovsdb_msg_echo_reply(msg), err, errlen);
		return 0;
	default:
		return 0;
	}
}

/* Send @req (stolen) and wait for the reply with its id. */
static int call(struct ovsdb *db, json_t *req, json_t **reply, char *err, size_t errlen)
{
	uint64_t id = (uint64_t)json_integer_value(json_object_get(req, "id")), rid;
	int64_t deadline = now_ms() + REPLY_MS;
	json_t *msg;
	int r;

	*reply = NULL;
	if ((r = send_msg(db, req, err, errlen)) < 0)
		return r;
	for (;;) {
		if ((r = recv_msg(db, deadline, &msg, err, errlen)) < 0)
			return r;
		if (!msg) {
			cs_errf(err, errlen, "ovsdb-server at %s did not answer within %d s", db->path,
			    REPLY_MS / 1000);
			return CS_ECONN;
		}
		if (ovsdb_msg_kind(msg, &rid) == OVSDB_REPLY && rid == id) {
			*reply = msg;
			return 0;
		}
		r = dispatch(db, msg, err, errlen);
		json_decref(msg);
		if (r < 0)
			return r;
	}
}

static int connect_monitor(struct ovsdb *db, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	json_t *reply = NULL;
	int r;

	disconnect(db);
	strcpy(sa.sun_path, db->path);
	db->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (db->fd < 0) {
		cs_errf(err, errlen, "cannot make a socket for ovsdb-server: %s", strerror(errno));
		return CS_EIO;
	}
	if (connect(db->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		cs_errf(err, errlen, "cannot connect to ovsdb-server at %s: %s (is ovsdb-server "
		    "running? csd's setting ovsdb names its socket)", db->path, strerror(errno));
		disconnect(db);
		return CS_ECONN;
	}
	r = call(db, ovsdb_msg_monitor(OVSDB_DB, monitored, db->next_id++), &reply, err,
		 errlen);
	if (r == 0) {
		const json_t *e = json_object_get(reply, "error");
		if (e && !json_is_null(e)) {
			char reason[256];
			error_text(e, reason, sizeof(reason));
			cs_errf(err, errlen, "ovsdb-server at %s refused to monitor %s: %s", db->path,
			    OVSDB_DB, reason);
			r = CS_EIO;
		} else if (!(db->cache = json_object()) ||
			   ovsdb_cache_update(db->cache, json_object_get(reply, "result")) < 0) {
			cs_errf(err, errlen, "ovsdb-server at %s sent a malformed monitor reply",
			    db->path);
			r = CS_EPROTO;
		}
	}
	json_decref(reply);
	if (r < 0)
		disconnect(db);
	return r;
}

/* Apply whatever ovsdb-server sent since; CS_ECONN when the connection
 * is gone. */
static int drain(struct ovsdb *db, char *err, size_t errlen)
{
	json_t *msg;
	int r;

	for (;;) {
		if ((r = recv_msg(db, 0, &msg, err, errlen)) < 0 || !msg)
			return r;
		r = dispatch(db, msg, err, errlen);
		json_decref(msg);
		if (r < 0)
			return r;
	}
}

int ovsdb_sync(struct ovsdb *db, char *err, size_t errlen)
{
	if (db->fd >= 0 && db->cache && drain(db, err, errlen) == 0)
		return 0;
	/* never connected, or ovsdb-server went away (restarted): again,
	 * with a fresh cache, as what we knew may be stale */
	return connect_monitor(db, err, errlen);
}

static int64_t cur_cfg(struct ovsdb *db)
{
	const json_t *ovs = ovsdb_table(db, "Open_vSwitch"), *row;
	const char *uuid;

	json_object_foreach((json_t *)ovs, uuid, row)
		return json_integer_value(json_object_get(row, "cur_cfg"));
	return -1;
}

/* Wait until ovs-vswitchd reports configuration @cfg applied. */
static int wait_cfg(struct ovsdb *db, int64_t cfg, int wait_ms, char *err, size_t errlen)
{
	int64_t deadline = now_ms() + wait_ms;
	json_t *msg;
	int r;

	while (cur_cfg(db) < cfg) {
		if ((r = recv_msg(db, deadline, &msg, err, errlen)) < 0)
			return r;
		if (!msg) {
			cs_errf(err, errlen, "ovs-vswitchd has not applied the change within %d ms "
			    "(is ovs-vswitchd running on database %s?)", wait_ms, db->path);
			return CS_EIO;
		}
		r = dispatch(db, msg, err, errlen);
		json_decref(msg);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Lock "ovs_vswitchd" taken by someone? 1 yes, 0 no, or a code. Asking
 * does not take it from anyone; given to us, it goes back at once
 * (ovs-vswitchd, if it is starting, gets it then). */
static int vswitchd_lock_held(struct ovsdb *db, char *err, size_t errlen)
{
	json_t *reply = NULL;
	int r, locked = 0;

	r = call(db, ovsdb_msg_request("lock", json_pack("[s]", OVSDB_VSWITCHD_LOCK),
				       db->next_id++), &reply, err, errlen);
	if (r == 0) {
		locked = json_is_true(json_object_get(json_object_get(reply, "result"), "locked"));
		json_decref(reply);
		r = call(db, ovsdb_msg_request("unlock", json_pack("[s]", OVSDB_VSWITCHD_LOCK),
					       db->next_id++), &reply, err, errlen);
		json_decref(reply);
	}
	/* never keep ovs-vswitchd's lock: a session in doubt goes, and the
	 * lock with it */
	if (r < 0) {
		disconnect(db);
		return r;
	}
	return !locked;
}

/* Take what ovsdb-server sends for @ms. */
static int idle(struct ovsdb *db, int ms, char *err, size_t errlen)
{
	int64_t deadline = now_ms() + ms;
	json_t *msg;
	int r;

	while (now_ms() < deadline) {
		if ((r = recv_msg(db, deadline, &msg, err, errlen)) < 0 || !msg)
			return r;
		r = dispatch(db, msg, err, errlen);
		json_decref(msg);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Is ovs-vswitchd there to apply a change? It holds the OVSDB lock
 * "ovs_vswitchd" while it runs; after ovsdb-server restarted it takes a
 * moment to connect again, so it has up to @grace_ms to show up.
 * 1 yes, 0 no, or a code.
 */
static int vswitchd_there(struct ovsdb *db, int grace_ms, char *err, size_t errlen)
{
	int64_t deadline = now_ms() + grace_ms;
	int r;

	/* found missing a moment ago (a failed step and its undoing): no
	 * second grace */
	if (now_ms() < db->vswitchd_missing_until)
		deadline = 0;
	while ((r = vswitchd_lock_held(db, err, errlen)) == 0 && now_ms() < deadline) {
		if ((r = idle(db, 100, err, errlen)) < 0)
			return r;
	}
	db->vswitchd_missing_until = r == 0 ? now_ms() + VSWITCHD_GRACE_MS : 0;
	return r;
}

int ovsdb_transact(struct ovsdb *db, json_t *ops, int wait_ms, json_t **result,
		   char *err, size_t errlen)
{
	json_t *reply = NULL, *res;
	int64_t cfg = -1;
	int r;

	if (result)
		*result = NULL;
	if (!json_is_array(ops)) {
		json_decref(ops);
		return CS_ENOMEM;
	}
	if ((r = ovsdb_sync(db, err, errlen)) < 0) {
		json_decref(ops);
		return r;
	}
	if (wait_ms > 0) {
		/* as ovs-vsctl does: ask for a new configuration and learn its
		 * number in the same transaction */
		json_array_append_new(ops, json_pack("{s:s, s:s, s:[], s:[[s, s, i]]}", "op",
						     "mutate", "table", "Open_vSwitch", "where",
						     "mutations", "next_cfg", "+=", 1));
		json_array_append_new(ops, json_pack("{s:s, s:s, s:[], s:[s]}", "op", "select",
						     "table", "Open_vSwitch", "where", "columns",
						     "next_cfg"));
	}
	r = call(db, ovsdb_msg_transact(OVSDB_DB, ops, db->next_id++), &reply, err, errlen);
	if (r == CS_ECONN)
		disconnect(db);
	if (r < 0)
		goto out;
	if ((r = ovsdb_msg_transact_check(reply, err, errlen)) < 0)
		goto out;
	/* nobody to wait for: say so now rather than after wait_ms */
	if (wait_ms > 0 && (r = vswitchd_there(db, wait_ms < VSWITCHD_GRACE_MS ? wait_ms :
					       VSWITCHD_GRACE_MS, err, errlen)) <= 0) {
		if (r == 0)
			cs_errf(err, errlen, "ovs-vswitchd is not connected to database %s (it holds "
				"no lock " OVSDB_VSWITCHD_LOCK "): is it running? The change is in "
				"the database and is applied when it connects", db->path);
		r = r == 0 ? CS_EIO : r;
		goto out;
	}
	res = json_object_get(reply, "result");
	if (wait_ms > 0) {
		const json_t *sel = json_array_get(res, json_array_size(res) - 1);
		/* a commit error, if any, comes past the operations: the select
		 * is then not the last */
		cfg = json_integer_value(json_object_get(
			json_array_get(json_object_get(sel, "rows"), 0), "next_cfg"));
		if (cfg <= 0) {
			cs_errf(err, errlen, "ovsdb-server at %s did not say which configuration "
			    "to wait for", db->path);
			r = CS_EPROTO;
			goto out;
		}
		if ((r = wait_cfg(db, cfg, wait_ms, err, errlen)) == CS_ECONN)
			disconnect(db);
		if (r < 0)
			goto out;
	}
	if (result)
		*result = json_incref(res);
out:
	json_decref(reply);
	return r;
}
