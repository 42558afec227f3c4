/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store conformance suite; see conformance.h. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cs/cs.h>

#include "csd/store.h"
#include "conformance.h"

#define NPROC 4
#define NINCR 50
/* an implementation may deliver events asynchronously (etcd) */
#define WAIT_MS 5000

/* cmocka hands tests no context of the run, so the factory is global */
static const struct store_factory *factory;
static char run_id[64];
static unsigned test_seq;

struct ctx {
	struct store *s;
	char prefix[128];
	char keys[8][256];
	unsigned nkey;
};

/* Full key of @suffix under the test's prefix; valid for 8 more calls. */
static const char *K(struct ctx *c, const char *suffix)
{
	char *k = c->keys[c->nkey++ % 8];

	snprintf(k, sizeof(c->keys[0]), "%s%s", c->prefix, suffix);
	return k;
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	snprintf(c->prefix, sizeof(c->prefix), "/conformance/%s/%u/", run_id, ++test_seq);
	if (factory->open(factory->ctx, &c->s) != 0 || !c->s) {
		free(c);
		return -1;
	}
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	store_close(c->s);
	free(c);
	return 0;
}

static void reopen(struct ctx *c)
{
	store_close(c->s);
	c->s = NULL;
	assert_int_equal(factory->open(factory->ctx, &c->s), 0);
	assert_non_null(c->s);
}

static int64_t rev_now(struct ctx *c)
{
	int64_t rev = -1;

	assert_int_equal(store_revision(c->s, &rev), 0);
	assert_true(rev >= 1);
	return rev;
}

static int64_t put(struct ctx *c, const char *key, const char *value)
{
	int64_t before = rev_now(c), rev = -1;

	assert_int_equal(store_put(c->s, key, value, &rev), 0);
	assert_int_equal(rev, before + 1);
	return rev;
}

static void assert_kv(struct ctx *c, const char *key, const char *value,
		      int64_t create_rev, int64_t mod_rev)
{
	struct store_kv kv = { 0 };

	assert_int_equal(store_get(c->s, key, &kv), 0);
	assert_string_equal(kv.key, key);
	assert_string_equal(kv.value, value);
	assert_int_equal(kv.create_rev, create_rev);
	assert_int_equal(kv.mod_rev, mod_rev);
	store_kv_clear(&kv);
}

static void assert_absent(struct ctx *c, const char *key)
{
	struct store_kv kv = { 0 };

	assert_int_equal(store_get(c->s, key, &kv), CS_ENOENT);
	store_kv_clear(&kv);
}

/* Lists @prefix and checks the keys are exactly @keys (NULL-terminated), in order. */
static void assert_list(struct ctx *c, const char *prefix, const char *const *keys)
{
	struct store_kvs kvs = { 0 };
	int64_t rev = -1;
	size_t i, n = 0;

	while (keys[n])
		n++;
	assert_int_equal(store_list(c->s, prefix, &kvs, &rev), 0);
	assert_int_equal(rev, rev_now(c));
	for (i = 0; i < kvs.n && i < n; i++)
		assert_string_equal(kvs.v[i].key, keys[i]);
	assert_int_equal(kvs.n, n);
	store_kvs_clear(&kvs);
}

/* Reads @w until it has delivered at least @want events in all. */
static void collect(struct store_watch *w, size_t want, struct store_events *ev)
{
	struct timespec t0, t;
	long ms = 0;
	int fd = store_watch_fd(w);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		assert_int_equal(store_watch_read(w, ev), 0);
		if (ev->n >= want || ms > WAIT_MS)
			break;
		if (fd >= 0) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			poll(&p, 1, 50);
		} else {
			usleep(10000);
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
	}
	assert_int_equal(ev->n, want);
}

static void assert_event(const struct store_event *e, enum store_op_type type,
			 const char *key, const char *value, int64_t rev)
{
	assert_int_equal(e->type, type);
	assert_string_equal(e->key, key);
	if (value)
		assert_string_equal(e->value, value);
	else
		assert_null(e->value);
	assert_int_equal(e->mod_rev, rev);
}

static void test_get_put(void **state)
{
	struct ctx *c = *state;
	int64_t r1, r2;

	assert_absent(c, K(c, "a"));
	r1 = put(c, K(c, "a"), "{\"v\":1}");
	assert_kv(c, K(c, "a"), "{\"v\":1}", r1, r1);
	r2 = put(c, K(c, "a"), "{\"v\":2}");
	assert_kv(c, K(c, "a"), "{\"v\":2}", r1, r2);
	/* an identical value is still a change */
	assert_int_equal(put(c, K(c, "a"), "{\"v\":2}"), r2 + 1);
	assert_kv(c, K(c, "a"), "{\"v\":2}", r1, r2 + 1);
	assert_int_equal(rev_now(c), r2 + 1);
	/* empty values are values */
	r1 = put(c, K(c, "empty"), "");
	assert_kv(c, K(c, "empty"), "", r1, r1);
}

static void test_delete(void **state)
{
	struct ctx *c = *state;
	int64_t r1, r2, r3, rev = -1;

	r1 = put(c, K(c, "d"), "x");
	assert_int_equal(store_delete(c->s, K(c, "d"), &rev), 0);
	r2 = rev;
	assert_int_equal(r2, r1 + 1);
	assert_absent(c, K(c, "d"));
	assert_int_equal(store_delete(c->s, K(c, "d"), &rev), CS_ENOENT);
	assert_int_equal(store_delete(c->s, K(c, "never"), NULL), CS_ENOENT);
	assert_int_equal(rev_now(c), r2);
	/* a recreated key is a new key */
	r3 = put(c, K(c, "d"), "y");
	assert_kv(c, K(c, "d"), "y", r3, r3);
}

static void test_revisions(void **state)
{
	struct ctx *c = *state;
	int64_t prev = rev_now(c), rev;
	char v[16];
	int i;

	for (i = 0; i < 10; i++) {
		snprintf(v, sizeof(v), "%d", i);
		rev = put(c, K(c, i % 2 ? "odd" : "even"), v);
		assert_int_equal(rev, prev + 1);
		prev = rev;
	}
	assert_int_equal(rev_now(c), prev);
	/* reads do not move the revision */
	assert_kv(c, K(c, "odd"), "9", prev - 8, prev);
	assert_int_equal(rev_now(c), prev);
}

static void test_invalid(void **state)
{
	struct ctx *c = *state;
	struct store_kv kv = { 0 };
	int64_t before = rev_now(c);

	assert_int_equal(store_get(c->s, "", &kv), CS_EINVAL);
	assert_int_equal(store_put(c->s, "", "x", NULL), CS_EINVAL);
	assert_int_equal(store_put(c->s, K(c, "k"), NULL, NULL), CS_EINVAL);
	assert_int_equal(store_delete(c->s, "", NULL), CS_EINVAL);
	assert_int_equal(rev_now(c), before);
}

static void test_list_prefix(void **state)
{
	struct ctx *c = *state;
	struct store_kvs kvs = { 0 };
	int64_t rev = -1, r;

	/* inserted out of order: list must sort (bytewise, '/' < 'c') */
	put(c, K(c, "a/c"), "5");
	put(c, K(c, "a/bc"), "4");
	put(c, K(c, "a/b/d"), "3");
	put(c, K(c, "a/b"), "1");
	r = put(c, K(c, "a/b/c"), "2");
	put(c, K(c, "a"), "0");
	put(c, K(c, "ab"), "6");

	{
		char *all[] = { strdup(K(c, "a")), strdup(K(c, "a/b")), strdup(K(c, "a/b/c")),
				strdup(K(c, "a/b/d")), strdup(K(c, "a/bc")), strdup(K(c, "a/c")),
				strdup(K(c, "ab")), NULL };
		const char *ab[] = { all[1], all[2], all[3], all[4], NULL };
		const char *ab_slash[] = { all[2], all[3], NULL };
		const char *abc[] = { all[4], NULL };
		const char *a_slash[] = { all[1], all[2], all[3], all[4], all[5], NULL };
		const char *none[] = { NULL };
		int i;

		assert_list(c, c->prefix, (const char *const *)all);
		assert_list(c, K(c, "a/b"), ab);
		assert_list(c, K(c, "a/b/"), ab_slash);
		assert_list(c, K(c, "a/bc"), abc);
		assert_list(c, K(c, "a/"), a_slash);
		assert_list(c, K(c, "zzz"), none);
		assert_list(c, K(c, "a/b/c/"), none);
		for (i = 0; all[i]; i++)
			free(all[i]);
	}

	/* values and revisions come with the keys */
	assert_int_equal(store_list(c->s, K(c, "a/b/c"), &kvs, &rev), 0);
	assert_int_equal(kvs.n, 1);
	assert_string_equal(kvs.v[0].value, "2");
	assert_int_equal(kvs.v[0].create_rev, r);
	assert_int_equal(kvs.v[0].mod_rev, r);
	assert_int_equal(rev, rev_now(c));
	store_kvs_clear(&kvs);
	store_kvs_clear(&kvs);
}

static void test_list_special(void **state)
{
	struct ctx *c = *state;
	char *k[] = { strdup(K(c, "x%y/1")), strdup(K(c, "x_y/1")), strdup(K(c, "xAy/1")),
		      strdup(K(c, "xzy/1")), strdup(K(c, "x\\y/1")), NULL };
	const char *pct[] = { k[0], NULL };
	const char *und[] = { k[1], NULL };
	const char *bsl[] = { k[4], NULL };
	const char *none[] = { NULL };
	int i;

	for (i = 0; k[i]; i++)
		put(c, k[i], "v");
	assert_list(c, K(c, "x%"), pct);
	assert_list(c, K(c, "x%y/"), pct);
	assert_list(c, K(c, "x_"), und);
	assert_list(c, K(c, "x_y/"), und);
	assert_list(c, K(c, "x\\"), bsl);
	assert_list(c, K(c, "%"), none);
	assert_list(c, K(c, "_"), none);
	assert_list(c, K(c, "x*"), none);
	for (i = 0; k[i]; i++)
		free(k[i]);
}

static void test_txn_success(void **state)
{
	struct ctx *c = *state;
	int64_t r1, r2, rev = -1;

	r1 = put(c, K(c, "t/a"), "1");
	put(c, K(c, "t/gone"), "g");
	r2 = rev_now(c);
	{
		struct store_cmp cmp[] = {
			{ .key = K(c, "t/a"), .mod_rev = r1 },
			{ .key = K(c, "t/new"), .mod_rev = 0 },
		};
		struct store_op ops[] = {
			{ .type = STORE_PUT, .key = K(c, "t/a"), .value = "2" },
			{ .type = STORE_PUT, .key = K(c, "t/new"), .value = "n" },
			{ .type = STORE_DELETE, .key = K(c, "t/gone") },
		};
		struct store_txn t = { cmp, 2, ops, 3 };

		assert_int_equal(store_txn(c->s, &t, &rev), 0);
	}
	/* all ops under one new revision */
	assert_int_equal(rev, r2 + 1);
	assert_int_equal(rev_now(c), r2 + 1);
	assert_kv(c, K(c, "t/a"), "2", r1, rev);
	assert_kv(c, K(c, "t/new"), "n", rev, rev);
	assert_absent(c, K(c, "t/gone"));
}

static void test_txn_failure(void **state)
{
	struct ctx *c = *state;
	int64_t r1, before, rev = -1;

	r1 = put(c, K(c, "f/a"), "1");
	put(c, K(c, "f/b"), "b");
	before = rev_now(c);
	{
		/* the second compare fails: nothing of the txn may show */
		struct store_cmp cmp[] = {
			{ .key = K(c, "f/a"), .mod_rev = r1 },
			{ .key = K(c, "f/b"), .mod_rev = r1 },
		};
		struct store_op ops[] = {
			{ .type = STORE_PUT, .key = K(c, "f/a"), .value = "2" },
			{ .type = STORE_PUT, .key = K(c, "f/c"), .value = "c" },
			{ .type = STORE_DELETE, .key = K(c, "f/b") },
		};
		struct store_txn t = { cmp, 2, ops, 3 };

		assert_int_equal(store_txn(c->s, &t, &rev), CS_ECONFLICT);
	}
	{
		/* create-if-absent of a present key */
		struct store_cmp cmp = { .key = K(c, "f/a"), .mod_rev = 0 };
		struct store_op op = { .type = STORE_PUT, .key = K(c, "f/a"), .value = "3" };
		struct store_txn t = { &cmp, 1, &op, 1 };

		assert_int_equal(store_txn(c->s, &t, NULL), CS_ECONFLICT);
	}
	{
		/* an absent key has no mod_rev but 0 */
		struct store_cmp cmp = { .key = K(c, "f/none"), .mod_rev = r1 };
		struct store_op op = { .type = STORE_PUT, .key = K(c, "f/none"), .value = "4" };
		struct store_txn t = { &cmp, 1, &op, 1 };

		assert_int_equal(store_txn(c->s, &t, NULL), CS_ECONFLICT);
	}
	assert_int_equal(rev_now(c), before);
	assert_kv(c, K(c, "f/a"), "1", r1, r1);
	assert_kv(c, K(c, "f/b"), "b", r1 + 1, r1 + 1);
	assert_absent(c, K(c, "f/c"));
	assert_absent(c, K(c, "f/none"));
}

static void test_txn_create(void **state)
{
	struct ctx *c = *state;
	int64_t before = rev_now(c), rev = -1;
	struct store_cmp cmp = { .key = K(c, "n/k"), .mod_rev = 0 };
	struct store_op op = { .type = STORE_PUT, .key = K(c, "n/k"), .value = "first" };
	struct store_txn t = { &cmp, 1, &op, 1 };

	assert_int_equal(store_txn(c->s, &t, &rev), 0);
	assert_int_equal(rev, before + 1);
	assert_kv(c, K(c, "n/k"), "first", rev, rev);
	op.value = "second";
	assert_int_equal(store_txn(c->s, &t, NULL), CS_ECONFLICT);
	assert_kv(c, K(c, "n/k"), "first", rev, rev);
}

static void test_txn_nochange(void **state)
{
	struct ctx *c = *state;
	int64_t r1, rev = -1;

	r1 = put(c, K(c, "z/a"), "1");
	{
		/* a pure check: holds, but writes no revision */
		struct store_cmp cmp[] = {
			{ .key = K(c, "z/a"), .mod_rev = r1 },
			{ .key = K(c, "z/absent"), .mod_rev = 0 },
		};
		struct store_txn t = { cmp, 2, NULL, 0 };

		assert_int_equal(store_txn(c->s, &t, &rev), 0);
		assert_int_equal(rev, r1);
	}
	{
		/* deleting what is not there changes nothing */
		struct store_op op = { .type = STORE_DELETE, .key = K(c, "z/absent") };
		struct store_txn t = { NULL, 0, &op, 1 };

		rev = -1;
		assert_int_equal(store_txn(c->s, &t, &rev), 0);
		assert_int_equal(rev, r1);
	}
	assert_int_equal(rev_now(c), r1);
	{
		/* but the same check guarding nothing still fails when broken */
		struct store_cmp cmp = { .key = K(c, "z/a"), .mod_rev = r1 + 100 };
		struct store_txn t = { &cmp, 1, NULL, 0 };

		assert_int_equal(store_txn(c->s, &t, NULL), CS_ECONFLICT);
	}
	assert_int_equal(rev_now(c), r1);
}

/*
 * History used by the watch tests:
 *  r1 put w/a, r2 put w/b, r3 put other (outside), r4 del w/a,
 *  r5 txn {put w/c, put w/d, del w/b}, r6 put wx (a neighbour of "w/").
 */
static int64_t watch_history(struct ctx *c)
{
	int64_t r1, rev = -1;

	r1 = put(c, K(c, "w/a"), "A");
	put(c, K(c, "w/b"), "B");
	put(c, K(c, "other"), "O");
	assert_int_equal(store_delete(c->s, K(c, "w/a"), &rev), 0);
	assert_int_equal(rev, r1 + 3);
	{
		struct store_cmp cmp = { .key = K(c, "w/b"), .mod_rev = r1 + 1 };
		struct store_op ops[] = {
			{ .type = STORE_PUT, .key = K(c, "w/c"), .value = "C" },
			{ .type = STORE_PUT, .key = K(c, "w/d"), .value = "D" },
			{ .type = STORE_DELETE, .key = K(c, "w/b") },
		};
		struct store_txn t = { &cmp, 1, ops, 3 };

		assert_int_equal(store_txn(c->s, &t, &rev), 0);
		assert_int_equal(rev, r1 + 4);
	}
	put(c, K(c, "wx"), "X");
	return r1;
}

static void test_watch_history(void **state)
{
	struct ctx *c = *state;
	struct store_events ev = { 0 };
	struct store_watch *w = NULL;
	int64_t r1 = watch_history(c);

	assert_int_equal(store_watch(c->s, K(c, "w/"), r1, &w), 0);
	assert_non_null(w);
	collect(w, 6, &ev);
	assert_event(&ev.v[0], STORE_PUT, K(c, "w/a"), "A", r1);
	assert_event(&ev.v[1], STORE_PUT, K(c, "w/b"), "B", r1 + 1);
	assert_event(&ev.v[2], STORE_DELETE, K(c, "w/a"), NULL, r1 + 3);
	/* one transaction: one revision, events in the order of its ops */
	assert_event(&ev.v[3], STORE_PUT, K(c, "w/c"), "C", r1 + 4);
	assert_event(&ev.v[4], STORE_PUT, K(c, "w/d"), "D", r1 + 4);
	assert_event(&ev.v[5], STORE_DELETE, K(c, "w/b"), NULL, r1 + 4);
	store_events_clear(&ev);
	store_watch_free(w);

	/* a prefix without the slash also sees the neighbour */
	assert_int_equal(store_watch(c->s, K(c, "w"), r1 + 4, &w), 0);
	collect(w, 4, &ev);
	assert_event(&ev.v[3], STORE_PUT, K(c, "wx"), "X", r1 + 5);
	store_events_clear(&ev);
	store_watch_free(w);

	/* the whole test prefix, from the middle of the transaction's era */
	assert_int_equal(store_watch(c->s, c->prefix, r1 + 2, &w), 0);
	collect(w, 6, &ev);
	assert_event(&ev.v[0], STORE_PUT, K(c, "other"), "O", r1 + 2);
	assert_event(&ev.v[5], STORE_PUT, K(c, "wx"), "X", r1 + 5);
	store_events_clear(&ev);
	store_watch_free(w);
	store_watch_free(NULL);
}

static void test_watch_resume(void **state)
{
	struct ctx *c = *state;
	struct store_events ev = { 0 };
	struct store_watch *w = NULL;
	int64_t r1 = watch_history(c), r7;

	/* resuming after r3 (as after a reconnect) gives the rest, once */
	assert_int_equal(store_watch(c->s, K(c, "w/"), r1 + 3, &w), 0);
	collect(w, 4, &ev);
	assert_event(&ev.v[0], STORE_DELETE, K(c, "w/a"), NULL, r1 + 3);
	assert_event(&ev.v[3], STORE_DELETE, K(c, "w/b"), NULL, r1 + 4);
	store_events_clear(&ev);
	assert_int_equal(store_watch_read(w, &ev), 0);
	assert_int_equal(ev.n, 0);

	/* then only what is new, appended to what the caller holds */
	r7 = put(c, K(c, "w/e"), "E");
	put(c, K(c, "outside"), "no");
	collect(w, 1, &ev);
	assert_event(&ev.v[0], STORE_PUT, K(c, "w/e"), "E", r7);
	assert_int_equal(store_delete(c->s, K(c, "w/e"), NULL), 0);
	collect(w, 2, &ev);
	assert_event(&ev.v[0], STORE_PUT, K(c, "w/e"), "E", r7);
	assert_event(&ev.v[1], STORE_DELETE, K(c, "w/e"), NULL, r7 + 2);
	store_events_clear(&ev);
	store_watch_free(w);

	/* from the revision after the newest: nothing yet */
	assert_int_equal(store_watch(c->s, K(c, "w/"), rev_now(c) + 1, &w), 0);
	assert_int_equal(store_watch_read(w, &ev), 0);
	assert_int_equal(ev.n, 0);
	store_watch_free(w);
}

static void test_watch_fd(void **state)
{
	struct ctx *c = *state;
	struct store_events ev = { 0 };
	struct store_watch *w = NULL;
	struct pollfd p;
	int64_t rev;
	int fd;

	assert_int_equal(store_watch(c->s, K(c, "fd/"), rev_now(c) + 1, &w), 0);
	fd = store_watch_fd(w);
	if (fd < 0) {
		store_watch_free(w);
		skip();
	}
	assert_int_equal(store_watch_read(w, &ev), 0);
	assert_int_equal(ev.n, 0);
	rev = put(c, K(c, "fd/k"), "v");
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, WAIT_MS), 1);
	assert_true(p.revents & POLLIN);
	collect(w, 1, &ev);
	assert_event(&ev.v[0], STORE_PUT, K(c, "fd/k"), "v", rev);
	store_events_clear(&ev);
	store_watch_free(w);
}

static void test_watch_other_handle(void **state)
{
	struct ctx *c = *state;
	struct store_events ev = { 0 };
	struct store_watch *w = NULL;
	struct store *s2 = NULL;
	struct store_kv kv = { 0 };
	int64_t rev = -1;

	assert_int_equal(factory->open(factory->ctx, &s2), 0);
	assert_int_equal(store_watch(c->s, K(c, "o/"), rev_now(c) + 1, &w), 0);
	assert_int_equal(store_put(s2, K(c, "o/k"), "from-2", &rev), 0);
	/* what one handle wrote, the other reads */
	assert_int_equal(store_get(c->s, K(c, "o/k"), &kv), 0);
	assert_string_equal(kv.value, "from-2");
	assert_int_equal(kv.mod_rev, rev);
	store_kv_clear(&kv);
	assert_int_equal(rev_now(c), rev);
	collect(w, 1, &ev);
	assert_event(&ev.v[0], STORE_PUT, K(c, "o/k"), "from-2", rev);
	store_events_clear(&ev);
	store_watch_free(w);
	store_close(s2);
}

static void test_restart(void **state)
{
	struct ctx *c = *state;
	struct store_events ev = { 0 };
	struct store_watch *w = NULL;
	int64_t r1, last, rev = -1;

	r1 = put(c, K(c, "r/a"), "1");
	put(c, K(c, "r/b"), "2");
	put(c, K(c, "r/a"), "3");
	assert_int_equal(store_delete(c->s, K(c, "r/b"), &last), 0);

	reopen(c);
	assert_int_equal(rev_now(c), last);
	assert_kv(c, K(c, "r/a"), "3", r1, r1 + 2);
	assert_absent(c, K(c, "r/b"));
	{
		const char *keys[] = { K(c, "r/a"), NULL };

		assert_list(c, K(c, "r/"), keys);
	}
	/* history survives too */
	assert_int_equal(store_watch(c->s, K(c, "r/"), r1, &w), 0);
	collect(w, 4, &ev);
	assert_event(&ev.v[0], STORE_PUT, K(c, "r/a"), "1", r1);
	assert_event(&ev.v[3], STORE_DELETE, K(c, "r/b"), NULL, last);
	store_events_clear(&ev);
	store_watch_free(w);
	/* and the counter goes on from where it was */
	assert_int_equal(store_put(c->s, K(c, "r/c"), "4", &rev), 0);
	assert_int_equal(rev, last + 1);
}

/*
 * Runs fn(i, arg) in @n forked children, released together, and collects
 * their exit codes.  Children use no cmocka call: they report by exit code.
 */
static void run_children(int n, int (*fn)(int i, void *arg), void *arg, int *codes)
{
	pid_t pids[16];
	int gate[2], i, st;

	assert_true(n <= 16);
	assert_int_equal(pipe(gate), 0);
	fflush(NULL);
	for (i = 0; i < n; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			char b;

			close(gate[1]);
			/* EOF when the parent closes its end: everyone starts */
			while (read(gate[0], &b, 1) < 0 && errno == EINTR)
				;
			close(gate[0]);
			_exit(fn(i, arg));
		}
	}
	close(gate[0]);
	close(gate[1]);
	for (i = 0; i < n; i++) {
		while (waitpid(pids[i], &st, 0) < 0)
			assert_int_equal(errno, EINTR);
		codes[i] = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
}

static int cas_child(int i, void *arg)
{
	const char *key = arg;
	struct store *s = NULL;
	int k, ret = 0, tries;

	(void)i;
	if (factory->open(factory->ctx, &s))
		return 2;
	for (k = 0; k < NINCR && !ret; k++) {
		for (tries = 0; tries < 100000; tries++) {
			struct store_kv kv = { 0 };
			char v[32];

			ret = store_get(s, key, &kv);
			if (ret)
				break;
			snprintf(v, sizeof(v), "%ld", strtol(kv.value, NULL, 10) + 1);
			{
				struct store_cmp cmp = { .key = key, .mod_rev = kv.mod_rev };
				struct store_op op = { .type = STORE_PUT, .key = key, .value = v };
				struct store_txn t = { &cmp, 1, &op, 1 };

				ret = store_txn(s, &t, NULL);
			}
			store_kv_clear(&kv);
			if (ret != CS_ECONFLICT)
				break;
		}
	}
	store_close(s);
	return ret ? 3 : 0;
}

static void test_concurrent_cas(void **state)
{
	struct ctx *c = *state;
	struct store_kv kv = { 0 };
	int codes[NPROC], i;
	char key[256];
	int64_t before;

	snprintf(key, sizeof(key), "%s", K(c, "counter"));
	put(c, key, "0");
	before = rev_now(c);
	/* the children must not share our handle */
	store_close(c->s);
	c->s = NULL;
	run_children(NPROC, cas_child, key, codes);
	for (i = 0; i < NPROC; i++)
		assert_int_equal(codes[i], 0);
	reopen(c);
	assert_int_equal(store_get(c->s, key, &kv), 0);
	assert_int_equal(strtol(kv.value, NULL, 10), NPROC * NINCR);
	/* failed compares wrote nothing: exactly one revision per increment */
	assert_int_equal(kv.mod_rev, before + NPROC * NINCR);
	assert_int_equal(rev_now(c), before + NPROC * NINCR);
	store_kv_clear(&kv);
}

static int create_child(int i, void *arg)
{
	const char *key = arg;
	struct store *s = NULL;
	char v[32];
	int ret;

	if (factory->open(factory->ctx, &s))
		return 2;
	snprintf(v, sizeof(v), "%d", i);
	{
		struct store_cmp cmp = { .key = key, .mod_rev = 0 };
		struct store_op op = { .type = STORE_PUT, .key = key, .value = v };
		struct store_txn t = { &cmp, 1, &op, 1 };

		ret = store_txn(s, &t, NULL);
	}
	store_close(s);
	if (ret == 0)
		return 10;
	return ret == CS_ECONFLICT ? 20 : 3;
}

static void test_concurrent_create(void **state)
{
	struct ctx *c = *state;
	struct store_kv kv = { 0 };
	int codes[NPROC], i, winner = -1, losers = 0;
	char key[256];
	int64_t before;

	snprintf(key, sizeof(key), "%s", K(c, "leader"));
	before = rev_now(c);
	store_close(c->s);
	c->s = NULL;
	run_children(NPROC, create_child, key, codes);
	for (i = 0; i < NPROC; i++) {
		if (codes[i] == 10) {
			assert_int_equal(winner, -1);
			winner = i;
		} else {
			assert_int_equal(codes[i], 20);
			losers++;
		}
	}
	assert_int_not_equal(winner, -1);
	assert_int_equal(losers, NPROC - 1);
	reopen(c);
	assert_int_equal(store_get(c->s, key, &kv), 0);
	assert_int_equal(strtol(kv.value, NULL, 10), winner);
	assert_int_equal(kv.create_rev, before + 1);
	assert_int_equal(rev_now(c), before + 1);
	store_kv_clear(&kv);
}

/* Events of writes through the watch's own handle say so; others do not. */
static void test_watch_own(void **state)
{
	struct ctx *c = *state;
	struct store_events ev = { 0 };
	struct store_watch *w = NULL;
	struct store *other = NULL;
	struct store_op ops[] = { { STORE_DELETE, K(c, "o/a"), NULL } };
	struct store_txn t = { NULL, 0, ops, 1 };
	int64_t r0 = rev_now(c), rev;

	assert_int_equal(factory->open(factory->ctx, &other), 0);
	assert_int_equal(store_watch(c->s, K(c, "o/"), r0 + 1, &w), 0);
	assert_int_equal(store_put(c->s, K(c, "o/a"), "mine", &rev), 0);
	assert_int_equal(store_put(other, K(c, "o/b"), "theirs", &rev), 0);
	/* a txn that changes nothing takes no revision for its own */
	ops[0].key = K(c, "o/none");
	assert_int_equal(store_txn(c->s, &t, &rev), 0);
	assert_int_equal(store_delete(other, K(c, "o/a"), &rev), 0);
	ops[0].key = K(c, "o/b");
	assert_int_equal(store_txn(c->s, &t, &rev), 0);
	collect(w, 4, &ev);
	assert_event(&ev.v[0], STORE_PUT, K(c, "o/a"), "mine", r0 + 1);
	assert_true(ev.v[0].own);
	assert_event(&ev.v[1], STORE_PUT, K(c, "o/b"), "theirs", r0 + 2);
	assert_false(ev.v[1].own);
	assert_event(&ev.v[2], STORE_DELETE, K(c, "o/a"), NULL, r0 + 3);
	assert_false(ev.v[2].own);
	assert_event(&ev.v[3], STORE_DELETE, K(c, "o/b"), NULL, r0 + 4);
	assert_true(ev.v[3].own);
	store_events_clear(&ev);
	store_watch_free(w);
	store_close(other);
}

static long ms_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

/* A key on a lease that is not kept alive goes when the lease expires,
 * not before, as a delete under a revision of its own; then the lease is
 * gone for every call that names it. */
static void test_lease_expire(void **state)
{
	struct ctx *c = *state;
	struct store_events ev = { 0 };
	struct store_watch *w = NULL;
	struct timespec t0, t1;
	int64_t id = 0, granted = 0, r0, rev = 0, ttl = 0;

	assert_int_equal(store_lease_grant(c->s, 0, &id, &granted), CS_EINVAL);
	r0 = rev_now(c);
	assert_int_equal(store_lease_grant(c->s, 2, &id, &granted), 0);
	assert_true(id > 0);
	assert_true(granted >= 2);
	/* a lease alone changes no key, hence no revision */
	assert_int_equal(rev_now(c), r0);
	assert_int_equal(store_put_lease(c->s, K(c, "l/a"), "A", -1, &rev), CS_EINVAL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(store_put_lease(c->s, K(c, "l/a"), "A", id, &rev), 0);
	assert_int_equal(rev, r0 + 1);
	assert_kv(c, K(c, "l/a"), "A", r0 + 1, r0 + 1);
	assert_int_equal(store_watch(c->s, K(c, "l/"), r0 + 1, &w), 0);
	collect(w, 1, &ev);
	assert_event(&ev.v[0], STORE_PUT, K(c, "l/a"), "A", r0 + 1);
	collect(w, 2, &ev);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_event(&ev.v[1], STORE_DELETE, K(c, "l/a"), NULL, r0 + 2);
	assert_true(ms_between(&t0, &t1) >= (granted - 1) * 1000);
	store_events_clear(&ev);
	store_watch_free(w);
	assert_absent(c, K(c, "l/a"));
	assert_int_equal(rev_now(c), r0 + 2);
	assert_int_equal(store_lease_keepalive(c->s, id, &ttl), CS_ENOENT);
	assert_int_equal(store_lease_revoke(c->s, id, &rev), CS_ENOENT);
	assert_int_equal(store_put_lease(c->s, K(c, "l/b"), "B", id, &rev), CS_ENOENT);
	assert_absent(c, K(c, "l/b"));
	assert_int_equal(rev_now(c), r0 + 2);
}

/* Kept alive, a lease outlives its TTL; revoked, its keys go at once,
 * together, under one revision. */
static void test_lease_keepalive_revoke(void **state)
{
	struct ctx *c = *state;
	struct store_events ev = { 0 };
	struct store_watch *w = NULL;
	struct timespec t0, t1;
	int64_t id = 0, granted = 0, r0, rev = 0, ttl = 0;
	const char *const both[] = { K(c, "k/a"), K(c, "k/b"), NULL };

	assert_int_equal(store_lease_grant(c->s, 2, &id, &granted), 0);
	assert_int_equal(store_put_lease(c->s, K(c, "k/a"), "A", id, &r0), 0);
	assert_int_equal(store_put_lease(c->s, K(c, "k/b"), "B", id, &rev), 0);
	assert_int_equal(rev, r0 + 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		ttl = 0;
		assert_int_equal(store_lease_keepalive(c->s, id, &ttl), 0);
		assert_true(ttl > 0 && ttl <= granted);
		usleep(400000);
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while (ms_between(&t0, &t1) < (granted + 1) * 1000);
	assert_list(c, K(c, "k/"), both);
	assert_int_equal(store_watch(c->s, K(c, "k/"), r0 + 2, &w), 0);
	assert_int_equal(store_lease_revoke(c->s, id, &rev), 0);
	assert_int_equal(rev, r0 + 2);
	collect(w, 2, &ev);
	assert_event(&ev.v[0], STORE_DELETE, K(c, "k/a"), NULL, r0 + 2);
	assert_event(&ev.v[1], STORE_DELETE, K(c, "k/b"), NULL, r0 + 2);
	store_events_clear(&ev);
	store_watch_free(w);
	assert_absent(c, K(c, "k/a"));
	assert_absent(c, K(c, "k/b"));
	assert_int_equal(store_lease_revoke(c->s, id, &rev), CS_ENOENT);
	assert_int_equal(store_lease_keepalive(c->s, id, &ttl), CS_ENOENT);
	assert_int_equal(rev_now(c), r0 + 2);
}

/* A put without a lease detaches the key: the lease's end leaves it. */
static void test_lease_detach(void **state)
{
	struct ctx *c = *state;
	int64_t id = 0, id2 = 0, rev = 0, r;

	assert_int_equal(store_lease_grant(c->s, 30, &id, NULL), 0);
	assert_int_equal(store_lease_grant(c->s, 30, &id2, NULL), 0);
	assert_true(id2 != id);
	assert_int_equal(store_put_lease(c->s, K(c, "d/a"), "1", id, &rev), 0);
	assert_int_equal(store_put(c->s, K(c, "d/a"), "2", &r), 0);
	/* moved from one lease to another */
	assert_int_equal(store_put_lease(c->s, K(c, "d/b"), "1", id, &rev), 0);
	assert_int_equal(store_put_lease(c->s, K(c, "d/b"), "2", id2, &rev), 0);
	r = rev_now(c);
	/* a lease holding no key: its end changes nothing */
	assert_int_equal(store_lease_revoke(c->s, id, &rev), 0);
	assert_int_equal(rev_now(c), r);
	assert_kv(c, K(c, "d/a"), "2", r - 3, r - 2);
	assert_int_equal(store_lease_revoke(c->s, id2, &rev), 0);
	assert_int_equal(rev, r + 1);
	assert_absent(c, K(c, "d/b"));
	assert_kv(c, K(c, "d/a"), "2", r - 3, r - 2);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int store_conformance_run(const struct store_factory *f)
{
	const struct CMUnitTest tests[] = {
		T(test_get_put),
		T(test_delete),
		T(test_revisions),
		T(test_invalid),
		T(test_list_prefix),
		T(test_list_special),
		T(test_txn_success),
		T(test_txn_failure),
		T(test_txn_create),
		T(test_txn_nochange),
		T(test_watch_history),
		T(test_watch_resume),
		T(test_watch_fd),
		T(test_watch_other_handle),
		T(test_restart),
		T(test_concurrent_cas),
		T(test_concurrent_create),
		T(test_watch_own),
		T(test_lease_expire),
		T(test_lease_keepalive_revoke),
		T(test_lease_detach),
	};
	struct timespec ts;
	char name[128];

	factory = f;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* unique across runs against a store that outlives them */
	snprintf(run_id, sizeof(run_id), "%ld.%ld.%ld", (long)getpid(), (long)ts.tv_sec,
		 ts.tv_nsec);
	test_seq = 0;
	snprintf(name, sizeof(name), "store conformance (%s)", f->name);
	return cmocka_run_group_tests_name(name, tests, NULL, NULL);
}
