/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reservations through csd: two forked daemons (csd's own loop, recording
 * backend) share one SQLite store, as two csd processes of a cluster would;
 * the parent talks to them through libcs. Admission boundaries, the bad
 * input matrix (a clear error, the store unchanged), 50 concurrent clients
 * against a capacity that fits exactly 20, release, apply with qos, what
 * `vnet show` reports, and what is enforced (the recording backend's
 * endpoint_qos lines, which each child writes to a file after every pass of
 * its loop).
 */
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <cs/cs.h>
#include "csd/csd.h"
#include "csdchild.h"
#include "vnet/recording.h"

#define NDAEMONS 2
#define NCLIENTS 50

static char tmpdir[64];
static struct csd_child csds[NDAEMONS] = { { .pid = -1 }, { .pid = -1 } };
static cs_t *g; /* to daemon 0, for the whole run */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Two daemons on one store: the first creates it, the second opens it.
 * Each writes its backend's recording (the endpoint_qos lines enforced). */
static int group_setup(void **state)
{
	(void)state;
	if (ut_tmpdir(tmpdir, sizeof(tmpdir), "reserve") < 0)
		return -1;
	for (int i = 0; i < NDAEMONS; i++) {
		char prefix[8], sockname[16], log[24];
		snprintf(prefix, sizeof(prefix), "ur%d", i);
		snprintf(sockname, sizeof(sockname), "csd%d.sock", i);
		snprintf(log, sizeof(log), "backend%d.log", i);
		const char *const extra[] = { "-p", prefix, "-n", "n1", NULL };
		if (csd_child_start(&csds[i], tmpdir, sockname, extra, log, i == 0 ? &g : NULL) < 0)
			return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	cs_close(g);
	for (int i = 0; i < NDAEMONS; i++)
		csd_child_stop(&csds[i]);
	ut_rmdir(tmpdir);
	return 0;
}

/* ---- helpers ---- */

#define OK(cs, call)                                                                       \
	do {                                                                               \
		int r_ = (call);                                                           \
		if (r_ != 0)                                                               \
			fail_msg("%s: %s: %s", #call, cs_strerror(r_), cs_last_error(cs)); \
	} while (0)

/* Refused with @code and a message containing @needle; the store unchanged
 * and the daemon alive (the revision read after it is a good request). */
#define REFUSED(cs, call, code, needle)                                                    \
	do {                                                                               \
		int64_t before_ = ut_revision(cs);                                            \
		int r_ = (call);                                                           \
		const char *m_ = cs_last_error(cs);                                        \
		if (r_ != (code))                                                          \
			fail_msg("%s: returned %s (%s), expected %s", #call,               \
				 cs_errname(r_) ? cs_errname(r_) : "?", m_, cs_errname(code)); \
		if (!strstr(m_, (needle)))                                                 \
			fail_msg("%s: message \"%s\" does not contain \"%s\"", #call, m_,  \
				 (needle));                                                \
		if (ut_revision(cs) != before_)                                               \
			fail_msg("%s: refused, but the store changed", #call);             \
	} while (0)

/* A string field of `vnet show`. */
static char *vnet_field(const char *vnet, const char *key)
{
	char *s = NULL;

	OK(g, cs_vnet_show(g, vnet, &s));
	json_t *j = ut_parse(s);
	const char *v = json_string_value(json_object_get(j, key));
	char *out = strdup(v ? v : "(none)");
	json_decref(j);
	cs_free(s);
	return out;
}

#define ASSERT_FIELD(vnet, key, want)                                                      \
	do {                                                                               \
		char *v_ = vnet_field(vnet, key);                                          \
		if (strcmp(v_, want))                                                      \
			fail_msg("vnet %s: %s is %s, expected %s", vnet, key, v_, want);    \
		free(v_);                                                                  \
	} while (0)

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return strdup("");
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

/* The last endpoint_qos line daemon 0 applied to endpoint @ep, waiting up
 * to 2 s for it to equal @want ("rate=... ceil=... burst=... class=N" or
 * "none"). The child writes its log after the pass that answered us. */
static void expect_qos(const char *ep, const char *want)
{
	char needle[160], last[256] = "(never)";

	snprintf(needle, sizeof(needle), "endpoint_qos %s ", ep);
	for (int k = 0; k < 100; k++) {
		char *log = read_file(csds[0].log), *p = log, *hit = NULL;
		while ((p = strstr(p, needle)))
			hit = p++;
		if (hit) {
			size_t n = strcspn(hit + strlen(needle), "\n");
			snprintf(last, sizeof(last), "%.*s", (int)n, hit + strlen(needle));
		}
		free(log);
		if (!strcmp(last, want))
			return;
		ut_sleep_ms(20);
	}
	fail_msg("endpoint %s: last qos applied \"%s\", expected \"%s\"", ep, last, want);
}

static int reserve(cs_t *cs, const char *ep, const char *spec)
{
	return cs_reservation_create(cs, ep, spec);
}

/* ---- tests ---- */

static void test_setup(void **state)
{
	(void)state;
	OK(g, cs_tenant_create(g, "q", NULL));
	/* usable: 90mbit of 100 (headroom 0.1) */
	OK(g, cs_vnet_create(g, "q/v", "{\"subnet\":\"10.9.0.0/24\",\"capacity\":\"100mbit\"}"));
	OK(g, cs_vnet_create(g, "q/plain", "{\"subnet\":\"10.8.0.0/24\"}"));
	for (int i = 1; i <= 3; i++) {
		char n[32];
		snprintf(n, sizeof(n), "q/v/e%d", i);
		OK(g, cs_endpoint_create(g, n, NULL));
	}
	OK(g, cs_endpoint_create(g, "q/plain/p", NULL));
	ASSERT_FIELD("q/v", "capacity", "100mbit");
	ASSERT_FIELD("q/v", "reserved", "0bit");
	ASSERT_FIELD("q/v", "free", "90mbit");
	ASSERT_FIELD("q/v", "usable", "90mbit");
	/* three unreserved endpoints share the usable capacity evenly */
	expect_qos("q/v/e1", "rate=30000000 ceil=30000000 burst=0 class=2");
	expect_qos("q/v/e3", "rate=30000000 ceil=30000000 burst=0 class=2");
}

static void test_boundaries(void **state)
{
	(void)state;
	OK(g, reserve(g, "q/v/e1", "{\"rate\":\"60mbit\",\"class\":\"realtime\"}"));
	/* exactly what is left */
	OK(g, reserve(g, "q/v/e2", "{\"rate\":\"30mbit\"}"));
	ASSERT_FIELD("q/v", "reserved", "90mbit");
	ASSERT_FIELD("q/v", "free", "0bit");
	/* one bit more is refused, saying how much is free */
	REFUSED(g, reserve(g, "q/v/e3", "{\"rate\":1}"), CS_EADMIT,
		"vnet q/v: 1bit requested, 0bit free of 90mbit (capacity 100mbit, headroom 10%)");
	/* and names who holds it, largest first */
	REFUSED(g, reserve(g, "q/v/e3", "{\"rate\":1}"), CS_EADMIT,
		"; held by q/v/e1 60mbit, q/v/e2 30mbit");
	REFUSED(g, reserve(g, "q/v/e2", "{\"rate\":30000001}"), CS_EADMIT,
		"(replacing 30mbit), 0bit free of 90mbit");
	/* keeping or lowering is always admitted */
	OK(g, reserve(g, "q/v/e2", "{\"rate\":\"30mbit\",\"ceil\":\"40mbit\",\"burst\":\"64kb\"}"));
	OK(g, reserve(g, "q/v/e1", "{\"rate\":\"50mbit\",\"class\":\"realtime\"}"));
	ASSERT_FIELD("q/v", "free", "10mbit");
	REFUSED(g, reserve(g, "q/v/e3", "{\"rate\":10000001}"), CS_EADMIT, "10mbit free");
	/* enforced: reserved at rate (ceil when given), the rest share what is left */
	expect_qos("q/v/e1", "rate=50000000 ceil=50000000 burst=0 class=0");
	expect_qos("q/v/e2", "rate=30000000 ceil=40000000 burst=65536 class=2");
	expect_qos("q/v/e3", "rate=10000000 ceil=10000000 burst=0 class=2");
	OK(g, reserve(g, "q/v/e3", "{\"rate\":\"10mbit\",\"class\":\"interactive\"}"));
	ASSERT_FIELD("q/v", "free", "0bit");
	expect_qos("q/v/e3", "rate=10000000 ceil=10000000 burst=0 class=1");
	/* release frees at once */
	OK(g, cs_reservation_delete(g, "q/v/e3"));
	ASSERT_FIELD("q/v", "free", "10mbit");
	ASSERT_FIELD("q/v", "reserved", "80mbit");
	expect_qos("q/v/e3", "rate=10000000 ceil=10000000 burst=0 class=2");
	REFUSED(g, cs_reservation_delete(g, "q/v/e3"), CS_ENOENT, "holds no reservation");

	char *s = NULL;
	OK(g, cs_reservation_show(g, "q/v/e2", &s));
	json_t *j = ut_parse(s);
	assert_string_equal(json_string_value(json_object_get(j, "rate")), "30mbit");
	assert_string_equal(json_string_value(json_object_get(j, "ceil")), "40mbit");
	assert_string_equal(json_string_value(json_object_get(j, "burst")), "64kb");
	assert_string_equal(json_string_value(json_object_get(j, "class")), "bulk");
	assert_string_equal(json_string_value(json_object_get(j, "state")), "enforced");
	json_decref(j);
	cs_free(s);
	OK(g, cs_reservation_list(g, "q/v", &s));
	j = ut_parse(s);
	assert_int_equal(json_array_size(j), 2);
	json_decref(j);
	cs_free(s);
	OK(g, cs_reservation_list(g, "q/v/e1", &s));
	j = ut_parse(s);
	assert_int_equal(json_array_size(j), 1);
	json_decref(j);
	cs_free(s);
	/* a reservation is the endpoint's qos */
	OK(g, cs_endpoint_show(g, "q/v/e1", &s));
	j = ut_parse(s);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "qos"), "rate")),
			    "50mbit");
	json_decref(j);
	cs_free(s);
	OK(g, cs_reservation_delete(g, "q/v/e1"));
	OK(g, cs_reservation_delete(g, "q/v/e2"));
	ASSERT_FIELD("q/v", "reserved", "0bit");
	expect_qos("q/v/e1", "rate=30000000 ceil=30000000 burst=0 class=2");
}

static void test_bad_input(void **state)
{
	static const struct {
		const char *spec, *needle;
	} bad[] = {
		{ "{\"rate\":0}", "greater than zero" },
		{ "{\"rate\":-5}", "greater than zero" },
		{ "{\"rate\":\"0mbit\"}", "greater than zero" },
		{ "{\"rate\":\"-5mbit\"}", "negative" },
		{ "{\"rate\":\"99999999999999999999gbit\"}", "too large" },
		{ "{\"rate\":\"100\"}", "has no unit" },
		{ "{\"rate\":\"fast\"}", "rate" },
		{ "{\"rate\":\"5mbit\",\"class\":\"gold\"}", "realtime, interactive, bulk" },
		{ "{\"rate\":\"5mbit\",\"ceil\":\"1mbit\"}", "below the rate" },
		{ "{\"ceil\":\"5mbit\"}", "rate: missing" },
		{ "{}", "rate: missing" },
		{ "{\"rate\":\"5mbit\",\"prio\":1}", "unknown key" },
		{ "{\"rate\":\"5mbit\",\"burst\":\"5\"}", "has no unit" },
		{ "{\"rate\":\"1mbit\",\"burst\":\"64mb\"}", "sends in 10 s; give at most" },
		{ "{\"rate\":\"100gbit\",\"burst\":\"5gb\"}", "give at most" },
		{ "{\"rate\":[1]}", "rate" },
	};
	struct cs_qos q = { 0 };
	cs_endpoint_t *ep = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		REFUSED(g, reserve(g, "q/v/e1", bad[i].spec), CS_EINVAL, bad[i].needle);
	REFUSED(g, reserve(g, "q/v/nobody", "{\"rate\":\"1mbit\"}"), CS_ENOENT,
		"q/v/nobody: no such endpoint");
	REFUSED(g, reserve(g, "q/none/e1", "{\"rate\":\"1mbit\"}"), CS_ENOENT, "q/none");
	REFUSED(g, reserve(g, "q/plain/p", "{\"rate\":\"1mbit\"}"), CS_EINVAL,
		"vnet q/plain has no capacity");
	REFUSED(g, reserve(g, "nobody/v/e", "{\"rate\":\"1mbit\"}"), CS_ENOENT, "no such tenant");
	/* creating an endpoint with a reservation: refused as a whole */
	REFUSED(g, cs_endpoint_create(g, "q/plain/r", "{\"qos\":{\"rate\":\"1mbit\"}}"), CS_EINVAL,
		"no capacity");
	REFUSED(g, cs_endpoint_create(g, "q/v/big", "{\"qos\":{\"rate\":\"91mbit\"}}"), CS_EADMIT,
		"90mbit free");
	REFUSED(g, cs_endpoint_create(g, "q/v/big", "{\"qos\":{\"rate\":\"100\"}}"), CS_EINVAL,
		"has no unit");
	char *s = NULL;
	assert_int_equal(cs_endpoint_show(g, "q/v/big", &s), CS_ENOENT);
	/* the library refuses what it cannot send, before csd sees it */
	OK(g, cs_endpoint_open(g, "q/v", "e1", CS_EP_ATTACH, &ep));
	REFUSED(g, cs_reserve(ep, &q), CS_EINVAL, "rate");
	q.rate = (uint64_t)INT64_MAX + 1;
	REFUSED(g, cs_reserve(ep, &q), CS_EINVAL, "rate");
	q.rate = 1000000;
	q.ceil = 1;
	REFUSED(g, cs_reserve(ep, &q), CS_EINVAL, "ceil");
	q.ceil = 0;
	q.cls = 7;
	REFUSED(g, cs_reserve(ep, &q), CS_EINVAL, "class");
	cs_endpoint_close(ep);
	ASSERT_FIELD("q/v", "reserved", "0bit");
}

/* Tallies of a race: admitted, refused with the expected code and text,
 * or failed otherwise. */
struct race {
	int admitted, refused, other;
};

/*
 * @n clients, spread over the csd processes, each reserving @spec for its
 * own endpoint (@name_fmt with the client's number i; with @per_vnet it
 * takes i % 3 and i) at the same moment: all connect first, then a closed
 * pipe releases them at once. A refusal counts when it has @code and
 * @needle in its message.
 */
static struct race race(int n, const char *name_fmt, bool per_vnet, const char *spec, int code,
			const char *needle)
{
	struct race t = { 0 };
	pid_t *kids = calloc((size_t)n, sizeof(*kids));
	int go[2];

	assert_non_null(kids);
	assert_int_equal(pipe(go), 0);
	fflush(NULL);
	for (int i = 0; i < n; i++) {
		if ((kids[i] = fork()) == 0) {
			cs_t *c = NULL;
			char name[64], b;
			close(go[1]);
			if (cs_open(csds[i % NDAEMONS].sock, &c) < 0)
				_exit(3);
			if (read(go[0], &b, 1) < 0)
				_exit(3);
			if (per_vnet)
				snprintf(name, sizeof(name), name_fmt, i % 3, i);
			else
				snprintf(name, sizeof(name), name_fmt, i);
			int r = cs_reservation_create(c, name, spec);
			if (r == code && !strstr(cs_last_error(c), needle))
				r = -100;
			cs_close(c);
			_exit(r == 0 ? 0 : r == code ? 1 : 2);
		}
		assert_true(kids[i] > 0);
	}
	close(go[0]);
	ut_sleep_ms(300);
	close(go[1]); /* EOF releases them all */
	for (int i = 0; i < n; i++) {
		int st = 0;
		waitpid(kids[i], &st, 0);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			t.admitted++;
		else if (WIFEXITED(st) && WEXITSTATUS(st) == 1)
			t.refused++;
		else
			t.other++;
	}
	free(kids);
	return t;
}

/* 50 clients, through two csd processes sharing the store, each reserving
 * 4.5mbit for its own endpoint at once: 90mbit usable fits exactly 20. */
static void test_concurrent(void **state)
{

	(void)state;
	OK(g, cs_vnet_create(g, "q/c", "{\"subnet\":\"10.7.0.0/24\",\"capacity\":\"100mbit\"}"));
	for (int i = 0; i < NCLIENTS; i++) {
		char n[32];
		snprintf(n, sizeof(n), "q/c/k%d", i);
		OK(g, cs_endpoint_create(g, n, NULL));
	}
	struct race t = race(NCLIENTS, "q/c/k%d", false, "{\"rate\":\"4500kbit\"}", CS_EADMIT,
			     "free of 90mbit");
	int admitted = t.admitted, refused = t.refused, other = t.other;
	printf("concurrent: %d admitted, %d refused, %d failed otherwise\n", admitted, refused,
	       other);
	assert_int_equal(other, 0);
	assert_int_equal(admitted, 20);
	assert_int_equal(refused, NCLIENTS - 20);
	ASSERT_FIELD("q/c", "reserved", "90mbit");
	ASSERT_FIELD("q/c", "free", "0bit");
	char *s = NULL;
	OK(g, cs_reservation_list(g, "q/c", &s));
	json_t *j = ut_parse(s);
	assert_int_equal(json_array_size(j), 20);
	/* release one: another is admitted at once, through the other csd */
	const char *first = json_string_value(json_object_get(json_array_get(j, 0), "name"));
	OK(g, cs_reservation_delete(g, first));
	cs_t *b = NULL;
	assert_int_equal(cs_open(csds[1].sock, &b), 0);
	for (int k = 0; k < NCLIENTS; k++) {
		char n[32], quoted[40];
		snprintf(n, sizeof(n), "q/c/k%d", k);
		snprintf(quoted, sizeof(quoted), "\"%s\"", n);
		if (strstr(s, quoted))
			continue; /* holds one, or is the one released */
		OK(b, cs_reservation_create(b, n, "{\"rate\":\"4500kbit\"}"));
		REFUSED(b, cs_reservation_create(b, first, "{\"rate\":\"1bit\"}"), CS_EADMIT,
			"0bit free");
		break;
	}
	cs_close(b);
	json_decref(j);
	cs_free(s);
	OK(g, cs_vnet_delete(g, "q/c"));
}

/* An ephemeral endpoint's reservation goes with it. */
static void test_ephemeral(void **state)
{
	cs_t *c = NULL;
	cs_endpoint_t *ep = NULL;
	struct cs_qos q = { .rate = 20000000, .cls = CS_QOS_REALTIME };

	(void)state;
	assert_int_equal(cs_open(csds[0].sock, &c), 0);
	OK(c, cs_endpoint_open(c, "q/v", NULL, CS_EP_EPHEMERAL, &ep));
	OK(c, cs_reserve(ep, &q));
	ASSERT_FIELD("q/v", "reserved", "20mbit");
	char want[160], name[128];
	snprintf(name, sizeof(name), "%s", cs_endpoint_name(ep));
	expect_qos(name, "rate=20000000 ceil=20000000 burst=0 class=0");
	/* four unreserved left share 70mbit */
	expect_qos("q/v/e1", "rate=23333333 ceil=23333333 burst=0 class=2");
	q.rate = 91000000;
	REFUSED(c, cs_reserve(ep, &q), CS_EADMIT, "91mbit requested (replacing 20mbit), 70mbit free");
	q.rate = 90000000;
	OK(c, cs_reserve(ep, &q));
	ASSERT_FIELD("q/v", "free", "0bit");
	OK(c, cs_release(ep));
	ASSERT_FIELD("q/v", "reserved", "0bit");
	q.rate = 40000000;
	OK(c, cs_reserve(ep, &q));
	ASSERT_FIELD("q/v", "free", "50mbit");
	cs_close(c); /* the program goes: its endpoint and reservation too */
	cs_endpoint_close(ep); /* the handle outlives the connection; free it */
	for (int k = 0; k < 100; k++) {
		char *v = vnet_field("q/v", "reserved");
		bool gone = !strcmp(v, "0bit");
		free(v);
		if (gone)
			break;
		ut_sleep_ms(20);
	}
	ASSERT_FIELD("q/v", "reserved", "0bit");
	snprintf(want, sizeof(want), "rate=30000000 ceil=30000000 burst=0 class=2");
	expect_qos("q/v/e1", want);
}

static int apply_text(const char *file, char **err)
{
	char *args = NULL;
	int r;

	if (asprintf(&args, "{\"file\":%s}", file) < 0)
		return CS_ENOMEM;
	r = cs_call(g, "apply", args, NULL);
	free(args);
	*err = strdup(cs_last_error(g));
	return r;
}

static void test_apply(void **state)
{
	char *err = NULL, *s = NULL;
	int r;

	(void)state;
	r = apply_text("{\"tenants\":{\"qa\":{}},\"vnets\":{\"qa/x\":{\"subnet\":\"10.6.0.0/24\","
		       "\"capacity\":\"1gbit\",\"endpoints\":{\"a\":{\"qos\":{\"rate\":\"500mbit\","
		       "\"class\":\"realtime\"}},\"b\":{\"qos\":{\"rate\":\"400mbit\"}},\"c\":{}}}}}",
		       &err);
	if (r)
		fail_msg("apply: %s", err);
	free(err);
	ASSERT_FIELD("qa/x", "reserved", "900mbit");
	ASSERT_FIELD("qa/x", "free", "0bit");
	expect_qos("qa/x/a", "rate=500000000 ceil=500000000 burst=0 class=0");
	/* c gets the floor: 1% of the capacity */
	expect_qos("qa/x/c", "rate=10000000 ceil=10000000 burst=0 class=2");
	/* more than fits: refused whole, naming the endpoint, nothing changed */
	int64_t before = ut_revision(g);
	r = apply_text("{\"tenants\":{\"qa\":{}},\"vnets\":{\"qa/x\":{\"subnet\":\"10.6.0.0/24\","
		       "\"capacity\":\"1gbit\",\"endpoints\":{\"a\":{\"qos\":{\"rate\":\"500mbit\","
		       "\"class\":\"realtime\"}},\"b\":{\"qos\":{\"rate\":\"400mbit\"}},\"c\":{\"qos\":"
		       "{\"rate\":\"1mbit\"}}}}}}", &err);
	assert_int_equal(r, CS_EADMIT);
	if (!strstr(err, "vnets.\"qa/x\".endpoints.c.qos: reservation refused: vnet qa/x: 1mbit "
		    "requested, 0bit free of 900mbit"))
		fail_msg("apply refusal: %s", err);
	free(err);
	assert_int_equal(ut_revision(g), before);
	/* a lower capacity that no longer holds them: refused too */
	r = apply_text("{\"tenants\":{\"qa\":{}},\"vnets\":{\"qa/x\":{\"subnet\":\"10.6.0.0/24\","
		       "\"capacity\":\"500mbit\",\"endpoints\":{\"a\":{\"qos\":{\"rate\":\"500mbit\"}},"
		       "\"b\":{\"qos\":{\"rate\":\"400mbit\"}},\"c\":{}}}}}", &err);
	assert_int_equal(r, CS_EADMIT);
	free(err);
	assert_int_equal(ut_revision(g), before);
	/* a reservation made at run time is part of the declared state */
	OK(g, cs_reservation_delete(g, "qa/x/b"));
	OK(g, reserve(g, "qa/x/c", "{\"rate\":\"100mbit\"}"));
	OK(g, cs_call(g, "export", NULL, &s));
	json_t *j = ut_parse(s);
	json_t *eps = json_object_get(json_object_get(json_object_get(j, "vnets"), "qa/x"),
				      "endpoints");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
		json_object_get(eps, "c"), "qos"), "rate")), "100mbit");
	assert_null(json_object_get(json_object_get(eps, "b"), "qos"));
	json_decref(j);
	cs_free(s);
	/* qos changed and removed declaratively */
	r = apply_text("{\"tenants\":{\"qa\":{}},\"vnets\":{\"qa/x\":{\"subnet\":\"10.6.0.0/24\","
		       "\"capacity\":\"1gbit\",\"endpoints\":{\"a\":{\"qos\":{\"rate\":\"200mbit\"}},"
		       "\"b\":{},\"c\":{}}}}}", &err);
	if (r)
		fail_msg("apply: %s", err);
	free(err);
	ASSERT_FIELD("qa/x", "reserved", "200mbit");
	expect_qos("qa/x/a", "rate=200000000 ceil=200000000 burst=0 class=2");
	expect_qos("qa/x/b", "rate=350000000 ceil=350000000 burst=0 class=2");
	/* applying the same file again changes nothing */
	before = ut_revision(g);
	r = apply_text("{\"tenants\":{\"qa\":{}},\"vnets\":{\"qa/x\":{\"subnet\":\"10.6.0.0/24\","
		       "\"capacity\":\"1gbit\",\"endpoints\":{\"a\":{\"qos\":{\"rate\":\"200mbit\"}},"
		       "\"b\":{},\"c\":{}}}}}", &err);
	assert_int_equal(r, 0);
	free(err);
	assert_int_equal(ut_revision(g), before);
	/* without capacity: unshaped */
	r = apply_text("{\"tenants\":{\"qa\":{}},\"vnets\":{\"qa/x\":{\"subnet\":\"10.6.0.0/24\","
		       "\"endpoints\":{\"a\":{},\"b\":{},\"c\":{}}}}}", &err);
	if (r)
		fail_msg("apply: %s", err);
	free(err);
	expect_qos("qa/x/a", "none");
	OK(g, cs_tenant_delete(g, "qa"));
}

/* The tenant quota is kept atomically across vnets and daemons: 30
 * clients, through both csd at once, each reserve 10mbit for an endpoint
 * in one of three vnets of a tenant with quotas.bandwidth 100mbit (each
 * vnet could take them all): exactly 10 are admitted. */
static void test_quota_concurrent(void **state)
{
	enum { N = 30 };

	(void)state;
	OK(g, cs_tenant_create(g, "qc", "{\"quotas\":{\"bandwidth\":\"100mbit\"}}"));
	for (int v = 0; v < 3; v++) {
		char n[32], spec[96];
		snprintf(n, sizeof(n), "qc/v%d", v);
		snprintf(spec, sizeof(spec), "{\"subnet\":\"10.3.%d.0/24\",\"capacity\":\"1gbit\"}", v);
		OK(g, cs_vnet_create(g, n, spec));
	}
	for (int i = 0; i < N; i++) {
		char n[32];
		snprintf(n, sizeof(n), "qc/v%d/k%d", i % 3, i);
		OK(g, cs_endpoint_create(g, n, NULL));
	}
	struct race t = race(N, "qc/v%d/k%d", true, "{\"rate\":\"10mbit\"}", CS_EQUOTA,
			     "quotas.bandwidth of 100mbit");
	int admitted = t.admitted, refused = t.refused, other = t.other;
	printf("quota, concurrent: %d admitted, %d refused, %d failed otherwise\n", admitted,
	       refused, other);
	assert_int_equal(other, 0);
	assert_int_equal(admitted, 10);
	assert_int_equal(refused, N - 10);
	char *s = NULL;
	OK(g, cs_reservation_list(g, "qc", &s));
	json_t *j = ut_parse(s);
	assert_int_equal(json_array_size(j), 10);
	json_decref(j);
	cs_free(s);
	OK(g, cs_tenant_delete(g, "qc"));
}

/* How many endpoint_qos lines daemon 0 recorded for @ep. */
static int qos_lines(const char *ep)
{
	char needle[160], *log = read_file(csds[0].log), *p = log;
	int n = 0;

	snprintf(needle, sizeof(needle), "endpoint_qos %s ", ep);
	while ((p = strstr(p, needle))) {
		n++;
		p++;
	}
	free(log);
	return n;
}

/* A reservation change applies only the caps that changed: with the other
 * endpoints reserved, only its own; with an unreserved one, that one's
 * share too (it changes with the reserved rates). A periodic pass of the
 * reconciler during the run may add one line per endpoint. */
static void test_only_changed(void **state)
{
	(void)state;
	OK(g, cs_tenant_create(g, "qd", NULL));
	OK(g, cs_vnet_create(g, "qd/v", "{\"subnet\":\"10.4.0.0/24\",\"capacity\":\"1gbit\"}"));
	OK(g, cs_endpoint_create(g, "qd/v/a", "{\"qos\":{\"rate\":\"10mbit\"}}"));
	OK(g, cs_endpoint_create(g, "qd/v/b", "{\"qos\":{\"rate\":\"20mbit\"}}"));
	OK(g, cs_endpoint_create(g, "qd/v/c", NULL));
	expect_qos("qd/v/c", "rate=870000000 ceil=870000000 burst=0 class=2");
	int a0 = qos_lines("qd/v/a"), b0 = qos_lines("qd/v/b"), c0 = qos_lines("qd/v/c");
	for (int i = 0; i < 10; i++) {
		OK(g, reserve(g, "qd/v/c", "{\"rate\":\"30mbit\"}"));
		OK(g, cs_reservation_delete(g, "qd/v/c"));
	}
	/* the child writes its log after the pass that answered: wait for it */
	for (int k = 0; k < 100 && qos_lines("qd/v/c") - c0 < 20; k++)
		ut_sleep_ms(20);
	if (qos_lines("qd/v/c") - c0 < 20 || qos_lines("qd/v/c") - c0 > 21)
		fail_msg("qd/v/c: %d qos applications for 20 changes", qos_lines("qd/v/c") - c0);
	if (qos_lines("qd/v/a") - a0 > 1 || qos_lines("qd/v/b") - b0 > 1)
		fail_msg("the reserved siblings were applied again (%d, %d times)",
			 qos_lines("qd/v/a") - a0, qos_lines("qd/v/b") - b0);
	/* an unreserved sibling: its share follows every change */
	OK(g, cs_endpoint_create(g, "qd/v/u", NULL));
	expect_qos("qd/v/u", "rate=435000000 ceil=435000000 burst=0 class=2");
	int u0 = qos_lines("qd/v/u");
	OK(g, reserve(g, "qd/v/c", "{\"rate\":\"30mbit\"}"));
	expect_qos("qd/v/u", "rate=840000000 ceil=840000000 burst=0 class=2");
	OK(g, cs_reservation_delete(g, "qd/v/c"));
	expect_qos("qd/v/u", "rate=435000000 ceil=435000000 burst=0 class=2");
	assert_true(qos_lines("qd/v/u") - u0 >= 2);
	OK(g, cs_tenant_delete(g, "qd"));
}

/* quotas.bandwidth: the sum of a tenant's reservations, in all its vnets,
 * through reservation create, endpoint create with qos and apply; apply
 * also counts quotas.vnets and quotas.endpoints. Each refusal names the
 * tenant and the quota and changes nothing; each has a permitted twin. */
static void test_quota(void **state)
{
	char *err = NULL;
	int r;

	(void)state;
	OK(g, cs_tenant_create(g, "qq", "{\"quotas\":{\"bandwidth\":\"100mbit\"}}"));
	OK(g, cs_vnet_create(g, "qq/a", "{\"subnet\":\"10.5.0.0/24\",\"capacity\":\"1gbit\"}"));
	OK(g, cs_vnet_create(g, "qq/b", "{\"subnet\":\"10.5.1.0/24\",\"capacity\":\"1gbit\"}"));
	OK(g, cs_endpoint_create(g, "qq/a/x", "{\"qos\":{\"rate\":\"60mbit\"}}"));
	OK(g, cs_endpoint_create(g, "qq/b/y", NULL));
	/* another vnet of the tenant: its 60mbit count */
	REFUSED(g, reserve(g, "qq/b/y", "{\"rate\":\"50mbit\"}"), CS_EQUOTA,
		"tenant qq: quotas.bandwidth of 100mbit exceeded: its other reservations hold "
		"60mbit and endpoint qq/b/y asks for 50mbit");
	OK(g, reserve(g, "qq/b/y", "{\"rate\":\"40mbit\"}"));
	REFUSED(g, cs_endpoint_create(g, "qq/b/z", "{\"qos\":{\"rate\":1}}"), CS_EQUOTA,
		"quotas.bandwidth of 100mbit");
	/* replacing counts only the new rate; lowering frees */
	OK(g, reserve(g, "qq/a/x", "{\"rate\":\"50mbit\"}"));
	OK(g, cs_endpoint_create(g, "qq/b/z", "{\"qos\":{\"rate\":\"10mbit\"}}"));
	OK(g, cs_endpoint_delete(g, "qq/b/z"));

	/* apply: the whole file counts, the first object over is named */
	int64_t before = ut_revision(g);
	r = apply_text("{\"tenants\":{\"qq\":{\"quotas\":{\"bandwidth\":\"100mbit\"}}},\"vnets\":{"
		       "\"qq/a\":{\"subnet\":\"10.5.0.0/24\",\"capacity\":\"1gbit\",\"endpoints\":{"
		       "\"x\":{\"qos\":{\"rate\":\"70mbit\"}}}},"
		       "\"qq/b\":{\"subnet\":\"10.5.1.0/24\",\"capacity\":\"1gbit\",\"endpoints\":{"
		       "\"y\":{\"qos\":{\"rate\":\"40mbit\"}}}}}}", &err);
	assert_int_equal(r, CS_EQUOTA);
	if (!strstr(err, "vnets.\"qq/b\".endpoints.y.qos: tenant qq: quotas.bandwidth of 100mbit"))
		fail_msg("apply: %s", err);
	free(err);
	assert_int_equal(ut_revision(g), before);
	r = apply_text("{\"tenants\":{\"qq\":{\"quotas\":{\"bandwidth\":\"100mbit\",\"vnets\":1}}},"
		       "\"vnets\":{\"qq/a\":{\"subnet\":\"10.5.0.0/24\",\"capacity\":\"1gbit\"},"
		       "\"qq/b\":{\"subnet\":\"10.5.1.0/24\"}}}", &err);
	assert_int_equal(r, CS_EQUOTA);
	if (!strstr(err, "vnets.\"qq/b\": tenant qq: quota of 1 vnets exceeded"))
		fail_msg("apply: %s", err);
	free(err);
	r = apply_text("{\"tenants\":{\"qq\":{\"quotas\":{\"endpoints\":2}}},\"vnets\":{"
		       "\"qq/a\":{\"subnet\":\"10.5.0.0/24\",\"endpoints\":{\"x\":{},\"y\":{},"
		       "\"z\":{}}}}}", &err);
	assert_int_equal(r, CS_EQUOTA);
	if (!strstr(err, "vnets.\"qq/a\".endpoints.z: tenant qq: quota of 2 endpoints exceeded"))
		fail_msg("apply: %s", err);
	free(err);
	assert_int_equal(ut_revision(g), before);
	/* the permitted twin: within every quota */
	r = apply_text("{\"tenants\":{\"qq\":{\"quotas\":{\"bandwidth\":\"100mbit\",\"vnets\":2,"
		       "\"endpoints\":2}}},\"vnets\":{"
		       "\"qq/a\":{\"subnet\":\"10.5.0.0/24\",\"capacity\":\"1gbit\",\"endpoints\":{"
		       "\"x\":{\"qos\":{\"rate\":\"60mbit\"}}}},"
		       "\"qq/b\":{\"subnet\":\"10.5.1.0/24\",\"capacity\":\"1gbit\",\"endpoints\":{"
		       "\"y\":{\"qos\":{\"rate\":\"40mbit\"}}}}}}", &err);
	if (r)
		fail_msg("apply: %s", err);
	free(err);
	REFUSED(g, reserve(g, "qq/b/y", "{\"rate\":\"41mbit\"}"), CS_EQUOTA, "quotas.bandwidth");
	OK(g, cs_tenant_delete(g, "qq"));
}

/* Admission decisions per second through csd: reservation create/delete
 * pairs on one endpoint, each a full request, transaction and realization. */
static void test_rate(void **state)
{
	int n = getenv("CS_RESERVE_PAIRS") ? atoi(getenv("CS_RESERVE_PAIRS")) : 500;
	double t0 = now_s();

	(void)state;
	for (int i = 0; i < n; i++) {
		OK(g, reserve(g, "q/v/e1", "{\"rate\":\"10mbit\"}"));
		OK(g, cs_reservation_delete(g, "q/v/e1"));
	}
	double dt = now_s() - t0;
	printf("admission: %d create/delete pairs in %.3f s: %.0f decisions/s "
	       "(recording backend, SQLite)\n", n, dt, 2 * n / dt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_setup),
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_ephemeral),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_quota),
		cmocka_unit_test(test_quota_concurrent),
		cmocka_unit_test(test_only_changed),
		cmocka_unit_test(test_rate),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
