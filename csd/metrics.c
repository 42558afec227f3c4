/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Prometheus metrics: GET /metrics in the text exposition format 0.0.4,
 * served by libmicrohttpd in a thread of its own.
 *
 * Threads. Everything measured (requests, store calls, reconcile passes)
 * and everything read (the store, the backend's counters) belongs to the
 * event loop. The HTTP thread only serves text: a snapshot the loop builds
 * when a scrape asks (an eventfd in csd's epoll set) and publishes under a
 * mutex, refcounted so that a response still being sent keeps its text
 * while a newer one is published. A snapshot younger than SNAP_MIN_MS is
 * served again without asking, so a burst of scrapes costs the loop one
 * build; when the loop does not answer within SNAP_WAIT_MS (a long request
 * in progress) the previous snapshot is served, or 503 before the first.
 * So a scrape never runs on the loop's data, and the loop builds in steps
 * (struct build) with requests answered between them.
 *
 * Protection. The text names every tenant's objects and traffic, and
 * loopback is no boundary (every local user reaches 127.0.0.1): a request
 * without "Authorization: Bearer TOKEN" (the token of metrics_token_file,
 * compared in constant time) gets 401, whatever it asks; then anything but
 * GET /metrics gets 404. Connections are bounded in number, per address and
 * in time, so a local user cannot hold csd's descriptors or its thread.
 */
#include <dirent.h>
#include <stdio_ext.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "csd.h"
#include "metrics.h"
#include "model.h"
#include "qos.h"
#include "resources/units.h"

#define SNAP_MIN_MS 1000
#define SNAP_WAIT_MS 2000
#define TOKEN_MIN 16
#define TOKEN_MAX 4096
/* connections: in all, from one address, and idle seconds before closing */
#define HTTP_CONN_MAX 32
#define HTTP_CONN_PER_IP 8
#define HTTP_TIMEOUT_S 10

/* Histogram buckets, seconds (upper bounds; +Inf implied). */
static const double bucket_le[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
				    0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define NBUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]))

struct hist {
	uint64_t b[NBUCKETS + 1]; /* per bucket, not cumulative; last: above all */
	uint64_t count;
	double sum;
};

/* Results of a request: "ok" and every CS_E* code by its number. */
#define NRESULTS (CS_ERRNO_MAX + 1)

struct op_stat {
	const char *name;
	uint64_t results[NRESULTS];
	struct hist lat;
};

enum store_call {
	SC_GET, SC_LIST, SC_PUT, SC_DELETE, SC_TXN, SC_REVISION, SC_LEASE_GRANT,
	SC_LEASE_KEEPALIVE, SC_LEASE_REVOKE, SC_PUT_LEASE, SC_N
};
static const char *const store_call_name[SC_N] = {
	"get", "list", "put", "delete", "txn", "revision", "lease_grant", "lease_keepalive",
	"lease_revoke", "put_lease",
};

/* The store as csd sees it with metrics on: every call timed, then passed
 * on; the watch's newest revision noted for the lag. */
struct timed_store {
	struct store base;
	struct store_ops ops;
	struct store *inner;
	struct hist calls[SC_N];
	int64_t watch_rev;  /* newest revision the watch delivered (or started after) */
};

struct timed_watch {
	struct store_watch base;
	struct store_watch *inner;
	struct timed_store *ts;
};

struct snap {
	struct metrics *m;
	unsigned ref;       /* under metrics.mu */
	size_t len;
	char text[];
};

/*
 * A snapshot is built in steps, so that the event loop answers requests
 * between them: the store read and the names of this node's endpoints,
 * then their counters BUILD_CHUNK at a time (each a visit to a namespace),
 * then the text.
 */
#define BUILD_CHUNK 64

struct ep_row;

struct build {
	bool active;
	bool listed;        /* the store answered: objects are in the text */
	json_t *vnets, *eps;
	struct ep_row *rows;
	size_t nrows, next;
	uint64_t t0;
};

enum { RECONCILE_FULL, RECONCILE_VNETS, RECONCILE_N };
static const char *const reconcile_kind[RECONCILE_N] = { "full", "vnets" };

struct metrics {
	struct MHD_Daemon *mhd;
	char *token;
	int efd;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct snap *cur;   /* under mu */
	uint64_t cur_at;    /* monotonic ms it was built */
	uint64_t gen;       /* bumped with each publication */
	bool asked;         /* the loop was woken and has not answered yet */
	/* the loop's own */
	struct op_stat *ops;
	size_t nops;
	struct hist reconcile[RECONCILE_N];
	uint64_t reconcile_failed[RECONCILE_N];
	struct timed_store *ts;
	struct build build; /* the snapshot being built, between loop turns */
	double last_build;  /* seconds the last snapshot took, start to end */
};

uint64_t metrics_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double since_s(uint64_t t0)
{
	return (double)(metrics_clock() - t0) / 1e9;
}

static void hist_add(struct hist *h, double s)
{
	size_t i = 0;

	while (i < NBUCKETS && s > bucket_le[i])
		i++;
	h->b[i]++;
	h->count++;
	h->sum += s;
}

/* ---- hooks ---- */

void metrics_request(struct csd *d, const char *op, int r, uint64_t t0)
{
	struct metrics *m = d->metrics;

	if (!m)
		return;
	for (size_t i = 0; i < m->nops; i++) {
		if (m->ops[i].name != op && strcmp(m->ops[i].name, op))
			continue;
		/* a code without a name (none should exist) counts as EIO */
		m->ops[i].results[r >= 0 ? 0 : -r < NRESULTS ? -r : -CS_EIO]++;
		hist_add(&m->ops[i].lat, since_s(t0));
		return;
	}
}

void metrics_reconcile(struct csd *d, const char *kind, int r, uint64_t t0)
{
	struct metrics *m = d->metrics;
	int k = strcmp(kind, "full") ? RECONCILE_VNETS : RECONCILE_FULL;

	if (!m)
		return;
	hist_add(&m->reconcile[k], since_s(t0));
	if (r < 0)
		m->reconcile_failed[k]++;
}

/* ---- the timed store ---- */

#define TS(s) ((struct timed_store *)(s))
#define TIMED(call, expr)                                                               \
	do {                                                                            \
		uint64_t t0_ = metrics_clock();                                          \
		int r_ = (expr);                                                        \
		hist_add(&TS(s)->calls[call], since_s(t0_));                            \
		return r_;                                                              \
	} while (0)

static int ts_get(struct store *s, const char *k, struct store_kv *o)
{ TIMED(SC_GET, store_get(TS(s)->inner, k, o)); }
static int ts_list(struct store *s, const char *p, struct store_kvs *o, int64_t *rev)
{ TIMED(SC_LIST, store_list(TS(s)->inner, p, o, rev)); }
static int ts_put(struct store *s, const char *k, const char *v, int64_t *rev)
{ TIMED(SC_PUT, store_put(TS(s)->inner, k, v, rev)); }
static int ts_del(struct store *s, const char *k, int64_t *rev)
{ TIMED(SC_DELETE, store_delete(TS(s)->inner, k, rev)); }
static int ts_txn(struct store *s, const struct store_txn *t, int64_t *rev)
{ TIMED(SC_TXN, store_txn(TS(s)->inner, t, rev)); }
static int ts_revision(struct store *s, int64_t *rev)
{ TIMED(SC_REVISION, store_revision(TS(s)->inner, rev)); }
static int ts_lease_grant(struct store *s, int64_t ttl, int64_t *id, int64_t *granted)
{ TIMED(SC_LEASE_GRANT, store_lease_grant(TS(s)->inner, ttl, id, granted)); }
static int ts_lease_keepalive(struct store *s, int64_t id, int64_t *ttl)
{ TIMED(SC_LEASE_KEEPALIVE, store_lease_keepalive(TS(s)->inner, id, ttl)); }
static int ts_lease_revoke(struct store *s, int64_t id, int64_t *rev)
{ TIMED(SC_LEASE_REVOKE, store_lease_revoke(TS(s)->inner, id, rev)); }
static int ts_put_lease(struct store *s, const char *k, const char *v, int64_t lease, int64_t *rev)
{ TIMED(SC_PUT_LEASE, store_put_lease(TS(s)->inner, k, v, lease, rev)); }

static void ts_memo(struct store *s, bool on)
{
	store_memo(TS(s)->inner, on);
}

static const char *ts_error(struct store *s)
{
	return store_error(TS(s)->inner);
}

static void ts_close(struct store *s)
{
	store_close(TS(s)->inner);
	free(s);
}

static int tw_fd(struct store_watch *w)
{
	return store_watch_fd(((struct timed_watch *)w)->inner);
}

static int tw_read(struct store_watch *w, struct store_events *out)
{
	struct timed_watch *tw = (struct timed_watch *)w;
	int r = store_watch_read(tw->inner, out);

	for (size_t i = 0; i < out->n; i++)
		if (out->v[i].mod_rev > tw->ts->watch_rev)
			tw->ts->watch_rev = out->v[i].mod_rev;
	return r;
}

static void tw_free(struct store_watch *w)
{
	struct timed_watch *tw = (struct timed_watch *)w;

	store_watch_free(tw->inner);
	free(tw);
}

static int ts_watch(struct store *s, const char *prefix, int64_t from, struct store_watch **out)
{
	struct timed_watch *tw = calloc(1, sizeof(*tw));
	int r;

	if (!tw)
		return CS_ENOMEM;
	if ((r = store_watch(TS(s)->inner, prefix, from, &tw->inner)) < 0) {
		free(tw);
		return r;
	}
	tw->base.store = s;
	tw->ts = TS(s);
	TS(s)->watch_rev = from - 1;
	*out = &tw->base;
	return 0;
}

static struct timed_store *timed_store_wrap(struct store *inner)
{
	struct timed_store *ts = calloc(1, sizeof(*ts));

	if (!ts)
		return NULL;
	ts->ops = (struct store_ops){
		.name = inner->ops->name, .shared = inner->ops->shared, .close = ts_close,
		.get = ts_get, .list = ts_list,
		.put = ts_put, .del = ts_del, .txn = ts_txn, .revision = ts_revision,
		.watch = ts_watch, .watch_fd = tw_fd, .watch_read = tw_read,
		.watch_free = tw_free, .lease_grant = ts_lease_grant,
		.lease_keepalive = ts_lease_keepalive, .lease_revoke = ts_lease_revoke,
		.put_lease = ts_put_lease, .memo = ts_memo, .error = ts_error,
	};
	ts->base.ops = &ts->ops;
	ts->inner = inner;
	return ts;
}

/* ---- the token, the address ---- */

int metrics_token_load(const char *path, char **tok, char *err, size_t errlen)
{
	char buf[TOKEN_MAX + 2];
	struct stat st;
	ssize_t n;
	int fd, r = CS_EINVAL;

	*tok = NULL;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "metrics_token_file %s: %s%s", path, strerror(errno),
			 errno == ELOOP ? " (a symlink is not followed; name the file itself)" : "");
		return CS_EINVAL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "metrics_token_file %s: not a regular file", path);
		goto out;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077)) {
		snprintf(err, errlen, "metrics_token_file %s: mode %04o, owner uid %u: it must be "
			 "owned by csd's user (uid %u) with no access for group or others "
			 "(chmod 600)", path, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
			 (unsigned)geteuid());
		r = CS_EPERM;
		goto out;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		snprintf(err, errlen, "metrics_token_file %s: %s", path, strerror(errno));
		goto out;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] <= ' ' || buf[i] > '~') {
			snprintf(err, errlen, "metrics_token_file %s: the token must be one line "
				 "of printable characters without spaces", path);
			goto out;
		}
	}
	if (n < TOKEN_MIN || n > TOKEN_MAX) {
		snprintf(err, errlen, "metrics_token_file %s: the token must have %d-%d "
			 "characters (e.g. openssl rand -hex 32)", path, TOKEN_MIN, TOKEN_MAX);
		goto out;
	}
	if (!(*tok = strdup(buf)))
		r = CS_ENOMEM;
	else
		r = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return r;
}

bool metrics_auth_ok(const char *header, const char *tok)
{
	size_t tl = strlen(tok), hl;
	unsigned char diff = 0;

	if (!header || strncasecmp(header, "Bearer ", 7))
		return false;
	header += 7;
	while (*header == ' ')
		header++;
	hl = strlen(header);
	/* the time taken depends on the token's length only */
	for (size_t i = 0; i < tl; i++)
		diff |= (unsigned char)tok[i] ^ (unsigned char)(i < hl ? header[i] : 0);
	return !diff && hl == tl;
}

int metrics_addr_parse(const char *s, void *sa, size_t salen, unsigned *len)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM }, *res = NULL;
	char host[64];
	const char *colon = strrchr(s, ':'), *h = s;
	size_t hlen;

	if (!colon || !colon[1] || strlen(colon + 1) > 5)
		return CS_EINVAL;
	hlen = (size_t)(colon - s);
	if (hlen >= 2 && s[0] == '[' && colon[-1] == ']') {
		h = s + 1;
		hlen -= 2;
	} else if (memchr(s, ':', hlen)) {
		return CS_EINVAL;    /* IPv6 without brackets */
	}
	if (!hlen || hlen >= sizeof(host))
		return CS_EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	int port = atoi(colon + 1);
	if (port < 1 || port > 65535 || strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return CS_EINVAL;
	if (getaddrinfo(host, colon + 1, &hints, &res) || !res)
		return CS_EINVAL;
	if (res->ai_addrlen > salen) {
		freeaddrinfo(res);
		return CS_EINVAL;
	}
	memcpy(sa, res->ai_addr, res->ai_addrlen);
	*len = (unsigned)res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* ---- the text ---- */

void metrics_put_label(FILE *f, const char *s)
{
	/* names rarely need it: the common case in one call */
	if (!strpbrk(s, "\\\"\n")) {
		fputs(s, f);
		return;
	}
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void put_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{k1="v1",k2="v2"...} from NULL-terminated key, value pairs */
static void put_labels(FILE *f, const char *const *kv)
{
	if (!kv[0])
		return;
	fputc('{', f);
	for (size_t i = 0; kv[i]; i += 2) {
		fprintf(f, "%s%s=\"", i ? "," : "", kv[i]);
		metrics_put_label(f, kv[i + 1] ? kv[i + 1] : "");
		fputc('"', f);
	}
	fputc('}', f);
}

static void put_sample(FILE *f, const char *name, const char *const *kv, uint64_t v)
{
	fputs(name, f);
	put_labels(f, kv);
	fprintf(f, " %llu\n", (unsigned long long)v);
}

/* One labelled series of a histogram; @kv has room for "le" at its end
 * (two NULL slots after its last pair). */
static void put_hist(FILE *f, const char *name, const char **kv, size_t n, const struct hist *h)
{
	char le[32], series[128];
	uint64_t cum = 0;

	snprintf(series, sizeof(series), "%s_bucket", name);
	kv[n] = "le";
	for (size_t i = 0; i <= NBUCKETS; i++) {
		cum += h->b[i];
		if (i < NBUCKETS)
			snprintf(le, sizeof(le), "%g", bucket_le[i]);
		else
			strcpy(le, "+Inf");
		kv[n + 1] = le;
		put_sample(f, series, kv, cum);
	}
	kv[n] = NULL;
	snprintf(series, sizeof(series), "%s_sum", name);
	fputs(series, f);
	put_labels(f, kv);
	fprintf(f, " %.9g\n", h->sum);
	snprintf(series, sizeof(series), "%s_count", name);
	put_sample(f, series, kv, h->count);
}

/* One local endpoint's counters, read for the snapshot. */
struct ep_row {
	char t[CS_NAME_MAX + 1], v[CS_NAME_MAX + 1], e[CS_NAME_MAX + 1];
	struct endpoint_stats st;
	bool up;            /* its counters were read */
	bool has_denied;
	uint64_t denied;
};

static const struct {
	const char *name, *help;
	size_t off;
} ep_counters[] = {
	{ "cs_endpoint_receive_bytes_total", "Bytes the endpoint's interface received.",
	  offsetof(struct endpoint_stats, rx_bytes) },
	{ "cs_endpoint_transmit_bytes_total", "Bytes the endpoint's interface sent.",
	  offsetof(struct endpoint_stats, tx_bytes) },
	{ "cs_endpoint_receive_packets_total", "Packets the endpoint's interface received.",
	  offsetof(struct endpoint_stats, rx_packets) },
	{ "cs_endpoint_transmit_packets_total", "Packets the endpoint's interface sent.",
	  offsetof(struct endpoint_stats, tx_packets) },
	{ "cs_endpoint_receive_drop_total", "Packets dropped on receive by the endpoint's "
	  "interface.", offsetof(struct endpoint_stats, rx_dropped) },
	{ "cs_endpoint_transmit_drop_total", "Packets dropped on send by the endpoint's "
	  "interface (its shaping included).", offsetof(struct endpoint_stats, tx_dropped) },
};

/* What the rules of @row's endpoint denied, when its vnet (in @vnets) has
 * rules: asked only there, as it costs a visit to the namespace. */
static void read_denied(struct csd *d, json_t *vnets, struct ep_row *row)
{
	char vkey[KEY_MAX];

	key_vnet(vkey, row->t, row->v);
	const json_t *vdoc = json_object_get(vnets, vkey);
	if (!json_object_get(json_object_get(vdoc, "spec"), "policy"))
		return;
	/* CS_ENOTSUP from a backend that does not count them */
	row->has_denied = vb_endpoint_denied(csd_backend_of(d, vdoc), row->t, row->v, row->e,
					     &row->denied) == 0;
}

static void build_clear(struct build *b)
{
	json_decref(b->vnets);
	json_decref(b->eps);
	free(b->rows);
	memset(b, 0, sizeof(*b));
}

/* The store's objects and the names of this node's endpoints. */
static int build_start(struct csd *d, struct build *b)
{
	const char *key;
	json_t *doc;
	char err[128];

	memset(b, 0, sizeof(*b));
	b->active = true;
	b->t0 = metrics_clock();
	/* a store that cannot be read leaves the objects out, not the rest */
	if (model_list(d, "/vnets/", &b->vnets, NULL) < 0 ||
	    model_list(d, "/endpoints/", &b->eps, NULL) < 0)
		return 0;
	if (!(b->rows = calloc(json_object_size(b->eps) + 1, sizeof(*b->rows))))
		return CS_ENOMEM;
	b->listed = true;
	json_object_foreach(b->eps, key, doc) {
		struct ep_row *row = &b->rows[b->nrows];
		char parts[3][CS_NAME_MAX + 1];
		if (cs_path_split(key + strlen("/endpoints/"), 3, parts, err, sizeof(err)) < 0 ||
		    !model_endpoint_local(d, doc))
			continue;
		memcpy(row->t, parts[0], sizeof(row->t));
		memcpy(row->v, parts[1], sizeof(row->v));
		memcpy(row->e, parts[2], sizeof(row->e));
		b->nrows++;
	}
	return 0;
}

/* Counters of the next BUILD_CHUNK endpoints; true when all are read. */
static bool build_step(struct csd *d, struct build *b, size_t chunk)
{
	for (size_t k = 0; k < chunk && b->next < b->nrows; k++, b->next++) {
		struct ep_row *row = &b->rows[b->next];
		/* not realized (yet, or any more): no counters to report */
		row->up = vb_endpoint_stats(csd_backend_for(d, row->t, row->v), row->t, row->v, row->e, &row->st) == 0;
		if (row->up)
			read_denied(d, b->vnets, row);
	}
	return b->next >= b->nrows;
}

static void put_ep_sample(FILE *f, struct csd *d, const struct ep_row *row, const char *name,
			  uint64_t v)
{
	const char *kv[] = { "tenant", row->t, "vnet", row->v, "endpoint", row->e,
			     "node", d->cfg.node, NULL };

	put_sample(f, name, kv, v);
}

static void put_endpoints(FILE *f, struct csd *d, const struct ep_row *rows, size_t n)
{
	for (size_t c = 0; c < sizeof(ep_counters) / sizeof(ep_counters[0]); c++) {
		put_family(f, ep_counters[c].name, "counter", ep_counters[c].help);
		for (size_t i = 0; i < n; i++) {
			uint64_t v;
			if (!rows[i].up)
				continue;
			memcpy(&v, (const char *)&rows[i].st + ep_counters[c].off, sizeof(v));
			put_ep_sample(f, d, &rows[i], ep_counters[c].name, v);
		}
	}
	put_family(f, "cs_endpoint_denied_packets_total", "counter", "Packets the endpoint's "
		   "rules denied (deny rules and a default deny; endpoints with rules only).");
	for (size_t i = 0; i < n; i++)
		if (rows[i].up && rows[i].has_denied)
			put_ep_sample(f, d, &rows[i], "cs_endpoint_denied_packets_total",
				      rows[i].denied);
}

static uint64_t rate_of(const json_t *v)
{
	uint64_t bps = 0;
	char err[128];

	if (json_is_integer(v) && json_integer_value(v) > 0)
		return (uint64_t)json_integer_value(v);
	if (json_is_string(v) && cs_rate_parse(json_string_value(v), &bps, err, sizeof(err)) == 0)
		return bps;
	return 0;
}

/* Vnets' capacity and reserved rate, reservations' rates: from the store,
 * the same on every node. @eps grouped by vnet first, so each vnet's usage
 * reads only its own endpoints. */
static void put_reservations(FILE *f, json_t *eps)
{
	const char *key;
	json_t *doc;
	char err[128];

	put_family(f, "cs_reservation_rate_bits_per_second", "gauge",
		   "Rate an endpoint's reservation guarantees (what it sends).");
	json_object_foreach(eps, key, doc) {
		char p[3][CS_NAME_MAX + 1];
		uint64_t rate = rate_of(json_object_get(
			json_object_get(json_object_get(doc, "spec"), "qos"), "rate"));
		if (!rate || cs_path_split(key + strlen("/endpoints/"), 3, p, err, sizeof(err)) < 0)
			continue;
		const char *kv[] = { "tenant", p[0], "vnet", p[1], "endpoint", p[2], NULL };
		put_sample(f, "cs_reservation_rate_bits_per_second", kv, rate);
	}
}

static void put_vnets(FILE *f, struct csd *d, json_t *vnets, json_t *eps)
{
	json_t *byv = json_object(), *doc, *usage = json_object();
	const char *key;
	char err[128], vkey[KEY_MAX];

	json_object_foreach(eps, key, doc) {
		char p[3][CS_NAME_MAX + 1];
		if (cs_path_split(key + strlen("/endpoints/"), 3, p, err, sizeof(err)) < 0)
			continue;
		key_vnet(vkey, p[0], p[1]);
		json_t *g = json_object_get(byv, vkey);
		if (!g && json_object_set_new(byv, vkey, g = json_object()) < 0)
			continue;
		json_object_set(g, key, doc);
	}
	json_object_foreach(vnets, key, doc) {
		char p[2][CS_NAME_MAX + 1];
		struct admission_usage use;
		if (cs_path_split(key + strlen("/vnets/"), 2, p, err, sizeof(err)) < 0 ||
		    qos_usage(d, p[0], p[1], doc, json_object_get(byv, key), &use) < 0)
			continue;
		json_object_set_new(usage, key, json_pack("{s:I, s:I}", "capacity",
			(json_int_t)use.capacity, "reserved", (json_int_t)use.reserved));
	}
	static const char *const what[][2] = {
		{ "capacity", "Capacity the vnet's reservations are admitted against." },
		{ "reserved", "Sum of the rates reserved in the vnet." },
	};
	for (size_t w = 0; w < 2; w++) {
		char name[64];
		snprintf(name, sizeof(name), "cs_vnet_%s_bits_per_second", what[w][0]);
		put_family(f, name, "gauge", what[w][1]);
		json_object_foreach(usage, key, doc) {
			char p[2][CS_NAME_MAX + 1];
			if (cs_path_split(key + strlen("/vnets/"), 2, p, err, sizeof(err)) < 0)
				continue;
			const char *kv[] = { "tenant", p[0], "vnet", p[1], NULL };
			put_sample(f, name, kv, (uint64_t)json_integer_value(
					   json_object_get(doc, what[w][0])));
		}
	}
	json_decref(usage);
	json_decref(byv);
}

static void put_requests(FILE *f, struct metrics *m)
{
	put_family(f, "csd_requests_total", "counter",
		   "Requests csd answered, by operation and result (ok or the error code).");
	for (size_t i = 0; i < m->nops; i++) {
		for (int r = 0; r < NRESULTS; r++) {
			if (!m->ops[i].results[r])
				continue;
			const char *kv[] = { "op", m->ops[i].name, "result",
					     r ? cs_errname(-r) : "ok", NULL };
			put_sample(f, "csd_requests_total", kv, m->ops[i].results[r]);
		}
	}
	put_family(f, "csd_request_duration_seconds", "histogram",
		   "Time csd took to answer a request, by operation.");
	for (size_t i = 0; i < m->nops; i++) {
		const char *kv[] = { "op", m->ops[i].name, NULL, NULL, NULL };
		if (m->ops[i].lat.count)
			put_hist(f, "csd_request_duration_seconds", kv, 2, &m->ops[i].lat);
	}
}

static void put_store(FILE *f, struct csd *d, struct metrics *m)
{
	int64_t head = 0;

	put_family(f, "csd_store_request_duration_seconds", "histogram",
		   "Round-trip time of csd's calls to its store, by call.");
	for (int c = 0; c < SC_N && m->ts; c++) {
		const char *kv[] = { "call", store_call_name[c], NULL, NULL, NULL };
		if (m->ts->calls[c].count)
			put_hist(f, "csd_store_request_duration_seconds", kv, 2, &m->ts->calls[c]);
	}
	/* cluster mode: revisions committed that the watch has not delivered */
	if (!csd_store_shared(d) || !m->ts || !d->watch || store_revision(d->store, &head) < 0)
		return;
	put_family(f, "csd_store_watch_lag_revisions", "gauge",
		   "Store revisions committed that csd's watch has not delivered yet.");
	fprintf(f, "csd_store_watch_lag_revisions %lld\n",
		(long long)(head > m->ts->watch_rev ? head - m->ts->watch_rev : 0));
}

static void put_reconcile(FILE *f, struct metrics *m)
{
	put_family(f, "csd_reconcile_passes_total", "counter",
		   "Reconcile passes: full (start, timer, SIGHUP) or of the vnets a watch "
		   "event touched.");
	for (int k = 0; k < RECONCILE_N; k++) {
		const char *kv[] = { "kind", reconcile_kind[k], NULL };
		put_sample(f, "csd_reconcile_passes_total", kv, m->reconcile[k].count);
	}
	put_family(f, "csd_reconcile_failures_total", "counter",
		   "Reconcile passes that left something not realized.");
	for (int k = 0; k < RECONCILE_N; k++) {
		const char *kv[] = { "kind", reconcile_kind[k], NULL };
		put_sample(f, "csd_reconcile_failures_total", kv, m->reconcile_failed[k]);
	}
	put_family(f, "csd_reconcile_duration_seconds", "histogram",
		   "Time a reconcile pass took.");
	for (int k = 0; k < RECONCILE_N; k++) {
		const char *kv[] = { "kind", reconcile_kind[k], NULL, NULL, NULL };
		put_hist(f, "csd_reconcile_duration_seconds", kv, 2, &m->reconcile[k]);
	}
}

static uint64_t open_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	uint64_t n = 0;

	if (!dir)
		return 0;
	while (readdir(dir))
		n++;
	closedir(dir);
	/* ".", ".." and the directory's own fd */
	return n >= 3 ? n - 3 : 0;
}

static uint64_t rss_bytes(void)
{
	unsigned long long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (f) {
		if (fscanf(f, "%llu %llu", &size, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void put_process(FILE *f, struct csd *d, struct metrics *m)
{
	const char *none[] = { NULL };

	put_family(f, "csd_clients_connected", "gauge", "Connections to csd's control socket.");
	put_sample(f, "csd_clients_connected", none, d->nclients);
	put_family(f, "process_resident_memory_bytes", "gauge", "csd's resident memory.");
	put_sample(f, "process_resident_memory_bytes", none, rss_bytes());
	put_family(f, "process_open_fds", "gauge", "csd's open file descriptors.");
	put_sample(f, "process_open_fds", none, open_fds());
	if (m) {
		put_family(f, "csd_metrics_build_seconds", "gauge",
			   "Time the previous metrics snapshot took to build.");
		fprintf(f, "csd_metrics_build_seconds %.9g\n", m->last_build);
	}
}

/* The text of a build whose counters are all read. */
static char *build_text(struct csd *d, struct build *b, size_t *len)
{
	struct metrics *m = d->metrics;
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	if (!f)
		return NULL;
	/* one thread writes it: no stdio lock per call */
	__fsetlocking(f, FSETLOCKING_BYCALLER);
	if (b->listed) {
		put_endpoints(f, d, b->rows, b->nrows);
		put_vnets(f, d, b->vnets, b->eps);
		put_reservations(f, b->eps);
	}
	if (m) {
		put_requests(f, m);
		put_store(f, d, m);
		put_reconcile(f, m);
	}
	put_process(f, d, m);
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

char *metrics_render(struct csd *d, size_t *len)
{
	struct build b;
	char *text = NULL;

	if (build_start(d, &b) == 0) {
		build_step(d, &b, SIZE_MAX);
		text = build_text(d, &b, len);
	}
	build_clear(&b);
	return text;
}

/* ---- snapshots: built by the loop, served by the HTTP thread ---- */

static uint64_t now_ms(void)
{
	return metrics_clock() / 1000000u;
}

static void snap_unref(void *cls)
{
	struct snap *s = cls;

	if (!s)
		return;
	pthread_mutex_lock(&s->m->mu);
	bool last = --s->ref == 0;
	pthread_mutex_unlock(&s->m->mu);
	if (last)
		free(s);
}

static struct snap *snap_new(struct metrics *m, const char *text, size_t len)
{
	struct snap *s = malloc(sizeof(*s) + len + 1);

	if (!s)
		return NULL;
	s->m = m;
	s->ref = 1;
	s->len = len;
	memcpy(s->text, text, len);
	s->text[len] = '\0';
	return s;
}

/* Publish @text (NULL: the build failed, keep the last) and wake the
 * scrapes waiting. */
static void publish(struct metrics *m, char *text, size_t len)
{
	struct snap *s = text ? snap_new(m, text, len) : NULL, *old = NULL;

	free(text);
	pthread_mutex_lock(&m->mu);
	if (s) {
		old = m->cur;
		m->cur = s;
		m->cur_at = now_ms();
	}
	m->gen++;
	m->asked = false;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
	snap_unref(old);
}

bool metrics_event(struct csd *d, void *p)
{
	struct metrics *m = d->metrics;
	uint64_t x, one = 1;
	size_t len = 0;

	if (!m || p != m)
		return false;
	if (read(m->efd, &x, sizeof(x)) != sizeof(x))
		return true;
	store_memo(d->store, true);
	int r = m->build.active ? 0 : build_start(d, &m->build);
	store_memo(d->store, false);
	if (r == 0 && !build_step(d, &m->build, BUILD_CHUNK)) {
		/* more to read: after whatever else the loop has to do */
		if (write(m->efd, &one, sizeof(one)) == sizeof(one))
			return true;
	}
	char *text = r == 0 ? build_text(d, &m->build, &len) : NULL;
	m->last_build = since_s(m->build.t0);
	build_clear(&m->build);
	publish(m, text, len);
	return true;
}

/* The HTTP thread: a snapshot no older than SNAP_MIN_MS when the loop
 * gives one in time, else the last one (NULL before the first). */
static struct snap *snap_get(struct metrics *m)
{
	struct snap *s;
	struct timespec until;

	pthread_mutex_lock(&m->mu);
	if (!m->cur || now_ms() - m->cur_at >= SNAP_MIN_MS) {
		uint64_t gen = m->gen, one = 1;
		if (!m->asked && write(m->efd, &one, sizeof(one)) == sizeof(one))
			m->asked = true;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += SNAP_WAIT_MS / 1000;
		while (m->gen == gen)
			if (pthread_cond_timedwait(&m->cv, &m->mu, &until) == ETIMEDOUT)
				break;
	}
	if ((s = m->cur))
		s->ref++;
	pthread_mutex_unlock(&m->mu);
	return s;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *text)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), (void *)text,
								    MHD_RESPMEM_PERSISTENT);
	enum MHD_Result r;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
	if (code == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"csd\"");
	r = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result http_handle(void *cls, struct MHD_Connection *conn, const char *url,
				   const char *method, const char *version,
				   const char *upload_data, size_t *upload_size, void **req_cls)
{
	struct metrics *m = cls;
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_AUTHORIZATION);

	if (!metrics_auth_ok(auth, m->token))
		return reply(conn, MHD_HTTP_UNAUTHORIZED, "401 unauthorized: send "
			     "\"Authorization: Bearer\" with the token of csd's "
			     "metrics_token_file\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) || strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND, "404 not found: only GET /metrics\n");
	struct snap *s = snap_get(m);
	if (!s)
		return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "503 csd is busy; try again\n");
	struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback_cls(
		s->len, s->text, snap_unref, s);
	if (!resp) {
		snap_unref(s);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	enum MHD_Result r = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return r;
}

/* ---- start and stop ---- */

static int ops_init(struct metrics *m)
{
	size_t it = 0, n = 0;

	while (csd_op_next(&it))
		n++;
	if (!(m->ops = calloc(n + 1, sizeof(*m->ops))))
		return CS_ENOMEM;
	it = 0;
	for (const struct csd_op *op; (op = csd_op_next(&it));)
		m->ops[m->nops++].name = op->name;
	return 0;
}

static void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	if (m->efd >= 0)
		close(m->efd);
	if (m->cur)
		snap_unref(m->cur);
	build_clear(&m->build);
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
	if (m->token)
		explicit_bzero(m->token, strlen(m->token));
	free(m->token);
	free(m->ops);
	free(m);
}

static int http_start(struct csd *d, struct metrics *m)
{
	struct sockaddr_storage sa;
	unsigned salen = 0;

	if (metrics_addr_parse(d->cfg.metrics, &sa, sizeof(sa), &salen) < 0) {
		log_err("metrics \"%s\": expected ADDRESS:PORT with a numeric address, such as "
			"127.0.0.1:9477 or [::1]:9477", d->cfg.metrics);
		return CS_EINVAL;
	}
	m->mhd = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			(sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
		0, NULL, NULL, http_handle, m,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONN_MAX,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_CONN_PER_IP,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
		MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)16,
		MHD_OPTION_END);
	if (!m->mhd) {
		log_err("metrics: cannot serve on %s (address in use or not on this host?); "
			"choose another metrics address", d->cfg.metrics);
		return CS_EIO;
	}
	return 0;
}

int metrics_start(struct csd *d)
{
	struct metrics *m;
	pthread_condattr_t ca;
	char err[512];
	int r;

	if (!d->cfg.metrics)
		return 0;
	if (!d->cfg.metrics_token_file) {
		log_err("metrics %s: metrics_token_file is not set; csd serves metrics only to "
			"scrapes bearing a token (a file of mode 0600)", d->cfg.metrics);
		return CS_EINVAL;
	}
	if (!(m = calloc(1, sizeof(*m))))
		return CS_ENOMEM;
	m->efd = -1;
	pthread_mutex_init(&m->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((r = metrics_token_load(d->cfg.metrics_token_file, &m->token, err, sizeof(err))) < 0) {
		log_err("%s; csd will not serve metrics unprotected", err);
		goto fail;
	}
	if ((r = ops_init(m)) < 0)
		goto fail;
	m->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = m };
	if (m->efd < 0 || epoll_ctl(d->epfd, EPOLL_CTL_ADD, m->efd, &e) < 0) {
		r = CS_EIO;
		goto fail;
	}
	if (!(m->ts = timed_store_wrap(d->store))) {
		r = CS_ENOMEM;
		goto fail;
	}
	d->store = &m->ts->base;
	d->metrics = m;
	if ((r = http_start(d, m)) < 0) {
		d->metrics = NULL;
		goto fail;
	}
	log_info("metrics: serving GET /metrics on %s (bearer token from %s)", d->cfg.metrics,
		 d->cfg.metrics_token_file);
	return 0;
fail:
	metrics_free(m);
	return r;
}

void metrics_stop(struct csd *d)
{
	struct metrics *m = d->metrics;

	if (!m)
		return;
	/* joins the HTTP thread: a scrape waiting for the loop gives up
	 * within SNAP_WAIT_MS */
	MHD_stop_daemon(m->mhd);
	if (d->epfd >= 0)
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, m->efd, NULL);
	d->metrics = NULL;
	metrics_free(m);
}
