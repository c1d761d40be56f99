# The BPF backend on a real kernel: tests/kernel/test-bpf-backend.c and its BPF objects
# (tests/bpf/backend_*.bpf.c). Include it after add_subdirectory(bpf): objects tests/bpf already
# builds (backend_xdp, backend_bad) are used from there, the others are built here. On the build
# host the fexit parts are skipped (the host kernel refuses fexit with EPERM) and the test exits 77
# once the rest passed; tests/vm/cases/bpf-backend.sh runs the same binary in the guest.
set(_bb_targets)
foreach(_obj good bad xdp two multi args)
  if(NOT TARGET backend_${_obj}_bpf)
    fexitd_bpf_object(backend_${_obj} ${CMAKE_CURRENT_LIST_DIR}/../bpf/backend_${_obj}.bpf.c)
  endif()
  list(APPEND _bb_targets backend_${_obj}_bpf)
endforeach()

add_executable(test-bpf-backend ${CMAKE_CURRENT_LIST_DIR}/test-bpf-backend.c)
target_link_libraries(test-bpf-backend PRIVATE fexitd_backend)
target_compile_definitions(test-bpf-backend PRIVATE BACKEND_BPF_DIR="${CMAKE_CURRENT_BINARY_DIR}")
add_dependencies(test-bpf-backend ${_bb_targets})

# Objects may live here or in tests/bpf's build folder: the test searches both.
add_test(NAME bpf-backend
         COMMAND test-bpf-backend ${CMAKE_CURRENT_BINARY_DIR} ${CMAKE_BINARY_DIR}/tests/bpf)
set_tests_properties(bpf-backend PROPERTIES LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 120)
