// SPDX-License-Identifier: GPL-2.0-or-later
/* The backend conformance suite against the recording backend (no root). */
#include <stdio.h>

#include "vnet/vnet.h"
#include "backend_conformance.h"

static int open_recording(void *ctx, struct vnet_backend **out)
{
	struct vnet_backend_config cfg = { .prefix = "bc", .run_dir = "/tmp" };

	(void)ctx;
	return vnet_recording_ops.open(&cfg, out);
}

int main(void)
{
	const struct backend_factory f = { "recording", open_recording, NULL };

	return backend_conformance_run(&f) ? 1 : 0;
}
