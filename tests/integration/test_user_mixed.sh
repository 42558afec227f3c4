#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A mixed vnet (csd(8) MIXED VNETS, User vnets across nodes): n1 runs a
# root csd with the kernel backend, n2 a csd --backend user run by an
# unprivileged user made for the test, each host in its own namespace,
# joined by the underlay bridge (192.0.2.1, 192.0.2.2:4790). n1 declares n2
# "backend": "user", "unprivileged": true.
#  - a (n1, kernel) pings b (n2, lwIP), reaches b's TCP echo; b reaches a's
#    UDP echo; paired: a port where nothing listens is refused
. "$(dirname "$0")/lib.sh"
UPROBE=$CS_BUILD/tests/integration/uprobe
U=${PFX}m
mixed_cleanup() {
	local p
	for p in $(pgrep -u "$U" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	cleanup
	del_node_ns
	userdel "$U" 2>/dev/null
}
trap mixed_cleanup EXIT
quiet() { "$@" >/dev/null 2>&1; }
useradd -M -N -r -s /usr/sbin/nologin "$U" >/dev/null || { echo "useradd failed"; exit 1; }
as() { setpriv --reuid "$U" --regid "$(id -g "$U")" --clear-groups "$@"; }
W=$TMP/u
mkdir -p "$W" && chown "$U" "$W" && chmod 700 "$W"
echo '{ "reconcile_interval": 60 }' >"$W/csd.json" && chown "$U" "$W/csd.json"
uctl() { CS_SOCKET=$W/n2.sock as "$CTL" "$@"; }

underlay_add n1 n2
# a datagram that never leaves the machine keeps its inner checksum to be
# filled by offload (veth passes CHECKSUM_PARTIAL on); lwIP checks it: n1
# computes it itself, as it would before a NIC without tunnel offload
nsenter --net="/run/netns/${PFX}hn1" ethtool -K eth0 tx off >/dev/null ||
	{ echo "ethtool -K eth0 tx off failed on n1 (tests/install-deps has ethtool)"; exit 1; }
csd_start n1 -p "${PFX}1" --underlay 192.0.2.1 || exit 1
(exec nsenter --net="/run/netns/${PFX}hn2" setpriv --reuid "$U" --regid "$(id -g "$U")" \
	--clear-groups "$CSD" --backend user -c "$W/csd.json" -S "$W/n2.sock" -D "$W/state" \
	-R "$W/run" -p "${PFX}2" -n n2 -u 192.0.2.2:4790 -l info >>"$W/n2.log" 2>&1) &
CSD_PIDS+=($!)
for _ in $(seq 100); do uctl status >/dev/null 2>&1 && break; sleep 0.05; done
cat >"$W/world.json" <<JSON
{ "tenants": { "acme": {} },
  "nodes": {
    "n1": { "underlay": "192.0.2.1" },
    "n2": { "underlay": "192.0.2.2:4790", "backend": "user", "unprivileged": true } },
  "vnets": {
    "acme/mix": { "id": 501, "subnet": "10.5.0.0/24", "nodes": ["n1", "n2"],
      "endpoints": { "a": { "node": "n1", "address": "10.5.0.10" },
                     "b": { "node": "n2", "address": "10.5.0.20" } } } } }
JSON
chown "$U" "$W/world.json"
check "apply on n1 (kernel, root)" quiet ctl n1 apply -f "$W/world.json"
check "apply on n2 (user, uid $(id -u "$U"))" quiet uctl apply -f "$W/world.json"

check "a (n1, kernel) pings b (n2, user)" quiet in_ep n1 acme/mix/a ping -c 3 -i 0.2 -W 2 -q 10.5.0.20
(CS_SOCKET=$W/n2.sock exec setpriv --reuid "$U" --regid "$(id -g "$U")" --clear-groups \
	"$UPROBE" serve acme/mix b 7000 echo >"$W/echo_b" 2>&1) &
BG_PIDS+=($!)
bg_ep n1 acme/mix/a "$PROBE" serve 7100
sleep 0.5
check "a (n1) reaches b's TCP echo (n2)" in_ep n1 acme/mix/a "$PROBE" tcp 10.5.0.20 7000 3000
check_not "a (n1) does not reach b on port 7001 where nothing listens (paired)" \
	in_ep n1 acme/mix/a "$PROBE" tcp 10.5.0.20 7001 2000
check "b (n2) reaches a's UDP echo (n1)" \
	env CS_SOCKET="$W/n2.sock" setpriv --reuid "$U" --regid "$(id -g "$U")" --clear-groups \
	timeout 20 "$UPROBE" udpto acme/mix b 10.5.0.10 7100
[ "$FAILS" = 0 ] || tail -n 20 "$W/n2.log" "$TMP/n1/csd.log" "$W"/run/user/*.log
finish
