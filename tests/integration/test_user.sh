#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The user backend (csd(8) BACKENDS, issue 19), run by an unprivileged user
# made for the test (useradd; removed by the trap): csd --backend user with
# its own socket, state and run directories, a stack process per vnet,
# programs on libcs channels.
#  1 greet and relay between two endpoints of a vnet
#  2 two tenants with the same subnet: a vnet reaches its own endpoint at
#    an address, never the other tenant's endpoint at that address
#  3 a rule denies a port, paired with the port it allows
#  4 a reservation paces what an endpoint sends
#  5 csd restarts: the stacks live on, a held connection too, new ones work
#  6 a crashed stack is started again; a deleted endpoint closes its
#    channels; a deleted vnet stops its stack
#  7 an unmodified program (curl) reaches a server in the vnet through
#    cs-socks, a SOCKS5 proxy into an endpoint
. "$(dirname "$0")/lib.sh"
UPROBE=$CS_BUILD/tests/integration/uprobe
GREET=$CS_BUILD/examples/greet
U=${PFX}u
user_cleanup() {
	local p
	# the stacks csd started as the test's user (csd is in CSD_PIDS)
	for p in $(pgrep -u "$U" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	cleanup
	userdel "$U" 2>/dev/null
}
trap user_cleanup EXIT
useradd -M -N -r -s /usr/sbin/nologin "$U" >/dev/null || { echo "useradd failed"; exit 1; }
as() { setpriv --reuid "$U" --regid "$(id -g "$U")" --clear-groups "$@"; }
# the same, exec'd: a background one has the pid of its program
as_exec() { exec setpriv --reuid "$U" --regid "$(id -g "$U")" --clear-groups "$@"; }
W=$TMP/u
mkdir -p "$W" && chown "$U" "$W" && chmod 700 "$W"
export CS_SOCKET=$W/csd.sock
echo '{ "reconcile_interval": 60 }' >"$W/csd.json" && chown "$U" "$W/csd.json"
ctl() { as "$CTL" "$@"; }
csd_up() {
	(as_exec "$CSD" --backend user -c "$W/csd.json" -S "$CS_SOCKET" -D "$W/state" \
		-R "$W/run" -p "$PFX" -l info >>"$W/csd.log" 2>&1) &
	CSD_PID=$!
	CSD_PIDS+=($CSD_PID)
	for _ in $(seq 100); do ctl status >/dev/null 2>&1 && return 0; sleep 0.05; done
	cat "$W/csd.log"
	return 1
}
# bg NAME CMD...: CMD as the user in the background, its output in $W/NAME
bg() {
	local n=$1; shift
	(as_exec "$@" >"$W/$n" 2>&1) &
	BG_PIDS+=($!)
	eval "PID_$n=$!"
}
# wait_for FILE TEXT: up to 10 s for TEXT in FILE
wait_for() { for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; return 1; }
stack_pid() { pgrep -u "$U" -f "cs-stack $W/run/user/$1.sock"; }

csd_up || { echo "csd --backend user did not start as $U"; exit 1; }
check "csd runs as uid $(id -u "$U") (not root)" test "$(stat -c %u /proc/$CSD_PID)" = "$(id -u "$U")"
cat >"$W/world.json" <<JSON
{ "tenants": { "acme": {}, "zeta": {} },
  "vnets": {
    "acme/blue": { "subnet": "10.9.0.0/24", "capacity": "1gbit",
      "endpoints": { "a": {}, "b": {}, "q": { "qos": { "rate": "40mbit" } } } },
    "acme/red": { "subnet": "10.8.0.0/24", "endpoints": { "db": {} } },
    "zeta/red": { "subnet": "10.9.0.0/24",
      "endpoints": { "x": {}, "y": {} } },
    "acme/green": { "subnet": "10.7.0.0/24",
      "endpoints": { "g1": {}, "g2": {} },
      "policy": { "default": "deny", "rules": [
        { "from": "any", "to": "any", "proto": "tcp", "ports": [7301], "action": "allow" } ] } } } }
JSON
chown "$U" "$W/world.json"
check "apply as the user (tenants, four vnets, eight endpoints)" ctl apply -f "$W/world.json"
check "every endpoint is up" test "$(ctl -j endpoint list | grep -c '"state": *"up"')" = 8
check "a stack process per vnet, run by the user" test -n "$(stack_pid acme.blue)" -a \
	-n "$(stack_pid zeta.red)" -a -n "$(stack_pid acme.green)"

# ---- 1. greet and relay
bg greet_a "$GREET" serve acme/blue a 7000
sleep 0.3
out=$(as timeout 20 "$GREET" ask acme/blue b a 7000 2>&1)
check "greet: b asks a by name and hears back ($out)" grep -q "acme/blue/a says hello back to acme/blue/b" <<<"$out"
bg hello_db "$UPROBE" serve acme/red db 7600 hello
wait_for "$W/hello_db" listening
bg relay "$CS_BUILD/examples/relay" acme/blue acme/red db 7600
for _ in $(seq 100); do ctl endpoint show acme/blue/relay >/dev/null 2>&1 && break; sleep 0.05; done
sleep 0.3
check "relay: b reaches db of acme/red through the relay's two endpoints" \
	as timeout 10 "$UPROBE" ask acme/blue b relay 7600

# datagrams: a connected channel (cs_connect) and cs_socket's, which names
# the peer in each message (struct cs_dgram)
bg udp_a "$UPROBE" udpecho acme/blue a 7700
wait_for "$W/udp_a" listening
ADDR_A=$(ctl -j endpoint show acme/blue/a | sed -n 's/.*"address": *"\([0-9.]*\)".*/\1/p')
check "datagrams: cs_connect(SOCK_DGRAM) from b, echoed by a" as timeout 10 "$UPROBE" udpask acme/blue b a 7700
check "datagrams: cs_socket(SOCK_DGRAM) from b to $ADDR_A, echoed" as timeout 10 "$UPROBE" udpto acme/blue b "$ADDR_A" 7700
check_not "datagrams: nothing echoes on port 7701 (paired)" as timeout 10 "$UPROBE" udpask acme/blue b a 7701

# ---- 7. curl through cs-socks into b
bg http_a "$UPROBE" serve acme/blue a 7800 http
bg socks "$CS_BUILD/tools/cs-socks/cs-socks" acme/blue/b "$W/socks.sock"
wait_for "$W/http_a" listening && wait_for "$W/socks" serving
PROXY=socks5h://localhost$W/socks.sock
out=$(as curl -sS --max-time 10 --proxy "$PROXY" http://a:7800/ 2>&1)
check "cs-socks: curl reaches a's HTTP server by name through b ($out)" test "$out" = hello
check_not "cs-socks: ... and not a port where nothing listens" \
	as curl -s --max-time 10 --proxy "$PROXY" http://a:7801/
check_not "cs-socks: ... nor another tenant's endpoint (zeta/red/y is not in acme/blue)" \
	as curl -s --max-time 10 --proxy "$PROXY" http://y:7100/

# ---- 2. overlapping subnets: y (zeta/red, 10.9.0.3) serves, b (acme/blue,
# 10.9.0.3) does not; a asks 10.9.0.3 and must not reach y
bg hello_y "$UPROBE" serve zeta/red y 7100 hello
bg hello_a "$UPROBE" serve acme/blue a 7100 hello
wait_for "$W/hello_y" listening && wait_for "$W/hello_a" listening
ADDR_Y=$(ctl -j endpoint show zeta/red/y | sed -n 's/.*"address": *"\([0-9.]*\)".*/\1/p')
ADDR_B=$(ctl -j endpoint show acme/blue/b | sed -n 's/.*"address": *"\([0-9.]*\)".*/\1/p')
check "y and b hold the same address ($ADDR_Y, $ADDR_B)" test -n "$ADDR_Y" -a "$ADDR_Y" = "$ADDR_B"
check "zeta/red: x reaches y at $ADDR_Y" as timeout 10 "$UPROBE" ask zeta/red x "$ADDR_Y" 7100
check "acme/blue: b reaches a" as timeout 10 "$UPROBE" ask acme/blue b a 7100
check_not "acme/blue: a does not reach y at $ADDR_Y (another tenant's)" \
	as timeout 10 "$UPROBE" ask acme/blue a "$ADDR_Y" 7100

# ---- 3. rules
bg rule_ok "$UPROBE" serve acme/green g1 7301 hello
bg rule_no "$UPROBE" serve acme/green g1 7302 hello
wait_for "$W/rule_ok" listening && wait_for "$W/rule_no" listening
check "rules: g2 reaches g1 on the allowed port 7301" as timeout 10 "$UPROBE" ask acme/green g2 g1 7301
t0=$(date +%s)
err=$(as timeout 30 "$UPROBE" ask acme/green g2 g1 7302 2>&1)
r=$?
check "rules: g2 does not reach g1 on port 7302, with an error, not a hang ($err)" \
	test $r = 1 -a $(( $(date +%s) - t0 )) -le 25

# ---- 4. a reservation: q sends at 40 Mbit/s
bg sink_a "$UPROBE" serve acme/blue a 7400 sink
wait_for "$W/sink_a" listening
bps=$(as timeout 30 "$UPROBE" send acme/blue q a 7400 3)
check "reservation: q sends at 40 Mbit/s within 30% (${bps:-nothing} bit/s)" \
	test "${bps:-0}" -ge 28000000 -a "${bps:-0}" -le 52000000
bps=$(as timeout 30 "$UPROBE" send acme/blue b a 7400 2)
check "without one, b sends faster than q (${bps:-nothing} bit/s)" test "${bps:-0}" -ge 60000000

# ---- 5. csd restarts; the stacks and a held connection live on
bg echo_a "$UPROBE" serve acme/blue a 7500 echo
wait_for "$W/echo_a" listening
bg hold "$UPROBE" hold acme/blue b a 7500
wait_for "$W/hold" held
SP=$(stack_pid acme.blue)
kill -TERM "$CSD_PID"; wait "$CSD_PID" 2>/dev/null
check "csd stopped; the stack of acme/blue runs on" kill -0 "$SP"
csd_up || fail "csd did not start again"
check "the stack was adopted, not started again" test "$(stack_pid acme.blue)" = "$SP"
check "endpoints are up after the restart" test "$(ctl -j endpoint list | grep -c '"state": *"up"')" -ge 8
check "the connection held across the restart is open" kill -0 "$PID_hold"
check_not "... and has seen no end" grep -q eof "$W/hold"
check "a new connection works after the restart" as timeout 10 "$UPROBE" ask acme/blue b a 7100

# ---- 6. crash, delete
SZ=$(stack_pid zeta.red)
kill -9 "$SZ"
for _ in $(seq 100); do [ "$(stack_pid zeta.red)" != "$SZ" ] && break; sleep 0.05; done
# reconciliation runs every 60 s here: the stack comes back at its next use
bg hello_y2 "$UPROBE" serve zeta/red y 7101 hello
wait_for "$W/hello_y2" listening
check "a crashed stack is started again at its next use, with its endpoints (x reaches y)" \
	as timeout 10 "$UPROBE" ask zeta/red x "$ADDR_Y" 7101
check "... as a new process" test -n "$(stack_pid zeta.red)" -a "$(stack_pid zeta.red)" != "$SZ"
ctl endpoint delete acme/blue/b
check "deleting b closes its channel: the held connection sees its end" wait_for "$W/hold" eof
SG=$(stack_pid acme.green)
ctl vnet delete acme/green
for _ in $(seq 100); do kill -0 "$SG" 2>/dev/null || break; sleep 0.05; done
check "deleting acme/green stops its stack" test ! -e "/proc/$SG/cmdline" -o -z "$(stack_pid acme.green)"
check "... and removes its socket" test ! -e "$W/run/user/acme.green.sock"
ctl tenant delete acme; ctl tenant delete zeta
for _ in $(seq 100); do [ -z "$(pgrep -u "$U" -x cs-stack)" ] && break; sleep 0.05; done
check "no stack is left once the tenants are deleted" test -z "$(pgrep -u "$U" -x cs-stack)"
[ "$FAILS" = 0 ] || tail -30 "$W/csd.log"
finish
