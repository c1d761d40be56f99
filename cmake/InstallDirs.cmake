# Install folders that follow the prefix (docs/packaging.md).
#
# fexitd_install_destination(OUT PATH): the install(DESTINATION) for the absolute folder PATH.
# A folder under CMAKE_INSTALL_PREFIX becomes relative to it, so that `cmake --install --prefix`
# and DESTDIR both move it; a folder outside the prefix (systemd's own /lib/systemd/system on
# Debian 12, /etc) stays absolute and moves only with DESTDIR.
function(fexitd_install_destination out path)
  string(LENGTH "${CMAKE_INSTALL_PREFIX}/" prefix_len)
  string(FIND "${path}/" "${CMAKE_INSTALL_PREFIX}/" pos)
  if(pos EQUAL 0 AND NOT CMAKE_INSTALL_PREFIX STREQUAL "/")
    string(SUBSTRING "${path}" ${prefix_len} -1 rel)
    if(rel STREQUAL "")
      set(rel ".")
    endif()
    set(${out} "${rel}" PARENT_SCOPE)
  else()
    set(${out} "${path}" PARENT_SCOPE)
  endif()
endfunction()

# fexitd_pkg_config_dir(OUT MODULE VARIABLE FALLBACK): MODULE's pkg-config VARIABLE evaluated
# with our prefix, as meson-based projects do (pkg_get_variable's DEFINE_VARIABLES needs CMake
# 3.28). When MODULE's own prefix is ours, its layout stands as it is: Debian 12's systemd puts
# units in /lib/systemd/system for prefix /usr. Otherwise prefix, systemd's root prefix and
# datadir are redefined, so --prefix /opt/fexitd gets /opt/fexitd/lib/systemd/system. Without MODULE's
# .pc file, OUT is ${CMAKE_INSTALL_PREFIX}/FALLBACK and the caller says so.
# An OUT already set (a -D on the command line) wins.
function(fexitd_pkg_config_dir out module variable fallback)
  if(DEFINED ${out})
    return()
  endif()
  set(dir "")
  pkg_get_variable(module_prefix ${module} prefix)
  if(module_prefix)
    set(defs "")
    if(NOT module_prefix STREQUAL CMAKE_INSTALL_PREFIX)
      foreach(var IN ITEMS prefix root_prefix rootprefix)
        list(APPEND defs "--define-variable=${var}=${CMAKE_INSTALL_PREFIX}")
      endforeach()
      # bash-completion.pc spells datadir out (/usr/share) instead of deriving it.
      list(APPEND defs "--define-variable=datadir=${CMAKE_INSTALL_FULL_DATADIR}")
    endif()
    execute_process(COMMAND ${PKG_CONFIG_EXECUTABLE} ${defs} --variable=${variable} ${module}
                    OUTPUT_VARIABLE dir OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      set(dir "")
    endif()
  endif()
  if(dir STREQUAL "")
    set(dir "${CMAKE_INSTALL_PREFIX}/${fallback}")
  endif()
  set(${out} "${dir}" PARENT_SCOPE)
endfunction()
