#!/bin/sh
# vm-mode: fast
# vm-timeout: 900
# fexitd's benchmarks, the parts that need fexit (docs/performance.md): latency while programs
# are loaded, attached and detached, load+attach against libbpf, many targets, memory with links.
# Run by bench/run through tests/vm/run; never by CI (this file is not under tests/vm/cases/).
# It prints the tables and one "@@fexitd-bench-json " line that bench/run keeps. Arguments for
# fexitd-bench vm come from $FEXITD_BENCH_VM_ARGS (bench/run --env ...).
# Nothing is detached at the end: hundreds of detaches would take minutes under TCG, and the VM
# powers off right after this script anyway.
. "$FEXITD_TEST_SRC/vm/guest/testlib.sh"

bench=$FEXITD_TEST_BUILD/bench/fexitd-bench
obj=$FEXITD_TEST_BUILD/bpf/fexit_count.bpf.o
[ -x "$bench" ] && [ -f "$obj" ] || vm_fail "no $bench or $obj: build with bench/run"
fexitd=$(PATH=$PATH:/usr/local/sbin:/usr/sbin command -v fexitd) || vm_fail "fexitd is not installed in the guest"

if grep -q 'QEMU TCG' /proc/cpuinfo; then
	export FEXITD_BENCH_ACCEL=tcg
elif grep -qw hypervisor /proc/cpuinfo; then
	export FEXITD_BENCH_ACCEL=${FEXITD_BENCH_ACCEL:-kvm or another hypervisor}
fi
# shellcheck disable=SC2086 # the arguments are meant to be split
FEXITD_BIN=$fexitd "$bench" vm --object "$obj" $FEXITD_BENCH_VM_ARGS
