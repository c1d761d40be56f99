#!/bin/bash
# An install writes nothing outside its prefix: `cmake --install BUILD --prefix P` into a
# DESTDIR, then every installed file must be under DESTDIR/P, except in the folders the
# configuration put outside the prefix on purpose (given as arguments: systemd's own unit
# folder and /etc for prefix /usr). DESTDIR catches a stray absolute path without touching /.
# Also checks that the files a user needs were installed, and prints the list.
# Usage: test-install.sh BUILD [ABSOLUTE-FOLDER-ALLOWED-OUTSIDE-THE-PREFIX...]
set -euo pipefail

build=${1:?usage: test-install.sh BUILD [FOLDER...]}
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
prefix=$tmp/prefix

DESTDIR=$root cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; echo "FAIL: cmake --install"; exit 1; }

failed=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

( cd "$root" && find . -type f -o -type l | sed 's|^\.||' | sort ) >"$tmp/files"
echo "installed under DESTDIR:"
sed 's/^/  /' "$tmp/files"
[ -s "$tmp/files" ] || fail "nothing installed"

while read -r f; do
    case $f in "$prefix"/*) continue ;; esac
    ok=0
    for dir in "$@"; do
        case $f in "$dir"/*) ok=1 ;; esac
    done
    [ $ok = 1 ] || fail "$f is outside the prefix $prefix"
done <"$tmp/files"

for name in sbin/fexitd bin/fexitctl include/libfexit.h fexitd.socket fexitd.service \
            sysusers.d/fexitd.conf tmpfiles.d/fexitd.conf libfexit.so.0 pkgconfig/libfexit.pc \
            programs/unlinksnoop.bpf.o policy.conf completions/fexitctl ${FEXITD_EXPECT_MAN:+man1/fexitctl.1 \
            man8/fexitd.8 man5/fexitd-policy.conf.5 man5/fexitd-programs.d.5 man3/libfexit.3}; do
    grep -q "/$name\$" "$tmp/files" || fail "no .../$name installed"
done

[ $failed = 0 ] && echo "PASS: $(wc -l <"$tmp/files") files, all under the prefix or $*"
[ $failed = 0 ]
