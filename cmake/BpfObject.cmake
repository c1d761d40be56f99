# fexitd_bpf_object(NAME SOURCE): compile SOURCE with clang -target bpf into
# ${CMAKE_CURRENT_BINARY_DIR}/NAME.bpf.o, against a vmlinux.h generated once per build tree from
# the build host's BTF (CO-RE relocations make the object portable to the guest's kernel).
find_program(BPFTOOL bpftool PATHS /usr/sbin /sbin REQUIRED)
find_program(BPF_CLANG NAMES clang clang-14 REQUIRED)
set(FEXITD_VMLINUX_H ${CMAKE_BINARY_DIR}/bpf/vmlinux.h)
if(NOT TARGET fexitd_vmlinux_h)
  add_custom_command(OUTPUT ${FEXITD_VMLINUX_H}
    COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/gen-vmlinux-h.sh ${BPFTOOL} ${FEXITD_VMLINUX_H}
    VERBATIM
    COMMENT "Generating vmlinux.h from /sys/kernel/btf/vmlinux")
  add_custom_target(fexitd_vmlinux_h DEPENDS ${FEXITD_VMLINUX_H})
endif()

function(fexitd_bpf_object name src)
  get_filename_component(src_abs ${src} ABSOLUTE)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o)
  add_custom_command(OUTPUT ${out}
    COMMAND ${BPF_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_x86
            -I${CMAKE_BINARY_DIR}/bpf -I${CMAKE_SOURCE_DIR}/tests/bpf -c ${src_abs} -o ${out}
    DEPENDS ${src_abs} ${FEXITD_VMLINUX_H}
    COMMENT "BPF ${name}.bpf.o")
  add_custom_target(${name}_bpf ALL DEPENDS ${out})
  add_dependencies(${name}_bpf fexitd_vmlinux_h)
  set(${name}_BPF_OBJECT ${out} PARENT_SCOPE)
endfunction()
