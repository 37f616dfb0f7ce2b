# Runs `pocketvec demo --data DIR` on a dataset that lives outside the repository, or reports a
# skip when it is absent (ctest sees the "SKIP:" line through SKIP_REGULAR_EXPRESSION: a
# `cmake -P` script cannot choose its exit code before CMake 3.29, so SKIP_RETURN_CODE 77 is not
# reachable from here).
#   cmake -DTOOL=path/to/pocketvec -DDATA_DIR=dir [-DQUERIES=n] -P dataset_demo.cmake
if(NOT EXISTS "${DATA_DIR}/base.fvecs")
    message("SKIP: dataset not found at ${DATA_DIR}")
    return()
endif()
if(NOT DEFINED QUERIES)
    set(QUERIES 200)
endif()
# stdout passes through so that the test's PASS_REGULAR_EXPRESSION sees the JSON line.
execute_process(COMMAND "${TOOL}" demo --data "${DATA_DIR}" --queries ${QUERIES} --json
                RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "pocketvec demo failed with exit code ${_rc}")
endif()
