/* SPDX-License-Identifier: MIT */

/* The daemon on a real kernel: load, attach, count, detach, hand-off to another process, shared
 * maps, connection-bound release, restarts, fexit on another BPF program, verifier rejections.
 * Every kernel-side claim is cross-checked with bpftool, not only with our own replies.
 * Runs in the VM tier (tests/vm/cases/daemon-kernel.sh); on a host whose kernel refuses fexit it
 * exits 77 with the reason. */

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check-main.h"
#include "common/macro.h"
#include "common/varlink-json.h"
#include "daemon-helper.h"

static struct test_daemon d;
static char bpf_dir[512];

static void object_path(const char *name, char *buf, size_t size) {
        snprintf(buf, size, "%s/%s.bpf.o", bpf_dir, name);
}

static int object_fd(const char *name) {
        char path[600];
        int fd;

        object_path(name, path, sizeof(path));
        fd = open(path, O_RDONLY | O_CLOEXEC);
        ck_assert_msg(fd >= 0, "cannot open %s", path);
        return fd;
}

static json_object *params_of(json_object *o) {
        return json_object_object_get(o, "parameters");
}

static json_object *call_ok_fds(int fd, const char *method, const char *params, const int *fds, size_t n) {
        json_object *o;
        const char *err;

        ck_assert_int_eq(test_call(fd, method, params, fds, n, &o, &err), 0);
        ck_assert_msg(!*err, "%s failed: %s", method, json_object_to_json_string(o));
        return o;
}

static json_object *call_ok(int fd, const char *method, const char *params) {
        return call_ok_fds(fd, method, params, NULL, 0);
}

static void call_expect(int fd, const char *method, const char *params, const char *error, json_object **ret) {
        json_object *o;
        const char *err;

        ck_assert_int_eq(test_call(fd, method, params, NULL, 0, &o, &err), 0);
        ck_assert_msg(strcmp(err, error) == 0, "%s: expected %s, got %s", method, error,
                      json_object_to_json_string(o));
        if (ret)
                *ret = o;
        else
                json_object_put(o);
}

/* bpftool is the independent witness: does the kernel have this link / program? Read what it
 * prints, never its exit status: bpftool 7.5 exits 255 from `link show id N` even when it prints
 * the link. Anything but the object or ENOENT fails the test instead of counting as "gone". */
static bool bpftool_has(const char *kind, int64_t id) {
        char cmd[128], out[4096] = "", want[64];
        size_t n;
        FILE *p;

        snprintf(cmd, sizeof(cmd), "bpftool -j %s show id %lld 2>&1", kind, (long long) id);
        p = popen(cmd, "re");
        ck_assert_msg(p, "cannot run %s", cmd);
        n = fread(out, 1, sizeof(out) - 1, p);
        out[n] = '\0';
        (void) pclose(p);
        snprintf(want, sizeof(want), "{\"id\":%lld,", (long long) id);
        if (strncmp(out, want, strlen(want)) == 0)
                return true;
        ck_assert_msg(strstr(out, "No such file or directory"),
                      "%s printed neither the %s nor ENOENT: %s", cmd, kind, out);
        return false;
}

/* Detach is asynchronous from our point of view (workers, RCU grace periods under TCG). */
static bool bpftool_gone_soon(const char *kind, int64_t id) {
        for (int i = 0; i < 300; i++) {
                if (!bpftool_has(kind, id))
                        return true;
                usleep(50000);
        }
        return false;
}

static void unlink_files(int n) {
        for (int i = 0; i < n; i++) {
                char path[64];
                snprintf(path, sizeof(path), "/tmp/fexitd-k-%d-%d", getpid(), i);
                int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
                safe_close(fd);
                unlink(path);
        }
}

static json_object *first(json_object *reply, const char *array) {
        json_object *a = json_object_object_get(params_of(reply), array);

        ck_assert_msg(a && json_object_array_length(a) > 0, "no %s in %s", array,
                      json_object_to_json_string(reply));
        return json_object_array_get_idx(a, 0);
}

static json_object *map_named(json_object *reply, const char *suffix) {
        json_object *a = json_object_object_get(params_of(reply), "maps");

        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                json_object *m = json_object_array_get_idx(a, i);
                const char *name = vl_get_str(m, "name");
                if (name && strlen(name) >= strlen(suffix) &&
                    strcmp(name + strlen(name) - strlen(suffix), suffix) == 0)
                        return m;
        }
        ck_abort_msg("no map *%s in %s", suffix, json_object_to_json_string(reply));
        return NULL;
}

static json_object *load(int fd, const char *object, const char *params) {
        int obj = object_fd(object);
        json_object *o = call_ok_fds(fd, "io.fexitd.Load", params, &obj, 1);

        safe_close(obj);
        return o;
}

static json_object *describe(int fd, int64_t handle) {
        char p[64];
        json_object *o;

        snprintf(p, sizeof(p), "{\"handle\":%lld}", (long long) handle);
        o = call_ok(fd, "io.fexitd.Describe", p);
        return o;
}

static void setup(void) {
        ck_assert_int_eq(test_daemon_start(&d, NULL), 0);
}

/* Per-function instances on every kernel, also where tracing multi-links would be used
 * (tests/vm/cases/multi-link.sh covers those). */
static void setup_instances(void) {
        static const char *const args[] = { "--no-multi-link", NULL };

        ck_assert_int_eq(test_daemon_start(&d, args), 0);
}

static void teardown(void) {
        test_daemon_stop(&d);
}

static uint64_t bss_count(int map_fd) {
        char value[64] = {};
        uint32_t key = 0;

        ck_assert_int_eq(bpf_map_lookup_elem(map_fd, &key, value), 0);
        return *(uint64_t *) value;
}

START_TEST(load_attach_count_detach_unload) {
        int fd = test_connect(&d), map_fd, fds[VL_FDS_MAX];
        json_object *o = load(fd, "fexit_count", "{\"object\":0,\"attach\":true}"), *r;
        int64_t prog = vl_get_int(first(o, "programs"), "handle", 0);
        int64_t prog_id = vl_get_int(first(o, "programs"), "kernel_id", 0);
        int64_t link = vl_get_int(first(o, "links"), "handle", 0);
        int64_t link_id = vl_get_int(first(o, "links"), "kernel_id", 0);
        int64_t bss = vl_get_int(map_named(o, ".bss"), "handle", 0);
        char p[64];
        size_t n;

        ck_assert_str_eq(vl_get_str(json_object_object_get(first(o, "programs"), "target"), "function"), "vfs_unlink");
        ck_assert_str_eq(vl_get_str(first(o, "links"), "state"), "attached");
        json_object_put(o);
        ck_assert(bpftool_has("prog", prog_id));
        ck_assert(bpftool_has("link", link_id));

        /* ShareMap of .bss: frozen, mmap-able read-only, the counter moves */
        snprintf(p, sizeof(p), "{\"handle\":%lld}", (long long) bss);
        ck_assert_int_eq(test_send_call(fd, "io.fexitd.ShareMap", p, NULL, 0), 0);
        ck_assert_int_eq(test_recv(fd, &r, fds, &n), 0);
        ck_assert_msg(!vl_get_str(r, "error"), "%s", json_object_to_json_string(r));
        ck_assert_uint_eq(n, 1);
        ck_assert(!vl_get_bool(params_of(r), "writable", true));
        json_object_put(r);
        map_fd = fds[0];
        uint64_t before = bss_count(map_fd);
        unlink_files(7);
        ck_assert_uint_ge(bss_count(map_fd) - before, 7);
        volatile uint64_t *mapped = mmap(NULL, 4096, PROT_READ, MAP_SHARED, map_fd, 0);
        ck_assert_ptr_ne((void *) mapped, MAP_FAILED);
        before = mapped[0];
        unlink_files(3);
        ck_assert_uint_ge(mapped[0] - before, 3);
        ck_assert_ptr_eq(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0), MAP_FAILED);
        munmap((void *) mapped, 4096);
        safe_close(map_fd);

        /* Detach: the kernel link goes, the program stays */
        snprintf(p, sizeof(p), "{\"handle\":%lld}", (long long) link);
        json_object_put(call_ok(fd, "io.fexitd.Detach", p));
        ck_assert(!bpftool_has("link", link_id));
        ck_assert(bpftool_has("prog", prog_id));
        call_expect(fd, "io.fexitd.Detach", p, "io.fexitd.NoSuchHandle", NULL);
        o = describe(fd, prog);
        ck_assert_str_eq(vl_get_str(json_object_object_get(params_of(o), "handle"), "state"), "loaded");
        json_object_put(o);

        /* Unload: the program and its maps go */
        snprintf(p, sizeof(p), "{\"handle\":%lld}", (long long) prog);
        json_object_put(call_ok(fd, "io.fexitd.Unload", p));
        ck_assert(bpftool_gone_soon("prog", prog_id));
        o = call_ok(fd, "io.fexitd.List", NULL);
        ck_assert_int_eq(json_object_array_length(json_object_object_get(params_of(o), "handles")), 0);
        json_object_put(o);
        test_disconnect(fd);
}
END_TEST

START_TEST(attach_twice_and_wrong_kinds) {
        int fd = test_connect(&d);
        json_object *o = load(fd, "fexit_count", "{\"object\":0}"), *e;
        int64_t prog = vl_get_int(first(o, "programs"), "handle", 0);
        int64_t bss = vl_get_int(map_named(o, ".bss"), "handle", 0);
        char p[64];

        json_object_put(o);
        /* grants given at attach time land on the link */
        snprintf(p, sizeof(p), "{\"handle\":%lld,\"grants\":[\"user:65534\"]}", (long long) prog);
        o = call_ok(fd, "io.fexitd.Attach", p);
        e = json_object_object_get(json_object_object_get(params_of(o), "link"), "grants");
        ck_assert_int_eq(json_object_array_length(e), 1);
        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(e, 0)), "user:65534");
        json_object_put(o);
        snprintf(p, sizeof(p), "{\"handle\":%lld}", (long long) prog);
        /* a tracing program attaches once: the kernel says EBUSY, and we say so */
        call_expect(fd, "io.fexitd.Attach", p, "io.fexitd.KernelError", &e);
        ck_assert_str_eq(vl_get_str(params_of(e), "errno"), "EBUSY");
        json_object_put(e);
        call_expect(fd, "io.fexitd.TakeLink", p, "io.fexitd.WrongHandleKind", &e);
        ck_assert_str_eq(vl_get_str(params_of(e), "actual"), "program");
        json_object_put(e);
        snprintf(p, sizeof(p), "{\"handle\":%lld}", (long long) bss);
        call_expect(fd, "io.fexitd.Attach", p, "io.fexitd.WrongHandleKind", NULL);
        test_disconnect(fd);
}
END_TEST

START_TEST(connection_bound_objects_go_with_the_client) {
        int fd = test_connect(&d), fd2 = test_connect(&d);
        json_object *o = load(fd, "fexit_count", "{\"object\":0,\"attach\":true,\"lifetime\":\"connection\"}");
        int64_t prog_id = vl_get_int(first(o, "programs"), "kernel_id", 0);
        int64_t link_id = vl_get_int(first(o, "links"), "kernel_id", 0);

        ck_assert_str_eq(vl_get_str(first(o, "links"), "lifetime"), "connection");
        json_object_put(o);
        ck_assert(bpftool_has("link", link_id));
        test_disconnect(fd);
        ck_assert(bpftool_gone_soon("link", link_id));
        ck_assert(bpftool_gone_soon("prog", prog_id));
        o = call_ok(fd2, "io.fexitd.List", NULL);
        ck_assert_int_eq(json_object_array_length(json_object_object_get(params_of(o), "handles")), 0);
        json_object_put(o);
        test_disconnect(fd2);
}
END_TEST

/* TakeLink moves the link's lifetime to an unprivileged process: it stays while that process
 * holds the fd, the daemon refuses to pretend it can detach it, and it goes when the holder exits. */
START_TEST(take_link_moves_ownership) {
        int fd = test_connect(&d), sync_pipe[2], done_pipe[2], st;
        json_object *o = load(fd, "fexit_count",
                              "{\"object\":0,\"attach\":true,\"lifetime\":\"persistent\",\"grants\":[\"user:65534\"]}"), *e;
        int64_t link = vl_get_int(first(o, "links"), "handle", 0);
        int64_t link_id = vl_get_int(first(o, "links"), "kernel_id", 0);
        int64_t prog = vl_get_int(first(o, "programs"), "handle", 0);
        char p[64], c;
        pid_t pid;

        json_object_put(o);
        snprintf(p, sizeof(p), "{\"handle\":%lld}", (long long) link);
        ck_assert_int_eq(pipe2(sync_pipe, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(done_pipe, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int cfd, fds[VL_FDS_MAX];
                size_t n;
                /* our copies of the parent's ends, or neither pipe would ever see EOF */
                safe_close(sync_pipe[0]);
                safe_close(done_pipe[1]);
                if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(10);
                cfd = test_connect(&d);
                if (test_send_call(cfd, "io.fexitd.TakeLink", p, NULL, 0) < 0 ||
                    test_recv(cfd, &o, fds, &n) < 0 || vl_get_str(o, "error") || n != 1)
                        _exit(11);
                test_disconnect(cfd);   /* the link is held by the fd, not the connection */
                (void) write(sync_pipe[1], "x", 1);
                (void) read(done_pipe[0], &c, 1);
                _exit(0);
        }
        safe_close(sync_pipe[1]);
        safe_close(done_pipe[0]);
        ck_assert_int_eq(read(sync_pipe[0], &c, 1), 1);
        ck_assert(bpftool_has("link", link_id));
        o = describe(fd, link);
        e = json_object_object_get(params_of(o), "handle");
        ck_assert_str_eq(vl_get_str(e, "state"), "handed-off");
        ck_assert_int_eq(vl_get_int(e, "holder_uid", -1), 65534);
        ck_assert_int_eq(vl_get_int(e, "holder_pid", -1), pid);
        json_object_put(o);
        call_expect(fd, "io.fexitd.Detach", p, "io.fexitd.NotDetachable", NULL);
        call_expect(fd, "io.fexitd.TakeLink", p, "io.fexitd.NotDetachable", NULL);
        /* the daemon's pin is gone too: nothing but the holder keeps it */
        safe_close(done_pipe[1]);
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "holder failed at step %d", WEXITSTATUS(st));
        ck_assert(bpftool_gone_soon("link", link_id));
        /* the record of a handed-off link goes with its program */
        snprintf(p, sizeof(p), "{\"handle\":%lld}", (long long) prog);
        json_object_put(call_ok(fd, "io.fexitd.Unload", p));
        snprintf(p, sizeof(p), "{\"handle\":%lld}", (long long) link);
        call_expect(fd, "io.fexitd.Describe", p, "io.fexitd.NoSuchHandle", NULL);
        test_disconnect(fd);
}
END_TEST

/* A consumer without a grant is refused; with one it may read but never write a map. */
START_TEST(consumer_reads_but_cannot_write) {
        int fd = test_connect(&d), st;
        json_object *o = load(fd, "fexit_count",
                              "{\"object\":0,\"attach\":true,\"lifetime\":\"persistent\",\"grants\":[\"user:65534\"]}");
        json_object *o2 = load(fd, "fexit_count", "{\"object\":0,\"lifetime\":\"persistent\"}");
        int64_t bss = vl_get_int(map_named(o, ".bss"), "handle", 0);
        int64_t other = vl_get_int(first(o2, "programs"), "handle", 0);
        int64_t rodata = vl_get_int(map_named(o, ".rodata"), "handle", 0);
        pid_t pid;

        json_object_put(o);
        json_object_put(o2);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int cfd, fds[VL_FDS_MAX];
                size_t n;
                char p[64], value[64] = {};
                uint32_t key = 0;
                const char *err;
                if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(10);
                cfd = test_connect(&d);
                /* not granted: refused, and not listed */
                snprintf(p, sizeof(p), "{\"handle\":%lld}", (long long) other);
                if (test_call(cfd, "io.fexitd.Unload", p, NULL, 0, &o, &err) < 0 ||
                    strcmp(err, "io.fexitd.PermissionDenied") != 0)
                        _exit(11);
                if (test_call(cfd, "io.fexitd.List", NULL, NULL, 0, &o, &err) < 0 || *err ||
                    json_object_array_length(json_object_object_get(params_of(o), "handles")) != 4)
                        _exit(12);   /* prog, link, .bss, .rodata; nothing of the other load */
                /* a path for a catalog name: not a catalog name, refused before the policy */
                if (test_call(cfd, "io.fexitd.Load", "{\"catalog\":\"../../etc/passwd\"}", NULL, 0, &o, &err) < 0 ||
                    strcmp(err, "org.varlink.service.InvalidParameter") != 0)
                        _exit(13);
                /* a valid name the policy does not grant: refused by the policy */
                if (test_call(cfd, "io.fexitd.Load", "{\"catalog\":\"fexit_count\"}", NULL, 0, &o, &err) < 0 ||
                    strcmp(err, "io.fexitd.PermissionDenied") != 0)
                        _exit(22);
                /* granted .bss: readable through mmap and lookup, never writable */
                snprintf(p, sizeof(p), "{\"handle\":%lld}", (long long) bss);
                if (test_send_call(cfd, "io.fexitd.ShareMap", p, NULL, 0) < 0 ||
                    test_recv(cfd, &o, fds, &n) < 0 || vl_get_str(o, "error") || n != 1)
                        _exit(14);
                if (bpf_map_lookup_elem(fds[0], &key, value) < 0)
                        _exit(15);
                if (bpf_map_update_elem(fds[0], &key, value, 0) == 0)
                        _exit(16);
                if (mmap(NULL, 4096, PROT_READ, MAP_SHARED, fds[0], 0) == MAP_FAILED)
                        _exit(17);
                if (mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0) != MAP_FAILED)
                        _exit(18);
                /* a second consumer of the same frozen map is served too */
                if (test_send_call(cfd, "io.fexitd.ShareMap", p, NULL, 0) < 0 ||
                    test_recv(cfd, &o, fds, &n) < 0 || vl_get_str(o, "error") || n != 1)
                        _exit(21);
                /* a plain read-only fd for .rodata */
                snprintf(p, sizeof(p), "{\"handle\":%lld}", (long long) rodata);
                if (test_send_call(cfd, "io.fexitd.ShareMap", p, NULL, 0) < 0 ||
                    test_recv(cfd, &o, fds, &n) < 0 || vl_get_str(o, "error") || n != 1)
                        _exit(19);
                if (bpf_map_update_elem(fds[0], &key, value, 0) == 0)
                        _exit(20);
                _exit(0);
        }
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "consumer failed at step %d", WEXITSTATUS(st));
        test_disconnect(fd);
}
END_TEST

/* Persistent links keep their kernel ids across a crash and a clean restart. */
START_TEST(persistent_survives_restarts) {
        int fd = test_connect(&d);
        json_object *o = load(fd, "fexit_count", "{\"object\":0,\"attach\":true,\"lifetime\":\"persistent\"}");
        json_object *c = load(fd, "fexit_count", "{\"object\":0,\"attach\":true,\"lifetime\":\"connection\"}");
        int64_t link = vl_get_int(first(o, "links"), "handle", 0);
        int64_t link_id = vl_get_int(first(o, "links"), "kernel_id", 0);
        int64_t prog = vl_get_int(first(o, "programs"), "handle", 0);
        int64_t conn_link_id = vl_get_int(first(c, "links"), "kernel_id", 0);
        int64_t last;
        int sigs[] = { SIGKILL, SIGTERM };
        char p[64];

        json_object_put(o);
        json_object_put(c);
        test_disconnect(fd);
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++) {
                ck_assert_int_eq(test_daemon_restart(&d, sigs[i]), 0);
                fd = test_connect(&d);
                o = describe(fd, link);
                ck_assert_int_eq(vl_get_int(json_object_object_get(params_of(o), "handle"), "kernel_id", 0), link_id);
                ck_assert_str_eq(vl_get_str(json_object_object_get(params_of(o), "handle"), "state"), "attached");
                json_object_put(o);
                ck_assert(bpftool_has("link", link_id));
                ck_assert(bpftool_gone_soon("link", conn_link_id));
                test_disconnect(fd);
        }
        /* handles are never reused after a restart */
        fd = test_connect(&d);
        o = load(fd, "fexit_count", "{\"object\":0}");
        last = vl_get_int(first(o, "programs"), "handle", 0);
        ck_assert_int_gt(last, link);
        json_object_put(o);
        snprintf(p, sizeof(p), "{\"handle\":%lld}", (long long) prog);
        json_object_put(call_ok(fd, "io.fexitd.Unload", p));
        ck_assert(bpftool_gone_soon("link", link_id));
        test_disconnect(fd);
}
END_TEST

/* The link's program as bpftool prints it ("ID: tracing  prog PROG ..."), -1 if bpftool does not
 * show the link: the printed output, not the exit status, is the witness. */
static int64_t bpftool_link_prog(int64_t link_id) {
        char cmd[128], line[512], head[32];
        long long prog = -1;
        FILE *f;

        snprintf(cmd, sizeof(cmd), "bpftool link show id %lld 2>/dev/null", (long long) link_id);
        snprintf(head, sizeof(head), "%lld: ", (long long) link_id);
        f = popen(cmd, "r");
        ck_assert_ptr_nonnull(f);
        if (fgets(line, sizeof(line), f) && strncmp(line, head, strlen(head)) == 0) {
                const char *p = strstr(line, " prog ");
                if (p)
                        prog = strtoll(p + 6, NULL, 10);
        }
        pclose(f);
        return prog;
}

static void remove_state_files(void) {
        char path[400];

        snprintf(path, sizeof(path), "%s/state.json", d.state_dir);
        (void) unlink(path);
        snprintf(path, sizeof(path), "%s/state.json.old", d.state_dir);
        (void) unlink(path);
}

/* issue 11, D8: a deleted or damaged state.json (and no previous one) costs nothing: the pins are
 * rebuilt into handles, the fexit link stays attached with the same kernel link id and keeps
 * counting, and the program's target is told from the kernel's BTF. */
START_TEST(persistent_survives_lost_state) {
        int fd = test_connect(&d), bss_fd;
        json_object *o = load(fd, "fexit_count", "{\"object\":0,\"attach\":true,\"lifetime\":\"persistent\"}");
        int64_t prog = vl_get_int(first(o, "programs"), "handle", 0);
        int64_t prog_id = vl_get_int(first(o, "programs"), "kernel_id", 0);
        int64_t link = vl_get_int(first(o, "links"), "handle", 0);
        int64_t link_id = vl_get_int(first(o, "links"), "kernel_id", 0);
        int64_t bss_id = vl_get_int(map_named(o, ".bss"), "kernel_id", 0);
        char p[64], path[400];
        json_object *h;
        uint64_t before;

        json_object_put(o);
        test_disconnect(fd);
        ck_assert_int_eq(bpftool_link_prog(link_id), prog_id);
        bss_fd = bpf_map_get_fd_by_id((uint32_t) bss_id);
        ck_assert_int_ge(bss_fd, 0);
        for (int variant = 0; variant < 2; variant++) {
                remove_state_files();
                if (variant == 1) {   /* damaged: cut short, as a crash mid-write would leave it */
                        snprintf(path, sizeof(path), "%s/state.json", d.state_dir);
                        FILE *f = fopen(path, "we");
                        ck_assert_ptr_nonnull(f);
                        fputs("{\"version\":1,\"next_handle\":", f);
                        fclose(f);
                }
                ck_assert_int_eq(test_daemon_restart(&d, variant == 0 ? SIGKILL : SIGTERM), 0);
                fd = test_connect(&d);
                o = describe(fd, link);
                h = json_object_object_get(params_of(o), "handle");
                ck_assert_int_eq(vl_get_int(h, "kernel_id", 0), link_id);
                ck_assert_int_eq(vl_get_int(h, "program", 0), prog);
                ck_assert_str_eq(vl_get_str(h, "state"), "attached");
                ck_assert_str_eq(vl_get_str(h, "recovery"), "rebuilt");
                json_object_put(o);
                o = describe(fd, prog);
                h = json_object_object_get(params_of(o), "handle");
                ck_assert_int_eq(vl_get_int(h, "kernel_id", 0), prog_id);
                ck_assert_str_eq(vl_get_str(json_object_object_get(h, "target"), "function"), "vfs_unlink");
                json_object_put(o);
                test_disconnect(fd);
                ck_assert_int_eq(bpftool_link_prog(link_id), prog_id);
                before = bss_count(bss_fd);
                unlink_files(3);
                ck_assert_uint_ge(bss_count(bss_fd), before + 3);
        }
        safe_close(bss_fd);
        /* what was rebuilt can be released: Unload detaches the link */
        fd = test_connect(&d);
        snprintf(p, sizeof(p), "{\"handle\":%lld}", (long long) prog);
        json_object_put(call_ok(fd, "io.fexitd.Unload", p));
        ck_assert(bpftool_gone_soon("link", link_id));
        ck_assert_int_eq(bpftool_link_prog(link_id), -1);
        test_disconnect(fd);
}
END_TEST

START_TEST(fexit_on_another_bpf_program) {
        char path[600], p[256];
        struct bpf_object *xdp;
        struct bpf_program *main_prog;
        int fd = test_connect(&d), xdp_fd, map_fd, fds[VL_FDS_MAX];
        json_object *o, *r;
        uint32_t prog_id;
        struct bpf_prog_info info = {};
        uint32_t len = sizeof(info);
        char pkt[64] = {};
        size_t n;
        LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = pkt, .data_size_in = sizeof(pkt), .repeat = 5);

        object_path("backend_xdp", path, sizeof(path));
        xdp = bpf_object__open_file(path, NULL);
        ck_assert_ptr_nonnull(xdp);
        ck_assert_int_eq(bpf_object__load(xdp), 0);
        main_prog = bpf_object__find_program_by_name(xdp, "xdp_pass_main");
        xdp_fd = bpf_program__fd(main_prog);
        ck_assert_int_eq(bpf_obj_get_info_by_fd(xdp_fd, &info, &len), 0);
        prog_id = info.id;

        snprintf(p, sizeof(p), "{\"object\":0,\"attach\":true,\"programs\":[{\"name\":\"on_xdp\",\"target_prog_id\":%u}]}", prog_id);
        o = load(fd, "fexit_on_xdp", p);
        ck_assert_int_eq(vl_get_int(json_object_object_get(first(o, "programs"), "target"), "target_prog_id", 0), prog_id);
        snprintf(p, sizeof(p), "{\"handle\":%lld}", (long long) vl_get_int(map_named(o, ".bss"), "handle", 0));
        json_object_put(o);
        ck_assert_int_eq(test_send_call(fd, "io.fexitd.ShareMap", p, NULL, 0), 0);
        ck_assert_int_eq(test_recv(fd, &r, fds, &n), 0);
        ck_assert_uint_eq(n, 1);
        json_object_put(r);
        map_fd = fds[0];
        ck_assert_int_eq(bpf_prog_test_run_opts(xdp_fd, &run), 0);
        ck_assert_int_eq(run.retval, 2 /* XDP_PASS */);
        ck_assert_uint_ge(bss_count(map_fd), 5);
        safe_close(map_fd);
        bpf_object__close(xdp);
        test_disconnect(fd);
}
END_TEST

START_TEST(verifier_rejection_returns_its_log) {
        int fd = test_connect(&d), obj = object_fd("backend_bad");
        json_object *o;
        const char *err;

        ck_assert_int_eq(test_call(fd, "io.fexitd.Load", "{\"object\":0}", &obj, 1, &o, &err), 0);
        ck_assert_str_eq(err, "io.fexitd.VerifierRejected");
        ck_assert_str_eq(vl_get_str(params_of(o), "program"), "null_deref");
        ck_assert_ptr_nonnull(strstr(vl_get_str(params_of(o), "log"), "invalid mem access"));
        json_object_put(o);
        safe_close(obj);
        o = call_ok(fd, "io.fexitd.List", NULL);
        ck_assert_int_eq(json_object_array_length(json_object_object_get(params_of(o), "handles")), 0);
        json_object_put(o);
        test_disconnect(fd);
}
END_TEST

/* One program on many functions: one instance (handle) per function, attached and detached as
 * a group. */
START_TEST(one_program_many_functions) {
        int fd = test_connect(&d);
        json_object *o = load(fd, "fexit_count",
                              "{\"object\":0,\"programs\":[{\"name\":\"fexit_count\","
                              "\"functions\":[\"security_inode_unlink\",\"vfs_unlink\",\"vfs_rmdir\"]}]}");
        json_object *progs = json_object_object_get(params_of(o), "programs"), *r, *links;
        int64_t link_ids[3];
        char p[96];

        ck_assert_int_eq(json_object_array_length(progs), 3);
        snprintf(p, sizeof(p), "{\"handle\":%lld,\"group\":true}",
                 (long long) vl_get_int(json_object_array_get_idx(progs, 1), "handle", 0));
        json_object_put(o);
        r = call_ok(fd, "io.fexitd.Attach", p);
        links = json_object_object_get(params_of(r), "links");
        ck_assert_int_eq(json_object_array_length(links), 3);
        for (size_t i = 0; i < 3; i++) {
                link_ids[i] = vl_get_int(json_object_array_get_idx(links, i), "kernel_id", 0);
                ck_assert(bpftool_has("link", link_ids[i]));
        }
        snprintf(p, sizeof(p), "{\"handle\":%lld,\"group\":true}",
                 (long long) vl_get_int(json_object_array_get_idx(links, 2), "handle", 0));
        json_object_put(r);
        json_object_put(call_ok(fd, "io.fexitd.Detach", p));
        for (size_t i = 0; i < 3; i++)
                ck_assert(!bpftool_has("link", link_ids[i]));
        test_disconnect(fd);
}
END_TEST

/* A glob loads what can be traced and reports what cannot, with the reason; a glob of which
 * nothing can be traced is refused. */
START_TEST(globs_report_what_they_skip) {
        int fd = test_connect(&d), obj = object_fd("fexit_count");
        json_object *o = load(fd, "fexit_count",
                              "{\"object\":0,\"programs\":[{\"name\":\"fexit_count\",\"functions\":[\"vfs_*\"]}]}");
        json_object *skipped = json_object_object_get(params_of(o), "skipped"), *e;
        const char *err;

        ck_assert_int_ge(json_object_array_length(json_object_object_get(params_of(o), "programs")), 10);
        ck_assert_int_ge(json_object_array_length(skipped), 1);
        ck_assert_ptr_nonnull(vl_get_str(json_object_array_get_idx(skipped, 0), "reason"));
        json_object_put(o);
        ck_assert_int_eq(test_call(fd, "io.fexitd.Load",
                                   "{\"object\":0,\"programs\":[{\"name\":\"fexit_count\",\"functions\":[\"migrate_dis*\"]}]}",
                                   &obj, 1, &e, &err), 0);
        ck_assert_str_eq(err, "io.fexitd.FunctionDenied");
        json_object_put(e);
        safe_close(obj);
        test_disconnect(fd);
}
END_TEST

/* The running kernel, as the measured table in docs/testing.md names it. */
static const char *kernel_release(void) {
        static struct utsname u;

        if (!*u.release)
                ck_assert_int_eq(uname(&u), 0);
        return u.release;
}

static bool kernel_at_least(unsigned major, unsigned minor) {
        unsigned a = 0, b = 0;

        ck_assert_int_ge(sscanf(kernel_release(), "%u.%u", &a, &b), 2);
        return a > major || (a == major && b >= minor);
}

/* Runs one program of test_run_trigger.bpf.c with BPF_PROG_TEST_RUN: the kernel then calls its
 * own test functions (bpf_fentry_test1.., bpf_modify_return_test2). */
static void test_run_trigger(const char *prog_name) {
        LIBBPF_OPTS(bpf_test_run_opts, o);
        struct bpf_object *obj;
        struct bpf_program *p;
        char path[600];

        object_path("test_run_trigger", path, sizeof(path));
        obj = bpf_object__open_file(path, NULL);
        ck_assert_msg(obj, "cannot open %s", path);
        bpf_object__for_each_program(p, obj)
                bpf_program__set_autoload(p, strcmp(bpf_program__name(p), prog_name) == 0);
        ck_assert_int_eq(bpf_object__load(obj), 0);
        p = bpf_object__find_program_by_name(obj, prog_name);
        ck_assert_int_eq(bpf_prog_test_run_opts(bpf_program__fd(p), &o), 0);
        bpf_object__close(obj);
}

/* The .bss of a Load reply, through ShareMap, as a consumer would read it. */
static void read_bss(int fd, json_object *load_reply, void *buf, size_t size) {
        char p[64], value[256] = "";
        json_object *r;
        int fds[VL_FDS_MAX];
        uint32_t key = 0;
        size_t n;

        ck_assert_uint_le(size, sizeof(value));
        snprintf(p, sizeof(p), "{\"handle\":%lld}", (long long) vl_get_int(map_named(load_reply, ".bss"), "handle", 0));
        ck_assert_int_eq(test_send_call(fd, "io.fexitd.ShareMap", p, NULL, 0), 0);
        ck_assert_int_eq(test_recv(fd, &r, fds, &n), 0);
        ck_assert_msg(!vl_get_str(r, "error") && n == 1, "%s", json_object_to_json_string(r));
        json_object_put(r);
        ck_assert_int_eq(bpf_map_lookup_elem(fds[0], &key, value), 0);
        safe_close(fds[0]);
        memcpy(buf, value, size);
}

/* A Load reply that attached: bpftool must see the link; then the trigger fires it and the .bss
 * is read. Returns the link's kernel id. */
static int64_t fire_loaded(int fd, json_object *o, const char *trigger, void *bss, size_t size) {
        int64_t link_id = vl_get_int(first(o, "links"), "kernel_id", 0);

        ck_assert(bpftool_has("link", link_id));
        test_run_trigger(trigger);
        read_bss(fd, o, bss, size);
        return link_id;
}

/* The link was connection-bound: closing the connection detaches it. */
static void disconnect_and_check_gone(int fd, json_object *load_reply, int64_t link_id) {
        json_object_put(load_reply);
        test_disconnect(fd);
        ck_assert(bpftool_gone_soon("link", link_id));
}

/* Loads object (connection-bound) with params; the error name, "" on success, and the reply. */
static const char *load_try(int fd, const char *object, const char *params, json_object **ret) {
        int obj = object_fd(object);
        const char *err;

        ck_assert_int_eq(test_call(fd, "io.fexitd.Load", params, &obj, 1, ret, &err), 0);
        safe_close(obj);
        return err;
}

/* fexit.s/ through fexitd, a program that calls bpf_copy_from_user. Measured: Linux 6.1 refuses
 * every target ("... is not sleepable"), 6.12 and 7.3 let bpf_fentry_test1 sleep. A kernel in
 * between is held to what the daemon probed, and the test says so. */
START_TEST(sleepable_fexit_per_kernel) {
        int fd = test_connect(&d);
        json_object *f = test_features(fd), *o;
        int expect = kernel_at_least(6, 12) ? 1 : kernel_at_least(6, 2) ? -1 : 0;
        struct { uint64_t calls; long copy_ret; int last_ret; } res;
        const char *err;
        bool probed;
        int64_t link_id;

        ck_assert_msg(f, "Status never reported features");
        probed = vl_get_bool(f, "sleepable_fexit", false);
        json_object_put(f);
        if (expect < 0)
                printf("Linux %s: no measurement for fexit.s/; the probe says %s\n", kernel_release(),
                       probed ? "sleepable" : "not sleepable");
        else
                ck_assert_msg(probed == (expect == 1), "Linux %s: the probe says sleepable_fexit=%d, "
                              "measured %d", kernel_release(), probed, expect);
        err = load_try(fd, "fexit_sleepable", "{\"object\":0,\"attach\":true}", &o);
        if (!probed) {
                ck_assert_msg(strcmp(err, "io.fexitd.FunctionNotSleepable") == 0, "Linux %s: expected "
                              "FunctionNotSleepable, got %s", kernel_release(), json_object_to_json_string(o));
                ck_assert_str_eq(vl_get_str(params_of(o), "function"), "bpf_fentry_test1");
                printf("Linux %s refuses fexit.s/bpf_fentry_test1 as it should: %s\n", kernel_release(),
                       json_object_to_json_string(params_of(o)));
                json_object_put(o);
                o = call_ok(fd, "io.fexitd.Status", NULL);
                ck_assert_int_eq(vl_get_int(params_of(o), "programs", -1), 0);
                json_object_put(o);
                test_disconnect(fd);
                return;
        }
        ck_assert_msg(!*err, "Linux %s: fexit.s/ refused: %s", kernel_release(), json_object_to_json_string(o));
        link_id = fire_loaded(fd, o, "fentry_trigger", &res, sizeof(res));
        ck_assert_uint_ge(res.calls, 1);
        ck_assert_int_eq(res.copy_ret, -EFAULT);
        ck_assert_int_eq(res.last_ret, 2);
        printf("Linux %s: fexit.s/bpf_fentry_test1 fired %llu times, bpf_copy_from_user gave %ld\n",
               kernel_release(), (unsigned long long) res.calls, res.copy_ret);
        disconnect_and_check_gone(fd, o, link_id);
}
END_TEST

/* More than 6 arguments. Measured: the x86-64 trampoline of 6.1 saves 6 argument registers
 * (attach fails with ENOTSUPP), 6.12 and 7.3 save 12. Where 6, fexitd refuses from BTF before
 * the kernel is asked; where 12, bpf_modify_return_test2 (7 arguments) loads, attaches, fires
 * and the program reads the seventh. */
START_TEST(seven_arguments_per_kernel) {
        int fd = test_connect(&d);
        json_object *f = test_features(fd), *o;
        int64_t max, expect = kernel_at_least(6, 6) ? 12 : 6, link_id;
        struct { uint64_t calls; int seventh; } res;
        const char *err;

        ck_assert_msg(f, "Status never reported features");
        max = vl_get_int(f, "max_fexit_args", 0);
        json_object_put(f);
#if defined(__x86_64__)
        ck_assert_msg(max == expect, "Linux %s: the probe says %lld argument registers, measured %lld",
                      kernel_release(), (long long) max, (long long) expect);
#endif
        if (max == 6) {
                err = load_try(fd, "fexit_many_args", "{\"object\":0,\"attach\":true,\"programs\":[{\"name\":"
                               "\"seven_args_exit\",\"function\":\"do_mmap\"}]}", &o);
                ck_assert_msg(strcmp(err, "io.fexitd.TooManyArguments") == 0, "Linux %s: expected "
                              "TooManyArguments, got %s", kernel_release(), json_object_to_json_string(o));
                ck_assert_str_eq(vl_get_str(params_of(o), "function"), "do_mmap");
                ck_assert_int_eq(vl_get_int(params_of(o), "max", 0), 6);
                ck_assert_int_gt(vl_get_int(params_of(o), "registers", 0), 6);
                printf("Linux %s refuses 7+ arguments before the kernel call: %s\n", kernel_release(),
                       json_object_to_json_string(params_of(o)));
                json_object_put(o);
                test_disconnect(fd);
                return;
        }
        err = load_try(fd, "fexit_many_args", "{\"object\":0,\"attach\":true}", &o);
        ck_assert_msg(!*err, "Linux %s: 7 arguments refused: %s", kernel_release(), json_object_to_json_string(o));
        link_id = fire_loaded(fd, o, "fmod_ret_trigger", &res, sizeof(res));
        ck_assert_uint_ge(res.calls, 1);
        ck_assert_int_eq(res.seventh, 7);
        printf("Linux %s: fexit on bpf_modify_return_test2 fired %llu times, seventh argument %d\n",
               kernel_release(), (unsigned long long) res.calls, res.seventh);
        disconnect_and_check_gone(fd, o, link_id);
}
END_TEST

/* Modules that are modules on this kernel, with their BTF: live in /proc/modules and present in
 * /sys/kernel/btf (a built-in driver such as 6.12's virtio_pci has neither). */
static bool module_has_btf(const char *module) {
        char line[512], name[128], path[300];
        bool live = false;
        FILE *f = fopen("/proc/modules", "re");

        while (f && !live && fgets(line, sizeof(line), f))
                live = sscanf(line, "%127s", name) == 1 && strcmp(name, module) == 0 &&
                       strstr(line, " Live ");
        if (f)
                fclose(f);
        snprintf(path, sizeof(path), "/sys/kernel/btf/%s", module);
        return live && access(path, R_OK) == 0;
}

#define MODULE_CANDIDATES_MAX 24

/* Traceable functions of such modules ("name [module]" in available_filter_functions), at most
 * 3 per module so that one module's oddities cannot use up every try. */
static size_t module_candidates(char fn[][128], char mod[][64]) {
        static const char *const paths[] = { "/sys/kernel/tracing/available_filter_functions",
                                             "/sys/kernel/debug/tracing/available_filter_functions" };
        char line[512], f[128], m[64], last[64] = "";
        size_t n = 0, per = 0;
        FILE *in = NULL;

        for (size_t i = 0; !in && i < ELEMENTSOF(paths); i++)
                in = fopen(paths[i], "re");
        ck_assert_msg(in, "no available_filter_functions: mount tracefs");
        while (n < MODULE_CANDIDATES_MAX && fgets(line, sizeof(line), in)) {
                if (sscanf(line, "%127s [%63[^]]]", f, m) != 2)
                        continue;
                if (strcmp(m, last) != 0) {
                        snprintf(last, sizeof(last), "%s", m);
                        per = module_has_btf(m) ? 0 : 3;
                }
                if (per >= 3)
                        continue;
                per++;
                snprintf(fn[n], 128, "%s", f);
                snprintf(mod[n++], 64, "%s", m);
        }
        fclose(in);
        return n;
}

/* A function of a loaded module, picked at run time from what this guest really has loaded as
 * a module, resolved through the module's BTF. Finding none fails: never check nothing. */
START_TEST(fexit_on_a_module_function) {
        char fn[MODULE_CANDIDATES_MAX][128], mod[MODULE_CANDIDATES_MAX][64], params[512];
        size_t n = module_candidates(fn, mod);
        int fd = test_connect(&d);
        json_object *o = NULL, *target;
        int64_t link_id = 0;

        ck_assert_msg(n > 0, "Linux %s: no loaded module with BTF and a traceable function", kernel_release());
        for (size_t i = 0; i < n && !link_id; i++) {
                const char *err;

                snprintf(params, sizeof(params), "{\"object\":0,\"attach\":true,\"programs\":[{\"name\":"
                         "\"fexit_count\",\"function\":\"%.127s\"}]}", fn[i]);
                err = load_try(fd, "fexit_count", params, &o);
                target = *err ? NULL : json_object_object_get(first(o, "programs"), "target");
                if (target && strcmp(vl_get_str(target, "btf_object"), mod[i]) == 0) {
                        link_id = vl_get_int(first(o, "links"), "kernel_id", 0);
                        printf("Linux %s: fexit on %s of module %s\n", kernel_release(), fn[i], mod[i]);
                } else
                        printf("  %s [%s] not usable: %s\n", fn[i], mod[i], *err ? err : "resolved elsewhere");
                json_object_put(o);
        }
        ck_assert_msg(link_id, "Linux %s: none of %zu module functions could be attached", kernel_release(), n);
        ck_assert(bpftool_has("link", link_id));
        test_disconnect(fd);
        ck_assert(bpftool_gone_soon("link", link_id));   /* connection-bound by default */
}
END_TEST

/* Does this kernel let us load fexit at all? If not, say why and skip (exit 77). */
static int probe_kernel(void) {
        struct test_daemon p;
        int fd, obj, r = 0;
        json_object *o;
        const char *err;

        char path[600];

        object_path("fexit_count", path, sizeof(path));
        obj = open(path, O_RDONLY | O_CLOEXEC);
        if (obj < 0 || test_daemon_start(&p, NULL) < 0) {
                fprintf(stderr, "cannot open %s or start fexitd\n", path);
                return -1;
        }
        fd = test_connect(&p);
        if (test_call(fd, "io.fexitd.Load", "{\"object\":0}", &obj, 1, &o, &err) < 0)
                r = -1;
        else {
                if (*err) {
                        printf("SKIP: this kernel refuses fexit: %s\n", json_object_to_json_string(params_of(o)));
                        r = 77;
                }
                json_object_put(o);
        }
        safe_close(obj);
        test_disconnect(fd);
        test_daemon_stop(&p);
        return r;
}

Suite *test_suite(void) {
        Suite *s;
        TCase *tc;
        int r;

        snprintf(bpf_dir, sizeof(bpf_dir), "%s", getenv("FEXITD_TEST_BPF_DIR") ?: FEXITD_TEST_BPF_DIR);
        r = probe_kernel();
        if (r == 77)
                exit(77);       /* probe_kernel() printed why */
        if (r != 0)
                exit(EXIT_FAILURE);
        s = suite_create("fexitd-kernel");
        tc = tcase_create("kernel");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 240);
        tcase_add_test(tc, load_attach_count_detach_unload);
        tcase_add_test(tc, attach_twice_and_wrong_kinds);
        tcase_add_test(tc, connection_bound_objects_go_with_the_client);
        tcase_add_test(tc, take_link_moves_ownership);
        tcase_add_test(tc, consumer_reads_but_cannot_write);
        tcase_add_test(tc, persistent_survives_restarts);
        tcase_add_test(tc, persistent_survives_lost_state);
        tcase_add_test(tc, fexit_on_another_bpf_program);
        tcase_add_test(tc, verifier_rejection_returns_its_log);
        tcase_add_test(tc, fexit_on_a_module_function);
        tcase_add_test(tc, sleepable_fexit_per_kernel);
        tcase_add_test(tc, seven_arguments_per_kernel);
        suite_add_tcase(s, tc);
        tc = tcase_create("instances");
        tcase_add_checked_fixture(tc, setup_instances, teardown);
        tcase_set_timeout(tc, 240);
        tcase_add_test(tc, one_program_many_functions);
        tcase_add_test(tc, globs_report_what_they_skip);
        suite_add_tcase(s, tc);
        return s;
}
