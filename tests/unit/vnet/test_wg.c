/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The encrypted underlay's pure parts: keys (RFC 7748 vector, base64, hex,
 * the key file), the UAPI text both ways, the change between two states,
 * and the kernel's WG_CMD_SET_DEVICE message read back with libmnl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netinet/in.h>
#include <cmocka.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>
#include <openssl/evp.h>

#include "vnet/wg.h"

/* RFC 7748, 6.1: Alice's key pair */
#define ALICE_PRIV "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
#define ALICE_PUB "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"

static void test_keys(void **state)
{
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN], back[WG_KEY_LEN];
	char hex[2 * WG_KEY_LEN + 1], b64[WG_KEY_B64_LEN + 1], ref[WG_KEY_B64_LEN + 4];

	(void)state;
	assert_int_equal(wg_key_from_hex(ALICE_PRIV, priv), 0);
	assert_int_equal(wg_key_public(priv, pub), 0);
	wg_key_to_hex(pub, hex);
	assert_string_equal(hex, ALICE_PUB);
	/* base64 as OpenSSL (and wg(8)) writes it, and back */
	wg_key_to_base64(pub, b64);
	EVP_EncodeBlock((unsigned char *)ref, pub, WG_KEY_LEN);
	assert_string_equal(b64, ref);
	assert_int_equal(wg_key_from_base64(b64, back), 0);
	assert_memory_equal(back, pub, WG_KEY_LEN);
	/* what is not a key */
	assert_int_equal(wg_key_from_base64("hXDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo", back),
			 CS_EINVAL);
	assert_int_equal(wg_key_from_base64("hXDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmp=", back),
			 CS_EINVAL);	/* the last 2 bits set */
	assert_int_equal(wg_key_from_base64("hXDwCYkwp1R0i33ctD73Wg2/Og0mOBr066Spjqqb!mo=", back),
			 CS_EINVAL);
	assert_int_equal(wg_key_from_base64(NULL, back), CS_EINVAL);
	assert_int_equal(wg_key_from_hex("zz", back), CS_EINVAL);
	/* two fresh keys differ and match their public halves */
	uint8_t p2[WG_KEY_LEN], q2[WG_KEY_LEN], chk[WG_KEY_LEN];
	assert_int_equal(wg_key_generate(p2, q2), 0);
	assert_int_equal(wg_key_public(p2, chk), 0);
	assert_memory_equal(chk, q2, WG_KEY_LEN);
	assert_memory_not_equal(p2, priv, WG_KEY_LEN);
}

static void test_key_file(void **state)
{
	char dir[] = "/tmp/cs-wgkey.XXXXXX", why[256], path[64];
	uint8_t k1[WG_KEY_LEN], k2[WG_KEY_LEN], k3[WG_KEY_LEN];
	struct stat st;
	int dfd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	assert_int_equal(wg_key_file(dfd, "wg.key", false, k1, why, sizeof(why)), 0);
	assert_int_equal(fstatat(dfd, "wg.key", &st, 0), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(wg_key_file(dfd, "wg.key", false, k2, why, sizeof(why)), 0);
	assert_memory_equal(k1, k2, WG_KEY_LEN);
	assert_int_equal(wg_key_file(dfd, "wg.key", true, k3, why, sizeof(why)), 0);
	assert_memory_not_equal(k1, k3, WG_KEY_LEN);
	/* readable by others: refused, not replaced */
	assert_int_equal(fchmodat(dfd, "wg.key", 0644, 0), 0);
	assert_int_equal(wg_key_file(dfd, "wg.key", false, k2, why, sizeof(why)), CS_EPERM);
	assert_non_null(strstr(why, "mode 0600"));
	/* a symlink: refused, never followed */
	assert_int_equal(symlinkat("wg.key", dfd, "link.key"), 0);
	assert_int_equal(wg_key_file(dfd, "link.key", false, k2, why, sizeof(why)), CS_EPERM);
	assert_non_null(strstr(why, "symlink"));
	/* garbage: refused */
	int fd = openat(dfd, "bad.key", O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write(fd, "nonsense\n", 9), 9);
	close(fd);
	assert_int_equal(wg_key_file(dfd, "bad.key", false, k2, why, sizeof(why)), CS_EINVAL);
	const char *names[] = { "wg.key", "link.key", "bad.key" };
	for (size_t i = 0; i < 3; i++)
		unlinkat(dfd, names[i], 0);
	close(dfd);
	snprintf(path, sizeof(path), "%s", dir);
	assert_int_equal(rmdir(path), 0);
}

static struct wg_peer_set peer(uint8_t fill, const char *addr, uint16_t port, bool remove)
{
	struct wg_peer_set p = { .port = port, .remove = remove };

	memset(p.key, fill, WG_KEY_LEN);
	assert_int_equal(cs_addr_parse(addr, &p.endpoint), 0);
	return p;
}

static void test_uapi_text(void **state)
{
	struct wg_peer_set ps[3] = { peer(0x11, "192.0.2.2", 51820, false),
				     peer(0x22, "192.0.2.3", 51820, true),
				     peer(0x33, "2001:db8::4", 4000, false) };
	struct wg_set set = { .set_key = true, .set_port = true, .port = 51820, .peers = ps,
			      .npeers = 3 };
	char *t;

	(void)state;
	memset(set.priv, 0xab, WG_KEY_LEN);
	t = wg_uapi_text(&set);
	assert_non_null(t);
	assert_string_equal(t,
		"set=1\n"
		"private_key=abababababababababababababababababababababababababababababababab\n"
		"listen_port=51820\n"
		"public_key=1111111111111111111111111111111111111111111111111111111111111111\n"
		"endpoint=192.0.2.2:51820\n"
		"persistent_keepalive_interval=25\nreplace_allowed_ips=true\n"
		"allowed_ip=192.0.2.2/32\n"
		"public_key=2222222222222222222222222222222222222222222222222222222222222222\n"
		"remove=true\n"
		"public_key=3333333333333333333333333333333333333333333333333333333333333333\n"
		"endpoint=[2001:db8::4]:4000\n"
		"persistent_keepalive_interval=25\nreplace_allowed_ips=true\n"
		"allowed_ip=2001:db8::4/128\n"
		"\n");
	free(t);
	/* nothing to change is still a valid (empty) set */
	t = wg_uapi_text(&(struct wg_set){ 0 });
	assert_string_equal(t, "set=1\n\n");
	free(t);
}

static void test_uapi_parse(void **state)
{
	struct wg_state st;

	(void)state;
	assert_int_equal(wg_uapi_parse(
		"private_key=abababababababababababababababababababababababababababababababab\n"
		"listen_port=51820\n"
		"public_key=1111111111111111111111111111111111111111111111111111111111111111\n"
		"endpoint=192.0.2.2:51820\nallowed_ip=192.0.2.2/32\n"
		"last_handshake_time_sec=0\nrx_bytes=0\ntx_bytes=92\n"
		"public_key=3333333333333333333333333333333333333333333333333333333333333333\n"
		"endpoint=[2001:db8::4]:4000\nprotocol_version=1\nerrno=0\n\n", &st), 0);
	assert_true(st.has_key);
	assert_int_equal(st.priv[0], 0xab);
	assert_int_equal(st.port, 51820);
	assert_int_equal(st.npeers, 2);
	assert_int_equal(st.peers[0].key[5], 0x11);
	assert_int_equal(st.peers[0].port, 51820);
	assert_int_equal(st.peers[1].endpoint.family, AF_INET6);
	assert_int_equal(st.peers[1].port, 4000);
	wg_state_clear(&st);
	assert_int_equal(wg_uapi_parse("errno=13\n\n", &st), CS_EIO);
	assert_int_equal(wg_uapi_parse("garbage\n\n", &st), CS_EINVAL);
	assert_int_equal(wg_uapi_parse("public_key=12\n\n", &st), CS_EINVAL);
}

static void test_diff(void **state)
{
	struct wg_peer_set cur_ps[3] = { peer(0x11, "192.0.2.2", 51820, false),
					 peer(0x22, "192.0.2.3", 51820, false),
					 peer(0x44, "192.0.2.5", 51820, false) };
	struct wg_state cur = { .has_key = true, .port = 51820, .peers = cur_ps, .npeers = 3 };
	struct wg_peer_set want[3] = { peer(0x11, "192.0.2.2", 51820, false),
				       peer(0x33, "192.0.2.4", 51820, false),
				       peer(0x44, "192.0.2.6", 51820, false) };
	uint8_t priv[WG_KEY_LEN];
	struct wg_set set;

	(void)state;
	memset(cur.priv, 7, WG_KEY_LEN);
	memset(priv, 7, WG_KEY_LEN);
	assert_int_equal(wg_diff(&cur, priv, 51820, want, 3, &set), 0);
	/* same key and port: untouched; 0x11 unchanged: left out (its session
	 * stays); 0x22 gone: removed; 0x33 new and 0x44 moved: set */
	assert_false(set.set_key);
	assert_false(set.set_port);
	assert_int_equal(set.npeers, 3);
	assert_int_equal(set.peers[0].key[0], 0x22);
	assert_true(set.peers[0].remove);
	assert_int_equal(set.peers[1].key[0], 0x33);
	assert_false(set.peers[1].remove);
	assert_int_equal(set.peers[2].key[0], 0x44);
	assert_int_equal(set.peers[2].endpoint.a[3], 6);
	free((void *)set.peers);
	/* a new key and port are set; an empty interface gets every peer */
	priv[0] = 8;
	struct wg_state none = { 0 };
	assert_int_equal(wg_diff(&none, priv, 4000, want, 3, &set), 0);
	assert_true(set.set_key);
	assert_true(set.set_port);
	assert_int_equal(set.port, 4000);
	assert_int_equal(set.npeers, 3);
	free((void *)set.peers);
}

struct nl_seen {
	int ifname, key, port, peers, removes, adds, keepalive, allowed;
};

static int peer_attr(const struct nlattr *peer, struct nl_seen *s)
{
	const struct nlattr *a, *ip, *x;
	bool remove = false;

	mnl_attr_for_each_nested(a, peer) {
		switch (mnl_attr_get_type(a)) {
		case WGPEER_A_FLAGS:
			remove = mnl_attr_get_u32(a) & WGPEER_F_REMOVE_ME;
			break;
		case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
			s->keepalive = mnl_attr_get_u16(a);
			break;
		case WGPEER_A_ENDPOINT: {
			const struct sockaddr_in *sa = mnl_attr_get_payload(a);
			assert_int_equal(sa->sin_family, AF_INET);
			assert_int_equal(ntohs(sa->sin_port), 51820);
			break;
		}
		case WGPEER_A_ALLOWEDIPS:
			mnl_attr_for_each_nested(ip, a)
				mnl_attr_for_each_nested(x, ip)
					if (mnl_attr_get_type(x) == WGALLOWEDIP_A_CIDR_MASK)
						s->allowed = mnl_attr_get_u8(x);
			break;
		}
	}
	return remove ? s->removes++ : s->adds++;
}

static void test_genl(void **state)
{
	struct wg_peer_set ps[2] = { peer(0x11, "192.0.2.2", 51820, false),
				     peer(0x22, "192.0.2.3", 51820, true) };
	struct wg_set set = { .set_key = true, .set_port = true, .port = 51820, .peers = ps,
			      .npeers = 2 };
	static char buf[WG_NL_BUF];
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	const struct genlmsghdr *g;
	const struct nlattr *a, *p;
	struct nl_seen s = { 0 };
	int len;

	(void)state;
	len = wg_genl_build_set(buf, sizeof(buf), 42, 7, "cswg", &set);
	assert_true(len > 0);
	assert_true(mnl_nlmsg_ok(nlh, len));
	assert_int_equal(nlh->nlmsg_type, 42);
	assert_int_equal(nlh->nlmsg_seq, 7);
	g = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(g->cmd, WG_CMD_SET_DEVICE);
	mnl_attr_for_each(a, nlh, sizeof(*g)) {
		switch (mnl_attr_get_type(a)) {
		case WGDEVICE_A_IFNAME:
			s.ifname = !strcmp(mnl_attr_get_str(a), "cswg");
			break;
		case WGDEVICE_A_PRIVATE_KEY:
			s.key = mnl_attr_get_payload_len(a) == WG_KEY_LEN;
			break;
		case WGDEVICE_A_LISTEN_PORT:
			s.port = mnl_attr_get_u16(a);
			break;
		case WGDEVICE_A_FLAGS:
			fail_msg("never WGDEVICE_F_REPLACE_PEERS: other pairs' sessions stay");
			break;
		case WGDEVICE_A_PEERS:
			mnl_attr_for_each_nested(p, a) {
				s.peers++;
				peer_attr(p, &s);
			}
			break;
		}
	}
	assert_true(s.ifname && s.key);
	assert_int_equal(s.port, 51820);
	assert_int_equal(s.peers, 2);
	assert_int_equal(s.adds, 1);
	assert_int_equal(s.removes, 1);
	assert_int_equal(s.keepalive, WG_KEEPALIVE_S);
	assert_int_equal(s.allowed, 32);
	/* a name too long for an interface, or a buffer too small: refused */
	assert_int_equal(wg_genl_build_set(buf, sizeof(buf), 42, 7, "0123456789abcdef", &set),
			 CS_EINVAL);
	assert_int_equal(wg_genl_build_set(buf, 1024, 42, 7, "cswg", &set), CS_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_uapi_text),
		cmocka_unit_test(test_uapi_parse),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_genl),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
