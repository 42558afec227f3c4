#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The encrypted underlay (csd --encrypt wireguard, issue 15), statically
# declared: three hosts on an underlay bridge, each csd encrypting with
# wireguard-go, or with the kernel's WireGuard when WG_DRIVER=kernel (the
# test "encrypt-kernel", which skips where the module is missing, as on
# the machine this was written on). Each node's public
# key comes from `cs-ctl node show` on that node and goes into the file.
# A sniffer on the underlay bridge finds none of a known payload while it
# arrives intact in the peer endpoint; the vnet MTU is 1370 and a larger
# declared one is refused; a plaintext VXLAN packet from a member's
# underlay address is dropped (as root; as an unprivileged user it never
# leaves); mixed plain/encrypted pairs are refused; key rotation keeps
# traffic flowing once the new key is applied; removing a node from the
# vnet stops its traffic while the other pair's stream goes on; a csd
# restart adopts the tunnel and keeps a live TCP stream; a tunnel removed by
# hand comes back with the reconciler; nothing leaks.
. "$(dirname "$0")/lib.sh"

VXINJECT=$CS_BUILD/tests/integration/vxinject
HOLD=$CS_BUILD/tests/integration/holdsock
UL=${PFX}hul
WG_DRIVER=${WG_DRIVER:-wireguard-go}
if ! command -v wireguard-go >/dev/null || ! command -v tcpdump >/dev/null; then
	echo "SKIP: needs wireguard-go and tcpdump (tests/install-deps)"
	exit 77
fi
if [ "$WG_DRIVER" = kernel ]; then
	ip netns add "${PFX}wgprobe"
	ip -n "${PFX}wgprobe" link add wgprobe type wireguard 2>/dev/null
	rc=$?
	ip netns del "${PFX}wgprobe"
	if [ "$rc" != 0 ]; then
		echo "SKIP: this kernel cannot create a wireguard link (no WireGuard module)"
		exit 77
	fi
fi

pfx() { echo "$PFX${1#n}"; }
INJUSER=cs$PFX
cleanup_encrypt() {
	local h
	for h in n1 n2 n3 n4; do
		# wireguard-go outlives csd by design: stop ours by its socket
		p=$(wgpid "$h")
		[ -n "$p" ] && kill "$p"
	done
	cleanup
	del_node_ns
	id "$INJUSER" >/dev/null 2>&1 && userdel "$INJUSER"
}
trap cleanup_encrypt EXIT
quiet() { "$@" >/dev/null 2>&1; }
wgsock() { echo "/var/run/wireguard/$(pfx "$1")wg.sock"; }
# what identifies a node's tunnel: the wireguard-go serving its UAPI socket
# (what holds it listening), or the kernel link's ifindex; empty: none
tunnel() {
	if [ "$WG_DRIVER" = kernel ]; then
		ip -n "${PFX}h$1" -o link show "$(pfx "$1")wg" 2>/dev/null | cut -d: -f1
	else
		wgpid "$1"
	fi
}
wgpid() {
	[ -S "$(wgsock "$1")" ] || return 0
	nsenter --net="/run/netns/${PFX}h$1" ss -Hxlp src "$(wgsock "$1")" 2>/dev/null |
		grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2
}

underlay_add n1 n2 n3 n4
echo "{\"wg_driver\": \"$WG_DRIVER\", \"reconcile_interval\": 2}" >"$TMP/wg.json"
for h in n1 n2 n3; do
	csd_start "$h" -p "$(pfx $h)" -u "192.0.2.${h#n}" --encrypt wireguard -c "$TMP/wg.json" \
		|| exit 1
done
# n4 runs without encryption: a mixed pair with it is refused
csd_start n4 -p "$(pfx n4)" -u 192.0.2.4 || exit 1

key() { ctl "$1" -j node show "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("public_key",""))'; }
for h in n1 n2 n3; do
	eval "KEY_$h=\$(key $h)"
	check "$h prints its own public key before any file declares it ($(eval echo \$KEY_$h))" \
		eval "test \${#KEY_$h} = 44"
done
check "the private key is 0600 in the state directory" \
	test "$(stat -c %a "$TMP/n1/state/wg.key")" = 600
check_not "and no log carries it" grep -qF "$(cat "$TMP/n1/state/wg.key")" "$TMP"/n*/csd.log
check "n4 (encrypt none) has no public key" test -z "$(key n4)"

world() { # world FILE NODES...: acme/blue across NODES, web on n1, db on n2, cache on n3
	python3 - "$@" <<PY
import json, sys
out, nodes = sys.argv[1], sys.argv[2:]
keys = {"n1": "$KEY_n1", "n2": "$KEY_n2", "n3": "$KEY_n3"}
eps = {"web": "n1", "db": "n2", "cache": "n3"}
f = {"tenants": {"acme": {}},
     "nodes": {n: {"underlay": "192.0.2.%s" % n[1:], "public_key": keys[n]} for n in ["n1", "n2", "n3"]},
     "vnets": {"acme/blue": {"id": 301, "subnet": "10.3.0.0/24", "nodes": nodes,
               "endpoints": {e: {"node": n, "address": "10.3.0.%d" % (10 + i)}
                             for i, (e, n) in enumerate(eps.items()) if n in nodes}}}}
json.dump(f, open(out, "w"), indent=1)
PY
}

# ---- two nodes ----
world "$TMP/two.json" n1 n2
for h in n1 n2; do
	check "apply acme/blue across n1 and n2 on $h" eval "ctl $h apply -f $TMP/two.json >/dev/null"
done
if [ "$WG_DRIVER" = kernel ]; then
	check "n1's tunnel is a kernel wireguard link" \
		grep -q wireguard <<<"$(ip -n "${PFX}hn1" -d link show "$(pfx n1)wg")"
else
	check "n1 runs a wireguard-go with its prefix, serving its UAPI socket" test -n "$(wgpid n1)"
fi
check "its interface $(pfx n1)wg is in n1's host namespace" \
	quiet ip -n "${PFX}hn1" link show "$(pfx n1)wg"
check "wg show lists n2's key as n1's peer" \
	grep -q "$KEY_n2" <<<"$(ip netns exec "${PFX}hn1" wg show "$(pfx n1)wg" peers)"
check "the vnet MTU is 1370 (VXLAN inside WireGuard)" \
	grep -q "mtu 1370" <<<"$(ip -n "$(pfx n1).acme.blue.web" link show eth0)"
check "vnet show says 1370" grep -q '"mtu": 1370' <<<"$(ctl n1 -j vnet show acme/blue)"

bg_ep n2 acme/blue/db "$PROBE" serve 7000
sleep 0.3
check "web (n1) reaches db (n2) over tcp" in_ep n1 acme/blue/web "$PROBE" tcp 10.3.0.11 7000 5000
check "and over udp" in_ep n1 acme/blue/web "$PROBE" udp 10.3.0.11 7000 5000
check "full-size packets cross (ping -M do -s 1342)" \
	quiet in_ep n1 acme/blue/web ping -c1 -W2 -q -M do -s 1342 10.3.0.11
check_not "one byte more does not fit" \
	quiet in_ep n1 acme/blue/web ping -c1 -W2 -q -M do -s 1343 10.3.0.11

# ---- a sniffer on the underlay bridge ----
SECRET=cs-secret-$PFX-payload
tcpdump_start() {
	nsenter --net="/run/netns/$UL" tcpdump -i br0 -U -w "$1" udp >/dev/null 2>&1 &
	BG_PIDS+=($!)
	TCPDUMP=$!
	sleep 1
}
tcpdump_stop() { sleep 0.5; kill "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null; }
tcpdump_start "$TMP/sniff.pcap"
bg_ep n2 acme/blue/db "$VXINJECT" listen 7300 4000 >"$TMP/secret.log"
for i in $(seq 50); do grep -q listening "$TMP/secret.log" && break; sleep 0.05; done
for i in 1 2 3; do
	in_ep n1 acme/blue/web bash -c "echo -n $SECRET-$i >/dev/udp/10.3.0.11/7300"
done
# a plaintext VXLAN packet forged with member n1's underlay address (from
# n4, by a raw socket): outside the tunnel, dropped on arrival; and the
# sniffer sees it (so it would have seen the payload in clear)
nsenter --net="/run/netns/${PFX}hn4" "$VXINJECT" spoof 192.0.2.1 192.0.2.2 301 10.3.0.10 \
	10.3.0.11 7300 plain-$SECRET
sleep 4
tcpdump_stop
check "the payload arrives intact in db (n2)" grep -q "^$SECRET-1$" "$TMP/secret.log"
check "the sniffer caught WireGuard packets between n1 and n2" \
	test "$(tcpdump -nr "$TMP/sniff.pcap" udp port 51820 2>/dev/null | wc -l)" -gt 2
check "and it sees a plaintext VXLAN packet when one is sent" grep -qa "plain-$SECRET" "$TMP/sniff.pcap"
check_not "but none of the payload sent through the vnet" grep -qa "$SECRET-" "$TMP/sniff.pcap"
check_not "the plaintext VXLAN packet from member n1's address is dropped on n2" \
	grep -q "plain-$SECRET" "$TMP/secret.log"

# an unprivileged user cannot send VXLAN, in clear or through the tunnel
useradd -M -N -s /usr/sbin/nologin "$INJUSER"
cp "$VXINJECT" "$TMP/vxinject"
chmod 755 "$TMP/vxinject"
out=$(nsenter --net="/run/netns/${PFX}hn1" setpriv --reuid="$INJUSER" --regid=nogroup \
	--clear-groups --inh-caps=-all "$TMP/vxinject" send 192.0.2.1 192.0.2.2 301 10.3.0.10 \
	10.3.0.11 7300 user 2>&1)
check "an unprivileged user's VXLAN send on n1 is refused: $out" \
	grep -q 'Operation not permitted' <<<"$out"
out=$(nsenter --net="/run/netns/${PFX}hn1" setpriv --reuid="$INJUSER" --regid=nogroup \
	--clear-groups --inh-caps=-all bash -c 'echo x >/dev/udp/192.0.2.2/51820' 2>&1)
check "and so is one to WireGuard's port: $out" grep -q 'Operation not permitted' <<<"$out"
out=$(nsenter --net="/run/netns/${PFX}hn1" setpriv --reuid="$INJUSER" --regid=nogroup \
	--clear-groups --inh-caps=-all bash -c 'echo x >/dev/udp/192.0.2.2/7' 2>&1)
check "while other UDP from that user leaves ($out)" test -z "$out"

# ---- refusals ----
python3 - "$TMP/two.json" "$TMP/bigmtu.json" "$TMP/mixed.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
g = json.loads(json.dumps(f)); g["vnets"]["acme/blue"]["mtu"] = 1450
json.dump(g, open(sys.argv[2], "w"))
g = json.loads(json.dumps(f))
g["nodes"]["n4"] = {"underlay": "192.0.2.4"}
g["vnets"]["acme/mix"] = {"id": 302, "subnet": "10.4.0.0/24", "nodes": ["n1", "n4"]}
json.dump(g, open(sys.argv[3], "w"))
PY
out=$(ctl n1 apply -f "$TMP/bigmtu.json" 2>&1)
check "a declared mtu 1450 across encrypted nodes is refused: $out" \
	grep -q 'vnets."acme/blue".mtu: 1450 is more than the encrypted underlay carries' <<<"$out"
check "mtu 1370 itself is taken" eval "sed 's/1450/1370/' $TMP/bigmtu.json >$TMP/mtu1370.json && ctl n1 apply -f $TMP/mtu1370.json >/dev/null"
out=$(ctl n1 apply -f "$TMP/mixed.json" 2>&1)
check "a vnet between encrypted n1 and plain n4 is refused on n1: $out" \
	grep -q 'vnets."acme/mix".nodes: node n4 has no public_key, but this node (n1) encrypts' <<<"$out"
out=$(ctl n4 apply -f "$TMP/mixed.json" 2>&1)
check "and on n4: $out" \
	grep -q 'vnets."acme/mix".nodes: node n1 has a public_key (it encrypts its underlay), but this node (n4)' <<<"$out"
check "the refusals changed nothing" \
	eval '! ctl n1 vnet show acme/mix >/dev/null 2>&1 && ! ctl n4 vnet show acme/mix >/dev/null 2>&1' 

# ---- a live stream n1 -> n2 through everything that follows ----
bg_ep n1 acme/blue/web "$PROBE" stream 10.3.0.11 7000 "$TMP/stream"
oks() { grep -c '^ok' "$1" 2>/dev/null || echo 0; }
sleep 0.5
tun1=$(tunnel n1)

# ---- three nodes: n3 joins without disturbing the n1-n2 pair ----
world "$TMP/three.json" n1 n2 n3
for h in n1 n2 n3; do
	check "apply acme/blue across n1, n2, n3 on $h" eval "ctl $h apply -f $TMP/three.json >/dev/null"
done
bg_ep n3 acme/blue/cache "$PROBE" serve 7000
bg_ep n1 acme/blue/web "$PROBE" serve 7001
sleep 0.3
check "web (n1) reaches cache (n3)" in_ep n1 acme/blue/web "$PROBE" tcp 10.3.0.12 7000 5000
check "db (n2) reaches cache (n3)" in_ep n2 acme/blue/db "$PROBE" tcp 10.3.0.12 7000 5000
check "cache (n3) reaches web (n1)" in_ep n3 acme/blue/cache "$PROBE" tcp 10.3.0.10 7001 5000
check "n1's tunnel has two peers" \
	test "$(ip netns exec "${PFX}hn1" wg show "$(pfx n1)wg" peers | wc -l)" = 2

# ---- key rotation (static: the new key is declared and applied) ----
out=$(setpriv --reuid="$INJUSER" --regid=nogroup --clear-groups --inh-caps=-all \
	"$CTL" -S "$TMP/n1/csd.sock" node rotate-key n1 2>&1)
check "a non-administrator may not rotate n1's key: $out" grep -q 'only administrators' <<<"$out"
out=$(ctl n2 node rotate-key n1 2>&1)
check "n2 cannot rotate n1's key: $out" grep -q 'run cs-ctl node rotate-key n1 there' <<<"$out"
out=$(ctl n4 node rotate-key n4 2>&1)
check "a plain node has no key to rotate: $out" grep -q 'encrypt none' <<<"$out"
old=$KEY_n1
check "root rotates n1's key on n1" eval "ctl n1 node rotate-key n1 >/dev/null"
KEY_n1=$(key n1)
check "node show prints the new key ($KEY_n1)" test "${#KEY_n1}" = 44 -a "$KEY_n1" != "$old"
world "$TMP/rotated.json" n1 n2 n3
t0=$(date +%s%N)
for h in n1 n2 n3; do
	check "apply the new key on $h" eval "ctl $h apply -f $TMP/rotated.json >/dev/null"
done
check "web (n1) reaches cache (n3) with the new key" \
	in_ep n1 acme/blue/web "$PROBE" tcp 10.3.0.12 7000 5000
echo "figures: key change applied on 3 nodes to traffic flowing again: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
check_not "n2 no longer accepts n1's old key" \
	grep -q "$old" <<<"$(ip netns exec "${PFX}hn2" wg show "$(pfx n2)wg" peers)"
check "n2 takes its new one" \
	grep -q "$KEY_n1" <<<"$(ip netns exec "${PFX}hn2" wg show "$(pfx n2)wg" peers)"

# ---- n3 leaves the vnet: its key stops being accepted at once ----
world "$TMP/two2.json" n1 n2
for h in n1 n2; do
	check "apply acme/blue without n3 on $h" eval "ctl $h apply -f $TMP/two2.json >/dev/null"
done
check_not "n1 no longer has n3's key" \
	grep -q "$KEY_n3" <<<"$(ip netns exec "${PFX}hn1" wg show "$(pfx n1)wg" peers)"
# n3 still believes in the old file: what it sends finds no peer to take it
check_not "cache (n3) no longer reaches web (n1)" \
	in_ep n3 acme/blue/cache "$PROBE" tcp 10.3.0.10 7001 1500
check "while web (n1) still reaches db (n2)" in_ep n1 acme/blue/web "$PROBE" tcp 10.3.0.11 7000 5000
ctl n3 apply -f "$TMP/two2.json" >/dev/null

# ---- restart: the tunnel is adopted, the stream never breaks ----
kill -9 "$(csd_pid n1)"; wait "$(csd_pid n1)" 2>/dev/null
s1=$(oks "$TMP/stream")
sleep 0.6
check "the stream flows while n1's csd is dead" test "$(oks "$TMP/stream")" -gt "$s1"
csd_start n1 -p "$(pfx n1)" -u 192.0.2.1 --encrypt wireguard -c "$TMP/wg.json" || exit 1
sleep 0.5
check "the restarted csd adopted the tunnel ($WG_DRIVER $tun1)" test "$(tunnel n1)" = "$tun1"
check "and kept its key" test "$(key n1)" = "$KEY_n1"
s2=$(oks "$TMP/stream")
sleep 0.5
check "the stream flows after the restart" test "$(oks "$TMP/stream")" -gt "$s2"
kill -TERM "$(csd_pid n1)"; wait "$(csd_pid n1)" 2>/dev/null
check "SIGTERM leaves the tunnel running" test "$(tunnel n1)" = "$tun1"
csd_start n1 -p "$(pfx n1)" -u 192.0.2.1 --encrypt wireguard -c "$TMP/wg.json" || exit 1
check_not "no echo of the stream ever failed (n1 -> n2 through join, rotation, leave, restarts)" \
	grep -q '^fail' "$TMP/stream"

# ---- drift: a tunnel removed by hand comes back with the reconciler ----
tun2=$(tunnel n2)
if [ "$WG_DRIVER" = kernel ]; then
	ip -n "${PFX}hn2" link del "$(pfx n2)wg"
else
	kill "$tun2"
fi
back() { local t; t=$(tunnel n2); [ -n "$t" ] && [ "$t" != "$tun2" ]; }
check "the reconciler makes n2's tunnel again (within 10 s; was $tun2)" \
	eval 'for i in $(seq 100); do back && break; sleep 0.1; done; back'
check "and web (n1) reaches db (n2) through it again" \
	eval 'for i in $(seq 50); do in_ep n1 acme/blue/web "$PROBE" tcp 10.3.0.11 7000 1000 && break; done'

# ---- everything away: nothing of the tunnel is left ----
for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
BG_PIDS=()
echo '{}' >"$TMP/empty.json"
for h in n1 n2 n3 n4; do
	check "apply --prune of an empty file on $h" eval "ctl $h apply --prune -f $TMP/empty.json >/dev/null"
done
for h in n1 n2 n3; do
	check "$h: no wireguard-go and no UAPI socket left" test -z "$(wgpid $h)" -a ! -e "$(wgsock $h)"
	check "$h: no tunnel left" test -z "$(tunnel $h)"
	check "$h: no $(pfx $h)wg interface left" test -z "$(ip -n "${PFX}h$h" link show "$(pfx $h)wg" 2>/dev/null)"
	check "$h: no steering rule left" test -z "$(ip -n "${PFX}h$h" rule show | grep 'dport 4789')"
	check "$h: no underlay table left" test -z "$(ip netns exec "${PFX}h$h" nft list tables | grep "$(pfx $h)_underlay")"
done
finish
