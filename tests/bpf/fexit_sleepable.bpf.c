// SPDX-License-Identifier: GPL-2.0
/* A sleepable fexit program (fexit.s/) that calls bpf_copy_from_user, which the verifier allows
 * only in sleepable programs. bpf_fentry_test1 is the kernel's own test function: nothing calls
 * it but BPF_PROG_TEST_RUN of a tracing program, and newer kernels let programs on it sleep
 * (6.12 and 7.3; 6.1 answers "bpf_fentry_test1 is not sleepable"). The test reads the .bss. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

/* One struct, so the test knows the layout of the .bss it reads. */
struct {
	__u64 calls;
	long copy_ret;       /* bpf_copy_from_user's answer for address 0: -EFAULT (-14) */
	int last_ret;        /* bpf_fentry_test1(1) returns 2 */
} result = {};

SEC("fexit.s/bpf_fentry_test1")
int BPF_PROG(sleepable_exit, int a, int ret)
{
	char buf[8];

	result.copy_ret = bpf_copy_from_user(buf, sizeof(buf), (const void *) 0);
	result.last_ret = ret;
	__sync_fetch_and_add(&result.calls, 1);
	return 0;
}
