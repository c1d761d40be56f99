/* SPDX-License-Identifier: MIT */
/* libfexit's encoding of each call, through its exported API, against a fake peer on a real
 * Unix socket: the peer records the exact bytes and fds it receives and sends canned replies.
 * This tests the client's side of the wire, not the daemon. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "check-main.h"
#include "libfexit.h"
#include "scm-rights.h"

#define MAX_STEPS 32
#define GOT_FDS_MAX 8                   /* per message the peer receives */
#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

struct step {
        const char *reply;              /* sent after a NUL-terminated message arrives */
        int reply_fds[4];               /* sent with the reply, then closed by the peer */
        size_t n_reply_fds;
        bool close;                     /* close the connection instead of replying */
        bool hang;                      /* never reply; wait for the client to go away */
};

struct peer {
        char dir[32];
        char path[64];
        int listen_fd;
        pthread_t thread;
        const struct step *steps;
        size_t n_steps;
        /* what arrived, one entry per step */
        char *got[MAX_STEPS];
        int got_fds[MAX_STEPS][GOT_FDS_MAX];
        size_t n_got_fds[MAX_STEPS];
        size_t n_got;
};

/* Receives one message byte by byte-chunk until its NUL; the client sends one at a time. */
static int peer_receive(int fd, char **ret, int *fds, size_t *n_fds) {
        char *buf = calloc(1, 65536);
        size_t len = 0;

        *n_fds = 0;
        while (len == 0 || buf[len - 1] != 0) {
                ssize_t n = scm_recv(fd, buf + len, 65535 - len, fds, GOT_FDS_MAX, n_fds);
                if (n <= 0) {
                        free(buf);
                        return -1;
                }
                len += (size_t) n;
        }
        *ret = buf;
        return 0;
}

static void peer_send(int fd, const struct step *s) {
        (void) scm_send(fd, s->reply, strlen(s->reply) + 1, s->reply_fds, s->n_reply_fds, 0);
        for (size_t i = 0; i < s->n_reply_fds; i++)
                close(s->reply_fds[i]);
}

static void *peer_run(void *arg) {
        struct peer *p = arg;
        int fd = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        char c;

        for (size_t i = 0; fd >= 0 && i < p->n_steps; i++) {
                const struct step *s = &p->steps[i];
                if (peer_receive(fd, &p->got[i], p->got_fds[i], &p->n_got_fds[i]) < 0)
                        break;
                p->n_got = i + 1;
                if (s->close)
                        break;
                if (s->hang) {
                        while (read(fd, &c, 1) > 0)
                                ;
                        break;
                }
                peer_send(fd, s);
        }
        if (fd >= 0)
                close(fd);
        return NULL;
}

static void peer_start(struct peer *p, const struct step *steps, size_t n) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        *p = (struct peer) { .steps = steps, .n_steps = n };
        strcpy(p->dir, "/tmp/test-libfexit.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(p->dir));
        snprintf(p->path, sizeof(p->path), "%s/io.fexitd", p->dir);
        strcpy(sa.sun_path, p->path);
        p->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_eq(bind(p->listen_fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(p->listen_fd, 4), 0);
        ck_assert_int_eq(pthread_create(&p->thread, NULL, peer_run, p), 0);
}

static void peer_finish(struct peer *p) {
        pthread_join(p->thread, NULL);
        close(p->listen_fd);
        unlink(p->path);
        rmdir(p->dir);
}

static void peer_free(struct peer *p) {
        for (size_t i = 0; i < p->n_got; i++) {
                free(p->got[i]);
                for (size_t k = 0; k < p->n_got_fds[i]; k++)
                        close(p->got_fds[i][k]);
        }
}

static struct fexit_client *connect_to(struct peer *p) {
        struct fexit_client *c = NULL;

        ck_assert_int_eq(fexit_client_open(p->path, NULL, &c), 0);
        ck_assert_ptr_nonnull(c);
        return c;
}

/* A pipe: the test keeps the read end and sends the write end, to identify a received fd. */
static void probe(int p[2]) {
        ck_assert_int_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
}

static void assert_fd_writes_to(int fd, int read_end, char mark) {
        char c = 0;

        ck_assert_int_eq(write(fd, &mark, 1), 1);
        ck_assert_int_eq(read(read_end, &c, 1), 1);
        ck_assert_int_eq(c, mark);
}

static bool all_writers_closed(int read_end) {
        char c;

        return read(read_end, &c, 1) == 0;
}

#define LINK_JSON                                                                              \
        "{\"handle\":3,\"kind\":\"link\",\"kernel_id\":17,\"name\":\"count\","                 \
        "\"target\":{\"function\":\"do_unlinkat\",\"btf_object\":\"vmlinux\",\"btf_id\":1234}," \
        "\"program\":1,\"lifetime\":\"persistent\",\"state\":\"handed-off\",\"owner_uid\":0,"  \
        "\"owner_pid\":100,\"holder_uid\":65534,\"holder_pid\":200,\"holder_state\":\"exited\","\
        "\"age_sec\":1.5,"                                                                      \
        "\"grants\":[\"user:alice\",\"group:bpf\"],\"future_field\":{\"x\":1}}"
#define PROG_JSON                                                                              \
        "{\"handle\":1,\"kind\":\"program\",\"kernel_id\":42,\"name\":\"count\","              \
        "\"target\":{\"function\":\"handle_xdp\",\"btf_object\":\"bpf\",\"target_prog_id\":7},"\
        "\"lifetime\":\"connection\",\"state\":\"loaded\",\"owner_uid\":1000,\"owner_pid\":5," \
        "\"age_sec\":0,\"run_count\":5,\"run_time_ns\":1000,\"holder_uid\":null}"
#define MAP_JSON                                                                               \
        "{\"handle\":2,\"kind\":\"map\",\"kernel_id\":9,\"name\":\"count.bss\",\"program\":1," \
        "\"lifetime\":\"persistent\",\"state\":\"sleeping\",\"owner_uid\":0,\"owner_pid\":1,"  \
        "\"age_sec\":2,\"map_type\":\"array\",\"key_size\":4,\"value_size\":8,"                \
        "\"max_entries\":1,\"map_flags\":1024}"

/* ---- connecting ---- */

START_TEST(test_open_errors) {
        struct fexit_client *c = (void *) 0x1;

        ck_assert_int_eq(fexit_client_open("/nonexistent/io.fexitd", NULL, &c), -ENOENT);
        ck_assert_ptr_eq(c, (void *) 0x1);
        ck_assert_int_eq(fexit_client_open("/x", NULL, NULL), -EINVAL);
        ck_assert_ptr_null(fexit_client_free(NULL));
        ck_assert_ptr_null(fexit_client_error_name(NULL));
}
END_TEST

START_TEST(test_open_env_and_opts) {
        static const struct step steps[] = { { .reply = "{\"parameters\":{\"handles\":[]}}" } };
        struct fexit_handle_list *l = NULL;
        struct fexit_client *c = NULL;
        struct { struct fexit_client_opts o; int future; } bigger = { { .sz = sizeof(bigger) } };
        struct fexit_client_opts tiny = { .sz = 4 };
        struct peer p;

        peer_start(&p, steps, 1);
        /* options: too small, or a newer caller's non-zero unknown field, are refused */
        ck_assert_int_eq(fexit_client_open(p.path, &tiny, &c), -EINVAL);
        bigger.future = 1;
        ck_assert_int_eq(fexit_client_open(p.path, &bigger.o, &c), -EINVAL);
        ck_assert_ptr_null(c);
        /* a newer field in what is our tail padding: sizeof is the same, and it must be seen */
        struct { size_t sz; int timeout_ms; int in_padding; } newer = { .sz = sizeof(newer), .in_padding = 1 };
        ck_assert_uint_eq(sizeof(newer), sizeof(struct fexit_client_opts));
        ck_assert_int_eq(fexit_client_open(p.path, (struct fexit_client_opts *) &newer, &c), -EINVAL);
        ck_assert_ptr_null(c);
        /* NULL path: $FEXITD_SOCKET */
        setenv("FEXITD_SOCKET", p.path, 1);
        bigger.future = 0;
        ck_assert_int_eq(fexit_client_open(NULL, &bigger.o, &c), 0);
        ck_assert_int_eq(fexit_client_list(c, &l), 0);
        ck_assert_uint_eq(l->n_handles, 0);
        ck_assert_str_eq(fexit_client_last_reply(c), "{\"handles\":[]}");
        ck_assert_ptr_null(fexit_client_error_name(c));
        fexit_handle_list_free(l);
        fexit_client_free(c);
        peer_finish(&p);
        ck_assert_str_eq(p.got[0], "{\"method\":\"io.fexitd.List\",\"parameters\":{}}");
        peer_free(&p);
}
END_TEST

/* ---- encoding of each call, decoding of its reply ---- */

START_TEST(test_list_decodes_handles) {
        static const struct step steps[] = {
                { .reply = "{\"parameters\":{\"handles\":[" LINK_JSON "," PROG_JSON "," MAP_JSON "]}}" },
        };
        struct fexit_handle_list *l = NULL;
        const struct fexit_handle *h;
        struct fexit_client *c;
        struct peer p;

        peer_start(&p, steps, 1);
        c = connect_to(&p);
        ck_assert_int_eq(fexit_client_list(c, &l), 0);
        ck_assert_uint_eq(l->n_handles, 3);

        h = l->handles[0];
        ck_assert_int_eq(h->handle, 3);
        ck_assert_int_eq(h->kind, FEXIT_KIND_LINK);
        ck_assert_int_eq(h->kernel_id, 17);
        ck_assert_str_eq(h->name, "count");
        ck_assert_ptr_nonnull(h->target);
        ck_assert_str_eq(h->target->function, "do_unlinkat");
        ck_assert_str_eq(h->target->btf_object, "vmlinux");
        ck_assert_int_eq(h->target->btf_id, 1234);
        ck_assert_int_eq(h->target->target_prog_id, 0);
        ck_assert_int_eq(h->program, 1);
        ck_assert_int_eq(h->lifetime, FEXIT_LIFETIME_PERSISTENT);
        ck_assert_int_eq(h->state, FEXIT_STATE_HANDED_OFF);
        ck_assert_str_eq(h->state_name, "handed-off");
        ck_assert_int_eq(h->owner_uid, 0);
        ck_assert_int_eq(h->owner_pid, 100);
        ck_assert_int_eq(h->holder_uid, 65534);
        ck_assert_int_eq(h->holder_pid, 200);
        ck_assert_str_eq(h->holder_state, "exited");
        ck_assert_double_eq(h->age_sec, 1.5);
        ck_assert_int_eq(h->run_count, FEXIT_ABSENT);
        ck_assert_ptr_null(h->map_type);
        ck_assert_int_eq(h->key_size, FEXIT_ABSENT);
        ck_assert_uint_eq(h->n_grants, 2);
        ck_assert_str_eq(h->grants[0], "user:alice");
        ck_assert_str_eq(h->grants[1], "group:bpf");

        h = l->handles[1];
        ck_assert_int_eq(h->kind, FEXIT_KIND_PROGRAM);
        ck_assert_str_eq(h->target->btf_object, "bpf");
        ck_assert_int_eq(h->target->btf_id, FEXIT_ABSENT);
        ck_assert_int_eq(h->target->target_prog_id, 7);
        ck_assert_int_eq(h->program, FEXIT_ABSENT);
        ck_assert_int_eq(h->lifetime, FEXIT_LIFETIME_CONNECTION);
        ck_assert_int_eq(h->state, FEXIT_STATE_LOADED);
        ck_assert_int_eq(h->holder_uid, FEXIT_ABSENT);   /* null is absent */
        ck_assert_ptr_null(h->holder_state);
        ck_assert_int_eq(h->run_count, 5);
        ck_assert_int_eq(h->run_time_ns, 1000);
        ck_assert_uint_eq(h->n_grants, 0);
        ck_assert_ptr_null(h->grants);

        h = l->handles[2];
        ck_assert_int_eq(h->kind, FEXIT_KIND_MAP);
        ck_assert_ptr_null(h->target);
        ck_assert_int_eq(h->state, FEXIT_STATE_UNKNOWN);   /* a state this version does not know */
        ck_assert_str_eq(h->state_name, "sleeping");
        ck_assert_double_eq(h->age_sec, 2.0);              /* an integer where a float is due */
        ck_assert_str_eq(h->map_type, "array");
        ck_assert_int_eq(h->key_size, 4);
        ck_assert_int_eq(h->value_size, 8);
        ck_assert_int_eq(h->max_entries, 1);
        ck_assert_int_eq(h->map_flags, 1024);

        fexit_handle_list_free(l);
        fexit_client_free(c);
        peer_finish(&p);
        peer_free(&p);
}
END_TEST

/* Names that are not ASCII reach the caller intact (a map named by the ELF, a grant's user). */
START_TEST(test_list_decodes_raw_utf8) {
        static const struct step steps[] = {
                { .reply = "{\"parameters\":{\"handles\":[{\"handle\":4,\"kind\":\"map\","
                           "\"kernel_id\":1,\"name\":\"compteur_\xc3\xa9\",\"lifetime\":\"connection\","
                           "\"state\":\"loaded\",\"owner_uid\":0,\"owner_pid\":1,\"age_sec\":0,"
                           "\"grants\":[\"user:jos\xc3\xa9\"]}]}}" },
        };
        struct fexit_handle_list *l = NULL;
        struct fexit_client *c;
        struct peer p;

        peer_start(&p, steps, 1);
        c = connect_to(&p);
        ck_assert_int_eq(fexit_client_list(c, &l), 0);
        ck_assert_uint_eq(l->n_handles, 1);
        ck_assert_str_eq(l->handles[0]->name, "compteur_\xc3\xa9");
        ck_assert_str_eq(l->handles[0]->grants[0], "user:jos\xc3\xa9");
        fexit_handle_list_free(l);
        fexit_client_free(c);
        peer_finish(&p);
        peer_free(&p);
}
END_TEST

START_TEST(test_load_with_fd) {
        static const struct step steps[] = {
                { .reply = "{\"parameters\":{\"programs\":[" PROG_JSON "],\"maps\":[" MAP_JSON "],"
                           "\"links\":[],\"skipped\":[{\"function\":\"vfs_poll\",\"reason\":\"denied\"}]}}" },
        };
        const char *const fa[] = { "vfs_read", "vfs_*" };
        const char *const grants[] = { "user:alice", "group:bpf" };
        struct fexit_program_select sel[2] = {
                { .sz = sizeof(sel[0]), .name = "count", .function = "do_unlinkat" },
                { .sz = sizeof(sel[0]), .name = "spy", .target_prog_id = 42, .functions = fa, .n_functions = 2 },
        };
        FEXIT_OPTS(fexit_load_opts, opts, .programs = sel, .n_programs = 2,
                   .lifetime = FEXIT_LIFETIME_PERSISTENT, .grants = grants, .n_grants = 2, .attach = true,
                   .name = "count");
        struct fexit_load_result *res = NULL;
        struct fexit_client *c;
        struct stat st_sent, st_got;
        struct peer p;
        int object;

        object = memfd_create("object.bpf.o", MFD_CLOEXEC);
        ck_assert_int_eq(write(object, "\177ELF", 4), 4);
        ck_assert_int_eq(fstat(object, &st_sent), 0);
        peer_start(&p, steps, 1);
        c = connect_to(&p);
        ck_assert_int_eq(fexit_client_load(c, object, &opts, &res), 0);
        ck_assert_uint_eq(res->n_programs, 1);
        ck_assert_int_eq(res->programs[0]->kernel_id, 42);
        ck_assert_uint_eq(res->n_maps, 1);
        ck_assert_str_eq(res->maps[0]->name, "count.bss");
        ck_assert_uint_eq(res->n_links, 0);
        ck_assert_uint_eq(res->n_skipped, 1);
        ck_assert_str_eq(res->skipped[0]->function, "vfs_poll");
        ck_assert_str_eq(res->skipped[0]->reason, "denied");
        fexit_load_result_free(res);
        fexit_client_free(c);
        peer_finish(&p);

        ck_assert_str_eq(p.got[0],
                "{\"method\":\"io.fexitd.Load\",\"parameters\":{"
                "\"programs\":[{\"name\":\"count\",\"function\":\"do_unlinkat\"},"
                "{\"name\":\"spy\",\"target_prog_id\":42,\"functions\":[\"vfs_read\",\"vfs_*\"]}],"
                "\"lifetime\":\"persistent\",\"grants\":[\"user:alice\",\"group:bpf\"],"
                "\"attach\":true,\"name\":\"count\",\"object\":0}}");
        /* exactly one fd, the object itself; the caller's fd was not consumed */
        ck_assert_uint_eq(p.n_got_fds[0], 1);
        ck_assert_int_eq(fstat(p.got_fds[0][0], &st_got), 0);
        ck_assert_uint_eq(st_got.st_ino, st_sent.st_ino);
        ck_assert_uint_eq(st_got.st_dev, st_sent.st_dev);
        ck_assert_int_eq(fcntl(object, F_GETFD), FD_CLOEXEC);
        close(object);
        peer_free(&p);
}
END_TEST

#define MULTI_JSON                                                                             \
        "{\"handle\":5,\"kind\":\"link\",\"kernel_id\":30,\"name\":\"count\","                 \
        "\"target\":{\"function\":\"bpf_fentry_test1\",\"btf_object\":\"vmlinux\"},"          \
        "\"program\":4,\"lifetime\":\"persistent\",\"state\":\"attached\",\"owner_uid\":0,"    \
        "\"owner_pid\":1,\"age_sec\":0,\"mode\":\"multi-link\",\"function_count\":2,"           \
        "\"functions\":[{\"function\":\"bpf_fentry_test1\",\"btf_id\":10},"                    \
        "{\"function\":\"bpf_fentry_test2\",\"btf_id\":11}],"                                  \
        "\"link_info\":{\"count\":2,\"btf_obj_id\":1,\"ids\":[10,11],\"addrs\":[0,0],\"cookies\":[0,0]}}"

/* A multi-link handle: its mode, count and (Describe) functions; a load's mode and reason. */
START_TEST(test_multi_link_handles) {
        static const struct step steps[] = {
                { .reply = "{\"parameters\":{\"programs\":[" PROG_JSON "],\"maps\":[],\"links\":[],"
                           "\"skipped\":[],\"mode\":\"instances\",\"mode_reason\":\"the kernel refused\"}}" },
                { .reply = "{\"parameters\":{\"handle\":" MULTI_JSON "}}" },
                { .reply = "{\"parameters\":{\"handle\":" PROG_JSON "}}" },
        };
        FEXIT_OPTS(fexit_load_opts, opts);
        struct fexit_load_result *res = NULL;
        struct fexit_handle *h = NULL;
        struct fexit_client *c;
        struct peer p;
        int object = memfd_create("object.bpf.o", MFD_CLOEXEC);

        peer_start(&p, steps, ELEMENTSOF(steps));
        c = connect_to(&p);
        ck_assert_int_eq(fexit_client_load(c, object, &opts, &res), 0);
        ck_assert_str_eq(res->mode, "instances");
        ck_assert_str_eq(res->mode_reason, "the kernel refused");
        ck_assert_ptr_null(res->programs[0]->mode);
        ck_assert_int_eq(res->programs[0]->function_count, FEXIT_ABSENT);
        fexit_load_result_free(res);
        ck_assert_int_eq(fexit_client_describe(c, 5, &h), 0);
        ck_assert_str_eq(h->mode, "multi-link");
        ck_assert_int_eq(h->function_count, 2);
        ck_assert_uint_eq(h->n_functions, 2);
        ck_assert_str_eq(h->functions[1], "bpf_fentry_test2");
        ck_assert_ptr_null(h->functions[2]);
        fexit_handle_free(h);
        ck_assert_int_eq(fexit_client_describe(c, 1, &h), 0);
        ck_assert_uint_eq(h->n_functions, 0);
        ck_assert_ptr_null(h->functions);
        fexit_handle_free(h);
        fexit_client_free(c);
        peer_finish(&p);
        close(object);
        peer_free(&p);
}
END_TEST

/* An older or newer caller's program_select: the stride is the sz of the elements. */
START_TEST(test_load_select_stride_and_catalog) {
        static const struct step steps[] = {
                { .reply = "{\"parameters\":{\"programs\":[],\"maps\":[],\"links\":[],\"skipped\":[]}}" },
        };
        struct newer_select {
                struct fexit_program_select s;
                long future;            /* zero: fine */
        } sel[2] = {
                { { .sz = sizeof(struct newer_select), .name = "a" } },
                { { .sz = sizeof(struct newer_select), .name = "b" } },
        };
        FEXIT_OPTS(fexit_load_opts, opts, .programs = &sel[0].s, .n_programs = 2);
        struct fexit_load_result *res = NULL;
        struct fexit_client *c;
        struct peer p;

        peer_start(&p, steps, 1);
        c = connect_to(&p);
        ck_assert_int_eq(fexit_client_load_catalog(c, "unlink-counter", &opts, &res), 0);
        ck_assert_uint_eq(res->n_programs, 0);
        fexit_load_result_free(res);
        /* refused locally, nothing sent: unknown non-zero field, missing name, bad lifetime */
        sel[1].future = 1;
        ck_assert_int_eq(fexit_client_load_catalog(c, "x", &opts, &res), -EINVAL);
        ck_assert_ptr_null(fexit_client_error_name(c));
        sel[1].future = 0;
        sel[0].s.name = NULL;
        ck_assert_int_eq(fexit_client_load_catalog(c, "x", &opts, &res), -EINVAL);
        opts.n_programs = 0;
        opts.lifetime = 77;
        ck_assert_int_eq(fexit_client_load_catalog(c, "x", &opts, &res), -EINVAL);
        ck_assert_int_eq(fexit_client_load(c, -1, NULL, &res), -EBADF);
        fexit_client_free(c);
        peer_finish(&p);
        ck_assert_uint_eq(p.n_got, 1);
        ck_assert_str_eq(p.got[0], "{\"method\":\"io.fexitd.Load\",\"parameters\":{"
                                   "\"programs\":[{\"name\":\"a\"},{\"name\":\"b\"}],"
                                   "\"catalog\":\"unlink-counter\"}}");
        ck_assert_uint_eq(p.n_got_fds[0], 0);
        peer_free(&p);
}
END_TEST

START_TEST(test_handle_calls) {
        static const struct step steps[] = {
                { .reply = "{\"parameters\":{\"link\":" LINK_JSON "}}" },
                { .reply = "{\"parameters\":{}}" },
                { .reply = "{\"parameters\":{}}" },
                { .reply = "{\"parameters\":{\"handle\":" PROG_JSON "}}" },
                { .reply = "{\"parameters\":{\"link\":" LINK_JSON "}}" },
                { .reply = "{\"parameters\":{\"link\":" LINK_JSON ",\"links\":[" LINK_JSON "," LINK_JSON "]}}" },
                { .reply = "{\"parameters\":{}}" },
        };
        FEXIT_OPTS(fexit_attach_opts, opts, .lifetime = FEXIT_LIFETIME_CONNECTION);
        struct fexit_handle_list *links = NULL;
        struct fexit_handle *h = NULL;
        struct fexit_client *c;
        struct peer p;

        peer_start(&p, steps, ELEMENTSOF(steps));
        c = connect_to(&p);
        ck_assert_int_eq(fexit_client_attach(c, 1, &opts, &h), 0);
        ck_assert_int_eq(h->handle, 3);
        h = fexit_handle_free(h);
        ck_assert_int_eq(fexit_client_detach(c, 3), 0);
        ck_assert_int_eq(fexit_client_unload(c, 1), 0);
        ck_assert_int_eq(fexit_client_describe(c, 1, &h), 0);
        ck_assert_str_eq(h->name, "count");
        fexit_handle_free(h);
        ck_assert_int_eq(fexit_client_attach(c, 9007199254740993, NULL, NULL), 0);
        ck_assert_int_eq(fexit_client_attach_group(c, 1, NULL, &links), 0);
        ck_assert_uint_eq(links->n_handles, 2);
        ck_assert_int_eq(links->handles[1]->kernel_id, 17);
        fexit_handle_list_free(links);
        ck_assert_int_eq(fexit_client_detach_group(c, 3), 0);
        fexit_client_free(c);
        peer_finish(&p);
        ck_assert_str_eq(p.got[0], "{\"method\":\"io.fexitd.Attach\",\"parameters\":{\"handle\":1,\"lifetime\":\"connection\"}}");
        ck_assert_str_eq(p.got[1], "{\"method\":\"io.fexitd.Detach\",\"parameters\":{\"handle\":3}}");
        ck_assert_str_eq(p.got[2], "{\"method\":\"io.fexitd.Unload\",\"parameters\":{\"handle\":1}}");
        ck_assert_str_eq(p.got[3], "{\"method\":\"io.fexitd.Describe\",\"parameters\":{\"handle\":1}}");
        ck_assert_str_eq(p.got[4], "{\"method\":\"io.fexitd.Attach\",\"parameters\":{\"handle\":9007199254740993}}");
        ck_assert_str_eq(p.got[5], "{\"method\":\"io.fexitd.Attach\",\"parameters\":{\"handle\":1,\"group\":true}}");
        ck_assert_str_eq(p.got[6], "{\"method\":\"io.fexitd.Detach\",\"parameters\":{\"handle\":3,\"group\":true}}");
        peer_free(&p);
}
END_TEST

START_TEST(test_take_link) {
        struct step steps[] = {
                { .reply = "{\"parameters\":{\"fd\":0,\"link\":" LINK_JSON "}}", .n_reply_fds = 1 },
        };
        struct fexit_handle *link = NULL;
        struct fexit_client *c;
        struct peer p;
        int pipe_fds[2], fd = -1, saved_stdin, r;

        probe(pipe_fds);
        steps[0].reply_fds[0] = pipe_fds[1];
        peer_start(&p, steps, 1);
        c = connect_to(&p);
        saved_stdin = fcntl(0, F_DUPFD_CLOEXEC, 3);
        close(0);       /* received fds must still land above stdio */
        r = fexit_client_take_link(c, 3, &fd, &link);
        dup2(saved_stdin, 0);   /* for CK_FORK=no runs */
        close(saved_stdin);
        ck_assert_int_eq(r, 0);
        ck_assert_int_ge(fd, 3);
        ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        assert_fd_writes_to(fd, pipe_fds[0], 'L');
        ck_assert_int_eq(link->handle, 3);
        ck_assert_int_eq(link->state, FEXIT_STATE_HANDED_OFF);
        fexit_handle_free(link);
        fexit_client_free(c);
        peer_finish(&p);
        ck_assert_str_eq(p.got[0], "{\"method\":\"io.fexitd.TakeLink\",\"parameters\":{\"handle\":3}}");
        close(fd);
        ck_assert(all_writers_closed(pipe_fds[0]));
        peer_free(&p);
}
END_TEST

START_TEST(test_share_map_picks_indexed_fd) {
        struct step steps[] = {
                { .reply = "{\"parameters\":{\"fd\":1,\"map\":" MAP_JSON ",\"writable\":true}}", .n_reply_fds = 2 },
                { .reply = "{\"parameters\":{\"fd\":1,\"map\":" MAP_JSON ",\"writable\":false}}", .n_reply_fds = 1 },
        };
        struct fexit_client *c;
        struct peer p;
        int a[2], b[2], x[2], fd = -1;
        bool writable = false;

        probe(a);
        probe(b);
        probe(x);
        steps[0].reply_fds[0] = a[1];
        steps[0].reply_fds[1] = b[1];
        steps[1].reply_fds[0] = x[1];
        peer_start(&p, steps, 2);
        c = connect_to(&p);
        ck_assert_int_eq(fexit_client_share_map(c, 2, &fd, &writable, NULL), 0);
        ck_assert(writable);
        assert_fd_writes_to(fd, b[0], 'M');
        /* an index beyond the fds that came: a broken reply */
        ck_assert_int_eq(fexit_client_share_map(c, 2, &fd, &writable, NULL), -EBADMSG);
        ck_assert_str_eq(fexit_client_error_message(c), "the reply of io.fexitd.ShareMap lacks its fd or a field");
        fexit_client_free(c);
        peer_finish(&p);        /* the peer closes its copies after sending: wait for it */
        ck_assert(all_writers_closed(a[0]));    /* the fd we did not ask for was closed */
        ck_assert(all_writers_closed(x[0]));    /* and the fd of the broken reply too */
        ck_assert_str_eq(p.got[0], "{\"method\":\"io.fexitd.ShareMap\",\"parameters\":{\"handle\":2}}");
        close(fd);
        peer_free(&p);
}
END_TEST

START_TEST(test_status_and_info) {
        static const struct step steps[] = {
                { .reply = "{\"parameters\":{\"version\":\"0.1.0\",\"uptime_sec\":12.5,\"programs\":3,"
                           "\"links\":2,\"maps\":4,\"connections\":1,\"caller_uid\":1000,"
                           "\"caller_role\":\"consumer\"}}" },
                { .reply = "{\"parameters\":{\"version\":\"0.2\",\"uptime_sec\":1,\"programs\":0,"
                           "\"links\":0,\"maps\":0,\"connections\":1,\"caller_uid\":0,"
                           "\"caller_role\":\"admin\",\"persistence\":false,\"features\":{\"fexit\":true,"
                           "\"sleepable_fexit\":true,\"max_fexit_args\":12,\"module_btf\":false,\"tracing_multi\":true}}}" },
                { .reply = "{\"parameters\":{\"vendor\":\"fexitd\",\"product\":\"fexitd\",\"version\":\"0.1.0\","
                           "\"url\":\"https://fexitd.invalid/\",\"interfaces\":[\"org.varlink.service\",\"io.fexitd\"]}}" },
        };
        struct fexit_service_info *info = NULL;
        struct fexit_status *s = NULL;
        struct fexit_client *c;
        struct peer p;

        peer_start(&p, steps, ELEMENTSOF(steps));
        c = connect_to(&p);
        ck_assert_int_eq(fexit_client_status(c, &s), 0);
        ck_assert_str_eq(s->version, "0.1.0");
        ck_assert_double_eq(s->uptime_sec, 12.5);
        ck_assert_int_eq(s->programs, 3);
        ck_assert_int_eq(s->links, 2);
        ck_assert_int_eq(s->maps, 4);
        ck_assert_int_eq(s->connections, 1);
        ck_assert_int_eq(s->caller_uid, 1000);
        ck_assert_int_eq(s->caller_role, FEXIT_ROLE_CONSUMER);
        ck_assert(s->persistence);              /* not sent: a daemon from before the field */
        ck_assert_ptr_null(s->features);        /* not sent: not probed yet */
        fexit_status_free(s);
        ck_assert_int_eq(fexit_client_status(c, &s), 0);
        ck_assert_int_eq(s->caller_role, FEXIT_ROLE_ADMIN);
        ck_assert(!s->persistence);
        ck_assert_ptr_nonnull(s->features);
        ck_assert(s->features->fexit && s->features->sleepable_fexit && !s->features->module_btf);
        ck_assert_int_eq(s->features->max_fexit_args, 12);
        ck_assert_ptr_null(s->features->fexit_errno);
        ck_assert(s->features->tracing_multi);
        fexit_status_free(s);
        ck_assert_int_eq(fexit_client_get_info(c, &info), 0);
        ck_assert_str_eq(info->vendor, "fexitd");
        ck_assert_str_eq(info->url, "https://fexitd.invalid/");
        ck_assert_uint_eq(info->n_interfaces, 2);
        ck_assert_str_eq(info->interfaces[1], "io.fexitd");
        fexit_service_info_free(info);
        fexit_client_free(c);
        peer_finish(&p);
        ck_assert_str_eq(p.got[0], "{\"method\":\"io.fexitd.Status\",\"parameters\":{}}");
        ck_assert_str_eq(p.got[2], "{\"method\":\"org.varlink.service.GetInfo\",\"parameters\":{}}");
        peer_free(&p);
}
END_TEST

START_TEST(test_call_json) {
        struct step steps[] = {
                { .reply = "{\"parameters\":{\"answer\":42,\"fd\":0}}", .n_reply_fds = 1 },
                { .reply = "{\"parameters\":{}}" },
        };
        struct fexit_client *c;
        struct peer p;
        int mine[2], theirs[2], fds[FEXIT_FDS_MAX];
        size_t n_fds = 99;
        char *reply = NULL;

        probe(mine);
        probe(theirs);
        steps[0].reply_fds[0] = theirs[1];
        peer_start(&p, steps, 2);
        c = connect_to(&p);
        ck_assert_int_eq(fexit_client_call_json(c, "Status", "{\"x\":[1,\"/\"]}", &mine[1], 1,
                                                &reply, fds, &n_fds), 0);
        ck_assert_str_eq(reply, "{\"answer\":42,\"fd\":0}");
        ck_assert_uint_eq(n_fds, 1);
        assert_fd_writes_to(fds[0], theirs[0], 'J');
        close(fds[0]);
        free(reply);
        /* refused locally: not an object, too many fds, ret_fds without a count */
        ck_assert_int_eq(fexit_client_call_json(c, "io.fexitd.List", "[1]", NULL, 0, &reply, NULL, NULL), -EINVAL);
        ck_assert_int_eq(fexit_client_call_json(c, "io.fexitd.List", NULL, fds, FEXIT_FDS_MAX + 1, &reply, NULL, NULL), -EINVAL);
        ck_assert_int_eq(fexit_client_call_json(c, "io.fexitd.List", NULL, NULL, 0, &reply, fds, NULL), -EINVAL);
        /* a NUL inside any string would have the daemon act on the part before it */
        ck_assert_int_eq(fexit_client_call_json(c, "Load", "{\"catalog\":\"snoop\\u0000../x\"}", NULL, 0, &reply, NULL, NULL), -EINVAL);
        ck_assert_int_eq(fexit_client_call_json(c, "Load", "{\"grants\":[\"user:root\\u0000junk\"]}", NULL, 0, &reply, NULL, NULL), -EINVAL);
        ck_assert_int_eq(fexit_client_call_json(c, "Load", "{\"programs\":[{\"function\":\"vfs_read\\u0000x\"}]}", NULL, 0, &reply, NULL, NULL), -EINVAL);
        ck_assert_int_eq(fexit_client_call_json(c, "org.varlink.service.GetInfo", NULL, NULL, 0, &reply, NULL, &n_fds), 0);
        ck_assert_str_eq(reply, "{}");
        ck_assert_uint_eq(n_fds, 0);
        free(reply);
        fexit_client_free(c);
        peer_finish(&p);
        ck_assert_str_eq(p.got[0], "{\"method\":\"io.fexitd.Status\",\"parameters\":{\"x\":[1,\"/\"]}}");
        ck_assert_uint_eq(p.n_got_fds[0], 1);
        assert_fd_writes_to(p.got_fds[0][0], mine[0], 'S');   /* we sent a copy of mine[1] */
        ck_assert_int_ge(fcntl(mine[1], F_GETFD), 0);           /* and kept ours */
        ck_assert_str_eq(p.got[1], "{\"method\":\"org.varlink.service.GetInfo\",\"parameters\":{}}");
        ck_assert_uint_eq(p.n_got, 2);
        peer_free(&p);
}
END_TEST

/* ---- errors ---- */

static const struct {
        const char *reply;
        int err;
        const char *name;
        const char *message;
        const char *parameters;
} error_cases[] = {
        { "{\"error\":\"io.fexitd.NoSuchHandle\",\"parameters\":{\"handle\":42}}",
          -ENOENT, "io.fexitd.NoSuchHandle", "no such handle 42", "{\"handle\":42}" },
        { "{\"error\":\"io.fexitd.WrongHandleKind\",\"parameters\":{\"handle\":2,\"expected\":\"program\",\"actual\":\"map\"}}",
          -EINVAL, "io.fexitd.WrongHandleKind", "handle 2 is a map, not a program", NULL },
        { "{\"error\":\"io.fexitd.NoSuchFunction\",\"parameters\":{\"function\":\"vfs_raed\",\"suggestions\":[\"vfs_read\",\"vfs_readv\"]}}",
          -ESRCH, "io.fexitd.NoSuchFunction", "no function 'vfs_raed' in the kernel's BTF",
          "{\"function\":\"vfs_raed\",\"suggestions\":[\"vfs_read\",\"vfs_readv\"]}" },
        { "{\"error\":\"io.fexitd.PermissionDenied\",\"parameters\":{\"reason\":\"not granted\"}}",
          -EACCES, "io.fexitd.PermissionDenied", "permission denied: not granted", NULL },
        { "{\"error\":\"io.fexitd.FunctionDenied\",\"parameters\":{\"function\":\"__rcu_read_lock\",\"reason\":\"on the deny list\"}}",
          -EPERM, "io.fexitd.FunctionDenied", "function '__rcu_read_lock' may not be traced: on the deny list", NULL },
        { "{\"error\":\"io.fexitd.VerifierRejected\",\"parameters\":{\"program\":\"p\",\"errno\":\"EACCES\",\"log\":\"R1 invalid mem access\"}}",
          -EINVAL, "io.fexitd.VerifierRejected", "the verifier rejected program 'p' (EACCES)", NULL },
        { "{\"error\":\"io.fexitd.KernelError\",\"parameters\":{\"operation\":\"attach\",\"errno\":\"EBUSY\",\"message\":\"Device or resource busy\"}}",
          -EBUSY, "io.fexitd.KernelError", "attach failed: Device or resource busy (EBUSY)", NULL },
        { "{\"error\":\"io.fexitd.KernelError\",\"parameters\":{\"operation\":\"load\",\"errno\":\"EWHATEVER\",\"message\":\"?\"}}",
          -EIO, "io.fexitd.KernelError", "load failed: ? (EWHATEVER)", NULL },
        { "{\"error\":\"io.fexitd.InvalidObject\",\"parameters\":{\"reason\":\"not ELF\"}}",
          -ENOEXEC, "io.fexitd.InvalidObject", "invalid BPF object: not ELF", NULL },
        { "{\"error\":\"io.fexitd.NoFexitPrograms\",\"parameters\":{}}",
          -ENOEXEC, "io.fexitd.NoFexitPrograms", "the object contains no fexit programs", "{}" },
        { "{\"error\":\"io.fexitd.LimitExceeded\",\"parameters\":{\"limit\":\"handles per user\",\"max\":64}}",
          -EDQUOT, "io.fexitd.LimitExceeded", "limit exceeded: handles per user (at most 64)", NULL },
        { "{\"error\":\"io.fexitd.FunctionNotSleepable\",\"parameters\":{\"function\":\"bpf_fentry_test1\",\"reason\":\"not sleepable here\"}}",
          -EOPNOTSUPP, "io.fexitd.FunctionNotSleepable",
          "function 'bpf_fentry_test1' cannot take a sleepable fexit.s/ program: not sleepable here", NULL },
        { "{\"error\":\"io.fexitd.TooManyArguments\",\"parameters\":{\"function\":\"do_mmap\",\"registers\":9,\"max\":6}}",
          -E2BIG, "io.fexitd.TooManyArguments",
          "function 'do_mmap' takes 9 argument registers; this kernel's fexit saves at most 6", NULL },
        { "{\"error\":\"io.fexitd.NotDetachable\",\"parameters\":{\"handle\":3,\"reason\":\"handed off\"}}",
          -EOPNOTSUPP, "io.fexitd.NotDetachable", "handle 3 cannot be detached: handed off", NULL },
        { "{\"error\":\"org.varlink.service.InvalidParameter\",\"parameters\":{\"parameter\":\"handle\"}}",
          -EINVAL, "org.varlink.service.InvalidParameter", "invalid parameter 'handle'", NULL },
        { "{\"error\":\"org.varlink.service.MethodNotFound\",\"parameters\":{\"method\":\"io.fexitd.List\"}}",
          -EOPNOTSUPP, "org.varlink.service.MethodNotFound", "fexitd does not know method io.fexitd.List", NULL },
        { "{\"error\":\"io.fexitd.InvalidFileDescriptors\",\"parameters\":{\"expected\":1,\"received\":1,\"parameter\":\"object\",\"index\":1}}",
          -EBADF, "io.fexitd.InvalidFileDescriptors", "object names fd index 1, which the message does not carry", NULL },
        { "{\"error\":\"io.fexitd.InvalidFileDescriptors\",\"parameters\":{\"expected\":0,\"received\":2}}",
          -EBADF, "io.fexitd.InvalidFileDescriptors", "expected 0 file descriptors, received 2", NULL },
        /* raw UTF-8 in a reply is JSON, whatever the json-c (0.18's strict mode refused it) */
        { "{\"error\":\"io.fexitd.NoSuchFunction\",\"parameters\":{\"function\":\"caf\xc3\xa9\",\"suggestions\":[]}}",
          -ESRCH, "io.fexitd.NoSuchFunction", "no function 'caf\xc3\xa9' in the kernel's BTF",
          "{\"function\":\"caf\xc3\xa9\",\"suggestions\":[]}" },
        { "{\"error\":\"com.example.Mystery\"}",
          -EIO, "com.example.Mystery", "com.example.Mystery", "{}" },
        { "{\"error\":\"io.fexitd.NoSuchHandle\",\"parameters\":{}}",
          -ENOENT, "io.fexitd.NoSuchHandle", "no such handle ?", "{}" },
};

START_TEST(test_errors) {
        struct step steps[ELEMENTSOF(error_cases) + 1];
        struct fexit_handle *h = (void *) 0x1;
        struct fexit_client *c;
        struct peer p;
        int pipe_fds[2];

        probe(pipe_fds);
        for (size_t i = 0; i < ELEMENTSOF(error_cases); i++)
                steps[i] = (struct step) { .reply = error_cases[i].reply };
        /* fds that come with an error reply are closed */
        steps[0].reply_fds[0] = pipe_fds[1];
        steps[0].n_reply_fds = 1;
        steps[ELEMENTSOF(error_cases)] = (struct step) { .reply = "{\"parameters\":{\"handle\":" MAP_JSON "}}" };
        peer_start(&p, steps, ELEMENTSOF(steps));
        c = connect_to(&p);
        for (size_t i = 0; i < ELEMENTSOF(error_cases); i++) {
                ck_assert_int_eq(fexit_client_describe(c, 42, &h), error_cases[i].err);
                ck_assert_ptr_eq(h, (void *) 0x1);
                ck_assert_str_eq(fexit_client_error_name(c), error_cases[i].name);
                ck_assert_str_eq(fexit_client_error_message(c), error_cases[i].message);
                if (error_cases[i].parameters)
                        ck_assert_str_eq(fexit_client_error_parameters(c), error_cases[i].parameters);
                ck_assert_ptr_null(fexit_client_last_reply(c));
        }
        ck_assert(all_writers_closed(pipe_fds[0]));
        /* an error does not break the connection; success clears the error */
        ck_assert_int_eq(fexit_client_describe(c, 2, &h), 0);
        ck_assert_ptr_null(fexit_client_error_name(c));
        ck_assert_ptr_null(fexit_client_error_message(c));
        ck_assert_ptr_null(fexit_client_error_parameters(c));
        fexit_handle_free(h);
        fexit_client_free(c);
        peer_finish(&p);
        peer_free(&p);
}
END_TEST

START_TEST(test_malformed_replies) {
        static const struct {
                const char *reply;
                int err;
                const char *message;
        } cases[] = {
                { "not json", -EBADMSG, "malformed reply from fexitd" },
                { "{\"parameters\":{},\"continues\":true}", -EBADMSG, "malformed reply from fexitd" },
                { "{\"parameters\":{\"handle\":{\"handle\":1}}}", -EBADMSG,
                  "the reply of io.fexitd.Describe lacks a field or has a wrong type" },
                { "{\"parameters\":{\"handle\":{\"handle\":\"1\",\"kind\":\"map\"}}}", -EBADMSG,
                  "the reply of io.fexitd.Describe lacks a field or has a wrong type" },
        };
        struct fexit_handle *h = NULL;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct step steps[] = { { .reply = cases[i].reply }, { .reply = "{}" } };
                struct fexit_client *c;
                struct peer p;
                int r;

                peer_start(&p, steps, ELEMENTSOF(steps));
                c = connect_to(&p);
                ck_assert_int_eq(fexit_client_describe(c, 1, &h), cases[i].err);
                ck_assert_ptr_null(fexit_client_error_name(c));
                ck_assert_str_eq(fexit_client_error_message(c), cases[i].message);
                /* a stream that broke the protocol is not used again; a bad field is not that */
                r = fexit_client_detach(c, 1);
                ck_assert_int_eq(r, i < 2 ? -ENOTCONN : 0);
                fexit_client_free(c);
                peer_finish(&p);
                peer_free(&p);
        }
}
END_TEST

START_TEST(test_connection_lost) {
        static const struct step steps[] = { { .close = true } };
        struct fexit_status *s = NULL;
        struct fexit_client *c;
        struct peer p;

        peer_start(&p, steps, 1);
        c = connect_to(&p);
        ck_assert_int_eq(fexit_client_status(c, &s), -ECONNRESET);
        ck_assert_ptr_null(fexit_client_error_name(c));
        ck_assert_str_eq(fexit_client_error_message(c), "fexitd closed the connection");
        ck_assert_int_eq(fexit_client_status(c, &s), -ENOTCONN);
        ck_assert_ptr_null(s);
        fexit_client_free(c);
        peer_finish(&p);
        peer_free(&p);
}
END_TEST

static int64_t mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(test_timeout) {
        static const struct step steps[] = { { .hang = true } };
        FEXIT_OPTS(fexit_client_opts, opts, .timeout_ms = 200);
        struct fexit_status *s = NULL;
        struct fexit_client *c = NULL;
        struct peer p;
        int64_t start, took;

        peer_start(&p, steps, 1);
        ck_assert_int_eq(fexit_client_open(p.path, &opts, &c), 0);
        start = mono_ms();
        ck_assert_int_eq(fexit_client_status(c, &s), -ETIMEDOUT);
        took = mono_ms() - start;
        ck_assert_int_ge(took, 190);
        ck_assert_int_lt(took, 2000);
        ck_assert_str_eq(fexit_client_error_message(c), "no reply from fexitd within 200 ms; connection closed");
        ck_assert_int_eq(fexit_client_status(c, &s), -ENOTCONN);
        fexit_client_free(c);   /* the peer sees EOF and ends */
        peer_finish(&p);
        peer_free(&p);
}
END_TEST

static int logged;
static int count_log(enum fexit_print_level level, const char *format, va_list args) {
        ck_assert_int_eq(level, FEXIT_DEBUG);   /* the library never logs above debug */
        logged++;
        return 0;
}

START_TEST(test_print_callback) {
        struct fexit_client *c = NULL;

        ck_assert_ptr_null(fexit_set_print(count_log));
        ck_assert_int_eq(fexit_client_open("/nonexistent/sock", NULL, &c), -ENOENT);
        ck_assert_int_gt(logged, 0);
        ck_assert_ptr_eq(fexit_set_print(NULL), count_log);
        ck_assert_str_eq(fexit_kind_name(FEXIT_KIND_LINK), "link");
        ck_assert_ptr_null(fexit_kind_name(FEXIT_KIND_UNKNOWN));
        ck_assert_str_eq(fexit_lifetime_name(FEXIT_LIFETIME_CONNECTION), "connection");
        ck_assert_ptr_null(fexit_lifetime_name(FEXIT_LIFETIME_DEFAULT));
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("libfexit");
        TCase *conn = tcase_create("connection"), *calls = tcase_create("calls");
        TCase *errors = tcase_create("errors");

        tcase_add_test(conn, test_open_errors);
        tcase_add_test(conn, test_open_env_and_opts);
        tcase_add_test(conn, test_print_callback);
        tcase_add_test(calls, test_list_decodes_handles);
        tcase_add_test(calls, test_list_decodes_raw_utf8);
        tcase_add_test(calls, test_load_with_fd);
        tcase_add_test(calls, test_load_select_stride_and_catalog);
        tcase_add_test(calls, test_handle_calls);
        tcase_add_test(calls, test_take_link);
        tcase_add_test(calls, test_share_map_picks_indexed_fd);
        tcase_add_test(calls, test_status_and_info);
        tcase_add_test(calls, test_multi_link_handles);
        tcase_add_test(calls, test_call_json);
        tcase_add_test(errors, test_errors);
        tcase_add_test(errors, test_malformed_replies);
        tcase_add_test(errors, test_connection_lost);
        tcase_add_test(errors, test_timeout);
        suite_add_tcase(s, conn);
        suite_add_tcase(s, calls);
        suite_add_tcase(s, errors);
        return s;
}
