/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Rules in the kernel backend: nftables in the endpoint's namespace (to be written). */
#include "cs/cs.h"
#include "kernel_priv.h"

int kernel_endpoint_policy(struct vnet_backend *b, const char *tenant, const char *vnet,
			   const char *endpoint, const struct vnet_fw *fw)
{
	kernel_err((struct kernel_backend *)b, "rules are not implemented yet");
	return fw ? CS_ENOTSUP : 0;
}
