/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * VNI allocation for vnet create: the lowest free id. Listing every
 * /alloc/vni/ key for each create made the 1000th vnet cost a listing of
 * 1000 keys; instead the used ids are read once into a bitmap (2 MiB for
 * the 24-bit space) that this csd's own creates and deletes keep, and that
 * is read again when it may be stale: after an apply (which allocates from
 * its own snapshot), a change through another node, or a create that lost
 * its id to a concurrent one (the transaction compares the id's key, so a
 * stale bitmap costs a retry, never a duplicate).
 */
#include <stdlib.h>
#include <string.h>

#include "csd.h"
#include "model.h"
#include "vni.h"

#define VNI_MAX 16777215u

static bool bit(const uint8_t *b, uint32_t v)
{
	return b[v >> 3] & (1u << (v & 7));
}

static int load(struct csd *d)
{
	struct store_kvs kvs = { 0 };
	int r;

	if (!d->vni_bits && !(d->vni_bits = calloc((VNI_MAX >> 3) + 1, 1)))
		return CS_ENOMEM;
	if ((r = store_list(d->store, "/alloc/vni/", &kvs, NULL)) < 0)
		return r;
	memset(d->vni_bits, 0, (VNI_MAX >> 3) + 1);
	for (size_t i = 0; i < kvs.n; i++) {
		unsigned long v = strtoul(kvs.v[i].key + strlen("/alloc/vni/"), NULL, 10);
		if (v >= 1 && v <= VNI_MAX)
			d->vni_bits[v >> 3] |= (uint8_t)(1u << (v & 7));
	}
	store_kvs_clear(&kvs);
	d->vni_low = 1;
	d->vni_valid = true;
	return 0;
}

int vni_alloc(struct csd *d, uint32_t *out)
{
	int r;

	if (!d->vni_valid && (r = load(d)) < 0)
		return r;
	for (uint32_t v = d->vni_low ? d->vni_low : 1; v <= VNI_MAX; v++) {
		if (!bit(d->vni_bits, v)) {
			d->vni_low = v;
			*out = v;
			return 0;
		}
	}
	return CS_ENOSPC;
}

void vni_note(struct csd *d, uint32_t v, bool used)
{
	if (!d->vni_valid || v < 1 || v > VNI_MAX)
		return;
	if (used) {
		d->vni_bits[v >> 3] |= (uint8_t)(1u << (v & 7));
	} else {
		d->vni_bits[v >> 3] &= (uint8_t)~(1u << (v & 7));
		if (v < d->vni_low)
			d->vni_low = v;
	}
}

void vni_forget(struct csd *d)
{
	d->vni_valid = false;
}

void vni_free(struct csd *d)
{
	free(d->vni_bits);
	d->vni_bits = NULL;
	d->vni_valid = false;
}
