/*
 * check_main.c - the main() of every check executable. The list of suites is generated
 * by portico_check_test() in cmake/Portico.cmake from its SUITES argument.
 */
#include <signal.h>
#include <stdlib.h>

#include <check.h>

typedef Suite *suite_fn(void);
extern suite_fn *pt_test_suites[];

int
main(void)
{
    SRunner *sr = srunner_create(NULL);
    int failed;

    /* As in the daemons (broker, gateway): code under test writes to sockets whose peer
     * may be gone (libvirt's client to a lost host, relays); EPIPE is the answer it
     * handles, a SIGPIPE would kill the test (seen: test_hv_qemu, lost host). */
    signal(SIGPIPE, SIG_IGN);

    for (suite_fn **s = pt_test_suites; *s; s++)
        srunner_add_suite(sr, (*s)());
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
