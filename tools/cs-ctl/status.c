/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cs-ctl status: what csd says about itself (version, node, store, counts)
 * and its audit tail: the latest changes, accepted or refused (all of them
 * for administrators, one's own for anyone else).
 */
#include "ctl.h"

static const struct ctl_column audit_cols[] = {
	{ "TIME", "time", NULL },
	{ "UID", "uid", NULL },
	{ "PID", "pid", NULL },
	{ "OP", "op", NULL },
	{ "OBJECT", "object", NULL },
	{ "VERDICT", "verdict", NULL },
	{ "DETAIL", "detail", NULL },
	{ "MESSAGE", "message", NULL },
	{ NULL, NULL, NULL },
};

int ctl_status(struct ctl *c, int argc, char **argv)
{
	json_t *res = NULL;
	int r;

	if ((r = ctl_no_args(c, argc, argv, "status")) >= 0)
		return r;
	r = ctl_request(c, "status", NULL, "status", &res);
	if (!r) {
		if (c->json) {
			r = ctl_print_json(res ? res : json_null());
		} else if (res) {
			json_t *audit = json_incref(json_object_get(res, "audit"));

			json_object_del(res, "audit");
			ctl_print_flat(stdout, res);
			if (json_array_size(audit)) {
				printf("\naudit (latest last):\n");
				ctl_print_table(stdout, audit, audit_cols);
			}
			json_decref(audit);
		}
	}
	json_decref(res);
	return r;
}
