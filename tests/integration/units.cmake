# Included from tests/integration/CMakeLists.txt: offline checks of the generated systemd units
# (verify, sysusers/tmpfiles syntax, exposure score <= 2.5). See tests/integration/test-units.sh.
add_test(NAME integration.units
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/test-units.sh ${CMAKE_BINARY_DIR}/systemd
                 ${CMAKE_SOURCE_DIR}/systemd)
set_tests_properties(integration.units PROPERTIES LABELS integration SKIP_RETURN_CODE 77)
