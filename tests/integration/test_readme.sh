#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The README's tour, run from README.md itself so that the two cannot drift.
# Every fenced code block in README.md carries a marker in the line before it
# (an HTML comment, invisible when rendered):
#   <!-- tour -->                 run each command of the block, in order; each
#                                 must exit 0, or 1 when its comment says
#                                 "refused"
#   <!-- tour: file NAME -->      the block is the file NAME (prog.c)
#   <!-- tour: serve T/V/E PORT -->  run the block as above while a server
#                                 in that endpoint records what it receives;
#                                 something must arrive
#   <!-- tour: skip: REASON -->   not run here, on purpose: REASON says what
#                                 runs it instead (a marker before prose
#                                 marks a section skipped the same way)
# A block without a marker fails the test. The commands run as a reader runs
# them: inside `meson devenv -C build -w DIR`, in a host namespace of the
# test's own, where `csd` is the built csd given the test's socket, state,
# run directory (-R) and prefix after the README's own flags.
set -u

if [ "${1:-}" = --inside ]; then
	# the reader's shell: meson devenv, in the tour directory
	M=$2 TOUR=$3 RUNDIR=$4 PFX=$5
	fails=0
	export CS_SOCKET=$TOUR/csd.sock
	csd() { # the README's csd, with the test's places last (the last flag wins)
		echo "$BASHPID" >"$TOUR/csd.pid"
		exec csd "$@" -S "$CS_SOCKET" -D "$TOUR/state" -R "$RUNDIR" -p "$PFX" -n tour \
			</dev/null >>"$TOUR/csd.log" 2>&1
	}
	cs-ctl() { # a reader types the next command after csd is up
		local i
		for i in $(seq 100); do command cs-ctl status >/dev/null 2>&1 && break; sleep 0.05; done
		command cs-ctl "$@"
	}
	# a sanitizer build's libcs needs its runtime first: build alike
	if ldd "$CS_BUILD/libcs/libcs.so.0" 2>/dev/null | grep -q libasan; then
		cc() { command cc -fsanitize=address,undefined "$@"; }
	fi
	serve() { # serve T/V/E PORT: record one connection's bytes in $TOUR/served
		rm -f "$TOUR/served" "$TOUR/ready"
		command cs-ctl exec "$1" -- python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", int(sys.argv[1]))); s.listen(1)
open(sys.argv[3], "w").close()
s.settimeout(30); c, _ = s.accept(); c.settimeout(10)
data = b""
while True:
    b = c.recv(4096)
    if not b: break
    data += b
open(sys.argv[2], "wb").write(data)' "$2" "$TOUR/served" "$TOUR/ready" &
		serve_pid=$!
		local i
		for i in $(seq 100); do [ -e "$TOUR/ready" ] && return 0; sleep 0.05; done
		echo "FAIL - the server in $1 did not start"; fails=$((fails + 1))
	}
	while read -r kind line arg1 arg2; do
		case $kind in
		skip) echo "skip - README.md:$line: $arg1 $arg2"; continue ;;
		file) cp "$M.$line" "$arg1"; echo "ok - README.md:$line: the block is $arg1"; continue ;;
		serve) serve "$arg1" "$arg2" ;;
		esac
		# the commands, a backslash joining lines; comments alone are skipped
		n=$line cmd= start=
		while IFS= read -r l || [ -n "$l" ]; do
			n=$((n + 1))
			[ -z "$cmd" ] && start=$n
			case $l in *\\) cmd+="${l%\\} "; continue ;; esac
			cmd+=$l
			case $cmd in ''|'#'*) cmd=; continue ;; esac
			want=0; case $cmd in *'#'*refused*) want=1 ;; esac
			eval "$cmd" >"$TOUR/out" 2>&1 </dev/null; rc=$?
			if [ $rc = $want ]; then echo "ok - README.md:$start: $cmd"
			else
				echo "FAIL - README.md:$start: $cmd (exit $rc, the README implies $want):"
				sed 's/^/    /' "$TOUR/out"
				fails=$((fails + 1))
			fi
			cmd=
		done <"$M.$line"
		if [ "$kind" = serve ]; then
			wait "$serve_pid" 2>/dev/null
			if [ -s "$TOUR/served" ]; then
				echo "ok - README.md:$line: $arg1 received \"$(tr -d '\n' <"$TOUR/served")\""
			else echo "FAIL - README.md:$line: nothing arrived at $arg1 port $arg2"
				fails=$((fails + 1)); fi
		fi
	done <"$M"
	exit $((fails > 100 ? 100 : fails))
fi

SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")   # devenv changes directory
. "$(dirname "$0")/lib.sh"
README=$CS_SRC/README.md

# Each block to $M.LINE (LINE: the README line of its opening fence), and
# one manifest line per block: KIND LINE [ARGS]; unmarked blocks to stderr.
M=$TMP/blocks
awk -v M="$M" '
	function marker(s) { sub(/^<!-- tour:? */, "", s); sub(/ *-->$/, "", s); return s }
	/^<!-- tour(:.*)? -->$/ { pending = marker($0); has = 1; mline = NR; next }
	/^```/ && !inblock {
		inblock = 1; file = M "." NR
		printf "" > file
		if (!has) { printf "README.md:%d: a code block without a tour marker\n", NR > "/dev/stderr"; bad = 1 }
		else if (pending == "") print "run", NR > M
		else if (pending ~ /^skip: ./) { r = pending; sub(/^skip: /, "", r); print "skip", NR, r > M }
		else if (pending ~ /^file [^ ]+$/) print "file", NR, substr(pending, 6) > M
		else if (pending ~ /^serve [a-z0-9_-]+\/[a-z0-9_-]+\/[a-z0-9_-]+ [0-9]+$/)
			print "serve", NR, substr(pending, 7) > M
		else { printf "README.md:%d: unknown tour marker \"%s\"\n", mline, pending > "/dev/stderr"; bad = 1 }
		has = 0; next
	}
	/^```/ && inblock { inblock = 0; close(file); next }
	inblock { print > file; next }
	has && NF {
		if (pending ~ /^skip: ./) { r = pending; sub(/^skip: /, "", r); print "skip", mline, r > M }
		else { printf "README.md:%d: a tour marker before prose must be a skip\n", mline > "/dev/stderr"; bad = 1 }
		has = 0
	}
	END { exit bad }' "$README" 2>"$TMP/parse.err"
parse_rc=$?
cat "$TMP/parse.err"
check "every code block in README.md is marked as tour, file, serve or skip" \
	test $parse_rc = 0 -a -s "$M"
check "the tour has commands to run (blocks marked tour)" grep -q '^run ' "$M"

host_add a
TOUR=$TMP/tour RUNDIR=$TMP/run
mkdir -p "$TOUR/examples" && cp "$CS_SRC"/examples/*.json "$TOUR/examples/"
out=$(nsenter --net="/run/netns/${PFX}ha" env -u LD_LIBRARY_PATH \
	meson devenv -C "$CS_BUILD" -w "$TOUR" bash "$SELF" --inside "$M" "$TOUR" "$RUNDIR" "$PFX" 2>&1)
rc=$?
echo "$out"
[ -s "$TOUR/csd.pid" ] && BG_PIDS+=("$(cat "$TOUR/csd.pid")")
check "every command of the README's tour did what the README says ($(grep -c '^ok' <<<"$out") ok)" \
	bash -c '[ $0 = 0 ] && ! grep -q "^FAIL" <<<"$1"' $rc "$out"
check "the README's C program was built and reached db by name" \
	grep -q "acme/blue/db received \"hello\"" <<<"$out"

# csd -R: the tour's csd kept its lock and claim in the run directory given,
# and nothing of its prefix in /run/cs
check "csd -R RUNDIR holds the prefix's lock and claim there, none in /run/cs" \
	bash -c '[ -s "$1/$2.lock" ] && [ -s "$1/$2.claim" ] && ! ls /run/cs/"$2".* 2>/dev/null' \
	_ "$RUNDIR" "$PFX"
# and refuses one that others may write (where they could plant a symlink)
mkdir -p "$TMP/open" && chmod 1777 "$TMP/open"
out=$(timeout 10 nsenter --net="/run/netns/${PFX}ha" "$CSD" -S "$TMP/b.sock" -D "$TMP/b" \
	-R "$TMP/open" -p "${PFX}b" -l warning 2>&1); rc=$?
check "csd refuses a run directory writable by others, saying so (exit 1)" \
	bash -c '[ $0 = 1 ] && grep -q "run_dir $2.*can be written by other users" <<<"$1" &&
		[ -z "$(ls -A "$2")" ]' $rc "$out" "$TMP/open"
finish
