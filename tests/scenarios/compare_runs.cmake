# Runs `aethersim run DIR` twice, as two processes, and checks that every run
# has the same verdict, event count and trace hash both times (wall times
# differ, so only those fields are compared).
#   -DPROGRAM=<aethersim> -DINPUT=<file or dir>
foreach(i 1 2)
  execute_process(COMMAND ${PROGRAM} run ${INPUT} RESULT_VARIABLE rc_${i} OUTPUT_VARIABLE out_${i}
                  ERROR_VARIABLE err_${i})
  string(REGEX MATCHALL "(PASS|FAIL|INPUT-ERROR|FRAMEWORK-ERROR) [^ ]+ seed=[0-9]+ end=[^ ]+" heads_${i}
         "${out_${i}}")
  string(REGEX MATCHALL "events=[0-9]+ hash=[0-9a-f]+" hashes_${i} "${out_${i}}")
endforeach()
list(LENGTH hashes_1 count)
if(count EQUAL 0)
  message(FATAL_ERROR "no runs found in the output:\n${out_1}\n${err_1}")
endif()
if(NOT rc_1 STREQUAL rc_2 OR NOT heads_1 STREQUAL heads_2 OR NOT hashes_1 STREQUAL hashes_2)
  message(FATAL_ERROR "two processes disagree:\n--- first (exit ${rc_1})\n${out_1}\n--- second (exit ${rc_2})\n${out_2}")
endif()
message(STATUS "${count} runs identical across two processes")
