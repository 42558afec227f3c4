/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Flat cost at scale (issue 17): what one operation asks of the store and
 * of the backend must not grow with the objects outside its own vnet. csd
 * runs in this process (csd_init, then csd_handle per request) with the
 * recording backend and a store wrapped to count its calls and the keys
 * its listings return; each operation is measured among 10 vnets and among
 * SCALE_N, and the counts must match.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "csd/csd.h"
#include "csdchild.h"
#include "vnet/recording.h"

#ifndef SCALE_N
#define SCALE_N 2000
#endif

struct counts {
	unsigned long get, list, listed, txn, rev, backend;
};

static struct counts now;
static const struct store_ops *real;
static struct store_ops counting;

static int c_get(struct store *s, const char *key, struct store_kv *out)
{
	now.get++;
	return real->get(s, key, out);
}

static int c_list(struct store *s, const char *prefix, struct store_kvs *out, int64_t *rev)
{
	int r = real->list(s, prefix, out, rev);

	now.list++;
	if (r == 0)
		now.listed += out->n;
	return r;
}

static int c_txn(struct store *s, const struct store_txn *t, int64_t *rev)
{
	now.txn++;
	return real->txn(s, t, rev);
}

static int c_revision(struct store *s, int64_t *rev)
{
	now.rev++;
	return real->revision(s, rev);
}

static unsigned long lines(const char *log)
{
	unsigned long n = *log != '\0';

	for (; *log; log++)
		n += *log == '\n';
	return n;
}

/* One request as root; the reply must be ok. */
static void req(struct csd *d, const char *fmt, ...)
{
	struct principal root = { .uid = 0, .admin = true };
	char msg[4096];
	int fds[CS_WIRE_MAX_FDS], nfds;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_t *reply = csd_handle(d, NULL, &root, msg, strlen(msg), fds, &nfds);
	if (!json_is_true(json_object_get(reply, "ok"))) {
		char *t = json_dumps(reply, 0);
		fail_msg("%s -> %s", msg, t);
	}
	json_decref(reply);
}

/* The counts of one request, store memo on as the server has it. */
static struct counts measure(struct csd *d, const char *msg)
{
	memset(&now, 0, sizeof(now));
	vnet_recording_reset(d->backend);
	store_memo(d->store, true);
	req(d, "%s", msg);
	store_memo(d->store, false);
	now.backend = lines(vnet_recording_log(d->backend));
	return now;
}

/* A csd holding @n vnets (of 100 tenants at most), one endpoint each. */
static void populate(struct csd *d, int n)
{
	json_t *f = json_pack("{s:{}, s:{}}", "tenants", "vnets");

	for (int i = 0; i < n; i++) {
		char t[32], tv[64];
		snprintf(t, sizeof(t), "t%d", i % 100);
		snprintf(tv, sizeof(tv), "%s/v%d", t, i);
		json_object_set_new(json_object_get(f, "tenants"), t, json_object());
		json_object_set_new(json_object_get(f, "vnets"), tv,
				    json_pack("{s:s, s:{s:{}}}", "subnet", "10.0.0.0/24",
					      "endpoints", "e"));
	}
	json_t *m = json_pack("{s:i, s:s, s:{s:o}}", "id", 1, "op", "apply", "args", "file", f);
	char *text = json_dumps(m, JSON_COMPACT);
	struct principal root = { .uid = 0, .admin = true };
	int fds[CS_WIRE_MAX_FDS], nfds;
	json_t *reply = csd_handle(d, NULL, &root, text, strlen(text), fds, &nfds);
	assert_true(json_is_true(json_object_get(reply, "ok")));
	json_decref(reply);
	free(text);
	json_decref(m);
	/* what csd reads once in its life (the VNIs in use) is read now */
	req(d, "{\"id\":1,\"op\":\"vnet.create\",\"args\":{\"name\":\"t0/warm\","
	    "\"spec\":{\"subnet\":\"10.9.0.0/24\"}}}");
	req(d, "{\"id\":1,\"op\":\"vnet.delete\",\"args\":{\"name\":\"t0/warm\"}}");
}

static const char *const ops[][2] = {
	{ "tenant create", "{\"id\":1,\"op\":\"tenant.create\",\"args\":{\"name\":\"zz\"}}" },
	{ "vnet create", "{\"id\":1,\"op\":\"vnet.create\",\"args\":{\"name\":\"zz/v\","
			 "\"spec\":{\"subnet\":\"10.9.0.0/24\"}}}" },
	{ "endpoint create", "{\"id\":1,\"op\":\"endpoint.create\",\"args\":{\"name\":\"zz/v/e\","
			     "\"spec\":{}}}" },
	{ "endpoint show", "{\"id\":1,\"op\":\"endpoint.show\",\"args\":{\"name\":\"zz/v/e\"}}" },
	{ "endpoint list of a vnet", "{\"id\":1,\"op\":\"endpoint.list\",\"args\":{\"filter\":\"zz/v\"}}" },
	{ "vnet show", "{\"id\":1,\"op\":\"vnet.show\",\"args\":{\"name\":\"zz/v\"}}" },
	{ "endpoint delete", "{\"id\":1,\"op\":\"endpoint.delete\",\"args\":{\"name\":\"zz/v/e\"}}" },
	{ "vnet delete", "{\"id\":1,\"op\":\"vnet.delete\",\"args\":{\"name\":\"zz/v\"}}" },
	{ "tenant delete", "{\"id\":1,\"op\":\"tenant.delete\",\"args\":{\"name\":\"zz\"}}" },
};
#define NOPS (sizeof(ops) / sizeof(ops[0]))

/* Start a csd in @dir holding @n vnets; measure every op. */
static void run(int n, struct counts out[NOPS])
{
	char dir[64], sock[128], state[128];
	struct csd d = { 0 };
	char err[512];

	assert_int_equal(ut_tmpdir(dir, sizeof(dir), "scale"), 0);
	snprintf(sock, sizeof(sock), "%s/csd.sock", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	char *argv[] = { "csd", "-S", sock, "-D", state, "-p", "us", "-n", "n1", "-l", "error",
			 "--backend", "recording", NULL };
	assert_int_equal(csd_config_load(&d.cfg, 13, argv, err, sizeof(err)), 0);
	log_set_level(d.cfg.log_level);
	assert_int_equal(csd_init(&d), 0);
	real = d.store->ops;
	counting = *real;
	counting.get = c_get;
	counting.list = c_list;
	counting.txn = c_txn;
	counting.revision = c_revision;
	d.store->ops = &counting;
	populate(&d, n);
	for (size_t i = 0; i < NOPS; i++)
		out[i] = measure(&d, ops[i][1]);
	d.store->ops = real;
	csd_fini(&d);
	csd_config_free(&d.cfg);
	ut_rmdir(dir);
}

static void test_flat(void **state)
{
	struct counts few[NOPS], many[NOPS];
	int bad = 0;

	(void)state;
	run(10, few);
	run(SCALE_N, many);
	for (size_t i = 0; i < NOPS; i++) {
		const struct counts *a = &few[i], *b = &many[i];
		bool same = !memcmp(a, b, sizeof(*a));
		print_message("%-26s get %lu/%lu list %lu/%lu listed %lu/%lu txn %lu/%lu rev %lu/%lu "
			      "backend %lu/%lu%s\n", ops[i][0], a->get, b->get, a->list, b->list,
			      a->listed, b->listed, a->txn, b->txn, a->rev, b->rev, a->backend,
			      b->backend, same ? "" : "   <- grows");
		bad += !same;
	}
	if (bad)
		fail_msg("%d operations cost more among %d vnets than among 10", bad, SCALE_N);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flat),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
