/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * csd's configuration file, its store section: "tls" and "auth" as
 * DESIGN.md names them, unknown keys refused with their JSON path, the
 * files checked, the password file refused unless it is a regular file of
 * csd's own with mode 0600 or stricter (never through a symlink), and the
 * password in no message.
 */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "csd/csd.h"

#define PASSWORD "s3cret \"quoted\" pw"

static char dir[] = "/tmp/cs-config-test.XXXXXX";
static char conf_path[128], pw_path[128], ca_path[128], cert_path[128], key_path[128];

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/csd.json", dir);
	snprintf(pw_path, sizeof(pw_path), "%s/pw", dir);
	snprintf(ca_path, sizeof(ca_path), "%s/ca.crt", dir);
	snprintf(cert_path, sizeof(cert_path), "%s/client.crt", dir);
	snprintf(key_path, sizeof(key_path), "%s/client.key", dir);
	write_file(ca_path, "-----BEGIN CERTIFICATE-----\n", 0644);
	write_file(cert_path, "-----BEGIN CERTIFICATE-----\n", 0644);
	write_file(key_path, "-----BEGIN PRIVATE KEY-----\n", 0600);
	write_file(pw_path, PASSWORD "\n", 0600);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* Loads @store (the "store" object's text) as csd -c would: 0 or CS_EINVAL,
 * with the message in @err (which must never hold the password). */
static int load(const char *store, struct csd_config *cfg, char *err, size_t len)
{
	char text[4096];
	char *argv[] = { "csd", "-c", conf_path, NULL };
	int r;

	snprintf(text, sizeof(text), "{ \"node\": \"n1\", \"store\": %s }", store);
	write_file(conf_path, text, 0644);
	err[0] = '\0';
	r = csd_config_load(cfg, 3, argv, err, len);
	assert_null(strstr(err, "s3cret"));
	return r;
}

/* A store section with tls and auth; @extra_* go inside those objects. */
static const char *secure(char *buf, size_t len, const char *endpoint, const char *ca,
			  const char *pw, const char *extra_tls, const char *extra_auth)
{
	snprintf(buf, len, "{ \"type\": \"etcd\", \"endpoints\": [\"%s\"], \"prefix\": \"/p\", "
		 "\"tls\": { \"ca\": \"%s\", \"cert\": \"%s\", \"key\": \"%s\"%s }, "
		 "\"auth\": { \"user\": \"cs\", \"password_file\": \"%s\"%s } }", endpoint, ca,
		 cert_path, key_path, extra_tls, pw, extra_auth);
	return buf;
}

static void expect_refused(const char *store, const char *msg)
{
	struct csd_config cfg;
	char err[1024];

	if (load(store, &cfg, err, sizeof(err)) != CS_EINVAL || !strstr(err, msg))
		fail_msg("%s: expected an error with \"%s\", got \"%s\"", store, msg, err);
	csd_config_free(&cfg);
}

static void test_secure_store(void **state)
{
	struct csd_config cfg;
	char buf[2048], err[1024];

	(void)state;
	assert_int_equal(load(secure(buf, sizeof(buf), "https://192.0.2.100:2379", ca_path,
				     pw_path, "", ""), &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.store_type, "etcd");
	assert_string_equal(cfg.etcd_endpoints[0], "https://192.0.2.100:2379");
	assert_null(cfg.etcd_endpoints[1]);
	assert_string_equal(cfg.etcd_prefix, "/p");
	assert_string_equal(cfg.etcd_ca, ca_path);
	assert_string_equal(cfg.etcd_cert, cert_path);
	assert_string_equal(cfg.etcd_key, key_path);
	assert_string_equal(cfg.etcd_user, "cs");
	assert_string_equal(cfg.etcd_password_file, pw_path);
	/* the file's one trailing newline is not part of the password */
	assert_string_equal(cfg.etcd_password, PASSWORD);
	csd_config_free(&cfg);
	/* TLS alone, auth alone, and neither: all fine */
	snprintf(buf, sizeof(buf), "{ \"type\": \"etcd\", \"endpoints\": [\"https://h:2379\"], "
		 "\"tls\": { \"ca\": \"%s\" } }", ca_path);
	assert_int_equal(load(buf, &cfg, err, sizeof(err)), 0);
	assert_null(cfg.etcd_user);
	csd_config_free(&cfg);
	snprintf(buf, sizeof(buf), "{ \"type\": \"etcd\", \"endpoints\": [\"http://h:2379\"], "
		 "\"auth\": { \"user\": \"u\", \"password_file\": \"%s\" } }", pw_path);
	assert_int_equal(load(buf, &cfg, err, sizeof(err)), 0);
	assert_null(cfg.etcd_ca);
	assert_string_equal(cfg.etcd_password, PASSWORD);
	csd_config_free(&cfg);
	assert_int_equal(load("{ \"type\": \"sqlite\" }", &cfg, err, sizeof(err)), 0);
	csd_config_free(&cfg);
}

static void test_unknown_keys(void **state)
{
	char buf[2048];

	(void)state;
	expect_refused(secure(buf, sizeof(buf), "https://h:2379", ca_path, pw_path,
			      ", \"capath\": \"/x\"", ""),
		       "store.tls.capath: unknown key (known: ca, cert, key)");
	expect_refused(secure(buf, sizeof(buf), "https://h:2379", ca_path, pw_path, "",
			      ", \"password\": \"x\""),
		       "store.auth.password: unknown key (known: user, password_file)");
	expect_refused("{ \"type\": \"etcd\", \"endpoints\": [\"https://h\"], \"tsl\": {} }",
		       "store.tsl: unknown key");
	expect_refused("{ \"type\": \"etcd\", \"endpoints\": [\"https://h\"], \"tls\": [] }",
		       "store.tls: expected an object");
	expect_refused("{ \"type\": \"etcd\", \"endpoints\": [\"https://h\"], "
		       "\"tls\": { \"ca\": 1 } }", "store.tls.ca: expected a non-empty string");
	expect_refused("{ \"type\": \"mysql\" }", "store.type: expected \"sqlite\" or \"etcd\"");
	expect_refused("{ \"type\": \"sqlite\", \"tls\": {} }", "are for type \"etcd\"");
	expect_refused("{ \"type\": \"etcd\" }", "store.endpoints: expected a list");
	expect_refused("{ \"type\": \"etcd\", \"endpoints\": [\"ftp://h\"] }",
		       "store.endpoints[0]: expected an http:// or https:// URL");
}

static void test_tls_files(void **state)
{
	char buf[2048], missing[128];

	(void)state;
	snprintf(missing, sizeof(missing), "%s/nothing.crt", dir);
	expect_refused(secure(buf, sizeof(buf), "https://h:2379", missing, pw_path, "", ""),
		       "store.tls.ca");
	expect_refused(buf, "cannot read it");
	expect_refused(secure(buf, sizeof(buf), "https://h:2379", dir, pw_path, "", ""),
		       "not a regular file");
	expect_refused(secure(buf, sizeof(buf), "http://h:2379", ca_path, pw_path, "", ""),
		       "store.endpoints[0]: \"http://h:2379\" is not TLS, but store.tls is set; "
		       "use https://");
	snprintf(buf, sizeof(buf), "{ \"type\": \"etcd\", \"endpoints\": [\"https://h\"], "
		 "\"tls\": { \"cert\": \"%s\" } }", cert_path);
	expect_refused(buf, "store.tls: give cert and key together");
	expect_refused("{ \"type\": \"etcd\", \"endpoints\": [\"https://h\"], "
		       "\"auth\": { \"user\": \"cs\" } }", "store.auth: give user and password_file");
}

static void test_password_file(void **state)
{
	char buf[2048], p[128], msg[512];
	static const mode_t loose[] = { 0640, 0604, 0620, 0602, 0660, 0644 };

	(void)state;
	snprintf(p, sizeof(p), "%s/loose", dir);
	for (size_t i = 0; i < sizeof(loose) / sizeof(loose[0]); i++) {
		write_file(p, PASSWORD, loose[i]);
		snprintf(msg, sizeof(msg), "store.auth.password_file %s: mode %04o lets group or "
			 "others read or write it; chmod 600 %s", p, (unsigned)loose[i], p);
		expect_refused(secure(buf, sizeof(buf), "https://h", ca_path, p, "", ""), msg);
	}
	/* stricter than 0600 is fine */
	write_file(p, PASSWORD, 0400);
	{
		struct csd_config cfg;
		char err[1024];

		assert_int_equal(load(secure(buf, sizeof(buf), "https://h", ca_path, p, "", ""),
				      &cfg, err, sizeof(err)), 0);
		assert_string_equal(cfg.etcd_password, PASSWORD);
		csd_config_free(&cfg);
	}
	snprintf(p, sizeof(p), "%s/link", dir);
	assert_int_equal(symlink(pw_path, p), 0);
	snprintf(msg, sizeof(msg), "store.auth.password_file %s: is a symbolic link", p);
	expect_refused(secure(buf, sizeof(buf), "https://h", ca_path, p, "", ""), msg);
	expect_refused(secure(buf, sizeof(buf), "https://h", ca_path, dir, "", ""),
		       "not a regular file");
	snprintf(p, sizeof(p), "%s/empty", dir);
	write_file(p, "\n", 0600);
	expect_refused(secure(buf, sizeof(buf), "https://h", ca_path, p, "", ""),
		       "expected the password, 1-4096 bytes on one line");
	snprintf(p, sizeof(p), "%s/none", dir);
	expect_refused(secure(buf, sizeof(buf), "https://h", ca_path, p, "", ""),
		       "No such file or directory");
}

/* Loads the whole file @text as csd -c would. */
static int load_text(const char *text, struct csd_config *cfg, char *err, size_t len)
{
	char *argv[] = { "csd", "-c", conf_path, NULL };

	write_file(conf_path, text, 0644);
	err[0] = '\0';
	return csd_config_load(cfg, 3, argv, err, len);
}

/* "backends": the backends vnets may name besides --backend */
static void test_backends_setting(void **state)
{
	static const struct {
		const char *value, *msg;
	} bad[] = {
		{ "\"ovs\"", "backends: expected an array of at most 3 backend names" },
		{ "[\"ovs\", \"kernel\", \"recording\", \"ovs\"]", "at most 3" },
		{ "[\"vpp\"]", "backends[0]: expected kernel, ovs or recording" },
		{ "[\"ovs\", 1]", "backends[1]: expected kernel, ovs or recording" },
	};
	struct csd_config cfg;
	char text[256], err[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "{ \"node\": \"n1\", \"backends\": %s }",
			 bad[i].value);
		if (load_text(text, &cfg, err, sizeof(err)) != CS_EINVAL ||
		    !strstr(err, bad[i].msg))
			fail_msg("%s: expected an error with \"%s\", got \"%s\"", text,
				 bad[i].msg, err);
		csd_config_free(&cfg);
	}
	/* paired: a list of known names is taken as it is */
	if (load_text("{ \"node\": \"n1\", \"backends\": [\"ovs\", \"kernel\"] }", &cfg, err,
		      sizeof(err)) != 0)
		fail_msg("backends [ovs, kernel]: %s", err);
	assert_int_equal(cfg.nbackends, 2);
	assert_string_equal(cfg.backends[0], "ovs");
	assert_string_equal(cfg.backends[1], "kernel");
	csd_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backends_setting),
		cmocka_unit_test(test_secure_store),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_tls_files),
		cmocka_unit_test(test_password_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
