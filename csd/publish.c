/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Who may publish what (endpoint key "publish"), decided before anything is
 * stored, for endpoint create, set and apply alike: a host port outside the
 * range the administrators allow (csd's "publish_ports", 1024-65535 by
 * default) only for an administrator (policy/authz.c); never a host port
 * another endpoint of the node publishes, nor one a socket of the node
 * holds (found in /proc/net of csd's own namespace, the node's), each
 * refused naming the holder. Otherwise any tenant owner could capture the
 * node's sshd or etcd.
 */
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops.h"
#include "publish.h"
#include "vnet/publish.h"

/* The published ports of an endpoint document's spec, parsed (at most
 * @max); how many. */
static size_t parse_list(const json_t *list, struct vnet_publish *out, size_t max)
{
	char why[256];
	size_t i, n = 0;
	json_t *el;

	json_array_foreach(list, i, el)
		if (n < max && vnet_publish_parse(json_string_value(el), &out[n], why,
						  sizeof(why)) == 0)
			n++;
	return n;
}

/* Does endpoint document @doc (on @node) take a host port of @mine? */
static bool doc_clashes(const json_t *doc, const char *node, const struct vnet_publish *mine,
			size_t n, unsigned *port)
{
	struct vnet_publish theirs[64];
	const char *at = json_string_value(json_object_get(doc, "node"));
	size_t m;

	if (!at || strcmp(at, node))
		return false;
	m = parse_list(json_object_get(json_object_get(doc, "spec"), "publish"), theirs, 64);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < m; k++)
			if (vnet_publish_clash(&mine[i], &theirs[k])) {
				*port = mine[i].hport;
				return true;
			}
	return false;
}

/* The process holding socket inode @ino ("sshd, pid 812"), or "". */
static void socket_holder(unsigned long ino, char *out, size_t len)
{
	char want[64], path[600], link[64];
	DIR *proc = opendir("/proc");
	struct dirent *p;

	*out = '\0';
	snprintf(want, sizeof(want), "socket:[%lu]", ino);
	while (proc && !*out && (p = readdir(proc))) {
		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		DIR *fds = opendir(path);
		struct dirent *f;
		while (fds && !*out && (f = readdir(fds))) {
			snprintf(path, sizeof(path), "/proc/%s/fd/%s", p->d_name, f->d_name);
			ssize_t n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			if (strcmp(link, want))
				continue;
			char comm[64] = "?";
			snprintf(path, sizeof(path), "/proc/%s/comm", p->d_name);
			FILE *c = fopen(path, "re");
			if (c && fgets(comm, sizeof(comm), c))
				comm[strcspn(comm, "\n")] = '\0';
			if (c)
				fclose(c);
			snprintf(out, len, " (%.63s, pid %.20s)", comm, p->d_name);
		}
		if (fds)
			closedir(fds);
	}
	if (proc)
		closedir(proc);
}

/* A socket of this node on @pub's host port: its description, or false. */
static bool host_socket(const struct vnet_publish *pub, char *out, size_t len)
{
	static const struct { const char *file; int proto; int family; } tabs[] = {
		{ "/proc/net/tcp", IPPROTO_TCP, AF_INET }, { "/proc/net/tcp6", IPPROTO_TCP, AF_INET6 },
		{ "/proc/net/udp", IPPROTO_UDP, AF_INET }, { "/proc/net/udp6", IPPROTO_UDP, AF_INET6 },
	};
	char line[512], addr[64], buf[CS_ADDRSTRLEN];

	for (size_t t = 0; t < sizeof(tabs) / sizeof(tabs[0]); t++) {
		FILE *f = tabs[t].proto == pub->proto ? fopen(tabs[t].file, "re") : NULL;
		while (f && fgets(line, sizeof(line), f)) {
			unsigned port, st;
			unsigned long ino;
			if (sscanf(line, " %*d: %63[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*d %*d %lu", addr,
				   &port, &st, &ino) != 4 || port != pub->hport ||
			    (pub->proto == IPPROTO_TCP && st != 0x0A))
				continue;
			struct cs_addr a = { .family = tabs[t].family };
			size_t alen = a.family == AF_INET ? 4 : 16;
			for (size_t i = 0; i < alen; i++) {
				unsigned byte;
				sscanf(addr + 2 * i, "%2x", &byte);
				/* /proc shows each 32-bit word in host order */
				a.a[(i / 4) * 4 + 3 - i % 4] = (uint8_t)byte;
			}
			static const uint8_t any[16];
			bool is_any = !memcmp(a.a, any, alen);
			if (pub->has_host && !is_any && cs_addr_cmp(&a, &pub->host))
				continue;
			char who[128];
			socket_holder(ino, who, sizeof(who));
			snprintf(out, len, "%s%s%s:%u%s", a.family == AF_INET6 ? "[" : "",
				 cs_addr_format(&a, buf), a.family == AF_INET6 ? "]" : "", port, who);
			fclose(f);
			return true;
		}
		if (f)
			fclose(f);
	}
	return false;
}

int publish_check(struct csd *d, const struct principal *who, const char *tve, const char *node,
		  const json_t *list, const json_t *planned, char *err, size_t len)
{
	struct vnet_publish mine[64];
	size_t n = 0, i;
	json_t *docs = NULL, *doc, *el;
	const char *key;
	unsigned port;
	char holder[256], why[256];
	int r;

	/* every path in: a create does not go through the overlay's checks */
	if (!json_is_array(list) || json_array_size(list) > 64) {
		snprintf(err, len, "expected a list of at most 64 [HOSTADDR:]HOSTPORT:PORT[/tcp|/udp]");
		return CS_EINVAL;
	}
	json_array_foreach(list, i, el) {
		if (vnet_publish_parse(json_string_value(el), &mine[n], why, sizeof(why)) < 0) {
			snprintf(err, len, "publish[%zu]: %s", i, why);
			return CS_EINVAL;
		}
		for (size_t k = 0; k < n; k++)
			if (vnet_publish_clash(&mine[k], &mine[n])) {
				snprintf(err, len, "publish[%zu]: host port %u is published twice; "
					 "publish it once", i, mine[n].hport);
				return CS_EINVAL;
			}
		n++;
	}

	/* a csd configured without config_load (tests): the default range */
	unsigned lo = d->cfg.publish_hi ? d->cfg.publish_lo : 1024;
	unsigned hi = d->cfg.publish_hi ? d->cfg.publish_hi : 65535;

	for (i = 0; i < n; i++)
		if (!authz_publish(who, mine[i].hport, lo, hi)) {
			snprintf(err, len, "host port %u is outside %u-%u, the ports owners may "
				 "publish (csd's publish_ports); only an administrator may publish it; "
				 "choose a port in the range", mine[i].hport, lo, hi);
			return CS_EPERM;
		}
	if (!n)
		return 0;
	if ((r = model_list(d, "/endpoints/", &docs, NULL)) < 0) {
		snprintf(err, len, "cannot read the store: %s", cs_strerror(r));
		return r;
	}
	json_object_foreach(docs, key, doc) {
		const char *name = key + 11;
		if (!strcmp(name, tve) || json_object_get(planned, name) ||
		    !doc_clashes(doc, node, mine, n, &port))
			continue;
		snprintf(err, len, "host port %u is published by endpoint %s on node %s; choose "
			 "another", port, name, node);
		json_decref(docs);
		return CS_EEXIST;
	}
	json_decref(docs);
	json_object_foreach((json_t *)planned, key, doc) {
		if (strcmp(key, tve) && doc_clashes(doc, node, mine, n, &port)) {
			snprintf(err, len, "host port %u is also published by endpoint %s on node "
				 "%s; choose another", port, key, node);
			return CS_EEXIST;
		}
	}
	for (i = 0; node && !strcmp(node, d->cfg.node) && i < n; i++)
		if (host_socket(&mine[i], holder, sizeof(holder))) {
			snprintf(err, len, "host port %u/%s is held by a socket of node %s: %s; "
				 "choose another", mine[i].hport,
				 mine[i].proto == IPPROTO_UDP ? "udp" : "tcp", node, holder);
			return CS_EEXIST;
		}
	return 0;
}
