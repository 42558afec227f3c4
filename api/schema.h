/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The keys of overlay files, defined once: csd validates requests and files
 * with it, cs-ctl turns `key value` pairs into JSON with it, the man-page
 * test checks every key is documented. Keys are registered by files
 * (api/schema_core.c, resources/..., policy/...) through SCHEMA_REGISTER(), so a
 * feature adds its keys by adding a file.
 *
 * A key is named by its dotted path below its object ("qos.rate",
 * "owners.uids", "policy.rules[].from": "[]" steps into array elements).
 */
#ifndef CS_SCHEMA_H
#define CS_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

enum schema_object {
	SCHEMA_TENANT,
	SCHEMA_VNET,
	SCHEMA_ENDPOINT,
	SCHEMA_NODE,
	SCHEMA_RESERVATION,
	SCHEMA_OBJECT_MAX,
};

enum schema_type {
	ST_OBJECT,     /* a JSON object; its keys are registered below it */
	ST_STRING,
	ST_NAME,       /* an object name (csd/names.h) */
	ST_INT,        /* integer within [min, max] */
	ST_NUMBER,     /* real number within [min, max] */
	ST_BOOL,
	ST_ENUM,       /* one of enumvals */
	ST_RATE,       /* "100mbit" or integer bit/s */
	ST_SIZE,       /* "64kb" or integer bytes */
	ST_ADDR,       /* an IPv4 or IPv6 address */
	ST_ADDR_PORT,  /* an address with an optional UDP port (cs_addr_port_parse) */
	ST_CIDR,       /* a prefix */
	ST_CIDRS,      /* a prefix, or an array of at most one per family */
	ST_ADDRS,      /* an address, or an array of at most one per family */
	ST_INT_LIST,   /* array of integers within [min, max] */
	ST_NAME_LIST,  /* array of names, no duplicates */
	ST_STRING_LIST,
	ST_OBJECT_LIST,/* array of objects; element keys registered as "key[].sub" */
	ST_PORT_LIST,  /* array of ports (integers) and ranges ("8000-8080") */
	ST_UINT_LIST = ST_INT_LIST,
};

struct schema_key {
	enum schema_object object;
	const char *path;
	enum schema_type type;
	int64_t min, max;               /* ST_INT, ST_INT_LIST, ST_NUMBER */
	const char *const *enumvals;    /* ST_ENUM, NULL-terminated */
	const char *doc;                /* one line for usage messages */
};

/* Register an array of keys defined in the same file:
 *   static const struct schema_key core_keys[] = { ... };
 *   SCHEMA_REGISTER(core_keys);                                      */
#define SCHEMA_REGISTER(arr)                                                           \
	static const struct schema_key_set arr##_set = { arr, sizeof(arr) / sizeof(arr[0]) }; \
	__attribute__((used, section("cs_schema"), aligned(sizeof(void *))))           \
	static const struct schema_key_set *const arr##_ptr = &arr##_set

struct schema_key_set {
	const struct schema_key *keys;
	size_t n;
};

const char *schema_object_name(enum schema_object o);
/* Look up a key by dotted path; NULL if unknown. */
const struct schema_key *schema_find(enum schema_object o, const char *path);
/* Iterate all registered keys: call with *it = 0 until NULL. */
const struct schema_key *schema_next(size_t *it);

/* Collected errors: each names the JSON path, the value and what is allowed. */
struct schema_errors {
	char **msgs;
	size_t n;
};
void schema_errors_add(struct schema_errors *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void schema_errors_clear(struct schema_errors *e);
/* All messages joined by "\n" (malloc'd), or NULL if none. */
char *schema_errors_join(const struct schema_errors *e);
/* The JSON path @base followed by @key: "base.key", or "base.\"key\"" when
 * @key is not a plain word (letters, digits, '_', '-'). */
void schema_path_join(char *out, size_t len, const char *base, const char *key);
/* @v as compact JSON for a message, cut to 80 characters; free() it. */
char *schema_value_text(const json_t *v);

/*
 * Check @spec (the body of one object) against the registered keys: unknown
 * keys, wrong types, values out of range, invalid units/CIDRs/addresses.
 * @where is the JSON path of @spec, used as the start of every message
 * (e.g. "vnets.\"acme/blue\"" or "vnet acme/blue"). Returns the number of
 * errors added to @errs. Semantic checks across objects are the caller's.
 */
size_t schema_validate(enum schema_object o, const json_t *spec, const char *where,
		       struct schema_errors *errs);

/*
 * Turn cs-ctl `key value` pairs into a spec object: dotted keys nest, lists
 * are comma-separated, integers become numbers. Keys are matched exactly.
 * Returns the object (caller json_decref()s) or NULL with a reason in err
 * ("unknown key \"subnett\" for vnet; keys: subnet, id, mtu, ...").
 */
json_t *schema_argv_to_json(enum schema_object o, int argc, char *const argv[], char *err,
			    size_t errlen);

#endif
