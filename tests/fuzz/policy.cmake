# libFuzzer target for the policy parser (daemon/policy.c), built only with clang and
# -DFEXITD_FUZZ=ON. Included from tests/fuzz/CMakeLists.txt, which defines fexitd_fuzz_target()
# and the instrumented twin fexitd_policy_fuzz; included anywhere else, it builds the target alone.
# Run it by hand (docs/security.md):
#   fuzz-policy -dict=tests/fuzz/policy.dict -max_total_time=120 NEW_DIR tests/fuzz/corpus/policy
# CTest (label fuzz) only replays the seed corpus, so a fix that breaks a seed shows at once.
option(FEXITD_FUZZ "Build the libFuzzer targets (clang only)" OFF)

if(COMMAND fexitd_fuzz_target)
  fexitd_fuzz_target(policy fexitd_policy_fuzz)
elseif(FEXITD_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
  set(_policy_fuzz_flags -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
                         -fno-omit-frame-pointer)
  add_executable(fuzz-policy ${CMAKE_CURRENT_LIST_DIR}/fuzz-policy.c ${CMAKE_SOURCE_DIR}/daemon/policy.c)
  target_compile_options(fuzz-policy PRIVATE ${_policy_fuzz_flags})
  target_link_options(fuzz-policy PRIVATE ${_policy_fuzz_flags})
elseif(FEXITD_FUZZ)
  message(WARNING "FEXITD_FUZZ needs clang (CMAKE_C_COMPILER=clang); fuzz-policy is not built")
endif()

if(TARGET fuzz-policy)
  file(GLOB _policy_seeds ${CMAKE_CURRENT_LIST_DIR}/corpus/policy/*)
  add_test(NAME fuzz-policy-corpus COMMAND fuzz-policy ${_policy_seeds})
  set_tests_properties(fuzz-policy-corpus PROPERTIES LABELS fuzz TIMEOUT 120)
endif()
