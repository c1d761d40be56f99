/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "common/macro.h"
#include "daemon/bb-util.h"
#include "daemon/bpf-backend.h"
#include "daemon/bpf-multi.h"
#include "daemon/btf-index.h"

#define OBJECT_SIZE_MAX (64u << 20)
#define LOG_TAIL_MAX (16u << 10)
#define INSTANCE_LOG_MIN (64u << 10)
#define INSTANCE_LOG_MAX (16u << 20)

static inline uint64_t ptr_to_u64(const void *p) {
        return (uint64_t) (uintptr_t) p;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct btf_index *, btf_index_unref);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct btf *, btf__free);
DEFINE_TRIVIAL_CLEANUP_FUNC(Elf *, elf_end);

/* Errors ------------------------------------------------------------------------------------ */

void bb_error_clear(struct bb_error *e) {
        if (!e)
                return;
        free(e->operation);
        free(e->program);
        free(e->function);
        free(e->message);
        free(e->log);
        for (size_t i = 0; i < BB_SUGGESTIONS_MAX; i++)
                free(e->suggestions[i]);
        *e = (struct bb_error) {};
}

static void set_str(char **dst, const char *s) {
        free(*dst);
        *dst = s ? strdup(s) : NULL;
}

/* Records a failure in e (if any) and returns r. Only kernel and verifier errors carry an errno:
 * the others are found before the kernel sees anything. Set operation and log afterwards. */
_printf_(6, 7)
static int fail(struct bb_error *e, enum bb_error_kind kind, int r, const char *program,
                const char *function, const char *fmt, ...) {
        va_list ap;

        if (!e)
                return r;
        bb_error_clear(e);
        e->kind = kind;
        e->err = kind == BB_ERR_VERIFIER || kind == BB_ERR_KERNEL ? -r : 0;
        set_str(&e->program, program);
        set_str(&e->function, function);
        va_start(ap, fmt);
        if (vasprintf(&e->message, fmt, ap) < 0)
                e->message = NULL;
        va_end(ap);
        return r;
}

static void set_operation(struct bb_error *e, const char *op) {
        if (e)
                set_str(&e->operation, op);
}

/* The last LOG_TAIL_MAX bytes of a log, starting at a line. */
static char *log_tail(const char *log) {
        size_t n = strlen(log);
        const char *p = log;

        if (n > LOG_TAIL_MAX) {
                const char *nl;

                p = log + n - LOG_TAIL_MAX;
                nl = strchr(p, '\n');
                if (nl && nl[1])
                        p = nl + 1;
        }
        return strdup(p);
}

static void set_log(struct bb_error *e, const char *log) {
        if (!e || !log || !*log)
                return;
        free(e->log);
        e->log = log_tail(log);
}

/* Why the kernel said no, in words an operator can act on. */
static const char *errno_hint(int err) {
        switch (err) {
        case EPERM:
                return "the kernel refused (EPERM): loading and attaching fexit programs needs "
                       "CAP_BPF and CAP_PERFMON, and a kernel lockdown, LSM or hypervisor policy can "
                       "forbid fexit programs altogether";
        case EACCES:
                return "permission denied (EACCES)";
        case EBUSY:
                return "the function cannot be traced (notrace, or not patchable by ftrace) or this "
                       "program is already attached (EBUSY)";
        case E2BIG:
                return "too many programs or arguments for one trampoline (E2BIG)";
        case ENOMEM:
                return "out of kernel memory or memlock limit (ENOMEM)";
        case ENOTSUP:
        case 524: /* ENOTSUPP, kernel internal */
                return "not supported by this kernel";
        default:
                return NULL;
        }
}

/* libbpf's messages, captured per thread ----------------------------------------------------- */

struct capture {
        char *tail;               /* warnings and infos, the last LOG_TAIL_MAX bytes */
        size_t n_tail;
        char *vlog;               /* the last verifier log libbpf printed */
        char vprog[64];           /* ... and its program */
        char prog[64];            /* the last program a warning named */
        char first[512];          /* the first warning, one line: usually the cause */
};

static __thread struct capture *tl_capture;
static bb_log_func_t log_func;

static void tail_append(struct capture *c, const char *s) {
        size_t len = strlen(s);

        if (!c->tail && !(c->tail = malloc(LOG_TAIL_MAX + 1)))
                return;
        if (len > LOG_TAIL_MAX) {
                s += len - LOG_TAIL_MAX;
                len = LOG_TAIL_MAX;
        }
        if (c->n_tail + len > LOG_TAIL_MAX) {
                size_t drop = c->n_tail + len - LOG_TAIL_MAX;

                memmove(c->tail, c->tail + drop, c->n_tail - drop);
                c->n_tail -= drop;
        }
        memcpy(c->tail + c->n_tail, s, len);
        c->n_tail += len;
        c->tail[c->n_tail] = '\0';
}

/* libbpf 1.1 retries a failed load with a log and prints it in one message between these. */
static void capture_verifier_log(struct capture *c, const char *msg) {
        static const char begin[] = "-- BEGIN PROG LOAD LOG --\n", end[] = "-- END PROG LOAD LOG --";
        const char *b = strstr(msg, begin), *p;
        _cleanup_free_ char *log = NULL;

        if (!b)
                return;
        p = strstr(msg, "prog '");
        if (p)
                sscanf(p, "prog '%63[^']'", c->vprog);
        b += strlen(begin);
        p = strstr(b, end);
        log = strndup(b, p ? (size_t) (p - b) : strlen(b));
        free(c->vlog);
        c->vlog = log ? log_tail(log) : NULL;
}

static void capture_message(struct capture *c, const char *msg) {
        const char *p = strstr(msg, "prog '"), *m = msg;

        if (p)
                sscanf(p, "prog '%63[^']'", c->prog);
        if (strstr(msg, "-- BEGIN PROG LOAD LOG --")) {
                capture_verifier_log(c, msg);
                return;
        }
        tail_append(c, msg);
        if (strncmp(m, "libbpf: ", 8) == 0)
                m += 8;
        if (!*c->first)
                snprintf(c->first, sizeof(c->first), "%.*s", (int) strcspn(m, "\n"), m);
}

static int print_cb(enum libbpf_print_level level, const char *fmt, va_list ap) {
        bb_log_func_t fn = __atomic_load_n(&log_func, __ATOMIC_RELAXED);
        struct capture *c = tl_capture;
        _cleanup_free_ char *msg = NULL;

        if (!fn && (!c || level == LIBBPF_DEBUG))
                return 0;
        if (vasprintf(&msg, fmt, ap) < 0)
                return 0;
        if (fn)
                fn(level, msg);
        if (c && level != LIBBPF_DEBUG)
                capture_message(c, msg);
        return 0;
}

void bb_set_log_func(bb_log_func_t fn) {
        __atomic_store_n(&log_func, fn, __ATOMIC_RELAXED);
}

static void init_once(void) {
        (void) elf_version(EV_CURRENT);
        libbpf_set_print(print_cb);
}

static void backend_init(void) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;

        pthread_once(&once, init_once);
}

static void capture_start(struct capture *c) {
        *c = (struct capture) {};
        tl_capture = c;
}

static void capture_stop(struct capture *c) {
        if (tl_capture == c)
                tl_capture = NULL;
}

static void capture_done(struct capture *c) {
        capture_stop(c);
        free(c->tail);
        free(c->vlog);
}

/* Reading and checking the object ------------------------------------------------------------ */

static int read_object(int fd, char **ret, size_t *ret_size, struct bb_error *e) {
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t n = 0;

        if (fd < 0 || fstat(fd, &st) < 0)
                return fail(e, BB_ERR_INVALID_OBJECT, fd < 0 ? -EBADF : -errno, NULL, NULL,
                            "the object's file descriptor is not valid");
        if (!S_ISREG(st.st_mode))
                return fail(e, BB_ERR_INVALID_OBJECT, -EBADFD, NULL, NULL,
                            "the object must be passed as a regular file or memfd");
        if ((uint64_t) st.st_size > OBJECT_SIZE_MAX)
                return fail(e, BB_ERR_INVALID_OBJECT, -EFBIG, NULL, NULL,
                            "the object is larger than %u MiB", OBJECT_SIZE_MAX >> 20);
        buf = malloc(st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (n < (size_t) st.st_size) {       /* pread: the client's file offset stays as it was */
                ssize_t k = pread(fd, buf + n, st.st_size - n, n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return fail(e, BB_ERR_INVALID_OBJECT, -errno, NULL, NULL,
                                    "cannot read the object: %s", strerror(errno));
                if (k == 0)
                        break;
                n += k;
        }
        *ret = TAKE_PTR(buf);
        *ret_size = n;
        return 0;
}

/* Checks that every section lies inside the file (libelf does not, for memory images) and copies
 * the "license" section: instances loaded with bpf_prog_load() need the same one. */
/* libbpf 1.1 trusts an object's BTF: a name offset out of range reaches strcmp() as NULL
 * (find_extern_btf_id(), libbpf#682; validated only from libbpf 1.3). So every name a type,
 * member, parameter, enumerator or variable points at must resolve before libbpf sees it. */
static bool btf_name_ok(const struct btf *btf, uint32_t off) {
        return btf__name_by_offset(btf, off) != NULL;
}

static bool btf_type_names_ok(const struct btf *btf, const struct btf_type *t) {
        uint16_t vlen = btf_vlen(t);

        if (!btf_name_ok(btf, t->name_off))
                return false;
        switch (btf_kind(t)) {
        case BTF_KIND_STRUCT:
        case BTF_KIND_UNION:
                for (uint16_t i = 0; i < vlen; i++)
                        if (!btf_name_ok(btf, btf_members(t)[i].name_off))
                                return false;
                return true;
        case BTF_KIND_ENUM:
                for (uint16_t i = 0; i < vlen; i++)
                        if (!btf_name_ok(btf, btf_enum(t)[i].name_off))
                                return false;
                return true;
        case BTF_KIND_ENUM64:
                for (uint16_t i = 0; i < vlen; i++)
                        if (!btf_name_ok(btf, btf_enum64(t)[i].name_off))
                                return false;
                return true;
        case BTF_KIND_FUNC_PROTO:
                for (uint16_t i = 0; i < vlen; i++)
                        if (!btf_name_ok(btf, btf_params(t)[i].name_off))
                                return false;
                return true;
        default:
                return true;
        }
}

static int check_btf_section(const void *data, size_t size) {
        struct btf *btf = btf__new(data, (uint32_t) size);
        int r = 0;

        if (!btf || size > UINT32_MAX)
                return -EBADMSG;
        for (uint32_t id = 1; id < btf__type_cnt(btf) && r == 0; id++)
                if (!btf_type_names_ok(btf, btf__type_by_id(btf, id)))
                        r = -EBADMSG;
        btf__free(btf);
        return r;
}

/* Every section must lie inside the file, .BTF must be sound, and the license is returned. */
static int elf_sections(Elf *elf, size_t size, char **ret) {
        _cleanup_free_ char *license = NULL;
        Elf_Scn *scn = NULL;
        size_t shstrndx;

        if (elf_getshdrstrndx(elf, &shstrndx) < 0)
                return -EBADMSG;
        while ((scn = elf_nextscn(elf, scn))) {
                GElf_Shdr sh;
                const char *name;
                Elf_Data *d;

                if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstrndx, sh.sh_name)))
                        return -EBADMSG;
                if (sh.sh_type != SHT_NOBITS && (sh.sh_offset > size || sh.sh_size > size - sh.sh_offset))
                        return -EBADMSG;
                if (strcmp(name, ".BTF") == 0) {
                        d = elf_rawdata(scn, NULL);
                        if (!d || !d->d_buf || check_btf_section(d->d_buf, d->d_size) < 0)
                                return -EBADMSG;
                }
                if (strcmp(name, "license") != 0 || license)
                        continue;
                d = elf_rawdata(scn, NULL);
                if (!d || !d->d_buf || d->d_size == 0 || !memchr(d->d_buf, 0, d->d_size))
                        return -EBADMSG;
                license = strdup(d->d_buf);
                if (!license)
                        return -ENOMEM;
        }
        *ret = license ? TAKE_PTR(license) : strdup("");   /* libbpf's default, too */
        return *ret ? 0 : -ENOMEM;
}

static int check_elf(char *buf, size_t size, char **ret_license, struct bb_error *e) {
        _cleanup_(elf_endp) Elf *elf = NULL;
        size_t n_sections = 0;
        GElf_Ehdr eh;

        if (size < EI_NIDENT || memcmp(buf, ELFMAG, SELFMAG) != 0)
                return fail(e, BB_ERR_INVALID_OBJECT, -ENOEXEC, NULL, NULL,
                            "not an ELF file (bad magic)");
        if (buf[EI_CLASS] != ELFCLASS64)
                return fail(e, BB_ERR_INVALID_OBJECT, -ENOEXEC, NULL, NULL,
                            "not a 64-bit ELF object: BPF objects are ELFCLASS64");
        /* Refused before libelf sees it: converting byte order could rewrite the buffer. */
        if (buf[EI_DATA] != (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB))
                return fail(e, BB_ERR_INVALID_OBJECT, -ENOEXEC, NULL, NULL,
                            "the object's byte order does not match this machine (bpfel/bpfeb)");
        elf = elf_memory(buf, size);
        if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh))
                return fail(e, BB_ERR_INVALID_OBJECT, -ENOEXEC, NULL, NULL,
                            "corrupt ELF object: %s", elf_errmsg(-1));
        if (eh.e_machine != EM_BPF)
                return fail(e, BB_ERR_INVALID_OBJECT, -ENOEXEC, NULL, NULL,
                            "not a BPF object: ELF machine is %u, expected EM_BPF (%u)",
                            eh.e_machine, EM_BPF);
        if (eh.e_type != ET_REL)
                return fail(e, BB_ERR_INVALID_OBJECT, -ENOEXEC, NULL, NULL,
                            "not a relocatable BPF object (ELF type %u): pass the .bpf.o clang wrote",
                            eh.e_type);
        if (eh.e_shoff == 0 || eh.e_shoff > size ||
            (uint64_t) eh.e_shnum * eh.e_shentsize > size - eh.e_shoff ||
            elf_getshdrnum(elf, &n_sections) < 0 || n_sections < 2)
                return fail(e, BB_ERR_INVALID_OBJECT, -EBADMSG, NULL, NULL,
                            "corrupt ELF object: the section table is missing or truncated");
        if (elf_sections(elf, size, ret_license) < 0)
                return fail(e, BB_ERR_INVALID_OBJECT, -EBADMSG, NULL, NULL,
                            "corrupt ELF object: a section lies outside the file or the license "
                            "section is not a string");
        return 0;
}

/* Planning: which program instance goes where ------------------------------------------------ */

struct tprog {                    /* a loaded BPF program to attach to */
        uint32_t id;
        int fd;
        struct btf_index *idx;    /* its functions */
};

struct target {
        char *function;
        uint32_t btf_id;
        const char *btf_object;   /* owned by an index the load holds */
        struct tprog *tprog;      /* NULL: a kernel function */
};

struct plan {
        struct bpf_program *prog;
        bool sleepable;
        bool want_multi;          /* given `functions` or a fexit.multi/ section */
        struct target *targets;
        size_t n_targets, n_alloc;
        const struct btf_func **seen; /* set of the targets' index entries: a power of two */
        size_t n_seen_slots;
};

struct module_fd {
        char *name;
        int fd;
};

struct load_ctx {
        const struct bb_load_request *req;
        struct bb_error *err;
        struct btf_index *sys;
        char *buf;
        size_t size;
        char *license;
        struct bpf_object *obj;
        struct plan *plans;
        size_t n_plans, n_instances;
        struct tprog **tprogs;
        size_t n_tprogs;
        struct module_fd *mods;
        size_t n_mods;
        struct bb_load_result res;
};

static void load_ctx_done(struct load_ctx *c) {
        for (size_t i = 0; i < c->n_plans; i++) {
                for (size_t j = 0; j < c->plans[i].n_targets; j++)
                        free(c->plans[i].targets[j].function);
                free(c->plans[i].targets);
                free(c->plans[i].seen);
        }
        free(c->plans);
        for (size_t i = 0; i < c->n_tprogs; i++) {
                safe_close(c->tprogs[i]->fd);
                btf_index_unref(c->tprogs[i]->idx);
                free(c->tprogs[i]);
        }
        free(c->tprogs);
        for (size_t i = 0; i < c->n_mods; i++) {
                safe_close(c->mods[i].fd);
                free(c->mods[i].name);
        }
        free(c->mods);
        bpf_object__close(c->obj);
        btf_index_unref(c->sys);
        free(c->buf);
        free(c->license);
        bb_load_result_free(&c->res);
}

static bool is_fexit(const struct bpf_program *p) {
        return bpf_program__type(p) == BPF_PROG_TYPE_TRACING &&
               bpf_program__expected_attach_type(p) == BPF_TRACE_FEXIT;
}

/* "fexit/do_unlinkat" and "fexit.s/do_unlinkat" name do_unlinkat; "fexit" names nothing. */
static const char *section_function(const struct bpf_program *p) {
        const char *s = strchr(bpf_program__section_name(p), '/');

        return s && s[1] ? s + 1 : NULL;
}

static bool section_sleepable(const char *section) {
        bool sleepable;

        if (bb_multi_section(section, &sleepable))
                return sleepable;
        return strncmp(section, "fexit.s", 7) == 0;
}

static struct plan *plan_find(struct load_ctx *c, const char *name) {
        for (size_t i = 0; name && i < c->n_plans; i++)
                if (strcmp(bpf_program__name(c->plans[i].prog), name) == 0)
                        return &c->plans[i];
        return NULL;
}

static int plan_get(struct load_ctx *c, struct bpf_program *p, struct plan **ret) {
        struct plan *v = plan_find(c, bpf_program__name(p));

        if (!v) {
                v = reallocarray(c->plans, c->n_plans + 1, sizeof(*v));
                if (!v)
                        return -ENOMEM;
                c->plans = v;
                v = &c->plans[c->n_plans++];
                *v = (struct plan) { .prog = p,
                                     .sleepable = section_sleepable(bpf_program__section_name(p)) };
        }
        *ret = v;
        return 0;
}

static int skipped_add(struct load_ctx *c, const char *function, const char *reason) {
        struct bb_skipped *v;

        for (size_t i = 0; i < c->res.n_skipped; i++)
                if (strcmp(c->res.skipped[i].function, function) == 0)
                        return 0;
        v = reallocarray(c->res.skipped, c->res.n_skipped + 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        c->res.skipped = v;
        v = &c->res.skipped[c->res.n_skipped];
        *v = (struct bb_skipped) { .function = strdup(function), .reason = strdup(reason) };
        c->res.n_skipped++;
        return v->function && v->reason ? 0 : -ENOMEM;
}

/* Why fexitd will not attach to f, as a negative errno and a reason; 0 if it will. */
static int exclusion(const struct btf_func *f, bool kernel, char *reason, size_t size) {
        const char *deny = kernel ? btf_func_deny_reason(f->name) : NULL;

        if (deny) {
                snprintf(reason, size, "%s is on fexitd's deny list: %s", f->name, deny);
                return -EACCES;
        }
        if (f->traceable == 0) {
                snprintf(reason, size, "%s cannot be traced: notrace, inlined, or not patchable by "
                         "ftrace (it is not in available_filter_functions)", f->name);
                return -EBUSY;
        }
        return btf_func_check_args(f, btf_kernel_version(), bb_features()->max_args, reason, size);
}

/* A multi-link program on a kernel that has them: its targets are not instances (yet). */
static bool plan_multi_wanted(const struct load_ctx *c, const struct plan *pl) {
        return c->req->multi_link && pl->want_multi;
}

static int fail_too_many(struct load_ctx *c, const struct plan *pl, const char *function) {
        bool multi = plan_multi_wanted(c, pl);
        unsigned max = multi ? BB_MULTI_FUNCTIONS_MAX : BB_INSTANCES_MAX;
        int r;

        r = fail(c->err, BB_ERR_LIMIT_EXCEEDED, -E2BIG, bpf_program__name(pl->prog), function,
                 multi ? "more than %u functions in one multi-link program" :
                         "more than %u program instances in one load", max);
        set_operation(c->err, multi ? "functions" : "instances");
        if (c->err)
                c->err->limit_max = max;
        return r;
}

static size_t seen_slot(const struct plan *pl, const struct btf_func *f) {
        size_t s = ((uintptr_t) f >> 4) * 0x9e3779b97f4a7c15ULL;

        for (s &= pl->n_seen_slots - 1; pl->seen[s] && pl->seen[s] != f; s = (s + 1) & (pl->n_seen_slots - 1))
                ;
        return s;
}

/* Adds f to the plan's set of targets; 1 if it was there already. An index entry is one function
 * of one BTF object, and each plan's targets come from one index (vmlinux and modules, or one
 * BPF program's), so the entry's address identifies the target: "vfs_read" and "vfs_*" give one
 * instance, and tens of thousands of glob matches cost no quadratic scan. */
static int seen_add(struct plan *pl, const struct btf_func *f) {
        size_t s;

        if (2 * (pl->n_targets + 1) > pl->n_seen_slots) {
                const struct btf_func **old = pl->seen;
                size_t n_old = pl->n_seen_slots, n = n_old ? 2 * n_old : 64;

                pl->seen = calloc(n, sizeof(*pl->seen));
                if (!pl->seen) {
                        pl->seen = old;
                        return -ENOMEM;
                }
                pl->n_seen_slots = n;
                for (size_t i = 0; i < n_old; i++)
                        if (old[i])
                                pl->seen[seen_slot(pl, old[i])] = old[i];
                free(old);
        }
        s = seen_slot(pl, f);
        if (pl->seen[s])
                return 1;
        pl->seen[s] = f;
        return 0;
}

static int targets_grow(struct plan *pl) {
        struct target *v;
        size_t n;

        if (pl->n_targets < pl->n_alloc)
                return 0;
        n = pl->n_alloc ? 2 * pl->n_alloc : 4;
        v = reallocarray(pl->targets, n, sizeof(*v));
        if (!v)
                return -ENOMEM;
        pl->targets = v;
        pl->n_alloc = n;
        return 0;
}

static int plan_add_target(struct load_ctx *c, struct plan *pl, const struct btf_index *idx,
                           const struct btf_func *f, struct tprog *tp) {
        const char *obj = btf_index_object_name(idx, f->obj);
        struct target *v;
        int r;

        if (plan_multi_wanted(c, pl) ? pl->n_targets >= BB_MULTI_FUNCTIONS_MAX :
                                       c->n_instances >= BB_INSTANCES_MAX)
                return pl->n_seen_slots && pl->seen[seen_slot(pl, f)] ? 0 : fail_too_many(c, pl, f->name);
        r = seen_add(pl, f);
        if (r != 0)
                return r < 0 ? r : 0;
        r = targets_grow(pl);
        if (r < 0)
                return r;
        v = pl->targets;
        v[pl->n_targets] = (struct target) { .function = strdup(f->name), .btf_id = f->btf_id,
                                             .btf_object = obj, .tprog = tp };
        if (!v[pl->n_targets].function)
                return -ENOMEM;
        pl->n_targets++;
        c->n_instances += !plan_multi_wanted(c, pl);
        return 0;
}

/* An unknown name, with the closest names of the same index as suggestions. */
static int fail_no_such_function(struct bb_error *e, const struct btf_index *idx, const char *prog,
                                 uint32_t tprog_id, const char *name) {
        const char *s[BB_SUGGESTIONS_MAX];
        size_t n = btf_index_suggest(idx, name, s, BB_SUGGESTIONS_MAX);
        int r;

        if (tprog_id)
                r = fail(e, BB_ERR_NO_SUCH_FUNCTION, -ESRCH, prog, name,
                         "BPF program %u has no function %s", tprog_id, name);
        else
                r = fail(e, BB_ERR_NO_SUCH_FUNCTION, -ESRCH, prog, name,
                         "no function %s in the kernel's BTF (vmlinux and loaded modules)", name);
        for (size_t i = 0; e && i < n; i++)
                e->suggestions[i] = strdup(s[i]);
        return r;
}

/* A glob leaves out names of several kernel symbols: the kernel attaches by name to the first,
 * which may be a copy ftrace cannot patch; with a multi-link that fails all the functions. A name
 * asked for explicitly is tried anyway. */
static int ambiguity(const struct btf_func *f, char *reason, size_t size) {
        if (f->ksyms <= 1)
                return 0;
        snprintf(reason, size, "%s names %u kernel symbols: the kernel attaches to the first by "
                 "name, which may not be the one its BTF describes", f->name, f->ksyms);
        return -ENOTUNIQ;
}

static int plan_add_glob(struct load_ctx *c, struct plan *pl, const struct btf_index *idx,
                         struct tprog *tp, const char *pattern) {
        _cleanup_free_ const struct btf_func **v = NULL;
        char reason[256], first[256] = "";
        size_t n = 0, usable = 0;
        int r;

        r = btf_index_glob(idx, pattern, &v, &n);
        if (r < 0)
                return r;
        if (n == 0)
                return fail(c->err, BB_ERR_NO_SUCH_FUNCTION, -ESRCH, bpf_program__name(pl->prog),
                            pattern, "no function matches %s", pattern);
        for (size_t i = 0; i < n; i++) {
                r = exclusion(v[i], !tp, reason, sizeof(reason));
                if (r >= 0 && !tp)
                        r = ambiguity(v[i], reason, sizeof(reason));
                if (r < 0) {
                        if (!*first)
                                snprintf(first, sizeof(first), "%s", reason);
                        r = skipped_add(c, v[i]->name, reason);
                } else {
                        usable++;
                        r = plan_add_target(c, pl, idx, v[i], tp);
                }
                if (r < 0)
                        return r;
        }
        if (usable == 0)
                return fail(c->err, BB_ERR_FUNCTION_DENIED, -EACCES, bpf_program__name(pl->prog),
                            pattern, "every function matching %s is excluded; %s", pattern, first);
        return 0;
}

/* Refused from BTF and the probed trampoline limit, before the kernel sees the program: 6.1
 * would load it and refuse only at attach, with a bare ENOTSUPP. */
static int fail_too_many_args(struct bb_error *e, const char *prog, const struct btf_func *f,
                              const char *reason) {
        int r = fail(e, BB_ERR_TOO_MANY_ARGS, -ERANGE, prog, f->name, "%s", reason);

        if (e) {
                e->n_args = f->nr_regs;
                e->limit_max = bb_features()->max_args;
        }
        return r;
}

static int plan_add_name(struct load_ctx *c, struct plan *pl, struct tprog *tp, const char *name) {
        const struct btf_index *idx = tp ? tp->idx : c->sys;
        const struct btf_func *f;
        char reason[256];
        int r;

        if (btf_glob_is_pattern(name))
                return plan_add_glob(c, pl, idx, tp, name);
        f = btf_index_lookup(idx, name);
        if (!f)
                return fail_no_such_function(c->err, idx, bpf_program__name(pl->prog),
                                             tp ? tp->id : 0, name);
        r = exclusion(f, !tp, reason, sizeof(reason));
        if (r == -ERANGE)
                return fail_too_many_args(c->err, bpf_program__name(pl->prog), f, reason);
        if (r < 0)
                return fail(c->err, BB_ERR_FUNCTION_DENIED, r, bpf_program__name(pl->prog), name,
                            "%s", reason);
        return plan_add_target(c, pl, idx, f, tp);
}

static int tprog_open(struct load_ctx *c, uint32_t id, const char *prog, int *ret_fd,
                      struct bpf_prog_info *ret_info) {
        _cleanup_close_ int fd = bpf_prog_get_fd_by_id(id);
        uint32_t len = sizeof(*ret_info);
        int r;

        if (fd < 0) {
                r = fail(c->err, BB_ERR_KERNEL, fd, prog, NULL, "%s",
                         fd == -ENOENT ? "no loaded BPF program has this id" :
                         fd == -EPERM ? "opening a BPF program by id needs CAP_SYS_ADMIN" :
                                        "cannot open the BPF program to attach to");
                set_operation(c->err, "open target program");
                return r;
        }
        *ret_info = (struct bpf_prog_info) {};
        r = bpf_obj_get_info_by_fd(fd, ret_info, &len);
        if (r < 0) {
                r = fail(c->err, BB_ERR_KERNEL, r, prog, NULL, "cannot read BPF program %u's info", id);
                set_operation(c->err, "open target program");
                return r;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Opens the program to attach to, once per load, with an index of its functions. */
static int tprog_get(struct load_ctx *c, uint32_t id, const char *prog, const char *function,
                     struct tprog **ret) {
        _cleanup_(btf_index_unrefp) struct btf_index *idx = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct bpf_prog_info info;
        struct tprog **v, *t;
        struct btf *btf;
        int r;

        for (size_t i = 0; i < c->n_tprogs; i++)
                if (c->tprogs[i]->id == id)
                        return *ret = c->tprogs[i], 0;
        r = tprog_open(c, id, prog, &fd, &info);
        if (r < 0)
                return r;
        if (info.type == BPF_PROG_TYPE_TRACING)
                return fail(c->err, BB_ERR_FUNCTION_DENIED, -EINVAL, prog, function,
                            "BPF program %u is itself an fentry/fexit program: the kernel refuses "
                            "to attach fexit to it (cannot recursively attach)", id);
        if (info.btf_id == 0)
                return fail(c->err, BB_ERR_FUNCTION_DENIED, -EINVAL, prog, function,
                            "BPF program %u has no BTF: fexit needs it to find its functions", id);
        btf = btf__load_from_kernel_by_id(info.btf_id);
        if (!btf) {
                r = fail(c->err, BB_ERR_KERNEL, -errno, prog, function,
                         "cannot read the BTF of BPF program %u", id);
                set_operation(c->err, "load target program BTF");
                return r;
        }
        idx = btf_index_new();
        if (!idx) {
                btf__free(btf);
                return -ENOMEM;
        }
        r = btf_index_add_btf(idx, "bpf", btf, true);
        if (r >= 0)
                r = btf_index_seal(idx);
        if (r < 0)
                return r;
        v = reallocarray(c->tprogs, c->n_tprogs + 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        c->tprogs = v;
        t = malloc(sizeof(*t));
        if (!t)
                return -ENOMEM;
        *t = (struct tprog) { .id = id, .fd = TAKE_FD(fd), .idx = TAKE_PTR(idx) };
        c->tprogs[c->n_tprogs++] = t;
        *ret = t;
        return 0;
}

static int plan_select(struct load_ctx *c, const struct bb_select *s) {
        struct bpf_program *p = s->name ? bpf_object__find_program_by_name(c->obj, s->name) : NULL;
        struct tprog *tp = NULL;
        const char *sec_fn;
        struct plan *pl;
        int r;

        if (!p)
                return fail(c->err, BB_ERR_NO_SUCH_PROGRAM, -ENOENT, s->name, NULL,
                            "the object has no program named %s", s->name ? s->name : "(null)");
        if (!is_fexit(p))
                return fail(c->err, BB_ERR_NO_SUCH_PROGRAM, -ENOENT, s->name, NULL,
                            "program %s is not an fexit program (section %s)", s->name,
                            bpf_program__section_name(p));
        r = plan_get(c, p, &pl);
        if (r >= 0 && (s->n_functions > 0 || bb_multi_section(bpf_program__section_name(p), &(bool) {0})))
                pl->want_multi = true;
        if (r >= 0 && s->target_prog_id)
                r = tprog_get(c, s->target_prog_id, s->name, s->function, &tp);
        if (r >= 0 && s->function)
                r = plan_add_name(c, pl, tp, s->function);
        for (size_t i = 0; r >= 0 && s->functions && i < s->n_functions; i++)
                r = plan_add_name(c, pl, tp, s->functions[i]);
        if (r < 0 || s->function || s->n_functions > 0)
                return r;
        sec_fn = section_function(p);
        if (!sec_fn)
                return fail(c->err, BB_ERR_NO_SUCH_FUNCTION, -ESRCH, s->name, "",
                            "program %s names no function (section %s): select one", s->name,
                            bpf_program__section_name(p));
        return plan_add_name(c, pl, tp, sec_fn);
}

/* No selection: every fexit program, each to the function its section names. */
static int plan_all(struct load_ctx *c) {
        struct bpf_program *p;

        bpf_object__for_each_program(p, c->obj) {
                struct bb_select s = { .name = bpf_program__name(p) };
                int r;

                if (!is_fexit(p))
                        continue;
                r = plan_select(c, &s);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int plan_load(struct load_ctx *c) {
        const struct bb_load_request *req = c->req;
        struct bpf_program *p;
        bool any = false;
        int r = 0;

        bpf_object__for_each_program(p, c->obj)
                any = any || is_fexit(p);
        if (!any)
                return fail(c->err, BB_ERR_NO_FEXIT_PROGRAMS, -ENOENT, NULL, NULL,
                            "the object has no fexit program (section fexit/, fexit.s/ or fexit.multi/)");
        if (!req->select || req->n_select == 0)
                r = plan_all(c);
        for (size_t i = 0; r >= 0 && req->select && i < req->n_select; i++)
                r = plan_select(c, &req->select[i]);
        if (r < 0)
                return r;
        bpf_object__for_each_program(p, c->obj)      /* only what was asked for goes in */
                bpf_program__set_autoload(p, plan_find(c, bpf_program__name(p)) != NULL);
        return 0;
}

/* Loading ------------------------------------------------------------------------------------ */

/* libbpf 1.1 does not know fexit.multi/ sections and leaves their type unset. They load as
 * fexit programs (on the first target: libbpf relocates them there), then again as one
 * multi-link program where the kernel has them (load_multi()). */
static int prepare_multi_sections(struct bpf_object *obj) {
        struct bpf_program *p;

        bpf_object__for_each_program(p, obj) {
                bool sleepable;
                int r;

                if (!bb_multi_section(bpf_program__section_name(p), &sleepable))
                        continue;
                r = bpf_program__set_type(p, BPF_PROG_TYPE_TRACING);
                if (r >= 0)
                        r = bpf_program__set_expected_attach_type(p, BPF_TRACE_FEXIT);
                if (r >= 0 && sleepable)
                        r = bpf_program__set_flags(p, bpf_program__flags(p) | BPF_F_SLEEPABLE);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int open_object(struct load_ctx *c) {
        const char *name = c->req->object_name ? c->req->object_name : "fexitd";
        LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = name);
        _cleanup_(capture_done) struct capture cap = {};
        int r;

        capture_start(&cap);
        c->obj = bpf_object__open_mem(c->buf, c->size, &opts);
        capture_stop(&cap);
        if (c->obj)
                return prepare_multi_sections(c->obj);
        r = fail(c->err, BB_ERR_INVALID_OBJECT, -errno, NULL, NULL, "libbpf cannot open the object%s%s",
                 *cap.first ? ": " : "", cap.first);
        set_log(c->err, cap.tail);
        return r;
}

/* The first instance of each program goes through libbpf, which resolves the function again
 * (it checked out in our index) and relocates CO-RE against the running kernel. */
static int set_targets(struct load_ctx *c) {
        for (size_t i = 0; i < c->n_plans; i++) {
                struct plan *pl = &c->plans[i];
                const struct target *t = &pl->targets[0];
                _cleanup_(capture_done) struct capture cap = {};
                int r;

                capture_start(&cap);
                r = bpf_program__set_attach_target(pl->prog, t->tprog ? t->tprog->fd : 0, t->function);
                capture_stop(&cap);
                if (r >= 0)
                        continue;
                r = fail(c->err, BB_ERR_KERNEL, r, bpf_program__name(pl->prog), t->function, "%s",
                         r == -EPERM ? "libbpf 1.1 needs CAP_SYS_ADMIN to look up module functions "
                                       "(it walks module BTF by id)" :
                                       "libbpf cannot resolve the function");
                set_operation(c->err, "resolve");
                set_log(c->err, cap.tail);
                return r;
        }
        return 0;
}

/* The verifier ends with statistics; the reason is the line before them. From 7.x it may follow
 * the reason with sections, a header line ending in ':' ("Causal path:", "Suggestion:") and
 * indented lines under it: none of them is the reason; the suggestion is kept after it. */
static const char *last_useful_line(const char *log, char *buf, size_t size) {
        const char *p = log, *best = NULL, *hint = NULL;
        bool suggestion = false;

        for (const char *nl; p && *p; p = nl ? nl + 1 : NULL) {
                size_t len;

                nl = strchr(p, '\n');
                len = nl ? (size_t) (nl - p) : strlen(p);
                if (len == 0)
                        continue;
                if (strncmp(p, "processed ", 10) == 0 || strncmp(p, "verification time", 17) == 0 ||
                    strncmp(p, "stack depth", 11) == 0)
                        continue;
                if (*p == ' ' || *p == '\t') {
                        if (suggestion && best && !hint)
                                hint = p + strspn(p, " \t");
                        continue;
                }
                if (p[len - 1] == ':') {          /* a section header */
                        suggestion = strncmp(p, "Suggestion:", 11) == 0;
                        continue;
                }
                suggestion = false;
                best = p;
                hint = NULL;
        }
        if (!best)
                return "";
        if (hint)
                snprintf(buf, size, "%.*s (%.*s)", (int) strcspn(best, "\n"), best,
                         (int) strcspn(hint, "\n"), hint);
        else
                snprintf(buf, size, "%.*s", (int) strcspn(best, "\n"), best);
        return buf;
}

static int fail_verifier(struct bb_error *e, int r, const char *prog, const char *function,
                         const char *log) {
        char line[256];

        /* The kernel's own words (bpf_check_attach_target()): fexit.s/ on a function that is
         * neither error-injectable nor in a sleepable set. */
        if (strstr(log, " is not sleepable")) {
                r = fail(e, BB_ERR_NOT_SLEEPABLE, r, prog, function, "%s is not sleepable on this "
                         "kernel: fexit.s/ needs a function the kernel lets sleep", function ? function : "?");
                set_operation(e, "load");
                set_log(e, log);
                return r;
        }
        r = fail(e, BB_ERR_VERIFIER, r, prog, function, "the verifier rejected program %s for %s: %s",
                 prog, function ? function : "?", last_useful_line(log, line, sizeof(line)));
        set_operation(e, "load");
        set_log(e, log);
        return r;
}

static int fail_load(struct bb_error *e, int r, const char *prog, const char *function,
                     const char *detail, const char *log) {
        const char *hint = r > -__LIBBPF_ERRNO__START ? errno_hint(-r) : NULL;
        char buf[64];

        if (r <= -__LIBBPF_ERRNO__START) {             /* libbpf's own codes are not errnos */
                libbpf_strerror(r, buf, sizeof(buf));
                r = -EINVAL;
        } else
                snprintf(buf, sizeof(buf), "%s", strerror(-r));
        r = fail(e, BB_ERR_KERNEL, r, prog, function, "loading program %s for %s failed: %s%s%s",
                 prog ? prog : "?", function ? function : "?", hint ? hint : buf,
                 detail && *detail ? "; libbpf: " : "", detail ? detail : "");
        set_operation(e, "load");
        set_log(e, log);
        return r;
}

static int load_object(struct load_ctx *c) {
        _cleanup_(capture_done) struct capture cap = {};
        const struct plan *pl;
        const char *prog;
        int r;

        capture_start(&cap);
        r = bpf_object__load(c->obj);
        capture_stop(&cap);
        if (r >= 0)
                return 0;
        prog = cap.vlog ? cap.vprog : *cap.prog ? cap.prog : NULL;
        pl = plan_find(c, prog);
        if (!pl && c->n_plans == 1)
                pl = &c->plans[0];
        if (pl)
                prog = bpf_program__name(pl->prog);
        if (cap.vlog && *cap.vlog)
                return fail_verifier(c->err, r, prog, pl ? pl->targets[0].function : NULL, cap.vlog);
        return fail_load(c->err, r, prog, pl ? pl->targets[0].function : NULL, cap.first, cap.tail);
}

/* The BTF object fd of a module, for attach_btf_obj_fd. Walking BTF ids needs CAP_SYS_ADMIN. */
static int module_btf_fd(struct load_ctx *c, const char *module, int *ret) {
        struct module_fd *v;
        uint32_t id = 0;
        int r;

        for (size_t i = 0; i < c->n_mods; i++)
                if (strcmp(c->mods[i].name, module) == 0)
                        return *ret = c->mods[i].fd, 0;
        while ((r = bpf_btf_get_next_id(id, &id)) >= 0) {
                _cleanup_close_ int fd = bpf_btf_get_fd_by_id(id);
                char name[64] = "";
                struct bpf_btf_info info = { .name = ptr_to_u64(name), .name_len = sizeof(name) };
                uint32_t len = sizeof(info);

                if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
                        continue;                 /* gone meanwhile */
                if (!info.kernel_btf || strcmp(name, module) != 0)
                        continue;
                v = reallocarray(c->mods, c->n_mods + 1, sizeof(*v));
                if (!v)
                        return -ENOMEM;
                c->mods = v;
                v[c->n_mods] = (struct module_fd) { .name = strdup(module), .fd = TAKE_FD(fd) };
                *ret = v[c->n_mods++].fd;
                return 0;
        }
        return r == -ENOENT ? -ESRCH : r;
}

static int load_instance_once(struct load_ctx *c, const struct plan *pl,
                              struct bpf_prog_load_opts *o) {
        return bpf_prog_load(BPF_PROG_TYPE_TRACING, bpf_program__name(pl->prog), c->license,
                             bpf_program__insns(pl->prog), bpf_program__insn_cnt(pl->prog), o);
}

/* Loads the program again for another function: the instructions libbpf loaded (CO-RE done,
 * subprograms appended, map fds embedded, so the object must still be open). */
static int load_instance(struct load_ctx *c, const struct plan *pl, const struct target *t,
                         int *ret_fd) {
        const char *name = bpf_program__name(pl->prog);
        /* libbpf adds BPF_F_SLEEPABLE for fexit.s/ at load time, not to the program's flags. */
        LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_TRACE_FEXIT,
                    .attach_btf_id = t->btf_id,
                    .prog_flags = bpf_program__flags(pl->prog) | (pl->sleepable ? BPF_F_SLEEPABLE : 0),
                    .kern_version = bpf_object__kversion(c->obj));
        _cleanup_free_ char *log = NULL;
        int fd, r, obj_fd;

        if (t->tprog)
                o.attach_prog_fd = t->tprog->fd;
        else if (strcmp(t->btf_object, "vmlinux") != 0) {
                r = module_btf_fd(c, t->btf_object, &obj_fd);
                if (r < 0) {
                        r = fail(c->err, BB_ERR_KERNEL, r, name, t->function,
                                 "cannot open the BTF object of module %s: %s", t->btf_object,
                                 r == -EPERM ? "walking BTF objects by id needs CAP_SYS_ADMIN" :
                                 r == -ESRCH ? "the module is gone" : strerror(-r));
                        set_operation(c->err, "open module BTF");
                        return r;
                }
                o.attach_btf_obj_fd = obj_fd;
        }
        fd = load_instance_once(c, pl, &o);
        /* Like libbpf: load again with a log only when it failed, growing it if it was short. */
        for (size_t size = INSTANCE_LOG_MIN; fd < 0 && size <= INSTANCE_LOG_MAX; size *= 4) {
                r = fd;
                if (r == -ENOMEM && !log)
                        break;
                free(log);
                log = calloc(1, size);
                if (!log)
                        return -ENOMEM;
                o.log_buf = log;
                o.log_size = size;
                o.log_level = 1;
                fd = load_instance_once(c, pl, &o);
                if (fd != -ENOSPC)
                        break;
        }
        if (fd >= 0) {
                *ret_fd = fd;
                return 0;
        }
        /* the verifier says no with EACCES or EINVAL; EMFILE, ENOMEM... are not its verdict,
         * even though the retry with a log ran it to the end */
        if (log && *log && (fd == -EACCES || fd == -EINVAL))
                return fail_verifier(c->err, fd, name, t->function, log);
        return fail_load(c->err, fd, name, t->function, NULL, NULL);
}

/* Results ------------------------------------------------------------------------------------ */

void bb_load_result_free(struct bb_load_result *r) {
        if (!r)
                return;
        for (size_t i = 0; i < r->n_progs; i++) {
                safe_close(r->progs[i].fd);
                free(r->progs[i].name);
                free(r->progs[i].function);
                free(r->progs[i].btf_object);
                for (size_t k = 0; k < r->progs[i].n_functions; k++)
                        free(r->progs[i].functions[k]);
                free(r->progs[i].functions);
                free(r->progs[i].btf_ids);
        }
        for (size_t i = 0; i < r->n_maps; i++) {
                safe_close(r->maps[i].fd);
                free(r->maps[i].name);
        }
        for (size_t i = 0; i < r->n_skipped; i++) {
                free(r->skipped[i].function);
                free(r->skipped[i].reason);
        }
        free(r->progs);
        free(r->maps);
        free(r->skipped);
        free(r->multi_fallback);
        *r = (struct bb_load_result) {};
}

/* Takes fd: from here on the result closes it, also on failure. */
static int result_add_prog(struct load_ctx *c, const struct plan *pl, const struct target *t, int fd) {
        struct bpf_prog_info info = {};
        uint32_t len = sizeof(info);
        struct bb_prog *v;
        int r;

        v = reallocarray(c->res.progs, c->res.n_progs + 1, sizeof(*v));
        if (!v) {
                safe_close(fd);
                return -ENOMEM;
        }
        c->res.progs = v;
        v = &c->res.progs[c->res.n_progs++];
        *v = (struct bb_prog) { .fd = fd, .btf_id = t->btf_id, .sleepable = pl->sleepable,
                                .target_prog_id = t->tprog ? t->tprog->id : 0 };
        r = bpf_obj_get_info_by_fd(fd, &info, &len);
        if (r < 0)
                return r;
        v->id = info.id;
        if (info.attach_btf_id)
                v->btf_id = info.attach_btf_id;
        v->name = strdup(bpf_program__name(pl->prog));
        v->function = strdup(t->function);
        v->btf_object = strdup(t->btf_object);
        return v->name && v->function && v->btf_object ? 0 : -ENOMEM;
}

/* Loads the program once more, as a multi-link program for all its targets. A refusal is no error:
 * returns -EAGAIN with the reason in res.multi_fallback, and the caller loads instances. */
static bool plan_multi_possible(const struct load_ctx *c, const struct plan *pl, const char **ret_why) {
        for (size_t i = 0; i < pl->n_targets; i++) {
                if (pl->targets[i].tprog) {
                        *ret_why = "a multi-link attaches to kernel functions only, not to BPF programs";
                        return false;
                }
                if (strcmp(pl->targets[i].btf_object, pl->targets[0].btf_object) != 0) {
                        *ret_why = "a multi-link covers the functions of one BTF object (vmlinux or "
                                   "one module), these span several";
                        return false;
                }
        }
        return true;
}

static int multi_fallback(struct load_ctx *c, const struct plan *pl, const char *fmt, const char *why) {
        free(c->res.multi_fallback);
        if (asprintf(&c->res.multi_fallback, fmt, bpf_program__name(pl->prog), why) < 0) {
                c->res.multi_fallback = NULL;
                return -ENOMEM;
        }
        return -EAGAIN;
}

static int load_multi(struct load_ctx *c, const struct plan *pl, int btf_obj_fd, int *ret_fd) {
        uint32_t flags = bpf_program__flags(pl->prog) | (pl->sleepable ? BPF_F_SLEEPABLE : 0);
        const char *name = bpf_program__name(pl->prog);
        _cleanup_free_ char *log = NULL;
        char line[256], why[320];
        int fd;

        fd = bb_multi_prog_load(name, c->license, bpf_program__insns(pl->prog),
                                bpf_program__insn_cnt(pl->prog), flags, btf_obj_fd, NULL, 0);
        if (fd >= 0) {
                *ret_fd = fd;
                return 0;
        }
        if (fd == -ENOMEM)
                return fd;
        log = calloc(1, INSTANCE_LOG_MIN);    /* again with a log, for the reason */
        if (log)
                (void) bb_multi_prog_load(name, c->license, bpf_program__insns(pl->prog),
                                          bpf_program__insn_cnt(pl->prog), flags, btf_obj_fd, log,
                                          INSTANCE_LOG_MIN);
        snprintf(why, sizeof(why), "%s%s%s", strerror(-fd), log && *log ? ": " : "",
                 log ? last_useful_line(log, line, sizeof(line)) : "");
        /* e.g. it reads arguments from ctx directly: multi programs use bpf_get_func_arg() */
        return multi_fallback(c, pl, "the kernel refused %s as a multi-link program (%s)", why);
}

static int result_add_multi(struct load_ctx *c, const struct plan *pl, int fd) {
        struct bb_prog *v;
        int r = result_add_prog(c, pl, &pl->targets[0], fd);

        if (r < 0)
                return r;
        v = &c->res.progs[c->res.n_progs - 1];
        v->multi = true;
        v->functions = calloc(pl->n_targets, sizeof(char *));
        v->btf_ids = calloc(pl->n_targets, sizeof(uint32_t));
        if (!v->functions || !v->btf_ids)
                return -ENOMEM;
        for (size_t i = 0; i < pl->n_targets; i++, v->n_functions++) {
                v->btf_ids[i] = pl->targets[i].btf_id;
                v->functions[i] = strdup(pl->targets[i].function);
                if (!v->functions[i])
                        return -ENOMEM;
        }
        return 0;
}

static int collect_multi(struct load_ctx *c, const struct plan *pl) {
        const char *why;
        int obj_fd = 0, fd, r;

        if (!plan_multi_possible(c, pl, &why))
                return multi_fallback(c, pl, "%s was loaded per function: %s", why);
        if (strcmp(pl->targets[0].btf_object, "vmlinux") != 0) {
                r = module_btf_fd(c, pl->targets[0].btf_object, &obj_fd);
                if (r < 0)
                        return multi_fallback(c, pl, "%s was loaded per function: %s",
                                              "cannot open its module's BTF object");
        }
        r = load_multi(c, pl, obj_fd, &fd);
        if (r < 0)
                return r;
        return result_add_multi(c, pl, fd);
}

static int result_add_map(struct load_ctx *c, const struct bpf_map *m) {
        struct bpf_map_info info = {};
        uint32_t len = sizeof(info);
        struct bb_map *v;
        int fd, r;

        fd = fcntl(bpf_map__fd(m), F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        v = reallocarray(c->res.maps, c->res.n_maps + 1, sizeof(*v));
        if (!v) {
                safe_close(fd);
                return -ENOMEM;
        }
        c->res.maps = v;
        v = &c->res.maps[c->res.n_maps++];
        *v = (struct bb_map) { .fd = fd };
        r = bpf_obj_get_info_by_fd(fd, &info, &len);
        if (r < 0)
                return r;
        *v = (struct bb_map) { .fd = fd, .id = info.id, .type = info.type, .key_size = info.key_size,
                               .value_size = info.value_size, .max_entries = info.max_entries,
                               .flags = info.map_flags, .name = strdup(bpf_map__name(m)) };
        return v->name ? 0 : -ENOMEM;
}

/* One instance per target: the one libbpf loaded, then the others. */
static int collect_instances(struct load_ctx *c, const struct plan *pl) {
        int fd = fcntl(bpf_program__fd(pl->prog), F_DUPFD_CLOEXEC, 3), r;

        if (fd < 0)
                return -errno;
        r = result_add_prog(c, pl, &pl->targets[0], fd);
        for (size_t j = 1; r >= 0 && j < pl->n_targets; j++) {
                r = load_instance(c, pl, &pl->targets[j], &fd);
                if (r >= 0)
                        r = result_add_prog(c, pl, &pl->targets[j], fd);
        }
        return r;
}

static int collect_plan(struct load_ctx *c, const struct plan *pl) {
        int r;

        if (plan_multi_wanted(c, pl)) {
                r = collect_multi(c, pl);
                if (r != -EAGAIN)
                        return r;
                /* refused as a multi-link program: per function, within the instances' limit */
                c->n_instances += pl->n_targets;
                if (c->n_instances > BB_INSTANCES_MAX)
                        return fail_too_many(c, &(struct plan) { .prog = pl->prog }, NULL);
        }
        return collect_instances(c, pl);
}

static int collect(struct load_ctx *c) {
        const struct bpf_map *m;
        int r;

        for (size_t i = 0; i < c->n_plans; i++) {
                r = collect_plan(c, &c->plans[i]);
                if (r < 0)
                        return r;
        }
        bpf_object__for_each_map(m, c->obj) {
                if (bpf_map__fd(m) < 0)
                        continue;
                r = result_add_map(c, m);
                if (r < 0)
                        return r;
        }
        return 0;
}

int bb_load(const struct bb_load_request *req, struct bb_load_result *ret, struct bb_error *err) {
        _cleanup_(load_ctx_done) struct load_ctx c = { .req = req, .err = err };
        int r;

        backend_init();
        r = read_object(req->object_fd, &c.buf, &c.size, err);
        if (r >= 0)
                r = check_elf(c.buf, c.size, &c.license, err);
        if (r >= 0)
                r = open_object(&c);
        if (r >= 0)
                r = btf_index_system(&c.sys);
        if (r >= 0)
                r = plan_load(&c);
        if (r >= 0)
                r = set_targets(&c);
        if (r >= 0)
                r = load_object(&c);
        if (r >= 0)
                r = collect(&c);
        if (r < 0)
                return r;
        *ret = c.res;
        c.res = (struct bb_load_result) {};
        return 0;
}

/* Attaching ---------------------------------------------------------------------------------- */

/* The name of the function prog_fd is (to be) attached to, for error messages. Best effort. */
static void attach_function_name(int prog_fd, char *buf, size_t size) {
        _cleanup_(btf_index_unrefp) struct btf_index *idx = NULL;
        _cleanup_(btf__freep) struct btf *own = NULL;
        struct bpf_prog_info pi = {};
        uint32_t len = sizeof(pi);
        const struct btf *btf = NULL;
        const struct btf_type *t;

        if (bpf_obj_get_info_by_fd(prog_fd, &pi, &len) < 0 || pi.attach_btf_id == 0 ||
            btf_index_system(&idx) < 0)
                return;
        btf = btf_index_object_btf(idx, 0);
        t = btf__type_by_id(btf, pi.attach_btf_id);
        if (pi.attach_btf_obj_id) {              /* a module or a BPF program: ask the kernel */
                _cleanup_close_ int fd = bpf_btf_get_fd_by_id(pi.attach_btf_obj_id);
                char name[64] = "";
                struct bpf_btf_info bi = { .name = ptr_to_u64(name), .name_len = sizeof(name) };
                uint32_t blen = sizeof(bi);

                if (fd < 0 || bpf_obj_get_info_by_fd(fd, &bi, &blen) < 0)
                        return;
                if (strcmp(name, "vmlinux") != 0) {
                        own = bi.kernel_btf ?
                                btf__load_from_kernel_by_id_split(bi.id, (struct btf *) btf) :
                                btf__load_from_kernel_by_id(bi.id);
                        btf = own;
                        t = own ? btf__type_by_id(own, pi.attach_btf_id) : NULL;
                }
        }
        if (t && btf_is_func(t))
                snprintf(buf, size, "%s", btf__name_by_offset(btf, t->name_off));
}

static int fail_attach(int prog_fd, int r, struct bb_error *e) {
        const char *hint = errno_hint(-r);
        char function[128] = "";

        if (e)
                attach_function_name(prog_fd, function, sizeof(function));
        r = fail(e, BB_ERR_KERNEL, r, NULL, *function ? function : NULL, "attaching%s%s failed: %s",
                 *function ? " to " : "", function, hint ? hint : strerror(-r));
        set_operation(e, "attach");
        return r;
}

static int link_id(int fd, uint32_t *ret, struct bb_error *err) {
        struct bpf_link_info info = {};
        uint32_t len = sizeof(info);
        int r = bpf_obj_get_info_by_fd(fd, &info, &len);

        if (r < 0) {
                r = fail(err, BB_ERR_KERNEL, r, NULL, NULL, "cannot read the new link's id");
                set_operation(err, "link info");
                return r;
        }
        *ret = info.id;
        return 0;
}

int bb_attach(int prog_fd, int *ret_link_fd, uint32_t *ret_link_id, struct bb_error *err) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        backend_init();
        fd = bpf_link_create(prog_fd, 0, BPF_TRACE_FEXIT, NULL);
        if (fd == -EINVAL)                       /* kernels before 5.10 only know this way */
                fd = bpf_raw_tracepoint_open(NULL, prog_fd);
        if (fd < 0)
                return fail_attach(prog_fd, fd, err);
        r = link_id(fd, ret_link_id, err);
        if (r < 0)
                return r;
        *ret_link_fd = TAKE_FD(fd);
        return 0;
}

int bb_attach_multi(int prog_fd, const uint32_t *btf_ids, size_t n, int *ret_link_fd,
                    uint32_t *ret_link_id, struct bb_error *err) {
        _cleanup_close_ int fd = -EBADF;
        const char *hint;
        int r;

        backend_init();
        fd = bb_multi_link_create(prog_fd, btf_ids, n);
        if (fd < 0) {
                /* the kernel checks every function again and names none: ENOENT is one that
                 * ftrace cannot patch (any more), EINVAL one on its deny list */
                hint = errno_hint(-fd);
                r = fail(err, BB_ERR_KERNEL, fd, NULL, NULL, "attaching the multi-link to %zu "
                         "functions failed: %s", n, fd == -ENOENT ? "a function is not traceable "
                         "(no ftrace location) or is gone (ENOENT)" : hint ? hint : strerror(-fd));
                set_operation(err, "attach");
                return r;
        }
        r = link_id(fd, ret_link_id, err);
        if (r < 0)
                return r;
        *ret_link_fd = TAKE_FD(fd);
        return 0;
}

static int multi_link_info_get(int fd, struct bb_uapi_link_info_multi *i) {
        uint32_t len = sizeof(*i);

        return bpf_obj_get_info_by_fd(fd, i, &len) < 0 ? -errno : 0;
}

int bb_multi_link_info(int link_fd, struct bb_multi_link_info *ret) {
        struct bb_uapi_link_info_multi i = {};
        struct bb_multi_link_info v = {};
        struct bb_uapi_multi u;
        int r;

        r = bb_multi_uapi(&u);
        if (r >= 0)
                r = multi_link_info_get(link_fd, &i);         /* first the count */
        if (r < 0)
                return r;
        if (i.type != u.link_type)
                return -EMEDIUMTYPE;
        v.count = i.count;
        v.btf_obj_id = i.btf_obj_id;
        v.ids = calloc(v.count + 1, sizeof(uint32_t));
        v.addrs = calloc(v.count + 1, sizeof(uint64_t));
        v.cookies = calloc(v.count + 1, sizeof(uint64_t));
        i = (struct bb_uapi_link_info_multi) { .count = (uint32_t) v.count, .ids = ptr_to_u64(v.ids),
                                               .addrs = ptr_to_u64(v.addrs),
                                               .cookies = ptr_to_u64(v.cookies) };
        r = v.ids && v.addrs && v.cookies ? multi_link_info_get(link_fd, &i) : -ENOMEM;
        if (r < 0) {
                bb_multi_link_info_done(&v);
                return r;
        }
        *ret = v;
        return 0;
}

void bb_multi_link_info_done(struct bb_multi_link_info *i) {
        free(i->ids);
        free(i->addrs);
        free(i->cookies);
        *i = (struct bb_multi_link_info) {};
}

/* Pins and fds ------------------------------------------------------------------------------- */

int bb_pin(int fd, const char *path) {
        int r = bpf_obj_pin(fd, path);

        return r < 0 ? -errno : 0;
}

int bb_obj_get(const char *path, bool read_only) {
        LIBBPF_OPTS(bpf_obj_get_opts, o, .file_flags = read_only ? BPF_F_RDONLY : 0);
        int fd = bpf_obj_get_opts(path, &o);

        return fd < 0 ? -errno : fd;
}

/* The pin route for a process without CAP_SYS_ADMIN: pin, open read-only, unpin. */
static int map_fd_readonly_pinned(int map_fd, uint32_t id, const char *pin_dir) {
        static unsigned long counter;
        _cleanup_free_ char *path = NULL;
        int fd, r;

        /* bpffs refuses names with dots (EPERM): they are reserved for the kernel. */
        if (asprintf(&path, "%s/fexitd-ro-%d-%ld-%lu-%u", pin_dir, getpid(), (long) syscall(SYS_gettid),
                     __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED), id) < 0)
                return -ENOMEM;
        r = bb_pin(map_fd, path);
        if (r < 0)
                return r;
        fd = bb_obj_get(path, true);
        (void) unlink(path);
        return fd;
}

int bb_map_fd_readonly(int map_fd, const char *pin_dir) {
        LIBBPF_OPTS(bpf_get_fd_by_id_opts, o, .open_flags = BPF_F_RDONLY);
        struct bpf_map_info info = {};
        uint32_t len = sizeof(info);
        int fd, r;

        r = bpf_obj_get_info_by_fd(map_fd, &info, &len);
        if (r < 0)
                return r;
        if (info.type == BPF_MAP_TYPE_RINGBUF || info.type == BPF_MAP_TYPE_USER_RINGBUF)
                return -EOPNOTSUPP;
        fd = bpf_map_get_fd_by_id_opts(info.id, &o);
        if (fd >= 0)
                return fd;
        if ((fd == -EPERM || fd == -EACCES) && pin_dir)
                return map_fd_readonly_pinned(map_fd, info.id, pin_dir);
        return fd;
}

int bb_map_freeze(int map_fd) {
        long page = sysconf(_SC_PAGESIZE);
        int err;
        void *p;

        if (bpf_map_freeze(map_fd) == 0)
                return 0;
        err = errno;
        if (err != EPERM && err != EBUSY)
                return -err;
        /* Already frozen? A second freeze fails with EBUSY (6.1) or EPERM (newer kernels drop
         * write permission first), and libbpf freezes .rodata itself. A frozen map refuses a
         * writable mapping with EPERM: that tells. */
        p = mmap(NULL, (size_t) page, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
        if (p != MAP_FAILED) {
                munmap(p, (size_t) page);
                return -err;
        }
        return errno == EPERM ? 0 : -err;
}

/* Kernel-side facts -------------------------------------------------------------------------- */

static void copy_name(char dst[16], const char *src) {
        memcpy(dst, src, 15);
        dst[15] = '\0';
}

int bb_prog_info(int fd, struct bb_info *ret) {
        struct bpf_prog_info i = {};
        uint32_t len = sizeof(i);
        int r = bpf_obj_get_info_by_fd(fd, &i, &len);

        if (r < 0)
                return r;
        *ret = (struct bb_info) { .id = i.id, .type = i.type, .run_cnt = i.run_cnt,
                                  .run_time_ns = i.run_time_ns, .attach_btf_id = i.attach_btf_id,
                                  .attach_btf_obj_id = i.attach_btf_obj_id };
        copy_name(ret->name, i.name);
        return 0;
}

int bb_link_info(int fd, struct bb_info *ret) {
        struct bpf_link_info i = {};
        uint32_t len = sizeof(i);
        int r = bpf_obj_get_info_by_fd(fd, &i, &len);

        if (r < 0)
                return r;
        *ret = (struct bb_info) { .id = i.id, .type = i.type, .prog_id = i.prog_id };
        if (i.type == BPF_LINK_TYPE_TRACING) {
                /* The trampoline's key: (BTF object id or target program id, BTF type id). */
                ret->attach_btf_id = i.tracing.target_btf_id;
                ret->attach_btf_obj_id = i.tracing.target_obj_id;
        }
        return 0;
}

int bb_map_info(int fd, struct bb_info *ret) {
        struct bpf_map_info i = {};
        uint32_t len = sizeof(i);
        int r = bpf_obj_get_info_by_fd(fd, &i, &len);

        if (r < 0)
                return r;
        *ret = (struct bb_info) { .id = i.id, .type = i.type, .key_size = i.key_size,
                                  .value_size = i.value_size, .max_entries = i.max_entries,
                                  .map_flags = i.map_flags };
        copy_name(ret->name, i.name);
        return 0;
}

const char *bb_map_type_name(uint32_t type) {
        const char *s = libbpf_bpf_map_type_str(type);

        return s ? s : "unknown";
}

int bb_check_function(const char *function, struct bb_error *err) {
        _cleanup_(btf_index_unrefp) struct btf_index *idx = NULL;
        const struct btf_func *f;
        char reason[256];
        int r;

        r = btf_index_system(&idx);
        if (r < 0) {
                r = fail(err, BB_ERR_KERNEL, r, NULL, function, "cannot read the kernel's BTF");
                set_operation(err, "read BTF");
                return r;
        }
        f = btf_index_lookup(idx, function);
        if (!f)
                return fail_no_such_function(err, idx, NULL, 0, function);
        r = exclusion(f, true, reason, sizeof(reason));
        if (r < 0)
                return fail(err, BB_ERR_FUNCTION_DENIED, r, NULL, function, "%s", reason);
        return 0;
}
