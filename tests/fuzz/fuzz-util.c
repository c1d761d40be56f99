/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tests/fuzz/fuzz-util.h"

#if defined(__x86_64__)
#  define FUZZ_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#  define FUZZ_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#  error "fuzz_deny_bpf(): add this architecture's AUDIT_ARCH_*"
#endif

#define X32_SYSCALL_BIT_ 0x40000000u

static int diag_fd = 2;

/* Before main(), so before libFuzzer can close stderr. */
__attribute__((constructor)) static void diag_open(void) {
        int fd = fcntl(2, F_DUPFD_CLOEXEC, 3);

        if (fd >= 0)
                diag_fd = fd;
}

static void note(const char *fmt, va_list ap) {
        char buf[8192];

        vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
        strcat(buf, "\n");
        (void) !write(diag_fd, buf, strlen(buf));
}

void fuzz_note(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        note(fmt, ap);
        va_end(ap);
}

void fuzz_fail(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        note(fmt, ap);
        va_end(ap);
        abort();
}

static void die(const char *what) {
        fuzz_fail("fuzz: %s: %s", what, strerror(errno));
}

void fuzz_deny_bpf(void) {
        struct sock_filter filter[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FUZZ_AUDIT_ARCH, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),   /* no other ABI */
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT_, 2, 0),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_bpf, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        };
        struct sock_fprog prog = { .len = sizeof(filter) / sizeof(filter[0]), .filter = filter };

        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                die("PR_SET_NO_NEW_PRIVS");
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0)
                die("seccomp");
        /* Prove it: a bpf() call that would otherwise succeed for root (BPF_PROG_GET_NEXT_ID). */
        char attr[128] = {};
        if (syscall(__NR_bpf, 11, attr, sizeof(attr)) != -1 || errno != EPERM)
                fuzz_fail("fuzz: bpf() is still allowed after the seccomp filter");
}

int fuzz_fd_count(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        int n = 0;

        if (!d)
                die("/proc/self/fd");
        while ((de = readdir(d)))
                n += de->d_name[0] != '.';
        closedir(d);
        return n - 1;   /* the directory's own fd */
}

void fuzz_check_fds(int before, const char *target) {
        int after = fuzz_fd_count();

        if (after > before) {
                char cmd[64];
                snprintf(cmd, sizeof(cmd), "ls -l /proc/%d/fd >&%d", (int) getpid(), diag_fd);
                (void) !system(cmd);
                fuzz_fail("fuzz-%s: fd leak: %d open before the input, %d after", target, before, after);
        }
}

uint8_t fuzz_u8(struct fuzz_input *in) {
        if (in->n == 0)
                return 0;
        in->n--;
        return *in->p++;
}

uint16_t fuzz_u16(struct fuzz_input *in) {
        uint16_t hi = fuzz_u8(in);

        return (uint16_t) (hi << 8 | fuzz_u8(in));
}

size_t fuzz_take_until_nul(struct fuzz_input *in, const uint8_t **ret) {
        const uint8_t *nul = memchr(in->p, 0, in->n);
        size_t len = nul ? (size_t) (nul - in->p) : in->n;

        *ret = in->p;
        in->p += len + (nul ? 1 : 0);
        in->n -= len + (nul ? 1 : 0);
        return len;
}

static char scratch[256];

static void scratch_remove(void) {
        char cmd[300];

        if (!*scratch)
                return;
        snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", scratch);
        (void) system(cmd);
}

const char *fuzz_scratch_dir(void) {
        const char *tmp = getenv("TMPDIR");

        if (*scratch)
                return scratch;
        /* tmpfs if there is one: the daemon fsyncs its state file after every change */
        if (!tmp || !*tmp)
                tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(scratch, sizeof(scratch), "%s/fexitd-fuzz.XXXXXX", tmp);
        if (!mkdtemp(scratch))
                die("mkdtemp");
        atexit(scratch_remove);
        return scratch;
}

void fuzz_write_file(const char *dir, const char *name, const void *data, size_t len) {
        char path[4096];
        int fd;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                die(path);
        for (size_t off = 0; off < len;) {
                ssize_t n = write(fd, (const char *) data + off, len - off);
                if (n < 0)
                        die(path);
                off += (size_t) n;
        }
        close(fd);
}

void fuzz_empty_dir(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
}

void fuzz_mkdir(const char *dir, const char *name, char *ret_path, size_t size) {
        if ((size_t) snprintf(ret_path, size, "%s/%s", dir, name) >= size)
                die("path too long");
        if (mkdir(ret_path, 0700) < 0 && errno != EEXIST)
                die(ret_path);
}

int fuzz_memfd(const void *data, size_t len) {
        int fd = memfd_create("fuzz", MFD_CLOEXEC);

        if (fd < 0)
                die("memfd_create");
        for (size_t off = 0; off < len;) {
                ssize_t n = pwrite(fd, (const char *) data + off, len - off, (off_t) off);
                if (n < 0)
                        die("memfd write");
                off += (size_t) n;
        }
        return fd;
}
