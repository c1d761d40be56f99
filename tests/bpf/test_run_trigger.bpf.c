// SPDX-License-Identifier: GPL-2.0
/* Triggers for the kernel's test functions, loaded by the tests themselves (not through fexitd,
 * which loads only fexit programs), one at a time: BPF_PROG_TEST_RUN of an fentry program calls
 * bpf_fentry_test1..8; of an fmod_ret program, bpf_modify_return_test and (from Linux 6.6)
 * bpf_modify_return_test2(1, &b, 3, 4, 5, 6, 7). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("fmod_ret/bpf_modify_return_test")
int BPF_PROG(fmod_ret_trigger, int a, int *b, int ret)
{
	return 0;
}

SEC("fentry/bpf_fentry_test1")
int BPF_PROG(fentry_trigger, int a)
{
	return 0;
}
