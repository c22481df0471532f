# Runs one example and checks its exit status (ctest's WILL_FAIL only tells
# zero from non-zero; the tools document distinct codes).
#   cmake -DCOMMAND=<exe> "-DARGS=a|b" -DEXPECT=3 [-DMATCH=<regex on stdout+stderr>] -P expect_exit.cmake
# ARGS are separated by '|' (add_test would split a ';' list itself).
string(REPLACE "|" ";" args "${ARGS}")
execute_process(COMMAND ${COMMAND} ${args} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT code STREQUAL EXPECT)
  message(FATAL_ERROR "${COMMAND} exited with ${code}, expected ${EXPECT}\nstdout: ${out}\nstderr: ${err}")
endif()
if(DEFINED MATCH AND NOT "${out}${err}" MATCHES "${MATCH}")
  message(FATAL_ERROR "${COMMAND}: output does not match '${MATCH}'\nstdout: ${out}\nstderr: ${err}")
endif()
message(STATUS "exit ${code} as expected")
