#!/bin/bash
# vm-mode: systemd
# vm-timeout: 400
# Restarts lose nothing (docs/systemd.md), on the real systemd: a persistent link keeps its
# handle and its kernel link id across `systemctl restart`, a kill -9 (Restart=on-failure) and
# `systemctl stop` + `start`, and stays attached while the daemon is down; a connection-bound
# link is gone after a restart; journal entries carry the structured fields; STATUS= shows the
# counts; programs.d files are loaded at start, once; unload removes the pins.
set -uo pipefail
. "$FEXITD_TEST_SRC/vm/guest/testlib.sh"

obj=$FEXITD_TEST_BUILD/bpf/fexit_count.bpf.o
snoop=$(ls /usr/local/libexec/fexitd/unlinksnoop /usr/libexec/fexitd/unlinksnoop 2>/dev/null | head -n 1)
command -v jq >/dev/null || vm_fail "no jq in the guest image"
[ -f "$obj" ] || vm_fail "no $obj"
[ -x "$snoop" ] || vm_fail "the example consumer unlinksnoop is not installed"

dump() { systemctl status --no-pager fexitd.service | tail -n 20; journalctl -b --no-pager -u fexitd | tail -n 40; }
fail() { echo "FAIL: $*"; dump; exit 1; }
main_pid() { systemctl show -p MainPID --value fexitd.service; }
active() { [ "$(systemctl is-active fexitd.service)" = active ]; }
link_exists() { vm_bpftool_has link "$1"; }
link_gone() { ! link_exists "$1"; }
describe_kid() { fexitctl --json describe "$1" | jq -r '.handle.kernel_id'; }

fexitctl status >/dev/null || fail "the first call did not reach fexitd through its socket"
out=$(fexitctl --json load "$obj" --attach) || fail "load: $out"
prog=$(jq -r '.programs[0].handle' <<<"$out")
link=$(jq -r '.links[0].handle' <<<"$out")
link_id=$(jq -r '.links[0].kernel_id' <<<"$out")
echo "persistent program handle $prog, link handle $link (kernel link id $link_id)"
link_exists "$link_id" || fail "bpftool does not see link $link_id"
ls /sys/fs/bpf/fexitd | grep -qx "link-$link" || fail "no pin link-$link"

# A connection-bound link, held by a client that keeps its connection open.
"$snoop" --keep-connection >/tmp/snoop.log 2>&1 &
snoop_pid=$!
vm_wait_for 30 sh -c "fexitctl --json list | jq -e '.handles[] | select(.kind==\"link\" and .lifetime==\"connection\" and .state==\"attached\")' >/dev/null" ||
	fail "the connection-bound link did not appear"
conn_link_id=$(fexitctl --json list | jq -r '[.handles[] | select(.kind=="link" and .lifetime=="connection" and .state=="attached")][0].kernel_id')
echo "connection-bound link id $conn_link_id"

check_survived() {   # check_survived WHAT
	vm_wait_for 60 active || fail "fexitd not active again after $1"
	[ "$(describe_kid "$link")" = "$link_id" ] || fail "after $1, handle $link no longer has kernel link id $link_id"
	link_exists "$link_id" || fail "after $1, bpftool no longer sees link $link_id"
	echo "ok: link handle $link kept kernel link id $link_id across $1"
}

systemctl restart fexitd.service || fail "systemctl restart"
check_survived "systemctl restart"
vm_wait_for 30 link_gone "$conn_link_id" || fail "the connection-bound link $conn_link_id survived the restart"
echo "ok: the connection-bound link $conn_link_id is gone after the restart"
wait "$snoop_pid" 2>/dev/null

pid=$(main_pid)
kill -9 "$pid"
vm_wait_for 60 sh -c "[ \"\$(systemctl show -p MainPID --value fexitd.service)\" != $pid ] && [ \"\$(systemctl show -p MainPID --value fexitd.service)\" != 0 ]" ||
	fail "systemd did not restart fexitd after kill -9"
check_survived "kill -9"

systemctl stop fexitd.service || fail "systemctl stop"
link_exists "$link_id" || fail "the link went away while fexitd was stopped"
echo "ok: link $link_id stays attached while fexitd is stopped"
systemctl start fexitd.service || fail "systemctl start"
check_survived "systemctl stop + start"

systemctl status --no-pager fexitd.service | grep -q "Status: \"1 programs, 1 links" ||
	fail "systemctl status shows no STATUS= line with the counts"
echo "ok: $(systemctl status --no-pager fexitd.service | grep Status:)"
journalctl -b --no-pager -u fexitd.service "FEXITD_KERNEL_ID=$link_id" | grep -q "Re-adopted link handle $link" ||
	fail "no journal entry with FEXITD_KERNEL_ID=$link_id for the re-adopted link"
journalctl -b --no-pager -u fexitd.service -o verbose "FEXITD_HANDLE=$prog" | grep -q "FEXITD_CLIENT_UID=0" ||
	fail "the load's journal entry lacks FEXITD_CLIENT_UID"
echo "ok: journal entries carry FEXITD_HANDLE, FEXITD_KERNEL_ID, FEXITD_FUNCTION, FEXITD_CLIENT_UID/PID"

# programs.d: loaded at start, attached, and not loaded twice.
mkdir -p /etc/fexitd/programs.d
printf '{"object":"%s","programs":[{"name":"fexit_count","function":"vfs_fsync"}]}\n' "$obj" \
	>/etc/fexitd/programs.d/10-count.json
printf '{"object":"/nonexistent.bpf.o"}\n' >/etc/fexitd/programs.d/20-broken.json
systemctl restart fexitd.service || fail "restart with programs.d"
vm_wait_for 60 sh -c "fexitctl --json list | jq -e '.handles[] | select(.kind==\"link\" and .target.function==\"vfs_fsync\")' >/dev/null" ||
	fail "the programs.d file was not loaded and attached"
systemctl restart fexitd.service || fail "second restart with programs.d"
vm_wait_for 60 active || fail "not active"
sleep 2
n=$(fexitctl --json list | jq '[.handles[] | select(.kind=="program" and .target.function=="vfs_fsync")] | length')
[ "$n" = 1 ] || fail "programs.d loaded $n times instead of once"
journalctl -b --no-pager -u fexitd.service | grep -q "20-broken.json" || fail "the broken programs.d file was not reported"
echo "ok: programs.d/10-count.json attached once across restarts; 20-broken.json reported and skipped"
rm -f /etc/fexitd/programs.d/*.json
# removing the file does not unload what it loaded (that is persistent): the next case starts clean
pd=$(fexitctl --json list | jq -r '[.handles[] | select(.kind=="program" and .target.function=="vfs_fsync")][0].handle')
fexitctl unload "$pd" || fail "unload of the programs.d program"

fexitctl unload "$prog" || fail "unload"
vm_wait_for 30 link_gone "$link_id" || fail "link $link_id still attached after unload"
ls /sys/fs/bpf/fexitd | grep -q "link-$link" && fail "pin link-$link left behind"
echo "ok: unload detached link $link_id and removed its pins"
exit 0
