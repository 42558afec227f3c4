/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cs-ctl: what the per-subcommand files share. The grammar is a table of
 * words per level (bgpctl style): each level matches one word by unambiguous
 * prefix and hands the rest of argv to the entry's run(), which either
 * descends into another table or does the work.
 */
#ifndef CS_CTL_H
#define CS_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>
#include <cs/cs.h>

/* Exit statuses of the contract (DESIGN "Fixed surfaces"). */
enum {
	CTL_OK = 0,
	CTL_FAIL = 1,  /* a refused or failed request */
	CTL_USAGE = 2, /* wrong words on the command line */
};

/* ctl_match() results besides an index. */
enum {
	CTL_NOMATCH = -1,
	CTL_AMBIGUOUS = -2,
};

struct ctl_obj;

struct ctl {
	cs_t *cs;             /* connected on first use, so usage errors need no csd */
	const char *socket;   /* -S; NULL: $CS_SOCKET, then the default */
	const char *timeout;  /* --timeout SECONDS; NULL: $CS_TIMEOUT, then 30 */
	unsigned timeout_s;   /* the above as a number; 0: wait as long as it takes */
	bool json;            /* -j */
	bool help;            /* -h or `help`: print usage at the level reached */
	bool version;         /* -V */
	bool listing;         /* printing the usage of a whole table: one line each */
	const struct ctl_obj *obj; /* the object whose verb is running (object.c) */
	char where[128];      /* "cs-ctl vnet create": the words matched so far */
};

struct ctl_cmd {
	const char *word;
	/* argv[0] is the (completed) word itself, as with main() */
	int (*run)(struct ctl *c, int argc, char **argv);
	const char *usage;    /* what follows the words, for help and errors */
};

/* The whole program, minus main(); returns the exit status. argv is not
 * modified. `exec` does not return on success. */
int ctl_main(int argc, char **argv);

/*
 * Match @word against @n @choices: an exact match wins, otherwise a prefix of
 * exactly one choice. Returns its index, CTL_NOMATCH or CTL_AMBIGUOUS.
 */
int ctl_match(const char *word, const char *const *choices, size_t n);

/*
 * Take the global options (-S/--socket, -j/--json, -h/--help, -V/--version)
 * out of @argv wherever they are before "--", leaving the other words (and
 * options of subcommands, e.g. apply's -f) in order. Returns 0 or CTL_USAGE.
 */
int ctl_parse_options(struct ctl *c, int *argc, char **argv);

/*
 * Match argv[0] in @tab and run the entry; @what names the kind of word for
 * messages ("object", "verb"). With argc 0 this is a missing word (or, under
 * c->help, a request to list the table).
 */
int ctl_dispatch(struct ctl *c, const struct ctl_cmd *tab, size_t n, const char *what,
		 int argc, char **argv);

/* Usage of the commands that are not objects, shared by table and code. */
#define CTL_APPLY_USAGE "-f FILE [--dry-run] [--prune]"
#define CTL_EXEC_USAGE "TENANT/VNET/ENDPOINT -- CMD [ARG]..."

/* The top-level table: objects first, then the other commands. */
extern const struct ctl_cmd ctl_commands[];
extern const size_t ctl_ncommands;

/* Full usage (cs-ctl help). */
void ctl_usage(struct ctl *c, FILE *f);
/* One usage line for the command reached so far: "  cs-ctl WORDS ARGS". */
void ctl_usage_line(struct ctl *c, FILE *f, const char *args);

/* Print "WHERE: message" to stderr; returns CTL_USAGE. */
int ctl_usage_error(struct ctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "cs-ctl: message" to stderr; returns CTL_FAIL. */
int ctl_fail(struct ctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Default bound on csd's answer, in seconds (--timeout, $CS_TIMEOUT). */
#define CTL_TIMEOUT_DEFAULT 30
/* apply may change many objects in the kernel: it gets this many times more. */
#define CTL_APPLY_TIMEOUT_FACTOR 10

/*
 * Bound the wait for csd's answer to @op (NULL: connecting) by the timeout:
 * when it passes, cs-ctl prints "csd at SOCKET did not answer within N s"
 * and exits 1. ctl_deadline_stop() disarms it. A timeout of 0 arms nothing.
 */
void ctl_deadline_start(struct ctl *c, const char *op);
void ctl_deadline_stop(void);

/* Connect to csd unless connected; 0 or CTL_FAIL (message printed). */
int ctl_connect(struct ctl *c);

/*
 * Send @op with @args (stolen; NULL for none) and parse the reply into
 * *result (may be NULL; caller decrefs). @what names the target for a message
 * when csd sent none ("vnet create acme/blue"). Returns 0 or CTL_FAIL with
 * the reason printed.
 */
int ctl_request(struct ctl *c, const char *op, json_t *args, const char *what,
		json_t **result);

/* Reject the next word if it looks like an option; 0 or CTL_USAGE. */
int ctl_no_option(struct ctl *c, const char *word);
/* Remove the first "--" from argv[1..]: after it nothing is an option. */
void ctl_drop_dashdash(int *argc, char **argv);
/* For a command @what that takes no arguments: CTL_OK after printing its
 * usage (--help), CTL_USAGE for a word after it, -1 to go on. */
int ctl_no_args(struct ctl *c, int argc, char **argv, const char *what);

/* Output. */
struct ctl_column {
	const char *header;
	const char *key;
	char *(*text)(const json_t *v); /* NULL: ctl_value_text() */
};

/* A value as one word: scalars as is, arrays comma-joined, "-" for nothing.
 * malloc'd (never NULL unless out of memory). */
char *ctl_value_text(const json_t *v);
/* -j output: pretty JSON and a newline. 0 or CTL_FAIL. */
int ctl_print_json(const json_t *v);
/* "key: value" lines, nested objects joined with dots. */
void ctl_print_flat(FILE *f, const json_t *v);
/* An array of objects as an aligned table. */
void ctl_print_table(FILE *f, const json_t *rows, const struct ctl_column *cols);

/*
 * rule create's words after TENANT/VNET ("from SEL to SEL [proto P] [ports
 * LIST] [action A] [name N] [position N]", keys by unambiguous prefix) as
 * the args of rule.create: {"name": @vnet, "spec": RULE, "position": N}.
 * Values are csd's to check (a refusal exits 1); action defaults to allow.
 * Returns 0 and *args (caller decrefs), or CTL_USAGE with a message printed.
 */
int ctl_rule_create_args(struct ctl *c, const char *vnet, int argc, char **argv,
			 json_t **args);
/*
 * rule show|delete's words (argv[0] the verb): "TENANT/VNET RULE" or
 * "TENANT/VNET/RULE" as one name in *name (malloc'd). 0 or CTL_USAGE.
 */
int ctl_rule_name(struct ctl *c, int argc, char **argv, char **name);

/*
 * One endpoint listing for the words @argv (argv[0] the verb, then an
 * optional TENANT[/VNET]); NULL with *rc (message printed) on failure.
 */
json_t *ctl_endpoint_listing(struct ctl *c, int argc, char **argv, int *rc);
/*
 * endpoint list --stats (stats.c): two listings a second apart, printed
 * with each endpoint's rates ("rates" in -j). 0 or the failure.
 */
int ctl_endpoint_stats(struct ctl *c, int argc, char **argv);
#define CTL_TOP_USAGE "[TENANT[/VNET]]"
#define CTL_MONITOR_USAGE "[TENANT[/VNET]] [from REVISION]"

/* Subcommands (one file each). */
int ctl_tenant(struct ctl *c, int argc, char **argv);
int ctl_vnet(struct ctl *c, int argc, char **argv);
int ctl_endpoint(struct ctl *c, int argc, char **argv);
int ctl_reservation(struct ctl *c, int argc, char **argv);
int ctl_rule(struct ctl *c, int argc, char **argv);
int ctl_node(struct ctl *c, int argc, char **argv);
int ctl_apply(struct ctl *c, int argc, char **argv);
int ctl_export(struct ctl *c, int argc, char **argv);
int ctl_status(struct ctl *c, int argc, char **argv);
int ctl_exec(struct ctl *c, int argc, char **argv);
int ctl_top(struct ctl *c, int argc, char **argv);
int ctl_monitor(struct ctl *c, int argc, char **argv);

#endif
