/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The lowest free VNI, from a bitmap kept up to date (vni.c). */
#ifndef CSD_VNI_H
#define CSD_VNI_H

#include <stdbool.h>
#include <stdint.h>

struct csd;

/* The lowest id not in use, as far as this csd knows. 0 or CS_E*. */
int vni_alloc(struct csd *d, uint32_t *out);
/* Id @v was taken (@used) or given back by a committed change. */
void vni_note(struct csd *d, uint32_t v, bool used);
/* What is known may be stale: read the ids again next time. */
void vni_forget(struct csd *d);
void vni_free(struct csd *d);

#endif
