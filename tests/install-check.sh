#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# meson install puts everything in place, and a program builds against the
# installed header and libcs.pc alone (no source tree) and runs.
set -eu
: "${CS_BUILD:?}" "${CS_SRC:?}"
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
DESTDIR=$d/root meson install -C "$CS_BUILD" --no-rebuild >/dev/null
fail=0
for f in sbin/csd bin/cs-ctl include/cs/cs.h share/man/man8/csd.8 share/man/man8/cs-ctl.8 \
	share/man/man3/libcs.3 share/man/man5/cs-overlay.json.5 \
	share/bash-completion/completions/cs-ctl; do
	[ -e "$d/root/usr/local/$f" ] || { echo "missing after install: $f"; fail=1; }
done
find "$d/root" -name csd.service | grep -q . || { echo "missing after install: csd.service"; fail=1; }
pc=$(dirname "$(find "$d/root" -name libcs.pc)")
export PKG_CONFIG_PATH=$pc PKG_CONFIG_SYSROOT_DIR=$d/root
lib=$(dirname "$(find "$d/root" -name 'libcs.so*' | head -1)")
# a sanitizer build's libcs needs its runtime loaded first: build alike
san=()
ldd "$lib/libcs.so.0" 2>/dev/null | grep -q libasan && san=(-fsanitize=address,undefined)
cc "${san[@]}" -o "$d/greet" "$CS_SRC/examples/greet.c" $(pkg-config --cflags --libs libcs)
rc=0; LD_LIBRARY_PATH=$lib "$d/greet" >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || { echo "installed greet did not run (exit $rc, expected its usage exit 2)"; fail=1; }
# only cs_* symbols are exported
bad=$(nm -D --defined-only "$lib"/libcs.so.0 | awk '{print $3}' | grep -v '^cs_' | grep -v '^LIBCS' || true)
[ -z "$bad" ] || { echo "libcs exports more than cs_*: $bad"; fail=1; }
[ $fail = 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
