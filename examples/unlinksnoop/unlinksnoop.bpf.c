// SPDX-License-Identifier: GPL-2.0
/* Catalog program "unlinksnoop": fexit on vfs_unlink. Counts every unlink in .bss (readable by
 * mmap of the shared, frozen map) and sends one event per call to a ring buffer, so an
 * unprivileged consumer sees who removed what and with which result. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

struct unlink_event {
	__u32 pid;
	__u32 uid;
	__s32 ret;
	char comm[16];
	char name[128];
};

__u64 calls = 0;
__u64 failures = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* vfs_unlink(idmap or user namespace, dir, dentry, delegated inode): the same four arguments on
 * 6.1 to 7.x, where do_unlinkat (the syscall's path walk) was renamed filename_unlinkat. The
 * event names the removed entry (its last path component). */
SEC("fexit/vfs_unlink")
int BPF_PROG(unlinksnoop, void *ns, struct inode *dir, struct dentry *dentry, void *delegated,
	     int ret)
{
	struct unlink_event *e;

	__sync_fetch_and_add(&calls, 1);
	if (ret)
		__sync_fetch_and_add(&failures, 1);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->uid = (__u32) bpf_get_current_uid_gid();
	e->ret = (__s32) ret;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_kernel_str(e->name, sizeof(e->name), BPF_CORE_READ(dentry, d_name.name));
	bpf_ringbuf_submit(e, 0);
	return 0;
}
