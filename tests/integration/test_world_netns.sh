#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Existing namespaces join a vnet (issue 18 item 6): `endpoint create ...
# netns PATH [ifname NAME]` puts cs's interface into a namespace the test
# made; bytes flow both ways to an ordinary endpoint, the vnet's rules hold
# there (a denied port paired with an allowed one), delete removes only
# cs's interface and rules and leaves the namespace and what else it holds.
# Refused: a file that is not a namespace, a namespace of another kind, the
# node's own, one cs uses already; a non-administrator naming a path for
# csd to open, or passing a namespace that is not its own; while the same
# user passing a namespace it made (unshare -rn) works. A csd restart
# keeps the attached endpoint as it is (same interface, traffic flows); a
# namespace that is gone (csd's hold lost, as at a reboot) shows "gone",
# is not made anew, and delete still works.
. "$(dirname "$0")/lib.sh"

U1=cs${PFX}n
USERS=()
cleanup_netns() {
	for u in "${USERS[@]}"; do userdel "$u" 2>/dev/null; done
	rm -f /run/cs/attached/"$PFX".*
}
trap 'cleanup_netns; cleanup' EXIT
useradd -M -N -r -s /usr/sbin/nologin "$U1" >/dev/null || { echo "useradd failed"; exit 1; }
USERS+=("$U1")
UID1=$(id -u "$U1")
AS() { setpriv --reuid "$UID1" --regid "$UID1" --clear-groups "$@"; }

host_add a
csd_start a || exit 1
cd "$TMP"
C1=${PFX}c1
ip netns add "$C1"
ip -n "$C1" link add keep type veth peer name keep1   # the namespace's own: must survive
EPNS=/run/netns/$PFX.acme.blue

ctl a tenant create acme owners.uids "$UID1" >/dev/null
ctl a vnet create acme/blue subnet 10.1.0.0/24 >/dev/null
ctl a endpoint create acme/blue/peer address 10.1.0.2 >/dev/null

# ---- attach, bytes both ways
check "an administrator attaches a namespace it made" \
	ctl a endpoint create acme/blue/c1 netns "/run/netns/$C1" address 10.1.0.10
check "eth0 in it has the endpoint's address" \
	sh -c "ip -n $C1 -4 addr show eth0 | grep -q 'inet 10.1.0.10/24'"
IFX=$(ip -n "$C1" -o link show eth0 | cut -d: -f1)
peer_serve "$PFX.acme.blue.peer" tcp 10.1.0.2 7000
peer_serve "$C1" tcp 10.1.0.10 7001
peer_serve "$C1" tcp 10.1.0.10 7002
# listening: NS PORT... (the servers start in the background)
listening() {
	local ns=$1 p i; shift
	for p in "$@"; do
		for i in $(seq 100); do
			ip netns exec "$ns" ss -Hltn "sport = :$p" | grep -q . && break
			sleep 0.1
		done
	done
}
listening "$PFX.acme.blue.peer" 7000
listening "$C1" 7001 7002
answers "the attached namespace reaches the endpoint" 10.1.0.10 "$C1" tcp 10.1.0.2 7000
answers "the endpoint reaches the attached namespace" 10.1.0.2 "$PFX.acme.blue.peer" tcp 10.1.0.10 7001

# ---- rules hold in the attached namespace (paired)
ctl a endpoint set acme/blue/c1 groups web >/dev/null
ctl a vnet set acme/blue policy.default deny >/dev/null || fail "policy.default deny"
ctl a rule create acme/blue from any to group:web proto tcp ports 7001 >/dev/null || fail "rule"
ctl a rule create acme/blue from any to group:peer proto tcp >/dev/null || fail "rule peer"
ctl a endpoint set acme/blue/peer groups peer >/dev/null
answers "a rule lets port 7001 in" 10.1.0.2 "$PFX.acme.blue.peer" tcp 10.1.0.10 7001
blocked "port 7002, which no rule allows, is refused" "$PFX.acme.blue.peer" tcp 10.1.0.10 7002

# ---- refusals
out=$(ctl a endpoint create acme/blue/x netns /etc/hostname 2>&1)
check "a file that is not a namespace is refused ($out)" grep -q "not a namespace" <<<"$out"
out=$(ctl a endpoint create acme/blue/x netns /proc/self/ns/uts 2>&1)
check "a namespace of another kind is refused ($out)" grep -q "not a network namespace" <<<"$out"
out=$(ctl a endpoint create acme/blue/x netns "/run/netns/${PFX}ha" 2>&1)
check "the node's own namespace is refused ($out)" grep -q "node's own" <<<"$out"
out=$(ctl a endpoint create acme/blue/x netns "$EPNS.peer" 2>&1)
check "another endpoint's namespace is refused ($out)" grep -q "already cs's" <<<"$out"
out=$(ctl a endpoint create acme/blue/x ifname eth1 2>&1)
check "ifname without netns is refused ($out)" grep -q "give netns" <<<"$out"
C4=${PFX}c4
ip netns add "$C4"
ip -n "$C4" link add own type veth peer name own1
out=$(ctl a endpoint create acme/blue/x netns "/run/netns/$C4" ifname own 2>&1)
check "an ifname the namespace has already is refused ($out)" grep -q "of its own already" <<<"$out"
check "and its interface is left alone" ip -n "$C4" link show own
check_not "and csd holds nothing of it" test -e "$EPNS.x"
check "nothing was stored by the refusals" sh -c "! $CTL -S $TMP/a/csd.sock endpoint show acme/blue/x 2>/dev/null"

# ---- a non-administrator: its own namespace by fd, never a path
# not through AS: $! must be the program itself, not a subshell
setpriv --reuid "$UID1" --regid "$UID1" --clear-groups unshare -rn sleep 600 &
UNS=$!; BG_PIDS+=($UNS)
# until it is sleep: unshare is not dumpable (its namespace not the
# user's to open) between its unshare(2) and its exec
for i in $(seq 50); do
	[ "$(cat /proc/$UNS/comm 2>/dev/null)" = sleep ] && break
	sleep 0.1
done
cat >"$TMP/bypath.py" <<EOF
import ctypes, sys
cs = ctypes.CDLL("$CS_BUILD/libcs/libcs.so")
cs.cs_last_error.restype = ctypes.c_char_p
h = ctypes.c_void_p()
if cs.cs_open(b"$TMP/a/csd.sock", ctypes.byref(h)) < 0:
    sys.exit("cannot connect")
r = cs.cs_endpoint_create(h, b"acme/blue/u1", ('{"netns": "%s"}' % sys.argv[1]).encode())
print(r, cs.cs_last_error(h).decode())
EOF
# a sanitizer build's libcs needs its runtime first in Python too
asan=$(ldd "$CS_BUILD/libcs/libcs.so.0" 2>/dev/null | awk '/libasan/ {print $3}')
out=$(AS env ${asan:+LD_PRELOAD=$asan ASAN_OPTIONS=detect_leaks=0} /usr/bin/python3 \
	"$TMP/bypath.py" "/proc/$UNS/ns/net")
check "a non-administrator naming a path is refused ($out)" grep -q "only administrators" <<<"$out"
# an administrator's path that is a FIFO (or a symlink to one: a path in a
# directory others write) must not hold csd in open(2) waiting for a writer
mkfifo "$TMP/fifo"
out=$(timeout 20 env ${asan:+LD_PRELOAD=$asan ASAN_OPTIONS=detect_leaks=0} /usr/bin/python3 \
	"$TMP/bypath.py" "$TMP/fifo")
check "an administrator's path to a FIFO is refused, not waited on ($out)" \
	grep -q "not a namespace" <<<"$out"
check "and csd answers the next request" ctl a endpoint show acme/blue/peer
out=$(AS "$CTL" -S "$TMP/a/csd.sock" endpoint create acme/blue/u1 netns "/run/netns/$C1" 2>&1)
check "a non-administrator passing a namespace not its own is refused ($out)" \
	grep -q "not yours\|cannot open" <<<"$out"
check "the same user passing its own namespace (opened by cs-ctl) attaches it" \
	AS "$CTL" -S "$TMP/a/csd.sock" endpoint create acme/blue/u1 netns "/proc/$UNS/ns/net" \
	ifname cs0 address 10.1.0.11
out=$(nsenter --net="/proc/$UNS/ns/net" python3 "$PEER" ask tcp 10.1.0.2 7000)
check "its namespace reaches the vnet through cs0 ($out)" test "$out" = 10.1.0.11

state=$(ctl a -j endpoint show acme/blue/u1 | sed -n 's/.*"state": "\([a-z]*\)".*/\1/p')
check "it is up, its counters read from cs0 ($state)" test "$state" = up

# ---- apply keeps netns and ifname as they are: it attaches nothing
ctl a export >"$TMP/attached.json" && chmod 644 "$TMP/attached.json"
check "the owner applies the export with its attached endpoints unchanged" \
	AS "$CTL" -S "$TMP/a/csd.sock" apply -f "$TMP/attached.json"
# edit F WHAT: apply F's export with endpoints edited by Python WHAT (eps: the vnet's)
edit_apply() {
	/usr/bin/python3 -c 'import json, sys
f = json.load(open(sys.argv[1])); eps = f["vnets"]["acme/blue"]["endpoints"]
exec(sys.argv[2]); json.dump(f, open(sys.argv[1], "w"))' "$1" "$2" && chmod 644 "$1"
	AS "$CTL" -S "$TMP/a/csd.sock" apply -f "$1" 2>&1
}
cp "$TMP/attached.json" "$TMP/e1.json"; cp "$TMP/attached.json" "$TMP/e2.json"
cp "$TMP/attached.json" "$TMP/e3.json"
out=$(edit_apply "$TMP/e1.json" 'eps["peer"].update(netns="/proc/1/ns/net", ifname="lo")')
check "apply giving an endpoint of cs's own a netns and ifname is refused ($out)" \
	grep -q 'endpoints.peer.netns: cannot change' <<<"$out"
check_not "and peer is stored as it was (not attached)" \
	grep -q '"attached"' <<<"$(ctl a -j endpoint show acme/blue/peer)"
out=$(edit_apply "$TMP/e2.json" 'eps["n1"] = {"netns": "/proc/1/ns/net"}')
check "apply declaring an endpoint with a netns is refused ($out)" \
	grep -q 'endpoints.n1.netns: an endpoint a file declares cannot attach' <<<"$out"
check_not "and there is no n1" ctl a endpoint show acme/blue/n1
out=$(edit_apply "$TMP/e3.json" 'del eps["u1"]["netns"]')
check "apply dropping an attached endpoint's netns is refused ($out)" \
	grep -q 'endpoints.u1.netns: cannot change' <<<"$out"
check "and u1 is still attached" grep -q '"attached"' <<<"$(ctl a -j endpoint show acme/blue/u1)"

# ---- a reservation shapes the attached interface (HTB)
ctl a vnet set acme/blue capacity 1gbit >/dev/null || fail "vnet capacity"
check "a reservation on the attached endpoint" ctl a endpoint set acme/blue/c1 qos.rate 10mbit
check "is HTB on its eth0 in the namespace" \
	sh -c "ip netns exec $C1 tc class show dev eth0 | grep -q htb"

# ---- restart: adopted, not recreated
kill -TERM "$(csd_pid a)"; wait "$(csd_pid a)" 2>/dev/null
csd_start a || exit 1
sleep 1
IFX2=$(ip -n "$C1" -o link show eth0 | cut -d: -f1)
check "after a restart eth0 is the same interface ($IFX, $IFX2)" test "$IFX" = "$IFX2"
answers "and bytes still flow" 10.1.0.10 "$C1" tcp 10.1.0.2 7000
state=$(ctl a -j endpoint show acme/blue/c1 | sed -n 's/.*"state": "\([a-z]*\)".*/\1/p')
check "it is up ($state)" test "$state" = up

# ---- delete leaves the namespace
check "delete of the attached endpoint" ctl a endpoint delete acme/blue/c1
check "the namespace is still there" test -e "/run/netns/$C1"
check "with its own interface" ip -n "$C1" link show keep
check_not "without cs's interface" ip -n "$C1" link show eth0
check_not "and without cs's rules" sh -c "ip netns exec $C1 nft list tables | grep -q cs"
check_not "csd's hold is gone" test -e "$EPNS.c1"
# its owner holds CAP_NET_ADMIN there: it renames cs0 (name and alias no
# longer cs's) and stacks a macvlan on it (whose lower is vx0 too)
OWN() { AS nsenter --preserve-credentials -U -n -t "$UNS" "$@"; }
check "the namespace's owner renames cs0, changes its alias, stacks a macvlan on it" \
	OWN sh -c 'ip link set cs0 down && ip link set cs0 name mine alias x && ip link set mine up &&
		ip link add stack link mine type macvlan mode bridge && ip link set stack up'
check "the user's endpoint is deleted too" AS "$CTL" -S "$TMP/a/csd.sock" endpoint delete acme/blue/u1
check_not "its cs0 is gone" nsenter --net="/proc/$UNS/ns/net" ip link show cs0
check_not "so is the interface cs made, renamed" nsenter --net="/proc/$UNS/ns/net" ip link show mine
check_not "and the one stacked on it: the namespace left the vnet" \
	nsenter --net="/proc/$UNS/ns/net" ip link show stack

# ---- cs-cni, driven as a runtime drives a CNI plugin
CNI=$CS_BUILD/tools/cs-cni/cs-cni
C3=${PFX}c3
ip netns add "$C3"
CID=$(head -c 32 /dev/urandom | sha256sum | cut -c1-64)
CONF='{"cniVersion":"1.0.0","name":"blue","type":"cs-cni","vnet":"acme/blue","socket":"'$TMP/a/csd.sock'"}'
cni() { CNI_COMMAND=$1 CNI_CONTAINERID=$CID CNI_NETNS=/run/netns/$C3 CNI_IFNAME=eth0 \
	CNI_PATH=$(dirname "$CNI") "$CNI" <<<"${2:-$CONF}"; }
out=$(cni ADD); rc=$?
check "cs-cni ADD succeeds (exit $rc)" test $rc = 0
cat >"$TMP/result.py" <<'EOF'
import json, sys
r = json.loads(sys.stdin.read())
i = r["interfaces"][0]
ip = r["ips"][0]
assert r["cniVersion"] == "1.0.0", r
assert i["name"] == "eth0" and i["sandbox"] == sys.argv[1] and len(i["mac"]) == 17, i
assert ip["address"].startswith("10.1.0.") and ip["address"].endswith("/24"), ip
assert ip["gateway"] == "10.1.0.1" and ip["interface"] == 0, ip
assert r["dns"] == {"nameservers": ["10.1.0.1"], "search": ["blue.acme.cs"]}, r["dns"]
assert r["routes"] == [], r["routes"]   # no egress: no default route
print(ip["address"].split("/")[0])
EOF
ADDR=$(/usr/bin/python3 "$TMP/result.py" "/run/netns/$C3" <<<"$out")
check "the result has interfaces, ips, routes and dns as CNI 1.0 says ($ADDR)" test -n "$ADDR"
answers "the container reaches the vnet" "$ADDR" "$C3" tcp 10.1.0.2 7000
# the name cs-cni(8) promises: c, 12 of the id, -, 16 hex of its SHA-256
NAME=c${CID:0:12}-$(printf %s "$CID" | sha256sum | cut -c1-16)
check "the endpoint is named from the container id ($NAME)" ctl a endpoint show "acme/blue/$NAME"
# a network naming its endpoint: a second container's ADD fails (the name
# exists), and the DEL its runtime sends after that failure must not
# delete the first container's endpoint
C5=${PFX}c5
C6=${PFX}c6
ip netns add "$C5"
ip netns add "$C6"
SOLO='{"cniVersion":"1.0.0","name":"solo","type":"cs-cni","vnet":"acme/blue","endpoint":"solo","socket":"'$TMP/a/csd.sock'"}'
cni_in() { CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_NETNS=/run/netns/$3 CNI_IFNAME=eth0 \
	CNI_PATH=$(dirname "$CNI") "$CNI" <<<"$SOLO" >/dev/null; }
check "ADD of the one container of a network naming its endpoint" cni_in ADD id5 "$C5"
check_not "a second container's ADD fails" cni_in ADD id6 "$C6"
cni_in DEL id6 "$C6"
check "the second container's DEL leaves the first's endpoint" ctl a endpoint show acme/blue/solo
check "and its interface" ip -n "$C5" link show eth0
check "the first container's DEL deletes it" cni_in DEL id5 "$C5"
check_not "its interface is gone" ip -n "$C5" link show eth0
ip netns del "$C5"
ip netns del "$C6"
out=$(cni CHECK); rc=$?
check "CHECK passes ($rc: $out)" test "$rc:$out" = "0:"
check "DEL succeeds" cni DEL
check_not "and removes eth0 from the container" ip -n "$C3" link show eth0
check "while the container's namespace stays" test -e "/run/netns/$C3"
check "DEL again (nothing left) succeeds" cni DEL
out=$(cni CHECK); rc=$?
check "CHECK after DEL fails with an error result ($rc: $out)" grep -q '"code": *3' <<<"$out"
out=$(cni VERSION)
check "VERSION lists 1.0.0 ($out)" grep -q '"supportedVersions":\["1.0.0"\]' <<<"$out"
out=$(cni ADD '{"cniVersion":"1.0.0","name":"x","type":"cs-cni"}'); rc=$?
check "a configuration without vnet is refused with code 7 ($rc: $out)" grep -q '"code": *7' <<<"$out"
ip netns del "$C3"
check "DEL after the namespace is gone succeeds" cni DEL

# ---- gone: csd's hold lost, as at a reboot
C2=${PFX}c2
ip netns add "$C2"
ctl a endpoint create acme/blue/c2 netns "/run/netns/$C2" >/dev/null || fail "attach c2"
kill -TERM "$(csd_pid a)"; wait "$(csd_pid a)" 2>/dev/null
umount "$EPNS.c2" && rm -f "$EPNS.c2"
ip netns del "$C2"
csd_start a || exit 1
sleep 1
state=$(ctl a -j endpoint show acme/blue/c2 | sed -n 's/.*"state": "\([a-z]*\)".*/\1/p')
check "an endpoint whose namespace is gone shows it ($state)" test "$state" = gone
check_not "and no namespace is made in its place" test -e "$EPNS.c2"
check "delete still works" ctl a endpoint delete acme/blue/c2
finish
