/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>
#include <libelf.h>

#include "common/macro.h"
#include "daemon/bpf-backend.h"
#include "daemon/bpf-internal.h"

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
int bb_fail(struct bb_error *e, enum bb_error_kind kind, int r, const char *program,
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

void bb_set_operation(struct bb_error *e, const char *op) {
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

void bb_set_log(struct bb_error *e, const char *log) {
        if (!e || !log || !*log)
                return;
        free(e->log);
        e->log = log_tail(log);
}

/* Why the kernel said no, in words an operator can act on. */
const char *bb_errno_hint(int err) {
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

static __thread struct bb_capture *tl_capture;
static bb_log_func_t log_func;

static void tail_append(struct bb_capture *c, const char *s) {
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
static void capture_verifier_log(struct bb_capture *c, const char *msg) {
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

static void capture_message(struct bb_capture *c, const char *msg) {
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
        struct bb_capture *c = tl_capture;
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

void bb_init(void) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;

        pthread_once(&once, init_once);
}

void bb_capture_start(struct bb_capture *c) {
        *c = (struct bb_capture) {};
        tl_capture = c;
}

void bb_capture_stop(struct bb_capture *c) {
        if (tl_capture == c)
                tl_capture = NULL;
}

void bb_capture_done(struct bb_capture *c) {
        bb_capture_stop(c);
        free(c->tail);
        free(c->vlog);
}

/* Verifier verdicts and load failures ------------------------------------------------------ */

/* The verifier ends with statistics; the reason is the line before them. From 7.x it may follow
 * the reason with sections, a header line ending in ':' ("Causal path:", "Suggestion:") and
 * indented lines under it: none of them is the reason; the suggestion is kept after it. */
const char *bb_verifier_reason(const char *log, char *buf, size_t size) {
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

int bb_fail_verifier(struct bb_error *e, int r, const char *prog, const char *function,
                     const char *log) {
        char line[256];

        /* The kernel's own words (bpf_check_attach_target()): fexit.s/ on a function that is
         * neither error-injectable nor in a sleepable set. */
        if (strstr(log, " is not sleepable")) {
                r = bb_fail(e, BB_ERR_NOT_SLEEPABLE, r, prog, function, "%s is not sleepable on this "
                            "kernel: fexit.s/ needs a function the kernel lets sleep",
                            function ? function : "?");
                bb_set_operation(e, "load");
                bb_set_log(e, log);
                return r;
        }
        r = bb_fail(e, BB_ERR_VERIFIER, r, prog, function, "the verifier rejected program %s for %s: %s",
                    prog, function ? function : "?", bb_verifier_reason(log, line, sizeof(line)));
        bb_set_operation(e, "load");
        bb_set_log(e, log);
        return r;
}

int bb_fail_load(struct bb_error *e, int r, const char *prog, const char *function,
                 const char *detail, const char *log) {
        const char *hint = r > -__LIBBPF_ERRNO__START ? bb_errno_hint(-r) : NULL;
        char buf[64];

        if (r <= -__LIBBPF_ERRNO__START) {             /* libbpf's own codes are not errnos */
                libbpf_strerror(r, buf, sizeof(buf));
                r = -EINVAL;
        } else
                snprintf(buf, sizeof(buf), "%s", strerror(-r));
        r = bb_fail(e, BB_ERR_KERNEL, r, prog, function, "loading program %s for %s failed: %s%s%s",
                    prog ? prog : "?", function ? function : "?", hint ? hint : buf,
                    detail && *detail ? "; libbpf: " : "", detail ? detail : "");
        bb_set_operation(e, "load");
        bb_set_log(e, log);
        return r;
}
