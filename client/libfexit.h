/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * libfexit: client library of fexitd, the daemon that owns fexit eBPF programs and their links.
 *
 * A struct fexit_client is one connection to the daemon's Varlink socket (docs/io.fexitd.varlink).
 * Every call is synchronous: it sends one request and waits for its reply, with the optional
 * timeout of the connection. Link and map fds received from the daemon are close-on-exec and >= 3.
 *
 * Conventions (as in libbpf):
 * - Functions return 0 or a non-negative value on success and a negative errno on failure; they
 *   never print above debug level and never exit. Outputs are ret_ parameters, placed last, and
 *   left untouched on failure.
 * - After a failed call, fexit_client_error_name() names the Varlink error (NULL if the failure
 *   was local: bad arguments, transport, timeout), fexit_client_error_message() gives one human
 *   readable line and fexit_client_error_parameters() the error's parameters as JSON text. These
 *   strings stay valid until the next call on the same client.
 * - Options structs begin with `size_t sz`; declare them with FEXIT_OPTS() so that programs built
 *   against an older header keep working with a newer library. NULL options mean defaults.
 * - Result structs are allocated by the library and released with their _free() function; new
 *   fields may be appended in later versions, so never allocate or copy them yourself.
 * - A client is not thread-safe: use one per thread, or serialise calls.
 *
 * Varlink errors map to errnos as follows (the error name stays available for finer decisions):
 *   io.fexitd.NoSuchHandle, NoSuchProgram, NoSuchCatalogEntry              -ENOENT
 *   io.fexitd.NoSuchFunction                                              -ESRCH
 *   io.fexitd.WrongHandleKind, org.varlink.service.InvalidParameter,
 *   io.fexitd.VerifierRejected                                            -EINVAL
 *   io.fexitd.InvalidObject, NoFexitPrograms                              -ENOEXEC
 *   io.fexitd.PermissionDenied, org.varlink.service.PermissionDenied      -EACCES
 *   io.fexitd.FunctionDenied                                              -EPERM
 *   io.fexitd.KernelError                                the errno it names (-EIO if unknown)
 *   io.fexitd.NotDetachable, FunctionNotSleepable                         -EOPNOTSUPP
 *   io.fexitd.TooManyArguments                                            -E2BIG
 *   io.fexitd.FunctionsUnknown                                            -ENODATA
 *   io.fexitd.InvalidFileDescriptors                                      -EBADF
 *   io.fexitd.LimitExceeded                                               -EDQUOT
 *   io.fexitd.ProtocolError, org.varlink.service.ExpectedMore             -EPROTO
 *   org.varlink.service.MethodNotFound, InterfaceNotFound,
 *   MethodNotImplemented                                                  -EOPNOTSUPP
 *   any other error                                                       -EIO
 * Local failures: -ETIMEDOUT (the timeout expired; the connection is then closed, since a late
 * reply would be taken for the next call's), -ECONNRESET / -EPIPE (the daemon closed the
 * connection), -ENOTCONN (the connection was closed by an earlier failure), -EBADMSG / -EPROTO
 * (the daemon's reply broke the protocol), -EINVAL (bad arguments).
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef FEXIT_API
#define FEXIT_API __attribute__((visibility("default")))
#endif

/* Declares an options struct with its size filled in, e.g.
 *   FEXIT_OPTS(fexit_client_opts, opts, .timeout_ms = 5000); */
/* As libbpf's LIBBPF_OPTS: NAME itself is zeroed first, padding included, and then initialized
 * from the literal, which in practice leaves its padding zero. The library checks the bytes
 * after the last field it knows (tail padding too), so that a newer field placed there is never
 * silently ignored; a copy through a temporary would carry the temporary's garbage padding. */
#define FEXIT_OPTS(TYPE, NAME, ...)                                                 \
        struct TYPE NAME = ({                                                       \
                __builtin_memset(&NAME, 0, sizeof(struct TYPE));                    \
                (struct TYPE) { .sz = sizeof(struct TYPE), __VA_ARGS__ };           \
        })

/* Most fds one message may carry, in either direction. */
#define FEXIT_FDS_MAX 8
/* Value of an optional integer field that the daemon did not send. */
#define FEXIT_ABSENT (-1)
/* Default socket, used when neither the path argument nor $FEXITD_SOCKET names one. */
#define FEXIT_DEFAULT_SOCKET "/run/fexitd/io.fexitd"

/* Logging: the library only emits FEXIT_DEBUG messages; nothing is printed unless a callback is
 * installed. The callback is process-wide, like libbpf_set_print(). Returns the previous one. */
enum fexit_print_level {
        FEXIT_WARN,
        FEXIT_INFO,
        FEXIT_DEBUG,
};
typedef int (*fexit_print_fn_t)(enum fexit_print_level level, const char *format, va_list args);
FEXIT_API fexit_print_fn_t fexit_set_print(fexit_print_fn_t fn);

/* ---- Connection ------------------------------------------------------------------------------ */

struct fexit_client;

struct fexit_client_opts {
        size_t sz;
        /* Longest wait for one call's reply (and for connecting), in milliseconds; 0 waits forever.
         * A Load with many functions can take seconds on a busy machine. */
        int timeout_ms;
        size_t :0;                      /* tail padding is checked too (see FEXIT_OPTS) */
};

/* Connects to path, or to $FEXITD_SOCKET if path is NULL, or to FEXIT_DEFAULT_SOCKET. Fails with
 * the errno of connect(): -ENOENT (no daemon), -ECONNREFUSED, -EACCES, or -ETIMEDOUT. */
FEXIT_API int fexit_client_open(const char *path, const struct fexit_client_opts *opts,
                                struct fexit_client **ret);
/* Closes the connection; the daemon then releases the handles created with lifetime connection.
 * Accepts NULL; returns NULL. */
FEXIT_API struct fexit_client *fexit_client_free(struct fexit_client *c);

/* Details of the last failed call (see above); NULL when the last call succeeded. */
FEXIT_API const char *fexit_client_error_name(const struct fexit_client *c);
FEXIT_API const char *fexit_client_error_message(const struct fexit_client *c);
FEXIT_API const char *fexit_client_error_parameters(const struct fexit_client *c);
/* The parameters of the last successful reply as JSON text (fields this version of the structs
 * does not know yet are there too); NULL after a failure. Valid until the next call. */
FEXIT_API const char *fexit_client_last_reply(const struct fexit_client *c);

/* ---- Results --------------------------------------------------------------------------------- */

enum fexit_kind {
        FEXIT_KIND_UNKNOWN = 0,
        FEXIT_KIND_PROGRAM,
        FEXIT_KIND_LINK,
        FEXIT_KIND_MAP,
};

enum fexit_lifetime {
        FEXIT_LIFETIME_DEFAULT = 0,     /* in requests: let the daemon choose (connection) */
        FEXIT_LIFETIME_PERSISTENT,      /* owned by the daemon until unloaded; survives restarts */
        FEXIT_LIFETIME_CONNECTION,      /* released when the creating connection closes */
};

enum fexit_state {
        FEXIT_STATE_UNKNOWN = 0,        /* a state this version does not know: see state_name */
        FEXIT_STATE_LOADED,
        FEXIT_STATE_ATTACHED,
        FEXIT_STATE_HANDED_OFF,         /* a taken link: its lifetime belongs to its holder */
};

enum fexit_role {
        FEXIT_ROLE_UNKNOWN = 0,
        FEXIT_ROLE_ADMIN,
        FEXIT_ROLE_CONSUMER,
};

/* "program", "link", "map", "persistent", "connection"...; NULL for an unknown value. */
FEXIT_API const char *fexit_kind_name(enum fexit_kind kind);
FEXIT_API const char *fexit_lifetime_name(enum fexit_lifetime lifetime);

/* Where a program or link is attached. */
struct fexit_target {
        const char *function;           /* BTF name of the function */
        const char *btf_object;         /* "vmlinux", a module, "bpf"; NULL if not sent */
        int64_t btf_id;                 /* FEXIT_ABSENT if not sent */
        int64_t target_prog_id;         /* kernel id of the traced BPF program; 0 for the kernel */
};

/* A program, link or map owned by the daemon. Optional integers are FEXIT_ABSENT when absent,
 * optional strings NULL. */
struct fexit_handle {
        int64_t handle;
        enum fexit_kind kind;
        int64_t kernel_id;              /* prog, link or map id as bpftool shows it */
        const char *name;
        const struct fexit_target *target;      /* programs and links; NULL otherwise */
        int64_t program;                /* link: its program handle; map: the program it came with */
        enum fexit_lifetime lifetime;
        enum fexit_state state;
        const char *state_name;         /* as sent: "loaded", "attached", "handed-off"... */
        int64_t owner_uid, owner_pid;
        int64_t holder_uid, holder_pid; /* a handed-off link's receiver */
        double age_sec;
        int64_t run_count, run_time_ns; /* programs, with kernel.bpf_stats_enabled */
        const char *map_type;           /* maps: "array", "ringbuf", ... */
        int64_t key_size, value_size, max_entries, map_flags;
        const char *const *grants;      /* "user:NAME", "group:NAME" */
        size_t n_grants;
        /* a multi-link program or link (one program, one link, many functions): mode is
         * "multi-link" (NULL otherwise), target names the first function */
        const char *mode;
        int64_t function_count;         /* FEXIT_ABSENT unless multi-link */
        const char *const *functions;   /* Describe only: every function */
        size_t n_functions;
        /* A handed-off link's holder process: "alive", "exited" (the link is detached unless the
         * holder passed its fd on) or "unknown"; NULL for other handles and older daemons. */
        const char *holder_state;
};
/* Accepts NULL; returns NULL. */
FEXIT_API struct fexit_handle *fexit_handle_free(struct fexit_handle *h);

struct fexit_handle_list {
        struct fexit_handle **handles;
        size_t n_handles;
};
FEXIT_API struct fexit_handle_list *fexit_handle_list_free(struct fexit_handle_list *l);

/* A function of a `functions` list that was not loaded, and why. */
struct fexit_skipped {
        const char *function;
        const char *reason;
};

struct fexit_load_result {
        struct fexit_handle **programs;
        size_t n_programs;
        struct fexit_handle **maps;
        size_t n_maps;
        struct fexit_handle **links;    /* when loaded with attach */
        size_t n_links;
        struct fexit_skipped **skipped;
        size_t n_skipped;
        const char *mode;               /* "multi-link" or "instances"; NULL from older daemons */
        const char *mode_reason;        /* why instances on a kernel with multi-links, or NULL */
};
FEXIT_API struct fexit_load_result *fexit_load_result_free(struct fexit_load_result *r);

/* What the kernel's fexit can do, as the daemon probed it at start by trying. */
struct fexit_features {
        bool fexit;                     /* fexit programs load at all */
        const char *fexit_errno;        /* why not ("EPERM"); NULL when they do */
        bool sleepable_fexit;           /* fexit.s/ on bpf_fentry_test1 loads */
        int64_t max_fexit_args;         /* argument registers the trampoline saves; 0: unknown */
        bool module_btf;                /* a loaded module has BTF */
        bool tracing_multi;             /* tracing multi-links: one program and one link for
                                           many functions (Linux 7.3) */
};

struct fexit_status {
        const char *version;
        double uptime_sec;
        int64_t programs, links, maps, connections;
        int64_t caller_uid;
        enum fexit_role caller_role;
        const char *caller_role_name;
        bool persistence;               /* false: persistent handles die with the daemon */
        const struct fexit_features *features;  /* NULL until the daemon's probe finished */
};
FEXIT_API struct fexit_status *fexit_status_free(struct fexit_status *s);

/* org.varlink.service.GetInfo */
struct fexit_service_info {
        const char *vendor, *product, *version, *url;
        const char *const *interfaces;
        size_t n_interfaces;
};
FEXIT_API struct fexit_service_info *fexit_service_info_free(struct fexit_service_info *i);

/* ---- Calls ----------------------------------------------------------------------------------- */

/* One program of the object and where to attach it. */
struct fexit_program_select {
        size_t sz;                      /* sizeof(struct fexit_program_select): the array stride */
        const char *name;               /* program (C function) name in the object; required */
        const char *function;           /* override of the section's fexit/FUNCTION; NULL: keep */
        uint32_t target_prog_id;        /* attach to a function of this BPF program; 0: kernel */
        const char *const *functions;   /* one instance per function: names or globs ("vfs_*") */
        size_t n_functions;
        size_t :0;
};

struct fexit_load_opts {
        size_t sz;
        /* Programs to load; NULL/0: every fexit program of the object, at its section's target.
         * Every element must carry the same sz. */
        const struct fexit_program_select *programs;
        size_t n_programs;
        enum fexit_lifetime lifetime;
        const char *const *grants;      /* "user:NAME" or "group:NAME" */
        size_t n_grants;
        bool attach;                    /* attach every loaded program; links are returned too */
        /* The object's name ([A-Za-z0-9_.-], no leading '.', at most 128): libbpf
         * names the .bss/.data/.rodata maps after it, truncated to 15 characters as bpftool
         * shows them. NULL: the catalog entry's name, or "fexitd" for fexit_client_load(). */
        const char *name;
        size_t :0;
};

/* Loads the fexit programs of the BPF ELF object open at object_fd (not consumed: the library
 * sends a duplicate; the daemon reads the object through it, never by path). */
FEXIT_API int fexit_client_load(struct fexit_client *c, int object_fd,
                                const struct fexit_load_opts *opts, struct fexit_load_result **ret);
/* Loads the administrator-installed catalog object `name` (what consumers may load). */
FEXIT_API int fexit_client_load_catalog(struct fexit_client *c, const char *name,
                                        const struct fexit_load_opts *opts,
                                        struct fexit_load_result **ret);

struct fexit_attach_opts {
        size_t sz;
        enum fexit_lifetime lifetime;
        const char *const *grants;      /* added to the program's grants on the new link(s) */
        size_t n_grants;
        size_t :0;
};
/* Attaches a program handle; ret_link (may be NULL) receives the new link handle. */
FEXIT_API int fexit_client_attach(struct fexit_client *c, int64_t handle,
                                  const struct fexit_attach_opts *opts,
                                  struct fexit_handle **ret_link);
/* Attaches every program of handle's Load that is not attached yet (one program loaded on many
 * functions), all or nothing; ret_links (may be NULL) lists the new links. */
FEXIT_API int fexit_client_attach_group(struct fexit_client *c, int64_t handle,
                                        const struct fexit_attach_opts *opts,
                                        struct fexit_handle_list **ret_links);
/* Detaches a link handle; with _group, every attached link of the same Load the caller may
 * act on. */
FEXIT_API int fexit_client_detach(struct fexit_client *c, int64_t handle);
FEXIT_API int fexit_client_detach_group(struct fexit_client *c, int64_t handle);
/* Detaches the program's links, unloads it, and releases its maps once unused. */
FEXIT_API int fexit_client_unload(struct fexit_client *c, int64_t handle);

/* Takes over a link: *ret_fd becomes the only reference the daemon leaves, so closing the last
 * copy of it (in this process and any it was passed to) detaches the program. ret_link may be
 * NULL. */
FEXIT_API int fexit_client_take_link(struct fexit_client *c, int64_t handle, int *ret_fd,
                                     struct fexit_handle **ret_link);
/* Receives an fd of a map: read-only unless the map must be written by its reader (ring
 * buffers), as *ret_writable says. ret_writable and ret_map may be NULL. */
FEXIT_API int fexit_client_share_map(struct fexit_client *c, int64_t handle, int *ret_fd,
                                     bool *ret_writable, struct fexit_handle **ret_map);

/* Every handle the caller may act on. */
FEXIT_API int fexit_client_list(struct fexit_client *c, struct fexit_handle_list **ret);
FEXIT_API int fexit_client_describe(struct fexit_client *c, int64_t handle,
                                    struct fexit_handle **ret);
FEXIT_API int fexit_client_status(struct fexit_client *c, struct fexit_status **ret);
FEXIT_API int fexit_client_get_info(struct fexit_client *c, struct fexit_service_info **ret);

/* Raw escape hatch: calls `method` ("io.fexitd.List"; a name without a dot is taken from
 * io.fexitd) with params_json (a JSON object, or NULL for none) and the n_fds fds (not consumed;
 * at most FEXIT_FDS_MAX). On success *ret_reply_json is the reply's parameters (free() it) and
 * ret_fds (room for FEXIT_FDS_MAX; may be NULL to close them) receives the reply's fds, which
 * are then the caller's. A Varlink error reply fails like the typed calls. */
FEXIT_API int fexit_client_call_json(struct fexit_client *c, const char *method,
                                     const char *params_json, const int *fds, size_t n_fds,
                                     char **ret_reply_json, int *ret_fds, size_t *ret_n_fds);

/* ---- Consumer helpers: work with fds received from the daemon, without privileges ---------- */

/* Maps the values of a BPF_F_MMAPABLE array map (such as a program's .bss or .data) into memory,
 * live: read-write, or read-only if the map is frozen (.rodata). Size is value_size (rounded up
 * to 8) * max_entries, rounded up to whole pages. -EOPNOTSUPP if the map is not an mmap-able
 * array. -EACCES if the fd is not open read-write: the kernel refuses any mapping of a map fd
 * that is read-only (MAP_SHARED of a read-only file lacks VM_SHARED, which bpf_map_mmap()
 * requires), so the holder of a read-only fd reads with bpf_map_lookup_elem() instead (key 0 of
 * a .bss map is the whole section). Release with fexit_map_munmap(). */
FEXIT_API int fexit_map_mmap(int map_fd, void **ret_addr, size_t *ret_size);
FEXIT_API int fexit_map_munmap(void *addr, size_t size);
/* Copies element `index` of an array map into ret_value (room for size bytes, at least the map's
 * value_size): a snapshot, and the way to read through a read-only fd. Returns the value size;
 * -ENOBUFS if size is too small, -EOPNOTSUPP if the map is not a BPF_MAP_TYPE_ARRAY. */
FEXIT_API int fexit_map_read(int map_fd, uint32_t index, size_t size, void *ret_value);

/* A consumer of a BPF ring buffer map (libbpf's ring_buffer underneath; libbpf's own messages go
 * to libbpf's print callback). The callback gets each record; returning < 0 stops the
 * consumption and that value is returned by poll/consume. */
struct fexit_ringbuf;
typedef int (*fexit_ringbuf_sample_fn)(void *ctx, const void *data, size_t size);

FEXIT_API int fexit_ringbuf_new(int map_fd, fexit_ringbuf_sample_fn fn, void *ctx,
                                struct fexit_ringbuf **ret);
/* An epoll fd that becomes readable when records are available, for the caller's event loop. */
FEXIT_API int fexit_ringbuf_epoll_fd(const struct fexit_ringbuf *rb);
/* Waits up to timeout_ms (-1: forever) for records and consumes them; returns their number. */
FEXIT_API int fexit_ringbuf_poll(struct fexit_ringbuf *rb, int timeout_ms);
/* Consumes what is available without waiting; returns the number of records. */
FEXIT_API int fexit_ringbuf_consume(struct fexit_ringbuf *rb);
FEXIT_API struct fexit_ringbuf *fexit_ringbuf_free(struct fexit_ringbuf *rb);

#ifdef __cplusplus
}
#endif
