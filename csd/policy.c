/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Rules in csd: enforcement on this node (realize_vnet_policy, a per-vnet
 * step run after every change of a vnet's policy, endpoints or groups, and
 * by the reconciler), and the rule ops: rule.list, rule.show, rule.check,
 * rule.create and rule.delete.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cs/cs.h>
#include "ops.h"
#include "policy.h"
#include "charges.h"

static const char *ep_name(const char *key, const char *prefix)
{
	size_t l;

	if (!prefix)
		return key;
	l = strlen(prefix);
	if (strncmp(key, prefix, l) || !key[l] || strchr(key + l, '/'))
		return NULL;
	return key + l;
}

void policy_eps_clear(struct policy_eps *pe)
{
	if (!pe)
		return;
	free(pe->v);
	free(pe->groups);
	free(pe->addrs);
	memset(pe, 0, sizeof(*pe));
}

int policy_eps_build(const json_t *docs, const char *prefix, struct policy_eps *pe)
{
	size_t n = 0, ng = 0, na = 0, i, gi = 0, ai = 0;
	const char *key;
	json_t *doc, *el;

	memset(pe, 0, sizeof(*pe));
	json_object_foreach((json_t *)docs, key, doc) {
		if (!ep_name(key, prefix))
			continue;
		n++;
		ng += json_array_size(json_object_get(json_object_get(doc, "spec"), "groups"));
		na += json_array_size(json_object_get(doc, "addresses"));
	}
	pe->v = calloc(n + 1, sizeof(*pe->v));
	pe->groups = calloc(ng + 1, sizeof(*pe->groups));
	pe->addrs = calloc(na + 1, sizeof(*pe->addrs));
	if (!pe->v || !pe->groups || !pe->addrs) {
		policy_eps_clear(pe);
		return CS_ENOMEM;
	}
	json_object_foreach((json_t *)docs, key, doc) {
		const char *name = ep_name(key, prefix);
		struct rules_endpoint *re;

		if (!name)
			continue;
		re = &pe->v[pe->n++];
		re->name = name;
		re->groups = &pe->groups[gi];
		re->addrs = &pe->addrs[ai];
		json_array_foreach(json_object_get(json_object_get(doc, "spec"), "groups"), i, el)
			if (json_is_string(el))
				pe->groups[gi++] = json_string_value(el), re->ngroups++;
		json_array_foreach(json_object_get(doc, "addresses"), i, el)
			if (json_is_string(el) && cs_addr_parse(json_string_value(el),
							       &pe->addrs[ai]) == 0)
				ai++, re->naddrs++;
	}
	return 0;
}

int policy_of_spec(const json_t *vspec, const char *where, struct rules_policy **out,
		   char *err, size_t errlen)
{
	const json_t *p = json_object_get(vspec, "policy");

	*out = NULL;
	if (!p)
		return 0;
	return rules_parse(p, where, out, err, errlen);
}

int realize_vnet_policy(struct csd *d, const char *t, const char *v, const json_t *vdoc,
			const json_t *eps, char *err, size_t errlen)
{
	struct rules_policy *pol = NULL;
	struct policy_eps pe = { 0 };
	json_t *own_v = NULL, *own_e = NULL;
	char prefix[KEY_MAX], why[512];
	int r = 0, first = 0;

	snprintf(prefix, sizeof(prefix), "/endpoints/%s/%s/", t, v);
	if ((r = model_vnet_docs(d, t, v, &vdoc, &eps, &own_v, &own_e, err, errlen)) != 0) {
		r = r > 0 ? 0 : r; /* a vnet gone has nothing to realize */
		goto out;
	}
	if ((r = policy_of_spec(json_object_get(vdoc, "spec"), "policy", &pol, why,
				sizeof(why))) < 0) {
		/* validated when stored: a document changed by hand */
		snprintf(err, errlen, "vnet %s/%s: %s; its endpoints keep their rules", t, v, why);
		goto out;
	}
	if ((r = policy_eps_build(eps, prefix, &pe)) < 0) {
		snprintf(err, errlen, "vnet %s/%s: out of memory", t, v);
		goto out;
	}
	struct vnet_backend *b = csd_backend_of(d, vdoc);
	const char *key;
	json_t *doc;
	json_object_foreach((json_t *)eps, key, doc) {
		const char *name = ep_name(key, prefix);
		struct vnet_fw fw;
		int rr;

		if (!name || !model_endpoint_local(d, doc))
			continue;
		if ((rr = rules_compile(pol, pe.v, pe.n, name, &fw)) == 0) {
			rr = vb_endpoint_policy(b, t, v, name, pol ? &fw : NULL);
			rules_fw_free(&fw);
			if (rr < 0 && !first) {
				first = rr;
				char what[3 * CS_NAME_MAX + 16];
				snprintf(what, sizeof(what), "endpoint %s/%s/%s", t, v, name);
				backend_why_of(b, what, err, errlen);
			}
		} else if (!first) {
			first = rr;
			snprintf(err, errlen, "endpoint %s/%s/%s: rules: %s", t, v, name,
				 cs_strerror(rr));
		}
	}
	/* what leaves the vnet, where it has a way out here */
	const json_t *vspec = json_object_get(vdoc, "spec");
	if (json_is_true(json_object_get(vspec, "egress")) && model_vnet_here(d, vdoc)) {
		struct vnet_fw efw;
		int rr = pol ? rules_compile_egress(pol, pe.v, pe.n, &efw) : 0;
		if (rr == 0) {
			rr = vb_egress_policy(b, t, v, pol ? &efw : NULL);
			if (pol)
				rules_fw_free(&efw);
		}
		if (rr < 0 && rr != CS_ENOTSUP && !first) {
			first = rr;
			char what[2 * CS_NAME_MAX + 16];
			snprintf(what, sizeof(what), "vnet %s/%s", t, v);
			backend_why_of(b, what, err, errlen);
		}
	}
	r = first;
out:
	rules_free(pol);
	policy_eps_clear(&pe);
	json_decref(own_v);
	json_decref(own_e);
	return r;
}

int quota_check(struct csd *d, const char *t, const char *kind, struct quota_txn *qt,
		char *err, size_t errlen)
{
	char tkey[KEY_MAX], prefix[KEY_MAX];
	json_t *tdoc = NULL, *docs = NULL;
	struct store_kv kv = { 0 };
	int ret;

	memset(qt, 0, sizeof(*qt));
	key_tenant(tkey, t);
	if ((ret = model_get(d, tkey, &tdoc, NULL)) < 0) {
		snprintf(err, errlen, "tenant %s: store: %s", t, cs_strerror(ret));
		return ret;
	}
	const json_t *lim = json_object_get(json_object_get(json_object_get(tdoc, "spec"),
							    "quotas"), kind);
	if (!json_is_integer(lim)) {
		json_decref(tdoc);
		return 0;
	}
	json_int_t max = json_integer_value(lim);
	json_decref(tdoc);
	snprintf(qt->key, sizeof(qt->key), "/alloc/quota/%s", t);
	/* the key first: a creation that commits after this read bumps it */
	ret = store_get(d->store, qt->key, &kv);
	if (ret < 0 && ret != CS_ENOENT) {
		snprintf(err, errlen, "tenant %s: store: %s", t, cs_strerror(ret));
		return ret;
	}
	qt->cmp = (struct store_cmp){ qt->key, ret == 0 ? kv.mod_rev : 0 };
	snprintf(qt->val, sizeof(qt->val), "%lld", (long long)(ret == 0 ? kv.mod_rev + 1 : 1));
	store_kv_clear(&kv);
	qt->op = (struct store_op){ STORE_PUT, qt->key, qt->val };
	snprintf(prefix, sizeof(prefix), "/%s/%s/", kind, t);
	if ((ret = model_list(d, prefix, &docs, NULL)) < 0) {
		snprintf(err, errlen, "tenant %s: store: %s", t, cs_strerror(ret));
		return ret;
	}
	size_t n = json_object_size(docs);
	json_decref(docs);
	if ((json_int_t)n + 1 > max) {
		snprintf(err, errlen, "tenant %s: quota of %" JSON_INTEGER_FORMAT " %s reached "
			 "(it holds %zu); delete one, or have an administrator raise it (cs-ctl "
			 "export > f.json, set tenants.%s.quotas.%s higher there, cs-ctl apply -f "
			 "f.json)", t, max, kind, n, t, kind);
		return CS_EQUOTA;
	}
	qt->active = true;
	return 0;
}

/* ---- ops ---- */

/* The vnet T/V the caller may see, its policy and its endpoints. */
static int load_vnet(struct csd_req *r, const char *t, const char *v, json_t **vdoc,
		     json_t **eps, struct rules_policy **pol)
{
	char prefix[KEY_MAX], why[512];
	int ret;

	*vdoc = NULL;
	if (eps)
		*eps = NULL;
	*pol = NULL;
	if ((ret = req_vnet(r, t, v, NULL, vdoc)) < 0)
		return ret;
	if (eps) {
		snprintf(prefix, sizeof(prefix), "/endpoints/%s/%s/", t, v);
		if ((ret = model_list(r->d, prefix, eps, NULL)) < 0)
			return req_store_fail(r, ret, prefix);
	}
	if ((ret = policy_of_spec(json_object_get(*vdoc, "spec"), "policy", pol, why,
				  sizeof(why))) < 0)
		return req_fail(r, ret, "vnet %s/%s: %s", t, v, why);
	return 0;
}

/* A rule as stored, with its vnet and position; no "name" when it has none
 * and no "ports" when it applies to every port (cs-ctl shows "-"). */
static json_t *rule_view(const char *t, const char *v, const json_t *rule, size_t i)
{
	json_t *o = json_deep_copy(rule);

	if (!o)
		return NULL;
	json_object_set_new(o, "vnet", json_sprintf("%s/%s", t, v));
	json_object_set_new(o, "position", json_integer((json_int_t)i + 1));
	if (!json_object_get(o, "proto"))
		json_object_set_new(o, "proto", json_string("any"));
	return o;
}

static void list_vnet(json_t *out, const char *t, const char *v, const json_t *vdoc)
{
	const json_t *rules = json_object_get(json_object_get(json_object_get(vdoc, "spec"),
							      "policy"), "rules");
	size_t i;
	json_t *el;

	json_array_foreach(rules, i, el)
		json_array_append_new(out, rule_view(t, v, el, i));
}

static int rule_list(struct csd_req *r)
{
	const char *filter = json_string_value(json_object_get(r->args, "filter"));
	char prefix[KEY_MAX] = "/vnets/", err[256];
	json_t *docs = NULL, *doc, *tdocs = NULL;
	const char *key;
	int ret, n = 0;

	if (filter) {
		name_t p[2];
		n = 1;
		for (const char *c = filter; *c; c++)
			n += *c == '/';
		if (n > 2 || cs_path_split(filter, n, p, err, sizeof(err)) < 0)
			return req_fail(r, CS_EINVAL, "rule list: %s: expected TENANT or "
					"TENANT/VNET", filter);
		if ((ret = req_list_filter(r, p[0], n == 2 ? p[1] : NULL)) < 0)
			return ret;
		snprintf(prefix, sizeof(prefix), "/vnets/%s%s", filter, n < 2 ? "/" : "");
	}
	if ((ret = model_list(r->d, prefix, &docs, NULL)) < 0 ||
	    (ret = model_list(r->d, "/tenants/", &tdocs, NULL)) < 0) {
		json_decref(docs);
		return req_store_fail(r, ret, "rule list");
	}
	r->result = json_array();
	json_object_foreach(docs, key, doc) {
		name_t p[2];
		char tkey[KEY_MAX];
		if (cs_path_split(key + 7, 2, p, err, sizeof(err)) < 0)
			continue;
		if (n == 2 && strcmp(key + 7, filter))
			continue;
		key_tenant(tkey, p[0]);
		if (!authz_visible(r->who, json_object_get(json_object_get(tdocs, tkey), "spec"),
				   json_object_get(doc, "spec")))
			continue;
		list_vnet(r->result, p[0], p[1], doc);
	}
	json_decref(docs);
	json_decref(tdocs);
	return 0;
}

/* RULE: its name, or its position (1 is the first rule). */
static int find_rule(const json_t *rules, const char *which)
{
	size_t i;
	json_t *el;
	char *end;

	json_array_foreach(rules, i, el) {
		const char *nm = json_string_value(json_object_get(el, "name"));
		if (nm && !strcmp(nm, which))
			return (int)i;
	}
	errno = 0;
	long pos = strtol(which[0] == '#' ? which + 1 : which, &end, 10);
	if (*which && !*end && !errno && pos >= 1 && (size_t)pos <= json_array_size(rules))
		return (int)pos - 1;
	return -1;
}

/* args "name", TENANT/VNET/RULE: T and V in @p, and the RULE part (a name
 * or a position), or NULL with the request failed (CS_EINVAL). */
static const char *rule_path(struct csd_req *r, const char *verb, name_t p[2])
{
	const char *name = json_string_value(json_object_get(r->args, "name"));
	char err[256], tv[2 * CS_NAME_MAX + 2];
	const char *last = name ? strrchr(name, '/') : NULL;

	if (!last || !last[1] || cs_path_split(name, 2, p, err, sizeof(err)) == 0) {
		req_fail(r, CS_EINVAL, "%s: expected TENANT/VNET/RULE (RULE a rule's name or its "
			 "position, 1 the first)", verb);
		return NULL;
	}
	/* the rule part may be anything the name or position says */
	snprintf(tv, sizeof(tv), "%.*s", (int)(last - name), name);
	if (cs_path_split(tv, 2, p, err, sizeof(err)) < 0) {
		req_fail(r, CS_EINVAL, "%s: %s: %s", verb, name, err);
		return NULL;
	}
	return last + 1;
}

static int rule_show(struct csd_req *r)
{
	name_t p[2];
	json_t *vdoc = NULL;
	struct rules_policy *pol = NULL;
	const char *which;
	int ret;

	if (!(which = rule_path(r, "rule show", p)))
		return CS_EINVAL;
	if ((ret = load_vnet(r, p[0], p[1], &vdoc, NULL, &pol)) < 0)
		goto out;
	const json_t *rules = json_object_get(json_object_get(json_object_get(vdoc, "spec"),
							      "policy"), "rules");
	int i = find_rule(rules, which);
	if (i < 0) {
		ret = req_fail(r, CS_ENOENT, "vnet %s/%s has no rule %s (it has %zu; name one or "
			       "give its position)", p[0], p[1], which, json_array_size(rules));
		goto out;
	}
	r->result = rule_view(p[0], p[1], json_array_get(rules, (size_t)i), (size_t)i);
out:
	rules_free(pol);
	json_decref(vdoc);
	return ret;
}

/* What decided a verdict, as rule.check says it. */
static void by_text(const struct rules_policy *pol, int rule, char *out, size_t len)
{
	if (!pol)
		snprintf(out, len, "no policy (all allowed)");
	else if (rule < 0)
		snprintf(out, len, "default");
	else if (pol->rules[rule].name)
		snprintf(out, len, "rule %s (#%d)", pol->rules[rule].name, rule + 1);
	else
		snprintf(out, len, "rule #%d", rule + 1);
}

static json_t *verdict_doc(const struct rules_policy *pol, enum vnet_fw_action v, int rule)
{
	char by[160];
	json_t *o;

	by_text(pol, rule, by, sizeof(by));
	o = json_pack("{s:s, s:s}", "verdict", v == VNET_FW_ALLOW ? "allow" : "deny", "by", by);
	if (o && rule >= 0) {
		json_object_set_new(o, "position", json_integer(rule + 1));
		if (pol->rules[rule].name)
			json_object_set_new(o, "rule", json_string(pol->rules[rule].name));
	}
	return o;
}

/*
 * Endpoints with both families may get two verdicts ("cidr:" selectors
 * name one family): then the answer is "mixed", "by" says each, and
 * "families" holds them, so that nobody reads one family's answer as both.
 */
static int rule_check(struct csd_req *r)
{
	const char *from = json_string_value(json_object_get(r->args, "from"));
	const char *to = json_string_value(json_object_get(r->args, "to"));
	const char *proto_s = json_string_value(json_object_get(r->args, "proto"));
	const json_t *jport = json_object_get(r->args, "port");
	struct rules_policy *pol = NULL;
	struct policy_eps pe = { 0 };
	json_t *vdoc = NULL, *eps = NULL;
	enum vnet_fw_action verdict;
	char prefix[KEY_MAX];
	name_t p[2];
	int ret, rule = -1, proto, port = 0;

	if ((ret = req_path(r, "vnet", 2, p)) < 0)
		return ret;
	if (!from || !to || !proto_s)
		return req_fail(r, CS_EINVAL, "rule check: expected FROM TO PROTO [PORT] "
				"(endpoint names, tcp, udp or icmp)");
	proto = rules_proto_parse(proto_s);
	if (proto <= 0)
		return req_fail(r, CS_EINVAL, "rule check: %s: unknown protocol; use tcp, udp "
				"or icmp", proto_s);
	if (proto != IPPROTO_ICMP) {
		if (!json_is_integer(jport) || json_integer_value(jport) < 1 ||
		    json_integer_value(jport) > 65535)
			return req_fail(r, CS_EINVAL, "rule check: %s needs a port 1-65535",
					proto_s);
		port = (int)json_integer_value(jport);
	}
	if ((ret = load_vnet(r, p[0], p[1], &vdoc, &eps, &pol)) < 0)
		goto out;
	snprintf(prefix, sizeof(prefix), "/endpoints/%s/%s/", p[0], p[1]);
	if ((ret = policy_eps_build(eps, prefix, &pe)) < 0) {
		ret = req_fail(r, ret, "rule check: out of memory");
		goto out;
	}
	ret = rules_eval(pol, pe.v, pe.n, from, to, proto, port, &verdict, &rule);
	if (ret == CS_ENOENT) {
		ret = req_fail(r, ret, "vnet %s/%s: no endpoint %s; rule check names two "
			       "endpoints of the vnet", p[0], p[1],
			       rules_eval(pol, pe.v, pe.n, from, from, IPPROTO_ICMP, 0, &verdict,
					  &rule) == CS_ENOENT ? from : to);
		goto out;
	} else if (ret < 0) {
		ret = req_fail(r, ret, "rule check %s/%s %s -> %s: %s", p[0], p[1], from, to,
			       cs_strerror(ret));
		goto out;
	}
	enum vnet_fw_action v4, v6;
	int rule4 = -1, rule6 = -1;
	bool mixed = rules_eval_family(pol, pe.v, pe.n, AF_INET, from, to, proto, port, &v4,
				       &rule4) == 0 &&
		     rules_eval_family(pol, pe.v, pe.n, AF_INET6, from, to, proto, port, &v6,
				       &rule6) == 0 &&
		     v4 != v6;
	r->result = json_pack("{s:s, s:s, s:s, s:s, s:i}", "vnet", json_string_value(
				      json_object_get(r->args, "vnet")), "from", from, "to", to,
			      "proto", rules_proto_name(proto), "port", port);
	if (r->result && !mixed) {
		json_t *vd = verdict_doc(pol, verdict, rule);
		json_object_update(r->result, vd);
		json_decref(vd);
	} else if (r->result) {
		json_t *f4 = verdict_doc(pol, v4, rule4), *f6 = verdict_doc(pol, v6, rule6);
		char by[400];
		snprintf(by, sizeof(by), "IPv4: %s (%s); IPv6: %s (%s)",
			 json_string_value(json_object_get(f4, "verdict")),
			 json_string_value(json_object_get(f4, "by")),
			 json_string_value(json_object_get(f6, "verdict")),
			 json_string_value(json_object_get(f6, "by")));
		json_object_set_new(r->result, "verdict", json_string("mixed"));
		json_object_set_new(r->result, "by", json_string(by));
		json_object_set_new(r->result, "families", json_pack("{s:o, s:o}", "ipv4", f4,
								      "ipv6", f6));
	}
	ret = r->result ? 0 : req_fail(r, CS_ENOMEM, "rule check: out of memory");
out:
	policy_eps_clear(&pe);
	rules_free(pol);
	json_decref(vdoc);
	json_decref(eps);
	return ret;
}

/* ---- rule.create, rule.delete ---- */

#define RULE_ATTEMPTS 8

/*
 * A validator's message about the rule @what names: the path of the rule
 * itself ("policy.rules[0]", "rules[0]") is dropped, what is below it kept
 * ("rule acme/blue/web: ports[0]: 70000 is not ...").
 */
static void rule_msg(char *out, size_t len, const char *what, const char *msg)
{
	const char *rest = msg;

	if (!strncmp(rest, "policy.", 7))
		rest += 7;
	if (!strncmp(rest, "rules[", 6) && strchr(rest, ']')) {
		rest = strchr(rest, ']') + 1;
		rest += *rest == '.' ? 1 : *rest == ':' && rest[1] == ' ' ? 2 : 0;
	} else {
		rest = msg;
	}
	snprintf(out, len, "%s: %s", what, rest);
}

/* One rule, checked as the overlay key "policy.rules[]" is: types, then
 * selectors, ranges and protocols. */
static int rule_validate(struct csd_req *r, const json_t *rule, const char *what)
{
	struct schema_errors errs = { 0 };
	struct rules_policy *pol = NULL;
	char why[512], msg[640];
	json_t *wrap;
	int ret = 0;

	if (!json_is_object(rule))
		return req_fail(r, CS_EINVAL, "%s: expected a rule: an object with from, to and "
				"optionally proto, ports, action and name", what);
	if (!(wrap = json_pack("{s:{s:s, s:[O]}}", "policy", "default", "allow", "rules", rule)))
		return req_fail(r, CS_ENOMEM, "%s: out of memory", what);
	if (schema_validate(SCHEMA_VNET, wrap, "", &errs) > 0) {
		size_t off = 0;
		for (size_t i = 0; i < errs.n && off < sizeof(r->error); i++) {
			rule_msg(msg, sizeof(msg), what, errs.msgs[i]);
			off += (size_t)snprintf(r->error + off, sizeof(r->error) - off, "%s%s",
						i ? "\n" : "", msg);
		}
		ret = CS_EINVAL;
	} else if ((ret = rules_parse(json_object_get(wrap, "policy"), NULL, &pol, why,
				      sizeof(why))) < 0) {
		rule_msg(msg, sizeof(msg), what, why);
		ret = req_fail(r, ret, "%s", msg);
	}
	rules_free(pol);
	schema_errors_clear(&errs);
	json_decref(wrap);
	return ret;
}

/* Edits a vnet's policy.rules in place; fails the request to refuse. */
typedef int (*rules_edit_fn)(struct csd_req *r, const char *what, json_t *rules, void *ctx);

/*
 * Change vnet T/V's policy.rules with @edit (a vnet without a policy gets
 * one, default allow), check the whole policy and its tests against the
 * vnet's endpoints, and store it in one transaction guarded by the
 * revision read (read again and redone when the vnet changed meanwhile);
 * then make this node's endpoints enforce it. *out: the new document.
 * The caller has authorized the change (req_vnet).
 */
static int rules_change(struct csd_req *r, name_t p[2], const char *what, rules_edit_fn edit,
			void *ctx, json_t **out)
{
	char vkey[KEY_MAX], prefix[KEY_MAX], why[512], report[4096];
	struct rules_policy *pol = NULL;
	struct policy_eps pe = { 0 };
	json_t *vdoc = NULL, *eps = NULL;
	char *text = NULL;
	int ret, attempt;

	*out = NULL;
	key_vnet(vkey, p[0], p[1]);
	snprintf(prefix, sizeof(prefix), "/endpoints/%s/%s/", p[0], p[1]);
	for (attempt = 0; attempt < RULE_ATTEMPTS; attempt++) {
		int64_t rev = 0;

		json_decref(vdoc);
		json_decref(eps);
		vdoc = eps = NULL;
		rules_free(pol);
		pol = NULL;
		policy_eps_clear(&pe);
		if ((ret = model_get(r->d, vkey, &vdoc, &rev)) < 0) {
			ret = ret == CS_ENOENT ? req_fail(r, ret, "vnet %s/%s: no such vnet", p[0], p[1])
					       : req_store_fail(r, ret, what);
			goto out;
		}
		json_t *spec = json_object_get(vdoc, "spec"), *policy, *rules;
		if (!json_is_object(spec))
			json_object_set_new(vdoc, "spec", spec = json_object());
		if (!(policy = json_object_get(spec, "policy")))
			json_object_set_new(spec, "policy", policy = json_pack("{s:s}", "default",
									      "allow"));
		if (json_is_object(policy) && !json_object_get(policy, "rules"))
			json_object_set_new(policy, "rules", json_array());
		rules = json_object_get(policy, "rules");
		if (!json_is_array(rules)) {
			/* validated when stored: a document changed by hand */
			ret = req_fail(r, CS_EINVAL, "vnet %s/%s: its policy is not valid; fix it "
				       "with apply", p[0], p[1]);
			goto out;
		}
		if ((ret = edit(r, what, rules, ctx)) < 0)
			goto out;
		if ((ret = policy_of_spec(spec, "policy", &pol, why, sizeof(why))) < 0) {
			ret = req_fail(r, ret, "%s: vnet %s/%s: %s; nothing was changed", what,
				       p[0], p[1], why);
			goto out;
		}
		if ((ret = model_list(r->d, prefix, &eps, NULL)) < 0) {
			ret = req_store_fail(r, ret, what);
			goto out;
		}
		if ((ret = policy_eps_build(eps, prefix, &pe)) < 0) {
			ret = req_fail(r, ret, "%s: out of memory", what);
			goto out;
		}
		int n = rules_run_tests(pol, pe.v, pe.n, report, sizeof(report));
		if (n != 0) {
			size_t l = strlen(report);
			while (l && report[l - 1] == '\n')
				report[--l] = '\0';
			ret = req_fail(r, CS_EINVAL, "%s: refused: vnet %s/%s's policy.tests %s with "
				       "this change; nothing was changed (change the rule or the tests, "
				       "with apply):\n%s", what, p[0], p[1],
				       n > 0 ? "fail" : "name an endpoint the vnet does not have",
				       report);
			goto out;
		}
		free(text);
		if (!(text = json_dumps(vdoc, JSON_COMPACT))) {
			ret = req_fail(r, CS_ENOMEM, "%s: out of memory", what);
			goto out;
		}
		struct store_cmp cmp = { vkey, rev };
		struct store_op op = { STORE_PUT, vkey, text };
		struct store_txn txn = { &cmp, 1, &op, 1 };
		if ((ret = store_txn(r->d->store, &txn, NULL)) != CS_ECONFLICT)
			break;
	}
	if (ret == CS_ECONFLICT) {
		ret = req_fail(r, ret, "%s: vnet %s/%s kept changing (%d attempts); nothing was "
			       "changed, try again", what, p[0], p[1], RULE_ATTEMPTS);
		goto out;
	}
	if (ret < 0) {
		ret = req_store_fail(r, ret, what);
		goto out;
	}
	if (realize_vnet_policy(r->d, p[0], p[1], vdoc, eps, why, sizeof(why)) < 0)
		log_warn("%s: %s (the reconciler retries)", what, why);
	*out = vdoc;
	vdoc = NULL;
out:
	free(text);
	rules_free(pol);
	policy_eps_clear(&pe);
	json_decref(eps);
	json_decref(vdoc);
	return ret;
}

struct rule_add {
	const json_t *rule;
	size_t pos;   /* 0: at the end, else 1-based */
	size_t at;    /* where it went, 0-based */
};

static int rule_insert(struct csd_req *r, const char *what, json_t *rules, void *ctx)
{
	struct rule_add *ra = ctx;
	const char *nm = json_string_value(json_object_get(ra->rule, "name"));
	size_t n = json_array_size(rules);

	if (nm && find_rule(rules, nm) >= 0)
		return req_fail(r, CS_EEXIST, "%s: the vnet has a rule of that name (position "
				"%d); delete it first or choose another name", what,
				find_rule(rules, nm) + 1);
	if (ra->pos > n + 1)
		return req_fail(r, CS_EINVAL, "%s: position %zu is past the end: the vnet has %zu "
				"rule%s; give 1 to %zu, or leave position out to append", what,
				ra->pos, n, n == 1 ? "" : "s", n + 1);
	ra->at = ra->pos ? ra->pos - 1 : n;
	if (json_array_insert(rules, ra->at, (json_t *)ra->rule) < 0)
		return req_fail(r, CS_ENOMEM, "%s: out of memory", what);
	/* what a non-administrator may store (charges.c) */
	char why[512];
	json_t *spec = json_pack("{s:{s:O}}", "policy", "rules", rules);
	int ret = spec ? charge_spec(r->d, r->who, spec, why, sizeof(why)) : CS_ENOMEM;
	json_decref(spec);
	if (ret < 0)
		return req_fail(r, ret, "%s: the vnet would hold %s", what, why);
	return 0;
}

/* A rule naming an endpoint the vnet does not have matches nothing until
 * it exists: accepted (it may be created later), with a warning. */
static void rule_warnings(struct csd_req *r, name_t p[2], const json_t *rule, json_t *result)
{
	static const char *const sides[] = { "from", "to" };
	json_t *warnings = json_array();

	for (size_t i = 0; i < 2 && warnings; i++) {
		const char *sel = json_string_value(json_object_get(rule, sides[i]));
		char key[KEY_MAX];
		json_t *doc = NULL;
		if (!sel || !strcmp(sel, "any") ||
		    (strchr(sel, ':') && strncmp(sel, "endpoint:", 9)))
			continue;
		const char *e = strchr(sel, ':') ? sel + 9 : sel;
		if (!cs_name_valid(e))
			continue;
		key_endpoint(key, p[0], p[1], e);
		if (model_get(r->d, key, &doc, NULL) == CS_ENOENT)
			json_array_append_new(warnings, json_sprintf(
				"%s: endpoint %s is not in vnet %s/%s (yet): the rule matches "
				"nothing until it is", sides[i], e, p[0], p[1]));
		json_decref(doc);
	}
	if (json_array_size(warnings))
		json_object_set_new(result, "warnings", warnings);
	else
		json_decref(warnings);
}

static int rule_create(struct csd_req *r)
{
	const json_t *rule = json_object_get(r->args, "spec");
	const json_t *jpos = json_object_get(r->args, "position");
	struct rule_add ra = { rule, 0, 0 };
	char what[160];
	json_t *doc = NULL;
	name_t p[2];
	int ret;

	if ((ret = req_path(r, "name", 2, p)) < 0)
		return ret;
	const char *nm = json_string_value(json_object_get(rule, "name"));
	if (nm)
		snprintf(what, sizeof(what), "rule %s/%s/%.32s", p[0], p[1], nm);
	else
		snprintf(what, sizeof(what), "new rule of vnet %s/%s", p[0], p[1]);
	if (jpos && (!json_is_integer(jpos) || json_integer_value(jpos) < 1 ||
		     json_integer_value(jpos) > 1000000))
		return req_fail(r, CS_EINVAL, "%s: position must be a number from 1 (the first "
				"rule)", what);
	ra.pos = jpos ? (size_t)json_integer_value(jpos) : 0;
	/* only a caller who may change the vnet learns what is wrong with the rule */
	if ((ret = req_vnet(r, p[0], p[1], NULL, NULL)) < 0 ||
	    (ret = rule_validate(r, rule, what)) < 0 ||
	    (ret = rules_change(r, p, what, rule_insert, &ra, &doc)) < 0)
		return ret;
	const json_t *rules = json_object_get(json_object_get(json_object_get(doc, "spec"),
							      "policy"), "rules");
	log_info("%s created at position %zu by uid %u", what, ra.at + 1,
		 (unsigned)r->who->uid);
	r->result = rule_view(p[0], p[1], json_array_get(rules, ra.at), ra.at);
	rule_warnings(r, p, rule, r->result);
	json_decref(doc);
	return 0;
}

struct rule_del {
	const char *which;
	json_t *gone;  /* the rule removed */
	size_t at;
};

static int rule_remove(struct csd_req *r, const char *what, json_t *rules, void *ctx)
{
	struct rule_del *rd = ctx;
	int i = find_rule(rules, rd->which);

	if (i < 0)
		return req_fail(r, CS_ENOENT, "%s: no such rule (the vnet has %zu; name one or "
				"give its position, 1 the first)", what, json_array_size(rules));
	json_decref(rd->gone);
	rd->gone = json_incref(json_array_get(rules, (size_t)i));
	rd->at = (size_t)i;
	json_array_remove(rules, (size_t)i);
	return 0;
}

static int rule_delete(struct csd_req *r)
{
	struct rule_del rd = { 0 };
	char what[160];
	json_t *doc = NULL;
	name_t p[2];
	int ret;

	if (!(rd.which = rule_path(r, "rule delete", p)))
		return CS_EINVAL;
	snprintf(what, sizeof(what), "rule %s/%s/%.32s", p[0], p[1], rd.which);
	if ((ret = req_vnet(r, p[0], p[1], NULL, NULL)) == 0 &&
	    (ret = rules_change(r, p, what, rule_remove, &rd, &doc)) == 0) {
		log_info("%s (position %zu) deleted by uid %u", what, rd.at + 1,
			 (unsigned)r->who->uid);
		r->result = rule_view(p[0], p[1], rd.gone, rd.at);
	}
	json_decref(rd.gone);
	json_decref(doc);
	return ret;
}

CSD_OP(rule_list, "rule.list", rule_list, 0, "list the rules of vnets");
CSD_OP(rule_show, "rule.show", rule_show, 0, "show a rule (by name or position)");
CSD_OP(rule_check, "rule.check", rule_check, 0,
       "the verdict of a vnet's rules for traffic between two endpoints, and the rule that "
       "decided");
CSD_OP(rule_create, "rule.create", rule_create, CSD_OP_CHANGES,
       "add a rule to a vnet's policy (at the end or at a position)");
CSD_OP(rule_delete, "rule.delete", rule_delete, CSD_OP_CHANGES,
       "remove a rule from a vnet's policy (by name or position)");
