/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/btf.h>

#include "common/macro.h"
#include "daemon/bpf-backend.h"
#include "daemon/bpf-internal.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(Elf *, elf_end);

/* Reading and checking the object ------------------------------------------------------------ */

int bb_object_read(int fd, char **ret, size_t *ret_size, struct bb_error *e) {
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t n = 0;

        if (fd < 0 || fstat(fd, &st) < 0)
                return bb_fail(e, BB_ERR_INVALID_OBJECT, fd < 0 ? -EBADF : -errno, NULL, NULL,
                               "the object's file descriptor is not valid");
        if (!S_ISREG(st.st_mode))
                return bb_fail(e, BB_ERR_INVALID_OBJECT, -EBADFD, NULL, NULL,
                               "the object must be passed as a regular file or memfd");
        if ((uint64_t) st.st_size > OBJECT_SIZE_MAX)
                return bb_fail(e, BB_ERR_INVALID_OBJECT, -EFBIG, NULL, NULL,
                               "the object is larger than %u MiB", OBJECT_SIZE_MAX >> 20);
        buf = malloc(st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (n < (size_t) st.st_size) {       /* pread: the client's file offset stays as it was */
                ssize_t k = pread(fd, buf + n, st.st_size - n, n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return bb_fail(e, BB_ERR_INVALID_OBJECT, -errno, NULL, NULL,
                                       "cannot read the object: %s", strerror(errno));
                if (k == 0)
                        break;
                n += k;
        }
        *ret = TAKE_PTR(buf);
        *ret_size = n;
        return 0;
}

/* Checks that every section lies inside the file (libelf does not, for memory images) and copies
 * the "license" section: instances loaded with bpf_prog_load() need the same one. */
/* libbpf 1.1 trusts an object's BTF: a name offset out of range reaches strcmp() as NULL
 * (find_extern_btf_id(), libbpf#682; validated only from libbpf 1.3). So every name a type,
 * member, parameter, enumerator or variable points at must resolve before libbpf sees it. */
static bool btf_name_ok(const struct btf *btf, uint32_t off) {
        return btf__name_by_offset(btf, off) != NULL;
}

static bool btf_type_names_ok(const struct btf *btf, const struct btf_type *t) {
        uint16_t vlen = btf_vlen(t);

        if (!btf_name_ok(btf, t->name_off))
                return false;
        switch (btf_kind(t)) {
        case BTF_KIND_STRUCT:
        case BTF_KIND_UNION:
                for (uint16_t i = 0; i < vlen; i++)
                        if (!btf_name_ok(btf, btf_members(t)[i].name_off))
                                return false;
                return true;
        case BTF_KIND_ENUM:
                for (uint16_t i = 0; i < vlen; i++)
                        if (!btf_name_ok(btf, btf_enum(t)[i].name_off))
                                return false;
                return true;
        case BTF_KIND_ENUM64:
                for (uint16_t i = 0; i < vlen; i++)
                        if (!btf_name_ok(btf, btf_enum64(t)[i].name_off))
                                return false;
                return true;
        case BTF_KIND_FUNC_PROTO:
                for (uint16_t i = 0; i < vlen; i++)
                        if (!btf_name_ok(btf, btf_params(t)[i].name_off))
                                return false;
                return true;
        default:
                return true;
        }
}

static int check_btf_section(const void *data, size_t size) {
        struct btf *btf = btf__new(data, (uint32_t) size);
        int r = 0;

        if (!btf || size > UINT32_MAX)
                return -EBADMSG;
        for (uint32_t id = 1; id < btf__type_cnt(btf) && r == 0; id++)
                if (!btf_type_names_ok(btf, btf__type_by_id(btf, id)))
                        r = -EBADMSG;
        btf__free(btf);
        return r;
}

/* Every section must lie inside the file, .BTF must be sound, and the license is returned. */
static int elf_sections(Elf *elf, size_t size, char **ret) {
        _cleanup_free_ char *license = NULL;
        Elf_Scn *scn = NULL;
        size_t shstrndx;

        if (elf_getshdrstrndx(elf, &shstrndx) < 0)
                return -EBADMSG;
        while ((scn = elf_nextscn(elf, scn))) {
                GElf_Shdr sh;
                const char *name;
                Elf_Data *d;

                if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstrndx, sh.sh_name)))
                        return -EBADMSG;
                if (sh.sh_type != SHT_NOBITS && (sh.sh_offset > size || sh.sh_size > size - sh.sh_offset))
                        return -EBADMSG;
                if (strcmp(name, ".BTF") == 0) {
                        d = elf_rawdata(scn, NULL);
                        if (!d || !d->d_buf || check_btf_section(d->d_buf, d->d_size) < 0)
                                return -EBADMSG;
                }
                if (strcmp(name, "license") != 0 || license)
                        continue;
                d = elf_rawdata(scn, NULL);
                if (!d || !d->d_buf || d->d_size == 0 || !memchr(d->d_buf, 0, d->d_size))
                        return -EBADMSG;
                license = strdup(d->d_buf);
                if (!license)
                        return -ENOMEM;
        }
        *ret = license ? TAKE_PTR(license) : strdup("");   /* libbpf's default, too */
        return *ret ? 0 : -ENOMEM;
}

int bb_object_check(char *buf, size_t size, char **ret_license, struct bb_error *e) {
        _cleanup_(elf_endp) Elf *elf = NULL;
        size_t n_sections = 0;
        GElf_Ehdr eh;

        if (size < EI_NIDENT || memcmp(buf, ELFMAG, SELFMAG) != 0)
                return bb_fail(e, BB_ERR_INVALID_OBJECT, -ENOEXEC, NULL, NULL,
                               "not an ELF file (bad magic)");
        if (buf[EI_CLASS] != ELFCLASS64)
                return bb_fail(e, BB_ERR_INVALID_OBJECT, -ENOEXEC, NULL, NULL,
                               "not a 64-bit ELF object: BPF objects are ELFCLASS64");
        /* Refused before libelf sees it: converting byte order could rewrite the buffer. */
        if (buf[EI_DATA] != (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB))
                return bb_fail(e, BB_ERR_INVALID_OBJECT, -ENOEXEC, NULL, NULL,
                               "the object's byte order does not match this machine (bpfel/bpfeb)");
        elf = elf_memory(buf, size);
        if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh))
                return bb_fail(e, BB_ERR_INVALID_OBJECT, -ENOEXEC, NULL, NULL,
                               "corrupt ELF object: %s", elf_errmsg(-1));
        if (eh.e_machine != EM_BPF)
                return bb_fail(e, BB_ERR_INVALID_OBJECT, -ENOEXEC, NULL, NULL,
                               "not a BPF object: ELF machine is %u, expected EM_BPF (%u)",
                               eh.e_machine, EM_BPF);
        if (eh.e_type != ET_REL)
                return bb_fail(e, BB_ERR_INVALID_OBJECT, -ENOEXEC, NULL, NULL,
                               "not a relocatable BPF object (ELF type %u): pass the .bpf.o clang wrote",
                               eh.e_type);
        if (eh.e_shoff == 0 || eh.e_shoff > size ||
            (uint64_t) eh.e_shnum * eh.e_shentsize > size - eh.e_shoff ||
            elf_getshdrnum(elf, &n_sections) < 0 || n_sections < 2)
                return bb_fail(e, BB_ERR_INVALID_OBJECT, -EBADMSG, NULL, NULL,
                               "corrupt ELF object: the section table is missing or truncated");
        if (elf_sections(elf, size, ret_license) < 0)
                return bb_fail(e, BB_ERR_INVALID_OBJECT, -EBADMSG, NULL, NULL,
                               "corrupt ELF object: a section lies outside the file or the license "
                               "section is not a string");
        return 0;
}
