/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Varlink framing over a non-blocking AF_UNIX stream socket: NUL-terminated messages, with file
 * descriptors riding as SCM_RIGHTS on the first byte of the message they belong to. Used by both
 * the daemon (one per connection) and the client library; it never blocks and never logs.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VL_MSG_MAX (1024 * 1024)   /* largest incoming message, NUL included */
#define VL_FDS_MAX 8               /* most fds one message may carry */

struct vl_infd {
        size_t pos;                /* offset in the input buffer of the chunk it came with */
        int fd;
};

struct vl_outmark {
        size_t pos;                /* offset in the output buffer of the message's first byte */
        int fds[VL_FDS_MAX];
        size_t n_fds;
};

struct vl_io {
        int fd;
        size_t max_in;             /* cap for one incoming message (default VL_MSG_MAX) */

        char *in;
        size_t in_len, in_cap, in_scanned;
        struct vl_infd in_fds[VL_FDS_MAX * 2];
        size_t n_in_fds;

        char *out;
        size_t out_pos, out_len, out_cap;
        struct vl_outmark *marks;
        size_t n_marks, marks_cap;
};

/* Takes ownership of fd. */
void vl_io_init(struct vl_io *io, int fd);
/* Closes the socket and every fd still queued in either direction. */
void vl_io_done(struct vl_io *io);

/* Reads what is available. Returns > 0 if bytes were read, 0 if nothing was available
 * (EAGAIN), -ECONNRESET at end of stream, -EPROTO if fds were truncated or too many arrived,
 * -EMSGSIZE if a message grows beyond max_in, other -errno on error. */
int vl_io_read(struct vl_io *io);

/* Extracts the next complete message. Returns 1 and a malloc'd NUL-terminated string plus the fds
 * that came with it (ownership passes to the caller; ret_fds must hold VL_FDS_MAX), 0 if no
 * complete message is buffered, -EMSGSIZE / -ENOMEM on error. */
int vl_io_next(struct vl_io *io, char **ret_msg, int *ret_fds, size_t *ret_n_fds);

/* True if a complete message is already buffered (vl_io_next would return 1). */
bool vl_io_has_message(struct vl_io *io);

/* Queues msg (without its NUL; one is appended) and fds, which the queue now owns: they are
 * closed once sent or when the io is freed. */
int vl_io_queue(struct vl_io *io, const char *msg, size_t len, int *fds, size_t n_fds);

/* Writes what the socket takes. Returns > 0 if progress was made, 0 if nothing is queued or the
 * socket is full, -EPIPE/-ECONNRESET if the peer is gone, other -errno on error. */
int vl_io_write(struct vl_io *io);

/* Bytes of memory the buffers hold (their capacity, not their content). */
size_t vl_io_footprint(const struct vl_io *io);
/* Gives back large buffers that are empty: one big message must not pin its buffer forever. */
void vl_io_trim(struct vl_io *io);
/* Discards buffered input and closes the fds that came with it. */
void vl_io_drop_input(struct vl_io *io);

static inline size_t vl_io_out_pending(const struct vl_io *io) {
        return io->out_len - io->out_pos;
}

static inline bool vl_io_want_write(const struct vl_io *io) {
        return io->out_pos < io->out_len;
}

/* False while a message is sent in part: bytes sent on the socket now would land inside it. */
static inline bool vl_io_out_whole(const struct vl_io *io) {
        return io->out_pos == 0 || io->out[io->out_pos - 1] == 0;
}

/* Connects a non-blocking, close-on-exec stream socket to path. Returns the fd or -errno. */
int vl_connect(const char *path);
