/* SPDX-License-Identifier: MIT */
/* Helpers for the holder of a map fd received from the daemon. Everything here works without
 * privileges: OBJ_GET_INFO_BY_FD and mmap are allowed on fds one holds (KERNEL-NOTES.md). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "client/libfexit-internal.h"

static size_t round_up(size_t v, size_t to) {
        return (v + to - 1) / to * to;
}

FEXIT_API int fexit_map_mmap(int map_fd, void **ret_addr, size_t *ret_size) {
        struct bpf_map_info info = {};
        __u32 len = sizeof(info);
        size_t page = (size_t) sysconf(_SC_PAGESIZE), size;
        int prot = PROT_READ, flags, r;
        void *addr;

        if (map_fd < 0 || !ret_addr || !ret_size)
                return -EINVAL;
        r = bpf_obj_get_info_by_fd(map_fd, &info, &len);
        if (r < 0)
                return r;
        if (info.type != BPF_MAP_TYPE_ARRAY || !(info.map_flags & BPF_F_MMAPABLE))
                return -EOPNOTSUPP;
        flags = fcntl(map_fd, F_GETFL);
        if (flags < 0)
                return -errno;
        /* mmap(MAP_SHARED) of a file not open for writing drops VM_SHARED, which the kernel's
         * bpf_map_mmap() requires: a read-only map fd cannot be mapped at all (EINVAL). */
        if ((flags & O_ACCMODE) != O_RDWR) {
                fexit_debug("libfexit: map fd %d is not open read-write and cannot be mapped\n", map_fd);
                return -EACCES;
        }
        if (!(info.map_flags & BPF_F_RDONLY))
                prot |= PROT_WRITE;
        /* the kernel's layout of an mmap-able array, as libbpf's bpf_map_mmap_sz() computes it */
        size = round_up(round_up(info.value_size, 8) * info.max_entries, page);
        addr = mmap(NULL, size, prot, MAP_SHARED, map_fd, 0);
        if (addr == MAP_FAILED && (prot & PROT_WRITE) && (errno == EPERM || errno == EACCES)) {
                /* a frozen map (.rodata) refuses writable mappings */
                fexit_debug("libfexit: map is not writable, mapping it read-only\n");
                addr = mmap(NULL, size, PROT_READ, MAP_SHARED, map_fd, 0);
        }
        if (addr == MAP_FAILED)
                return -errno;
        *ret_addr = addr;
        *ret_size = size;
        return 0;
}

FEXIT_API int fexit_map_munmap(void *addr, size_t size) {
        if (!addr)
                return 0;
        return munmap(addr, size) < 0 ? -errno : 0;
}

FEXIT_API int fexit_map_read(int map_fd, uint32_t index, size_t size, void *ret_value) {
        struct bpf_map_info info = {};
        __u32 len = sizeof(info);
        int r;

        if (map_fd < 0 || !ret_value)
                return -EINVAL;
        r = bpf_obj_get_info_by_fd(map_fd, &info, &len);
        if (r < 0)
                return r;
        if (info.type != BPF_MAP_TYPE_ARRAY)
                return -EOPNOTSUPP;
        if (size < info.value_size)
                return -ENOBUFS;
        r = bpf_map_lookup_elem(map_fd, &index, ret_value);
        return r < 0 ? r : (int) info.value_size;
}

struct fexit_ringbuf {
        struct ring_buffer *rb;
        fexit_ringbuf_sample_fn fn;
        void *ctx;
};

/* libbpf's callback type differs from ours (non-const data): adapt it here. */
static int ringbuf_sample(void *ctx, void *data, size_t size) {
        struct fexit_ringbuf *r = ctx;

        return r->fn(r->ctx, data, size);
}

FEXIT_API int fexit_ringbuf_new(int map_fd, fexit_ringbuf_sample_fn fn, void *ctx,
                                struct fexit_ringbuf **ret) {
        struct fexit_ringbuf *r;

        if (map_fd < 0 || !fn || !ret)
                return -EINVAL;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        *r = (struct fexit_ringbuf) { .fn = fn, .ctx = ctx };
        r->rb = ring_buffer__new(map_fd, ringbuf_sample, r, NULL);
        if (!r->rb) {
                int err = errno ? -errno : -EINVAL;
                free(r);
                return err;
        }
        *ret = r;
        return 0;
}

FEXIT_API int fexit_ringbuf_epoll_fd(const struct fexit_ringbuf *rb) {
        return rb ? ring_buffer__epoll_fd(rb->rb) : -EINVAL;
}

FEXIT_API int fexit_ringbuf_poll(struct fexit_ringbuf *rb, int timeout_ms) {
        return rb ? ring_buffer__poll(rb->rb, timeout_ms) : -EINVAL;
}

FEXIT_API int fexit_ringbuf_consume(struct fexit_ringbuf *rb) {
        return rb ? ring_buffer__consume(rb->rb) : -EINVAL;
}

FEXIT_API struct fexit_ringbuf *fexit_ringbuf_free(struct fexit_ringbuf *rb) {
        if (rb) {
                ring_buffer__free(rb->rb);
                free(rb);
        }
        return NULL;
}
