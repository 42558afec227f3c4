/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Store front end: picks an implementation and frees what the store returns. */
#include <stdlib.h>
#include <string.h>

#include <cs/cs.h>

#include "csd/store.h"

int store_open(const struct store_config *cfg, struct store **out)
{
	if (!cfg || !out)
		return CS_EINVAL;
	*out = NULL;
	if (!cfg->type || !strcmp(cfg->type, "sqlite")) {
		if (!cfg->dir || !*cfg->dir)
			return CS_EINVAL;
		return store_sqlite_open(cfg->dir, out);
	}
	if (!strcmp(cfg->type, "etcd")) {
		/* etcd without endpoints is not a store we can offer (and guessing
		 * localhost:2379 would hide a missing line in the configuration) */
		if (!cfg->endpoints || !cfg->endpoints[0])
			return CS_ENOTSUP;
		return store_etcd_open_config(cfg, out);
	}
	return CS_EINVAL;
}

void store_kv_clear(struct store_kv *kv)
{
	if (!kv)
		return;
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

void store_kvs_clear(struct store_kvs *kvs)
{
	size_t i;

	if (!kvs)
		return;
	for (i = 0; i < kvs->n; i++)
		store_kv_clear(&kvs->v[i]);
	free(kvs->v);
	kvs->v = NULL;
	kvs->n = 0;
}

void store_events_clear(struct store_events *ev)
{
	size_t i;

	if (!ev)
		return;
	for (i = 0; i < ev->n; i++) {
		free(ev->v[i].key);
		free(ev->v[i].value);
	}
	free(ev->v);
	ev->v = NULL;
	ev->n = 0;
}
