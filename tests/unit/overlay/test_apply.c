/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * apply and export through a real csd loop (a forked child, the recording
 * backend), driven through libcs as cs-ctl drives it: apply(export()) is a
 * no-op, a dry run and a refused apply leave the store revision alone, apply
 * is idempotent, endpoints and vnets follow the file, prune is for
 * administrators, and another user's tenant cannot be taken over.
 *   test_apply EXAMPLES_DIR
 */
#include <ftw.h>
#include <grp.h>
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
#include "proto.h"
#include "csd/csd.h"
#include "csdchild.h"

static const char *examples_dir;
static char tmpdir[64];
static struct csd_child child = { .pid = -1 };
static cs_t *g;

static int group_setup(void **state)
{
	const char *const extra[] = { "-p", "ua", "-n", "n1", NULL };

	(void)state;
	if (ut_tmpdir(tmpdir, sizeof(tmpdir), "apply") < 0)
		return -1;
	return csd_child_start(&child, tmpdir, "csd.sock", extra, NULL, &g);
}

static int group_teardown(void **state)
{
	(void)state;
	cs_close(g);
	csd_child_stop(&child);
	ut_rmdir(tmpdir);
	return 0;
}

/* ---- helpers ---- */

static json_t *example(void)
{
	char path[1024];
	json_error_t e;

	snprintf(path, sizeof(path), "%s/two-tenants.json", examples_dir);
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
	if (!j)
		fail_msg("%s: %s", path, e.text);
	return j;
}

/* apply @file; returns csd's code, the result in *res (NULL on refusal) */
static int apply_on(cs_t *cs, const json_t *file, bool dry_run, bool prune, json_t **res)
{
	json_t *args = json_pack("{s:O, s:b, s:b}", "file", file, "dry_run", dry_run, "prune",
				 prune);
	char *text = json_dumps(args, JSON_COMPACT), *out = NULL;
	int r = cs_call(cs, "apply", text, &out);

	*res = r == 0 && out ? ut_parse(out) : NULL;
	cs_free(out);
	free(text);
	json_decref(args);
	return r;
}

static json_t *apply_ok(const json_t *file, bool dry_run, bool prune)
{
	json_t *res = NULL;
	int r = apply_on(g, file, dry_run, prune, &res);

	if (r != 0)
		fail_msg("apply: %s: %s", cs_strerror(r), cs_last_error(g));
	assert_true(json_is_true(json_object_get(res, "dry_run")) == dry_run);
	return res;
}

static size_t nchanges(const json_t *res)
{
	return json_array_size(json_object_get(res, "changes"));
}

/* Is there a change line starting with @prefix? */
static bool has_change(const json_t *res, const char *prefix)
{
	size_t i;
	json_t *c;

	json_array_foreach(json_object_get(res, "changes"), i, c)
		if (!strncmp(json_string_value(c), prefix, strlen(prefix)))
			return true;
	return false;
}

static json_t *export_state(cs_t *cs)
{
	char *out = NULL;

	if (cs_call(cs, "export", NULL, &out) != 0)
		fail_msg("export: %s", cs_last_error(cs));
	json_t *j = ut_parse(out);
	cs_free(out);
	return j;
}

static json_t *show_ep(const char *name)
{
	char *s = NULL;

	if (cs_endpoint_show(g, name, &s) != 0)
		return NULL;
	json_t *j = ut_parse(s);
	cs_free(s);
	return j;
}

static json_int_t vnet_int(const char *name, const char *key)
{
	char *s = NULL;

	if (cs_vnet_show(g, name, &s) != 0)
		fail_msg("vnet show %s: %s", name, cs_last_error(g));
	json_t *j = ut_parse(s);
	json_int_t v = json_integer_value(json_object_get(j, key));
	json_decref(j);
	cs_free(s);
	return v;
}

#define SUMMARY(res, c, u, d)                                                                \
	do {                                                                                 \
		const json_t *s_ = json_object_get(res, "summary");                          \
		assert_int_equal(json_integer_value(json_object_get(s_, "created")), c);     \
		assert_int_equal(json_integer_value(json_object_get(s_, "updated")), u);     \
		assert_int_equal(json_integer_value(json_object_get(s_, "deleted")), d);     \
	} while (0)

/* ---- tests ---- */

static void test_dry_run_first(void **state)
{
	json_t *file = example();
	int64_t rev = ut_revision(g);

	(void)state;
	json_t *res = apply_ok(file, true, false);
	assert_int_equal(nchanges(res), 9);
	SUMMARY(res, 9, 0, 0);
	assert_true(has_change(res, "+ tenant acme"));
	assert_true(has_change(res, "+ endpoint umbrella/blue/files (10.0.0.9)"));
	assert_int_equal(ut_revision(g), rev);
	assert_null(show_ep("acme/blue/web"));
	json_decref(res);
	json_decref(file);
}

static void test_apply_and_again(void **state)
{
	json_t *file = example();

	(void)state;
	json_t *res = apply_ok(file, false, false);
	SUMMARY(res, 9, 0, 0);
	json_decref(res);
	json_t *ep = show_ep("acme/blue/web");
	assert_non_null(ep);
	assert_string_equal(json_string_value(json_object_get(ep, "address")), "10.0.0.2");
	assert_string_equal(json_string_value(json_object_get(ep, "state")), "up");
	json_decref(ep);
	ep = show_ep("umbrella/blue/files");
	assert_string_equal(json_string_value(json_object_get(ep, "address")), "10.0.0.9");
	json_decref(ep);
	/* twice: nothing to do, and the store does not move */
	int64_t rev = ut_revision(g);
	res = apply_ok(file, false, false);
	assert_int_equal(nchanges(res), 0);
	SUMMARY(res, 0, 0, 0);
	assert_int_equal(ut_revision(g), rev);
	json_decref(res);
	json_decref(file);
}

static void test_export_roundtrip(void **state)
{
	(void)state;
	json_t *exp = export_state(g);
	assert_non_null(json_object_get(json_object_get(exp, "tenants"), "acme"));
	json_t *web = json_object_get(json_object_get(json_object_get(json_object_get(exp, "vnets"),
				      "acme/blue"), "endpoints"), "web");
	assert_non_null(web);
	/* the spec only: nothing csd allocated */
	assert_null(json_object_get(web, "addresses"));
	int64_t rev = ut_revision(g);
	json_t *res = apply_ok(exp, false, false);
	assert_int_equal(nchanges(res), 0);
	assert_int_equal(ut_revision(g), rev);
	json_decref(res);
	json_decref(exp);
}

static void test_refused_changes_nothing(void **state)
{
	json_t *file = example(), *res = NULL;
	json_t *eps = json_object_get(json_object_get(json_object_get(file, "vnets"), "acme/blue"),
				      "endpoints");
	char name[32];

	(void)state;
	/* many good new endpoints and one bad one */
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "e%d", i);
		json_object_set_new(eps, name, json_object());
	}
	json_object_set_new(eps, "bad", json_pack("{s:s}", "address", "10.9.0.5"));
	int64_t rev = ut_revision(g);
	int r = apply_on(g, file, false, false, &res);
	assert_int_equal(r, CS_EINVAL);
	assert_null(res);
	if (!strstr(cs_last_error(g), "vnets.\"acme/blue\".endpoints.bad.address: 10.9.0.5 is "
		    "outside the subnet 10.0.0.0/24"))
		fail_msg("message: %s", cs_last_error(g));
	assert_int_equal(ut_revision(g), rev);
	assert_null(show_ep("acme/blue/e0"));
	/* several errors at once, one per line */
	json_object_set_new(json_object_get(json_object_get(file, "vnets"), "acme/blue"), "mtu",
			    json_string("big"));
	json_object_set_new(file, "extra", json_object());
	r = apply_on(g, file, false, false, &res);
	assert_int_equal(r, CS_EINVAL);
	const char *m = cs_last_error(g);
	assert_non_null(strstr(m, "extra: unknown key"));
	assert_non_null(strstr(m, "vnets.\"acme/blue\".mtu: \"big\""));
	assert_non_null(strstr(m, "\n"));
	assert_int_equal(ut_revision(g), rev);
	/* a tenant neither declared nor known */
	json_decref(file);
	file = json_pack("{s:{s:{s:s}}}", "vnets", "ghost/blue", "subnet", "10.0.0.0/24");
	assert_int_equal(apply_on(g, file, false, false, &res), CS_EINVAL);
	assert_non_null(strstr(cs_last_error(g), "tenant ghost is not declared"));
	assert_int_equal(ut_revision(g), rev);
	/* not an overlay at all */
	assert_int_equal(cs_call(g, "apply", "{\"file\":[1]}", NULL), CS_EINVAL);
	assert_int_equal(ut_revision(g), rev);
	json_decref(file);
}

static void test_edits(void **state)
{
	json_t *file = example();
	json_t *blue = json_object_get(json_object_get(file, "vnets"), "acme/blue");

	(void)state;
	/* mtu changes in place */
	json_object_set_new(blue, "mtu", json_integer(1400));
	json_t *res = apply_ok(file, false, false);
	assert_true(has_change(res, "~ vnet acme/blue: mtu (unset) -> 1400"));
	SUMMARY(res, 0, 1, 0);
	json_decref(res);
	assert_int_equal(vnet_int("acme/blue", "mtu"), 1400);
	json_int_t id = vnet_int("acme/blue", "id");
	/* an endpoint left out of the file goes; the others keep their addresses */
	json_object_del(json_object_get(blue, "endpoints"), "web");
	res = apply_ok(file, false, false);
	assert_true(has_change(res, "- endpoint acme/blue/web"));
	SUMMARY(res, 0, 0, 1);
	json_decref(res);
	assert_null(show_ep("acme/blue/web"));
	json_t *ep = show_ep("acme/blue/db");
	assert_string_equal(json_string_value(json_object_get(ep, "address")), "10.0.0.3");
	json_decref(ep);
	/* a fixed address: the endpoint gets it, and the old one is freed */
	json_object_set_new(json_object_get(json_object_get(blue, "endpoints"), "db"), "address",
			    json_string("10.0.0.2"));
	json_object_set_new(json_object_get(blue, "endpoints"), "new", json_object());
	res = apply_ok(file, false, false);
	assert_true(has_change(res, "~ endpoint acme/blue/db"));
	assert_true(has_change(res, "+ endpoint acme/blue/new (10.0.0.3)"));
	json_decref(res);
	ep = show_ep("acme/blue/db");
	assert_string_equal(json_string_value(json_object_get(ep, "address")), "10.0.0.2");
	json_decref(ep);
	/* a new subnet re-addresses the endpoints; the vnet keeps its id */
	json_object_set_new(blue, "subnet", json_pack("[s,s]", "10.5.0.0/24", "fd00:5::/64"));
	json_object_set_new(json_object_get(json_object_get(blue, "endpoints"), "db"), "address",
			    json_pack("[s,s]", "10.5.0.9", "fd00:5::9"));
	res = apply_ok(file, false, false);
	assert_true(has_change(res, "~ vnet acme/blue: subnet"));
	json_decref(res);
	ep = show_ep("acme/blue/new");
	json_t *a = json_object_get(ep, "address");
	assert_string_equal(json_string_value(json_array_get(a, 0)), "10.5.0.2");
	assert_string_equal(json_string_value(json_array_get(a, 1)), "fd00:5::2");
	json_decref(ep);
	assert_int_equal(vnet_int("acme/blue", "id"), id);
	/* and the result exports back unchanged */
	json_t *exp = export_state(g);
	int64_t rev = ut_revision(g);
	res = apply_ok(exp, false, false);
	assert_int_equal(nchanges(res), 0);
	assert_int_equal(ut_revision(g), rev);
	json_decref(res);
	json_decref(exp);
	json_decref(file);
}

static void test_ephemeral_untouched(void **state)
{
	cs_endpoint_t *ep = NULL;
	char name[128];

	(void)state;
	json_t *exp = export_state(g);
	if (cs_endpoint_open(g, "umbrella/blue", NULL, CS_EP_EPHEMERAL, &ep) != 0)
		fail_msg("endpoint open: %s", cs_last_error(g));
	snprintf(name, sizeof(name), "%s", cs_endpoint_name(ep));
	json_t *res = apply_ok(exp, false, false);
	assert_int_equal(nchanges(res), 0);
	json_decref(res);
	json_t *j = show_ep(name);
	assert_non_null(j);
	json_decref(j);
	/* export leaves it out: it is not declared */
	json_t *again = export_state(g);
	assert_true(json_equal(again, exp));
	json_decref(again);
	cs_endpoint_close(ep);
	json_decref(exp);
}

static void test_prune(void **state)
{
	(void)state;
	assert_int_equal(cs_tenant_create(g, "extra", NULL), 0);
	json_t *file = export_state(g);
	json_object_del(json_object_get(file, "tenants"), "extra");
	/* without prune an unnamed tenant stays */
	json_t *res = apply_ok(file, false, false);
	assert_int_equal(nchanges(res), 0);
	json_decref(res);
	res = apply_ok(file, true, true);
	assert_true(has_change(res, "- tenant extra"));
	json_decref(res);
	char *s = NULL;
	assert_int_equal(cs_tenant_show(g, "extra", &s), 0);
	cs_free(s);
	res = apply_ok(file, false, true);
	assert_true(has_change(res, "- tenant extra"));
	SUMMARY(res, 0, 0, 1);
	json_decref(res);
	assert_int_equal(cs_tenant_show(g, "extra", &s), CS_ENOENT);
	json_decref(file);
}

/* Every error of a file in one refusal: schema, an undeclared tenant and
 * node, a rule without an action, an admission refusal, a failing policy
 * test; and nothing changes. */
static void test_all_errors_at_once(void **state)
{
	json_t *res = NULL;
	json_error_t je;
	json_t *file = json_loads(
		"{\"tenants\": {\"errs\": {}}, \"vnets\": {"
		" \"errs/a\": {\"subnet\": \"10.40.0.0/24\", \"mtu\": \"big\", \"nodes\": [\"nosuch\"],"
		"  \"policy\": {\"default\": \"deny\", \"rules\": [{\"from\": \"any\", \"to\": \"any\","
		"   \"proto\": \"tcp\", \"ports\": [80]}]}},"
		" \"ghost/x\": {\"subnet\": \"10.41.0.0/24\"},"
		" \"errs/b\": {\"subnet\": \"10.42.0.0/24\", \"capacity\": \"10mbit\","
		"  \"endpoints\": {\"big\": {\"qos\": {\"rate\": \"100mbit\"}}}},"
		" \"errs/c\": {\"subnet\": \"10.43.0.0/24\", \"policy\": {\"default\": \"deny\","
		"  \"tests\": [{\"from\": \"p\", \"to\": \"q\", \"proto\": \"tcp\", \"port\": 80,"
		"   \"expect\": \"allow\"}]}, \"endpoints\": {\"p\": {}, \"q\": {}}}}}", 0, &je);
	static const char *const want[] = {
		"vnets.\"errs/a\".mtu: \"big\"",
		"vnets.\"errs/a\".nodes[0]: node nosuch is not declared",
		"vnets.\"errs/a\".policy.rules[0]",
		"vnets.\"ghost/x\": tenant ghost is not declared",
		"vnets.\"errs/b\".endpoints.big.qos: reservation refused",
		"vnets.\"errs/c\".policy.tests: failing tests",
	};

	(void)state;
	if (!file)
		fail_msg("test file: %s", je.text);
	int64_t rev = ut_revision(g);
	assert_int_equal(apply_on(g, file, false, false, &res), CS_EINVAL);
	const char *m = cs_last_error(g);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(m, want[i]))
			fail_msg("\"%s\" is not among the errors:\n%s", want[i], m);
	/* said once */
	assert_null(strstr(m, "tenant ghost: no such tenant"));
	assert_int_equal(ut_revision(g), rev);
	/* a dry run says the same */
	assert_int_equal(apply_on(g, file, true, false, &res), CS_EINVAL);
	assert_non_null(strstr(cs_last_error(g), "failing tests"));
	json_decref(file);
}

/* node.create and vnet.create refuse what apply refuses, so export always
 * applies again. */
static void test_creates_agree(void **state)
{
	static const char *const bad_underlays[][2] = {
		{ "0.0.0.0", "unspecified" }, { "::", "unspecified" },
		{ "127.0.0.1", "loopback" }, { "::1", "loopback" },
		{ "224.0.0.5", "multicast" }, { "ff02::1", "multicast" },
	};
	char args[256];
	json_t *res = NULL;

	(void)state;
	assert_int_equal(cs_call(g, "node.create", "{\"name\": \"n1\", \"spec\": {\"underlay\": "
				 "\"192.0.2.1\"}}", NULL), 0);
	assert_int_equal(cs_call(g, "node.create", "{\"name\": \"n2\", \"spec\": {\"underlay\": "
				 "\"192.0.2.2\"}}", NULL), 0);
	int64_t rev = ut_revision(g);
	/* another node's underlay */
	assert_int_equal(cs_call(g, "node.create", "{\"name\": \"n5\", \"spec\": {\"underlay\": "
				 "\"192.0.2.2\"}}", NULL), CS_EINVAL);
	if (!strstr(cs_last_error(g), "node n5: nodes.n5.underlay: 192.0.2.2 is also the underlay "
		    "address of node n2"))
		fail_msg("message: %s", cs_last_error(g));
	/* addresses no other node can send to */
	for (size_t i = 0; i < sizeof(bad_underlays) / sizeof(bad_underlays[0]); i++) {
		snprintf(args, sizeof(args), "{\"name\": \"n6\", \"spec\": {\"underlay\": \"%s\"}}",
			 bad_underlays[i][0]);
		assert_int_equal(cs_call(g, "node.create", args, NULL), CS_EINVAL);
		if (!strstr(cs_last_error(g), bad_underlays[i][1]))
			fail_msg("%s: %s", bad_underlays[i][0], cs_last_error(g));
	}
	/* a vnet on a node nobody declared */
	assert_int_equal(cs_vnet_create(g, "acme/far", "{\"subnet\": \"10.50.0.0/24\", \"id\": 50, "
					"\"nodes\": [\"n1\", \"nosuch\"]}"), CS_EINVAL);
	if (!strstr(cs_last_error(g), "node nosuch is not declared"))
		fail_msg("message: %s", cs_last_error(g));
	assert_int_equal(ut_revision(g), rev);
	/* apply refuses the same, naming the stored node */
	json_t *file = json_pack("{s:{s:{s:s}}}", "nodes", "n7", "underlay", "192.0.2.2");
	assert_int_equal(apply_on(g, file, false, false, &res), CS_EINVAL);
	assert_non_null(strstr(cs_last_error(g), "nodes.n7.underlay: 192.0.2.2 is also the "
			       "underlay address of node n2"));
	json_decref(file);
	/* what was accepted exports and applies again, unchanged */
	/* (the recording backend does not span nodes: the vnet lives on n2) */
	if (cs_vnet_create(g, "acme/far", "{\"subnet\": \"10.50.0.0/24\", \"nodes\": [\"n2\"]}")
	    != 0)
		fail_msg("vnet create acme/far: %s", cs_last_error(g));
	json_t *exp = export_state(g);
	rev = ut_revision(g);
	res = apply_ok(exp, false, false);
	assert_int_equal(nchanges(res), 0);
	assert_int_equal(ut_revision(g), rev);
	json_decref(res);
	json_decref(exp);
	assert_int_equal(cs_vnet_delete(g, "acme/far"), 0);
	assert_int_equal(cs_call(g, "node.delete", "{\"name\": \"n2\"}", NULL), 0);
	assert_int_equal(cs_call(g, "node.delete", "{\"name\": \"n1\"}", NULL), 0);
}

/* ---- other users (root only: the children drop to uid 1000) ---- */

#define CHILD_CHECK(cond, ...)                                                            \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "uid %u: line %d: ", (unsigned)getuid(), __LINE__); \
			fprintf(stderr, __VA_ARGS__);                                     \
			fputc('\n', stderr);                                              \
			_exit(1);                                                         \
		}                                                                         \
	} while (0)

static void child_user(void)
{
	cs_t *c = NULL;
	json_t *res = NULL, *file;
	int r;

	CHILD_CHECK(cs_open(child.sock, &c) == 0, "cannot connect");
	int64_t rev = ut_revision(c);
	/* another user's tenant: its name is taken, nothing more is said */
	file = json_pack("{s:{s:{}}, s:{s:{s:s}}}", "tenants", "private", "vnets", "private/x",
			 "subnet", "10.0.0.0/24");
	r = apply_on(c, file, false, false, &res);
	CHILD_CHECK(r == CS_EEXIST && strstr(cs_last_error(c), "tenant private: already exists"),
		    "apply naming private: %d %s", r, cs_last_error(c));
	json_decref(file);
	/* prune is for administrators */
	file = json_pack("{s:{s:{}}}", "tenants", "mine");
	r = apply_on(c, file, false, true, &res);
	CHILD_CHECK(r == CS_EPERM && strstr(cs_last_error(c), "prune"), "prune: %d %s", r,
		    cs_last_error(c));
	CHILD_CHECK(ut_revision(c) == rev, "the store moved");
	/* the permitted case: a tenant of one's own */
	r = apply_on(c, file, false, false, &res);
	CHILD_CHECK(r == 0 && json_array_size(json_object_get(res, "changes")) == 1,
		    "apply mine: %d %s", r, cs_last_error(c));
	json_decref(res);
	/* export shows only what the user may see */
	json_t *exp = export_state(c);
	CHILD_CHECK(json_object_size(json_object_get(exp, "tenants")) == 1 &&
		    json_object_get(json_object_get(exp, "tenants"), "mine"), "export sees too much");
	json_decref(exp);
	json_decref(file);
	cs_close(c);
	exit(0);
}

static void test_other_users(void **state)
{
	int st;

	(void)state;
	if (geteuid() != 0) {
		skip();
		return;
	}
	assert_int_equal(cs_tenant_create(g, "private", "{\"owners\":{\"uids\":[1001]}}"), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(1000) < 0 || setuid(1000) < 0)
			_exit(1);
		child_user();
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("the child as uid 1000 failed (status %d; see its stderr)", st);
	char *s = NULL;
	assert_int_equal(cs_vnet_show(g, "private/x", &s), CS_ENOENT);
	assert_int_equal(cs_tenant_delete(g, "private"), 0);
	assert_int_equal(cs_tenant_delete(g, "mine"), 0);
}

int main(int argc, char **argv)
{
	/* order matters: each test starts from the state the one before left */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dry_run_first),
		cmocka_unit_test(test_apply_and_again),
		cmocka_unit_test(test_export_roundtrip),
		cmocka_unit_test(test_refused_changes_nothing),
		cmocka_unit_test(test_edits),
		cmocka_unit_test(test_ephemeral_untouched),
		cmocka_unit_test(test_prune),
		cmocka_unit_test(test_all_errors_at_once),
		cmocka_unit_test(test_creates_agree),
		cmocka_unit_test(test_other_users),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: test_apply EXAMPLES_DIR\n");
		return 2;
	}
	examples_dir = argv[1];
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
