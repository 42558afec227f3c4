/* SPDX-License-Identifier: GPL-2.0-or-later */
/* csd's settings: flags, then the -c JSON file for what flags left unset. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "csd.h"
#include "bounds.h"
#include "names.h"
#include "schema.h"
#include "vnet/ipam.h"
#include "vnet/wg.h"
#include "vnet/ovsdb.h"

static const char usage_text[] =
	"usage: csd [-hV] [-c CONFIG] [-S SOCKET] [-D STATEDIR] [-R RUNDIR] [-p PREFIX] [-n NODE]\n"
	"           [-l LEVEL] [-u ADDRESS] [--backend NAME] [--metrics ADDR:PORT]\n"
	"  -c, --config FILE     JSON configuration (see csd(8))\n"
	"  -S, --socket PATH     control socket (default " CS_DEFAULT_SOCKET ")\n"
	"  -D, --state-dir DIR   state directory; the SQLite store lives there (default /var/lib/cs)\n"
	"  -R, --run-dir DIR     runtime directory: the prefix's lock and claim (default /run/cs)\n"
	"  -p, --prefix PREFIX   prefix of every kernel object, 1-8 of [a-z0-9] (default cs)\n"
	"  -n, --node NAME       node name (default: the host name)\n"
	"  -l, --log-level LEVEL error, warning, notice, info or debug (default info)\n"
	"  -u, --underlay ADDR   this node's underlay address\n"
	"      --backend NAME    vnet backend: kernel (default), ovs (Open vSwitch, over the\n"
	"                        ovsdb setting's socket) or recording (changes nothing; for tests)\n"
	"      --metrics ADDR:PORT  serve GET /metrics there (needs metrics_token_file)\n"
	"      --encrypt MODE    the underlay between nodes: none (default) or wireguard\n"
	"  -h, --help            this text;  -V, --version  the version\n";

static char *dup_or_keep(char *cur, const char *v)
{
	if (cur)
		return cur;
	return v ? strdup(v) : NULL;
}

static bool prefix_valid(const char *p)
{
	size_t n = strlen(p);

	if (n < 1 || n > VNET_PREFIX_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9')))
			return false;
	return true;
}

/* A string key of a nested object, and where it goes. */
struct cfg_str {
	const char *key;
	char **slot;
};

/*
 * @obj (at JSON path @path) holds only the string keys @keys names, each a
 * non-empty string; they are copied to their slots.
 */
static int load_strings(const char *file, const char *path, json_t *obj,
			const struct cfg_str *keys, size_t n, char *err, size_t errlen)
{
	char known[128] = "";
	const char *key;
	json_t *v;
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
			 i ? ", " : "", keys[i].key);
	if (!json_is_object(obj)) {
		snprintf(err, errlen, "%s: %s: expected an object with %s", file, path, known);
		return CS_EINVAL;
	}
	json_object_foreach(obj, key, v) {
		for (i = 0; i < n && strcmp(key, keys[i].key); i++)
			;
		if (i == n) {
			snprintf(err, errlen, "%s: %s.%s: unknown key (known: %s)", file, path, key,
				 known);
			return CS_EINVAL;
		}
		if (!json_is_string(v) || !json_string_length(v)) {
			snprintf(err, errlen, "%s: %s.%s: expected a non-empty string", file, path,
				 key);
			return CS_EINVAL;
		}
		free(*keys[i].slot);
		if (!(*keys[i].slot = strdup(json_string_value(v))))
			return CS_ENOMEM;
	}
	return 0;
}

/* A file csd reads (a certificate, a key): a readable regular file. */
static int check_readable(const char *file, const char *what, const char *path, char *err,
			  size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s %s: cannot read it: %s", file, what, path,
			 strerror(errno));
		return CS_EINVAL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: %s %s: not a regular file; give the PEM file itself",
			 file, what, path);
		close(fd);
		return CS_EINVAL;
	}
	close(fd);
	return 0;
}

#define PASSWORD_MAX 4096

/*
 * The password, from a file only csd's user may read and write: a regular
 * file (no symlink: whoever may change where a link points picks the
 * password), owned by csd's user, mode 0600 or stricter.  One trailing
 * newline is not part of it.
 */
static int read_password(const char *file, const char *path, char **out, char *err,
			 size_t errlen)
{
	char buf[PASSWORD_MAX + 1];
	struct stat st;
	ssize_t n, got = 0;
	int fd, r = CS_EINVAL;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(err, errlen, "%s: store.auth.password_file %s: %s", file, path,
			 errno == ELOOP ? "is a symbolic link; give the file itself (a link lets "
			 "whoever controls it choose the password)" : strerror(errno));
		return CS_EINVAL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: store.auth.password_file %s: not a regular file", file,
			 path);
		goto out;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s: store.auth.password_file %s: mode %04o lets group or "
			 "others read or write it; chmod 600 %s", file, path,
			 (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s: store.auth.password_file %s: owned by uid %u, not by "
			 "csd's uid %u; chown %u %s", file, path, (unsigned)st.st_uid,
			 (unsigned)geteuid(), (unsigned)geteuid(), path);
		goto out;
	}
	while (got < PASSWORD_MAX + 1 &&
	       (n = read(fd, buf + got, (size_t)(PASSWORD_MAX + 1 - got))) > 0)
		got += n;
	if (got > 0 && buf[got - 1] == '\n')
		got--;
	if (got > 0 && buf[got - 1] == '\r')
		got--;
	if (got <= 0 || got > PASSWORD_MAX || memchr(buf, '\0', (size_t)got)) {
		snprintf(err, errlen, "%s: store.auth.password_file %s: expected the password, "
			 "1-%d bytes on one line", file, path, PASSWORD_MAX);
		goto out;
	}
	buf[got] = '\0';
	r = (*out = strdup(buf)) ? 0 : CS_ENOMEM;
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return r;
}

/* store.endpoints: URLs, https:// when TLS is asked for. */
static int load_endpoints(struct csd_config *cfg, json_t *eps, bool tls, char *err,
			  size_t errlen)
{
	const char *file = cfg->config_path, *u;
	size_t i;
	json_t *e;

	if (!json_is_array(eps) || !json_array_size(eps)) {
		snprintf(err, errlen, "%s: store.endpoints: expected a list of etcd URLs such as "
			 "[\"https://192.0.2.100:2379\"]", file);
		return CS_EINVAL;
	}
	cfg->etcd_endpoints = calloc(json_array_size(eps) + 1, sizeof(char *));
	if (!cfg->etcd_endpoints)
		return CS_ENOMEM;
	json_array_foreach(eps, i, e) {
		u = json_string_value(e);
		if (!u || (strncmp(u, "http://", 7) && strncmp(u, "https://", 8))) {
			snprintf(err, errlen, "%s: store.endpoints[%zu]: expected an http:// or "
				 "https:// URL", file, i);
			return CS_EINVAL;
		}
		if (tls && strncmp(u, "https://", 8)) {
			snprintf(err, errlen, "%s: store.endpoints[%zu]: \"%s\" is not TLS, but "
				 "store.tls is set; use https://", file, i, u);
			return CS_EINVAL;
		}
		if (!(cfg->etcd_endpoints[i] = strdup(u)))
			return CS_ENOMEM;
	}
	return 0;
}

/* store.tls and store.auth: the files are there, the password read. */
/* "resolvers": ["192.0.2.53", ...], addresses the gateways' DNS forwards to */
static int load_resolvers(struct csd_config *cfg, const json_t *v, char *err, size_t errlen)
{
	size_t i, n = json_array_size(v);
	json_t *a;

	if (!json_is_array(v) || n > 8) {
		snprintf(err, errlen, "%s: resolvers: expected an array of at most 8 addresses",
			 cfg->config_path);
		return CS_EINVAL;
	}
	json_array_foreach(v, i, a) {
		struct cs_addr ad;
		if (!json_is_string(a) || cs_addr_parse(json_string_value(a), &ad) < 0) {
			snprintf(err, errlen, "%s: resolvers[%zu]: expected an IPv4 or IPv6 address",
				 cfg->config_path, i);
			return CS_EINVAL;
		}
	}
	for (i = 0; cfg->resolvers && cfg->resolvers[i]; i++)
		free(cfg->resolvers[i]);
	free(cfg->resolvers);
	if (!(cfg->resolvers = calloc(n + 1, sizeof(char *))))
		return CS_ENOMEM;
	json_array_foreach(v, i, a)
		cfg->resolvers[i] = strdup(json_string_value(a));
	return 0;
}

static int load_store_security(struct csd_config *cfg, json_t *tls, json_t *auth, char *err,
			       size_t errlen)
{
	const struct cfg_str tls_keys[] = {
		{ "ca", &cfg->etcd_ca }, { "cert", &cfg->etcd_cert }, { "key", &cfg->etcd_key },
	};
	const struct cfg_str auth_keys[] = {
		{ "user", &cfg->etcd_user }, { "password_file", &cfg->etcd_password_file },
	};
	const char *file = cfg->config_path;
	int r;

	if (tls && (r = load_strings(file, "store.tls", tls, tls_keys, 3, err, errlen)) < 0)
		return r;
	if (auth && (r = load_strings(file, "store.auth", auth, auth_keys, 2, err, errlen)) < 0)
		return r;
	if (!cfg->etcd_cert != !cfg->etcd_key) {
		snprintf(err, errlen, "%s: store.tls: give cert and key together (csd's client "
			 "certificate and its private key)", file);
		return CS_EINVAL;
	}
	if (auth && (!cfg->etcd_user || !cfg->etcd_password_file)) {
		snprintf(err, errlen, "%s: store.auth: give user and password_file", file);
		return CS_EINVAL;
	}
	if ((cfg->etcd_ca && check_readable(file, "store.tls.ca", cfg->etcd_ca, err, errlen)) ||
	    (cfg->etcd_cert &&
	     check_readable(file, "store.tls.cert", cfg->etcd_cert, err, errlen)) ||
	    (cfg->etcd_key && check_readable(file, "store.tls.key", cfg->etcd_key, err, errlen)))
		return CS_EINVAL;
	if (auth)
		return read_password(file, cfg->etcd_password_file, &cfg->etcd_password, err,
				     errlen);
	return 0;
}

/* "store": {"type": "sqlite"} | {"type": "etcd", "endpoints", "prefix", "tls", "auth"} */
static int load_store(struct csd_config *cfg, json_t *v, char *err, size_t errlen)
{
	const char *file = cfg->config_path, *type = NULL, *key;
	json_t *eps = NULL, *tls = NULL, *auth = NULL, *x;

	if (!json_is_object(v)) {
		snprintf(err, errlen, "%s: store: expected {\"type\": \"sqlite\"} or {\"type\": "
			 "\"etcd\", \"endpoints\": [...], \"prefix\": \"/cs\"}", file);
		return CS_EINVAL;
	}
	json_object_foreach(v, key, x) {
		if (!strcmp(key, "type") || !strcmp(key, "prefix")) {
			if (!json_is_string(x) || !json_string_length(x)) {
				snprintf(err, errlen, "%s: store.%s: expected a string", file, key);
				return CS_EINVAL;
			}
		} else if (strcmp(key, "endpoints") && strcmp(key, "tls") && strcmp(key, "auth")) {
			snprintf(err, errlen, "%s: store.%s: unknown key (known: type, endpoints, "
				 "prefix, tls, auth)", file, key);
			return CS_EINVAL;
		}
	}
	type = json_string_value(json_object_get(v, "type"));
	eps = json_object_get(v, "endpoints");
	tls = json_object_get(v, "tls");
	auth = json_object_get(v, "auth");
	if (!type || (strcmp(type, "sqlite") && strcmp(type, "etcd"))) {
		snprintf(err, errlen, "%s: store.type: expected \"sqlite\" or \"etcd\"", file);
		return CS_EINVAL;
	}
	if (!strcmp(type, "sqlite") && (eps || tls || auth || json_object_get(v, "prefix"))) {
		snprintf(err, errlen, "%s: store: endpoints, prefix, tls and auth are for type "
			 "\"etcd\"", file);
		return CS_EINVAL;
	}
	free(cfg->store_type);
	if (!(cfg->store_type = strdup(type)))
		return CS_ENOMEM;
	if (!strcmp(type, "sqlite"))
		return 0;
	if (json_object_get(v, "prefix") &&
	    !(cfg->etcd_prefix = strdup(json_string_value(json_object_get(v, "prefix")))))
		return CS_ENOMEM;
	if (load_endpoints(cfg, eps, tls != NULL, err, errlen) < 0)
		return CS_EINVAL;
	return load_store_security(cfg, tls, auth, err, errlen);
}

/* The encrypted underlay's keys: 1 taken, 0 not one of them, or an error. */
static int encrypt_key(struct csd_config *cfg, const char *key, const json_t *v, char *err,
		       size_t errlen)
{
	const char *s = json_string_value(v);
	json_int_t i = json_integer_value(v);

	if (!strcmp(key, "wg_port")) {
		if (!json_is_integer(v) || i < 1 || i > 65535 || i == 4789) {
			snprintf(err, errlen, "%s: wg_port: expected a UDP port 1-65535 other than "
				 "VXLAN's 4789", cfg->config_path);
			return CS_EINVAL;
		}
		cfg->wg_port = (unsigned)i;
		return 1;
	}
	if (strcmp(key, "encrypt") && strcmp(key, "wg_driver"))
		return 0;
	if (!s) {
		snprintf(err, errlen, "%s: %s: expected a string", cfg->config_path, key);
		return CS_EINVAL;
	}
	if (!strcmp(key, "encrypt"))
		cfg->encrypt = dup_or_keep(cfg->encrypt, s);
	else
		cfg->wg_driver = dup_or_keep(cfg->wg_driver, s);
	return 1;
}

/* Defaults and checks of the encrypted underlay's settings. */
static int encrypt_check(struct csd_config *cfg, char *err, size_t errlen)
{
	if (!cfg->wg_port)
		cfg->wg_port = WG_PORT_DEFAULT;
	cfg->encrypt = dup_or_keep(cfg->encrypt, "none");
	cfg->wg_driver = dup_or_keep(cfg->wg_driver, "auto");
	if (strcmp(cfg->encrypt, "none") && strcmp(cfg->encrypt, "wireguard")) {
		snprintf(err, errlen, "encrypt \"%s\": unknown; use none or wireguard",
			 cfg->encrypt);
		return CS_EINVAL;
	}
	if (strcmp(cfg->wg_driver, "auto") && strcmp(cfg->wg_driver, "kernel") &&
	    strcmp(cfg->wg_driver, "wireguard-go")) {
		snprintf(err, errlen, "wg_driver \"%s\": unknown; use auto, kernel or wireguard-go",
			 cfg->wg_driver);
		return CS_EINVAL;
	}
	return 0;
}

/* the file as JSON, or NULL with err saying why in the usual words */
static json_t *load_root(const struct csd_config *cfg, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_load_file(cfg->config_path, 0, &je);
	struct stat st;

	if (root)
		return root;
	/* jansson reports an unreadable file at line -1 with its own words;
	 * stat(2) says why in the usual ones */
	if (stat(cfg->config_path, &st) < 0)
		snprintf(err, errlen, "cannot read %s: %s", cfg->config_path, strerror(errno));
	else if (S_ISDIR(st.st_mode))
		snprintf(err, errlen, "cannot read %s: it is a directory; give the JSON "
			 "configuration file", cfg->config_path);
	else if (je.line < 0)
		snprintf(err, errlen, "cannot read %s: %s", cfg->config_path, je.text);
	else
		snprintf(err, errlen, "%s:%d:%d: %s", cfg->config_path, je.line, je.column,
			 je.text);
	return NULL;
}

/* where a key whose value is a plain string goes, or NULL */
static char **string_slot(struct csd_config *cfg, const char *key)
{
	const struct {
		const char *key;
		char **slot;
	} slots[] = {
		{ "node", &cfg->node },
		{ "underlay", &cfg->underlay },
		{ "socket", &cfg->socket_path },
		{ "state_dir", &cfg->state_dir },
		{ "run_dir", &cfg->run_dir },
		{ "prefix", &cfg->prefix },
		{ "backend", &cfg->backend },
		{ "metrics", &cfg->metrics },
		{ "metrics_token_file", &cfg->metrics_token_file },
		{ "ovsdb", &cfg->ovsdb },
	};

	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
		if (!strcmp(key, slots[i].key))
			return slots[i].slot;
	return NULL;
}

/* keys holding one number or word with a range: 1 when key is one of them
 * (and its value fits), 0 when it is not, CS_EINVAL with err */
static int load_scalar(struct csd_config *cfg, const char *key, const json_t *v, char *err,
		       size_t errlen)
{
	const char *s = json_string_value(v);
	json_int_t i = json_integer_value(v);

	if (!strcmp(key, "log_level")) {
		if (!s || log_level_parse(s) < 0) {
			snprintf(err, errlen, "%s: log_level: expected error, warning, notice, "
				 "info or debug", cfg->config_path);
			return CS_EINVAL;
		}
		if (cfg->log_level < 0)
			cfg->log_level = log_level_parse(s);
	} else if (!strcmp(key, "headroom")) {
		double h = json_number_value(v);
		if (!json_is_number(v) || h < 0 || h >= 1) {
			snprintf(err, errlen, "%s: headroom: expected a number in [0, 1), the "
				 "share of capacity never reserved", cfg->config_path);
			return CS_EINVAL;
		}
		cfg->headroom = h;
	} else if (!strcmp(key, "reconcile_interval")) {
		if (!json_is_integer(v) || i < 1 || i > 86400) {
			snprintf(err, errlen, "%s: reconcile_interval: expected seconds, 1-86400",
				 cfg->config_path);
			return CS_EINVAL;
		}
		cfg->reconcile_interval = (unsigned)i;
	} else if (!strcmp(key, "message_max")) {
		if (!json_is_integer(v) || i < 4096 || i > (json_int_t)1 << 30) {
			snprintf(err, errlen, "%s: message_max: expected bytes, 4096-1073741824",
				 cfg->config_path);
			return CS_EINVAL;
		}
		cfg->msg_max = (size_t)i;
	} else if (!strcmp(key, "publish_ports")) {
		unsigned lo, hi;
		char end;
		if (!s || sscanf(s, "%u-%u%c", &lo, &hi, &end) != 2 || lo < 1 || hi > 65535 ||
		    lo > hi) {
			snprintf(err, errlen, "%s: publish_ports: expected \"LOW-HIGH\", ports "
				 "1-65535 (e.g. \"1024-65535\")", cfg->config_path);
			return CS_EINVAL;
		}
		cfg->publish_lo = lo;
		cfg->publish_hi = hi;
	} else {
		return 0;
	}
	return 1;
}

static int load_admin_gids(struct csd_config *cfg, const json_t *v, char *err, size_t errlen)
{
	size_t i;
	json_t *g;

	if (!json_is_array(v)) {
		snprintf(err, errlen, "%s: admin_gids: expected an array of gids", cfg->config_path);
		return CS_EINVAL;
	}
	free(cfg->admin_gids);
	cfg->admin_gids = calloc(json_array_size(v) + 1, sizeof(gid_t));
	cfg->n_admin_gids = 0;
	json_array_foreach(v, i, g) {
		if (!json_is_integer(g) || json_integer_value(g) < 0) {
			snprintf(err, errlen, "%s: admin_gids[%zu]: expected a gid", cfg->config_path,
				 i);
			return CS_EINVAL;
		}
		cfg->admin_gids[cfg->n_admin_gids++] = (gid_t)json_integer_value(g);
	}
	return 0;
}

/* checked as a tenant's quotas are, so the messages match */
static int load_default_quotas(struct csd_config *cfg, json_t *v, char *err, size_t errlen)
{
	struct schema_errors errs = { 0 };
	json_t *t = json_pack("{s:O}", "quotas", v);
	size_t bad = t ? schema_validate(SCHEMA_TENANT, t, "default_", &errs) : 1;

	json_decref(t);
	if (bad || !json_is_object(v)) {
		char *all = schema_errors_join(&errs);
		snprintf(err, errlen, "%s: %s", cfg->config_path, all && *all ? all :
			 "default_quotas: expected an object such as {\"vnets\": 10, "
			 "\"endpoints\": 100, \"bandwidth\": \"1gbit\"}");
		free(all);
		schema_errors_clear(&errs);
		return CS_EINVAL;
	}
	json_decref(cfg->default_quotas);
	cfg->default_quotas = json_incref(v);
	return 0;
}

/* "backends": the backends vnets may name besides --backend */
static int load_backends(struct csd_config *cfg, const json_t *v, char *err, size_t errlen)
{
	size_t i;
	json_t *el;

	if (!json_is_array(v) || json_array_size(v) > CSD_BACKENDS_MAX - 1) {
		snprintf(err, errlen, "%s: backends: expected an array of at most %d backend "
			 "names, e.g. [\"ovs\"]", cfg->config_path, CSD_BACKENDS_MAX - 1);
		return CS_EINVAL;
	}
	json_array_foreach(v, i, el) {
		const char *name = json_string_value(el);
		if (!name || !vnet_ops_find(name)) {
			snprintf(err, errlen, "%s: backends[%zu]: expected kernel, ovs or recording "
				 "(for tests)", cfg->config_path, i);
			return CS_EINVAL;
		}
	}
	for (i = 0; i < cfg->nbackends; i++)
		free(cfg->backends[i]);
	free(cfg->backends);
	cfg->nbackends = 0;
	if (!(cfg->backends = calloc(json_array_size(v) + 1, sizeof(char *))))
		return CS_ENOMEM;
	json_array_foreach(v, i, el)
		if ((cfg->backends[cfg->nbackends] = strdup(json_string_value(el))))
			cfg->nbackends++;
	return 0;
}

static int load_key(struct csd_config *cfg, const char *key, json_t *v, char *err,
		    size_t errlen)
{
	char **slot = string_slot(cfg, key);
	int k;

	if ((k = encrypt_key(cfg, key, v, err, errlen)) != 0)
		return k < 0 ? k : 0;
	if (slot) {
		if (!json_is_string(v)) {
			snprintf(err, errlen, "%s: %s: expected a string", cfg->config_path, key);
			return CS_EINVAL;
		}
		*slot = dup_or_keep(*slot, json_string_value(v));
		return 0;
	}
	if ((k = load_scalar(cfg, key, v, err, errlen)) != 0)
		return k < 0 ? k : 0;
	if (!strcmp(key, "limits"))
		return limits_parse(&cfg->limits, v, cfg->config_path, err, errlen) < 0 ? CS_EINVAL
											 : 0;
	if (!strcmp(key, "admin_gids"))
		return load_admin_gids(cfg, v, err, errlen);
	if (!strcmp(key, "default_quotas"))
		return load_default_quotas(cfg, v, err, errlen);
	if (!strcmp(key, "store"))
		return load_store(cfg, v, err, errlen) < 0 ? CS_EINVAL : 0;
	if (!strcmp(key, "resolvers"))
		return load_resolvers(cfg, v, err, errlen) < 0 ? CS_EINVAL : 0;
	if (!strcmp(key, "backends"))
		return load_backends(cfg, v, err, errlen);
	snprintf(err, errlen, "%s: %s: unknown key (known: node, underlay, store, "
		 "admin_gids, headroom, socket, state_dir, run_dir, prefix, log_level, "
		 "reconcile_interval, message_max, backend, default_quotas, limits, metrics, "
		 "metrics_token_file, encrypt, wg_port, wg_driver, ovsdb, resolvers, publish_ports, "
		 "backends)",
		 cfg->config_path, key);
	return CS_EINVAL;
}

static int load_file(struct csd_config *cfg, char *err, size_t errlen)
{
	json_t *root = load_root(cfg, err, errlen), *v;
	const char *key;
	int r = CS_EINVAL;

	if (!root)
		return CS_EINVAL;
	if (!json_is_object(root)) {
		snprintf(err, errlen, "%s: expected a JSON object", cfg->config_path);
		goto out;
	}
	json_object_foreach(root, key, v)
		if (load_key(cfg, key, v, err, errlen) < 0)
			goto out;
	r = 0;
out:
	json_decref(root);
	return r;
}

static char *default_node(void)
{
	char host[256] = "";

	gethostname(host, sizeof(host) - 1);
	char *dot = strchr(host, '.');
	if (dot)
		*dot = '\0';
	for (char *p = host; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	host[CS_NAME_MAX] = '\0';
	return strdup(cs_name_valid(host) ? host : "local");
}

/* the command line: 1 when it asked for help or the version (printed),
 * 0 to go on, CS_EINVAL with err */
static int parse_args(struct csd_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 'S' },
		{ "state-dir", required_argument, NULL, 'D' },
		{ "run-dir", required_argument, NULL, 'R' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "node", required_argument, NULL, 'n' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "underlay", required_argument, NULL, 'u' },
		{ "backend", required_argument, NULL, 'B' },
		{ "metrics", required_argument, NULL, 'M' },
		{ "encrypt", required_argument, NULL, 'E' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:S:D:R:p:n:l:u:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': free(cfg->config_path); cfg->config_path = strdup(optarg); break;
		case 'S': free(cfg->socket_path); cfg->socket_path = strdup(optarg); break;
		case 'D': free(cfg->state_dir); cfg->state_dir = strdup(optarg); break;
		case 'R': free(cfg->run_dir); cfg->run_dir = strdup(optarg); break;
		case 'p': free(cfg->prefix); cfg->prefix = strdup(optarg); break;
		case 'n': free(cfg->node); cfg->node = strdup(optarg); break;
		case 'u': free(cfg->underlay); cfg->underlay = strdup(optarg); break;
		case 'B': free(cfg->backend); cfg->backend = strdup(optarg); break;
		case 'M': free(cfg->metrics); cfg->metrics = strdup(optarg); break;
		case 'E': free(cfg->encrypt); cfg->encrypt = strdup(optarg); break;
		case 'l':
			if ((cfg->log_level = log_level_parse(optarg)) < 0) {
				snprintf(err, errlen, "-l %s: unknown level; use error, warning, notice, "
					 "info or debug", optarg);
				return CS_EINVAL;
			}
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 1;
		case 'V':
			printf("csd %s\n", CS_VERSION);
			return 1;
		default:
			snprintf(err, errlen, "bad usage; see csd --help");
			return CS_EINVAL;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument \"%s\"; see csd --help", argv[optind]);
		return CS_EINVAL;
	}
	return 0;
}

/* what neither the command line nor the file set */
static void set_defaults(struct csd_config *cfg)
{
	cfg->socket_path = dup_or_keep(cfg->socket_path, CS_DEFAULT_SOCKET);
	cfg->state_dir = dup_or_keep(cfg->state_dir, "/var/lib/cs");
	cfg->run_dir = dup_or_keep(cfg->run_dir, "/run/cs");
	cfg->prefix = dup_or_keep(cfg->prefix, "cs");
	cfg->backend = dup_or_keep(cfg->backend, "kernel");
	cfg->ovsdb = dup_or_keep(cfg->ovsdb, OVSDB_DEFAULT);
	if (!cfg->node)
		cfg->node = default_node();
	if (cfg->log_level < 0)
		cfg->log_level = 6;
	if (!cfg->msg_max)
		cfg->msg_max = CS_WIRE_MSG_MAX_DEFAULT;
	limits_defaults(&cfg->limits);
}

/* the settings that hold together only once all are known */
static int check_settings(struct csd_config *cfg, char *err, size_t errlen)
{
	if (encrypt_check(cfg, err, errlen) < 0)
		return CS_EINVAL;
	if (!prefix_valid(cfg->prefix)) {
		snprintf(err, errlen, "prefix \"%s\": use 1-%d characters a-z, 0-9 (kernel link "
			 "names must stay within 15 characters)", cfg->prefix, VNET_PREFIX_MAX);
		return CS_EINVAL;
	}
	if (!vnet_ops_find(cfg->backend)) {
		snprintf(err, errlen, "backend \"%s\": unknown; use kernel, ovs, user or recording (for tests)",
			 cfg->backend);
		return CS_EINVAL;
	}
	if (!cs_name_valid(cfg->node)) {
		snprintf(err, errlen, "node name \"%s\": use 1-32 characters a-z, 0-9, '-', '_'",
			 cfg->node);
		return CS_EINVAL;
	}
	if (cfg->underlay) {
		struct cs_addr a;
		uint16_t port;
		if (cs_addr_port_parse(cfg->underlay, CS_VXLAN_PORT, &a, &port) < 0) {
			snprintf(err, errlen, "underlay \"%s\" is not an IPv4 or IPv6 address with "
				 "an optional port (192.0.2.1, 127.0.0.1:4790, [2001:db8::1]:4790)",
				 cfg->underlay);
			return CS_EINVAL;
		}
	}
	return 0;
}

int csd_config_load(struct csd_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	int r;

	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = -1;
	cfg->headroom = 0.1;
	cfg->publish_lo = 1024;
	cfg->publish_hi = 65535;
	if ((r = parse_args(cfg, argc, argv, err, errlen)) != 0)
		return r;
	if (cfg->config_path && load_file(cfg, err, errlen) < 0)
		return CS_EINVAL;
	set_defaults(cfg);
	return check_settings(cfg, err, errlen);
}

void csd_config_free(struct csd_config *cfg)
{
	free(cfg->config_path);
	free(cfg->socket_path);
	free(cfg->state_dir);
	free(cfg->run_dir);
	free(cfg->prefix);
	free(cfg->node);
	free(cfg->underlay);
	free(cfg->backend);
	for (size_t i = 0; i < cfg->nbackends; i++)
		free(cfg->backends[i]);
	free(cfg->backends);
	free(cfg->metrics);
	free(cfg->metrics_token_file);
	free(cfg->encrypt);
	free(cfg->wg_driver);
	free(cfg->ovsdb);
	for (size_t i = 0; cfg->resolvers && cfg->resolvers[i]; i++)
		free(cfg->resolvers[i]);
	free(cfg->resolvers);
	free(cfg->store_type);
	if (cfg->etcd_endpoints)
		for (char **p = cfg->etcd_endpoints; *p; p++)
			free(*p);
	free(cfg->etcd_endpoints);
	free(cfg->etcd_prefix);
	free(cfg->etcd_ca);
	free(cfg->etcd_cert);
	free(cfg->etcd_key);
	free(cfg->etcd_user);
	free(cfg->etcd_password_file);
	if (cfg->etcd_password)
		explicit_bzero(cfg->etcd_password, strlen(cfg->etcd_password));
	free(cfg->etcd_password);
	free(cfg->admin_gids);
	json_decref(cfg->default_quotas);
	memset(cfg, 0, sizeof(*cfg));
}
