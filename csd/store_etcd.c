/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The etcd store: etcd v3 through its JSON gateway (grpc-gateway), spoken
 * with libcurl and jansson, since Debian has no C client for etcd v3.
 *
 * Mapping (store.h follows etcd's semantics, so this is mostly encoding):
 *  - every key lives under the configured prefix: "/cs" + "/vnets/a/b";
 *  - revisions are etcd's header.revision and create/mod_revision; etcd
 *    bumps its revision only for writes that change something, exactly
 *    what store.h demands of a no-op delete or an empty transaction;
 *  - a transaction is one /v3/kv/txn comparing mod_revision, which etcd
 *    takes as 0 for an absent key;
 *  - a watch is a streaming POST /v3/watch on its own thread and curl
 *    handle; the thread queues events and signals an eventfd.
 *
 * Protection: TLS with csd's client certificate (which carries no Common
 * Name: etcd 3.4's gateway answers 400 to one that does) and etcd's own
 * authentication.  /v3/auth/authenticate gives a token, sent in the
 * Authorization header of every request and stream; a token etcd no longer
 * knows (it expired, or etcd restarted) is replaced and the request, which
 * etcd refused unseen, is sent once more.  A refusal the configuration
 * causes (certificates, password, permissions) fails as CS_EUNAVAIL, with
 * et_error_text() saying what is wrong and what to do.
 *
 * Gateway encoding: keys and values are base64; int64 fields are JSON
 * strings; fields holding their default value are omitted (a failed txn
 * has no "succeeded", a PUT event no "type", an empty value no "value").
 *
 * A struct store is one curl handle, used from one thread.  Nothing talks
 * to etcd at open: csd started before etcd is reachable gets CS_EUNAVAIL
 * from each call until it is.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include <cs/cs.h>

#include "csd/store.h"

#define ET_DEFAULT_PREFIX "/cs"
#define ET_CONNECT_MS 1000L
#define ET_REQUEST_MS 5000L
/* watch reconnects: first retry soon, then at most once a second */
#define ET_RETRY_MIN_MS 100
#define ET_RETRY_MAX_MS 1000
/* a response larger than this is not from etcd (its own limit is 1.5 MiB
 * per request, but a range can return much more) */
#define ET_RESPONSE_MAX ((size_t)1 << 30)

/* reads one request may repeat (store_memo) */
#define ET_MEMO_MAX 32

/* room for a message naming files, a URL and what to do */
#define ET_ERR_MAX 768

/* internal: etcd refused a stale token without looking at the request */
#define ET_RELOGIN (-1000)

/* What an etcd refusal says about our credentials. */
enum et_auth {
	ET_AUTH_NONE,
	ET_AUTH_RELOGIN, /* token expired, unknown, or missing: log in (again) */
	ET_AUTH_DENIED,  /* the user's role does not allow this key */
	ET_AUTH_FAILED,  /* wrong user or password */
	ET_AUTH_OFF,     /* etcd has authentication disabled */
};

/* What every connection to etcd carries; read-only once open, watches
 * share their store's (which outlives them). */
struct et_conf {
	char *ca, *cert, *key;
	char *user, *password, *password_file;
	char *prefix;
};

/* gRPC status codes that the gateway passes on in "code" */
enum {
	ET_GRPC_INVALID_ARGUMENT = 3,
	ET_GRPC_DEADLINE_EXCEEDED = 4,
	ET_GRPC_NOT_FOUND = 5,
	ET_GRPC_PERMISSION_DENIED = 7,
	ET_GRPC_RESOURCE_EXHAUSTED = 8,
	ET_GRPC_FAILED_PRECONDITION = 9,
	ET_GRPC_OUT_OF_RANGE = 11,
	ET_GRPC_UNAVAILABLE = 14,
	ET_GRPC_UNAUTHENTICATED = 16,
};

struct et_buf {
	char *p;
	size_t n, cap;
};

struct et_store {
	struct store base;
	struct et_conf conf;
	CURL *curl;
	struct curl_slist *headers;
	char *token;
	char curl_err[CURL_ERROR_SIZE];
	/* et_error_text(): why the last call failed, if the configuration's fault */
	char err[ET_ERR_MAX];
	char **endpoints;
	size_t nendpoints;
	/* the endpoint that answered last: tried first next time */
	size_t cur;
	size_t plen;
	struct et_buf resp;
	unsigned nwatches;
	/* closed while watches were alive: freed with the last of them */
	bool closed;
	/* revisions this handle wrote: its watches mark their events own */
	struct store_own own;
	/* store_memo: ranges answered in this span, by request body */
	bool memo_on;
	struct et_memo {
		char *body;
		json_t *resp;
	} memo[ET_MEMO_MAX];
	size_t nmemo;
};

struct et_watch {
	struct store_watch base;
	pthread_mutex_t lock;
	/* under lock: delivered by the thread, not yet read */
	struct store_events q;
	size_t qcap;
	/* under lock: sticky, reported once q is drained; why, if the
	 * configuration is at fault */
	int err;
	char why[ET_ERR_MAX];
	int efd;
	atomic_bool stop;
	bool running;
	pthread_t thread;
	CURLM *multi;
	CURL *curl;
	struct curl_slist *headers;
	/* the thread's own from here on */
	const struct et_conf *conf;
	char *token;
	/* etcd asked for a new token; fresh: the stream's token is new */
	bool relogin, fresh;
	char curl_err[CURL_ERROR_SIZE];
	char **endpoints;
	size_t nendpoints, cur;
	size_t plen;
	char *key64, *end64;
	int64_t next_rev;
	struct et_buf line;
	bool got_data;
};

/* What one line of a watch stream said. */
struct et_watch_msg {
	bool created, canceled;
	int64_t compact_rev;
	/* an error's or a cancel's reason */
	char reason[256];
};

static inline struct et_store *et_of(struct store *s)
{
	return (struct et_store *)s;
}

/* ---- base64 (RFC 4648, padded), as protobuf's JSON mapping wants ---- */

static const char et_b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *et_b64_encode(const void *data, size_t n)
{
	const unsigned char *in = data;
	char *out, *o;
	size_t i;

	out = malloc(4 * ((n + 2) / 3) + 1);
	if (!out)
		return NULL;
	o = out;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		*o++ = et_b64_alphabet[v >> 18];
		*o++ = et_b64_alphabet[(v >> 12) & 63];
		*o++ = et_b64_alphabet[(v >> 6) & 63];
		*o++ = et_b64_alphabet[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);

		*o++ = et_b64_alphabet[v >> 18];
		*o++ = et_b64_alphabet[(v >> 12) & 63];
		*o++ = i + 1 < n ? et_b64_alphabet[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int et_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Decodes @in (padding optional); the result is NUL-terminated. */
static int et_b64_decode(const char *in, size_t len, char **out, size_t *outlen)
{
	uint32_t acc = 0;
	size_t i, n = 0;
	int bits = 0, v;
	char *p;

	while (len > 0 && in[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return CS_EPROTO;
	p = malloc(len / 4 * 3 + 3);
	if (!p)
		return CS_ENOMEM;
	for (i = 0; i < len; i++) {
		v = et_b64_value((unsigned char)in[i]);
		if (v < 0) {
			free(p);
			return CS_EPROTO;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			p[n++] = (char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	p[n] = '\0';
	*out = p;
	if (outlen)
		*outlen = n;
	return 0;
}

/* ---- the gateway's JSON ---- */

/* An int64 field: a JSON string by the protobuf mapping; absent means 0. */
static int et_int64(json_t *obj, const char *name, int64_t *v)
{
	json_t *j = json_object_get(obj, name);
	const char *s;
	char *end;
	long long x;

	*v = 0;
	if (!j)
		return 0;
	if (json_is_integer(j)) {
		*v = json_integer_value(j);
		return 0;
	}
	if (!json_is_string(j))
		return CS_EPROTO;
	s = json_string_value(j);
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return CS_EPROTO;
	*v = x;
	return 0;
}

static int et_header_rev(json_t *root, int64_t *rev)
{
	json_t *h = json_object_get(root, "header");
	int ret;

	if (!json_is_object(h))
		return CS_EPROTO;
	ret = et_int64(h, "revision", rev);
	if (!ret && *rev < 1)
		ret = CS_EPROTO;
	return ret;
}

/* The text of the error a gateway response carries; NULL if none. */
static const char *et_error_message(json_t *root, json_int_t *code)
{
	json_t *e = json_object_get(root, "error");
	const char *msg;

	if (!e)
		return NULL;
	/* unary calls: {"error": "text", "code": N}; streams nest an object */
	if (json_is_object(e)) {
		*code = json_integer_value(json_object_get(e, "grpc_code"));
		msg = json_string_value(json_object_get(e, "message"));
	} else {
		*code = json_integer_value(json_object_get(root, "code"));
		msg = json_string_value(e);
	}
	return msg ? msg : "";
}

/* What a refusal's text says about our credentials (etcd's rpctypes). */
static enum et_auth et_auth_kind(const char *msg)
{
	if (!msg)
		return ET_AUTH_NONE;
	if (strstr(msg, "invalid auth token") || strstr(msg, "user name is empty") ||
	    strstr(msg, "revision of auth store is old"))
		return ET_AUTH_RELOGIN;
	if (strstr(msg, "permission denied"))
		return ET_AUTH_DENIED;
	if (strstr(msg, "authentication failed"))
		return ET_AUTH_FAILED;
	if (strstr(msg, "authentication is not enabled"))
		return ET_AUTH_OFF;
	return ET_AUTH_NONE;
}

/* The error a gateway response carries, as a CS_E* code; 0 if none. */
static int et_error(json_t *root)
{
	json_int_t code = 0;
	const char *msg = et_error_message(root, &code);

	if (!msg)
		return 0;
	switch (code) {
	case ET_GRPC_NOT_FOUND:
		/* a lease that expired or was revoked: gone, as store.h says */
		return strstr(msg, "lease not found") ? CS_ENOENT : CS_EINVAL;
	case ET_GRPC_INVALID_ARGUMENT:
		/* a transaction over etcd's --max-txn-ops (128 by default) */
		return strstr(msg, "too many operations") ? CS_ETOOBIG : CS_EINVAL;
	case ET_GRPC_FAILED_PRECONDITION:
		return CS_EINVAL;
	case ET_GRPC_OUT_OF_RANGE:
		return strstr(msg, "compacted") ? CS_ECOMPACTED : CS_EINVAL;
	case ET_GRPC_RESOURCE_EXHAUSTED:
		return strstr(msg, "too large") ? CS_ETOOBIG : CS_EUNAVAIL;
	case ET_GRPC_PERMISSION_DENIED:
	case ET_GRPC_UNAUTHENTICATED:
		return CS_EPERM;
	case ET_GRPC_DEADLINE_EXCEEDED:
	case ET_GRPC_UNAVAILABLE:
		return CS_EUNAVAIL;
	default:
		return CS_EIO;
	}
}

/* One mvccpb.KeyValue, its key stripped of the first @plen bytes. */
static int et_parse_kv(json_t *j, size_t plen, struct store_kv *out)
{
	struct store_kv kv = { 0 };
	const char *k = json_string_value(json_object_get(j, "key"));
	json_t *v = json_object_get(j, "value");
	char *full = NULL;
	size_t n = 0;
	int ret;

	if (!k || (v && !json_is_string(v)))
		return CS_EPROTO;
	ret = et_b64_decode(k, strlen(k), &full, &n);
	if (ret)
		goto out;
	if (n <= plen) {
		ret = CS_EPROTO;
		goto out;
	}
	kv.key = strdup(full + plen);
	/* an empty value is the default, hence omitted */
	if (v)
		ret = et_b64_decode(json_string_value(v), json_string_length(v), &kv.value, NULL);
	else if (!(kv.value = strdup("")))
		ret = CS_ENOMEM;
	if (!ret && !kv.key)
		ret = CS_ENOMEM;
	if (!ret)
		ret = et_int64(j, "create_revision", &kv.create_rev);
	if (!ret)
		ret = et_int64(j, "mod_revision", &kv.mod_rev);
	if (ret)
		goto out;
	*out = kv;
	memset(&kv, 0, sizeof(kv));
out:
	free(full);
	store_kv_clear(&kv);
	return ret;
}

/* A RangeResponse: its kvs (none is "kvs" omitted) and header revision. */
static int et_parse_range(json_t *root, size_t plen, struct store_kvs *out, int64_t *rev)
{
	struct store_kvs kvs = { 0 };
	json_t *arr = json_object_get(root, "kvs");
	size_t i, n = json_array_size(arr);
	int64_t r = 0;
	int ret;

	ret = et_header_rev(root, &r);
	if (ret)
		return ret;
	if (arr && !json_is_array(arr))
		return CS_EPROTO;
	if (n) {
		kvs.v = calloc(n, sizeof(*kvs.v));
		if (!kvs.v)
			return CS_ENOMEM;
	}
	for (i = 0; i < n; i++) {
		ret = et_parse_kv(json_array_get(arr, i), plen, &kvs.v[i]);
		if (ret)
			goto out;
		kvs.n++;
	}
	*out = kvs;
	memset(&kvs, 0, sizeof(kvs));
	if (rev)
		*rev = r;
out:
	store_kvs_clear(&kvs);
	return ret;
}

/* A TxnResponse: 0 if it succeeded, CS_ECONFLICT if a compare failed. */
static int et_parse_txn(json_t *root, int64_t *rev)
{
	json_t *ok = json_object_get(root, "succeeded");
	int ret;

	ret = et_header_rev(root, rev);
	if (ret)
		return ret;
	if (ok && !json_is_boolean(ok))
		return CS_EPROTO;
	return json_is_true(ok) ? 0 : CS_ECONFLICT;
}

/* A DeleteRangeResponse: 0 if a key was deleted, CS_ENOENT if none was. */
static int et_parse_delete(json_t *root, int64_t *rev)
{
	int64_t deleted = 0;
	int ret;

	ret = et_header_rev(root, rev);
	if (!ret)
		ret = et_int64(root, "deleted", &deleted);
	if (ret)
		return ret;
	return deleted > 0 ? 0 : CS_ENOENT;
}

static int et_events_reserve(struct store_events *ev, size_t *cap, size_t more)
{
	struct store_event *v;
	size_t ncap;

	if (ev->n + more <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < ev->n + more)
		ncap *= 2;
	v = realloc(ev->v, ncap * sizeof(*v));
	if (!v)
		return CS_ENOMEM;
	ev->v = v;
	*cap = ncap;
	return 0;
}

/*
 * One line of a watch stream ({"result": WatchResponse} or {"error": ...}):
 * appends its events to @ev (all or none) and says what else it reported.
 */
static int et_parse_watch(const char *line, size_t len, size_t plen,
			  struct store_events *ev, size_t *cap, struct et_watch_msg *m)
{
	json_t *root, *res, *arr;
	size_t i, n, n0 = ev->n;
	int ret;

	json_int_t code = 0;

	memset(m, 0, sizeof(*m));
	root = json_loadb(line, len, 0, NULL);
	if (!root)
		return CS_EPROTO;
	ret = et_error(root);
	if (ret) {
		snprintf(m->reason, sizeof(m->reason), "%s", et_error_message(root, &code));
		goto out;
	}
	res = json_object_get(root, "result");
	if (!json_is_object(res)) {
		ret = CS_EPROTO;
		goto out;
	}
	m->created = json_is_true(json_object_get(res, "created"));
	m->canceled = json_is_true(json_object_get(res, "canceled"));
	if (m->canceled)
		snprintf(m->reason, sizeof(m->reason), "%s",
			 json_string_value(json_object_get(res, "cancel_reason")) ?
			 json_string_value(json_object_get(res, "cancel_reason")) : "");
	ret = et_int64(res, "compact_revision", &m->compact_rev);
	if (ret)
		goto out;
	arr = json_object_get(res, "events");
	n = json_array_size(arr);
	ret = et_events_reserve(ev, cap, n);
	if (ret)
		goto out;
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		const char *type = json_string_value(json_object_get(e, "type"));
		struct store_kv kv = { 0 };
		struct store_event *o;

		ret = et_parse_kv(json_object_get(e, "kv"), plen, &kv);
		if (ret)
			goto out;
		o = &ev->v[ev->n++];
		o->key = kv.key;
		o->mod_rev = kv.mod_rev;
		/* PUT is the default, hence omitted */
		if (type && !strcmp(type, "DELETE")) {
			o->type = STORE_DELETE;
			o->value = NULL;
			free(kv.value);
		} else {
			o->type = STORE_PUT;
			o->value = kv.value;
		}
	}
out:
	if (ret) {
		for (i = n0; i < ev->n; i++) {
			free(ev->v[i].key);
			free(ev->v[i].value);
		}
		ev->n = n0;
	}
	json_decref(root);
	return ret;
}

/* ---- requests ---- */

static size_t et_buf_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct et_buf *b = arg;
	size_t n = size * nmemb, ncap;
	char *p;

	if (b->n + n + 1 > b->cap) {
		if (b->n + n + 1 > ET_RESPONSE_MAX)
			return 0;
		ncap = b->cap ? b->cap : 4096;
		while (ncap < b->n + n + 1)
			ncap *= 2;
		p = realloc(b->p, ncap);
		if (!p)
			return 0;
		b->p = p;
		b->cap = ncap;
	}
	memcpy(b->p + b->n, data, n);
	b->n += n;
	b->p[b->n] = '\0';
	return n;
}

/* Settings every handle shares: bounded connects, no proxy, no signals,
 * TLS with our files, the peer and its name verified; @errbuf gets curl's
 * words for a failure. */
static int et_curl_common(CURL *c, struct curl_slist *headers, const struct et_conf *cf,
			  char *errbuf)
{
	CURLcode rc = CURLE_OK;

	if (cf->ca)
		rc |= curl_easy_setopt(c, CURLOPT_CAINFO, cf->ca);
	if (cf->cert)
		rc |= curl_easy_setopt(c, CURLOPT_SSLCERT, cf->cert);
	if (cf->key)
		rc |= curl_easy_setopt(c, CURLOPT_SSLKEY, cf->key);
	/* over TLS curl would offer HTTP/2; the gateway's streams (watch,
	 * keepalive) are spoken as over plain http, one per connection */
	rc |= curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	rc |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	rc |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	rc |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	errbuf[0] = '\0';

	/* threads: libcurl must not use SIGALRM for its timeouts */
	rc |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ET_CONNECT_MS);
	/* an http_proxy meant for the web must not come between us and etcd */
	rc |= curl_easy_setopt(c, CURLOPT_PROXY, "");
	rc |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	rc |= curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	rc |= curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 10L);
	rc |= curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 5L);
	rc |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	return rc == CURLE_OK ? 0 : CS_ENOMEM;
}

/* The headers of every request; with @token, etcd's (sent bare, as the
 * gateway passes "Authorization" on to etcd's gRPC metadata). */
static struct curl_slist *et_headers(const char *token)
{
	struct curl_slist *h, *h2;
	char *auth = NULL;

	h = curl_slist_append(NULL, "Content-Type: application/json");
	if (!h)
		return NULL;
	/* curl waits for "100 Continue" before larger bodies: a round trip lost */
	h2 = curl_slist_append(h, "Expect:");
	if (h2 && token) {
		h = h2;
		h2 = asprintf(&auth, "Authorization: %s", token) < 0 ? NULL :
			curl_slist_append(h, auth);
		free(auth);
	}
	if (!h2)
		curl_slist_free_all(h);
	return h2;
}

/* ---- what a failure means for the configuration ---- */

static void et_curl_explain(const struct et_conf *cf, const char *ep, CURLcode cc,
			    const char *detail, char *err, size_t len);

/*
 * With TLS 1.3 a server refuses a client certificate after the handshake:
 * its alert races with our request, and the request often fails only with
 * a reset.  A handshake limited to TLS 1.2, where the refusal is part of
 * the handshake, tells a refused certificate from an outage.
 */
static void et_tls_probe(const struct et_conf *cf, const char *ep, char *err, size_t len)
{
	char curl_err[CURL_ERROR_SIZE];
	struct curl_slist *h = et_headers(NULL);
	CURL *c = curl_easy_init();
	CURLcode cc;

	if (h && c && !et_curl_common(c, h, cf, curl_err) &&
	    curl_easy_setopt(c, CURLOPT_URL, ep) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_SSLVERSION,
			     (long)(CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2)) ==
	    CURLE_OK) {
		cc = curl_easy_perform(c);
		if (cc == CURLE_SSL_CONNECT_ERROR && strstr(curl_err, "alert"))
			et_curl_explain(cf, ep, cc, curl_err, err, len);
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
}

/* A transfer that failed: explains it in @err when TLS (certificates), not
 * an outage, is why; leaves @err alone otherwise. */
static void et_curl_explain(const struct et_conf *cf, const char *ep, CURLcode cc,
			    const char *detail, char *err, size_t len)
{
	const char *ca = cf->ca ? cf->ca : "(none: the system's CAs)";

	if (!*detail)
		detail = curl_easy_strerror(cc);
	switch (cc) {
	case CURLE_PEER_FAILED_VERIFICATION:
		snprintf(err, len, "etcd %s: its certificate does not verify against tls.ca %s "
			 "(TLS: %s): give the CA that signed etcd's --cert-file, whose certificate "
			 "must name the endpoint's host or address", ep, ca, detail);
		break;
	case CURLE_SSL_CACERT_BADFILE:
		snprintf(err, len, "tls.ca %s: cannot be used as a CA file (TLS: %s)", ca, detail);
		break;
	case CURLE_SSL_CERTPROBLEM:
		snprintf(err, len, "tls.cert %s, tls.key %s: cannot be used as csd's client "
			 "certificate and its key (TLS: %s)", cf->cert ? cf->cert : "(none)",
			 cf->key ? cf->key : "(none)", detail);
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		/* a TLS alert is etcd refusing our certificate; anything else
		 * (a reset, a refused connection) may be an outage, or the
		 * alert lost in a race: a probe tells */
		if (strstr(detail, "alert"))
			snprintf(err, len, "etcd %s refused csd's client certificate tls.cert %s "
				 "(TLS: %s): give a certificate signed by a CA in etcd's "
				 "--trusted-ca-file", ep, cf->cert ? cf->cert : "(none)", detail);
		else if (strstr(detail, "wrong version number"))
			snprintf(err, len, "etcd %s does not speak TLS there (TLS: %s): check the "
				 "endpoint and etcd's --listen-client-urls", ep, detail);
		else if (cc != CURLE_SSL_CONNECT_ERROR && !strncmp(ep, "https://", 8))
			et_tls_probe(cf, ep, err, len);
		break;
	default:
		break;
	}
}

/* Explains in @err a refusal of kind @k from etcd at @ep. */
static void et_auth_explain(const struct et_conf *cf, const char *ep, enum et_auth k,
			    char *err, size_t len)
{
	const char *user = cf->user ? cf->user : "(none)";

	switch (k) {
	case ET_AUTH_RELOGIN:
		if (!cf->user)
			snprintf(err, len, "etcd %s requires authentication: set store.auth.user "
				 "and store.auth.password_file (csd(8))", ep);
		else
			snprintf(err, len, "etcd %s refuses the token it has just given user %s",
				 ep, user);
		break;
	case ET_AUTH_DENIED:
		snprintf(err, len, "etcd %s: permission denied to user %s under the key prefix %s: "
			 "its etcd role needs readwrite on %s (etcdctl role grant-permission ROLE "
			 "--prefix=true readwrite %s)", ep, user, cf->prefix, cf->prefix, cf->prefix);
		break;
	case ET_AUTH_FAILED:
		snprintf(err, len, "etcd refused user %s: authentication failed; check "
			 "password_file %s", user, cf->password_file ? cf->password_file : "(none)");
		break;
	case ET_AUTH_OFF:
		snprintf(err, len, "etcd %s has authentication disabled, but store.auth names user "
			 "%s: enable it (etcdctl auth enable) or leave store.auth out", ep, user);
		break;
	default:
		break;
	}
}

/*
 * What a response from @ep says: 0, a CS_E* code, or ET_RELOGIN when etcd
 * wants a new token; @err explains a refusal the configuration causes.
 */
static int et_response(const struct et_conf *cf, const char *ep, long code,
		       const struct et_buf *b, json_t *root, char *err, size_t len)
{
	json_int_t gcode = 0;
	enum et_auth k;
	int ret;

	if (!root || !json_is_object(root)) {
		if (code == 400 && b->p && strstr(b->p, "CommonName")) {
			snprintf(err, len, "etcd %s refuses tls.cert %s: it carries a Common Name, "
				 "which etcd 3.4's JSON gateway does not accept; make csd's client "
				 "certificate without one (the etcd user carries the identity)", ep,
				 cf->cert ? cf->cert : "(none)");
			return CS_EUNAVAIL;
		}
		/* something answers, but not etcd's gateway */
		return code >= 500 ? CS_EUNAVAIL : CS_EPROTO;
	}
	k = et_auth_kind(et_error_message(root, &gcode));
	if (k == ET_AUTH_RELOGIN && cf->user)
		return ET_RELOGIN;
	if (k != ET_AUTH_NONE) {
		et_auth_explain(cf, ep, k, err, len);
		return CS_EUNAVAIL;
	}
	ret = et_error(root);
	if (!ret && code != 200)
		ret = CS_EPROTO;
	return ret;
}

/* ---- authentication ---- */

/* {"name": U, "password": P}; the caller wipes and frees it. */
static char *et_auth_body(const struct et_conf *cf)
{
	json_t *req = json_pack("{s:s, s:s}", "name", cf->user, "password", cf->password);
	json_t *pw = json_object_get(req, "password");
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;

	/* jansson's copy of the password goes too */
	if (pw)
		explicit_bzero((char *)json_string_value(pw), json_string_length(pw));
	json_decref(req);
	return body;
}

/*
 * A token for the configured user from @ep, asked on a connection of its
 * own: etcd refuses to authenticate a request that carries a token.
 */
static int et_authenticate(const struct et_conf *cf, const char *ep, char **token, char *err,
			   size_t len)
{
	char curl_err[CURL_ERROR_SIZE];
	struct et_buf b = { 0 };
	struct curl_slist *h = et_headers(NULL);
	CURL *c = curl_easy_init();
	char *body = et_auth_body(cf), *url = NULL;
	json_t *root = NULL;
	const char *tok;
	long code = 0;
	CURLcode cc;
	int ret = CS_ENOMEM;

	if (!h || !c || !body || asprintf(&url, "%s/v3/auth/authenticate", ep) < 0) {
		url = NULL;
		goto out;
	}
	if (et_curl_common(c, h, cf, curl_err) ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ET_REQUEST_MS) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, et_buf_write) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) != CURLE_OK)
		goto out;
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		et_curl_explain(cf, ep, cc, curl_err, err, len);
		ret = cc == CURLE_OUT_OF_MEMORY ? CS_ENOMEM : CS_EUNAVAIL;
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	root = json_loadb(b.p ? b.p : "", b.n, 0, NULL);
	ret = et_response(cf, ep, code, &b, root, err, len);
	tok = json_string_value(json_object_get(root, "token"));
	if (!ret && (!tok || !*tok))
		ret = CS_EPROTO;
	if (!ret && !(*token = strdup(tok)))
		ret = CS_ENOMEM;
out:
	if (body)
		explicit_bzero(body, strlen(body));
	free(body);
	free(url);
	free(b.p);
	json_decref(root);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return ret;
}

/*
 * Replaces *@token, asking the endpoint at *@cur first, then the others;
 * *@headers follow it.  An endpoint that cannot be reached (or whose TLS
 * fails: another may be set up right) makes way for the next.
 */
static int et_login(const struct et_conf *cf, char *const *eps, size_t n, size_t *cur,
		    char **token, struct curl_slist **headers, char *err, size_t len)
{
	struct curl_slist *h;
	char *tok = NULL;
	int ret = CS_EUNAVAIL;

	for (size_t t = 0; t < n; t++) {
		size_t i = (*cur + t) % n;

		ret = et_authenticate(cf, eps[i], &tok, err, len);
		if (ret == CS_EUNAVAIL)
			continue;
		if (ret)
			return ret;
		h = et_headers(tok);
		if (!h) {
			free(tok);
			return CS_ENOMEM;
		}
		free(*token);
		*token = tok;
		curl_slist_free_all(*headers);
		*headers = h;
		*cur = i;
		err[0] = '\0';
		return 0;
	}
	return ret;
}

static void et_memo_clear(struct et_store *s)
{
	for (size_t i = 0; i < s->nmemo; i++) {
		free(s->memo[i].body);
		json_decref(s->memo[i].resp);
	}
	s->nmemo = 0;
}

static void et_memo(struct store *store, bool on)
{
	struct et_store *s = et_of(store);

	s->memo_on = on;
	et_memo_clear(s);
}

static bool et_is_range(const char *path)
{
	return !strcmp(path, "/v3/kv/range");
}

static json_t *et_memo_find(struct et_store *s, const char *body)
{
	for (size_t i = 0; i < s->nmemo; i++)
		if (!strcmp(s->memo[i].body, body))
			return json_incref(s->memo[i].resp);
	return NULL;
}

/* keeps @resp for @body; the memo takes @body */
static void et_memo_add(struct et_store *s, char *body, json_t *resp)
{
	if (s->nmemo == ET_MEMO_MAX) {
		free(body);
		return;
	}
	s->memo[s->nmemo].body = body;
	s->memo[s->nmemo].resp = json_incref(resp);
	s->nmemo++;
}

static int et_request_once(struct et_store *s, const char *path, json_t *req, bool idempotent,
			   json_t **out, char **bodyp);
static int et_request_send(struct et_store *s, const char *path, json_t *req, bool idempotent,
			   json_t **out, char **bodyp);

/*
 * POSTs @req to @path and returns the decoded response in *@out.  Tries the
 * endpoints in turn, starting with the one that answered last.  A request
 * that may have reached etcd is not repeated elsewhere unless @idempotent:
 * a write that timed out is CS_EUNAVAIL even though etcd may have applied it.
 * Within a store_memo span a range asked again is answered from memory;
 * anything else, or a failure, forgets what was kept.
 */
static int et_request(struct et_store *s, const char *path, json_t *req, bool idempotent,
		      json_t **out)
{
	char *body = NULL;
	int ret;

	if (!s->memo_on || !et_is_range(path)) {
		et_memo_clear(s);
		return et_request_once(s, path, req, idempotent, out, NULL);
	}
	body = json_dumps(req, JSON_COMPACT);
	if (body && (*out = et_memo_find(s, body))) {
		free(body);
		return 0;
	}
	free(body);
	ret = et_request_once(s, path, req, idempotent, out, &body);
	if (ret)
		et_memo_clear(s);
	else
		et_memo_add(s, body, *out);
	return ret;
}

static int et_store_login(struct et_store *s)
{
	int ret = et_login(&s->conf, s->endpoints, s->nendpoints, &s->cur, &s->token,
			   &s->headers, s->err, sizeof(s->err));

	if (ret)
		return ret;
	return curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, s->headers) == CURLE_OK ? 0 :
		CS_ENOMEM;
}

/*
 * One request, with the user's token (taken first if there is none yet).
 * A token etcd no longer knows (it expired, or etcd restarted) is replaced
 * and the request, which etcd refused without looking at it, sent once more.
 */
static int et_request_once(struct et_store *s, const char *path, json_t *req, bool idempotent,
			   json_t **out, char **bodyp)
{
	int ret;

	*out = NULL;
	s->err[0] = '\0';
	if (!s->curl)
		return CS_EUNAVAIL;
	if (s->conf.user && !s->token && (ret = et_store_login(s)) < 0)
		return ret;
	ret = et_request_send(s, path, req, idempotent, out, bodyp);
	if (ret != ET_RELOGIN)
		return ret;
	ret = et_store_login(s);
	if (!ret)
		ret = et_request_send(s, path, req, idempotent, out, bodyp);
	if (ret == ET_RELOGIN) {
		et_auth_explain(&s->conf, s->endpoints[s->cur], ET_AUTH_RELOGIN, s->err,
				sizeof(s->err));
		ret = CS_EUNAVAIL;
	}
	return ret;
}

/* One request; with @bodyp, hands the request body over (NULL on failure). */
static int et_request_send(struct et_store *s, const char *path, json_t *req, bool idempotent,
			   json_t **out, char **bodyp)
{
	json_t *root = NULL;
	char *body, *url = NULL;
	size_t t, i;
	long code = 0, sent;
	int ret = CS_EUNAVAIL;
	CURLcode cc;

	*out = NULL;
	body = json_dumps(req, JSON_COMPACT);
	if (!body)
		return CS_ENOMEM;
	for (t = 0; t < s->nendpoints; t++) {
		i = (s->cur + t) % s->nendpoints;
		free(url);
		if (asprintf(&url, "%s%s", s->endpoints[i], path) < 0) {
			url = NULL;
			ret = CS_ENOMEM;
			goto out;
		}
		s->resp.n = 0;
		if (curl_easy_setopt(s->curl, CURLOPT_URL, url) != CURLE_OK ||
		    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body) != CURLE_OK) {
			ret = CS_ENOMEM;
			goto out;
		}
		cc = curl_easy_perform(s->curl);
		if (cc == CURLE_OUT_OF_MEMORY) {
			ret = CS_ENOMEM;
			goto out;
		}
		if (cc != CURLE_OK) {
			et_curl_explain(&s->conf, s->endpoints[i], cc, s->curl_err, s->err,
					sizeof(s->err));
			sent = 0;
			curl_easy_getinfo(s->curl, CURLINFO_REQUEST_SIZE, &sent);
			ret = CS_EUNAVAIL;
			if (sent > 0 && !idempotent)
				goto out;
			continue;
		}
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
		root = json_loadb(s->resp.p ? s->resp.p : "", s->resp.n, 0, NULL);
		ret = et_response(&s->conf, s->endpoints[i], code, &s->resp, root, s->err,
				  sizeof(s->err));
		if (ret == ET_RELOGIN) {
			/* refused unseen: the caller logs in and asks again */
			s->cur = i;
			goto out;
		}
		if (!root || !json_is_object(root) || ret == CS_EUNAVAIL) {
			/* not etcd's gateway; or a member without a leader, say:
			 * another may answer */
			json_decref(root);
			root = NULL;
			if (idempotent)
				continue;
			goto out;
		}
		s->cur = i;
		goto out;
	}
out:
	if (ret) {
		json_decref(root);
		root = NULL;
	}
	*out = root;
	free(url);
	if (bodyp && !ret)
		*bodyp = body;
	else
		free(body);
	return ret;
}

/* Sets @o[@name] to the base64 of prefix + @key (@klen bytes). */
static int et_set_key(json_t *o, const char *name, const char *prefix, size_t plen,
		      const char *key, size_t klen)
{
	char *full, *enc;
	int ret = 0;

	full = malloc(plen + klen + 1);
	if (!full)
		return CS_ENOMEM;
	memcpy(full, prefix, plen);
	memcpy(full + plen, key, klen);
	enc = et_b64_encode(full, plen + klen);
	if (!enc || json_object_set_new(o, name, json_string(enc)) < 0)
		ret = CS_ENOMEM;
	free(enc);
	free(full);
	return ret;
}

static int et_set_value(json_t *o, const char *value)
{
	char *enc = et_b64_encode(value, strlen(value));
	int ret = 0;

	if (!enc || json_object_set_new(o, "value", json_string(enc)) < 0)
		ret = CS_ENOMEM;
	free(enc);
	return ret;
}

static int et_set_int64(json_t *o, const char *name, int64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return json_object_set_new(o, name, json_string(buf)) < 0 ? CS_ENOMEM : 0;
}

/*
 * Sets "key" and "range_end" to select every key starting with prefix +
 * @p: the range ends at that string with its last byte incremented (after
 * dropping trailing 0xff bytes); with no such string, at "\0", which etcd
 * reads as "every key from key on".
 */
static int et_set_prefix_range(json_t *o, const char *prefix, size_t plen, const char *p)
{
	size_t n = strlen(p), len = plen + n;
	char *full;
	int ret;

	full = malloc(len + 1);
	if (!full)
		return CS_ENOMEM;
	memcpy(full, prefix, plen);
	memcpy(full + plen, p, n + 1);
	if (len == 0) {
		/* every key: "\0" to "\0" */
		ret = et_set_key(o, "key", "", 0, "", 1);
		if (!ret)
			ret = et_set_key(o, "range_end", "", 0, "", 1);
		goto out;
	}
	ret = et_set_key(o, "key", "", 0, full, len);
	if (ret)
		goto out;
	while (len > 0 && (unsigned char)full[len - 1] == 0xff)
		len--;
	if (len == 0) {
		ret = et_set_key(o, "range_end", "", 0, "", 1);
		goto out;
	}
	full[len - 1] = (char)((unsigned char)full[len - 1] + 1);
	ret = et_set_key(o, "range_end", "", 0, full, len);
out:
	free(full);
	return ret;
}

/* ---- the store ---- */

static int et_get(struct store *store, const char *key, struct store_kv *out)
{
	struct et_store *s = et_of(store);
	struct store_kvs kvs = { 0 };
	json_t *req, *resp = NULL;
	int ret;

	if (!key || !*key || !out)
		return CS_EINVAL;
	req = json_object();
	if (!req)
		return CS_ENOMEM;
	ret = et_set_key(req, "key", s->conf.prefix, s->plen, key, strlen(key));
	if (!ret)
		ret = et_request(s, "/v3/kv/range", req, true, &resp);
	if (!ret)
		ret = et_parse_range(resp, s->plen, &kvs, NULL);
	if (ret)
		goto out;
	if (kvs.n != 1) {
		ret = kvs.n ? CS_EPROTO : CS_ENOENT;
		goto out;
	}
	*out = kvs.v[0];
	memset(&kvs.v[0], 0, sizeof(kvs.v[0]));
out:
	store_kvs_clear(&kvs);
	json_decref(resp);
	json_decref(req);
	return ret;
}

/* A single range is one consistent snapshot: the kvs and the revision agree. */
static int et_list(struct store *store, const char *prefix, struct store_kvs *out,
		   int64_t *rev)
{
	struct et_store *s = et_of(store);
	json_t *req, *resp = NULL;
	int ret;

	if (!out)
		return CS_EINVAL;
	req = json_object();
	if (!req)
		return CS_ENOMEM;
	ret = et_set_prefix_range(req, s->conf.prefix, s->plen, prefix ? prefix : "");
	if (!ret)
		ret = et_request(s, "/v3/kv/range", req, true, &resp);
	if (!ret)
		ret = et_parse_range(resp, s->plen, out, rev);
	json_decref(resp);
	json_decref(req);
	return ret;
}

static int et_revision(struct store *store, int64_t *rev)
{
	struct et_store *s = et_of(store);
	json_t *req, *resp = NULL;
	int ret;

	if (!rev)
		return CS_EINVAL;
	req = json_object();
	if (!req)
		return CS_ENOMEM;
	/* any read carries the revision; one key, counted only, is the cheapest */
	ret = et_set_key(req, "key", s->conf.prefix, s->plen, "", 0);
	if (!ret && json_object_set_new(req, "count_only", json_true()) < 0)
		ret = CS_ENOMEM;
	if (!ret)
		ret = et_request(s, "/v3/kv/range", req, true, &resp);
	if (!ret)
		ret = et_header_rev(resp, rev);
	json_decref(resp);
	json_decref(req);
	return ret;
}

static int et_put_lease(struct store *store, const char *key, const char *value,
			int64_t lease, int64_t *rev)
{
	struct et_store *s = et_of(store);
	json_t *req, *resp = NULL;
	int64_t r = 0;
	int ret;

	if (!key || !*key || !value || lease < 0)
		return CS_EINVAL;
	req = json_object();
	if (!req)
		return CS_ENOMEM;
	ret = et_set_key(req, "key", s->conf.prefix, s->plen, key, strlen(key));
	if (!ret)
		ret = et_set_value(req, value);
	/* no "lease" detaches the key from the one it had, as etcd does */
	if (!ret && lease)
		ret = et_set_int64(req, "lease", lease);
	if (!ret)
		ret = et_request(s, "/v3/kv/put", req, false, &resp);
	if (!ret)
		ret = et_header_rev(resp, &r);
	/* a put always makes a revision */
	if (!ret)
		store_own_add(&s->own, r);
	if (!ret && rev)
		*rev = r;
	json_decref(resp);
	json_decref(req);
	return ret;
}

static int et_put(struct store *store, const char *key, const char *value, int64_t *rev)
{
	return et_put_lease(store, key, value, 0, rev);
}

static int et_del(struct store *store, const char *key, int64_t *rev)
{
	struct et_store *s = et_of(store);
	json_t *req, *resp = NULL;
	int64_t r = 0;
	int ret;

	if (!key || !*key)
		return CS_EINVAL;
	req = json_object();
	if (!req)
		return CS_ENOMEM;
	ret = et_set_key(req, "key", s->conf.prefix, s->plen, key, strlen(key));
	if (!ret)
		ret = et_request(s, "/v3/kv/deleterange", req, false, &resp);
	if (!ret)
		ret = et_parse_delete(resp, &r);
	if (!ret)
		store_own_add(&s->own, r);
	if ((!ret || ret == CS_ENOENT) && rev)
		*rev = r;
	json_decref(resp);
	json_decref(req);
	return ret;
}

/* As the SQLite store: etcd would refuse a key changed twice, we say so first. */
static bool et_txn_valid(const struct store_txn *t)
{
	size_t i, j;

	if (!t || (t->ncmps && !t->cmps) || (t->nops && !t->ops))
		return false;
	for (i = 0; i < t->ncmps; i++)
		if (!t->cmps[i].key || !*t->cmps[i].key || t->cmps[i].mod_rev < 0)
			return false;
	for (i = 0; i < t->nops; i++) {
		const struct store_op *op = &t->ops[i];

		if (!op->key || !*op->key)
			return false;
		if (op->type == STORE_PUT ? !op->value : op->type != STORE_DELETE)
			return false;
		for (j = 0; j < i; j++)
			if (!strcmp(t->ops[j].key, op->key))
				return false;
	}
	return true;
}

static int et_txn_request(struct et_store *s, const struct store_txn *t, json_t **out)
{
	json_t *req, *cmps, *ops, *o, *inner;
	size_t i;
	int ret = CS_ENOMEM;

	*out = NULL;
	req = json_object();
	cmps = json_array();
	ops = json_array();
	if (!req || !cmps || !ops)
		goto out;
	for (i = 0; i < t->ncmps; i++) {
		/* etcd compares an absent key as all zeroes: mod_revision 0 */
		o = json_pack("{s:s, s:s}", "target", "MOD", "result", "EQUAL");
		if (!o || json_array_append_new(cmps, o) < 0)
			goto out;
		ret = et_set_key(o, "key", s->conf.prefix, s->plen, t->cmps[i].key,
				 strlen(t->cmps[i].key));
		if (!ret)
			ret = et_set_int64(o, "mod_revision", t->cmps[i].mod_rev);
		if (ret)
			goto out;
		ret = CS_ENOMEM;
	}
	for (i = 0; i < t->nops; i++) {
		const struct store_op *op = &t->ops[i];

		inner = json_object();
		o = json_object();
		if (!inner || !o) {
			json_decref(inner);
			json_decref(o);
			goto out;
		}
		if (json_object_set_new(o, op->type == STORE_PUT ? "request_put" :
					"request_delete_range", inner) < 0 ||
		    json_array_append_new(ops, o) < 0)
			goto out;
		ret = et_set_key(inner, "key", s->conf.prefix, s->plen, op->key, strlen(op->key));
		if (!ret && op->type == STORE_PUT)
			ret = et_set_value(inner, op->value);

		if (ret)
			goto out;
		ret = CS_ENOMEM;
	}
	if (json_object_set(req, "compare", cmps) < 0 ||
	    json_object_set(req, "success", ops) < 0)
		goto out;
	*out = req;
	req = NULL;
	ret = 0;
out:
	json_decref(cmps);
	json_decref(ops);
	json_decref(req);
	return ret;
}

static bool et_txn_changed(const struct store_txn *t, json_t *resp)
{
	json_t *rs = json_object_get(resp, "responses"), *dr;
	int64_t deleted = 0;
	size_t i;

	for (i = 0; i < t->nops; i++)
		if (t->ops[i].type == STORE_PUT)
			return true;
	for (i = 0; i < json_array_size(rs); i++) {
		dr = json_object_get(json_array_get(rs, i), "response_delete_range");
		if (dr && !et_int64(dr, "deleted", &deleted) && deleted > 0)
			return true;
	}
	return false;
}

static int et_txn(struct store *store, const struct store_txn *t, int64_t *rev)
{
	struct et_store *s = et_of(store);
	json_t *req = NULL, *resp = NULL;
	int64_t r = 0;
	int ret;

	if (!et_txn_valid(t))
		return CS_EINVAL;
	ret = et_txn_request(s, t, &req);
	if (!ret)
		ret = et_request(s, "/v3/kv/txn", req, t->nops == 0, &resp);
	if (!ret)
		ret = et_parse_txn(resp, &r);
	/* a new revision only if something changed: a put, or a delete that
	 * found its key (else the header is someone else's revision) */
	if (!ret && et_txn_changed(t, resp))
		store_own_add(&s->own, r);
	if ((!ret || ret == CS_ECONFLICT) && rev)
		*rev = r;
	json_decref(resp);
	json_decref(req);
	return ret;
}

/* ---- leases: /v3/lease/{grant,keepalive,revoke} ---- */

static int et_lease_grant(struct store *store, int64_t ttl, int64_t *id, int64_t *granted)
{
	struct et_store *s = et_of(store);
	json_t *req, *resp = NULL;
	int64_t got = 0, lid = 0;
	int ret;

	if (ttl < 1 || !id)
		return CS_EINVAL;
	req = json_object();
	if (!req)
		return CS_ENOMEM;
	ret = et_set_int64(req, "TTL", ttl);
	/* a grant repeated on another member leaves an unused lease that
	 * expires by itself: safe to retry */
	if (!ret)
		ret = et_request(s, "/v3/lease/grant", req, true, &resp);
	if (!ret)
		ret = et_int64(resp, "ID", &lid);
	if (!ret)
		ret = et_int64(resp, "TTL", &got);
	if (!ret && (lid <= 0 || got <= 0))
		ret = CS_EPROTO;
	if (!ret) {
		*id = lid;
		if (granted)
			*granted = got;
	}
	json_decref(resp);
	json_decref(req);
	return ret;
}

/* {"ID": @id} to @path; the response in *@resp (the caller frees). */
static int et_lease_call(struct et_store *s, const char *path, int64_t id, bool idempotent,
			 json_t **resp)
{
	json_t *req;
	int ret;

	*resp = NULL;
	if (id <= 0)
		return CS_EINVAL;
	req = json_object();
	if (!req)
		return CS_ENOMEM;
	ret = et_set_int64(req, "ID", id);
	if (!ret)
		ret = et_request(s, path, req, idempotent, resp);
	json_decref(req);
	return ret;
}

/* The gateway turns the keepalive stream into one {"result": ...} line. */
static int et_lease_keepalive(struct store *store, int64_t id, int64_t *ttl)
{
	json_t *resp = NULL, *res;
	int64_t left = 0;
	int ret;

	ret = et_lease_call(et_of(store), "/v3/lease/keepalive", id, true, &resp);
	if (!ret) {
		res = json_object_get(resp, "result");
		ret = json_is_object(res) ? et_int64(res, "TTL", &left) : CS_EPROTO;
	}
	/* an expired lease answers with TTL 0, which is omitted */
	if (!ret && left <= 0)
		ret = CS_ENOENT;
	if (!ret && ttl)
		*ttl = left;
	json_decref(resp);
	return ret;
}

static int et_lease_revoke(struct store *store, int64_t id, int64_t *rev)
{
	json_t *resp = NULL;
	int64_t r = 0;
	int ret;

	ret = et_lease_call(et_of(store), "/v3/lease/revoke", id, false, &resp);
	if (!ret)
		ret = et_header_rev(resp, &r);
	if (!ret && rev)
		*rev = r;
	json_decref(resp);
	return ret;
}

static void et_free(struct et_store *s)
{
	size_t i;

	et_memo_clear(s);
	for (i = 0; i < s->nendpoints; i++)
		free(s->endpoints[i]);
	free(s->endpoints);
	free(s->conf.prefix);
	free(s->conf.ca);
	free(s->conf.cert);
	free(s->conf.key);
	free(s->conf.user);
	if (s->conf.password)
		explicit_bzero(s->conf.password, strlen(s->conf.password));
	free(s->conf.password);
	free(s->conf.password_file);
	free(s->token);
	free(s->resp.p);
	free(s);
}

static void et_close(struct store *store)
{
	struct et_store *s = et_of(store);

	curl_easy_cleanup(s->curl);
	s->curl = NULL;
	curl_slist_free_all(s->headers);
	s->headers = NULL;
	if (s->nwatches) {
		/* watches still point at us: the last watch_free frees */
		s->closed = true;
		return;
	}
	et_free(s);
}

/* ---- watches ---- */

static void et_watch_signal(struct et_watch *w)
{
	uint64_t one = 1;

	if (write(w->efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: counter saturated, the fd is readable anyway */
	}
}

/* Ends the watch with @err; @why says what is wrong with the configuration. */
static void et_watch_fail_why(struct et_watch *w, int err, const char *why)
{
	pthread_mutex_lock(&w->lock);
	if (!w->err) {
		w->err = err;
		snprintf(w->why, sizeof(w->why), "%s", why ? why : "");
	}
	pthread_mutex_unlock(&w->lock);
	et_watch_signal(w);
}

static void et_watch_fail(struct et_watch *w, int err)
{
	et_watch_fail_why(w, err, NULL);
}

/*
 * A stream that ended with an error or a cancel: reconnects (0), after a
 * new token if etcd wants one, unless the configuration is at fault.
 */
static int et_watch_refused(struct et_watch *w, const char *reason)
{
	enum et_auth k = et_auth_kind(reason);
	char why[ET_ERR_MAX] = "";

	if (k == ET_AUTH_NONE)
		return 0;
	if (k == ET_AUTH_RELOGIN && w->conf->user && !w->fresh) {
		w->relogin = true;
		return 0;
	}
	et_auth_explain(w->conf, w->endpoints[w->cur], k, why, sizeof(why));
	et_watch_fail_why(w, CS_EUNAVAIL, why);
	return CS_EUNAVAIL;
}

/* One line of the stream; nonzero ends this connection. */
static int et_watch_line(struct et_watch *w, const char *line, size_t len)
{
	struct store_events ev = { 0 };
	struct et_watch_msg m;
	size_t cap = 0;
	int ret;

	ret = et_parse_watch(line, len, w->plen, &ev, &cap, &m);
	if (ret == CS_ENOMEM || ret == CS_ECOMPACTED) {
		et_watch_fail(w, ret);
		return ret;
	}
	if (ret) {
		/* reconnect and ask again */
		et_watch_refused(w, m.reason);
		return ret;
	}
	w->got_data = true;
	if (m.compact_rev > 0) {
		/* history from next_rev is gone: the caller must re-list */
		store_events_clear(&ev);
		et_watch_fail(w, CS_ECOMPACTED);
		return CS_ECOMPACTED;
	}
	if (ev.n) {
		pthread_mutex_lock(&w->lock);
		ret = et_events_reserve(&w->q, &w->qcap, ev.n);
		if (!ret) {
			memcpy(w->q.v + w->q.n, ev.v, ev.n * sizeof(*ev.v));
			w->q.n += ev.n;
		} else if (!w->err) {
			w->err = ret;
		}
		pthread_mutex_unlock(&w->lock);
		if (ret) {
			store_events_clear(&ev);
			et_watch_signal(w);
			return ret;
		}
		/* etcd never splits a revision across responses */
		w->next_rev = ev.v[ev.n - 1].mod_rev + 1;
		free(ev.v);
		et_watch_signal(w);
	}
	if (m.canceled) {
		/* not by us: open a new one */
		et_watch_refused(w, m.reason);
		return CS_EIO;
	}
	return 0;
}

static size_t et_watch_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct et_watch *w = arg;
	size_t n = size * nmemb, start = 0, len;
	char *nl;

	if (et_buf_write(data, size, nmemb, &w->line) != n) {
		et_watch_fail(w, CS_ENOMEM);
		return 0;
	}
	while ((nl = memchr(w->line.p + start, '\n', w->line.n - start))) {
		len = (size_t)(nl - (w->line.p + start));
		if (len && et_watch_line(w, w->line.p + start, len))
			return 0;
		start += len + 1;
	}
	memmove(w->line.p, w->line.p + start, w->line.n - start);
	w->line.n -= start;
	return n;
}

/* One streaming request, until it ends or we are stopped. */
static void et_watch_stream(struct et_watch *w)
{
	json_t *req, *cr;
	char *body = NULL, *url = NULL;
	int running = 0;
	CURLMcode mc;

	req = json_object();
	cr = json_object();
	if (!req || !cr || json_object_set(req, "create_request", cr) < 0 ||
	    json_object_set_new(cr, "key", json_string(w->key64)) < 0 ||
	    json_object_set_new(cr, "range_end", json_string(w->end64)) < 0 ||
	    et_set_int64(cr, "start_revision", w->next_rev) ||
	    !(body = json_dumps(req, JSON_COMPACT)) ||
	    asprintf(&url, "%s/v3/watch", w->endpoints[w->cur]) < 0) {
		url = NULL;
		et_watch_fail(w, CS_ENOMEM);
		goto out;
	}
	w->line.n = 0;
	w->got_data = false;
	if (curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, w->headers) != CURLE_OK ||
	    curl_easy_setopt(w->curl, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(w->curl, CURLOPT_COPYPOSTFIELDS, body) != CURLE_OK ||
	    curl_multi_add_handle(w->multi, w->curl) != CURLM_OK) {
		et_watch_fail(w, CS_ENOMEM);
		goto out;
	}
	while (!atomic_load(&w->stop)) {
		mc = curl_multi_perform(w->multi, &running);
		if (mc != CURLM_OK || !running)
			break;
		if (curl_multi_poll(w->multi, NULL, 0, 1000, NULL) != CURLM_OK)
			break;
	}
	curl_multi_remove_handle(w->multi, w->curl);
out:
	free(url);
	free(body);
	json_decref(cr);
	json_decref(req);
}

static bool et_watch_failed(struct et_watch *w)
{
	bool failed;

	pthread_mutex_lock(&w->lock);
	failed = w->err != 0;
	pthread_mutex_unlock(&w->lock);
	return failed;
}

/* A new token for the watch; a failure the configuration causes ends it. */
static int et_watch_login(struct et_watch *w)
{
	char why[ET_ERR_MAX] = "";
	int ret;

	ret = et_login(w->conf, w->endpoints, w->nendpoints, &w->cur, &w->token, &w->headers,
		       why, sizeof(why));
	if (!ret) {
		w->relogin = false;
		w->fresh = true;
	} else if (why[0] || ret != CS_EUNAVAIL) {
		et_watch_fail_why(w, ret, why);
	}
	return ret;
}

/*
 * The watch's thread: streams, and after a dropped connection streams
 * again from the revision after the last one delivered, trying the next
 * endpoint when one gave nothing at all.
 */
static void *et_watch_main(void *arg)
{
	struct et_watch *w = arg;
	int backoff = ET_RETRY_MIN_MS;

	while (!atomic_load(&w->stop) && !et_watch_failed(w)) {
		w->fresh = false;
		if (w->conf->user && (w->relogin || !w->token)) {
			if (et_watch_login(w) < 0) {
				backoff = ET_RETRY_MAX_MS;
				curl_multi_poll(w->multi, NULL, 0, backoff, NULL);
				continue;
			}
		}
		et_watch_stream(w);
		if (atomic_load(&w->stop) || et_watch_failed(w))
			break;
		if (w->got_data) {
			backoff = ET_RETRY_MIN_MS;
		} else {
			w->cur = (w->cur + 1) % w->nendpoints;
			backoff = backoff * 2 > ET_RETRY_MAX_MS ? ET_RETRY_MAX_MS : backoff * 2;
		}
		/* no transfer: waits for the timeout or curl_multi_wakeup */
		curl_multi_poll(w->multi, NULL, 0, backoff, NULL);
	}
	return NULL;
}

static void et_watch_destroy(struct et_watch *w)
{
	size_t i;

	if (w->running) {
		atomic_store(&w->stop, true);
		curl_multi_wakeup(w->multi);
		pthread_join(w->thread, NULL);
	}
	if (w->curl)
		curl_easy_cleanup(w->curl);
	if (w->multi)
		curl_multi_cleanup(w->multi);
	curl_slist_free_all(w->headers);
	if (w->efd >= 0)
		close(w->efd);
	store_events_clear(&w->q);
	pthread_mutex_destroy(&w->lock);
	for (i = 0; i < w->nendpoints; i++)
		free(w->endpoints[i]);
	free(w->endpoints);
	free(w->key64);
	free(w->end64);
	free(w->line.p);
	free(w->token);
	free(w);
}

/* Fails with CS_ECOMPACTED now rather than on the first read, if it can. */
static int et_watch_check(struct et_store *s, json_t *range, int64_t *from_rev)
{
	json_t *resp = NULL;
	int64_t cur = 0;
	int ret;

	if (json_object_set_new(range, "count_only", json_true()) < 0)
		return CS_ENOMEM;
	ret = et_request(s, "/v3/kv/range", range, true, &resp);
	if (!ret)
		ret = et_header_rev(resp, &cur);
	json_decref(resp);
	resp = NULL;
	if (ret)
		return ret;
	/* as etcd: 0 watches from now on */
	if (*from_rev <= 0) {
		*from_rev = cur + 1;
		return 0;
	}
	if (*from_rev > cur)
		return 0;
	/* a read at a compacted revision fails as the watch would */
	ret = et_set_int64(range, "revision", *from_rev);
	if (!ret)
		ret = et_request(s, "/v3/kv/range", range, true, &resp);
	json_decref(resp);
	return ret;
}

static int et_watch(struct store *store, const char *prefix, int64_t from_rev,
		    struct store_watch **out)
{
	struct et_store *s = et_of(store);
	struct et_watch *w = NULL;
	json_t *range = NULL;
	size_t i;
	int ret = CS_ENOMEM;

	if (!out)
		return CS_EINVAL;
	*out = NULL;
	if (!s->curl)
		return CS_EUNAVAIL;
	range = json_object();
	if (!range)
		goto out;
	ret = et_set_prefix_range(range, s->conf.prefix, s->plen, prefix ? prefix : "");
	if (!ret)
		ret = et_watch_check(s, range, &from_rev);
	if (ret)
		goto out;
	ret = CS_ENOMEM;
	w = calloc(1, sizeof(*w));
	if (!w)
		goto out;
	w->efd = -1;
	pthread_mutex_init(&w->lock, NULL);
	w->base.store = store;
	w->next_rev = from_rev;
	w->plen = s->plen;
	w->cur = s->cur;
	w->conf = &s->conf;
	if (s->token && !(w->token = strdup(s->token)))
		goto out;
	w->key64 = strdup(json_string_value(json_object_get(range, "key")));
	w->end64 = strdup(json_string_value(json_object_get(range, "range_end")));
	w->endpoints = calloc(s->nendpoints, sizeof(*w->endpoints));
	if (!w->key64 || !w->end64 || !w->endpoints)
		goto out;
	for (i = 0; i < s->nendpoints; i++) {
		w->endpoints[i] = strdup(s->endpoints[i]);
		if (!w->endpoints[i])
			goto out;
		w->nendpoints++;
	}
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		ret = errno == ENOMEM ? CS_ENOMEM : CS_EIO;
		goto out;
	}
	w->headers = et_headers(w->token);
	w->multi = curl_multi_init();
	w->curl = curl_easy_init();
	if (!w->headers || !w->multi || !w->curl ||
	    et_curl_common(w->curl, w->headers, w->conf, w->curl_err) ||
	    curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, et_watch_write) != CURLE_OK ||
	    curl_easy_setopt(w->curl, CURLOPT_WRITEDATA, w) != CURLE_OK)
		goto out;
	if (pthread_create(&w->thread, NULL, et_watch_main, w)) {
		ret = CS_EIO;
		goto out;
	}
	w->running = true;
	s->nwatches++;
	*out = &w->base;
	w = NULL;
	ret = 0;
out:
	if (w)
		et_watch_destroy(w);
	json_decref(range);
	return ret;
}

static int et_watch_fd(struct store_watch *base)
{
	return ((struct et_watch *)base)->efd;
}

static int et_watch_read(struct store_watch *base, struct store_events *out)
{
	struct et_watch *w = (struct et_watch *)base;
	size_t cap;
	uint64_t cnt;
	int ret = 0;

	if (!out)
		return CS_EINVAL;
	if (et_of(base->store)->closed)
		return CS_EUNAVAIL;
	/* drain before taking the queue so an event racing with us re-arms it */
	if (read(w->efd, &cnt, sizeof(cnt)) < 0) {
		/* EAGAIN: nothing signalled */
	}
	pthread_mutex_lock(&w->lock);
	if (w->q.n) {
		cap = out->n;
		ret = et_events_reserve(out, &cap, w->q.n);
		if (!ret) {
			memcpy(out->v + out->n, w->q.v, w->q.n * sizeof(*w->q.v));
			/* marked here, on the writer's thread: a write has recorded
			 * its revision before its caller reads the watch */
			for (size_t i = 0; i < w->q.n; i++)
				out->v[out->n + i].own = store_own_has(&et_of(base->store)->own,
								       w->q.v[i].mod_rev);
			out->n += w->q.n;
			w->q.n = 0;
			/* the error, if any, comes on the next read */
			if (w->err)
				et_watch_signal(w);
		}
	} else {
		ret = w->err;
		if (w->why[0])
			snprintf(et_of(base->store)->err, ET_ERR_MAX, "%s", w->why);
	}
	pthread_mutex_unlock(&w->lock);
	return ret;
}

static void et_watch_free(struct store_watch *base)
{
	struct et_watch *w = (struct et_watch *)base;
	struct et_store *s;

	if (!w)
		return;
	s = et_of(base->store);
	et_watch_destroy(w);
	s->nwatches--;
	if (s->closed && !s->nwatches)
		et_free(s);
}

static const char *et_error_text(struct store *store)
{
	struct et_store *s = et_of(store);

	return s->err[0] ? s->err : NULL;
}

static const struct store_ops et_ops = {
	.name = "etcd",
	.shared = true,
	.close = et_close,
	.get = et_get,
	.list = et_list,
	.put = et_put,
	.del = et_del,
	.txn = et_txn,
	.revision = et_revision,
	.watch = et_watch,
	.watch_fd = et_watch_fd,
	.watch_read = et_watch_read,
	.watch_free = et_watch_free,
	.lease_grant = et_lease_grant,
	.lease_keepalive = et_lease_keepalive,
	.lease_revoke = et_lease_revoke,
	.put_lease = et_put_lease,
	.memo = et_memo,
	.error = et_error_text,
};

static pthread_once_t et_curl_once = PTHREAD_ONCE_INIT;
static CURLcode et_curl_init_rc;

static void et_curl_init(void)
{
	et_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* *@dst = a copy of @src (NULL stays NULL); false when memory ran out. */
static bool et_dup(char **dst, const char *src)
{
	*dst = src ? strdup(src) : NULL;
	return !src || *dst;
}

static bool et_conf_copy(struct et_conf *cf, const struct store_config *cfg)
{
	return et_dup(&cf->prefix, cfg->prefix ? cfg->prefix : ET_DEFAULT_PREFIX) &&
	       et_dup(&cf->ca, cfg->tls_ca) && et_dup(&cf->cert, cfg->tls_cert) &&
	       et_dup(&cf->key, cfg->tls_key) && et_dup(&cf->user, cfg->user) &&
	       et_dup(&cf->password, cfg->user ? cfg->password : NULL) &&
	       et_dup(&cf->password_file, cfg->password_file);
}

static bool et_endpoints_valid(const char *const *endpoints, size_t *n)
{
	*n = 0;
	while (endpoints && endpoints[*n]) {
		if (strncmp(endpoints[*n], "http://", 7) && strncmp(endpoints[*n], "https://", 8))
			return false;
		(*n)++;
	}
	return *n > 0;
}

int store_etcd_open_config(const struct store_config *cfg, struct store **out)
{
	struct et_store *s = NULL;
	size_t i, n, len;
	int ret = CS_ENOMEM;

	if (!out || !cfg)
		return CS_EINVAL;
	*out = NULL;
	/* a user without a password would only ever be refused */
	if (!et_endpoints_valid(cfg->endpoints, &n) || (cfg->user && !cfg->password))
		return CS_EINVAL;
	pthread_once(&et_curl_once, et_curl_init);
	if (et_curl_init_rc != CURLE_OK)
		return CS_EIO;
	s = calloc(1, sizeof(*s));
	if (!s)
		return CS_ENOMEM;
	s->base.ops = &et_ops;
	s->endpoints = calloc(n, sizeof(*s->endpoints));
	if (!et_conf_copy(&s->conf, cfg) || !s->endpoints)
		goto out;
	s->plen = strlen(s->conf.prefix);
	for (i = 0; i < n; i++) {
		s->endpoints[i] = strdup(cfg->endpoints[i]);
		if (!s->endpoints[i])
			goto out;
		s->nendpoints++;
		/* "http://h:2379/" + "/v3/..." would not be found */
		len = strlen(s->endpoints[i]);
		while (len > 0 && s->endpoints[i][len - 1] == '/')
			s->endpoints[i][--len] = '\0';
	}
	s->headers = et_headers(NULL);
	s->curl = curl_easy_init();
	if (!s->headers || !s->curl || et_curl_common(s->curl, s->headers, &s->conf, s->curl_err) ||
	    curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, ET_REQUEST_MS) != CURLE_OK ||
	    curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, et_buf_write) != CURLE_OK ||
	    curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, &s->resp) != CURLE_OK)
		goto out;
	*out = &s->base;
	s = NULL;
	ret = 0;
out:
	if (s) {
		curl_easy_cleanup(s->curl);
		curl_slist_free_all(s->headers);
		et_free(s);
	}
	return ret;
}

int store_etcd_open(const char *const *endpoints, const char *prefix, struct store **out)
{
	struct store_config cfg = { .type = "etcd", .endpoints = endpoints, .prefix = prefix };

	return store_etcd_open_config(&cfg, out);
}
