/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A csd in a forked child for unit tests (csdchild.h). */
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "csd/csd.h"
#include "csdchild.h"
#include "vnet/recording.h"

#define MAX_ARGS 32

void ut_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

int ut_tmpdir(char *dir, size_t len, const char *tag)
{
	char state[256];

	snprintf(dir, len, "/tmp/cs-ut-%s-XXXXXX", tag);
	if (!mkdtemp(dir))
		return -1;
	chmod(dir, 0755);
	snprintf(state, sizeof(state), "%s/state", dir);
	return mkdir(state, 0700);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

void ut_rmdir(const char *dir)
{
	if (*dir)
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Publish the recording atomically (write aside, rename). */
static void put_log(const char *path, const char *text)
{
	char tmp[160];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!(f = fopen(tmp, "we")))
		return;
	fputs(text, f);
	fclose(f);
	rename(tmp, path);
}

static void __attribute__((noreturn)) run(int argc, char **argv, const char *log)
{
	struct csd d = { 0 };
	char err[1024];
	size_t written = 0;
	int r;

	if (csd_config_load(&d.cfg, argc, argv, err, sizeof(err)) != 0) {
		fprintf(stderr, "csd child: config: %s\n", err);
		exit(2);
	}
	log_set_level(d.cfg.log_level);
	if ((r = csd_init(&d)) < 0) {
		fprintf(stderr, "csd child: init: %s\n", cs_strerror(r));
		csd_fini(&d);
		csd_config_free(&d.cfg);
		exit(3);
	}
	while (!d.stopping && (r = csd_poll(&d, log ? 20 : 100)) >= 0) {
		if (!log)
			continue;
		const char *text = vnet_recording_log(d.backend);
		if (strlen(text) != written) {
			put_log(log, text);
			written = strlen(text);
		}
	}
	if (r < 0)
		fprintf(stderr, "csd child: poll: %s\n", cs_strerror(r));
	csd_fini(&d);
	csd_config_free(&d.cfg);
	exit(r < 0 ? 4 : 0);
}

int csd_child_start(struct csd_child *c, const char *dir, const char *sockname,
		    const char *const *extra, const char *log, cs_t **cs)
{
	char state[160];
	char *argv[MAX_ARGS];
	int argc = 0;

	snprintf(c->sock, sizeof(c->sock), "%s/%s", dir, sockname);
	snprintf(state, sizeof(state), "%s/state", dir);
	c->log[0] = '\0';
	if (log)
		snprintf(c->log, sizeof(c->log), "%s/%s", dir, log);
	const char *fixed[] = { "csd", "-S", c->sock, "-D", state, "--backend", "recording",
				"-l", "warning" };
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		argv[argc++] = (char *)fixed[i];
	for (size_t i = 0; extra && extra[i] && argc < MAX_ARGS - 1; i++)
		argv[argc++] = (char *)extra[i];
	argv[argc] = NULL;
	fflush(NULL);
	if ((c->pid = fork()) < 0)
		return -1;
	if (c->pid == 0)
		run(argc, argv, log ? c->log : NULL);
	/* generous: under valgrind the child starts slowly */
	for (int i = 0; i < 300; i++) {
		cs_t *h = NULL;
		int st;
		if (cs_open(c->sock, &h) == 0) {
			if (cs)
				*cs = h;
			else
				cs_close(h);
			return 0;
		}
		if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
			fprintf(stderr, "csd child exited early (status %d)\n", st);
			c->pid = -1;
			return -1;
		}
		ut_sleep_ms(100);
	}
	fprintf(stderr, "csd child did not accept on %s within 30 s\n", c->sock);
	return -1;
}

void csd_child_stop(struct csd_child *c)
{
	int st;

	if (c->pid <= 0)
		return;
	kill(c->pid, SIGTERM);
	for (int k = 0; k < 50; k++) {
		if (waitpid(c->pid, &st, WNOHANG) != 0) {
			c->pid = -1;
			return;
		}
		ut_sleep_ms(100);
	}
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
	c->pid = -1;
}

void csd_child_end(struct csd_child *c, cs_t **cs, const char *dir)
{
	cs_close(*cs);
	*cs = NULL;
	csd_child_stop(c);
	ut_rmdir(dir);
}

json_t *ut_parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &e);

	if (!j)
		fail_msg("not JSON (%s): %.200s", e.text, text);
	return j;
}

int64_t ut_revision(cs_t *cs)
{
	char *s = NULL;
	int r = cs_status(cs, &s);

	if (r != 0)
		fail_msg("status: %s: %s", cs_strerror(r), cs_last_error(cs));
	json_t *j = ut_parse(s);
	json_t *rev = json_object_get(j, "revision");
	assert_true(json_is_integer(rev));
	int64_t v = json_integer_value(rev);
	json_decref(j);
	cs_free(s);
	return v;
}
