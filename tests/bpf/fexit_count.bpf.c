// SPDX-License-Identifier: GPL-2.0
/* Counts the calls of one kernel function from fexit: vfs_unlink by default (every platform's
 * kernel has it; 7.x renamed do_unlinkat to filename_unlinkat), or whatever
 * function the loader retargets it to with bpf_program__set_attach_target(). The program reads
 * none of the traced function's arguments, so it can be retargeted to any function.
 * Loaded by tests/bpf/fexit-smoke.c, which reads the counters back through the .bss map. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load, so that its own calls can be told from everyone else's. */
const volatile __u32 target_tgid = 0;

__u64 count = 0;     /* every call, whoever made it */
__u64 own_count = 0; /* calls made by target_tgid */
__u32 last_pid = 0;  /* tgid (the user-space pid) of the last caller */

SEC("fexit/vfs_unlink")
int BPF_PROG(fexit_count)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	__sync_fetch_and_add(&count, 1);
	if (tgid == target_tgid)
		__sync_fetch_and_add(&own_count, 1);
	last_pid = tgid;
	return 0;
}
