/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * monslow SOCKET READY GO: a monitor that does not read. It opens a monitor
 * on SOCKET, creates file READY, and reads nothing until file GO exists;
 * then it drains what csd sent and prints "closed N" (N events) when csd
 * had closed the connection, or "open N" when it was still open 5 s later.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cs/cs.h>

static volatile unsigned long events;

static void on_alarm(int sig)
{
	(void)sig;
	printf("open %lu\n", events);
	fflush(stdout);
	_exit(3);
}

int main(int argc, char **argv)
{
	cs_t *cs;
	char *ev;
	FILE *f;
	int r;

	if (argc < 4)
		return 2;
	if (cs_open(argv[1], &cs) < 0 || cs_monitor_open(cs, NULL, 0, NULL) < 0) {
		fprintf(stderr, "monslow: %s\n", cs ? cs_last_error(cs) : cs_last_error(NULL));
		return 1;
	}
	if (!(f = fopen(argv[2], "w")))
		return 1;
	fclose(f);
	while (access(argv[3], F_OK) < 0)
		usleep(50 * 1000);
	signal(SIGALRM, on_alarm);
	alarm(5);
	while ((r = cs_monitor_next(cs, &ev)) == 0) {
		events++;
		cs_free(ev);
	}
	alarm(0);
	printf("%s %lu\n", r == CS_ECONN ? "closed" : "error", events);
	cs_close(cs);
	return 0;
}
