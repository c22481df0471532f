# EELS examples: background removal and ZLP alignment on the shared files,
# checked against HyperSpy 1.7.3 numbers (reference/eels_background.json,
# reference/eels_zlp_thickness.json).
if(EXISTS "${CORESPEC_SHARED_DATA}/eels/nmc/nmc_coreloss_si.dm3")
  # HyperSpy fast: O K window, pixel (0, 0): r = 3.2411329924413756.
  add_test(NAME example.eels_background_nmc
           COMMAND eels_background "${CORESPEC_SHARED_DATA}/eels/nmc/nmc_coreloss_si.dm3" --window 490 511 --threads 2)
  set_tests_properties(example.eels_background_nmc PROPERTIES LABELS "examples;reference"
                       PASS_REGULAR_EXPRESSION "\"r\":\\[3\\.24113299244")
  add_test(NAME example.eels_background_nmc_lsq
           COMMAND eels_background "${CORESPEC_SHARED_DATA}/eels/nmc/nmc_coreloss_si.dm3" --window 490 511 --fit lsq)
  set_tests_properties(example.eels_background_nmc_lsq PROPERTIES LABELS "examples;reference"
                       PASS_REGULAR_EXPRESSION "\"r\":\\[2\\.484")
  add_test(NAME example.eels_background_outside_axis
           COMMAND eels_background "${CORESPEC_SHARED_DATA}/eels/nmc/nmc_coreloss_si.dm3" --window 100 200)
  set_tests_properties(example.eels_background_outside_axis PROPERTIES LABELS examples WILL_FAIL TRUE)
endif()
if(EXISTS "${CORESPEC_SHARED_DATA}/eels/exspy/coreloss_spectrum.msa")
  # HyperSpy fast, Mn L window 600-638 eV: r = 2.59339963.
  add_test(NAME example.eels_background_exspy
           COMMAND eels_background "${CORESPEC_SHARED_DATA}/eels/exspy/coreloss_spectrum.msa" --window 600 638
                   --out "${CMAKE_CURRENT_BINARY_DIR}/exspy_subtracted.npy")
  set_tests_properties(example.eels_background_exspy PROPERTIES LABELS "examples;reference"
                       PASS_REGULAR_EXPRESSION "\"r\":\\[2\\.5933996")
endif()
if(EXISTS "${CORESPEC_SHARED_DATA}/eels/nmc/nmc_lowloss_si.dm3")
  # HyperSpy align_zero_loss_peak: new axis offset -56.271430807454244, 2045 channels;
  # t/lambda of pixel (0, 0) with the automatic threshold 0.0695960288.
  add_test(NAME example.zlp_align_nmc
           COMMAND zlp_align "${CORESPEC_SHARED_DATA}/eels/nmc/nmc_lowloss_si.dm3"
                   --also "${CORESPEC_SHARED_DATA}/eels/nmc/nmc_coreloss_si.dm3")
  set_tests_properties(example.zlp_align_nmc PROPERTIES LABELS "examples;reference"
                       PASS_REGULAR_EXPRESSION "\"axis_after\":\\{\"offset\":-56\\.27143080745[0-9]*,\"scale\":0\\.3[0-9]*,\"size\":2045\\}.*\"t_over_lambda\":\\[0\\.06959602")
endif()
add_test(NAME example.zlp_align_missing_file COMMAND zlp_align "${CMAKE_CURRENT_SOURCE_DIR}/no_such_file.dm3")
set_tests_properties(example.zlp_align_missing_file PROPERTIES LABELS examples WILL_FAIL TRUE)
add_test(NAME example.eels_background_no_window COMMAND eels_background "${CMAKE_CURRENT_SOURCE_DIR}/CMakeLists.txt")
set_tests_properties(example.eels_background_no_window PROPERTIES LABELS examples WILL_FAIL TRUE)
# Every pixel failed (an all-zero image, an all-NaN low loss): exit status 3,
# with the JSON (and its failed-pixel count) printed all the same.
set(_expect_exit "${CMAKE_CURRENT_SOURCE_DIR}/tests/support/expect_exit.cmake")
set(_prep_data "${PROJECT_SOURCE_DIR}/tests/data/prep")
add_test(NAME example.eels_background_all_failed
         COMMAND ${CMAKE_COMMAND} -DCOMMAND=$<TARGET_FILE:eels_background>
                 "-DARGS=${_prep_data}/zeros_2x3x64.npy|--window|20|40" -DEXPECT=3
                 "-DMATCH=\"failed_pixels\":6.*\"status_counts\":{\"empty_window\":6}" -P "${_expect_exit}")
set_tests_properties(example.eels_background_all_failed PROPERTIES LABELS examples)
add_test(NAME example.zlp_align_all_failed
         COMMAND ${CMAKE_COMMAND} -DCOMMAND=$<TARGET_FILE:zlp_align> "-DARGS=${_prep_data}/zeros_2x3x64.npy" -DEXPECT=3
                 "-DMATCH=\"failed_pixels\":6.*\"thickness_failed_pixels\":6" -P "${_expect_exit}")
set_tests_properties(example.zlp_align_all_failed PROPERTIES LABELS examples)
# A single spectrum: fit channels as used by the two-area fit (window [120, 140]
# -> channels 20..40, i1 + i2 even: areas [20, 30) and [30, 40)); the subtracted
# NPY is (N,), as HyperSpy writes it; checked by reading it back.
add_test(NAME example.eels_background_single
         COMMAND eels_background "${_prep_data}/power_law_64.npy" --window 20 40
                 --out "${CMAKE_CURRENT_BINARY_DIR}/power_law_64_subtracted.npy")
set_tests_properties(example.eels_background_single PROPERTIES LABELS examples
                     PASS_REGULAR_EXPRESSION "\"failed_pixels\":0.*\"fit_channels\":\\[\\[20,30\\],\\[30,40\\]\\].*\"window_channels\":\\[20,40\\]")
add_test(NAME example.eels_background_single_shape
         COMMAND spectrum_info "${CMAKE_CURRENT_BINARY_DIR}/power_law_64_subtracted.npy")
set_tests_properties(example.eels_background_single_shape PROPERTIES LABELS examples DEPENDS example.eels_background_single
                     PASS_REGULAR_EXPRESSION "\"shape\":\\[64\\]")
