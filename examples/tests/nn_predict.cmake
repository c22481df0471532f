# nn_predict on the committed golden fixtures (tests/data/nn, written by
# tools/make_nn_fixtures.py): its output must match PyTorch's within the
# parity tolerance (--expect checks and exits 1 otherwise).
set(_nn_data "${PROJECT_SOURCE_DIR}/tests/data/nn")
set(_nn_out "${CMAKE_CURRENT_BINARY_DIR}/nn_predict_out")
file(MAKE_DIRECTORY "${_nn_out}")

add_test(NAME example.nn_predict_mlp
  COMMAND nn_predict "${_nn_data}/mlp_study1_f32.safetensors" "${_nn_data}/npy/mlp_study1_f32_input.npy"
          "${_nn_out}/mlp.npy" --expect "${_nn_data}/npy/mlp_study1_f32_output.npy")
set_tests_properties(example.nn_predict_mlp PROPERTIES LABELS examples PASS_REGULAR_EXPRESSION "\"ok\": true")

# Conv VAE (float64, batch x channels x length), two threads, timing JSON.
add_test(NAME example.nn_predict_vae_threads
  COMMAND nn_predict "${_nn_data}/vae_study2_f64.safetensors" "${_nn_data}/npy/vae_study2_f64_input.npy"
          "${_nn_out}/vae.npy" --threads 2 --repeat 3 --expect "${_nn_data}/npy/vae_study2_f64_output.npy")
set_tests_properties(example.nn_predict_vae_threads PROPERTIES LABELS examples
  PASS_REGULAR_EXPRESSION "seconds_per_sample.*\n.*\"ok\": true")

# The VAE's input has 240 values per sample, the MLP wants 702: a clear error.
add_test(NAME example.nn_predict_wrong_length
  COMMAND nn_predict "${_nn_data}/mlp_study1_f32.safetensors" "${_nn_data}/npy/vae_study2_f64_input.npy"
          "${_nn_out}/wrong.npy")
set_tests_properties(example.nn_predict_wrong_length PROPERTIES LABELS examples WILL_FAIL TRUE)

add_test(NAME example.nn_predict_not_a_model
  COMMAND nn_predict "${_nn_data}/npy/mlp_study1_f32_input.npy" "${_nn_data}/npy/mlp_study1_f32_input.npy"
          "${_nn_out}/bad.npy")
set_tests_properties(example.nn_predict_not_a_model PROPERTIES LABELS examples WILL_FAIL TRUE)
