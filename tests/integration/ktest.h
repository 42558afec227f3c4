/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared by the root-only tests that drive vnet_kernel_ops directly
 * (test_kernel_backend, test_nft_kernel, test_qos_kernel): the backend
 * under test, CHECK/OK, and cleanup of every namespace carrying the test's
 * prefix, also on signals and crashes. Each test is one file, so the
 * statics below are its own.
 */
#ifndef TESTS_INTEGRATION_KTEST_H
#define TESTS_INTEGRATION_KTEST_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "vnet/netns.h"
#include "vnet/vnet.h"

static char prefix[VNET_PREFIX_MAX + 1];
static const struct vnet_ops *ops;
static struct vnet_backend *be;
static int checks;

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__); \
		fprintf(stderr, "\n"); \
		exit(1); \
	} \
	checks++; \
} while (0)

/* a backend call that must succeed */
#define OK(call) do { \
	int r_ = (call); \
	CHECK(r_ >= 0, "%s -> %d: %s", #call, r_, vnet_backend_error(be)); \
} while (0)

static void cleanup(void)
{
	char pfx[VNET_PREFIX_MAX + 2], err[256], **names = NULL;
	size_t n = 0, i;

	if (be)
		ops->close(be);
	be = NULL;
	snprintf(pfx, sizeof(pfx), "%s.", prefix);
	if (netns_list(pfx, &names, &n) < 0)
		return;
	for (i = 0; i < n; i++) {
		netns_delete(names[i], err, sizeof(err));
		free(names[i]);
	}
	free(names);
}

static void on_signal(int sig)
{
	fprintf(stderr, "FAIL: signal %d\n", sig);
	exit(1);
}

/* A crash still removes the namespaces; not async-signal-safe, but the
 * alternative is leaking them. */
static void on_crash(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Clean up at exit, on the usual signals and on a crash; a test still
 * running after @secs is stopped (SIGALRM) the same way. */
static void ktest_guard(unsigned int secs)
{
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGALRM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGSEGV, on_crash);
	signal(SIGBUS, on_crash);
	signal(SIGABRT, on_crash);
	signal(SIGPIPE, SIG_IGN);
	alarm(secs);
}

#endif
