# A short configuration of the NMC demo (the full one is `bash tools/dev.sh demo`):
# a few seconds, also under the sanitizers.
add_test(NAME example.nmc_demo_short COMMAND nmc_demo --samples 120 --epochs 4 --min-steps 0 --members 2 --no-progress
         --out "${CMAKE_CURRENT_BINARY_DIR}/nmc_demo_short")
set_tests_properties(example.nmc_demo_short PROPERTIES LABELS examples FIXTURES_SETUP nmc_demo_report
                     PASS_REGULAR_EXPRESSION "multimodal against the best single edge:.*wrote .*metrics.csv")
# The same with mean fusion (fusion::Strategy::mean): parsed, trained, reported and saved.
add_test(NAME example.nmc_demo_mean_short COMMAND nmc_demo --samples 120 --epochs 4 --min-steps 0 --members 2 --no-progress
         --strategy mean --out "${CMAKE_CURRENT_BINARY_DIR}/nmc_demo_mean_short")
set_tests_properties(example.nmc_demo_mean_short PROPERTIES LABELS examples
                     PASS_REGULAR_EXPRESSION "mean fusion, ensembles of 2.*multimodal against the best single edge:.*wrote .*model files \\(multimodal_")
if(EXISTS "${CORESPEC_SHARED_DATA}/sim/feff_nmc/manifest.csv")
  add_test(NAME example.nmc_demo_feff_short COMMAND nmc_demo --manifest "${CORESPEC_SHARED_DATA}/sim/feff_nmc/manifest.csv"
           --folds 2 --epochs 3 --min-steps 0 --members 2 --no-progress --out "${CMAKE_CURRENT_BINARY_DIR}/nmc_demo_feff_short")
  set_tests_properties(example.nmc_demo_feff_short PROPERTIES LABELS "examples;reference"
                       PASS_REGULAR_EXPRESSION "2-fold group cross-validation.*wrote ")
endif()
add_test(NAME example.nmc_demo_missing_manifest COMMAND nmc_demo --manifest "${CMAKE_CURRENT_SOURCE_DIR}/no_such_manifest.csv"
         --out "${CMAKE_CURRENT_BINARY_DIR}/nmc_demo_none")
set_tests_properties(example.nmc_demo_missing_manifest PROPERTIES LABELS examples WILL_FAIL TRUE)
if(EXISTS "${CORESPEC_SHARED_DATA}/eels/nmc/nmc_coreloss_si.dm3")
  add_test(NAME example.nmc_demo_si_short COMMAND nmc_demo --samples 120 --epochs 4 --min-steps 0 --members 2 --no-progress
           --si "${CORESPEC_SHARED_DATA}/eels/nmc/nmc_coreloss_si.dm3" --lowloss "${CORESPEC_SHARED_DATA}/eels/nmc/nmc_lowloss_si.dm3"
           --out "${CMAKE_CURRENT_BINARY_DIR}/nmc_demo_si_short")
  set_tests_properties(example.nmc_demo_si_short PROPERTIES LABELS "examples;reference" FIXTURES_SETUP nmc_demo_si_report
                       PASS_REGULAR_EXPRESSION "per-pixel predictions.*wrote .*report.html")
endif()

# The report.html the demo itself wrote (the short runs above), rendered in
# headless Chromium by the browser test's harness (tests/browser/check_report.py):
# every figure drawn, no request leaves the page. Label browser; skipped
# (exit 77) without chromium.
find_program(CORESPEC_CHROMIUM NAMES chromium chromium-browser)
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  set(_chromium "$<IF:$<BOOL:${CORESPEC_CHROMIUM}>,${CORESPEC_CHROMIUM},chromium>")
  add_test(NAME example.nmc_demo_short.browser
           COMMAND Python3::Interpreter "${PROJECT_SOURCE_DIR}/tests/browser/check_report.py" "${_chromium}"
                   "${CMAKE_CURRENT_BINARY_DIR}/nmc_demo_short")
  set_tests_properties(example.nmc_demo_short.browser PROPERTIES LABELS "examples;browser" FIXTURES_REQUIRED nmc_demo_report
                       SKIP_RETURN_CODE 77 TIMEOUT 120)
  if(TEST example.nmc_demo_si_short)
    add_test(NAME example.nmc_demo_si_short.browser
             COMMAND Python3::Interpreter "${PROJECT_SOURCE_DIR}/tests/browser/check_report.py" "${_chromium}"
                     "${CMAKE_CURRENT_BINARY_DIR}/nmc_demo_si_short")
    set_tests_properties(example.nmc_demo_si_short.browser PROPERTIES LABELS "examples;browser;reference"
                         FIXTURES_REQUIRED nmc_demo_si_report SKIP_RETURN_CODE 77 TIMEOUT 120)
  endif()
endif()
