# CUDA backend fragment (issue 4). The root CMakeLists includes this file; it never fails the CPU
# build: without nvcc, or without CuTe/CUTLASS headers, it says so in one line and sets
# CHELA_WITH_CUDA to OFF.
#
#   CUTLASS: -DCUTLASS_DIR=<checkout> or $CUTLASS_DIR (needs <dir>/include/cute/tensor.hpp); else
#            downloaded once into the build folder at the pinned tag (header-only; 60 s timeout;
#            -DCHELA_CUDA_FETCH_CUTLASS=OFF to never touch the network).
#   Targets: chela_cuda (static; PUBLIC define CHELA_WITH_CUDA), test_cuda_linear_attention (ctest
#            "cuda_linear_attention", skipped with exit code 77 when no GPU), chela_cuda_bench
#            (shared library for tools/device/bench_linear_attention.py).
#   Flags:   -gencode sm_90a and sm_80 (override with CHELA_CUDA_GENCODE), -O3, --expt-relaxed-constexpr.
set(CHELA_CUTLASS_TAG "v4.7.0" CACHE STRING "CUTLASS release tag fetched when CUTLASS_DIR is not given")
option(CHELA_CUDA_FETCH_CUTLASS "Download CUTLASS headers when CUTLASS_DIR is not set" ON)
set(CHELA_CUDA_GENCODE "-gencode=arch=compute_90a,code=sm_90a;-gencode=arch=compute_80,code=sm_80"
    CACHE STRING "nvcc -gencode flags of the CUDA backend")
set(CHELA_WITH_CUDA OFF)
get_filename_component(_chela_root "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)

include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  message(STATUS "chela: no nvcc: CPU-only build")
  return()
endif()

# ---- CuTe / CUTLASS headers
if(NOT CUTLASS_DIR AND DEFINED ENV{CUTLASS_DIR})
  set(CUTLASS_DIR "$ENV{CUTLASS_DIR}")
endif()
if(NOT CUTLASS_DIR AND CHELA_CUDA_FETCH_CUTLASS)
  set(_chela_cutlass_root "${CMAKE_BINARY_DIR}/_deps/cutlass-${CHELA_CUTLASS_TAG}")
  if(NOT EXISTS "${_chela_cutlass_root}/include/cute/tensor.hpp")
    set(_tgz "${CMAKE_BINARY_DIR}/_deps/cutlass-${CHELA_CUTLASS_TAG}.tar.gz")
    file(DOWNLOAD "https://github.com/NVIDIA/cutlass/archive/refs/tags/${CHELA_CUTLASS_TAG}.tar.gz" "${_tgz}"
         TIMEOUT 60 INACTIVITY_TIMEOUT 15 STATUS _st)
    list(GET _st 0 _code)
    if(_code EQUAL 0)
      file(ARCHIVE_EXTRACT INPUT "${_tgz}" DESTINATION "${CMAKE_BINARY_DIR}/_deps" PATTERNS "*/include/*")
      string(REGEX REPLACE "^v" "" _ver "${CHELA_CUTLASS_TAG}")
      if(EXISTS "${CMAKE_BINARY_DIR}/_deps/cutlass-${_ver}/include/cute/tensor.hpp")
        file(RENAME "${CMAKE_BINARY_DIR}/_deps/cutlass-${_ver}" "${_chela_cutlass_root}")
      endif()
    endif()
    file(REMOVE "${_tgz}")
  endif()
  if(EXISTS "${_chela_cutlass_root}/include/cute/tensor.hpp")
    set(CUTLASS_DIR "${_chela_cutlass_root}")
  endif()
endif()
if(NOT CUTLASS_DIR OR NOT EXISTS "${CUTLASS_DIR}/include/cute/tensor.hpp")
  message(STATUS "chela: nvcc found but no CuTe/CUTLASS headers (set CUTLASS_DIR): CPU-only build")
  return()
endif()

enable_language(CUDA)
if(CMAKE_CUDA_COMPILER_VERSION VERSION_LESS 12.3)
  message(STATUS "chela: nvcc ${CMAKE_CUDA_COMPILER_VERSION} < 12.3: CPU-only build")
  return()
endif()
set(CHELA_WITH_CUDA ON)
message(STATUS "chela: CUDA backend ON (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, CUTLASS ${CUTLASS_DIR})")

set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
file(GLOB CHELA_CUDA_SOURCES CONFIGURE_DEPENDS ${_chela_root}/native/cuda/*.cu)
add_library(chela_cuda STATIC ${CHELA_CUDA_SOURCES})
set_target_properties(chela_cuda PROPERTIES CUDA_ARCHITECTURES OFF POSITION_INDEPENDENT_CODE ON)
target_include_directories(chela_cuda PUBLIC ${_chela_root}/native ${_chela_root}/native/include
                                             ${_chela_root}/native/src)
target_include_directories(chela_cuda SYSTEM PRIVATE ${CUTLASS_DIR}/include)
target_compile_options(chela_cuda PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:-O3 --expt-relaxed-constexpr ${CHELA_CUDA_GENCODE} -Xcompiler=-fvisibility=hidden>)
target_compile_definitions(chela_cuda PUBLIC CHELA_WITH_CUDA=1)
find_package(CUDAToolkit REQUIRED)
target_link_libraries(chela_cuda PUBLIC CUDA::cudart_static ${CMAKE_DL_LIBS})  # dlopen of cuFFT

add_library(chela_cuda_bench SHARED ${_chela_root}/native/cuda/bench_shim.cpp)
target_link_libraries(chela_cuda_bench PRIVATE chela_cuda)

if(CHELA_TESTS)
  add_executable(test_cuda_linear_attention ${_chela_root}/tests/cuda/test_linear_attention.cpp)
  target_link_libraries(test_cuda_linear_attention PRIVATE chela_cuda)
  add_test(NAME cuda_linear_attention COMMAND test_cuda_linear_attention)
  set_tests_properties(cuda_linear_attention PROPERTIES SKIP_RETURN_CODE 77)
endif()
