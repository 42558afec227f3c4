/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cs/cs.h>
#include "errf.h"
#include "csd/names.h"

#define NAME_RULE "use 1-32 characters a-z, 0-9, '-', '_', starting with a letter or digit"

/* Longest path or part quoted in a message: enough to recognise it, short
 * enough that the reason still fits. */
#define SHOW_MAX 100
#define SHOWN(s) (strlen(s) > SHOW_MAX ? SHOW_MAX : (int)strlen(s)), (s), \
	(strlen(s) > SHOW_MAX ? "..." : "")

static const char *const path_forms[] = {
	"tenant", "tenant/vnet", "tenant/vnet/endpoint",
};

static bool lead_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool name_char(char c)
{
	return lead_char(c) || c == '-' || c == '_';
}

/* The first @len bytes of @s form a name. */
static bool name_valid_n(const char *s, size_t len)
{
	if (len < 1 || len > CS_NAME_MAX || !lead_char(s[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!name_char(s[i]))
			return false;
	return true;
}

bool cs_name_valid(const char *s)
{
	return s && name_valid_n(s, strnlen(s, CS_NAME_MAX + 1));
}

int cs_path_split(const char *path, int n, char parts[][CS_NAME_MAX + 1], char *err, size_t errlen)
{
	const char *start[3], *p;
	size_t len[3];
	int count = 0;

	if (n < 1 || n > 3 || !parts) {
		cs_errf(err, errlen, "a path has 1 to 3 parts, not %d", n);
		return CS_EINVAL;
	}
	if (!path || !*path) {
		cs_errf(err, errlen, "empty name; expected %s", path_forms[n - 1]);
		return CS_EINVAL;
	}
	for (p = path; ; p++) {
		const char *q = strchrnul(p, '/');

		if (count == n) {
			count++;
			break;
		}
		start[count] = p;
		len[count] = (size_t)(q - p);
		count++;
		if (!*q)
			break;
		p = q;
	}
	if (count != n) {
		cs_errf(err, errlen, "%.*s%s: expected %s", SHOWN(path), path_forms[n - 1]);
		return CS_EINVAL;
	}
	/* Check every part before writing any, so a failure leaves parts alone. */
	for (int i = 0; i < n; i++) {
		if (!name_valid_n(start[i], len[i])) {
			int shown = len[i] > SHOW_MAX ? SHOW_MAX : (int)len[i];

			cs_errf(err, errlen, "%.*s%s: \"%.*s%s\" is not a valid name (" NAME_RULE ")",
			       SHOWN(path), shown, start[i], len[i] > SHOW_MAX ? "..." : "");
			return CS_EINVAL;
		}
	}
	for (int i = 0; i < n; i++) {
		memcpy(parts[i], start[i], len[i]);
		parts[i][len[i]] = '\0';
	}
	return 0;
}
