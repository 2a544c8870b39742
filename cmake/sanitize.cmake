# `make test-asan`: APIR_SANITIZE=ON builds all of our code with ASan + UBSan, and points the
# host side (libapir-host, apir-hostd, the unit tests that drive the dispatcher) at the
# instrumented ggml-base/ggml/ggml-cpu that scripts/deps-asan.sh builds: the guest is hostile,
# so what matters is that nothing it sends makes the host or the CPU kernels touch memory they
# should not. The guest side keeps linking the stock llama.cpp build it is loaded into.
#
# Defines APIR_HOST_GGML_BIN (where the host side finds ggml at link and run time), the
# imported targets apir-host-ggml-base / apir-host-ggml, and apir_host_side(targets...).
option(APIR_SANITIZE "ASan+UBSan on our code; the host side on APIR_SANITIZE_GGML_BIN" OFF)
set(APIR_SANITIZE_GGML_BIN "" CACHE PATH "ggml built with the sanitizers (scripts/deps-asan.sh)")

if(APIR_SANITIZE)
  if(NOT EXISTS "${APIR_SANITIZE_GGML_BIN}/libggml-cpu.so")
    message(FATAL_ERROR "APIR_SANITIZE needs APIR_SANITIZE_GGML_BIN (run: make test-asan)")
  endif()
  if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    # Like deps-asan.sh's ggml: clang's shared runtime, one for the whole process, whose UBSan
    # honours log_path (gcc's writes to stderr, where a background process's report is lost).
    message(FATAL_ERROR "APIR_SANITIZE needs clang (-DCMAKE_C_COMPILER=clang)")
  endif()
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-runtime-dir
    OUTPUT_VARIABLE APIR_SANITIZE_RTDIR OUTPUT_STRIP_TRAILING_WHITESPACE)
  # Loaded first into the stock (uninstrumented) processes that load our instrumented code:
  # llama.cpp's tools with the guest plugin, virgl_test_server with libapir-host.
  set(APIR_SANITIZE_RUNTIME "${APIR_SANITIZE_RTDIR}/libclang_rt.asan-x86_64.so")
  if(NOT EXISTS "${APIR_SANITIZE_RUNTIME}")
    message(FATAL_ERROR "no ${APIR_SANITIZE_RUNTIME} (libclang-rt-14-dev)")
  endif()
  # Recovery off: any report ends the process, so no finding can scroll by in a passing test.
  set(APIR_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all
    -fno-omit-frame-pointer -shared-libasan)
  add_compile_options(${APIR_SANITIZE_FLAGS})
  add_compile_definitions(APIR_SANITIZE) # src/hostd/sanitize_hook.c
  add_link_options(${APIR_SANITIZE_FLAGS} -Wl,-rpath,${APIR_SANITIZE_RTDIR})
  set(APIR_HOST_GGML_BIN "${APIR_SANITIZE_GGML_BIN}")
else()
  set(APIR_HOST_GGML_BIN "${LLAMA_CPP_BIN}")
endif()

add_library(apir-host-ggml-base SHARED IMPORTED)
set_target_properties(apir-host-ggml-base PROPERTIES
  IMPORTED_LOCATION "${APIR_HOST_GGML_BIN}/libggml-base.so"
  INTERFACE_INCLUDE_DIRECTORIES "${LLAMA_CPP_DIR}/ggml/include;${LLAMA_CPP_DIR}/ggml/src")
add_library(apir-host-ggml SHARED IMPORTED)
set_target_properties(apir-host-ggml PROPERTIES
  IMPORTED_LOCATION "${APIR_HOST_GGML_BIN}/libggml.so" INTERFACE_LINK_LIBRARIES apir-host-ggml-base)

# Host-side binaries find APIR_HOST_GGML_BIN's libraries at run time, and only those (both
# builds hold a libggml.so.0: the first directory searched would win).
function(apir_host_side)
  set_target_properties(${ARGN} PROPERTIES BUILD_RPATH "${APIR_HOST_GGML_BIN}")
endfunction()
