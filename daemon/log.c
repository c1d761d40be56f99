/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "daemon/log.h"

static int log_max_level = LOG_INFO;
static bool log_to_journal;

/* JOURNAL_STREAM names the device:inode of the journal's stream: only if stderr is still that
 * stream do we talk to the journal directly (a redirected stderr means someone wants it). */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
                return false;
        return st.st_dev == dev && st.st_ino == ino;
}

void log_setup(int max_level) {
        log_max_level = max_level;
        log_to_journal = stderr_is_journal();
}

static void log_journal(int level, const struct log_ctx *ctx, const char *msg) {
        char f[8][96];
        struct iovec iov[10];
        size_t n = 0;

#define ADD(...) do { \
                int _l = snprintf(f[n], sizeof(f[n]), __VA_ARGS__); \
                iov[n] = (struct iovec) { f[n], (size_t) _l < sizeof(f[n]) ? (size_t) _l : sizeof(f[n]) - 1 }; \
                n++; \
        } while (0)
        ADD("PRIORITY=%d", level);
        ADD("SYSLOG_IDENTIFIER=fexitd");
        if (ctx && ctx->handle)
                ADD("FEXITD_HANDLE=%" PRIu64, ctx->handle);
        if (ctx && ctx->kernel_id)
                ADD("FEXITD_KERNEL_ID=%" PRIu32, ctx->kernel_id);
        if (ctx && ctx->function)
                ADD("FEXITD_FUNCTION=%s", ctx->function);
        if (ctx && ctx->method)
                ADD("FEXITD_METHOD=%s", ctx->method);
        if (ctx && ctx->pid) {
                ADD("FEXITD_CLIENT_UID=%u", (unsigned) ctx->uid);
                ADD("FEXITD_CLIENT_PID=%d", (int) ctx->pid);
        }
#undef ADD
        _cleanup_free_ char *m = NULL;
        int len = asprintf(&m, "MESSAGE=%s", msg);
        if (len < 0)
                return;
        iov[n++] = (struct iovec) { m, (size_t) len };
        sd_journal_sendv(iov, (int) n);
}

static void log_msg(int level, const struct log_ctx *ctx, const char *msg);

void log_fullv(int level, const struct log_ctx *ctx, const char *fmt, va_list ap) {
        char msg[2048];

        if (level > log_max_level)
                return;
        vsnprintf(msg, sizeof(msg), fmt, ap);
        log_msg(level, ctx, msg);
}

void log_full(int level, const struct log_ctx *ctx, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        log_fullv(level, ctx, fmt, ap);
        va_end(ap);
}

void log_limited(struct log_limit *l, int level, const struct log_ctx *ctx, const char *fmt, ...) {
        char msg[2048];
        va_list ap;

        if (++l->n > LOG_LIMIT_FIRST || level > log_max_level)
                return;
        l->level = level;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        log_msg(level, ctx, msg);
}

void log_limit_summary(const struct log_limit *l, const char *what) {
        if (l->n > LOG_LIMIT_FIRST)
                log_full(l->level, NULL, "%u more %s not logged one by one (%u in all).",
                         l->n - LOG_LIMIT_FIRST, what, l->n);
}

static void log_msg(int level, const struct log_ctx *ctx, const char *msg) {
        if (log_to_journal) {
                log_journal(level, ctx, msg);
                return;
        }
        if (ctx && ctx->pid)
                fprintf(stderr, "fexitd: %s [uid=%u pid=%d%s%s]\n", msg, (unsigned) ctx->uid,
                        (int) ctx->pid, ctx->method ? " " : "", ctx->method ? ctx->method : "");
        else
                fprintf(stderr, "fexitd: %s\n", msg);
}
