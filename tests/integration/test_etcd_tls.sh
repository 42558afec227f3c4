#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The authenticated store (issue 15): etcd in a namespace of its own, over
# TLS with client certificates (csd's without a Common Name) and etcd's own
# authentication (user cs, whose role may read and write the test's prefix
# only). csd works through it (tenant, vnet, endpoint created and listed,
# the keys in etcd); etcd refuses a client without a certificate and one
# without a token, while the same request with both succeeds; csd refuses
# to start, saying what to mend, with a wrong password, a password file
# group-readable or a symlink, a CA that did not sign etcd's certificate, a
# client certificate from another CA or one carrying a Common Name, a user
# whose role does not cover the prefix, and an unknown key; after etcd
# restarts (forgetting every token) csd logs in again by itself; the
# password is never in csd's log or replies.
. "$(dirname "$0")/lib.sh"

command -v etcd >/dev/null || { echo "SKIP: etcd not installed"; exit 77; }
. "$(dirname "$0")/etcd_tls.sh"

ES=${PFX}hetcd
ETCD_IP=192.0.2.100
ETCD_URL=https://$ETCD_IP:2379
LOCAL_URL=https://127.0.0.1:2379
SPFX=/cs-$PFX
ETCD_PID=

cleanup_tls() {
	[ -n "$ETCD_PID" ] && kill -9 "$ETCD_PID" 2>/dev/null
	cleanup
}
trap cleanup_tls EXIT
in_etcd() { nsenter --net="/run/netns/$ES" "$@"; }
in_n1() { nsenter --net="/run/netns/${PFX}hn1" "$@"; }

etcd_start() {
	# nsenter execs etcd: $! is etcd itself
	in_etcd etcd --name t1 --data-dir "$TMP/etcd" \
		--listen-client-urls "$ETCD_URL,$LOCAL_URL" --advertise-client-urls "$ETCD_URL" \
		--listen-peer-urls "http://127.0.0.1:2380" \
		--initial-advertise-peer-urls "http://127.0.0.1:2380" \
		--initial-cluster "t1=http://127.0.0.1:2380" --initial-cluster-state new \
		$(etcd_tls_flags) >>"$TMP/etcd.log" 2>&1 &
	ETCD_PID=$!
	local i
	for i in $(seq 100); do
		etcdctl_at "$ES" "$LOCAL_URL" endpoint health >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "etcd did not start:"; tail -20 "$TMP/etcd.log"
	return 1
}
etcd_stop() { kill "$ETCD_PID"; wait "$ETCD_PID" 2>/dev/null; ETCD_PID=; }

# the world: etcd's namespace and n1's, joined by a veth pair
host_add etcd
host_add n1
ip link add eth0 netns "$ES" type veth peer name eth0 netns "${PFX}hn1"
ip -n "$ES" addr add "$ETCD_IP/24" dev eth0
ip -n "$ES" link set eth0 up
ip -n "${PFX}hn1" addr add 192.0.2.1/24 dev eth0
ip -n "${PFX}hn1" link set eth0 up

tls_make "$ETCD_IP" || { echo "FAIL - cannot make certificates with openssl"; exit 1; }
check "csd's client certificate has no Common Name" \
	sh -c "! openssl x509 -in '$PKI/client.crt' -noout -subject | grep -q CN"
etcd_start || exit 1
check "etcd: users, a role readwrite on $SPFX, authentication on" \
	etcd_auth_setup "$ES" "$LOCAL_URL" "$SPFX"
PWF=$(cs_password_file)

# conf NAME [CA CLIENT PASSWORD_FILE [PREFIX]]: a configuration for n1
conf() {
	cat >"$TMP/$1.json" <<JSON
{ "node": "n1", "underlay": "192.0.2.1",
  "store": { "type": "etcd", "endpoints": ["$ETCD_URL"], "prefix": "${5:-$SPFX}",
  $(store_tls_json "${2:-ca}" "${3:-client}" "${4:-$PWF}") } }
JSON
	echo "$TMP/$1.json"
}

# refused WHAT CONFIG MESSAGE: csd with CONFIG exits non-zero (within 10 s)
# and says MESSAGE
refused() {
	local what=$1 cfg=$2 msg=$3 rc
	mkdir -p "$TMP/bad"
	timeout 10 nsenter --net="/run/netns/${PFX}hn1" "$CSD" -c "$cfg" -S "$TMP/bad/csd.sock" \
		-D "$TMP/bad/state" -p "$PFX" -n n1 >"$TMP/bad/out" 2>&1
	rc=$?
	cat "$TMP/bad/out" >>"$TMP/bad/all"
	check "$what: csd refuses to start (exit $rc): $(grep -v ': debug:' "$TMP/bad/out" | head -3)" \
		test "$rc" != 0 -a "$rc" != 124
	check "$what: it says \"$msg\"" grep -qF -- "$msg" "$TMP/bad/out"
}

# ---- refusals at start, each naming what to mend ----
cp "$PWF" "$TMP/wrong.pw" && printf 'not-the-password\n' >"$TMP/wrong.pw" && chmod 600 "$TMP/wrong.pw"
refused "wrong password" "$(conf wrong ca client "$TMP/wrong.pw")" \
	"etcd refused user cs: authentication failed; check password_file $TMP/wrong.pw"
cp "$PWF" "$TMP/group.pw" && chmod 640 "$TMP/group.pw"
refused "group-readable password file" "$(conf group ca client "$TMP/group.pw")" \
	"store.auth.password_file $TMP/group.pw: mode 0640 lets group or others read or write it; chmod 600"
ln -s "$PWF" "$TMP/link.pw"
refused "password file through a symlink" "$(conf link ca client "$TMP/link.pw")" \
	"store.auth.password_file $TMP/link.pw: is a symbolic link"
refused "CA that did not sign etcd's certificate" "$(conf ca otherca)" \
	"etcd $ETCD_URL: its certificate does not verify against tls.ca $PKI/otherca.crt"
refused "client certificate from another CA" "$(conf stranger ca stranger)" \
	"etcd $ETCD_URL refused csd's client certificate tls.cert $PKI/stranger.crt"
refused "client certificate with a Common Name" "$(conf withcn ca withcn)" \
	"refuses tls.cert $PKI/withcn.crt: it carries a Common Name"
refused "a prefix the user's role does not cover" "$(conf prefix ca client "$PWF" /elsewhere)" \
	"permission denied to user cs under the key prefix /elsewhere: its etcd role needs readwrite on /elsewhere"
sed 's/"key":/"keyfile":/' "$(conf unknown)" >"$TMP/unknown2.json"
refused "an unknown key in store.tls" "$TMP/unknown2.json" "store.tls.keyfile: unknown key"
sed 's|"endpoints": \["https|"endpoints": ["http|' "$(conf plain)" >"$TMP/plain2.json"
refused "plain http with store.tls" "$TMP/plain2.json" "is not TLS, but store.tls is set; use https://"

# ---- csd over TLS with authentication ----
csd_start n1 -c "$(conf good)" || exit 1
check "tenant acme created" ctl n1 tenant create acme
check "vnet acme/blue created" ctl n1 vnet create acme/blue subnet 10.1.0.0/24
check "endpoint acme/blue/web created" ctl n1 endpoint create acme/blue/web
check "its namespace exists" test -e "/run/netns/$PFX.acme.blue.web"
check "endpoint list shows acme/blue/web up" \
	sh -c "'$CTL' -S '$TMP/n1/csd.sock' -j endpoint list acme | grep -q '\"state\": \"up\"'"
check "vnet list shows acme/blue" sh -c "'$CTL' -S '$TMP/n1/csd.sock' vnet list | grep -q acme/blue"
check "etcd holds the endpoint under $SPFX (read as root)" grep -q acme/blue/web \
	<<<"$(etcdctl_at "$ES" "$LOCAL_URL" --user "root:$ETCD_ROOT_PW" get --prefix --keys-only \
	"$SPFX/endpoints/")"

# ---- etcd refuses a client without a certificate, and one without a
# token; the same request with both succeeds (all from n1) ----
range='{"key":"'$(printf '%s' "$SPFX/endpoints/" | base64)'","range_end":"'$(printf '%s' "$SPFX/endpoints0" | base64)'"}'
in_n1 curl -s --max-time 5 --cacert "$PKI/ca.crt" "$ETCD_URL/v3/kv/range" -d "$range" >/dev/null 2>&1
rc=$?
check "no client certificate: the TLS handshake fails (curl exit $rc)" test "$rc" != 0
code=$(in_n1 curl -s -o "$TMP/nocred.out" -w '%{http_code}' --max-time 5 --cacert "$PKI/ca.crt" \
	--cert "$PKI/client.crt" --key "$PKI/client.key" "$ETCD_URL/v3/kv/range" -d "$range")
check "certificate without a token: refused (HTTP $code: $(cat "$TMP/nocred.out"))" \
	test "$code" = 400 -a -n "$(grep 'user name is empty' "$TMP/nocred.out")"
token=$(in_n1 curl -s --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/client.crt" \
	--key "$PKI/client.key" "$ETCD_URL/v3/auth/authenticate" \
	-d "{\"name\":\"cs\",\"password\":\"$CS_ETCD_PW\"}" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
code=$(in_n1 curl -s -o "$TMP/cred.out" -w '%{http_code}' --max-time 5 --cacert "$PKI/ca.crt" \
	--cert "$PKI/client.crt" --key "$PKI/client.key" -H "Authorization: $token" \
	"$ETCD_URL/v3/kv/range" -d "$range")
check "certificate and token: the same request succeeds (HTTP $code)" \
	test "$code" = 200 -a -n "$(grep '"kvs"' "$TMP/cred.out")"
code=$(in_n1 curl -s -o "$TMP/other.out" -w '%{http_code}' --max-time 5 --cacert "$PKI/ca.crt" \
	--cert "$PKI/client.crt" --key "$PKI/client.key" -H "Authorization: $token" \
	"$ETCD_URL/v3/kv/put" -d '{"key":"'$(printf /elsewhere | base64)'","value":"eA=="}')
check "user cs may not write outside $SPFX (HTTP $code)" \
	test "$code" = 403 -a -n "$(grep 'permission denied' "$TMP/other.out")"

# ---- etcd restarts and forgets every token: csd logs in again ----
etcd_stop
etcd_start || exit 1
for i in $(seq 100); do ctl n1 endpoint create acme/blue/after >/dev/null 2>&1 && break; sleep 0.1; done
check "after etcd's restart, a change works again (new token)" \
	test -n "$(ctl n1 endpoint list acme/blue | grep after)"
check "acme/blue/after realized" test -e "/run/netns/$PFX.acme.blue.after"
check "csd logged no refusal from the store" \
	sh -c "! grep -E 'refused user|permission denied|refuses the token' '$TMP/n1/csd.log'"

# ---- the password never leaves ----
ctl n1 -j status >"$TMP/status.json" 2>&1
check "the password is not in csd's status reply" sh -c "! grep -qF '$CS_ETCD_PW' '$TMP/status.json'"
check "the password is not in csd's log" sh -c "! grep -qF '$CS_ETCD_PW' '$TMP/n1/csd.log'"
check "nor in the refusals' output" sh -c "! grep -qF '$CS_ETCD_PW' '$TMP/bad/all'"

check "endpoint delete acme/blue/web" ctl n1 endpoint delete acme/blue/web
check "tenant delete acme" ctl n1 tenant delete acme
check "nothing leaked" test -z "$(leaked)"
finish
