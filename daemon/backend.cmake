# The BPF backend: the only code that calls bpf()/libbpf, and its BTF name index.
# Included from daemon/CMakeLists.txt; the daemon and the tests link fexitd_backend.
add_library(fexitd_backend STATIC
  ${CMAKE_CURRENT_LIST_DIR}/bpf-errors.c
  ${CMAKE_CURRENT_LIST_DIR}/bpf-object.c
  ${CMAKE_CURRENT_LIST_DIR}/bpf-plan.c
  ${CMAKE_CURRENT_LIST_DIR}/bpf-load.c
  ${CMAKE_CURRENT_LIST_DIR}/bpf-kernel.c
  ${CMAKE_CURRENT_LIST_DIR}/bpf-multi.c
  ${CMAKE_CURRENT_LIST_DIR}/bpf-probe.c
  ${CMAKE_CURRENT_LIST_DIR}/bpf-describe.c
  ${CMAKE_CURRENT_LIST_DIR}/btf-index.c
  ${CMAKE_CURRENT_LIST_DIR}/btf-rules.c
  ${CMAKE_CURRENT_LIST_DIR}/btf-system.c)
target_include_directories(fexitd_backend PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(fexitd_backend PUBLIC PkgConfig::LIBBPF PkgConfig::LIBELF Threads::Threads)
