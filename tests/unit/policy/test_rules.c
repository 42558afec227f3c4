/* SPDX-License-Identifier: GPL-2.0-or-later */
/* policy/rules: parsing with its messages, evaluation, compilation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include <cs/cs.h>
#include "policy/rules.h"

static struct rules_policy *parse(const char *text)
{
	struct rules_policy *p = NULL;
	json_error_t jerr;
	char err[512] = "";
	json_t *j = json_loads(text, 0, &jerr);

	if (!j)
		fail_msg("bad JSON in test: %s: %s", text, jerr.text);
	if (rules_parse(j, NULL, &p, err, sizeof(err)) != 0)
		fail_msg("rules_parse(%s) failed: %s", text, err);
	json_decref(j);
	return p;
}

static struct cs_addr A(const char *s)
{
	struct cs_addr a;

	if (cs_addr_parse(s, &a) != 0)
		fail_msg("bad address %s", s);
	return a;
}

/* A 3-group vnet: web (two groups), db, other; plus a dual-stack ops box. */
static const char *web_groups[] = { "web", "frontend" };
static const char *api_groups[] = { "web" };
static const char *db_groups[] = { "db" };
static const char *other_groups[] = { "other" };
static struct cs_addr web_addrs[2], api_addrs[1], db_addrs[2], other_addrs[1];
static struct rules_endpoint eps[4];

static int setup(void **state)
{
	web_addrs[0] = A("10.0.0.2");
	web_addrs[1] = A("fd00::2");
	api_addrs[0] = A("10.0.0.3");
	db_addrs[0] = A("10.0.0.4");
	db_addrs[1] = A("fd00::4");
	other_addrs[0] = A("10.0.1.5");
	eps[0] = (struct rules_endpoint){ "web", web_groups, 2, web_addrs, 2 };
	eps[1] = (struct rules_endpoint){ "api", api_groups, 1, api_addrs, 1 };
	eps[2] = (struct rules_endpoint){ "db", db_groups, 1, db_addrs, 2 };
	eps[3] = (struct rules_endpoint){ "other", other_groups, 1, other_addrs, 1 };
	return 0;
}

static void expect(const struct rules_policy *p, const char *from, const char *to, int proto,
		   int port, enum vnet_fw_action want, int want_rule)
{
	enum vnet_fw_action got;
	int rule = -99;

	assert_int_equal(rules_eval(p, eps, 4, from, to, proto, port, &got, &rule), 0);
	if (got != want || rule != want_rule)
		fail_msg("%s -> %s %s/%d: got %s by %d, want %s by %d", from, to,
			 rules_proto_name(proto), port, got == VNET_FW_ALLOW ? "allow" : "deny",
			 rule, want == VNET_FW_ALLOW ? "allow" : "deny", want_rule);
}

/* --- evaluation --- */

static void test_no_policy_allows(void **state)
{
	expect(NULL, "web", "db", IPPROTO_TCP, 5432, VNET_FW_ALLOW, -1);
	expect(NULL, "other", "db", IPPROTO_ICMP, 0, VNET_FW_ALLOW, -1);
}

static void test_default(void **state)
{
	struct rules_policy *p = parse("{\"default\":\"deny\"}");

	expect(p, "web", "db", IPPROTO_TCP, 5432, VNET_FW_DENY, -1);
	rules_free(p);
	p = parse("{\"default\":\"allow\",\"rules\":[]}");
	expect(p, "web", "db", IPPROTO_UDP, 53, VNET_FW_ALLOW, -1);
	rules_free(p);
}

static void test_precedence(void **state)
{
	/* the same traffic matched by a deny then an allow: the first wins */
	struct rules_policy *p = parse(
		"{\"default\":\"allow\",\"rules\":["
		"{\"name\":\"no-web\",\"from\":\"endpoint:web\",\"to\":\"group:db\","
		" \"proto\":\"tcp\",\"ports\":[5432],\"action\":\"deny\"},"
		"{\"from\":\"group:web\",\"to\":\"group:db\",\"proto\":\"tcp\","
		" \"ports\":[5432],\"action\":\"allow\"},"
		"{\"from\":\"any\",\"to\":\"db\",\"action\":\"deny\"}]}");

	expect(p, "web", "db", IPPROTO_TCP, 5432, VNET_FW_DENY, 0);
	expect(p, "api", "db", IPPROTO_TCP, 5432, VNET_FW_ALLOW, 1);
	expect(p, "api", "db", IPPROTO_TCP, 5433, VNET_FW_DENY, 2);
	expect(p, "other", "db", IPPROTO_TCP, 5432, VNET_FW_DENY, 2);
	/* nothing speaks of traffic to web: the default */
	expect(p, "db", "web", IPPROTO_TCP, 5432, VNET_FW_ALLOW, -1);
	rules_free(p);
}

static void test_ranges(void **state)
{
	struct rules_policy *p = parse(
		"{\"default\":\"deny\",\"rules\":[{\"from\":\"any\",\"to\":\"db\","
		"\"proto\":\"tcp\",\"ports\":[22,\"8000-8080\",\"9000\"],\"action\":\"allow\"}]}");

	expect(p, "web", "db", IPPROTO_TCP, 22, VNET_FW_ALLOW, 0);
	expect(p, "web", "db", IPPROTO_TCP, 8000, VNET_FW_ALLOW, 0);
	expect(p, "web", "db", IPPROTO_TCP, 8042, VNET_FW_ALLOW, 0);
	expect(p, "web", "db", IPPROTO_TCP, 8080, VNET_FW_ALLOW, 0);
	expect(p, "web", "db", IPPROTO_TCP, 9000, VNET_FW_ALLOW, 0);
	expect(p, "web", "db", IPPROTO_TCP, 7999, VNET_FW_DENY, -1);
	expect(p, "web", "db", IPPROTO_TCP, 8081, VNET_FW_DENY, -1);
	expect(p, "web", "db", IPPROTO_TCP, 21, VNET_FW_DENY, -1);
	/* the protocol is part of the match */
	expect(p, "web", "db", IPPROTO_UDP, 22, VNET_FW_DENY, -1);
	expect(p, "web", "db", IPPROTO_ICMP, 0, VNET_FW_DENY, -1);
	rules_free(p);
}

static void test_groups(void **state)
{
	/* web is in "web" and "frontend": both groups' rules reach it */
	struct rules_policy *p = parse(
		"{\"default\":\"deny\",\"rules\":["
		"{\"from\":\"group:frontend\",\"to\":\"group:db\",\"proto\":\"udp\","
		" \"ports\":[53],\"action\":\"allow\"},"
		"{\"from\":\"group:web\",\"to\":\"group:db\",\"proto\":\"tcp\","
		" \"ports\":[5432],\"action\":\"allow\"},"
		"{\"from\":\"group:db\",\"to\":\"group:frontend\",\"proto\":\"icmp\","
		" \"action\":\"allow\"}]}");

	expect(p, "web", "db", IPPROTO_UDP, 53, VNET_FW_ALLOW, 0);
	expect(p, "api", "db", IPPROTO_UDP, 53, VNET_FW_DENY, -1);	/* not frontend */
	expect(p, "web", "db", IPPROTO_TCP, 5432, VNET_FW_ALLOW, 1);
	expect(p, "api", "db", IPPROTO_TCP, 5432, VNET_FW_ALLOW, 1);
	expect(p, "other", "db", IPPROTO_TCP, 5432, VNET_FW_DENY, -1);
	expect(p, "db", "web", IPPROTO_ICMP, 0, VNET_FW_ALLOW, 2);
	expect(p, "db", "api", IPPROTO_ICMP, 0, VNET_FW_DENY, -1);
	rules_free(p);
}

static void test_cidr_and_any(void **state)
{
	struct rules_policy *p = parse(
		"{\"default\":\"deny\",\"rules\":["
		"{\"from\":\"cidr:10.0.0.0/24\",\"to\":\"db\",\"proto\":\"tcp\","
		" \"action\":\"allow\"},"
		"{\"from\":\"any\",\"to\":\"cidr:10.0.1.0/24\",\"action\":\"allow\"}]}");
	enum vnet_fw_action v;
	int rule;

	expect(p, "web", "db", IPPROTO_TCP, 1, VNET_FW_ALLOW, 0);
	expect(p, "api", "db", IPPROTO_TCP, 65535, VNET_FW_ALLOW, 0);
	expect(p, "other", "db", IPPROTO_TCP, 5432, VNET_FW_DENY, -1);	/* 10.0.1.5 */
	expect(p, "db", "other", IPPROTO_UDP, 9, VNET_FW_ALLOW, 1);
	expect(p, "web", "other", IPPROTO_ICMP, 0, VNET_FW_ALLOW, 1);
	/* an IPv4 cidr says nothing of IPv6 traffic between the same two */
	assert_int_equal(rules_eval_family(p, eps, 4, AF_INET6, "web", "db", IPPROTO_TCP, 80,
					   &v, &rule), 0);
	assert_int_equal(v, VNET_FW_DENY);
	assert_int_equal(rule, -1);
	/* api has no IPv6 address */
	assert_int_equal(rules_eval_family(p, eps, 4, AF_INET6, "api", "db", IPPROTO_TCP, 80,
					   &v, &rule), CS_EINVAL);
	rules_free(p);
}

static void test_eval_errors(void **state)
{
	struct rules_policy *p = parse("{\"default\":\"allow\"}");
	enum vnet_fw_action v;
	int rule;

	assert_int_equal(rules_eval(p, eps, 4, "nobody", "db", IPPROTO_TCP, 1, &v, &rule),
			 CS_ENOENT);
	assert_int_equal(rules_eval(p, eps, 4, "web", "nobody", IPPROTO_TCP, 1, &v, &rule),
			 CS_ENOENT);
	assert_int_equal(rules_eval(p, eps, 4, "web", "db", 0, 1, &v, &rule), CS_EINVAL);
	assert_int_equal(rules_eval(p, eps, 4, "web", "db", IPPROTO_TCP, 0, &v, &rule),
			 CS_EINVAL);
	assert_int_equal(rules_eval(p, eps, 4, "web", "db", IPPROTO_UDP, 65536, &v, &rule),
			 CS_EINVAL);
	assert_int_equal(rules_eval(p, eps, 4, "web", "db", IPPROTO_ICMP, 0, &v, &rule), 0);
	rules_free(p);
}

static void test_policy_tests(void **state)
{
	struct rules_policy *p = parse(
		"{\"default\":\"deny\",\"rules\":[{\"name\":\"pg\",\"from\":\"group:web\","
		"\"to\":\"group:db\",\"proto\":\"tcp\",\"ports\":[5432],\"action\":\"allow\"}],"
		"\"tests\":[{\"from\":\"web\",\"to\":\"db\",\"proto\":\"tcp\",\"port\":5432,"
		"\"expect\":\"allow\"},"
		"{\"from\":\"other\",\"to\":\"db\",\"proto\":\"tcp\",\"port\":5432,"
		"\"expect\":\"deny\"}]}");
	char report[512];

	assert_int_equal(rules_run_tests(p, eps, 4, report, sizeof(report)), 0);
	assert_string_equal(report, "");
	rules_free(p);

	p = parse("{\"default\":\"deny\",\"rules\":[{\"name\":\"pg\",\"from\":\"group:web\","
		  "\"to\":\"group:db\",\"proto\":\"tcp\",\"ports\":[5432],\"action\":\"allow\"}],"
		  "\"tests\":[{\"from\":\"web\",\"to\":\"db\",\"proto\":\"tcp\",\"port\":5432,"
		  "\"expect\":\"deny\"},{\"from\":\"web\",\"to\":\"db\",\"proto\":\"icmp\","
		  "\"expect\":\"allow\"}]}");
	assert_int_equal(rules_run_tests(p, eps, 4, report, sizeof(report)), 2);
	assert_string_equal(report,
			    "tests[0]: web -> db tcp/5432: expected deny, got allow (rules[0] \"pg\")\n"
			    "tests[1]: web -> db icmp: expected allow, got deny (the default)\n");
	rules_free(p);

	p = parse("{\"default\":\"deny\",\"tests\":[{\"from\":\"ghost\",\"to\":\"db\","
		  "\"proto\":\"udp\",\"port\":53,\"expect\":\"deny\"}]}");
	assert_int_equal(rules_run_tests(p, eps, 4, report, sizeof(report)), CS_ENOENT);
	assert_string_equal(report, "tests[0]: ghost -> db udp/53: no endpoint ghost in the vnet\n");
	rules_free(p);
}

/* --- compilation --- */

static void assert_src(const struct vnet_fw_rule *r, const char *const *want, size_t n)
{
	char buf[CS_ADDRSTRLEN];
	size_t i;

	if (r->nsrc != n)
		fail_msg("%zu sources, want %zu", r->nsrc, n);
	for (i = 0; i < n; i++)
		assert_string_equal(cs_prefix_format(&r->src[i], buf), want[i]);
}

static void test_compile_three_groups(void **state)
{
	struct rules_policy *p = parse(
		"{\"default\":\"deny\",\"rules\":["
		"{\"from\":\"group:web\",\"to\":\"group:db\",\"proto\":\"tcp\","
		" \"ports\":[5432,\"6000-6010\"],\"action\":\"allow\"},"
		"{\"from\":\"group:other\",\"to\":\"any\",\"proto\":\"icmp\",\"action\":\"deny\"},"
		"{\"from\":\"cidr:10.0.0.0/16\",\"to\":\"group:db\",\"proto\":\"udp\","
		" \"ports\":[53],\"action\":\"allow\"},"
		"{\"from\":\"group:nobody\",\"to\":\"group:db\",\"action\":\"allow\"},"
		"{\"from\":\"any\",\"to\":\"group:web\",\"action\":\"allow\"},"
		"{\"from\":\"any\",\"to\":\"cidr:fd00::/64\",\"proto\":\"tcp\","
		" \"ports\":[443],\"action\":\"allow\"}]}");
	static const char *const web_srcs[] = { "10.0.0.2/32", "10.0.0.3/32", "fd00::2/128" };
	static const char *const other_srcs[] = { "10.0.1.5/32" };
	static const char *const cidr_srcs[] = { "10.0.0.0/16" };
	static const char *const any6[] = { "::/0" };
	struct vnet_fw fw;

	/* db: the web rule twice (two ranges), other's icmp deny, the cidr
	 * rule, not group:nobody (matches no source), not the rule to web,
	 * the IPv6 cidr rule narrowed to IPv6 sources */
	assert_int_equal(rules_compile(p, eps, 4, "db", &fw), 0);
	assert_int_equal(fw.dflt, VNET_FW_DENY);
	assert_int_equal(fw.n, 5);
	assert_int_equal(fw.rules[0].action, VNET_FW_ALLOW);
	assert_int_equal(fw.rules[0].proto, IPPROTO_TCP);
	assert_int_equal(fw.rules[0].port_lo, 5432);
	assert_int_equal(fw.rules[0].port_hi, 5432);
	assert_src(&fw.rules[0], web_srcs, 3);
	assert_int_equal(fw.rules[1].port_lo, 6000);
	assert_int_equal(fw.rules[1].port_hi, 6010);
	assert_src(&fw.rules[1], web_srcs, 3);
	assert_int_equal(fw.rules[2].action, VNET_FW_DENY);
	assert_int_equal(fw.rules[2].proto, IPPROTO_ICMP);
	assert_int_equal(fw.rules[2].port_lo, 0);
	assert_src(&fw.rules[2], other_srcs, 1);
	assert_int_equal(fw.rules[3].proto, IPPROTO_UDP);
	assert_src(&fw.rules[3], cidr_srcs, 1);
	assert_int_equal(fw.rules[4].proto, IPPROTO_TCP);
	assert_int_equal(fw.rules[4].port_lo, 443);
	assert_src(&fw.rules[4], any6, 1);
	rules_fw_free(&fw);
	assert_null(fw.rules);

	/* web: other's icmp deny, then "any" (nsrc 0), then the v6 cidr rule */
	assert_int_equal(rules_compile(p, eps, 4, "web", &fw), 0);
	assert_int_equal(fw.n, 3);
	assert_src(&fw.rules[0], other_srcs, 1);
	assert_int_equal(fw.rules[1].nsrc, 0);
	assert_int_equal(fw.rules[1].proto, 0);
	assert_int_equal(fw.rules[1].action, VNET_FW_ALLOW);
	assert_src(&fw.rules[2], any6, 1);
	rules_fw_free(&fw);

	/* other: only the icmp deny (to any) */
	assert_int_equal(rules_compile(p, eps, 4, "other", &fw), 0);
	assert_int_equal(fw.n, 1);
	assert_int_equal(fw.rules[0].proto, IPPROTO_ICMP);
	rules_fw_free(&fw);

	assert_int_equal(rules_compile(p, eps, 4, "ghost", &fw), CS_ENOENT);
	assert_int_equal(fw.n, 0);
	rules_free(p);

	/* no policy: nothing, default allow */
	assert_int_equal(rules_compile(NULL, eps, 4, "db", &fw), 0);
	assert_int_equal(fw.n, 0);
	assert_int_equal(fw.dflt, VNET_FW_ALLOW);
	rules_fw_free(&fw);
	rules_fw_free(NULL);
	rules_free(NULL);
}

/* egress: only rules to "any" or a cidr, in order, with their sources and
 * destination; rules to endpoints or groups never match the world */
static void test_compile_egress(void **state)
{
	struct rules_policy *p = parse(
		"{\"default\":\"deny\",\"rules\":["
		"{\"from\":\"group:web\",\"to\":\"cidr:198.51.100.0/24\",\"proto\":\"tcp\","
		" \"ports\":[80,443],\"action\":\"allow\"},"
		"{\"from\":\"any\",\"to\":\"group:db\",\"action\":\"allow\"},"
		"{\"from\":\"endpoint:other\",\"to\":\"any\",\"action\":\"deny\"},"
		"{\"from\":\"group:nobody\",\"to\":\"any\",\"action\":\"allow\"}]}");
	struct vnet_fw fw;
	char buf[CS_ADDRSTRLEN];

	assert_int_equal(rules_compile_egress(p, eps, 4, &fw), 0);
	assert_int_equal(fw.dflt, VNET_FW_DENY);
	assert_int_equal(fw.n, 3);	/* 80, 443, other's deny */
	for (int i = 0; i < 2; i++) {
		assert_non_null(fw.rules[i].dst);
		assert_string_equal(cs_addr_format(&fw.rules[i].dst->addr, buf), "198.51.100.0");
		assert_int_equal(fw.rules[i].dst->plen, 24);
		/* web's IPv4 sources only: the destination is IPv4 */
		assert_int_equal(fw.rules[i].nsrc, 2);
		assert_int_equal(fw.rules[i].proto, IPPROTO_TCP);
	}
	assert_int_equal(fw.rules[0].port_lo, 80);
	assert_int_equal(fw.rules[1].port_lo, 443);
	assert_null(fw.rules[2].dst);
	assert_int_equal(fw.rules[2].action, VNET_FW_DENY);
	assert_int_equal(fw.rules[2].nsrc, 1);
	rules_fw_free(&fw);
	assert_int_equal(rules_compile_egress(NULL, eps, 4, &fw), 0);
	assert_int_equal(fw.n, 0);
	assert_int_equal(fw.dflt, VNET_FW_ALLOW);
	rules_free(p);
}

static void test_compile_narrowed_any(void **state)
{
	/* "any" to a cidr of one family is narrowed to that family */
	struct rules_policy *p = parse(
		"{\"default\":\"deny\",\"rules\":[{\"from\":\"any\",\"to\":\"cidr:10.0.0.4/32\","
		"\"action\":\"allow\"},{\"from\":\"endpoint:web\",\"to\":\"db\",\"action\":\"allow\"}]}");
	static const char *const any4[] = { "0.0.0.0/0" };
	static const char *const web[] = { "10.0.0.2/32", "fd00::2/128" };
	struct vnet_fw fw;

	assert_int_equal(rules_compile(p, eps, 4, "db", &fw), 0);
	assert_int_equal(fw.n, 2);
	assert_src(&fw.rules[0], any4, 1);
	assert_src(&fw.rules[1], web, 2);
	rules_fw_free(&fw);
	rules_free(p);
}

/* --- validation: every message --- */

struct bad {
	const char *json;
	const char *err;
};

static const struct bad bads[] = {
	{ "[]", "policy: an array is not a policy; a policy is an object with default, rules "
		"and tests" },
	{ "{\"default\":\"deny\",\"rulez\":[]}", "rulez: unknown key" },
	{ "{}", "default: missing; write \"allow\" or \"deny\"" },
	{ "{\"default\":\"block\"}", "default: \"block\" is not an action; write \"allow\" or "
				      "\"deny\"" },
	{ "{\"default\":\"deny\",\"rules\":{}}", "rules: an object is not a list of rules" },
	{ "{\"default\":\"deny\",\"rules\":[7]}", "rules[0]: 7 is not a rule; a rule is an object "
						   "with from, to, proto, ports and action" },
	{ "{\"default\":\"deny\",\"rules\":[{\"from\":\"any\",\"to\":\"any\",\"action\":\"allow\","
	  "\"port\":[80]}]}", "rules[0].port: unknown key" },
	{ "{\"default\":\"deny\",\"rules\":[{\"to\":\"any\",\"action\":\"allow\"}]}",
	  "rules[0].from: missing; write endpoint:NAME, group:NAME, cidr:PREFIX or any" },
	{ "{\"default\":\"deny\",\"rules\":[{\"from\":\"any\",\"action\":\"allow\"}]}",
	  "rules[0].to: missing; write endpoint:NAME, group:NAME, cidr:PREFIX or any" },
	{ "{\"default\":\"deny\",\"rules\":[{\"from\":\"grp:web\",\"to\":\"any\","
	  "\"action\":\"allow\"}]}",
	  "rules[0].from: \"grp:web\" is not a selector; write endpoint:NAME, group:NAME, "
	  "cidr:PREFIX or any" },
	{ "{\"default\":\"deny\",\"rules\":[{\"from\":5,\"to\":\"any\",\"action\":\"allow\"}]}",
	  "rules[0].from: 5 is not a selector; write endpoint:NAME, group:NAME, cidr:PREFIX or "
	  "any" },
	{ "{\"default\":\"deny\",\"rules\":[{\"from\":\"any\",\"to\":\"group:Web!\","
	  "\"action\":\"allow\"}]}",
	  "rules[0].to: \"group:Web!\": \"Web!\" is not a valid group name (1-32 characters of "
	  "a-z, 0-9, '_' and '-', starting with a letter or digit)" },
	{ "{\"default\":\"deny\",\"rules\":[{\"from\":\"endpoint:\",\"to\":\"any\","
	  "\"action\":\"allow\"}]}",
	  "rules[0].from: \"endpoint:\": \"\" is not a valid endpoint name (1-32 characters of "
	  "a-z, 0-9, '_' and '-', starting with a letter or digit)" },
	{ "{\"default\":\"deny\",\"rules\":[{\"from\":\"cidr:10.0.0.1/24\",\"to\":\"any\","
	  "\"action\":\"allow\"}]}",
	  "rules[0].from: not a valid CIDR: 10.0.0.1/24: host bits are set; the network is "
	  "10.0.0.0/24" },
	{ "{\"default\":\"deny\",\"rules\":[{\"from\":\"cidr:10.0.0.0/8\",\"to\":\"cidr:fd00::/8\","
	  "\"action\":\"allow\"}]}",
	  "rules[0]: from and to are CIDRs of different address families: the rule can match "
	  "no packet" },
	{ "{\"default\":\"deny\",\"rules\":[{\"from\":\"any\",\"to\":\"any\",\"proto\":\"sctp\","
	  "\"action\":\"allow\"}]}",
	  "rules[0].proto: \"sctp\" is not a protocol; write \"tcp\", \"udp\", \"icmp\" or "
	  "\"any\"" },
	{ "{\"default\":\"deny\",\"rules\":[{\"from\":\"any\",\"to\":\"any\",\"ports\":[80],"
	  "\"action\":\"allow\"}]}",
	  "rules[0].ports: ports need \"proto\": \"tcp\" or \"udp\" (this rule has \"any\")" },
	{ "{\"default\":\"deny\",\"rules\":[{\"from\":\"any\",\"to\":\"any\",\"proto\":\"icmp\","
	  "\"ports\":[80],\"action\":\"allow\"}]}",
	  "rules[0].ports: ports need \"proto\": \"tcp\" or \"udp\" (this rule has \"icmp\")" },
	{ "{\"default\":\"deny\",\"rules\":[{\"from\":\"any\",\"to\":\"any\",\"proto\":\"tcp\","
	  "\"ports\":80,\"action\":\"allow\"}]}",
	  "rules[0].ports: 80 is not a list of ports; write [5432, \"8000-8080\"]" },
	{ "{\"default\":\"deny\",\"rules\":[{\"from\":\"any\",\"to\":\"any\",\"proto\":\"tcp\","
	  "\"ports\":[],\"action\":\"allow\"}]}",
	  "rules[0].ports: is empty; leave it out to mean every port" },
	{ "{\"default\":\"deny\",\"rules\":[{\"from\":\"any\",\"to\":\"any\",\"action\":\"allow\"},"
	  "{\"from\":\"any\",\"to\":\"any\",\"proto\":\"tcp\",\"action\":\"allow\","
	  "\"ports\":[80,0]}]}",
	  "rules[1].ports[1]: 0 is not a port; ports are 1-65535" },
	{ "{\"default\":\"deny\",\"rules\":[{\"from\":\"any\",\"to\":\"any\",\"proto\":\"udp\","
	  "\"ports\":[65536],\"action\":\"allow\"}]}",
	  "rules[0].ports[0]: 65536 is not a port; ports are 1-65535" },
	{ "{\"default\":\"deny\",\"rules\":[{\"from\":\"any\",\"to\":\"any\",\"proto\":\"tcp\","
	  "\"ports\":[\"http\"],\"action\":\"allow\"}]}",
	  "rules[0].ports[0]: \"http\" is not a port or a range; write 5432 or \"8000-8080\"" },
	{ "{\"default\":\"deny\",\"rules\":[{\"from\":\"any\",\"to\":\"any\",\"proto\":\"tcp\","
	  "\"ports\":[80.5],\"action\":\"allow\"}]}",
	  "rules[0].ports[0]: 80.5 is not a port or a range; write 5432 or \"8000-8080\"" },
	/* every bad rule is named, a line each, not just the first */
	{ "{\"default\":\"deny\",\"rules\":[{},{},{\"from\":\"any\",\"to\":\"any\","
	  "\"proto\":\"tcp\",\"ports\":[1,\"80-70\"],\"action\":\"allow\"}]}",
	  "rules[0].from: missing; write endpoint:NAME, group:NAME, cidr:PREFIX or any\n"
	  "rules[1].from: missing; write endpoint:NAME, group:NAME, cidr:PREFIX or any\n"
	  "rules[2].ports[1]: \"80-70\" is not a valid range: the first port (80) is above the "
	  "last (70)" },
	{ "{\"rules\":[{\"from\":\"any\",\"to\":\"any\"}],\"tests\":[{\"from\":\"a\"}]}",
	  "default: missing; write \"allow\" or \"deny\"\n"
	  "rules[0].action: missing; write \"allow\" or \"deny\"\n"
	  "tests[0].to: missing; name an endpoint of the vnet" },
	{ "{\"default\":\"deny\",\"rules\":[{\"from\":\"any\",\"to\":\"any\",\"action\":\"deny\"},"
	  "{\"from\":\"any\",\"to\":\"any\",\"action\":\"deny\"},{\"from\":\"any\",\"to\":\"any\","
	  "\"proto\":\"tcp\",\"ports\":[1,\"80-70\"],\"action\":\"allow\"}]}",
	  "rules[2].ports[1]: \"80-70\" is not a valid range: the first port (80) is above the "
	  "last (70)" },
	{ "{\"default\":\"deny\",\"rules\":[{\"from\":\"any\",\"to\":\"any\",\"proto\":\"tcp\","
	  "\"ports\":[\"1-70000\"],\"action\":\"allow\"}]}",
	  "rules[0].ports[0]: \"1-70000\" is not a valid range: write \"FIRST-LAST\" with ports "
	  "1-65535" },
	{ "{\"default\":\"deny\",\"rules\":[{\"from\":\"any\",\"to\":\"any\",\"proto\":\"tcp\","
	  "\"ports\":[\"-80\"],\"action\":\"allow\"}]}",
	  "rules[0].ports[0]: \"-80\" is not a valid range: write \"FIRST-LAST\" with ports "
	  "1-65535" },
	{ "{\"default\":\"deny\",\"rules\":[{\"from\":\"any\",\"to\":\"any\"}]}",
	  "rules[0].action: missing; write \"allow\" or \"deny\"" },
	{ "{\"default\":\"deny\",\"rules\":[{\"from\":\"any\",\"to\":\"any\",\"action\":true}]}",
	  "rules[0].action: true is not an action; write \"allow\" or \"deny\"" },
	{ "{\"default\":\"deny\",\"rules\":[{\"name\":\"Bad Name\",\"from\":\"any\",\"to\":\"any\","
	  "\"action\":\"allow\"}]}",
	  "rules[0].name: \"Bad Name\" is not a valid rule name (1-32 characters of a-z, 0-9, "
	  "'_' and '-')" },
	{ "{\"default\":\"deny\",\"rules\":[{\"name\":\"42\",\"from\":\"any\",\"to\":\"any\","
	  "\"action\":\"allow\"}]}",
	  "rules[0].name: \"42\": a rule name must not be a number (numbers address rules by "
	  "position)" },
	{ "{\"default\":\"deny\",\"rules\":[{\"name\":\"x\",\"from\":\"any\",\"to\":\"any\","
	  "\"action\":\"allow\"},{\"name\":\"x\",\"from\":\"any\",\"to\":\"any\","
	  "\"action\":\"deny\"}]}",
	  "rules[1].name: \"x\": rules[0] has the same name" },
	{ "{\"default\":\"deny\",\"tests\":{}}", "tests: an object is not a list of tests" },
	{ "{\"default\":\"deny\",\"tests\":[null]}",
	  "tests[0]: null is not a test; a test is an object with from, to, proto, port and "
	  "expect" },
	{ "{\"default\":\"deny\",\"tests\":[{\"from\":\"a\",\"to\":\"b\",\"proto\":\"tcp\","
	  "\"port\":1,\"expect\":\"allow\",\"why\":1}]}", "tests[0].why: unknown key" },
	{ "{\"default\":\"deny\",\"tests\":[{\"to\":\"b\",\"proto\":\"tcp\",\"port\":1,"
	  "\"expect\":\"allow\"}]}", "tests[0].from: missing; name an endpoint of the vnet" },
	{ "{\"default\":\"deny\",\"tests\":[{\"from\":\"a\",\"to\":\"group:b\",\"proto\":\"tcp\","
	  "\"port\":1,\"expect\":\"allow\"}]}",
	  "tests[0].to: \"group:b\" is not an endpoint name; tests name endpoints" },
	{ "{\"default\":\"deny\",\"tests\":[{\"from\":\"a\",\"to\":\"b\",\"port\":1,"
	  "\"expect\":\"allow\"}]}", "tests[0].proto: missing; write \"tcp\", \"udp\" or \"icmp\"" },
	{ "{\"default\":\"deny\",\"tests\":[{\"from\":\"a\",\"to\":\"b\",\"proto\":\"any\","
	  "\"port\":1,\"expect\":\"allow\"}]}",
	  "tests[0].proto: \"any\" is not a protocol; write \"tcp\", \"udp\" or \"icmp\"" },
	{ "{\"default\":\"deny\",\"tests\":[{\"from\":\"a\",\"to\":\"b\",\"proto\":\"tcp\","
	  "\"expect\":\"allow\"}]}", "tests[0].port: missing; tcp needs a port (1-65535)" },
	{ "{\"default\":\"deny\",\"tests\":[{\"from\":\"a\",\"to\":\"b\",\"proto\":\"udp\","
	  "\"port\":\"53\",\"expect\":\"allow\"}]}",
	  "tests[0].port: \"53\" is not a port; ports are 1-65535" },
	{ "{\"default\":\"deny\",\"tests\":[{\"from\":\"a\",\"to\":\"b\",\"proto\":\"icmp\","
	  "\"port\":1,\"expect\":\"allow\"}]}", "tests[0].port: icmp has no ports; leave it out" },
	{ "{\"default\":\"deny\",\"tests\":[{\"from\":\"a\",\"to\":\"b\",\"proto\":\"icmp\"}]}",
	  "tests[0].expect: missing; write \"allow\" or \"deny\"" },
};

static void test_validation_errors(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		struct rules_policy *p = (struct rules_policy *)1;
		json_error_t jerr;
		char err[512] = "";
		json_t *j = json_loads(bads[i].json, JSON_DECODE_ANY, &jerr);

		if (!j)
			fail_msg("bad JSON in case %zu: %s", i, jerr.text);
		assert_int_equal(rules_parse(j, NULL, &p, err, sizeof(err)), CS_EINVAL);
		assert_null(p);
		if (strcmp(err, bads[i].err))
			fail_msg("case %zu:\n got: %s\nwant: %s", i, err, bads[i].err);
		json_decref(j);
	}
}

static void test_validation_where(void **state)
{
	struct rules_policy *p;
	char err[512];
	json_t *j = json_loads("{\"default\":\"deny\",\"rules\":[{\"from\":\"any\",\"to\":\"any\","
			       "\"proto\":\"tcp\",\"ports\":[\"9-1\"],\"action\":\"deny\"}]}", 0,
			       NULL);

	assert_int_equal(rules_parse(j, "vnets.\"acme/blue\".policy", &p, err, sizeof(err)),
			 CS_EINVAL);
	assert_string_equal(err, "vnets.\"acme/blue\".policy.rules[0].ports[0]: \"9-1\" is not a "
			    "valid range: the first port (9) is above the last (1)");
	json_decref(j);
	j = json_loads("{\"rules\":[]}", 0, NULL);
	assert_int_equal(rules_parse(j, "vnets.\"acme/blue\".policy", &p, err, sizeof(err)),
			 CS_EINVAL);
	assert_string_equal(err, "vnets.\"acme/blue\".policy.default: missing; write \"allow\" or "
			    "\"deny\"");
	json_decref(j);
}

static void test_parse_forms(void **state)
{
	struct rules_policy *p = parse(
		"{\"default\":\"allow\",\"rules\":[{\"name\":\"r-1\",\"from\":\"web\","
		"\"to\":\"endpoint:db\",\"proto\":\"udp\",\"ports\":[\"53\",\"100-200\",7],"
		"\"action\":\"deny\"},{\"from\":\"cidr:fd00::/64\",\"to\":\"any\","
		"\"action\":\"allow\"}]}");

	assert_int_equal(p->dflt, VNET_FW_ALLOW);
	assert_int_equal(p->nrules, 2);
	assert_string_equal(p->rules[0].name, "r-1");
	assert_int_equal(p->rules[0].from.kind, RULES_SEL_ENDPOINT);
	assert_string_equal(p->rules[0].from.name, "web");
	assert_int_equal(p->rules[0].to.kind, RULES_SEL_ENDPOINT);
	assert_string_equal(p->rules[0].to.name, "db");
	assert_int_equal(p->rules[0].proto, IPPROTO_UDP);
	assert_int_equal(p->rules[0].nports, 3);
	assert_int_equal(p->rules[0].ports[0].lo, 53);
	assert_int_equal(p->rules[0].ports[0].hi, 53);
	assert_int_equal(p->rules[0].ports[1].lo, 100);
	assert_int_equal(p->rules[0].ports[1].hi, 200);
	assert_int_equal(p->rules[0].ports[2].lo, 7);
	assert_int_equal(p->rules[0].action, VNET_FW_DENY);
	assert_null(p->rules[1].name);
	assert_int_equal(p->rules[1].from.kind, RULES_SEL_CIDR);
	assert_int_equal(p->rules[1].from.cidr.plen, 64);
	assert_int_equal(p->rules[1].to.kind, RULES_SEL_ANY);
	assert_int_equal(p->rules[1].proto, 0);
	rules_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_no_policy_allows, setup),
		cmocka_unit_test_setup(test_default, setup),
		cmocka_unit_test_setup(test_precedence, setup),
		cmocka_unit_test_setup(test_ranges, setup),
		cmocka_unit_test_setup(test_groups, setup),
		cmocka_unit_test_setup(test_cidr_and_any, setup),
		cmocka_unit_test_setup(test_eval_errors, setup),
		cmocka_unit_test_setup(test_policy_tests, setup),
		cmocka_unit_test_setup(test_compile_three_groups, setup),
		cmocka_unit_test_setup(test_compile_narrowed_any, setup),
		cmocka_unit_test_setup(test_compile_egress, setup),
		cmocka_unit_test(test_validation_errors),
		cmocka_unit_test(test_validation_where),
		cmocka_unit_test(test_parse_forms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
