// SPDX-License-Identifier: GPL-2.0-or-later
/* The backend conformance suite against the user backend: no root, stack
 * processes (cs-stack, $CS_STACK) under a run directory of the test's own. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "vnet/vnet.h"
#include "backend_conformance.h"

static int open_user(void *ctx, struct vnet_backend **out)
{
	struct vnet_backend_config cfg = { .prefix = "bc", .run_dir = ctx };

	return vnet_user_ops.open(&cfg, out);
}

int main(void)
{
	char dir[] = "/tmp/cs-bc-user.XXXXXX", sub[64];
	int r;

	if (!getenv("CS_STACK") || !mkdtemp(dir)) {
		fprintf(stderr, "CS_STACK (the cs-stack program) and a temporary directory needed\n");
		return 1;
	}
	const struct backend_factory f = { "user", open_user, dir };
	r = backend_conformance_run(&f) ? 1 : 0;
	/* every stack was stopped: its socket and log are gone */
	snprintf(sub, sizeof(sub), "%s/user", dir);
	if (rmdir(sub) != 0 || rmdir(dir) != 0) {
		fprintf(stderr, "%s: left over (a stack's socket or log)\n", dir);
		r = 1;
	}
	return r;
}
