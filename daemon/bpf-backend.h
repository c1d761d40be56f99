/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The only module that calls bpf() or libbpf. Everything here works on plain fds and plain
 * structs, holds no global state except a lazily built BTF name index, and is safe to call from
 * worker threads (each call is independent; the BTF index is built once under a lock).
 *
 * Functions return 0 / >= 0 on success and a negative errno on failure. On failure the
 * `struct bb_error` passed in (if any) names a stable error and carries details for the client.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bb_error_kind {
        BB_ERR_NONE = 0,
        BB_ERR_INVALID_OBJECT,     /* not ELF, corrupt, libbpf could not open it: reason */
        BB_ERR_NO_FEXIT_PROGRAMS,  /* the object has no fexit/ or fexit.s/ program */
        BB_ERR_NO_SUCH_PROGRAM,    /* a selected program name is not in the object: name */
        BB_ERR_NO_SUCH_FUNCTION,   /* target not in any BTF: function, suggestions */
        BB_ERR_FUNCTION_DENIED,    /* target on fexitd's deny list or unusable: function, reason */
        BB_ERR_VERIFIER,           /* the verifier rejected it: program, errno, log */
        BB_ERR_KERNEL,             /* any other kernel refusal: operation, errno, message */
        BB_ERR_LIMIT_EXCEEDED,     /* too many instances for one load: operation = limit, limit_max */
        BB_ERR_NOT_SLEEPABLE,      /* fexit.s/ on a function this kernel does not let sleep: function */
        BB_ERR_TOO_MANY_ARGS,      /* more argument registers than the trampoline saves: function,
                                      n_args, limit_max */
};

/* At most this many program instances (fds) per bb_load(), however many functions globs match. */
#define BB_INSTANCES_MAX 1024
/* At most this many functions in one multi-link program (the kernel allows 2^20). */
#define BB_MULTI_FUNCTIONS_MAX 65536

#define BB_SUGGESTIONS_MAX 5

struct bb_error {
        enum bb_error_kind kind;
        int err;                    /* positive errno, 0 if none */
        char *operation;            /* "load", "attach", "pin", ... */
        char *program;              /* program name involved */
        char *function;             /* function name involved */
        char *message;              /* human readable, one line */
        char *log;                  /* verifier log or libbpf's messages (tail, <= 16 KiB) */
        char *suggestions[BB_SUGGESTIONS_MAX]; /* close matches for an unknown function */
        unsigned limit_max;         /* BB_ERR_LIMIT_EXCEEDED, BB_ERR_TOO_MANY_ARGS: the limit */
        unsigned n_args;            /* BB_ERR_TOO_MANY_ARGS: the function's argument registers */
};

void bb_error_clear(struct bb_error *e);   /* frees the strings, resets to BB_ERR_NONE */

/* Which programs to load and where to attach them. A program named by several selects gets one
 * instance per distinct target. function and functions add up (function first); with neither,
 * the function from the ELF section. Explicit names that cannot be used are errors; glob matches
 * that cannot be used are left out and listed in bb_load_result.skipped. */
struct bb_select {
        const char *name;            /* program name in the object */
        const char *function;        /* NULL: the function from the ELF section */
        uint32_t target_prog_id;     /* != 0: a function of this loaded BPF program */
        const char *const *functions;/* one instance per function (names or globs); NULL if unused */
        size_t n_functions;
};

struct bb_load_request {
        int object_fd;               /* the ELF object; read with pread(), never by path */
        const struct bb_select *select; /* NULL/0: every fexit program with its section's target */
        size_t n_select;
        const char *object_name;     /* NULL: "fexitd"; prefixes libbpf's .bss/.data map names */
        bool multi_link;             /* the kernel has tracing multi-links (bb_probe_tracing_multi):
                                        a program given `functions` or a fexit.multi/ section
                                        becomes one program for all of them */
};

struct bb_prog {
        char *name;                  /* program name */
        int fd;                      /* owned: O_CLOEXEC, >= 3 */
        uint32_t id;                 /* kernel prog id */
        char *function;              /* attach target function */
        char *btf_object;            /* "vmlinux", module name, or "bpf" */
        uint32_t btf_id;             /* attach_btf_id */
        uint32_t target_prog_id;     /* != 0 when attached to another BPF program */
        bool sleepable;
        /* A multi-link program: one program for n_functions functions of one BTF object (function
         * and btf_object above are the first's), attached with bb_attach_multi(). */
        bool multi;
        char **functions;
        uint32_t *btf_ids;
        size_t n_functions;
};

struct bb_map {
        char *name;
        int fd;                      /* owned */
        uint32_t id;
        uint32_t type;               /* enum bpf_map_type */
        uint32_t key_size, value_size, max_entries, flags;
};

struct bb_skipped {
        char *function;
        char *reason;
};

struct bb_load_result {
        struct bb_prog *progs;
        size_t n_progs;
        struct bb_map *maps;         /* maps shared by all progs of this load */
        size_t n_maps;
        struct bb_skipped *skipped;  /* glob matches left out (deny list, too many args, ...) */
        size_t n_skipped;
        char *multi_fallback;        /* why a program that could have been a multi-link program was
                                        loaded per function on a kernel that has them, or NULL */
};

/* Frees everything and closes every fd still >= 0 in the result. Accepts NULL. */
void bb_load_result_free(struct bb_load_result *r);

/* Verify, resolve targets, load. All or nothing: on failure no fd is left open. */
int bb_load(const struct bb_load_request *req, struct bb_load_result *ret, struct bb_error *err);

/* Attach a loaded fexit program. Returns the link fd (owned by the caller), and its kernel id. */
int bb_attach(int prog_fd, int *ret_link_fd, uint32_t *ret_link_id, struct bb_error *err);

/* Tracing multi-link (Linux 7.3). Whether this kernel has it, found by trying (a trivial program
 * is loaded, nothing is attached): 1 yes, 0 no with a one-line reason. */
int bb_probe_tracing_multi(char *reason, size_t size);

/* A multi-link attached: the link, and the functions the kernel refused and that were left out
 * (reason "attach: WHY (ERRNO)"). */
struct bb_multi_attach {
        int link_fd;                 /* owned */
        uint32_t link_id;
        struct bb_skipped *skipped;
        size_t *skipped_index;       /* each one's position in the request, ascending */
        size_t n_skipped;
};
/* Frees the skipped entries and closes link_fd if still >= 0. */
void bb_multi_attach_done(struct bb_multi_attach *a);

/* Attach a multi program to every function in btf_ids (its BTF object's ids; functions their
 * names) with one link, the i-th function's cookie i + 1. When the kernel refuses the whole set
 * (it names no function), the functions it refuses are found (a program doing nothing is attached
 * to halves of the set and detached again, on the calling thread: seconds under emulation) and
 * the link covers the rest, each keeping its cookie; ret->skipped says which and why. An error
 * when the refusal is no function's (names none), when every function is refused (names the first),
 * or when more than 64 are (BB_MULTI_BAD_MAX). */
int bb_attach_multi(int prog_fd, char *const *functions, const uint32_t *btf_ids, size_t n,
                    struct bb_multi_attach *ret, struct bb_error *err);

/* The kernel's view of a multi-link: its functions' BTF ids (sorted), addresses (0 when kallsyms
 * hides them from us) and cookies. */
struct bb_multi_link_info {
        uint32_t btf_obj_id;
        size_t count;
        uint32_t *ids;
        uint64_t *addrs;
        uint64_t *cookies;
};
int bb_multi_link_info(int link_fd, struct bb_multi_link_info *ret);
void bb_multi_link_info_done(struct bb_multi_link_info *i);

/* Pin an fd at path (in bpffs) / open a pinned object. bb_obj_get returns a new fd.
 * read_only works for maps only: the kernel refuses it for programs and links (EINVAL). */
int bb_pin(int fd, const char *path);
int bb_obj_get(const char *path, bool read_only);

/* A read-only fd for the map; returns the new fd. Opens the map by id with BPF_F_RDONLY (needs
 * CAP_SYS_ADMIN) and falls back to a temporary pin in pin_dir ("fexitd-ro-*", removed at once)
 * when that is refused. A ring buffer gives -EOPNOTSUPP: its reader must write the consumer
 * position, so share the read-write fd.
 * NOTE: the kernel cannot mmap() a read-only map fd at all, not even PROT_READ (EINVAL on 6.1
 * and 6.18: mmap drops VM_SHARED for a file without FMODE_WRITE, bpf_map_mmap() requires it).
 * The holder of a read-only fd reads with bpf_map_lookup_elem(). For a live mmap view of a
 * BPF_F_MMAPABLE map, bb_map_freeze() it and share the read-write fd instead. */
int bb_map_fd_readonly(int map_fd, const char *pin_dir);

/* Makes the map read-only for user space, for every holder and for good (the BPF program still
 * writes it). Afterwards its read-write fd can be shared: PROT_READ mmap works, PROT_WRITE mmap,
 * mprotect and updates fail with EPERM. -EBUSY while a writable mmap of it exists. */
int bb_map_freeze(int map_fd);

/* The fd to hand to a holder of the map: the least access that still serves, for every map
 * type in one place. A ring buffer's reader writes its consumer position, so it gets a
 * read-write fd (the kernel maps the data pages read-only for it). The kernel cannot mmap a
 * read-only fd, so an mmap-able map (.bss, .data) is frozen instead and its read-write fd
 * shared: no holder can write it from user space any more, the program still does, and the fd
 * maps PROT_READ. Everything else gets a read-only fd (bb_map_fd_readonly(), pin_dir as there).
 * *frozen: in, whether the map was frozen already; out, whether it is now (set even when a
 * later step fails). Returns the new fd (O_CLOEXEC, >= 3), and in *ret_writable whether a
 * holder can change the map through it. */
int bb_map_share(int map_fd, const char *pin_dir, bool *frozen, bool *ret_writable);

/* Kernel-side facts, for List/Describe and for validating re-adopted pins. */
struct bb_info {
        uint32_t id;
        uint32_t type;               /* prog type, link type or map type */
        uint64_t run_cnt, run_time_ns;   /* programs; 0 when stats are off */
        uint32_t prog_id;            /* links: the prog id */
        uint32_t attach_btf_id;      /* progs; tracing links: the traced function's BTF type id */
        uint32_t attach_btf_obj_id;  /* progs: the BTF object of that function; tracing links: the
                                        trampoline's object id, which is the target program's id
                                        for fexit on a BPF program and a BTF object id otherwise */
        uint32_t key_size, value_size, max_entries, map_flags;   /* maps */
        bool multi;                  /* a multi-link program (attach_btf_id is the kernel's
                                        placeholder, its functions come with each link) or link */
        char name[16];
};
int bb_prog_info(int fd, struct bb_info *ret);
int bb_link_info(int fd, struct bb_info *ret);
int bb_map_info(int fd, struct bb_info *ret);

/* For rebuilding the handle table from pins (bpf-describe.c). bb_obj_kind: 0 program, 1 link,
 * 2 map (the order of enum handle_kind), -EMEDIUMTYPE for anything else. bb_prog_map_ids: the
 * kernel ids of the maps a program uses, at most max. bb_btf_type_name: the name of BTF type
 * type_id in BTF object obj_id, and that object's name ("vmlinux", a module, or "bpf"). */
int bb_obj_kind(int fd);
int bb_prog_map_ids(int fd, uint32_t *ids, uint32_t max, uint32_t *ret_n);
int bb_btf_type_name(uint32_t obj_id, uint32_t type_id, char **ret_name, char **ret_object);

/* The functions of a multi-link as the kernel lists them (bb_multi_link_info()), in the order its
 * program has them (by cookie), named from the link's BTF object. complete: the link has every
 * function of its program (no cookie missing), so the list is the program's too. */
struct bb_multi_functions {
        char **names;
        uint32_t *ids;
        size_t n;
        char *btf_object;            /* "vmlinux" or a module */
        bool complete;
};
int bb_multi_link_functions(int link_fd, struct bb_multi_functions *ret);
void bb_multi_functions_done(struct bb_multi_functions *f);

/* "array", "hash", "ringbuf", ... for a map type. */
const char *bb_map_type_name(uint32_t type);

/* Check that a function name can be attached at all (BTF exists, not on the deny list, not
 * notrace when tracefs is readable, arguments within the trampoline's limit). */
int bb_check_function(const char *function, struct bb_error *err);

/* What this kernel's fexit can do, found by trying (daemon/bpf-probe.c), not by its version. */
struct bb_features {
        bool fexit;                  /* an fexit program loads at all */
        int fexit_errno;             /* why not (positive), when it does not */
        bool sleepable_fexit;        /* fexit.s/ on the kernel's test function bpf_fentry_test1 loads */
        unsigned max_args;           /* argument registers the fexit trampoline saves (6 or 12);
                                        0: unknown (fexit does not load, or no function to try) */
        bool module_btf;             /* a loaded module has BTF (/sys/kernel/btf/MODULE) */
};

/* Probes on the first call (on a worker: it loads and attaches tiny programs, a fraction of a
 * second under emulation), then returns the same answer. Thread-safe. */
const struct bb_features *bb_features(void);

/* Every libbpf message (all levels), for debug logging. Called on the thread that calls libbpf.
 * Messages are also captured into bb_error.log on failure without this. */
typedef void (*bb_log_func_t)(int level, const char *message);
void bb_set_log_func(bb_log_func_t fn);
