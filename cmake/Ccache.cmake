# Uses ccache when it is installed. Precompiled headers need the sloppiness below, or ccache never hits;
# the base directory makes paths relative, so a fresh clone elsewhere hits the cache of an older one.
find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(ccache_launcher ${CMAKE_COMMAND} -E env
      CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
      CCACHE_BASEDIR=${PROJECT_SOURCE_DIR} CCACHE_MAXSIZE=5G ${CCACHE_PROGRAM})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${ccache_launcher})
  message(STATUS "tailor: compiling through ccache (${CCACHE_PROGRAM})")
else()
  message(STATUS "tailor: ccache not found; rebuilds will be slower (apt-get install ccache)")
endif()
