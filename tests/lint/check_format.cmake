# Fails when any tracked C++ source differs from what clang-format makes of it.
file(GLOB_RECURSE sources RELATIVE ${SOURCE}
     ${SOURCE}/engine/*.h ${SOURCE}/engine/*.cc ${SOURCE}/sim/*.h ${SOURCE}/sim/*.cc
     ${SOURCE}/scenarios/*.h ${SOURCE}/scenarios/*.cc ${SOURCE}/properties/*.h ${SOURCE}/properties/*.cc
     ${SOURCE}/tools/*.h ${SOURCE}/tools/*.cc ${SOURCE}/tests/*.h ${SOURCE}/tests/*.cc
     ${SOURCE}/bench/*.cc ${SOURCE}/fuzz/*.cc)
list(FILTER sources EXCLUDE REGEX "^tests/lint/fixtures/")
execute_process(COMMAND ${CLANG_FORMAT} --dry-run --Werror ${sources}
                WORKING_DIRECTORY ${SOURCE} RESULT_VARIABLE rc ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "clang-format differences (run clang-format -i on these files):\n${out}")
endif()
list(LENGTH sources count)
message(STATUS "clang-format: ${count} files clean")
