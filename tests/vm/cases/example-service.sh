#!/bin/bash
# vm-mode: systemd
# vm-timeout: 400
# The unprivileged consumer end to end (docs/security.md, examples/unlinksnoop): a DynamicUser
# service with no capabilities asks fexitd to load the catalog program, takes the link and the
# ring buffer, and its events show in the journal; stopping the unit detaches the link. A plain
# unprivileged user in the fexit group is refused its own bytecode, refused a catalog entry the
# policy does not name, and cannot detach or take another user's link.
set -uo pipefail
. "$FEXITD_TEST_SRC/vm/guest/testlib.sh"

obj=$FEXITD_TEST_BUILD/bpf/fexit_count.bpf.o
unit=fexit-unlinksnoop.service
command -v jq >/dev/null || vm_fail "no jq in the guest image"
systemctl cat "$unit" >/dev/null 2>&1 || vm_fail "$unit is not installed"

dump() { journalctl -b --no-pager -u fexitd -u "$unit" | tail -n 60; }
fail() { echo "FAIL: $*"; dump; exit 1; }
link_exists() { vm_bpftool_has link "$1"; }
link_gone() { ! link_exists "$1"; }
journal_has() { journalctl -b --no-pager -u "$unit" | grep -q "$1"; }

mkdir -p /etc/fexitd
# cases share one boot: leave nothing running behind, whatever happens
trap 'systemctl stop "$unit" 2>/dev/null; rm -f /etc/fexitd/policy.conf' EXIT
printf '# consumers in the fexit group may load the example\nload group:fexit unlinksnoop\n' >/etc/fexitd/policy.conf
chmod 0644 /etc/fexitd/policy.conf
fexitctl status >/dev/null || fail "fexitd not reachable"
systemctl reload fexitd.service || fail "systemctl reload"

systemctl start "$unit" || fail "cannot start $unit"
vm_wait_for 60 journal_has "tracing vfs_unlink" || fail "the consumer did not start tracing"
pid=$(systemctl show -p MainPID --value "$unit")
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
capeff=$(awk '/^CapEff:/ { print $2 }' "/proc/$pid/status")
[ "$uid" != 0 ] || fail "the consumer runs as root"
[ "$capeff" = 0000000000000000 ] || fail "the consumer has capabilities: CapEff=$capeff"
echo "ok: consumer pid $pid runs as uid $uid with CapEff=$capeff"

link=$(fexitctl --json list | jq -c "[.handles[] | select(.kind==\"link\" and .holder_uid==$uid)][0]")
link_id=$(jq -r '.kernel_id' <<<"$link")
[ "$(jq -r '.state' <<<"$link")" = handed-off ] || fail "the consumer's link is not listed as handed off: $link"
link_exists "$link_id" || fail "bpftool does not see link $link_id"
echo "ok: link $link_id handed off to uid $uid (pid $(jq -r '.holder_pid' <<<"$link"))"

for i in 1 2 3; do : >"/tmp/fexitd-example-$i"; rm "/tmp/fexitd-example-$i"; done
vm_wait_for 30 journal_has "name=fexitd-example-3" || fail "no event for the unlinks in the journal"
echo "ok: events in the journal:"
journalctl -b --no-pager -u "$unit" -o cat | grep "fexitd-example" | head -n 3

# A plain user in the fexit group: no bytecode of its own, only what the policy names, and
# nothing of someone else's.
fexit_gid=$(getent group fexit | cut -d: -f3)
as_nobody() { setpriv --reuid=65534 --regid=65534 --groups="$fexit_gid" -- "$@"; }
as_nobody fexitctl load "$obj" >/tmp/o 2>&1
rc=$?
[ "$rc" = 4 ] || fail "an unprivileged user loading its own bytecode: exit $rc, expected 4: $(cat /tmp/o)"
as_nobody fexitctl load --catalog no-such-entry >/tmp/o 2>&1
rc=$?
[ "$rc" = 4 ] || fail "a catalog entry outside the policy: exit $rc, expected 4: $(cat /tmp/o)"
as_nobody fexitctl detach "$(jq -r '.handle' <<<"$link")" >/tmp/o 2>&1
rc=$?
[ "$rc" = 4 ] || fail "detaching the consumer's link as another user: exit $rc, expected 4: $(cat /tmp/o)"
journalctl -b --no-pager -u fexitd | grep -q "Refused .* uid 65534" || fail "refusals are not logged with the caller's identity"
echo "ok: uid 65534 refused its own bytecode, an unlisted catalog entry, and another user's link"

systemctl stop "$unit" || fail "cannot stop $unit"
vm_wait_for 30 link_gone "$link_id" || fail "link $link_id still attached after the consumer stopped"
journal_has "unlinks seen by the program" || fail "the consumer did not report its counters"
echo "ok: stopping $unit detached link $link_id; $(journalctl -b --no-pager -u "$unit" -o cat | grep 'unlinks seen')"
exit 0
