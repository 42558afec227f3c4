#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Egress (issue 18 item 3): a vnet with "egress": true reaches an "outside"
# namespace behind node a, over IPv4 and IPv6, masqueraded to the address of
# the interface it leaves by; a vnet with the same subnet without egress
# reaches nothing (paired). Egress does not open the node: the node's own
# addresses, the other node's underlay address and the VXLAN port are not
# reached from an endpoint, while the same listeners answer the outside or
# the node itself and another port answers the endpoint (each negative
# paired). set egress false takes the way out away, true gives it back;
# nothing is left behind (namespaces, the host's table).
. "$(dirname "$0")/lib.sh"

cleanup_eg() { cleanup; rm -rf /etc/netns/"$PFX".*; }
trap cleanup_eg EXIT
underlay_add a b
outside_add a
A=${PFX}ha B=${PFX}hb O=${PFX}hout
echo '{ "resolvers": ["198.51.100.2"] }' >"$TMP/csd-a.json"
csd_start a -u 192.0.2.1 -c "$TMP/csd-a.json" || exit 1

# ask_until NS ARGS...: as ask, retried for up to 5 s while it fails
ask_until() {
	local out i
	for i in $(seq 25); do
		out=$(peer_ask "$@")
		[[ $out != fail* ]] && break
		sleep 0.2
	done
	echo "$out"
}
# the outside's resolver: every A question answered 198.51.100.7 (UDP and TCP)
cat >"$TMP/resolver.py" <<'EOF'
import socket, struct, threading
def answer(q):
    i = 12
    while q[i]:
        i += q[i] + 1
    i += 5
    return q[:2] + b"\x81\x80" + q[4:6] + b"\x00\x01\x00\x00\x00\x00" + q[12:i] + \
        b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + socket.inet_aton("198.51.100.7")
def tcp():
    t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("198.51.100.2", 53)); t.listen(8)
    while True:
        c, _ = t.accept(); n = struct.unpack(">H", c.recv(2))[0]; a = answer(c.recv(n))
        c.sendall(struct.pack(">H", len(a)) + a); c.close()
threading.Thread(target=tcp, daemon=True).start()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("198.51.100.2", 53))
while True:
    q, a = u.recvfrom(512); u.sendto(answer(q), a)
EOF
ip netns exec "$O" python3 "$TMP/resolver.py" &
BG_PIDS+=($!)
peer_serve "$O" tcp 0.0.0.0 8080
peer_serve "$O" tcp :: 8086
peer_serve "$O" udp 0.0.0.0 4789
peer_serve "$O" udp 0.0.0.0 4790
peer_serve "$A" tcp 0.0.0.0 8081
peer_serve "$B" tcp 0.0.0.0 8082
sleep 0.5

cat >"$TMP/world.json" <<'EOF'
{
  "tenants": { "acme": {} },
  "nodes": { "a": { "underlay": "192.0.2.1" }, "b": { "underlay": "192.0.2.2" } },
  "vnets": {
    "acme/blue": { "id": 301, "subnet": ["10.1.0.0/24", "fd00:1::/64"], "egress": true,
                   "nodes": ["a", "b"], "endpoints": { "web": { "node": "a" } } },
    "acme/red": { "id": 302, "subnet": "10.1.0.0/24", "nodes": ["a"],
                  "endpoints": { "web": { "node": "a" } } }
  }
}
EOF
check "apply: a vnet with egress (spanning a and b) and one without" \
	eval "ctl a apply -f $TMP/world.json >/dev/null"
BLUE=$PFX.acme.blue.web RED=$PFX.acme.red.web

out=$(ask_until "$BLUE" tcp 198.51.100.2 8080)
check "egress: blue reaches the outside over TCP, seen as the node's outside address ($out)" \
	test "$out" = 198.51.100.1
out=$(ask_until "$BLUE" tcp 2001:db8:5::2 8086)
check "egress over IPv6, masqueraded too ($out)" test "$out" = 2001:db8:5::1
blocked "red, without egress, reaches nothing outside" "$RED" tcp 198.51.100.2 8080
check "red has no default route" bash -c "! ip -n $RED route | grep -q default"

# names outside cs: forwarded to the node's resolvers for a vnet with egress
DNSQ=$(dirname "$(readlink -f "$0")")/dnsq.py
out=$(ip netns exec "$BLUE" getent ahostsv4 www.example.test | head -1)
check "getent www.example.test in blue: the node's resolver answered ($out)" \
	grep -q "^198.51.100.7 " <<<"$out"
out=$(ip netns exec "$BLUE" python3 "$DNSQ" 10.1.0.1 www.example.test A tcp | tail -1)
check "forwarded over TCP too ($out)" test "$out" = "ANSWER A 198.51.100.7"
out=$(ip netns exec "$RED" python3 "$DNSQ" 10.1.0.1 www.example.test A | head -1)
check "red, without egress, is refused the same name ($out)" test "$out" = "RCODE REFUSED"
out=$(ip netns exec "$BLUE" python3 "$DNSQ" 10.1.0.1 web.red.acme.cs A | head -1)
check "names of other vnets are not forwarded ($out)" test "$out" = "RCODE NXDOMAIN"

# egress does not open the node: each forbidden destination, paired
blocked "not the node's own outside address" "$BLUE" tcp 198.51.100.1 8081
answers "(the outside reaches that listener)" 198.51.100.2 "$O" tcp 198.51.100.1 8081
blocked "not the node's own underlay address" "$BLUE" tcp 192.0.2.1 8081
blocked "not the other node's underlay address" "$BLUE" tcp 192.0.2.2 8082
answers "(node a itself reaches it)" 192.0.2.1 "$A" tcp 192.0.2.2 8082
blocked "not the VXLAN port, anywhere" "$BLUE" udp 198.51.100.2 4789
answers "(another UDP port there answers)" 198.51.100.1 "$BLUE" udp 198.51.100.2 4790
# an outside machine routing the transit range through node a: nothing new
# gets into the vnet's namespace (a listener there, which the endpoint reaches)
peer_serve "$PFX.acme.blue" tcp 0.0.0.0 8084
ip -n "$O" route add 169.254.0.0/16 via 198.51.100.1
sleep 0.3
answers "(the endpoint reaches a listener in its vnet namespace)" 10.1.0.2 "$BLUE" tcp 10.1.0.1 8084
# VNI 301: 169.254.2.90/31, the vnet's end .91
blocked "nothing from outside enters the vnet's way out" "$O" tcp 169.254.2.91 8084

# the vnet's rules apply to egress: default deny, one cidr: destination and
# port allowed; the same endpoint is refused other ports and places (paired)
check "rule: blue's endpoints may reach 198.51.100.2 tcp/8080 only" \
	ctl a rule create acme/blue from any to cidr:198.51.100.2/32 proto tcp ports 8080
check "blue's default: deny" ctl a vnet set acme/blue policy.default deny
answers "the allowed destination is reached" 198.51.100.1 "$BLUE" tcp 198.51.100.2 8080
blocked "another port of it is not (udp/4790, answered before)" "$BLUE" udp 198.51.100.2 4790
blocked "nor IPv6 outside (no rule allows it)" "$BLUE" tcp 2001:db8:5::2 8086
out=$(ip netns exec "$BLUE" getent ahostsv4 www.example.test | head -1)
check "names still resolve (the gateway is inside the vnet: $out)" grep -q "^198.51.100.7 " <<<"$out"
check "back to allow" ctl a vnet set acme/blue policy ""
answers "then other ports answer again" 198.51.100.1 "$BLUE" udp 198.51.100.2 4790

# set egress off and on
check "set egress false" ctl a vnet set acme/blue egress false
blocked "then blue reaches nothing outside" "$BLUE" tcp 198.51.100.2 8080
check "and the host's egress table is gone (no vnet here has egress)" \
	bash -c "! ip netns exec $A nft list tables | grep -q ${PFX}_egress"
check "set egress true" ctl a vnet set acme/blue egress true
out=$(ask_until "$BLUE" tcp 198.51.100.2 8080)
check "and it reaches the outside again ($out)" test "$out" = 198.51.100.1

ctl a tenant delete acme
for i in $(seq 100); do [ -z "$(leaked)" ] && break; sleep 0.1; done
check "nothing leaked" test -z "$(leaked)"
check "no egress link left in the host" bash -c "! ip -n $A link | grep -q ${PFX}x"
check "no egress table left in the host" bash -c "! ip netns exec $A nft list tables | grep -q $PFX"
finish
