# Unit tests of the policy file parser and evaluator (daemon/policy.c; label unit). Included from
# tests/unit/CMakeLists.txt. Resolves root, daemon, nobody, nogroup and adm through NSS, which
# every Debian system has. Links fexitd_core once policy.c is part of it, else builds policy.c in.
add_executable(test-policy ${CMAKE_CURRENT_LIST_DIR}/test-policy.c)
get_target_property(_fexitd_core_sources fexitd_core SOURCES)
if("policy.c" IN_LIST _fexitd_core_sources)
  target_link_libraries(test-policy PRIVATE fexitd_core fexitd_check_main)
else()
  target_sources(test-policy PRIVATE ${CMAKE_SOURCE_DIR}/daemon/policy.c)
  # policy.c includes daemon/server.h, whose headers come from these
  target_link_libraries(test-policy PRIVATE fexitd_check_main PkgConfig::JSONC PkgConfig::LIBSYSTEMD)
endif()
add_test(NAME test-policy COMMAND test-policy)
set_tests_properties(test-policy PROPERTIES LABELS unit TIMEOUT 120)
