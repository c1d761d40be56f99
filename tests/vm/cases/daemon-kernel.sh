#!/bin/sh
# vm-mode: fast
# vm-timeout: 420
# vm-modules: dummy
# fexitd itself on a real kernel: tests/integration/test-daemon-kernel runs the installed
# daemon on temporary dirs and checks load, attach, counting through a shared .bss, detach,
# unload, TakeLink to a uid-65534 process (the link lives exactly as long as its fd there),
# ShareMap least access, connection-bound release, persistence across kill -9 and SIGTERM
# restarts (same kernel link ids), and with state.json deleted or cut short (the link rebuilt from
# its pin: same kernel link id in bpftool's output, still counting), fexit on another BPF program
# and the verifier's log;
# every kernel-side claim is cross-checked with bpftool inside the test.
. "$FEXITD_TEST_SRC/vm/guest/testlib.sh"

t=$FEXITD_TEST_BUILD/integration/test-daemon-kernel
[ -x "$t" ] || vm_fail "no $t: build the tree before running the VM tier"
bin=$(PATH=$PATH:/usr/local/sbin:/usr/sbin command -v fexitd) || vm_fail "fexitd is not installed in the guest"
command -v bpftool >/dev/null || vm_fail "no bpftool in the guest"

# CK_VERBOSITY: every test's verdict in the log, not only the failures
FEXITD_BIN=$bin FEXITD_TEST_BPF_DIR=$FEXITD_TEST_BUILD/bpf CK_DEFAULT_TIMEOUT=240 CK_VERBOSITY=verbose "$t"
rc=$?
[ "$rc" != 77 ] || vm_fail "the guest kernel refused fexit: this is the kernel it must work on"
exit "$rc"
