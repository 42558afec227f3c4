/* SPDX-License-Identifier: GPL-2.0-or-later */
/* QoS in the kernel backend: HTB on the endpoint's egress (to be written). */
#include "cs/cs.h"
#include "kernel_priv.h"

int kernel_endpoint_qos(struct vnet_backend *b, const char *tenant, const char *vnet,
			const char *endpoint, const struct vnet_qos *qos)
{
	kernel_err((struct kernel_backend *)b, "QoS is not implemented yet");
	return qos ? CS_ENOTSUP : 0;
}
