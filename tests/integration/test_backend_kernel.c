// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The backend conformance suite (tests/unit/vnet/backend_conformance.c)
 * against the kernel backend: real namespaces, so root only; every
 * namespace carrying the run's prefix is removed at exit (ktest.h).
 */
#include <stdio.h>
#include <unistd.h>

#include "ktest.h"
#include "backend_conformance.h"

static int open_kernel(void *ctx, struct vnet_backend **out)
{
	struct vnet_backend_config cfg = { .prefix = prefix, .run_dir = "/tmp" };

	(void)ctx;
	return vnet_kernel_ops.open(&cfg, out);
}

int main(void)
{
	const struct backend_factory f = { "kernel", open_kernel, NULL };

	if (geteuid() != 0) {
		fprintf(stderr, "test_backend_kernel: needs root (network namespaces); skipped\n");
		return 77;
	}
	snprintf(prefix, sizeof(prefix), "bk%u", (unsigned int)getpid() % 1000000u);
	ops = &vnet_kernel_ops;
	ktest_guard(100);
	(void)checks; /* ktest.h's CHECK counter: cmocka counts here */
	return backend_conformance_run(&f) ? 1 : 0;
}
