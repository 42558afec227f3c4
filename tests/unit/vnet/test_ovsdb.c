/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The OVSDB client (vnet/ovsdb.h): its message layer, and its session
 * against a small scripted ovsdb-server in a forked child on a unix socket
 * (no root, no Open vSwitch): monitor, echo, transact waiting for cur_cfg,
 * reconnect after the server restarts, a clear error when nobody applies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <cs/cs.h>
#include "vnet/ovsdb.h"

static json_t *J(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);

	if (!j)
		fail_msg("bad JSON in test: %s: %s", s, e.text);
	return j;
}

static void assert_json(const json_t *got, const char *want)
{
	json_t *w = J(want);

	if (!json_equal((json_t *)got, w)) {
		char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
		fail_msg("got %s, want %s", g, want);
	}
	json_decref(w);
}

static void test_frame_end(void **state)
{
	const char two[] = "{\"a\":1}{\"b\":2}";
	const char tricky[] = " \n{\"s\":\"}]\\\"{\",\"x\":[1,{\"y\":\"\\\\\"}]}rest";
	(void)state;

	assert_int_equal(ovsdb_frame_end("", 0), 0);
	assert_int_equal(ovsdb_frame_end("  \n", 3), 0);
	assert_int_equal(ovsdb_frame_end("{\"a\":", 5), 0);
	assert_int_equal(ovsdb_frame_end("{\"a\":\"}", 7), 0);   /* a brace in a string */
	assert_int_equal(ovsdb_frame_end(two, strlen(two)), 7);
	assert_int_equal(ovsdb_frame_end(tricky, strlen(tricky)), strlen(tricky) - 4);
	assert_int_equal(ovsdb_frame_end("[1,[2]]", 7), 7);
	assert_int_equal(ovsdb_frame_end("42", 2), CS_EPROTO);
	assert_int_equal(ovsdb_frame_end("\"x\"", 3), CS_EPROTO);
}

static void test_requests(void **state)
{
	static const char *const tables[] = { "Bridge", "name", "ports", NULL,
					      "Open_vSwitch", "cur_cfg", NULL, NULL };
	json_t *m;
	(void)state;

	m = ovsdb_msg_transact("Open_vSwitch", J("[{\"op\":\"comment\",\"comment\":\"x\"}]"), 7);
	assert_json(m, "{\"method\":\"transact\",\"id\":7,\"params\":[\"Open_vSwitch\","
		    "{\"op\":\"comment\",\"comment\":\"x\"}]}");
	json_decref(m);
	m = ovsdb_msg_monitor("Open_vSwitch", tables, 1);
	assert_json(m, "{\"method\":\"monitor\",\"id\":1,\"params\":[\"Open_vSwitch\",\"cs\","
		    "{\"Bridge\":{\"columns\":[\"name\",\"ports\"]},"
		    "\"Open_vSwitch\":{\"columns\":[\"cur_cfg\"]}}]}");
	json_decref(m);
	assert_null(ovsdb_msg_request("echo", NULL, 1));
}

static void test_kinds(void **state)
{
	const char *in[] = {
		"{\"id\":3,\"result\":[],\"error\":null}",
		"{\"id\":null,\"method\":\"update\",\"params\":[\"cs\",{}]}",
		"{\"method\":\"update\",\"params\":[]}",
		"{\"id\":\"echo\",\"method\":\"echo\",\"params\":[]}",
		"{\"id\":3}",
		"{\"id\":-1,\"result\":1}",
		"[1]",
	};
	enum ovsdb_kind want[] = { OVSDB_REPLY, OVSDB_NOTIFY, OVSDB_NOTIFY, OVSDB_REQUEST,
				   OVSDB_BAD, OVSDB_BAD, OVSDB_BAD };
	uint64_t id = 0;
	(void)state;

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		json_t *m = J(in[i]);
		assert_int_equal(ovsdb_msg_kind(m, &id), want[i]);
		json_decref(m);
	}
	json_t *m = J("{\"id\":9,\"result\":{}}");
	assert_int_equal(ovsdb_msg_kind(m, &id), OVSDB_REPLY);
	assert_int_equal(id, 9);
	json_decref(m);

	m = J("{\"id\":\"echo\",\"method\":\"echo\",\"params\":[\"x\"]}");
	json_t *r = ovsdb_msg_echo_reply(m);
	assert_json(r, "{\"id\":\"echo\",\"result\":[\"x\"],\"error\":null}");
	json_decref(r);
	json_decref(m);
	m = J("{\"id\":1,\"method\":\"transact\",\"params\":[]}");
	assert_null(ovsdb_msg_echo_reply(m));
	json_decref(m);
}

static void test_transact_check(void **state)
{
	char err[256];
	json_t *m;
	(void)state;

	m = J("{\"id\":1,\"result\":[{},{\"uuid\":[\"uuid\",\"u\"]}],\"error\":null}");
	assert_int_equal(ovsdb_msg_transact_check(m, err, sizeof(err)), 0);
	json_decref(m);
	m = J("{\"id\":1,\"result\":[{},{\"error\":\"constraint violation\",\"details\":"
	      "\"no bridge named x\"}],\"error\":null}");
	assert_int_equal(ovsdb_msg_transact_check(m, err, sizeof(err)), CS_EIO);
	assert_string_equal(err, "constraint violation: no bridge named x");
	json_decref(m);
	m = J("{\"id\":1,\"result\":[{\"error\":\"timed out\"}],\"error\":null}");
	assert_int_equal(ovsdb_msg_transact_check(m, err, sizeof(err)), CS_ECONFLICT);
	json_decref(m);
	/* a commit that failed after the operations succeeded */
	m = J("{\"id\":1,\"result\":[{},{\"error\":\"referential integrity violation\"}],"
	      "\"error\":null}");
	assert_int_equal(ovsdb_msg_transact_check(m, err, sizeof(err)), CS_EIO);
	assert_string_equal(err, "referential integrity violation");
	json_decref(m);
	m = J("{\"id\":1,\"result\":null,\"error\":\"unknown database\"}");
	assert_int_equal(ovsdb_msg_transact_check(m, err, sizeof(err)), CS_EIO);
	assert_string_equal(err, "unknown database");
	json_decref(m);
	m = J("{\"id\":1,\"result\":{}}");
	assert_int_equal(ovsdb_msg_transact_check(m, err, sizeof(err)), CS_EPROTO);
	json_decref(m);
}

static int count_uuid(const char *uuid, void *arg)
{
	(void)uuid;
	(*(int *)arg)++;
	return 0;
}

static void test_values(void **state)
{
	const char *kv[] = { "cs-prefix", "t1", "cs-vnet", "a/b", NULL };
	json_t *m = ovsdb_val_map(kv), *one = J("[\"uuid\",\"u1\"]");
	json_t *set = J("[\"set\",[[\"uuid\",\"u1\"],[\"uuid\",\"u2\"]]]"), *empty = J("[\"set\",[]]");
	int n = 0;
	(void)state;

	assert_json(m, "[\"map\",[[\"cs-prefix\",\"t1\"],[\"cs-vnet\",\"a/b\"]]]");
	assert_string_equal(ovsdb_map_get(m, "cs-vnet"), "a/b");
	assert_null(ovsdb_map_get(m, "cs-endpoint"));
	assert_null(ovsdb_map_get(set, "u1"));
	assert_true(ovsdb_set_has_uuid(one, "u1"));
	assert_false(ovsdb_set_has_uuid(one, "u2"));
	assert_true(ovsdb_set_has_uuid(set, "u2"));
	assert_false(ovsdb_set_has_uuid(empty, "u1"));
	ovsdb_set_each_uuid(set, count_uuid, &n);
	assert_int_equal(n, 2);
	json_t *v = ovsdb_val_named("p1");
	assert_json(v, "[\"named-uuid\",\"p1\"]");
	json_decref(v);
	v = ovsdb_val_set(J("[]"));
	assert_json(v, "[\"set\",[]]");
	json_decref(v);
	json_decref(m);
	json_decref(one);
	json_decref(set);
	json_decref(empty);
}

static void test_cache(void **state)
{
	json_t *cache = json_object(), *u;
	(void)state;

	u = J("{\"Bridge\":{\"b1\":{\"new\":{\"name\":\"x\"}},\"b2\":{\"new\":{\"name\":\"y\"}}}}");
	assert_int_equal(ovsdb_cache_update(cache, u), 0);
	json_decref(u);
	/* modify: "new" is the whole row; delete: no "new" */
	u = J("{\"Bridge\":{\"b1\":{\"old\":{\"name\":\"x\"},\"new\":{\"name\":\"z\"}},"
	      "\"b2\":{\"old\":{\"name\":\"y\"}}},\"Port\":{\"p1\":{\"new\":{\"name\":\"p\"}}}}");
	assert_int_equal(ovsdb_cache_update(cache, u), 0);
	json_decref(u);
	assert_json(cache, "{\"Bridge\":{\"b1\":{\"name\":\"z\"}},\"Port\":{\"p1\":{\"name\":\"p\"}}}");
	u = J("{\"Bridge\":[1]}");
	assert_int_equal(ovsdb_cache_update(cache, u), CS_EPROTO);
	json_decref(u);
	u = J("{\"Bridge\":{\"b1\":5}}");
	assert_int_equal(ovsdb_cache_update(cache, u), CS_EPROTO);
	json_decref(u);
	json_decref(cache);
}

/* --- a scripted ovsdb-server --- */

static char sock_path[108];

/* Read one JSON message from @fd (blocking), with the client's framing. */
static json_t *srv_read(int fd, char *buf, size_t *len)
{
	for (;;) {
		long end = ovsdb_frame_end(buf, *len);
		if (end > 0) {
			json_t *m = json_loadb(buf, (size_t)end, 0, NULL);
			memmove(buf, buf + end, *len - (size_t)end);
			*len -= (size_t)end;
			return m;
		}
		ssize_t n = read(fd, buf + *len, 65536 - *len);
		if (n <= 0)
			return NULL;
		*len += (size_t)n;
	}
}

static void srv_send(int fd, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (write(fd, buf, (size_t)n) != n)
		_exit(3);
}

/* what the scripted server stands for */
enum srv_mode {
	SRV_APPLY,	/* ovs-vswitchd there (holds its lock) and applying */
	SRV_STUCK,	/* ovs-vswitchd there but never applying */
	SRV_ABSENT,	/* no ovs-vswitchd: its lock is free */
};

/*
 * Serve one connection: answer the monitor with cur_cfg @cfg; answer each
 * transact with next_cfg cfg+1, then (SRV_APPLY) an echo request and an
 * update that makes cur_cfg catch up; answer lock as @mode says; close
 * after @ntx transacts (at the unlock that follows the last).
 */
static void srv_conn(int c, int cfg, int ntx, enum srv_mode mode)
{
	static char buf[65536];
	size_t len = 0;
	json_t *m;

	while ((m = srv_read(c, buf, &len))) {
		const char *method = json_string_value(json_object_get(m, "method"));
		json_int_t id = json_integer_value(json_object_get(m, "id"));
		if (method && !strcmp(method, "monitor")) {
			srv_send(c, "{\"id\":%lld,\"error\":null,\"result\":{\"Open_vSwitch\":{"
				 "\"o1\":{\"new\":{\"cur_cfg\":%d,\"next_cfg\":%d}}}}}", id, cfg, cfg);
		} else if (method && !strcmp(method, "transact")) {
			/* what the client asked: its own ops, then next_cfg's mutate and select */
			size_t nops = json_array_size(json_object_get(m, "params")) - 1;
			if (nops < 2)
				_exit(4);
			cfg++;
			srv_send(c, "{\"id\":%lld,\"error\":null,\"result\":[", id);
			for (size_t i = 0; i + 1 < nops; i++)
				srv_send(c, "{},");
			srv_send(c, "{\"rows\":[{\"next_cfg\":%d}]}]}", cfg);
			if (mode == SRV_APPLY) {
				srv_send(c, "{\"id\":\"echo\",\"method\":\"echo\",\"params\":[]}");
				srv_send(c, "{\"id\":null,\"method\":\"update\",\"params\":[\"cs\","
					 "{\"Open_vSwitch\":{\"o1\":{\"new\":{\"cur_cfg\":%d,"
					 "\"next_cfg\":%d}}}}]}", cfg, cfg);
			}
			ntx--;
		} else if (method && !strcmp(method, "lock")) {
			srv_send(c, "{\"id\":%lld,\"error\":null,\"result\":{\"locked\":%s}}", id,
				 mode == SRV_ABSENT ? "true" : "false");
		} else if (method && !strcmp(method, "unlock")) {
			srv_send(c, "{\"id\":%lld,\"error\":null,\"result\":{}}", id);
			if (ntx == 0)
				break;
		}
		json_decref(m);
	}
	json_decref(m);
	close(c);
}

static pid_t server(enum srv_mode mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pid_t pid;
	int s;

	snprintf(sock_path, sizeof(sock_path), "/tmp/cs-ovsdb-test.%d.sock", (int)getpid());
	unlink(sock_path);
	strcpy(sa.sun_path, sock_path);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s, 4), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* two lives: the second stands for a restarted ovsdb-server */
		for (int life = 0; life < 2; life++) {
			int c = accept(s, NULL, NULL);
			if (c < 0)
				_exit(2);
			srv_conn(c, life ? 40 : 0, life || mode != SRV_APPLY ? 100 : 1, mode);
		}
		_exit(0);
	}
	close(s);
	return pid;
}

static void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink(sock_path);
}

static int64_t cur_cfg(struct ovsdb *db)
{
	const json_t *row = json_object_get(ovsdb_table(db, "Open_vSwitch"), "o1");

	return row ? json_integer_value(json_object_get(row, "cur_cfg")) : -1;
}

static void test_session(void **state)
{
	char addr[128], err[512] = "";
	struct ovsdb *db;
	pid_t pid = server(SRV_APPLY);
	(void)state;

	snprintf(addr, sizeof(addr), "unix:%s", sock_path);
	assert_int_equal(ovsdb_new(addr, &db, err, sizeof(err)), 0);
	assert_false(ovsdb_connected(db));
	assert_int_equal(ovsdb_sync(db, err, sizeof(err)), 0);
	assert_true(ovsdb_connected(db));
	assert_int_equal(cur_cfg(db), 0);
	/* applied: the update brings cur_cfg to the transaction's next_cfg */
	json_t *res = NULL;
	assert_int_equal(ovsdb_transact(db, J("[{\"op\":\"comment\",\"comment\":\"a\"}]"), 2000,
					&res, err, sizeof(err)), 0);
	assert_int_equal(cur_cfg(db), 1);
	assert_int_equal(json_array_size(res), 3);
	json_decref(res);
	/* the server closed (restarted): the next sync reconnects and the
	 * cache is the new server's */
	usleep(100000);
	if (ovsdb_sync(db, err, sizeof(err)) < 0)
		fail_msg("sync after the restart: %s", err);
	assert_int_equal(cur_cfg(db), 40);
	assert_int_equal(ovsdb_transact(db, J("[]"), 2000, NULL, err, sizeof(err)), 0);
	assert_int_equal(cur_cfg(db), 41);
	ovsdb_free(db);
	stop(pid);
}

static void test_session_errors(void **state)
{
	char addr[128], err[512] = "";
	struct ovsdb *db;
	pid_t pid;
	(void)state;

	assert_int_equal(ovsdb_new("tcp:1.2.3.4:6640", &db, err, sizeof(err)), CS_EINVAL);
	assert_non_null(strstr(err, "expected unix:PATH"));
	assert_int_equal(ovsdb_new("unix:/nonexistent/db.sock", &db, err, sizeof(err)), 0);
	assert_int_equal(ovsdb_sync(db, err, sizeof(err)), CS_ECONN);
	assert_non_null(strstr(err, "is ovsdb-server running?"));
	ovsdb_free(db);
	ovsdb_free(NULL);

	/* ovs-vswitchd there but it does not apply: a reason after the wait */
	pid = server(SRV_STUCK);
	snprintf(addr, sizeof(addr), "unix:%s", sock_path);
	assert_int_equal(ovsdb_new(addr, &db, err, sizeof(err)), 0);
	assert_int_equal(ovsdb_transact(db, J("[]"), 200, NULL, err, sizeof(err)), CS_EIO);
	assert_non_null(strstr(err, "ovs-vswitchd has not applied"));
	ovsdb_free(db);
	stop(pid);

	/* no ovs-vswitchd (its lock is free): said at once, not after the wait */
	pid = server(SRV_ABSENT);
	assert_int_equal(ovsdb_new(addr, &db, err, sizeof(err)), 0);
	assert_int_equal(ovsdb_transact(db, J("[]"), 60000, NULL, err, sizeof(err)), CS_EIO);
	assert_non_null(strstr(err, "ovs-vswitchd is not connected"));
	/* the session is still good */
	assert_int_equal(ovsdb_sync(db, err, sizeof(err)), 0);
	assert_true(ovsdb_connected(db));
	ovsdb_free(db);
	stop(pid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_end),
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_transact_check),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_session),
		cmocka_unit_test(test_session_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
