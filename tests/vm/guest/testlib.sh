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

# vm_wait_for SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds (0) or SECONDS have
# passed (1; up to a second more). By the clock, not by counting tries: under TCG one try (a
# journalctl) can take seconds, and SECONDS must mean what the case's vm-timeout was sized for.
vm_wait_for() {
	vm_wait_end=$(($(vm_uptime) + $1))
	shift
	until "$@"; do
		[ "$(vm_uptime)" -le "$vm_wait_end" ] || return 1
		sleep 0.1
	done
}

# vm_uptime: whole seconds since the guest booted (/proc/uptime: the same in busybox ash, dash
# and bash, which has $SECONDS but the others do not).
vm_uptime() {
	read -r vm_uptime_s _ </proc/uptime
	echo "${vm_uptime_s%%.*}"
}

# vm_bpftool_has KIND ID: succeeds when bpftool shows that link/prog/map, fails when it says there
# is none (ENOENT); any other answer fails the test. Reads what bpftool prints, never its exit
# status: bpftool 7.5 exits 255 from `link show id N` even when it prints the link, so a check
# built on the status fails there, and its negation passes without checking anything.
# The JSON it printed stays in $vm_bpftool_out.
vm_bpftool_has() {
	vm_bpftool_out=$(bpftool -j "$1" show id "$2" 2>&1)
	case $vm_bpftool_out in
	"{\"id\":$2,"*) return 0 ;;
	*"No such file or directory"*) return 1 ;;
	esac
	vm_fail "bpftool $1 show id $2 printed neither the $1 nor ENOENT: $vm_bpftool_out"
}
