# xas_normalize: Larch-style normalisation of one scan (prep area).
# Expected numbers are Larch 2026.3.1's (../shared/reference/xas_reference.json).
set(_xas "${CORESPEC_SHARED_DATA}/xas")
add_test(NAME example.xas_normalize_usage COMMAND xas_normalize)
set_tests_properties(example.xas_normalize_usage PROPERTIES LABELS examples WILL_FAIL TRUE)
add_test(NAME example.xas_normalize_bad_option COMMAND xas_normalize x.xdi --nnorm two)
set_tests_properties(example.xas_normalize_bad_option PROPERTIES LABELS examples WILL_FAIL TRUE)
add_test(NAME example.xas_normalize_missing_file COMMAND xas_normalize "${CMAKE_CURRENT_SOURCE_DIR}/no_such_file.xdi")
set_tests_properties(example.xas_normalize_missing_file PROPERTIES LABELS examples WILL_FAIL TRUE)
if(EXISTS "${_xas}/larch/feo_rt1.xdi")
  # XDI with a mutrans column, Larch defaults
  add_test(NAME example.xas_normalize_xdi_defaults COMMAND xas_normalize "${_xas}/larch/feo_rt1.xdi")
  set_tests_properties(example.xas_normalize_xdi_defaults PROPERTIES LABELS "examples;reference"
    PASS_REGULAR_EXPRESSION "\"e0\": 7122\\.9272,\n  \"edge_step\": 1\\.35436420632[0-9]*,\n  \"pre1\": -205\\.0,\n  \"pre2\": -102\\.5,\n  \"norm1\": 25\\.0,\n  \"norm2\": 960\\.0,\n  \"nnorm\": 2,")
  # XDI with i0/itrans only (mu = ln(i0/itrans)), Larch defaults
  add_test(NAME example.xas_normalize_xdi_transmission COMMAND xas_normalize "${_xas}/xaslib/Fe/Fe2O3_rt_01.xdi")
  set_tests_properties(example.xas_normalize_xdi_transmission PROPERTIES LABELS "examples;reference"
    PASS_REGULAR_EXPRESSION "\"mu\": \"ln\\(i0/itrans\\)\".*\"e0\": 7125\\.6176,\n  \"edge_step\": 1\\.29308351746")
  # explicit parameters (the fixed set of the reference) and CSV output
  add_test(NAME example.xas_normalize_explicit COMMAND xas_normalize "${_xas}/larch/cu_metal_rt.xdi"
    --e0 8980.5 --pre1 -150 --pre2 -30 --norm1 150 --norm2 1065.36 --nnorm 2
    --out "${CMAKE_CURRENT_BINARY_DIR}/xas_normalize_cu.csv")
  set_tests_properties(example.xas_normalize_explicit PROPERTIES LABELS "examples;reference"
    PASS_REGULAR_EXPRESSION "\"e0\": 8980\\.5,\n  \"edge_step\": 2\\.84512816315[0-9]*,\n  \"pre1\": -150\\.0,\n  \"pre2\": -30\\.0,\n  \"norm1\": 150\\.0,\n  \"norm2\": 1065\\.36,\n  \"nnorm\": 2,.*\"out\"")
  # plain two-column text
  add_test(NAME example.xas_normalize_columns COMMAND xas_normalize "${_xas}/larch/mn_cpmnco3.dat")
  set_tests_properties(example.xas_normalize_columns PROPERTIES LABELS "examples;reference"
    PASS_REGULAR_EXPRESSION "\"e0\": 6541\\.69,\n  \"edge_step\": 0\\.305508704013")
  # Athena project, first group (Fe foil) with Athena's own parameters: Athena's bkg_step 2.8255 within 1 %
  add_test(NAME example.xas_normalize_athena COMMAND xas_normalize "${_xas}/larch/athena/Fe.prj" --group 0
    --e0 7112 --pre1 -150 --pre2 -30 --norm1 150 --norm2 1756.44729 --nnorm 2)
  set_tests_properties(example.xas_normalize_athena PROPERTIES LABELS "examples;reference"
    PASS_REGULAR_EXPRESSION "\"edge_step\": 2\\.82[0-9]*,")
  # a scan that stops before the edge: reported, exit status 3
  add_test(NAME example.xas_normalize_no_edge COMMAND xas_normalize "${_xas}/larch/fe_xanes_8ch.xdi")
  set_tests_properties(example.xas_normalize_no_edge PROPERTIES LABELS "examples;reference" WILL_FAIL TRUE)
  add_test(NAME example.xas_normalize_no_edge_json COMMAND xas_normalize "${_xas}/larch/fe_xanes_8ch.xdi")
  set_tests_properties(example.xas_normalize_no_edge_json PROPERTIES LABELS "examples;reference"
    PASS_REGULAR_EXPRESSION "\"no_edge\": true")
endif()
# A falling edge (mu negated) has no rising edge: exit status 3, not a negative step.
set(_expect_exit "${CMAKE_CURRENT_SOURCE_DIR}/tests/support/expect_exit.cmake")
add_test(NAME example.xas_normalize_falling_edge
         COMMAND ${CMAKE_COMMAND} -DCOMMAND=$<TARGET_FILE:xas_normalize>
                 "-DARGS=${PROJECT_SOURCE_DIR}/tests/data/prep/falling_edge.dat" -DEXPECT=3
                 "-DMATCH=wrong sign.*\"no_edge\": true" -P "${_expect_exit}")
set_tests_properties(example.xas_normalize_falling_edge PROPERTIES LABELS examples)
# Out-of-range parameters are misuse (exit 2), naming the option.
add_test(NAME example.xas_normalize_nnorm_range
         COMMAND ${CMAKE_COMMAND} -DCOMMAND=$<TARGET_FILE:xas_normalize>
                 "-DARGS=${PROJECT_SOURCE_DIR}/tests/data/prep/falling_edge.dat|--nnorm|99" -DEXPECT=2
                 "-DMATCH=--nnorm must be a whole number in \\[0, 5\\]" -P "${_expect_exit}")
set_tests_properties(example.xas_normalize_nnorm_range PROPERTIES LABELS examples)
