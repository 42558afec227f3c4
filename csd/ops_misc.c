/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hello and status */
#include <time.h>

#include "config.h"
#include "ops.h"

static int hello(struct csd_req *r)
{
	json_int_t v = 0;

	if (json_unpack(r->args, "{s:I}", "version", &v) < 0)
		return req_fail(r, CS_EPROTO, "hello: missing integer \"version\"");
	if (v != CS_PROTOCOL_VERSION)
		return req_fail(r, CS_EVERSION, "hello: protocol version %" JSON_INTEGER_FORMAT
				" is not supported; this csd speaks version %d", v,
				CS_PROTOCOL_VERSION);
	client_set_hello(r->client);
	r->result = json_pack("{s:i, s:s, s:s, s:I}", "version", CS_PROTOCOL_VERSION, "server",
			      "csd " CS_VERSION, "node", r->d->cfg.node, "max_message",
			      (json_int_t)r->d->cfg.msg_max);
	return 0;
}

static int count(struct csd *d, const char *prefix)
{
	struct store_kvs kvs = { 0 };
	int n = store_list(d->store, prefix, &kvs, NULL) == 0 ? (int)kvs.n : -1;
	store_kvs_clear(&kvs);
	return n;
}

static int status(struct csd_req *r)
{
	struct csd *d = r->d;
	struct timespec ts;
	int64_t rev = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	store_revision(d->store, &rev);
	r->result = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I}",
			      "version", CS_VERSION, "node", d->cfg.node, "prefix", d->cfg.prefix,
			      "store", d->store->ops->name, "backend", d->backend->ops->name,
			      "revision", (json_int_t)rev, "uptime_s",
			      (json_int_t)((now - d->started) / 1000), "clients",
			      (json_int_t)d->nclients, "requests", (json_int_t)d->requests);
	if (authz_admin(r->who)) {
		json_object_set_new(r->result, "state_dir", json_string(d->cfg.state_dir));
		json_object_set_new(r->result, "tenants", json_integer(count(d, "/tenants/")));
		json_object_set_new(r->result, "vnets", json_integer(count(d, "/vnets/")));
		json_object_set_new(r->result, "endpoints", json_integer(count(d, "/endpoints/")));
	}
	return 0;
}

CSD_OP(hello, "hello", hello, CSD_OP_NO_HELLO, "agree the protocol version");
CSD_OP(status, "status", status, 0, "the daemon's status");
