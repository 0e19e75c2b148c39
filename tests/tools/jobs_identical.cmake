# `aethersim run --jobs J` prints what --jobs 1 prints: runs ARGS once with
# --jobs 1 and once with --jobs J, masks the wall-clock figures (wall=,
# "in Xs wall") and compares stdout byte for byte, and the exit codes.
#   -DPROGRAM=<aethersim> -DARGS="run|dir|--seeds|1..8" -DJOBS=3
string(REPLACE "|" ";" arguments "${ARGS}")
foreach(j 1 ${JOBS})
  execute_process(COMMAND ${PROGRAM} ${arguments} --jobs ${j} RESULT_VARIABLE rc_${j} OUTPUT_VARIABLE out_${j}
                  ERROR_VARIABLE err_${j})
  string(REGEX REPLACE "wall=[0-9.]+s" "wall=X" out_${j} "${out_${j}}")
  string(REGEX REPLACE "in [0-9.]+s wall" "in X wall" out_${j} "${out_${j}}")
endforeach()
if(out_1 STREQUAL "")
  message(FATAL_ERROR "no output:\n${err_1}")
endif()
if(NOT rc_1 STREQUAL rc_${JOBS} OR NOT out_1 STREQUAL out_${JOBS})
  message(FATAL_ERROR "--jobs ${JOBS} differs from --jobs 1:\n--- jobs 1 (exit ${rc_1})\n${out_1}\n--- jobs ${JOBS} (exit ${rc_${JOBS}})\n${out_${JOBS}}")
endif()
string(LENGTH "${out_1}" size)
message(STATUS "--jobs 1 and --jobs ${JOBS}: identical output (${size} bytes), exit ${rc_1}")
