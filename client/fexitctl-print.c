/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/varlink-json.h"
#include "fexitctl-print.h"

enum { COL_HANDLE, COL_KIND, COL_ID, COL_NAME, COL_TARGET, COL_LIFETIME, COL_STATE, COL_OWNER, N_COLS };

static const char *const headers[N_COLS] = {
        "HANDLE", "KIND", "ID", "NAME", "TARGET", "LIFETIME", "STATE", "OWNER",
};

static char *xasprintf(const char *format, ...) _printf_(1, 2);
static char *xasprintf(const char *format, ...) {
        va_list ap;
        char *s;

        va_start(ap, format);
        if (vasprintf(&s, format, ap) < 0)
                s = NULL;
        va_end(ap);
        return s;
}

static const char *or_dash(const char *s) {
        return s && *s ? s : "-";
}

/* "do_unlinkat", "nf_conntrack:nf_ct_delete", "prog 42:handle_xdp" */
static char *target_text(const struct fexit_handle *h) {
        const struct fexit_target *t = h->target;

        if (h->kind == FEXIT_KIND_MAP)
                return strdup(or_dash(h->map_type));
        if (!t)
                return strdup("-");
        if (h->function_count > 1)      /* a multi-link: one row, `describe` lists them */
                return xasprintf("%s +%" PRId64 " (%" PRId64 " functions)", t->function,
                                 h->function_count - 1, h->function_count);
        if (t->target_prog_id > 0)
                return xasprintf("prog %" PRId64 ":%s", t->target_prog_id, t->function);
        if (t->btf_object && strcmp(t->btf_object, "vmlinux") != 0 && strcmp(t->btf_object, "bpf") != 0)
                return xasprintf("%s:%s", t->btf_object, t->function);
        return strdup(t->function);
}

static char *user_text(int64_t uid) {
        struct passwd *pw = uid >= 0 ? getpwuid((uid_t) uid) : NULL;

        return pw ? strdup(pw->pw_name) : xasprintf("%" PRId64, uid);
}

static void row_fill(char **row, const struct fexit_handle *h) {
        row[COL_HANDLE] = xasprintf("%" PRId64, h->handle);
        row[COL_KIND] = strdup(or_dash(fexit_kind_name(h->kind)));
        row[COL_ID] = xasprintf("%" PRId64, h->kernel_id);
        row[COL_NAME] = strdup(or_dash(h->name));
        row[COL_TARGET] = target_text(h);
        row[COL_LIFETIME] = strdup(or_dash(fexit_lifetime_name(h->lifetime)));
        /* a handed-off link whose holder is not known alive says so: the link may be gone */
        if (h->holder_state && strcmp(h->holder_state, "alive") != 0)
                row[COL_STATE] = xasprintf("%s (holder %s)", or_dash(h->state_name), h->holder_state);
        else
                row[COL_STATE] = strdup(or_dash(h->state_name));
        row[COL_OWNER] = user_text(h->owner_uid);
}

static void table_print(FILE *f, char **cells, size_t n_rows) {
        size_t width[N_COLS];

        for (size_t c = 0; c < N_COLS; c++) {
                width[c] = strlen(headers[c]);
                for (size_t r = 0; r < n_rows; r++)
                        if (cells[r * N_COLS + c] && strlen(cells[r * N_COLS + c]) > width[c])
                                width[c] = strlen(cells[r * N_COLS + c]);
        }
        for (size_t r = 0; r <= n_rows; r++)
                for (size_t c = 0; c < N_COLS; c++) {
                        const char *s = r == 0 ? headers[c] : cells[(r - 1) * N_COLS + c];
                        /* numbers right-aligned, text left-aligned, no trailing blanks */
                        bool right = c == COL_HANDLE || c == COL_ID;
                        if (c + 1 == N_COLS)
                                fprintf(f, "%s\n", s ? s : "?");
                        else
                                fprintf(f, right ? "%*s  " : "%-*s  ", (int) width[c], s ? s : "?");
                }
}

void print_handle_table(FILE *f, struct fexit_handle *const *handles, size_t n) {
        char **cells = calloc(n * N_COLS + 1, sizeof(char *));

        if (!cells)
                return;
        for (size_t r = 0; r < n; r++)
                row_fill(cells + r * N_COLS, handles[r]);
        table_print(f, cells, n);
        for (size_t i = 0; i < n * N_COLS; i++)
                free(cells[i]);
        free(cells);
}

static void print_opt_int(FILE *f, const char *label, int64_t v) {
        if (v != FEXIT_ABSENT)
                fprintf(f, "%-14s%" PRId64 "\n", label, v);
}

static void print_target(FILE *f, const struct fexit_target *t) {
        fprintf(f, "%-14s%s", "Target:", t->function);
        if (t->btf_object)
                fprintf(f, " in %s", t->btf_object);
        if (t->target_prog_id > 0)
                fprintf(f, " of BPF program %" PRId64, t->target_prog_id);
        if (t->btf_id != FEXIT_ABSENT)
                fprintf(f, " (BTF id %" PRId64 ")", t->btf_id);
        fputc('\n', f);
}

void print_handle(FILE *f, const struct fexit_handle *h) {
        _cleanup_free_ char *owner = user_text(h->owner_uid);

        fprintf(f, "%-14s%" PRId64 "\n", "Handle:", h->handle);
        fprintf(f, "%-14s%s\n", "Kind:", or_dash(fexit_kind_name(h->kind)));
        fprintf(f, "%-14s%" PRId64 "\n", "Kernel ID:", h->kernel_id);
        fprintf(f, "%-14s%s\n", "Name:", h->name);
        if (h->target)
                print_target(f, h->target);
        if (h->mode && h->function_count == FEXIT_ABSENT)   /* lost with its state record */
                fprintf(f, "%-14s%s, functions unknown\n", "Mode:", h->mode);
        else if (h->mode)
                fprintf(f, "%-14s%s, %" PRId64 " functions\n", "Mode:", h->mode, h->function_count);
        for (size_t i = 0; i < h->n_functions; i++)
                fprintf(f, "%-14s%s\n", i == 0 ? "Functions:" : "", h->functions[i]);
        print_opt_int(f, "Program:", h->program);
        fprintf(f, "%-14s%s\n", "Lifetime:", or_dash(fexit_lifetime_name(h->lifetime)));
        fprintf(f, "%-14s%s\n", "State:", h->state_name);
        fprintf(f, "%-14s%s (uid %" PRId64 ", pid %" PRId64 ")\n", "Owner:", owner ? owner : "?",
                h->owner_uid, h->owner_pid);
        if (h->holder_uid != FEXIT_ABSENT) {
                _cleanup_free_ char *holder = user_text(h->holder_uid);
                fprintf(f, "%-14s%s (uid %" PRId64 ", pid %" PRId64 ")%s%s\n", "Holder:",
                        holder ? holder : "?", h->holder_uid, h->holder_pid,
                        h->holder_state ? ", " : "", h->holder_state ? h->holder_state : "");
        }
        fprintf(f, "%-14s%.1f s\n", "Age:", h->age_sec);
        print_opt_int(f, "Runs:", h->run_count);
        print_opt_int(f, "Run time ns:", h->run_time_ns);
        if (h->map_type)
                fprintf(f, "%-14s%s\n", "Map type:", h->map_type);
        print_opt_int(f, "Key size:", h->key_size);
        print_opt_int(f, "Value size:", h->value_size);
        print_opt_int(f, "Max entries:", h->max_entries);
        if (h->map_flags != FEXIT_ABSENT)
                fprintf(f, "%-14s0x%" PRIx64 "\n", "Map flags:", h->map_flags);
        for (size_t i = 0; i < h->n_grants; i++)
                fprintf(f, "%-14s%s\n", i == 0 ? "Grants:" : "", h->grants[i]);
}

void print_load_result(FILE *f, const struct fexit_load_result *r) {
        size_t n = r->n_programs + r->n_links + r->n_maps, k = 0;
        struct fexit_handle **all = calloc(n + 1, sizeof(*all));

        if (!all)
                return;
        for (size_t i = 0; i < r->n_programs; i++)
                all[k++] = r->programs[i];
        for (size_t i = 0; i < r->n_links; i++)
                all[k++] = r->links[i];
        for (size_t i = 0; i < r->n_maps; i++)
                all[k++] = r->maps[i];
        print_handle_table(f, all, n);
        free(all);
        for (size_t i = 0; i < r->n_skipped; i++)
                fprintf(f, "skipped %s: %s\n", r->skipped[i]->function, r->skipped[i]->reason);
        if (r->mode_reason)
                fprintf(f, "mode %s: %s\n", or_dash(r->mode), r->mode_reason);
}

static void print_features(FILE *f, const struct fexit_features *k) {
        if (!k) {
                fprintf(f, "%-14s%s\n", "Kernel:", "not probed yet");
                return;
        }
        if (!k->fexit) {
                fprintf(f, "%-14sfexit refused (%s)\n", "Kernel:", k->fexit_errno ? k->fexit_errno : "?");
                return;
        }
        fprintf(f, "%-14sfexit yes, sleepable fexit.s %s, arguments up to %" PRId64 ", module BTF %s\n",
                "Kernel:", k->sleepable_fexit ? "yes" : "no", k->max_fexit_args,
                k->module_btf ? "yes" : "no");
        fprintf(f, "%-14s%s\n", "Multi-link:", k->tracing_multi ?
                "yes (one program and one link for many functions)" : "no (one program per function)");
}

void print_status(FILE *f, const struct fexit_status *s) {
        _cleanup_free_ char *user = user_text(s->caller_uid);
        int64_t up = (int64_t) s->uptime_sec;

        fprintf(f, "%-14s%s\n", "Version:", s->version);
        fprintf(f, "%-14s%" PRId64 "d %02" PRId64 ":%02" PRId64 ":%02" PRId64 "\n", "Uptime:",
                up / 86400, up / 3600 % 24, up / 60 % 60, up % 60);
        fprintf(f, "%-14s%" PRId64 "\n", "Programs:", s->programs);
        fprintf(f, "%-14s%" PRId64 "\n", "Links:", s->links);
        fprintf(f, "%-14s%" PRId64 "\n", "Maps:", s->maps);
        fprintf(f, "%-14s%" PRId64 "\n", "Connections:", s->connections);
        fprintf(f, "%-14s%s\n", "Persistence:", s->persistence ? "yes" : "no (persistent handles die with fexitd)");
        print_features(f, s->features);
        fprintf(f, "%-14s%s (uid %" PRId64 "), %s\n", "You:", user ? user : "?", s->caller_uid,
                s->caller_role_name);
}

void print_service_info(FILE *f, const struct fexit_service_info *i) {
        fprintf(f, "%-14s%s\n", "Vendor:", i->vendor);
        fprintf(f, "%-14s%s\n", "Product:", i->product);
        fprintf(f, "%-14s%s\n", "Version:", i->version);
        fprintf(f, "%-14s%s\n", "URL:", i->url);
        for (size_t k = 0; k < i->n_interfaces; k++)
                fprintf(f, "%-14s%s\n", k == 0 ? "Interfaces:" : "", i->interfaces[k]);
}

static void print_log(FILE *f, const char *title, const char *log) {
        size_t len = log ? strlen(log) : 0;

        if (len == 0)
                return;
        fprintf(f, "%s:\n%s%s", title, log, log[len - 1] == '\n' ? "" : "\n");
}

void print_error_details(FILE *f, const char *error_name, const char *parameters_json) {
        json_object *p = NULL, *suggestions;

        if (!error_name || !parameters_json || vl_json_parse(parameters_json, &p) < 0)
                return;
        suggestions = json_object_object_get(p, "suggestions");
        if (json_object_is_type(suggestions, json_type_array) && json_object_array_length(suggestions) > 0) {
                fputs("fexitctl: did you mean: ", f);
                for (size_t i = 0; i < json_object_array_length(suggestions); i++)
                        fprintf(f, "%s%s", i ? ", " : "",
                                json_object_get_string(json_object_array_get_idx(suggestions, i)));
                fputs("?\n", f);
        }
        print_log(f, strcmp(error_name, "io.fexitd.VerifierRejected") == 0 ? "verifier log" : "log",
                  vl_get_str(p, "log"));
        vl_put(p);
}
