/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Rules of a vnet: parsing, evaluation, compilation (see rules.h). */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cs/cs.h"
#include "csd/names.h"
#include "rules.h"

/* --- parsing --- */

struct parse {
	const char *where;
	char *err;
	size_t errlen;
};

/* "WHERE.REL: message" (or "REL: message" without @where). */
static int __attribute__((format(printf, 3, 4)))
perr(struct parse *ps, const char *rel, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* every error of the policy, a line each (rules_parse goes on after
	 * one), as far as the buffer holds them */
	size_t used = ps->errlen ? strlen(ps->err) : 0;
	if (used && used + 1 < ps->errlen)
		ps->err[used++] = '\n';
	if (used >= ps->errlen)
		return CS_EINVAL;
	char *out = ps->err + used;
	size_t len = ps->errlen - used;
	if (ps->where && *rel)
		snprintf(out, len, "%s.%s: %s", ps->where, rel, msg);
	else if (ps->where)
		snprintf(out, len, "%s: %s", ps->where, msg);
	else
		snprintf(out, len, "%s: %s", *rel ? rel : "policy", msg);
	return CS_EINVAL;
}

/* A JSON value as a message shows it: strings quoted, short. */
static const char *show(const json_t *v, char *buf, size_t len)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		snprintf(buf, len, "\"%.64s\"", json_string_value(v));
		break;
	case JSON_INTEGER:
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		snprintf(buf, len, "%g", json_real_value(v));
		break;
	case JSON_TRUE:
		snprintf(buf, len, "true");
		break;
	case JSON_FALSE:
		snprintf(buf, len, "false");
		break;
	case JSON_NULL:
		snprintf(buf, len, "null");
		break;
	case JSON_ARRAY:
		snprintf(buf, len, "an array");
		break;
	default:
		snprintf(buf, len, "an object");
		break;
	}
	return buf;
}

static int check_keys(struct parse *ps, const json_t *obj, const char *rel,
		      const char *const *allowed)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach((json_t *)obj, key, v) {
		for (i = 0; allowed[i]; i++)
			if (!strcmp(key, allowed[i]))
				break;
		if (!allowed[i]) {
			char path[128];

			snprintf(path, sizeof(path), "%s%s%.40s", rel, *rel ? "." : "", key);
			return perr(ps, path, "unknown key");
		}
	}
	return 0;
}

static int parse_action(struct parse *ps, const json_t *v, const char *rel,
			enum vnet_fw_action *out)
{
	char buf[96];

	if (!v)
		return perr(ps, rel, "missing; write \"allow\" or \"deny\"");
	if (json_is_string(v) && !strcmp(json_string_value(v), "allow")) {
		*out = VNET_FW_ALLOW;
		return 0;
	}
	if (json_is_string(v) && !strcmp(json_string_value(v), "deny")) {
		*out = VNET_FW_DENY;
		return 0;
	}
	return perr(ps, rel, "%s is not an action; write \"allow\" or \"deny\"",
		    show(v, buf, sizeof(buf)));
}

int rules_proto_parse(const char *s)
{
	if (!strcmp(s, "tcp"))
		return IPPROTO_TCP;
	if (!strcmp(s, "udp"))
		return IPPROTO_UDP;
	if (!strcmp(s, "icmp"))
		return IPPROTO_ICMP;
	if (!strcmp(s, "any"))
		return 0;
	return CS_EINVAL;
}

const char *rules_proto_name(int proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	default:
		return "any";
	}
}

static int parse_proto(struct parse *ps, const json_t *v, const char *rel, bool any_ok,
		       int *out)
{
	char buf[96];
	int p = CS_EINVAL;

	if (json_is_string(v))
		p = rules_proto_parse(json_string_value(v));
	if (p == 0 && !any_ok)
		p = CS_EINVAL;
	if (p < 0)
		return perr(ps, rel, "%s is not a protocol; write %s", show(v, buf, sizeof(buf)),
			    any_ok ? "\"tcp\", \"udp\", \"icmp\" or \"any\""
				   : "\"tcp\", \"udp\" or \"icmp\"");
	*out = p;
	return 0;
}

static int parse_sel(struct parse *ps, const json_t *v, const char *rel, struct rules_sel *out)
{
	char buf[96], why[160] = "";
	const char *s, *name;

	if (!v)
		return perr(ps, rel, "missing; write endpoint:NAME, group:NAME, cidr:PREFIX "
			    "or any");
	if (!json_is_string(v))
		goto bad;
	s = json_string_value(v);
	if (!strcmp(s, "any")) {
		out->kind = RULES_SEL_ANY;
		return 0;
	}
	if (!strncmp(s, "cidr:", 5)) {
		out->kind = RULES_SEL_CIDR;
		if (cs_prefix_parse(s + 5, &out->cidr, why, sizeof(why)) < 0)
			return perr(ps, rel, "not a valid CIDR: %s", why);
		return 0;
	}
	if (!strncmp(s, "group:", 6)) {
		out->kind = RULES_SEL_GROUP;
		name = s + 6;
	} else if (!strncmp(s, "endpoint:", 9)) {
		out->kind = RULES_SEL_ENDPOINT;
		name = s + 9;
	} else if (!strchr(s, ':')) {
		/* the overlay's first form: a bare endpoint name */
		out->kind = RULES_SEL_ENDPOINT;
		name = s;
	} else {
		goto bad;
	}
	if (!cs_name_valid(name))
		return perr(ps, rel, "%s: \"%.40s\" is not a valid %s name (1-%d characters of "
			    "a-z, 0-9, '_' and '-', starting with a letter or digit)",
			    show(v, buf, sizeof(buf)), name,
			    out->kind == RULES_SEL_GROUP ? "group" : "endpoint", CS_NAME_MAX);
	out->name = strdup(name);
	return out->name ? 0 : CS_ENOMEM;
bad:
	return perr(ps, rel, "%s is not a selector; write endpoint:NAME, group:NAME, "
		    "cidr:PREFIX or any", show(v, buf, sizeof(buf)));
}

/* Digits only, 1..65535. */
static int port_num(const char *s, size_t n)
{
	long v = 0;
	size_t i;

	if (n == 0 || n > 5)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= 65535 ? (int)v : -1;
}

static int parse_port(struct parse *ps, const json_t *v, const char *rel,
		      struct rules_ports *out)
{
	char buf[96];
	const char *s, *dash;
	int lo, hi;

	if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);

		if (n < 1 || n > 65535)
			return perr(ps, rel, "%s is not a port; ports are 1-65535",
				    show(v, buf, sizeof(buf)));
		out->lo = out->hi = (uint16_t)n;
		return 0;
	}
	if (!json_is_string(v))
		goto bad;
	s = json_string_value(v);
	dash = strchr(s, '-');
	if (!dash) {
		lo = port_num(s, strlen(s));
		if (lo < 0)
			goto bad;
		out->lo = out->hi = (uint16_t)lo;
		return 0;
	}
	lo = port_num(s, dash - s);
	hi = port_num(dash + 1, strlen(dash + 1));
	if (lo < 0 || hi < 0)
		return perr(ps, rel, "%s is not a valid range: write \"FIRST-LAST\" with ports "
			    "1-65535", show(v, buf, sizeof(buf)));
	if (lo > hi)
		return perr(ps, rel, "%s is not a valid range: the first port (%d) is above the "
			    "last (%d)", show(v, buf, sizeof(buf)), lo, hi);
	out->lo = (uint16_t)lo;
	out->hi = (uint16_t)hi;
	return 0;
bad:
	return perr(ps, rel, "%s is not a port or a range; write 5432 or \"8000-8080\"",
		    show(v, buf, sizeof(buf)));
}

static bool all_digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

static int parse_rule(struct parse *ps, const json_t *r, size_t i, struct rules_policy *p)
{
	static const char *const keys[] = { "name", "from", "to", "proto", "ports", "action",
					    NULL };
	struct rules_rule *ru = &p->rules[i];
	char rel[64], sub[96], buf[96];
	const json_t *v, *ports;
	size_t j;
	int ret;

	snprintf(rel, sizeof(rel), "rules[%zu]", i);
	if (!json_is_object(r))
		return perr(ps, rel, "%s is not a rule; a rule is an object with from, to, "
			    "proto, ports and action", show(r, buf, sizeof(buf)));
	ret = check_keys(ps, r, rel, keys);
	if (ret < 0)
		return ret;
	v = json_object_get(r, "name");
	if (v) {
		snprintf(sub, sizeof(sub), "%s.name", rel);
		if (!json_is_string(v) || !cs_name_valid(json_string_value(v)))
			return perr(ps, sub, "%s is not a valid rule name (1-%d characters of "
				    "a-z, 0-9, '_' and '-')", show(v, buf, sizeof(buf)),
				    CS_NAME_MAX);
		/* rules are addressed by name or by position: keep them apart */
		if (all_digits(json_string_value(v)))
			return perr(ps, sub, "%s: a rule name must not be a number (numbers "
				    "address rules by position)", show(v, buf, sizeof(buf)));
		for (j = 0; j < i; j++)
			if (p->rules[j].name && !strcmp(p->rules[j].name, json_string_value(v)))
				return perr(ps, sub, "%s: rules[%zu] has the same name",
					    show(v, buf, sizeof(buf)), j);
		ru->name = strdup(json_string_value(v));
		if (!ru->name)
			return CS_ENOMEM;
	}
	snprintf(sub, sizeof(sub), "%s.from", rel);
	ret = parse_sel(ps, json_object_get(r, "from"), sub, &ru->from);
	if (ret < 0)
		return ret;
	snprintf(sub, sizeof(sub), "%s.to", rel);
	ret = parse_sel(ps, json_object_get(r, "to"), sub, &ru->to);
	if (ret < 0)
		return ret;
	if (ru->from.kind == RULES_SEL_CIDR && ru->to.kind == RULES_SEL_CIDR &&
	    ru->from.cidr.addr.family != ru->to.cidr.addr.family)
		return perr(ps, rel, "from and to are CIDRs of different address families: the "
			    "rule can match no packet");
	v = json_object_get(r, "proto");
	ru->proto = 0;
	if (v) {
		snprintf(sub, sizeof(sub), "%s.proto", rel);
		ret = parse_proto(ps, v, sub, true, &ru->proto);
		if (ret < 0)
			return ret;
	}
	ports = json_object_get(r, "ports");
	if (ports) {
		snprintf(sub, sizeof(sub), "%s.ports", rel);
		if (!json_is_array(ports))
			return perr(ps, sub, "%s is not a list of ports; write [5432, "
				    "\"8000-8080\"]", show(ports, buf, sizeof(buf)));
		if (json_array_size(ports) == 0)
			return perr(ps, sub, "is empty; leave it out to mean every port");
		if (ru->proto != IPPROTO_TCP && ru->proto != IPPROTO_UDP)
			return perr(ps, sub, "ports need \"proto\": \"tcp\" or \"udp\" (this rule "
				    "has \"%s\")", rules_proto_name(ru->proto));
		ru->ports = calloc(json_array_size(ports), sizeof(*ru->ports));
		if (!ru->ports)
			return CS_ENOMEM;
		json_array_foreach(ports, j, v) {
			snprintf(sub, sizeof(sub), "%s.ports[%zu]", rel, j);
			ret = parse_port(ps, v, sub, &ru->ports[j]);
			if (ret < 0)
				return ret;
			ru->nports++;
		}
	}
	snprintf(sub, sizeof(sub), "%s.action", rel);
	return parse_action(ps, json_object_get(r, "action"), sub, &ru->action);
}

static int parse_test(struct parse *ps, const json_t *t, size_t i, struct rules_test *te)
{
	static const char *const keys[] = { "from", "to", "proto", "port", "expect", NULL };
	static const char *const ends[] = { "from", "to" };
	char rel[64], sub[96], buf[96];
	const json_t *v;
	size_t k;
	int ret;

	snprintf(rel, sizeof(rel), "tests[%zu]", i);
	if (!json_is_object(t))
		return perr(ps, rel, "%s is not a test; a test is an object with from, to, "
			    "proto, port and expect", show(t, buf, sizeof(buf)));
	ret = check_keys(ps, t, rel, keys);
	if (ret < 0)
		return ret;
	for (k = 0; k < 2; k++) {
		char **dst = k ? &te->to : &te->from;

		snprintf(sub, sizeof(sub), "%s.%s", rel, ends[k]);
		v = json_object_get(t, ends[k]);
		if (!v)
			return perr(ps, sub, "missing; name an endpoint of the vnet");
		if (!json_is_string(v) || !cs_name_valid(json_string_value(v)))
			return perr(ps, sub, "%s is not an endpoint name; tests name endpoints",
				    show(v, buf, sizeof(buf)));
		*dst = strdup(json_string_value(v));
		if (!*dst)
			return CS_ENOMEM;
	}
	snprintf(sub, sizeof(sub), "%s.proto", rel);
	v = json_object_get(t, "proto");
	if (!v)
		return perr(ps, sub, "missing; write \"tcp\", \"udp\" or \"icmp\"");
	ret = parse_proto(ps, v, sub, false, &te->proto);
	if (ret < 0)
		return ret;
	snprintf(sub, sizeof(sub), "%s.port", rel);
	v = json_object_get(t, "port");
	if (te->proto == IPPROTO_ICMP) {
		if (v)
			return perr(ps, sub, "icmp has no ports; leave it out");
	} else if (!v) {
		return perr(ps, sub, "missing; %s needs a port (1-65535)",
			    rules_proto_name(te->proto));
	} else if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		   json_integer_value(v) > 65535) {
		return perr(ps, sub, "%s is not a port; ports are 1-65535",
			    show(v, buf, sizeof(buf)));
	} else {
		te->port = (int)json_integer_value(v);
	}
	snprintf(sub, sizeof(sub), "%s.expect", rel);
	return parse_action(ps, json_object_get(t, "expect"), sub, &te->expect);
}

int rules_parse(const json_t *policy, const char *where, struct rules_policy **out, char *err,
		size_t errlen)
{
	static const char *const keys[] = { "default", "rules", "tests", NULL };
	struct parse ps = { .where = where, .err = err, .errlen = errlen };
	struct rules_policy *p = NULL;
	const json_t *rules, *tests, *v;
	char buf[96];
	size_t i;
	int ret;

	*out = NULL;
	if (errlen)
		*err = '\0';
	if (!json_is_object(policy))
		return perr(&ps, "", "%s is not a policy; a policy is an object with default, "
			    "rules and tests", show(policy, buf, sizeof(buf)));
	/* an error does not stop the parse: the next parts are checked too,
	 * so that one refusal names all that is wrong */
	int bad = check_keys(&ps, policy, "", keys);
	p = calloc(1, sizeof(*p));
	if (!p)
		return CS_ENOMEM;
	/* no implicit default: whether unmatched traffic passes is too
	 * important to guess */
	ret = parse_action(&ps, json_object_get(policy, "default"), "default", &p->dflt);
	if (ret == CS_ENOMEM)
		goto out;
	bad = bad < 0 ? bad : ret;
	rules = json_object_get(policy, "rules");
	if (rules && !json_is_array(rules)) {
		ret = perr(&ps, "rules", "%s is not a list of rules", show(rules, buf, sizeof(buf)));
		goto out;
	}
	if (rules && json_array_size(rules)) {
		p->rules = calloc(json_array_size(rules), sizeof(*p->rules));
		if (!p->rules) {
			ret = CS_ENOMEM;
			goto out;
		}
		json_array_foreach(rules, i, v) {
			/* counted first so that rules_free() frees a half-parsed rule */
			p->nrules++;
			ret = parse_rule(&ps, v, i, p);
			if (ret == CS_ENOMEM)
				goto out;
			bad = bad < 0 ? bad : ret;
		}
	}
	tests = json_object_get(policy, "tests");
	if (tests && !json_is_array(tests)) {
		ret = perr(&ps, "tests", "%s is not a list of tests", show(tests, buf, sizeof(buf)));
		goto out;
	}
	if (tests && json_array_size(tests)) {
		p->tests = calloc(json_array_size(tests), sizeof(*p->tests));
		if (!p->tests) {
			ret = CS_ENOMEM;
			goto out;
		}
		json_array_foreach(tests, i, v) {
			p->ntests++;
			ret = parse_test(&ps, v, i, &p->tests[i]);
			if (ret == CS_ENOMEM)
				goto out;
			bad = bad < 0 ? bad : ret;
		}
	}
	if (bad < 0) {
		ret = bad;
		goto out;
	}
	*out = p;
	p = NULL;
	ret = 0;
out:
	if (ret == CS_ENOMEM && errlen)
		snprintf(err, errlen, "%s: out of memory", where ? where : "policy");
	rules_free(p);
	return ret;
}

void rules_free(struct rules_policy *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nrules; i++) {
		free(p->rules[i].name);
		free(p->rules[i].from.name);
		free(p->rules[i].to.name);
		free(p->rules[i].ports);
	}
	free(p->rules);
	for (i = 0; i < p->ntests; i++) {
		free(p->tests[i].from);
		free(p->tests[i].to);
	}
	free(p->tests);
	free(p);
}

/* --- evaluation --- */

static const struct rules_endpoint *ep_find(const struct rules_endpoint *eps, size_t n,
					    const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(eps[i].name, name))
			return &eps[i];
	return NULL;
}

static bool ep_in_group(const struct rules_endpoint *e, const char *group)
{
	size_t i;

	for (i = 0; i < e->ngroups; i++)
		if (!strcmp(e->groups[i], group))
			return true;
	return false;
}

static bool ep_has_family(const struct rules_endpoint *e, int family)
{
	size_t i;

	for (i = 0; i < e->naddrs; i++)
		if (e->addrs[i].family == family)
			return true;
	return false;
}

/* Does @sel match endpoint @e for traffic of @family? */
static bool sel_match(const struct rules_sel *sel, const struct rules_endpoint *e, int family)
{
	size_t i;

	switch (sel->kind) {
	case RULES_SEL_ANY:
		return true;
	case RULES_SEL_ENDPOINT:
		return !strcmp(sel->name, e->name);
	case RULES_SEL_GROUP:
		return ep_in_group(e, sel->name);
	case RULES_SEL_CIDR:
		if (sel->cidr.addr.family != family)
			return false;
		for (i = 0; i < e->naddrs; i++)
			if (e->addrs[i].family == family && cs_prefix_contains(&sel->cidr,
									       &e->addrs[i]))
				return true;
		return false;
	}
	return false;
}

static bool port_match(const struct rules_rule *r, int proto, int port)
{
	size_t i;

	if (r->proto && r->proto != proto)
		return false;
	if (!r->nports)
		return true;
	for (i = 0; i < r->nports; i++)
		if (port >= r->ports[i].lo && port <= r->ports[i].hi)
			return true;
	return false;
}

int rules_eval_family(const struct rules_policy *p, const struct rules_endpoint *eps,
		      size_t neps, int family, const char *from, const char *to, int proto,
		      int port, enum vnet_fw_action *verdict, int *rule)
{
	const struct rules_endpoint *src, *dst;
	size_t i;

	*verdict = p ? p->dflt : VNET_FW_ALLOW;
	*rule = -1;
	src = ep_find(eps, neps, from);
	dst = ep_find(eps, neps, to);
	if (!src || !dst)
		return CS_ENOENT;
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != IPPROTO_ICMP)
		return CS_EINVAL;
	if (proto != IPPROTO_ICMP && (port < 1 || port > 65535))
		return CS_EINVAL;
	if (family == AF_UNSPEC)
		family = ep_has_family(src, AF_INET) && ep_has_family(dst, AF_INET) ? AF_INET
										  : AF_INET6;
	else if (family != AF_INET && family != AF_INET6)
		return CS_EINVAL;
	if (!ep_has_family(src, family) || !ep_has_family(dst, family)) {
		/* endpoints without addresses (not yet realized) still get a
		 * verdict from rules that do not depend on addresses */
		if (src->naddrs && dst->naddrs)
			return CS_EINVAL;
	}
	if (!p)
		return 0;
	for (i = 0; i < p->nrules; i++) {
		const struct rules_rule *r = &p->rules[i];

		if (sel_match(&r->from, src, family) && sel_match(&r->to, dst, family) &&
		    port_match(r, proto, port)) {
			*verdict = r->action;
			*rule = (int)i;
			return 0;
		}
	}
	return 0;
}

int rules_eval(const struct rules_policy *p, const struct rules_endpoint *eps, size_t neps,
	       const char *from, const char *to, int proto, int port,
	       enum vnet_fw_action *verdict, int *rule)
{
	return rules_eval_family(p, eps, neps, AF_UNSPEC, from, to, proto, port, verdict, rule);
}

static const char *action_name(enum vnet_fw_action a)
{
	return a == VNET_FW_ALLOW ? "allow" : "deny";
}

int rules_run_tests(const struct rules_policy *p, const struct rules_endpoint *eps, size_t neps,
		    char *report, size_t len)
{
	size_t i, used = 0;
	int failed = 0, ret;

	if (len)
		*report = '\0';
	for (i = 0; p && i < p->ntests; i++) {
		const struct rules_test *t = &p->tests[i];
		enum vnet_fw_action got;
		char what[128], by[32];
		int rule, n = 0;

		snprintf(what, sizeof(what), "%s -> %s %s", t->from, t->to,
			 rules_proto_name(t->proto));
		if (t->proto != IPPROTO_ICMP)
			snprintf(what + strlen(what), sizeof(what) - strlen(what), "/%d", t->port);
		ret = rules_eval(p, eps, neps, t->from, t->to, t->proto,
				 t->proto == IPPROTO_ICMP ? 0 : t->port, &got, &rule);
		if (ret == CS_ENOENT) {
			if (used < len)
				snprintf(report + used, len - used,
					 "tests[%zu]: %s: no endpoint %s in the vnet\n", i, what,
					 ep_find(eps, neps, t->from) ? t->to : t->from);
			return CS_ENOENT;
		}
		if (ret < 0) {
			n = snprintf(report + used, used < len ? len - used : 0,
				     "tests[%zu]: %s: the endpoints share no address family\n", i,
				     what);
			failed++;
		} else if (got != t->expect) {
			if (rule >= 0)
				snprintf(by, sizeof(by), "rules[%d]", rule);
			else
				snprintf(by, sizeof(by), "the default");
			n = snprintf(report + used, used < len ? len - used : 0,
				     "tests[%zu]: %s: expected %s, got %s (%s%s%s%s)\n", i, what,
				     action_name(t->expect), action_name(got), by,
				     rule >= 0 && p->rules[rule].name ? " \"" : "",
				     rule >= 0 && p->rules[rule].name ? p->rules[rule].name : "",
				     rule >= 0 && p->rules[rule].name ? "\"" : "");
			failed++;
		}
		if (n > 0)
			used += (size_t)n;
	}
	return failed;
}

/* --- compilation --- */

static int prefix_cmp(const void *x, const void *y)
{
	const struct cs_prefix *a = x, *b = y;
	int c = cs_addr_cmp(&a->addr, &b->addr);

	return c ? c : a->plen - b->plen;
}

/* Sort and drop prefixes inside others: nftables refuses overlapping
 * intervals in one set, and the kernel needs each only once. */
static size_t prefixes_normalize(struct cs_prefix *v, size_t n)
{
	size_t i, j, k = 0;

	qsort(v, n, sizeof(*v), prefix_cmp);
	for (i = 0; i < n; i++) {
		bool inside = false;

		for (j = 0; j < k && !inside; j++)
			inside = v[j].addr.family == v[i].addr.family &&
				 v[j].plen <= v[i].plen && cs_prefix_contains(&v[j], &v[i].addr);
		if (!inside)
			v[k++] = v[i];
	}
	return k;
}

static void host_prefix(const struct cs_addr *a, struct cs_prefix *out)
{
	out->addr = *a;
	out->plen = a->family == AF_INET ? 32 : 128;
}

/* Which families does @to match the target in? Bit 0 IPv4, bit 1 IPv6. */
#define FAM4 1u
#define FAM6 2u
static unsigned int fam_bit(int family)
{
	return family == AF_INET ? FAM4 : family == AF_INET6 ? FAM6 : 0;
}

static unsigned int to_families(const struct rules_sel *to, const struct rules_endpoint *t)
{
	unsigned int f = 0;
	size_t i;

	if (to->kind != RULES_SEL_CIDR)
		return sel_match(to, t, AF_INET) ? FAM4 | FAM6 : 0;
	for (i = 0; i < t->naddrs; i++)
		if (t->addrs[i].family == to->cidr.addr.family &&
		    cs_prefix_contains(&to->cidr, &t->addrs[i]))
			f |= fam_bit(t->addrs[i].family);
	return f;
}

/*
 * The sources of @from, for packets of the families in @fams, into a new
 * array (*out, *n). *n 0 with *any true: every source. *n 0 and !*any: none.
 */
static int sources(const struct rules_sel *from, unsigned int fams,
		   const struct rules_endpoint *eps, size_t neps, struct cs_prefix **out, size_t *n,
		   bool *any)
{
	struct cs_prefix *v;
	size_t i, j, k = 0, cap = 0;

	*out = NULL;
	*n = 0;
	*any = false;
	if (from->kind == RULES_SEL_ANY) {
		if (fams == (FAM4 | FAM6)) {
			*any = true;
			return 0;
		}
		/* narrowed to one family: its whole address space */
		v = calloc(1, sizeof(*v));
		if (!v)
			return CS_ENOMEM;
		v->addr.family = fams == FAM4 ? AF_INET : AF_INET6;
		v->plen = 0;
		*out = v;
		*n = 1;
		return 0;
	}
	if (from->kind == RULES_SEL_CIDR) {
		if (!(fams & fam_bit(from->cidr.addr.family)))
			return 0;
		v = malloc(sizeof(*v));
		if (!v)
			return CS_ENOMEM;
		*v = from->cidr;
		*out = v;
		*n = 1;
		return 0;
	}
	for (i = 0; i < neps; i++)
		if (sel_match(from, &eps[i], AF_INET))
			cap += eps[i].naddrs;
	if (!cap)
		return 0;
	v = calloc(cap, sizeof(*v));
	if (!v)
		return CS_ENOMEM;
	for (i = 0; i < neps; i++) {
		if (!sel_match(from, &eps[i], AF_INET))
			continue;
		for (j = 0; j < eps[i].naddrs; j++)
			if (fams & fam_bit(eps[i].addrs[j].family))
				host_prefix(&eps[i].addrs[j], &v[k++]);
	}
	k = prefixes_normalize(v, k);
	if (!k) {
		free(v);
		return 0;
	}
	*out = v;
	*n = k;
	return 0;
}

/* Entry @j (of the rule's port ranges) of rule @r into @f: its sources
 * (the first entry takes @src, each later one a copy, so that every entry
 * owns its own and rules_fw_free() needs no bookkeeping), its destination
 * (egress), action, protocol and ports. 0 or CS_ENOMEM. */
static int fw_entry(struct vnet_fw_rule *f, const struct rules_rule *r, size_t j,
		    struct cs_prefix *src, size_t nsrc, const struct cs_prefix *dst)
{
	f->src = src;
	if (j > 0 && nsrc) {
		struct cs_prefix *copy = malloc(nsrc * sizeof(*copy));
		if (!copy)
			return CS_ENOMEM;
		memcpy(copy, src, nsrc * sizeof(*copy));
		f->src = copy;
	}
	f->nsrc = nsrc;
	f->dst = dst;
	f->action = r->action;
	f->proto = r->proto;
	if (r->nports) {
		f->port_lo = r->ports[j].lo;
		f->port_hi = r->ports[j].hi;
	}
	return 0;
}

/* The compiled entries into @out; on failure (@ret) all freed. */
static int fw_done(struct vnet_fw *out, struct vnet_fw_rule *v, size_t n, int ret)
{
	out->rules = v;
	out->n = n;
	if (ret < 0)
		rules_fw_free(out);
	return ret;
}

int rules_compile(const struct rules_policy *p, const struct rules_endpoint *eps, size_t neps,
		  const char *target, struct vnet_fw *out)
{
	const struct rules_endpoint *t;
	struct vnet_fw_rule *v = NULL;
	size_t i, j, n = 0, cap = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	t = ep_find(eps, neps, target);
	if (!t)
		return CS_ENOENT;
	out->dflt = p ? p->dflt : VNET_FW_ALLOW;
	if (!p)
		return 0;
	for (i = 0; i < p->nrules; i++)
		cap += p->rules[i].nports ? p->rules[i].nports : 1;
	if (cap) {
		v = calloc(cap, sizeof(*v));
		if (!v)
			return CS_ENOMEM;
	}
	for (i = 0; i < p->nrules; i++) {
		const struct rules_rule *r = &p->rules[i];
		unsigned int fams = to_families(&r->to, t);
		struct cs_prefix *src;
		size_t nsrc, nr = r->nports ? r->nports : 1;
		bool any;

		if (!fams)
			continue;
		ret = sources(&r->from, fams, eps, neps, &src, &nsrc, &any);
		if (ret < 0)
			goto fail;
		if (!nsrc && !any)
			continue;
		for (j = 0; j < nr; j++) {
			if ((ret = fw_entry(&v[n], r, j, src, nsrc, NULL)) < 0)
				goto fail;
			n++;
		}
	}
	return fw_done(out, v, n, 0);
fail:
	return fw_done(out, v, n, ret);
}

int rules_compile_egress(const struct rules_policy *p, const struct rules_endpoint *eps,
			 size_t neps, struct vnet_fw *out)
{
	struct vnet_fw_rule *v = NULL;
	size_t n = 0, cap = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	out->dflt = p ? p->dflt : VNET_FW_ALLOW;
	if (!p)
		return 0;
	for (size_t i = 0; i < p->nrules; i++)
		cap += p->rules[i].nports ? p->rules[i].nports : 1;
	if (cap && !(v = calloc(cap, sizeof(*v))))
		return CS_ENOMEM;
	for (size_t i = 0; i < p->nrules; i++) {
		const struct rules_rule *r = &p->rules[i];
		bool cidr = r->to.kind == RULES_SEL_CIDR, any;
		unsigned int fams = cidr ? fam_bit(r->to.cidr.addr.family) : FAM4 | FAM6;
		struct cs_prefix *src;
		size_t nsrc;

		if (!cidr && r->to.kind != RULES_SEL_ANY)
			continue;
		if ((ret = sources(&r->from, fams, eps, neps, &src, &nsrc, &any)) < 0)
			goto fail;
		if (!nsrc && !any)
			continue;
		for (size_t j = 0; j < (r->nports ? r->nports : 1); j++) {
			if ((ret = fw_entry(&v[n], r, j, src, nsrc, cidr ? &r->to.cidr : NULL)) < 0)
				goto fail;
			n++;
		}
	}
	return fw_done(out, v, n, 0);
fail:
	return fw_done(out, v, n, ret);
}

void rules_fw_free(struct vnet_fw *fw)
{
	size_t i;

	if (!fw)
		return;
	for (i = 0; i < fw->n; i++)
		free((void *)fw->rules[i].src);
	free((void *)fw->rules);
	memset(fw, 0, sizeof(*fw));
}
