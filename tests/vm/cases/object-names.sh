#!/bin/bash
# vm-mode: systemd
# vm-timeout: 300
# Object names (issue 13): fexitctl sends the object file's base name without .bpf.o, the daemon
# opens the object under it, and libbpf names the object's .bss and .rodata maps after it, as it
# would for its own loads: the name cut to 8 characters so that NAME.bss fits the kernel's 15
# (libbpf's internal_map_name). bpftool, List and the Load reply show it, not "fexitd.bss".
set -uo pipefail
. "$FEXITD_TEST_SRC/vm/guest/testlib.sh"
command -v jq >/dev/null || vm_fail "no jq in the guest image"
fexitctl status >/dev/null || vm_fail "fexitd not reachable"

programs=()
# cases share one boot: unload what this one loaded, whatever happens
trap 'for h in "${programs[@]}"; do fexitctl unload "$h" >/dev/null 2>&1; done' EXIT

# check_load FILE MAP-NAME: load FILE through fexitctl; a map named MAP-NAME must be in the reply,
# in List, and in bpftool under the same kernel id, and `bpftool map dump name` must find it.
check_load() {
	local file=$1 want=$2 out id got
	out=$(fexitctl --json load "$file") || vm_fail "fexitctl load $file"
	programs+=($(jq -r '.programs[].handle' <<<"$out"))
	id=$(jq -r --arg n "$want" '[.maps[] | select(.name == $n)][0].kernel_id // empty' <<<"$out")
	[ -n "$id" ] || vm_fail "$file: the Load reply's maps are $(jq -c '[.maps[].name]' <<<"$out"), no $want"
	got=$(bpftool -j map show id "$id" | jq -r .name)
	[ "$got" = "$want" ] || vm_fail "$file: bpftool names map id $id '$got', not '$want'"
	fexitctl --json list | jq -e --argjson id "$id" --arg n "$want" \
		'.handles[] | select(.kind == "map" and .kernel_id == $id and .name == $n)' >/dev/null ||
		vm_fail "$file: List does not show map id $id as $want"
	bpftool map dump name "$want" >/dev/null || vm_fail "$file: bpftool map dump name $want finds nothing"
	echo "ok: $file -> map id $id named $want (bpftool, List, Load)"
}

cp "$FEXITD_TEST_BUILD/bpf/fexit_count.bpf.o" cnt.bpf.o
check_load cnt.bpf.o cnt.bss
check_load "$FEXITD_TEST_BUILD/bpf/fexit_count.bpf.o" fexit_co.bss
# the .rodata map (the const volatile target_tgid) is named the same way
bpftool -j map show | jq -e '[.[] | select(.name == "cnt.rodata")] | length > 0' >/dev/null ||
	vm_fail "no cnt.rodata map: $(bpftool -j map show | jq -c '[.[].name]')"
echo "ok: cnt.rodata"
