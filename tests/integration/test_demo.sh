#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The README's first command, as a newcomer runs it (with this build and a
# state directory and prefix of the test's own): it works, --help says what
# it uses, and it leaves nothing behind, neither by itself nor after --keep
# and --clean.
. "$(dirname "$0")/lib.sh"
host_add a
ST=$TMP/demo
demo() { # demo [OPTION]: run it in host a; prints its output, returns its status
	(cd "$CS_SRC" && nsenter --net="/run/netns/${PFX}ha" env CS_BUILD="$CS_BUILD" \
		CS_DEMO_STATE="$ST" CS_DEMO_PREFIX="$PFX" examples/demo "$@" 2>&1)
}
# what the demo may leave: namespaces, run files, state, its csd
left() {
	leaked
	ls -d /run/cs/"$PFX".* 2>/dev/null
	[ -e "$ST" ] && echo "$ST"
	pgrep -f -- "-S $ST/csd.sock" || true
}

help=$(cd "$CS_SRC" && examples/demo --help); rc=$?
check "demo --help exits 0 and names CS_DEMO_PREFIX, CS_DEMO_STATE, CS_BUILD, --keep, --clean" \
	bash -c '[ $0 = 0 ] && for w in CS_DEMO_PREFIX CS_DEMO_STATE CS_BUILD --keep --clean \
		/run/cs/PREFIX.lock; do grep -qF -- "$w" <<<"$1" || exit 1; done' $rc "$help"
out=$(cd "$CS_SRC" && examples/demo --bogus 2>&1); rc=$?
check "an unknown option is a usage error (exit 2)" test $rc = 2

out=$(demo); rc=$?
echo "$out" | tail -25
check "the demo exits 0" test $rc = 0
check "programs of each tenant greeted each other by name" \
	bash -c 'grep -q "acme/blue/db says hello back to acme/blue/web" <<<"$1" &&
		grep -q "umbrella/blue/db says hello back to umbrella/blue/web" <<<"$1"' _ "$out"
check "greet's answer came back through relay (across two vnets)" \
	grep -q "acme/red/db says hello back to acme/blue/web" <<<"$out"
check "acme could not reach umbrella" grep -q "unreachable, as it should be" <<<"$out"
check "umbrella reached its own files" grep -q "1 received" <<<"$out"
check "the demo left nothing: no namespace, lock, claim, state or csd ($(left | xargs))" \
	test -z "$(left)"

out=$(demo --keep); rc=$?
check "demo --keep exits 0" test $rc = 0
check "--keep leaves csd and the endpoints running" \
	bash -c '[ -n "$(ls /run/netns | grep "^$1\.acme\.blue\.web$")" ] &&
		"$2" -S "$3/csd.sock" endpoint show acme/blue/web >/dev/null' _ "$PFX" "$CTL" "$ST"
check "--keep prints how to look around (CS_SOCKET, meson devenv) and how to clean up" \
	bash -c 'grep -q "export CS_SOCKET=$2/csd.sock" <<<"$1" && grep -q "meson devenv -C" <<<"$1" &&
		grep -q "examples/demo --clean" <<<"$1"' _ "$out" "$ST"
out=$(demo); rc=$?
check "a second run reuses the kept csd and works" \
	bash -c '[ $1 = 0 ] && grep -q "reusing the csd" <<<"$2" &&
		grep -q "acme/red/db says hello back" <<<"$2"' _ $rc "$out"
check "and leaves nothing either ($(left | xargs))" test -z "$(left)"
demo --keep >/dev/null
out=$(demo --clean); rc=$?
check "demo --clean exits 0" test $rc = 0
check "after --keep, --clean leaves nothing ($(left | xargs))" test -z "$(left)"

# the state directory is root's: a link to elsewhere is refused, and cleaning
# up never reaches through one
mkdir -p "$TMP/elsewhere"; touch "$TMP/elsewhere/cs.db"; ln -s "$TMP/elsewhere" "$ST"
out=$(demo --clean); rc=$?
check "a state directory that is a symbolic link is refused (exit 1)" \
	bash -c '[ $1 = 1 ] && grep -q "not a directory of root" <<<"$2"' _ $rc "$out"
check "and what it points to is untouched" test -e "$TMP/elsewhere/cs.db"
finish
