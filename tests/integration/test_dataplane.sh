#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Kernel data plane on one node: reachability and isolation of two tenants
# with the same subnet (every negative probe paired with a positive one from
# the same endpoint), multinetting, counters, drift repair, restart without
# disruption, delete semantics, no leaks.
. "$(dirname "$0")/lib.sh"

host_add a
csd_start a || exit 1
export CS_SOCKET=$TMP/a/csd.sock
HOLD=$CS_BUILD/tests/integration/holdsock
RELAY=$CS_BUILD/examples/relay

for t in acme umbrella; do
	ctl a tenant create $t
	ctl a vnet create $t/blue subnet 10.7.0.0/24
	ctl a endpoint create $t/blue/web
	ctl a endpoint create $t/blue/db
done
ctl a endpoint create umbrella/blue/only address 10.7.0.9
for e in acme/blue/db umbrella/blue/db umbrella/blue/only; do bg_ep a $e "$PROBE" serve 7000; done
sleep 0.3

for p in tcp udp; do
	check "acme web reaches its db over $p" in_ep a acme/blue/web "$PROBE" $p 10.7.0.3 7000
	check_not "acme web cannot reach umbrella's 10.7.0.9 over $p" in_ep a acme/blue/web "$PROBE" $p 10.7.0.9 7000 500
	check "umbrella web reaches its 10.7.0.9 over $p" in_ep a umbrella/blue/web "$PROBE" $p 10.7.0.9 7000
done
check "acme web pings its db" in_ep a acme/blue/web ping -c1 -W1 -q 10.7.0.3
check_not "acme web cannot ping 10.7.0.9" in_ep a acme/blue/web ping -c1 -W1 -q 10.7.0.9
check "umbrella web pings 10.7.0.9" in_ep a umbrella/blue/web ping -c1 -W1 -q 10.7.0.9
check_not "an endpoint cannot reach the host namespace's loopback services" \
	in_ep a acme/blue/web "$PROBE" tcp 10.7.0.1 7000 500

# counters come from the kernel
tx=$(ctl a -j endpoint show acme/blue/web | python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"]["tx_bytes"])')
check "endpoint show reports tx bytes from the kernel ($tx)" test "$tx" -gt 0

# multinetting: relay holds endpoints in acme/blue and acme/red at once
ctl a vnet create acme/red subnet 10.8.0.0/24
ctl a endpoint create acme/red/db
bg_ep a acme/red/db "$PROBE" serve 7000
"$RELAY" acme/blue acme/red db 7000 > "$TMP/relay.out" 2>&1 &
BG_PIDS+=($!)
for i in $(seq 50); do grep -q listening "$TMP/relay.out" && break; sleep 0.1; done
raddr=$(ctl a -j endpoint show acme/blue/relay | python3 -c 'import json,sys; print(json.load(sys.stdin)["address"])')
check "a message crosses from acme/blue to acme/red through the relay ($raddr)" \
	in_ep a acme/blue/web "$PROBE" tcp "$raddr" 7000
check_not "acme/blue cannot reach acme/red directly" in_ep a acme/blue/web "$PROBE" tcp 10.8.0.2 7000 500
kill "${BG_PIDS[-1]}"; wait "${BG_PIDS[-1]}" 2>/dev/null
for i in $(seq 40); do ctl a endpoint show acme/blue/relay >/dev/null 2>&1 || break; sleep 0.05; done
check_not "the relay's ephemeral endpoints go when it exits" ctl a endpoint show acme/blue/relay

# drift: a link deleted by hand comes back
ip -n "$PFX.acme.blue.web" link del eth0
check_not "link deleted by hand breaks reachability" in_ep a acme/blue/web "$PROBE" tcp 10.7.0.3 7000 300
kill -HUP "$(csd_pid a)"
for i in $(seq 100); do ip -n "$PFX.acme.blue.web" link show eth0 >/dev/null 2>&1 && break; sleep 0.1; done
check "the reconciler brings it back" in_ep a acme/blue/web "$PROBE" tcp 10.7.0.3 7000

# restart without disruption: an exec'd stream and a libcs fd keep working
bg_ep a acme/blue/web "$PROBE" stream 10.7.0.3 7000 "$TMP/stream"
"$HOLD" acme/blue web db 7000 "$TMP/hold" & BG_PIDS+=($!)
sleep 0.5
oks() { grep -c '^ok' "$1" 2>/dev/null || echo 0; }
kill -9 "$(csd_pid a)"; wait "$(csd_pid a)" 2>/dev/null
s1=$(oks "$TMP/stream"); h1=$(oks "$TMP/hold")
sleep 0.6
check "TCP stream keeps flowing while csd is dead" test "$(oks "$TMP/stream")" -gt "$s1"
check "a libcs socket fd keeps working while csd is dead" test "$(oks "$TMP/hold")" -gt "$h1"
csd_start a || exit 1
sleep 0.3
s2=$(oks "$TMP/stream"); h2=$(oks "$TMP/hold")
sleep 0.5
check "stream still flows after restart" test "$(oks "$TMP/stream")" -gt "$s2"
check "libcs fd still works after restart" test "$(oks "$TMP/hold")" -gt "$h2"
check "every endpoint is still there" test "$(ctl a endpoint list | tail -n +2 | wc -l)" = 6
check "all up after restart" test -z "$(ctl a endpoint list | tail -n +2 | grep -v ' up ')"
check "new endpoints can be created after restart" ctl a endpoint create acme/blue/new
kill -TERM "$(csd_pid a)"; wait "$(csd_pid a)" 2>/dev/null
s3=$(oks "$TMP/stream"); sleep 0.5
check "SIGTERM leaves the data path running" test "$(oks "$TMP/stream")" -gt "$s3"
check "SIGTERM left the endpoint namespaces" test -e "/run/netns/$PFX.acme.blue.db"
csd_start a || exit 1
check_not "no probe ever failed across restarts" grep -q '^fail' "$TMP/stream" "$TMP/hold"

# deleting an endpoint removes its link first: the held socket loses access
ctl a endpoint delete acme/blue/db
sleep 2.5
check "after delete the held socket fails" grep -q '^fail' "$TMP/hold"

pid=$(csd_pid a); before=$(fd_count "$pid")
for t in acme umbrella; do ctl a tenant delete $t; done
for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
check "csd fds did not grow over the deletes" test "$(fd_count "$pid")" -le "$before"
check "nothing leaked (no namespace with the prefix)" test -z "$(leaked)"
finish
