/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * WireGuard keys: Curve25519 (X25519) through OpenSSL's libcrypto, the
 * base64 form node documents and wg(8) use, the hex form of the UAPI, and
 * the private key's file in csd's state directory. The private key never
 * leaves that file and csd's memory: not the store, a reply or a log.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "wg.h"

int wg_key_public(const uint8_t priv[WG_KEY_LEN], uint8_t pub[WG_KEY_LEN])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, WG_KEY_LEN);
	size_t len = WG_KEY_LEN;
	int r;

	if (!k)
		return CS_EINVAL;
	r = EVP_PKEY_get_raw_public_key(k, pub, &len) == 1 && len == WG_KEY_LEN ? 0 : CS_EIO;
	EVP_PKEY_free(k);
	return r;
}

int wg_key_generate(uint8_t priv[WG_KEY_LEN], uint8_t pub[WG_KEY_LEN])
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
	EVP_PKEY *k = NULL;
	size_t len = WG_KEY_LEN, plen = WG_KEY_LEN;
	int r = CS_EIO;

	if (c && EVP_PKEY_keygen_init(c) == 1 && EVP_PKEY_keygen(c, &k) == 1 &&
	    EVP_PKEY_get_raw_private_key(k, priv, &len) == 1 &&
	    EVP_PKEY_get_raw_public_key(k, pub, &plen) == 1 && len == WG_KEY_LEN &&
	    plen == WG_KEY_LEN)
		r = 0;
	EVP_PKEY_free(k);
	EVP_PKEY_CTX_free(c);
	return r;
}

/* Write a new key to @name (absent: O_EXCL) in @dirfd. */
static int key_write(int dirfd, const char *name, uint8_t priv[WG_KEY_LEN], char *why,
		     size_t whylen)
{
	uint8_t pub[WG_KEY_LEN];
	char b64[WG_KEY_B64_LEN + 2];
	int fd, r = 0;

	if (wg_key_generate(priv, pub) < 0) {
		snprintf(why, whylen, "cannot generate a Curve25519 key");
		return CS_EIO;
	}
	wg_key_to_base64(priv, b64);
	strcat(b64, "\n");
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(why, whylen, "cannot create %s: %s", name, strerror(errno));
		return CS_EIO;
	}
	if (write(fd, b64, sizeof(b64) - 1) != (ssize_t)sizeof(b64) - 1 || fsync(fd) < 0) {
		snprintf(why, whylen, "cannot write %s: %s", name, strerror(errno));
		unlinkat(dirfd, name, 0);
		r = CS_EIO;
	}
	close(fd);
	explicit_bzero(b64, sizeof(b64));
	return r;
}

static int key_read(int dirfd, const char *name, uint8_t priv[WG_KEY_LEN], char *why,
		    size_t whylen)
{
	char buf[WG_KEY_B64_LEN + 2] = { 0 };
	struct stat st;
	ssize_t n;
	int fd, r;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return CS_ENOENT;
		snprintf(why, whylen, "cannot open %s: %s%s", name, strerror(errno),
			 errno == ELOOP ? " (a symlink: remove it)" : "");
		return CS_EPERM;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077)) {
		snprintf(why, whylen, "%s must be a regular file owned by csd's user, mode 0600; "
			 "fix or remove it (a new key is then made)", name);
		close(fd);
		return CS_EPERM;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	r = wg_key_from_base64(buf, priv);
	explicit_bzero(buf, sizeof(buf));
	if (r < 0)
		snprintf(why, whylen, "%s does not hold a base64 WireGuard key; remove it and a "
			 "new key is made", name);
	return r;
}

int wg_key_file(int dirfd, const char *name, bool rotate, uint8_t priv[WG_KEY_LEN],
		char *why, size_t whylen)
{
	char tmp[256];
	int r;

	if (!rotate) {
		r = key_read(dirfd, name, priv, why, whylen);
		if (r != CS_ENOENT)
			return r;
		return key_write(dirfd, name, priv, why, whylen);
	}
	snprintf(tmp, sizeof(tmp), "%s.new", name);
	unlinkat(dirfd, tmp, 0);
	if ((r = key_write(dirfd, tmp, priv, why, whylen)) < 0)
		return r;
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		snprintf(why, whylen, "cannot replace %s: %s", name, strerror(errno));
		unlinkat(dirfd, tmp, 0);
		return CS_EIO;
	}
	return 0;
}
