/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Cluster helpers of tests/bench/run (csd on etcd); each prints "key value"
 * lines for the driver.
 *
 *   clusterbench realize SOCK VNET NODE NETNS-PREFIX N
 *       N endpoints VNET/rI created through SOCK but placed on NODE; each
 *       timed from the request until NETNS-PREFIX.T.V.rI appears in
 *       /run/netns (the other node's csd realized it from the watch): one
 *       "realize_ms" line per endpoint
 *   clusterbench admit SOCK T/V/E N
 *       N reservation create (1mbit) + delete pairs on one endpoint of a
 *       shaped vnet: admit_per_s, admission decisions per second
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cs/cs.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die_cs(cs_t *cs, const char *what, int r)
{
	fprintf(stderr, "clusterbench: %s: %s (%s)\n", what, cs_strerror(r),
		cs ? cs_last_error(cs) : "");
	exit(1);
}

static int cmd_realize(const char *sock, const char *vnet, const char *node, const char *nspfx,
		       int n)
{
	char name[256], path[512], spec[128], tv[256], *slash;
	double *lat = calloc((size_t)n, sizeof(double)), t;
	struct stat sb;
	cs_t *cs;
	int r;

	if (!lat)
		return 1;
	if ((r = cs_open(sock, &cs)) < 0)
		die_cs(NULL, "cs_open", r);
	snprintf(tv, sizeof(tv), "%s", vnet);
	if ((slash = strchr(tv, '/')))
		*slash = '.';
	snprintf(spec, sizeof(spec), "{\"node\":\"%s\"}", node);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s/r%d", vnet, i);
		snprintf(path, sizeof(path), "/run/netns/%s.%s.r%d", nspfx, tv, i);
		t = now_us();
		if ((r = cs_endpoint_create(cs, name, spec)) < 0)
			die_cs(cs, name, r);
		while (stat(path, &sb) < 0) {
			if (now_us() - t > 10e6) {
				fprintf(stderr, "clusterbench: %s not realized on %s within 10 s\n",
					name, node);
				return 1;
			}
			usleep(500);
		}
		lat[i] = (now_us() - t) / 1e3;
	}
	for (int i = 0; i < n; i++)
		printf("realize_ms %.2f\n", lat[i]);
	cs_close(cs);
	free(lat);
	return 0;
}

static int cmd_admit(const char *sock, const char *ep, int n)
{
	double t;
	cs_t *cs;
	int r;

	if ((r = cs_open(sock, &cs)) < 0)
		die_cs(NULL, "cs_open", r);
	t = now_us();
	for (int i = 0; i < n; i++) {
		if ((r = cs_reservation_create(cs, ep, "{\"rate\":\"1mbit\"}")) < 0)
			die_cs(cs, "reservation create", r);
		if ((r = cs_reservation_delete(cs, ep)) < 0)
			die_cs(cs, "reservation delete", r);
	}
	printf("admit_per_s %.1f\n", 2 * n / ((now_us() - t) / 1e6));
	cs_close(cs);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 7 && !strcmp(argv[1], "realize"))
		return cmd_realize(argv[2], argv[3], argv[4], argv[5], atoi(argv[6]));
	if (argc >= 5 && !strcmp(argv[1], "admit"))
		return cmd_admit(argv[2], argv[3], atoi(argv[4]));
	fprintf(stderr, "usage: clusterbench realize SOCK VNET NODE NETNS-PREFIX N | "
		"admit SOCK T/V/E N\n");
	return 2;
}
