/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What each non-administrator uid has created, in total (charges.c). */
#ifndef CSD_CHARGES_H
#define CSD_CHARGES_H

#include <stdbool.h>
#include <jansson.h>

#include "csd.h"
#include "model.h"

#define CHARGE_PREFIX "/alloc/charge/"
#define CHARGE_TOKEN "/alloc/uid/"

/* The parts of a creating transaction that charge one object to its
 * creator (nothing when it is an administrator: !active). */
struct charge_txn {
	bool active;
	struct store_cmp cmp;          /* the uid's token, as read */
	struct store_op ops[2];        /* the token bumped; the charge */
	char tok[KEY_MAX], tokval[32], key[KEY_MAX], val[KEY_MAX + 2];
};

/* May @who create @more objects of @kind ("tenants", "vnets",
 * "endpoints")? 0, or CS_EQUOTA with which bound and who raises it. */
int charge_room(struct csd *d, const struct principal *who, const char *kind, size_t more,
		char *err, size_t errlen);
/* Check room for the object at @objkey and fill @ch. 0 or CS_E*. */
int charge_txn(struct csd *d, const struct principal *who, const char *objkey,
	       struct charge_txn *ch, char *err, size_t errlen);
/* Record in a new object's document whom it is charged to. */
void charge_mark(json_t *doc, const struct principal *who);
/* The charge key of an object's document, if it carries one. */
bool charge_of_doc(const char *objkey, const json_t *doc, char out[KEY_MAX]);
void charge_key(char out[KEY_MAX], uid_t uid, const char *objkey);
/* Is the spec of an object @who declares within what a non-administrator
 * may store (limits.rules in a vnet's policy, limits.document bytes)? 0, or
 * CS_EQUOTA with why (to follow the object's name). */
int charge_spec(const struct csd *d, const struct principal *who, const json_t *spec,
		char *err, size_t errlen);
void charge_token(char out[KEY_MAX], uid_t uid);

#endif
