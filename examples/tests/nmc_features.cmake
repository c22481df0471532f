add_test(NAME example.nmc_features COMMAND nmc_features --samples 20 --seed 3 --out "${CMAKE_CURRENT_BINARY_DIR}/nmc_features_synth")
set_tests_properties(example.nmc_features PROPERTIES LABELS examples
                     PASS_REGULAR_EXPRESSION "\"ok\": true, \"source\": \"synthetic\", \"samples\": 20, \"features\": 1458")
if(EXISTS "${CORESPEC_SHARED_DATA}/sim/feff_nmc/manifest.csv")
  add_test(NAME example.nmc_features_feff COMMAND nmc_features --manifest "${CORESPEC_SHARED_DATA}/sim/feff_nmc/manifest.csv"
           --out "${CMAKE_CURRENT_BINARY_DIR}/nmc_features_feff")
  set_tests_properties(example.nmc_features_feff PROPERTIES LABELS "examples;reference"
                       PASS_REGULAR_EXPRESSION "\"ok\": true, \"source\": \"manifest\", \"samples\": [0-9]+, \"features\": 1004")
endif()
add_test(NAME example.nmc_features_missing_manifest COMMAND nmc_features --manifest "${CMAKE_CURRENT_SOURCE_DIR}/no_such_manifest.csv"
         --out "${CMAKE_CURRENT_BINARY_DIR}/nmc_features_none")
set_tests_properties(example.nmc_features_missing_manifest PROPERTIES LABELS examples WILL_FAIL TRUE)
add_test(NAME example.nmc_features_misuse COMMAND nmc_features --samples 5)
set_tests_properties(example.nmc_features_misuse PROPERTIES LABELS examples WILL_FAIL TRUE)
