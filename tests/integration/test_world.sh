#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Vnets and the world, on one node (issue 18): what ordinary programs expect
# of a host. A program run as its owner's uid binds port 80 in its endpoint
# (the same program is refused on the host, so the probe can fail) and
# serves an unmodified HTTP client; multicast to 239.1.1.1 and ff15::1
# without naming an interface reaches the vnet's other endpoint and not an
# endpoint of another vnet with the same subnet. `set` changes keys in
# place with apply's validation: a value realized (MTU on eth0), lists
# replaced whole, an empty value removes a key, fixed keys (subnet, id,
# node) and bad values refused with the store unchanged, members and
# strangers refused while the owner may, usage errors exit 2.
. "$(dirname "$0")/lib.sh"

host_add a
csd_start a || exit 1
cd "$TMP"
AS() { local u=$1; shift; setpriv --reuid "$u" --regid "$u" --clear-groups "$@"; }
as() { local u=$1; shift; AS "$u" "$CTL" -S "$TMP/a/csd.sock" "$@"; }
HOSTNS=/run/netns/${PFX}ha

ctl a tenant create acme owners.uids 1000 >/dev/null
check "owner creates a dual-stack vnet" \
	as 1000 vnet create acme/blue subnet 10.1.0.0/24,fd00:1::/64
check "and another with the same subnets" \
	as 1000 vnet create acme/red subnet 10.1.0.0/24,fd00:1::/64
for e in blue/web blue/cli blue/rx red/rx; do
	as 1000 endpoint create "acme/$e" >/dev/null || fail "endpoint acme/$e"
done

# ---- any port bindable
BIND80='import socket; s = socket.socket(); s.bind(("", 80)); print("bound")'
out=$(as 1000 exec acme/blue/web -- python3 -c "$BIND80" 2>&1)
check "uid 1000 binds port 80 in its endpoint ($out)" test "$out" = bound
out=$(nsenter --net="$HOSTNS" setpriv --reuid 1000 --regid 1000 --clear-groups \
	python3 -c "$BIND80" 2>&1)
check "the same program is refused port 80 on the host (paired)" grep -q "Permission denied" <<<"$out"
# in the background without a subshell, so that $! is cs-ctl itself
setpriv --reuid 1000 --regid 1000 --clear-groups "$CTL" -S "$TMP/a/csd.sock" exec \
	acme/blue/web -- python3 -m http.server 80 --bind 10.1.0.2 >"$TMP/http.log" 2>&1 &
HTTPD=$!; BG_PIDS+=($HTTPD)
cat >"$TMP/get.py" <<'EOF'
import sys, time, urllib.request
end = time.time() + 15
while True:
    try:
        print(urllib.request.urlopen(sys.argv[1], timeout=2).status); break
    except OSError as e:
        if time.time() > end:
            print(e); break
        time.sleep(0.1)
EOF
out=$(as 1000 exec acme/blue/cli -- python3 "$TMP/get.py" http://10.1.0.2:80/)
check "an unmodified HTTP server on port 80 answers (status $out)" test "$out" = 200
# the program lives on its own (by design): TERM to its cs-ctl ends it
kill -TERM "$HTTPD" 2>/dev/null; wait "$HTTPD" 2>/dev/null

# ---- multicast without naming an interface
MCAST=$(dirname "$(readlink -f "$0")")/mcast.py
for g in 239.1.1.1 ff15::1; do
	bg_ep a acme/blue/rx python3 "$MCAST" recv "$g" >"$TMP/rx-blue" 2>&1
	bg_ep a acme/red/rx python3 "$MCAST" recv "$g" >"$TMP/rx-red" 2>&1
	for i in $(seq 50); do
		grep -q joined "$TMP/rx-blue" && grep -q joined "$TMP/rx-red" && break
		sleep 0.1
	done
	check "a receiver joins $g without naming an interface" grep -q joined "$TMP/rx-blue"
	out=$(in_ep a acme/blue/cli python3 "$MCAST" send "$g" hello-multicast 2>&1)
	check "a sender sends to $g without naming an interface ($out)" test "$out" = sent
	for i in $(seq 60); do
		[ "$(wc -l <"$TMP/rx-blue")" -ge 2 ] && [ "$(wc -l <"$TMP/rx-red")" -ge 2 ] && break
		sleep 0.1
	done
	check "the vnet's other endpoint receives the $g datagram" grep -q hello-multicast "$TMP/rx-blue"
	check "an endpoint of another vnet (same subnet) receives nothing of $g (paired)" \
		grep -qx nothing "$TMP/rx-red"
done

# ---- set
mtu_of() { ip netns exec "$PFX.acme.blue.$1" cat /sys/class/net/eth0/mtu; }
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps(d.get(sys.argv[1])))' "$1"; }
check "owner sets the vnet's mtu" as 1000 vnet set acme/blue mtu 1400
check "the endpoints' eth0 have MTU 1400 at once ($(mtu_of web))" test "$(mtu_of web)" = 1400
check "set takes several keys (members and policy.default)" \
	as 1000 vnet set acme/blue members.uids 1004,1005 policy.default allow
out=$(ctl a -j vnet show acme/blue | jget members)
check "members are as set ($out)" test "$out" = '{"uids": [1004, 1005]}'
check "a list is replaced whole" as 1000 vnet set acme/blue members.uids 1004
out=$(ctl a -j vnet show acme/blue | jget members)
check "members hold only 1004 ($out)" test "$out" = '{"uids": [1004]}'
out=$(ctl a -j vnet show acme/blue | jget mtu)
check "keys not named are kept (mtu $out)" test "$out" = 1400
check "an empty value removes a key" as 1000 vnet set acme/blue mtu ""
out=$(ctl a -j export | python3 -c 'import json,sys; print("mtu" in json.load(sys.stdin)["vnets"]["acme/blue"])')
check "mtu is no longer declared (export: $out)" test "$out" = False
check "and eth0 is back at the default 1500 ($(mtu_of web))" test "$(mtu_of web)" = 1500
check "endpoint set groups" as 1000 endpoint set acme/blue/web groups web,api
check "endpoint set groups again replaces them" as 1000 endpoint set acme/blue/web groups db
out=$(ctl a -j endpoint show acme/blue/web | jget groups)
check "groups are [db] ($out)" test "$out" = '["db"]'
check "tenant set owners" ctl a tenant set acme owners.uids 1000,1001
out=$(ctl a -j tenant show acme | jget owners)
check "owners as set ($out)" grep -q '"uids": \[1000, 1001\]' <<<"$out"
out=$(as 1000 -j vnet set acme/blue policy.default allow)
check "-j prints the object as show does" grep -q '"name": "acme/blue"' <<<"$out"

rev=$(revision a)
# refuses RC PATTERN DESCRIPTION UID ARGS...: cs-ctl as UID exits RC, saying PATTERN
refuses() {
	local want=$1 pat=$2 what=$3 u=$4 out rc; shift 4
	out=$(as "$u" "$@" 2>&1); rc=$?
	check "$what (exit $rc): $out" bash -c '[ "$1" = "$2" ] && grep -q -- "$3" <<<"$4"' \
		_ "$rc" "$want" "$pat" "$out"
}
refuses 1 'subnet cannot change in place: .*delete the vnet' "subnet is refused in place" \
	1000 vnet set acme/blue subnet 10.9.0.0/24
refuses 1 'id cannot change in place' "id is refused in place" 1000 vnet set acme/blue id 4242
refuses 1 'node cannot change in place: .*create it' "an endpoint's node is refused in place" \
	1000 endpoint set acme/blue/web node b
refuses 1 'mtu: 99 is out of range; expected 1280-9000' "a bad value gets apply's message" \
	1000 vnet set acme/blue mtu 99
refuses 2 'unknown key' "a key of another object is a usage error" \
	1000 vnet set acme/blue quotas.vnets 3
refuses 2 'expected' "a key without a value is a usage error" 1000 vnet set acme/blue mtu
refuses 2 'expected' "set without keys is a usage error" 1000 vnet set acme/blue
refuses 1 'quotas' "an owner may not set the tenant's quotas" \
	1000 tenant set acme quotas.vnets 100
refuses 1 'permission denied' "a member may not set the vnet" 1004 vnet set acme/blue mtu 1400
refuses 1 'no such tenant' "a stranger learns nothing" 1006 vnet set acme/blue mtu 1400
refuses 1 'endpoint acme/blue/nope: no such endpoint' "a missing endpoint is named" \
	1000 endpoint set acme/blue/nope groups x
check "nothing refused changed the store" test "$(revision a)" = "$rev"
check "the owner may still set (paired)" as 1000 vnet set acme/blue mtu 1450

# libcs: cs_vnet_set with a merge patch (null removes), as the owner
cat >"$TMP/set.py" <<'EOF'
import ctypes, sys
cs = ctypes.CDLL("libcs.so.0")
cs.cs_last_error.restype = ctypes.c_char_p
h = ctypes.c_void_p()
assert cs.cs_open(sys.argv[1].encode(), ctypes.byref(h)) == 0
for patch in sys.argv[2:]:
    r = cs.cs_vnet_set(h, b"acme/blue", patch.encode())
    print(r, cs.cs_last_error(h).decode())
EOF
# a sanitizer build's libcs needs its runtime first in Python too
asan=$(ldd "$CS_BUILD/libcs/libcs.so.0" 2>/dev/null | awk '/libasan/ {print $3}')
PY=(env ${asan:+LD_PRELOAD=$asan ASAN_OPTIONS=detect_leaks=0} /usr/bin/python3)
out=$(AS 1000 "${PY[@]}" "$TMP/set.py" "$TMP/a/csd.sock" '{"mtu": 1420}')
check "cs_vnet_set sets (said: $out)" test "$out" = "0 "
check "and it is realized ($(mtu_of web))" test "$(mtu_of web)" = 1420
out=$(AS 1000 "${PY[@]}" "$TMP/set.py" "$TMP/a/csd.sock" '{"mtu": null}' '{"subnet": "10.2.0.0/24"}' '[1]')
check "cs_vnet_set: null removes, subnet refused, a non-object refused (said: $out)" \
	bash -c 'read -r a; read -r b; read -r c; [ "$a" = 0 ] && [[ $b == -* ]] &&
		[[ $b == *"subnet cannot change in place"* ]] && [[ $c == -*"not a JSON object"* ]]' <<<"$out"
check "mtu back at 1500 ($(mtu_of web))" test "$(mtu_of web)" = 1500

# bash completion offers set and the keys it takes
. "$CS_SRC/dist/cs-ctl.bash"
comp() {
	COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
	PATH=$CS_BUILD/tools/cs-ctl:$PATH _cs_ctl; echo "${COMPREPLY[*]}"
}
check "completion: vnet s -> show set" test "$(comp cs-ctl vnet s)" = "show set"
check "completion: set's names" test "$(comp cs-ctl -S "$TMP/a/csd.sock" vnet set acme/b)" = acme/blue
check "completion: set's keys" test "$(comp cs-ctl vnet set acme/blue m)" = "mtu members.uids members.gids"
check "completion: no set for nodes (paired)" test "$(comp cs-ctl node s)" = show
check "csd is alive" ctl a status >/dev/null

ctl a tenant delete acme
for i in $(seq 100); do [ -z "$(leaked)" ] && break; sleep 0.1; done
check "nothing leaked" test -z "$(leaked)"
finish
