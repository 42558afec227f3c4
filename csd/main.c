/* SPDX-License-Identifier: GPL-2.0-or-later */
/* csd: the cs daemon. Everything but main() lives in csd-core. */
#include <malloc.h>
#include <stdio.h>
#include <sys/resource.h>

#include "csd.h"
#include "metrics.h"
#include "model.h"

int main(int argc, char **argv)
{
	struct csd d = { 0 };
	char err[1024];
	int r;

	r = csd_config_load(&d.cfg, argc, argv, err, sizeof(err));
	if (r == 1)
		return 0;
	if (r < 0) {
		fprintf(stderr, "csd: %s\n", err);
		csd_config_free(&d.cfg);
		return 2;
	}
	log_set_level(d.cfg.log_level);
	/* a fixed threshold keeps large buffers (partial messages, big
	 * replies) in mappings of their own, given back when freed: glibc's
	 * sliding default would move them onto the heap after the first */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	/* every endpoint holds namespace fds; scale needs more than 1024 */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	r = csd_init(&d);
	/* metrics asked for but not protected or not reachable: not started */
	if (r == 0)
		r = metrics_start(&d);
	if (r == 0) {
		/* in slices, answering meanwhile: with 10,000 endpoints a
		 * pass takes seconds */
		reconcile_pass_start(&d);
		r = csd_run(&d);
	}
	metrics_stop(&d);
	csd_fini(&d);
	csd_config_free(&d.cfg);
	return r < 0 ? 1 : 0;
}
