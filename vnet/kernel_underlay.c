/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The underlay filter of the kernel backend (to be written). */
#include "cs/cs.h"
#include "kernel_priv.h"

int kernel_underlay_filter(struct vnet_backend *b, const struct vnet_underlay_rule *rules,
			   size_t n)
{
	kernel_err((struct kernel_backend *)b, "the underlay filter is not implemented yet");
	return n ? CS_ENOTSUP : 0;
}
