/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Endpoint rules in the kernel backend: a table "inet cs" in the endpoint's
 * own namespace (the namespace name carries csd's prefix, and one table per
 * namespace needs no other), one chain on the input hook:
 *
 *   ct state established,related accept   (so a replacement keeps what
 *                                          was allowed: conntrack survives)
 *   IPv6 neighbour discovery accept        (else a default deny breaks IPv6)
 *   ct state invalid drop
 *   iifname "lo" accept
 *   the compiled rules, in order
 *   the default, accept or drop
 *
 * Every rule that drops for the rule set (a deny rule, a default deny)
 * carries a counter, and no other rule does: the sum of the table's
 * counters is what the rules denied (kernel_endpoint_denied, for metrics).
 *
 * Written as nft text and loaded through libnftables in one buffer: "add
 * table; flush table; add chain; add rule..." is one netlink batch, so the
 * kernel swaps the whole rule set atomically and no packet ever sees half
 * of it, or none.
 *
 * Loading the same rules again is skipped: what was loaded into each
 * namespace is remembered (a hash of the text) with the namespace's
 * nftables generation right after; when both still match, nothing there
 * changed since, which one NFT_MSG_GETGEN tells. Anything else that touches
 * the namespace's rule set bumps the generation, so drift is still repaired.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <nftables/libnftables.h>

#include "cs/cs.h"
#include "kernel_priv.h"
#include "netns.h"

#define TABLE "inet cs"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* libnftables keeps some process-wide state (its init, the symbol tables
 * it loads); csd may call this from several threads at once. */
static pthread_mutex_t nft_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * A bare netfilter socket of the namespace we are in, bound, and in @buf the
 * header of a request of @type about @family: the caller adds attributes
 * and sends it. NULL when the socket cannot be had.
 */
static struct mnl_socket *nft_request(uint16_t type, uint16_t flags, uint8_t family, char *buf,
				      struct nlmsghdr **out)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);

	if (!nl)
		return NULL;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(nl);
		return NULL;
	}
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = 1;
	struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	*out = nlh;
	return nl;
}

/*
 * One request over a bare netfilter socket of the namespace we are in
 * (type NFT_MSG_*, about table @table of @family when not NULL): *reply
 * points into @buf at the first message of the answer, which may be an
 * error ack. 0 or CS_EIO.
 */
static int nft_ask(uint16_t type, uint8_t family, const char *table, char *buf, size_t len,
		   const struct nlmsghdr **reply)
{
	struct nlmsghdr *nlh;
	struct mnl_socket *nl = nft_request(type, table ? NLM_F_ACK : 0, family, buf, &nlh);
	int r = CS_EIO;

	if (!nl)
		return CS_EIO;
	if (table)
		mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, table);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		goto out;
	ssize_t n = mnl_socket_recvfrom(nl, buf, len);
	if (n < 0 || !mnl_nlmsg_ok((const struct nlmsghdr *)buf, (int)n))
		goto out;
	*reply = (const struct nlmsghdr *)buf;
	r = 0;
out:
	mnl_socket_close(nl);
	return r;
}

/*
 * What was loaded where (under nft_lock), so that the same text is not
 * loaded twice: a load is a commit, and the close of the socket that made
 * it waits for the kernel to free what the commit replaced, one RCU grace
 * period (10-20 ms on this RT kernel): once per vnet and endpoint ensure,
 * that was most of an endpoint's creation. Per namespace name: the
 * namespace's cookie (never reused, unlike names and inode numbers: a
 * namespace made anew under the same name is another one), its nftables
 * generation right after our last load there, and per tag (what one
 * caller owns there: a table, or a few replaced together) the hash of the
 * text last loaded. A generation that moved means something else changed
 * the rule set there: every tag of it is loaded again.
 */
#define LOADED_BUCKETS 4096
struct tagged {
	struct tagged *next;
	uint64_t hash;
	char tag[];
};
struct loaded {
	struct loaded *next;
	uint64_t cookie;
	uint32_t gen;
	struct tagged *tags;
	char ns[];
};
static struct loaded *loaded[LOADED_BUCKETS];
static size_t ntagged;	/* records of tags, for when to compact the file */

/* A namespace's identity and nftables generation (ns_gen_fn). */
struct ns_gen {
	uint64_t cookie;
	uint32_t gen;
};

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return h;
}

static struct loaded **loaded_slot(const char *ns)
{
	struct loaded **p = &loaded[fnv1a(ns, strlen(ns)) % LOADED_BUCKETS];

	while (*p && strcmp((*p)->ns, ns))
		p = &(*p)->next;
	return p;
}

static void tags_clear(struct loaded *l)
{
	while (l->tags) {
		struct tagged *t = l->tags;
		l->tags = t->next;
		free(t);
		ntagged--;
	}
}

static struct tagged **tag_slot(struct loaded *l, const char *tag)
{
	struct tagged **p = &l->tags;

	while (*p && strcmp((*p)->tag, tag))
		p = &(*p)->next;
	return p;
}

static void loaded_forget(const char *ns)
{
	struct loaded **p = loaded_slot(ns), *l = *p;

	if (l) {
		*p = l->next;
		tags_clear(l);
		free(l);
	}
}

/* After a load in @ns (now at @now): @tag holds text @hash; without a tag
 * what the load replaced is not known, so no tag there is trusted. */
static void loaded_record(const char *ns, const struct ns_gen *now, const char *tag,
			  uint64_t hash)
{
	struct loaded **p = loaded_slot(ns), *l = *p;
	struct tagged **t;

	if (!l) {
		size_t n = strlen(ns) + 1;
		if (!(l = *p = calloc(1, sizeof(*l) + n)))
			return;
		memcpy(l->ns, ns, n);
	}
	l->cookie = now->cookie;
	l->gen = now->gen;
	if (!tag) {
		tags_clear(l);
		return;
	}
	t = tag_slot(l, tag);
	if (!*t) {
		size_t n = strlen(tag) + 1;
		if (!(*t = calloc(1, sizeof(**t) + n))) {
			tags_clear(l);
			return;
		}
		memcpy((*t)->tag, tag, n);
		ntagged++;
	}
	(*t)->hash = hash;
}

/* Is @hash what @tag holds in @ns, with nothing changed there since? */
static bool loaded_is(const char *ns, const struct ns_gen *now, const char *tag, uint64_t hash)
{
	struct loaded *l = *loaded_slot(ns);
	struct tagged *t;

	if (!l)
		return false;
	if (l->cookie != now->cookie || l->gen != now->gen) {
		tags_clear(l);
		return false;
	}
	t = tag ? *tag_slot(l, tag) : NULL;
	return t && t->hash == hash;
}

/*
 * What was loaded where is also appended to RUN_DIR/PREFIX.nft, a line
 * "NS COOKIE GEN HASH TAG" per load (TAG "-": untagged; COOKIE 0: the
 * namespace forgotten), and read back when the backend opens: after a
 * restart, a namespace whose cookie and generation are still those written
 * holds what was loaded there, and reconciling it loads nothing (with 1,000
 * vnets, 1,000 loads of 15 ms before csd answered). Rewritten whole at
 * open, and when it has grown to four times what it describes. Losing a
 * line (a crash between a load and its line) only costs a load again.
 */
static bool ours(struct kernel_backend *kb, const char *ns)
{
	size_t n = strlen(kb->prefix);

	return !strcmp(ns, "(host)") || (!strncmp(ns, kb->prefix, n) && ns[n] == '.');
}

static void log_compact(struct kernel_backend *kb)
{
	FILE *f;
	int fd;

	if (ftruncate(kb->nft_log, 0) < 0 || (fd = dup(kb->nft_log)) < 0 ||
	    !(f = fdopen(fd, "a"))) {
		close(kb->nft_log);
		kb->nft_log = -1;
		return;
	}
	kb->nft_lines = 0;
	for (size_t i = 0; i < LOADED_BUCKETS; i++) {
		for (struct loaded *l = loaded[i]; l; l = l->next) {
			if (!ours(kb, l->ns))
				continue;
			for (struct tagged *t = l->tags; t; t = t->next, kb->nft_lines++)
				fprintf(f, "%s %llu %u %llu %s\n", l->ns,
					(unsigned long long)l->cookie, l->gen,
					(unsigned long long)t->hash, t->tag);
		}
	}
	fclose(f);
}

static void log_line(struct kernel_backend *kb, const char *ns, const struct ns_gen *g,
		     const char *tag, uint64_t hash)
{
	char line[NSNAME_MAX + 160];
	int n;

	if (kb->nft_log < 0)
		return;
	n = snprintf(line, sizeof(line), "%s %llu %u %llu %s\n", ns,
		     (unsigned long long)(g ? g->cookie : 0), g ? g->gen : 0,
		     (unsigned long long)hash, tag ? tag : "-");
	if (n > 0 && (size_t)n < sizeof(line) && write(kb->nft_log, line, (size_t)n) == n)
		kb->nft_lines++;
	if (kb->nft_lines > 4 * ntagged + 1024)
		log_compact(kb);
}

static void loaded_note(struct kernel_backend *kb, const char *ns, const struct ns_gen *now,
			const char *tag, uint64_t hash)
{
	loaded_record(ns, now, tag, hash);
	log_line(kb, ns, now, tag, hash);
}

static void loaded_drop(struct kernel_backend *kb, const char *ns)
{
	if (*loaded_slot(ns)) {
		loaded_forget(ns);
		log_line(kb, ns, NULL, NULL, 0);
	}
}

/* One line of the file back into memory; malformed ones are skipped. */
static void log_replay(char *line)
{
	char *ns = strtok(line, " \n"), *c = strtok(NULL, " \n"), *g = strtok(NULL, " \n");
	char *h = strtok(NULL, " \n"), *tag = strtok(NULL, "\n");

	if (!ns || !c || !g || !h || !tag || strlen(ns) >= NSNAME_MAX)
		return;
	struct ns_gen now = { strtoull(c, NULL, 10), (uint32_t)strtoul(g, NULL, 10) };
	if (!now.cookie)
		loaded_forget(ns);
	else
		loaded_record(ns, &now, strcmp(tag, "-") ? tag : NULL, strtoull(h, NULL, 10));
}

/* Is @fd a directory (@dir) or regular file that only we may write? */
static bool ours_alone(int fd, bool dir)
{
	struct stat st;

	return fstat(fd, &st) == 0 && st.st_uid == geteuid() && !(st.st_mode & 022) &&
	       (dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode) && !(st.st_mode & 077));
}

void kernel_nft_memory(struct kernel_backend *kb, const char *run_dir)
{
	char path[4096], line[NSNAME_MAX + 160];
	int dfd, fd;
	FILE *f;

	kb->nft_log = -1;
	if (!run_dir || (dfd = open(run_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
				    O_CLOEXEC)) < 0)
		return;
	/* what it says decides what is not loaded: only a directory and a
	 * file nobody else may write (csd refuses such a run directory
	 * anyway, after the backend opened) */
	if (!ours_alone(dfd, true)) {
		close(dfd);
		return;
	}
	snprintf(path, sizeof(path), "%s.nft", kb->prefix);
	fd = openat(dfd, path, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	close(dfd);
	if (fd < 0)
		return;
	if (!ours_alone(fd, false)) {
		close(fd);
		return;
	}
	pthread_mutex_lock(&nft_lock);
	int rfd = dup(fd);
	if (rfd >= 0 && (f = fdopen(rfd, "r"))) {
		while (fgets(line, sizeof(line), f))
			log_replay(line);
		fclose(f);
	} else if (rfd >= 0) {
		close(rfd);
	}
	kb->nft_log = fd;
	log_compact(kb);
	pthread_mutex_unlock(&nft_lock);
}

void kernel_nft_close(struct kernel_backend *kb)
{
	if (kb->nft_log >= 0)
		close(kb->nft_log);
	kb->nft_log = -1;
}

void kernel_nft_forget(struct kernel_backend *kb, const char *ns)
{
	pthread_mutex_lock(&nft_lock);
	loaded_drop(kb, ns);
	pthread_mutex_unlock(&nft_lock);
}

static int gen_attr_cb(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == NFTA_GEN_ID && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
		*(uint32_t *)data = ntohl(mnl_attr_get_u32(a)) | 0x80000000u; /* seen */
	return MNL_CB_OK;
}

/*
 * In the namespace we are in: its cookie and nftables generation
 * (NFT_MSG_GETGEN), the latter with the top bit set as "read", into
 * *(struct ns_gen *)arg; 0 or a negative code.
 */
static int ns_gen_fn(void *arg)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct ns_gen *g = arg;
	struct nlmsghdr *nlh;
	struct mnl_socket *nl = nft_request(NFT_MSG_GETGEN, 0, AF_UNSPEC, buf, &nlh);
	socklen_t len = sizeof(g->cookie);
	int r = CS_EIO;

	g->gen = 0;
	g->cookie = 0;
	if (!nl)
		return CS_EIO;
	if (getsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_NETNS_COOKIE, &g->cookie, &len) < 0 ||
	    mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		goto out;
	ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	nlh = (struct nlmsghdr *)buf;
	if (n < 0 || !mnl_nlmsg_ok(nlh, (int)n) || nlh->nlmsg_type == NLMSG_ERROR)
		goto out;
	mnl_attr_parse(nlh, sizeof(struct nfgenmsg), gen_attr_cb, &g->gen);
	r = g->gen ? 0 : CS_EIO;
out:
	mnl_socket_close(nl);
	return r;
}

/*
 * Does the namespace we are in hold table "inet cs"? One NFT_MSG_GETTABLE
 * over a bare netfilter socket: far cheaper than a libnftables context,
 * which matters because every reconcile asks it of every endpoint of every
 * vnet without rules. Returns 1, 0, or a negative code.
 */
static int table_exists_fn(void *arg)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	const struct nlmsghdr *m;

	(void)arg;
	if (nft_ask(NFT_MSG_GETTABLE, NFPROTO_INET, "cs", buf, sizeof(buf), &m) < 0)
		return CS_EIO;
	/* the table comes back as a message; absence as an error ack */
	if (m->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(m);
		return e->error == 0 ? 1 : e->error == -ENOENT ? 0 : CS_EIO;
	}
	return 1;
}

/* Runs inside the endpoint's (or the underlay's) namespace, so the netlink
 * socket libnftables opens is bound there. */
int kernel_nft_job(void *arg)
{
	struct nft_job *job = arg;
	struct nft_ctx *ctx;
	const char *e;

	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx)
		return CS_ENOMEM;
	/* library code never prints: keep nft's output and errors */
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	job->rc = nft_run_cmd_from_buffer(ctx, job->cmds);
	if (job->rc) {
		e = nft_ctx_get_error_buffer(ctx);
		job->error = strdup(e && *e ? e : "no reason given");
	}
	nft_ctx_free(ctx);
	return job->rc && !job->error ? CS_ENOMEM : 0;
}

int kernel_nft_load(struct kernel_backend *kb, int nsfd, const char *ns, const char *tag,
		    uint64_t salt, const char *cmds, const char *what)
{
	struct nft_job job = { .cmds = cmds };
	struct ns_gen now;
	char err[256];
	uint64_t hash = fnv1a(cmds, strlen(cmds)) ^ salt;
	int r;

	pthread_mutex_lock(&nft_lock);
	bool known = netns_run(nsfd, ns_gen_fn, &now, err, sizeof(err)) == 0;
	if (known && loaded_is(ns, &now, tag, hash)) {
		/* this text, and nothing changed there since */
		pthread_mutex_unlock(&nft_lock);
		return 0;
	}
	r = netns_run(nsfd, kernel_nft_job, &job, err, sizeof(err));
	if (r == 0 && job.rc == 0 && netns_run(nsfd, ns_gen_fn, &now, err, sizeof(err)) == 0)
		loaded_note(kb, ns, &now, tag, hash);
	else
		loaded_drop(kb, ns);
	pthread_mutex_unlock(&nft_lock);
	if (r < 0) {
		kernel_err(kb, "%s: namespace %s: %s", what, ns, r == CS_ENOMEM ? "out of memory"
										 : err);
	} else if (job.rc) {
		/* nft's text ends in a newline and quotes the failing line */
		size_t len = strlen(job.error);
		while (len && job.error[len - 1] == '\n')
			job.error[--len] = '\0';
		kernel_err(kb, "%s: nftables refused the rules in namespace %s: %s", what, ns,
			   job.error);
		r = CS_EIO;
	}
	free(job.error);
	return r;
}

int kernel_nft_run(struct kernel_backend *kb, int nsfd, const char *cmds, const char *what,
		   const char *ns)
{
	return kernel_nft_load(kb, nsfd, ns, NULL, 0, cmds, what);
}

static int prefix_width(int family)
{
	return family == AF_INET ? 32 : 128;
}

/* "10.0.0.2" for a host, "10.0.0.0/24" otherwise. */
static void put_prefix(FILE *f, const struct cs_prefix *p)
{
	char buf[CS_ADDRSTRLEN];

	if (p->plen == prefix_width(p->addr.family))
		fputs(cs_addr_format(&p->addr, buf), f);
	else
		fputs(cs_prefix_format(p, buf), f);
}

static size_t count_family(const struct vnet_fw_rule *r, int family)
{
	size_t i, n = 0;

	for (i = 0; i < r->nsrc; i++)
		n += r->src[i].addr.family == family;
	return n;
}

/* " ip saddr 10.0.0.2" or " ip6 saddr { a, b }" for the sources of @family. */
static void put_saddr(FILE *f, const struct vnet_fw_rule *r, int family)
{
	size_t i, n = count_family(r, family), k = 0;

	fputs(family == AF_INET ? " ip saddr " : " ip6 saddr ", f);
	if (n > 1)
		fputs("{ ", f);
	for (i = 0; i < r->nsrc; i++) {
		if (r->src[i].addr.family != family)
			continue;
		if (k++)
			fputs(", ", f);
		put_prefix(f, &r->src[i]);
	}
	if (n > 1)
		fputs(" }", f);
}

static void put_dport(FILE *f, const struct vnet_fw_rule *r)
{
	if (r->port_lo == r->port_hi)
		fprintf(f, " dport %u", r->port_lo);
	else
		fprintf(f, " dport %u-%u", r->port_lo, r->port_hi);
}

/* The protocol part of a rule for @family (AF_UNSPEC: both). */
static void put_proto(FILE *f, const struct vnet_fw_rule *r, int family)
{
	bool ports = r->port_lo || r->port_hi;

	switch (r->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		if (ports) {
			fputs(r->proto == IPPROTO_TCP ? " tcp" : " udp", f);
			put_dport(f, r);
		} else {
			fputs(r->proto == IPPROTO_TCP ? " meta l4proto tcp" : " meta l4proto udp", f);
		}
		break;
	case IPPROTO_ICMP:
		if (family == AF_INET)
			fputs(" meta l4proto icmp", f);
		else if (family == AF_INET6)
			fputs(" meta l4proto ipv6-icmp", f);
		else
			fputs(" meta l4proto { icmp, ipv6-icmp }", f);
		break;
	default:
		if (ports) {
			fputs(" meta l4proto { tcp, udp } th", f);
			put_dport(f, r);
		}
		break;
	}
}

static int fw_check(struct kernel_backend *kb, const char *what, const struct vnet_fw *fw)
{
	size_t i, k;

	if (fw->n && !fw->rules)
		goto bad;
	if (fw->dflt != VNET_FW_ALLOW && fw->dflt != VNET_FW_DENY)
		goto bad;
	for (i = 0; i < fw->n; i++) {
		const struct vnet_fw_rule *r = &fw->rules[i];

		if (r->action != VNET_FW_ALLOW && r->action != VNET_FW_DENY) {
			kernel_err(kb, "%s: rule %zu: unknown action %d", what, i, r->action);
			return CS_EINVAL;
		}
		if (r->proto && r->proto != IPPROTO_TCP && r->proto != IPPROTO_UDP &&
		    r->proto != IPPROTO_ICMP) {
			kernel_err(kb, "%s: rule %zu: protocol %d is not tcp, udp, icmp or any",
				   what, i, r->proto);
			return CS_EINVAL;
		}
		if ((r->port_lo || r->port_hi) &&
		    (r->proto == IPPROTO_ICMP || !r->port_lo || r->port_lo > r->port_hi)) {
			kernel_err(kb, "%s: rule %zu: ports %u-%u: a range of 1-65535 for tcp, udp "
				   "or any", what, i, r->port_lo, r->port_hi);
			return CS_EINVAL;
		}
		if (r->nsrc && !r->src)
			goto bad;
		for (k = 0; k < r->nsrc; k++) {
			int fam = r->src[k].addr.family;

			if ((fam != AF_INET && fam != AF_INET6) || r->src[k].plen < 0 ||
			    r->src[k].plen > prefix_width(fam)) {
				kernel_err(kb, "%s: rule %zu: source %zu is not an IPv4 or IPv6 "
					   "prefix", what, i, k);
				return CS_EINVAL;
			}
		}
	}
	return 0;
bad:
	kernel_err(kb, "%s: malformed rule set", what);
	return CS_EINVAL;
}

static void put_rules(FILE *f, const struct vnet_fw *fw)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	size_t i, k;

	fputs("add table " TABLE "\n"
	      "flush table " TABLE "\n"
	      "add chain " TABLE " input { type filter hook input priority 0; policy accept; }\n"
	      "add rule " TABLE " input ct state established,related accept\n"
	      /* untracked by conntrack, and IPv6 needs them to resolve neighbours;
	       * hop limit 255 means they come from the link (RFC 4861) */
	      "add rule " TABLE " input icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, "
	      "nd-router-advert, nd-redirect } ip6 hoplimit 255 accept\n"
	      "add rule " TABLE " input ct state invalid drop\n"
	      "add rule " TABLE " input iifname \"lo\" accept\n", f);
	for (i = 0; i < fw->n; i++) {
		const struct vnet_fw_rule *r = &fw->rules[i];
		const char *verdict = r->action == VNET_FW_ALLOW ? " accept\n" : " counter drop\n";

		if (!r->nsrc) {
			fputs("add rule " TABLE " input", f);
			put_proto(f, r, AF_UNSPEC);
			fputs(verdict, f);
			continue;
		}
		/* a packet is of one family: a rule per family with sources
		 * there, adjacent and with the same verdict, keeps the order */
		for (k = 0; k < 2; k++) {
			if (!count_family(r, fams[k]))
				continue;
			fputs("add rule " TABLE " input", f);
			put_saddr(f, r, fams[k]);
			put_proto(f, r, fams[k]);
			fputs(verdict, f);
		}
	}
	fprintf(f, "add rule " TABLE " input %s\n", fw->dflt == VNET_FW_ALLOW ? "accept" :
		"counter drop");
}

int kernel_endpoint_policy(struct vnet_backend *b, const char *tenant, const char *vnet,
			   const char *endpoint, const struct vnet_fw *fw)
{
	struct kernel_backend *kb = (struct kernel_backend *)b;
	char ns[NSNAME_MAX], what[128], err[256];
	char *cmds = NULL;
	size_t len = 0;
	FILE *f = NULL;
	int nsfd = -1, r;

	r = kernel_ns_name(kb, ns, tenant, vnet, endpoint);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "endpoint %s/%s/%s", tenant, vnet, endpoint);
	if (fw) {
		r = fw_check(kb, what, fw);
		if (r < 0)
			return r;
	}
	nsfd = netns_open(ns, err, sizeof(err));
	if (nsfd < 0) {
		/* no namespace, no rules: removing them is done */
		if (nsfd == CS_ENOENT && !fw)
			return 0;
		r = nsfd;
		if (r == CS_ENOENT)
			kernel_err(kb, "%s is not realized (no namespace %s)", what, ns);
		else
			kernel_err(kb, "%s: %s", what, err);
		goto out;
	}

	if (!fw) {
		/* nothing to remove is the common case: ask cheaply first */
		int ex = netns_run(nsfd, table_exists_fn, NULL, err, sizeof(err));
		if (ex == 0) {
			r = 0;
			goto out;
		}
	}
	f = open_memstream(&cmds, &len);
	if (!f) {
		r = CS_ENOMEM;
		kernel_err(kb, "%s: out of memory", what);
		goto out;
	}
	if (fw)
		put_rules(f, fw);
	else	/* "add" then "delete" works whether or not the table is there */
		fputs("add table " TABLE "\ndelete table " TABLE "\n", f);
	r = fclose(f);
	f = NULL;
	if (r) {
		r = CS_ENOMEM;
		kernel_err(kb, "%s: out of memory", what);
		goto out;
	}

	r = kernel_nft_load(kb, nsfd, ns, "cs", 0, cmds, what);
out:
	if (f)
		fclose(f);
	free(cmds);
	if (nsfd >= 0)
		close(nsfd);
	return r;
}

/* ---- what the rules denied ---- */

static int counter_cb(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == NFTA_COUNTER_PACKETS &&
	    mnl_attr_validate(a, MNL_TYPE_U64) == 0)
		*(uint64_t *)data += be64toh(mnl_attr_get_u64(a));
	return MNL_CB_OK;
}

/* One expression of a rule: a counter's packets are added to @data. */
static int expr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr *name = NULL, *edata = NULL, *x;

	mnl_attr_for_each_nested(x, a) {
		if (mnl_attr_get_type(x) == NFTA_EXPR_NAME)
			name = x;
		else if (mnl_attr_get_type(x) == NFTA_EXPR_DATA)
			edata = x;
	}
	if (name && edata && mnl_attr_validate(name, MNL_TYPE_NUL_STRING) == 0 &&
	    !strcmp(mnl_attr_get_str(name), "counter"))
		mnl_attr_parse_nested(edata, counter_cb, data);
	return MNL_CB_OK;
}

static int rule_attr_cb(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == NFTA_RULE_EXPRESSIONS)
		mnl_attr_parse_nested(a, expr_cb, data);
	return MNL_CB_OK;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct nfgenmsg), rule_attr_cb, data);
}

struct denied_job {
	uint64_t packets;
};

/* In the endpoint's namespace: the rules of table "inet cs" (one dump,
 * NFT_MSG_GETRULE filtered by table), their counters summed. */
static int denied_fn(void *arg)
{
	struct denied_job *job = arg;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct mnl_socket *nl = nft_request(NFT_MSG_GETRULE, NLM_F_DUMP, NFPROTO_INET, buf, &nlh);
	int r = CS_EIO;

	if (!nl)
		return CS_EIO;
	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, "cs");
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		goto out;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n <= 0)
			goto out;
		int cr = mnl_cb_run(buf, (size_t)n, 1, mnl_socket_get_portid(nl), rule_cb,
				    &job->packets);
		if (cr == MNL_CB_STOP)
			break;
		if (cr < 0) {
			/* no table, no rules: nothing denied by a rule set */
			r = errno == ENOENT ? CS_ENOENT : CS_EIO;
			goto out;
		}
	}
	r = 0;
out:
	mnl_socket_close(nl);
	return r;
}

int kernel_endpoint_denied(struct vnet_backend *b, const char *tenant, const char *vnet,
			   const char *endpoint, uint64_t *packets)
{
	struct kernel_backend *kb = (struct kernel_backend *)b;
	struct denied_job job = { 0 };
	char ns[NSNAME_MAX], err[256];
	int nsfd, r;

	*packets = 0;
	if ((r = kernel_ns_name(kb, ns, tenant, vnet, endpoint)) < 0)
		return r;
	if ((nsfd = netns_open(ns, err, sizeof(err))) < 0) {
		kernel_err(kb, "endpoint %s/%s/%s: %s", tenant, vnet, endpoint, err);
		return nsfd;
	}
	r = netns_run(nsfd, denied_fn, &job, err, sizeof(err));
	close(nsfd);
	if (r == CS_EIO)
		kernel_err(kb, "endpoint %s/%s/%s: cannot read its rules' counters: %s", tenant,
			   vnet, endpoint, err[0] ? err : strerror(errno));
	if (r == 0)
		*packets = job.packets;
	return r;
}
