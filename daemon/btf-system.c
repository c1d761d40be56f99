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

static pthread_mutex_t system_lock = PTHREAD_MUTEX_INITIALIZER;
static struct btf_index *system_index;          /* holds one reference */
static uint64_t system_key;
static struct btf *system_vmlinux;              /* parsed once, never freed */
static const char *system_btf_dir = "/sys/kernel/btf";
static const char *system_filter_functions = NULL;

void btf_index_system_set_paths(const char *btf_dir, const char *filter_functions) {
        if (btf_dir)
                system_btf_dir = btf_dir;
        if (filter_functions)
                system_filter_functions = filter_functions;
}

/* A hash of the (name, inode) pairs in the BTF directory: changes when a module is loaded,
 * unloaded or reloaded (sysfs gives a re-created file a new inode). */
static int btf_dir_key(uint64_t *ret) {
        _cleanup_(closedirp) DIR *d = opendir(system_btf_dir);
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

static int parse_vmlinux(void) {
        _cleanup_free_ char *path = NULL;
        struct btf *btf;

        if (system_vmlinux)
                return 0;
        if (asprintf(&path, "%s/vmlinux", system_btf_dir) < 0)
                return -ENOMEM;
        btf = btf__parse(path, NULL);
        if (!btf)
                return -errno;
        system_vmlinux = btf;
        return 0;
}

static int add_modules(struct btf_index *idx) {
        _cleanup_(closedirp) DIR *d = opendir(system_btf_dir);
        struct dirent *de;

        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL;
                struct btf *btf;
                int r;

                if (de->d_name[0] == '.' || strcmp(de->d_name, "vmlinux") == 0)
                        continue;
                if (asprintf(&path, "%s/%s", system_btf_dir, de->d_name) < 0)
                        return -ENOMEM;
                btf = btf__parse_split(path, system_vmlinux);
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

static void add_traceable(struct btf_index *idx) {
        if (system_filter_functions) {
                if (*system_filter_functions)
                        (void) btf_index_add_traceable(idx, system_filter_functions);
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(filter_paths); i++)
                if (btf_index_add_traceable(idx, filter_paths[i]) >= 0)
                        return;
        /* Not readable (no tracefs in this mount namespace): traceability stays unknown. */
}

/* Only for the real system: tests that point the index at other files get none. */
static void add_kallsyms(struct btf_index *idx) {
        if (!system_filter_functions)
                (void) btf_index_add_kallsyms(idx, "/proc/kallsyms");
}

static int system_build(struct btf_index **ret) {
        _cleanup_(btf_index_unrefp) struct btf_index *idx = NULL;
        int r;

        r = parse_vmlinux();
        if (r < 0)
                return r;
        idx = btf_index_new();
        if (!idx)
                return -ENOMEM;
        r = btf_index_add_btf(idx, "vmlinux", system_vmlinux, false);
        if (r < 0)
                return r;
        r = add_modules(idx);
        if (r < 0)
                return r;
        add_traceable(idx);
        add_kallsyms(idx);
        r = btf_index_seal(idx);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(idx);
        return 0;
}

int btf_index_system(struct btf_index **ret) {
        uint64_t key = 0;
        int r;

        pthread_mutex_lock(&system_lock);
        r = btf_dir_key(&key);
        if (r >= 0 && (!system_index || key != system_key)) {
                struct btf_index *idx = NULL;

                r = system_build(&idx);
                if (r >= 0) {
                        btf_index_unref(system_index);
                        system_index = idx;
                        system_key = key;
                }
        }
        if (r >= 0)
                *ret = btf_index_ref(system_index);
        pthread_mutex_unlock(&system_lock);
        return r < 0 ? r : 0;
}
