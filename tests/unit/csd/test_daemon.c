/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A fork-based client/daemon round trip: a child runs csd's own loop
 * (csd_init/csd_poll/csd_fini) with the recording backend, the parent talks
 * to it through libcs and through raw frames. Every refusal must come with
 * the right code, a message naming the object, an unchanged store revision
 * and a daemon that still answers.
 */
#include <dirent.h>
#include <errno.h>
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include <cs/cs.h>
#include "proto.h"
#include "csd/csd.h"
#include "csdchild.h"

static char tmpdir[64];
static struct csd_child child = { .pid = -1 };
static cs_t *g; /* the parent's main connection, open for the whole run */

static int group_setup(void **state)
{
	const char *const extra[] = { "-p", "ut", NULL };

	(void)state;
	/* the ownership test connects as uid 1000/1001: ut_tmpdir lets them in */
	if (ut_tmpdir(tmpdir, sizeof(tmpdir), "daemon") < 0)
		return -1;
	return csd_child_start(&child, tmpdir, "csd.sock", extra, NULL, &g);
}

static int group_teardown(void **state)
{
	(void)state;
	cs_close(g);
	g = NULL;
	/* running only when test_shutdown did not run to the end */
	csd_child_stop(&child);
	ut_rmdir(tmpdir);
	return 0;
}

/* ---- helpers ---- */

static json_t *show(int (*fn)(cs_t *, const char *, char **), cs_t *cs, const char *name)
{
	char *s = NULL;
	int r = fn(cs, name, &s);

	if (r != 0)
		fail_msg("show %s: %s: %s", name, cs_strerror(r), cs_last_error(cs));
	json_t *j = ut_parse(s);
	cs_free(s);
	return j;
}

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (!s)
		fail_msg("no string \"%s\" in the reply", key);
	return s;
}

/* Is there an element with "name" == @name in the JSON array text? */
static bool list_has(const char *list, const char *name)
{
	json_t *a = ut_parse(list), *el;
	size_t i;
	bool found = false;

	assert_true(json_is_array(a));
	json_array_foreach(a, i, el)
		if (json_is_string(json_object_get(el, "name")) &&
		    !strcmp(json_string_value(json_object_get(el, "name")), name))
			found = true;
	json_decref(a);
	return found;
}

/*
 * A refusal: the code, a message naming @needle, the store unchanged and the
 * daemon alive (the revision read after it is itself a good request).
 */
#define REFUSED(cs, call, code, needle)                                                    \
	do {                                                                               \
		int64_t rev_before_ = ut_revision(cs);                                        \
		int r_ = (call);                                                           \
		const char *m_ = cs_last_error(cs);                                        \
		if (r_ != (code))                                                          \
			fail_msg("%s: returned %d (%s: %s), expected %s", #call, r_,       \
				 cs_errname(r_) ? cs_errname(r_) : "?", m_, cs_errname(code)); \
		if (!strstr(m_, (needle)))                                                 \
			fail_msg("%s: message \"%s\" does not name \"%s\"", #call, m_,     \
				 (needle));                                                \
		int64_t rev_after_ = ut_revision(cs);                                         \
		if (rev_after_ != rev_before_)                                             \
			fail_msg("%s: refused, but the store moved from revision %lld to "  \
				 "%lld", #call, (long long)rev_before_, (long long)rev_after_); \
	} while (0)

#define OK(cs, call)                                                                       \
	do {                                                                               \
		int r_ = (call);                                                           \
		if (r_ != 0)                                                               \
			fail_msg("%s: %s: %s", #call, cs_strerror(r_), cs_last_error(cs)); \
	} while (0)

static void expect_address(cs_t *cs, const char *ep, const char *addr)
{
	json_t *j = show(cs_endpoint_show, cs, ep);
	const char *a = jstr(j, "address");

	if (strcmp(a, addr))
		fail_msg("endpoint %s got %s, expected %s", ep, a, addr);
	json_decref(j);
}

/* ---- tests ---- */

static void test_hello(void **state)
{
	cs_t *c = NULL;
	char *s = NULL, path[160];

	(void)state;
	OK(g, cs_status(g, &s));
	json_t *j = ut_parse(s);
	assert_string_equal(jstr(j, "backend"), "recording");
	assert_string_equal(jstr(j, "prefix"), "ut");
	assert_true(json_is_integer(json_object_get(j, "revision")));
	json_decref(j);
	cs_free(s);
	/* hello again on the same connection is harmless */
	OK(g, cs_call(g, "hello", "{\"version\":1}", &s));
	j = ut_parse(s);
	assert_int_equal(json_integer_value(json_object_get(j, "version")), CS_PROTOCOL_VERSION);
	assert_true(json_integer_value(json_object_get(j, "max_message")) >=
		    (json_int_t)CS_WIRE_MSG_MAX_DEFAULT);
	json_decref(j);
	cs_free(s);
	/* a version csd does not speak */
	REFUSED(g, cs_call(g, "hello", "{\"version\":99}", NULL), CS_EVERSION, "99");
	/* no daemon there */
	snprintf(path, sizeof(path), "%s/nobody.sock", tmpdir);
	assert_int_equal(cs_open(path, &c), CS_ECONN);
	assert_null(c);
}

static void test_crud(void **state)
{
	char *s = NULL;
	json_t *j;

	(void)state;
	OK(g, cs_tenant_create(g, "crud", NULL));
	j = show(cs_tenant_show, g, "crud");
	assert_string_equal(jstr(j, "name"), "crud");
	/* created without owners: owned by its creator */
	json_t *uids = json_object_get(json_object_get(j, "owners"), "uids");
	assert_int_equal(json_array_size(uids), 1);
	assert_int_equal(json_integer_value(json_array_get(uids, 0)), (json_int_t)geteuid());
	json_decref(j);
	OK(g, cs_tenant_list(g, &s));
	assert_true(list_has(s, "crud"));
	cs_free(s);

	OK(g, cs_vnet_create(g, "crud/net", "{\"subnet\":\"10.1.0.0/24\",\"mtu\":1400}"));
	j = show(cs_vnet_show, g, "crud/net");
	assert_string_equal(jstr(j, "name"), "crud/net");
	assert_string_equal(jstr(j, "subnet"), "10.1.0.0/24");
	assert_int_equal(json_integer_value(json_object_get(j, "mtu")), 1400);
	assert_true(json_integer_value(json_object_get(j, "id")) > 0);
	assert_string_equal(jstr(j, "state"), "up");
	json_decref(j);
	OK(g, cs_vnet_list(g, "crud", &s));
	assert_true(list_has(s, "crud/net"));
	cs_free(s);
	OK(g, cs_vnet_list(g, NULL, &s));
	assert_true(list_has(s, "crud/net"));
	cs_free(s);

	OK(g, cs_endpoint_create(g, "crud/net/web", "{\"groups\":[\"front\"]}"));
	j = show(cs_endpoint_show, g, "crud/net/web");
	assert_string_equal(jstr(j, "name"), "crud/net/web");
	assert_string_equal(jstr(j, "address"), "10.1.0.2");
	assert_string_equal(jstr(j, "state"), "up");
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "groups"), 0)),
			    "front");
	assert_true(json_is_false(json_object_get(j, "ephemeral")));
	json_decref(j);
	OK(g, cs_endpoint_list(g, "crud/net", &s));
	assert_true(list_has(s, "crud/net/web"));
	cs_free(s);
	OK(g, cs_endpoint_list(g, "crud", &s));
	assert_true(list_has(s, "crud/net/web"));
	cs_free(s);

	OK(g, cs_endpoint_delete(g, "crud/net/web"));
	REFUSED(g, cs_endpoint_show(g, "crud/net/web", &s), CS_ENOENT, "crud/net/web");
	assert_null(s);
	REFUSED(g, cs_endpoint_delete(g, "crud/net/web"), CS_ENOENT, "crud/net/web");
	OK(g, cs_vnet_delete(g, "crud/net"));
	REFUSED(g, cs_vnet_show(g, "crud/net", &s), CS_ENOENT, "crud/net");
	OK(g, cs_tenant_delete(g, "crud"));
	REFUSED(g, cs_tenant_show(g, "crud", &s), CS_ENOENT, "crud");
	OK(g, cs_tenant_list(g, &s));
	assert_false(list_has(s, "crud"));
	cs_free(s);
}

/* set: a merge patch with apply's validation; fixed keys and bad values
 * refused with the store unchanged */
static void test_set(void **state)
{
	json_t *j;

	(void)state;
	OK(g, cs_tenant_create(g, "setme", NULL));
	OK(g, cs_vnet_create(g, "setme/net", "{\"subnet\":\"10.1.0.0/24\",\"mtu\":1400}"));
	OK(g, cs_endpoint_create(g, "setme/net/web", "{\"groups\":[\"a\",\"b\"]}"));
	OK(g, cs_vnet_set(g, "setme/net", "{\"mtu\":1300,\"members\":{\"uids\":[1004]}}"));
	j = show(cs_vnet_show, g, "setme/net");
	assert_int_equal(json_integer_value(json_object_get(j, "mtu")), 1300);
	assert_string_equal(jstr(j, "subnet"), "10.1.0.0/24");
	json_decref(j);
	OK(g, cs_endpoint_set(g, "setme/net/web", "{\"groups\":[\"c\"]}"));
	j = show(cs_endpoint_show, g, "setme/net/web");
	assert_int_equal(json_array_size(json_object_get(j, "groups")), 1);
	assert_string_equal(jstr(j, "address"), "10.1.0.2");
	json_decref(j);
	OK(g, cs_endpoint_set(g, "setme/net/web", "{\"groups\":null}"));
	j = show(cs_endpoint_show, g, "setme/net/web");
	assert_int_equal(json_array_size(json_object_get(j, "groups")), 0);
	json_decref(j);
	OK(g, cs_tenant_set(g, "setme", "{\"owners\":{\"uids\":[0,1000]}}"));
	REFUSED(g, cs_vnet_set(g, "setme/net", "{\"subnet\":\"10.2.0.0/24\"}"), CS_EINVAL,
		"subnet cannot change in place");
	REFUSED(g, cs_endpoint_set(g, "setme/net/web", "{\"node\":\"elsewhere\"}"), CS_EINVAL,
		"node cannot change in place");
	REFUSED(g, cs_vnet_set(g, "setme/net", "{\"mtu\":99}"), CS_EINVAL, "mtu");
	REFUSED(g, cs_vnet_set(g, "setme/net", "{\"mtux\":null}"), CS_EINVAL, "mtux");
	REFUSED(g, cs_vnet_set(g, "setme/net", "{}"), CS_EINVAL, "nothing to set");
	REFUSED(g, cs_vnet_set(g, "setme/net", "[1]"), CS_EINVAL, "not a JSON object");
	REFUSED(g, cs_vnet_set(g, "setme/nope", "{\"mtu\":1400}"), CS_ENOENT, "setme/nope");
	REFUSED(g, cs_endpoint_set(g, "setme/net/nope", "{\"groups\":[]}"), CS_ENOENT,
		"no such endpoint");
	assert_int_equal(cs_vnet_set(g, "setme/net", NULL), CS_EINVAL);
	OK(g, cs_tenant_delete(g, "setme"));
}

/* acme (owned by uid 1000) and acme/blue serve the tests below. */
static void test_acme(void **state)
{
	(void)state;
	/* only an administrator may name another user as owner */
	OK(g, cs_tenant_create(g, "acme",
			       geteuid() == 0 ? "{\"owners\":{\"uids\":[1000]}}" : NULL));
	OK(g, cs_vnet_create(g, "acme/blue", "{\"subnet\":\"10.0.0.0/24\"}"));
}

static void test_ipam(void **state)
{
	(void)state;
	OK(g, cs_endpoint_create(g, "acme/blue/a1", NULL));
	OK(g, cs_endpoint_create(g, "acme/blue/a2", NULL));
	expect_address(g, "acme/blue/a1", "10.0.0.2");
	expect_address(g, "acme/blue/a2", "10.0.0.3");
	/* a freed address is the lowest free one again */
	OK(g, cs_endpoint_delete(g, "acme/blue/a1"));
	OK(g, cs_endpoint_create(g, "acme/blue/a3", NULL));
	expect_address(g, "acme/blue/a3", "10.0.0.2");
	OK(g, cs_endpoint_create(g, "acme/blue/a4", NULL));
	expect_address(g, "acme/blue/a4", "10.0.0.4");
	OK(g, cs_endpoint_create(g, "acme/blue/fix", "{\"address\":\"10.0.0.100\"}"));
	expect_address(g, "acme/blue/fix", "10.0.0.100");
	/* allocation skips past nothing it does not need to */
	OK(g, cs_endpoint_create(g, "acme/blue/a5", NULL));
	expect_address(g, "acme/blue/a5", "10.0.0.5");
	/* each vnet has its own pool */
	OK(g, cs_vnet_create(g, "acme/green", "{\"subnet\":\"10.0.0.0/24\"}"));
	OK(g, cs_endpoint_create(g, "acme/green/a1", NULL));
	expect_address(g, "acme/green/a1", "10.0.0.2");
	OK(g, cs_vnet_delete(g, "acme/green"));
	OK(g, cs_endpoint_delete(g, "acme/blue/a2"));
	OK(g, cs_endpoint_delete(g, "acme/blue/a3"));
	OK(g, cs_endpoint_delete(g, "acme/blue/a4"));
	OK(g, cs_endpoint_delete(g, "acme/blue/a5"));
}

static void test_refusals(void **state)
{
	char *s = NULL;

	(void)state;
	/* subnets */
	REFUSED(g, cs_vnet_create(g, "acme/bad", "{\"subnet\":\"10.0.0.0/33\"}"), CS_EINVAL,
		"acme/bad");
	REFUSED(g, cs_vnet_create(g, "acme/bad", "{\"subnet\":\"10.0.0.0/33\"}"), CS_EINVAL, "33");
	REFUSED(g, cs_vnet_create(g, "acme/bad", "{\"subnet\":\"10.0.0.5/24\"}"), CS_EINVAL,
		"acme/bad");
	REFUSED(g, cs_vnet_create(g, "acme/bad", "{\"subnet\":\"10.0.0.5/24\"}"), CS_EINVAL,
		"10.0.0.0/24");
	REFUSED(g, cs_vnet_create(g, "acme/bad", "{\"subnet\":\"10.0.0.0/31\"}"), CS_EINVAL,
		"acme/bad");
	REFUSED(g, cs_vnet_create(g, "acme/bad", "{\"subnet\":\"10.0.0.0/32\"}"), CS_EINVAL,
		"acme/bad");
	REFUSED(g, cs_vnet_create(g, "acme/bad", "{\"subnet\":\"fd00::/127\"}"), CS_EINVAL,
		"acme/bad");
	REFUSED(g, cs_vnet_create(g, "acme/bad", "{\"subnet\":\"banana\"}"), CS_EINVAL,
		"acme/bad");
	REFUSED(g, cs_vnet_create(g, "acme/bad", "{}"), CS_EINVAL, "acme/bad");
	/* fixed addresses */
	REFUSED(g, cs_endpoint_create(g, "acme/blue/x", "{\"address\":\"10.1.0.5\"}"), CS_EINVAL,
		"acme/blue/x");
	REFUSED(g, cs_endpoint_create(g, "acme/blue/x", "{\"address\":\"10.1.0.5\"}"), CS_EINVAL,
		"outside");
	REFUSED(g, cs_endpoint_create(g, "acme/blue/x", "{\"address\":\"10.0.0.0\"}"), CS_EINVAL,
		"network");
	REFUSED(g, cs_endpoint_create(g, "acme/blue/x", "{\"address\":\"10.0.0.255\"}"), CS_EINVAL,
		"broadcast");
	REFUSED(g, cs_endpoint_create(g, "acme/blue/x", "{\"address\":\"10.0.0.1\"}"), CS_EINVAL,
		"gateway");
	REFUSED(g, cs_endpoint_create(g, "acme/blue/x", "{\"address\":\"fd00::5\"}"), CS_EINVAL,
		"acme/blue/x");
	REFUSED(g, cs_endpoint_create(g, "acme/blue/x", "{\"address\":\"10.0.0.100\"}"), CS_EEXIST,
		"10.0.0.100");
	REFUSED(g, cs_endpoint_create(g, "acme/nosuch/x", NULL), CS_ENOENT, "acme/nosuch");
	/* duplicates */
	REFUSED(g, cs_tenant_create(g, "acme", NULL), CS_EEXIST, "acme");
	REFUSED(g, cs_vnet_create(g, "acme/blue", "{\"subnet\":\"10.3.0.0/24\"}"), CS_EEXIST,
		"acme/blue");
	REFUSED(g, cs_endpoint_create(g, "acme/blue/fix", NULL), CS_EEXIST, "acme/blue/fix");
	json_t *blue = show(cs_vnet_show, g, "acme/blue");
	char spec[96];
	snprintf(spec, sizeof(spec), "{\"subnet\":\"10.3.0.0/24\",\"id\":%lld}",
		 (long long)json_integer_value(json_object_get(blue, "id")));
	json_decref(blue);
	REFUSED(g, cs_vnet_create(g, "acme/dupid", spec), CS_EEXIST, "acme/dupid");
	/* the schema: unknown keys and wrong types */
	REFUSED(g, cs_vnet_create(g, "acme/bad", "{\"subnett\":\"10.2.0.0/24\"}"), CS_EINVAL,
		"subnett");
	REFUSED(g, cs_vnet_create(g, "acme/bad", "{\"subnett\":\"10.2.0.0/24\"}"), CS_EINVAL,
		"acme/bad");
	REFUSED(g, cs_vnet_create(g, "acme/bad", "{\"subnet\":5}"), CS_EINVAL, "acme/bad");
	REFUSED(g, cs_vnet_create(g, "acme/bad", "{\"subnet\":\"10.2.0.0/24\",\"mtu\":\"big\"}"),
		CS_EINVAL, "mtu");
	REFUSED(g, cs_tenant_create(g, "bad", "{\"owners\":{\"uids\":[\"root\"]}}"), CS_EINVAL,
		"bad");
	REFUSED(g, cs_tenant_create(g, "bad", "{\"owners\":[1000]}"), CS_EINVAL, "owners");
	REFUSED(g, cs_endpoint_create(g, "acme/blue/x", "{\"address\":7}"), CS_EINVAL,
		"acme/blue/x");
	REFUSED(g, cs_endpoint_create(g, "acme/blue/x", "{\"groups\":\"front\"}"), CS_EINVAL,
		"acme/blue/x");
	/* names */
	REFUSED(g, cs_tenant_create(g, "Acme", NULL), CS_EINVAL, "Acme");
	REFUSED(g, cs_vnet_create(g, "acme", "{\"subnet\":\"10.2.0.0/24\"}"), CS_EINVAL, "acme");
	REFUSED(g, cs_vnet_create(g, "acme/blue/x", "{\"subnet\":\"10.2.0.0/24\"}"), CS_EINVAL,
		"acme/blue/x");
	/* a spec that is not an object never leaves libcs */
	REFUSED(g, cs_vnet_create(g, "acme/bad", "[1]"), CS_EINVAL, "acme/bad");
	/* operations */
	REFUSED(g, cs_call(g, "frobnicate", NULL, &s), CS_ENOTSUP, "frobnicate");
	assert_null(s);
	REFUSED(g, cs_call(g, "vnet.create", "{}", NULL), CS_EINVAL, "name");
	REFUSED(g, cs_call(g, "vnet.create", "{\"name\":7}", NULL), CS_EINVAL, "name");
	/* nothing of the above was created */
	REFUSED(g, cs_vnet_show(g, "acme/bad", &s), CS_ENOENT, "acme/bad");
	REFUSED(g, cs_tenant_show(g, "bad", &s), CS_ENOENT, "bad");
	REFUSED(g, cs_endpoint_show(g, "acme/blue/x", &s), CS_ENOENT, "acme/blue/x");
	/* and a good request still works */
	OK(g, cs_vnet_create(g, "acme/good", "{\"subnet\":\"10.2.0.0/24\"}"));
	OK(g, cs_vnet_delete(g, "acme/good"));
}

/* ---- raw frames ---- */

static int raw_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", child.sock);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Receive one reply; returns its error code name, or "ok". */
static char *raw_reply(int fd, json_int_t *id)
{
	char *text = NULL;
	size_t len;
	int fds[CS_WIRE_MAX_FDS], nfds = 0;

	int r = cs_wire_recv(fd, 0, &text, &len, fds, &nfds);
	if (r != 0)
		fail_msg("no reply from csd: %s", cs_strerror(r));
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	json_t *j = ut_parse(text), *err = json_object_get(j, "error");
	free(text);
	if (id)
		*id = json_integer_value(json_object_get(j, "id"));
	char *out;
	if (json_is_true(json_object_get(j, "ok"))) {
		out = strdup("ok");
	} else {
		const char *msg = json_string_value(json_object_get(err, "message"));
		assert_non_null(msg);
		assert_true(*msg);
		out = strdup(json_string_value(json_object_get(err, "code")) ?: "(none)");
	}
	json_decref(j);
	return out;
}

static void raw_expect(int fd, const char *msg, const char *want)
{
	assert_int_equal(cs_wire_send(fd, msg, strlen(msg), NULL, 0), 0);
	char *got = raw_reply(fd, NULL);
	if (strcmp(got, want))
		fail_msg("%s: got %s, expected %s", msg, got, want);
	free(got);
}

#define HELLO "{\"id\":1,\"op\":\"hello\",\"args\":{\"version\":1}}"
#define STATUS "{\"id\":2,\"op\":\"status\",\"args\":{}}"

/* Arguments of the wrong type or out of range are refused, naming them. */
static void test_protocol_args(void **state)
{
	char *s = NULL;
	json_t *j;

	(void)state;
	REFUSED(g, cs_call(g, "endpoint.open", "{\"vnet\":\"acme/blue\",\"flags\":\"x\"}", NULL),
		CS_EINVAL, "unknown argument \"flags\"");
	REFUSED(g, cs_call(g, "endpoint.open", "{\"vnet\":\"acme/blue\",\"ephemeral\":1}", NULL),
		CS_EINVAL, "\"ephemeral\" must be true or false");
	REFUSED(g, cs_call(g, "endpoint.open", "{\"vnet\":\"acme/blue\",\"name\":5}", NULL),
		CS_EINVAL, "\"name\" must be a string");
	REFUSED(g, cs_call(g, "resolve", "{\"vnet\":\"acme/blue\",\"name\":\"fix\","
				     "\"family\":99}", NULL), CS_EINVAL, "\"family\"");
	REFUSED(g, cs_call(g, "resolve", "{\"vnet\":\"acme/blue\",\"name\":\"fix\","
				     "\"family\":\"inet\"}", NULL), CS_EINVAL, "\"family\"");
	OK(g, cs_call(g, "resolve", "{\"vnet\":\"acme/blue\",\"name\":\"fix\",\"family\":10}",
		      &s));
	assert_string_equal(s, "{\"addresses\":[]}");
	cs_free(s);
	OK(g, cs_call(g, "resolve", "{\"vnet\":\"acme/blue\",\"name\":\"fix\",\"family\":2}",
		      &s));
	assert_string_equal(s, "{\"addresses\":[\"10.0.0.100\"]}");
	cs_free(s);
	REFUSED(g, cs_call(g, "endpoint.socket", "{\"name\":\"acme/blue/fix\",\"domain\":2,"
				     "\"type\":4294967298}", NULL), CS_EINVAL, "\"type\"");
	REFUSED(g, cs_call(g, "endpoint.exec", "{\"name\":\"acme/blue/fix\",\"cwd\":\"/\","
				     "\"argv\":[]}", NULL), CS_EINVAL, "\"argv\" is empty");
	/* the address's holder named plainly */
	REFUSED(g, cs_endpoint_create(g, "acme/blue/x", "{\"address\":\"10.0.0.100\"}"),
		CS_EEXIST, "already used by endpoint acme/blue/fix");

	/* a rule without name or ports has neither key; its position is one */
	OK(g, cs_call(g, "rule.create", "{\"name\":\"acme/blue\",\"spec\":{\"from\":\"any\","
				"\"to\":\"any\",\"action\":\"allow\"}}", NULL));
	OK(g, cs_call(g, "rule.list", "{\"filter\":\"acme/blue\"}", &s));
	j = json_loads(s, 0, NULL);
	cs_free(s);
	assert_int_equal(json_array_size(j), 1);
	json_t *rule = json_array_get(j, 0);
	assert_null(json_object_get(rule, "name"));
	assert_null(json_object_get(rule, "ports"));
	assert_int_equal(json_integer_value(json_object_get(rule, "position")), 1);
	json_decref(j);
	OK(g, cs_call(g, "rule.delete", "{\"name\":\"acme/blue/1\"}", NULL));

	/* a quota refusal says how to raise it (only apply changes quotas) */
	OK(g, cs_tenant_create(g, "quo", "{\"quotas\":{\"vnets\":1}}"));
	OK(g, cs_vnet_create(g, "quo/a", "{\"subnet\":\"10.8.0.0/24\"}"));
	REFUSED(g, cs_vnet_create(g, "quo/b", "{\"subnet\":\"10.8.1.0/24\"}"), CS_EQUOTA,
		"set tenants.quo.quotas.vnets higher there, cs-ctl apply -f f.json");
	OK(g, cs_vnet_delete(g, "quo/a"));
	OK(g, cs_tenant_delete(g, "quo"));
}

static void test_raw_protocol(void **state)
{
	int64_t rev = ut_revision(g);
	int fd = raw_connect();

	(void)state;
	raw_expect(fd, STATUS, "EPROTO");             /* before hello */
	raw_expect(fd, "{\"id\":3,\"op\":\"tenant.create\",\"args\":{\"name\":\"early\"}}",
		   "EPROTO");
	raw_expect(fd, "{not json", "EPROTO");
	raw_expect(fd, "", "EPROTO");
	raw_expect(fd, "[]", "EPROTO");
	raw_expect(fd, "{\"id\":4}", "EPROTO");
	raw_expect(fd, "{\"id\":5,\"op\":\"status\",\"args\":[]}", "EPROTO");
	raw_expect(fd, "{\"id\":6,\"op\":\"status\",\"extra\":1}", "EPROTO");
	raw_expect(fd, "{\"id\":7,\"op\":\"hello\",\"args\":{}}", "EPROTO");
	raw_expect(fd, "{\"id\":8,\"op\":\"hello\",\"args\":{\"version\":2}}", "EVERSION");
	raw_expect(fd, HELLO, "ok");                   /* still usable */
	raw_expect(fd, STATUS, "ok");
	raw_expect(fd, "{\"id\":9,\"op\":\"nope\",\"args\":{}}", "ENOTSUP");
	raw_expect(fd, "{broken", "EPROTO");
	raw_expect(fd, STATUS, "ok");
	/* the reply carries the request's id */
	json_int_t id = 0;
	const char *m = "{\"id\":4242,\"op\":\"status\"}";
	assert_int_equal(cs_wire_send(fd, m, strlen(m), NULL, 0), 0);
	char *got = raw_reply(fd, &id);
	assert_string_equal(got, "ok");
	assert_int_equal(id, 4242);
	free(got);

	/* a garbage datagram shorter than the header */
	assert_int_equal(send(fd, "xyz", 3, 0), 3);
	got = raw_reply(fd, NULL);
	assert_string_equal(got, "EPROTO");
	free(got);
	raw_expect(fd, STATUS, "ok");
	/* a header with a bad magic */
	char bad[CS_WIRE_HDR_LEN + 2];
	struct cs_wire_hdr h = { 0x42, 0, 0, 2 };
	memcpy(bad, &h, CS_WIRE_HDR_LEN);
	memcpy(bad + CS_WIRE_HDR_LEN, "{}", 2);
	assert_int_equal(send(fd, bad, sizeof(bad), 0), (ssize_t)sizeof(bad));
	got = raw_reply(fd, NULL);
	assert_string_equal(got, "EPROTO");
	free(got);
	raw_expect(fd, STATUS, "ok");
	/* fds sent by a client are not kept (the fd-leak test counts them) */
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(cs_wire_send(fd, STATUS, strlen(STATUS), p, 2), 0);
	close(p[0]);
	close(p[1]);
	got = raw_reply(fd, NULL);
	assert_string_equal(got, "ok");
	free(got);
	close(fd);
	assert_int_equal(ut_revision(g), rev);
}

/* Send parts [from, to) of a message of @len bytes, waiting for room. */
static void send_parts(int fd, const char *msg, size_t len, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		int r;
		while ((r = cs_wire_send_part(fd, msg, len, i, NULL, 0)) == -EAGAIN)
			ut_sleep_ms(1);
		if (r < 0)
			fail_msg("part %zu: %s", i, strerror(-r));
	}
}

static void test_raw_oversized(void **state)
{
	size_t len = 17u * 1024 * 1024, parts = cs_wire_parts(len);
	/* zero pages: only what the parts touch is ever backed */
	char *big = calloc(1, len);
	int fd = raw_connect();
	char *got;

	(void)state;
	assert_non_null(big);
	raw_expect(fd, HELLO, "ok");
	/* the first part announces 17 MiB: refused at once */
	send_parts(fd, big, len, 0, 1);
	got = raw_reply(fd, NULL);
	assert_string_equal(got, "ETOOBIG");
	free(got);
	/* the rest of it is dropped as it arrives, without further replies */
	send_parts(fd, big, len, 1, parts);
	raw_expect(fd, HELLO, "ok");
	raw_expect(fd, STATUS, "ok");

	/* a lone header announcing too much, with no more parts */
	struct cs_wire_hdr h = { CS_WIRE_MAGIC, 0, 0, (uint32_t)len };
	assert_int_equal(send(fd, &h, CS_WIRE_HDR_LEN, 0), CS_WIRE_HDR_LEN);
	got = raw_reply(fd, NULL);
	assert_string_equal(got, "ETOOBIG");
	free(got);
	raw_expect(fd, HELLO, "ok");
	close(fd);

	/* a client that gives up in the middle of a message does not hurt */
	fd = raw_connect();
	raw_expect(fd, HELLO, "ok");
	send_parts(fd, big, 4 * CS_WIRE_PART_MAX, 0, 2);
	close(fd);
	free(big);
	(void)ut_revision(g); /* csd is alive */
}

/* ---- endpoints held by programs ---- */

/*
 * Success of a forked helper. exit(), not _exit(): libnl's constructors
 * allocate and only its destructors free, so under valgrind an _exit()
 * would report their blocks as lost and turn the status into a failure.
 */
static void __attribute__((noreturn)) child_exit_ok(void)
{
	exit(0);
}

static int show_code(cs_t *cs, const char *name)
{
	char *s = NULL;
	int r = cs_endpoint_show(cs, name, &s);

	cs_free(s);
	return r;
}

static void test_ephemeral(void **state)
{
	cs_t *c = NULL;
	cs_endpoint_t *ep = NULL;
	struct sockaddr_storage ss;
	socklen_t sl;
	char name[128];

	(void)state;
	/* closing the endpoint handle deletes it */
	OK(g, cs_open(child.sock, &c));
	OK(c, cs_endpoint_open(c, "acme/blue", NULL, CS_EP_EPHEMERAL, &ep));
	snprintf(name, sizeof(name), "%s", cs_endpoint_name(ep));
	assert_true(!strncmp(name, "acme/blue/", 10) && strlen(name) > 10);
	json_t *j = show(cs_endpoint_show, g, name);
	assert_true(json_is_true(json_object_get(j, "ephemeral")));
	json_decref(j);
	OK(c, cs_endpoint_address(ep, AF_INET, &ss, &sl));
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 8, 0x0a0000);
	cs_endpoint_close(ep);
	assert_int_equal(show_code(g, name), CS_ENOENT);
	cs_close(c);

	/* closing the connection deletes it: a child plays the program, so the
	 * endpoint handle it cannot free after cs_close() dies with it */
	int up[2], go[2];
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(go), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* the handle cannot be freed after cs_close(): keep it reachable */
		static cs_endpoint_t *held;
		close(up[0]);
		close(go[1]);
		if (cs_open(child.sock, &c) < 0 ||
		    cs_endpoint_open(c, "acme/blue", NULL, CS_EP_EPHEMERAL, &held) < 0)
			_exit(1);
		ep = held;
		snprintf(name, sizeof(name), "%s", cs_endpoint_name(ep));
		if (write(up[1], name, strlen(name) + 1) < 0)
			_exit(2);
		/* hold the connection until the parent has seen the endpoint */
		char x;
		if (read(go[0], &x, 1) < 0)
			_exit(3);
		cs_close(c);
		child_exit_ok();
	}
	close(up[1]);
	close(go[0]);
	memset(name, 0, sizeof(name));
	ssize_t n = read(up[0], name, sizeof(name) - 1);
	close(up[0]);
	if (n <= 10) {
		close(go[1]);
		waitpid(pid, NULL, 0);
		fail_msg("the child could not open an ephemeral endpoint");
	}
	int sc = show_code(g, name);
	close(go[1]);
	assert_int_equal(sc, 0);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	int r = 0;
	for (int i = 0; i < 200 && (r = show_code(g, name)) == 0; i++)
		ut_sleep_ms(10);
	if (r != CS_ENOENT)
		fail_msg("ephemeral endpoint %s still there 2 s after its connection closed (%d)",
			 name, r);
}

static void test_socket(void **state)
{
	cs_endpoint_t *ep = NULL;
	struct stat st;

	(void)state;
	OK(g, cs_endpoint_open(g, "acme/blue", "sock", 0, &ep));
	assert_string_equal(cs_endpoint_name(ep), "acme/blue/sock");
	int fd = cs_socket(ep, AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		fail_msg("cs_socket: %s: %s", cs_strerror(fd), cs_last_error(g));
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	close(fd);
	fd = cs_socket(ep, AF_INET6, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	close(fd);
	/* a domain csd does not make */
	REFUSED(g, cs_socket(ep, AF_UNIX, SOCK_STREAM, 0), CS_EINVAL, "domain");
	cs_endpoint_close(ep);
	/* not ephemeral: it outlives the handle */
	assert_int_equal(show_code(g, "acme/blue/sock"), 0);
	/* attach finds it; attach to a missing one does not create it */
	OK(g, cs_endpoint_open(g, "acme/blue", "sock", CS_EP_ATTACH, &ep));
	cs_endpoint_close(ep);
	ep = NULL;
	REFUSED(g, cs_endpoint_open(g, "acme/blue", "nope", CS_EP_ATTACH, &ep), CS_ENOENT, "nope");
	assert_null(ep);
	OK(g, cs_endpoint_delete(g, "acme/blue/sock"));
}

static void test_multipart(void **state)
{
	enum { NUIDS = 20000 };
	json_t *uids = json_array(), *spec;
	char *text;

	(void)state;
	/* listing other users as owners needs an administrator */
	if (geteuid() != 0) {
		skip();
		return;
	}
	for (int i = 0; i < NUIDS; i++)
		json_array_append_new(uids, json_integer(100000 + i));
	spec = json_pack("{s:{s:o}}", "owners", "uids", uids);
	text = json_dumps(spec, JSON_COMPACT);
	assert_true(strlen(text) > 2 * CS_WIRE_PART_MAX);
	OK(g, cs_tenant_create(g, "big", text));
	char *s = NULL;
	OK(g, cs_tenant_show(g, "big", &s));
	assert_true(strlen(s) > 2 * CS_WIRE_PART_MAX);
	json_t *j = ut_parse(s);
	json_t *back = json_object_get(json_object_get(j, "owners"), "uids");
	assert_int_equal(json_array_size(back), NUIDS);
	for (int i = 0; i < NUIDS; i++)
		if (json_integer_value(json_array_get(back, (size_t)i)) != 100000 + i)
			fail_msg("uid %d came back as %lld", i,
				 (long long)json_integer_value(json_array_get(back, (size_t)i)));
	json_decref(j);
	cs_free(s);
	OK(g, cs_tenant_delete(g, "big"));
	json_decref(spec);
	free(text);
}

/* ---- ownership ---- */

#define CHILD_CHECK(cond, ...)                                                            \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "uid %u: line %d: ", (unsigned)getuid(), __LINE__); \
			fprintf(stderr, __VA_ARGS__);                                     \
			fputc('\n', stderr);                                              \
			_exit(1);                                                         \
		}                                                                         \
	} while (0)

static int64_t child_revision(cs_t *c)
{
	char *s = NULL;

	CHILD_CHECK(cs_status(c, &s) == 0, "status: %s", cs_last_error(c));
	json_t *j = json_loads(s, 0, NULL);
	int64_t v = json_integer_value(json_object_get(j, "revision"));
	json_decref(j);
	cs_free(s);
	return v;
}

static void child_owner(void)
{
	cs_t *c = NULL;
	char *s = NULL;

	CHILD_CHECK(cs_open(child.sock, &c) == 0, "cannot connect");
	CHILD_CHECK(cs_tenant_list(c, &s) == 0, "tenant list: %s", cs_last_error(c));
	json_t *a = json_loads(s, 0, NULL);
	CHILD_CHECK(json_array_size(a) == 1 &&
		    !strcmp(json_string_value(json_object_get(json_array_get(a, 0), "name")) ?: "",
			    "acme"), "owner should see exactly acme: %s", s);
	json_decref(a);
	cs_free(s);
	int r = cs_vnet_create(c, "acme/x", "{\"subnet\":\"10.5.0.0/24\"}");
	CHILD_CHECK(r == 0, "vnet create acme/x: %s", cs_last_error(c));
	CHILD_CHECK(cs_vnet_show(c, "acme/blue", &s) == 0, "vnet show acme/blue");
	cs_free(s);
	/* owning a tenant is not being an administrator */
	r = cs_tenant_create(c, "stolen", "{\"owners\":{\"uids\":[1001]}}");
	CHILD_CHECK(r == CS_EPERM, "naming another owner: %d", r);
	cs_close(c);
	child_exit_ok();
}

static void child_stranger(void)
{
	cs_t *c = NULL;
	char *s = NULL;
	int r;

	CHILD_CHECK(cs_open(child.sock, &c) == 0, "cannot connect");
	int64_t rev = child_revision(c);
	CHILD_CHECK(cs_tenant_list(c, &s) == 0, "tenant list: %s", cs_last_error(c));
	CHILD_CHECK(!strcmp(s, "[]"), "a stranger sees tenants: %s", s);
	cs_free(s);
	s = NULL;
	/* ENOENT, not EPERM: nothing is revealed */
	r = cs_tenant_show(c, "acme", &s);
	CHILD_CHECK(r == CS_ENOENT, "tenant show acme: %d %s", r, cs_last_error(c));
	r = cs_vnet_show(c, "acme/blue", &s);
	CHILD_CHECK(r == CS_ENOENT, "vnet show acme/blue: %d %s", r, cs_last_error(c));
	r = cs_vnet_create(c, "acme/y", "{\"subnet\":\"10.6.0.0/24\"}");
	CHILD_CHECK(r == CS_ENOENT, "vnet create acme/y: %d %s", r, cs_last_error(c));
	r = cs_endpoint_create(c, "acme/blue/z", NULL);
	CHILD_CHECK(r == CS_ENOENT, "endpoint create acme/blue/z: %d %s", r, cs_last_error(c));
	r = cs_tenant_delete(c, "acme");
	CHILD_CHECK(r == CS_ENOENT, "tenant delete acme: %d %s", r, cs_last_error(c));
	cs_endpoint_t *ep = NULL;
	r = cs_endpoint_open(c, "acme/blue", NULL, CS_EP_EPHEMERAL, &ep);
	CHILD_CHECK(r == CS_ENOENT, "endpoint open in acme/blue: %d %s", r, cs_last_error(c));
	r = cs_vnet_list(c, NULL, &s);
	CHILD_CHECK(r == 0 && !strcmp(s, "[]"), "vnet list: %d %s", r, s ? s : "");
	cs_free(s);
	r = cs_endpoint_list(c, NULL, &s);
	CHILD_CHECK(r == 0 && !strcmp(s, "[]"), "endpoint list: %d %s", r, s ? s : "");
	cs_free(s);
	CHILD_CHECK(child_revision(c) == rev, "the store moved");
	cs_close(c);
	child_exit_ok();
}

static void run_as(uid_t uid, void (*fn)(void))
{
	int st;

	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0) {
			perror("dropping to a user");
			_exit(1);
		}
		fn();
		_exit(1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("the child as uid %u failed (status %d; see its stderr)", (unsigned)uid, st);
}

static void test_ownership(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		skip();
		return;
	}
	run_as(1000, child_owner);
	json_t *j = show(cs_vnet_show, g, "acme/x");
	assert_string_equal(jstr(j, "subnet"), "10.5.0.0/24");
	json_decref(j);
	int64_t rev = ut_revision(g);
	run_as(1001, child_stranger);
	assert_int_equal(ut_revision(g), rev);
	char *s = NULL;
	assert_int_equal(cs_vnet_show(g, "acme/y", &s), CS_ENOENT);
	OK(g, cs_vnet_delete(g, "acme/x"));
}

/* ---- monitors ---- */

/* The next event of monitor @m as "OBJECT VERB NAME", its revision in *rev
 * (an alarm fails the test instead of waiting for ever). */
static json_t *next_event(cs_t *m, char *line, size_t len, int64_t *rev)
{
	char *text = NULL;

	alarm(10);
	int r = cs_monitor_next(m, &text);
	alarm(0);
	if (r != 0)
		fail_msg("cs_monitor_next: %s: %s", cs_strerror(r), cs_last_error(m));
	json_t *ev = ut_parse(text);
	cs_free(text);
	snprintf(line, len, "%s %s %s", jstr(ev, "object"), jstr(ev, "verb"), jstr(ev, "name"));
	*rev = json_integer_value(json_object_get(ev, "revision"));
	return ev;
}

static void test_monitor(void **state)
{
	static const char *const want[] = {
		"tenant create mon", "vnet create mon/net", "endpoint create mon/net/a",
		"endpoint delete mon/net/a", "vnet delete mon/net", "tenant delete mon",
	};
	char line[256];
	int64_t start = 0, rev = 0, last = 0, first = 0;
	cs_t *m = NULL, *m2 = NULL;

	(void)state;
	OK(g, cs_open(child.sock, &m));
	REFUSED(m, cs_monitor_open(m, "nope", 0, NULL), CS_ENOENT, "nope");
	REFUSED(m, cs_monitor_open(m, "a/b/c", 0, NULL), CS_EINVAL, "a/b/c");
	REFUSED(m, cs_monitor_open(m, NULL, ut_revision(g) + 5, NULL), CS_EINVAL, "beyond");
	OK(m, cs_monitor_open(m, NULL, 0, &start));
	assert_int_equal(start, ut_revision(g) + 1);
	REFUSED(g, cs_call(g, "monitor", "{\"filter\": 7}", NULL), CS_EINVAL, "filter");
	OK(g, cs_tenant_create(g, "mon", NULL));
	OK(g, cs_vnet_create(g, "mon/net", "{\"subnet\":\"10.9.0.0/24\"}"));
	OK(g, cs_endpoint_create(g, "mon/net/a", NULL));
	OK(g, cs_endpoint_delete(g, "mon/net/a"));
	OK(g, cs_tenant_delete(g, "mon"));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		json_t *ev = next_event(m, line, sizeof(line), &rev);
		/* a tenant's delete takes its vnet in the same revision, in
		 * either order */
		bool same_rev = i >= 4 && !strcmp(line, want[9 - i]);
		if (strcmp(line, want[i]) && !same_rev)
			fail_msg("event %zu: \"%s\", expected \"%s\"", i, line, want[i]);
		assert_true(rev >= last && rev >= start);
		first = first ? first : rev;
		last = rev;
		if (i == 2) {
			assert_string_equal(jstr(ev, "state"), "up");
			assert_string_equal(jstr(ev, "was"), "pending");
			assert_string_equal(jstr(ev, "op"), "endpoint.create");
			assert_int_equal(json_integer_value(json_object_get(ev, "uid")), geteuid());
		}
		json_decref(ev);
	}
	/* one monitor a connection */
	REFUSED(m, cs_monitor_open(m, NULL, 0, NULL), CS_EINVAL, "monitors already");
	/* another, from the first revision: the same events again (resume) */
	OK(g, cs_open(child.sock, &m2));
	OK(m2, cs_monitor_open(m2, NULL, first, &start));
	assert_int_equal(start, first);
	json_decref(next_event(m2, line, sizeof(line), &rev));
	/* mon is gone since: the store no longer tells create from update */
	assert_string_equal(line, "tenant put mon");
	assert_int_equal(rev, first);
	cs_close(m2);
	cs_close(m);
	/* csd still answers */
	assert_true(ut_revision(g) >= last);
}

/* ---- resources ---- */

static int count_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		fail_msg("%s: %s", path, strerror(errno));
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void test_fd_leak(void **state)
{
	cs_endpoint_t *ep;

	(void)state;
	/* settle: earlier tests' connections may still be closing */
	int before = count_fds(child.pid), now;
	for (int i = 0; i < 50; i++) {
		ut_sleep_ms(20);
		if ((now = count_fds(child.pid)) == before)
			break;
		before = now;
	}
	for (int i = 0; i < 200; i++) {
		cs_t *c = NULL;
		OK(g, cs_open(child.sock, &c));
		if (i % 10 == 0) {
			/* sockets handed out and ephemeral endpoints must not pin fds */
			OK(c, cs_endpoint_open(c, "acme/blue", NULL, CS_EP_EPHEMERAL, &ep));
			int fd = cs_socket(ep, AF_INET, SOCK_DGRAM, 0);
			assert_true(fd >= 0);
			close(fd);
			cs_endpoint_close(ep);
		}
		cs_close(c);
	}
	/* csd notices the closes asynchronously: poll for up to 2 s */
	for (int i = 0; i < 200 && (now = count_fds(child.pid)) != before; i++)
		ut_sleep_ms(10);
	if (now != before)
		fail_msg("csd had %d fds before 200 connections and %d after", before, now);
}

static void test_shutdown(void **state)
{
	int st;

	(void)state;
	cs_close(g);
	g = NULL;
	assert_int_equal(kill(child.pid, SIGTERM), 0);
	assert_int_equal(waitpid(child.pid, &st, 0), child.pid);
	child.pid = -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("csd did not stop cleanly on SIGTERM (status %d)", st);
	/* it takes its socket with it */
	assert_int_equal(access(child.sock, F_OK), -1);
}

int main(void)
{
	/* order matters: later tests use acme and acme/blue */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_crud),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_acme),
		cmocka_unit_test(test_ipam),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_protocol_args),
		cmocka_unit_test(test_raw_protocol),
		cmocka_unit_test(test_raw_oversized),
		cmocka_unit_test(test_ephemeral),
		cmocka_unit_test(test_socket),
		cmocka_unit_test(test_multipart),
		cmocka_unit_test(test_ownership),
		cmocka_unit_test(test_monitor),
		cmocka_unit_test(test_fd_leak),
		cmocka_unit_test(test_shutdown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
