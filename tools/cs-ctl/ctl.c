/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cs-ctl: options, word matching, dispatch, talking to csd, output. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef CS_VERSION
#include "config.h"
#endif

#include "proto.h"
#include "ctl.h"

/* Longest word table; a table is walked into a stack array of this size. */
#define CTL_MAX_WORDS 32

static int ctl_help(struct ctl *c, int argc, char **argv);

const struct ctl_cmd ctl_commands[] = {
	{ "tenant", ctl_tenant, NULL },
	{ "vnet", ctl_vnet, NULL },
	{ "endpoint", ctl_endpoint, NULL },
	{ "reservation", ctl_reservation, NULL },
	{ "rule", ctl_rule, NULL },
	{ "node", ctl_node, NULL },
	{ "apply", ctl_apply, CTL_APPLY_USAGE },
	{ "export", ctl_export, "" },
	{ "status", ctl_status, "" },
	{ "exec", ctl_exec, CTL_EXEC_USAGE },
	{ "top", ctl_top, CTL_TOP_USAGE },
	{ "monitor", ctl_monitor, CTL_MONITOR_USAGE },
	{ "help", ctl_help, "[OBJECT [VERB]]" },
};
const size_t ctl_ncommands = sizeof(ctl_commands) / sizeof(ctl_commands[0]);

int ctl_match(const char *word, const char *const *choices, size_t n)
{
	size_t len;
	int found = CTL_NOMATCH;

	/* "" would be a prefix of everything: call it unknown, not ambiguous */
	if (!word || !*word)
		return CTL_NOMATCH;
	len = strlen(word);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(word, choices[i]))
			return (int)i;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(word, choices[i], len))
			continue;
		if (found != CTL_NOMATCH)
			return CTL_AMBIGUOUS;
		found = (int)i;
	}
	return found;
}

int ctl_usage_error(struct ctl *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", c->where);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CTL_USAGE;
}

int ctl_fail(struct ctl *c, const char *fmt, ...)
{
	va_list ap;

	fputs("cs-ctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CTL_FAIL;
}

int ctl_no_option(struct ctl *c, const char *word)
{
	if (word[0] == '-' && word[1])
		return ctl_usage_error(c, "unknown option \"%s\" (see cs-ctl help)", word);
	return 0;
}

void ctl_drop_dashdash(int *argc, char **argv)
{
	for (int i = 1; i < *argc; i++) {
		if (strcmp(argv[i], "--"))
			continue;
		memmove(&argv[i], &argv[i + 1], (size_t)(*argc - i) * sizeof(*argv));
		(*argc)--;
		return;
	}
}

int ctl_no_args(struct ctl *c, int argc, char **argv, const char *what)
{
	if (c->help) {
		ctl_usage_line(c, stdout, "");
		return CTL_OK;
	}
	ctl_drop_dashdash(&argc, argv);
	if (argc > 1)
		return ctl_usage_error(c, "unexpected \"%s\"; %s takes no arguments", argv[1],
				       what);
	return -1;
}

/* Long options of cs-ctl itself; anything else is left to the subcommand. */
static int long_option(struct ctl *c, int *in, int n, char **argv, bool *taken)
{
	const char *name = argv[*in] + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);

	*taken = true;
	const char **slot = len == 6 && !strncmp(name, "socket", len) ? &c->socket :
			    len == 7 && !strncmp(name, "timeout", len) ? &c->timeout : NULL;
	if (slot) {
		if (eq)
			*slot = eq + 1;
		else if (*in + 1 < n)
			*slot = argv[++*in];
		else
			return ctl_usage_error(c, "option --%.*s needs a value: --%.*s %s", (int)len,
					       name, (int)len, name,
					       slot == &c->socket ? "SOCKET" : "SECONDS");
		return 0;
	}
	bool *flag = len == 4 && !strncmp(name, "json", len) ? &c->json :
		     len == 4 && !strncmp(name, "help", len) ? &c->help :
		     len == 7 && !strncmp(name, "version", len) ? &c->version : NULL;
	if (!flag) {
		*taken = false;
		return 0;
	}
	if (eq)
		return ctl_usage_error(c, "option --%.*s takes no value", (int)len, name);
	*flag = true;
	return 0;
}

/*
 * A cluster of short options ("-jS PATH", "-SPATH"), taken only if every
 * letter is ours, so that "-f" for apply or a value like "-1" passes through.
 */
static int short_options(struct ctl *c, int *in, int n, char **argv, bool *taken)
{
	const char *a = argv[*in];

	*taken = false;
	for (const char *p = a + 1; *p && *p != 'S'; p++)
		if (!strchr("jhV", *p))
			return 0;
	*taken = true;
	for (const char *p = a + 1; *p; p++) {
		switch (*p) {
		case 'j':
			c->json = true;
			break;
		case 'h':
			c->help = true;
			break;
		case 'V':
			c->version = true;
			break;
		case 'S':
			if (p[1]) {
				c->socket = p + 1;
			} else if (*in + 1 < n) {
				c->socket = argv[++*in];
			} else {
				return ctl_usage_error(c, "option -S needs a value: -S SOCKET");
			}
			return 0;
		}
	}
	return 0;
}

int ctl_parse_options(struct ctl *c, int *argc, char **argv)
{
	int n = *argc, out = 0, in, r;

	for (in = 0; in < n; in++) {
		char *a = argv[in];
		bool taken;

		if (!strcmp(a, "--")) {
			/* everything from here belongs to the subcommand (exec's CMD) */
			while (in < n)
				argv[out++] = argv[in++];
			break;
		}
		if (a[0] != '-' || !a[1]) {
			argv[out++] = a;
			continue;
		}
		r = a[1] == '-' ? long_option(c, &in, n, argv, &taken)
				: short_options(c, &in, n, argv, &taken);
		if (r)
			return r;
		if (!taken)
			argv[out++] = a;
	}
	argv[out] = NULL;
	*argc = out;
	return 0;
}

static void print_words(FILE *f, const char *const *words, size_t n, const char *only)
{
	for (size_t i = 0; i < n; i++)
		if (!only || !strncmp(words[i], only, strlen(only)))
			fprintf(f, " %s", words[i]);
	fputc('\n', f);
}

int ctl_dispatch(struct ctl *c, const struct ctl_cmd *tab, size_t n, const char *what,
		 int argc, char **argv)
{
	const char *words[CTL_MAX_WORDS] = { NULL };
	size_t len = strlen(c->where);
	int i, r;

	if (n > CTL_MAX_WORDS)
		n = CTL_MAX_WORDS;
	for (size_t k = 0; k < n; k++)
		words[k] = tab[k].word;
	if (argc < 1 && c->help) {
		bool listing = c->listing;

		/* every entry prints its own line(s): usage lives next to the code */
		c->listing = true;
		for (size_t k = 0; k < n; k++) {
			char *av[2] = { (char *)tab[k].word, NULL };

			snprintf(c->where + len, sizeof(c->where) - len, " %s", tab[k].word);
			tab[k].run(c, 1, av);
			c->where[len] = '\0';
		}
		c->listing = listing;
		return CTL_OK;
	}
	if (argc < 1) {
		fprintf(stderr, "%s: missing %s; expected one of:", c->where, what);
		print_words(stderr, words, n, NULL);
		return CTL_USAGE;
	}
	if (argv[0][0] == '-' && argv[0][1])
		return ctl_no_option(c, argv[0]);
	i = ctl_match(argv[0], words, n);
	if (i == CTL_AMBIGUOUS) {
		fprintf(stderr, "%s: ambiguous %s \"%s\"; expected one of:", c->where, what, argv[0]);
		print_words(stderr, words, n, argv[0]);
		return CTL_USAGE;
	}
	if (i < 0) {
		fprintf(stderr, "%s: unknown %s \"%s\"; expected one of:", c->where, what, argv[0]);
		print_words(stderr, words, n, NULL);
		return CTL_USAGE;
	}
	argv[0] = (char *)tab[i].word;
	snprintf(c->where + len, sizeof(c->where) - len, " %s", tab[i].word);
	r = tab[i].run(c, argc, argv);
	c->where[len] = '\0';
	return r;
}

void ctl_usage_line(struct ctl *c, FILE *f, const char *args)
{
	fprintf(f, "  %s%s%s\n", c->where, args && *args ? " " : "", args ? args : "");
}

void ctl_usage(struct ctl *c, FILE *f)
{
	fputs("usage: cs-ctl [-S SOCKET] [-j] OBJECT VERB [ARG]...\n"
	      "       cs-ctl [-S SOCKET] [-j] COMMAND [ARG]...\n"
	      "\n"
	      "commands:\n", f);
	c->help = true;
	ctl_dispatch(c, ctl_commands, ctl_ncommands, "object", 0, NULL);
	fputs("\n"
	      "options (anywhere before --):\n"
	      "  -S, --socket SOCKET  csd's control socket (default: $CS_SOCKET, then "
	      CS_DEFAULT_SOCKET ")\n"
	      "  -j, --json           print results as JSON\n"
	      "  --timeout SECONDS    give up when csd does not answer in time (default:\n"
	      "                       $CS_TIMEOUT, then 30; apply gets 10 times more;\n"
	      "                       0: no limit; exec's program is never limited)\n"
	      "  -h, --help           print usage (of the command given, if any)\n"
	      "  -V, --version        print the version\n"
	      "\n"
	      "Words may be abbreviated to any unambiguous prefix (cs-ctl vn l).\n"
	      "`cs-ctl help OBJECT VERB` lists the keys create takes.\n"
	      "Exit status: 0 success, 1 request refused or failed, 2 usage error.\n", f);
}

/* cs-ctl help [WORDS]: the usage of whatever the words reach. */
static int ctl_help(struct ctl *c, int argc, char **argv)
{
	char *sp;

	if (c->listing) {
		ctl_usage_line(c, stdout, ctl_commands[ctl_ncommands - 1].usage);
		return CTL_OK;
	}
	/* the words after "help" are matched as if it were not there */
	if ((sp = strrchr(c->where, ' ')))
		*sp = '\0';
	if (argc < 2) {
		ctl_usage(c, stdout);
		return CTL_OK;
	}
	c->help = true;
	return ctl_dispatch(c, ctl_commands, ctl_ncommands, "object", argc - 1, argv + 1);
}

/* What the SIGALRM handler prints; formatted when armed (printf is not
 * async-signal-safe). */
static char deadline_msg[PATH_MAX + 256];
static size_t deadline_len;
static struct sockaddr_un deadline_sa = { .sun_family = AF_UNIX };

static void put(const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void put_str(const char *s)
{
	put(s, strlen(s));
}

/* @v in decimal at @out (24 bytes); returns the length. */
static size_t fmt_num(char *out, long v)
{
	char b[24], *p = b + sizeof(b);

	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	memcpy(out, p, (size_t)(b + sizeof(b) - p));
	return (size_t)(b + sizeof(b) - p);
}

static void put_num(long v)
{
	char b[24];

	put(b, fmt_num(b, v));
}

/*
 * The kernel accepts a connection for a stopped or busy csd, so cs-ctl would
 * wait forever. Name the process behind the socket (SO_PEERCRED of a fresh
 * connection) and whether it is stopped, using only async-signal-safe calls.
 */
static void deadline_hit(int sig)
{
	struct ucred cred = { 0 };
	socklen_t clen = sizeof(cred);
	char path[64], stat[512];
	int fd;

	(void)sig;
	put(deadline_msg, deadline_len);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&deadline_sa, sizeof(deadline_sa)) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 && cred.pid > 0) {
		char state = '?';
		ssize_t n;
		int sf;

		memcpy(path, "/proc/", 6);
		memcpy(path + 6 + fmt_num(path + 6, cred.pid), "/stat", 6);
		if ((sf = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
			n = read(sf, stat, sizeof(stat) - 1);
			close(sf);
			stat[n > 0 ? n : 0] = '\0';
			char *rp = strrchr(stat, ')');
			if (rp && rp[1] == ' ')
				state = rp[2];
		}
		put_str(" (csd is pid ");
		put_num(cred.pid);
		if (state == 'T' || state == 't') {
			put_str(", stopped: kill -CONT ");
			put_num(cred.pid);
		}
		put_str(")");
	}
	put_str("; --timeout SECONDS or $CS_TIMEOUT waits longer (0: no limit)\n");
	_exit(CTL_FAIL);
}

/* The path cs_open() will use: -S, then $CS_SOCKET, then the default. */
static const char *socket_path(const struct ctl *c)
{
	const char *path = c->socket;

	if (!path)
		path = getenv("CS_SOCKET");
	if (!path || !*path)
		path = CS_DEFAULT_SOCKET;
	return path;
}

/* --timeout, else $CS_TIMEOUT, else the default, into c->timeout_s. */
static int parse_timeout(struct ctl *c)
{
	const char *v = c->timeout, *from = "--timeout";
	unsigned long n;
	char *end;

	if (!v) {
		v = getenv("CS_TIMEOUT");
		from = "$CS_TIMEOUT";
	}
	if (!v || (!*v && !c->timeout)) {
		c->timeout_s = CTL_TIMEOUT_DEFAULT;
		return 0;
	}
	errno = 0;
	n = strtoul(v, &end, 10);
	if (!*v || *end || errno || v[0] == '-' || n > UINT_MAX / CTL_APPLY_TIMEOUT_FACTOR)
		return ctl_usage_error(c, "%s \"%s\" is not a whole number of seconds "
				       "(1.5: give 2; 0: no limit)", from, v);
	c->timeout_s = (unsigned)n;
	return 0;
}

void ctl_deadline_start(struct ctl *c, const char *op)
{
	unsigned s = c->timeout_s;
	const char *path = socket_path(c);
	struct sigaction sa = { .sa_handler = deadline_hit };
	int n;

	if (!s)
		return;
	if (op && !strcmp(op, "apply"))
		s *= CTL_APPLY_TIMEOUT_FACTOR;
	n = snprintf(deadline_msg, sizeof(deadline_msg),
		     "cs-ctl: csd at %s did not answer%s%s within %u s; is it running?", path,
		     op ? " " : "", op ? op : "", s);
	deadline_len = n < 0 ? 0 : (size_t)n < sizeof(deadline_msg) ? (size_t)n
								     : sizeof(deadline_msg) - 1;
	memset(deadline_sa.sun_path, 0, sizeof(deadline_sa.sun_path));
	strncpy(deadline_sa.sun_path, path, sizeof(deadline_sa.sun_path) - 1);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	alarm(s);
}

void ctl_deadline_stop(void)
{
	/* also before exec: a pending alarm would survive execve() */
	alarm(0);
}

int ctl_connect(struct ctl *c)
{
	/* the same search as cs_open(), only to name the socket in messages */
	const char *path = socket_path(c);
	int r, e;

	if (c->cs)
		return 0;
	errno = 0;
	ctl_deadline_start(c, NULL);
	r = cs_open(c->socket, &c->cs);
	e = errno;
	ctl_deadline_stop();
	if (!r)
		return 0;
	c->cs = NULL;
	if (*cs_last_error(NULL))
		return ctl_fail(c, "csd at %s: %s", path, cs_last_error(NULL));
	if (r == CS_ECONN) {
		/* connect(2)'s errno tells "not running" from "not allowed" */
		bool connect_errno = e == ENOENT || e == ECONNREFUSED || e == EACCES ||
				     e == EPERM || e == ENOTSOCK || e == ENOTDIR ||
				     e == EPROTOTYPE;

		return ctl_fail(c, "cannot reach csd at %s: %s (is csd running? use -S or $CS_SOCKET)",
				path, connect_errno ? strerror(e) : cs_strerror(r));
	}
	return ctl_fail(c, "csd at %s: %s", path, cs_strerror(r));
}

int ctl_request(struct ctl *c, const char *op, json_t *args, const char *what,
		json_t **result)
{
	char *text = NULL, *reply = NULL;
	json_error_t jerr;
	int r;

	if (result)
		*result = NULL;
	if (!args)
		args = json_object();
	text = args ? json_dumps(args, JSON_COMPACT) : NULL;
	json_decref(args);
	if (!text)
		return ctl_fail(c, "%s: out of memory", what);
	if ((r = ctl_connect(c)))
		goto out;
	ctl_deadline_start(c, op);
	r = cs_call(c->cs, op, text, result ? &reply : NULL);
	ctl_deadline_stop();
	if (r < 0) {
		const char *msg = cs_last_error(c->cs);

		if (*msg)
			ctl_fail(c, "%s", msg);
		else
			ctl_fail(c, "%s: %s", what, cs_strerror(r));
		r = CTL_FAIL;
		goto out;
	}
	r = CTL_OK;
	if (result && reply) {
		*result = json_loads(reply, JSON_DECODE_ANY, &jerr);
		if (!*result)
			r = ctl_fail(c, "%s: csd sent a malformed result: %s", what, jerr.text);
	}
out:
	free(text);
	cs_free(reply);
	return r;
}

/* Append the text of @v to @f, for ctl_value_text(). */
static void value_to(FILE *f, const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		fputs(json_string_value(v), f);
		break;
	case JSON_INTEGER:
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		fprintf(f, "%g", json_real_value(v));
		break;
	case JSON_TRUE:
		fputs("true", f);
		break;
	case JSON_FALSE:
		fputs("false", f);
		break;
	case JSON_NULL:
		fputs("-", f);
		break;
	case JSON_ARRAY: {
		size_t i;
		json_t *e;

		json_array_foreach(v, i, e) {
			if (i)
				fputc(',', f);
			value_to(f, e);
		}
		break;
	}
	case JSON_OBJECT: {
		char *s = json_dumps(v, JSON_COMPACT);

		fputs(s ? s : "{}", f);
		free(s);
		break;
	}
	}
}

char *ctl_value_text(const json_t *v)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	/* absent, empty and null all read as "-", so table columns stay aligned */
	if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)) ||
	    (json_is_array(v) && !json_array_size(v)) ||
	    (json_is_object(v) && !json_object_size(v)))
		return strdup("-");
	if (!(f = open_memstream(&buf, &len)))
		return NULL;
	value_to(f, v);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

int ctl_print_json(const json_t *v)
{
	if (json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY) < 0)
		return CTL_FAIL;
	putchar('\n');
	return CTL_OK;
}

static bool has_object(const json_t *a)
{
	size_t i;
	json_t *e;

	json_array_foreach(a, i, e)
		if (json_is_object(e) || json_is_array(e))
			return true;
	return false;
}

static void flat(FILE *f, const char *prefix, const json_t *v)
{
	const char *key;
	json_t *e;
	size_t i;
	char *p;

	if (json_is_object(v) && json_object_size(v)) {
		json_object_foreach((json_t *)v, key, e) {
			if (asprintf(&p, "%s%s%s", prefix, *prefix ? "." : "", key) < 0)
				return;
			flat(f, p, e);
			free(p);
		}
		return;
	}
	/* a list of objects (rules) cannot be comma-joined: one line per field */
	if (json_is_array(v) && has_object(v)) {
		json_array_foreach(v, i, e) {
			if (asprintf(&p, "%s[%zu]", prefix, i) < 0)
				return;
			flat(f, p, e);
			free(p);
		}
		return;
	}
	p = ctl_value_text(v);
	if (*prefix)
		fprintf(f, "%s: %s\n", prefix, p ? p : "-");
	else
		fprintf(f, "%s\n", p ? p : "-");
	free(p);
}

void ctl_print_flat(FILE *f, const json_t *v)
{
	flat(f, "", v);
}

void ctl_print_table(FILE *f, const json_t *rows, const struct ctl_column *cols)
{
	size_t ncols = 0, nrows = json_array_size(rows), *width;
	char **cell;

	while (cols[ncols].header)
		ncols++;
	if (!ncols)
		return;
	cell = calloc((nrows + 1) * ncols, sizeof(*cell));
	width = calloc(ncols, sizeof(*width));
	if (!cell || !width)
		goto out;
	for (size_t j = 0; j < ncols; j++)
		cell[j] = strdup(cols[j].header);
	for (size_t i = 0; i < nrows; i++) {
		const json_t *row = json_array_get(rows, i);

		for (size_t j = 0; j < ncols; j++) {
			/* a row that is not an object: show it whole in the first column */
			const json_t *v = json_is_object(row) ? json_object_get(row, cols[j].key) :
					  j == 0 ? row : NULL;

			cell[(i + 1) * ncols + j] = cols[j].text ? cols[j].text(v) :
							     ctl_value_text(v);
		}
	}
	for (size_t k = 0; k < (nrows + 1) * ncols; k++) {
		size_t w = cell[k] ? strlen(cell[k]) : 1;

		if (w > width[k % ncols])
			width[k % ncols] = w;
	}
	for (size_t i = 0; i <= nrows; i++) {
		for (size_t j = 0; j < ncols; j++) {
			const char *s = cell[i * ncols + j] ? cell[i * ncols + j] : "-";

			if (j + 1 < ncols)
				fprintf(f, "%-*s  ", (int)width[j], s);
			else
				fprintf(f, "%s\n", s);
		}
	}
out:
	if (cell)
		for (size_t k = 0; k < (nrows + 1) * ncols; k++)
			free(cell[k]);
	free(cell);
	free(width);
}

int ctl_main(int argc, char **argv)
{
	struct ctl c = { .socket = NULL };
	char **args;
	int n = argc > 0 ? argc - 1 : 0, r;

	snprintf(c.where, sizeof(c.where), "cs-ctl");
	/* a private copy: options are taken out and words completed in place */
	if (!(args = calloc((size_t)n + 1, sizeof(*args))))
		return ctl_fail(&c, "out of memory");
	if (n)
		memcpy(args, argv + 1, (size_t)n * sizeof(*args));
	r = ctl_parse_options(&c, &n, args);
	if (!r)
		r = parse_timeout(&c);
	if (r)
		goto out;
	if (c.version) {
		printf("cs-ctl %s\n", CS_VERSION);
		goto out;
	}
	if (c.help && !n) {
		ctl_usage(&c, stdout);
		goto out;
	}
	r = ctl_dispatch(&c, ctl_commands, ctl_ncommands, "object", n, args);
out:
	cs_close(c.cs);
	free(args);
	/* output that did not reach its reader is a failure, not a success */
	if (fflush(stdout) || ferror(stdout)) {
		clearerr(stdout);
		if (!r)
			r = ctl_fail(&c, "write error: %s", strerror(errno));
	}
	return r;
}
