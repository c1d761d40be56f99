/* SPDX-License-Identifier: MIT */
/*
 * The BPF backend against a real kernel. On a kernel that refuses fexit (the build host: EPERM)
 * every check that fails before the kernel load runs, plus maps, pins and info; the parts that
 * need fexit are skipped and the exit code is 77. In the VM everything runs.
 *
 * Usage: test-bpf-backend [BPF_OBJECT_DIR...]   (searched in order; default: the build tree's)
 *        test-bpf-backend --hold READY_FILE [BPF_OBJECT_DIR...]
 *            loads and attaches backend_good and two instances of backend_multi, writes their
 *            kernel ids as shell assignments to READY_FILE and holds them until SIGTERM, so that
 *            tests/vm/cases/bpf-backend.sh can cross-check them with bpftool.
 * Environment: BB_TEST_PIN_DIR   a bpffs directory to use (default: /sys/fs/bpf if it is bpffs,
 *                                else a private bpffs mounted under /tmp)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/version.h>

#include "daemon/bpf-backend.h"
#include "daemon/btf-index.h"
#include "daemon/btf-rules.h"

#ifndef BACKEND_BPF_DIR
#define BACKEND_BPF_DIR "."
#endif

enum { PASS, FAIL, SKIP, NOTE };        /* NOTE: passed what it could, said what it could not */

static const char *default_dirs[] = { BACKEND_BPF_DIR };
static const char *const *obj_dirs = default_dirs;
static int n_obj_dirs = sizeof(default_dirs) / sizeof(*default_dirs);
static bool real_kernel;
static char pin_dir[256];

#define CHECK(cond, ...)                                                                   \
        do {                                                                               \
                if (!(cond)) {                                                             \
                        fprintf(stderr, "    check failed at line %d: %s\n", __LINE__, #cond); \
                        fail_detail("" __VA_ARGS__);                                       \
                        return FAIL;                                                       \
                }                                                                          \
        } while (0)

static void fail_detail(const char *fmt, ...) {
        va_list ap;

        if (!*fmt)
                return;
        fprintf(stderr, "    ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\n");
}

static const char *kind_name(enum bb_error_kind k) {
        static const char *const names[] = {
                [BB_ERR_NONE] = "none", [BB_ERR_INVALID_OBJECT] = "InvalidObject",
                [BB_ERR_NO_FEXIT_PROGRAMS] = "NoFexitPrograms", [BB_ERR_NO_SUCH_PROGRAM] = "NoSuchProgram",
                [BB_ERR_NO_SUCH_FUNCTION] = "NoSuchFunction", [BB_ERR_FUNCTION_DENIED] = "FunctionDenied",
                [BB_ERR_VERIFIER] = "VerifierRejected", [BB_ERR_KERNEL] = "KernelError",
                [BB_ERR_LIMIT_EXCEEDED] = "LimitExceeded", [BB_ERR_NOT_SLEEPABLE] = "NotSleepable",
                [BB_ERR_TOO_MANY_ARGS] = "TooManyArguments",
        };
        return k < sizeof(names) / sizeof(*names) ? names[k] : "?";
}

static void print_error(const struct bb_error *e) {
        printf("      -> %s err=%d op=%s prog=%s fn=%s: %s\n", kind_name(e->kind), e->err,
               e->operation ?: "-", e->program ?: "-", e->function ?: "-", e->message ?: "-");
        for (size_t i = 0; i < BB_SUGGESTIONS_MAX && e->suggestions[i]; i++)
                printf("         suggestion: %s\n", e->suggestions[i]);
}

#define CHECK_ERR(e, k) CHECK((e)->kind == (k), "expected %s, got %s: %s", kind_name(k), \
                              kind_name((e)->kind), (e)->message ?: "-")

static double now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int count_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        int n = 0;

        while (d && (de = readdir(d)))
                n += de->d_name[0] != '.';
        if (d)
                closedir(d);
        return n;
}

static const char *obj_path(const char *name, char *path, size_t size) {
        for (int i = 0; i < n_obj_dirs; i++) {
                snprintf(path, size, "%s/%s.bpf.o", obj_dirs[i], name);
                if (access(path, R_OK) == 0)
                        return path;
        }
        fprintf(stderr, "    %s.bpf.o not found\n", name);
        return path;
}

static int open_obj(const char *name) {
        char path[512];

        return open(obj_path(name, path, sizeof(path)), O_RDONLY | O_CLOEXEC);
}

/* bb_load of object name with the given selection; the object fd is closed again. */
static int load(const char *name, const struct bb_select *sel, size_t n_sel,
                struct bb_load_result *res, struct bb_error *e) {
        struct bb_load_request req = { .object_fd = open_obj(name), .select = sel, .n_select = n_sel };
        int r;

        bb_error_clear(e);
        r = bb_load(&req, res, e);
        close(req.object_fd);
        if (r < 0)
                print_error(e);
        return r;
}

static bool fd_is_good(int fd) {
        int flags = fcntl(fd, F_GETFD);

        return fd >= 3 && flags >= 0 && (flags & FD_CLOEXEC);
}

static int check_result(const struct bb_load_result *r) {
        for (size_t i = 0; i < r->n_progs; i++) {
                const struct bb_prog *p = &r->progs[i];

                printf("      prog %s id=%u fd=%d fn=%s btf=%s:%u tprog=%u\n", p->name, p->id, p->fd,
                       p->function, p->btf_object, p->btf_id, p->target_prog_id);
                CHECK(fd_is_good(p->fd));
                CHECK(p->id > 0 && p->btf_id > 0 && p->name && p->function && p->btf_object);
        }
        for (size_t i = 0; i < r->n_maps; i++) {
                const struct bb_map *m = &r->maps[i];

                printf("      map %s id=%u fd=%d type=%s k=%u v=%u n=%u flags=%#x\n", m->name, m->id,
                       m->fd, bb_map_type_name(m->type), m->key_size, m->value_size, m->max_entries,
                       m->flags);
                CHECK(fd_is_good(m->fd));
                CHECK(m->id > 0 && m->name);
        }
        for (size_t i = 0; i < r->n_skipped; i++)
                printf("      skipped %s: %s\n", r->skipped[i].function, r->skipped[i].reason);
        return PASS;
}

static const struct bb_map *find_map(const struct bb_load_result *r, const char *suffix) {
        for (size_t i = 0; i < r->n_maps; i++) {
                size_t n = strlen(r->maps[i].name), m = strlen(suffix);

                if (n >= m && strcmp(r->maps[i].name + n - m, suffix) == 0)
                        return &r->maps[i];
        }
        return NULL;
}

static uint64_t read_u64(int map_fd) {
        uint64_t v = 0;
        uint32_t key = 0;

        bpf_map_lookup_elem(map_fd, &key, &v);
        return v;
}

static void do_unlink(void) {
        char path[] = "/tmp/bb-test-XXXXXX";
        int fd = mkstemp(path);

        if (fd >= 0)
                close(fd);
        unlink(path);
}

/* Error paths before the kernel load: the same on every kernel ------------------------------- */

static int memfd_with(const void *data, size_t size) {
        int fd = memfd_create("obj", MFD_CLOEXEC);

        if (fd >= 0 && write(fd, data, size) != (ssize_t) size) {
                close(fd);
                return -1;
        }
        return fd;
}

static int expect_invalid(int fd, const char *what, const char *needle) {
        struct bb_load_request req = { .object_fd = fd };
        struct bb_load_result res = {};
        struct bb_error e = {};
        int r = bb_load(&req, &res, &e);

        printf("    %s:\n", what);
        print_error(&e);
        CHECK(r < 0);
        CHECK_ERR(&e, BB_ERR_INVALID_OBJECT);
        CHECK(e.message && strstr(e.message, needle), "message lacks '%s'", needle);
        CHECK(res.n_progs == 0 && !res.progs);         /* untouched */
        bb_error_clear(&e);
        return PASS;
}

static int t_invalid_objects(void) {
        char buf[1 << 16];
        int fd, good, p[2], r;
        ssize_t n;

        fd = memfd_with("hello, not ELF", 14);
        r = expect_invalid(fd, "text", "not an ELF");
        close(fd);
        if (r != PASS)
                return r;

        fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
        r = expect_invalid(fd, "x86-64 executable", "EM_BPF");
        close(fd);
        if (r != PASS)
                return r;

        good = open_obj("backend_good");
        n = pread(good, buf, sizeof(buf), 0);
        close(good);
        CHECK(n > 1024);
        fd = memfd_with(buf, n / 3);                    /* section data cut off */
        r = expect_invalid(fd, "truncated BPF object", "corrupt");
        close(fd);
        if (r != PASS)
                return r;

        buf[5] = 2;                                     /* EI_DATA: big endian */
        fd = memfd_with(buf, n);
        r = expect_invalid(fd, "big-endian object", "byte order");
        close(fd);
        if (r != PASS)
                return r;

        CHECK(pipe2(p, O_CLOEXEC) == 0);
        r = expect_invalid(p[0], "pipe", "regular file");
        close(p[0]);
        close(p[1]);
        if (r != PASS)
                return r;
        return expect_invalid(-1, "no fd", "not valid");
}

static int t_no_fexit(void) {
        struct bb_load_result res = {};
        struct bb_error e = {};

        CHECK(load("backend_xdp", NULL, 0, &res, &e) < 0);
        CHECK_ERR(&e, BB_ERR_NO_FEXIT_PROGRAMS);
        bb_error_clear(&e);
        return PASS;
}

static int t_no_such_program(void) {
        struct bb_select s = { .name = "nope" };
        struct bb_load_result res = {};
        struct bb_error e = {};

        CHECK(load("backend_good", &s, 1, &res, &e) < 0);
        CHECK_ERR(&e, BB_ERR_NO_SUCH_PROGRAM);
        CHECK(e.program && strcmp(e.program, "nope") == 0);

        s.name = "not_fexit";                           /* exists, but tp_btf */
        CHECK(load("backend_good", &s, 1, &res, &e) < 0);
        CHECK_ERR(&e, BB_ERR_NO_SUCH_PROGRAM);
        CHECK(strstr(e.message, "not an fexit program"));
        bb_error_clear(&e);
        return PASS;
}

static int t_no_such_function(void) {
        struct bb_select s = { .name = "count_unlink", .function = "vfs_unlinkk" };
        const char *globs[] = { "zzz_nothing_*" };
        struct bb_load_result res = {};
        struct bb_error e = {};

        CHECK(load("backend_good", &s, 1, &res, &e) < 0);
        CHECK_ERR(&e, BB_ERR_NO_SUCH_FUNCTION);
        CHECK(e.function && strcmp(e.function, "vfs_unlinkk") == 0);
        CHECK(e.suggestions[0] && strcmp(e.suggestions[0], "vfs_unlink") == 0);

        s = (struct bb_select) { .name = "count_unlink", .functions = globs, .n_functions = 1 };
        CHECK(load("backend_good", &s, 1, &res, &e) < 0);
        CHECK_ERR(&e, BB_ERR_NO_SUCH_FUNCTION);
        bb_error_clear(&e);
        return PASS;
}

static int t_denied(void) {
        static const char *const names[] = { "__rcu_read_lock", "migrate_disable", "bpf_spin_lock" };
        const char *globs[] = { "migrate_*able" };
        struct bb_load_result res = {};
        struct bb_error e = {};
        struct bb_select s;

        for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
                s = (struct bb_select) { .name = "count_unlink", .function = names[i] };
                CHECK(load("backend_good", &s, 1, &res, &e) < 0);
                CHECK_ERR(&e, BB_ERR_FUNCTION_DENIED);
                CHECK(strcmp(e.function, names[i]) == 0 && strstr(e.message, "deny list"));
        }
        /* A glob whose every match is denied is an error too. */
        s = (struct bb_select) { .name = "count_unlink", .functions = globs, .n_functions = 1 };
        CHECK(load("backend_good", &s, 1, &res, &e) < 0);
        CHECK_ERR(&e, BB_ERR_FUNCTION_DENIED);

        /* do_mmap takes more than 6 argument registers: refused before the kernel is asked where
         * the probed trampoline saves 6 (x86-64 before 6.6). */
        s = (struct bb_select) { .name = "count_unlink", .function = "do_mmap" };
        if (bb_features()->max_args == 6) {
                CHECK(load("backend_good", &s, 1, &res, &e) < 0);
                CHECK_ERR(&e, BB_ERR_TOO_MANY_ARGS);
                CHECK(strstr(e.message, "at most 6") && e.limit_max == 6 && e.n_args > 6);
        }
        bb_error_clear(&e);
        return PASS;
}

static int t_limit(void) {
        const char *globs[] = { "*" };
        struct bb_select s = { .name = "count_unlink", .functions = globs, .n_functions = 1 };
        struct bb_load_result res = {};
        struct bb_error e = {};

        CHECK(load("backend_good", &s, 1, &res, &e) < 0);
        CHECK_ERR(&e, BB_ERR_LIMIT_EXCEEDED);
        CHECK(e.limit_max == BB_INSTANCES_MAX);
        bb_error_clear(&e);
        return PASS;
}

static int t_check_function(void) {
        struct bb_error e = {};

        CHECK(bb_check_function("vfs_unlink", &e) == 0, "%s", e.message);
        CHECK(bb_check_function("vfs_raed", &e) < 0);
        CHECK_ERR(&e, BB_ERR_NO_SUCH_FUNCTION);
        CHECK(e.suggestions[0] && strcmp(e.suggestions[0], "vfs_read") == 0);
        CHECK(bb_check_function("migrate_enable", &e) < 0);
        CHECK_ERR(&e, BB_ERR_FUNCTION_DENIED);
        CHECK(bb_check_function("vfs_read", NULL) == 0);
        bb_error_clear(&e);
        return PASS;
}

/* The first fexit load decides whether this kernel allows fexit at all. */
static int t_load_probe(void) {
        struct bb_load_result res = {};
        struct bb_error e = {};
        int r = load("backend_good", NULL, 0, &res, &e);

        if (r >= 0) {
                real_kernel = true;
                bb_load_result_free(&res);
                return PASS;
        }
        CHECK_ERR(&e, BB_ERR_KERNEL);
        CHECK(e.err == EPERM && strstr(e.message, "CAP_BPF") && strstr(e.message, "CAP_PERFMON"));
        CHECK(e.operation && strcmp(e.operation, "load") == 0);
        CHECK(e.program && strcmp(e.program, "count_unlink") == 0);
        CHECK(e.function && strcmp(e.function, "vfs_unlink") == 0);
        printf("    this kernel refuses fexit (EPERM): the fexit parts are skipped\n");
        bb_error_clear(&e);
        return PASS;
}

/* Maps, pins and info: work on the host kernel too --------------------------------------------- */

static int t_maps(void) {
        LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_MMAPABLE);
        int arr = bpf_map_create(BPF_MAP_TYPE_ARRAY, "bb_arr", 4, 8, 1, &o);
        int rb = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "bb_rb", 0, 0, 4096, NULL);
        uint32_t key = 0;
        uint64_t v = 42;
        struct bb_info info;
        void *p;
        int ro;

        CHECK(arr >= 0 && rb >= 0);
        CHECK(bb_map_fd_readonly(rb, NULL) == -EOPNOTSUPP);
        ro = bb_map_fd_readonly(arr, NULL);
        CHECK(fd_is_good(ro), "readonly fd: %d", ro);
        CHECK(bpf_map_update_elem(arr, &key, &v, 0) == 0);
        CHECK(read_u64(ro) == 42);
        CHECK(bpf_map_update_elem(ro, &key, &v, 0) == -EPERM);
        /* The kernel cannot mmap a read-only map fd, not even PROT_READ (documented). */
        p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, ro, 0);
        CHECK(p == MAP_FAILED);
        CHECK(bb_map_info(ro, &info) == 0 && info.type == BPF_MAP_TYPE_ARRAY && info.value_size == 8 &&
              info.max_entries == 1 && (info.map_flags & BPF_F_MMAPABLE) && strcmp(info.name, "bb_arr") == 0);
        CHECK(strcmp(bb_map_type_name(info.type), "array") == 0);
        CHECK(strcmp(bb_map_type_name(BPF_MAP_TYPE_RINGBUF), "ringbuf") == 0);
        CHECK(strcmp(bb_map_type_name(100000), "unknown") == 0);

        /* Freezing instead: the read-write fd then maps read-only, and nothing writes. */
        CHECK(bb_map_freeze(arr) == 0);
        p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, arr, 0);
        CHECK(p != MAP_FAILED);
        CHECK(*(volatile uint64_t *) p == 42);
        CHECK(mprotect(p, 4096, PROT_READ | PROT_WRITE) < 0);
        CHECK(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, arr, 0) == MAP_FAILED);
        CHECK(bpf_map_update_elem(arr, &key, &v, 0) == -EPERM);
        munmap(p, 4096);
        close(ro);
        close(arr);
        close(rb);
        return PASS;
}

static int setup_pin_dir(void) {
        const char *env = getenv("BB_TEST_PIN_DIR");
        struct statfs sf;
        char tmpl[] = "/tmp/bb-bpffs-XXXXXX";

        if (env) {
                snprintf(pin_dir, sizeof(pin_dir), "%s", env);
                return 0;
        }
        if (statfs("/sys/fs/bpf", &sf) == 0 && sf.f_type == BPF_FS_MAGIC) {
                snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/bb-test-%d", getpid());
                return mkdir(pin_dir, 0700);
        }
        if (!mkdtemp(tmpl) || mount("bpf", tmpl, "bpf", 0, "mode=0700") < 0)
                return -errno;
        snprintf(pin_dir, sizeof(pin_dir), "%s", tmpl);
        return 0;
}

static void cleanup_pin_dir(void) {
        if (!*pin_dir)
                return;
        if (strncmp(pin_dir, "/tmp/", 5) == 0)
                umount2(pin_dir, MNT_DETACH);
        rmdir(pin_dir);
}

/* Drops CAP_SYS_ADMIN from this process's effective set (the pin route's reason to exist). */
static int drop_sys_admin(void) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2];

        if (syscall(SYS_capget, &h, d) < 0)
                return -errno;
        d[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
        return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

static int pinned_readonly_child(int arr) {
        uint32_t key = 0;
        uint64_t v = 7;
        int ro;

        if (drop_sys_admin() < 0)
                return 3;
        if (bb_map_fd_readonly(arr, NULL) != -EPERM)    /* by id needs CAP_SYS_ADMIN */
                return 4;
        ro = bb_map_fd_readonly(arr, pin_dir);
        if (ro < 3) {
                fprintf(stderr, "    bb_map_fd_readonly via a pin: %s\n", strerror(-ro));
                return 5;
        }
        if (bpf_map_update_elem(ro, &key, &v, 0) != -EPERM)
                return 6;
        if (read_u64(ro) != 1)
                return 7;
        return 0;
}

/* bb_map_share: one rule for every map type. */
static int t_map_share(void) {
        LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_MMAPABLE);
        int arr = bpf_map_create(BPF_MAP_TYPE_ARRAY, "bb_share_arr", 4, 8, 1, &mo);
        int hash = bpf_map_create(BPF_MAP_TYPE_HASH, "bb_share_hash", 4, 8, 4, NULL);
        int rb = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "bb_share_rb", 0, 0, 4096, NULL);
        uint32_t key = 0;
        uint64_t v = 7;
        bool frozen = false, writable = true;
        int fd;
        void *p;

        CHECK(arr >= 0 && hash >= 0 && rb >= 0);
        /* a ring buffer: its read-write fd, nothing frozen */
        fd = bb_map_share(rb, pin_dir, &frozen, &writable);
        CHECK(fd_is_good(fd) && writable && !frozen, "ringbuf: %d", fd);
        close(fd);
        /* a plain map: a read-only fd */
        writable = true;
        fd = bb_map_share(hash, pin_dir, &frozen, &writable);
        CHECK(fd_is_good(fd) && !writable && !frozen, "hash: %d", fd);
        CHECK(bpf_map_update_elem(fd, &key, &v, 0) == -EPERM);
        CHECK(bpf_map_update_elem(hash, &key, &v, 0) == 0);
        close(fd);
        /* an mmap-able map: frozen, then its read-write fd, which maps PROT_READ only */
        writable = true;
        fd = bb_map_share(arr, pin_dir, &frozen, &writable);
        CHECK(fd_is_good(fd) && !writable && frozen, "mmapable: %d", fd);
        CHECK(bpf_map_update_elem(arr, &key, &v, 0) == -EPERM);
        p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
        CHECK(p != MAP_FAILED);
        munmap(p, 4096);
        CHECK(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED);
        close(fd);
        /* again, known to be frozen: the same answer */
        fd = bb_map_share(arr, pin_dir, &frozen, &writable);
        CHECK(fd_is_good(fd) && !writable && frozen, "mmapable again: %d", fd);
        close(fd);
        CHECK(bb_map_share(-1, pin_dir, &frozen, &writable) < 0);
        close(arr);
        close(hash);
        close(rb);
        return PASS;
}

static int t_pins(void) {
        int arr = bpf_map_create(BPF_MAP_TYPE_ARRAY, "bb_pin", 4, 8, 1, NULL);
        char path[512];
        struct bb_info a, b;
        uint32_t key = 0;
        uint64_t v = 1;
        int fd, status;
        pid_t pid;

        CHECK(arr >= 0);
        snprintf(path, sizeof(path), "%s/map", pin_dir);
        CHECK(bb_pin(arr, path) == 0);
        CHECK(bb_pin(arr, path) == -EEXIST);
        fd = bb_obj_get(path, true);
        CHECK(fd_is_good(fd));
        CHECK(bb_map_info(fd, &a) == 0 && bb_map_info(arr, &b) == 0 && a.id == b.id);
        CHECK(bpf_map_update_elem(fd, &key, &v, 0) == -EPERM);
        close(fd);
        fd = bb_obj_get(path, false);
        CHECK(bpf_map_update_elem(fd, &key, &v, 0) == 0);
        close(fd);
        CHECK(unlink(path) == 0);
        CHECK(bb_obj_get(path, false) == -ENOENT);

        pid = fork();
        if (pid == 0)
                _exit(pinned_readonly_child(arr));
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %d", WEXITSTATUS(status));
        close(arr);
        return PASS;
}

/* A tp_btf program loads on the host: enough to exercise bb_prog_info and bb_link_info. */
static int t_info(void) {
        char path[512];
        struct bpf_object *obj;
        struct bpf_program *p;
        struct bb_info pi, li;
        int link;

        obj = bpf_object__open_file(obj_path("backend_good", path, sizeof(path)), NULL);
        CHECK(obj);
        bpf_object__for_each_program(p, obj)
                bpf_program__set_autoload(p, strcmp(bpf_program__name(p), "not_fexit") == 0);
        CHECK(bpf_object__load(obj) == 0);
        p = bpf_object__find_program_by_name(obj, "not_fexit");
        link = bpf_raw_tracepoint_open(NULL, bpf_program__fd(p));
        CHECK(link >= 0, "%d", link);
        CHECK(bb_prog_info(bpf_program__fd(p), &pi) == 0);
        CHECK(pi.id > 0 && pi.type == BPF_PROG_TYPE_TRACING && pi.attach_btf_id > 0);
        CHECK(strcmp(pi.name, "not_fexit") == 0);
        CHECK(bb_link_info(link, &li) == 0);
        /* tp_btf attaches through a raw tracepoint link, which names no trampoline. */
        CHECK(li.id > 0 && li.prog_id == pi.id && li.type == BPF_LINK_TYPE_RAW_TRACEPOINT);
        CHECK(bb_prog_info(-1, &pi) < 0);
        close(link);
        bpf_object__close(obj);
        return PASS;
}

struct thread_arg {
        int ok;
};

static void *thread_errors(void *p) {
        struct thread_arg *a = p;

        a->ok = 1;
        for (int i = 0; i < 5 && a->ok; i++) {
                struct bb_select s = { .name = "count_unlink", .function = "vfs_raed" };
                struct bb_load_request req = { .object_fd = open_obj("backend_good"), .select = &s,
                                               .n_select = 1 };
                struct bb_load_result res = {};
                struct bb_error e = {};

                if (bb_load(&req, &res, &e) >= 0 || e.kind != BB_ERR_NO_SUCH_FUNCTION ||
                    !e.suggestions[0] || strcmp(e.suggestions[0], "vfs_read") != 0)
                        a->ok = 0;
                bb_error_clear(&e);
                req.select = NULL;                      /* the kernel's answer, captured per thread */
                req.n_select = 0;
                if (bb_load(&req, &res, &e) >= 0)
                        bb_load_result_free(&res);
                else if (e.kind != BB_ERR_KERNEL || !e.program || strcmp(e.program, "count_unlink") != 0)
                        a->ok = 0;
                bb_error_clear(&e);
                close(req.object_fd);
        }
        return NULL;
}

static int t_threads(void) {
        pthread_t t[4];
        struct thread_arg a[4];

        for (int i = 0; i < 4; i++)
                CHECK(pthread_create(&t[i], NULL, thread_errors, &a[i]) == 0);
        for (int i = 0; i < 4; i++) {
                pthread_join(t[i], NULL);
                CHECK(a[i].ok, "thread %d", i);
        }
        return PASS;
}

/* The real kernel ------------------------------------------------------------------------------ */

static int consume_cb(void *ctx, void *data, size_t size) {
        struct { uint32_t pid; int32_t ret; } *ev = data;

        if (size >= sizeof(*ev) && ev->pid == (uint32_t) getpid())
                (*(int *) ctx)++;
        return 0;
}

static int t_good(void) {
        struct bb_load_result res = {};
        struct bb_error e = {};
        const struct bb_map *bss, *rb;
        struct ring_buffer *ring;
        struct bb_info li;
        char path[512];
        int link, link2, ro, events = 0;
        uint32_t link_id;
        uint64_t before;
        volatile uint64_t *view;

        if (!real_kernel)
                return SKIP;
        CHECK(load("backend_good", NULL, 0, &res, &e) == 0);
        CHECK(check_result(&res) == PASS);
        CHECK(res.n_progs == 1 && strcmp(res.progs[0].name, "count_unlink") == 0);
        CHECK(strcmp(res.progs[0].function, "vfs_unlink") == 0);
        CHECK(strcmp(res.progs[0].btf_object, "vmlinux") == 0 && res.progs[0].target_prog_id == 0);
        bss = find_map(&res, ".bss");
        rb = find_map(&res, "events");
        CHECK(bss && rb && rb->type == BPF_MAP_TYPE_RINGBUF && (bss->flags & BPF_F_MMAPABLE));

        CHECK(bb_attach(res.progs[0].fd, &link, &link_id, &e) == 0, "%s", e.message);
        CHECK(fd_is_good(link) && link_id > 0);
        ro = bb_map_fd_readonly(bss->fd, pin_dir);
        CHECK(fd_is_good(ro));
        before = read_u64(ro);
        do_unlink();
        CHECK(read_u64(ro) > before);

        ring = ring_buffer__new(rb->fd, consume_cb, &events, NULL);
        CHECK(ring);
        ring_buffer__consume(ring);
        ring_buffer__free(ring);
        CHECK(events >= 1);

        /* Attached twice: EBUSY, said plainly, naming the function. */
        CHECK(bb_attach(res.progs[0].fd, &link2, &link_id, &e) < 0);
        print_error(&e);
        CHECK_ERR(&e, BB_ERR_KERNEL);
        CHECK(e.err == EBUSY && strstr(e.message, "already attached"));
        CHECK(e.function && strcmp(e.function, "vfs_unlink") == 0);

        /* A pinned link outlives its fd. */
        snprintf(path, sizeof(path), "%s/link", pin_dir);
        CHECK(bb_pin(link, path) == 0);
        close(link);
        link = bb_obj_get(path, false);
        CHECK(link >= 3 && bb_link_info(link, &li) == 0 && li.id == link_id);
        CHECK(li.prog_id == res.progs[0].id && li.attach_btf_id == res.progs[0].btf_id);
        CHECK(bb_obj_get(path, true) == -EINVAL);        /* read-only is for maps */
        before = read_u64(ro);
        do_unlink();
        CHECK(read_u64(ro) > before);

        /* Frozen .bss: a live read-only view through the read-write fd. */
        CHECK(bb_map_freeze(bss->fd) == 0);
        view = mmap(NULL, 4096, PROT_READ, MAP_SHARED, bss->fd, 0);
        CHECK(view != MAP_FAILED);
        before = *view;
        do_unlink();
        CHECK(*view > before);
        munmap((void *) view, 4096);

        unlink(path);
        close(link);
        close(ro);
        bb_load_result_free(&res);
        return PASS;
}

static int t_verifier(void) {
        struct bb_load_result res = {};
        struct bb_error e = {};
        int fds = count_fds();

        if (!real_kernel)
                return SKIP;
        CHECK(load("backend_bad", NULL, 0, &res, &e) < 0);
        CHECK_ERR(&e, BB_ERR_VERIFIER);
        CHECK(e.program && strcmp(e.program, "null_deref") == 0);
        CHECK(e.function && strcmp(e.function, "vfs_unlink") == 0);
        CHECK(e.err == EACCES, "errno %d", e.err);
        CHECK(e.log && strstr(e.log, "invalid mem access"), "log: %s", e.log ?: "-");
        CHECK(strlen(e.log) <= 16384);
        /* the reason line: 6.1 and 6.12 say "invalid mem access", 7.3 sums it up first as
         * "Verification failed: Register Type Safety: Invalid dereference" */
        CHECK(strstr(e.message, "invalid mem access") || strstr(e.message, "Invalid dereference"),
              "message: %s", e.message);
        CHECK(count_fds() == fds);
        bb_error_clear(&e);
        return PASS;
}

static int t_two(void) {
        struct bb_select s = { .name = "on_mkdir" };
        struct bb_load_result res = {};
        struct bb_error e = {};

        if (!real_kernel)
                return SKIP;
        CHECK(load("backend_two", NULL, 0, &res, &e) == 0);
        CHECK(check_result(&res) == PASS);
        CHECK(res.n_progs == 2 && res.n_maps == 1);
        bb_load_result_free(&res);

        CHECK(load("backend_two", &s, 1, &res, &e) == 0);
        CHECK(res.n_progs == 1 && strcmp(res.progs[0].name, "on_mkdir") == 0);
        CHECK(strcmp(res.progs[0].function, "vfs_mkdir") == 0);
        bb_load_result_free(&res);

        /* The object name prefixes libbpf's internal maps. */
        struct bb_load_request req = { .object_fd = open_obj("backend_two"), .object_name = "two" };
        CHECK(bb_load(&req, &res, &e) == 0);
        close(req.object_fd);
        CHECK(find_map(&res, ".bss") && strcmp(find_map(&res, ".bss")->name, "two.bss") == 0);
        bb_load_result_free(&res);
        return PASS;
}

static int attach_all(const struct bb_load_result *res, int *links) {
        struct bb_error e = {};
        uint32_t id;

        for (size_t i = 0; i < res->n_progs; i++)
                CHECK(bb_attach(res->progs[i].fd, &links[i], &id, &e) == 0, "%s: %s",
                      res->progs[i].function, e.message);
        return PASS;
}

static int t_multi(void) {
        const char *fns[] = { "vfs_read", "vfs_write", "security_inode_unlink", "vfs_read", "vfs_unlink" };
        const char *globs[] = { "vfs_*" };
        struct bb_select s = { .name = "count_any", .functions = fns, .n_functions = 5 };
        struct bb_load_result res = {};
        struct bb_error e = {};
        int links[BB_INSTANCES_MAX], fds;
        const struct bb_map *bss;
        double t0, t1, t2;
        uint64_t before;

        if (!real_kernel)
                return SKIP;
        CHECK(load("backend_multi", &s, 1, &res, &e) == 0);
        CHECK(check_result(&res) == PASS);
        CHECK(res.n_progs == 4, "%zu instances", res.n_progs);          /* vfs_read once */
        CHECK(strcmp(res.progs[2].function, "security_inode_unlink") == 0);
        for (size_t i = 0; i < res.n_progs; i++)
                CHECK(strcmp(res.progs[i].name, "count_any") == 0);
        CHECK(attach_all(&res, links) == PASS);
        bss = find_map(&res, ".bss");
        before = read_u64(bss->fd);
        do_unlink();                                    /* security_inode_unlink + vfs_unlink */
        CHECK(read_u64(bss->fd) >= before + 2);
        for (size_t i = 0; i < res.n_progs; i++)
                close(links[i]);
        bb_load_result_free(&res);

        /* Cost: one function against every vfs_* function. */
        s = (struct bb_select) { .name = "count_any", .function = "vfs_read" };
        t0 = now_ms();
        CHECK(load("backend_multi", &s, 1, &res, &e) == 0);
        t1 = now_ms();
        bb_load_result_free(&res);
        s = (struct bb_select) { .name = "count_any", .functions = globs, .n_functions = 1 };
        fds = count_fds();
        t2 = now_ms();
        CHECK(load("backend_multi", &s, 1, &res, &e) == 0);
        printf("    load for 1 function: %.1f ms; for vfs_* (%zu instances, %zu skipped): %.1f ms\n",
               t1 - t0, res.n_progs, res.n_skipped, now_ms() - t2);
        CHECK(res.n_progs > 20);
        for (size_t i = 0; i < res.n_skipped; i++)
                printf("      skipped %s: %s\n", res.skipped[i].function, res.skipped[i].reason);
        CHECK(count_fds() == fds + (int) (res.n_progs + res.n_maps));

        /* The same ten functions: ten loads of the object against one load with ten instances. */
        const char *ten[10];
        for (size_t i = 0; i < 10; i++)
                ten[i] = res.progs[i].function;
        t0 = now_ms();
        for (size_t i = 0; i < 10; i++) {
                struct bb_load_result one = {};

                s = (struct bb_select) { .name = "count_any", .function = ten[i] };
                CHECK(load("backend_multi", &s, 1, &one, &e) == 0);
                bb_load_result_free(&one);
        }
        t1 = now_ms();
        s = (struct bb_select) { .name = "count_any", .functions = ten, .n_functions = 10 };
        struct bb_load_result many = {};
        CHECK(load("backend_multi", &s, 1, &many, &e) == 0 && many.n_progs == 10);
        t2 = now_ms();
        printf("    10 functions: 10 loads %.1f ms, 1 load with 10 instances %.1f ms\n", t1 - t0, t2 - t1);
        bb_load_result_free(&many);
        bb_load_result_free(&res);
        CHECK(count_fds() == fds);
        return PASS;
}

/* A verifier rejection of a further instance names its function, and nothing stays loaded. */
static int t_instance_verifier(void) {
        const char *fns[] = { "vfs_read", "vfs_fsync" };
        struct bb_select s = { .name = "fifth_slot", .functions = fns, .n_functions = 2 };
        struct bb_load_result res = {};
        struct bb_error e = {};
        int fds = count_fds();

        if (!real_kernel)
                return SKIP;
        CHECK(load("backend_args", &s, 1, &res, &e) < 0);
        CHECK_ERR(&e, BB_ERR_VERIFIER);
        CHECK(e.function && strcmp(e.function, "vfs_fsync") == 0);
        CHECK(e.program && strcmp(e.program, "fifth_slot") == 0);
        CHECK(e.log && strstr(e.log, "vfs_fsync"), "log: %s", e.log ?: "-");
        CHECK(res.n_progs == 0 && count_fds() == fds);
        bb_error_clear(&e);

        fns[1] = "vfs_write";                           /* four arguments too: fine */
        CHECK(load("backend_args", &s, 1, &res, &e) == 0);
        CHECK(res.n_progs == 2);
        bb_load_result_free(&res);
        return PASS;
}

static void read_all(const char *path) {
        char buf[4096];
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        while (fd >= 0 && read(fd, buf, sizeof(buf)) > 0)
                ;
        if (fd >= 0)
                close(fd);
}

static void trigger_dummy(void) {
        read_all("/proc/net/dev");                      /* dev_get_stats() on dummy0 */
}

static void trigger_virtio(void) {
        char path[300];
        struct dirent *de;
        DIR *d = opendir("/sys/bus/virtio/devices");

        while (d && (de = readdir(d))) {                /* status_show() asks the transport */
                snprintf(path, sizeof(path), "/sys/bus/virtio/devices/%s/status", de->d_name);
                read_all(path);
        }
        if (d)
                closedir(d);
}

/* A module function, from whichever of these modules this kernel has loaded. */
static const struct {
        const char *module, *function;
        void (*trigger)(void);
} module_targets[] = {
        { "dummy", "dummy_get_stats64", trigger_dummy },
        { "virtio_pci_modern_dev", "vp_modern_get_status", trigger_virtio },
};

static int t_module(void) {
        const char *fns[2] = { "vfs_read" };
        struct bb_select s = { .name = "count_any" };
        struct bb_load_result res = {};
        struct bb_error e = {};
        const char *module = NULL;
        void (*trigger)(void) = NULL;
        int links[2];
        uint64_t before;
        char path[300];

        if (!real_kernel)
                return SKIP;
        for (size_t i = 0; !module && i < sizeof(module_targets) / sizeof(*module_targets); i++) {
                snprintf(path, sizeof(path), "/sys/kernel/btf/%s", module_targets[i].module);
                if (access(path, R_OK) < 0)
                        continue;
                module = module_targets[i].module;
                s.function = fns[1] = module_targets[i].function;
                trigger = module_targets[i].trigger;
        }
        /* A kernel on which neither is a module (6.12 builds virtio_pci in) must load dummy:
         * tests/vm/cases/bpf-backend.sh does. Checking nothing is not a pass. */
        if (!module) {
                printf("    none of the modules dummy, virtio_pci_modern_dev is loaded as a module\n");
                return FAIL;
        }
        /* libbpf resolves the module function for the first instance ... */
        CHECK(load("backend_multi", &s, 1, &res, &e) == 0);
        CHECK(check_result(&res) == PASS);
        CHECK(strcmp(res.progs[0].btf_object, module) == 0);
        bb_load_result_free(&res);
        /* ... fexitd for further instances (attach_btf_obj_fd of the module's BTF). */
        s = (struct bb_select) { .name = "count_any", .functions = fns, .n_functions = 2 };
        CHECK(load("backend_multi", &s, 1, &res, &e) == 0);
        CHECK(check_result(&res) == PASS);
        CHECK(res.n_progs == 2 && strcmp(res.progs[1].btf_object, module) == 0);
        CHECK(attach_all(&res, links) == PASS);
        before = read_u64(find_map(&res, ".bss")->fd);
        trigger();
        CHECK(read_u64(find_map(&res, ".bss")->fd) > before);
        close(links[0]);
        close(links[1]);
        bb_load_result_free(&res);
        return PASS;
}

static int t_fexit_on_bpf(void) {
        struct bb_select s = { .name = "count_any", .function = "xdp_pass_main" };
        struct bb_load_result res = {}, res2 = {};
        struct bb_error e = {};
        struct bpf_object *xdp;
        struct bb_info info;
        char path[512], pkt[64] = {};
        int link, xdp_fd;
        uint32_t id;
        uint64_t before;
        LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = pkt, .data_size_in = sizeof(pkt), .repeat = 3);

        if (!real_kernel)
                return SKIP;
        xdp = bpf_object__open_file(obj_path("backend_xdp", path, sizeof(path)), NULL);
        CHECK(xdp && bpf_object__load(xdp) == 0);
        xdp_fd = bpf_program__fd(bpf_object__find_program_by_name(xdp, "xdp_pass_main"));
        CHECK(bb_prog_info(xdp_fd, &info) == 0);
        s.target_prog_id = info.id;

        CHECK(load("backend_multi", &s, 1, &res, &e) == 0);
        CHECK(check_result(&res) == PASS);
        CHECK(strcmp(res.progs[0].btf_object, "bpf") == 0 && res.progs[0].target_prog_id == info.id);
        CHECK(bb_attach(res.progs[0].fd, &link, &id, &e) == 0, "%s", e.message);
        before = read_u64(find_map(&res, ".bss")->fd);
        CHECK(bpf_prog_test_run_opts(xdp_fd, &run) == 0 && run.retval == 2 /* XDP_PASS */);
        CHECK(read_u64(find_map(&res, ".bss")->fd) >= before + 3);

        /* A misspelled function of that program: suggestions from its own BTF. */
        s.function = "xdp_pass_mian";
        CHECK(load("backend_multi", &s, 1, &res2, &e) < 0);
        CHECK_ERR(&e, BB_ERR_NO_SUCH_FUNCTION);
        CHECK(e.suggestions[0] && strcmp(e.suggestions[0], "xdp_pass_main") == 0);

        /* fexit on an fexit program: refused up front. */
        s.function = "count_any";
        s.target_prog_id = res.progs[0].id;
        CHECK(load("backend_multi", &s, 1, &res2, &e) < 0);
        CHECK_ERR(&e, BB_ERR_FUNCTION_DENIED);
        CHECK(strstr(e.message, "recursively"));

        s.target_prog_id = 0x7ffffff0;                  /* no such program */
        CHECK(load("backend_multi", &s, 1, &res2, &e) < 0);
        CHECK_ERR(&e, BB_ERR_KERNEL);
        CHECK(e.err == ENOENT);
        bb_error_clear(&e);
        close(link);
        bb_load_result_free(&res);
        bpf_object__close(xdp);
        return PASS;
}

/* --hold: objects for bpftool to look at ---------------------------------------------------- */

static int hold_load(const char *obj, const struct bb_select *s, struct bb_load_result *res,
                     int *links) {
        struct bb_error e = {};

        if (load(obj, s, s ? 1 : 0, res, &e) < 0)
                return -1;
        return attach_all(res, links) == PASS ? 0 : -1;
}

static int hold(const char *ready) {
        const char *fns[] = { "vfs_read", "vfs_unlink" };
        struct bb_select s = { .name = "count_any", .functions = fns, .n_functions = 2 };
        struct bb_load_result good = {}, multi = {};
        int good_link[1], multi_links[2], sig;
        struct bb_info li[3];
        sigset_t mask;
        FILE *f;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        if (hold_load("backend_good", NULL, &good, good_link) < 0 ||
            hold_load("backend_multi", &s, &multi, multi_links) < 0 || multi.n_progs != 2)
                return 1;
        if (bb_link_info(good_link[0], &li[0]) < 0 || bb_link_info(multi_links[0], &li[1]) < 0 ||
            bb_link_info(multi_links[1], &li[2]) < 0)
                return 1;
        f = fopen(ready, "we");
        if (!f)
                return 1;
        fprintf(f, "good_link=%u\ngood_prog=%u\ngood_bss=%u\ngood_events=%u\n", li[0].id,
                good.progs[0].id, find_map(&good, ".bss")->id, find_map(&good, "events")->id);
        fprintf(f, "multi_link1=%u\nmulti_prog1=%u\nmulti_link2=%u\nmulti_prog2=%u\nmulti_bss=%u\n",
                li[1].id, multi.progs[0].id, li[2].id, multi.progs[1].id, find_map(&multi, ".bss")->id);
        fclose(f);
        sigwait(&mask, &sig);
        close(good_link[0]);
        close(multi_links[0]);
        close(multi_links[1]);
        bb_load_result_free(&good);
        bb_load_result_free(&multi);
        return 0;
}

/* Costs of the system BTF index on this machine, for the record. */
static int t_index_costs(void) {
        struct btf_index *idx = NULL;
        const char *s[BB_SUGGESTIONS_MAX];
        const struct btf_func **v;
        unsigned objs = 0;
        double t0 = now_ms(), t1, t2, t3;
        size_t n, n_glob;

        CHECK(btf_index_system(&idx) == 0);
        t1 = now_ms();
        n = btf_index_suggest(idx, "vfs_unlinkk", s, BB_SUGGESTIONS_MAX);
        t2 = now_ms();
        CHECK(btf_index_glob(idx, "vfs_*", &v, &n_glob) == 0);
        t3 = now_ms();
        free(v);
        while (btf_index_object_name(idx, objs))
                objs++;
        printf("    index: %zu functions from %u BTF objects in %.1f ms; 5 suggestions in %.2f ms; "
               "vfs_* (%zu) in %.3f ms; traceability %s\n", btf_index_size(idx), objs, t1 - t0,
               t2 - t1, n_glob, t3 - t2,
               btf_index_lookup(idx, "vfs_read")->traceable < 0 ? "unknown (no tracefs)" : "known");
        CHECK(n >= 1);
        btf_index_unref(idx);
        return PASS;
}

static const struct {
        const char *name;
        int (*fn)(void);
} tests[] = {
        { "BTF index costs", t_index_costs },
        { "invalid objects", t_invalid_objects },
        { "no fexit programs", t_no_fexit },
        { "no such program", t_no_such_program },
        { "no such function", t_no_such_function },
        { "denied functions", t_denied },
        { "instance limit", t_limit },
        { "check function", t_check_function },
        { "load probe (EPERM on the host)", t_load_probe },
        { "maps and read-only fds", t_maps },
        { "map sharing", t_map_share },
        { "pins", t_pins },
        { "prog and link info", t_info },
        { "threads", t_threads },
        { "load, attach, counters, ring buffer, pins", t_good },
        { "verifier rejection", t_verifier },
        { "two programs", t_two },
        { "one program, many functions", t_multi },
        { "verifier rejection of a further instance", t_instance_verifier },
        { "module function", t_module },
        { "fexit on a BPF program", t_fexit_on_bpf },
};

int main(int argc, char **argv) {
        int failed = 0, skipped = 0;

        bool hold_mode = argc > 2 && strcmp(argv[1], "--hold") == 0;
        int first_dir = hold_mode ? 3 : 1;

        if (argc > first_dir) {
                obj_dirs = (const char *const *) argv + first_dir;
                n_obj_dirs = argc - first_dir;
        }
        if (hold_mode)
                return hold(argv[2]);
        if (setup_pin_dir() < 0) {
                fprintf(stderr, "no bpffs to pin into: %m\n");
                return 77;
        }
        printf("kernel %#x, objects in %s%s, pins in %s\n", btf_kernel_version(), obj_dirs[0],
               n_obj_dirs > 1 ? " ..." : "", pin_dir);
        for (size_t i = 0; i < sizeof(tests) / sizeof(*tests); i++) {
                int fds = count_fds(), r;
                double t0 = now_ms();

                printf("--- %s\n", tests[i].name);
                r = tests[i].fn();
                if (r == PASS && count_fds() != fds) {
                        fprintf(stderr, "    fd leak: %d before, %d after\n", fds, count_fds());
                        r = FAIL;
                }
                printf("%s %s (%.0f ms)\n",
                       r == PASS ? "PASS" : r == SKIP ? "SKIP" : r == NOTE ? "NOTE" : "FAIL",
                       tests[i].name, now_ms() - t0);
                failed += r == FAIL;
                skipped += r == SKIP;
        }
        cleanup_pin_dir();
        printf("%d failed, %d skipped\n", failed, skipped);
        if (failed)
                return 1;
        return skipped ? 77 : 0;
}
