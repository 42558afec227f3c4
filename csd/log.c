/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Logging to stderr, systemd style: "<N>" priority prefixes when stderr is
 * the journal, plain "level: " otherwise. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

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

static void emit(int level, const char *text)
{
	if (journal < 0)
		journal = getenv("JOURNAL_STREAM") != NULL;
	if (journal)
		fprintf(stderr, "<%d>%s\n", level, text);
	else
		fprintf(stderr, "csd: %s: %s\n", names[level & 7], text);
}

/*
 * A flood of one line (accept failing, a hostile client refused again and
 * again) must not fill the disk: per format, a line that repeats the last
 * one is written at most once a second, and at most LINES_PER_SECOND
 * lines a second in all; what was held back is counted in a line of its
 * own when the format next speaks.
 */
#define SLOTS 64
#define LINES_PER_SECOND 20

static struct slot {
	const char *fmt;
	time_t sec;
	unsigned lines;
	unsigned long held, last_hash;
} slots[SLOTS];

static unsigned long text_hash(const char *s)
{
	unsigned long h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

static bool rate_limited(int level, const char *fmt, const char *text)
{
	struct slot *sl = &slots[((uintptr_t)fmt >> 3) % SLOTS];
	struct timespec ts;
	unsigned long h = text_hash(text);

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (sl->fmt != fmt) {
		*sl = (struct slot){ .fmt = fmt, .sec = ts.tv_sec, .last_hash = h + 1 };
	} else if (sl->sec != ts.tv_sec) {
		if (sl->held) {
			char note[160];
			snprintf(note, sizeof(note), "(%lu more lines like the next were not written "
				 "in the last %lld s)", sl->held, (long long)(ts.tv_sec - sl->sec));
			emit(level, note);
		}
		sl->sec = ts.tv_sec;
		sl->lines = 0;
		sl->held = 0;
		sl->last_hash = h + 1;
	}
	if (h == sl->last_hash || sl->lines >= LINES_PER_SECOND) {
		sl->held++;
		return true;
	}
	sl->last_hash = h;
	sl->lines++;
	return false;
}

void log_msg(int level, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* audit lines are thinned per uid where they are made (audit.c) */
	if (strncmp(fmt, "audit: ", 7) && rate_limited(level, fmt, buf))
		return;
	emit(level, buf);
}
