#!/bin/bash
# vm-mode: systemd
# vm-timeout: 300
# Holder liveness (issue 13): a link handed off with take-link is listed with its holder's
# state. Alive while the holder runs, also after a restart of the daemon (the pid's start time
# matches the one recorded at the hand-off); exited, and logged, once the holder is gone.
# The holder runs without capabilities, as a consumer would: the sandboxed daemon
# (ProtectProc=invisible, no CAP_SYS_PTRACE) can read the start time of such a process only.
set -uo pipefail
. "$FEXITD_TEST_SRC/vm/guest/testlib.sh"
command -v jq >/dev/null || vm_fail "no jq in the guest image"
command -v setpriv >/dev/null || vm_skip "no setpriv in the guest image"
fexitctl status >/dev/null || vm_fail "fexitd not reachable"

prog="" holder=""
trap '[ -n "$holder" ] && kill "$holder" 2>/dev/null; [ -n "$prog" ] && fexitctl unload "$prog" >/dev/null 2>&1' EXIT
dump() { journalctl -b --no-pager -u fexitd | tail -n 30; }
fail() { echo "FAIL: $*"; dump; exit 1; }
holder_state() { fexitctl --json describe "$link" | jq -r '.handle.holder_state // "none"'; }
state_is() { [ "$(holder_state)" = "$1" ]; }

out=$(fexitctl --json load "$FEXITD_TEST_BUILD/bpf/fexit_count.bpf.o" --attach) || fail "load"
prog=$(jq -r '.programs[0].handle' <<<"$out")
link=$(jq -r '.links[0].handle' <<<"$out")
[ "$link" != null ] || fail "no link in $out"

setpriv --bounding-set=-all fexitctl take-link "$link" -- sleep 600 &
holder=$!
vm_wait_for 30 state_is alive || fail "holder of link $link: $(holder_state), not alive"
fexitctl --json describe "$link" | jq -e --argjson pid "$holder" '.handle.holder_pid == $pid' >/dev/null ||
	fail "the holder pid is not $holder: $(fexitctl --json describe "$link")"
echo "ok: link handle $link handed off to pid $holder: alive"

systemctl restart fexitd.service || fail "restart"
vm_wait_for 30 state_is alive || fail "after a restart: $(holder_state), not alive"
echo "ok: after a restart of fexitd: alive (start time matched)"

since=$(date '+%Y-%m-%d %H:%M:%S')
kill "$holder"
wait "$holder" 2>/dev/null
holder=""
vm_wait_for 30 state_is exited || fail "holder killed: $(holder_state), not exited"
fexitctl list | grep -q "handed-off (holder exited)" || fail "fexitctl list: $(fexitctl list)"
journalctl --no-pager -u fexitd --since "$since" | grep -q "exited: the link is detached" ||
	fail "no journal line for the holder's exit"
echo "ok: holder exited: listed as exited and logged"
