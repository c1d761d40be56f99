#!/bin/bash
# Checks the generated manual pages: groff renders each without a warning (man --warnings), and
# lexgrog finds its NAME line (what mandb and apropos index).
# Usage: test-man.sh PAGE...       Exit: 0 pass, 1 fail, 77 skip (no man or lexgrog).
set -uo pipefail
[ $# -gt 0 ] || { echo "FAIL: no pages given"; exit 1; }
for tool in man lexgrog; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool not found (package man-db)"; exit 77; }
done
failed=0
for page in "$@"; do
    if [ ! -s "$page" ]; then
        echo "FAIL: $page missing or empty"; failed=$((failed + 1)); continue
    fi
    warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
    if [ -n "$warnings" ]; then
        echo "FAIL: $page: $warnings"; failed=$((failed + 1))
    fi
    if ! whatis=$(lexgrog "$page"); then
        echo "FAIL: $page: lexgrog found no NAME section"; failed=$((failed + 1))
    else
        echo "ok $whatis"
    fi
done
[ $failed = 0 ]
