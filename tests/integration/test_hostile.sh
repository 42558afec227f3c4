#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Hostile local users (issue 14): each attack runs as an unprivileged user
# made for the test (useradd; removed by the trap), against a real csd, and
# each is paired with an honest request that must still succeed, and fast.
#  1 fds: thousands of connections holding partial messages with passed
#    fds; csd keeps a bounded number per uid, holds no passed fd, answers
#    root and another user within 1 s, and its log does not flood
#  2 memory: 40 connections announcing 16 MiB each; csd grows by less than
#    128 MB, drops partial messages that wait too long, and gives the
#    memory back
. "$(dirname "$0")/lib.sh"
HOSTILE=$CS_BUILD/tests/integration/hostile
USERS=()
hostile_cleanup() {
	local u
	cleanup
	for u in "${USERS[@]}"; do userdel "$u" 2>/dev/null; done
}
trap hostile_cleanup EXIT
user_add() { # NAME: a local user of the test's own; prints its uid
	useradd -M -N -r -s /usr/sbin/nologin "$1" >/dev/null || return 1
	USERS+=("$1")
	id -u "$1"
}
U1=${PFX}a U2=${PFX}b
UID1=$(user_add "$U1") && UID2=$(user_add "$U2") || { echo "useradd failed"; exit 1; }
ctl_as() { local u=$1; shift; as "$u" "$CTL" -S "$SOCK" "$@"; }
# as USER CMD...: CMD as that user (exec'd, so a background one is killed by its pid)
exec_as() { local u=$1; shift; exec setpriv --reuid "$u" --regid "$(id -g "$u")" --clear-groups "$@"; }
as() { (exec_as "$@"); }
SOCK=$TMP/a/csd.sock
ms() { date +%s%3N; }
# timed CMD...: runs CMD, prints how long it took in ms; fails with it
timed() { local t0 r; t0=$(ms); "$@" >/dev/null 2>&1; r=$?; echo $(( $(ms) - t0 )); return $r; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
# under AddressSanitizer memory is the sanitizer's (quarantine, shadow):
# the RSS figures are checked only in a plain build
if ldd "$CSD" 2>/dev/null | grep -q libasan; then
	rss_ok() { ok "$1 (not measured under ASan)"; }
else
	rss_ok() { check "$@"; }
fi

host_add a
cat >"$TMP/a.json" <<JSON
{ "limits": { "partial_timeout": 3, "vnets": 5, "endpoints": 30 } }
JSON
csd_start a -c "$TMP/a.json" || exit 1
PID=$(csd_pid a)
fds0=$(fd_count "$PID")

# ---- 1. connections and fds in flight
exec_as "$U1" "$HOSTILE" partial "$SOCK" 2400 30 8 >"$TMP/h1.out" &
H1=$!; BG_PIDS+=($H1)
for i in $(seq 100); do [ -s "$TMP/h1.out" ] && break; sleep 0.1; done
read -r _ opened _ refused _ <"$TMP/h1.out"
check "one uid keeps at most 64 connections of 2400 ($opened kept, $refused refused)" \
	test "${opened:-0}" -le 64 -a "${opened:-0}" -ge 32
fds=$(fd_count "$PID")
check "csd holds no passed fd of partial messages ($fds0 fds before, $fds with $opened connections)" \
	test "$fds" -le $(( fds0 + opened + 4 ))
t=$(timed ctl a status); r=$?
check "root is answered within 1 s while the uid holds all it may (${t} ms)" test $r = 0 -a "$t" -lt 1000
t=$(timed as "$U2" "$CTL" -S "$SOCK" tenant list); r=$?
check "another user is answered within 1 s (${t} ms)" test $r = 0 -a "$t" -lt 1000
out=$(as "$U1" "$CTL" -S "$SOCK" tenant list 2>&1)
check "the uid's next connection is refused saying which bound: $out" \
	grep -q "limits.connections" <<<"$out"
lines=$(grep -c 'refused' "$TMP/a/csd.log")
check "the log does not flood ($lines lines of refusals for $refused refused)" test "$lines" -lt 200
kill "$H1"; wait "$H1" 2>/dev/null
for i in $(seq 50); do [ "$(fd_count "$PID")" -le $(( fds0 + 2 )) ] && break; sleep 0.1; done
check "the connections' fds are gone when the user goes ($(fd_count "$PID") fds)" \
	test "$(fd_count "$PID")" -le $(( fds0 + 2 ))

# ---- 2. memory of partial messages
rss0=$(rss_kb "$PID")
exec_as "$U1" "$HOSTILE" memory "$SOCK" 40 16 30 >"$TMP/h2.out" &
H2=$!; BG_PIDS+=($H2)
for i in $(seq 300); do [ -s "$TMP/h2.out" ] && break; sleep 0.1; done
rss1=$(rss_kb "$PID")
rss_ok "40 x 16 MiB announced: csd grows by less than 128 MB (${rss0} kB -> ${rss1} kB)" \
	test $(( rss1 - rss0 )) -lt 131072
t=$(timed as "$U2" "$CTL" -S "$SOCK" tenant list); r=$?
check "another user is answered meanwhile (${t} ms)" test $r = 0 -a "$t" -lt 1000
# partial_timeout is 3 s here: the messages are dropped, the memory goes back
for i in $(seq 80); do [ "$(rss_kb "$PID")" -lt $(( rss0 + 16384 )) ] && break; sleep 0.1; done
rss2=$(rss_kb "$PID")
rss_ok "partial messages time out and memory returns while they stay connected (${rss2} kB)" \
	test "$rss2" -lt $(( rss0 + 16384 ))
grep -q "waited more than 3 s" "$TMP/a/csd.log" 2>/dev/null || true
kill "$H2"; wait "$H2" 2>/dev/null
# ---- 2b. one valid message of many tiny values (12 MiB of "{}," parse to >1 GB)
python3 -c 'import sys; sys.stdout.write("{\"id\":2,\"op\":\"status\",\"args\":{\"x\":[" + ",".join(["{}"] * 4000000) + "]}}")' >"$TMP/big.json"
chmod 644 "$TMP/big.json"
rss0=$(rss_kb "$PID")
out=$(as "$U1" "$HOSTILE" send "$SOCK" "$TMP/big.json" 2>&1)
rss1=$(rss_kb "$PID")
check "a message too costly to parse is refused: ${out:0:160}" grep -q ETOOBIG <<<"$out"
rss_ok "and csd grows < 128 MB ($rss0 -> $rss1 kB)" test $(( rss1 - rss0 )) -lt 131072
check "csd is alive and answers after the attacks" ctl a status

# ---- 5. members change nothing: they open ephemeral endpoints only
ctl a tenant create shop owners.uids "$UID2" >/dev/null
ctl a vnet create shop/app subnet 10.77.0.0/24 members.uids "$UID1" >/dev/null
as "$U2" "$CTL" -S "$SOCK" endpoint create shop/app/db >/dev/null
req() { as "$U1" "$HOSTILE" request "$SOCK" 0 "$@"; }
out=$(req '{"id":2,"op":"endpoint.open","args":{"vnet":"shop/app","name":"keep"}}')
check "a member's persistent endpoint.open is refused: $out" \
	grep -q '"EPERM".*members open ephemeral endpoints only' <<<"$out"
check "and nothing was made" bash -c "! '$CTL' -S '$SOCK' endpoint show shop/app/keep >/dev/null 2>&1"
out=$(req '{"id":2,"op":"endpoint.open","args":{"vnet":"shop/app","name":"keep","ephemeral":true}}' \
	'{"id":3,"op":"endpoint.open","args":{"vnet":"shop/app"}}' \
	'{"id":4,"op":"endpoint.open","args":{"vnet":"shop/app","name":"db","attach":true}}')
check "the member opens ephemeral endpoints and attaches to the owner's" \
	test "$(grep -c '"ok":true' <<<"$out")" = 3
for i in $(seq 50); do ctl a endpoint show shop/app/keep >/dev/null 2>&1 || break; sleep 0.1; done
check "the member's ephemeral endpoint went with its connection" \
	bash -c "! '$CTL' -S '$SOCK' endpoint show shop/app/keep >/dev/null 2>&1"

# ---- 1b. replies holding fds: endpoint.socket asked 25,000 times, never read
fds0=$(fd_count "$PID")
exec_as "$U1" "$HOSTILE" pipeline "$SOCK" 25000 30 \
	'{"id":9,"op":"endpoint.socket","args":{"name":"shop/app/db","domain":2,"type":2}}' >"$TMP/h3.out" &
H3=$!; BG_PIDS+=($H3)
for i in $(seq 100); do [ -s "$TMP/h3.out" ] && break; sleep 0.1; done
sleep 0.5
fds=$(fd_count "$PID")
check "unread endpoint.socket replies hold at most limits.reply_fds of csd's fds ($fds0 -> $fds; $(cat "$TMP/h3.out"))" \
	test "$fds" -le $(( fds0 + 64 + 16 ))
t=$(timed ctl a status); r=$?
check "root is answered meanwhile (${t} ms)" test $r = 0 -a "$t" -lt 1000
t=$(timed as "$U2" "$CTL" -S "$SOCK" tenant list); r=$?
check "and another user (${t} ms)" test $r = 0 -a "$t" -lt 1000
kill "$H3"; wait "$H3" 2>/dev/null

# ---- the log: refused requests as fast as one can send them
as "$U1" "$HOSTILE" pipeline "$SOCK" 2000 1 '{"id":7,"op":"tenant.delete","args":{"name":"nosuch"}}' >/dev/null
sleep 1.2
ctl_as "$U1" tenant delete nosuch >/dev/null 2>&1 # its next refusal, a second later
n=$(grep -c "audit: uid $UID1 pid [0-9]* tenant.delete nosuch: refused" "$TMP/a/csd.log")
check "2,000 refused requests write at most 20 audit lines a second ($n), and say how many were not" \
	bash -c "test $n -le 60 && grep -q 'audit: uid $UID1: [0-9]* more refused requests were not written' '$TMP/a/csd.log'"

# ---- 4. bounds per uid in total, whatever tenant it creates
for i in $(seq 10); do ctl_as "$U1" tenant create "x$i" >/dev/null || break; done
out=$(ctl_as "$U1" tenant create x11 2>&1)
check "the default bound of 10 tenants per uid holds: $out" grep -q "uid $UID1 has created 10 tenants (in all tenants), and 1 more.*limits.tenants" <<<"$out"
ctl_as "$U1" tenant delete x1 >/dev/null
check "a deleted tenant gives its room back" ctl_as "$U1" tenant create x11
for i in $(seq 5); do ctl_as "$U1" vnet create "x2/v$i" subnet "10.9$i.0.0/24" >/dev/null; done
out=$(ctl_as "$U1" vnet create x3/v1 subnet 10.99.0.0/24 2>&1)
check "vnets are bounded across the uid's tenants (limits.vnets 5 here): $out" \
	grep -q "uid $UID1 has created 5 vnets.*limits.vnets" <<<"$out"
for i in $(seq 29); do ctl_as "$U1" endpoint create "x2/v1/e$i" >/dev/null || break; done
n=$(ctl a -j endpoint list x2 | grep -c '"name"')
req1() { as "$U1" "$HOSTILE" request "$SOCK" 0 "$@"; }
out=$(req1 '{"id":2,"op":"endpoint.open","args":{"vnet":"x2/v2"}}' '{"id":3,"op":"endpoint.open","args":{"vnet":"x2/v2"}}')
check "ephemeral endpoints count too: the 30th opens, the 31st is refused ($n made before): $out" \
	bash -c 'grep -q "\"id\":2,\"ok\":true" <<<"$1" && grep -q "\"id\":3,\"ok\":false.*EQUOTA.*limits.endpoints" <<<"$1"' sh "$out"
ctl a export | python3 -c 'import json,sys; f=json.load(sys.stdin); t=f["tenants"]["x2"]; f={"tenants":{"x2":t},"vnets":{k:v for k,v in f["vnets"].items() if k.startswith("x2/")}}; f["vnets"]["x2/v3"]["endpoints"]={"extra1":{},"extra2":{}}; print(json.dumps(f))' >"$TMP/x2.json"
out=$(ctl_as "$U1" apply -f "$TMP/x2.json" 2>&1)
check "apply is bounded the same way: $(tail -1 <<<"$out")" grep -q "and 2 more would pass.*limits.endpoints" <<<"$out"
check "an administrator is not bounded" ctl a endpoint create x2/v1/e30
ctl_as "$U1" endpoint delete x2/v1/e1 >/dev/null
check "a deleted endpoint gives its room back" ctl_as "$U1" endpoint create x2/v3/e1
for i in $(seq 2 11); do ctl a tenant delete "x$i" >/dev/null 2>&1; done
# subordinate uids (a user namespace the user made, mapped as newuidmap maps
# /etc/subuid) are charged to the user, not one bound each
cat >"$TMP/sub.sh" <<'SH'
while [ ! -e "$1" ]; do sleep 0.05; done
ctl=$2 sock=$3
for u in 1 2 3; do for i in 1 2 3 4; do
	setpriv --reuid $u --regid $u --keep-groups "$ctl" -S "$sock" tenant create "su$u$i" 2>&1 | tail -1
done; done
SH
chmod 755 "$TMP/sub.sh"
exec_as "$U1" unshare -U -- /bin/sh "$TMP/sub.sh" "$TMP/mapped" "$CTL" "$SOCK" >"$TMP/sub.out" 2>&1 &
SUBPID=$!; BG_PIDS+=($SUBPID)
sleep 0.3
# a map is one write(2), as newuidmap makes it
map_ids() { /usr/bin/python3 -c 'import os,sys; f=os.open(sys.argv[1], os.O_WRONLY); os.write(f, ("0 %s 1\n1 300000 10\n" % sys.argv[2]).encode())' "$@" 2>/dev/null; }
if map_ids "/proc/$SUBPID/uid_map" "$UID1" && echo deny >"/proc/$SUBPID/setgroups" &&
   map_ids "/proc/$SUBPID/gid_map" "$(id -g "$U1")"; then
	touch "$TMP/mapped"; wait "$SUBPID"
	made=$(grep -c '^tenant su\|created\|^name' "$TMP/sub.out")
	check "12 tenants asked by 3 subordinate uids of one user: its bound of 10 holds ($(grep -c 'limits.tenants' "$TMP/sub.out") refused; $(head -c 300 "$TMP/sub.out"))" \
		test "$(grep -c "uid $UID1 has created 10 tenants" "$TMP/sub.out")" -ge 2
	for u in 1 2 3; do for i in 1 2 3 4; do ctl a tenant delete "su$u$i" >/dev/null 2>&1; done; done
else
	kill "$SUBPID" 2>/dev/null
	echo "# user namespaces not available to users here: the subordinate-uid bound is not tested"
fi
# what one object may hold: rules in a vnet, bytes of a declaration
rules_file() { python3 -c 'import json,sys; n=int(sys.argv[1]); print(json.dumps({"tenants":{"rt":{}},"vnets":{"rt/v":{"subnet":"10.66.0.0/24","policy":{"default":"deny","rules":[{"from":"cidr:10.%d.%d.0/24" % (i // 250, i % 250),"to":"any","action":"allow"} for i in range(n)]}}}}))' "$1"; }
rules_file 1001 >"$TMP/r1001.json"; rules_file 50 >"$TMP/r50.json"
out=$(ctl_as "$U2" apply -f "$TMP/r1001.json" 2>&1)
check "a vnet of 1,001 rules from a non-administrator is refused: ${out:0:200}" grep -q "limits.rules" <<<"$out"
check "one of 50 is applied" ctl_as "$U2" apply -f "$TMP/r50.json"
check "and rule create adds to it" ctl_as "$U2" rule create rt/v from any to any action allow
ctl a tenant delete rt >/dev/null 2>&1

# ---- 6. exec keeps the caller's limits and cgroup
CG2=$(findmnt -n -o TARGET -t cgroup2 | head -1)
CG=
if [ -n "$CG2" ] && mkdir "$CG2/${PFX}cg" 2>/dev/null; then CG="$CG2/${PFX}cg"; fi
out=$(sh -c '[ -z "$1" ] || echo $$ >"$1/cgroup.procs"; shift; exec "$@"' sh "$CG" \
	prlimit --nofile=123:123 --cpu=77:77 setpriv --reuid "$U1" --regid "$(id -g "$U1")" \
	--clear-groups "$CTL" -S "$SOCK" exec shop/app/db -- \
	sh -c 'echo nofile $(ulimit -n) cpu $(ulimit -t); cat /proc/self/cgroup' 2>&1)
check "an exec'd program has the caller's rlimits, not csd's: $(head -1 <<<"$out")" \
	grep -qx "nofile 123 cpu 77" <<<"$out"
if [ -n "$CG" ]; then
	check "and runs in the caller's cgroup ($(grep '^0::' <<<"$out"))" grep -qx "0::/${PFX}cg" <<<"$out"
	for i in $(seq 50); do rmdir "$CG" 2>/dev/null && break; sleep 0.1; done
	# a cgroup path long enough to be read as two lines, the second forged
	long="$CG2/${PFX}cl/$(printf 'a%.0s' $(seq 250))/$(printf 'b%.0s' $(seq 250))/0::"
	if mkdir -p "$long" 2>/dev/null; then
		out=$(sh -c 'echo $$ >"$1/cgroup.procs"; shift; exec "$@"' sh "$long" \
			setpriv --reuid "$U1" --regid "$(id -g "$U1")" --clear-groups "$CTL" -S "$SOCK" \
			exec shop/app/db -- cat /proc/self/cgroup 2>&1)
		check "a cgroup line too long to read whole refuses the exec, not a forged cgroup: $out" \
			bash -c 'grep -q "caller" <<<"$1" && ! grep -qx "0::/" <<<"$1"' sh "$out"
		for i in $(seq 50); do rmdir "$long" "${long%/*}" "${long%/*/*}" "$CG2/${PFX}cl" 2>/dev/null && break; sleep 0.1; done
	fi
else
	echo "# no cgroup2 hierarchy to make a cgroup in: the cgroup is not tested"
fi
# a caller that freezes its own (delegated) cgroup while csd starts its
# program must not hold csd up
if [ -n "$CG2" ] && mkdir -p "$CG2/${PFX}dg/a" "$CG2/${PFX}dg/b" 2>/dev/null; then
	chown -R "$U1" "$CG2/${PFX}dg"
	out=$(sh -c 'echo $$ >"$1/cgroup.procs"; shift; exec "$@"' sh "$CG2/${PFX}dg" \
		setpriv --reuid "$U1" --regid "$(id -g "$U1")" --clear-groups \
		/usr/bin/python3 "$(dirname "$0")/execstall.py" "$SOCK" "$CG2/${PFX}dg" shop/app/db 2>&1)
	ms_=$(sed -n 's/^answered in \([0-9]*\) ms.*/\1/p' <<<"$out")
	check "exec for a caller whose cgroup is frozen answers at once ($out)" test -n "$ms_" -a "${ms_:-9999}" -lt 1000
	for i in $(seq 50); do rmdir "$CG2/${PFX}dg/a" "$CG2/${PFX}dg/b" "$CG2/${PFX}dg" 2>/dev/null && break; sleep 0.1; done
fi
out=$(in_ep a shop/app/db sh -c 'ulimit -n')
check "root's exec keeps root's own limits ($out)" test -n "$out"

# ---- clients talk only to a csd of root's or their own
mkdir "$TMP/u1dir"; chown "$U1" "$TMP/u1dir"
exec_as "$U1" /usr/bin/python3 -c 'import socket,sys,time; s=socket.socket(socket.AF_UNIX,socket.SOCK_SEQPACKET); s.bind(sys.argv[1]); s.listen(8); time.sleep(20)' "$TMP/u1dir/fake.sock" &
BG_PIDS+=($!)
for i in $(seq 50); do [ -S "$TMP/u1dir/fake.sock" ] && break; sleep 0.1; done
out=$("$CTL" -S "$TMP/u1dir/fake.sock" status 2>&1)
check "root's cs-ctl refuses a socket another user serves: $out" grep -q "served by uid $UID1, neither root nor you" <<<"$out"
out=$("$CTL" -S "$TMP/u1dir/fake.sock" exec shop/app/db -- true 2>&1)
check "and so does its exec: $out" grep -q "served by uid $UID1" <<<"$out"
check "the same user's own may be used (its csd): a user reaches root's" ctl_as "$U1" status

# ---- 7. nothing csd writes follows a link; directories others can write are refused
echo precious >"$TMP/victim"
mkdir -m 1777 "$TMP/rw"
as "$U1" ln -s "$TMP/victim" "$TMP/rw/${PFX}x.lock"
as "$U1" ln -s "$TMP/victim" "$TMP/rw/${PFX}x.claim.tmp"
echo "{ \"run_dir\": \"$TMP/rw\" }" >"$TMP/rw.json"
host_add x
out=$(nsenter --net="/run/netns/${PFX}hx" timeout 10 "$CSD" -S "$TMP/x.sock" -D "$TMP/xstate" \
	-p "${PFX}x" -n x -c "$TMP/rw.json" 2>&1); r=$?
check "a run_dir other users can write is refused, naming it and the fix: $out" \
	test $r != 0 -a -n "$(grep "run_dir $TMP/rw: .*can be written by other users.*chmod" <<<"$out")"
check "the planted links' target is untouched" grep -qx precious "$TMP/victim"
mkdir -m 0755 "$TMP/rootrun"
as "$U1" ln -s "$TMP/rootrun" "$TMP/rw/link"
echo "{ \"run_dir\": \"$TMP/rw/link\" }" >"$TMP/link.json"
out=$(nsenter --net="/run/netns/${PFX}hx" timeout 10 "$CSD" -S "$TMP/x.sock" -D "$TMP/xstate" \
	-p "${PFX}x" -n x -c "$TMP/link.json" 2>&1); r=$?
check "a run_dir reached through another user's link is refused: $out" \
	test $r != 0 -a -n "$(grep "is a symbolic link of uid $UID1" <<<"$out")"
check "and nothing was written where it points" test -z "$(ls "$TMP/rootrun")"
mkdir -m 0777 "$TMP/xstate2"
out=$(nsenter --net="/run/netns/${PFX}hx" timeout 10 "$CSD" -S "$TMP/x.sock" -D "$TMP/xstate2" \
	-p "${PFX}x" -n x 2>&1); r=$?
check "a state directory other users can write is refused: $out" \
	test $r != 0 -a -n "$(grep "state directory $TMP/xstate2: .*can be written by other users" <<<"$out")"
# root's own run_dir with a leftover link where the claim's new file goes
mkdir -m 0755 "$TMP/run"
ln -s "$TMP/victim" "$TMP/run/${PFX}.claim.tmp"
echo "{ \"run_dir\": \"$TMP/run\" }" >"$TMP/run.json"
csd_start x -c "$TMP/run.json" >/dev/null
check "csd starts in its own run_dir" ctl x status
check "its claim was written as a new file, not through the link" \
	bash -c "grep -qx precious '$TMP/victim' && test ! -L '$TMP/run/${PFX}.claim' && grep -q '\"node\"' '$TMP/run/${PFX}.claim'"
db_mode=$(stat -c %a "$TMP/x/state/cs.db")
check "the store's file is csd's alone ($db_mode)" test "$db_mode" = 600
sock_mode=$(stat -c %a "$TMP/x/csd.sock")
check "the control socket is 0666 from bind itself ($sock_mode)" test "$sock_mode" = 666

finish
