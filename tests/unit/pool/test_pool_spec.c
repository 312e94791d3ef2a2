/*
 * test_pool_spec.c - the state machine's edges, pool specs from INI text (through the
 * same pt_conf parser the broker uses), their round trip through the store's text form,
 * entitlement, and schedules in force at a given time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "pool/pool.h"
#include "store/store.h"
#include "tsupport/fixture.h"

/* --- state machine ------------------------------------------------------------------- */

static const struct {
    enum pool_state from, to;
    bool ok;
} edges[] = {
    {POOL_STATE_PROVISIONING, POOL_STATE_STARTING, true},
    {POOL_STATE_STARTING, POOL_STATE_READY, true},
    {POOL_STATE_READY, POOL_STATE_ASSIGNED, true},
    {POOL_STATE_ASSIGNED, POOL_STATE_CONNECTED, true},
    {POOL_STATE_CONNECTED, POOL_STATE_DISCONNECTED, true},
    {POOL_STATE_DISCONNECTED, POOL_STATE_CONNECTED, true},
    {POOL_STATE_DISCONNECTED, POOL_STATE_RECYCLING, true},
    {POOL_STATE_RECYCLING, POOL_STATE_READY, true},
    {POOL_STATE_READY, POOL_STATE_PARKED, true},
    {POOL_STATE_PARKED, POOL_STATE_STARTING, true},
    {POOL_STATE_CONNECTED, POOL_STATE_ERROR, true},
    {POOL_STATE_ERROR, POOL_STATE_DELETING, true},
    {POOL_STATE_READY, POOL_STATE_DELETING, true},
    /* not edges */
    {POOL_STATE_PROVISIONING, POOL_STATE_READY, false},
    {POOL_STATE_PROVISIONING, POOL_STATE_ASSIGNED, false},
    {POOL_STATE_READY, POOL_STATE_CONNECTED, false},
    {POOL_STATE_PARKED, POOL_STATE_ASSIGNED, false},
    {POOL_STATE_CONNECTED, POOL_STATE_READY, false},
    {POOL_STATE_CONNECTED, POOL_STATE_PARKED, false},
    {POOL_STATE_ERROR, POOL_STATE_READY, false},
    {POOL_STATE_DELETING, POOL_STATE_READY, false},
    {POOL_STATE_DELETING, POOL_STATE_ERROR, false},
};

START_TEST(test_state_machine_edges)
{
    ck_assert_msg(pool_state_transition_ok(edges[_i].from, edges[_i].to) == edges[_i].ok,
                  "%s -> %s should be %s", pool_state_str(edges[_i].from),
                  pool_state_str(edges[_i].to), edges[_i].ok ? "allowed" : "refused");
}
END_TEST

START_TEST(test_state_names_round_trip)
{
    for (int s = 0; s < POOL_STATE_COUNT; s++)
        ck_assert_int_eq(pool_state_parse(pool_state_str((enum pool_state)s)), s);
    ck_assert_int_eq(pool_state_parse("warm"), -1);
    ck_assert_int_eq(pool_state_parse(NULL), -1);
}
END_TEST

/* --- config ---------------------------------------------------------------------------- */

static int
feed(void *opaque, const struct pt_conf_entry *e, struct pt_err *err)
{
    return pool_conf_set(opaque, e, err);
}

static const char good_conf[] = "[host \"kvm-01\"]\n"
                                "uri = test:///default\n"
                                "max_desktops = 40\n"
                                "[pool \"eng\"]\n"
                                "image = /var/lib/portico/golden/eng.qcow2\n"
                                "image_version = 2026.11\n"
                                "vcpus = 2\n"
                                "memory = 2048\n"
                                "protocols = spice, rdp\n"
                                "min = 2\n"
                                "max = 40\n"
                                "warm = 4\n"
                                "parked = 6\n"
                                "assignment = dedicated\n"
                                "on_logoff = recreate\n"
                                "disconnected_timeout = 15m\n"
                                "max_session = 12h\n"
                                "groups = staff, eng\n"
                                "hosts = kvm-01\n"
                                "schedule = mon-fri 08:00 warm=20\n"
                                "schedule = mon-fri 18:00 warm=2\n";

START_TEST(test_conf_sections_build_specs)
{
    struct pool_conf *pc = pool_conf_new();
    const struct pool_spec *s;
    const char *staff[] = {"staff"}, *ops[] = {"ops", "audit"};
    struct pt_err err = {0};

    ck_assert_msg(pt_conf_parse_string(good_conf, "portico.conf", feed, pc, &err) == 0, "%s",
                  err.msg);
    ck_assert_msg(pool_conf_finish(pc, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(pool_conf_npools(pc), 1);
    s = pool_conf_pool(pc, 0);
    ck_assert_str_eq(s->name, "eng");
    ck_assert_str_eq(s->image_version, "2026.11");
    ck_assert_int_eq(s->memory_mib, 2048);
    ck_assert_uint_eq(s->protocols, POOL_PROTO_SPICE | POOL_PROTO_RDP);
    ck_assert_int_eq(s->assignment, POOL_ASSIGN_DEDICATED);
    ck_assert_int_eq(s->on_logoff, POOL_LOGOFF_RECREATE);
    ck_assert_int_eq(s->disconnected_timeout_ms, 15 * 60 * 1000);
    ck_assert_int_eq(s->max_session_ms, 12LL * 3600 * 1000);
    ck_assert_uint_eq(s->nschedules, 2);
    ck_assert_uint_eq(s->schedules[0].days, 0x1f);
    ck_assert_int_eq(s->schedules[1].minute, 18 * 60);
    ck_assert_int_eq(s->schedules[1].warm, 2);
    ck_assert(pool_spec_entitled(s, staff, 1));
    ck_assert(!pool_spec_entitled(s, ops, 2));
    ck_assert_ptr_null(pool_conf_pool(pc, 1));
    pool_conf_free(pc);
}
END_TEST

static const struct {
    const char *text, *want;
} bad_confs[] = {
    {"[pool \"eng\"]\nwarm = lots\n", "t.conf:2: warm must be a whole number"},
    {"[pool \"eng\"]\ncolour = blue\n", "t.conf:2: unknown key 'colour' in section [pool \"eng\"]"},
    {"[pool \"e ng\"]\n", "t.conf:1: pool name 'e ng' must be"},
    {"[pool \"eng\"]\nassignment = shared\n", "assignment must be floating or dedicated"},
    {"[pool \"eng\"]\non_logoff = reboot\n", "on_logoff must be keep, refresh or recreate"},
    {"[pool \"eng\"]\nprotocols = spice,x11\n", "'x11' is not one of spice, vnc, rdp"},
    {"[pool \"eng\"]\nschedule = someday 08:00 warm=1\n", "not a day list"},
    {"[pool \"eng\"]\nschedule = mon 25:00 warm=1\n", "not a time like 08:00"},
    {"[pool \"eng\"]\nschedule = mon 08:00\n", "at least one of warm=, min=, max="},
    {"[pool \"eng\"]\ndrain = sometimes\n", "drain must be retire or migrate"},
    {"[pool \"eng\"]\nidle_timeout = soon\n", "idle_timeout must be a duration"},
    {"[pool \"eng\"]\n[pool \"eng\"]\n", "pool 'eng' is defined twice"},
    {"[host \"h\"]\nurl = x\n", "unknown key 'url' in section [host \"h\"]"},
    {"[ldap]\nuri = x\n", "section [ldap] does not belong to pools"},
    {"[host \"h\"]\nmax_desktops = 3\n", "host 'h': set uri"},
    {"[pool \"eng\"]\nwarm = 1\n", "pool 'eng': set image"},
    {"[pool \"eng\"]\nimage = /g\nmin = 5\nmax = 2\n", "min (5) is larger than max (2)"},
    {"[pool \"eng\"]\nimage = /g\nmax = 4\nwarm = 3\nparked = 2\n",
     "warm (3) + parked (2) is larger than max (4)"},
};

START_TEST(test_bad_conf_says_what_and_where)
{
    struct pool_conf *pc = pool_conf_new();
    struct pt_err err = {0};
    int rc;

    rc = pt_conf_parse_string(bad_confs[_i].text, "t.conf", feed, pc, &err);
    if (rc == 0)
        rc = pool_conf_finish(pc, &err);
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strstr(err.msg, bad_confs[_i].want), "got '%s', want '%s'", err.msg,
                  bad_confs[_i].want);
    pool_conf_free(pc);
}
END_TEST

START_TEST(test_spec_text_round_trips)
{
    struct pool_conf *pc = pool_conf_new();
    struct pool_spec *copy = NULL;
    char *text, *again, *save = NULL, *line, *buf;
    struct pt_err err = {0};

    ck_assert_int_eq(pt_conf_parse_string(good_conf, "portico.conf", feed, pc, &err), 0);
    text = pool_spec_format(pool_conf_pool(pc, 0));
    copy = pool_spec_new("eng", &err);
    buf = strdup(text);
    for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strstr(line, " = ");

        ck_assert_ptr_nonnull(eq);
        *eq = '\0';
        ck_assert_msg(pool_spec_set(copy, line, eq + 3, &err) == 0, "%s", err.msg);
    }
    again = pool_spec_format(copy);
    ck_assert_str_eq(again, text);
    ck_assert_msg(strstr(text, "schedule = mon,tue,wed,thu,fri 08:00 warm=20\n"), "%s", text);
    free(buf);
    free(text);
    free(again);
    pool_spec_free(copy);
    pool_conf_free(pc);
}
END_TEST

/* --- schedules in force -------------------------------------------------------------- */

static int64_t fake_now;

static int64_t
fake_clock(void *opaque)
{
    return fake_now;
}

static int64_t
at(int mday, int hour, int min)
{
    struct tm tm = {
        .tm_year = 2026 - 1900, .tm_mon = 10, .tm_mday = mday, .tm_hour = hour, .tm_min = min};

    return (int64_t)timegm(&tm) * 1000;
}

START_TEST(test_schedules_set_sizes_by_day_and_time)
{
    struct pool_ctx_opts o = {.clock_ms = fake_clock, .workers = 1};
    struct store *st;
    struct pool_ctx *ctx;
    struct pool_spec *s;
    struct pool_status *ps = NULL;
    size_t n = 0;
    char path[512];
    struct pt_err err = {0};
    static const struct {
        int mday, hour, min, warm, max;
    } cases[] = {
        {23, 7, 59, 1, 10}, /* Monday before 08:00: the weekend rule still holds */
        {23, 8, 0, 20, 40}, /* Monday 08:00 */
        {23, 17, 59, 20, 40}, {23, 18, 0, 2, 40}, /* Monday 18:00 */
        {24, 3, 0, 2, 40},                        /* Tuesday night: Monday 18:00's rule */
        {28, 12, 0, 1, 10},                       /* Saturday noon: the weekend rule */
        {30, 7, 0, 1, 10},                        /* next Monday 07:00: still the weekend rule */
    };

    setenv("TZ", "UTC", 1);
    tzset();
    snprintf(path, sizeof(path), "%s/sched-%d.db", tf_tmpdir(), (int)getpid());
    st = store_open(path, &err);
    ck_assert_msg(st, "%s", err.msg);
    ctx = pool_ctx_new(&o, &st, &err);
    ck_assert_msg(ctx, "%s", err.msg);
    s = pool_spec_new("eng", &err);
    ck_assert_int_eq(pool_spec_set(s, "image", "/g.qcow2", &err), 0);
    ck_assert_int_eq(pool_spec_set(s, "max", "40", &err), 0);
    ck_assert_int_eq(pool_spec_set(s, "schedule", "mon-fri 08:00 warm=20", &err), 0);
    ck_assert_int_eq(pool_spec_set(s, "schedule", "mon-fri 18:00 warm=2", &err), 0);
    ck_assert_int_eq(pool_spec_set(s, "schedule", "sat 00:00 warm=1 max=10", &err), 0);
    ck_assert_msg(pool_ctx_pool_put(ctx, s, &err) == 0, "%s", err.msg);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fake_now = at(cases[i].mday, cases[i].hour, cases[i].min);
        ck_assert_int_eq(pool_ctx_status(ctx, &ps, &n, &err), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_msg(ps[0].warm == cases[i].warm && ps[0].max_size == cases[i].max,
                      "case %zu: warm %d max %d, want %d %d", i, ps[0].warm, ps[0].max_size,
                      cases[i].warm, cases[i].max);
        free(ps);
    }
    pool_spec_free(s);
    pool_ctx_free(ctx);
}
END_TEST

START_TEST(test_stored_schedules_are_added_listed_removed_and_survive_a_restart)
{
    struct pool_ctx_opts o = {.clock_ms = fake_clock, .workers = 1};
    struct store *st;
    struct pool_ctx *ctx;
    struct pool_spec *s;
    struct pool_status *ps = NULL;
    struct pool_schedule_entry *l = NULL;
    size_t n = 0;
    int64_t id = 0;
    char path[512], *text;
    struct pt_err err = {0};

    setenv("TZ", "UTC", 1);
    tzset();
    fake_now = at(23, 18, 30); /* Monday 18:30 */
    snprintf(path, sizeof(path), "%s/sched-store-%d.db", tf_tmpdir(), (int)getpid());
    st = store_open(path, &err);
    ck_assert_msg(st, "%s", err.msg);
    ctx = pool_ctx_new(&o, &st, &err);
    ck_assert_msg(ctx, "%s", err.msg);
    s = pool_spec_new("eng", &err);
    ck_assert_int_eq(pool_spec_set(s, "image", "/g.qcow2", &err), 0);
    ck_assert_int_eq(pool_spec_set(s, "max", "40", &err), 0);
    ck_assert_int_eq(pool_spec_set(s, "schedule", "mon-fri 08:00 warm=20", &err), 0);
    ck_assert_msg(pool_ctx_pool_put(ctx, s, &err) == 0, "%s", err.msg);
    pool_spec_free(s);

    /* added through the API: kept in the schedules table, in force at once */
    ck_assert_msg(pool_ctx_schedule_add(ctx, "eng", "mon-fri 18:00 warm=2", &id, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_gt(id, 0);
    ck_assert_int_eq(pool_ctx_status(ctx, &ps, &n, &err), 0);
    ck_assert_int_eq(ps[0].warm, 2);
    free(ps);
    ck_assert_int_eq(pool_ctx_schedule_add(ctx, "eng", "someday 08:00 warm=1", &id, &err), -1);
    ck_assert_int_eq(err.code, PT_E_INVALID);
    ck_assert_int_eq(pool_ctx_schedule_add(ctx, "nope", "mon 08:00 warm=1", &id, &err), -1);
    ck_assert_int_eq(err.code, PT_E_NOTFOUND);
    /* the spec text is not rewritten */
    text = pool_spec_format(pool_ctx_pool_get(ctx, "eng"));
    ck_assert_msg(!strstr(text, "18:00"), "%s", text);
    free(text);
    pool_ctx_free(ctx);

    /* a restart reads the stored rule back */
    st = store_open(path, &err);
    ck_assert_msg(st, "%s", err.msg);
    ctx = pool_ctx_new(&o, &st, &err);
    ck_assert_msg(ctx, "%s", err.msg);
    ck_assert_int_eq(pool_ctx_schedule_list(ctx, "eng", &l, &n, &err), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert(l[0].from_spec);
    ck_assert_int_eq(l[0].id, 0);
    ck_assert_str_eq(l[0].text, "mon,tue,wed,thu,fri 08:00 warm=20");
    ck_assert(!l[1].from_spec);
    ck_assert_int_eq(l[1].id, id);
    ck_assert_str_eq(l[1].text, "mon,tue,wed,thu,fri 18:00 warm=2");
    ck_assert_int_eq(l[1].rule.warm, 2);
    free(l);
    ck_assert_int_eq(pool_ctx_status(ctx, &ps, &n, &err), 0);
    ck_assert_int_eq(ps[0].warm, 2);
    free(ps);

    /* removed: the spec's 08:00 rule is in force again; a spec rule or an unknown id
     * cannot be removed this way */
    ck_assert_int_eq(pool_ctx_schedule_remove(ctx, "eng", 0, &err), -1);
    ck_assert_int_eq(err.code, PT_E_NOTFOUND);
    ck_assert_int_eq(pool_ctx_schedule_remove(ctx, "eng", id + 100, &err), -1);
    ck_assert_int_eq(err.code, PT_E_NOTFOUND);
    ck_assert_msg(pool_ctx_schedule_remove(ctx, "eng", id, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(pool_ctx_status(ctx, &ps, &n, &err), 0);
    ck_assert_int_eq(ps[0].warm, 20);
    free(ps);
    ck_assert_int_eq(pool_ctx_schedule_list(ctx, "eng", &l, &n, &err), 0);
    ck_assert_uint_eq(n, 1);
    free(l);
    pool_ctx_free(ctx);
}
END_TEST

Suite *pool_spec_suite(void);
Suite *
pool_spec_suite(void)
{
    Suite *s = suite_create("pool_spec");
    TCase *tc = tcase_create("spec");

    tcase_add_loop_test(tc, test_state_machine_edges, 0, sizeof(edges) / sizeof(edges[0]));
    tcase_add_test(tc, test_state_names_round_trip);
    tcase_add_test(tc, test_conf_sections_build_specs);
    tcase_add_loop_test(tc, test_bad_conf_says_what_and_where, 0,
                        sizeof(bad_confs) / sizeof(bad_confs[0]));
    tcase_add_test(tc, test_spec_text_round_trips);
    tcase_add_test(tc, test_schedules_set_sizes_by_day_and_time);
    tcase_add_test(tc, test_stored_schedules_are_added_listed_removed_and_survive_a_restart);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}
