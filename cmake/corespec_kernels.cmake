# corespec_add_kernels(<target>)
#
# Gives <target> (an executable or library) runtime kernel dispatch: the
# best kernels the CPU has, chosen at start-up, in a binary compiled for the
# baseline (no -march). It links <target> PRIVATE to corespec_kernels
# (alias corespec::kernels), a static library built once per build tree
# from one translation unit per architecture, each with its own flags:
#   x86-64 (GCC, Clang): sse2, avx2 (-mavx2 -mfma), avx512 (-mavx512f
#                        -mavx512cd -mavx512dq -mavx512bw)
#   aarch64:             neon
#   everywhere:          scalar (the last fallback)
# and defines CORESPEC_RUNTIME_DISPATCH for <target>, so that the default
# kernels (nn::kernels::default_table, kernels_name) are the dispatched
# ones. The environment variable CORESPEC_KERNELS=avx512|avx2|sse2|neon|
# scalar forces one at run time. No flag reaches corespec::corespec: a
# consumer that compiles with its own -march and does not call this keeps
# the header-only, compile-time kernels.
#
# Available after find_package(corespec) and after add_subdirectory(corespec).
include_guard(GLOBAL)

# The sources beside this file (the build tree's cmake/ or the installed package dir).
set_property(GLOBAL PROPERTY CORESPEC_KERNELS_SOURCE_DIR "${CMAKE_CURRENT_LIST_DIR}/kernels")

function(_corespec_kernels_library)
  if(TARGET corespec_kernels)
    return()
  endif()
  get_property(_dir GLOBAL PROPERTY CORESPEC_KERNELS_SOURCE_DIR)
  # One unit per architecture: its name and, in _flags_<name>, its flags.
  set(_units)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|x64)$")
    list(APPEND _units SSE2)
    if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")  # other compilers: baseline only (their flags are untested)
      list(APPEND _units AVX2 AVX512)
      set(_flags_AVX2 -mavx2 -mfma)
      set(_flags_AVX512 -mavx512f -mavx512cd -mavx512dq -mavx512bw -mavx2 -mfma)
    endif()
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
    list(APPEND _units NEON)  # NEON is part of the aarch64 baseline: no flags
  endif()

  set(_objects)
  set(_with)
  foreach(_arch IN LISTS _units)
    string(TOLOWER "${_arch}" _lower)
    set(_unit corespec_kernels_${_lower})
    add_library(${_unit} OBJECT "${_dir}/arch_unit.cpp")
    target_link_libraries(${_unit} PRIVATE corespec::corespec)
    if(TARGET corespec_warnings)  # corespec's own build: its warning flags
      target_link_libraries(${_unit} PRIVATE corespec_warnings)
    endif()
    target_compile_definitions(${_unit} PRIVATE CORESPEC_KERNELS_UNIT_${_arch}=1)
    target_compile_options(${_unit} PRIVATE ${_flags_${_arch}})
    set_target_properties(${_unit} PROPERTIES POSITION_INDEPENDENT_CODE ON)
    list(APPEND _objects $<TARGET_OBJECTS:${_unit}>)
    list(APPEND _with CORESPEC_KERNELS_WITH_${_arch}=1)
  endforeach()

  add_library(corespec_kernels STATIC "${_dir}/dispatch.cpp" ${_objects})
  add_library(corespec::kernels ALIAS corespec_kernels)
  target_link_libraries(corespec_kernels PUBLIC corespec::corespec)
  target_compile_definitions(corespec_kernels PRIVATE ${_with} PUBLIC CORESPEC_RUNTIME_DISPATCH=1)
  set_target_properties(corespec_kernels PROPERTIES POSITION_INDEPENDENT_CODE ON)
  if(TARGET corespec_warnings)
    target_link_libraries(corespec_kernels PRIVATE corespec_warnings)
  endif()
endfunction()

function(corespec_add_kernels target)
  _corespec_kernels_library()
  target_link_libraries(${target} PRIVATE corespec_kernels)
endfunction()
