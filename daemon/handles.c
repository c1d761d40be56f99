/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>

#include "common/macro.h"
#include "common/parse-util.h"
#include "daemon/handles.h"

static const char *const kind_names[] = { "program", "link", "map" };
static const char *const lifetime_names[] = { "persistent", "connection" };
static const char *const state_names[] = { "loaded", "attached", "handed-off" };

const char *handle_kind_to_string(enum handle_kind k) {
        return (unsigned) k < ELEMENTSOF(kind_names) ? kind_names[k] : "unknown";
}

const char *handle_lifetime_to_string(enum handle_lifetime l) {
        return (unsigned) l < ELEMENTSOF(lifetime_names) ? lifetime_names[l] : "unknown";
}

int handle_lifetime_from_string(const char *s) {
        for (size_t i = 0; i < ELEMENTSOF(lifetime_names); i++)
                if (strcmp(s, lifetime_names[i]) == 0)
                        return (int) i;
        return -EINVAL;
}

const char *handle_state_to_string(enum handle_state s) {
        return (unsigned) s < ELEMENTSOF(state_names) ? state_names[s] : "unknown";
}

struct handle *handle_new(enum handle_kind kind, const char *name) {
        struct handle *h = calloc(1, sizeof(*h));

        if (!h)
                return NULL;
        h->kind = kind;
        h->fd = -EBADF;
        h->name = strdup(name ? name : "");
        if (!h->name)
                return handle_free(h);
        return h;
}

struct handle *handle_free(struct handle *h) {
        if (!h)
                return NULL;
        free(h->name);
        free(h->function);
        free(h->btf_object);
        free(h->source);
        for (size_t i = 0; i < h->n_functions; i++)
                free(h->functions[i]);
        free(h->functions);
        free(h->btf_ids);
        sd_event_source_disable_unref(h->holder_src);
        free(h);
        return NULL;
}

int handle_set_functions(struct handle *h, char *const *functions, const uint32_t *btf_ids, size_t n) {
        char **f = calloc(n ? n : 1, sizeof(char *));
        uint32_t *ids = malloc((n ? n : 1) * sizeof(uint32_t));
        size_t i;

        for (i = 0; f && ids && i < n; i++)
                if (!(f[i] = strdup(functions[i])))
                        break;
        if (!f || !ids || i < n) {
                while (f && i > 0)
                        free(f[--i]);
                free(f);
                free(ids);
                return -ENOMEM;
        }
        memcpy(ids, btf_ids, n * sizeof(uint32_t));
        for (i = 0; i < h->n_functions; i++)
                free(h->functions[i]);
        free(h->functions);
        free(h->btf_ids);
        h->functions = f;
        h->btf_ids = ids;
        h->n_functions = n;
        h->multi = true;
        return 0;
}

void handle_drop_functions(struct handle *h, const size_t *index, size_t n) {
        size_t k = 0, w = 0;

        for (size_t i = 0; i < h->n_functions; i++) {
                if (k < n && index[k] == i) {
                        k++;
                        free(h->functions[i]);
                        continue;
                }
                h->functions[w] = h->functions[i];
                h->btf_ids[w++] = h->btf_ids[i];
        }
        h->n_functions = w;
        /* the target names the first function the handle has */
        if (w > 0 && h->function && strcmp(h->function, h->functions[0]) != 0) {
                char *f = strdup(h->functions[0]);

                if (f) {
                        free(h->function);
                        h->function = f;
                        h->btf_id = h->btf_ids[0];
                }
        }
}

void handle_table_init(struct handle_table *t) {
        *t = (struct handle_table) { .next_id = 1 };
}

void handle_table_done(struct handle_table *t) {
        for (size_t i = 0; i < t->n; i++) {
                safe_close(t->v[i]->fd);
                handle_free(t->v[i]);
        }
        free(t->v);
        *t = (struct handle_table) {};
}

/* Index of the first handle with id >= id. */
static size_t bisect(const struct handle_table *t, uint64_t id) {
        size_t lo = 0, hi = t->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (t->v[mid]->id < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

int handle_table_adopt(struct handle_table *t, struct handle *h) {
        size_t i;

        if (h->id == 0)
                return -EINVAL;
        i = bisect(t, h->id);
        if (i < t->n && t->v[i]->id == h->id)
                return -EEXIST;
        if (GREEDY_REALLOC(t->v, t->cap, t->n + 1) < 0)
                return -ENOMEM;
        memmove(t->v + i + 1, t->v + i, (t->n - i) * sizeof(*t->v));
        t->v[i] = h;
        t->n++;
        if (h->id >= t->next_id)
                t->next_id = h->id + 1;
        return 0;
}

int handle_table_add(struct handle_table *t, struct handle *h) {
        int r;

        h->id = t->next_id;
        r = handle_table_adopt(t, h);
        if (r < 0)
                h->id = 0;
        return r;
}

struct handle *handle_table_get(const struct handle_table *t, uint64_t id) {
        size_t i = bisect(t, id);

        return i < t->n && t->v[i]->id == id ? t->v[i] : NULL;
}

struct handle *handle_table_remove(struct handle_table *t, uint64_t id) {
        size_t i = bisect(t, id);
        struct handle *h;

        if (i >= t->n || t->v[i]->id != id)
                return NULL;
        h = t->v[i];
        memmove(t->v + i, t->v + i + 1, (t->n - i - 1) * sizeof(*t->v));
        t->n--;
        return h;
}

size_t handle_table_count(const struct handle_table *t, enum handle_kind kind) {
        size_t n = 0;

        for (size_t i = 0; i < t->n; i++)
                n += t->v[i]->kind == kind && t->v[i]->state != HSTATE_HANDED_OFF;
        return n;
}

int grant_parse(const char *s, struct grant *ret) {
        struct grant g = {};
        const char *name;

        if (strncmp(s, "user:", 5) == 0)
                name = s + 5;
        else if (strncmp(s, "group:", 6) == 0) {
                name = s + 6;
                g.group = true;
        } else
                return -EINVAL;
        if (parse_uid(name, &g.id) < 0) {
                if (g.group) {
                        struct group *gr = getgrnam(name);
                        if (!gr)
                                return -ESRCH;
                        g.id = gr->gr_gid;
                } else {
                        struct passwd *pw = getpwnam(name);
                        if (!pw)
                                return -ESRCH;
                        g.id = pw->pw_uid;
                }
        }
        *ret = g;
        return 0;
}

const char *grant_format(const struct grant *g, char *buf, size_t size) {
        snprintf(buf, size, "%s:%u", g->group ? "group" : "user", (unsigned) g->id);
        return buf;
}
