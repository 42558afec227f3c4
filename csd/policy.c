/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Rules in csd: enforcement on this node (realize_vnet_policy, a per-vnet
 * step run after every change of a vnet's policy, endpoints or groups, and
 * by the reconciler), and the rule ops: rule.list, rule.show, rule.check.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cs/cs.h>
#include "ops.h"
#include "policy.h"

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

	if (!vdoc) {
		char vkey[KEY_MAX];
		key_vnet(vkey, t, v);
		if ((r = model_get(d, vkey, &own_v, NULL)) < 0) {
			if (r == CS_ENOENT)
				return 0;
			snprintf(err, errlen, "vnet %s/%s: store: %s", t, v, cs_strerror(r));
			return r;
		}
		vdoc = own_v;
	}
	snprintf(prefix, sizeof(prefix), "/endpoints/%s/%s/", t, v);
	if (!eps) {
		if ((r = model_list(d, prefix, &own_e, NULL)) < 0) {
			snprintf(err, errlen, "vnet %s/%s: store: %s", t, v, cs_strerror(r));
			goto out;
		}
		eps = own_e;
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
	const char *key;
	json_t *doc;
	json_object_foreach((json_t *)eps, key, doc) {
		const char *name = ep_name(key, prefix);
		struct vnet_fw fw;
		int rr;

		if (!name || !model_endpoint_local(d, doc))
			continue;
		if ((rr = rules_compile(pol, pe.v, pe.n, name, &fw)) == 0) {
			rr = d->backend->ops->endpoint_policy(d->backend, t, v, name,
							      pol ? &fw : NULL);
			rules_fw_free(&fw);
			if (rr < 0 && !first) {
				first = rr;
				snprintf(err, errlen, "endpoint %s/%s/%s: rules: %s", t, v, name,
					 vnet_backend_error(d->backend));
			}
		} else if (!first) {
			first = rr;
			snprintf(err, errlen, "endpoint %s/%s/%s: rules: %s", t, v, name,
				 cs_strerror(rr));
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
			 "(it holds %zu); delete one or raise quotas.%s", t, max, kind, n, kind);
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

static json_t *rule_view(const char *t, const char *v, const json_t *rule, size_t i)
{
	json_t *o = json_deep_copy(rule);
	const json_t *ports = json_object_get(rule, "ports");

	if (!o)
		return NULL;
	json_object_set_new(o, "vnet", json_sprintf("%s/%s", t, v));
	json_object_set_new(o, "position", json_integer((json_int_t)i + 1));
	if (!json_object_get(o, "name"))
		json_object_set_new(o, "name", json_sprintf("#%zu", i + 1));
	if (!json_object_get(o, "proto"))
		json_object_set_new(o, "proto", json_string("any"));
	if (ports) {
		/* a table cell: "5432,8000-8080" */
		char buf[512] = "";
		size_t j;
		json_t *el;
		json_array_foreach(ports, j, el) {
			size_t l = strlen(buf);
			if (json_is_integer(el))
				snprintf(buf + l, sizeof(buf) - l, "%s%" JSON_INTEGER_FORMAT,
					 j ? "," : "", json_integer_value(el));
			else
				snprintf(buf + l, sizeof(buf) - l, "%s%s", j ? "," : "",
					 json_string_value(el) ? json_string_value(el) : "?");
		}
		json_object_set_new(o, "ports", json_string(buf));
	} else {
		json_object_set_new(o, "ports", json_string("-"));
	}
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

static int rule_show(struct csd_req *r)
{
	const char *name = json_string_value(json_object_get(r->args, "name"));
	name_t p[3];
	char err[256];
	json_t *vdoc = NULL;
	struct rules_policy *pol = NULL;
	int ret;

	if (!name || cs_path_split(name, 2, p, err, sizeof(err)) == 0 ||
	    strchr(name, '/') == NULL)
		return req_fail(r, CS_EINVAL, "rule show: expected TENANT/VNET/RULE (RULE a "
				"rule's name or its position, 1 the first)");
	/* the rule part may be anything the name or position says */
	const char *last = strrchr(name, '/');
	char tv[2 * CS_NAME_MAX + 2];
	snprintf(tv, sizeof(tv), "%.*s", (int)(last - name), name);
	if (cs_path_split(tv, 2, p, err, sizeof(err)) < 0)
		return req_fail(r, CS_EINVAL, "rule show: %s: %s", name, err);
	if ((ret = load_vnet(r, p[0], p[1], &vdoc, NULL, &pol)) < 0)
		goto out;
	const json_t *rules = json_object_get(json_object_get(json_object_get(vdoc, "spec"),
							      "policy"), "rules");
	int i = find_rule(rules, last + 1);
	if (i < 0) {
		ret = req_fail(r, CS_ENOENT, "vnet %s/%s has no rule %s (it has %zu; name one or "
			       "give its position)", p[0], p[1], last + 1, json_array_size(rules));
		goto out;
	}
	r->result = rule_view(p[0], p[1], json_array_get(rules, (size_t)i), (size_t)i);
out:
	rules_free(pol);
	json_decref(vdoc);
	return ret;
}

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
	const char *vs = verdict == VNET_FW_ALLOW ? "allow" : "deny";
	char by[160];
	if (!pol)
		snprintf(by, sizeof(by), "no policy (all allowed)");
	else if (rule < 0)
		snprintf(by, sizeof(by), "default");
	else if (pol->rules[rule].name)
		snprintf(by, sizeof(by), "rule %s (#%d)", pol->rules[rule].name, rule + 1);
	else
		snprintf(by, sizeof(by), "rule #%d", rule + 1);
	r->result = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s}", "vnet", json_string_value(
				      json_object_get(r->args, "vnet")), "from", from, "to", to,
			      "proto", rules_proto_name(proto), "port", port, "verdict", vs,
			      "by", by);
	if (r->result && rule >= 0) {
		json_object_set_new(r->result, "position", json_integer(rule + 1));
		if (pol->rules[rule].name)
			json_object_set_new(r->result, "rule", json_string(pol->rules[rule].name));
	}
	ret = r->result ? 0 : req_fail(r, CS_ENOMEM, "rule check: out of memory");
out:
	policy_eps_clear(&pe);
	rules_free(pol);
	json_decref(vdoc);
	json_decref(eps);
	return ret;
}

CSD_OP(rule_list, "rule.list", rule_list, 0, "list the rules of vnets");
CSD_OP(rule_show, "rule.show", rule_show, 0, "show a rule (by name or position)");
CSD_OP(rule_check, "rule.check", rule_check, 0,
       "the verdict of a vnet's rules for traffic between two endpoints, and the rule that "
       "decided");
