# SPDX-License-Identifier: GPL-2.0-or-later
# Shared by the tests that run etcd over TLS with authentication (sourced
# after lib.sh): certificates made with openssl in $TMP/pki, the flags etcd
# needs, its users and roles, and what csd's configuration says.
#
# csd's client certificate carries no Common Name: etcd 3.4's JSON gateway
# answers 400 to one that does; the etcd user carries the identity.

command -v openssl >/dev/null || { echo "SKIP: openssl not installed"; exit 77; }
command -v etcdctl >/dev/null || { echo "SKIP: etcdctl not installed"; exit 77; }
PKI=$TMP/pki
ETCD_ROOT_PW=root-$PFX-pw
CS_ETCD_PW=cs-$PFX-secret

# tls_cert NAME CA SUBJECT [EXTENSIONS]: a P-256 key and a certificate
# signed by CA (NAME.key, NAME.crt in $PKI)
tls_cert() {
	local name=$1 ca=$2 subj=$3 ext=${4:-extendedKeyUsage=clientAuth}
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$PKI/$name.key" -out "$PKI/$name.csr" -subj "$subj" 2>/dev/null &&
	printf '%s\n' "$ext" | tr ';' '\n' >"$PKI/$name.ext" &&
	openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" \
		-CAcreateserial -days 2 -out "$PKI/$name.crt" -extfile "$PKI/$name.ext" 2>/dev/null
}

# tls_ca NAME: a self-signed CA
tls_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-keyout "$PKI/$1.key" -out "$PKI/$1.crt" -subj "/CN=cs test $1" 2>/dev/null
}

# tls_make IP: the CA, etcd's certificate for IP and 127.0.0.1, csd's
# client certificate (no CN), one with a CN, and a second, unrelated CA
# with a client certificate of its own
tls_make() {
	mkdir -p "$PKI" && chmod 700 "$PKI" &&
	tls_ca ca && tls_ca otherca &&
	tls_cert server ca "/CN=etcd" \
		"subjectAltName=IP:$1,IP:127.0.0.1;extendedKeyUsage=serverAuth,clientAuth" &&
	tls_cert client ca "/O=cs/OU=csd" &&
	tls_cert withcn ca "/CN=cs" &&
	tls_cert stranger otherca "/O=cs/OU=stranger"
}

# etcd's flags for TLS with client certificates (add them to its command)
etcd_tls_flags() {
	echo --client-cert-auth --trusted-ca-file "$PKI/ca.crt" \
		--cert-file "$PKI/server.crt" --key-file "$PKI/server.key"
}

# etcdctl_at NS URL ARGS...: etcdctl in namespace NS against the etcd at URL
etcdctl_at() {
	local ns=$1 url=$2; shift 2
	nsenter --net="/run/netns/$ns" etcdctl --endpoints "$url" --cacert "$PKI/ca.crt" \
		--cert "$PKI/client.crt" --key "$PKI/client.key" "$@"
}

# etcd_auth_setup NS URL PREFIX: users root and cs, cs's role readwrite on
# PREFIX, then authentication on
etcd_auth_setup() {
	local ns=$1 url=$2 prefix=$3
	etcdctl_at "$ns" "$url" user add "root:$ETCD_ROOT_PW" >/dev/null &&
	etcdctl_at "$ns" "$url" role add csd >/dev/null &&
	etcdctl_at "$ns" "$url" role grant-permission csd --prefix=true readwrite "$prefix" \
		>/dev/null &&
	etcdctl_at "$ns" "$url" user add "cs:$CS_ETCD_PW" >/dev/null &&
	etcdctl_at "$ns" "$url" user grant-role cs csd >/dev/null &&
	etcdctl_at "$ns" "$url" auth enable >/dev/null
}

# the password file csd reads: csd's own, mode 0600
cs_password_file() {
	(umask 077 && printf '%s\n' "$CS_ETCD_PW" >"$PKI/cs.password")
	echo "$PKI/cs.password"
}

# the store's security keys for csd's configuration (after "prefix": ...)
store_tls_json() {
	printf '"tls": { "ca": "%s", "cert": "%s", "key": "%s" },
  "auth": { "user": "cs", "password_file": "%s" }' \
		"$PKI/${1:-ca}.crt" "$PKI/${2:-client}.crt" "$PKI/${2:-client}.key" \
		"${3:-$PKI/cs.password}"
}
