/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <bpf/btf.h>

#include "common/macro.h"
#include "daemon/bb-util.h"
#include "daemon/btf-index.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct btf_index *, btf_index_unref);

/* The system index ------------------------------------------------------------------------- */

/* The process's one cache of kernel BTF: every thread that resolves a function shares it, so
 * vmlinux (5.5 MB, about 30 ms to parse) is parsed once per process and the index is rebuilt only
 * when a module came or went. Every field is read and written under lock, by the functions below
 * only, which take the cache as their first parameter. */
struct system_cache {
        pthread_mutex_t lock;
        struct btf_index *index;        /* the last index built (holds one reference), or NULL */
        uint64_t key;                   /* btf_dir_key() of the directory it was built from */
        struct btf *vmlinux;            /* parsed once, never freed: the modules' BTF splits it */
        const char *btf_dir;            /* /sys/kernel/btf, or a test's folder */
        const char *filter_functions;   /* NULL: tracefs; "": none (tests); else this file */
};

static struct system_cache cache = {
        .lock = PTHREAD_MUTEX_INITIALIZER,
        .btf_dir = "/sys/kernel/btf",
};

void btf_index_system_set_paths(const char *btf_dir, const char *filter_functions) {
        pthread_mutex_lock(&cache.lock);
        if (btf_dir)
                cache.btf_dir = btf_dir;
        if (filter_functions)
                cache.filter_functions = filter_functions;
        pthread_mutex_unlock(&cache.lock);
}

/* A hash of the (name, inode) pairs in the BTF directory: changes when a module is loaded,
 * unloaded or reloaded (sysfs gives a re-created file a new inode). */
static int btf_dir_key(const struct system_cache *c, uint64_t *ret) {
        _cleanup_(closedirp) DIR *d = opendir(c->btf_dir);
        uint64_t key = 0;
        struct dirent *de;

        if (!d)
                return -errno;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')         /* order-independent: a sum of hashes */
                        key += btf_index_hash_name(de->d_name) * 31 + de->d_ino;
        *ret = key;
        return 0;
}

static int parse_vmlinux(struct system_cache *c) {
        _cleanup_free_ char *path = NULL;
        struct btf *btf;

        if (c->vmlinux)
                return 0;
        if (asprintf(&path, "%s/vmlinux", c->btf_dir) < 0)
                return -ENOMEM;
        btf = btf__parse(path, NULL);
        if (!btf)
                return -errno;
        c->vmlinux = btf;
        return 0;
}

static int add_modules(const struct system_cache *c, struct btf_index *idx) {
        _cleanup_(closedirp) DIR *d = opendir(c->btf_dir);
        struct dirent *de;

        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL;
                struct btf *btf;
                int r;

                if (de->d_name[0] == '.' || strcmp(de->d_name, "vmlinux") == 0)
                        continue;
                if (asprintf(&path, "%s/%s", c->btf_dir, de->d_name) < 0)
                        return -ENOMEM;
                btf = btf__parse_split(path, c->vmlinux);
                if (!btf)
                        continue;               /* unloaded meanwhile: the next key differs */
                r = btf_index_add_btf(idx, de->d_name, btf, true);
                if (r < 0)
                        return r;
        }
        return 0;
}

static const char *const filter_paths[] = {
        "/sys/kernel/tracing/available_filter_functions",
        "/sys/kernel/debug/tracing/available_filter_functions",
};

static void add_traceable(const struct system_cache *c, struct btf_index *idx) {
        if (c->filter_functions) {
                if (*c->filter_functions)
                        (void) btf_index_add_traceable(idx, c->filter_functions);
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(filter_paths); i++)
                if (btf_index_add_traceable(idx, filter_paths[i]) >= 0)
                        return;
        /* Not readable (no tracefs in this mount namespace): traceability stays unknown. */
}

/* Only for the real system: tests that point the index at other files get none. */
static void add_kallsyms(const struct system_cache *c, struct btf_index *idx) {
        if (!c->filter_functions)
                (void) btf_index_add_kallsyms(idx, "/proc/kallsyms");
}

static int system_build(struct system_cache *c, struct btf_index **ret) {
        _cleanup_(btf_index_unrefp) struct btf_index *idx = NULL;
        int r;

        r = parse_vmlinux(c);
        if (r < 0)
                return r;
        idx = btf_index_new();
        if (!idx)
                return -ENOMEM;
        r = btf_index_add_btf(idx, "vmlinux", c->vmlinux, false);
        if (r < 0)
                return r;
        r = add_modules(c, idx);
        if (r < 0)
                return r;
        add_traceable(c, idx);
        add_kallsyms(c, idx);
        r = btf_index_seal(idx);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(idx);
        return 0;
}

int btf_index_system(struct btf_index **ret) {
        uint64_t key = 0;
        int r;

        pthread_mutex_lock(&cache.lock);
        r = btf_dir_key(&cache, &key);
        if (r >= 0 && (!cache.index || key != cache.key)) {
                struct btf_index *idx = NULL;

                r = system_build(&cache, &idx);
                if (r >= 0) {
                        btf_index_unref(cache.index);
                        cache.index = idx;
                        cache.key = key;
                }
        }
        if (r >= 0)
                *ret = btf_index_ref(cache.index);
        pthread_mutex_unlock(&cache.lock);
        return r < 0 ? r : 0;
}
