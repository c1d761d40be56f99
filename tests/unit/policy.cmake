# Unit tests of the policy file parser and evaluator (daemon/policy.c; label unit). Included from
# tests/unit/CMakeLists.txt. Resolves root, daemon, nobody, nogroup and adm through NSS, which
# every Debian system has. Links the policy alone (fexitd_policy): no json-c, no libsystemd.
add_executable(test-policy ${CMAKE_CURRENT_LIST_DIR}/test-policy.c)
target_link_libraries(test-policy PRIVATE fexitd_policy fexitd_check_main)
add_test(NAME test-policy COMMAND test-policy)
set_tests_properties(test-policy PROPERTIES LABELS unit TIMEOUT 120)

# ... and proves it: every library test-policy links, followed through the targets that name
# others, must be neither json-c nor libsystemd (an imported target or the file it stands for).
# It fails once the policy or a library it links gains either.
function(fexitd_link_closure target ret)
  set(_seen)
  set(_todo ${target})
  while(_todo)
    list(POP_FRONT _todo _t)
    string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" _t "${_t}")
    if(_t IN_LIST _seen)
      continue()
    endif()
    list(APPEND _seen ${_t})
    if(NOT TARGET ${_t})
      continue()
    endif()
    get_target_property(_type ${_t} TYPE)
    foreach(_prop LINK_LIBRARIES INTERFACE_LINK_LIBRARIES)
      if(NOT (_type STREQUAL "INTERFACE_LIBRARY" AND _prop STREQUAL "LINK_LIBRARIES"))
        get_target_property(_libs ${_t} ${_prop})
        if(_libs)
          list(APPEND _todo ${_libs})
        endif()
      endif()
    endforeach()
  endwhile()
  set(${ret} ${_seen} PARENT_SCOPE)
endfunction()

fexitd_link_closure(test-policy _policy_links)
list(JOIN _policy_links " " _policy_links)
add_test(NAME unit.policy-links
         COMMAND sh -c "echo 'test-policy links:' \"$1\"; ! echo \"$1\" | grep -Ei 'json-c|jsonc|systemd'"
                 sh "${_policy_links}")
set_tests_properties(unit.policy-links PROPERTIES LABELS unit)
