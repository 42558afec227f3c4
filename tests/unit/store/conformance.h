/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The store conformance suite: every store implementation (SQLite, etcd)
 * must pass it unchanged.  Tests use their own key prefix and never wipe
 * the store, so a shared or long-lived store works, provided nothing else
 * writes to it while the suite runs (revision steps are checked exactly).
 */
#ifndef TESTS_UNIT_STORE_CONFORMANCE_H
#define TESTS_UNIT_STORE_CONFORMANCE_H

struct store;

struct store_factory {
	const char *name;
	/* opens (or re-opens after close) the same underlying store; also
	 * called in forked children, each opening its own handle */
	int (*open)(void *ctx, struct store **out);
	void *ctx;
};

/* Runs the suite under cmocka; returns the number of failed tests. */
int store_conformance_run(const struct store_factory *f);

#endif
