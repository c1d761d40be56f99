/* SPDX-License-Identifier: MIT */

/*
 * Request validation up to the kernel calls: a real struct server (sd-event loop, a worker pool
 * of one thread, temporary state, conf, pin and catalog dirs, persistence off) takes one call per
 * input, from a connection whose peer the input chooses, through method_dispatch(), and the loop
 * runs until the call is answered and every job it started is done. bpf() fails with EPERM in
 * this process (fuzz_deny_bpf), so an input that happens to be a valid BPF object goes through
 * the whole ELF, BTF and planning path and stops at the first kernel call.
 *
 * Every reply must be a well-formed Varlink reply that matches the interface the daemon serves
 * (GetInterfaceDescription, checked by fuzz-idl.c): a declared error or the method's declared
 * output, no missing or undeclared field. A call never answered is a hang. No fd may outlive the
 * input, and the handle table is reset between inputs.
 *
 * Input layout (tests/fuzz/gen-corpus writes seeds in it):
 *   byte 0   the peer: bits 0-1 pick root (admin), uid 1000 (consumer, groups 1000 and 2000),
 *            uid 1001 (consumer) or uid 1002 (admin through the admin group)
 *   byte 1   bit 0 the handle table holds the fixture below (else it is empty);
 *            bits 1-2 fds with the call (0-3); bit 3 fd 0 is an eventfd instead of a memfd;
 *            bit 4 the object bytes also become the catalog entry "fuzz";
 *            bit 5 the client hangs up while a call is still running on a worker
 *   then the call as sent on the wire, up to a NUL; the bytes after it are the object (the
 *   content of the memfd that is fd 0, and of the catalog entry).
 *
 * The fixture (handle: kind, owner, what) is the table of a daemon with a few loads:
 *   1 program uid 1000 "count" on do_unlinkat, attached, connection-bound to the caller
 *   2 link of 1, uid 1000        3 map ringbuf, uid 1000     4 map .bss (mmapable), uid 1000
 *   5 map hash, uid 1000         6 program root, persistent, granted to uid 1001, from programs.d
 *   7 link of 6, handed off to uid 1000, granted to group 2000
 *   8 program root, busy         9 program uid 1000, loaded, same load as 1
 *   10 program root, from the catalog entry "fixture-use"
 *   11 map root, from the catalog entry "shared-stats"
 * Their fds are memfds: what reaches bpf() with them fails there. The policy (POLICY below) lets
 * uid 1000 load some catalog entries, uid 1001 use 10, everyone share 11, group 998 be admin.
 *
 * Access is checked against an oracle written from docs/security.md rather than from access.c:
 * with the fixture, a call on a handle is refused with PermissionDenied exactly when the table
 * below says the peer may not act on it at that level, and List shows exactly what it may see.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/varlink-json.h"
#include "daemon/handles.h"
#include "daemon/methods.h"
#include "daemon/server.h"
#include "tests/fuzz/fuzz-idl.h"
#include "tests/fuzz/fuzz-server.h"

#define ADMIN_GID 998
#define FIXTURE_N 11

static const char POLICY[] =
        "# the requests fuzzer's policy (tests/fuzz/fuzz-requests.c)\n"
        "load   user:1000   fuzz empty fixture-*\n"
        "use    user:1001   fixture-use\n"
        "share  *           shared-*\n"
        "admin  group:998\n";

/* Who may act on which fixture handle, per access level (bit i: handle i), for the two consumers
 * (peers 1 and 2); admins may act on all of them. SHARE: List, Describe, ShareMap; USE: Attach,
 * Detach, TakeLink (and share); OWN: Unload. */
enum level { SHARE, USE, OWN };
#define B(i) (1u << (i))
static const unsigned allowed[2][3] = {
        /* uid 1000: owns 1-5 and 9, granted 7 by group 2000, shares 11 by policy */
        { B(1) | B(2) | B(3) | B(4) | B(5) | B(7) | B(9) | B(11),
          B(1) | B(2) | B(3) | B(4) | B(5) | B(7) | B(9),
          B(1) | B(2) | B(3) | B(4) | B(5) | B(9) },
        /* uid 1001: granted 6 by uid, uses 10 by policy, shares 11 by policy */
        { B(6) | B(10) | B(11), B(6) | B(10), 0 },
};

static struct fuzz_server F;
static struct idl idl;
static bool have_idl, show;   /* FEXITD_FUZZ_SHOW=1: print every call and its reply */

struct answer {
        char *text;                  /* the first reply queued, NULL if none */
        size_t n_msgs, n_fds;
        bool hung_up;                /* the client left before the reply */
};

static const struct peer peers[] = {
        { .uid = 0, .gid = 0, .role = ROLE_ADMIN },
        { .uid = 1000, .gid = 1000, .groups = { 1000, 2000 }, .n_groups = 2, .role = ROLE_CONSUMER },
        { .uid = 1001, .gid = 1001, .groups = { 1001 }, .n_groups = 1, .role = ROLE_CONSUMER },
        { .uid = 1002, .gid = 1002, .groups = { 1002, ADMIN_GID }, .n_groups = 2, .role = ROLE_ADMIN },
};

static bool answered(void *userdata) {
        return ((struct vl_conn *) userdata)->pending == NULL;
}

static struct handle *fixture_handle(enum handle_kind kind, const char *name, uid_t owner,
                                     uint64_t group, enum handle_state state) {
        struct handle *h = handle_new(kind, name);

        if (!h || handle_table_add(&F.srv.handles, h) < 0)
                abort();
        h->owner_uid = owner;
        h->owner_pid = 4242;
        h->group = group;
        h->state = state;
        h->lifetime = LIFETIME_PERSISTENT;
        h->kernel_id = 100 + (uint32_t) h->id;
        h->created_usec = 1700000000000000ull;
        h->fd = fuzz_memfd(name, strlen(name));
        if (kind != HANDLE_MAP) {
                h->function = strdup("do_unlinkat");
                h->btf_object = strdup("vmlinux");
                h->btf_id = 4711;
        }
        return h;
}

static void fixture_map(const char *name, uint32_t type, uint32_t flags) {
        struct handle *h = fixture_handle(HANDLE_MAP, name, 1000, 1, HSTATE_LOADED);

        h->program = 1;
        h->map_type = type;
        h->map_flags = flags;
        h->key_size = 4;
        h->value_size = 8;
        h->max_entries = 1;
}

static void table_reset(bool fixture, uint64_t conn_id) {
        struct handle *h;

        handle_table_done(&F.srv.handles);
        handle_table_init(&F.srv.handles);
        if (!fixture)
                return;
        h = fixture_handle(HANDLE_PROGRAM, "count", 1000, 1, HSTATE_ATTACHED);         /* 1 */
        h->lifetime = LIFETIME_CONNECTION;
        h->conn_id = conn_id;
        h = fixture_handle(HANDLE_LINK, "count", 1000, 1, HSTATE_ATTACHED);            /* 2 */
        h->program = 1;
        fixture_map("ring", 27, 0);                                                    /* 3 */
        fixture_map(".bss", 2, 1u << 10);                                              /* 4 */
        fixture_map("hash", 1, 0);                                                     /* 5 */
        h = fixture_handle(HANDLE_PROGRAM, "root_prog", 0, 6, HSTATE_ATTACHED);        /* 6 */
        h->grants[h->n_grants++] = (struct grant) { .group = false, .id = 1001 };
        h->source = strdup("programs.d/x.json");
        h = fixture_handle(HANDLE_LINK, "root_prog", 0, 6, HSTATE_HANDED_OFF);         /* 7 */
        h->program = 6;
        h->fd = safe_close(h->fd);
        h->holder_uid = 1000;
        h->holder_pid = 4243;
        h->grants[h->n_grants++] = (struct grant) { .group = true, .id = 2000 };
        h = fixture_handle(HANDLE_PROGRAM, "busy", 0, 8, HSTATE_LOADED);               /* 8 */
        h->busy = true;
        fixture_handle(HANDLE_PROGRAM, "count2", 1000, 1, HSTATE_LOADED);               /* 9 */
        h = fixture_handle(HANDLE_PROGRAM, "fixture_use", 0, 10, HSTATE_LOADED);       /* 10 */
        h->source = strdup("fixture-use");
        h = fixture_handle(HANDLE_MAP, "stats", 0, 10, HSTATE_LOADED);                 /* 11 */
        h->source = strdup("shared-stats");
        h->map_type = 1;
}

/* Dispatches text as a call from peer on a connection of its own, as conn_handle_message()
 * does, and runs the loop until it is answered. Takes the fds. */
static void run_call(const struct peer *peer, const char *text, int *fds, size_t n_fds,
                     bool fixture, bool hangup, struct answer *ret) {
        struct vl_conn conn = { .server = &F.srv.vs, .id = ++F.srv.vs.next_conn_id, .peer = *peer,
                                .in_process = true };   /* replies must not re-enter conn_process */
        const char *reason;
        struct vl_call vc;
        struct call *c;
        int sv[2];

        *ret = (struct answer) {};
        conn.peer.pid = getpid();
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
                abort();
        vl_io_init(&conn.io, sv[0]);
        table_reset(fixture, conn.id);
        c = calloc(1, sizeof(*c));
        if (!c)
                abort();
        *c = (struct call) { .server = &F.srv, .vs = &F.srv.vs, .conn = &conn, .conn_id = conn.id, .peer = conn.peer,
                             .n_fds = n_fds };
        if (n_fds > 0)
                memcpy(c->fds, fds, n_fds * sizeof(int));
        if (vl_json_parse(text, &c->msg) < 0 || vl_call_parse(c->msg, &vc, &reason) < 0) {
                /* a ProtocolError and a hang-up; fuzz-framing covers the parsers */
                close_many(c->fds, c->n_fds);
                json_object_put(c->msg);
                free(c);
        } else {
                c->params = vc.parameters;
                c->oneway = vc.oneway;
                conn.pending = c;
                method_dispatch(c, vc.method);
                if (hangup && conn.pending) {
                        conn.pending->conn = NULL;   /* as conn_free() leaves a running call */
                        conn.pending = NULL;
                        ret->hung_up = true;
                }
                fuzz_server_run_until(&F, answered, &conn, "the call was not answered");
                if (conn.io.out_len > conn.io.out_pos)
                        ret->text = strdup(conn.io.out + conn.io.out_pos);
                for (size_t i = conn.io.out_pos; i < conn.io.out_len; i++)
                        ret->n_msgs += conn.io.out[i] == 0;
                for (size_t i = 0; i < conn.io.n_marks; i++)
                        ret->n_fds += conn.io.marks[i].n_fds;
        }
        /* the client hangs up: what it owned goes, as conn_free() does it */
        server_release_connection(&F.srv, conn.id);
        fuzz_server_run_until(&F, fuzz_server_idle, &F, "a job did not finish");
        free(conn.goodbye);   /* a call refused as a protocol error: the hang-up is conn_process's */
        vl_io_done(&conn.io);
        safe_close(sv[1]);
        table_reset(false, 0);
}

static bool may(unsigned who, uint64_t id, enum level level) {
        if (peers[who].role == ROLE_ADMIN)
                return true;
        return id >= 1 && id <= FIXTURE_N && (allowed[who - 1][level] & B(id));
}

/* The access oracle: see the top of this file. */
static void check_access(const char *method, json_object *params, unsigned who, const struct vl_reply *r) {
        static const struct { const char *method; enum level level; } verbs[] = {
                { "io.fexitd.Attach", USE }, { "io.fexitd.Detach", USE }, { "io.fexitd.TakeLink", USE },
                { "io.fexitd.ShareMap", SHARE }, { "io.fexitd.Describe", SHARE }, { "io.fexitd.Unload", OWN },
        };
        int64_t id = vl_get_int(params, "handle", 0);

        if (strcmp(method, "io.fexitd.List") == 0 && !r->error) {
                json_object *list = json_object_object_get(r->parameters, "handles");
                unsigned seen = 0;
                for (size_t i = 0; i < json_object_array_length(list); i++) {
                        int64_t h = vl_get_int(json_object_array_get_idx(list, i), "handle", 0);
                        seen |= h >= 1 && h <= FIXTURE_N ? B(h) : B(31);   /* 31: not in the fixture */
                }
                if (seen != (peers[who].role == ROLE_ADMIN ? (B(FIXTURE_N + 1) - 2) : allowed[who - 1][SHARE]))
                        fuzz_fail("fuzz-requests: List for uid %u shows handles %#x", (unsigned) peers[who].uid, seen);
                return;
        }
        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
                bool denied, exists = id >= 1 && id <= FIXTURE_N;
                if (strcmp(method, verbs[i].method) != 0)
                        continue;
                if (r->error && (strcmp(r->error, "org.varlink.service.InvalidParameter") == 0 ||
                                 strcmp(r->error, "io.fexitd.InvalidFileDescriptors") == 0))
                        return;   /* refused before the handle was looked at */
                if (r->error && strcmp(r->error, "io.fexitd.NoSuchHandle") == 0) {
                        if (exists)
                                fuzz_fail("fuzz-requests: %s: fixture handle %" PRId64 " not found", method, id);
                        return;
                }
                denied = r->error && strcmp(r->error, "io.fexitd.PermissionDenied") == 0;
                if (exists && denied == may(who, (uint64_t) id, verbs[i].level))
                        fuzz_fail("fuzz-requests: %s on handle %" PRId64 " by uid %u: %s, the policy says %s",
                                  method, id, (unsigned) peers[who].uid, denied ? "refused" : "allowed",
                                  denied ? "allow" : "refuse");
                return;
        }
}

static void check_reply(const struct vl_call *vc, unsigned who, bool fixture, const struct answer *a) {
        const char *method = vc->method, *why = NULL;
        const struct idl_entry *e = NULL;
        struct vl_reply r;
        json_object *o;

        if (vc->oneway || !a->text) {
                if (vc->oneway == !a->text || a->hung_up)
                        return;
                fuzz_fail("fuzz-requests: %s: %s", method, vc->oneway ? "a oneway call got a reply" : "no reply");
        }
        if (a->n_msgs != 1 || vl_json_parse(a->text, &o) < 0 || vl_reply_parse(o, &r) < 0)
                fuzz_fail("fuzz-requests: %s: %zu replies, the first malformed or not: %s", method, a->n_msgs,
                          a->text);
        if (have_idl) {
                e = r.error ? idl_find(&idl, IDL_ERROR, r.error) : idl_find(&idl, IDL_METHOD, method);
                if (!e)
                        why = r.error ? "an undeclared error" : "a reply to a method that does not exist";
                else
                        why = idl_check(&idl, e, r.parameters);
        }
        if (why)
                fuzz_fail("fuzz-requests: %s: the reply does not match the interface: %s\n  %s", method, why,
                          a->text);
        if ((a->n_fds > 0) != (!r.error && (strcmp(method, "io.fexitd.TakeLink") == 0 ||
                                            strcmp(method, "io.fexitd.ShareMap") == 0)))
                fuzz_fail("fuzz-requests: %s: %zu fds with the reply %s", method, a->n_fds, a->text);
        if (fixture)
                check_access(method, vc->parameters, who, &r);
        json_object_put(o);
}

static void load_interfaces(void) {
        static const char *const names[] = { "org.varlink.service", "io.fexitd" };
        char text[128];

        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                struct answer a;
                json_object *o, *d;

                snprintf(text, sizeof(text), "{\"method\":\"org.varlink.service.GetInterfaceDescription\","
                         "\"parameters\":{\"interface\":\"%s\"}}", names[i]);
                run_call(&peers[1], text, NULL, 0, false, false, &a);
                if (!a.text || vl_json_parse(a.text, &o) < 0 ||
                    !(d = json_object_object_get(json_object_object_get(o, "parameters"), "description")) ||
                    idl_parse(&idl, json_object_get_string(d)) < 0) {
                        fuzz_fail("fuzz-requests: cannot read the description of %s: %s", names[i],
                                a.text ? a.text : "(no reply)");
                }
                json_object_put(o);
                free(a.text);
        }
        have_idl = true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        const char *e = getenv("FEXITD_FUZZ_SHOW");

        show = e && strcmp(e, "1") == 0;
        fuzz_log_setup();
        fuzz_deny_bpf();
        fuzz_server_init(&F);
        fuzz_write_file(F.catalog, "empty.bpf.o", "", 0);
        fuzz_write_file(F.conf, "policy.conf", POLICY, strlen(POLICY));
        if (server_load_policy(&F.srv) < 0)
                fuzz_fail("fuzz-requests: the fixture's policy does not load");
        load_interfaces();
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fuzz_input in = { data, size };
        uint8_t who = fuzz_u8(&in), how = fuzz_u8(&in);
        const uint8_t *call, *object;
        size_t call_len = fuzz_take_until_nul(&in, &call), object_len = in.n, n_fds = (how >> 1) & 3;
        int before = fuzz_fd_count(), fds[3];
        char *text = strndup((const char *) call, call_len);
        struct answer a;
        json_object *o;

        object = in.p;
        if (!text)
                abort();
        if (how & (1 << 4))
                fuzz_write_file(F.catalog, "fuzz.bpf.o", object, object_len);
        for (size_t i = 0; i < n_fds; i++)
                fds[i] = i == 0 && (how & (1 << 3)) ? eventfd(0, EFD_CLOEXEC) :
                         fuzz_memfd(i == 0 ? object : NULL, i == 0 ? object_len : 0);
        run_call(&peers[who & 3], text, fds, n_fds, how & 1, how & (1 << 5), &a);
        if (show)
                fuzz_note("uid %u%s: %s\n  -> %s (%zu fds)", (unsigned) peers[who & 3].uid,
                          how & 1 ? " (fixture)" : "", text, a.text ? a.text : "(no reply)", a.n_fds);
        if (vl_json_parse(text, &o) >= 0) {
                struct vl_call vc;
                const char *reason;
                if (vl_call_parse(o, &vc, &reason) >= 0)
                        check_reply(&vc, who & 3, how & 1, &a);
                json_object_put(o);
        }
        free(a.text);
        free(text);
        if (how & (1 << 4))
                fuzz_write_file(F.catalog, "fuzz.bpf.o", "", 0);
        fuzz_check_fds(before, "requests");
        return 0;
}
