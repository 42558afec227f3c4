/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cs-ctl without a daemon: word matching, option parsing, usage errors and
 * their messages, exit statuses, and the output helpers.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/proto.h"
#include "tools/cs-ctl/ctl.h"

#define NOSOCK "/nonexistent/cs-test/csd.sock"

static const char *const objects[] = {
	"tenant", "vnet", "endpoint", "reservation", "rule", "node",
	"apply", "export", "status", "exec", "help",
};
#define NOBJ (sizeof(objects) / sizeof(objects[0]))

/* Output of one ctl_main() run. */
struct run {
	int rc;
	char out[8192];
	char err[8192];
};

static void slurp(FILE *f, char *buf, size_t len)
{
	size_t n;

	rewind(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* Run ctl_main on a NULL-terminated list of words, capturing stdout/stderr. */
static void run_ctl(struct run *r, ...)
{
	char *argv[32];
	char *copy[32];
	int argc = 0, saved_out, saved_err;
	FILE *out = tmpfile(), *err = tmpfile();
	va_list ap;

	assert_non_null(out);
	assert_non_null(err);
	argv[argc++] = "cs-ctl";
	va_start(ap, r);
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	memcpy(copy, argv, sizeof(argv));

	fflush(stdout);
	fflush(stderr);
	saved_out = dup(1);
	saved_err = dup(2);
	dup2(fileno(out), 1);
	dup2(fileno(err), 2);
	r->rc = ctl_main(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	slurp(out, r->out, sizeof(r->out));
	slurp(err, r->err, sizeof(r->err));
	/* ctl_main works on a copy: the caller's argv is left alone */
	for (int i = 0; i < argc; i++)
		assert_ptr_equal(argv[i], copy[i]);
}

static void test_match_unique_prefix(void **state)
{
	assert_int_equal(ctl_match("vn", objects, NOBJ), 1);
	assert_int_equal(ctl_match("t", objects, NOBJ), 0);
	assert_int_equal(ctl_match("res", objects, NOBJ), 3);
	assert_int_equal(ctl_match("ru", objects, NOBJ), 4);
	assert_int_equal(ctl_match("expo", objects, NOBJ), 7);
	assert_int_equal(ctl_match("exe", objects, NOBJ), 9);
	assert_int_equal(ctl_match("vnet", objects, NOBJ), 1);
}

static void test_match_exact_wins(void **state)
{
	static const char *const a[] = { "showall", "show", "shower" };
	static const char *const b[] = { "net", "netns" };

	/* "show" is a prefix of all three but is itself a word */
	assert_int_equal(ctl_match("show", a, 3), 1);
	assert_int_equal(ctl_match("net", b, 2), 0);
	assert_int_equal(ctl_match("netn", b, 2), 1);
	assert_int_equal(ctl_match("sho", a, 3), CTL_AMBIGUOUS);
}

static void test_match_ambiguous_unknown(void **state)
{
	assert_int_equal(ctl_match("e", objects, NOBJ), CTL_AMBIGUOUS);
	assert_int_equal(ctl_match("ex", objects, NOBJ), CTL_AMBIGUOUS);
	assert_int_equal(ctl_match("r", objects, NOBJ), CTL_AMBIGUOUS);
	assert_int_equal(ctl_match("foo", objects, NOBJ), CTL_NOMATCH);
	assert_int_equal(ctl_match("tenants", objects, NOBJ), CTL_NOMATCH);
	assert_int_equal(ctl_match("", objects, NOBJ), CTL_NOMATCH);
	assert_int_equal(ctl_match(NULL, objects, NOBJ), CTL_NOMATCH);
	assert_int_equal(ctl_match("Tenant", objects, NOBJ), CTL_NOMATCH);
}

static void test_options_anywhere(void **state)
{
	struct ctl c = { .where = "cs-ctl" };
	char *argv[] = { "tenant", "-j", "list", "-S", "/a", "--json", NULL };
	int argc = 6;

	assert_int_equal(ctl_parse_options(&c, &argc, argv), 0);
	assert_int_equal(argc, 2);
	assert_string_equal(argv[0], "tenant");
	assert_string_equal(argv[1], "list");
	assert_null(argv[2]);
	assert_true(c.json);
	assert_string_equal(c.socket, "/a");
}

static void test_options_forms(void **state)
{
	struct ctl c = { .where = "cs-ctl" };
	char *a1[] = { "-jS/b", "status", NULL };
	char *a2[] = { "status", "--socket=/c", "-hV", NULL };
	char *a3[] = { "status", "--socket", "/d", NULL };
	int n;

	n = 2;
	assert_int_equal(ctl_parse_options(&c, &n, a1), 0);
	assert_int_equal(n, 1);
	assert_true(c.json);
	assert_string_equal(c.socket, "/b");

	n = 3;
	assert_int_equal(ctl_parse_options(&c, &n, a2), 0);
	assert_int_equal(n, 1);
	assert_string_equal(c.socket, "/c");
	assert_true(c.help);
	assert_true(c.version);

	n = 3;
	assert_int_equal(ctl_parse_options(&c, &n, a3), 0);
	assert_int_equal(n, 1);
	assert_string_equal(c.socket, "/d");
}

static void test_options_left_alone(void **state)
{
	struct ctl c = { .where = "cs-ctl" };
	/* subcommand options and negative values are not cs-ctl's */
	char *a1[] = { "apply", "-f", "x.json", "--dry-run", "--prune", NULL };
	/* after "--" everything is the command's, even -j and -S */
	char *a2[] = { "exec", "a/b/c", "--", "ls", "-j", "-S", "x", NULL };
	char *a3[] = { "vnet", "create", "a/b", "mtu", "-1", NULL };
	int n;

	n = 5;
	assert_int_equal(ctl_parse_options(&c, &n, a1), 0);
	assert_int_equal(n, 5);
	assert_string_equal(a1[1], "-f");
	assert_string_equal(a1[4], "--prune");

	n = 7;
	assert_int_equal(ctl_parse_options(&c, &n, a2), 0);
	assert_int_equal(n, 7);
	assert_false(c.json);
	assert_null(c.socket);
	assert_string_equal(a2[2], "--");
	assert_string_equal(a2[4], "-j");

	n = 5;
	assert_int_equal(ctl_parse_options(&c, &n, a3), 0);
	assert_int_equal(n, 5);
	assert_string_equal(a3[4], "-1");
}

static void test_options_missing_value(void **state)
{
	struct run r;

	run_ctl(&r, "tenant", "list", "-S", NULL);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "-S needs a value"));
	run_ctl(&r, "--socket", NULL);
	assert_int_equal(r.rc, 2);
	run_ctl(&r, "--json=yes", "status", NULL);
	assert_int_equal(r.rc, 2);
}

static void test_valid_command_unreachable(void **state)
{
	struct run r;

	run_ctl(&r, "-S", NOSOCK, "tenant", "list", NULL);
	assert_int_equal(r.rc, 1);
	assert_non_null(strstr(r.err, "cs-ctl: cannot reach csd at " NOSOCK));
	assert_non_null(strstr(r.err, "is csd running?"));

	/* prefixes, and options after the words */
	run_ctl(&r, "ten", "l", "-S", NOSOCK, NULL);
	assert_int_equal(r.rc, 1);
	run_ctl(&r, "vn", "cr", "acme/blue", "subnet", "10.1.0.0/24", "--socket", NOSOCK, NULL);
	assert_int_equal(r.rc, 1);
	run_ctl(&r, "-S", NOSOCK, "endpoint", "list", "acme/blue", NULL);
	assert_int_equal(r.rc, 1);
	run_ctl(&r, "-S", NOSOCK, "-j", "status", NULL);
	assert_int_equal(r.rc, 1);
	run_ctl(&r, "-S", NOSOCK, "exec", "a/b/c", "--", "true", NULL);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.out, "");
	run_ctl(&r, "-S", NOSOCK, "-j", "monitor", "acme/blue", "from", "7", NULL);
	assert_int_equal(r.rc, 1);
	assert_non_null(strstr(r.err, "cs-ctl: cannot reach csd at " NOSOCK));
	/* monitor's words: one filter, "from" a revision */
	run_ctl(&r, "-S", NOSOCK, "monitor", "from", "x", NULL);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "from: expected a revision"));
	run_ctl(&r, "-S", NOSOCK, "monitor", "acme", "zeta", NULL);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "unexpected \"zeta\""));
}

static void test_unknown_and_ambiguous_words(void **state)
{
	struct run r;

	run_ctl(&r, "-S", NOSOCK, "foo", NULL);
	assert_int_equal(r.rc, 2);
	assert_string_equal(r.err, "cs-ctl: unknown object \"foo\"; expected one of: tenant vnet "
				   "endpoint reservation rule node apply export status exec top monitor help\n");

	run_ctl(&r, "-S", NOSOCK, "e", NULL);
	assert_int_equal(r.rc, 2);
	assert_string_equal(r.err,
			    "cs-ctl: ambiguous object \"e\"; expected one of: endpoint export exec\n");

	run_ctl(&r, "-S", NOSOCK, "vnet", "frob", NULL);
	assert_int_equal(r.rc, 2);
	assert_string_equal(r.err, "cs-ctl vnet: unknown verb \"frob\"; expected one of: create "
				   "delete list show set\n");

	run_ctl(&r, "-S", NOSOCK, "vnet", NULL);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "create delete list show"));

	run_ctl(&r, NULL);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "tenant vnet endpoint"));

	run_ctl(&r, "-x", "tenant", "list", NULL);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "unknown option \"-x\""));
}

static void test_missing_and_bad_arguments(void **state)
{
	struct run r;

	run_ctl(&r, "-S", NOSOCK, "vnet", "create", NULL);
	assert_int_equal(r.rc, 2);
	assert_string_equal(r.err,
			    "cs-ctl vnet create: expected TENANT/VNET [key value]...\n");

	/* a name of the wrong shape */
	run_ctl(&r, "-S", NOSOCK, "vnet", "create", "acme", NULL);
	assert_int_equal(r.rc, 2);
	run_ctl(&r, "-S", NOSOCK, "endpoint", "show", "acme/Blue/web", NULL);
	assert_int_equal(r.rc, 2);

	/* a bad key: schema's message */
	run_ctl(&r, "-S", NOSOCK, "vnet", "create", "acme/blue", "subnett", "10.0.0.0/24", NULL);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "cs-ctl vnet create: unknown key \"subnett\""));

	/* a key without its value */
	run_ctl(&r, "-S", NOSOCK, "vnet", "create", "acme/blue", "subnet", NULL);
	assert_int_equal(r.rc, 2);

	run_ctl(&r, "-S", NOSOCK, "tenant", "delete", "a", "b", NULL);
	assert_int_equal(r.rc, 2);
	run_ctl(&r, "-S", NOSOCK, "tenant", "list", "a", NULL);
	assert_int_equal(r.rc, 2);
	run_ctl(&r, "-S", NOSOCK, "vnet", "list", "a/b", NULL);
	assert_int_equal(r.rc, 2);

	run_ctl(&r, "-S", NOSOCK, "exec", "a/b/c", "ls", NULL);
	assert_int_equal(r.rc, 2);
	run_ctl(&r, "-S", NOSOCK, "exec", "a/b/c", "--", NULL);
	assert_int_equal(r.rc, 2);
	run_ctl(&r, "-S", NOSOCK, "exec", NULL);
	assert_int_equal(r.rc, 2);

	run_ctl(&r, "-S", NOSOCK, "apply", NULL);
	assert_int_equal(r.rc, 2);
	assert_string_equal(r.err, "cs-ctl apply: expected -f FILE [--dry-run] [--prune]\n");
	run_ctl(&r, "-S", NOSOCK, "apply", "-f", "x", "--frob", NULL);
	assert_int_equal(r.rc, 2);
	run_ctl(&r, "-S", NOSOCK, "export", "x", NULL);
	assert_int_equal(r.rc, 2);
	run_ctl(&r, "-S", NOSOCK, "status", "x", NULL);
	assert_int_equal(r.rc, 2);
}

static void test_apply_file_errors(void **state)
{
	char path[] = "/tmp/test_ctl_parse.XXXXXX";
	char want[256];
	struct run r;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_true(write(fd, "{\n  \"tenants\": {,\n}\n", 20) == 20);
	close(fd);
	/* read and parsed before csd is asked: exit 1 with file:line:col */
	run_ctl(&r, "-S", NOSOCK, "apply", "-f", path, NULL);
	assert_int_equal(r.rc, 1);
	snprintf(want, sizeof(want), "cs-ctl: %s:2:", path);
	assert_ptr_equal(strstr(r.err, want), r.err);
	unlink(path);

	run_ctl(&r, "-S", NOSOCK, "apply", "-f", "/nonexistent/x.json", NULL);
	assert_int_equal(r.rc, 1);
	assert_non_null(strstr(r.err, "cannot read /nonexistent/x.json"));
}

static void test_help_and_version(void **state)
{
	struct run r;

	run_ctl(&r, "-V", NULL);
	assert_int_equal(r.rc, 0);
	assert_ptr_equal(strstr(r.out, "cs-ctl "), r.out);

	run_ctl(&r, "--help", NULL);
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "cs-ctl vnet create TENANT/VNET [key value]..."));
	assert_non_null(strstr(r.out, "cs-ctl apply -f FILE [--dry-run] [--prune]"));
	assert_non_null(strstr(r.out, "cs-ctl exec TENANT/VNET/ENDPOINT -- CMD [ARG]..."));

	run_ctl(&r, "help", NULL);
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "cs-ctl node list"));

	/* help for the words given, with the keys create takes */
	run_ctl(&r, "vn", "cr", "-h", NULL);
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "cs-ctl vnet create TENANT/VNET"));
	assert_non_null(strstr(r.out, "subnet"));
	assert_null(strstr(r.out, "cs-ctl tenant"));

	run_ctl(&r, "help", "endpoint", NULL);
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "cs-ctl endpoint list [--stats] [TENANT[/VNET]]"));
	assert_null(strstr(r.out, "cs-ctl vnet"));
	/* --stats is endpoint list's, and takes the same filter */
	run_ctl(&r, "endpoint", "list", "--stats", "a/b/c", NULL);
	assert_int_equal(r.rc, 2);
	run_ctl(&r, "vnet", "list", "--stats", NULL);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "unknown option \"--stats\""));
	/* top: the same filter; "t" now names two commands */
	run_ctl(&r, "top", "a/b/c", NULL);
	assert_int_equal(r.rc, 2);
	run_ctl(&r, "-j", "top", NULL);
	assert_int_equal(r.rc, 2);
	run_ctl(&r, "t", NULL);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "ambiguous object \"t\""));

	run_ctl(&r, "help", "bogus", NULL);
	assert_int_equal(r.rc, 2);
}

static char *capture(void (*fn)(FILE *, const json_t *, const void *), const json_t *v,
		     const void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fn(f, v, arg);
	fclose(f);
	return buf;
}

static void do_table(FILE *f, const json_t *v, const void *arg)
{
	ctl_print_table(f, v, arg);
}

static void do_flat(FILE *f, const json_t *v, const void *arg)
{
	ctl_print_flat(f, v);
}

static void test_output(void **state)
{
	static const struct ctl_column cols[] = {
		{ "NAME", "name", NULL },
		{ "SUBNET", "subnet", NULL },
		{ "STATE", "state", NULL },
		{ NULL, NULL, NULL },
	};
	json_t *rows = json_loads("[{\"name\":\"acme/blue\",\"subnet\":\"10.0.0.0/24\",\"state\":\"up\"},"
				  "{\"name\":\"a/b\",\"subnet\":[\"10.1.0.0/24\",\"fd00::/64\"]}]",
				  0, NULL);
	json_t *obj = json_loads("{\"name\":\"acme/blue/web\",\"groups\":[\"web\",\"api\"],"
				 "\"ephemeral\":false,\"counters\":{\"rx_bytes\":0,\"tx_bytes\":7},"
				 "\"none\":[]}",
				 0, NULL);
	char *s;

	assert_non_null(rows);
	assert_non_null(obj);
	s = capture(do_table, rows, cols);
	assert_string_equal(s, "NAME       SUBNET                 STATE\n"
			       "acme/blue  10.0.0.0/24            up\n"
			       "a/b        10.1.0.0/24,fd00::/64  -\n");
	free(s);
	s = capture(do_flat, obj, NULL);
	assert_string_equal(s, "name: acme/blue/web\n"
			       "groups: web,api\n"
			       "ephemeral: false\n"
			       "counters.rx_bytes: 0\n"
			       "counters.tx_bytes: 7\n"
			       "none: -\n");
	free(s);
	s = ctl_value_text(NULL);
	assert_string_equal(s, "-");
	free(s);
	json_decref(rows);
	json_decref(obj);
}

/*
 * A stand-in for csd: it answers hello, and every other request with
 * {"op": OP, "args": ARGS}, so `cs-ctl -j` prints what it sent.
 */
static char fake_sock[108];
static pid_t fake_pid;

static void fake_serve(int fd)
{
	for (;;) {
		char *text = NULL, *out;
		size_t len;
		int fds[CS_WIRE_MAX_FDS], nfds = 0;

		if (cs_wire_recv(fd, 1 << 20, &text, &len, fds, &nfds) < 0)
			return;
		json_t *in = json_loads(text, 0, NULL);
		const char *op = json_string_value(json_object_get(in, "op"));
		json_int_t id = json_integer_value(json_object_get(in, "id"));
		json_t *res = op && !strcmp(op, "hello")
				      ? json_pack("{s:i}", "version", CS_PROTOCOL_VERSION)
				      : json_pack("{s:s?, s:O?}", "op", op, "args",
						  json_object_get(in, "args"));
		/* rule.list: one rule in each of two vnets, both at position 1 */
		if (op && !strcmp(op, "rule.list")) {
			json_decref(res);
			res = json_loads("[{\"vnet\":\"acme/blue\",\"position\":1,\"from\":\"any\","
					 "\"to\":\"any\",\"action\":\"allow\"},{\"vnet\":\"acme/red\","
					 "\"position\":1,\"name\":\"web\",\"from\":\"group:web\","
					 "\"to\":\"any\",\"proto\":\"tcp\",\"ports\":[80],"
					 "\"action\":\"deny\"}]",
					 0, NULL);
		}
		json_t *reply = cs_msg_ok(id, res);
		if ((out = cs_msg_dump(reply, &len)))
			cs_wire_send(fd, out, len, NULL, 0);
		free(out);
		free(text);
		json_decref(reply);
		json_decref(in);
	}
}

static int fake_start(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	snprintf(fake_sock, sizeof(fake_sock), "/tmp/test_ctl_parse.%d.sock", (int)getpid());
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fake_sock);
	unlink(fake_sock);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0)
		return -1;
	fflush(stdout);
	fflush(stderr);
	if ((fake_pid = fork()) == 0) {
		for (;;) {
			int fd = accept(lfd, NULL, NULL);
			if (fd < 0)
				_exit(0);
			fake_serve(fd);
			close(fd);
		}
	}
	close(lfd);
	return fake_pid > 0 ? 0 : -1;
}

static int fake_stop(void **state)
{
	if (fake_pid > 0) {
		kill(fake_pid, SIGKILL);
		waitpid(fake_pid, NULL, 0);
	}
	unlink(fake_sock);
	return 0;
}

/* What csd was sent, as the fake prints it back, equals @want (JSON). */
static void assert_sent(const struct run *r, const char *want)
{
	json_t *got = json_loads(r->out, 0, NULL), *w = json_loads(want, 0, NULL);

	assert_int_equal(r->rc, 0);
	assert_non_null(w);
	if (!got || !json_equal(got, w))
		fail_msg("sent %s, expected %s (stderr: %s)", r->out, want, r->err);
	json_decref(got);
	json_decref(w);
}

static void test_rule_create_args(void **state)
{
	struct run r;

	/* every key, abbreviated, in any order; ports as numbers and ranges */
	run_ctl(&r, "-S", fake_sock, "-j", "rule", "cr", "acme/blue", "na", "web-in", "pos", "2",
		"fr", "group:web", "t", "group:db", "pr", "tcp", "port", "80,443,8000-8080",
		"ac", "deny", NULL);
	assert_sent(&r, "{\"op\": \"rule.create\", \"args\": {\"name\": \"acme/blue\", "
			"\"position\": 2, \"spec\": {\"name\": \"web-in\", \"from\": \"group:web\", "
			"\"to\": \"group:db\", \"proto\": \"tcp\", \"ports\": [80, 443, "
			"\"8000-8080\"], \"action\": \"deny\"}}}");

	/* action defaults to allow; no position: csd appends */
	run_ctl(&r, "-S", fake_sock, "-j", "rule", "create", "acme/blue", "from", "any", "to",
		"endpoint:db", NULL);
	assert_sent(&r, "{\"op\": \"rule.create\", \"args\": {\"name\": \"acme/blue\", "
			"\"spec\": {\"from\": \"any\", \"to\": \"endpoint:db\", "
			"\"action\": \"allow\"}}}");

	/* values are csd's to judge: sent as written, refused there (exit 1) */
	run_ctl(&r, "-S", fake_sock, "-j", "rule", "create", "acme/blue", "to", "foo:bar",
		"ports", "70000,x", "proto", "foo", "from", "any", NULL);
	assert_sent(&r, "{\"op\": \"rule.create\", \"args\": {\"name\": \"acme/blue\", "
			"\"spec\": {\"to\": \"foo:bar\", \"ports\": [70000, \"x\"], "
			"\"proto\": \"foo\", \"from\": \"any\", \"action\": \"allow\"}}}");

	/* without -j, create prints nothing */
	run_ctl(&r, "-S", fake_sock, "rule", "create", "acme/blue", "from", "a", "to", "b", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "");
}

static void test_rule_delete_show_names(void **state)
{
	struct run r;

	run_ctl(&r, "-S", fake_sock, "-j", "rule", "del", "acme/blue", "web-in", NULL);
	assert_sent(&r, "{\"op\": \"rule.delete\", \"args\": {\"name\": \"acme/blue/web-in\"}}");
	run_ctl(&r, "-S", fake_sock, "-j", "rule", "delete", "acme/blue/3", NULL);
	assert_sent(&r, "{\"op\": \"rule.delete\", \"args\": {\"name\": \"acme/blue/3\"}}");
	run_ctl(&r, "-S", fake_sock, "-j", "rule", "delete", "--", "acme/blue", "2", NULL);
	assert_sent(&r, "{\"op\": \"rule.delete\", \"args\": {\"name\": \"acme/blue/2\"}}");
	run_ctl(&r, "-S", fake_sock, "-j", "rule", "show", "acme/blue", "#1", NULL);
	assert_sent(&r, "{\"op\": \"rule.show\", \"args\": {\"name\": \"acme/blue/#1\"}}");
	/* delete prints nothing without -j */
	run_ctl(&r, "-S", fake_sock, "rule", "delete", "acme/blue", "1", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "");
}

/* A key given twice on a create line is a usage error, not "the last wins". */
/* set: keys and values in pairs, "" removes a key, only tenants, vnets and
 * endpoints have it; wrong words are usage errors before csd is asked */
static void test_set_usage(void **state)
{
	struct run r;

	run_ctl(&r, "-S", NOSOCK, "vnet", "set", "acme/q", NULL);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "expected TENANT/VNET key value..."));
	run_ctl(&r, "-S", NOSOCK, "vnet", "set", "acme/q", "mtu", NULL);
	assert_int_equal(r.rc, 2);
	run_ctl(&r, "-S", NOSOCK, "vnet", "set", "acme", "mtu", "1400", NULL);
	assert_int_equal(r.rc, 2);
	run_ctl(&r, "-S", NOSOCK, "vnet", "set", "acme/q", "mtux", "", NULL);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "unknown key \"mtux\" for vnet"));
	run_ctl(&r, "-S", NOSOCK, "vnet", "set", "acme/q", "mtu", "1400", "mtu", "", NULL);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "key \"mtu\" is given twice"));
	run_ctl(&r, "-S", NOSOCK, "node", "set", "n1", "underlay", "192.0.2.9", NULL);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "unknown verb \"set\""));
	/* well formed: it gets as far as csd (absent here: exit 1) */
	run_ctl(&r, "-S", NOSOCK, "vnet", "set", "acme/q", "mtu", "1400", "capacity", "", NULL);
	assert_int_equal(r.rc, 1);
	run_ctl(&r, "-S", NOSOCK, "endpoint", "set", "acme/q/w", "groups", "a,b", NULL);
	assert_int_equal(r.rc, 1);
}

static void test_create_key_twice(void **state)
{
	struct run r;

	run_ctl(&r, "-S", NOSOCK, "vnet", "create", "acme/q", "subnet", "10.30.0.0/24", "subnet",
		"10.31.0.0/24", NULL);
	assert_int_equal(r.rc, 2);
	assert_string_equal(r.err, "cs-ctl vnet create: key \"subnet\" is given twice; give it "
				   "once (several values: one word with commas, a,b)\n");
	run_ctl(&r, "-S", NOSOCK, "endpoint", "create", "acme/q/w", "groups", "web", "groups", "db",
		NULL);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "key \"groups\" is given twice"));
	run_ctl(&r, "-S", NOSOCK, "vnet", "create", "acme/q", "mtu", "1400", "subnet",
		"10.30.0.0/24", "mtu", "1400", NULL);
	assert_int_equal(r.rc, 2);
	assert_string_equal(r.err, "cs-ctl vnet create: key \"mtu\" is given twice; give it "
				   "once\n");
	run_ctl(&r, "-S", NOSOCK, "node", "create", "n1", "underlay", "192.0.2.1", "uplink",
		"1gbit", "uplink", "2gbit", NULL);
	assert_int_equal(r.rc, 2);
	/* reaching csd (exit 1 with NOSOCK) shows the line was taken */
	run_ctl(&r, "-S", NOSOCK, "vnet", "create", "acme/q", "subnet", "10.30.0.0/24,fd00::/64",
		NULL);
	assert_int_equal(r.rc, 1);
}

/* uplink_shape is exactly true or false: "yes" goes to csd as written,
 * to be refused there. */
static void test_bool_exact(void **state)
{
	struct run r;

	run_ctl(&r, "-S", fake_sock, "-j", "node", "create", "n1", "underlay", "192.0.2.1",
		"uplink_shape", "yes", NULL);
	assert_sent(&r, "{\"op\": \"node.create\", \"args\": {\"name\": \"n1\", \"spec\": "
			"{\"underlay\": \"192.0.2.1\", \"uplink_shape\": \"yes\"}}}");
	run_ctl(&r, "-S", fake_sock, "-j", "node", "create", "n1", "underlay", "192.0.2.1",
		"uplink", "1gbit", "uplink_shape", "true", NULL);
	assert_sent(&r, "{\"op\": \"node.create\", \"args\": {\"name\": \"n1\", \"spec\": "
			"{\"underlay\": \"192.0.2.1\", \"uplink\": \"1gbit\", "
			"\"uplink_shape\": true}}}");
}

/* rule list across vnets: a VNET column tells the two "1"s apart; -j unchanged */
static void test_rule_list_vnet_column(void **state)
{
	struct run r;

	run_ctl(&r, "-S", fake_sock, "rule", "list", "acme", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out,
			    "VNET       #  NAME  FROM       TO   PROTO  PORTS  ACTION\n"
			    "acme/blue  1  -     any        any  -      -      allow\n"
			    "acme/red   1  web   group:web  any  tcp    80     deny\n");
	run_ctl(&r, "-S", fake_sock, "-j", "rule", "list", NULL);
	assert_int_equal(r.rc, 0);
	json_t *got = json_loads(r.out, 0, NULL);
	assert_true(json_is_array(got));
	assert_int_equal(json_array_size(got), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(got, 1), "vnet")),
			    "acme/red");
	json_decref(got);
}

/* rule check: only tcp/udp PORT or icmp; --timeout in whole seconds */
static void test_check_and_timeout_words(void **state)
{
	struct run r;

	run_ctl(&r, "-S", NOSOCK, "rule", "check", "acme/blue", "db", "db", "sctp", "5", NULL);
	assert_int_equal(r.rc, 2);
	assert_string_equal(r.err, "cs-ctl rule check: sctp: unknown protocol; expected "
				   "TENANT/VNET FROM TO tcp|udp PORT, or TENANT/VNET FROM TO icmp\n");
	run_ctl(&r, "-S", NOSOCK, "rule", "check", "acme/blue", "web", "db", "icmp", "5", NULL);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "cs-ctl rule check: icmp takes no port: drop \"5\""));
	/* the right words reach csd (exit 1 here: there is none) */
	run_ctl(&r, "-S", NOSOCK, "rule", "check", "acme/blue", "web", "db", "icmp", NULL);
	assert_int_equal(r.rc, 1);
	run_ctl(&r, "-S", NOSOCK, "rule", "check", "acme/blue", "web", "db", "udp", "53", NULL);
	assert_int_equal(r.rc, 1);

	run_ctl(&r, "-S", NOSOCK, "--timeout", "1.5", "tenant", "list", NULL);
	assert_int_equal(r.rc, 2);
	assert_string_equal(r.err, "cs-ctl: --timeout \"1.5\" is not a whole number of seconds "
				   "(1.5: give 2; 0: no limit)\n");
}

/* Wrong words: exit 2 before csd is asked (NOSOCK would make it exit 1). */
static void test_rule_usage_errors(void **state)
{
	static const char *const bad[][12] = {
		{ "rule", "create", NULL },
		{ "rule", "create", "acme", "from", "a", "to", "b", NULL },
		{ "rule", "create", "acme/blue/x", "from", "a", "to", "b", NULL },
		{ "rule", "create", "acme/blue", "from", NULL },
		{ "rule", "create", "acme/blue", "from", "a", "from", "b", NULL },
		{ "rule", "create", "acme/blue", "p", "tcp", NULL },
		{ "rule", "create", "acme/blue", "frm", "a", NULL },
		{ "rule", "create", "acme/blue", "position", "0", NULL },
		{ "rule", "create", "acme/blue", "position", "2x", NULL },
		{ "rule", "create", "acme/blue", "-x", "a", NULL },
		{ "rule", "create", "acme/blue", "from", "web", NULL },
		{ "rule", "create", "acme/blue", "to", "web", "proto", "tcp", NULL },
		{ "rule", "check", "acme/blue", "web", "db", "tcp", NULL },
		{ "rule", "check", "acme/blue", "web", "db", "udp", NULL },
		{ "rule", "delete", NULL },
		{ "rule", "delete", "acme/blue", NULL },
	};
	static const char *const bad2[][6] = {
		{ "rule", "delete", "acme", "web", NULL },
		{ "rule", "delete", "acme/blue", "web", "x", NULL },
		{ "rule", "delete", "acme/blue", "a/b", NULL },
		{ "rule", "delete", "acme/blue", "", NULL },
		{ "rule", "show", "acme/blue", NULL },
	};
	struct run r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *const *w = bad[i];
		run_ctl(&r, "-S", NOSOCK, w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8],
			NULL);
		if (r.rc != 2)
			fail_msg("case %zu: exit %d, expected 2 (%s)", i, r.rc, r.err);
		assert_non_null(strstr(r.err, "cs-ctl rule "));
	}
	for (size_t i = 0; i < sizeof(bad2) / sizeof(bad2[0]); i++) {
		const char *const *w = bad2[i];
		run_ctl(&r, "-S", NOSOCK, w[0], w[1], w[2], w[3], w[4], NULL);
		if (r.rc != 2)
			fail_msg("case %zu: exit %d, expected 2 (%s)", i, r.rc, r.err);
	}

	/* what could come next */
	run_ctl(&r, "-S", NOSOCK, "rule", "create", "acme/blue", "po", "1", NULL);
	assert_string_equal(r.err, "cs-ctl rule create: ambiguous key \"po\"; expected one of: "
				   "ports position\n");
	run_ctl(&r, "-S", NOSOCK, "rule", "create", "acme/blue", "port", "80", "frm", "a", NULL);
	assert_string_equal(r.err, "cs-ctl rule create: unknown key \"frm\"; expected one of: "
				   "from to proto ports action name position\n");
	run_ctl(&r, "-S", NOSOCK, "rule", "create", "acme/blue", "from", NULL);
	assert_string_equal(r.err, "cs-ctl rule create: from needs a value\n");
	run_ctl(&r, "-S", NOSOCK, "rule", "create", "acme/blue", "from", "web", NULL);
	assert_string_equal(r.err, "cs-ctl rule create: to is missing; expected TENANT/VNET from "
				   "SEL to SEL [proto P] [ports LIST] [action allow|deny] [name NAME] "
				   "[position N]\n");
	run_ctl(&r, "-S", NOSOCK, "rule", "check", "acme/blue", "web", "db", "tcp", NULL);
	assert_string_equal(r.err, "cs-ctl rule check: tcp needs a PORT; expected TENANT/VNET FROM "
				   "TO tcp|udp PORT, or TENANT/VNET FROM TO icmp\n");

	/* help: the keys create takes */
	run_ctl(&r, "rule", "create", "-h", NULL);
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "cs-ctl rule create TENANT/VNET from SEL to SEL"));
	assert_non_null(strstr(r.out, "position"));
	assert_non_null(strstr(r.out, "cidr:PREFIX"));
	run_ctl(&r, "help", "rule", NULL);
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "cs-ctl rule delete TENANT/VNET RULE"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_unique_prefix),
		cmocka_unit_test(test_match_exact_wins),
		cmocka_unit_test(test_match_ambiguous_unknown),
		cmocka_unit_test(test_options_anywhere),
		cmocka_unit_test(test_options_forms),
		cmocka_unit_test(test_options_left_alone),
		cmocka_unit_test(test_options_missing_value),
		cmocka_unit_test(test_valid_command_unreachable),
		cmocka_unit_test(test_unknown_and_ambiguous_words),
		cmocka_unit_test(test_missing_and_bad_arguments),
		cmocka_unit_test(test_apply_file_errors),
		cmocka_unit_test(test_help_and_version),
		cmocka_unit_test(test_output),
		cmocka_unit_test(test_rule_usage_errors),
		cmocka_unit_test(test_create_key_twice),
		cmocka_unit_test(test_set_usage),
		cmocka_unit_test(test_check_and_timeout_words),
		cmocka_unit_test_setup_teardown(test_bool_exact, fake_start, fake_stop),
		cmocka_unit_test_setup_teardown(test_rule_list_vnet_column, fake_start, fake_stop),
		cmocka_unit_test_setup_teardown(test_rule_create_args, fake_start, fake_stop),
		cmocka_unit_test_setup_teardown(test_rule_delete_show_names, fake_start,
						fake_stop),
	};

	/* the daemon is never reached: make sure the environment cannot point at one */
	unsetenv("CS_SOCKET");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
