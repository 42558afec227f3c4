/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cs-cni: a CNI 1.0 plugin (the container runtime runs it with CNI_COMMAND,
 * CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME in its environment and the network
 * configuration on stdin) that attaches a container's network namespace to
 * a vnet as an endpoint, through csd (cs-cni(8)).
 *
 * The endpoint's name follows from the container id alone, so DEL finds it
 * without prevResult: "c" + up to 12 of the id's first characters (those
 * that are a-z or 0-9, lowercased) + "-" + the first 16 hex digits of the
 * SHA-256 of the whole id (at most 30 characters; names take 32). Two ids
 * would have to share those 64 bits of hash to collide, and a collision
 * is refused by csd (the name exists), never an attach to the other one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "cs/cs.h"

#define CNI_VERSION "1.0.0"
#define NAME_LEN 32	/* csd's names: 1-32 characters */

/* The spec's error codes (SPEC.md, "Error"). */
enum {
	CNI_E_VERSION = 1, CNI_E_FIELD = 2, CNI_E_UNKNOWN = 3, CNI_E_ENV = 4, CNI_E_IO = 5,
	CNI_E_DECODE = 6, CNI_E_CONFIG = 7, CNI_E_AGAIN = 11,
};

/* An error result on stdout; exits 1. */
static int __attribute__((format(printf, 2, 3))) cni_fail(int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_t *o = json_pack("{s:s, s:i, s:s}", "cniVersion", CNI_VERSION, "code", code, "msg",
			      msg);
	json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(o);
	return 1;
}

/* What a csd code means to a runtime: gone is unknown, busy is again. */
static int cs_fail(cs_t *cs, int r, const char *what)
{
	int code = r == CS_ECONN || r == CS_EUNAVAIL || r == CS_ECONFLICT ? CNI_E_AGAIN
		   : r == CS_ENOENT ? CNI_E_UNKNOWN : r == CS_EINVAL ? CNI_E_CONFIG : CNI_E_IO;
	const char *why = cs_last_error(cs);

	return cni_fail(code, "%s: %s", what, why && *why ? why : cs_strerror(r));
}

struct cni {
	const char *cmd, *id, *netns, *ifname;
	json_t *conf;
	const char *vnet, *socket;
	bool named;                  /* the configuration names the endpoint */
	char name[NAME_LEN + 1];     /* the endpoint's */
	char full[3 * (NAME_LEN + 1)];
};

static void endpoint_name(const char *id, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t n = 1;

	out[0] = 'c';
	for (const char *p = id; *p && n < 13; p++)
		if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
			out[n++] = *p;
		else if (*p >= 'A' && *p <= 'Z')
			out[n++] = (char)(*p - 'A' + 'a');
	out[n++] = '-';
	EVP_Digest(id, strlen(id), md, &mdlen, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < 8 && i < mdlen; i++, n += 2)
		snprintf(out + n, 3, "%02x", md[i]);
	out[n] = '\0';
}

/* Environment and configuration; 0 or an error already printed. */
static int cni_load(struct cni *c)
{
	json_error_t e;

	c->id = getenv("CNI_CONTAINERID");
	c->netns = getenv("CNI_NETNS");
	c->ifname = getenv("CNI_IFNAME");
	if (!c->id || !*c->id)
		return cni_fail(CNI_E_ENV, "CNI_CONTAINERID is not set");
	if (!strcmp(c->cmd, "ADD") && (!c->netns || !*c->netns))
		return cni_fail(CNI_E_ENV, "CNI_NETNS is not set (ADD needs the namespace)");
	if (!c->ifname || !*c->ifname)
		c->ifname = "eth0";
	c->conf = json_loadf(stdin, JSON_DISABLE_EOF_CHECK, &e);
	if (!json_is_object(c->conf))
		return cni_fail(CNI_E_DECODE, "the network configuration on stdin is not a JSON "
				"object: %s", c->conf ? "not an object" : e.text);
	const char *ver = json_string_value(json_object_get(c->conf, "cniVersion"));
	if (!ver || strcmp(ver, CNI_VERSION))
		return cni_fail(CNI_E_VERSION, "cniVersion \"%s\" is not supported (only "
				CNI_VERSION ")", ver ? ver : "");
	c->vnet = json_string_value(json_object_get(c->conf, "vnet"));
	c->socket = json_string_value(json_object_get(c->conf, "socket"));
	const char *named = json_string_value(json_object_get(c->conf, "endpoint"));
	if (!c->vnet || !strchr(c->vnet, '/'))
		return cni_fail(CNI_E_CONFIG, "the network configuration needs \"vnet\": "
				"\"TENANT/VNET\"");
	if (named && strlen(named) > NAME_LEN)
		return cni_fail(CNI_E_CONFIG, "\"endpoint\": \"%s\" is longer than %d characters",
				named, NAME_LEN);
	c->named = named != NULL;
	if (named)
		snprintf(c->name, sizeof(c->name), "%s", named);
	else
		endpoint_name(c->id, c->name);
	snprintf(c->full, sizeof(c->full), "%s/%s", c->vnet, c->name);
	return 0;
}

/* The first host address of @prefix (the vnet's gateway) into @gw. */
static int gateway_of(const char *prefix, char *gw, size_t len, int *plen, bool *v6)
{
	unsigned char a[16];
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(prefix, '/');

	if (!slash || (size_t)(slash - prefix) >= sizeof(addr))
		return -1;
	snprintf(addr, sizeof(addr), "%.*s", (int)(slash - prefix), prefix);
	*plen = atoi(slash + 1);
	*v6 = strchr(addr, ':') != NULL;
	if (inet_pton(*v6 ? AF_INET6 : AF_INET, addr, a) != 1)
		return -1;
	a[*v6 ? 15 : 3] |= 1;
	return inet_ntop(*v6 ? AF_INET6 : AF_INET, a, gw, (socklen_t)len) ? 0 : -1;
}

/* The MAC of @ifname inside namespace @fd ("" when it cannot be read). */
static void mac_in(int fd, const char *ifname, char *out, size_t len)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC), s;
	struct ifreq ifr = { 0 };

	out[0] = '\0';
	if (self < 0 || setns(fd, CLONE_NEWNET) < 0)
		goto out;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s >= 0 && ioctl(s, SIOCGIFHWADDR, &ifr) == 0) {
		unsigned char *m = (unsigned char *)ifr.ifr_hwaddr.sa_data;
		snprintf(out, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
			 m[5]);
	}
	if (s >= 0)
		close(s);
	if (setns(self, CLONE_NEWNET) < 0)
		exit(cni_fail(CNI_E_IO, "cannot return to the plugin's namespace: %s",
			      strerror(errno)));
out:
	if (self >= 0)
		close(self);
}

/* The CNI result of endpoint @ep (as shown) of vnet @vn. */
static json_t *result_of(struct cni *c, const json_t *ep, const json_t *vn, int nsfd)
{
	json_t *ips = json_array(), *routes = json_array(), *ns = json_array(), *el;
	bool egress = json_is_true(json_object_get(vn, "egress"));
	json_t *subnets = json_object_get(vn, "subnet");
	/* one subnet is a string, two an array */
	subnets = json_is_string(subnets) ? json_pack("[O]", subnets) : json_incref(subnets);
	char mac[32], gw[INET6_ADDRSTRLEN], search[2 * NAME_LEN + 8], ip[80];
	size_t i, j;

	/* one address is a string, two an array */
	json_t *addrs = json_object_get(ep, "address");
	addrs = json_is_string(addrs) ? json_pack("[O]", addrs) : json_incref(addrs);
	json_array_foreach(addrs, i, el) {
		json_t *sn;
		json_array_foreach(json_is_array(subnets) ? subnets : NULL, j, sn) {
			int plen;
			bool v6;
			const char *a = json_string_value(el);
			if (!a || gateway_of(json_string_value(sn), gw, sizeof(gw), &plen, &v6) < 0 ||
			    (strchr(a, ':') != NULL) != v6)
				continue;
			snprintf(ip, sizeof(ip), "%s/%d", a, plen);
			json_array_append_new(ips, json_pack("{s:s, s:s, s:i}", "address", ip,
							     "gateway", gw, "interface", 0));
			json_array_append_new(ns, json_string(gw));
			if (egress)
				json_array_append_new(routes, json_pack("{s:s, s:s}", "dst",
					v6 ? "::/0" : "0.0.0.0/0", "gw", gw));
		}
	}
	json_decref(subnets);
	json_decref(addrs);
	mac_in(nsfd, c->ifname, mac, sizeof(mac));
	json_t *itf = json_pack("{s:s, s:s}", "name", c->ifname, "sandbox", c->netns);
	if (*mac)
		json_object_set_new(itf, "mac", json_string(mac));
	const char *slash = strchr(c->vnet, '/');
	snprintf(search, sizeof(search), "%s.%.*s.cs", slash + 1, (int)(slash - c->vnet),
		 c->vnet);
	return json_pack("{s:s, s:[o], s:o, s:o, s:{s:o, s:[s]}}", "cniVersion", CNI_VERSION,
			 "interfaces", itf, "ips", ips, "routes", routes, "dns", "nameservers",
			 ns, "search", search);
}

/* Shown as JSON by csd: endpoint or vnet @name. */
static json_t *shown(cs_t *cs, bool vnet, const char *name, int *r)
{
	char *text = NULL;
	json_t *o;

	*r = vnet ? cs_vnet_show(cs, name, &text) : cs_endpoint_show(cs, name, &text);
	if (*r < 0)
		return NULL;
	o = json_loads(text, 0, NULL);
	cs_free(text);
	return o;
}

static int cni_add(struct cni *c, cs_t *cs)
{
	json_t *spec, *ep = NULL, *vn = NULL;
	int fd, r;

	fd = open(c->netns, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cni_fail(CNI_E_UNKNOWN, "CNI_NETNS %s: cannot open it: %s", c->netns,
				strerror(errno));
	spec = json_pack("{s:s, s:s}", "netns", c->netns, "ifname", c->ifname);
	char *text = json_dumps(spec, JSON_COMPACT);
	r = cs_endpoint_create_netns(cs, c->full, text, fd);
	free(text);
	json_decref(spec);
	if (r < 0) {
		close(fd);
		return cs_fail(cs, r, c->full);
	}
	if (!(ep = shown(cs, false, c->full, &r)) || !(vn = shown(cs, true, c->vnet, &r))) {
		close(fd);
		json_decref(ep);
		return cs_fail(cs, r, c->full);
	}
	json_t *res = result_of(c, ep, vn, fd);
	close(fd);
	json_dumpf(res, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(res);
	json_decref(ep);
	json_decref(vn);
	return 0;
}

/* DEL: gone already (endpoint, namespace or both) is done. An endpoint the
 * configuration names is shared by every container of the network: the
 * DEL a runtime sends after a second container's failed ADD must leave
 * the first's, so it is deleted only when attached to CNI_NETNS. */
static int cni_del(struct cni *c, cs_t *cs)
{
	int r;

	if (c->named && c->netns && *c->netns) {
		json_t *ep = shown(cs, false, c->full, &r);
		const char *at = json_string_value(json_object_get(ep, "attached"));
		bool other = ep && (!at || strcmp(at, c->netns));

		json_decref(ep);
		if (other)
			return 0;
	}
	r = cs_endpoint_delete(cs, c->full);

	return r < 0 && r != CS_ENOENT ? cs_fail(cs, r, c->full) : 0;
}

/* CHECK: the endpoint exists, is realized, and its interface is in
 * CNI_NETNS. */
static int cni_check(struct cni *c, cs_t *cs)
{
	int r, fd;
	json_t *ep = shown(cs, false, c->full, &r);
	const char *state = json_string_value(json_object_get(ep, "state"));
	char mac[32] = "";

	if (!ep)
		return cs_fail(cs, r, c->full);
	if (c->netns && (fd = open(c->netns, O_RDONLY | O_CLOEXEC)) >= 0) {
		mac_in(fd, c->ifname, mac, sizeof(mac));
		close(fd);
	}
	if (!state || strcmp(state, "up"))
		r = cni_fail(CNI_E_UNKNOWN, "endpoint %s is %s", c->full, state ? state : "?");
	else if (!*mac)
		r = cni_fail(CNI_E_UNKNOWN, "endpoint %s: CNI_NETNS %s has no interface %s",
			     c->full, c->netns ? c->netns : "(not set)", c->ifname);
	else
		r = 0;
	json_decref(ep);
	return r;
}

int main(void)
{
	struct cni c = { .cmd = getenv("CNI_COMMAND") };
	cs_t *cs = NULL;
	int r;

	if (!c.cmd)
		return cni_fail(CNI_E_ENV, "CNI_COMMAND is not set (cs-cni is a CNI plugin: a "
				"container runtime runs it; see cs-cni(8))");
	if (!strcmp(c.cmd, "VERSION")) {
		printf("{\"cniVersion\":\"" CNI_VERSION "\",\"supportedVersions\":[\""
		       CNI_VERSION "\"]}\n");
		return 0;
	}
	if (strcmp(c.cmd, "ADD") && strcmp(c.cmd, "DEL") && strcmp(c.cmd, "CHECK"))
		return cni_fail(CNI_E_ENV, "CNI_COMMAND %s is not supported (ADD, DEL, CHECK, "
				"VERSION)", c.cmd);
	if ((r = cni_load(&c)))
		goto out;
	if ((r = cs_open(c.socket, &cs)) < 0) {
		r = cni_fail(CNI_E_AGAIN, "cannot reach csd%s%s: %s", c.socket ? " at " : "",
			     c.socket ? c.socket : "", *cs_last_error(NULL) ? cs_last_error(NULL)
									: cs_strerror(r));
		goto out;
	}
	r = !strcmp(c.cmd, "ADD") ? cni_add(&c, cs) : !strcmp(c.cmd, "DEL") ? cni_del(&c, cs)
									   : cni_check(&c, cs);
out:
	cs_close(cs);
	json_decref(c.conf);
	return r ? 1 : 0;
}
