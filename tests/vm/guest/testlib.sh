# Helpers for the VM test cases (tests/vm/cases/*.sh), POSIX sh (busybox in the fast mode):
#   . "$FEXITD_TEST_SRC/vm/guest/testlib.sh"

# vm_skip REASON: the test does not apply here; the reason is printed by the host.
vm_skip() {
	echo "SKIP: $*"
	exit 77
}

vm_fail() {
	echo "FAIL: $*"
	exit 1
}

# vm_wait_for SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds (0) or time is up (1).
vm_wait_for() {
	vm_wait_n=$(($1 * 10))
	shift
	while [ "$vm_wait_n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		vm_wait_n=$((vm_wait_n - 1))
	done
	return 1
}
