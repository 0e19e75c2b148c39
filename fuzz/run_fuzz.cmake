# Configures and builds fuzz/ with clang, then runs a bounded fuzzing pass over
# a seed corpus of the shipped scenarios. Used as a CTest step.
#   -DSOURCE=<repo root> -DBINARY=<work dir> -DCLANGXX=<clang++> -DRUNS=<n>
#   -DENGINE_LIB=<the main build's libaether_engine.a>
foreach(var SOURCE BINARY CLANGXX RUNS ENGINE_LIB)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_fuzz.cmake needs -D${var}=...")
  endif()
endforeach()

execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE}/fuzz -B ${BINARY} -G Ninja
                        -DCMAKE_CXX_COMPILER=${CLANGXX} -DCMAKE_BUILD_TYPE=RelWithDebInfo
                        -DAETHER_ENGINE_LIB=${ENGINE_LIB}
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "configuring fuzz/ with ${CLANGXX} failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BINARY} -j 2 RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building the fuzzer failed")
endif()

# libFuzzer adds new inputs to its first corpus directory: give it a copy.
set(corpus ${BINARY}/corpus)
file(REMOVE_RECURSE ${corpus})
file(MAKE_DIRECTORY ${corpus})
file(GLOB seeds ${SOURCE}/scenarios/*.json ${SOURCE}/fuzz/seeds/*)
file(COPY ${seeds} DESTINATION ${corpus})
execute_process(COMMAND ${BINARY}/loader_fuzzer -runs=${RUNS} -seed=1 -max_len=65536 -timeout=10
                        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=${BINARY}/ ${corpus}
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "the loader fuzzer found a problem (exit ${rc}); the crashing input is in the working directory")
endif()
