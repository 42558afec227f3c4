/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * csd's hooks for the encrypted underlay (csd setting "encrypt":
 * "wireguard"; the tunnel itself is the backend's, vnet/kernel_wg.c):
 * this node's key pair, the peers' public keys from their node documents,
 * and the "node.rotate-key" op. The private key lives only in
 * STATEDIR/wg.key (0600) and in memory: never in the store, a reply or a
 * log. Mixed pairs (one node encrypting, the other not) are refused when
 * a vnet across them is realized, naming what to change.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "csd.h"
#include "model.h"
#include "ops.h"
#include "vnet/wg.h"

#define WG_KEY_FILE "wg.key"

bool csd_encrypted(const struct csd *d)
{
	return d->cfg.encrypt && !strcmp(d->cfg.encrypt, "wireguard");
}

/* Load (or make, or with @rotate replace) the private key. */
static int key_load(struct csd *d, bool rotate)
{
	char why[300];
	int dfd, r;

	/* the etcd store keeps nothing there: it may not exist yet */
	if (mkdir(d->cfg.state_dir, 0700) < 0 && errno != EEXIST) {
		log_err("encrypt: cannot create the state directory %s: %s", d->cfg.state_dir,
			strerror(errno));
		return CS_EIO;
	}
	dfd = open(d->cfg.state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		log_err("encrypt: cannot open the state directory %s: %s", d->cfg.state_dir,
			strerror(errno));
		return CS_EIO;
	}
	r = wg_key_file(dfd, WG_KEY_FILE, rotate, d->wg_priv, why, sizeof(why));
	close(dfd);
	if (r < 0) {
		log_err("encrypt: %s/%s", d->cfg.state_dir, why);
		return r;
	}
	return wg_key_public(d->wg_priv, d->wg_pub);
}

int encrypt_init(struct csd *d)
{
	char pub[WG_KEY_B64_LEN + 1];
	int r;

	if (!csd_encrypted(d))
		return 0;
	if (!vb_encrypts(d->backend)) {
		log_err("encrypt wireguard: the %s backend does not encrypt its underlay; use the "
			"kernel backend or encrypt none", vb_name(d->backend));
		return CS_ENOTSUP;
	}
	if ((r = key_load(d, false)) < 0)
		return r;
	wg_key_to_base64(d->wg_pub, pub);
	log_info("encrypt wireguard: node %s's public key %s (port %u)", d->cfg.node, pub,
		 d->cfg.wg_port);
	return 0;
}

#define WG_KEYS_CACHE_MS 1000

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void encrypt_keys_forget(struct csd *d)
{
	d->wg_keys_at = 0;
}

/* The keys the nodes published (cluster mode), read at most once a second
 * and again after a watch event under WG_KEYS_PREFIX. */
static const json_t *published_keys(struct csd *d)
{
	uint64_t now = mono_ms();
	json_t *keys = NULL;

	if (!csd_store_shared(d))
		return NULL;
	if (!d->wg_keys || !d->wg_keys_at || now - d->wg_keys_at >= WG_KEYS_CACHE_MS) {
		if (model_list(d, WG_KEYS_PREFIX, &keys, NULL) < 0)
			return d->wg_keys;	/* the last known: no reason to drop peers */
		json_decref(d->wg_keys);
		d->wg_keys = keys;
		d->wg_keys_at = now ? now : 1;
	}
	return d->wg_keys;
}

/* A node's public key: its declaration's, else (cluster mode) the one its
 * csd published. NULL: none. */
static const char *node_key_text(struct csd *d, const json_t *nodes, const char *n,
				 const json_t **ndoc)
{
	char key[KEY_MAX];
	const char *k;

	key_node(key, n);
	*ndoc = json_object_get(json_object_get(nodes, key), "spec");
	if ((k = json_string_value(json_object_get(*ndoc, "public_key"))))
		return k;
	snprintf(key, sizeof(key), WG_KEYS_PREFIX "%s", n);
	return json_string_value(json_object_get(json_object_get(published_keys(d), key),
						 "public_key"));
}

int encrypt_peer(struct csd *d, const json_t *nodes, const char *n, const struct cs_addr *ul,
		 struct vnet_wg_peer *out, char *err, size_t errlen)
{
	const json_t *spec;
	const char *k = node_key_text(d, nodes, n, &spec);
	json_int_t port = json_integer_value(json_object_get(spec, "wg_port"));

	if (!csd_encrypted(d)) {
		if (!k)
			return 0;
		snprintf(err, errlen, "node %s encrypts its underlay (it has a public_key) but "
			 "this node (%s) runs with encrypt none: a mixed pair carries nothing; run "
			 "every node of the vnet with the same encrypt setting", n, d->cfg.node);
		return CS_ENOTSUP;
	}
	if (!k) {
		snprintf(err, errlen, "node %s has no public_key but this node (%s) encrypts its "
			 "underlay (encrypt wireguard): declare nodes.%s.public_key (cs-ctl node "
			 "show %s on %s prints it), or run every node of the vnet with the same "
			 "encrypt setting", n, d->cfg.node, n, n, n);
		return CS_ENOTSUP;
	}
	if (wg_key_from_base64(k, out->key) < 0) {
		snprintf(err, errlen, "node %s: public_key \"%.60s\" is not a WireGuard key", n, k);
		return CS_EINVAL;
	}
	out->underlay = *ul;
	out->port = port > 0 && port < 65536 ? (uint16_t)port : WG_PORT_DEFAULT;
	return 0;
}

/* One entry per peer node, whichever vnets it shares with this one. */
static size_t peers_union(const struct vnet_where *ws, size_t n, struct vnet_wg_peer *out)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; ws[i].wg && k < ws[i].npeers; k++) {
			size_t j;
			for (j = 0; j < m; j++)
				if (!cs_addr_cmp(&out[j].underlay, &ws[i].wg[k].underlay))
					break;
			if (j == m)
				out[m++] = ws[i].wg[k];
		}
	}
	return m;
}

void encrypt_sync(struct csd *d, const struct vnet_where *ws, size_t n)
{
	struct vnet_encrypt e = {
		.port = (uint16_t)d->cfg.wg_port,
		.driver = !strcmp(d->cfg.wg_driver, "kernel") ? VNET_WG_KERNEL :
			  !strcmp(d->cfg.wg_driver, "wireguard-go") ? VNET_WG_GO : VNET_WG_AUTO,
	};
	struct vnet_wg_peer *peers;
	size_t total = 1;
	int r;

	if (!vb_encrypts(d->backend))
		return;
	for (size_t i = 0; i < n; i++)
		total += ws[i].npeers;
	if (!(peers = calloc(total, sizeof(*peers)))) {
		log_warn("encrypted underlay: out of memory");
		return;
	}
	e.npeers = csd_encrypted(d) ? peers_union(ws, n, peers) : 0;
	e.peers = peers;
	memcpy(e.priv, d->wg_priv, sizeof(e.priv));
	/* not encrypting (or no peer): whatever a former run left goes, once */
	if (e.npeers || !d->wg_stopped) {
		r = vb_underlay_encrypt(d->backend, e.npeers ? &e : NULL);
		if (r < 0)
			log_warn("%s", vnet_backend_error(d->backend));
		d->wg_stopped = !e.npeers && r == 0;
	}
	explicit_bzero(e.priv, sizeof(e.priv));
	free(peers);
}

void encrypt_view_node(struct csd *d, const char *n, json_t *o)
{
	char pub[WG_KEY_B64_LEN + 1];

	/* this node's own key, even before a file declares it */
	if (!csd_encrypted(d) || strcmp(n, d->cfg.node))
		return;
	wg_key_to_base64(d->wg_pub, pub);
	json_object_set_new(o, "public_key", json_string(pub));
}

/*
 * cs-ctl node rotate-key N, on node N (only its csd holds the key): a new
 * key pair replaces the old at once on this node's tunnel. Peers learn the
 * new public key from N's node document: in cluster mode csd publishes it;
 * in static mode the administrator declares it (nodes.N.public_key) and
 * applies the file on every node, until which N's pairs carry nothing.
 */
static int node_rotate_key(struct csd_req *r)
{
	const char *n = json_string_value(json_object_get(r->args, "name"));
	char pub[WG_KEY_B64_LEN + 1];
	int ret;

	if (!n)
		return req_fail(r, CS_EINVAL, "%s: missing \"name\" (NODE)", r->op);
	if (!authz_admin(r->who))
		return req_fail(r, CS_EPERM, "node %s: only administrators may rotate keys", n);
	if (strcmp(n, r->d->cfg.node))
		return req_fail(r, CS_EINVAL, "node %s: its key is made and kept by node %s's csd; "
				"run cs-ctl node rotate-key %s there (this is node %s)", n, n, n,
				r->d->cfg.node);
	if (!csd_encrypted(r->d))
		return req_fail(r, CS_ENOTSUP, "node %s: csd runs with encrypt none, so it has no "
				"key to rotate (start it with --encrypt wireguard)", n);
	if ((ret = key_load(r->d, true)) < 0)
		return req_fail(r, ret, "node %s: cannot make a new key (see csd's log)", n);
	encrypt_publish(r->d);
	model_underlay_sync(r->d);
	wg_key_to_base64(r->d->wg_pub, pub);
	log_info("node %s: WireGuard key rotated by uid %u; new public key %s", n,
		 (unsigned)r->who->uid, pub);
	r->result = json_pack("{s:s, s:s}", "name", n, "public_key", pub);
	return 0;
}

CSD_OP(node_rotate_key, "node.rotate-key", node_rotate_key, CSD_OP_CHANGES,
       "replace this node's WireGuard key pair (encrypt wireguard)");

void encrypt_publish(struct csd *d)
{
	char key[KEY_MAX], pub[WG_KEY_B64_LEN + 1], *text;
	struct store_kv kv = { 0 };
	json_t *doc;
	int r;

	if (!csd_encrypted(d) || !csd_store_shared(d))
		return;
	snprintf(key, sizeof(key), WG_KEYS_PREFIX "%s", d->cfg.node);
	wg_key_to_base64(d->wg_pub, pub);
	/* unchanged: not written again (every node would reconcile) */
	r = store_get(d->store, key, &kv);
	doc = r == 0 ? json_loads(kv.value, 0, NULL) : NULL;
	store_kv_clear(&kv);
	r = !strcmp(json_string_value(json_object_get(doc, "public_key")) ?: "", pub);
	json_decref(doc);
	if (r)
		return;
	doc = json_pack("{s:s}", "public_key", pub);
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	struct store_op ops[1] = { { STORE_PUT, key, text } };
	struct store_txn txn = { NULL, 0, ops, 1 };
	if (!text || store_txn(d->store, &txn, NULL) < 0)
		log_warn("encrypt: cannot publish node %s's public key; retried after the next "
			 "lease", d->cfg.node);
	else
		log_info("encrypt: node %s's public key %s published", d->cfg.node, pub);
	free(text);
}
