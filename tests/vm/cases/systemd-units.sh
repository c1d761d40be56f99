# vm-mode: systemd
# Runs inside the guest booted with systemd as PID 1, as root, with the project installed by
# cmake --install and fexitd.socket enabled. Exit 0 pass, 77 skip, anything else fail.
# Checks what systemd-analyze cannot prove offline (docs/systemd.md): socket activation through
# the sandbox, readiness and STATUS=, the capability set, the pin folder on bpffs, stop/start,
# the watchdog restarting a daemon that stopped answering, and the CAP_SYS_ADMIN drop-in.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -uo pipefail
. "$FEXITD_TEST_SRC/vm/guest/testlib.sh"

unit=fexitd.service
sock_unit=fexitd.socket
dropin_dir=/run/systemd/system/$unit.d
wd_sec=3
cap_perfmon=38 cap_bpf=39 cap_sys_admin=21

log() { printf '%s\n' "$*"; }
dump() {
    systemctl status --no-pager --full "$sock_unit" "$unit" 2>&1 | tail -n 40
    journalctl -b --no-pager -o short-monotonic -u "$sock_unit" -u "$unit" 2>&1 | tail -n 60
}
fail() { log "FAIL: $*"; dump; exit 1; }
skip() { log "SKIP: $*"; exit 77; }
prop() { systemctl show -p "$1" --value "$unit"; }
is_active() { [ "$(systemctl is-active "$unit")" = active ]; }
is_inactive() { [ "$(systemctl is-active "$unit")" = inactive ]; }

cleanup() {
    local pid
    pid=$(prop MainPID 2>/dev/null)
    [ -n "$pid" ] && [ "$pid" != 0 ] && kill -CONT "$pid" 2>/dev/null
    [ -d "$dropin_dir" ] || return
    if compgen -G "$dropin_dir/50-vm-test-*.conf" >/dev/null; then
        rm -f "$dropin_dir"/50-vm-test-*.conf
        systemctl daemon-reload
        systemctl reset-failed "$unit" 2>/dev/null
        systemctl try-restart "$unit"  # leave no test setting behind for the next case
    fi
    rmdir "$dropin_dir" 2>/dev/null
}
trap cleanup EXIT

# One client call: fexitctl if installed, else a raw Varlink Status call (perl-base is in every
# Debian system). Prints the reply; fails on an error reply.
client_call() {
    if command -v fexitctl >/dev/null; then
        timeout 30 fexitctl status
        return
    fi
    timeout 30 perl -MSocket -MIO::Socket::UNIX -e '
        my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $ARGV[0])
            or die "connect $ARGV[0]: $!\n";
        print $s qq({"method":"io.fexitd.Status"}\0) or die "send: $!\n";
        local $/ = "\0";
        my $reply = <$s>;
        defined $reply or die "no reply\n";
        chop $reply;
        print "$reply\n";
        exit($reply =~ /"parameters"/ ? 0 : 1);' "$sock_path"
}

# cap_mask NAME...: the CapEff bits for capability names as systemctl prints them.
cap_mask() {
    local mask=0 name
    for name in "$@"; do
        case $name in
            cap_bpf) mask=$((mask | 1 << cap_bpf)) ;;
            cap_perfmon) mask=$((mask | 1 << cap_perfmon)) ;;
            cap_sys_admin) mask=$((mask | 1 << cap_sys_admin)) ;;
            *) fail "unexpected capability $name in the bounding set" ;;
        esac
    done
    echo "$mask"
}

# check_caps MASK: the running daemon has exactly MASK, cannot regain more, and is filtered.
check_caps() {
    local pid=$1 want=$2 eff bnd
    eff=$(awk '/^CapEff:/ { print $2 }' "/proc/$pid/status")
    bnd=$(awk '/^CapBnd:/ { print $2 }' "/proc/$pid/status")
    log "pid $pid CapEff=$eff CapBnd=$bnd want=$(printf '%016x' "$want")"
    [ $((16#$eff)) -eq "$want" ] || fail "CapEff $eff, want $(printf '%016x' "$want")"
    [ $((16#$bnd)) -eq "$want" ] || fail "CapBnd $bnd, want $(printf '%016x' "$want")"
    grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$pid/status" || fail "NoNewPrivs is not set"
    grep -q '^Seccomp:[[:space:]]*2' "/proc/$pid/status" || fail "no seccomp filter"
}

restart_clean() {
    systemctl reset-failed "$unit" 2>/dev/null  # also resets the start rate limit
    systemctl restart "$unit" || fail "systemctl restart $unit"
    vm_wait_for 60 is_active || fail "$unit not active after restart"
}

[ "$(id -u)" = 0 ] || skip "needs root"
[ -d /run/systemd/system ] || skip "not booted with systemd"
systemctl cat "$unit" >/dev/null 2>&1 || fail "$unit is not installed"

log "== fexitd.socket is listening after boot"
if ! systemctl is-active --quiet "$sock_unit"; then
    log "is-enabled: $(systemctl is-enabled "$sock_unit" 2>&1)"
    fail "$sock_unit not active after boot: the image must enable it" \
         "(systemctl --root=ROOT enable fexitd.socket, or -DFEXITD_SYSTEMD_ENABLE_ON_INSTALL=ON)"
fi
sock_path=$(systemctl show -p Listen --value "$sock_unit" | awk '{ print $1 }')
[ -S "$sock_path" ] || fail "no socket at '$sock_path'"
for group in fexit fexit-admin; do
    getent group "$group" >/dev/null || fail "group $group missing (sysusers)"
done
[ "$(stat -c '%a %U %G' "$sock_path")" = "660 root fexit" ] ||
    fail "socket $sock_path is $(stat -c '%a %U %G' "$sock_path"), want 660 root fexit"
[ "$(stat -c '%a' "$(dirname "$sock_path")")" = 755 ] || fail "$(dirname "$sock_path") is not 0755"

log "== the first client call activates $unit"
if ! is_inactive; then
    log "$unit is $(systemctl is-active "$unit") already (enabled at boot?): stopping it first"
    systemctl stop "$unit"
    vm_wait_for 30 is_inactive || fail "$unit did not stop"
fi
client_call || fail "client call through $sock_path"
vm_wait_for 30 is_active || fail "$unit not active after the first client call"
[ "$(prop NRestarts)" = 0 ] || log "note: NRestarts=$(prop NRestarts) before the watchdog test"

log "== readiness and STATUS="
status=$(prop StatusText)
[ -n "$status" ] || fail "no STATUS= text from the daemon"
log "StatusText: $status"
systemctl status --no-pager "$unit" | grep -q 'Status: "' || fail "systemctl status shows no Status: line"

log "== capabilities and sandbox of the running daemon"
pid=$(prop MainPID)
[ "$pid" != 0 ] || fail "no MainPID"
# shellcheck disable=SC2046
base_caps=$(cap_mask $(prop CapabilityBoundingSet))
[ "$base_caps" -eq $(( (1 << cap_bpf) | (1 << cap_perfmon) )) ] ||
    fail "unit bounding set is '$(prop CapabilityBoundingSet)', want cap_bpf cap_perfmon"
check_caps "$pid" "$base_caps"
[ "$(readlink "/proc/$pid/ns/net")" != "$(readlink /proc/1/ns/net)" ] || fail "PrivateNetwork= not in effect"

log "== pin folder on bpffs"
pin_dir=$(prop ReadWritePaths)
pin_dir=${pin_dir#-}  # "-": may be missing when the unit's namespace is set up
[ "$(stat -f -c %T /sys/fs/bpf)" = bpf_fs ] || fail "/sys/fs/bpf is not a bpffs"
[ -d "$pin_dir" ] || fail "pin folder '$pin_dir' missing"
[ "$(stat -c %U "$pin_dir")" = root ] && [ $((8#$(stat -c %a "$pin_dir") & 8#077)) -eq 0 ] ||
    fail "$pin_dir is $(stat -c '%a %U' "$pin_dir"), want root's and closed to others"
# The daemon's view: writable inside the sandbox, the rest of /sys read-only (bpffs refuses
# names with a dot).
nsenter -t "$pid" -m sh -c "mkdir '$pin_dir/vm-test' && rmdir '$pin_dir/vm-test'" ||
    fail "$pin_dir is not writable in the daemon's mount namespace"
nsenter -t "$pid" -m sh -c 'mkdir /sys/fs/bpf/vm-test' 2>/dev/null &&
    { rmdir /sys/fs/bpf/vm-test; fail "/sys/fs/bpf is writable in the daemon's namespace"; }

log "== systemctl stop / start"
systemctl stop "$unit" || fail "systemctl stop $unit"
vm_wait_for 30 is_inactive || fail "$unit is $(systemctl is-active "$unit") after stop, want inactive"
systemctl is-active --quiet "$sock_unit" || fail "$sock_unit went down with the service"
[ -S "$sock_path" ] || fail "stopping the service removed $sock_path"
systemctl reset-failed "$unit" 2>/dev/null
systemctl start "$unit" || fail "systemctl start $unit"
vm_wait_for 30 is_active || fail "$unit not active after start"
client_call >/dev/null || fail "client call after restart"

log "== the watchdog restarts a daemon that stops answering"
mkdir -p "$dropin_dir"
# TimeoutAbortSec bounds the wait between the watchdog's SIGABRT and the final SIGKILL.
printf '[Service]\nWatchdogSec=%ss\nTimeoutAbortSec=5s\nRestartSec=1s\n' "$wd_sec" \
    >"$dropin_dir/50-vm-test-watchdog.conf"
systemctl daemon-reload
restart_clean
[ "$(prop WatchdogUSec)" = "${wd_sec}s" ] || fail "WatchdogUSec is $(prop WatchdogUSec)"
old_pid=$(prop MainPID)
old_restarts=$(prop NRestarts)
sleep $((wd_sec * 2))  # a daemon that pings survives two watchdog periods
[ "$(prop MainPID)" = "$old_pid" ] || fail "daemon restarted without being stopped: no WATCHDOG=1?"
timeouts() { journalctl -b --no-pager -u "$unit" | grep -c 'Watchdog timeout'; }
old_timeouts=$(timeouts)
kill -STOP "$old_pid"
log "stopped pid $old_pid (NRestarts=$old_restarts), waiting for the watchdog"
new_pid_running() { local p; p=$(prop MainPID); [ "$p" != 0 ] && [ "$p" != "$old_pid" ] && is_active; }
vm_wait_for $((wd_sec + 5 + 1 + 30)) new_pid_running || fail "no restart after the watchdog timeout"
new_restarts=$(prop NRestarts)
log "new pid $(prop MainPID), NRestarts=$new_restarts"
[ "$new_restarts" -gt "$old_restarts" ] || fail "NRestarts did not increase ($old_restarts -> $new_restarts)"
more_timeouts() { [ "$(timeouts)" -gt "$old_timeouts" ]; }
vm_wait_for 10 more_timeouts || fail "journal shows no watchdog timeout for $unit"
client_call >/dev/null || fail "client call after the watchdog restart"

log "== the CAP_SYS_ADMIN drop-in (docs/systemd.md) adds exactly that capability"
rm -f "$dropin_dir/50-vm-test-watchdog.conf"
printf '[Service]\nCapabilityBoundingSet=CAP_SYS_ADMIN\n' >"$dropin_dir/50-vm-test-sys-admin.conf"
systemctl daemon-reload
restart_clean
check_caps "$(prop MainPID)" $((base_caps | 1 << cap_sys_admin))
client_call >/dev/null || fail "client call with CAP_SYS_ADMIN"
rm -f "$dropin_dir/50-vm-test-sys-admin.conf"
systemctl daemon-reload
restart_clean
check_caps "$(prop MainPID)" "$base_caps"

log "== real work through the unit: load, attach and pin an fexit program, re-adopt it"
obj=${FEXITD_TEST_BUILD:-/opt/fexitd-tests/build}/bpf/fexit_count.bpf.o
if ! command -v fexitctl >/dev/null || [ ! -f "$obj" ]; then
    log "not checked: needs fexitctl and $obj"
else
    # json_int REGEX: the first capture of REGEX in the JSON on stdin.
    json_int() { perl -0ne "print \$1 if /$1/s"; }
    links() { timeout 30 fexitctl --json status | json_int '"links"\s*:\s*(\d+)'; }
    reply=$(timeout 120 fexitctl --json load "$obj" --attach 2>&1) ||
        fail "fexitctl load --attach under the sandbox: $reply"
    handle=$(printf '%s' "$reply" | json_int '"programs"\s*:\s*\[.*?"handle"\s*:\s*(\d+)')
    [ -n "$handle" ] || fail "no program handle in the load reply: $reply"
    pins=$(find "$pin_dir" -mindepth 1 ! -type d | wc -l)
    log "program handle $handle, $pins pin(s) in $pin_dir, $(links) link(s)"
    [ "$pins" -gt 0 ] || fail "nothing pinned in $pin_dir"
    restart_clean
    [ "$(links)" -ge 1 ] || fail "the link was not re-adopted after a restart (status: $(prop StatusText))"
    timeout 120 fexitctl unload "$handle" || fail "fexitctl unload $handle"
    [ "$(links)" = 0 ] || fail "links left after unload: $(links)"
fi

log "PASS: systemd-units"
exit 0
