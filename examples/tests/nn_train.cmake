# nn_train / nn_explain on a small committed task (tests/data/train, written
# by tools/make_training_fixtures.py): 40 bins, the target depends only on
# bins 10..17. Train, then explain the trained model; the feature with the
# largest attribution must lie in that window, and IG must be complete.
set(_train_data "${PROJECT_SOURCE_DIR}/tests/data/train")
set(_train_out "${CMAKE_CURRENT_BINARY_DIR}/nn_train_out")
file(MAKE_DIRECTORY "${_train_out}")

add_test(NAME example.nn_train_window
  COMMAND nn_train "${_train_data}/window_arch.json" "${_train_data}/window_x.npy" "${_train_data}/window_y.npy"
          --loss mse --epochs 150 --batch 32 --lr 3e-3 --val-fraction 0.2 --patience 30 --seed 1 --threads 2 --quiet
          --out "${_train_out}/window.safetensors")
set_tests_properties(example.nn_train_window PROPERTIES LABELS examples FIXTURES_SETUP nn_train_model
  PASS_REGULAR_EXPRESSION "\"epochs_run\": [0-9]+, \"train_loss\": [0-9.e-]+, \"val_loss\": [0-9.e-]+, \"best_epoch\": [1-9]")

add_test(NAME example.nn_explain_ig
  COMMAND nn_explain "${_train_out}/window.safetensors" "${_train_data}/window_x.npy" --method ig --target 0
          --out "${_train_out}/window_ig.npy" --svg "${_train_out}/window_ig.svg" --energy 850 0.5 --name "synthetic edge")
set_tests_properties(example.nn_explain_ig PROPERTIES LABELS examples FIXTURES_REQUIRED nn_train_model
  PASS_REGULAR_EXPRESSION "\"top_feature\": 1[0-7],.*\"completeness_error_batch\": [0-9.e-]+")

foreach(_method saliency gxi smoothgrad occlusion)
  add_test(NAME example.nn_explain_${_method}
    COMMAND nn_explain "${_train_out}/window.safetensors" "${_train_data}/window_x.npy" --method ${_method}
            --out "${_train_out}/window_${_method}.npy")
  set_tests_properties(example.nn_explain_${_method} PROPERTIES LABELS examples FIXTURES_REQUIRED nn_train_model
    PASS_REGULAR_EXPRESSION "\"top_feature\": 1[0-7],")
endforeach()

# Misuse and bad input: a mismatched target file, an unknown loss, a missing model.
add_test(NAME example.nn_train_bad_targets
  COMMAND nn_train "${_train_data}/window_arch.json" "${_train_data}/window_x.npy" "${_train_data}/window_x.npy"
          --loss mse --epochs 1 --out "${_train_out}/never.safetensors")
set_tests_properties(example.nn_train_bad_targets PROPERTIES LABELS examples WILL_FAIL TRUE)
add_test(NAME example.nn_train_bad_loss
  COMMAND nn_train "${_train_data}/window_arch.json" "${_train_data}/window_x.npy" "${_train_data}/window_y.npy"
          --loss nope --epochs 1 --out "${_train_out}/never.safetensors")
set_tests_properties(example.nn_train_bad_loss PROPERTIES LABELS examples WILL_FAIL TRUE)
add_test(NAME example.nn_explain_missing_model
  COMMAND nn_explain "${_train_out}/missing.safetensors" "${_train_data}/window_x.npy" --method ig --out "${_train_out}/x.npy")
set_tests_properties(example.nn_explain_missing_model PROPERTIES LABELS examples WILL_FAIL TRUE)

# nn_explain on a multi-head model (tests/data/train/two_heads.safetensors, weights set by hand in
# tools/make_training_fixtures.py): head "window" (the first, the default) averages bins 10..17,
# head "tail" output 0 bins 30..35 and output 1 bins 0..3. --head takes a name or an index.
set(_two_heads "${_train_data}/two_heads.safetensors")
add_test(NAME example.nn_explain_head_default
  COMMAND nn_explain "${_two_heads}" "${_train_data}/window_x.npy" --method ig --out "${_train_out}/heads_default.npy")
set_tests_properties(example.nn_explain_head_default PROPERTIES LABELS examples
  PASS_REGULAR_EXPRESSION "\"explained\": \"window\",.*\"top_feature\": 1[0-7],.*\"completeness_error_batch\": [0-9.e-]+")
add_test(NAME example.nn_explain_head_name
  COMMAND nn_explain "${_two_heads}" "${_train_data}/window_x.npy" --method saliency --head tail --target 0
          --out "${_train_out}/heads_tail0.npy")
set_tests_properties(example.nn_explain_head_name PROPERTIES LABELS examples
  PASS_REGULAR_EXPRESSION "\"explained\": \"tail\",.*\"top_feature\": 3[0-5],")
add_test(NAME example.nn_explain_head_index
  COMMAND nn_explain "${_two_heads}" "${_train_data}/window_x.npy" --method gxi --head 1 --target 1
          --out "${_train_out}/heads_tail1.npy")
set_tests_properties(example.nn_explain_head_index PROPERTIES LABELS examples
  PASS_REGULAR_EXPRESSION "\"explained\": \"tail\", \"target\": 1,.*\"top_feature\": [0-3],")
# An unknown head, a target beyond the head's outputs, --head on a single-output model.
add_test(NAME example.nn_explain_head_unknown
  COMMAND nn_explain "${_two_heads}" "${_train_data}/window_x.npy" --method saliency --head nope --out "${_train_out}/x.npy")
set_tests_properties(example.nn_explain_head_unknown PROPERTIES LABELS examples WILL_FAIL TRUE)
add_test(NAME example.nn_explain_head_bad_target
  COMMAND nn_explain "${_two_heads}" "${_train_data}/window_x.npy" --method saliency --head window --target 1 --out "${_train_out}/x.npy")
set_tests_properties(example.nn_explain_head_bad_target PROPERTIES LABELS examples WILL_FAIL TRUE)
add_test(NAME example.nn_explain_head_not_multi
  COMMAND nn_explain "${_train_out}/window.safetensors" "${_train_data}/window_x.npy" --method saliency --head 0 --out "${_train_out}/x.npy")
set_tests_properties(example.nn_explain_head_not_multi PROPERTIES LABELS examples FIXTURES_REQUIRED nn_train_model WILL_FAIL TRUE)

# The hand-written architecture of docs/model_format.md (no tensor names, no
# weights): the test trains on the very block the page shows.
file(READ "${PROJECT_SOURCE_DIR}/docs/model_format.md" _nn_format_doc)
string(REGEX MATCH "<!-- hand-written architecture[^\n]*-->\n```json\n([^`]*)```" _nn_hand_block "${_nn_format_doc}")
if(NOT CMAKE_MATCH_1)
  message(FATAL_ERROR "docs/model_format.md lost its hand-written architecture block")
endif()
file(WRITE "${_train_out}/hand_written_arch.json" "${CMAKE_MATCH_1}")
add_test(NAME example.nn_train_hand_written
  COMMAND nn_train "${_train_out}/hand_written_arch.json" "${_train_data}/window_x.npy" "${_train_data}/window_y.npy"
          --loss mse --epochs 100 --batch 32 --lr 3e-3 --seed 1 --quiet --out "${_train_out}/hand_written.safetensors")
set_tests_properties(example.nn_train_hand_written PROPERTIES LABELS examples FIXTURES_SETUP nn_hand_written_model
  PASS_REGULAR_EXPRESSION "\"epochs_run\": 100, \"train_loss\": [0-9.e-]+,.*\"parameters\": 673, \"kernels\": \"[a-z0-9]+\"")
add_test(NAME example.nn_explain_hand_written
  COMMAND nn_explain "${_train_out}/hand_written.safetensors" "${_train_data}/window_x.npy" --method ig
          --out "${_train_out}/hand_written_ig.npy")
set_tests_properties(example.nn_explain_hand_written PROPERTIES LABELS examples FIXTURES_REQUIRED nn_hand_written_model
  PASS_REGULAR_EXPRESSION "\"top_feature\": 1[0-7],")

# Hostile input: a model JSON nested 2 million levels deep (4 MB), a
# directory as the model, and --samples / --steps whose batch cannot fit.
string(REPEAT "[" 2000000 _nn_deep_open)
file(WRITE "${_train_out}/deep.json" "{\"weights\": \"w.safetensors\", \"graph\": ${_nn_deep_open}")
add_test(NAME example.nn_predict_deep_json
  COMMAND nn_predict "${_train_out}/deep.json" "${_train_data}/window_x.npy" "${_train_out}/never.npy")
set_tests_properties(example.nn_predict_deep_json PROPERTIES LABELS examples
  PASS_REGULAR_EXPRESSION "nn_predict: .*deep.json: offset 101: architecture nests deeper than 64 levels")
add_test(NAME example.nn_train_deep_json
  COMMAND nn_train "${_train_out}/deep.json" "${_train_data}/window_x.npy" "${_train_data}/window_y.npy"
          --loss mse --epochs 1 --out "${_train_out}/never.safetensors")
set_tests_properties(example.nn_train_deep_json PROPERTIES LABELS examples
  PASS_REGULAR_EXPRESSION "nn_train: .*deep.json: offset 101: architecture nests deeper than 64 levels")
add_test(NAME example.nn_predict_directory
  COMMAND nn_predict "${_train_out}" "${_train_data}/window_x.npy" "${_train_out}/never.npy")
set_tests_properties(example.nn_predict_directory PROPERTIES LABELS examples
  PASS_REGULAR_EXPRESSION "nn_predict: cannot read '[^']*nn_train_out': Is a directory")
add_test(NAME example.nn_explain_missing_model_message
  COMMAND nn_explain "${_train_out}/missing.safetensors" "${_train_data}/window_x.npy" --method ig --out "${_train_out}/x.npy")
set_tests_properties(example.nn_explain_missing_model_message PROPERTIES LABELS examples
  PASS_REGULAR_EXPRESSION "nn_explain: cannot open '[^']*missing.safetensors': No such file or directory")
foreach(_flag samples steps)
  if(_flag STREQUAL "samples")
    set(_method smoothgrad)
  else()
    set(_method ig)
  endif()
  add_test(NAME example.nn_explain_huge_${_flag}
    COMMAND nn_explain "${_train_out}/window.safetensors" "${_train_data}/window_x.npy" --method ${_method}
            --${_flag} 1000000000 --out "${_train_out}/never.npy")
  set_tests_properties(example.nn_explain_huge_${_flag} PROPERTIES LABELS examples FIXTURES_REQUIRED nn_train_model
    PASS_REGULAR_EXPRESSION "nn_explain: --${_flag} [0-9]+ would need about [0-9.e+]+ GB of memory \\([0-9]+ bytes per copy\\), more than")
endforeach()
