/* SPDX-License-Identifier: MIT */
/* fexitctl's command line parser and exit-code table (client/fexitctl-args.c, -exit.c). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check-main.h"
#include "common/macro.h"
#include "fexitctl-args.h"
#include "fexitctl-exit.h"

#define ARGV(...) ((char *[]) { "fexitctl", __VA_ARGS__, NULL })
#define ARGC(v) ((int) (sizeof(v) / sizeof(char *)) - 1)

static char **last_argv;

/* Parses and expects success. The argv compound literals live in the calling block, so the
 * strings the result borrows stay valid there. */
static struct fexitctl_args *parse_ok(int argc, char **argv) {
        struct fexitctl_args *a = NULL;
        char *e = NULL;
        int r = fexitctl_parse_args(argc, argv, &a, &e);

        ck_assert_msg(r == 0, "refused: %s", e ? e : "?");
        ck_assert_ptr_null(e);
        last_argv = argv;
        return a;
}
#define OK(...) parse_ok(ARGC(ARGV(__VA_ARGS__)), ARGV(__VA_ARGS__))

/* Parses and expects a usage error with exactly this message. */
static void parse_bad(const char *message, int argc, char **argv) {
        struct fexitctl_args *a = (void *) 0x1;
        char *e = NULL;
        int r = fexitctl_parse_args(argc, argv, &a, &e);

        ck_assert_msg(r == -EINVAL, "accepted, expected: %s", message);
        ck_assert_ptr_eq(a, (void *) 0x1);
        ck_assert_ptr_nonnull(e);
        ck_assert_str_eq(e, message);
        free(e);
}
#define BAD(message, ...) parse_bad(message, ARGC(ARGV(__VA_ARGS__)), ARGV(__VA_ARGS__))

START_TEST(test_no_arguments) {
        char *argv[] = { "fexitctl", NULL };
        struct fexitctl_args *a = NULL;
        char *e = NULL;

        ck_assert_int_eq(fexitctl_parse_args(1, argv, &a, &e), -EINVAL);
        ck_assert_str_eq(e, "missing command (try 'fexitctl help')");
        ck_assert_ptr_null(a);
        free(e);
}
END_TEST

START_TEST(test_help_forms) {
        struct fexitctl_args *a;

        a = OK("help");
        ck_assert_int_eq(a->verb, FEXITCTL_HELP);
        ck_assert_int_eq(a->help_verb, FEXITCTL_NONE);
        fexitctl_args_free(a);
        a = OK("--help");
        ck_assert_int_eq(a->verb, FEXITCTL_HELP);
        ck_assert_int_eq(a->help_verb, FEXITCTL_NONE);
        fexitctl_args_free(a);
        a = OK("help", "take-link");
        ck_assert_int_eq(a->verb, FEXITCTL_HELP);
        ck_assert_int_eq(a->help_verb, FEXITCTL_TAKE_LINK);
        fexitctl_args_free(a);
        /* --help after a command: that command's help, its missing arguments do not matter */
        a = OK("attach", "--help");
        ck_assert_int_eq(a->verb, FEXITCTL_HELP);
        ck_assert_int_eq(a->help_verb, FEXITCTL_ATTACH);
        fexitctl_args_free(a);
        a = OK("load", "-h");
        ck_assert_int_eq(a->help_verb, FEXITCTL_LOAD);
        fexitctl_args_free(a);
        a = OK("--version");
        ck_assert_int_eq(a->verb, FEXITCTL_VERSION);
        fexitctl_args_free(a);
        BAD("no help for unknown command 'bogus'", "help", "bogus");
        BAD("unexpected argument 'list' for 'help'", "help", "load", "list");
        ck_assert_str_eq(fexitctl_verb_name(FEXITCTL_SHARE_MAP), "share-map");
        ck_assert_ptr_null(fexitctl_verb_name(FEXITCTL_NONE));
        ck_assert(strncmp(fexitctl_help_text(FEXITCTL_LOAD), "fexitctl load OBJECT.o", 22) == 0);
        ck_assert(strncmp(fexitctl_help_text(FEXITCTL_NONE), "fexitctl [--socket PATH]", 24) == 0);
}
END_TEST

START_TEST(test_global_options) {
        struct fexitctl_args *a;

        a = OK("list");
        ck_assert_int_eq(a->verb, FEXITCTL_LIST);
        ck_assert_ptr_null(a->socket);
        ck_assert(!a->json);
        ck_assert_int_eq(a->timeout_ms, 0);
        fexitctl_args_free(a);
        a = OK("--socket", "/run/x.sock", "--json", "status");
        ck_assert_int_eq(a->verb, FEXITCTL_STATUS);
        ck_assert_str_eq(a->socket, "/run/x.sock");
        ck_assert(a->json);
        fexitctl_args_free(a);
        /* global options may also follow the command, and use = */
        a = OK("list", "--socket=/s", "--timeout=1.5", "--json");
        ck_assert_str_eq(a->socket, "/s");
        ck_assert_int_eq(a->timeout_ms, 1500);
        ck_assert(a->json);
        fexitctl_args_free(a);
        a = OK("--timeout", "0", "info");
        ck_assert_int_eq(a->verb, FEXITCTL_INFO);
        ck_assert_int_eq(a->timeout_ms, 0);
        fexitctl_args_free(a);
        BAD("invalid --timeout 'soon': expected seconds", "--timeout", "soon", "list");
        BAD("invalid --timeout '-1': expected seconds", "--timeout=-1", "list");
        BAD("option --socket needs a value", "list", "--socket");
        BAD("--socket needs a path", "--socket=", "list");
        BAD("option --json takes no value", "--json=yes", "list");
        BAD("unknown option '--bogus'", "--bogus", "list");
        BAD("unknown option '--bogus'", "list", "--bogus=1");
        BAD("unknown option '-x'", "-x", "list");
        BAD("unknown command 'lsit' (try 'fexitctl help')", "lsit");
        BAD("unexpected argument 'extra' for 'list'", "list", "extra");
}
END_TEST

START_TEST(test_load_object) {
        struct fexitctl_args *a = OK("load", "counter.bpf.o");

        ck_assert_int_eq(a->verb, FEXITCTL_LOAD);
        ck_assert_str_eq(a->object, "counter.bpf.o");
        ck_assert_ptr_null(a->catalog);
        ck_assert_uint_eq(a->n_programs, 0);
        ck_assert_int_eq(a->lifetime, FEXIT_LIFETIME_PERSISTENT);   /* the CLI's default */
        ck_assert_uint_eq(a->n_grants, 0);
        ck_assert(!a->attach);
        fexitctl_args_free(a);

        /* after --, a name that looks like an option is the object */
        a = OK("load", "--", "-odd.o");
        ck_assert_str_eq(a->object, "-odd.o");
        fexitctl_args_free(a);
}
END_TEST

/* The name load sends: what libbpf would call the object, within Load's charset. */
START_TEST(test_object_name) {
        static const struct { const char *path, *name; } cases[] = {
                { "unlinksnoop.bpf.o", "unlinksnoop" },
                { "/usr/lib/fexitd/programs/unlinksnoop.bpf.o", "unlinksnoop" },
                { "./build/count.o", "count" },
                { "trace.v2.o", "trace.v2" },
                { "no-suffix", "no-suffix" },
                { "..hidden.bpf.o", "hidden" },
                { "my prog\xc3\xa9.o", "my_prog__" },
                { "dir.d/x.bpf.o", "x" },
        };
        char name[FEXITCTL_OBJECT_NAME_MAX + 1], longer[300];

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                ck_assert_msg(fexitctl_object_name(cases[i].path, name), "%s: no name", cases[i].path);
                ck_assert_str_eq(name, cases[i].name);
        }
        /* nothing left: no name is sent */
        ck_assert(!fexitctl_object_name(".bpf.o", name));
        ck_assert(!fexitctl_object_name("dir/", name));
        ck_assert(!fexitctl_object_name("...o", name));
        /* cut at Load's limit */
        memset(longer, 'a', sizeof(longer) - 1);
        longer[sizeof(longer) - 1] = '\0';
        ck_assert(fexitctl_object_name(longer, name));
        ck_assert_uint_eq(strlen(name), FEXITCTL_OBJECT_NAME_MAX);
}
END_TEST

START_TEST(test_load_programs) {
        struct fexitctl_args *a = OK("load", "x.o", "--program", "count", "--functions", "vfs_read,vfs_*",
                                     "--functions=do_unlinkat", "--program=trace=do_sys_open",
                                     "--program", "xdp_spy", "--target-prog", "42",
                                     "--lifetime", "connection", "--grant", "user:alice",
                                     "--grant=group:bpf", "--attach");

        ck_assert_str_eq(a->object, "x.o");
        ck_assert_uint_eq(a->n_programs, 3);
        ck_assert_str_eq(a->programs[0].name, "count");
        ck_assert_ptr_null(a->programs[0].function);
        ck_assert_uint_eq(a->programs[0].target_prog_id, 0);
        ck_assert_uint_eq(a->programs[0].n_functions, 3);
        ck_assert_str_eq(a->programs[0].functions[0], "vfs_read");
        ck_assert_str_eq(a->programs[0].functions[1], "vfs_*");
        ck_assert_str_eq(a->programs[0].functions[2], "do_unlinkat");
        ck_assert_ptr_null(a->programs[0].functions[3]);
        ck_assert_str_eq(a->programs[1].name, "trace");
        ck_assert_str_eq(a->programs[1].function, "do_sys_open");
        ck_assert_uint_eq(a->programs[1].n_functions, 0);
        ck_assert_str_eq(a->programs[2].name, "xdp_spy");
        ck_assert_uint_eq(a->programs[2].target_prog_id, 42);
        ck_assert_int_eq(a->lifetime, FEXIT_LIFETIME_CONNECTION);
        ck_assert_uint_eq(a->n_grants, 2);
        ck_assert_str_eq(a->grants[0], "user:alice");
        ck_assert_str_eq(a->grants[1], "group:bpf");
        ck_assert(a->attach);
        fexitctl_args_free(a);
}
END_TEST

START_TEST(test_load_catalog) {
        struct fexitctl_args *a = OK("load", "--catalog", "unlink-counter", "--attach");

        ck_assert_ptr_null(a->object);
        ck_assert_str_eq(a->catalog, "unlink-counter");
        ck_assert(a->attach);
        fexitctl_args_free(a);
}
END_TEST

START_TEST(test_load_errors) {
        BAD("'load' needs OBJECT.o or --catalog NAME", "load");
        BAD("'load' needs OBJECT.o or --catalog NAME", "load", "--attach");
        BAD("'load' takes OBJECT.o or --catalog NAME, not both", "load", "x.o", "--catalog", "c");
        BAD("unexpected argument 'y.o' for 'load'", "load", "x.o", "y.o");
        BAD("--catalog needs a name", "load", "--catalog=");
        BAD("--functions applies to a --program NAME given before it", "load", "x.o", "--functions", "f");
        BAD("--target-prog applies to a --program NAME given before it", "load", "x.o", "--target-prog", "1");
        BAD("invalid --functions 'a,,b': empty function name", "load", "x.o", "--program", "p", "--functions", "a,,b");
        BAD("invalid --functions 'a,': empty function name", "load", "x.o", "--program", "p", "--functions", "a,");
        BAD("invalid --functions ',a': empty function name", "load", "x.o", "--program", "p", "--functions", ",a");
        BAD("invalid --functions '': empty function name", "load", "x.o", "--program", "p", "--functions", "");
        BAD("invalid --program '=f': expected NAME or NAME=FUNCTION", "load", "x.o", "--program", "=f");
        BAD("invalid --program 'p=': expected NAME or NAME=FUNCTION", "load", "x.o", "--program", "p=");
        BAD("invalid --program '': expected NAME or NAME=FUNCTION", "load", "x.o", "--program=");
        BAD("--program p=FUNCTION and --functions exclude each other",
            "load", "x.o", "--program", "p=f", "--functions", "g");
        BAD("invalid --target-prog '0': expected a BPF program id", "load", "x.o", "--program", "p", "--target-prog", "0");
        BAD("invalid --target-prog '4294967296': expected a BPF program id",
            "load", "x.o", "--program", "p", "--target-prog", "4294967296");
        BAD("invalid --target-prog '12ab': expected a BPF program id", "load", "x.o", "--program", "p", "--target-prog", "12ab");
        BAD("invalid --lifetime 'forever': expected persistent or connection", "load", "x.o", "--lifetime", "forever");
        BAD("invalid --grant 'alice': expected user:NAME or group:NAME", "load", "x.o", "--grant", "alice");
        BAD("invalid --grant 'user:': expected user:NAME or group:NAME", "load", "x.o", "--grant", "user:");
        BAD("invalid --grant 'group:': expected user:NAME or group:NAME", "load", "x.o", "--grant", "group:");
        BAD("option --attach takes no value", "load", "x.o", "--attach=yes");
        BAD("option --program must follow its command", "--program", "p", "load", "x.o");
}
END_TEST

START_TEST(test_handle_verbs) {
        static const struct {
                const char *name;
                enum fexitctl_verb verb;
        } verbs[] = {
                { "attach", FEXITCTL_ATTACH }, { "detach", FEXITCTL_DETACH },
                { "unload", FEXITCTL_UNLOAD }, { "describe", FEXITCTL_DESCRIBE },
        };

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                char *argv[] = { "fexitctl", (char *) verbs[i].name, "17", NULL };
                struct fexitctl_args *a = NULL;
                char *e = NULL;

                ck_assert_int_eq(fexitctl_parse_args(3, argv, &a, &e), 0);
                ck_assert_int_eq(a->verb, verbs[i].verb);
                ck_assert_int_eq(a->handle, 17);
                fexitctl_args_free(a);
        }
        struct fexitctl_args *a = OK("attach", "9223372036854775807", "--lifetime", "connection");
        ck_assert_int_eq(a->handle, INT64_MAX);
        ck_assert_int_eq(a->lifetime, FEXIT_LIFETIME_CONNECTION);
        fexitctl_args_free(a);
        a = OK("attach", "3");
        ck_assert_int_eq(a->lifetime, FEXIT_LIFETIME_PERSISTENT);
        ck_assert(!a->group);
        fexitctl_args_free(a);
        a = OK("attach", "--group", "3");
        ck_assert(a->group);
        ck_assert_int_eq(a->handle, 3);
        fexitctl_args_free(a);
        a = OK("detach", "4", "--group");
        ck_assert_int_eq(a->verb, FEXITCTL_DETACH);
        ck_assert(a->group);
        fexitctl_args_free(a);
        BAD("option --group does not apply to 'unload'", "unload", "1", "--group");
        BAD("option --group takes no value", "detach", "1", "--group=yes");

        BAD("'attach' needs a HANDLE", "attach");
        BAD("'describe' needs a HANDLE", "describe", "--json");
        BAD("invalid handle '0': expected a positive integer", "detach", "0");
        BAD("invalid handle '9223372036854775808': expected a positive integer", "detach", "9223372036854775808");
        BAD("invalid handle '12x': expected a positive integer", "unload", "12x");
        BAD("invalid handle ' 1': expected a positive integer", "unload", " 1");
        BAD("invalid handle '+1': expected a positive integer", "unload", "+1");
        BAD("unknown option '-1'", "unload", "-1");
        BAD("unexpected argument '2' for 'detach'", "detach", "1", "2");
        BAD("option --lifetime does not apply to 'detach'", "detach", "1", "--lifetime", "persistent");
        BAD("option --program does not apply to 'attach'", "attach", "1", "--program", "p");
}
END_TEST

START_TEST(test_take_link) {
        struct fexitctl_args *a = OK("take-link", "7", "--", "consumer", "--verbose", "x");

        ck_assert_int_eq(a->verb, FEXITCTL_TAKE_LINK);
        ck_assert_int_eq(a->handle, 7);
        ck_assert_int_eq(a->fd, 3);
        ck_assert_ptr_eq(a->exec_argv, last_argv + 4);   /* borrowed from argv */
        ck_assert_str_eq(a->exec_argv[0], "consumer");
        ck_assert_str_eq(a->exec_argv[1], "--verbose");
        ck_assert_str_eq(a->exec_argv[2], "x");
        ck_assert_ptr_null(a->exec_argv[3]);
        fexitctl_args_free(a);

        /* without --: COMMAND starts at the first word after HANDLE, and owns what follows */
        a = OK("take-link", "--fd", "5", "7", "sleep", "--fd", "9");
        ck_assert_int_eq(a->fd, 5);
        ck_assert_str_eq(a->exec_argv[0], "sleep");
        ck_assert_str_eq(a->exec_argv[1], "--fd");
        ck_assert_str_eq(a->exec_argv[2], "9");
        fexitctl_args_free(a);

        a = OK("--json", "share-map", "4", "--fd=10", "--", "cat");
        ck_assert_int_eq(a->verb, FEXITCTL_SHARE_MAP);
        ck_assert(a->json);
        ck_assert_int_eq(a->handle, 4);
        ck_assert_int_eq(a->fd, 10);
        ck_assert_str_eq(a->exec_argv[0], "cat");
        ck_assert_ptr_null(a->exec_argv[1]);
        fexitctl_args_free(a);

        BAD("'take-link' needs a HANDLE", "take-link");
        BAD("'take-link' needs a COMMAND to run", "take-link", "7");
        BAD("'share-map' needs a COMMAND to run", "share-map", "7", "--");
        BAD("invalid --fd '2': expected a number >= 3", "take-link", "7", "--fd", "2", "--", "x");
        BAD("invalid --fd 'four': expected a number >= 3", "take-link", "7", "--fd", "four", "--", "x");
        BAD("invalid --fd '2147483648': expected a number >= 3", "share-map", "7", "--fd", "2147483648", "x");
        BAD("option --fd must follow its command", "--fd", "4", "take-link", "7", "x");
        BAD("option --fd does not apply to 'list'", "list", "--fd", "4");
}
END_TEST

/* ---- exit codes ---- */

START_TEST(test_exit_codes_by_error) {
        static const struct {
                const char *name;
                int code;
        } cases[] = {
                { "io.fexitd.NoSuchHandle", 3 },
                { "io.fexitd.NoSuchProgram", 3 },
                { "io.fexitd.NoSuchFunction", 3 },
                { "io.fexitd.NoSuchCatalogEntry", 3 },
                { "io.fexitd.WrongHandleKind", 2 },
                { "org.varlink.service.InvalidParameter", 2 },
                { "io.fexitd.PermissionDenied", 4 },
                { "io.fexitd.FunctionDenied", 4 },
                { "org.varlink.service.PermissionDenied", 4 },
                { "io.fexitd.VerifierRejected", 5 },
                { "io.fexitd.KernelError", 5 },
                { "io.fexitd.InvalidObject", 5 },
                { "io.fexitd.NoFexitPrograms", 5 },
                { "io.fexitd.LimitExceeded", 7 },
                { "io.fexitd.NotDetachable", 1 },
                { "io.fexitd.ProtocolError", 1 },
                { "io.fexitd.InvalidFileDescriptors", 1 },
                { "org.varlink.service.MethodNotFound", 1 },
                { "com.example.Unknown", 1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                ck_assert_msg(fexitctl_exit_code(cases[i].name, -EIO) == cases[i].code,
                              "%s: %d", cases[i].name, fexitctl_exit_code(cases[i].name, -EIO));
        /* the error name wins over the errno */
        ck_assert_int_eq(fexitctl_exit_code("io.fexitd.KernelError", -EPERM), FEXITCTL_EXIT_REFUSED);
}
END_TEST

START_TEST(test_exit_codes_by_errno) {
        ck_assert_int_eq(fexitctl_exit_code(NULL, 0), 0);
        ck_assert_int_eq(fexitctl_exit_code(NULL, -ENOENT), 3);
        ck_assert_int_eq(fexitctl_exit_code(NULL, -EACCES), 4);
        ck_assert_int_eq(fexitctl_exit_code(NULL, -EPERM), 4);
        ck_assert_int_eq(fexitctl_exit_code(NULL, -ECONNREFUSED), 6);
        ck_assert_int_eq(fexitctl_exit_code(NULL, -ECONNRESET), 6);
        ck_assert_int_eq(fexitctl_exit_code(NULL, -EPIPE), 6);
        ck_assert_int_eq(fexitctl_exit_code(NULL, -ENOTCONN), 6);
        ck_assert_int_eq(fexitctl_exit_code(NULL, -ETIMEDOUT), 6);
        ck_assert_int_eq(fexitctl_exit_code(NULL, -EBADMSG), 1);
        ck_assert_int_eq(fexitctl_exit_code(NULL, -ENOMEM), 1);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("fexitctl-args");
        TCase *args = tcase_create("args"), *codes = tcase_create("exit-codes");

        tcase_add_test(args, test_no_arguments);
        tcase_add_test(args, test_help_forms);
        tcase_add_test(args, test_global_options);
        tcase_add_test(args, test_load_object);
        tcase_add_test(args, test_load_programs);
        tcase_add_test(args, test_load_catalog);
        tcase_add_test(args, test_load_errors);
        tcase_add_test(args, test_handle_verbs);
        tcase_add_test(args, test_take_link);
        tcase_add_test(args, test_object_name);
        tcase_add_test(codes, test_exit_codes_by_error);
        tcase_add_test(codes, test_exit_codes_by_errno);
        suite_add_tcase(s, args);
        suite_add_tcase(s, codes);
        return s;
}
