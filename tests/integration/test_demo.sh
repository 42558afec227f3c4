#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The README's first command, as a newcomer runs it (with this build and a
# state directory and prefix of the test's own).
. "$(dirname "$0")/lib.sh"
host_add a
out=$(cd "$CS_SRC" && nsenter --net="/run/netns/${PFX}ha" env CS_BUILD="$CS_BUILD" \
	CS_DEMO_STATE="$TMP/demo" CS_DEMO_PREFIX="$PFX" examples/demo 2>&1); rc=$?
echo "$out" | tail -25
check "the demo exits 0" test $rc = 0
check "programs of each tenant greeted each other by name" \
	bash -c 'grep -q "acme/blue/db says hello back to acme/blue/web" <<<"$1" &&
		grep -q "umbrella/blue/db says hello back to umbrella/blue/web" <<<"$1"' _ "$out"
check "greet's answer came back through relay (across two vnets)" \
	grep -q "acme/red/db says hello back to acme/blue/web" <<<"$out"
check "acme could not reach umbrella" grep -q "unreachable, as it should be" <<<"$out"
check "umbrella reached its own files" grep -q "1 received" <<<"$out"
check "the demo cleaned up after itself" test -z "$(leaked)"
finish
