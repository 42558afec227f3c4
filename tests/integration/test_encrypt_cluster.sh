#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The encrypted underlay in cluster mode (issue 15): two hosts sharing one
# etcd (in the bridge's namespace), csd --encrypt wireguard on both. Nobody
# declares a key: each csd publishes its own (/nodes-keys/NODE) and takes
# its peers' from there. A vnet across both carries traffic inside
# WireGuard (a sniffer finds none of the payload); a rotated key is taken
# by the peer without any file (prints how long until traffic flows); a
# restarted csd keeps a live TCP stream; nothing of the tunnel is left.
. "$(dirname "$0")/lib.sh"

command -v etcd >/dev/null || { echo "SKIP: etcd not installed"; exit 77; }
command -v wireguard-go >/dev/null || { echo "SKIP: wireguard-go not installed"; exit 77; }
UL=${PFX}hul
ETCD=http://192.0.2.100:2379
ETCD_PID=

pfx() { echo "$PFX${1#n}"; }
wgsock() { echo "/var/run/wireguard/$(pfx "$1")wg.sock"; }
cleanup_ec() {
	[ -n "$ETCD_PID" ] && kill -9 "$ETCD_PID" 2>/dev/null
	cleanup
	del_node_ns
}
trap cleanup_ec EXIT
oks() { grep -c '^ok' "$1" 2>/dev/null || echo 0; }
key() { ctl "$1" -j node show "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("public_key",""))'; }
peers() { ip netns exec "${PFX}h$1" wg show "$(pfx "$1")wg" peers 2>/dev/null; }
until_ok() { # until_ok SECONDS CMD...
	local i
	for i in $(seq $(($1 * 10))); do "${@:2}" && return 0; sleep 0.1; done
	return 1
}

underlay_add n1 n2
ip -n "$UL" addr add 192.0.2.100/24 dev br0
for i in 1 2; do
	printf '{"node": "n%s", "underlay": "192.0.2.%s", "encrypt": "wireguard", "store": {"type": "etcd", "endpoints": ["%s"], "prefix": "/cs-%s"}}\n' \
		"$i" "$i" "$ETCD" "$PFX" >"$TMP/n$i.json"
done
mkdir -p "$TMP/etcd"
nsenter --net="/run/netns/$UL" etcd --name e --data-dir "$TMP/etcd/data" \
	--listen-client-urls "$ETCD" --advertise-client-urls "$ETCD" \
	--listen-peer-urls http://192.0.2.100:2380 >"$TMP/etcd/log" 2>&1 &
ETCD_PID=$!
until_ok 10 nsenter --net="/run/netns/$UL" curl -sf "$ETCD/health" >/dev/null ||
	{ echo "etcd did not start"; tail "$TMP/etcd/log"; exit 1; }
for h in n1 n2; do
	csd_start "$h" -c "$TMP/$h.json" -p "$(pfx $h)" || exit 1
done
check "n1 shows n2 up" until_ok 10 eval 'ctl n1 -j node show n2 | grep -q "\"state\": \"up\""'

cat >"$TMP/world.json" <<'JSON'
{ "tenants": { "acme": {} },
  "vnets": { "acme/blue": { "subnet": "10.5.0.0/24", "nodes": ["n1", "n2"],
    "endpoints": { "web": { "node": "n1", "address": "10.5.0.10" },
                   "db": { "node": "n2", "address": "10.5.0.11" } } } } }
JSON
check "apply acme/blue across n1 and n2 once, on n1 (no key declared)" \
	eval "ctl n1 apply -f $TMP/world.json >/dev/null"
check "db is up on n2" until_ok 10 eval 'ctl n2 endpoint show acme/blue/db | grep -q " up\|state.*up"'
K1=$(key n1); K2=$(key n2)
check "n1's tunnel took n2's published key" until_ok 10 eval 'peers n1 | grep -q "$K2"'
check "n2's tunnel took n1's published key" until_ok 10 eval 'peers n2 | grep -q "$K1"'

SECRET=cs-cluster-$PFX
nsenter --net="/run/netns/$UL" tcpdump -i br0 -U -w "$TMP/sniff.pcap" udp >/dev/null 2>&1 &
BG_PIDS+=($!); TCPDUMP=$!
bg_ep n2 acme/blue/db "$PROBE" serve 7000
sleep 1
check "web (n1) reaches db (n2) over tcp" until_ok 10 in_ep n1 acme/blue/web "$PROBE" tcp 10.5.0.11 7000 1000
in_ep n1 acme/blue/web bash -c "echo -n $SECRET >/dev/udp/10.5.0.11/7000"
sleep 0.5; kill "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null
check "the sniffer caught WireGuard between the nodes" \
	test "$(tcpdump -nr "$TMP/sniff.pcap" udp port 51820 2>/dev/null | wc -l)" -gt 2
check_not "and none of the payload" grep -qa "$SECRET" "$TMP/sniff.pcap"

bg_ep n1 acme/blue/web "$PROBE" stream 10.5.0.11 7000 "$TMP/stream"
sleep 0.5
t0=$(date +%s%N)
check "n1 rotates its key" eval "ctl n1 node rotate-key n1 >/dev/null"
K1b=$(key n1)
check "n2 takes n1's new key from the store, no file applied" until_ok 10 eval 'peers n2 | grep -q "$K1b"'
check "and traffic flows with it" until_ok 10 in_ep n1 acme/blue/web "$PROBE" tcp 10.5.0.11 7000 1000
echo "figures: cluster key rotation to traffic flowing again: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
check_not "n2 no longer accepts n1's old key" eval 'peers n2 | grep -q "$K1"'

# a stream of its own for the restart (a slow rotation, as under
# sanitizers, may have outlasted the first one's patience)
bg_ep n1 acme/blue/web "$PROBE" stream 10.5.0.11 7000 "$TMP/stream2"
until_ok 10 eval 'test "$(oks "$TMP/stream2")" -gt 2' || true
kill -TERM "$(csd_pid n2)"; wait "$(csd_pid n2)" 2>/dev/null
s1=$(oks "$TMP/stream2"); sleep 0.6
check "the stream flows while n2's csd is stopped" test "$(oks "$TMP/stream2")" -gt "$s1"
csd_start n2 -c "$TMP/n2.json" -p "$(pfx n2)" || exit 1
sleep 1
s2=$(oks "$TMP/stream2"); sleep 0.5
check "and after it restarted" test "$(oks "$TMP/stream2")" -gt "$s2"
check "n1 kept n2 as its peer throughout" eval 'peers n1 | grep -q "$K2"'

for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
BG_PIDS=()
check "delete the tenant" ctl n1 tenant delete acme
for h in n1 n2; do
	check "$h: the tunnel is stopped" until_ok 10 test ! -e "$(wgsock $h)"
done
finish
