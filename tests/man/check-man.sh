#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The man pages are part of every feature (STYLE.md 12). This checks that
#  (a) each page is clean under `mandoc -T lint -W warning`;
#  (b) cs-ctl(8) names every object, verb and command word of the grammar;
#  (c) cs-overlay.json(5) names every registered overlay key;
#  (d) libcs(3) documents every function libcs.so exports;
#  (e) csd(8) names every operation csd registers (CSD_OP in csd/*.c).
# Exit 0 when all hold, 1 (printing what is missing) when one does not,
# 77 (skip) without mandoc.
#
# CS_SRC is the source tree (default: two levels above this script), CS_BUILD
# the build tree; the keys come from $CS_BUILD/tests/man/schema-keys, which
# reads the schema registry itself, or, when it is not built, from the key
# tables of the files that register keys (SCHEMA_REGISTER).

set -u

here=$(cd "$(dirname "$0")" && pwd)
src=${CS_SRC:-$(cd "$here/../.." && pwd)}
build=${CS_BUILD:-}
man=$src/man
fail=0

missing() {
	printf 'check-man: %s\n' "$*" >&2
	fail=1
}

if ! command -v mandoc >/dev/null 2>&1; then
	echo "check-man: mandoc is not installed; skipping" >&2
	exit 77
fi

pages="csd.8 cs-ctl.8 cs-cni.8 libcs.3 cs-overlay.json.5 cs-socks.1"

# (a) lint: any message at all is a failure
for p in $pages; do
	if [ ! -f "$man/$p" ]; then
		missing "man/$p: missing"
		continue
	fi
	out=$(mandoc -T lint -W warning "$man/$p" 2>&1)
	rc=$?
	if [ -n "$out" ] || [ "$rc" -ne 0 ]; then
		missing "man/$p: mandoc -T lint -W warning reports (exit $rc):"
		printf '%s\n' "$out" | sed 's/^/    /' >&2
	fi
done

# Does page $1 contain the fixed string $2?
has() {
	[ -f "$man/$1" ] && grep -qF -- "$2" "$man/$1"
}

# (b) every word of the cs-ctl grammar, as a command word (.Cm WORD)
if [ -f "$man/cs-ctl.8" ]; then
	for w in tenant vnet endpoint reservation rule node \
		 create delete list show apply export status exec top monitor; do
		grep -Eq "(^\.|[[:space:]])Cm $w([[:space:]]|\$)" "$man/cs-ctl.8" ||
			missing "man/cs-ctl.8: the word \"$w\" is not documented (no .Cm $w)"
	done
	for o in -S -j --dry-run --prune -f CS_SOCKET; do
		case $o in
		--*) pat="Fl Fl ${o#--}" ;;
		-*) pat="Fl ${o#-}" ;;
		*) pat="Ev $o" ;;
		esac
		has cs-ctl.8 "$pat" || missing "man/cs-ctl.8: $o is not documented ($pat)"
	done
fi

# (e) every operation of the control protocol, as a command word in csd(8)
# (.Cm NAME, or one of a comma-separated .Cm list)
for op in $(sed -n 's/^CSD_OP([a-z_0-9]*, *"\([a-z.]*\)".*/\1/p' "$src"/csd/*.c "$src"/policy/*.c 2>/dev/null); do
	grep -Eq "^\.It Cm (.*[ ,])?$op( |,|\$)" "$man/csd.8" ||
		missing "man/csd.8: the operation \"$op\" is not documented (no .It Cm $op)"
done

# (c) every overlay key: "OBJECT PATH" lines
keys=
if [ -n "$build" ] && [ -x "$build/tests/man/schema-keys" ]; then
	keys=$("$build/tests/man/schema-keys") ||
		missing "$build/tests/man/schema-keys failed"
	how="schema-keys"
else
	# { SCHEMA_VNET, "subnet", ST_CIDRS, ... } in every file that registers keys
	files=$(grep -rlF --include='*.c' 'SCHEMA_REGISTER(' "$src/api" "$src/resources" \
		"$src/policy" "$src/vnet" "$src/csd" 2>/dev/null)
	[ -n "$files" ] || files=$(ls "$src"/api/schema*.c)
	# shellcheck disable=SC2086 # a list of paths without spaces
	keys=$(cat $files | tr '\n' ' ' |
	       grep -oE '\{[[:space:]]*SCHEMA_[A-Z]+[[:space:]]*,[[:space:]]*"[^"]+"' |
	       sed -E 's/^\{[[:space:]]*SCHEMA_([A-Z]+)[[:space:]]*,[[:space:]]*"([^"]+)"/\1 \2/' |
	       tr '[:upper:]' '[:lower:]')
	how="the key tables in $(echo "$files" | tr '\n' ' ' | sed -e "s|$src/||g" -e 's/ $//')"
fi
if [ -z "$keys" ]; then
	missing "no overlay keys found (from $how)"
fi
nkeys=0
if [ -f "$man/cs-overlay.json.5" ]; then
	# the loop reads from a here-document so that `missing` sets fail here
	while read -r obj path; do
		[ -n "$path" ] || continue
		nkeys=$((nkeys + 1))
		flat=$(printf '%s' "$path" | sed 's/\[\]//g')
		leaf=${flat##*.}
		if has cs-overlay.json.5 "Ic $flat"; then
			continue
		fi
		# an element key ("policy.rules[].from"): its array and its name
		case $path in
		*'[]'*)
			arr=$(printf '%s' "$path" | sed 's/\[\].*//')
			if has cs-overlay.json.5 "Ic $arr" && has cs-overlay.json.5 "Ic $leaf"; then
				continue
			fi
			;;
		esac
		missing "man/cs-overlay.json.5: $obj key \"$path\" is not documented (no .Ic $flat)"
	done <<EOF
$keys
EOF
fi

# (d) every function in libcs.sym's global section
sym=$src/libcs/libcs.sym
if [ ! -f "$sym" ]; then
	missing "$sym: missing"
elif [ -f "$man/libcs.3" ]; then
	funcs=$(sed -n '/global:/,/local:/p' "$sym" | grep -oE '^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*;' |
		tr -d ' \t;')
	[ -n "$funcs" ] || missing "$sym: no exported functions found"
	for f in $funcs; do
		grep -Eq "^\.Fo $f([[:space:]]|\$)" "$man/libcs.3" ||
			missing "man/libcs.3: $f is exported but has no prototype (.Fo $f)"
		grep -Eq "^\.Nm $f([[:space:],]|\$)" "$man/libcs.3" ||
			missing "man/libcs.3: $f is not in NAME (.Nm $f)"
	done
fi

if [ "$fail" -ne 0 ]; then
	echo "check-man: FAIL" >&2
	exit 1
fi
echo "check-man: ok ($nkeys overlay keys from $how)"
exit 0
