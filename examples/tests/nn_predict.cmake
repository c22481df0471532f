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

# Runtime kernel dispatch (cmake/corespec_kernels.cmake): the same fixture
# through the default (best) kernels and through each forced lower one; the
# JSON names what ran. An unknown CORESPEC_KERNELS value is a clear error.
set(_nn_forced_kernels scalar)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|x64)$")
  list(APPEND _nn_forced_kernels sse2)
endif()
foreach(_k IN LISTS _nn_forced_kernels)
  add_test(NAME example.nn_predict_mlp_kernels_${_k}
    COMMAND nn_predict "${_nn_data}/mlp_study1_f32.safetensors" "${_nn_data}/npy/mlp_study1_f32_input.npy"
            "${_nn_out}/mlp_${_k}.npy" --expect "${_nn_data}/npy/mlp_study1_f32_output.npy")
  set_tests_properties(example.nn_predict_mlp_kernels_${_k} PROPERTIES LABELS examples ENVIRONMENT CORESPEC_KERNELS=${_k}
    PASS_REGULAR_EXPRESSION "\"ok\": true, \"kernels\": \"${_k}\"")
endforeach()
add_test(NAME example.nn_predict_kernels_unknown
  COMMAND nn_predict "${_nn_data}/mlp_study1_f32.safetensors" "${_nn_data}/npy/mlp_study1_f32_input.npy"
          "${_nn_out}/mlp_unknown.npy")
set_tests_properties(example.nn_predict_kernels_unknown PROPERTIES LABELS examples ENVIRONMENT CORESPEC_KERNELS=avx9000
  PASS_REGULAR_EXPRESSION "nn_predict: CORESPEC_KERNELS=avx9000: corespec kernels: unknown architecture 'avx9000'; this binary and CPU run: ")
