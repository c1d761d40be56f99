# For a top-level CMakeLists.txt without add_subdirectory(bench) (older trees): passed as
# CMAKE_PROJECT_INCLUDE, it reads bench/CMakeLists.txt once the top level has been read to the
# end (deferred calls cannot add subdirectories, so it is included), so that bench/ sees the same
# targets, include paths and compile options as if it were listed there. A no-op where the top
# level lists bench/ itself.
if(NOT COMMAND fexitd_bench_standalone)
  function(fexitd_bench_standalone)
    if(NOT TARGET fexitd-bench)
      include(${CMAKE_SOURCE_DIR}/bench/CMakeLists.txt)
    endif()
  endfunction()
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL fexitd_bench_standalone)
endif()
