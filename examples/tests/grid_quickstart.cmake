add_test(NAME example.grid_quickstart COMMAND grid_quickstart)
set_tests_properties(example.grid_quickstart PROPERTIES LABELS examples)
# The README shows this example verbatim; fail when the two drift apart.
add_test(NAME example.readme_shows_grid_quickstart
         COMMAND ${CMAKE_COMMAND} -DREADME=${PROJECT_SOURCE_DIR}/README.md
                 -DSNIPPET=${CMAKE_CURRENT_SOURCE_DIR}/grid_quickstart.cpp -P ${PROJECT_SOURCE_DIR}/cmake/check_snippet.cmake)
set_tests_properties(example.readme_shows_grid_quickstart PROPERTIES LABELS examples)
