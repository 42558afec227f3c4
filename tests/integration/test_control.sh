#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Control plane against a real csd: CRUD round trip, refused requests leave
# the store unchanged and the daemon alive, owners and non-owners.
. "$(dirname "$0")/lib.sh"

host_add a
csd_start a || exit 1

check "tenant create" ctl a tenant create acme owners.uids 1000
check "vnet create" ctl a vnet create acme/blue subnet 10.1.0.0/24
check "endpoint create" ctl a endpoint create acme/blue/web
check "endpoint create with a fixed address" ctl a endpoint create acme/blue/db address 10.1.0.10 groups db
check "endpoint show gives the allocated address" \
	bash -c "'$CTL' -S '$TMP/a/csd.sock' -j endpoint show acme/blue/web | grep -q '\"address\": \"10.1.0.2\"'"
check "endpoint is up once create returns" \
	bash -c "'$CTL' -S '$TMP/a/csd.sock' -j endpoint show acme/blue/db | grep -q '\"state\": \"up\"'"
check "endpoint namespace exists" test -e "/run/netns/$PFX.acme.blue.db"
check "vnet list shows the vnet" bash -c "'$CTL' -S '$TMP/a/csd.sock' vnet list | grep -q 'acme/blue'"
check "prefix matching of words" ctl a ten l
check "-j list is a JSON array" bash -c "'$CTL' -S '$TMP/a/csd.sock' -j endpoint list acme/blue | python3 -c 'import json,sys; a=json.load(sys.stdin); assert len(a)==2, a'"

# refused requests: exit 1, a message naming the object, nothing changed
rev=$(revision a)
refuse() { # refuse WHAT EXPECTED-TEXT ARGS...
	local what=$1 text=$2; shift 2
	local out rc
	out=$(ctl a "$@" 2>&1); rc=$?
	if [ $rc = 1 ] && grep -q -- "$text" <<<"$out"; then ok "refused: $what"; else
		fail "refused: $what (rc $rc, said: $out)"; fi
}
refuse "invalid CIDR" "out of range" vnet create acme/red subnet 10.0.0.0/33
refuse "host bits set" "host bits" vnet create acme/red subnet 10.0.0.5/24
refuse "subnet too small" "too small" vnet create acme/red subnet 10.0.0.0/31
refuse "loopback subnet" "loopback" vnet create acme/red subnet 127.0.0.0/24
refuse "a subnet holding everything" "this network" vnet create acme/red subnet 0.0.0.0/0
refuse "multicast subnet" "multicast" vnet create acme/red subnet 224.1.0.0/16
refuse "link-local IPv6 subnet" "link-local" vnet create acme/red subnet fe80::/64
refuse "a list narrowed to a missing vnet" "no such vnet" endpoint list acme/nope
refuse "address outside the subnet" "outside" endpoint create acme/blue/x address 10.2.0.5
refuse "gateway address" "gateway" endpoint create acme/blue/x address 10.1.0.1
refuse "network address" "network address" endpoint create acme/blue/x address 10.1.0.0
refuse "broadcast address" "broadcast" endpoint create acme/blue/x address 10.1.0.255
refuse "duplicate address" "already used" endpoint create acme/blue/x address 10.1.0.10
refuse "duplicate endpoint" "already exists" endpoint create acme/blue/web
refuse "duplicate vnet" "already exists" vnet create acme/blue subnet 10.9.0.0/24
refuse "duplicate tenant" "already exists" tenant create acme
refuse "missing vnet" "no such vnet" endpoint create acme/nope/x
refuse "bad mtu" "mtu" vnet create acme/red subnet 10.3.0.0/24 mtu 99999
check "store revision unchanged by refused requests" test "$(revision a)" = "$rev"
out=$(ctl a vnet create acme/red subnett 10.0.0.0/24 2>&1); rc=$?
check "unknown key is a usage error (exit 2) naming the key" \
	bash -c "[ $rc = 2 ] && grep -q subnett <<<'$out'"
out=$(ctl a vnet frobnicate 2>&1); rc=$?
check "unknown verb is a usage error listing continuations" \
	bash -c "[ $rc = 2 ] && grep -q create <<<'$out'"
check "daemon alive after refusals" ctl a status

# raw protocol abuse through python: malformed JSON, oversized message
python3 - "$TMP/a/csd.sock" <<'PY' && ok "malformed JSON and oversized messages get errors; connection stays usable" || fail "protocol abuse"
import socket, struct, sys, json
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
def send(b, total=None, more=False):
    s.send(struct.pack('<BBHI', 0xC5, 1 if more else 0, 0, len(b) if total is None else total) + b)
def recv():
    d = s.recv(1 << 20)
    return json.loads(d[8:])
send(b'{"id":1,"op":')
r = recv(); assert not r['ok'] and r['error']['code'] == 'EPROTO', r
send(b'{"id":2,"op":"hello","args":{"version":1}}')
r = recv(); assert r['ok'], r
send(b'x' * 65536, total=64 << 20, more=True)
r = recv(); assert r['error']['code'] == 'ETOOBIG', r
send(b'y' * 100, total=64 << 20)
send(b'{"id":3,"op":"frob"}')
r = recv(); assert r['error']['code'] == 'ENOTSUP' and r['id'] == 3, r
send(b'{"id":4,"op":"status"}')
r = recv(); assert r['ok'], r
PY
check "store revision unchanged by protocol abuse" test "$(revision a)" = "$rev"

# ownership: uid 1000 owns acme; uid 1001 sees nothing of it
as() { local u=$1; shift; setpriv --reuid "$u" --regid "$u" --clear-groups "$CTL" -S "$TMP/a/csd.sock" "$@"; }
check "owner uid 1000 sees its tenant" bash -c "$(declare -f as); CTL='$CTL' TMP='$TMP' as 1000 tenant list | grep -q acme"
check "owner uid 1000 creates a vnet" as 1000 vnet create acme/green subnet 10.4.0.0/24
check "owner uid 1000 creates an endpoint" as 1000 endpoint create acme/green/e1
rev=$(revision a)
check_not "non-owner uid 1001 cannot create in the tenant" as 1001 vnet create acme/y subnet 10.5.0.0/24
out=$(as 1001 vnet show acme/blue 2>&1)
check "non-owner sees 'no such tenant', not 'permission denied'" grep -q "no such tenant" <<<"$out"
check "non-owner's tenant list is empty" test -z "$(as 1001 tenant list | tail -n +2)"
check "non-owner's endpoint list is empty" test -z "$(as 1001 endpoint list | tail -n +2)"
check_not "non-owner cannot delete" as 1001 tenant delete acme
check "non-owner changed nothing" test "$(revision a)" = "$rev"
check "uid 1001 may create a tenant of its own" as 1001 tenant create other
check_not "uid 1001 may not name another uid as owner" as 1001 tenant create other2 owners.uids 0

# fds do not grow with connections
pid=$(csd_pid a)
before=$(fd_count "$pid")
for i in $(seq 50); do ctl a status >/dev/null; done
check "csd fd count stable over 50 connections" test "$(fd_count "$pid")" = "$before"

# a second csd never takes what the first holds, nor deletes files it
# did not make
csd_try() { # ARGS...: a csd in host a that must refuse to start; prints its stderr
	timeout 10 nsenter --net="/run/netns/${PFX}ha" "$CSD" -l warning "$@" 2>&1
	[ $? = 1 ]
}
out=$(csd_try -S "$TMP/a/csd.sock" -D "$TMP/a/other" -p "${PFX}x" -n a)
check "a second csd on the same socket is refused (said: $out)" \
	sh -c "printf '%s' \"\$1\" | grep -q 'already serving'" _ "$out"
check "and the first still answers on it" ctl a status
echo precious > "$TMP/precious.txt"
out=$(csd_try -S "$TMP/precious.txt" -D "$TMP/a/other" -p "${PFX}x" -n a)
check "-S naming a regular file is refused (said: $out)" \
	sh -c "printf '%s' \"\$1\" | grep -q 'not a socket'" _ "$out"
check "and the file is left alone" grep -q precious "$TMP/precious.txt"
out=$(csd_try -S "$TMP/a/two.sock" -D "$TMP/a/state" -p "$PFX" -n a)
check "a second csd with the same prefix is refused (said: $out)" \
	sh -c "printf '%s' \"\$1\" | grep -q 'already manages prefix'" _ "$out"
pid=$(csd_pid a)
kill -9 "$pid"; wait "$pid" 2>/dev/null
out=$(csd_try -S "$TMP/a/csd.sock" -D "$TMP/a/state" -p "$PFX" -n renamed)
check "restarted as another node while its endpoints exist: refused (said: $out)" \
	sh -c "printf '%s' \"\$1\" | grep -q 'made by node a'" _ "$out"
out=$(csd_try -S "$TMP/a/csd.sock" -D "$TMP/a/typo" -p "$PFX" -n a)
check "restarted on another state directory: refused (said: $out)" \
	sh -c "printf '%s' \"\$1\" | grep -q 'with store sqlite'" _ "$out"
check "the endpoints are all still there" test -e "/run/netns/$PFX.acme.blue.web"
csd_start a || exit 1
check "restarted as before, it serves them" ctl a endpoint show acme/blue/web

# node declarations: uplink_shape needs an uplink and is exactly true or
# false; this csd's own node and a missing one are told apart
rev=$(revision a)
refuse "uplink_shape without uplink" "uplink_shape: true needs the uplink" \
	node create n5 underlay 192.0.2.55 uplink_shape true
refuse "uplink_shape yes" "true or false" \
	node create n5 underlay 192.0.2.55 uplink 1gbit uplink_shape yes
refuse "node show of a missing node says how to declare it" "cs-ctl node create n5" node show n5
if ctl a -j node show a | grep -q '"declared": false'; then
	refuse "node delete of csd's own node says so" "this csd's own node" node delete a
fi
refuse "node delete of a missing node" "no such node" node delete n5
check "store revision unchanged by refused node requests" test "$(revision a)" = "$rev"
out=$(ctl a vnet create acme/q subnet 10.30.0.0/24 subnet 10.31.0.0/24 2>&1); rc=$?
check "a key given twice is a usage error (exit 2) (said: $out)" \
	bash -c "[ $rc = 2 ] && grep -q 'given twice' <<<'$out'"
check_not "and no vnet was made" ctl a vnet show acme/q

# delete everything: nothing left
check "endpoint delete" ctl a endpoint delete acme/blue/web
check "endpoint namespace gone" test ! -e "/run/netns/$PFX.acme.blue.web"
check "tenant delete" ctl a tenant delete acme
check "tenant delete of other" ctl a tenant delete other
check_not "deleted tenant is gone" ctl a tenant show acme
check "nothing leaked" test -z "$(leaked)"
finish
