/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The SQLite store: the conformance suite, then what is SQLite's own. */
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sqlite3.h>

#include <cs/cs.h>

#include "csd/store.h"
#include "conformance.h"

static char tmpdir[] = "/tmp/cs-store-test.XXXXXX";

static int open_sqlite(void *ctx, struct store **out)
{
	return store_sqlite_open(ctx, out);
}

/* A fresh state directory for one test, under the run's temp dir. */
static void subdir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static void test_file_and_wal(void **state)
{
	char dir[256], path[300];
	struct store *s = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct stat sb;

	(void)state;
	subdir(dir, sizeof(dir), "new/nested/state");
	assert_int_equal(store_sqlite_open(dir, &s), 0);
	assert_int_equal(store_put(s, "/k", "v", NULL), 0);
	assert_int_equal(stat(dir, &sb), 0);
	/* the database is nobody else's business */
	assert_int_equal(sb.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/cs.db", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);
	store_close(s);
	store_close(NULL);
}

static void test_fresh_revision(void **state)
{
	char dir[256];
	struct store *s = NULL;
	struct store_kvs kvs = { 0 };
	int64_t rev = 0;

	(void)state;
	subdir(dir, sizeof(dir), "fresh");
	assert_int_equal(store_sqlite_open(dir, &s), 0);
	/* as etcd: an empty store is at revision 1 */
	assert_int_equal(store_revision(s, &rev), 0);
	assert_int_equal(rev, 1);
	assert_int_equal(store_list(s, "", &kvs, &rev), 0);
	assert_int_equal(kvs.n, 0);
	assert_int_equal(rev, 1);
	assert_int_equal(store_put(s, "/a", "1", &rev), 0);
	assert_int_equal(rev, 2);
	assert_int_equal(store_put(s, "/\xff\xff", "2", &rev), 0);
	assert_int_equal(store_put(s, "/\xff\xfe", "3", &rev), 0);
	/* prefixes with no successor string still bound correctly */
	assert_int_equal(store_list(s, "/\xff", &kvs, NULL), 0);
	assert_int_equal(kvs.n, 2);
	assert_string_equal(kvs.v[0].key, "/\xff\xfe");
	assert_string_equal(kvs.v[1].key, "/\xff\xff");
	store_kvs_clear(&kvs);
	assert_int_equal(store_list(s, "/\xff\xff", &kvs, NULL), 0);
	assert_int_equal(kvs.n, 1);
	store_kvs_clear(&kvs);
	assert_int_equal(store_list(s, NULL, &kvs, NULL), 0);
	assert_int_equal(kvs.n, 3);
	store_kvs_clear(&kvs);
	store_close(s);
}

static void test_compaction(void **state)
{
	char dir[256];
	struct store *s = NULL;
	struct store_watch *early = NULL, *w = NULL;
	struct store_events ev = { 0 };
	int64_t rev = 0;
	char v[16];
	int i;

	(void)state;
	subdir(dir, sizeof(dir), "compaction");
	assert_int_equal(store_sqlite_open(dir, &s), 0);
	assert_int_equal(store_watch(s, "/", 2, &early), 0);
	for (i = 0; i < 10001; i++) {
		snprintf(v, sizeof(v), "%d", i);
		assert_int_equal(store_put(s, "/c", v, &rev), 0);
	}
	assert_int_equal(rev, 10002);
	/* the newest 10000 revisions are kept, no more */
	assert_int_equal(store_watch_read(early, &ev), CS_ECOMPACTED);
	assert_int_equal(ev.n, 0);
	assert_int_equal(store_watch(s, "/", 2, &w), CS_ECOMPACTED);
	assert_null(w);
	assert_int_equal(store_watch(s, "/", rev - 10000, &w), CS_ECOMPACTED);
	assert_int_equal(store_watch(s, "/", rev - 9999, &w), 0);
	assert_int_equal(store_watch_read(w, &ev), 0);
	assert_int_equal(ev.n, 10000);
	assert_int_equal(ev.v[0].mod_rev, rev - 9999);
	assert_string_equal(ev.v[9999].value, "10000");
	store_events_clear(&ev);
	store_watch_free(w);
	store_watch_free(early);

	/* re-list, then watch from the list's revision + 1, as csd does */
	assert_int_equal(store_revision(s, &rev), 0);
	assert_int_equal(store_watch(s, "/", rev + 1, &w), 0);
	assert_int_equal(store_put(s, "/c", "after", NULL), 0);
	assert_int_equal(store_watch_read(w, &ev), 0);
	assert_int_equal(ev.n, 1);
	store_events_clear(&ev);
	store_watch_free(w);
	store_close(s);
}

static void test_unavailable(void **state)
{
	char dir[256], path[300];
	struct store *s = NULL;
	int fd;

	(void)state;
	/* not a database */
	subdir(dir, sizeof(dir), "garbage");
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/cs.db", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	for (int i = 0; i < 512; i++)
		assert_int_equal(write(fd, "garbage!", 8), 8);
	close(fd);
	assert_int_equal(store_sqlite_open(dir, &s), CS_EUNAVAIL);
	assert_null(s);

	/* the state directory is a file */
	assert_int_equal(store_sqlite_open(path, &s), CS_EUNAVAIL);
	assert_null(s);

	assert_int_equal(store_sqlite_open(NULL, &s), CS_EINVAL);
	assert_int_equal(store_sqlite_open("", &s), CS_EINVAL);
}

static void test_store_open(void **state)
{
	char dir[256];
	struct store *s = NULL;
	struct store_config cfg = { 0 };

	(void)state;
	subdir(dir, sizeof(dir), "config");
	assert_int_equal(store_open(&cfg, &s), CS_EINVAL);
	cfg.dir = dir;
	assert_int_equal(store_open(&cfg, &s), 0);
	assert_string_equal(s->ops->name, "sqlite");
	store_close(s);
	cfg.type = "sqlite";
	assert_int_equal(store_open(&cfg, &s), 0);
	store_close(s);
	s = NULL;
	cfg.type = "etcd";
	assert_int_equal(store_open(&cfg, &s), CS_ENOTSUP);
	assert_null(s);
	cfg.type = "redis";
	assert_int_equal(store_open(&cfg, &s), CS_EINVAL);
	assert_null(s);

	store_kv_clear(NULL);
	store_kvs_clear(NULL);
	store_events_clear(NULL);
}

static void test_busy(void **state)
{
	char dir[256], path[300];
	struct store *s = NULL;
	struct store_kv kv = { 0 };
	struct store_kvs kvs = { 0 };
	sqlite3 *db = NULL;
	int64_t rev = 0, before = 0;

	(void)state;
	subdir(dir, sizeof(dir), "busy");
	assert_int_equal(store_sqlite_open(dir, &s), 0);
	assert_int_equal(store_put(s, "/k", "v", &before), 0);
	snprintf(path, sizeof(path), "%s/cs.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	/* another writer holds the lock for longer than the busy timeout */
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

	/* WAL: readers are not held up */
	assert_int_equal(store_get(s, "/k", &kv), 0);
	store_kv_clear(&kv);
	assert_int_equal(store_list(s, "/", &kvs, &rev), 0);
	assert_int_equal(rev, before);
	store_kvs_clear(&kvs);

	assert_int_equal(store_put(s, "/k", "w", NULL), CS_EIO);
	assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	/* the failed write left nothing behind, and the handle still works */
	assert_int_equal(store_revision(s, &rev), 0);
	assert_int_equal(rev, before);
	assert_int_equal(store_put(s, "/k", "w", &rev), 0);
	assert_int_equal(rev, before + 1);
	store_close(s);
}

static void test_close_before_watch_free(void **state)
{
	char dir[256];
	struct store *s = NULL;
	struct store_watch *w = NULL, *w2 = NULL;
	struct store_events ev = { 0 };

	(void)state;
	subdir(dir, sizeof(dir), "order");
	assert_int_equal(store_sqlite_open(dir, &s), 0);
	assert_int_equal(store_put(s, "/k", "v", NULL), 0);
	assert_int_equal(store_watch(s, "/", 1, &w), 0);
	assert_int_equal(store_watch(s, "/", 1, &w2), 0);
	store_close(s);
	/* a watch outliving its store fails cleanly rather than crashing */
	assert_int_equal(store_watch_read(w, &ev), CS_EUNAVAIL);
	assert_int_equal(ev.n, 0);
	store_watch_free(w);
	store_watch_free(w2);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A database of schema 1 (no leases) opens as it was and takes leases. */
static void test_schema1_upgrade(void **state)
{
	static const char v1[] =
		"PRAGMA journal_mode = WAL;"
		"CREATE TABLE meta (k TEXT PRIMARY KEY NOT NULL, v INTEGER NOT NULL) WITHOUT ROWID;"
		"CREATE TABLE kv (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL,"
		" create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL) WITHOUT ROWID;"
		"CREATE TABLE events (rev INTEGER NOT NULL, idx INTEGER NOT NULL,"
		" type INTEGER NOT NULL, key TEXT NOT NULL, value TEXT,"
		" PRIMARY KEY (rev, idx)) WITHOUT ROWID;"
		"INSERT INTO meta VALUES ('rev', 2), ('compact', 1);"
		"INSERT INTO kv VALUES ('/old', 'kept', 2, 2);"
		"INSERT INTO events VALUES (2, 0, 1, '/old', 'kept');"
		"PRAGMA user_version = 1;";
	char dir[256], path[300];
	struct store *s = NULL;
	struct store_kv kv = { 0 };
	sqlite3 *db = NULL;
	int64_t id = 0, rev = 0;

	(void)state;
	subdir(dir, sizeof(dir), "schema1");
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/cs.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, v1, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_sqlite_open(dir, &s), 0);
	assert_int_equal(store_get(s, "/old", &kv), 0);
	assert_string_equal(kv.value, "kept");
	assert_int_equal(kv.mod_rev, 2);
	store_kv_clear(&kv);
	assert_int_equal(store_lease_grant(s, 60, &id, NULL), 0);
	assert_int_equal(store_put_lease(s, "/new", "x", id, &rev), 0);
	assert_int_equal(rev, 3);
	assert_int_equal(store_lease_revoke(s, id, &rev), 0);
	assert_int_equal(rev, 4);
	assert_int_equal(store_get(s, "/old", &kv), 0);
	store_kv_clear(&kv);
	assert_int_equal(store_get(s, "/new", &kv), CS_ENOENT);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_and_wal),
		cmocka_unit_test(test_fresh_revision),
		cmocka_unit_test(test_compaction),
		cmocka_unit_test(test_unavailable),
		cmocka_unit_test(test_store_open),
		cmocka_unit_test(test_busy),
		cmocka_unit_test(test_close_before_watch_free),
		cmocka_unit_test(test_schema1_upgrade),
	};
	char dir[256];
	struct store_factory f = { .name = "sqlite", .open = open_sqlite, .ctx = dir };
	int failed;

	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	subdir(dir, sizeof(dir), "conformance");
	failed = store_conformance_run(&f);
	failed += cmocka_run_group_tests_name("store sqlite", tests, NULL, NULL);
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return failed ? 1 : 0;
}
