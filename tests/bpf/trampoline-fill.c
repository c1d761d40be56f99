/* SPDX-License-Identifier: MIT */
/* trampoline-fill FUNC: attaches programs that do nothing to the kernel function FUNC until its
 * trampoline takes no more (the kernel answers E2BIG: BPF_MAX_TRAMP_LINKS, 36 on x86-64 in 7.3),
 * prints "full N", and holds them until stdin closes; then they go with the process. A function
 * the kernel refuses at attach time but that passes every check before, for
 * tests/vm/cases/multi-link.sh. Needs CAP_BPF and CAP_PERFMON. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>

#define PROGS_MAX 256

static int fail(const char *what, int r) {
        fprintf(stderr, "trampoline-fill: %s: %s\n", what, strerror(r < 0 ? -r : r));
        return 1;
}

/* One program that does nothing, attached to btf_id; the link fd, or -errno. */
static int attach_one(int btf_id) {
        static const struct bpf_insn insns[] = {
                { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
                { .code = BPF_JMP | BPF_EXIT },
        };
        LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_TRACE_FEXIT,
                    .attach_btf_id = (__u32) btf_id);
        int prog = bpf_prog_load(BPF_PROG_TYPE_TRACING, "fill", "GPL", insns, 2, &o), link;

        if (prog < 0)
                return prog;
        link = bpf_link_create(prog, 0, BPF_TRACE_FEXIT, NULL);
        close(prog);                  /* the link holds the program */
        return link;
}

int main(int argc, char **argv) {
        struct btf *btf;
        char buf[64];
        int id, n = 0, r = 0;

        if (argc != 2) {
                fprintf(stderr, "usage: trampoline-fill FUNC\n");
                return 2;
        }
        btf = btf__load_vmlinux_btf();
        if (!btf)
                return fail("vmlinux BTF", -errno);
        id = btf__find_by_name_kind(btf, argv[1], BTF_KIND_FUNC);
        if (id <= 0)
                return fail(argv[1], id);
        while (n < PROGS_MAX && (r = attach_one(id)) >= 0)
                n++;
        if (r != -E2BIG)
                return fail(n < PROGS_MAX ? "attach" : "the trampoline never filled", r);
        printf("full %d\n", n);
        fflush(stdout);
        while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
                ;
        return 0;
}
