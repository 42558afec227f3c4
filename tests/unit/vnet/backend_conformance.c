/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The backend conformance suite; see backend_conformance.h. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "cs/cs.h"
#include "vnet/ipam.h"
#include "vnet/vnet.h"
#include "backend_conformance.h"

/* cmocka hands tests no context of the run, so the factory is global */
static const struct backend_factory *factory;
static unsigned test_seq;

struct ctx {
	struct vnet_backend *b;
	char tenant[16];         /* one of each test's own */
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	snprintf(c->tenant, sizeof(c->tenant), "conf%u", ++test_seq);
	if (factory->open(factory->ctx, &c->b) != 0 || !c->b) {
		free(c);
		return -1;
	}
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	/* what a failed test left: every vnet of its tenant */
	for (int i = 0; i < 3; i++) {
		char v[8];
		snprintf(v, sizeof(v), "v%d", i);
		vb_endpoint_destroy(c->b, c->tenant, v, "a");
		vb_endpoint_destroy(c->b, c->tenant, v, "b");
		vb_vnet_destroy(c->b, c->tenant, v);
	}
	vb_close(c->b);
	free(c);
	return 0;
}

/* vnet v<i> of the test's tenant, on this node only, VNI 7900 + seq */
static struct vnet_spec vnet_of(struct ctx *c, int i)
{
	static char names[3][8];
	struct vnet_spec v = { 0 };

	snprintf(names[i], sizeof(names[i]), "v%d", i);
	v.tenant = c->tenant;
	v.name = names[i];
	v.id = 7900 + 3 * test_seq + (unsigned)i;
	v.has4 = true;
	assert_int_equal(cs_prefix_parse("10.79.0.0/24", &v.subnet4, NULL, 0), 0);
	return v;
}

static struct endpoint_spec endpoint_of(const char *name, const char *addr)
{
	struct endpoint_spec e = { .name = name, .has4 = true };

	assert_int_equal(cs_addr_parse(addr, &e.addr4), 0);
	return e;
}

/* Is t/v (or t/v/e) in the backend's inventory? */
static bool inventoried(struct ctx *c, bool endpoint, const char *path)
{
	struct vnet_inventory inv = { 0 };
	char full[128];
	bool found = false;

	snprintf(full, sizeof(full), "%s/%s", c->tenant, path);
	if (vb_inventory(c->b, &inv) != 0)
		fail_msg("inventory: %s", vnet_backend_error(c->b));
	char **v = endpoint ? inv.endpoints : inv.vnets;
	size_t n = endpoint ? inv.nendpoints : inv.nvnets;
	for (size_t i = 0; i < n; i++)
		found |= !strcmp(v[i], full);
	vnet_inventory_clear(&inv);
	return found;
}

#define OK(c, call) do {                                                             \
	int r_ = (call);                                                             \
	if (r_ < 0)                                                                  \
		fail_msg("%s: %d: %s", #call, r_, vnet_backend_error((c)->b));       \
} while (0)

/* a vnet is made, is listed, stays one when made again, and goes */
static void test_vnet_lifecycle(void **state)
{
	struct ctx *c = *state;
	struct vnet_spec v = vnet_of(c, 0);

	assert_false(inventoried(c, false, "v0"));
	OK(c, vb_vnet_ensure(c->b, &v));
	assert_true(inventoried(c, false, "v0"));
	OK(c, vb_vnet_ensure(c->b, &v));
	assert_true(inventoried(c, false, "v0"));
	OK(c, vb_vnet_destroy(c->b, c->tenant, "v0"));
	assert_false(inventoried(c, false, "v0"));
	/* destroying what is gone is done */
	OK(c, vb_vnet_destroy(c->b, c->tenant, "v0"));
}

/* an endpoint needs its vnet realized, and says so naming itself */
static void test_endpoint_needs_vnet(void **state)
{
	struct ctx *c = *state;
	struct vnet_spec v = vnet_of(c, 1);
	struct endpoint_spec e = endpoint_of("a", "10.79.0.2");
	char want[64];

	assert_int_equal(vb_endpoint_ensure(c->b, &v, &e), CS_ENOENT);
	snprintf(want, sizeof(want), "endpoint %s/v1/a", c->tenant);
	if (!strstr(vnet_backend_error(c->b), want))
		fail_msg("error \"%s\" does not name %s", vnet_backend_error(c->b), want);
	assert_false(inventoried(c, true, "v1/a"));
	/* paired: with the vnet it is made */
	OK(c, vb_vnet_ensure(c->b, &v));
	OK(c, vb_endpoint_ensure(c->b, &v, &e));
	assert_true(inventoried(c, true, "v1/a"));
}

/* A datagram socket of endpoint @e of v2, or on a backend of channels
 * (the user backend) a datagram channel to it; fd or code. */
static int reach(struct ctx *c, const char *e)
{
	struct vnet_channel ch = { .kind = VNET_CHAN_DGRAM };

	if (vb_gives_channels(c->b))
		return vb_endpoint_channel(c->b, c->tenant, "v2", e, &ch);
	return vb_endpoint_socket(c->b, c->tenant, "v2", e, AF_INET, SOCK_DGRAM, 0);
}

/* an endpoint is made, listed, reached (a socket, its namespace, its
 * counters), made again unchanged, and goes; then nothing reaches it */
static void test_endpoint_lifecycle(void **state)
{
	struct ctx *c = *state;
	struct vnet_spec v = vnet_of(c, 2);
	struct endpoint_spec a = endpoint_of("a", "10.79.0.2"), b = endpoint_of("b", "10.79.0.3");
	struct endpoint_stats st;
	int fd;

	OK(c, vb_vnet_ensure(c->b, &v));
	OK(c, vb_endpoint_ensure(c->b, &v, &a));
	OK(c, vb_endpoint_ensure(c->b, &v, &b));
	OK(c, vb_endpoint_ensure(c->b, &v, &a));
	assert_true(inventoried(c, true, "v2/a"));
	assert_true(inventoried(c, true, "v2/b"));
	fd = reach(c, "a");
	if (fd < 0)
		fail_msg("endpoint_socket/channel: %s", vnet_backend_error(c->b));
	close(fd);
	if (!vb_gives_channels(c->b)) {
		fd = vb_endpoint_netns(c->b, c->tenant, "v2", "a");
		if (fd < 0)
			fail_msg("endpoint_netns: %s", vnet_backend_error(c->b));
		close(fd);
	}
	OK(c, vb_endpoint_stats(c->b, c->tenant, "v2", "a", &st));

	OK(c, vb_endpoint_destroy(c->b, c->tenant, "v2", "a"));
	assert_false(inventoried(c, true, "v2/a"));
	assert_true(inventoried(c, true, "v2/b"));
	OK(c, vb_endpoint_destroy(c->b, c->tenant, "v2", "a"));
	fd = reach(c, "a");
	if (fd >= 0)
		fail_msg("a socket in a destroyed endpoint");
	assert_true(fd < 0);
	assert_true(vb_endpoint_stats(c->b, c->tenant, "v2", "a", &st) < 0);
}

/* removing shaping or rules of an endpoint that is not there is done (the
 * reconciler asks so after a delete) */
static void test_remove_absent(void **state)
{
	struct ctx *c = *state;

	OK(c, vb_endpoint_qos(c->b, c->tenant, "v0", "a", NULL));
	OK(c, vb_endpoint_policy(c->b, c->tenant, "v0", "a", NULL));
	OK(c, vb_endpoint_destroy(c->b, c->tenant, "v0", "a"));
}

/* shaping an endpoint and removing it again */
static void test_endpoint_qos(void **state)
{
	struct ctx *c = *state;
	struct vnet_spec v = vnet_of(c, 0);
	struct endpoint_spec a = endpoint_of("a", "10.79.0.2");
	struct vnet_qos q = { .rate = 1000000, .ceil = 2000000, .burst = 0,
			      .cls = VNET_QOS_BULK };

	OK(c, vb_vnet_ensure(c->b, &v));
	OK(c, vb_endpoint_ensure(c->b, &v, &a));
	OK(c, vb_endpoint_qos(c->b, c->tenant, "v0", "a", &q));
	OK(c, vb_endpoint_qos(c->b, c->tenant, "v0", "a", &q));
	OK(c, vb_endpoint_qos(c->b, c->tenant, "v0", "a", NULL));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int backend_conformance_run(const struct backend_factory *f)
{
	const struct CMUnitTest tests[] = {
		T(test_vnet_lifecycle),
		T(test_endpoint_needs_vnet),
		T(test_endpoint_lifecycle),
		T(test_remove_absent),
		T(test_endpoint_qos),
	};
	char name[128];

	factory = f;
	test_seq = 0;
	snprintf(name, sizeof(name), "backend conformance (%s)", f->name);
	return cmocka_run_group_tests_name(name, tests, NULL, NULL);
}
