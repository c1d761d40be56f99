# Unit tests of the policy file parser and evaluator (daemon/policy.c; label unit). Included from
# tests/unit/CMakeLists.txt. Resolves root, daemon, nobody, nogroup and adm through NSS, which
# every Debian system has. Links the policy alone (fexitd_policy): no json-c, no libsystemd.
add_executable(test-policy ${CMAKE_CURRENT_LIST_DIR}/test-policy.c)
target_link_libraries(test-policy PRIVATE fexitd_policy fexitd_check_main)
add_test(NAME test-policy COMMAND test-policy)
set_tests_properties(test-policy PROPERTIES LABELS unit TIMEOUT 120)
