/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include <bpf/btf.h>

#include "common/macro.h"
#include "daemon/bb-util.h"
#include "daemon/btf-index.h"

#define BTF_INDEX_OBJS_MAX 4096

struct entry {
        struct btf_func f;        /* first: lookups hand out &entry->f */
        uint32_t seq;             /* insertion order: the first of equal names wins */
        size_t len;               /* strlen(f.name), for the suggestions' length filter */
};

struct btf_object {
        char *name;
        struct btf *btf;
        bool owned;
};

struct btf_index {
        int n_ref;
        bool sealed;
        struct entry *entries;
        size_t n_entries, n_alloc;
        uint32_t *slots;          /* open addressing: entry index + 1, 0 is empty */
        size_t n_slots;           /* a power of two */
        struct btf_object *objs;
        size_t n_objs;
        char **owned_names;       /* names added by hand */
        size_t n_owned_names;
        char *traceable;          /* contents of available_filter_functions, NULL if unknown */
        char *ksyms;              /* names of vmlinux text symbols, one a line, NULL if unknown */
};

struct btf_index *btf_index_new(void) {
        struct btf_index *idx = calloc(1, sizeof(*idx));

        if (idx)
                idx->n_ref = 1;
        return idx;
}

struct btf_index *btf_index_ref(struct btf_index *idx) {
        if (idx)
                __atomic_add_fetch(&idx->n_ref, 1, __ATOMIC_RELAXED);
        return idx;
}

static void btf_index_free(struct btf_index *idx) {
        for (size_t i = 0; i < idx->n_objs; i++) {
                free(idx->objs[i].name);
                if (idx->objs[i].owned)
                        btf__free(idx->objs[i].btf);
        }
        for (size_t i = 0; i < idx->n_owned_names; i++)
                free(idx->owned_names[i]);
        free(idx->owned_names);
        free(idx->objs);
        free(idx->entries);
        free(idx->slots);
        free(idx->traceable);
        free(idx->ksyms);
        free(idx);
}

struct btf_index *btf_index_unref(struct btf_index *idx) {
        if (idx && __atomic_sub_fetch(&idx->n_ref, 1, __ATOMIC_ACQ_REL) == 0)
                btf_index_free(idx);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct btf_index *, btf_index_unref);

static int add_entry(struct btf_index *idx, const struct btf_func *f) {
        int r;

        if (idx->sealed)
                return -EBUSY;
        r = GREEDY_REALLOC(idx->entries, idx->n_alloc, idx->n_entries + 1);
        if (r < 0)
                return r;
        idx->entries[idx->n_entries] = (struct entry) { .f = *f, .seq = idx->n_entries,
                                                        .len = strlen(f->name) };
        idx->n_entries++;
        return 0;
}

int btf_index_add(struct btf_index *idx, const struct btf_func *f) {
        char **names;
        char *name;
        int r;

        if (!f || !f->name || !*f->name)
                return -EINVAL;
        names = reallocarray(idx->owned_names, idx->n_owned_names + 1, sizeof(char *));
        if (!names)
                return -ENOMEM;
        idx->owned_names = names;
        name = strdup(f->name);
        if (!name)
                return -ENOMEM;
        idx->owned_names[idx->n_owned_names++] = name;

        struct btf_func copy = *f;
        copy.name = name;
        r = add_entry(idx, &copy);
        return r;
}

/* Skips typedefs and modifiers, as the kernel's btf_distill_func_proto() does. */
static const struct btf_type *resolve(const struct btf *btf, uint32_t id, uint32_t *ret_id) {
        int r = btf__resolve_type(btf, id);

        if (r < 0)
                return NULL;
        *ret_id = r;
        return btf__type_by_id(btf, r);
}

/* Fills the argument facts from the FUNC_PROTO the way the trampoline counts registers. */
static void describe_args(const struct btf *btf, const struct btf_type *proto, struct btf_func *f) {
        const struct btf_param *p = btf_params(proto);
        unsigned n = btf_vlen(proto);

        f->nr_args = n > UINT8_MAX ? UINT8_MAX : n;
        /* the trampoline reads only void, integer, enum and pointer returns (6.1's
         * btf_distill_func_proto()); anything else fails to load with "return type unsupported" */
        if (proto->type != 0) {
                uint32_t rid;
                const struct btf_type *rt = resolve(btf, proto->type, &rid);
                f->odd_return = !rt || !(btf_is_int(rt) || btf_is_ptr(rt) || btf_is_enum(rt) ||
                                         btf_is_enum64(rt));
        }
        for (unsigned i = 0; i < n; i++) {
                const struct btf_type *t;
                uint32_t id;
                int64_t size;

                if (p[i].type == 0) {       /* "..." is a nameless void parameter */
                        f->vararg = true;
                        f->nr_args--;
                        continue;
                }
                t = resolve(btf, p[i].type, &id);
                size = t ? btf__resolve_size(btf, id) : 8;
                if (t && (btf_is_struct(t) || btf_is_union(t))) {
                        f->struct_arg = true;
                        if (size > 16)
                                f->big_struct_arg = true;
                }
                f->nr_regs += size > 8 ? 2 : 1;
        }
}

static int add_object(struct btf_index *idx, const char *obj_name, struct btf *btf, bool owned) {
        struct btf_object *objs;
        char *name;

        if (idx->n_objs >= BTF_INDEX_OBJS_MAX)
                return -E2BIG;
        objs = reallocarray(idx->objs, idx->n_objs + 1, sizeof(*objs));
        if (!objs)
                return -ENOMEM;
        idx->objs = objs;
        name = strdup(obj_name);
        if (!name)
                return -ENOMEM;
        idx->objs[idx->n_objs] = (struct btf_object) { .name = name, .btf = btf, .owned = owned };
        return (int) idx->n_objs++;
}

int btf_index_add_btf(struct btf_index *idx, const char *obj_name, struct btf *btf, bool owned) {
        const struct btf *base = btf__base_btf(btf);
        uint32_t start = base ? btf__type_cnt(base) : 1, end = btf__type_cnt(btf);
        int obj, r;

        obj = idx->sealed ? -EBUSY : add_object(idx, obj_name, btf, owned);
        if (obj < 0) {
                if (owned)
                        btf__free(btf);
                return obj;
        }
        for (uint32_t id = start; id < end; id++) {
                const struct btf_type *t = btf__type_by_id(btf, id), *proto;
                struct btf_func f = { .btf_id = id, .obj = obj, .traceable = -1 };

                if (!btf_is_func(t))
                        continue;
                f.name = btf__name_by_offset(btf, t->name_off);
                proto = btf__type_by_id(btf, t->type);
                if (!f.name || !*f.name || !proto || !btf_is_func_proto(proto))
                        continue;
                describe_args(btf, proto, &f);
                r = add_entry(idx, &f);
                if (r < 0)
                        return r;
        }
        return obj;
}

/* The name of an available_filter_functions line, "name [module]", with a tab after it when it is
 * a module's: a vmlinux function must not count as traceable because a module has a traceable
 * function of the same name (the kernel attaches by name, and finds vmlinux's first). */
static const char *filter_line_name(char *line) {
        size_t n = strcspn(line, " \t\n");
        bool module = strchr(line + n, '[') != NULL;

        line[n] = module ? '\t' : '\0';
        if (module)
                line[n + 1] = '\0';
        return line;
}

/* The name of a vmlinux text symbol in a kallsyms line "addr t name", or NULL. */
static const char *kallsyms_line_name(char *line) {
        char *type, *name;

        line[strcspn(line, "\n")] = '\0';
        if (strchr(line, '['))                    /* a module's symbol */
                return NULL;
        type = strchr(line, ' ');
        if (!type || (type[1] != 't' && type[1] != 'T') || type[2] != ' ')
                return NULL;
        name = type + 3;
        return name;
}

/* Reads the names path's lines yield into a buffer, one a line. */
static int read_names(const char *path, const char *(*line_name)(char *line), char **ret) {
        _cleanup_(fclosep) FILE *f = NULL;
        char *buf = NULL;
        size_t size = 0;
        FILE *mem;
        char line[512];

        f = fopen(path, "re");
        if (!f)
                return -errno;
        mem = open_memstream(&buf, &size);
        if (!mem)
                return -ENOMEM;
        while (fgets(line, sizeof(line), f)) {
                const char *name = line_name(line);
                if (name && *name)
                        fprintf(mem, "%s\n", name);
        }
        if (ferror(f) || fclose(mem) != 0) {
                free(buf);
                return -EIO;
        }
        *ret = buf;
        return 0;
}

int btf_index_add_traceable(struct btf_index *idx, const char *path) {
        char *buf;
        int r;

        if (idx->sealed)
                return -EBUSY;
        r = read_names(path, filter_line_name, &buf);
        if (r < 0)
                return r;
        free(idx->traceable);
        idx->traceable = buf;
        return 0;
}

int btf_index_add_kallsyms(struct btf_index *idx, const char *path) {
        char *buf;
        int r;

        if (idx->sealed)
                return -EBUSY;
        r = read_names(path, kallsyms_line_name, &buf);
        if (r < 0)
                return r;
        free(idx->ksyms);
        idx->ksyms = buf;
        return 0;
}

static int cmp_entry(const void *a, const void *b) {
        const struct entry *x = a, *y = b;
        int c = strcmp(x->f.name, y->f.name);

        if (c != 0)
                return c;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

uint64_t btf_index_hash_name(const char *s) {
        uint64_t h = 0xcbf29ce484222325ULL;         /* FNV-1a */

        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * 0x100000001b3ULL;
        return h;
}

static int build_hash(struct btf_index *idx) {
        size_t n = 64;

        while (n < idx->n_entries * 2)
                n *= 2;
        idx->slots = calloc(n, sizeof(uint32_t));
        if (!idx->slots)
                return -ENOMEM;
        idx->n_slots = n;
        for (size_t i = 0; i < idx->n_entries; i++) {
                size_t s = btf_index_hash_name(idx->entries[i].f.name) & (n - 1);

                while (idx->slots[s] != 0)
                        s = (s + 1) & (n - 1);
                idx->slots[s] = i + 1;
        }
        return 0;
}

static struct entry *find(const struct btf_index *idx, const char *name) {
        if (idx->n_slots == 0)
                return NULL;
        for (size_t s = btf_index_hash_name(name) & (idx->n_slots - 1);; s = (s + 1) & (idx->n_slots - 1)) {
                uint32_t v = idx->slots[s];

                if (v == 0)
                        return NULL;
                if (strcmp(idx->entries[v - 1].f.name, name) == 0)
                        return &idx->entries[v - 1];
        }
}

static void apply_ksyms(struct btf_index *idx) {
        if (!idx->ksyms)
                return;
        for (char *p = idx->ksyms, *nl; *p; p = nl + 1) {
                struct entry *e;

                nl = strchr(p, '\n');
                *nl = '\0';
                e = find(idx, p);
                if (e && e->f.ksyms < UINT8_MAX)
                        e->f.ksyms++;
        }
        idx->ksyms = mfree(idx->ksyms);
}

static void apply_traceable(struct btf_index *idx) {
        if (!idx->traceable)
                return;
        for (size_t i = 0; i < idx->n_entries; i++)
                idx->entries[i].f.traceable = 0;
        for (char *p = idx->traceable, *nl; *p; p = nl + 1) {
                size_t n;
                bool module;
                struct entry *e;

                nl = strchr(p, '\n');
                *nl = '\0';
                n = strlen(p);
                module = n > 0 && p[n - 1] == '\t';
                if (module)
                        p[n - 1] = '\0';
                e = find(idx, p);
                if (e && (e->f.obj != 0) == module)
                        e->f.traceable = 1;
        }
        idx->traceable = mfree(idx->traceable);
}

int btf_index_seal(struct btf_index *idx) {
        size_t n = 0;
        int r;

        if (idx->sealed)
                return 0;
        qsort(idx->entries, idx->n_entries, sizeof(struct entry), cmp_entry);
        for (size_t i = 0; i < idx->n_entries; i++)     /* drop later duplicates */
                if (n == 0 || strcmp(idx->entries[n - 1].f.name, idx->entries[i].f.name) != 0)
                        idx->entries[n++] = idx->entries[i];
        idx->n_entries = n;
        r = build_hash(idx);
        if (r < 0)
                return r;
        apply_traceable(idx);
        apply_ksyms(idx);
        idx->sealed = true;
        return 0;
}

size_t btf_index_size(const struct btf_index *idx) {
        return idx->n_entries;
}

const char *btf_index_object_name(const struct btf_index *idx, unsigned obj) {
        return obj < idx->n_objs ? idx->objs[obj].name : NULL;
}

const struct btf *btf_index_object_btf(const struct btf_index *idx, unsigned obj) {
        return obj < idx->n_objs ? idx->objs[obj].btf : NULL;
}

const struct btf_func *btf_index_lookup(const struct btf_index *idx, const char *name) {
        struct entry *e = idx->sealed ? find(idx, name) : NULL;

        return e ? &e->f : NULL;
}

bool btf_glob_is_pattern(const char *pattern) {
        return strpbrk(pattern, BTF_GLOB_CHARS) != NULL;
}

/* First entry whose name is >= prefix. */
static size_t lower_bound(const struct btf_index *idx, const char *prefix) {
        size_t lo = 0, hi = idx->n_entries;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (strcmp(idx->entries[mid].f.name, prefix) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

int btf_index_glob(const struct btf_index *idx, const char *pattern,
                   const struct btf_func ***ret, size_t *ret_n) {
        _cleanup_free_ const struct btf_func **v = NULL;
        _cleanup_free_ char *prefix = NULL;
        size_t n = 0, n_alloc = 0;
        int r;

        if (!idx->sealed)
                return -EINVAL;
        /* The literal prefix narrows the sorted range, so "vfs_*" never scans all names. */
        prefix = strndup(pattern, strcspn(pattern, BTF_GLOB_CHARS));
        if (!prefix)
                return -ENOMEM;
        for (size_t i = lower_bound(idx, prefix); i < idx->n_entries; i++) {
                const struct btf_func *f = &idx->entries[i].f;

                if (strncmp(f->name, prefix, strlen(prefix)) != 0)
                        break;
                if (fnmatch(pattern, f->name, 0) != 0)
                        continue;
                r = GREEDY_REALLOC(v, n_alloc, n + 1);
                if (r < 0)
                        return r;
                v[n++] = f;
        }
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

/* Optimal string alignment distance (adjacent transpositions count one), or max + 1 once it is
 * certain to exceed max. Only the diagonal band |i - j| <= max is computed. */
static unsigned edit_distance(const char *a, size_t m, const char *b, size_t n, unsigned max) {
        unsigned rows[3][64], *pp = rows[0], *prev = rows[1], *cur = rows[2];
        const unsigned inf = max + 1;

        if (m >= 63 || n >= 63 || (m > n ? m - n : n - m) > max)
                return inf;
        for (size_t j = 0; j <= n; j++)
                prev[j] = j <= max ? j : inf;
        for (size_t i = 1; i <= m; i++) {
                size_t lo = i > max ? i - max : 1, hi = i + max < n ? i + max : n;
                unsigned best = inf, *t;

                cur[0] = i <= max ? i : inf;
                cur[lo - 1] = lo > 1 ? inf : cur[0];
                for (size_t j = lo; j <= hi; j++) {
                        unsigned v = prev[j - 1] + (a[i - 1] != b[j - 1]);

                        if (prev[j] + 1 < v)
                                v = prev[j] + 1;
                        if (cur[j - 1] + 1 < v)
                                v = cur[j - 1] + 1;
                        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                            pp[j - 2] + 1 < v)
                                v = pp[j - 2] + 1;
                        cur[j] = v < inf ? v : inf;
                        if (cur[j] < best)
                                best = cur[j];
                }
                if (hi < n)
                        cur[hi + 1] = inf;
                if (best > max)
                        return inf;
                t = pp;
                pp = prev;
                prev = cur;
                cur = t;
        }
        return prev[n];
}

struct candidate {
        const char *name;
        unsigned score;           /* lower is better */
        unsigned prefix;          /* length of the prefix shared with the query */
        size_t len_diff;
};

static bool better(const struct candidate *a, const struct candidate *b) {
        if (a->score != b->score)
                return a->score < b->score;
        if (a->prefix != b->prefix)
                return a->prefix > b->prefix;
        if (a->len_diff != b->len_diff)
                return a->len_diff < b->len_diff;
        return strcmp(a->name, b->name) < 0;
}

/* Scores: 4 per edit, so that a name containing the query (9) ranks after two typos and before
 * three, and a name sharing the first two thirds of the query ranks after those (10 + rest). */
static bool score(const char *q, size_t m, const char *s, size_t n, unsigned max,
                  struct candidate *ret) {
        unsigned d = edit_distance(q, m, s, n, max), sc, p = 0;

        while (q[p] && q[p] == s[p])
                p++;
        if (d <= max)
                sc = 4 * d;
        else if (m >= 4 && n > m && strstr(s, q))
                sc = 9;
        else if (p >= 4 && p * 3 >= m * 2)
                sc = 10 + (m - p);
        else
                return false;
        *ret = (struct candidate) { .name = s, .score = sc, .prefix = p,
                                    .len_diff = n > m ? n - m : m - n };
        return true;
}

size_t btf_index_suggest(const struct btf_index *idx, const char *name, const char **ret, size_t max) {
        struct candidate top[16];
        size_t m = strlen(name), n_top = 0;
        unsigned max_dist = m < 4 ? 1 : m < 12 ? 2 : 3;

        if (max > ELEMENTSOF(top))
                max = ELEMENTSOF(top);
        if (max == 0 || !idx->sealed)
                return 0;
        for (size_t i = 0; i < idx->n_entries; i++) {
                struct candidate c;
                size_t k;

                const struct entry *e = &idx->entries[i];

                if (!score(name, m, e->f.name, e->len, max_dist, &c))
                        continue;
                if (strcmp(c.name, name) == 0)
                        continue;
                if (n_top == max && !better(&c, &top[max - 1]))
                        continue;
                /* Insertion into the short sorted list of the best so far. */
                k = n_top < max ? n_top++ : max - 1;
                while (k > 0 && better(&c, &top[k - 1])) {
                        top[k] = top[k - 1];
                        k--;
                }
                top[k] = c;
        }
        for (size_t i = 0; i < n_top; i++)
                ret[i] = top[i].name;
        return n_top;
}
