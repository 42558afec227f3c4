/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The etcd store: the gateway encoding on recorded responses (no etcd
 * needed), then, if an etcd binary is installed, the conformance suite and
 * outage tests against a private etcd on loopback that this test starts
 * and always kills.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

/* the statics under test; the library's store_etcd_open stays the real one */
#include <cs/cs.h>
#include "csd/store.h"
int store_etcd_open_under_test(const char *const *endpoints, const char *prefix,
			       struct store **out);
int store_etcd_open_config_under_test(const struct store_config *cfg, struct store **out);
#define store_etcd_open store_etcd_open_under_test
#define store_etcd_open_config store_etcd_open_config_under_test
#include "csd/store_etcd.c"
#undef store_etcd_open
#undef store_etcd_open_config

#include "conformance.h"

#ifndef FIXTURE_DIR
#define FIXTURE_DIR "."
#endif

static char tmpdir[] = "/tmp/cs-etcd-test.XXXXXX";
static bool have_tmpdir;
static volatile pid_t etcd_pid = -1;
static int client_port, peer_port;
static char endpoint[64];
static char store_prefix[64];

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static char *fixture(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", FIXTURE_DIR, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static json_t *fixture_json(const char *name)
{
	char *text = fixture(name, NULL);
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	free(text);
	return j;
}

/* ---- encoding, on recorded gateway responses ---- */

static void test_b64(void **state)
{
	/* RFC 4648 section 10 */
	static const char *const vec[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	unsigned char bin[256];
	char *enc, *dec;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		enc = et_b64_encode(vec[i][0], strlen(vec[i][0]));
		assert_string_equal(enc, vec[i][1]);
		assert_int_equal(et_b64_decode(enc, strlen(enc), &dec, &n), 0);
		assert_int_equal(n, strlen(vec[i][0]));
		assert_string_equal(dec, vec[i][0]);
		free(enc);
		free(dec);
	}
	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)(255 - i);
	for (n = 0; n <= sizeof(bin); n += 37) {
		size_t m = 0;

		enc = et_b64_encode(bin, n);
		assert_int_equal(et_b64_decode(enc, strlen(enc), &dec, &m), 0);
		assert_int_equal(m, n);
		assert_memory_equal(dec, bin, n);
		free(enc);
		free(dec);
	}
	/* unpadded input is accepted, garbage is not */
	assert_int_equal(et_b64_decode("Zm8", 3, &dec, &n), 0);
	assert_string_equal(dec, "fo");
	free(dec);
	assert_int_equal(et_b64_decode("Z", 1, &dec, &n), CS_EPROTO);
	assert_int_equal(et_b64_decode("Zm9v!A==", 8, &dec, &n), CS_EPROTO);
}

static void test_parse_range(void **state)
{
	struct store_kvs kvs = { 0 };
	json_t *j = fixture_json("etcd-range.json");
	int64_t rev = 0;

	(void)state;
	assert_int_equal(et_error(j), 0);
	assert_int_equal(et_parse_range(j, strlen("/cs"), &kvs, &rev), 0);
	assert_int_equal(rev, 6);
	assert_int_equal(kvs.n, 2);
	/* an empty value is omitted by the gateway, and still a value */
	assert_string_equal(kvs.v[0].key, "/e");
	assert_string_equal(kvs.v[0].value, "");
	assert_int_equal(kvs.v[0].create_rev, 6);
	assert_int_equal(kvs.v[0].mod_rev, 6);
	assert_string_equal(kvs.v[1].key, "/zz");
	assert_string_equal(kvs.v[1].value, "x");
	assert_int_equal(kvs.v[1].create_rev, 5);
	store_kvs_clear(&kvs);
	json_decref(j);

	/* nothing found: no "kvs" at all */
	j = fixture_json("etcd-range-empty.json");
	assert_int_equal(et_parse_range(j, 3, &kvs, &rev), 0);
	assert_int_equal(kvs.n, 0);
	assert_null(kvs.v);
	assert_int_equal(rev, 6);
	json_decref(j);

	/* no header: not a response we understand */
	j = json_pack("{s:[]}", "kvs");
	assert_int_equal(et_parse_range(j, 3, &kvs, &rev), CS_EPROTO);
	json_decref(j);
}

static void test_parse_writes(void **state)
{
	json_t *j;
	int64_t rev = 0;

	(void)state;
	/* a failed compare: no "succeeded" (false is the default) */
	j = fixture_json("etcd-txn-failed.json");
	assert_int_equal(et_parse_txn(j, &rev), CS_ECONFLICT);
	assert_int_equal(rev, 6);
	json_decref(j);
	j = fixture_json("etcd-txn-succeeded.json");
	assert_int_equal(et_parse_txn(j, &rev), 0);
	assert_int_equal(rev, 7);
	json_decref(j);
	/* a delete that found nothing: no "deleted", no new revision */
	j = fixture_json("etcd-delete-none.json");
	assert_int_equal(et_parse_delete(j, &rev), CS_ENOENT);
	assert_int_equal(rev, 7);
	json_decref(j);
}

static void test_parse_errors(void **state)
{
	json_t *j;

	(void)state;
	j = fixture_json("etcd-txn-duplicate.json");
	assert_int_equal(et_error(j), CS_EINVAL);
	json_decref(j);
	j = fixture_json("etcd-range-compacted.json");
	assert_int_equal(et_error(j), CS_ECOMPACTED);
	json_decref(j);
	j = json_pack("{s:s, s:i}", "error", "etcdserver: no leader", "code", 14);
	assert_int_equal(et_error(j), CS_EUNAVAIL);
	json_decref(j);
	j = json_pack("{s:s, s:i}", "error", "etcdserver: request is too large", "code", 8);
	assert_int_equal(et_error(j), CS_ETOOBIG);
	json_decref(j);
	/* over --max-txn-ops */
	j = json_pack("{s:s, s:i}", "error", "etcdserver: too many operations in txn request",
		      "code", 3);
	assert_int_equal(et_error(j), CS_ETOOBIG);
	json_decref(j);
	/* a lease that expired or was revoked */
	j = json_pack("{s:s, s:i}", "error", "etcdserver: requested lease not found", "code", 5);
	assert_int_equal(et_error(j), CS_ENOENT);
	json_decref(j);
	/* errors inside a stream are objects */
	j = json_pack("{s:{s:i, s:s}}", "error", "grpc_code", 14, "message", "transport closing");
	assert_int_equal(et_error(j), CS_EUNAVAIL);
	json_decref(j);
}

static void test_parse_watch(void **state)
{
	struct store_events ev = { 0 };
	struct et_watch_msg m;
	size_t len, cap = 0;
	char *text = fixture("etcd-watch.json", &len), *nl;

	(void)state;
	nl = strchr(text, '\n');
	assert_non_null(nl);
	assert_int_equal(et_parse_watch(text, (size_t)(nl - text), 3, &ev, &cap, &m), 0);
	assert_true(m.created);
	assert_int_equal(ev.n, 0);
	assert_int_equal(et_parse_watch(nl + 1, strlen(nl + 1), 3, &ev, &cap, &m), 0);
	assert_false(m.created);
	assert_false(m.canceled);
	assert_int_equal(ev.n, 7);
	/* a PUT has no "type"; a DELETE carries no value */
	assert_int_equal(ev.v[0].type, STORE_PUT);
	assert_string_equal(ev.v[0].key, "/e");
	assert_string_equal(ev.v[0].value, "");
	assert_int_equal(ev.v[0].mod_rev, 3);
	assert_int_equal(ev.v[1].type, STORE_DELETE);
	assert_null(ev.v[1].value);
	assert_int_equal(ev.v[1].mod_rev, 4);
	/* one txn: one revision, in the order of its ops */
	assert_int_equal(ev.v[5].type, STORE_PUT);
	assert_string_equal(ev.v[5].key, "/n");
	assert_string_equal(ev.v[5].value, "{\"v\":1}");
	assert_int_equal(ev.v[5].mod_rev, 7);
	assert_int_equal(ev.v[6].type, STORE_DELETE);
	assert_string_equal(ev.v[6].key, "/e");
	assert_int_equal(ev.v[6].mod_rev, 7);
	store_events_clear(&ev);
	free(text);

	text = fixture("etcd-watch-compacted.json", &len);
	nl = strchr(text, '\n');
	assert_int_equal(et_parse_watch(nl + 1, strlen(nl + 1), 3, &ev, &cap, &m), 0);
	assert_true(m.canceled);
	assert_int_equal(m.compact_rev, 3);
	free(text);
	assert_int_equal(et_parse_watch("{\"result\":", 10, 3, &ev, &cap, &m), CS_EPROTO);
}

/* A watch as its thread sees it, fed by hand instead of by curl. */
static struct et_watch *fake_watch(void)
{
	static struct et_store store = { .base.ops = &et_ops };
	struct et_watch *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	pthread_mutex_init(&w->lock, NULL);
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(w->efd >= 0);
	w->base.store = &store.base;
	w->conf = &store.conf;
	w->plen = 3;
	w->next_rev = 3;
	return w;
}

/* Feeds @text in pieces of @chunk bytes, as a stream arrives. */
static size_t feed(struct et_watch *w, const char *text, size_t len, size_t chunk)
{
	size_t off, n, fed = 0;

	for (off = 0; off < len; off += chunk) {
		n = len - off < chunk ? len - off : chunk;
		if (et_watch_write((char *)text + off, 1, n, w) != n)
			break;
		fed += n;
	}
	return fed;
}

static void test_watch_stream(void **state)
{
	struct et_watch *w = fake_watch();
	struct store_events ev = { 0 };
	size_t len;
	char *text = fixture("etcd-watch.json", &len);
	uint64_t cnt;

	(void)state;
	assert_int_equal(feed(w, text, len, 7), len);
	assert_int_equal(w->q.n, 7);
	/* a reconnect asks for what follows the last delivered revision */
	assert_int_equal(w->next_rev, 8);
	assert_int_equal(read(w->efd, &cnt, sizeof(cnt)), sizeof(cnt));
	free(text);

	/* the reader takes them */
	assert_int_equal(et_watch_read(&w->base, &ev), 0);
	assert_int_equal(ev.n, 7);
	store_events_clear(&ev);

	text = fixture("etcd-watch-compacted.json", &len);
	assert_true(feed(w, text, len, 5) < len);
	assert_int_equal(w->err, CS_ECOMPACTED);
	free(text);
	assert_int_equal(et_watch_read(&w->base, &ev), CS_ECOMPACTED);
	assert_int_equal(ev.n, 0);
	et_watch_destroy(w);
}

/* A gateway answer as curl hands it over. */
static int respond(const struct et_conf *cf, long code, const char *body, char *err, size_t len)
{
	struct et_buf b = { .p = (char *)body, .n = strlen(body) };
	json_t *root = json_loads(body, 0, NULL);
	int ret;

	err[0] = '\0';
	ret = et_response(cf, "https://e:2379", code, &b, root, err, len);
	json_decref(root);
	return ret;
}

#define ET_REFUSAL(msg, code) \
	"{\"error\":\"etcdserver: " msg "\",\"message\":\"etcdserver: " msg "\",\"code\":" #code "}"

static void test_auth_refusals(void **state)
{
	struct et_conf cf = { .user = "cs", .password = "pw", .password_file = "/etc/cs/pw",
			      .prefix = "/cs", .cert = "/etc/cs/c.crt" };
	struct et_conf anon = { .prefix = "/cs" };
	char err[ET_ERR_MAX];

	(void)state;
	/* a stale or missing token: log in again (only with a user to log in as) */
	assert_int_equal(respond(&cf, 401, ET_REFUSAL("invalid auth token", 16), err,
				 sizeof(err)), ET_RELOGIN);
	assert_string_equal(err, "");
	assert_int_equal(respond(&cf, 400, ET_REFUSAL("user name is empty", 3), err,
				 sizeof(err)), ET_RELOGIN);
	assert_int_equal(respond(&anon, 400, ET_REFUSAL("user name is empty", 3), err,
				 sizeof(err)), CS_EUNAVAIL);
	assert_non_null(strstr(err, "etcd https://e:2379 requires authentication: set "
			       "store.auth.user and store.auth.password_file"));
	assert_int_equal(respond(&cf, 400, ET_REFUSAL("authentication failed, invalid user ID "
						       "or password", 3), err, sizeof(err)),
			 CS_EUNAVAIL);
	assert_string_equal(err, "etcd refused user cs: authentication failed; check "
			    "password_file /etc/cs/pw");
	assert_int_equal(respond(&cf, 403, ET_REFUSAL("permission denied", 7), err, sizeof(err)),
			 CS_EUNAVAIL);
	assert_non_null(strstr(err, "permission denied to user cs under the key prefix /cs: "
			       "its etcd role needs readwrite on /cs"));
	assert_int_equal(respond(&cf, 400, ET_REFUSAL("authentication is not enabled", 9), err,
				 sizeof(err)), CS_EUNAVAIL);
	assert_non_null(strstr(err, "has authentication disabled, but store.auth names user cs"));
	assert_int_equal(respond(&cf, 400, "CommonName of client sending a request against "
				 "gateway will be ignored and not used as expected\n", err,
				 sizeof(err)), CS_EUNAVAIL);
	assert_non_null(strstr(err, "refuses tls.cert /etc/cs/c.crt: it carries a Common Name"));
	/* not about credentials: as before, and nothing to mend */
	assert_int_equal(respond(&cf, 400, "not json", err, sizeof(err)), CS_EPROTO);
	assert_string_equal(err, "");
	assert_int_equal(respond(&cf, 400, ET_REFUSAL("requested lease not found", 5), err,
				 sizeof(err)), CS_ENOENT);
	assert_string_equal(err, "");
	assert_int_equal(respond(&cf, 200, "{\"header\":{\"revision\":\"3\"}}", err, sizeof(err)),
			 0);
	/* no message ever shows the password */
	assert_null(strstr(err, "pw\""));
}

static void test_watch_refusals(void **state)
{
	static const char stale[] = "{\"result\":{\"header\":{\"revision\":\"1\"},\"created\":true,"
		"\"canceled\":true,\"cancel_reason\":\"rpc error: code = Unauthenticated desc = "
		"etcdserver: invalid auth token\"}}\n";
	static const char denied[] = "{\"result\":{\"header\":{\"revision\":\"1\"},\"created\":"
		"true,\"canceled\":true,\"cancel_reason\":\"rpc error: code = PermissionDenied "
		"desc = etcdserver: permission denied\"}}\n";
	struct et_conf cf = { .user = "cs", .password = "pw", .prefix = "/cs" };
	struct store_events ev = { 0 };
	struct et_watch *w;

	(void)state;
	for (int i = 0; i < 2; i++) {
		w = fake_watch();
		w->conf = &cf;
		w->endpoints = calloc(1, sizeof(*w->endpoints));
		assert_non_null(w->endpoints);
		w->endpoints[0] = strdup("https://e:2379");
		w->nendpoints = 1;
		if (i == 0) {
			/* a stale token: the stream ends, the thread logs in again */
			assert_true(feed(w, stale, strlen(stale), 9) < strlen(stale));
			assert_true(w->relogin);
			assert_int_equal(w->err, 0);
			/* refused again right after a new token: the watch fails */
			w->relogin = false;
			w->fresh = true;
			w->line.n = 0;
			assert_true(feed(w, stale, strlen(stale), 9) < strlen(stale));
			assert_non_null(strstr(w->why, "refuses the token it has just given user cs"));
		} else {
			assert_true(feed(w, denied, strlen(denied), 9) < strlen(denied));
			assert_false(w->relogin);
			assert_non_null(strstr(w->why, "its etcd role needs readwrite on /cs"));
		}
		assert_int_equal(w->err, CS_EUNAVAIL);
		/* the reader gets the failure, and the store says why */
		assert_int_equal(et_watch_read(&w->base, &ev), CS_EUNAVAIL);
		assert_string_equal(et_error_text(w->base.store), w->why);
		et_watch_destroy(w);
	}
}

static void test_encode_requests(void **state)
{
	struct et_store s = { .conf.prefix = "/cs", .plen = 3 };
	struct store_cmp cmps[] = { { "/a", 5 }, { "/new", 0 } };
	struct store_op ops[] = {
		{ STORE_PUT, "/a", "{\"v\":2}" },
		{ STORE_DELETE, "/b", NULL },
	};
	struct store_txn t = { cmps, 2, ops, 2 };
	json_t *req = NULL, *o;
	char *s64;

	(void)state;
	assert_int_equal(et_txn_request(&s, &t, &req), 0);
	o = json_array_get(json_object_get(req, "compare"), 0);
	s64 = et_b64_encode("/cs/a", 5);
	assert_string_equal(json_string_value(json_object_get(o, "key")), s64);
	free(s64);
	assert_string_equal(json_string_value(json_object_get(o, "target")), "MOD");
	assert_string_equal(json_string_value(json_object_get(o, "result")), "EQUAL");
	/* int64 as a JSON string, as the protobuf mapping wants */
	assert_string_equal(json_string_value(json_object_get(o, "mod_revision")), "5");
	o = json_array_get(json_object_get(req, "compare"), 1);
	assert_string_equal(json_string_value(json_object_get(o, "mod_revision")), "0");
	o = json_array_get(json_object_get(req, "success"), 0);
	o = json_object_get(o, "request_put");
	s64 = et_b64_encode("{\"v\":2}", 7);
	assert_string_equal(json_string_value(json_object_get(o, "value")), s64);
	free(s64);
	o = json_array_get(json_object_get(req, "success"), 1);
	assert_non_null(json_object_get(o, "request_delete_range"));
	json_decref(req);

	/* prefix ranges: last byte + 1; all keys as "\0".."\0" */
	req = json_object();
	assert_int_equal(et_set_prefix_range(req, "/cs", 3, "/a"), 0);
	assert_string_equal(json_string_value(json_object_get(req, "key")), "L2NzL2E=");
	assert_string_equal(json_string_value(json_object_get(req, "range_end")), "L2NzL2I=");
	assert_int_equal(et_set_prefix_range(req, "", 0, ""), 0);
	assert_string_equal(json_string_value(json_object_get(req, "key")), "AA==");
	assert_string_equal(json_string_value(json_object_get(req, "range_end")), "AA==");
	assert_int_equal(et_set_prefix_range(req, "", 0, "/\xff"), 0);
	assert_string_equal(json_string_value(json_object_get(req, "range_end")), "MA==");
	assert_int_equal(et_set_prefix_range(req, "", 0, "\xff\xff"), 0);
	assert_string_equal(json_string_value(json_object_get(req, "range_end")), "AA==");
	json_decref(req);
}

static void test_open(void **state)
{
	const char *none[] = { NULL };
	const char *ftp[] = { "ftp://127.0.0.1:2379", NULL };
	const char *dead[] = { "http://127.0.0.1:1/", NULL };
	struct store_config cfg = { .type = "etcd" };
	struct store_kv kv = { 0 };
	struct store *s = NULL;
	struct timespec t0;
	int64_t rev;

	(void)state;
	assert_int_equal(store_etcd_open(NULL, NULL, &s), CS_EINVAL);
	assert_int_equal(store_etcd_open(none, NULL, &s), CS_EINVAL);
	assert_int_equal(store_etcd_open(ftp, NULL, &s), CS_EINVAL);
	assert_null(s);
	assert_int_equal(store_open(&cfg, &s), CS_ENOTSUP);
	cfg.endpoints = dead;
	cfg.prefix = "/cs";
	/* opening does not need etcd; each call says it is not there */
	assert_int_equal(store_open(&cfg, &s), 0);
	assert_string_equal(s->ops->name, "etcd");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(store_get(s, "/k", &kv), CS_EUNAVAIL);
	assert_int_equal(store_put(s, "/k", "v", NULL), CS_EUNAVAIL);
	assert_int_equal(store_revision(s, &rev), CS_EUNAVAIL);
	assert_true(ms_since(&t0) < 3000);
	assert_int_equal(store_get(s, "", &kv), CS_EINVAL);
	store_close(s);
}

/* ---- a private etcd ---- */

static void etcd_kill(void)
{
	pid_t pid = etcd_pid;
	int st;

	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	etcd_pid = -1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static pid_t self;

static void cleanup(void)
{
	/* forked conformance children _exit; but be sure they never clean up */
	if (getpid() != self)
		return;
	etcd_kill();
	if (have_tmpdir)
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	have_tmpdir = false;
}

static void on_signal(int sig)
{
	if (etcd_pid > 0)
		kill(etcd_pid, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

static bool port_free(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

	if (fd < 0)
		return false;
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

static bool pick_ports(void)
{
	int base = 23790 + (int)(getpid() % 1000) * 2, i;

	for (i = 0; i < 500; i++) {
		int p = 23790 + (base - 23790 + 2 * i) % 4000;

		if (port_free(p) && port_free(p + 1)) {
			client_port = p;
			peer_port = p + 1;
			return true;
		}
	}
	return false;
}

/* Serves the one data directory on @port for clients. */
static int etcd_start_on(int port)
{
	char data[300], log[300], client[64], peer[64], cluster[96];
	pid_t pid;
	int fd;

	snprintf(data, sizeof(data), "%s/data", tmpdir);
	snprintf(log, sizeof(log), "%s/etcd.log", tmpdir);
	snprintf(client, sizeof(client), "http://127.0.0.1:%d", port);
	snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", peer_port);
	snprintf(cluster, sizeof(cluster), "cstest=%s", peer);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char *const argv[] = {
			"etcd", "--name", "cstest", "--data-dir", data,
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", cluster, "--initial-cluster-state", "new",
			NULL,
		};
		/* dies with us, whatever kills us */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		/* an operator's ETCD_* settings are not this test's */
		for (char **e = environ; *e; ) {
			if (!strncmp(*e, "ETCD_", 5)) {
				char name[128];
				size_t n = strcspn(*e, "=");

				snprintf(name, sizeof(name), "%.*s", (int)n, *e);
				unsetenv(name);
			} else {
				e++;
			}
		}
		execvp("etcd", argv);
		_exit(127);
	}
	etcd_pid = pid;
	return 0;
}

static int etcd_start(void)
{
	return etcd_start_on(client_port);
}

/* Until the gateway at @ep answers, for up to 10 s. */
static int etcd_wait_at(const char *ep)
{
	const char *eps[] = { ep, NULL };
	struct store *s = NULL;
	struct timespec t0;
	int64_t rev;
	int ret = -1;

	if (store_etcd_open(eps, store_prefix, &s))
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ms_since(&t0) < 10000) {
		if (store_revision(s, &rev) == 0) {
			ret = 0;
			break;
		}
		if (waitpid(etcd_pid, NULL, WNOHANG) == etcd_pid) {
			etcd_pid = -1;
			break;
		}
		usleep(50000);
	}
	store_close(s);
	return ret;
}

static int etcd_wait(void)
{
	return etcd_wait_at(endpoint);
}

static int open_etcd(void *ctx, struct store **out)
{
	const char *eps[] = { endpoint, NULL };

	(void)ctx;
	return store_etcd_open(eps, store_prefix, out);
}

static void test_fresh_revision(void **state)
{
	struct store *s = NULL;
	struct store_kvs kvs = { 0 };
	int64_t rev = 0;

	(void)state;
	assert_int_equal(open_etcd(NULL, &s), 0);
	/* a new etcd is at revision 1, as an empty store must be */
	assert_int_equal(store_revision(s, &rev), 0);
	assert_int_equal(rev, 1);
	assert_int_equal(store_list(s, NULL, &kvs, &rev), 0);
	assert_int_equal(kvs.n, 0);
	assert_int_equal(rev, 1);
	assert_int_equal(store_put(s, "/\xff\xff", "2", &rev), 0);
	assert_int_equal(rev, 2);
	assert_int_equal(store_put(s, "/\xff\xfe", "3", &rev), 0);
	assert_int_equal(store_list(s, "/\xff", &kvs, NULL), 0);
	assert_int_equal(kvs.n, 2);
	assert_string_equal(kvs.v[0].key, "/\xff\xfe");
	assert_string_equal(kvs.v[1].key, "/\xff\xff");
	store_kvs_clear(&kvs);
	/* etcd refuses a key twice in one txn; so do we, before asking */
	{
		struct store_op ops[] = {
			{ STORE_PUT, "/dup", "1" }, { STORE_DELETE, "/dup", NULL },
		};
		struct store_txn t = { NULL, 0, ops, 2 };

		assert_int_equal(store_txn(s, &t, NULL), CS_EINVAL);
	}
	store_close(s);
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

#define NLAT 200

static long median_us(long *v)
{
	qsort(v, NLAT, sizeof(*v), cmp_long);
	return v[NLAT / 2];
}

static long us_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000000 + (t.tv_nsec - t0->tv_nsec) / 1000;
}

static void test_latency(void **state)
{
	static long get_us[NLAT], put_us[NLAT], txn_us[NLAT];
	struct store *s = NULL;
	struct store_kv kv = { 0 };
	struct timespec t0;
	int64_t rev = 0;
	int i;

	(void)state;
	assert_int_equal(open_etcd(NULL, &s), 0);
	assert_int_equal(store_put(s, "/lat/k", "0", &rev), 0);
	for (i = 0; i < NLAT; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(store_put(s, "/lat/k", "{\"n\":1}", &rev), 0);
		put_us[i] = us_since(&t0);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(store_get(s, "/lat/k", &kv), 0);
		get_us[i] = us_since(&t0);
		{
			struct store_cmp cmp = { "/lat/k", kv.mod_rev };
			struct store_op op = { STORE_PUT, "/lat/k", "{\"n\":2}" };
			struct store_txn t = { &cmp, 1, &op, 1 };

			clock_gettime(CLOCK_MONOTONIC, &t0);
			assert_int_equal(store_txn(s, &t, &rev), 0);
			txn_us[i] = us_since(&t0);
		}
		store_kv_clear(&kv);
	}
	printf("etcd gateway latency, median of %d: get %ld us, put %ld us, txn %ld us\n",
	       NLAT, median_us(get_us), median_us(put_us), median_us(txn_us));
	store_close(s);
}

/* Reads @w until it has @want events in all, for up to @ms. */
static void collect(struct store_watch *w, size_t want, struct store_events *ev, long ms)
{
	struct timespec t0;
	struct pollfd p = { .fd = store_watch_fd(w), .events = POLLIN };

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		assert_int_equal(store_watch_read(w, ev), 0);
		if (ev->n >= want || ms_since(&t0) > ms)
			break;
		poll(&p, 1, 50);
	}
	assert_int_equal(ev->n, want);
}

static void test_endpoints(void **state)
{
	const char *eps[] = { "http://127.0.0.1:1", endpoint, NULL };
	struct store_events ev = { 0 };
	struct store_watch *w = NULL;
	struct store *s = NULL;
	int64_t rev = 0;

	(void)state;
	/* the first is dead: the second serves, requests and watches alike */
	assert_int_equal(store_etcd_open(eps, store_prefix, &s), 0);
	assert_int_equal(store_revision(s, &rev), 0);
	assert_int_equal(store_watch(s, "/ep/", rev + 1, &w), 0);
	assert_int_equal(store_put(s, "/ep/k", "v", &rev), 0);
	collect(w, 1, &ev, 5000);
	assert_string_equal(ev.v[0].key, "/ep/k");
	assert_int_equal(ev.v[0].mod_rev, rev);
	store_events_clear(&ev);
	/* a watch may outlive its store, failing cleanly */
	store_close(s);
	assert_int_equal(store_watch_read(w, &ev), CS_EUNAVAIL);
	store_watch_free(w);
}

static void test_compacted(void **state)
{
	struct store *s = NULL;
	struct store_watch *w = NULL;
	json_t *req, *resp = NULL;
	int64_t r1, r2, rev;

	(void)state;
	assert_int_equal(store_etcd_open_under_test((const char *[]){ endpoint, NULL },
						    store_prefix, &s), 0);
	assert_int_equal(store_put(s, "/cmp/k", "1", &r1), 0);
	assert_int_equal(store_put(s, "/cmp/k", "2", &r2), 0);
	assert_int_equal(store_put(s, "/cmp/k", "3", &rev), 0);
	req = json_object();
	assert_int_equal(et_set_int64(req, "revision", r2), 0);
	assert_int_equal(et_request(et_of(s), "/v3/kv/compaction", req, false, &resp), 0);
	json_decref(resp);
	json_decref(req);
	assert_int_equal(store_watch(s, "/cmp/", r1, &w), CS_ECOMPACTED);
	assert_null(w);
	assert_int_equal(store_watch(s, "/cmp/", r2, &w), 0);
	store_watch_free(w);
	store_close(s);
}

static void test_outage(void **state)
{
	struct store_events ev = { 0 };
	struct store_watch *w = NULL;
	struct store_kvs kvs = { 0 };
	struct store_kv kv = { 0 };
	struct store *s = NULL;
	struct timespec t0;
	int64_t rev = 0, r1;
	long ms;

	(void)state;
	assert_int_equal(open_etcd(NULL, &s), 0);
	assert_int_equal(store_revision(s, &rev), 0);
	assert_int_equal(store_watch(s, "/out/", rev + 1, &w), 0);
	assert_int_equal(store_put(s, "/out/a", "1", &r1), 0);
	collect(w, 1, &ev, 5000);
	store_events_clear(&ev);

	etcd_kill();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(store_get(s, "/out/a", &kv), CS_EUNAVAIL);
	assert_int_equal(store_put(s, "/out/b", "x", NULL), CS_EUNAVAIL);
	assert_int_equal(store_delete(s, "/out/a", NULL), CS_EUNAVAIL);
	assert_int_equal(store_list(s, "/out/", &kvs, NULL), CS_EUNAVAIL);
	assert_int_equal(store_revision(s, &rev), CS_EUNAVAIL);
	{
		struct store_op op = { STORE_PUT, "/out/c", "c" };
		struct store_txn t = { NULL, 0, &op, 1 };

		assert_int_equal(store_txn(s, &t, NULL), CS_EUNAVAIL);
	}
	{
		struct store_watch *w2 = NULL;

		assert_int_equal(store_watch(s, "/out/", 0, &w2), CS_EUNAVAIL);
		assert_null(w2);
	}
	ms = ms_since(&t0);
	printf("etcd down: 7 calls failed with CS_EUNAVAIL in %ld ms\n", ms);
	assert_true(ms < 3000);
	/* the watch just has nothing to say */
	usleep(300000);
	assert_int_equal(store_watch_read(w, &ev), 0);
	assert_int_equal(ev.n, 0);

	assert_int_equal(etcd_start(), 0);
	assert_int_equal(etcd_wait(), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(store_get(s, "/out/a", &kv), 0);
	assert_int_equal(kv.mod_rev, r1);
	store_kv_clear(&kv);
	assert_int_equal(store_put(s, "/out/b", "2", &rev), 0);
	assert_int_equal(rev, r1 + 1);
	/* resumed after the last delivered revision: /out/a does not come again */
	collect(w, 1, &ev, 10000);
	printf("etcd back: watch delivered after %ld ms\n", ms_since(&t0));
	assert_string_equal(ev.v[0].key, "/out/b");
	assert_int_equal(ev.v[0].mod_rev, rev);
	store_events_clear(&ev);
	store_watch_free(w);
	store_close(s);
}

/*
 * History a watch still needs is compacted while it is cut off: etcd is
 * brought back on another port first, so the watch cannot reconnect before
 * the compaction; then it does, and must say CS_ECOMPACTED (re-list).
 */
static void test_compacted_while_away(void **state)
{
	struct store_events ev = { 0 };
	struct store_watch *w = NULL;
	struct store *s = NULL, *s2 = NULL;
	char other[64];
	const char *eps[] = { other, NULL };
	json_t *req, *resp = NULL;
	int64_t rev = 0;
	int port = 0, p;

	(void)state;
	for (p = peer_port + 1; p < peer_port + 200 && !port; p++)
		if (port_free(p))
			port = p;
	assert_true(port > 0);
	snprintf(other, sizeof(other), "http://127.0.0.1:%d", port);
	assert_int_equal(open_etcd(NULL, &s), 0);
	assert_int_equal(store_revision(s, &rev), 0);
	assert_int_equal(store_watch(s, "/away/", rev + 1, &w), 0);
	assert_int_equal(store_put(s, "/away/a", "1", &rev), 0);
	collect(w, 1, &ev, 5000);
	store_events_clear(&ev);

	etcd_kill();
	assert_int_equal(etcd_start_on(port), 0);
	assert_int_equal(etcd_wait_at(other), 0);
	assert_int_equal(store_etcd_open_under_test(eps, store_prefix, &s2), 0);
	assert_int_equal(store_put(s2, "/away/b", "2", NULL), 0);
	assert_int_equal(store_put(s2, "/away/c", "3", &rev), 0);
	req = json_object();
	assert_int_equal(et_set_int64(req, "revision", rev), 0);
	assert_int_equal(et_request(et_of(s2), "/v3/kv/compaction", req, false, &resp), 0);
	json_decref(resp);
	json_decref(req);
	store_close(s2);
	etcd_kill();

	assert_int_equal(etcd_start(), 0);
	assert_int_equal(etcd_wait(), 0);
	{
		struct pollfd pfd = { .fd = store_watch_fd(w), .events = POLLIN };
		struct timespec t0;
		int ret = 0;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (ms_since(&t0) < 10000) {
			ret = store_watch_read(w, &ev);
			if (ret)
				break;
			poll(&pfd, 1, 100);
		}
		assert_int_equal(ret, CS_ECOMPACTED);
		assert_int_equal(ev.n, 0);
	}
	store_watch_free(w);
	/* re-list, then watch from the list's revision + 1, as csd does */
	{
		struct store_kvs kvs = { 0 };

		assert_int_equal(store_list(s, "/away/", &kvs, &rev), 0);
		assert_int_equal(kvs.n, 3);
		store_kvs_clear(&kvs);
		assert_int_equal(store_watch(s, "/away/", rev + 1, &w), 0);
		assert_int_equal(store_delete(s, "/away/a", &rev), 0);
		collect(w, 1, &ev, 5000);
		assert_int_equal(ev.v[0].type, STORE_DELETE);
		assert_int_equal(ev.v[0].mod_rev, rev);
		store_events_clear(&ev);
		store_watch_free(w);
	}
	store_close(s);
}

static bool have_etcd(void)
{
	const char *path = getenv("PATH");
	char buf[512];

	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/etcd", (int)n, path);
		if (access(buf, X_OK) == 0)
			return true;
		path += n;
		if (*path)
			path++;
	}
	return false;
}

int main(void)
{
	const struct CMUnitTest encoding[] = {
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_parse_range),
		cmocka_unit_test(test_parse_writes),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_watch),
		cmocka_unit_test(test_watch_stream),
		cmocka_unit_test(test_auth_refusals),
		cmocka_unit_test(test_watch_refusals),
		cmocka_unit_test(test_encode_requests),
		cmocka_unit_test(test_open),
	};
	const struct CMUnitTest first[] = {
		cmocka_unit_test(test_fresh_revision),
	};
	const struct CMUnitTest live[] = {
		cmocka_unit_test(test_latency),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_compacted),
		cmocka_unit_test(test_outage),
		cmocka_unit_test(test_compacted_while_away),
	};
	struct store_factory f = { .name = "etcd", .open = open_etcd };
	int failed;

	self = getpid();
	failed = cmocka_run_group_tests_name("store etcd encoding", encoding, NULL, NULL);
	if (!have_etcd()) {
		printf("no etcd binary in PATH: skipping the tests against etcd "
		       "(apt-get install etcd-server)\n");
		return failed ? 1 : 0;
	}
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	have_tmpdir = true;
	if (!pick_ports()) {
		fprintf(stderr, "no free port pair for etcd on 127.0.0.1\n");
		return 1;
	}
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", client_port);
	snprintf(store_prefix, sizeof(store_prefix), "/cstest-%ld", (long)getpid());
	if (etcd_start() || etcd_wait()) {
		fprintf(stderr, "etcd did not answer on %s within 10 s; see %s/etcd.log\n",
			endpoint, tmpdir);
		have_tmpdir = false; /* keep the log */
		return 1;
	}
	failed += cmocka_run_group_tests_name("store etcd fresh", first, NULL, NULL);
	failed += store_conformance_run(&f);
	failed += cmocka_run_group_tests_name("store etcd", live, NULL, NULL);
	return failed ? 1 : 0;
}
