#!/bin/bash
# Checks the generated systemd units offline (no systemd as PID 1 needed):
#   systemd-analyze verify on fexitd.socket + fexitd.service, syntax of the sysusers and tmpfiles
#   snippets, and systemd-analyze security --offline=yes exposure <= FEXITD_MAX_EXPOSURE (2.5),
#   both for the shipped unit and with the documented CAP_SYS_ADMIN drop-in.
# Usage: test-units.sh BUILD/systemd SOURCE/systemd
# Exit: 0 pass, 1 fail, 77 skip (no systemd-analyze).
set -euo pipefail

gen_dir=${1:?usage: test-units.sh BUILD/systemd SOURCE/systemd}
src_dir=${2:?usage: test-units.sh BUILD/systemd SOURCE/systemd}
max_exposure=${FEXITD_MAX_EXPOSURE:-2.5}
# systemd-sysusers --root= would look a relative path up under the root.
gen_dir=$(realpath "$gen_dir")
src_dir=$(realpath "$src_dir")

for tool in systemd-analyze systemd-sysusers systemd-tmpfiles; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool not found"; exit 77; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

# verify refuses an ExecStart= binary that does not exist, and the installed path does not on a
# build host: point that one line at a stub, keep everything else as generated.
printf '#!/bin/sh\nexit 0\n' >"$tmp/fexitd"
chmod +x "$tmp/fexitd"
stage_units() {  # DIR: copy the generated units there, with the stub as ExecStart
    mkdir -p "$1"
    cp "$gen_dir/fexitd.socket" "$1/"
    sed -E "s|^ExecStart=[^ ]*/fexitd( \|$)|ExecStart=$tmp/fexitd\1|" \
        "$gen_dir/fexitd.service" >"$1/fexitd.service"
    grep -q "^ExecStart=$tmp/fexitd" "$1/fexitd.service" ||
        { echo "FAIL: no ExecStart=.../fexitd line in $gen_dir/fexitd.service"; exit 1; }
}

# score UNITFILE: print the table, compare the overall exposure with the threshold.
score() {
    local out exposure
    out=$(systemd-analyze security --offline=yes --no-pager "$1" 2>&1) || true
    printf '%s\n' "$out" | grep -v '^✓' || true
    exposure=$(printf '%s\n' "$out" | sed -nE 's/.*Overall exposure level for [^:]*: ([0-9.]+).*/\1/p')
    if [ -z "$exposure" ]; then
        fail "no exposure level in systemd-analyze security output for $1"
        return
    fi
    echo "exposure($2): $exposure (max $max_exposure)"
    awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e <= m) }' ||
        fail "$2: exposure $exposure > $max_exposure"
}

echo "== systemd-analyze verify"
stage_units "$tmp/units"
if ! out=$(systemd-analyze verify --man=no "$tmp/units/fexitd.socket" "$tmp/units/fexitd.service" 2>&1) ||
   [ -n "$out" ]; then
    # verify exits 0 on unknown keys and bad values: any message is a failure.
    printf '%s\n' "$out"
    fail "systemd-analyze verify"
fi

echo "== sysusers and tmpfiles"
root="$tmp/root"
mkdir -p "$root/etc"
: >"$root/etc/passwd"
: >"$root/etc/group"
systemd-sysusers --root="$root" "$src_dir/fexitd.sysusers" || fail "systemd-sysusers"
grep -q '^fexit:' "$root/etc/group" || fail "sysusers did not create group fexit"
if ! out=$(systemd-tmpfiles --root="$root" --create "$gen_dir/fexitd.tmpfiles" 2>&1) || [ -n "$out" ]; then
    printf '%s\n' "$out"
    fail "systemd-tmpfiles --create"
fi
while read -r type path _; do
    [ "$type" = d ] || continue
    [ -d "$root$path" ] || fail "tmpfiles did not create $path"
done <"$gen_dir/fexitd.tmpfiles"

echo "== systemd-analyze security --offline=yes: shipped unit"
score "$tmp/units/fexitd.service" shipped

echo "== systemd-analyze security --offline=yes: with the CAP_SYS_ADMIN drop-in (docs/systemd.md)"
stage_units "$tmp/sysadmin"
mkdir -p "$tmp/sysadmin/fexitd.service.d"
printf '[Service]\nCapabilityBoundingSet=CAP_SYS_ADMIN\n' >"$tmp/sysadmin/fexitd.service.d/50-sys-admin.conf"
score "$tmp/sysadmin/fexitd.service" sys-admin

if [ "$failed" -ne 0 ]; then
    echo "test-units: $failed check(s) failed"
    exit 1
fi
echo "test-units: all checks passed"
