/* SPDX-License-Identifier: MIT */
#pragma once

/* A peer's end of fd passing over a Unix socket, for tests that must control exactly what goes
 * on the wire (tests/lib/scm-rights.c): one sendmsg() or recvmsg() per call, fds as one
 * SCM_RIGHTS message. Independent of common/varlink-io, which several of these tests check. */

#include <stddef.h>
#include <sys/types.h>

/* The kernel's limit of fds in one SCM_RIGHTS message (SCM_MAX_FD). */
#define TEST_SCM_FDS_MAX 253

/* Sends up to len bytes of buf with the n_fds fds in one sendmsg(fd, flags | MSG_NOSIGNAL); the
 * fds stay open here. Returns the bytes sent (a stream socket may take fewer) or -errno. */
ssize_t scm_send(int fd, const void *buf, size_t len, const int *fds, size_t n_fds, int flags);

/* Receives up to len bytes in one recvmsg(MSG_CMSG_CLOEXEC), appending the fds that came with
 * them to fds[*n_fds], of max_fds in all. Returns the bytes received (0: end of stream) or
 * -errno; -EMSGSIZE when more fds came than fit, all of that message's fds closed. */
ssize_t scm_recv(int fd, void *buf, size_t len, int *fds, size_t max_fds, size_t *n_fds);
