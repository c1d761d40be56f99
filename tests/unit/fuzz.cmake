# The fuzz targets' harnesses without libFuzzer, in the ordinary build (label unit): they replay
# the seed corpora and the inputs that once crashed a target (tests/fuzz/regressions/).
# Included from tests/unit/CMakeLists.txt; docs/fuzzing.md.

set(_fuzz_dir ${PROJECT_SOURCE_DIR}/tests/fuzz)
fexitd_unit_test(test-fuzz-regressions fexitd_core fexitd_test_scm)
target_sources(test-fuzz-regressions PRIVATE ${_fuzz_dir}/fuzz-util.c ${_fuzz_dir}/fuzz-server.c
               ${_fuzz_dir}/fuzz-idl.c)
target_compile_definitions(test-fuzz-regressions PRIVATE FUZZ_DIR="${_fuzz_dir}")
# Each harness keeps its libFuzzer entry points under names of its own.
foreach(_t framing requests programs-d state)
  string(REPLACE "-" "_" _id ${_t})
  add_library(fuzz_harness_${_id} OBJECT ${_fuzz_dir}/fuzz-${_t}.c)
  target_link_libraries(fuzz_harness_${_id} PRIVATE fexitd_core)
  target_compile_definitions(fuzz_harness_${_id} PRIVATE
                             LLVMFuzzerTestOneInput=fuzz_${_id}_one LLVMFuzzerInitialize=fuzz_${_id}_init)
  target_sources(test-fuzz-regressions PRIVATE $<TARGET_OBJECTS:fuzz_harness_${_id}>)
endforeach()
# The real ELF seeds walk the whole BTF path once each.
set_tests_properties(test-fuzz-regressions PROPERTIES TIMEOUT 600)
