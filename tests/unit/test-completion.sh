#!/bin/bash
# Sources fexitctl's bash completion and checks what it offers for a few command lines.
# HANDLE completion runs `fexitctl --json list`: here a stand-in fexitctl on PATH prints a List
# reply in the IDL's format (docs/io.fexitd.varlink) and records its arguments.
# Usage: test-completion.sh client/fexitctl.bash       Exit: 0 pass, 1 fail.
set -uo pipefail
completion=${1:?usage: test-completion.sh FILE}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/fexitctl" <<STUB
#!/bin/bash
echo "\$*" >"$tmp/args"
echo '{"handles":[{"handle":1,"kind":"program","kernel_id":40,"name":"count"},{"handle":2,"kind":"map","kernel_id":9,"name":"count.bss"},{"handle":3,"kind":"link","kernel_id":17,"name":"count"},{"handle":5,"kind":"program","kernel_id":41,"name":"trace"}]}'
STUB
chmod +x "$tmp/fexitctl"
touch "$tmp/prog.bpf.o" "$tmp/notes.txt"
export PATH="$tmp:$PATH"
# shellcheck source=/dev/null
source "$completion" || { echo "FAIL: cannot source $completion"; exit 1; }

failed=0
# check LINE WANT...: completing LINE (the cursor at its end) offers exactly WANT (sorted);
# WANT may be "+WORD" to require only that WORD is among the offers.
check() {
    local line=$1 got
    shift
    read -ra COMP_WORDS <<<"$line"
    [[ $line == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _fexitctl
    got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')
    if [[ $1 == +* ]]; then
        [[ " $got" == *" ${1#+} "* ]] || { echo "FAIL: '$line' offers [$got], not ${1#+}"; failed=$((failed + 1)); return; }
    else
        local want
        want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
        [ "$got" = "$want" ] || { echo "FAIL: '$line' offers [$got], want [$want]"; failed=$((failed + 1)); return; }
    fi
    echo "ok '$line' -> [$got]"
}

check "fexitctl lo" load
check "fexitctl " +take-link
check "fexitctl --js" --json
check "fexitctl attach " 1 5
check "fexitctl detach " 3
check "fexitctl share-map " 2
check "fexitctl describe " 1 2 3 5
check "fexitctl attach 1 --gr" --grant --group
check "fexitctl load x.o --lifetime c" connection
check "fexitctl load $tmp/pr" "$tmp/prog.bpf.o"
check "fexitctl take-link 3 -- bas" +bash
check "fexitctl help sh" share-map
check "fexitctl --socket $tmp/s unload " 1 5
grep -q -- "--socket $tmp/s" "$tmp/args" || { echo "FAIL: --socket not passed to list: $(cat "$tmp/args")"; failed=$((failed + 1)); }
[ $failed = 0 ]
