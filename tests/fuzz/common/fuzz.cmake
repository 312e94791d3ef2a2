# portico_fuzz_target(): one libFuzzer target plus its corpus replay test, the pattern of
# tests/fuzz/auth/ made reusable for tests/fuzz/{common,gateway,broker}/ (included by path).
#
# portico_fuzz_target(NAME <fuzz_x> HARNESS <x.c>... [INSTRUMENT <product .c>...]
#                     [LIBS <targets>...] [INCLUDES <dirs>...] CORPUS <dir> [PASS <regex>])
#
# - <NAME>_replay (always built): HARNESS + tests/fuzz/common/replay.c linked against LIBS,
#   registered as ctest <NAME>_replay with labels unit;fuzz, so the committed seeds run in
#   every build under the build's sanitizers. PASS is a regex on the replay's last line
#   ("replay: N inputs, <note>, clean") that proves the seeds still reach deep code.
# - <NAME> (only with -DPORTICO_FUZZ=ON and clang): HARNESS + INSTRUMENT, compiled with
#   -fsanitize=fuzzer so libFuzzer sees coverage of the product code it targets. LIBS are
#   still linked: an archive member is only pulled for symbols INSTRUMENT does not define,
#   so the instrumented copies win and the rest of the module links as usual.
include_guard(GLOBAL)

function(portico_fuzz_target)
  cmake_parse_arguments(A "" "NAME;CORPUS;PASS" "HARNESS;INSTRUMENT;LIBS;INCLUDES" ${ARGN})

  # a fixed path: variables set here would not reach sibling directories after the guard
  add_executable(${A_NAME}_replay ${A_HARNESS} ${CMAKE_SOURCE_DIR}/tests/fuzz/common/replay.c)
  target_include_directories(${A_NAME}_replay PRIVATE ${A_INCLUDES})
  target_link_libraries(${A_NAME}_replay PRIVATE ${A_LIBS})
  add_test(NAME ${A_NAME}_replay COMMAND ${A_NAME}_replay ${A_CORPUS})
  if(NOT A_PASS)
    set(A_PASS ", clean$")
  endif()
  # PASS_REGULAR_EXPRESSION replaces the exit-code check; a sanitizer report never prints
  # the final "clean" line (halt_on_error), and FAIL catches one that somehow would.
  set_tests_properties(${A_NAME}_replay PROPERTIES LABELS "unit;fuzz" TIMEOUT 60
                       ENVIRONMENT "${PORTICO_TEST_ENV}"
                       PASS_REGULAR_EXPRESSION "${A_PASS}"
                       FAIL_REGULAR_EXPRESSION "Sanitizer|runtime error|read errors")

  if(PORTICO_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
    add_executable(${A_NAME} ${A_HARNESS} ${A_INSTRUMENT})
    target_include_directories(${A_NAME} PRIVATE ${A_INCLUDES})
    # ASan+UBSan unless the build already chose sanitizers (PORTICO_SANITIZE adds its own)
    if(PORTICO_SANITIZE)
      set(san fuzzer)
    else()
      set(san fuzzer,address,undefined)
    endif()
    target_compile_options(${A_NAME} PRIVATE -fsanitize=${san} -fno-omit-frame-pointer
                           -fno-sanitize-recover=undefined)
    target_link_options(${A_NAME} PRIVATE -fsanitize=${san})
    target_link_libraries(${A_NAME} PRIVATE ${A_LIBS})
  endif()
endfunction()
