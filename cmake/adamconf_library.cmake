# adamconf_library(NAME SOURCES src... [PUBLIC lib...] [PRIVATE lib...] [NO_PCH]):
# a library of this project: its sources, its include/ folder (installed as
# include/), what it links, and the precompiled Boost.Multiprecision header
# (reference/CMakeLists.txt) unless NO_PCH (a library without Boost, util/).
function(adamconf_library name)
  cmake_parse_arguments(arg "NO_PCH" "" "SOURCES;PUBLIC;PRIVATE" ${ARGN})
  add_library(${name} ${arg_SOURCES})
  target_include_directories(${name} PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
                                            $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${name} PUBLIC ${arg_PUBLIC} PRIVATE ${arg_PRIVATE})
  if(NOT arg_NO_PCH)
    adamconf_use_pch(${name})
  endif()
endfunction()

# Targets that reuse the precompiled header built with adamconf_reference.
function(adamconf_use_pch target)
  set_property(GLOBAL APPEND PROPERTY ADAMCONF_PCH_USERS ${target})
endfunction()
