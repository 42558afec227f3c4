/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Logging to stderr, systemd style: "<N>" priority prefixes when stderr is
 * the journal, plain "level: " otherwise. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "csd.h"

static int max_level = 6;
static int journal = -1;

static const char *const names[] = { "emerg", "alert", "crit", "error", "warning", "notice",
				     "info", "debug" };

void log_set_level(int level)
{
	max_level = level;
}

int log_level_parse(const char *s)
{
	for (int i = 0; i < 8; i++)
		if (!strcasecmp(s, names[i]))
			return i;
	if (!strcasecmp(s, "err"))
		return 3;
	if (!strcasecmp(s, "warn"))
		return 4;
	if (s[0] >= '0' && s[0] <= '7' && !s[1])
		return s[0] - '0';
	return -1;
}

void log_msg(int level, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	if (level > max_level)
		return;
	if (journal < 0)
		journal = getenv("JOURNAL_STREAM") != NULL;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (journal)
		fprintf(stderr, "<%d>%s\n", level, buf);
	else
		fprintf(stderr, "csd: %s: %s\n", names[level & 7], buf);
}
