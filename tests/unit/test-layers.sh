#!/bin/bash
# SPDX-License-Identifier: MIT
# The layers stay layers (docs/architecture.md, "The path of a call"):
#  - common/ (framing, JSON, the Varlink server) includes nothing of daemon/;
#  - the daemon's modules include each other without a cycle. A module is a header and the .c
#    files named after it (methods.h: methods.c, methods-load.c, ...; state.h: state.c,
#    state-rebuild.c). The BPF backend (the files of daemon/backend.cmake) counts as one module:
#    cycles between it and the rest fail, its inner structure is its own.
# Usage: test-layers.sh SOURCE_DIR
set -euo pipefail
src=${1:?usage: test-layers.sh SOURCE_DIR}
fail=0

if grep -n '#include "daemon/' "$src"/common/*.[ch]; then
	echo "FAIL: common/ includes daemon/ headers (above)" >&2
	fail=1
fi

backend=$(grep -o '[a-z0-9_-]*\.c' "$src/daemon/backend.cmake" | sed 's/\.c$//' | sort -u)

module_of() {   # daemon/NAME.c or .h -> module name
	local stem=$1 prefix
	if grep -qx "$stem" <<<"$backend"; then
		echo backend
		return
	fi
	prefix=$stem
	while [[ ! -e $src/daemon/$prefix.h && $prefix == *-* ]]; do
		prefix=${prefix%-*}
	done
	if [[ -e $src/daemon/$prefix.h ]]; then
		# a header of the backend (bpf-backend.h, btf-index.h, ...) is the backend's
		if grep -qx "$prefix" <<<"$backend"; then
			echo backend
		else
			echo "$prefix"
		fi
	else
		echo "$stem"
	fi
}

edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
n=0
for f in "$src"/daemon/*.[ch]; do
	stem=$(basename "$f")
	stem=${stem%.*}
	from=$(module_of "$stem")
	while read -r inc; do
		to=$(module_of "$inc")
		[[ $to == "$from" ]] && continue
		echo "$from $to" >>"$edges"
		n=$((n + 1))
	done < <(sed -n 's|^#include "daemon/\([a-z0-9_-]*\)\.h".*|\1|p' "$f")
done
# the check must have seen the includes it exists for
if (( n < 20 )); then
	echo "FAIL: only $n includes between daemon modules found; is $src the source tree?" >&2
	exit 1
fi
if ! sort -u "$edges" | tsort >/dev/null 2>"$edges.err"; then
	echo "FAIL: daemon modules include each other in a cycle:" >&2
	cat "$edges.err" >&2
	fail=1
fi
rm -f "$edges.err"

# docs/architecture.md's "Where to make a change" names every source file of common/ and daemon/
for f in "$src"/common/*.c "$src"/daemon/*.c; do
	name=${f#"$src"/}
	if ! grep -qF "\`$name\`" "$src/docs/architecture.md"; then
		echo "FAIL: docs/architecture.md does not say what $name is for" >&2
		fail=1
	fi
done
exit $fail
