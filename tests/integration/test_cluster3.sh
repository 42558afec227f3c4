#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Cluster mode against a 3-member etcd cluster (issue 6): the members run
# in the underlay bridge's namespace (192.0.2.101-103), three csd list all
# three. Killing one member (the first each csd tries) loses nothing and
# stops nothing: what was declared is still there, and creations from
# every node go on, realized where they belong, with distinct addresses.
. "$(dirname "$0")/lib.sh"

command -v etcd >/dev/null || { echo "SKIP: etcd not installed"; exit 77; }
UL=${PFX}hul
MEMBERS="1 2 3"
CLUSTER=c1=http://192.0.2.101:2380,c2=http://192.0.2.102:2380,c3=http://192.0.2.103:2380
URLS='"http://192.0.2.101:2379", "http://192.0.2.102:2379", "http://192.0.2.103:2379"'
ETCD_PIDS=()

pfx() { echo "$PFX${1#n}"; }
cleanup_cluster() {
	local ns p
	for p in "${ETCD_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	cleanup
	for ns in /run/netns/"$PFX"[0-9].*; do
		[ -e "$ns" ] && ip netns del "$(basename "$ns")" 2>/dev/null
	done
}
trap cleanup_cluster EXIT
leaked_all() { ls /run/netns 2>/dev/null | grep "^$PFX[0-9]\." || true; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
wait_for() {
	local end=$(( $(now_ms) + $1 * 1000 )); shift
	while [ "$(now_ms)" -lt "$end" ]; do
		"$@" && return 0
		sleep 0.02
	done
	"$@"
}
has_ns() { [ -e "/run/netns/$1" ]; }
healthy() { nsenter --net="/run/netns/$UL" curl -sf "http://192.0.2.10$1:2379/health" | grep -q true; }

host_add ul
ip -n "$UL" link add br0 type bridge
ip -n "$UL" link set br0 up
for m in $MEMBERS; do ip -n "$UL" addr add "192.0.2.10$m/24" dev br0; done
for m in $MEMBERS; do
	mkdir -p "$TMP/etcd$m"
	# nsenter execs etcd: the pid is etcd's
	nsenter --net="/run/netns/$UL" etcd --name "c$m" --data-dir "$TMP/etcd$m/data" \
		--listen-client-urls "http://192.0.2.10$m:2379" \
		--advertise-client-urls "http://192.0.2.10$m:2379" \
		--listen-peer-urls "http://192.0.2.10$m:2380" \
		--initial-advertise-peer-urls "http://192.0.2.10$m:2380" \
		--initial-cluster "$CLUSTER" --initial-cluster-state new \
		--initial-cluster-token "$PFX" >>"$TMP/etcd$m/log" 2>&1 &
	ETCD_PIDS+=($!)
done
for m in $MEMBERS; do
	wait_for 20 healthy "$m" || { echo "etcd member $m did not start"; tail "$TMP/etcd$m/log"; exit 1; }
done
i=0
for h in n1 n2 n3; do
	i=$((i + 1))
	host_add "$h"
	ip link add "ul$i" netns "$UL" type veth peer name eth0 netns "${PFX}h$h"
	ip -n "$UL" link set "ul$i" master br0 up
	ip -n "${PFX}h$h" addr add "192.0.2.$i/24" dev eth0
	ip -n "${PFX}h$h" link set eth0 up
	cat >"$TMP/$h.json" <<JSON
{ "node": "$h", "underlay": "192.0.2.$i",
  "store": { "type": "etcd", "endpoints": [$URLS], "prefix": "/cs-$PFX" } }
JSON
	csd_start "$h" -c "$TMP/$h.json" -p "$(pfx $h)" || exit 1
done
registered() { [ "$(ctl n1 -j node list | grep -c '"state": "up"')" = 3 ]; }
check "three nodes registered and up" wait_for 10 registered

check "tenant acme" ctl n1 tenant create acme
check "vnet acme/blue across three nodes (id allocated)" \
	ctl n1 vnet create acme/blue subnet 10.1.0.0/24 nodes n1,n2,n3
for h in n1 n2 n3; do
	for i in 1 2 3; do ctl "$h" endpoint create "acme/blue/$h-a$i" >/dev/null || fail "create $h-a$i"; done
done
before=$(ctl n1 -j endpoint list acme/blue | grep -o '"address": "[0-9.]*"' | sort)
check "9 endpoints before the member dies" test "$(wc -l <<<"$before")" = 9

kill -9 "${ETCD_PIDS[0]}"
wait "${ETCD_PIDS[0]}" 2>/dev/null
check "member 1 is gone" wait_for 5 eval '! healthy 1'
cpids=()
for h in n1 n2 n3; do
	for i in 1 2 3 4 5; do
		ctl "$h" endpoint create "acme/blue/$h-b$i" >/dev/null 2>"$TMP/c-$h-$i.err" &
		cpids+=($!)
	done
done
wait "${cpids[@]}"
cat "$TMP"/c-*.err | head -3
after=$(ctl n2 -j endpoint list acme/blue | grep -o '"address": "[0-9.]*"')
check "all 24 endpoints there after the member died ($(wc -l <<<"$after"))" \
	test "$(wc -l <<<"$after")" = 24
check "no address twice" test -z "$(sort <<<"$after" | uniq -d)"
check "nothing declared before was lost" \
	test -z "$(comm -23 <(echo "$before") <(sort <<<"$after"))"
for h in n1 n2 n3; do
	check "$h realized its 8 endpoints" \
		wait_for 10 test "$(ls /run/netns | grep -c "^$(pfx $h)\.acme\.blue\.$h-")" = 8
	check "$h csd still running" kill -0 "$(csd_pid $h)"
done
finish
