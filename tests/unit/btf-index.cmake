# Unit tests of the BTF name index and the function policy (deny list, argument limits).
# Included from tests/unit/CMakeLists.txt. Reads the build host's /sys/kernel/btf/vmlinux where
# present and skips those cases otherwise.
add_executable(test-btf-index ${CMAKE_CURRENT_LIST_DIR}/test-btf-index.c)
target_link_libraries(test-btf-index PRIVATE fexitd_backend fexitd_check_main)
add_test(NAME btf-index COMMAND test-btf-index)
set_tests_properties(btf-index PROPERTIES LABELS unit)
