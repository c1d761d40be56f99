#!/bin/bash
# vm-mode: systemd
# The main job, narrated (tools/demo runs it in the VM): fexitd under systemd, socket-activated;
# a real fexit program loaded and attached on vfs_unlink; clients reading it back: fexitctl,
# bpftool as an independent witness, and the unprivileged example service taking its own link
# and reading events and counters without any capability.
set -uo pipefail
say() { printf '\n### %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "fexitd on Linux $(uname -r) with $(systemctl --version | head -n 1)"
run systemctl is-active fexitd.socket
run fexitctl status                 # the first call activates fexitd.service through the socket
run systemctl is-active fexitd.service
sysctl -qw kernel.bpf_stats_enabled=1   # so that List shows run counts and times

say "Load the catalog program unlinksnoop and attach it (persistent, owned by fexitd)"
run fexitctl load --catalog unlinksnoop --attach || exit 1

say "Trigger the traced function: 5 unlinks"
for i in 1 2 3 4 5; do : >"/tmp/demo-$i"; rm "/tmp/demo-$i"; done
run fexitctl list

say "bpftool, independently"
run bpftool link show
run bpftool prog show name unlinksnoop

say "Read the program's counters back through a shared, frozen .bss map"
bss=$(fexitctl --json list | jq -r '[.handles[] | select(.kind=="map" and (.name|endswith(".bss")))][0].handle')
run fexitctl share-map "$bss" -- sh -c 'echo "holding map fd $FEXIT_MAP_FD"; bpftool map dump id $(fexitctl --json describe '"$bss"' | jq .handle.kernel_id)'

say "An unprivileged consumer: a DynamicUser service with no capabilities takes its own link"
mkdir -p /etc/fexitd
printf 'load group:fexit unlinksnoop\n' >/etc/fexitd/policy.conf
chmod 0644 /etc/fexitd/policy.conf
run systemctl reload fexitd.service
run systemctl start fexit-unlinksnoop.service
sleep 3
for i in 1 2 3; do : >"/tmp/demo-consumer-$i"; rm "/tmp/demo-consumer-$i"; done
sleep 2
run fexitctl list
run systemctl stop fexit-unlinksnoop.service
run journalctl -b --no-pager -o cat -u fexit-unlinksnoop.service

say "The daemon's own view"
run systemctl status --no-pager fexitd.service
run journalctl -b --no-pager -u fexitd.service -o verbose --output-fields=MESSAGE,FEXITD_HANDLE,FEXITD_KERNEL_ID,FEXITD_FUNCTION,FEXITD_CLIENT_UID -n 12
exit 0
