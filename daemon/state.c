/* SPDX-License-Identifier: MIT */

/*
 * What survives a restart: every persistent program, link and map is pinned in the daemon's own
 * bpffs directory as KIND-HANDLE, and its metadata (handle, names, target, owner, grants) is kept
 * in STATE_DIR/state.json, written atomically. At start both are read back and must agree: a pin
 * without a record, a record without a pin, a pin whose kernel id changed, or records from an
 * earlier boot are reported and cleaned up without touching what is valid.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/bpf-backend.h"
#include "daemon/log.h"
#include "daemon/methods.h"

#define STATE_VERSION 1
static const char *const pin_prefix[] = { "prog", "link", "map" };

static void pin_path(struct server *s, const struct handle *h, char *buf, size_t size) {
        snprintf(buf, size, "%s/%s-%" PRIu64, s->cfg.pin_dir, pin_prefix[h->kind], h->id);
}

int state_pin(struct server *s, const struct handle *h) {
        char path[4096];
        int r;

        if (!s->persist || h->fd < 0)
                return 0;
        pin_path(s, h, path, sizeof(path));
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
        pin_path(s, h, path, sizeof(path));
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

/* A multi-link handle's functions: [{"function": NAME, "btf_id": ID}, ...] */
static json_object *functions_to_json(const struct handle *h) {
        json_object *a = json_object_new_array_ext((int) h->n_functions);

        for (size_t i = 0; i < h->n_functions; i++) {
                json_object *e = vl_obj();
                vl_add_str(e, "function", h->functions[i]);
                vl_add_int(e, "btf_id", h->btf_ids[i]);
                json_object_array_add(a, e);
        }
        return a;
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
        return n ? handle_set_functions(h, (char *const *) names, ids, n) : -EBADMSG;
}

static json_object *record_to_json(const struct handle *h) {
        json_object *o = vl_obj(), *g = json_object_new_array();
        char buf[64];

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
        vl_add_int(o, "created_usec", (int64_t) h->created_usec);
        for (size_t i = 0; i < h->n_grants; i++)
                json_object_array_add(g, json_object_new_string(grant_format(&h->grants[i], buf, sizeof(buf))));
        vl_add(o, "grants", g);
        if (h->multi)
                vl_add(o, "functions", functions_to_json(h));
        return o;
}

static int write_atomic(const char *dir, const char *name, const char *text) {
        char tmp[4096], path[4096];
        _cleanup_close_ int fd = -EBADF;
        size_t len = strlen(text);

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
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
        if (fsync(fd) < 0 || rename(tmp, path) < 0) {
                int r = -errno;
                (void) unlink(tmp);
                return r;
        }
        return 0;
}

int state_save(struct server *s) {
        json_object *o = vl_obj(), *list = json_object_new_array();
        char boot_id[64] = "";
        struct handle *h;
        int r;

        (void) read_boot_id(boot_id);
        vl_add_int(o, "version", STATE_VERSION);
        vl_add_str(o, "boot_id", boot_id);
        vl_add_int(o, "next_handle", (int64_t) s->handles.next_id);
        HANDLE_TABLE_FOREACH(&s->handles, h, i)
                if (h->lifetime == LIFETIME_PERSISTENT)
                        json_object_array_add(list, record_to_json(h));
        vl_add(o, "handles", list);
        r = write_atomic(s->cfg.state_dir, "state.json",
                         json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        if (r < 0)
                log_error("Cannot write %s/state.json: %s", s->cfg.state_dir, strerror(-r));
        return r;
}

static int parse_kind(const char *s) {
        for (int k = 0; k < _HANDLE_KIND_MAX; k++)
                if (s && strcmp(s, handle_kind_to_string(k)) == 0)
                        return k;
        return -EINVAL;
}

static char *dup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

static struct handle *record_from_json(json_object *o) {
        int kind = parse_kind(vl_get_str(o, "kind"));
        const char *state = vl_get_str(o, "state");
        struct handle *h;
        json_object *g;

        if (kind < 0 || vl_get_int(o, "handle", 0) <= 0)
                return NULL;
        h = handle_new(kind, vl_get_str(o, "name"));
        if (!h)
                return NULL;
        h->id = (uint64_t) vl_get_int(o, "handle", 0);
        h->lifetime = LIFETIME_PERSISTENT;
        h->state = state && strcmp(state, "handed-off") == 0 ? HSTATE_HANDED_OFF :
                   state && strcmp(state, "attached") == 0 ? HSTATE_ATTACHED : HSTATE_LOADED;
        h->kernel_id = (uint32_t) vl_get_int(o, "kernel_id", 0);
        h->function = dup_or_null(vl_get_str(o, "function"));
        h->btf_object = dup_or_null(vl_get_str(o, "btf_object"));
        h->source = dup_or_null(vl_get_str(o, "source"));
        h->btf_id = (uint32_t) vl_get_int(o, "btf_id", 0);
        h->target_prog_id = (uint32_t) vl_get_int(o, "target_prog_id", 0);
        h->program = (uint64_t) vl_get_int(o, "program", 0);
        h->group = (uint64_t) vl_get_int(o, "group", 0);
        h->map_type = (uint32_t) vl_get_int(o, "map_type", 0);
        h->key_size = (uint32_t) vl_get_int(o, "key_size", 0);
        h->value_size = (uint32_t) vl_get_int(o, "value_size", 0);
        h->max_entries = (uint32_t) vl_get_int(o, "max_entries", 0);
        h->map_flags = (uint32_t) vl_get_int(o, "map_flags", 0);
        h->frozen = vl_get_bool(o, "frozen", false);
        h->owner_uid = (uid_t) vl_get_int(o, "owner_uid", 0);
        h->owner_pid = (pid_t) vl_get_int(o, "owner_pid", 0);
        h->holder_uid = (uid_t) vl_get_int(o, "holder_uid", 0);
        h->holder_pid = (pid_t) vl_get_int(o, "holder_pid", 0);
        h->created_usec = (uint64_t) vl_get_int(o, "created_usec", 0);
        g = json_object_object_get(o, "grants");
        for (size_t i = 0; g && json_object_is_type(g, json_type_array) &&
                           i < json_object_array_length(g) && h->n_grants < GRANTS_MAX; i++) {
                const char *str = json_object_get_string(json_object_array_get_idx(g, i));
                if (str && grant_parse(str, &h->grants[h->n_grants]) >= 0)
                        h->n_grants++;
        }
        g = json_object_object_get(o, "functions");
        if (g && (!json_object_is_type(g, json_type_array) || functions_from_json(h, g) < 0))
                return handle_free(h);   /* a multi-link record without its functions is no use */
        return h;
}

/* Opens the pin of a record and checks it is still the same kernel object. */
static int record_reopen(struct server *s, struct handle *h) {
        char path[4096];
        struct bb_info info = {};
        int fd, r;

        pin_path(s, h, path, sizeof(path));
        fd = bb_obj_get(path, false);
        if (fd < 0)
                return fd;
        r = h->kind == HANDLE_PROGRAM ? bb_prog_info(fd, &info) :
            h->kind == HANDLE_LINK ? bb_link_info(fd, &info) : bb_map_info(fd, &info);
        if (r < 0 || info.id != h->kernel_id) {
                safe_close(fd);
                return r < 0 ? r : -ESTALE;
        }
        h->fd = fd;
        return 0;
}

/* 1: one of our pins with a live record; 0: one of our names without one (KIND-N, or a temporary
 * read-only pin left by a crash); -1: not ours (bpffs has files of its own, like maps.debug). */
static int pin_is_known(struct server *s, const char *name) {
        if (strncmp(name, "fexitd-ro-", 10) == 0)
                return 0;
        for (size_t k = 0; k < _HANDLE_KIND_MAX; k++) {
                size_t len = strlen(pin_prefix[k]);
                char *end;
                uint64_t id;

                if (strncmp(name, pin_prefix[k], len) != 0 || name[len] != '-')
                        continue;
                id = strtoull(name + len + 1, &end, 10);
                if (*end)
                        return -1;
                struct handle *h = handle_table_get(&s->handles, id);
                return h && h->kind == (enum handle_kind) k && h->fd >= 0;
        }
        return -1;
}

/* Pins nobody has a record for are removed: they would keep programs attached forever. */
static void remove_stray_pins(struct server *s) {
        DIR *d = opendir(s->cfg.pin_dir);
        struct dirent *de;
        char path[4096];

        if (!d)
                return;
        while ((de = readdir(d)))
                if (pin_is_known(s, de->d_name) == 0) {
                        snprintf(path, sizeof(path), "%s/%s", s->cfg.pin_dir, de->d_name);
                        log_warning("Removing pin %s: no state record matches it", path);
                        (void) unlink(path);
                }
        closedir(d);
}

static int read_state(struct server *s, json_object **ret) {
        char path[4096];
        json_object *o;

        snprintf(path, sizeof(path), "%s/state.json", s->cfg.state_dir);
        o = json_object_from_file(path);
        if (!o)
                return access(path, F_OK) < 0 ? -ENOENT : -EBADMSG;
        if (!json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return -EBADMSG;
        }
        *ret = o;
        return 0;
}

static void adopt_records(struct server *s, json_object *list, bool same_boot) {
        if (list && !json_object_is_type(list, json_type_array)) {
                log_error("%s/state.json: \"handles\" is not an array; no record re-adopted.", s->cfg.state_dir);
                return;
        }
        for (size_t i = 0; list && i < json_object_array_length(list); i++) {
                struct handle *h = record_from_json(json_object_array_get_idx(list, i));
                int r = h ? 0 : -EBADMSG;

                if (h && !same_boot)
                        r = -ESTALE;
                else if (h && h->state != HSTATE_HANDED_OFF)
                        r = record_reopen(s, h);
                if (r >= 0)
                        r = handle_table_adopt(&s->handles, h);
                if (r < 0) {
                        log_full(LOG_WARNING, &(struct log_ctx) { .handle = h ? h->id : 0,
                                                                  .kernel_id = h ? h->kernel_id : 0 },
                                 "Dropping state record of %s handle %" PRIu64 ": %s",
                                 h ? handle_kind_to_string(h->kind) : "a malformed", h ? h->id : 0,
                                 r == -ESTALE ? "its kernel object is gone (reboot or replaced)" :
                                 r == -ENOENT ? "its pin is missing" : strerror(-r));
                        if (h)
                                safe_close(h->fd);
                        handle_free(h);
                        continue;
                }
                log_full(LOG_INFO, &(struct log_ctx) { .handle = h->id, .kernel_id = h->kernel_id,
                                                       .function = h->function },
                         "Re-adopted %s handle %" PRIu64 " (kernel id %u)",
                         handle_kind_to_string(h->kind), h->id, h->kernel_id);
        }
}

int state_restore(struct server *s) {
        json_object *o = NULL;
        char boot_id[64] = "";
        const char *saved_boot;
        int64_t next;
        int r;

        r = read_state(s, &o);
        if (r == -EBADMSG)
                log_error("%s/state.json is unreadable; starting empty and removing stray pins.",
                          s->cfg.state_dir);
        if (o) {
                (void) read_boot_id(boot_id);
                saved_boot = vl_get_str(o, "boot_id");
                if (saved_boot && strcmp(saved_boot, boot_id) != 0)
                        log_notice("State is from an earlier boot: its programs are gone with that kernel.");
                if (s->persist)
                        adopt_records(s, json_object_object_get(o, "handles"),
                                      saved_boot && strcmp(saved_boot, boot_id) == 0);
                /* handles are never reused, whatever happened to the objects */
                next = vl_get_int(o, "next_handle", 1);
                if (next > 0 && (uint64_t) next > s->handles.next_id)
                        s->handles.next_id = (uint64_t) next;
                json_object_put(o);
        }
        if (s->persist)
                remove_stray_pins(s);
        return state_save(s);
}
