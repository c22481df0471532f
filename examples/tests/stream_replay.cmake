# stream_replay: a small synthetic series (4 frames of 16 x 16 x 2048, the
# change at frame 2, grown over 5 frames: 25 % of frame 2, 44 % of frame 3),
# the encoder trained with the defaults (15 epochs on 764 spectra: 512
# pixels, 12 references and 240 measured-like copies of them); every spectrum processed, none rejected,
# the change detected at frame 3 (> 30 %). Then the NMC spectrum image of
# ../shared (2 x 21 pixels) replayed row by row at 2,000 spectra/s (lr 1e-3:
# 5e-3 diverges on its 54 training spectra), and misuse (exit 2).
set(_replay_out "${CMAKE_CURRENT_BINARY_DIR}/stream_replay_out")
add_test(NAME example.stream_replay_synthetic
  COMMAND stream_replay --synthetic 4 --size 16 --change-frame 2 --threads 2 --maps "${_replay_out}")
set_tests_properties(example.stream_replay_synthetic PROPERTIES LABELS examples
  PASS_REGULAR_EXPRESSION "\"change_frame\":2,.*\"detected_frame\":3,.*\"kernels\":\"[a-z0-9+]+\",.*\"p50_us\":[0-9.e+-]+,\"p99_us\":[0-9.e+-]+,\"processed\":1024,\"received\":1024,\"rejected\":0,.*\"spectra_per_s\":[0-9.e+]+,\"svg_frames\":\\[0,1,2,3\\],\"threads\":2")
# The two-encoder variant on the same series: the raw recipe and the raw
# encoder stream every spectrum (no anomaly score) and classify both phases:
# the delithiated fraction per frame 0, 0, 0.25, 0.438 (the truth 0, 0,
# 4/16, 7/16), the change detected at frame 3. (Before the measured-like
# reference copies and the refinement, 2026-12-04: 0 in every frame.)
add_test(NAME example.stream_replay_two_encoder
  COMMAND stream_replay --synthetic 4 --size 16 --change-frame 2 --threads 2 --two-encoder --maps "${_replay_out}_two")
set_tests_properties(example.stream_replay_two_encoder PROPERTIES LABELS examples
  PASS_REGULAR_EXPRESSION "\"delithiated_fraction\":\\[0\\.0,0\\.0,0\\.2[2-8][0-9]*,0\\.4[0-6][0-9]*\\],\"detected_frame\":3,.*\"processed\":1024,.*\"received\":1024,\"rejected\":0,.*\"svg_frames\":\\[0,1,2,3\\],.*\"variant\":\"two-encoder\"")
# kNN over the posterior draws is a lottery when the draws spread wider than
# the classes lie apart (docs/streaming.md): with the references' means
# (--samples 0) another seed's series classifies too (seeds 1-4 measured).
add_test(NAME example.stream_replay_two_encoder_means
  COMMAND stream_replay --synthetic 4 --size 16 --change-frame 2 --threads 2 --two-encoder --seed 4 --samples 0)
set_tests_properties(example.stream_replay_two_encoder_means PROPERTIES LABELS examples
  PASS_REGULAR_EXPRESSION "\"delithiated_fraction\":\\[0\\.0,0\\.0,0\\.2[2-8][0-9]*,0\\.4[0-6][0-9]*\\],\"detected_frame\":3,.*\"latent_points\":12,")
# --no-anomaly: the benchmark's pipeline (no decoder pass), the same classes.
add_test(NAME example.stream_replay_no_anomaly
  COMMAND stream_replay --synthetic 4 --size 16 --change-frame 2 --threads 2 --no-anomaly)
set_tests_properties(example.stream_replay_no_anomaly PROPERTIES LABELS examples
  PASS_REGULAR_EXPRESSION "\"anomaly\":false,\"change_frame\":2,.*\"detected_frame\":3,.*\"processed\":1024,\"received\":1024,\"rejected\":0,.*\"variant\":\"vae\"")
set(_nmc_si "${CORESPEC_SHARED_DATA}/eels/nmc/nmc_coreloss_si.dm3")
if(EXISTS "${_nmc_si}")
  add_test(NAME example.stream_replay_nmc COMMAND stream_replay "${_nmc_si}" --rate 2000 --lr 1e-3)
  set_tests_properties(example.stream_replay_nmc PROPERTIES LABELS "examples;reference"
    PASS_REGULAR_EXPRESSION "\"frame_shape\":\\[2,21\\].*\"processed\":42,\"received\":42,\"rejected\":0")
endif()
set(_expect_exit "${CMAKE_CURRENT_SOURCE_DIR}/tests/support/expect_exit.cmake")
add_test(NAME example.stream_replay_misuse
         COMMAND ${CMAKE_COMMAND} -DCOMMAND=$<TARGET_FILE:stream_replay> "-DARGS=--synthetic|0" -DEXPECT=2
                 "-DMATCH=--synthetic must be a whole number" -P "${_expect_exit}")
set_tests_properties(example.stream_replay_misuse PROPERTIES LABELS examples)
add_test(NAME example.stream_replay_both
         COMMAND ${CMAKE_COMMAND} -DCOMMAND=$<TARGET_FILE:stream_replay> "-DARGS=file.dm3|--synthetic|2" -DEXPECT=2
                 "-DMATCH=give either FILE or --synthetic FRAMES" -P "${_expect_exit}")
set_tests_properties(example.stream_replay_both PROPERTIES LABELS examples)
