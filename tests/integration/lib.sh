# SPDX-License-Identifier: GPL-2.0-or-later
# Shared by the integration tests: a world of the test's own (a host
# namespace, csd started in it with nsenter --net=, a unique prefix and
# temporary directories), cleaned up by a trap whatever happens.
set -u

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (network namespaces, netlink)"
	exit 77
fi
: "${CS_BUILD:?CS_BUILD must point at the build directory}"
CSD=$CS_BUILD/csd/csd
CTL=$CS_BUILD/tools/cs-ctl/cs-ctl
PROBE=$CS_BUILD/tests/integration/probe

# a unique prefix per run: "i" + 5 hex digits of pid and time (<= 8 chars)
PFX=$(printf 'i%05x' $(( ($$ * 7919 + 10#$(date +%s%N | cut -c10-15)) % 1048576 )))
TMP=$(mktemp -d "/tmp/cs-$PFX.XXXXXX")
chmod 755 "$TMP"
HOSTS=()
CSD_PIDS=()
BG_PIDS=()
FAILS=0
PASSES=0

cleanup() {
	local p ns
	for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for p in "${CSD_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	for ns in /run/netns/"$PFX"*; do
		[ -e "$ns" ] && ip netns del "$(basename "$ns")" 2>/dev/null
	done
	for ns in "${HOSTS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	rm -f /run/cs/"$PFX"*.lock /run/cs/"$PFX"*.claim /run/cs/"$PFX"*.nft
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { PASSES=$((PASSES + 1)); echo "ok - $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL - $*"; }
check() { # check DESCRIPTION CMD...: passes when CMD succeeds
	local what=$1; shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}
check_not() { # passes when CMD fails
	local what=$1; shift
	if "$@"; then fail "$what"; else ok "$what"; fi
}
finish() {
	echo "$PASSES passed, $FAILS failed"
	[ "$FAILS" = 0 ]
	exit $?
}

# host NAME: a namespace standing for one machine
host_add() {
	local ns="${PFX}h$1"
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	HOSTS+=("$ns")
}

# csd_start HOST [ARGS...]: start csd in the host, wait for its socket
csd_start() {
	local h=$1; shift
	mkdir -p "$TMP/$h"
	nsenter --net="/run/netns/${PFX}h$h" "$CSD" -S "$TMP/$h/csd.sock" -D "$TMP/$h/state" \
		-p "$PFX" -n "$h" -l info "$@" 2>>"$TMP/$h/csd.log" &
	CSD_PIDS+=($!)
	eval "CSD_PID_$h=$!"
	local i
	for i in $(seq 100); do
		"$CTL" -S "$TMP/$h/csd.sock" status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "csd on $h did not start:"; cat "$TMP/$h/csd.log"
	return 1
}

csd_pid() { eval "echo \${CSD_PID_$1}"; }

# ctl HOST ARGS...: cs-ctl against that host's csd
ctl() { local h=$1; shift; "$CTL" -S "$TMP/$h/csd.sock" "$@"; }

# in_ep HOST T/V/E CMD...: run CMD inside the endpoint
in_ep() { local h=$1 e=$2; shift 2; "$CTL" -S "$TMP/$h/csd.sock" exec "$e" -- "$@"; }

# bg_ep HOST T/V/E CMD...: the same in the background (killed at cleanup)
bg_ep() {
	local h=$1 e=$2; shift 2
	"$CTL" -S "$TMP/$h/csd.sock" exec "$e" -- "$@" &
	BG_PIDS+=($!)
}

# leaked: prints what carries the prefix (namespaces); empty when clean
leaked() { ls /run/netns 2>/dev/null | grep "^$PFX\." || true; }

revision() { ctl "$1" -j status | sed -n 's/.*"revision": \([0-9]*\).*/\1/p'; }

fd_count() { ls "/proc/$1/fd" | wc -l; }

# underlay_add HOST...: host namespaces (host_add) on one underlay bridge,
# br0 in namespace ${PFX}hul (made here); the i-th host has 192.0.2.i/24
# on its eth0
underlay_add() {
	local h i=0
	host_add ul
	ip -n "${PFX}hul" link add br0 type bridge
	ip -n "${PFX}hul" link set br0 up
	for h in "$@"; do
		i=$((i + 1))
		host_add "$h"
		ip link add "ul$i" netns "${PFX}hul" type veth peer name eth0 netns "${PFX}h$h"
		ip -n "${PFX}hul" link set "ul$i" master br0 up
		ip -n "${PFX}h$h" addr add "192.0.2.$i/24" dev eth0
		ip -n "${PFX}h$h" link set eth0 up
	done
}

# del_node_ns: the namespaces left by csds with prefixes $PFX + a digit
# (several nodes of one test: all namespaces share /run/netns)
del_node_ns() {
	local ns
	for ns in /run/netns/"$PFX"[0-9].*; do
		[ -e "$ns" ] && ip netns del "$(basename "$ns")" 2>/dev/null
	done
}

# outside_add HOST: a namespace "out" behind HOST, as the world is behind a
# node: HOST has up0 with 198.51.100.1/24 and 2001:db8:5::1/64, out has .2
# and ::2 on its eth0
outside_add() {
	local h="${PFX}h$1" o="${PFX}hout"
	host_add out
	ip link add up0 netns "$h" type veth peer name eth0 netns "$o"
	ip -n "$h" addr add 198.51.100.1/24 dev up0
	ip -n "$h" addr add 2001:db8:5::1/64 dev up0 nodad
	ip -n "$h" link set up0 up
	ip -n "$o" addr add 198.51.100.2/24 dev eth0
	ip -n "$o" addr add 2001:db8:5::2/64 dev eth0 nodad
	ip -n "$o" link set eth0 up
}

# probes through peer.py: peer_serve NS tcp|udp ADDR PORT (in the
# background, answering with the peer's address); peer_ask NS tcp|udp ADDR
# PORT; blocked DESC NS ...: the ask fails; answers DESC WANT NS ...: it
# says WANT
PEER=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/peer.py
peer_serve() {
	local ns=$1; shift
	ip netns exec "$ns" python3 "$PEER" serve "$@" >/dev/null 2>&1 &
	BG_PIDS+=($!)
}
peer_ask() { local ns=$1; shift; ip netns exec "$ns" python3 "$PEER" ask "$@"; }
blocked() { local d=$1 out; shift; out=$(peer_ask "$@"); check "$d ($out)" grep -q "^fail" <<<"$out"; }
answers() { local d=$1 w=$2 out; shift 2; out=$(peer_ask "$@"); check "$d ($out)" test "$out" = "$w"; }
