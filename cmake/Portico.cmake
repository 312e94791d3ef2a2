# Helpers shared by every module's CMakeLists.txt.

# portico_library(NAME <target> SOURCES ... [PUBLIC_LIBS ...] [PRIVATE_LIBS ...])
# A static library with include/ public and src/ private.
function(portico_library)
  cmake_parse_arguments(A "" "NAME" "SOURCES;PUBLIC_LIBS;PRIVATE_LIBS" ${ARGN})
  add_library(${A_NAME} STATIC ${A_SOURCES})
  target_include_directories(${A_NAME} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
                                       PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(${A_NAME} PUBLIC ${A_PUBLIC_LIBS} PRIVATE ${A_PRIVATE_LIBS})
endfunction()

# portico_check_test(NAME <exe> SOURCES ... LIBS ... LABELS ... [TIMEOUT s] [ENV k=v ...])
# One check executable, registered with ctest. Every suite file exports
# `Suite *<name>_suite(void)`; list them in SUITES so check_main.c can run them.
function(portico_check_test)
  cmake_parse_arguments(A "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS;SUITES;ENV" ${ARGN})
  if(NOT CHECK_FOUND)
    message(WARNING "check not found: ${A_NAME} not built")
    return()
  endif()
  set(decl "")
  set(list "")
  foreach(s ${A_SUITES})
    string(APPEND decl "Suite *${s}(void);\n")
    string(APPEND list "    ${s},\n")
  endforeach()
  set(gen ${CMAKE_CURRENT_BINARY_DIR}/${A_NAME}_suites.c)
  file(WRITE ${gen}.tmp "#include <check.h>\n${decl}\ntypedef Suite *suite_fn(void);\nsuite_fn *pt_test_suites[] = {\n${list}    0,\n};\n")
  file(COPY_FILE ${gen}.tmp ${gen} ONLY_IF_DIFFERENT)
  add_executable(${A_NAME} ${A_SOURCES} ${gen} ${CMAKE_SOURCE_DIR}/tests/support/check_main.c)
  target_link_libraries(${A_NAME} PRIVATE ${A_LIBS} portico_testsupport PkgConfig::CHECK)
  add_test(NAME ${A_NAME} COMMAND ${A_NAME})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 120)
  endif()
  set_tests_properties(${A_NAME} PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT}
                       ENVIRONMENT "${PORTICO_TEST_ENV};${A_ENV}")
endfunction()
