# Used by bench/run while the top-level CMakeLists.txt does not add_subdirectory(bench) yet:
# passed as CMAKE_PROJECT_INCLUDE, it reads bench/CMakeLists.txt once the top level has been read
# to the end (deferred calls cannot add subdirectories, so it is included), so that bench/ sees
# the same targets, include paths and compile options as if it were listed there.
if(NOT FEXITD_BENCH_DEFERRED)
  set(FEXITD_BENCH_DEFERRED ON)
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL include ${CMAKE_SOURCE_DIR}/bench/CMakeLists.txt)
endif()
