# spectrum_info: one JSON object per file; exit 0, or non-zero with the error on stderr.
set(_si_data "${CORESPEC_SHARED_DATA}")
function(corespec_spectrum_info_test name file regex)
  if(EXISTS "${file}")
    add_test(NAME example.spectrum_info.${name} COMMAND spectrum_info "${file}")
    set_tests_properties(example.spectrum_info.${name} PROPERTIES LABELS "examples;reference"
                         PASS_REGULAR_EXPRESSION "${regex}")
  endif()
endfunction()

corespec_spectrum_info_test(msa "${_si_data}/eels/exspy/coreloss_spectrum.msa"
  "\"format\":\"MSA\".*\"shape\":\\[2048\\].*\"sum\":47020089\\.0")
corespec_spectrum_info_test(msa_nmc "${_si_data}/eels/nmc/nmc_O_K.msa"
  "\"beam_energy_kev\":300000\\.0.*\"title\":\"oxygen_edge\"")
corespec_spectrum_info_test(xdi "${_si_data}/xas/xaslib/Fe/FeO_rt_01.xdi"
  "\"format\":\"XDI\".*\"element\":\"Fe\".*\"shape\":\\[412\\]")
corespec_spectrum_info_test(athena "${_si_data}/xas/larch/athena/Fe.prj"
  "\"format\":\"Athena\".*\"groups\":5")
corespec_spectrum_info_test(json_table "${_si_data}/xas/nmc_ni_k/nmc_exp_xas.json"
  "\"format\":\"JSON\".*\"shape\":\\[16,100\\]")
corespec_spectrum_info_test(feff "${_si_data}/sim/feff_nmc/nmc0000_Ni_K.xmu.dat"
  "\"format\":\"columns\".*\"shape\":\\[64\\]")
corespec_spectrum_info_test(npy "${CORESPEC_SHARED_DIR}/reference/arrays/eels/read/nmc__nmc_O_K.msa.npy"
  "\"dtype\":\"float64\".*\"format\":\"NPY\".*\"sum\":306176531\\.2227")
if(EXISTS "${PROJECT_SOURCE_DIR}/include/corespec/io/dm.hpp")
  corespec_spectrum_info_test(dm3 "${_si_data}/eels/nmc/nmc_coreloss_si.dm3"
    "\"format\":\"DM3\".*\"shape\":\\[2,21,2048\\]")
endif()

# Unreadable files: non-zero exit.
if(EXISTS "${_si_data}/xas/bad_xdi/bad_15.xdi")
  add_test(NAME example.spectrum_info.bad_xdi COMMAND spectrum_info "${_si_data}/xas/bad_xdi/bad_15.xdi")
  set_tests_properties(example.spectrum_info.bad_xdi PROPERTIES LABELS "examples;reference" WILL_FAIL TRUE)
endif()
add_test(NAME example.spectrum_info.missing COMMAND spectrum_info "${CMAKE_CURRENT_SOURCE_DIR}/no_such_file.msa")
set_tests_properties(example.spectrum_info.missing PROPERTIES LABELS examples WILL_FAIL TRUE)
add_test(NAME example.spectrum_info.not_data COMMAND spectrum_info "${CMAKE_CURRENT_SOURCE_DIR}/CMakeLists.txt")
set_tests_properties(example.spectrum_info.not_data PROPERTIES LABELS examples WILL_FAIL TRUE)

# Not regular files: refused at once with the reason (they used to be read forever).
foreach(_dev zero urandom)
  if(EXISTS "/dev/${_dev}")
    add_test(NAME example.spectrum_info.dev_${_dev} COMMAND spectrum_info "/dev/${_dev}")
    set_tests_properties(example.spectrum_info.dev_${_dev} PROPERTIES LABELS examples TIMEOUT 30
                         PASS_REGULAR_EXPRESSION "not a regular file")
  endif()
endforeach()
add_test(NAME example.spectrum_info.directory COMMAND spectrum_info "${CMAKE_CURRENT_SOURCE_DIR}")
set_tests_properties(example.spectrum_info.directory PROPERTIES LABELS examples
                     PASS_REGULAR_EXPRESSION "is a directory")

# HDF5 files (.hspy) are read when the optional corespec::hdf5 part is built.
if(TARGET corespec::hdf5)
  target_link_libraries(spectrum_info PRIVATE corespec::hdf5)
  corespec_spectrum_info_test(hspy "${_si_data}/eels/exspy/EELS_LL_linescan_simulated_thickness_variation.hspy"
    "\"format\":\"HSPY\".*\"shape\":\\[17,1024\\].*\"sum\":1625408\\.27")
endif()
