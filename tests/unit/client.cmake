# Unit tests of the client side and of common/ (label unit). Included from
# tests/unit/CMakeLists.txt; paths are relative to this file.

function(fexit_client_unit_test name)
  add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.c)
  target_link_libraries(${name} PRIVATE ${ARGN} fexitd_check_main Threads::Threads)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT 120)
endfunction()

fexit_client_unit_test(test-varlink-io fexit_common fexitd_test_scm)
fexit_client_unit_test(test-varlink-json fexit_common)
fexit_client_unit_test(test-fexitctl-args fexitctl_core)
# libfexit through its exported API only, against a fake peer that checks the bytes and fds it
# receives (the encoding of each call), not a mock of the daemon.
fexit_client_unit_test(test-libfexit fexit fexitd_test_scm)
# Needs bpf() for maps (CAP_BPF); exits 77 (skipped) without it.
fexit_client_unit_test(test-libfexit-maps fexit PkgConfig::LIBBPF)
set_tests_properties(test-libfexit-maps PROPERTIES SKIP_RETURN_CODE 77)
