/* SPDX-License-Identifier: MIT */

/*
 * What survives a restart: every persistent program, link and map is pinned in the daemon's own
 * bpffs directory as KIND-HANDLE, and its metadata (handle, names, target, owner, grants) is kept
 * in STATE_DIR/state.json, written atomically, with the previous version kept as state.json.old.
 * At start the records are read back (from state.json.old when state.json is missing or
 * damaged), every field checked, and reconciled with the pins (state-rebuild.c): a damaged or
 * lost state file never costs a running object, because the pins and the kernel describe them.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/bpf-backend.h"
#include "daemon/log.h"
#include "daemon/state.h"

#define STATE_VERSION 1
#define STATE_SIZE_MAX (512u << 20)   /* far above 65,536 handles; beyond is damage */

static const char *const pin_prefix[] = { "prog", "link", "map" };
static const char *const state_files[] = { "state.json", "state.json.old" };

void state_pin_path(const struct server *s, enum handle_kind kind, uint64_t id, char *buf, size_t size) {
        snprintf(buf, size, "%s/%s-%" PRIu64, s->cfg.pin_dir, pin_prefix[kind], id);
}

int state_pin_name_parse(const char *name, enum handle_kind *ret_kind, uint64_t *ret_id) {
        for (size_t k = 0; k < _HANDLE_KIND_MAX; k++) {
                size_t len = strlen(pin_prefix[k]);
                const char *p = name + len + 1;
                uint64_t id = 0;

                if (strncmp(name, pin_prefix[k], len) != 0 || name[len] != '-')
                        continue;
                if (*p < '1' || *p > '9' || strlen(p) > 16)
                        return -EINVAL;
                for (; *p; p++) {
                        if (*p < '0' || *p > '9')
                                return -EINVAL;
                        id = id * 10 + (uint64_t) (*p - '0');
                }
                if (id > STATE_HANDLE_MAX)
                        return -ERANGE;
                *ret_kind = (enum handle_kind) k;
                *ret_id = id;
                return 0;
        }
        return -EINVAL;
}

int state_pin(struct server *s, const struct handle *h) {
        char path[4096];
        int r;

        if (!s->persist || h->fd < 0)
                return 0;
        state_pin_path(s, h->kind, h->id, path, sizeof(path));
        r = bb_pin(h->fd, path);
        if (r == -EEXIST) {   /* a leftover from a crash between unpin and save */
                (void) unlink(path);
                r = bb_pin(h->fd, path);
        }
        if (r < 0)
                log_full(LOG_ERR, &(struct log_ctx) { .handle = h->id, .kernel_id = h->kernel_id },
                         "Cannot pin handle %" PRIu64 " at %s, it will not survive a restart: %s",
                         h->id, path, strerror(-r));
        return r;
}

void state_unpin(struct server *s, const struct handle *h) {
        char path[4096];

        if (!s->persist)
                return;
        state_pin_path(s, h->kind, h->id, path, sizeof(path));
        if (unlink(path) < 0 && errno != ENOENT)
                log_warning("Cannot remove pin %s: %m", path);
}

static int read_boot_id(char buf[static 64]) {
        FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
        int r = 0;

        if (!f)
                return -errno;
        if (!fgets(buf, 64, f))
                r = -EIO;
        fclose(f);
        buf[strcspn(buf, "\n")] = 0;
        return r;
}

static int functions_from_json(struct handle *h, json_object *a) {
        size_t n = json_object_array_length(a);
        _cleanup_free_ const char **names = calloc(n ? n : 1, sizeof(char *));
        _cleanup_free_ uint32_t *ids = calloc(n ? n : 1, sizeof(uint32_t));

        if (!names || !ids)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(a, i);
                int64_t id = vl_get_int(e, "btf_id", 0);

                names[i] = vl_get_str(e, "function");
                if (!names[i] || id <= 0 || id > UINT32_MAX)
                        return -EBADMSG;
                ids[i] = (uint32_t) id;
        }
        /* none: a multi program whose functions were lost with its record (state-rebuild.c) */
        return handle_set_functions(h, (char *const *) names, ids, n);
}

static json_object *record_to_json(const struct handle *h) {
        json_object *o = vl_obj();

        vl_add_int(o, "handle", (int64_t) h->id);
        vl_add_str(o, "kind", handle_kind_to_string(h->kind));
        vl_add_str(o, "state", handle_state_to_string(h->state));
        vl_add_int(o, "kernel_id", h->kernel_id);
        vl_add_str(o, "name", h->name);
        vl_add_str(o, "function", h->function);
        vl_add_str(o, "btf_object", h->btf_object);
        vl_add_int(o, "btf_id", h->btf_id);
        vl_add_int(o, "target_prog_id", h->target_prog_id);
        vl_add_int(o, "program", (int64_t) h->program);
        vl_add_int(o, "group", (int64_t) h->group);
        vl_add_str(o, "source", h->source);
        vl_add_int(o, "map_type", h->map_type);
        vl_add_int(o, "key_size", h->key_size);
        vl_add_int(o, "value_size", h->value_size);
        vl_add_int(o, "max_entries", h->max_entries);
        vl_add_int(o, "map_flags", h->map_flags);
        vl_add_bool(o, "frozen", h->frozen);
        vl_add_int(o, "owner_uid", h->owner_uid);
        vl_add_int(o, "owner_pid", h->owner_pid);
        vl_add_int(o, "holder_uid", h->holder_uid);
        vl_add_int(o, "holder_pid", h->holder_pid);
        if (h->holder_start)
                vl_add_int(o, "holder_start", (int64_t) h->holder_start);
        vl_add_int(o, "created_usec", (int64_t) h->created_usec);
        vl_add_str(o, "recovery", h->recovery);
        vl_add(o, "grants", handle_grants_to_json(h));
        if (h->multi)
                vl_add(o, "functions", handle_functions_to_json(h));
        return o;
}

static int fsync_dir(const char *dir) {
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        return fd < 0 || fsync(fd) < 0 ? -errno : 0;
}

/* The current file becomes name.old (through a hard link renamed over the old one, so that some
 * complete version is always there): the fallback when name is found damaged. */
static void keep_previous(const char *dir, const char *name) {
        char path[4096], tmp[4096], old[4096];
        struct stat st;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        snprintf(tmp, sizeof(tmp), "%s/.%s.old.tmp", dir, name);
        snprintf(old, sizeof(old), "%s/%s.old", dir, name);
        if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
                return;
        (void) unlink(tmp);
        if (link(path, tmp) < 0 || rename(tmp, old) < 0) {
                log_warning("Cannot keep %s as %s: %m", path, old);
                (void) unlink(tmp);
        }
}

static int write_atomic(const char *dir, const char *name, const char *text) {
        char tmp[4096], path[4096];
        _cleanup_close_ int fd = -EBADF;
        size_t len = strlen(text);

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        for (size_t off = 0; off < len;) {
                ssize_t n = write(fd, text + off, len - off);
                if (n < 0) {
                        (void) unlink(tmp);
                        return -errno;
                }
                off += (size_t) n;
        }
        if (fsync(fd) < 0) {
                int r = -errno;
                (void) unlink(tmp);
                return r;
        }
        keep_previous(dir, name);
        if (rename(tmp, path) < 0) {
                int r = -errno;
                (void) unlink(tmp);
                return r;
        }
        /* the rename itself is durable only once the directory is */
        return fsync_dir(dir);
}

char *state_snapshot(struct server *s) {
        json_object *o = vl_obj(), *list = vl_array();
        char boot_id[64] = "";
        struct handle *h;
        const char *text;
        char *copy;

        (void) read_boot_id(boot_id);
        vl_add_int(o, "version", STATE_VERSION);
        vl_add_str(o, "boot_id", boot_id);
        vl_add_int(o, "next_handle", (int64_t) s->handles.next_id);
        HANDLE_TABLE_FOREACH(&s->handles, h, i)
                if (h->lifetime == LIFETIME_PERSISTENT)
                        vl_append(list, record_to_json(h));
        vl_add(o, "handles", list);
        /* never write a file that lacks records: keep the last one */
        text = vl_broken(o) ? NULL :
               json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        copy = text ? strdup(text) : NULL;
        vl_put(o);
        if (!copy)
                log_error("Cannot write %s/state.json: %s", s->cfg.state_dir, strerror(ENOMEM));
        return copy;
}

int state_write_file(const char *dir, const char *text) {
        int r = write_atomic(dir, "state.json", text);

        if (r < 0)
                log_error("Cannot write %s/state.json: %s", dir, strerror(-r));
        return r;
}

static int parse_kind(const char *s) {
        for (int k = 0; k < _HANDLE_KIND_MAX; k++)
                if (s && strcmp(s, handle_kind_to_string(k)) == 0)
                        return k;
        return -EINVAL;
}

static int parse_state(const char *s) {
        for (int k = 0; k < _HSTATE_MAX; k++)
                if (s && strcmp(s, handle_state_to_string(k)) == 0)
                        return k;
        return -EINVAL;
}

/* A number field of a record within [0, max]; anything else (missing, mistyped, out of range)
 * reads as 0, which every user of these fields takes as "unknown". */
static uint64_t get_num(json_object *o, const char *key, uint64_t max) {
        int64_t v = vl_get_int(o, key, 0);

        return v > 0 && (uint64_t) v <= max ? (uint64_t) v : 0;
}

/* A handle rebuilt from its pin stays marked so: its owner and grants were never known. */
static const char *parse_recovery(const char *s) {
        return !s ? NULL : strcmp(s, "incomplete") == 0 ? "incomplete" : "rebuilt";
}

static char *dup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

static void record_grants(json_object *o, struct handle *h) {
        json_object *g = json_object_object_get(o, "grants");

        for (size_t i = 0; g && json_object_is_type(g, json_type_array) &&
                           i < json_object_array_length(g) && h->n_grants < GRANTS_MAX; i++) {
                const char *str = json_object_get_string(json_object_array_get_idx(g, i));
                if (str && grant_parse(str, &h->grants[h->n_grants]) >= 0)
                        h->n_grants++;
        }
}

/* Checks what can be checked without the kernel; the kernel object behind the record is checked
 * by state_rebuild(). On failure *ret_reason says why. */
static struct handle *record_from_json(json_object *o, const char **ret_reason) {
        uint64_t id = get_num(o, "handle", STATE_HANDLE_MAX);
        int kind = parse_kind(vl_get_str(o, "kind")), state = parse_state(vl_get_str(o, "state"));
        struct handle *h;
        json_object *g;

        *ret_reason = !json_object_is_type(o, json_type_object) ? "not an object" :
                      id == 0 ? "no valid handle number (1 to 2^53)" :
                      kind < 0 ? "no valid kind" :
                      state < 0 ? "no valid state" :
                      state == HSTATE_HANDED_OFF && kind != HANDLE_LINK ? "only a link can be handed off" :
                      get_num(o, "kernel_id", UINT32_MAX) == 0 ? "no valid kernel id" : NULL;
        if (*ret_reason)
                return NULL;
        h = handle_new(kind, vl_get_str(o, "name"));
        if (!h) {
                *ret_reason = "out of memory";
                return NULL;
        }
        h->id = id;
        h->lifetime = LIFETIME_PERSISTENT;
        h->state = state;
        h->kernel_id = (uint32_t) get_num(o, "kernel_id", UINT32_MAX);
        h->function = dup_or_null(vl_get_str(o, "function"));
        h->btf_object = dup_or_null(vl_get_str(o, "btf_object"));
        h->source = dup_or_null(vl_get_str(o, "source"));
        h->btf_id = (uint32_t) get_num(o, "btf_id", UINT32_MAX);
        h->target_prog_id = (uint32_t) get_num(o, "target_prog_id", UINT32_MAX);
        /* 0 is "unknown": state_rebuild() derives both from the kernel then */
        h->program = get_num(o, "program", STATE_HANDLE_MAX);
        h->group = get_num(o, "group", STATE_HANDLE_MAX);
        h->frozen = vl_get_bool(o, "frozen", false);
        /* an unknown owner is root: only admins may act on it */
        h->owner_uid = (uid_t) get_num(o, "owner_uid", UINT32_MAX - 1);
        h->owner_pid = (pid_t) get_num(o, "owner_pid", INT32_MAX);
        h->holder_uid = (uid_t) get_num(o, "holder_uid", UINT32_MAX - 1);
        h->holder_pid = (pid_t) get_num(o, "holder_pid", INT32_MAX);
        h->holder_start = get_num(o, "holder_start", INT64_MAX);
        h->created_usec = get_num(o, "created_usec", INT64_MAX);
        h->recovery = parse_recovery(vl_get_str(o, "recovery"));
        record_grants(o, h);
        g = json_object_object_get(o, "functions");
        if (g && (!json_object_is_type(g, json_type_array) || functions_from_json(h, g) < 0)) {
                *ret_reason = "a multi-link record without its functions (function, btf_id)";
                return handle_free(h);
        }
        return h;
}

/* Reads a state file without following a symlink; a directory, a special file, a stray NUL,
 * trailing garbage or anything but a JSON object is -EBADMSG (or the open's errno). */
static int read_file(const char *path, json_object **ret) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        _cleanup_free_ char *buf = NULL;
        json_tokener *tok;
        json_object *o;
        struct stat st;
        size_t len = 0;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_size > STATE_SIZE_MAX)
                return S_ISDIR(st.st_mode) ? -EISDIR : !S_ISREG(st.st_mode) ? -EBADFD : -EFBIG;
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (len < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + len, (size_t) st.st_size - len);
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        if (memchr(buf, 0, len))
                return -EBADMSG;
        buf[len] = 0;   /* the strspn() below reads up to here */
        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, buf, (int) len);
        if (o && strspn(buf + tok->char_offset, " \t\r\n") != len - (size_t) tok->char_offset)
                o = (vl_put(o), NULL);
        json_tokener_free(tok);
        if (!o || !json_object_is_type(o, json_type_object)) {
                vl_put(o);
                return -EBADMSG;
        }
        *ret = o;
        return 0;
}

/* A damaged state.json is moved aside, never overwritten: it is evidence, and a directory in
 * its place would make every later save fail. */
static void move_aside(struct server *s, const char *path) {
        char aside[4200];

        snprintf(aside, sizeof(aside), "%s.damaged-%" PRIu64, path, now_usec(CLOCK_REALTIME));
        if (rename(path, aside) < 0)
                log_error("Cannot move the damaged %s aside: %m", path);
        else
                log_notice("Kept the damaged state file as %s.", aside);
}

/* state.json, else state.json.old. Returns which one was read, or -ENOENT if neither. */
static int read_state(struct server *s, json_object **ret) {
        char path[4096];
        int r;

        for (size_t i = 0; i < ELEMENTSOF(state_files); i++) {
                snprintf(path, sizeof(path), "%s/%s", s->cfg.state_dir, state_files[i]);
                r = read_file(path, ret);
                if (r >= 0)
                        return (int) i;
                if (r == -ENOENT) {
                        log_full(i == 0 ? LOG_NOTICE : LOG_INFO, NULL, "%s does not exist.", path);
                        continue;
                }
                log_error("%s is unreadable (%s); %s", path,
                          r == -EBADMSG ? "not a complete JSON object" : r == -ELOOP ? "a symlink" : strerror(-r),
                          i == 0 ? "trying the previous state file; pins are kept either way." :
                                   "rebuilding from the pins alone.");
                if (i == 0)
                        move_aside(s, path);
        }
        return -ENOENT;
}

/* Parses and checks every record; the good ones go into records, not yet adopted. */
static void parse_records(struct server *s, json_object *list, struct handle_table *records) {
        struct log_limit dropped = {};

        if (list && !json_object_is_type(list, json_type_array)) {
                log_error("%s/state.json: \"handles\" is not an array; rebuilding from the pins alone.",
                          s->cfg.state_dir);
                return;
        }
        for (size_t i = 0; list && i < json_object_array_length(list); i++) {
                const char *reason;
                struct handle *h = record_from_json(json_object_array_get_idx(list, i), &reason);

                if (h && handle_table_adopt(records, h) < 0) {
                        reason = "its handle number appears twice";
                        h = handle_free(h);
                }
                if (!h)
                        log_limited(&dropped, LOG_WARNING, NULL, "Ignoring state record %zu: %s.", i, reason);
        }
        log_limit_summary(&dropped, "malformed state records");
}

int state_restore(struct server *s) {
        struct handle_table records;
        json_object *o = NULL;
        char boot_id[64] = "";
        const char *saved_boot;
        bool same_boot = false;
        uint64_t next = 0;
        int r = 0;

        handle_table_init(&records);
        if (read_state(s, &o) >= 0) {
                (void) read_boot_id(boot_id);
                saved_boot = vl_get_str(o, "boot_id");
                same_boot = saved_boot && *boot_id && strcmp(saved_boot, boot_id) == 0;
                parse_records(s, json_object_object_get(o, "handles"), &records);
                next = get_num(o, "next_handle", STATE_HANDLE_MAX + 1);
                vl_put(o);
        }
        if (s->persist)
                /* only handed-off links depend on the boot: pins vanish with the kernel anyway */
                r = state_rebuild(s, &records, same_boot);
        handle_table_done(&records);
        /* handles are never reused, whatever happened to the objects */
        if (next > s->handles.next_id)
                s->handles.next_id = next;
        /* parsing a large state file costs hundreds of megabytes, all freed by now */
        (void) malloc_trim(0);
        /* without the pins, the records that could not be checked are better left as they are */
        return r < 0 ? r : state_save(s);
}
