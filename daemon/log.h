/* SPDX-License-Identifier: MIT */
#pragma once

/* Logging at the daemon's boundary: to the journal with structured fields when stderr is connected
 * to it (JOURNAL_STREAM), else one line per event on stderr. */

#include <stdarg.h>
#include <stdint.h>
#include <sys/types.h>
#include <syslog.h>

#include "common/macro.h"

/* Optional structured context; zero fields are left out. */
struct log_ctx {
        uint64_t handle;
        uint32_t kernel_id;
        const char *function;
        const char *method;
        uid_t uid;
        pid_t pid;          /* 0: no client */
};

void log_setup(int max_level);
void log_full(int level, const struct log_ctx *ctx, const char *fmt, ...) _printf_(3, 4);
void log_fullv(int level, const struct log_ctx *ctx, const char *fmt, va_list ap) _printf_(3, 0);

#define log_debug(...) log_full(LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, NULL, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, NULL, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, NULL, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, NULL, __VA_ARGS__)

/* Logs and returns r (a negative errno), for `return log_error_errno(r, "...: %m")`. */
#define log_error_errno(r, ...) ({ errno = -(r); log_error(__VA_ARGS__); (r); })

/* Repeated warnings of one kind (a damaged state file can hold 300,000 bad records): the first
 * LOG_LIMIT_FIRST are logged, the rest only counted, and log_limit_summary() says how many. */
#define LOG_LIMIT_FIRST 5
struct log_limit {
        unsigned n;
        int level;
};
void log_limited(struct log_limit *l, int level, const struct log_ctx *ctx, const char *fmt, ...) _printf_(4, 5);
void log_limit_summary(const struct log_limit *l, const char *what);
