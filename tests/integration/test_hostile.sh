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
# as USER CMD...: CMD as that user (exec'd, so a background one is killed by its pid)
exec_as() { local u=$1; shift; exec setpriv --reuid "$u" --regid "$(id -g "$u")" --clear-groups "$@"; }
as() { (exec_as "$@"); }
SOCK=$TMP/a/csd.sock
ms() { date +%s%3N; }
# timed CMD...: runs CMD, prints how long it took in ms; fails with it
timed() { local t0 r; t0=$(ms); "$@" >/dev/null 2>&1; r=$?; echo $(( $(ms) - t0 )); return $r; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

host_add a
cat >"$TMP/a.json" <<JSON
{ "limits": { "partial_timeout": 3 } }
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
check "40 x 16 MiB announced: csd grows by less than 128 MB (${rss0} kB -> ${rss1} kB)" \
	test $(( rss1 - rss0 )) -lt 131072
t=$(timed as "$U2" "$CTL" -S "$SOCK" tenant list); r=$?
check "another user is answered meanwhile (${t} ms)" test $r = 0 -a "$t" -lt 1000
# partial_timeout is 3 s here: the messages are dropped, the memory goes back
for i in $(seq 80); do [ "$(rss_kb "$PID")" -lt $(( rss0 + 16384 )) ] && break; sleep 0.1; done
rss2=$(rss_kb "$PID")
check "partial messages time out and memory returns while they stay connected (${rss2} kB)" \
	test "$rss2" -lt $(( rss0 + 16384 ))
grep -q "waited more than 3 s" "$TMP/a/csd.log" 2>/dev/null || true
kill "$H2"; wait "$H2" 2>/dev/null
check "csd is alive and answers after the attacks" ctl a status

finish
