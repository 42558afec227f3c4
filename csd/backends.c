// SPDX-License-Identifier: MIT
/*
 * The backends of one csd, by name. A vnet's "backend" key chooses one
 * (left out: the daemon's --backend); the daemon opens its --backend at
 * start and the ones its "backends" setting lists when it can, at start and
 * again when a vnet asks for one that did not open. Every operation on a
 * vnet or its endpoints goes to the vnet's backend through vnet/vnet.h;
 * what is the node's (its underlay filter, encryption, uplink shaping) is
 * the --backend's, which owns the node's VXLAN port.
 */
#include <stdlib.h>
#include <string.h>

#include "csd.h"
#include "model.h"

static struct vnet_backend_config backend_config(const struct csd *d)
{
	return (struct vnet_backend_config){
		.prefix = d->cfg.prefix, .underlay = d->cfg.underlay, .run_dir = d->cfg.run_dir,
		.ovsdb = d->cfg.ovsdb,
		.store_urls = (const char *const *)d->cfg.etcd_endpoints,
	};
}

static size_t nopen(const struct csd *d)
{
	/* the teardown thread reads the list: entries are only appended */
	return __atomic_load_n(&d->nbackends, __ATOMIC_ACQUIRE);
}

static bool listed(const struct csd *d, const char *name)
{
	for (size_t i = 0; i < d->cfg.nbackends; i++)
		if (!strcmp(d->cfg.backends[i], name))
			return true;
	return false;
}

static struct vnet_backend *find_open(const struct csd *d, const char *name)
{
	for (size_t i = 0, n = nopen(d); i < n; i++)
		if (!strcmp(vb_name(d->backends[i]), name))
			return d->backends[i];
	return NULL;
}

/* open backend name (known to vnet_ops_find) and add it; why says what
 * failed and what to do */
static int open_one(struct csd *d, const char *name, char *why, size_t whylen)
{
	const struct vnet_ops *ops = vnet_ops_find(name);
	struct vnet_backend_config bc = backend_config(d);
	struct vnet_backend *b = NULL;
	size_t n = nopen(d);
	int r;

	if (!ops) {
		snprintf(why, whylen, "backend %s is unknown; use kernel or ovs", name);
		return CS_EINVAL;
	}
	if (n == CSD_BACKENDS_MAX) {
		snprintf(why, whylen, "backend %s: this csd holds %d backends already", name,
			 CSD_BACKENDS_MAX);
		return CS_ENOSPC;
	}
	if ((r = ops->open(&bc, &b)) < 0) {
		snprintf(why, whylen, "backend %s cannot be opened here: %s%s", name,
			 b ? vnet_backend_error(b) : cs_strerror(r),
			 !strcmp(name, "ovs") ? " (is ovs-vswitchd running, and csd's ovsdb "
						"setting its socket?)" : "");
		if (b)
			vb_close(b);
		return r;
	}
	d->backends[n] = b;
	__atomic_store_n(&d->nbackends, n + 1, __ATOMIC_RELEASE);
	return 0;
}

int csd_backends_open(struct csd *d)
{
	char why[512];
	int r;

	if ((r = open_one(d, d->cfg.backend, why, sizeof(why))) < 0) {
		log_err("%s", why);
		return r;
	}
	d->backend = d->backends[0];
	for (size_t i = 0; i < d->cfg.nbackends; i++)
		if (!find_open(d, d->cfg.backends[i]) &&
		    open_one(d, d->cfg.backends[i], why, sizeof(why)) < 0)
			log_warn("%s; vnets that name it are refused until it opens", why);
	return 0;
}

void csd_backends_close(struct csd *d)
{
	for (size_t i = nopen(d); i-- > 0;)
		vb_close(d->backends[i]);
	__atomic_store_n(&d->nbackends, 0, __ATOMIC_RELEASE);
	d->backend = NULL;
}

struct vnet_backend *csd_backend_get(struct csd *d, const char *name, bool across, char *why,
				     size_t whylen)
{
	struct vnet_backend *b;

	if (!name || !strcmp(name, vb_name(d->backend)))
		return d->backend;
	if (!listed(d, name)) {
		/* the recording backend stands in for any other (tests) */
		if (vb_has(d->backend, VNET_CAP_ANY_KIND))
			return d->backend;
		snprintf(why, whylen, "this csd does not run backend %s (it runs %s); leave "
			 "backend out, or start csd with %s listed in its \"backends\" setting",
			 name, vb_name(d->backend), name);
		return NULL;
	}
	if (across) {
		/* the node's VXLAN port is its --backend's */
		snprintf(why, whylen, "a vnet across nodes uses backend %s, the one that owns "
			 "this node's VXLAN port (csd's --backend); leave backend out, or keep "
			 "the vnet on one node", vb_name(d->backend));
		return NULL;
	}
	if ((b = find_open(d, name)))
		return b;
	return open_one(d, name, why, whylen) < 0 ? NULL : find_open(d, name);
}

struct vnet_backend *csd_backend_of(struct csd *d, const json_t *vdoc)
{
	const char *name = json_string_value(json_object_get(json_object_get(vdoc, "spec"),
							     "backend"));
	struct vnet_backend *b;

	if (!name || nopen(d) == 1)
		return d->backend;
	b = find_open(d, name);
	/* a vnet whose backend is not open was not realized: the default
	 * finds nothing of it */
	return b ? b : d->backend;
}

struct vnet_backend *csd_backend_for(struct csd *d, const char *t, const char *v)
{
	char key[KEY_MAX];
	json_t *vdoc = NULL;
	struct vnet_backend *b;

	/* one backend: no need to read the vnet (the socket path is hot) */
	if (nopen(d) == 1)
		return d->backend;
	key_vnet(key, t, v);
	if (model_get(d, key, &vdoc, NULL) < 0)
		return d->backend;
	b = csd_backend_of(d, vdoc);
	json_decref(vdoc);
	return b;
}

size_t csd_backends(struct csd *d, struct vnet_backend ***list)
{
	*list = d->backends;
	return nopen(d);
}

bool csd_backend_usable(void *arg, const char *name, bool across, char *why, size_t whylen)
{
	return csd_backend_get(arg, name, across, why, whylen) != NULL;
}
