/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cs-ctl OBJECT create|delete|list|show: one generic implementation, driven
 * by a descriptor per object. Adding an object adds a descriptor and a
 * one-line entry point, not branches.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "csd/names.h"
#include "ctl.h"

struct ctl_obj {
	const char *word;
	int schema;               /* enum schema_object of its keys, or -1 */
	/* Where its keys sit below the schema object: a rule is an element of a
	 * vnet's policy.rules, so its keys are "policy.rules[].KEY". */
	const char *prefix;
	int arity;                /* parts of a name (cs_path_split); 0: csd checks */
	int filter_max;           /* parts of a list filter; 0: list takes none */
	const char *name_usage;
	const char *filter_usage;
	const struct ctl_column *columns;
	bool settable;            /* has the verb set (keys changed in place) */
};

/* OWNERS: "uid:1000,gid:100", shorter than the JSON and unambiguous. */
static char *owners_text(const json_t *v)
{
	static const char *const kinds[][2] = { { "uids", "uid" }, { "gids", "gid" } };
	char *buf = NULL;
	size_t len = 0, n = 0;
	FILE *f;

	if (!json_is_object(v))
		return ctl_value_text(v);
	if (!(f = open_memstream(&buf, &len)))
		return NULL;
	for (size_t k = 0; k < 2; k++) {
		json_t *ids = json_object_get(v, kinds[k][0]), *e;
		size_t i;

		json_array_foreach(ids, i, e) {
			char *t = ctl_value_text(e);

			fprintf(f, "%s%s:%s", n++ ? "," : "", kinds[k][1], t ? t : "?");
			free(t);
		}
	}
	if (!n)
		fputc('-', f);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static const struct ctl_column tenant_cols[] = {
	{ "NAME", "name", NULL },
	{ "OWNERS", "owners", owners_text },
	{ "VNETS", "vnets", NULL },
	{ "ENDPOINTS", "endpoints", NULL },
	{ NULL, NULL, NULL },
};

static const struct ctl_column vnet_cols[] = {
	{ "NAME", "name", NULL },
	{ "ID", "id", NULL },
	{ "SUBNET", "subnet", NULL },
	{ "MTU", "mtu", NULL },
	{ "ENDPOINTS", "endpoints", NULL },
	{ "CAPACITY", "capacity", NULL },
	{ "FREE", "free", NULL },
	{ "STATE", "state", NULL },
	{ NULL, NULL, NULL },
};

static const struct ctl_column endpoint_cols[] = {
	{ "NAME", "name", NULL },
	{ "ADDRESS", "address", NULL },
	{ "NODE", "node", NULL },
	{ "STATE", "state", NULL },
	{ "GROUPS", "groups", NULL },
	{ NULL, NULL, NULL },
};

static const struct ctl_column reservation_cols[] = {
	{ "NAME", "name", NULL },
	{ "RATE", "rate", NULL },
	{ "CEIL", "ceil", NULL },
	{ "BURST", "burst", NULL },
	{ "CLASS", "class", NULL },
	{ "STATE", "state", NULL },
	{ NULL, NULL, NULL },
};

/* VNET first: a listing across vnets numbers each vnet's rules from 1 */
static const struct ctl_column rule_cols[] = {
	{ "VNET", "vnet", NULL },
	{ "#", "position", NULL },
	{ "NAME", "name", NULL },
	{ "FROM", "from", NULL },
	{ "TO", "to", NULL },
	{ "PROTO", "proto", NULL },
	{ "PORTS", "ports", NULL },
	{ "ACTION", "action", NULL },
	{ NULL, NULL, NULL },
};

static const struct ctl_column node_cols[] = {
	{ "NAME", "name", NULL },
	{ "UNDERLAY", "underlay", NULL },
	{ "STATE", "state", NULL },
	{ NULL, NULL, NULL },
};

static const struct ctl_obj tenant_obj = {
	"tenant", SCHEMA_TENANT, "", 1, 0, "TENANT", "", tenant_cols, true,
};
static const struct ctl_obj vnet_obj = {
	"vnet", SCHEMA_VNET, "", 2, 1, "TENANT/VNET", "[TENANT]", vnet_cols, true,
};
static const struct ctl_obj endpoint_obj = {
	"endpoint", SCHEMA_ENDPOINT, "", 3, 2, "TENANT/VNET/ENDPOINT", "[TENANT[/VNET]]",
	endpoint_cols, true,
};
/* Reservation and rule names are csd's to define (a rule goes by name or
 * position); cs-ctl checks only that one is given. */
static const struct ctl_obj reservation_obj = {
	"reservation", SCHEMA_RESERVATION, "", 0, 3, "TENANT/VNET/ENDPOINT",
	"[TENANT[/VNET[/ENDPOINT]]]", reservation_cols, false,
};
static const struct ctl_obj rule_obj = {
	"rule", SCHEMA_VNET, "policy.rules[].", 0, 2, "TENANT/VNET/RULE", "[TENANT[/VNET]]",
	rule_cols, false,
};
static const struct ctl_obj node_obj = {
	"node", SCHEMA_NODE, "", 1, 0, "NODE", "", node_cols, false,
};

static int verb_create(struct ctl *c, int argc, char **argv);
static int verb_delete(struct ctl *c, int argc, char **argv);
static int verb_list(struct ctl *c, int argc, char **argv);
static int verb_show(struct ctl *c, int argc, char **argv);
static int verb_set(struct ctl *c, int argc, char **argv);

#define SET_USAGE "%s key value... (value \"\": back to the default)"

/* V_SET last: objects that are not settable take the verbs before it */
enum { V_CREATE, V_DELETE, V_LIST, V_SHOW, V_SET, V_MAX };

/* usage: a format taking the object's name_usage (list: filter_usage) */
static const struct ctl_cmd verbs[V_MAX] = {
	[V_CREATE] = { "create", verb_create, "%s [key value]..." },
	[V_DELETE] = { "delete", verb_delete, "%s" },
	[V_LIST] = { "list", verb_list, "%s" },
	[V_SHOW] = { "show", verb_show, "%s" },
	[V_SET] = { "set", verb_set, SET_USAGE },
};

static const char *verb_usage(const struct ctl_obj *o, int v, char *buf, size_t len)
{
	snprintf(buf, len, verbs[v].usage, v == V_LIST ? o->filter_usage : o->name_usage);
	return buf;
}

/* The keys create takes, from the schema registry, one per line. */
static size_t print_keys(FILE *f, const struct ctl_obj *o)
{
	size_t it = 0, plen = strlen(o->prefix), n = 0;
	const struct schema_key *k;

	if (o->schema < 0)
		return 0;
	while ((k = schema_next(&it))) {
		const char *key = k->path + plen;

		if ((int)k->object != o->schema || strncmp(k->path, o->prefix, plen) ||
		    k->type == ST_OBJECT || k->type == ST_OBJECT_LIST || strchr(key, '['))
			continue;
		if (!n++)
			fputs("    keys:\n", f);
		fprintf(f, "      %-16s %s\n", key, k->doc ? k->doc : "");
	}
	return n;
}

static int object_help(struct ctl *c, int v)
{
	char buf[160];

	ctl_usage_line(c, stdout, verb_usage(c->obj, v, buf, sizeof(buf)));
	if ((v == V_CREATE || v == V_SET) && !c->listing)
		print_keys(stdout, c->obj);
	return CTL_OK;
}

/* NAME must be a full path of the object's arity; wrong words are usage errors. */
static int check_name(struct ctl *c, const char *name, int parts)
{
	char p[3][CS_NAME_MAX + 1], err[256];
	int r;

	if ((r = ctl_no_option(c, name)))
		return r;
	if (parts > 0 && cs_path_split(name, parts, p, err, sizeof(err)) < 0)
		return ctl_usage_error(c, "%s", err);
	if (!*name)
		return ctl_usage_error(c, "empty name");
	return 0;
}

/*
 * The spec from `key value` pairs. schema_argv_to_json() knows the keys and
 * their types; for an object whose keys sit below a prefix, the keys are
 * prefixed for it and the object is taken back out of the result.
 */
static json_t *spec_from_argv(struct ctl *c, int argc, char **argv, int *rc)
{
	const struct ctl_obj *o = c->obj;
	size_t plen = strlen(o->prefix);
	char err[2048], **keyed = NULL;
	json_t *root = NULL, *spec = NULL;

	*rc = 0;
	for (int i = 0; i < argc; i += 2)
		if ((*rc = ctl_no_option(c, argv[i])))
			return NULL;
	if (!argc)
		return json_object();
	if (o->schema < 0) {
		*rc = ctl_usage_error(c, "takes no keys");
		return NULL;
	}
	if (!plen) {
		if (!(spec = schema_argv_to_json(o->schema, argc, argv, err, sizeof(err))))
			*rc = ctl_usage_error(c, "%s", err);
		return spec;
	}
	if (!(keyed = calloc((size_t)argc, sizeof(*keyed)))) {
		*rc = ctl_fail(c, "out of memory");
		return NULL;
	}
	for (int i = 0; i < argc; i++) {
		if (i % 2) {
			keyed[i] = argv[i];
			continue;
		}
		if (asprintf(&keyed[i], "%s%s", o->prefix, argv[i]) < 0) {
			keyed[i] = NULL;
			*rc = ctl_fail(c, "out of memory");
			goto out;
		}
		/* schema's message would name the prefixed key: speak of ours */
		if (!schema_find(o->schema, keyed[i])) {
			fprintf(stderr, "%s: unknown key \"%s\" for %s\n", c->where, argv[i],
				o->word);
			if (!print_keys(stderr, o))
				fprintf(stderr, "    (no keys are registered for %s)\n", o->word);
			*rc = CTL_USAGE;
			goto out;
		}
	}
	if (!(root = schema_argv_to_json(o->schema, argc, keyed, err, sizeof(err)))) {
		*rc = ctl_usage_error(c, "%s", err);
		goto out;
	}
	/* walk the prefix ("policy.rules[].") down to the element object */
	spec = root;
	for (const char *p = o->prefix; *p && spec;) {
		const char *dot = strchr(p, '.');
		char part[64];

		snprintf(part, sizeof(part), "%.*s", (int)(dot - p), p);
		spec = json_object_get(spec, part);
		p = dot + 1;
	}
	if (!json_is_object(spec)) {
		*rc = ctl_fail(c, "%s: could not build the spec", o->word);
		spec = NULL;
		goto out;
	}
	json_incref(spec);
out:
	json_decref(root);
	for (int i = 0; keyed && i < argc; i += 2)
		free(keyed[i]);
	free(keyed);
	return spec;
}

/* "<object>.<verb>" and its name for messages. */
static void op_name(const struct ctl *c, const char *verb, char *op, size_t len)
{
	snprintf(op, len, "%s.%s", c->obj->word, verb);
}

static int print_result(struct ctl *c, json_t *res, bool quiet)
{
	if (c->json)
		return ctl_print_json(res ? res : json_null());
	if (quiet || !res)
		return CTL_OK;
	if (json_is_array(res))
		ctl_print_table(stdout, res, c->obj->columns);
	else
		ctl_print_flat(stdout, res);
	return CTL_OK;
}

/*
 * endpoint create NAME netns PATH: PATH opened here, as the caller, and the
 * namespace passed to csd with the request; csd, which is root, opens no
 * path on a user's behalf. *res: the endpoint as shown.
 */
static int create_netns(struct ctl *c, const char *name, json_t *spec, const char *what,
			json_t **res)
{
	const char *path = json_string_value(json_object_get(spec, "netns"));
	char *text = json_dumps(spec, JSON_COMPACT), *shown = NULL;
	int fd, r;

	if (!text)
		return ctl_fail(c, "%s: out of memory", what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = ctl_fail(c, "%s: netns %s: cannot open it: %s", what, path, strerror(errno));
		free(text);
		return r;
	}
	if ((r = ctl_connect(c)) == 0) {
		ctl_deadline_start(c, "endpoint.create");
		r = cs_endpoint_create_netns(c->cs, name, text, fd);
		if (r == 0)
			r = cs_endpoint_show(c->cs, name, &shown);
		ctl_deadline_stop();
		if (r < 0)
			r = ctl_fail(c, "%s", *cs_last_error(c->cs) ? cs_last_error(c->cs)
								      : cs_strerror(r));
		else if (!(*res = json_loads(shown, JSON_DECODE_ANY, NULL)))
			r = ctl_fail(c, "%s: csd sent a malformed result", what);
	}
	close(fd);
	free(text);
	free(shown);
	return r;
}

static int verb_create(struct ctl *c, int argc, char **argv)
{
	char op[64], usage[160], what[256];
	json_t *spec, *res = NULL;
	int r;

	if (c->help)
		return object_help(c, V_CREATE);
	ctl_drop_dashdash(&argc, argv);
	if (argc < 2)
		return ctl_usage_error(c, "expected %s",
				       verb_usage(c->obj, V_CREATE, usage, sizeof(usage)));
	if ((r = check_name(c, argv[1], c->obj->arity)))
		return r;
	if (!(spec = spec_from_argv(c, argc - 2, argv + 2, &r)))
		return r;
	op_name(c, "create", op, sizeof(op));
	snprintf(what, sizeof(what), "%s %s", c->obj->word, argv[1]);
	if (c->obj == &endpoint_obj && json_is_string(json_object_get(spec, "netns"))) {
		r = create_netns(c, argv[1], spec, what, &res);
		json_decref(spec);
	} else {
		r = ctl_request(c, op, json_pack("{s:s, s:o}", "name", argv[1], "spec", spec),
				what, &res);
	}
	if (!r)
		r = print_result(c, res, true);
	json_decref(res);
	return r;
}

/* delete, show (and node rotate-key): exactly one NAME. */
static int named_word(struct ctl *c, int v, const char *word, int argc, char **argv,
		      bool quiet)
{
	char op[64], usage[160], what[256];
	json_t *res = NULL;
	int r;

	if (c->help)
		return object_help(c, v);
	ctl_drop_dashdash(&argc, argv);
	if (argc < 2)
		return ctl_usage_error(c, "expected %s",
				       verb_usage(c->obj, v, usage, sizeof(usage)));
	if ((r = check_name(c, argv[1], c->obj->arity)))
		return r;
	if (argc > 2)
		return ctl_usage_error(c, "unexpected \"%s\"; expected %s", argv[2],
				       verb_usage(c->obj, v, usage, sizeof(usage)));
	op_name(c, word, op, sizeof(op));
	snprintf(what, sizeof(what), "%s %s", c->obj->word, argv[1]);
	r = ctl_request(c, op, json_pack("{s:s}", "name", argv[1]), what, &res);
	if (!r)
		r = print_result(c, res, quiet);
	json_decref(res);
	return r;
}

static int named(struct ctl *c, int v, int argc, char **argv, bool quiet)
{
	return named_word(c, v, verbs[v].word, argc, argv, quiet);
}

static int verb_delete(struct ctl *c, int argc, char **argv)
{
	return named(c, V_DELETE, argc, argv, true);
}

static int verb_show(struct ctl *c, int argc, char **argv)
{
	return named(c, V_SHOW, argc, argv, false);
}

/* @patch[path] = null, the dotted @path nested ("qos.rate": {"qos":
 * {"rate": null}}): removed by set. */
static int patch_remove(json_t *patch, const char *path)
{
	const char *dot = strchr(path, '.');
	char part[64];

	if (!dot)
		return json_object_set_new(patch, path, json_null());
	snprintf(part, sizeof(part), "%.*s", (int)(dot - path), path);
	json_t *in = json_object_get(patch, part);
	if (!json_is_object(in) && (!(in = json_object()) || json_object_set_new(patch, part, in)))
		return -1;
	return patch_remove(in, dot + 1);
}

/* The merge patch of set: the keys with values as create builds them, and
 * null for each key given "" (removed). */
static json_t *set_patch(struct ctl *c, int argc, char **argv, int *rc)
{
	char **keep = calloc((size_t)argc + 1, sizeof(*keep));
	json_t *patch = NULL;
	int nkeep = 0;

	*rc = keep ? 0 : ctl_fail(c, "out of memory");
	for (int i = 0; !*rc && i < argc; i += 2) {
		if ((*rc = ctl_no_option(c, argv[i])))
			break;
		for (int j = 0; j < i && !*rc; j += 2)
			if (!strcmp(argv[i], argv[j]))
				*rc = ctl_usage_error(c, "key \"%s\" is given twice; give it once",
						      argv[i]);
		if (*rc)
			break;
		if (*argv[i + 1]) {
			keep[nkeep++] = argv[i];
			keep[nkeep++] = argv[i + 1];
		} else if (!schema_find(c->obj->schema, argv[i])) {
			*rc = ctl_usage_error(c, "unknown key \"%s\" for %s", argv[i], c->obj->word);
		}
	}
	if (!*rc && (patch = spec_from_argv(c, nkeep, keep, rc))) {
		for (int i = 0; i < argc; i += 2)
			if (!*argv[i + 1] && patch_remove(patch, argv[i]) < 0) {
				*rc = ctl_fail(c, "out of memory");
				json_decref(patch);
				patch = NULL;
				break;
			}
	}
	free(keep);
	return patch;
}

/*
 * set NAME key value...: the keys given change, the others stay; a list is
 * replaced whole; an empty value ("") removes the key, so that it takes its
 * default again. -j prints the object as show does.
 */
static int verb_set(struct ctl *c, int argc, char **argv)
{
	char usage[160], what[256];
	json_t *patch, *res = NULL;
	int r;

	if (c->help)
		return object_help(c, V_SET);
	ctl_drop_dashdash(&argc, argv);
	if (argc < 4 || argc % 2)
		return ctl_usage_error(c, "expected %s", verb_usage(c->obj, V_SET, usage,
								    sizeof(usage)));
	if ((r = check_name(c, argv[1], c->obj->arity)) ||
	    !(patch = set_patch(c, argc - 2, argv + 2, &r)))
		return r;
	snprintf(what, sizeof(what), "%s %s", c->obj->word, argv[1]);
	op_name(c, "set", usage, sizeof(usage));
	r = ctl_request(c, usage, json_pack("{s:s, s:o}", "name", argv[1], "set", patch), what,
			&res);
	if (!r)
		r = print_result(c, res, true);
	json_decref(res);
	return r;
}

/* list's request from its words ([FILTER]); NULL with *rc on failure. */
static json_t *list_get(struct ctl *c, int argc, char **argv, int *rc)
{
	const struct ctl_obj *o = c->obj;
	char op[64], usage[160], what[64];
	json_t *args, *res = NULL;

	verb_usage(o, V_LIST, usage, sizeof(usage));
	if (argc > 1 && (*rc = ctl_no_option(c, argv[1])))
		return NULL;
	if (argc > 2 || (argc == 2 && !o->filter_max)) {
		*rc = ctl_usage_error(c, "unexpected \"%s\"; expected%s%s",
				      argv[o->filter_max ? 2 : 1],
				      *usage ? " " : " no arguments", usage);
		return NULL;
	}
	if (argc == 2) {
		const char *f = argv[1];
		int parts = 1;

		for (const char *p = f; *p; p++)
			parts += *p == '/';
		if (parts > o->filter_max) {
			*rc = ctl_usage_error(c, "%s: expected %s", f, usage);
			return NULL;
		}
		if ((*rc = check_name(c, f, parts)))
			return NULL;
	}
	args = argc == 2 ? json_pack("{s:s}", "filter", argv[1]) : json_object();
	op_name(c, "list", op, sizeof(op));
	snprintf(what, sizeof(what), "%s list", o->word);
	if ((*rc = ctl_request(c, op, args, what, &res)))
		return NULL;
	return res ? res : json_array();
}

static int verb_list(struct ctl *c, int argc, char **argv)
{
	json_t *res;
	int r = 0;

	if (c->help)
		return object_help(c, V_LIST);
	ctl_drop_dashdash(&argc, argv);
	if (!(res = list_get(c, argc, argv, &r)))
		return r;
	r = print_result(c, res, false);
	json_decref(res);
	return r;
}

json_t *ctl_endpoint_listing(struct ctl *c, int argc, char **argv, int *rc)
{
	const struct ctl_obj *outer = c->obj;
	json_t *res;

	c->obj = &endpoint_obj;
	res = list_get(c, argc, argv, rc);
	c->obj = outer;
	return res;
}

static int endpoint_list(struct ctl *c, int argc, char **argv)
{
	bool stats = false;

	if (c->help) {
		ctl_usage_line(c, stdout, "[--stats] [TENANT[/VNET]]");
		return CTL_OK;
	}
	ctl_drop_dashdash(&argc, argv);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--stats"))
			continue;
		stats = true;
		memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(*argv));
		argc--;
		break;
	}
	if (!stats)
		return verb_list(c, argc, argv);
	return ctl_endpoint_stats(c, argc, argv);
}

/* endpoint's verbs: list takes --stats */
static const struct ctl_cmd endpoint_verbs[V_MAX] = {
	[V_CREATE] = { "create", verb_create, "%s [key value]..." },
	[V_DELETE] = { "delete", verb_delete, "%s" },
	[V_LIST] = { "list", endpoint_list, "[--stats] %s" },
	[V_SHOW] = { "show", verb_show, "%s" },
	[V_SET] = { "set", verb_set, SET_USAGE },
};

static int object_run_tab(struct ctl *c, const struct ctl_obj *o, const struct ctl_cmd *tab,
			  size_t n, int argc, char **argv)
{
	const struct ctl_obj *outer = c->obj;
	int r;

	c->obj = o;
	r = ctl_dispatch(c, tab, n, "verb", argc - 1, argv + 1);
	c->obj = outer;
	return r;
}

static int object_run(struct ctl *c, const struct ctl_obj *o, int argc, char **argv)
{
	return object_run_tab(c, o, verbs, o->settable ? V_MAX : V_SET, argc, argv);
}

#define RULE_CHECK_USAGE "TENANT/VNET FROM TO tcp|udp PORT, or TENANT/VNET FROM TO icmp"
#define RULE_CREATE_USAGE "TENANT/VNET from SEL to SEL [proto P] [ports LIST] " \
	"[action allow|deny] [name NAME] [position N]"
#define RULE_NAMED_USAGE "TENANT/VNET RULE, or TENANT/VNET/RULE (RULE a name or a position)"

/* The words of rule create: the keys of a rule (policy.rules[] in the
 * overlay file) and where it goes. */
static const char *const rule_words[] = {
	"from", "to", "proto", "ports", "action", "name", "position",
};
enum { RW_NKEYS = 6, RW_POSITION = 6, RW_MAX = 7 };

static void rule_words_help(FILE *f)
{
	char path[64];

	fputs("    keys:\n", f);
	for (size_t i = 0; i < RW_MAX; i++) {
		snprintf(path, sizeof(path), "%s%s", rule_obj.prefix, rule_words[i]);
		const struct schema_key *k = schema_find(SCHEMA_VNET, path);
		const char *doc = i == RW_POSITION ? "where it goes, 1 the first (default: last)"
			: !strcmp(rule_words[i], "action") ? "allow or deny (default allow)"
			: k && k->doc ? k->doc : "";
		fprintf(f, "      %-16s %s\n", rule_words[i], doc);
	}
}

/* A value of "ports": numbers as numbers, anything else as written (csd
 * says what is wrong with it). */
static json_t *rule_port(const char *s)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (*s && !*end && !errno)
		return json_integer(n);
	return json_string(s);
}

static json_t *rule_ports(const char *s)
{
	json_t *a = json_array();

	for (const char *p = s; a; p++) {
		const char *q = strchrnul(p, ',');
		char *one = strndup(p, (size_t)(q - p));

		if (!one || json_array_append_new(a, rule_port(one)) < 0) {
			free(one);
			json_decref(a);
			return NULL;
		}
		free(one);
		if (!*q)
			break;
		p = q;
	}
	return a;
}

int ctl_rule_create_args(struct ctl *c, const char *vnet, int argc, char **argv,
			 json_t **args)
{
	json_t *rule = json_object(), *v;
	bool seen[RW_MAX] = { false };
	long position = 0;
	int r;

	*args = NULL;
	if (!rule)
		return ctl_fail(c, "out of memory");
	for (int i = 0; i < argc; i += 2) {
		int k;

		if ((r = ctl_no_option(c, argv[i])))
			goto fail;
		if ((k = ctl_match(argv[i], rule_words, RW_MAX)) < 0) {
			/* the words that could come here: those the prefix fits, or all */
			char next[128] = "";
			for (size_t w = 0; w < RW_MAX; w++)
				if (k == CTL_NOMATCH || !strncmp(rule_words[w], argv[i], strlen(argv[i])))
					snprintf(next + strlen(next), sizeof(next) - strlen(next),
						 " %s", rule_words[w]);
			r = ctl_usage_error(c, "%s key \"%s\"; expected one of:%s", k == CTL_AMBIGUOUS ?
					    "ambiguous" : "unknown", argv[i], next);
			goto fail;
		}
		if (seen[k]) {
			r = ctl_usage_error(c, "%s is given twice", rule_words[k]);
			goto fail;
		}
		seen[k] = true;
		if (i + 1 >= argc) {
			r = ctl_usage_error(c, "%s needs a value", rule_words[k]);
			goto fail;
		}
		const char *val = argv[i + 1];
		if (k == RW_POSITION) {
			char *end;
			errno = 0;
			position = strtol(val, &end, 10);
			if (!*val || *end || errno || position < 1) {
				r = ctl_usage_error(c, "position %s: expected a number from 1 (the "
						    "first rule)", val);
				goto fail;
			}
			continue;
		}
		v = !strcmp(rule_words[k], "ports") ? rule_ports(val) : json_string(val);
		if (!v || json_object_set_new(rule, rule_words[k], v) < 0) {
			r = ctl_fail(c, "out of memory");
			goto fail;
		}
	}
	/* a missing word is a usage error like a wrong one, before csd is asked */
	for (const char *const *need = (const char *const[]){ "from", "to", NULL }; *need; need++) {
		if (!json_object_get(rule, *need)) {
			r = ctl_usage_error(c, "%s is missing; expected %s", *need, RULE_CREATE_USAGE);
			goto fail;
		}
	}
	/* the common case adds an allow; a deny is said */
	if (!json_object_get(rule, "action"))
		json_object_set_new(rule, "action", json_string("allow"));
	*args = json_pack("{s:s, s:o}", "name", vnet, "spec", rule);
	if (*args && position)
		json_object_set_new(*args, "position", json_integer(position));
	return *args ? 0 : ctl_fail(c, "out of memory");
fail:
	json_decref(rule);
	return r;
}

/* rule create TENANT/VNET from SEL to SEL ...: -j prints the rule as stored */
static int rule_create(struct ctl *c, int argc, char **argv)
{
	char what[256];
	json_t *args, *res = NULL;
	int r;

	if (c->help) {
		ctl_usage_line(c, stdout, RULE_CREATE_USAGE);
		if (!c->listing)
			rule_words_help(stdout);
		return CTL_OK;
	}
	ctl_drop_dashdash(&argc, argv);
	if (argc < 2)
		return ctl_usage_error(c, "expected %s", RULE_CREATE_USAGE);
	if ((r = check_name(c, argv[1], 2)) ||
	    (r = ctl_rule_create_args(c, argv[1], argc - 2, argv + 2, &args)))
		return r;
	snprintf(what, sizeof(what), "rule create %s", argv[1]);
	r = ctl_request(c, "rule.create", args, what, &res);
	/* created, but probably not what was meant: say so, still exit 0 */
	size_t i;
	json_t *w;
	json_array_foreach(json_object_get(res, "warnings"), i, w)
		fprintf(stderr, "cs-ctl: warning: %s\n", json_string_value(w));
	if (!c->json)
		json_object_del(res, "warnings");
	if (!r)
		r = print_result(c, res, true);
	json_decref(res);
	return r;
}

int ctl_rule_name(struct ctl *c, int argc, char **argv, char **name)
{
	int r;

	*name = NULL;
	for (int i = 1; i < argc; i++)
		if ((r = ctl_no_option(c, argv[i])))
			return r;
	if (argc == 2 && strchr(argv[1], '/') != strrchr(argv[1], '/')) {
		*name = strdup(argv[1]);
	} else if (argc == 3 && !strchr(argv[2], '/')) {
		if ((r = check_name(c, argv[1], 2)))
			return r;
		if (!*argv[2])
			return ctl_usage_error(c, "empty rule; expected %s", RULE_NAMED_USAGE);
		if (asprintf(name, "%s/%s", argv[1], argv[2]) < 0)
			*name = NULL;
	} else {
		return ctl_usage_error(c, "expected %s", RULE_NAMED_USAGE);
	}
	return *name ? 0 : ctl_fail(c, "out of memory");
}

/* rule show|delete TENANT/VNET RULE, or TENANT/VNET/RULE */
static int rule_named(struct ctl *c, int v, int argc, char **argv)
{
	char *name, *args[2];
	int r;

	if (c->help) {
		ctl_usage_line(c, stdout, RULE_NAMED_USAGE);
		return CTL_OK;
	}
	ctl_drop_dashdash(&argc, argv);
	if ((r = ctl_rule_name(c, argc, argv, &name)))
		return r;
	args[0] = argv[0];
	args[1] = name;
	r = named(c, v, 2, args, v == V_DELETE);
	free(name);
	return r;
}

static int rule_show(struct ctl *c, int argc, char **argv)
{
	return rule_named(c, V_SHOW, argc, argv);
}

static int rule_delete(struct ctl *c, int argc, char **argv)
{
	return rule_named(c, V_DELETE, argc, argv);
}

/* rule check TENANT/VNET FROM TO PROTO [PORT]: the verdict and what decided */
static int rule_check(struct ctl *c, int argc, char **argv)
{
	char what[256], *end;
	json_t *args, *res = NULL;
	int r;

	if (c->help) {
		ctl_usage_line(c, stdout, RULE_CHECK_USAGE);
		return CTL_OK;
	}
	ctl_drop_dashdash(&argc, argv);
	if (argc < 5 || argc > 6)
		return ctl_usage_error(c, "expected %s", RULE_CHECK_USAGE);
	for (int i = 1; i < argc; i++)
		if ((r = ctl_no_option(c, argv[i])))
			return r;
	if ((r = check_name(c, argv[1], 2)))
		return r;
	bool icmp = !strcmp(argv[4], "icmp");
	if (!icmp && strcmp(argv[4], "tcp") && strcmp(argv[4], "udp"))
		return ctl_usage_error(c, "%s: unknown protocol; expected %s", argv[4],
				       RULE_CHECK_USAGE);
	if (argc == 5 && !icmp)
		return ctl_usage_error(c, "%s needs a PORT; expected %s", argv[4], RULE_CHECK_USAGE);
	if (argc == 6 && icmp)
		return ctl_usage_error(c, "icmp takes no port: drop \"%s\"; expected %s",
				       argv[5], RULE_CHECK_USAGE);
	args = json_pack("{s:s, s:s, s:s, s:s}", "vnet", argv[1], "from", argv[2], "to",
			 argv[3], "proto", argv[4]);
	if (argc == 6) {
		long port = strtol(argv[5], &end, 10);
		if (!*argv[5] || *end || port < 1 || port > 65535) {
			json_decref(args);
			return ctl_usage_error(c, "%s: not a port (1-65535)", argv[5]);
		}
		json_object_set_new(args, "port", json_integer(port));
	}
	snprintf(what, sizeof(what), "rule check %s", argv[1]);
	r = ctl_request(c, "rule.check", args, what, &res);
	if (!r && c->json) {
		r = ctl_print_json(res);
	} else if (!r) {
		const char *port = json_integer_value(json_object_get(res, "port")) ? "/" : "";
		printf("%s %s -> %s %s%s%.0" JSON_INTEGER_FORMAT ": %s (%s)\n", argv[1], argv[2],
		       argv[3], json_string_value(json_object_get(res, "proto")) ?: "?", port,
		       json_integer_value(json_object_get(res, "port")),
		       json_string_value(json_object_get(res, "verdict")) ?: "?",
		       json_string_value(json_object_get(res, "by")) ?: "?");
	}
	json_decref(res);
	return r;
}

static const struct ctl_cmd rule_verbs[] = {
	{ "create", rule_create, RULE_CREATE_USAGE },
	{ "delete", rule_delete, RULE_NAMED_USAGE },
	{ "list", verb_list, "%s" },
	{ "show", rule_show, RULE_NAMED_USAGE },
	{ "check", rule_check, RULE_CHECK_USAGE },
};

int ctl_tenant(struct ctl *c, int argc, char **argv)
{
	return object_run(c, &tenant_obj, argc, argv);
}

int ctl_vnet(struct ctl *c, int argc, char **argv)
{
	return object_run(c, &vnet_obj, argc, argv);
}

int ctl_endpoint(struct ctl *c, int argc, char **argv)
{
	return object_run_tab(c, &endpoint_obj, endpoint_verbs, V_MAX, argc, argv);
}

int ctl_reservation(struct ctl *c, int argc, char **argv)
{
	return object_run(c, &reservation_obj, argc, argv);
}

int ctl_rule(struct ctl *c, int argc, char **argv)
{
	return object_run_tab(c, &rule_obj, rule_verbs, sizeof(rule_verbs) / sizeof(rule_verbs[0]),
			      argc, argv);
}

/* On node N itself: a new WireGuard key pair; prints the new public key. */
static int node_rotate_key(struct ctl *c, int argc, char **argv)
{
	return named_word(c, V_SHOW, "rotate-key", argc, argv, false);
}

static const struct ctl_cmd node_verbs[] = {
	{ "create", verb_create, "%s [key value]..." },
	{ "delete", verb_delete, "%s" },
	{ "list", verb_list, "%s" },
	{ "show", verb_show, "%s" },
	{ "rotate-key", node_rotate_key, "%s" },
};

int ctl_node(struct ctl *c, int argc, char **argv)
{
	return object_run_tab(c, &node_obj, node_verbs, sizeof(node_verbs) / sizeof(node_verbs[0]),
			      argc, argv);
}
