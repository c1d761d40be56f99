/* SPDX-License-Identifier: MIT */
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"

static void add_str(json_object *o, const char *key, const char *v) {
        if (v && *v)
                json_object_object_add(o, key, json_object_new_string(v));
}

/* The first "KEY<sep>: value" line of a /proc file, without the key. */
static void proc_field(const char *path, const char *key, char *buf, size_t size) {
        char line[512];
        FILE *f = fopen(path, "re");

        *buf = 0;
        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                char *colon = strchr(line, ':');
                if (strncmp(line, key, strlen(key)) != 0 || !colon)
                        continue;
                colon += strspn(colon + 1, " \t") + 1;
                colon[strcspn(colon, "\n")] = 0;
                snprintf(buf, size, "%s", colon);
                break;
        }
        fclose(f);
}

json_object *machine_describe(void) {
        json_object *o = json_object_new_object();
        char buf[512], when[64];
        struct utsname u;
        time_t t = time(NULL);

        if (uname(&u) == 0) {
                snprintf(buf, sizeof(buf), "%s %s %s", u.sysname, u.release, u.machine);
                add_str(o, "kernel", buf);
        }
        proc_field("/proc/cpuinfo", "model name", buf, sizeof(buf));
        add_str(o, "cpu", buf);
        json_object_object_add(o, "cpus", json_object_new_int((int) sysconf(_SC_NPROCESSORS_ONLN)));
        proc_field("/proc/meminfo", "MemTotal", buf, sizeof(buf));
        add_str(o, "memory", buf);
        proc_field("/proc/cpuinfo", "flags", buf, sizeof(buf));
        json_object_object_add(o, "virtualized", json_object_new_boolean(strstr(buf, " hypervisor") != NULL));
        add_str(o, "libbpf", libbpf_version_string());
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
        add_str(o, "date", when);
        {
                FILE *f = fopen("/proc/loadavg", "re");
                if (f && fgets(buf, sizeof(buf), f)) {
                        buf[strcspn(buf, "\n")] = 0;
                        add_str(o, "loadavg", buf);
                }
                if (f)
                        fclose(f);
        }
        /* for the VM part: the host's load when the VM was started (bench/run) */
        add_str(o, "host_loadavg", getenv("FEXITD_BENCH_HOST_LOADAVG"));
        add_str(o, "accel", getenv("FEXITD_BENCH_ACCEL"));
        {
                struct rlimit rl;
                if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
                        json_object_object_add(o, "nofile", json_object_new_int64((int64_t) rl.rlim_cur));
        }
        add_str(o, "commit", getenv("FEXITD_BENCH_COMMIT"));
        add_str(o, "note", getenv("FEXITD_BENCH_NOTE"));
        return o;
}

const char *json_str(json_object *o, const char *key, const char *def) {
        json_object *v;

        return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ?
                json_object_get_string(v) : def;
}

double json_num(json_object *o, const char *key, double def) {
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v))
                return def;
        if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))
                return json_object_get_double(v);
        return def;
}

/* ---- this and other processes, from /proc ---- */

uint64_t proc_main_thread_cpu_ns(pid_t pid) {
        unsigned long long ns = 0;
        char path[64];
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/schedstat", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return 0;
        if (fscanf(f, "%llu", &ns) != 1)
                ns = 0;
        fclose(f);
        return ns;
}

int proc_rss_breakdown(pid_t pid, long *ret_heap, long *ret_anon_maps, long *ret_file) {
        long heap = 0, anon = 0, file = 0, *cur = &anon, kib;
        char path[64], line[512];
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/smaps", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                char name[256] = "";
                unsigned long a, b;

                /* a mapping's header starts with its address in lower-case hex; fields ("Rss:")
                 * start with an upper-case letter */
                if (((line[0] >= '0' && line[0] <= '9') || (line[0] >= 'a' && line[0] <= 'f')) &&
                    sscanf(line, "%lx-%lx %*s %*s %*s %*s %255s", &a, &b, name) >= 2) {
                        cur = strcmp(name, "[heap]") == 0 ? &heap : name[0] == '/' ? &file : &anon;
                        continue;
                }
                if (sscanf(line, "Rss: %ld kB", &kib) == 1)
                        *cur += kib;
        }
        fclose(f);
        *ret_heap = heap;
        *ret_anon_maps = anon;
        *ret_file = file;
        return 0;
}

int proc_rss_kib(pid_t pid, long *ret_rss, long *ret_anon) {
        char path[64], line[256];
        long rss = -1, anon = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                (void) sscanf(line, "VmRSS: %ld", &rss);
                (void) sscanf(line, "RssAnon: %ld", &anon);
        }
        fclose(f);
        if (rss < 0)
                return -ENODATA;
        *ret_rss = rss;
        if (ret_anon)
                *ret_anon = anon;
        return 0;
}
