/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Overlay keys: registry, validation of JSON bodies, argv to JSON. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cs/cs.h>
#include "schema.h"
#include "csd/names.h"
#include "resources/units.h"
#include "vnet/ipam.h"

extern const struct schema_key_set *const __start_cs_schema[];
extern const struct schema_key_set *const __stop_cs_schema[];

static const char *const object_names[SCHEMA_OBJECT_MAX] = {
	[SCHEMA_TENANT] = "tenant",
	[SCHEMA_VNET] = "vnet",
	[SCHEMA_ENDPOINT] = "endpoint",
	[SCHEMA_NODE] = "node",
	[SCHEMA_RESERVATION] = "reservation",
};

const char *schema_object_name(enum schema_object o)
{
	return o < SCHEMA_OBJECT_MAX ? object_names[o] : "?";
}

const struct schema_key *schema_next(size_t *it)
{
	size_t i = *it;

	for (const struct schema_key_set *const *s = __start_cs_schema; s < __stop_cs_schema; s++) {
		if (i < (*s)->n) {
			(*it)++;
			return &(*s)->keys[i];
		}
		i -= (*s)->n;
	}
	return NULL;
}

const struct schema_key *schema_find(enum schema_object o, const char *path)
{
	size_t it = 0;
	const struct schema_key *k;

	while ((k = schema_next(&it)))
		if (k->object == o && !strcmp(k->path, path))
			return k;
	return NULL;
}

void schema_errors_add(struct schema_errors *e, const char *fmt, ...)
{
	va_list ap;
	char *m;

	va_start(ap, fmt);
	int r = vasprintf(&m, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	char **v = realloc(e->msgs, sizeof(*v) * (e->n + 1));
	if (!v) {
		free(m);
		return;
	}
	e->msgs = v;
	e->msgs[e->n++] = m;
}

void schema_errors_clear(struct schema_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->msgs[i]);
	free(e->msgs);
	e->msgs = NULL;
	e->n = 0;
}

char *schema_errors_join(const struct schema_errors *e)
{
	size_t len = 0;

	if (!e->n)
		return NULL;
	for (size_t i = 0; i < e->n; i++)
		len += strlen(e->msgs[i]) + 1;
	char *s = malloc(len), *p = s;
	if (!s)
		return NULL;
	for (size_t i = 0; i < e->n; i++) {
		size_t l = strlen(e->msgs[i]);
		memcpy(p, e->msgs[i], l);
		p += l;
		*p++ = i + 1 < e->n ? '\n' : '\0';
	}
	return s;
}

static const char *type_text(enum schema_type t)
{
	switch (t) {
	case ST_OBJECT: return "an object";
	case ST_STRING: return "a string";
	case ST_NAME: return "a name (1-32 characters a-z, 0-9, '-', '_')";
	case ST_INT: return "an integer";
	case ST_NUMBER: return "a number";
	case ST_BOOL: return "true or false";
	case ST_ENUM: return "one of";
	case ST_RATE: return "a rate such as \"100mbit\"";
	case ST_SIZE: return "a size such as \"64kb\"";
	case ST_ADDR: return "an IPv4 or IPv6 address";
	case ST_ADDR_PORT: return "an address with an optional port, such as \"192.0.2.1\", \"127.0.0.1:4790\" or \"[2001:db8::1]:4790\"";
	case ST_CIDR: return "a prefix such as \"10.0.0.0/24\"";
	case ST_CIDRS: return "a prefix, or an array of an IPv4 and an IPv6 prefix";
	case ST_ADDRS: return "an address, or an array of an IPv4 and an IPv6 address";
	case ST_INT_LIST: return "an array of integers";
	case ST_NAME_LIST: return "an array of names";
	case ST_STRING_LIST: return "an array of strings";
	case ST_OBJECT_LIST: return "an array of objects";
	case ST_PORT_LIST: return "an array of ports and ranges such as [5432, \"8000-8080\"]";
	}
	return "?";
}

void schema_path_join(char *out, size_t len, const char *base, const char *key)
{
	bool plain = *key != '\0';

	for (const char *p = key; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			plain = false;
	if (plain)
		snprintf(out, len, "%s%s%s", base, *base ? "." : "", key);
	else
		snprintf(out, len, "%s%s\"%s\"", base, *base ? "." : "", key);
}

char *schema_value_text(const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (s && strlen(s) > 80)
		strcpy(s + 77, "...");
	return s;
}

static void check_int(const struct schema_key *k, const json_t *v, const char *where,
		      struct schema_errors *e)
{
	if (!json_is_integer(v)) {
		char *t = schema_value_text(v);
		schema_errors_add(e, "%s: %s is not an integer; expected an integer in %" PRId64
				  "-%" PRId64, where, t ? t : "?", k->min, k->max);
		free(t);
		return;
	}
	json_int_t i = json_integer_value(v);
	if (i < k->min || i > k->max)
		schema_errors_add(e, "%s: %" JSON_INTEGER_FORMAT " is out of range; expected %" PRId64
				  "-%" PRId64, where, i, k->min, k->max);
}

static void check_addrs(const struct schema_key *k, const json_t *v, const char *where,
			struct schema_errors *e)
{
	const json_t *items[2];
	size_t n = 0;
	bool cidr = k->type == ST_CIDRS;
	char err[256];

	if (json_is_string(v)) {
		items[n++] = v;
	} else if (json_is_array(v) && json_array_size(v) >= 1 && json_array_size(v) <= 2) {
		for (size_t i = 0; i < json_array_size(v); i++)
			items[n++] = json_array_get(v, i);
	} else {
		char *t = schema_value_text(v);
		schema_errors_add(e, "%s: %s is not valid; expected %s", where, t ? t : "?",
				  type_text(k->type));
		free(t);
		return;
	}
	int fam[2] = { 0, 0 };
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(items[i]);
		if (!s) {
			schema_errors_add(e, "%s: element %zu is not a string; expected %s", where, i,
					  type_text(k->type));
			return;
		}
		if (cidr) {
			struct cs_prefix p;
			if (cs_prefix_parse(s, &p, err, sizeof(err)) < 0) {
				schema_errors_add(e, "%s: %s", where, err);
				return;
			}
			fam[i] = p.addr.family;
		} else {
			struct cs_addr a;
			if (cs_addr_parse(s, &a) < 0) {
				schema_errors_add(e, "%s: \"%s\" is not a valid IPv4 or IPv6 address",
						  where, s);
				return;
			}
			fam[i] = a.family;
		}
	}
	if (n == 2 && fam[0] == fam[1])
		schema_errors_add(e, "%s: two %s of the same family; give at most one IPv4 and one IPv6",
				  where, cidr ? "prefixes" : "addresses");
}

static size_t validate_object(enum schema_object o, const json_t *obj, const char *prefix,
			      const char *where, struct schema_errors *e);

/* An address; with @port, optionally followed by a port (an underlay,
 * cs_addr_port_parse). */
static void check_addr(bool port, const char *s, const char *where, struct schema_errors *e)
{
	struct cs_addr a;
	uint16_t p;

	if (!port && cs_addr_parse(s, &a) < 0)
		schema_errors_add(e, "%s: \"%s\" is not a valid IPv4 or IPv6 address", where, s);
	else if (port && cs_addr_port_parse(s, CS_VXLAN_PORT, &a, &p) < 0)
		schema_errors_add(e, "%s: \"%s\" is not an IPv4 or IPv6 address with an optional "
				  "port 1-65535 (192.0.2.1, 192.0.2.1:4790, [2001:db8::1]:4790)",
				  where, s);
}

static void check_enum(const struct schema_key *k, const json_t *v, const char *where,
		       struct schema_errors *e)
{
	char list[256] = "";
	char *t;

	if (json_is_string(v))
		for (const char *const *p = k->enumvals; *p; p++)
			if (!strcmp(*p, json_string_value(v)))
				return;
	for (const char *const *p = k->enumvals; *p; p++) {
		strncat(list, *p, sizeof(list) - strlen(list) - 1);
		if (p[1])
			strncat(list, ", ", sizeof(list) - strlen(list) - 1);
	}
	t = schema_value_text(v);
	schema_errors_add(e, "%s: %s is not allowed; expected one of %s", where, t ? t : "?", list);
	free(t);
}

/* a rate or a size: a positive integer or text with units; false when v is
 * neither a number nor a string */
static bool check_quantity(const struct schema_key *k, const json_t *v, const char *where,
			   struct schema_errors *e)
{
	char err[256];
	uint64_t x;

	if (json_is_integer(v)) {
		if (json_integer_value(v) <= 0)
			schema_errors_add(e, "%s: %" JSON_INTEGER_FORMAT " must be greater than zero",
					  where, json_integer_value(v));
		return true;
	}
	if (!json_is_string(v))
		return false;
	int r = k->type == ST_RATE ? cs_rate_parse(json_string_value(v), &x, err, sizeof(err))
				   : cs_size_parse(json_string_value(v), &x, err, sizeof(err));
	if (r < 0)
		schema_errors_add(e, "%s: %s", where, err);
	return true;
}

/* element i (el, at w) of list v of a list-typed key */
static void check_list_el(enum schema_object o, const struct schema_key *k, const json_t *v,
			  size_t i, const json_t *el, const char *w, struct schema_errors *e)
{
	char *t;

	if (k->type == ST_INT_LIST) {
		check_int(k, el, w, e);
	} else if (k->type == ST_PORT_LIST) {
		/* the owner (policy/rules.c) checks numbers and ranges */
		if (!json_is_integer(el) && !json_is_string(el)) {
			t = schema_value_text(el);
			schema_errors_add(e, "%s: %s is not a port or a range such as "
					  "\"8000-8080\"", w, t ? t : "?");
			free(t);
		}
	} else if (k->type == ST_OBJECT_LIST) {
		char sub[256];
		if (!json_is_object(el)) {
			schema_errors_add(e, "%s: expected an object", w);
			return;
		}
		snprintf(sub, sizeof(sub), "%s[]", k->path);
		validate_object(o, el, sub, w, e);
	} else if (!json_is_string(el)) {
		t = schema_value_text(el);
		schema_errors_add(e, "%s: %s is not a string", w, t ? t : "?");
		free(t);
	} else if (k->type == ST_NAME_LIST && !cs_name_valid(json_string_value(el))) {
		schema_errors_add(e, "%s: \"%s\" is not a valid name; use 1-32 characters "
				  "a-z, 0-9, '-', '_', starting with a letter or digit",
				  w, json_string_value(el));
	} else if (k->type == ST_NAME_LIST) {
		for (size_t j = 0; j < i; j++)
			if (json_equal(json_array_get(v, j), (json_t *)el)) {
				schema_errors_add(e, "%s: \"%s\" is listed twice", w,
						  json_string_value(el));
				break;
			}
	}
}

static void check_value(enum schema_object o, const struct schema_key *k, const json_t *v,
			const char *where, struct schema_errors *e)
{
	char err[256];
	char *t = NULL;

	switch (k->type) {
	case ST_OBJECT:
		if (!json_is_object(v))
			goto wrong;
		validate_object(o, v, k->path, where, e);
		return;
	case ST_STRING:
		if (!json_is_string(v))
			goto wrong;
		return;
	case ST_NAME:
		if (!json_is_string(v))
			goto wrong;
		if (!cs_name_valid(json_string_value(v)))
			schema_errors_add(e, "%s: \"%s\" is not a valid name; use 1-32 characters a-z, "
					  "0-9, '-', '_', starting with a letter or digit",
					  where, json_string_value(v));
		return;
	case ST_INT:
		check_int(k, v, where, e);
		return;
	case ST_NUMBER:
		if (!json_is_number(v))
			goto wrong;
		if (json_number_value(v) < (double)k->min || json_number_value(v) > (double)k->max)
			schema_errors_add(e, "%s: %g is out of range; expected %" PRId64 "-%" PRId64,
					  where, json_number_value(v), k->min, k->max);
		return;
	case ST_BOOL:
		if (!json_is_boolean(v))
			goto wrong;
		return;
	case ST_ENUM:
		check_enum(k, v, where, e);
		return;
	case ST_RATE:
	case ST_SIZE:
		if (!check_quantity(k, v, where, e))
			goto wrong;
		return;
	case ST_ADDR:
	case ST_ADDR_PORT:
		if (!json_is_string(v))
			goto wrong;
		check_addr(k->type == ST_ADDR_PORT, json_string_value(v), where, e);
		return;
	case ST_CIDR: {
		struct cs_prefix p;
		if (!json_is_string(v))
			goto wrong;
		if (cs_prefix_parse(json_string_value(v), &p, err, sizeof(err)) < 0)
			schema_errors_add(e, "%s: %s", where, err);
		return;
	}
	case ST_CIDRS:
	case ST_ADDRS:
		check_addrs(k, v, where, e);
		return;
	case ST_INT_LIST:
	case ST_NAME_LIST:
	case ST_STRING_LIST:
	case ST_PORT_LIST:
	case ST_OBJECT_LIST: {
		if (!json_is_array(v))
			goto wrong;
		size_t i;
		json_t *el;
		json_array_foreach(v, i, el) {
			char w[512];
			snprintf(w, sizeof(w), "%s[%zu]", where, i);
			check_list_el(o, k, v, i, el, w, e);
		}
		return;
	}
	}
wrong:
	t = schema_value_text(v);
	schema_errors_add(e, "%s: %s is not valid; expected %s", where, t ? t : "?",
			  type_text(k->type));
	free(t);
}

static size_t validate_object(enum schema_object o, const json_t *obj, const char *prefix,
			      const char *where, struct schema_errors *e)
{
	size_t before = e->n;
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		char path[256], w[512];
		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", key);
		schema_path_join(w, sizeof(w), where, key);
		const struct schema_key *k = schema_find(o, path);
		if (!k) {
			schema_errors_add(e, "%s: unknown key", w);
			continue;
		}
		check_value(o, k, v, w, e);
	}
	return e->n - before;
}

size_t schema_validate(enum schema_object o, const json_t *spec, const char *where,
		       struct schema_errors *errs)
{
	if (!json_is_object(spec)) {
		schema_errors_add(errs, "%s: expected an object", where);
		return 1;
	}
	return validate_object(o, spec, "", where, errs);
}

/* Set @v at dotted @path in @root, creating objects on the way. */
static int set_path(json_t *root, const char *path, json_t *v)
{
	char buf[256];
	char *p = buf, *dot;
	json_t *cur = root;

	snprintf(buf, sizeof(buf), "%s", path);
	while ((dot = strchr(p, '.'))) {
		*dot = '\0';
		json_t *next = json_object_get(cur, p);
		if (!next) {
			next = json_object();
			json_object_set_new(cur, p, next);
		} else if (!json_is_object(next)) {
			json_decref(v);
			return -1;
		}
		cur = next;
		p = dot + 1;
	}
	json_object_set_new(cur, p, v);
	return 0;
}

static json_t *scalar_from_text(enum schema_type t, const char *s)
{
	char *end;

	switch (t) {
	case ST_INT:
	case ST_PORT_LIST:
	case ST_INT_LIST: {
		errno = 0;
		long long x = strtoll(s, &end, 10);
		if (*s && !*end && !errno)
			return json_integer(x);
		return json_string(s); /* validation names the bad value */
	}
	case ST_NUMBER: {
		double d = strtod(s, &end);
		if (*s && !*end)
			return json_real(d);
		return json_string(s);
	}
	case ST_BOOL:
		/* exactly true or false: anything else is refused by validation */
		if (!strcmp(s, "true"))
			return json_true();
		if (!strcmp(s, "false"))
			return json_false();
		return json_string(s);
	default:
		return json_string(s);
	}
}

static json_t *list_from_text(enum schema_type t, const char *s)
{
	json_t *a = json_array();
	char *copy = strdup(s), *save = NULL;

	if (!a || !copy) {
		json_decref(a);
		free(copy);
		return NULL;
	}
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		json_array_append_new(a, scalar_from_text(t, tok));
	free(copy);
	return a;
}

static void keys_text(enum schema_object o, char *out, size_t len)
{
	size_t it = 0;
	const struct schema_key *k;

	*out = '\0';
	while ((k = schema_next(&it))) {
		if (k->object != o || k->type == ST_OBJECT || k->type == ST_OBJECT_LIST ||
		    strchr(k->path, '['))
			continue;
		if (*out)
			strncat(out, ", ", len - strlen(out) - 1);
		strncat(out, k->path, len - strlen(out) - 1);
	}
}

json_t *schema_argv_to_json(enum schema_object o, int argc, char *const argv[], char *err,
			    size_t errlen)
{
	json_t *root = json_object();
	char keys[1024];

	if (!root) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (int i = 0; i < argc; i += 2) {
		const struct schema_key *k = schema_find(o, argv[i]);
		if (!k || k->type == ST_OBJECT || k->type == ST_OBJECT_LIST) {
			keys_text(o, keys, sizeof(keys));
			snprintf(err, errlen, "unknown key \"%s\" for %s; keys: %s", argv[i],
				 schema_object_name(o), keys);
			goto fail;
		}
		for (int j = 0; j < i; j += 2)
			if (schema_find(o, argv[j]) == k) {
				bool list = k->type == ST_INT_LIST || k->type == ST_NAME_LIST ||
					    k->type == ST_STRING_LIST || k->type == ST_PORT_LIST ||
					    k->type == ST_CIDRS || k->type == ST_ADDRS;
				snprintf(err, errlen, "key \"%s\" is given twice; give it once%s",
					 argv[i], list ? " (several values: one word with commas, "
							 "a,b)" : "");
				goto fail;
			}
		if (i + 1 >= argc) {
			snprintf(err, errlen, "key \"%s\" needs a value (%s)", argv[i],
				 k->doc ? k->doc : type_text(k->type));
			goto fail;
		}
		const char *s = argv[i + 1];
		json_t *v;
		switch (k->type) {
		case ST_INT_LIST:
		case ST_NAME_LIST:
		case ST_STRING_LIST:
		case ST_PORT_LIST:
			v = list_from_text(k->type, s);
			break;
		case ST_CIDRS:
		case ST_ADDRS:
			v = strchr(s, ',') ? list_from_text(k->type, s) : json_string(s);
			break;
		default:
			v = scalar_from_text(k->type, s);
		}
		if (!v || set_path(root, k->path, v) < 0) {
			snprintf(err, errlen, "key \"%s\" conflicts with another key", argv[i]);
			goto fail;
		}
	}
	return root;
fail:
	json_decref(root);
	return NULL;
}
