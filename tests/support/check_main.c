/*
 * check_main.c - the main() of every check executable. The list of suites is generated
 * by portico_check_test() in cmake/Portico.cmake from its SUITES argument.
 */
#include <stdlib.h>

#include <check.h>

typedef Suite *suite_fn(void);
extern suite_fn *pt_test_suites[];

int
main(void)
{
    SRunner *sr = srunner_create(NULL);
    int failed;

    for (suite_fn **s = pt_test_suites; *s; s++)
        srunner_add_suite(sr, (*s)());
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
