/*
 * test_pool_crash.c - kill -9 the pool at random moments during a claim and provisioning
 * storm, 20 times, and after every restart check that no desktop was ever held by two
 * users at once, that no domain leaked, and that the pool converges to its spec.
 *
 * Where the desktops live: libvirt's test driver *inside the real libvirtd*, reached as
 * test+unix:///default over libvirtd's socket. Its state outlives each driver process
 * because this test keeps one connection to it open for the whole run (libvirtd keeps
 * test:///default alive while any connection is open), so a killed driver leaves behind
 * exactly what it had done, as a crashed broker would on a real host. Real QEMU guests
 * would make each round take seconds (a destroy alone is 1-2 s under TCG) for the same
 * logic; the hypervisor layer's own tests cover real guests.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "common/str.h"
#include "hypervisor/hv.h"
#include "store/store.h"
#include "tsupport/fixture.h"

#define ROUNDS  20
#define URI     "test+unix:///default?socket=/run/libvirt/libvirt-sock"
#define VIRSH_C "virsh -q -c '" URI "' "

static char prefix[64], golden_name[96], golden[160], db[512];

static pid_t
spawn(const char *mode, unsigned seed)
{
    char seedbuf[32], log[600];
    pid_t pid;

    snprintf(seedbuf, sizeof(seedbuf), "%u", seed);
    snprintf(log, sizeof(log), "%s/crash-driver.log", tf_tmpdir());
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char *argv[] = {
            (char *)CRASH_DRIVER, (char *)mode, db, (char *)URI, golden, prefix, seedbuf, NULL};
        FILE *f = freopen(log, "a", stderr);

        (void)f;
        execv(CRASH_DRIVER, argv);
        _exit(127);
    }
    return pid;
}

/* No desktop's history may show it passing from one user straight to another. */
static void
check_no_double_assignment(struct store *st, int round)
{
    struct store_event *ev = NULL;
    size_t n = 0;
    struct pt_err err = {0};

    ck_assert_msg(store_event_list(st, NULL, 1000000, &ev, &n, &err) == 0, "%s", err.msg);
    for (size_t i = 0; i < n; i++) {
        /* the holder before this event: the user of the previous event of this desktop */
        for (size_t k = i; k-- > 0;) {
            if (strcmp(ev[k].desktop, ev[i].desktop) != 0)
                continue;
            ck_assert_msg(!ev[k].user[0] || !ev[i].user[0] || strcmp(ev[k].user, ev[i].user) == 0 ||
                              strcmp(ev[k].to, "deleted") == 0,
                          "round %d: desktop %s went from %s to %s without a release (%s)", round,
                          ev[i].desktop, ev[k].user, ev[i].user, ev[i].reason);
            break;
        }
    }
    free(ev);
}

/* Every domain with our prefix has exactly one row, and every row one domain. */
static void
check_no_leak(struct hv *hv, struct store *st, int round)
{
    struct hv_desktop_info *dl = NULL;
    struct store_desktop *rows = NULL;
    size_t nd = 0, nr = 0, mine = 0;
    struct pt_err err = {0};

    ck_assert_msg(hv_desktop_list(hv, "h1", &dl, &nd, &err) == 0, "%s", err.msg);
    ck_assert_msg(store_desktop_list(st, NULL, &rows, &nr, &err) == 0, "%s", err.msg);
    for (size_t i = 0; i < nd; i++) {
        bool found = false;

        if (strncmp(dl[i].name, prefix, strlen(prefix)) != 0)
            continue;
        mine++;
        for (size_t k = 0; k < nr; k++)
            found |= strcmp(rows[k].domain, dl[i].name) == 0;
        ck_assert_msg(found, "round %d: domain %s leaked (no row)", round, dl[i].name);
    }
    ck_assert_msg(mine == nr, "round %d: %zu domains for %zu rows", round, mine, nr);
    free(dl);
    free(rows);
}

START_TEST(test_kill_nine_during_a_claim_storm_twenty_times)
{
    struct hv_host_conf hc = {.name = "h1", .uri = URI};
    struct hv *hv;
    struct pt_err err = {0};
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    char cmd[512];
    int status, kills = 0;

    if (tf_libvirtd_ensure(&err) < 0)
        ck_abort_msg("libvirtd: %s", err.msg);
    snprintf(prefix, sizeof(prefix), "pt-crash%d-", (int)getpid());
    snprintf(golden_name, sizeof(golden_name), "pt-crash%d-golden.qcow2", (int)getpid());
    snprintf(golden, sizeof(golden), "/default-pool/%s", golden_name);
    snprintf(db, sizeof(db), "%s/crash.db", tf_tmpdir());
    /* keep libvirtd's test:///default alive for the whole test */
    hv = hv_new(&err);
    ck_assert_msg(hv && hv_host_add(hv, &hc, &err) == 0, "%s", err.msg);
    snprintf(cmd, sizeof(cmd),
             VIRSH_C "vol-create-as default-pool %s 16M --format qcow2 >/dev/null", golden_name);
    ck_assert_msg(system(cmd) == 0, "cannot create the golden volume: %s", cmd);

    for (int round = 1; round <= ROUNDS; round++) {
        struct store *st;
        pid_t pid = spawn("storm", seed + (unsigned)round);
        int ms = 150 + rand_r(&seed) % 900;

        usleep((useconds_t)ms * 1000);
        ck_assert_msg(kill(pid, SIGKILL) == 0, "round %d: the driver already exited", round);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        kills++;
        /* restart: it must reconcile to the spec from whatever the kill left */
        pid = spawn("converge", seed);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "round %d (killed after %d ms): did not converge, see %s/crash-driver.log",
                      round, ms, tf_tmpdir());
        st = store_open(db, &err);
        ck_assert_msg(st, "%s", err.msg);
        check_no_double_assignment(st, round);
        check_no_leak(hv, st, round);
        store_close(st);
    }
    ck_assert_int_eq(kills, ROUNDS);

    /* clean up libvirtd's shared test driver: our domains and the golden volume */
    {
        struct hv_desktop_info *dl = NULL;
        size_t nd = 0;

        ck_assert_int_eq(hv_desktop_list(hv, "h1", &dl, &nd, &err), 0);
        for (size_t i = 0; i < nd; i++)
            if (strncmp(dl[i].name, prefix, strlen(prefix)) == 0)
                ck_assert_msg(hv_desktop_delete(hv, "h1", dl[i].name, &err) == 0, "%s", err.msg);
        free(dl);
    }
    snprintf(cmd, sizeof(cmd), VIRSH_C "vol-delete --pool default-pool %s >/dev/null", golden_name);
    ck_assert_int_eq(system(cmd), 0);
    hv_free(hv);
}
END_TEST

Suite *pool_crash_suite(void);
Suite *
pool_crash_suite(void)
{
    Suite *s = suite_create("pool_crash");
    TCase *tc = tcase_create("crash");

    tcase_add_test(tc, test_kill_nine_during_a_claim_storm_twenty_times);
    tcase_set_timeout(tc, 170);
    suite_add_tcase(s, tc);
    return s;
}
