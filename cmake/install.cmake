# `cmake --install`: the host library, the public headers, apir-hostd and the tools, the guest
# plugin, a CMake package (find_package(ggml-apir)), a pkg-config file (ggml-apir.pc) and
# systemd user units for apir-hostd. Included from the top-level CMakeLists.txt.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# ggml's loader (ggml_backend_load_all) only looks for the backends it knows by name, so no
# directory makes it find libggml-apir.so: applications load it with GGML_BACKEND_PATH or
# ggml_backend_load(). It gets a directory of its own, apart from libraries one links.
set(APIR_INSTALL_PLUGINDIR "${CMAKE_INSTALL_LIBDIR}/ggml-apir" CACHE STRING
  "where libggml-apir.so is installed, relative to the prefix")
# Not CMAKE_INSTALL_LIBDIR: systemd looks in <prefix>/lib/systemd/user, never in a multiarch
# lib directory.
set(APIR_INSTALL_USERUNITDIR "lib/systemd/user" CACHE STRING
  "where the systemd user units are installed, relative to the prefix")
set(APIR_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/ggml-apir")

# The tools installed beside the daemon; a new tool is one more name here.
set(APIR_INSTALL_TOOLS apir-generate apir-bench apir-mkmodel apir-info)

set_target_properties(apir-host PROPERTIES VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR})
target_include_directories(apir-host INTERFACE $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
set_target_properties(ggml-apir PROPERTIES EXPORT_NAME plugin)

install(TARGETS apir-host apir-hostd EXPORT ggml-apir-targets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS ggml-apir EXPORT ggml-apir-targets LIBRARY DESTINATION ${APIR_INSTALL_PLUGINDIR})
install(TARGETS ${APIR_INSTALL_TOOLS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES include/apir/host.h include/apir/protocol.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/apir)
install(FILES include/ggml-apir.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(EXPORT ggml-apir-targets NAMESPACE ggml-apir:: DESTINATION ${APIR_INSTALL_CMAKEDIR})
configure_package_config_file(cmake/ggml-apirConfig.cmake.in
  ${CMAKE_BINARY_DIR}/ggml-apirConfig.cmake INSTALL_DESTINATION ${APIR_INSTALL_CMAKEDIR}
  PATH_VARS APIR_INSTALL_PLUGINDIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/ggml-apirConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/ggml-apirConfig.cmake
  ${CMAKE_BINARY_DIR}/ggml-apirConfigVersion.cmake DESTINATION ${APIR_INSTALL_CMAKEDIR})

# The pkg-config file and the service name absolute paths, so they are written at install
# time, when the prefix (`cmake --install --prefix P`) is known.
install(CODE "
  set(APIR_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(APIR_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  set(APIR_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(APIR_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  set(APIR_PLUGINDIR \"${APIR_INSTALL_PLUGINDIR}\")
  set(APIR_VERSION \"${PROJECT_VERSION}\")
  configure_file(\"${CMAKE_SOURCE_DIR}/cmake/ggml-apir.pc.in\"
    \"${CMAKE_BINARY_DIR}/dist/ggml-apir.pc\" @ONLY)
  configure_file(\"${CMAKE_SOURCE_DIR}/dist/systemd/apir-hostd.service.in\"
    \"${CMAKE_BINARY_DIR}/dist/apir-hostd.service\" @ONLY)
")
install(FILES ${CMAKE_BINARY_DIR}/dist/ggml-apir.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(FILES ${CMAKE_BINARY_DIR}/dist/apir-hostd.service dist/systemd/apir-hostd.socket
  DESTINATION ${APIR_INSTALL_USERUNITDIR})
