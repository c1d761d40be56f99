# tests/vm/lib/boot.sh: one boot under QEMU with the results disk attached, and what it brought
# back: each test's status and log, whether the guest timed out or panicked.
# Sourced by tests/vm/run.

# Seconds since EPOCHREALTIME value T0, one decimal.
since() {
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

KERNEL_DEATH='Kernel panic - not syncing|kernel BUG at|BUG: |Oops: |general protection fault'

# vm_boot APPEND QEMU-ARG...: boots with the results disk (virtio serial "fexitd-results", a raw
# tar the guest rewrites after every test) within $LIMIT seconds. Sets BOOT_PROBLEM (empty when
# the guest powered off by itself without panicking) and BOOT_TIME. --shell: interactive, no limit.
vm_boot() {
	local append=$1 dir=$WORK/$MODE rc t0 panic
	shift
	rm -f "$dir/results.img"
	truncate -s 256M "$dir/results.img"
	local qemu=(qemu-system-x86_64 "${ACCEL[@]}" -m 2048 -smp 2 -nodefaults -no-user-config -no-reboot
		-display none -append "$append" "$@"
		-drive "file=$dir/results.img,if=none,id=results,format=raw"
		-device virtio-blk-pci,drive=results,serial=fexitd-results)
	printf '%q ' "${qemu[@]}" >"$dir/qemu.cmd"
	echo "-serial mon:stdio" >>"$dir/qemu.cmd"
	if [ "$SHELL_MODE" = 1 ]; then
		say "interactive $MODE boot: Ctrl-A X quits qemu, Ctrl-A C its monitor"
		"${qemu[@]}" -serial mon:stdio
		BOOT_PROBLEM= BOOT_TIME=interactive
		return 0
	fi
	say "booting ($MODE, $ACCEL_NAME, limit $LIMIT s)"
	: >"$dir/console.log"
	t0=$EPOCHREALTIME
	timeout -k 10 "$LIMIT" "${qemu[@]}" -serial "file:$dir/console.log" \
		</dev/null >"$dir/qemu.log" 2>&1 &
	QEMU_PID=$!
	[ "$VERBOSE" = 1 ] && tail -n +1 -f --pid="$QEMU_PID" "$dir/console.log" >&2 &
	wait "$QEMU_PID"
	rc=$?
	QEMU_PID=
	BOOT_TIME=$(since "$t0")
	BOOT_PROBLEM=
	# Kernel messages only (timestamped): the tests' output is on the console too.
	panic=$(tr -d '\r' <"$dir/console.log" | grep -a -m 1 -o -E "\[ *[0-9]+\.[0-9]+\] ($KERNEL_DEATH).*")
	[ -z "$panic" ] || boot_problem "the guest kernel panicked or oopsed: ${panic#*] }"
	if [ $rc = 124 ] || [ $rc = 137 ]; then
		boot_problem "timed out: the guest did not power off within the hard limit of $LIMIT s" \
			"per $MODE boot (raise it with --timeout or FEXITD_VM_TIMEOUT)"
	elif [ $rc != 0 ]; then
		boot_problem "qemu exited with status $rc: $(tail -n 1 "$dir/qemu.log")"
	fi
}

boot_problem() {
	BOOT_PROBLEM="${BOOT_PROBLEM:+$BOOT_PROBLEM; }$*"
}

# vm_collect: unpacks the results disk into $WORK/MODE/results and keeps a copy of the results
# and the console log in $CACHE/last-PLATFORM-MODE (for CI, where the work folder is gone).
vm_collect() {
	local dir=$WORK/$MODE last=$CACHE/last-$PLATFORM-$MODE
	mkdir -p "$dir/results"
	tar -xf "$dir/results.img" -C "$dir/results" 2>/dev/null
	rm -rf "$last"
	mkdir -p "$last"
	cp -a "$dir/results/." "$dir/console.log" "$dir/qemu.cmd" "$last/" 2>/dev/null
}

# test_verdict NAME LIMIT: prints "STATUS why" for one test from its results folder.
test_verdict() {
	local d=$WORK/$MODE/results/$1 rc
	if [ -f "$d/rc" ]; then
		rc=$(cat "$d/rc")
		if [ -f "$d/timedout" ]; then
			echo "FAIL timed out after $2 s in the guest (a '# vm-timeout: SECONDS' line raises it)"
		elif [ "$rc" = 0 ]; then
			echo "PASS"
		elif [ "$rc" = 77 ]; then
			echo "SKIP $(grep -v '^[[:space:]]*$' "$d/log" | tail -n 1 | sed 's/^SKIP:[[:space:]]*//')"
		else
			echo "FAIL exit status $rc$(grep -m 1 '^FAIL' "$d/log" | sed 's/^/: /')"
		fi
	elif [ -f "$d/started" ]; then
		echo "FAIL did not finish: ${BOOT_PROBLEM:-the guest stopped during the test}"
	else
		echo "FAIL did not run: ${BOOT_PROBLEM:-the guest stopped before it}"
	fi
}

# vm_report: prints every test's log and verdict, then the boot's summary. Adds to the counters
# PASSED FAILED SKIPPED; a boot problem counts as one failure of its own.
vm_report() {
	local dir=$WORK/$MODE name limit script verdict why secs summary=() p=0 f=0 s=0
	while read -r name limit script; do
		verdict=$(test_verdict "$name" "$limit")
		secs=$(awk '{ printf " (%.1f s)", $1 / 1000 }' "$dir/results/$name/duration" 2>/dev/null)
		echo "----- $name: ${verdict%% *}$secs"
		[ -f "$dir/results/$name/log" ] && cat "$dir/results/$name/log"
		echo "----- end of $name"
		why=${verdict#* }
		[ "$why" != "$verdict" ] || why=
		summary+=("  ${verdict%% *} $name$secs${why:+: $why}")
		case $verdict in PASS*) p=$((p + 1)) ;; SKIP*) s=$((s + 1)) ;; *) f=$((f + 1)) ;; esac
	done <"$dir/payload/opt/fexitd-tests/tests.list"
	if [ -n "$BOOT_PROBLEM" ]; then
		echo "----- last 40 lines of the $MODE guest's console (all of it: $CACHE/last-$PLATFORM-$MODE/console.log)"
		tr -d '\r' <"$dir/console.log" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' | tail -n 40
		echo "-----"
	fi
	echo "vm: $MODE boot ($ACCEL_NAME, $BOOT_TIME s): $p passed, $f failed, $s skipped"
	printf '%s\n' "${summary[@]}"
	if [ -n "$BOOT_PROBLEM" ]; then
		echo "  FAIL $MODE boot: $BOOT_PROBLEM"
		f=$((f + 1))
	fi
	PASSED=$((PASSED + p)) FAILED=$((FAILED + f)) SKIPPED=$((SKIPPED + s))
}
