/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "vnet.h"

static const struct vnet_ops *const backends[] = {
	&vnet_kernel_ops,
	&vnet_ovs_ops,
	&vnet_user_ops,
	&vnet_recording_ops,
};

void vnet_inventory_clear(struct vnet_inventory *inv)
{
	size_t i;

	if (!inv)
		return;
	for (i = 0; i < inv->nvnets; i++)
		free(inv->vnets[i]);
	for (i = 0; i < inv->nendpoints; i++)
		free(inv->endpoints[i]);
	free(inv->vnets);
	free(inv->endpoints);
	memset(inv, 0, sizeof(*inv));
}

bool vnet_ifname_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 1 || n > 15 || !strcmp(s, ".") || !strcmp(s, "..") || !strcmp(s, "lo"))
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || s[i] <= ' ' || s[i] == 0x7f)
			return false;
	return true;
}

const struct vnet_ops *vnet_ops_find(const char *name)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (!strcmp(backends[i]->name, name))
			return backends[i];
	return NULL;
}
