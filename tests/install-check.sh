#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The ways libcs(3) and the README give to build a program against libcs,
# each building one and running it (it must load libcs.so.0 and call it):
#   install-check.sh install     meson install --destdir: everything is in
#                                place, and a program builds against the
#                                installed cs.h and libcs.pc alone
#                                (PKG_CONFIG_SYSROOT_DIR) and runs
#   install-check.sh build-tree  no install: libcs-uninstalled.pc from the
#                                build tree, run inside meson devenv, and
#                                outside it with an rpath
set -eu
: "${CS_BUILD:?}" "${CS_SRC:?}"
mode=${1:-install}
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
fail=0; passes=0
ok() { passes=$((passes + 1)); echo "ok - $*"; }
bad() { fail=$((fail + 1)); echo "FAIL - $*"; }

# The program: cs_open on a socket nobody serves must say it cannot reach
# csd, through the real libcs.
cat >"$d/prog.c" <<'EOF'
#include <stdio.h>
#include <cs/cs.h>

int main(int argc, char **argv)
{
	cs_t *cs;
	int r = cs_open(argc > 1 ? argv[1] : "/nonexistent/csd.sock", &cs);

	if (r == 0)
		cs_close(cs);
	printf("cs_open: %s\n", cs_strerror(r));
	return r == CS_ECONN ? 0 : 1;
}
EOF

# a sanitizer build's libcs needs its runtime loaded first: build alike
san=()
ldd "$CS_BUILD/libcs/libcs.so.0" 2>/dev/null | grep -q libasan && san=(-fsanitize=address,undefined)

# runs: WHAT PROG [ENV...]: the program loads libcs and gets CS_ECONN
runs() {
	local what=$1 prog=$2 out rc=0; shift 2
	out=$(env "$@" "$prog" "$d/none.sock" 2>&1) || rc=$?
	if [ $rc = 0 ]; then ok "$what: the program ran ($out)"
	else bad "$what: the program did not run (exit $rc): $out"; fi
}

install_way() {
	DESTDIR=$d/root meson install -C "$CS_BUILD" --no-rebuild >/dev/null
	local f pc lib missing=
	for f in sbin/csd bin/cs-ctl include/cs/cs.h share/man/man8/csd.8 share/man/man8/cs-ctl.8 \
		share/man/man3/libcs.3 share/man/man5/cs-overlay.json.5 share/man/man8/cs-cni.8 \
		share/bash-completion/completions/cs-ctl; do
		[ -e "$d/root/usr/local/$f" ] || missing="$missing $f"
	done
	find "$d/root" -name csd.service | grep -q . || missing="$missing csd.service"
	# the CNI plugin where Debian's plugins are (option cni_dir), or where
	# a -Dcni_dir=... build puts it
	find "$d/root" -path '*/cni/cs-cni' | grep -q . || missing="$missing lib/cni/cs-cni"
	if [ -z "$missing" ]; then ok "meson install put everything in place"
	else bad "missing after install:$missing"; fi
	pc=$(dirname "$(find "$d/root" -name libcs.pc)")
	lib=$(dirname "$(find "$d/root" -name 'libcs.so*' | head -1)")
	# pkg-config prefixes -I and -L with the sysroot: the paths inside
	# libcs.pc are where the files will be, not where DESTDIR put them
	if cc "${san[@]}" -o "$d/prog" "$d/prog.c" \
		$(PKG_CONFIG_PATH=$pc PKG_CONFIG_SYSROOT_DIR=$d/root pkg-config --cflags --libs libcs)
	then ok "a program builds against the DESTDIR tree (PKG_CONFIG_SYSROOT_DIR)"
	else bad "a program does not build against the DESTDIR tree"; fi
	runs "DESTDIR tree, LD_LIBRARY_PATH" "$d/prog" LD_LIBRARY_PATH="$lib"
	# only cs_* symbols are exported
	local extra
	extra=$(nm -D --defined-only "$lib"/libcs.so.0 | awk '{print $3}' | grep -v '^cs_' |
		grep -v '^LIBCS' || true)
	if [ -z "$extra" ]; then ok "libcs exports only cs_*"
	else bad "libcs exports more than cs_*: $extra"; fi
}

build_tree_way() {
	local s
	s="${san[*]}"
	# as libcs(3) says: in meson devenv, pkg-config finds
	# libcs-uninstalled.pc and the loader finds build/libcs/libcs.so.0 (the
	# variables meson test sets are cleared: devenv must set them itself)
	if (env -u LD_LIBRARY_PATH -u PKG_CONFIG_PATH meson devenv -C "$CS_BUILD" -w "$d" \
		bash -c "cc $s -o prog-devenv prog.c \$(pkg-config --cflags --libs libcs)")
	then ok "a program builds in meson devenv (libcs-uninstalled.pc)"
	else bad "a program does not build in meson devenv"; fi
	local out rc=0
	out=$(env -u LD_LIBRARY_PATH meson devenv -C "$CS_BUILD" -w "$d" ./prog-devenv "$d/none.sock" 2>&1) || rc=$?
	if [ $rc = 0 ]; then ok "it runs in meson devenv ($out)"
	else bad "it does not run in meson devenv (exit $rc): $out"; fi
	# the same without it: the loader is told where libcs is by an rpath
	# (and a program built without one cannot find it: the rpath is what
	# makes it run, not some library installed on this machine)
	local pcd=$CS_BUILD/meson-uninstalled
	cc "${san[@]}" -o "$d/prog-rpath" "$d/prog.c" \
		$(PKG_CONFIG_PATH=$pcd pkg-config --cflags --libs libcs) \
		-Wl,-rpath,"$(cd "$CS_BUILD/libcs" && pwd)" &&
	cc "${san[@]}" -o "$d/prog-norpath" "$d/prog.c" \
		$(PKG_CONFIG_PATH=$pcd pkg-config --cflags --libs libcs) ||
		bad "a program does not build with PKG_CONFIG_PATH=build/meson-uninstalled"
	runs "build tree, rpath" "$d/prog-rpath" LD_LIBRARY_PATH=
	if ! ldconfig -p | grep -q 'libcs\.so\.0 '; then
		if env LD_LIBRARY_PATH= "$d/prog-norpath" "$d/none.sock" >/dev/null 2>&1; then
			bad "without an rpath the program ran: the rpath probe proves nothing"
		else ok "without an rpath (and outside meson devenv) it cannot find libcs.so.0"; fi
	fi
}

case $mode in
install) install_way ;;
build-tree) build_tree_way ;;
*) echo "usage: install-check.sh install|build-tree"; exit 2 ;;
esac
echo "$passes passed, $fail failed"
[ $fail = 0 ]
