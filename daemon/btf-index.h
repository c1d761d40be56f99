/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A name index over the FUNC entries of kernel BTF (vmlinux plus every module's split BTF), so
 * that resolving, globbing and suggesting names costs a hash probe or a binary search instead of
 * libbpf's linear btf__find_by_name_kind() scan (about 1 ms a name on vmlinux).
 *
 * An index is built (btf_index_add_*), sealed once (btf_index_seal) and read-only afterwards, so a
 * sealed index may be shared between threads. The system index is a refcounted snapshot that is
 * rebuilt only when the set of files in /sys/kernel/btf changes (a module came or went); vmlinux
 * itself is parsed once per process.
 *
 * What fexitd will attach to, from a function's name and BTF facts, is in daemon/btf-rules.h.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct btf;
struct btf_index;

/* What fexit can do with a function, from its BTF prototype. */
struct btf_func {
        const char *name;
        uint32_t btf_id;          /* FUNC type id in its BTF object */
        uint16_t obj;             /* index of the BTF object: 0 is the first added (vmlinux) */
        uint8_t nr_args;
        uint8_t nr_regs;          /* argument registers: a struct of 9..16 bytes takes two */
        bool vararg;
        bool struct_arg;          /* a struct/union passed by value */
        bool big_struct_arg;      /* ... of more than 16 bytes */
        bool odd_return;          /* returns a struct, union, float...: the kernel refuses it */
        int8_t traceable;         /* 1: in available_filter_functions, 0: not there, -1: unknown */
        uint8_t ksyms;            /* vmlinux text symbols of this name in kallsyms (saturates at
                                     255), 0 if unknown. The kernel resolves a name to its first
                                     symbol, which for a name of several may not be the traced one */
};

struct btf_index *btf_index_new(void);
struct btf_index *btf_index_ref(struct btf_index *idx);
struct btf_index *btf_index_unref(struct btf_index *idx);   /* accepts NULL, returns NULL */

/* Adds one function by hand (tests, or names from a program's BTF). The name is copied. Before
 * btf_index_seal() only. A name already present keeps its first entry (libbpf resolves the
 * same way: vmlinux first, then modules, lowest type id first). */
int btf_index_add(struct btf_index *idx, const struct btf_func *f);

/* Adds every FUNC of btf under the object name obj_name ("vmlinux", a module name, "bpf").
 * Names point into btf, so btf must outlive the index: owned hands it over (freed with the
 * index; also on failure). Returns the object's index. */
int btf_index_add_btf(struct btf_index *idx, const char *obj_name, struct btf *btf, bool owned);

/* Marks functions found in an available_filter_functions file as traceable and all others as not
 * traceable. Without this call traceability stays unknown (-1). Before btf_index_seal() only. */
int btf_index_add_traceable(struct btf_index *idx, const char *path);

/* Counts, per function, the vmlinux text symbols of its name in a /proc/kallsyms file (lines
 * "ADDR TYPE NAME [MODULE]"; module symbols are not counted). Before btf_index_seal() only. */
int btf_index_add_kallsyms(struct btf_index *idx, const char *path);

/* Sorts and hashes; afterwards the index is immutable. */
int btf_index_seal(struct btf_index *idx);

size_t btf_index_size(const struct btf_index *idx);
const char *btf_index_object_name(const struct btf_index *idx, unsigned obj);
/* The BTF of object obj (NULL for functions added by hand). Owned by the index. */
const struct btf *btf_index_object_btf(const struct btf_index *idx, unsigned obj);

/* Exact lookup: a hash probe. NULL if absent. */
const struct btf_func *btf_index_lookup(const struct btf_index *idx, const char *name);

/* fnmatch() over all names, in name order. ret gets a malloc'ed array of pointers into the index
 * (the index must outlive it); 0 matches is not an error. */
int btf_index_glob(const struct btf_index *idx, const char *pattern,
                   const struct btf_func ***ret, size_t *ret_n);

/* Up to max names close to name (edit distance, then shared prefix, substring), best first.
 * Pointers into the index. Returns the count. */
size_t btf_index_suggest(const struct btf_index *idx, const char *name, const char **ret, size_t max);

/* The characters that make a name a pattern for fnmatch(3): a backslash escapes the next one, so
 * it makes a pattern too. The one definition, for the index and for the daemon's limit on globs. */
#define BTF_GLOB_CHARS "*?[\\"

/* True if pattern contains one of BTF_GLOB_CHARS. */
bool btf_glob_is_pattern(const char *pattern);

/* FNV-1a over a name: the index's hash, also the system index's directory key. */
uint64_t btf_index_hash_name(const char *s);

/* daemon/btf-system.c ------------------------------------------------------------------------ */

/* The system index (vmlinux + loaded modules + available_filter_functions when readable). Returns
 * a reference: btf_index_unref() it. Rebuilt when /sys/kernel/btf changed since the last call. */
int btf_index_system(struct btf_index **ret);

/* Overrides the sysfs and tracefs locations (tests). Must be called before the first
 * btf_index_system(). NULL keeps the default. */
void btf_index_system_set_paths(const char *btf_dir, const char *filter_functions);
