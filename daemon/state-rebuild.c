/* SPDX-License-Identifier: MIT */

/*
 * Reconciles the state records with the pins at start. The pins (KIND-HANDLE in the daemon's
 * bpffs folder) are what keeps objects alive, and the kernel can describe each of them, so a
 * missing, damaged or wrong record never costs an object: the record is checked against the
 * kernel object behind its pin, and a pin without a usable record is rebuilt from the kernel's
 * info (kernel id, name, target, the program of a link, the programs using a map) and marked
 * with a recovery status. No pin is removed here except the daemon's own temporary read-only
 * pins; a pin that cannot be adopted is left in place and reported.
 */

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/bpf-backend.h"
#include "daemon/log.h"
#include "daemon/state.h"

#define MAP_IDS_MAX 64

struct rebuild {
        struct server *s;
        struct handle_table *records;
        struct log_limit kept, dropped, rebuilt, fixed;
        unsigned n_readopted, n_rebuilt;
};

static int object_info(int fd, enum handle_kind kind, struct bb_info *ret) {
        return kind == HANDLE_PROGRAM ? bb_prog_info(fd, ret) :
               kind == HANDLE_LINK ? bb_link_info(fd, ret) : bb_map_info(fd, ret);
}

/* A handle for a pin nobody has a usable record of: what the kernel says, owned by root (only
 * admins may act on it) and granted to nobody. */
static struct handle *handle_from_kernel(enum handle_kind kind, uint64_t id, const struct bb_info *info) {
        struct handle *h = handle_new(kind, info->name[0] ? info->name : handle_kind_to_string(kind));

        if (!h)
                return NULL;
        h->id = id;
        h->lifetime = LIFETIME_PERSISTENT;
        h->state = kind == HANDLE_LINK ? HSTATE_ATTACHED : HSTATE_LOADED;
        h->created_usec = now_usec(CLOCK_REALTIME);
        h->recovery = "rebuilt";
        if (kind == HANDLE_PROGRAM && info->multi) {
                /* the kernel keeps a multi program's functions with its links only: a pinned
                 * link of it may tell them (check_multi_link()), else they stay unknown */
                h->multi = true;
                h->recovery = "incomplete";
        } else if (kind == HANDLE_PROGRAM &&
                   bb_btf_type_name(info->attach_btf_obj_id, info->attach_btf_id, &h->function, &h->btf_object) < 0)
                h->recovery = "incomplete";
        return h;
}

/* The kernel's facts win over whatever a record said. */
static void apply_kernel_facts(struct handle *h, int fd, const struct bb_info *info) {
        h->fd = fd;
        h->kernel_id = info->id;
        if (h->kind == HANDLE_PROGRAM)
                h->btf_id = info->attach_btf_id;
        if (h->kind == HANDLE_LINK)
                h->state = HSTATE_ATTACHED;   /* pinned, so the daemon holds it */
        if (h->kind == HANDLE_MAP) {
                h->map_type = info->type;
                h->key_size = info->key_size;
                h->value_size = info->value_size;
                h->max_entries = info->max_entries;
                h->map_flags = info->map_flags;
        }
}

static void keep_pin(struct rebuild *b, const char *path, const char *why) {
        log_limited(&b->kept, LOG_WARNING, NULL, "Leaving pin %s in place, not adopted: %s.", path, why);
}

/* Adopts one pin of ours; takes fd. */
static void adopt_pin(struct rebuild *b, const char *path, enum handle_kind kind, uint64_t id, int fd) {
        struct handle *rec = handle_table_remove(b->records, id), *h;
        struct bb_info info = {};
        int r = bb_obj_kind(fd);

        if (r != (int) kind || object_info(fd, kind, &info) < 0) {
                keep_pin(b, path, r < 0 ? "it is not a BPF object" : "it holds another kind of object");
                safe_close(fd);
                handle_free(rec);
                return;
        }
        if (rec && (rec->kind != kind || rec->kernel_id != info.id)) {
                log_limited(&b->fixed, LOG_WARNING, &(struct log_ctx) { .handle = id, .kernel_id = info.id },
                            "State record of handle %" PRIu64 " describes %s %u, its pin holds %s %u: "
                            "rebuilding it from the kernel.", id, handle_kind_to_string(rec->kind),
                            rec->kernel_id, handle_kind_to_string(kind), info.id);
                rec = handle_free(rec);
        }
        h = rec ? rec : handle_from_kernel(kind, id, &info);
        r = h ? handle_table_adopt(&b->s->handles, h) : -ENOMEM;
        if (r < 0) {
                keep_pin(b, path, r == -EEXIST ? "another pin has the same handle number" : strerror(-r));
                safe_close(fd);
                handle_free(h);
                return;
        }
        apply_kernel_facts(h, fd, &info);
        if (rec) {
                b->n_readopted++;
                /* one line per object, with the fields an operator filters the journal by */
                log_full(LOG_INFO, &(struct log_ctx) { .handle = h->id, .kernel_id = h->kernel_id,
                                                       .function = h->function },
                         "Re-adopted %s handle %" PRIu64 " (kernel id %u)",
                         handle_kind_to_string(h->kind), h->id, h->kernel_id);
        } else {
                b->n_rebuilt++;
                log_limited(&b->rebuilt, LOG_NOTICE, &(struct log_ctx) { .handle = id, .kernel_id = info.id },
                            "Rebuilt %s handle %" PRIu64 " (kernel id %u, \"%s\") from its pin: no state "
                            "record described it.", handle_kind_to_string(kind), id, info.id, h->name);
        }
}

static void scan_pin(struct rebuild *b, const char *name) {
        enum handle_kind kind;
        char path[4096];
        uint64_t id;
        int fd;

        snprintf(path, sizeof(path), "%s/%s", b->s->cfg.pin_dir, name);
        /* a read-only pin lives only between two calls of one job: any found here is left over */
        if (strncmp(name, "fexitd-ro-", 10) == 0) {
                log_info("Removing temporary pin %s left by a crash.", path);
                (void) unlink(path);
                return;
        }
        if (state_pin_name_parse(name, &kind, &id) < 0)
                return;   /* not ours: bpffs has files of its own, like maps.debug */
        fd = bb_obj_get(path, false);
        if (fd < 0) {
                keep_pin(b, path, strerror(-fd));
                return;
        }
        adopt_pin(b, path, kind, id, fd);
}

static int scan_pins(struct rebuild *b) {
        DIR *d = opendir(b->s->cfg.pin_dir);
        struct dirent *de;

        if (!d)
                return -errno;
        while ((de = readdir(d)))
                scan_pin(b, de->d_name);
        closedir(d);
        return 0;
}

/* Handles of one kind sorted by kernel id, to find the handle of a kernel object. */
struct by_kernel_id {
        struct handle **v;
        size_t n;
};

static int cmp_kernel_id(const void *a, const void *b) {
        uint32_t x = (*(struct handle *const *) a)->kernel_id, y = (*(struct handle *const *) b)->kernel_id;

        return x < y ? -1 : x > y;
}

static int by_kernel_id_build(struct server *s, enum handle_kind kind, struct by_kernel_id *ret) {
        struct handle *h;

        ret->n = 0;
        ret->v = calloc(s->handles.n + 1, sizeof(*ret->v));
        if (!ret->v)
                return -ENOMEM;
        HANDLE_TABLE_FOREACH(&s->handles, h, i)
                if (h->kind == kind && h->fd >= 0)
                        ret->v[ret->n++] = h;
        qsort(ret->v, ret->n, sizeof(*ret->v), cmp_kernel_id);
        return 0;
}

/* The index of the handle of kernel object id, or -1. */
static ssize_t by_kernel_id_index(const struct by_kernel_id *t, uint32_t id) {
        struct handle key = { .kernel_id = id }, *k = &key, **f;

        f = bsearch(&k, t->v, t->n, sizeof(*t->v), cmp_kernel_id);
        return f ? f - t->v : -1;
}

static struct handle *by_kernel_id_find(const struct by_kernel_id *t, uint32_t id) {
        ssize_t i = by_kernel_id_index(t, id);

        return i >= 0 ? t->v[i] : NULL;
}

static void log_fixed(struct rebuild *b, const struct handle *h, const char *what, uint64_t was, uint64_t now) {
        log_limited(&b->fixed, LOG_WARNING, &(struct log_ctx) { .handle = h->id, .kernel_id = h->kernel_id },
                    "State record of %s handle %" PRIu64 " said %s %" PRIu64 ", the kernel says %" PRIu64
                    ": corrected.", handle_kind_to_string(h->kind), h->id, what, was, now);
}

/* A load's group is the handle of its first program: never above a program's own handle. A
 * program without a valid one joins the group of the first program sharing one of its maps, or
 * gets a group of its own, so that its Unload can never release another load's maps. */
static void check_program_group(struct rebuild *b, struct handle *p, const struct by_kernel_id *maps) {
        uint32_t ids[MAP_IDS_MAX], n = 0;
        uint64_t group = p->id;

        if (p->group > 0 && p->group <= p->id)
                return;
        (void) bb_prog_map_ids(p->fd, ids, MAP_IDS_MAX, &n);
        for (uint32_t i = 0; i < n; i++) {
                struct handle *m = by_kernel_id_find(maps, ids[i]);
                struct handle *q = m ? handle_table_get(&b->s->handles, m->program) : NULL;
                if (q && q->kind == HANDLE_PROGRAM && q->group > 0 && q->group <= q->id && q->group < group)
                        group = q->group;
        }
        if (!p->recovery)
                log_fixed(b, p, "group", p->group, group);
        p->group = group;
}

/* A map belongs to the load of the programs that use it. Which ones do is the kernel's to say;
 * a record's group is kept only if one of them is in it. */
static void check_map_groups(struct rebuild *b, const struct by_kernel_id *maps) {
        struct handle **first = calloc(maps->n + 1, sizeof(*first));
        bool *ok = calloc(maps->n + 1, sizeof(*ok));

        for (size_t i = 0; first && ok && i < b->s->handles.n; i++) {
                struct handle *p = b->s->handles.v[i];
                uint32_t ids[MAP_IDS_MAX], n = 0;

                if (p->kind != HANDLE_PROGRAM || p->fd < 0)
                        continue;
                (void) bb_prog_map_ids(p->fd, ids, MAP_IDS_MAX, &n);
                for (uint32_t j = 0; j < n; j++) {
                        ssize_t k = by_kernel_id_index(maps, ids[j]);
                        if (k < 0)
                                continue;
                        if (!first[k])
                                first[k] = p;
                        ok[k] |= maps->v[k]->group == p->group;
                }
        }
        for (size_t k = 0; first && ok && k < maps->n; k++) {
                struct handle *m = maps->v[k], *p = first[k];
                uint64_t group = p ? p->group : m->id;

                if (ok[k] || (!p && m->group > 0))
                        continue;
                if (!m->recovery)
                        log_fixed(b, m, "group", m->group, group);
                else if (!p)
                        m->recovery = "incomplete";   /* no program of ours uses it */
                m->group = group;
                m->program = p ? p->id : 0;
        }
        free(first);
        free(ok);
}

static int copy_target(struct handle *l, const struct handle *p) {
        l->btf_id = p->btf_id;
        if (!p->function)
                return 0;
        l->function = strdup(p->function);
        l->btf_object = p->btf_object ? strdup(p->btf_object) : NULL;
        return l->function && (!p->btf_object || l->btf_object) ? 0 : -ENOMEM;
}

/* h takes the functions f lists, f's first one as its target. */
static int set_multi_functions(struct handle *h, const struct bb_multi_functions *f) {
        char *function = strdup(f->names[0]), *object = strdup(f->btf_object);

        if (!function || !object || handle_set_functions(h, f->names, f->ids, f->n) < 0) {
                free(function);
                free(object);
                return -ENOMEM;
        }
        free(h->function);
        free(h->btf_object);
        h->function = function;
        h->btf_object = object;
        h->btf_id = f->ids[0];
        return 0;
}

/* A multi-link rebuilt from its pin gets its functions from the kernel's link info, in its
 * program's order (the cookies), and so does its program when that lost them too and the link
 * has all of them. */
static void check_multi_link(struct rebuild *b, struct handle *l, struct handle *p) {
        _cleanup_(bb_multi_functions_done) struct bb_multi_functions f = {};
        bool link_unknown = l->recovery && !l->multi, prog_unknown = p && p->multi && p->n_functions == 0;
        int r;

        if (!link_unknown && !prog_unknown)
                return;
        r = bb_multi_link_functions(l->fd, &f);
        if (r < 0) {
                log_limited(&b->fixed, LOG_WARNING, &(struct log_ctx) { .handle = l->id, .kernel_id = l->kernel_id },
                            "Cannot read the functions of multi-link handle %" PRIu64 " from the kernel: %s",
                            l->id, strerror(-r));
                l->recovery = "incomplete";
                return;
        }
        if (link_unknown && set_multi_functions(l, &f) < 0)
                l->recovery = "incomplete";
        if (prog_unknown && f.complete && set_multi_functions(p, &f) >= 0)
                p->recovery = "rebuilt";
}

/* A pinned link's program is the kernel's to say: the program handle with that kernel id. */
static void check_link(struct rebuild *b, struct handle *l, const struct by_kernel_id *progs) {
        struct bb_info info = {};
        struct handle *p;

        if (bb_link_info(l->fd, &info) < 0)
                return;
        p = by_kernel_id_find(progs, info.prog_id);
        if (info.multi)
                check_multi_link(b, l, p);
        if (!p) {
                /* the link keeps its program loaded; the daemon just has no handle for it */
                l->recovery = "incomplete";
                l->program = l->group = 0;
                return;
        }
        if (l->program != p->id && !l->recovery)
                log_fixed(b, l, "program", l->program, p->id);
        l->program = p->id;
        l->group = p->group;
        p->state = HSTATE_ATTACHED;
        if (!l->recovery)
                return;
        if (strcmp(l->name, handle_kind_to_string(HANDLE_LINK)) == 0 && p->name[0]) {
                char *name = strdup(p->name);
                if (name) {
                        free(l->name);
                        l->name = name;
                }
        }
        if (!l->function && copy_target(l, p) < 0)
                l->recovery = "incomplete";
        if (p->btf_object && strcmp(p->btf_object, "bpf") == 0)
                l->target_prog_id = info.attach_btf_obj_id;   /* the traced program's id */
        if (p->recovery && strcmp(p->recovery, "incomplete") == 0)
                l->recovery = "incomplete";
}

static void check_relations(struct rebuild *b) {
        struct by_kernel_id progs = {}, maps = {};
        struct handle *h;

        if (by_kernel_id_build(b->s, HANDLE_PROGRAM, &progs) >= 0 &&
            by_kernel_id_build(b->s, HANDLE_MAP, &maps) >= 0) {
                HANDLE_TABLE_FOREACH(&b->s->handles, h, i)
                        if (h->kind == HANDLE_PROGRAM)
                                check_program_group(b, h, &maps);
                check_map_groups(b, &maps);
                HANDLE_TABLE_FOREACH(&b->s->handles, h, i)
                        if (h->kind == HANDLE_LINK && h->fd >= 0)
                                check_link(b, h, &progs);
        }
        free(progs.v);
        free(maps.v);
}

/* A record without a pin holds nothing: only a handed-off link of this boot whose program is
 * still ours means something (its holder owns the link; Detach answers NotDetachable). */
static void adopt_unpinned(struct rebuild *b, bool same_boot) {
        for (size_t i = 0; i < b->records->n; i++) {
                struct handle *h = TAKE_PTR(b->records->v[i]);
                struct handle *p = handle_table_get(&b->s->handles, h->program);
                const char *why = h->state != HSTATE_HANDED_OFF ? "its pin is missing" :
                                  !same_boot ? "it was handed off before this boot (or the boot id is unknown)" :
                                  !p || p->kind != HANDLE_PROGRAM ? "its program is not one of ours" : NULL;

                if (!why) {
                        h->group = p->group;
                        if (handle_table_adopt(&b->s->handles, h) >= 0) {
                                b->n_readopted++;
                                continue;
                        }
                        why = "out of memory";
                }
                log_limited(&b->dropped, LOG_WARNING, &(struct log_ctx) { .handle = h->id, .kernel_id = h->kernel_id },
                            "Dropping state record of %s handle %" PRIu64 " (kernel id %u): %s.",
                            handle_kind_to_string(h->kind), h->id, h->kernel_id, why);
                handle_free(h);
        }
        b->records->n = 0;
}

int state_rebuild(struct server *s, struct handle_table *records, bool same_boot) {
        struct rebuild b = { .s = s, .records = records };
        int r;

        r = scan_pins(&b);
        if (r < 0)
                return log_error_errno(r, "Cannot read the pin folder %s, nothing re-adopted: %m",
                                       s->cfg.pin_dir);
        check_relations(&b);
        adopt_unpinned(&b, same_boot);
        log_limit_summary(&b.kept, "pins left in place");
        log_limit_summary(&b.rebuilt, "handles rebuilt from their pins");
        log_limit_summary(&b.fixed, "corrected state records");
        log_limit_summary(&b.dropped, "dropped state records");
        if (b.n_rebuilt > 0 || b.kept.n > 0 || b.dropped.n > 0)
                log_notice("State restored: %u handles re-adopted from their records, %u rebuilt from "
                           "their pins, %u pins left in place, %u records dropped.",
                           b.n_readopted, b.n_rebuilt, b.kept.n, b.dropped.n);
        return 0;
}
