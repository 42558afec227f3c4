/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QoS helpers of tests/bench/run (issue 7). Each prints "key value" lines.
 *
 *   qosbench adm SOCK T/V/E PAIRS KEY
 *       admission decisions per second: PAIRS reservation create/delete
 *       pairs on one endpoint through libcs, each a full request, store
 *       transaction and enforcement on this node (the reply comes after
 *       it); prints "KEY decisions/s" and "KEY_ms median ms per decision"
 *   qosbench resolve SOCK T/V/E N KEY
 *       the baseline: N cs_resolve of the endpoint (a request that reads
 *       the store) on the same csd: prints "KEY requests/s"
 *   qosbench reserve SOCK T/V/E RATE KEY
 *       one cs_reservation_create: prints "KEY ms" (the reply comes once
 *       the HTB class is in the kernel; the driver checks it with tc)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include <cs/cs.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void die_cs(cs_t *cs, const char *what, int r)
{
	fprintf(stderr, "qosbench: %s: %s (%s)\n", what, cs_strerror(r), cs ? cs_last_error(cs) : "");
	exit(1);
}

int main(int argc, char **argv)
{
	cs_t *cs = NULL;
	int r;

	if (argc < 6) {
		fprintf(stderr, "usage: qosbench adm|resolve SOCK T/V/E N KEY | reserve SOCK T/V/E RATE KEY\n");
		return 2;
	}
	if ((r = cs_open(argv[2], &cs)) < 0)
		die_cs(NULL, "cs_open", r);
	if (!strcmp(argv[1], "adm")) {
		int n = atoi(argv[4]);
		double *lat = calloc(2 * (size_t)n + 1, sizeof(*lat));
		if (n <= 0 || !lat)
			return 2;
		double t0 = now_ms();
		for (int i = 0; i < n; i++) {
			double a = now_ms();
			if ((r = cs_reservation_create(cs, argv[3], "{\"rate\":\"10mbit\"}")) < 0)
				die_cs(cs, "reservation create", r);
			double b = now_ms();
			if ((r = cs_reservation_delete(cs, argv[3])) < 0)
				die_cs(cs, "reservation delete", r);
			lat[2 * i] = b - a;
			lat[2 * i + 1] = now_ms() - b;
		}
		double dt = now_ms() - t0;
		qsort(lat, 2 * (size_t)n, sizeof(*lat), cmp_double);
		printf("%s %.0f\n%s_ms %.3f\n", argv[5], 2 * n / (dt / 1e3), argv[5], lat[n]);
		if (getenv("QOSBENCH_DIST")) {
			double sum = 0;
			for (int i = 0; i < 2 * n; i++)
				sum += lat[i];
			fprintf(stderr, "mean %.3f p90 %.3f p99 %.3f max %.3f sum %.1f of %.1f ms\n", sum / (2 * n), lat[2 * n * 9 / 10], lat[2 * n * 99 / 100], lat[2 * n - 1], sum, dt);
		}
		free(lat);
	} else if (!strcmp(argv[1], "resolve")) {
		int n = atoi(argv[4]);
		char vnet[256];
		const char *slash = strrchr(argv[3], '/');
		if (!slash || slash - argv[3] >= (long)sizeof(vnet))
			return 2;
		snprintf(vnet, sizeof(vnet), "%.*s", (int)(slash - argv[3]), argv[3]);
		double t0 = now_ms();
		for (int i = 0; i < n; i++) {
			struct sockaddr_storage ss;
			socklen_t len = sizeof(ss);
			if ((r = cs_resolve(cs, vnet, slash + 1, AF_UNSPEC, 0, &ss, &len)) < 0)
				die_cs(cs, "resolve", r);
		}
		printf("%s %.0f\n", argv[5], n / ((now_ms() - t0) / 1e3));
	} else if (!strcmp(argv[1], "reserve")) {
		char spec[128];
		snprintf(spec, sizeof(spec), "{\"rate\":\"%s\"}", argv[4]);
		double a = now_ms();
		if ((r = cs_reservation_create(cs, argv[3], spec)) < 0)
			die_cs(cs, "reservation create", r);
		printf("%s %.3f\n", argv[5], now_ms() - a);
	} else {
		fprintf(stderr, "qosbench: unknown subcommand %s\n", argv[1]);
		return 2;
	}
	cs_close(cs);
	return 0;
}
