/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The tracing multi-link uapi (Linux 7.3), which the linux/bpf.h and libbpf of Debian 12 (libbpf
 * 1.1) predate: the only place fexitd spells these values and layouts. Written from the kernel's
 * include/uapi/linux/bpf.h, checked by the static asserts below, and the enum values are looked up
 * in the running kernel's BTF before use (bpf-multi.c): these constants are the fallback only.
 */

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

/* enum bpf_attach_type, enum bpf_link_type */
#define BB_UAPI_TRACE_FEXIT_MULTI 60
#define BB_UAPI_LINK_TYPE_TRACING_MULTI 15

/* The enumerator names in vmlinux BTF. */
#define BB_UAPI_TRACE_FEXIT_MULTI_NAME "BPF_TRACE_FEXIT_MULTI"
#define BB_UAPI_LINK_TYPE_TRACING_MULTI_NAME "BPF_LINK_TYPE_TRACING_MULTI"

/* The kernel's placeholder attach target of every *.multi program (kernel/bpf/syscall.c): its
 * presence in vmlinux BTF is a second sign that the kernel knows tracing multi-links. */
#define BB_UAPI_MULTI_FUNC_NAME "bpf_multi_func"

/* union bpf_attr, as BPF_LINK_CREATE reads it for a tracing multi-link. */
struct bb_uapi_link_create_multi {
        uint32_t prog_fd;
        uint32_t target_fd;          /* must be 0 */
        uint32_t attach_type;
        uint32_t flags;              /* must be 0 */
        uint64_t ids;                /* u32 BTF type ids of the functions, in the program's BTF object */
        uint64_t cookies;            /* u64 per id, or 0 */
        uint32_t cnt;
        uint32_t pad_;
};

static_assert(offsetof(struct bb_uapi_link_create_multi, ids) == 16, "link_create.tracing_multi.ids");
static_assert(offsetof(struct bb_uapi_link_create_multi, cookies) == 24, "link_create.tracing_multi.cookies");
static_assert(offsetof(struct bb_uapi_link_create_multi, cnt) == 32, "link_create.tracing_multi.cnt");

/* struct bpf_link_info with its tracing_multi member. */
struct bb_uapi_link_info_multi {
        uint32_t type;
        uint32_t id;
        uint32_t prog_id;
        uint32_t pad0_;
        uint32_t attach_type;
        uint32_t count;              /* in: room in ids/addrs/cookies; out: the link's functions */
        uint32_t btf_obj_id;
        uint32_t pad1_;
        uint64_t ids;                /* u32 each, sorted by the kernel */
        uint64_t addrs;              /* u64 each, 0 unless kallsyms shows addresses to the caller */
        uint64_t cookies;            /* u64 each */
};

static_assert(offsetof(struct bb_uapi_link_info_multi, attach_type) == 16, "link_info.tracing_multi");
static_assert(offsetof(struct bb_uapi_link_info_multi, ids) == 32, "link_info.tracing_multi.ids");
static_assert(offsetof(struct bb_uapi_link_info_multi, cookies) == 48, "link_info.tracing_multi.cookies");

/* Values as the running kernel numbers them. */
struct bb_uapi_multi {
        uint32_t fexit_multi;        /* enum bpf_attach_type BPF_TRACE_FEXIT_MULTI */
        uint32_t link_type;          /* enum bpf_link_type BPF_LINK_TYPE_TRACING_MULTI */
        uint32_t multi_func_id;      /* BTF id of bpf_multi_func, every multi program's attach_btf_id
                                        in its prog info; 0 when BTF has none */
};
