/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The backend conformance suite: what csd relies on from every vnet
 * backend (vnet/vnet.h), run unchanged against the recording backend
 * without root and against the kernel backend as root, so that a new
 * backend proves itself against the same cases. Each test uses vnets of
 * its own and removes them; the factory's backend uses a prefix of the
 * run's own.
 */
#ifndef TESTS_UNIT_VNET_BACKEND_CONFORMANCE_H
#define TESTS_UNIT_VNET_BACKEND_CONFORMANCE_H

struct vnet_backend;

struct backend_factory {
	const char *name;
	/* opens a backend; each test opens one and closes it */
	int (*open)(void *ctx, struct vnet_backend **out);
	void *ctx;
};

/* Runs the suite under cmocka; returns the number of failed tests. */
int backend_conformance_run(const struct backend_factory *f);

#endif
