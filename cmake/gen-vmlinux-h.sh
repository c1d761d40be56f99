#!/bin/sh
# gen-vmlinux-h.sh BPFTOOL OUT: dump the running kernel's BTF as C, atomically.
set -e
mkdir -p "$(dirname "$2")"
"$1" btf dump file /sys/kernel/btf/vmlinux format c > "$2.tmp"
mv "$2.tmp" "$2"
