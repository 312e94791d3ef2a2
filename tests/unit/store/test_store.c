/*
 * test_store.c - the SQLite store on real database files: schema and migrations, the
 * constraints that keep one desktop with one user, compare-and-set updates, nested
 * transactions, history, claims, audit, schedules, and clear errors for bad input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <sqlite3.h>

#include "common/str.h"
#include "store/store.h"
#include "tsupport/fixture.h"

static char path[512];
static struct store *st;

static void
setup(void)
{
    static int n;
    struct pt_err err = {0};

    snprintf(path, sizeof(path), "%s/store-%d-%d.db", tf_tmpdir(), (int)getpid(), n++);
    st = store_open(path, &err);
    ck_assert_msg(st, "%s", err.msg);
}

static void
teardown(void)
{
    store_close(st);
    st = NULL;
}

static void
add_pool(const char *name)
{
    struct store_pool p = {.min_size = 0, .max_size = 10, .warm = 2};
    struct pt_err err = {0};

    pt_strlcpy(p.name, name, sizeof(p.name));
    pt_strlcpy(p.image_version, "v1", sizeof(p.image_version));
    p.spec = (char *)"warm = 2\n"; /* borrowed: never freed here */
    ck_assert_msg(store_pool_put(st, &p, &err) == 0, "%s", err.msg);
}

static struct store_desktop
desk(const char *id, const char *pool, const char *state, const char *user)
{
    struct store_desktop d;

    memset(&d, 0, sizeof(d));
    pt_strlcpy(d.id, id, sizeof(d.id));
    pt_strlcpy(d.pool, pool, sizeof(d.pool));
    pt_strlcpy(d.host, "h1", sizeof(d.host));
    pt_strlcpy(d.domain, id, sizeof(d.domain));
    pt_strlcpy(d.state, state, sizeof(d.state));
    pt_strlcpy(d.user, user ? user : "", sizeof(d.user));
    pt_strlcpy(d.image_version, "v1", sizeof(d.image_version));
    d.created_ms = d.state_ms = 1000;
    return d;
}

START_TEST(test_open_creates_schema_in_wal_mode_with_foreign_keys)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    char wal[600];

    ck_assert_int_eq(store_schema_version(st), 1);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    add_pool("eng");
    ck_assert_msg(access(wal, F_OK) == 0, "no WAL file next to %s", path);
    /* a second connection sees the same schema version and journal mode */
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    ck_assert_int_eq(
        sqlite3_prepare_v2(db, "SELECT max(version) FROM schema_version", -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(s, 0), 1);
    sqlite3_finalize(s);
    sqlite3_close(db);
}
END_TEST

START_TEST(test_reopening_keeps_data_and_does_not_migrate_again)
{
    struct store_pool p;
    struct pt_err err = {0};

    add_pool("eng");
    store_close(st);
    st = store_open(path, &err);
    ck_assert_msg(st, "%s", err.msg);
    ck_assert_int_eq(store_schema_version(st), 1);
    ck_assert_int_eq(store_pool_get(st, "eng", &p, &err), 0);
    ck_assert_str_eq(p.spec, "warm = 2\n");
    ck_assert_int_eq(p.warm, 2);
    store_pool_fini(&p);
}
END_TEST

START_TEST(test_a_database_from_a_newer_broker_is_refused)
{
    sqlite3 *db = NULL;
    struct pt_err err = {0};

    store_close(st);
    st = NULL;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO schema_version VALUES (99)", 0, 0, 0),
                     SQLITE_OK);
    sqlite3_close(db);
    ck_assert_ptr_null(store_open(path, &err));
    ck_assert_int_eq(err.code, PT_E_INVALID);
    ck_assert_msg(strstr(err.msg, "schema version 99"), "%s", err.msg);
}
END_TEST

START_TEST(test_bad_uris_and_paths_are_clear_errors)
{
    struct pt_err err = {0};

    ck_assert_ptr_null(store_open("", &err));
    ck_assert_int_eq(err.code, PT_E_INVALID);
    ck_assert_ptr_null(store_open("postgresql://db/portico", &err));
    ck_assert_msg(strstr(err.msg, "PostgreSQL"), "%s", err.msg);
    ck_assert_ptr_null(store_open("mysql:x", &err));
    ck_assert_msg(strstr(err.msg, "unknown database URI scheme"), "%s", err.msg);
    ck_assert_ptr_null(store_open("sqlite:/nonexistent-dir/x/y.db", &err));
    ck_assert_int_eq(err.code, PT_E_IO);
    ck_assert_msg(strstr(err.msg, "/nonexistent-dir/x/y.db"), "%s", err.msg);
}
END_TEST

START_TEST(test_a_user_holds_at_most_one_desktop_per_pool)
{
    struct store_desktop a = desk("eng-1", "eng", "assigned", "alice");
    struct store_desktop b = desk("eng-2", "eng", "ready", NULL);
    struct pt_err err = {0};

    add_pool("eng");
    ck_assert_int_eq(store_desktop_insert(st, &a, &err), 0);
    ck_assert_int_eq(store_desktop_insert(st, &b, &err), 0);
    pt_strlcpy(b.user, "alice", sizeof(b.user));
    ck_assert_int_eq(store_desktop_update(st, &b, "ready", &err), -1);
    ck_assert_int_eq(err.code, PT_E_CONFLICT);
    ck_assert_msg(strstr(err.msg, "user 'alice' already holds a desktop in pool 'eng'"), "%s",
                  err.msg);
}
END_TEST

START_TEST(test_update_is_a_compare_and_set_on_the_state)
{
    struct store_desktop d = desk("eng-1", "eng", "ready", NULL), got;
    struct pt_err err = {0};

    add_pool("eng");
    ck_assert_int_eq(store_desktop_insert(st, &d, &err), 0);
    pt_strlcpy(d.state, "assigned", sizeof(d.state));
    pt_strlcpy(d.user, "bob", sizeof(d.user));
    ck_assert_int_eq(store_desktop_update(st, &d, "ready", &err), 0);
    /* a second claimer that still believes it is ready loses */
    pt_strlcpy(d.user, "carol", sizeof(d.user));
    ck_assert_int_eq(store_desktop_update(st, &d, "ready", &err), -1);
    ck_assert_int_eq(err.code, PT_E_CONFLICT);
    ck_assert_msg(strstr(err.msg, "is assigned now, not ready"), "%s", err.msg);
    ck_assert_int_eq(store_desktop_get(st, "eng-1", &got, &err), 0);
    ck_assert_str_eq(got.user, "bob");
    d = desk("eng-404", "eng", "ready", NULL);
    ck_assert_int_eq(store_desktop_update(st, &d, "ready", &err), -1);
    ck_assert_int_eq(err.code, PT_E_NOTFOUND);
}
END_TEST

START_TEST(test_desktops_need_an_existing_pool_and_pools_with_desktops_stay)
{
    struct store_desktop d = desk("x-1", "nopool", "ready", NULL);
    struct pt_err err = {0};

    ck_assert_int_eq(store_desktop_insert(st, &d, &err), -1);
    ck_assert_int_eq(err.code, PT_E_CONFLICT);
    add_pool("eng");
    d = desk("eng-1", "eng", "ready", NULL);
    ck_assert_int_eq(store_desktop_insert(st, &d, &err), 0);
    ck_assert_int_eq(store_pool_delete(st, "eng", &err), -1);
    ck_assert_int_eq(err.code, PT_E_CONFLICT);
    ck_assert_msg(strstr(err.msg, "still has desktops"), "%s", err.msg);
    ck_assert_int_eq(store_desktop_delete(st, "eng-1", &err), 0);
    ck_assert_int_eq(store_pool_delete(st, "eng", &err), 0);
    ck_assert_int_eq(store_pool_delete(st, "eng", &err), -1);
    ck_assert_int_eq(err.code, PT_E_NOTFOUND);
}
END_TEST

START_TEST(test_nested_transactions_commit_or_roll_back_as_one)
{
    struct store_desktop d = desk("eng-1", "eng", "ready", NULL), got;
    struct pt_err err = {0};

    add_pool("eng");
    ck_assert_int_eq(store_tx_begin(st, &err), 0);
    ck_assert_int_eq(store_desktop_insert(st, &d, &err), 0);
    ck_assert_int_eq(store_tx_begin(st, &err), 0);
    store_tx_rollback(st); /* an inner step failed */
    ck_assert_int_eq(store_tx_commit(st, &err), -1);
    ck_assert_int_eq(err.code, PT_E_CONFLICT);
    ck_assert_int_eq(store_desktop_get(st, "eng-1", &got, &err), -1);
    ck_assert_int_eq(err.code, PT_E_NOTFOUND);

    ck_assert_int_eq(store_tx_begin(st, &err), 0);
    ck_assert_int_eq(store_tx_begin(st, &err), 0);
    ck_assert_int_eq(store_desktop_insert(st, &d, &err), 0);
    ck_assert_int_eq(store_tx_commit(st, &err), 0);
    ck_assert_int_eq(store_tx_commit(st, &err), 0);
    ck_assert_int_eq(store_desktop_get(st, "eng-1", &got, &err), 0);
    ck_assert_int_eq(store_tx_commit(st, &err), -1);
    ck_assert_int_eq(err.code, PT_E_INTERNAL);
}
END_TEST

START_TEST(test_pick_prefers_the_current_image_then_the_longest_waiting)
{
    struct store_desktop a = desk("eng-1", "eng", "ready", NULL);
    struct store_desktop b = desk("eng-2", "eng", "ready", NULL);
    struct store_desktop c = desk("eng-3", "eng", "ready", NULL);
    struct store_desktop got;
    struct pt_err err = {0};

    add_pool("eng");
    a.state_ms = 10;
    b.state_ms = 20;
    pt_strlcpy(b.image_version, "v2", sizeof(b.image_version));
    c.state_ms = 5;
    pt_strlcpy(c.user, "dave", sizeof(c.user)); /* taken: never picked */
    ck_assert_int_eq(store_desktop_insert(st, &a, &err), 0);
    ck_assert_int_eq(store_desktop_insert(st, &b, &err), 0);
    ck_assert_int_eq(store_desktop_insert(st, &c, &err), 0);
    ck_assert_int_eq(store_desktop_pick(st, "eng", "ready", "v2", &got, &err), 1);
    ck_assert_str_eq(got.id, "eng-2");
    ck_assert_int_eq(store_desktop_pick(st, "eng", "ready", NULL, &got, &err), 1);
    ck_assert_str_eq(got.id, "eng-1");
    ck_assert_int_eq(store_desktop_pick(st, "eng", "parked", NULL, &got, &err), 0);
    ck_assert_int_eq(store_desktop_find_user(st, "eng", "dave", &got, &err), 1);
    ck_assert_str_eq(got.id, "eng-3");
    ck_assert_int_eq(store_desktop_find_user(st, "eng", "erin", &got, &err), 0);
}
END_TEST

START_TEST(test_history_claims_audit_and_schedules_round_trip)
{
    struct store_event ev = {.time_ms = 7}, *evs = NULL;
    struct store_claim c = {.warm = true, .time_ms = 100}, c2 = {.time_ms = 200};
    struct store_claim_stats cs;
    struct store_audit a = {.time_ms = 9}, *as = NULL;
    struct store_schedule sc = {.days = 0x1f,
                                .minute = 480,
                                .warm = 20,
                                .min_size = -1,
                                .max_size = -1},
                          *scs = NULL;
    size_t n = 0;
    struct pt_err err = {0};

    add_pool("eng");
    pt_strlcpy(ev.desktop, "eng-1", sizeof(ev.desktop));
    pt_strlcpy(ev.pool, "eng", sizeof(ev.pool));
    pt_strlcpy(ev.to, "provisioning", sizeof(ev.to));
    pt_strlcpy(ev.reason, "pool below its size", sizeof(ev.reason));
    ck_assert_int_eq(store_event_append(st, &ev, &err), 0);
    pt_strlcpy(ev.from, "provisioning", sizeof(ev.from));
    pt_strlcpy(ev.to, "starting", sizeof(ev.to));
    ck_assert_int_eq(store_event_append(st, &ev, &err), 0);
    ck_assert_int_eq(store_event_list(st, "eng-1", 10, &evs, &n, &err), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(evs[0].to, "provisioning");
    ck_assert_str_eq(evs[1].from, "provisioning");
    free(evs);

    pt_strlcpy(c.pool, "eng", sizeof(c.pool));
    pt_strlcpy(c.user, "alice", sizeof(c.user));
    pt_strlcpy(c.desktop, "eng-1", sizeof(c.desktop));
    pt_strlcpy(c.outcome, "warm", sizeof(c.outcome));
    c.ready_ms = 100;
    ck_assert_int_eq(store_claim_insert(st, &c, &err), 0);
    c2 = c;
    c2.warm = false;
    c2.time_ms = 200;
    c2.ready_ms = 0;
    pt_strlcpy(c2.desktop, "eng-2", sizeof(c2.desktop));
    ck_assert_int_eq(store_claim_insert(st, &c2, &err), 0);
    ck_assert_int_gt(c2.id, c.id);
    ck_assert_int_eq(store_claim_finish(st, "eng-2", 1700, &err), 0);
    ck_assert_int_eq(store_claim_stats(st, "eng", 0, &cs, &err), 0);
    ck_assert_int_eq(cs.claims, 2);
    ck_assert_int_eq(cs.warm, 1);
    ck_assert_int_eq(cs.served, 2);
    ck_assert_int_eq(cs.max_wait_ms, 1500);
    ck_assert_int_eq(cs.avg_wait_ms, 750);

    pt_strlcpy(a.actor, "admin", sizeof(a.actor));
    pt_strlcpy(a.action, "pool.resize", sizeof(a.action));
    pt_strlcpy(a.target, "eng", sizeof(a.target));
    pt_strlcpy(a.result, "ok", sizeof(a.result));
    pt_strlcpy(a.detail, "warm 2 -> 5; '); DROP TABLE pools; --", sizeof(a.detail));
    ck_assert_int_eq(store_audit_append(st, &a, &err), 0);
    ck_assert_int_eq(store_audit_list(st, 5, &as, &n, &err), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(as[0].detail, "warm 2 -> 5; '); DROP TABLE pools; --");
    free(as);

    pt_strlcpy(sc.pool, "eng", sizeof(sc.pool));
    ck_assert_int_eq(store_schedule_add(st, &sc, &err), 0);
    ck_assert_int_eq(store_schedule_list(st, "eng", &scs, &n, &err), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(scs[0].warm, 20);
    ck_assert_int_eq(scs[0].max_size, -1);
    free(scs);
    ck_assert_int_eq(store_schedule_delete(st, sc.id, &err), 0);
    ck_assert_int_eq(store_schedule_delete(st, sc.id, &err), -1);
    ck_assert_int_eq(err.code, PT_E_NOTFOUND);
    sc.minute = 24 * 60;
    ck_assert_int_eq(store_schedule_add(st, &sc, &err), -1);
    ck_assert_int_eq(err.code, PT_E_INVALID);
}
END_TEST

START_TEST(test_bad_input_is_refused_before_any_sql)
{
    struct store_desktop d = desk("", "eng", "ready", NULL);
    struct store_pool p = {.max_size = 1};
    char longname[200];
    struct pt_err err = {0};

    ck_assert_int_eq(store_desktop_insert(st, &d, &err), -1);
    ck_assert_int_eq(err.code, PT_E_INVALID);
    ck_assert_str_eq(err.msg, "store: desktop id is missing");
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    ck_assert_int_eq(store_pool_delete(st, longname, &err), -1);
    ck_assert_msg(strstr(err.msg, "pool name is 199 bytes long, the limit is 63"), "%s", err.msg);
    pt_strlcpy(p.name, "neg", sizeof(p.name));
    p.warm = -1;
    ck_assert_int_eq(store_pool_put(st, &p, &err), -1);
    ck_assert_msg(strstr(err.msg, "negative size"), "%s", err.msg);
    ck_assert_int_eq(store_event_list(st, NULL, 0, NULL, NULL, &err), -1);
    ck_assert_int_eq(store_pool_seq_next(st, "nopool", &err), -1);
    ck_assert_int_eq(err.code, PT_E_NOTFOUND);
}
END_TEST

START_TEST(test_desktop_numbers_count_up_per_pool)
{
    struct pt_err err = {0};

    add_pool("eng");
    add_pool("ops");
    ck_assert_int_eq(store_pool_seq_next(st, "eng", &err), 1);
    ck_assert_int_eq(store_pool_seq_next(st, "eng", &err), 2);
    ck_assert_int_eq(store_pool_seq_next(st, "ops", &err), 1);
    add_pool("eng"); /* an update keeps the counter */
    ck_assert_int_eq(store_pool_seq_next(st, "eng", &err), 3);
}
END_TEST

Suite *store_suite(void);
Suite *
store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("sqlite");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_open_creates_schema_in_wal_mode_with_foreign_keys);
    tcase_add_test(tc, test_reopening_keeps_data_and_does_not_migrate_again);
    tcase_add_test(tc, test_a_database_from_a_newer_broker_is_refused);
    tcase_add_test(tc, test_bad_uris_and_paths_are_clear_errors);
    tcase_add_test(tc, test_a_user_holds_at_most_one_desktop_per_pool);
    tcase_add_test(tc, test_update_is_a_compare_and_set_on_the_state);
    tcase_add_test(tc, test_desktops_need_an_existing_pool_and_pools_with_desktops_stay);
    tcase_add_test(tc, test_nested_transactions_commit_or_roll_back_as_one);
    tcase_add_test(tc, test_pick_prefers_the_current_image_then_the_longest_waiting);
    tcase_add_test(tc, test_history_claims_audit_and_schedules_round_trip);
    tcase_add_test(tc, test_bad_input_is_refused_before_any_sql);
    tcase_add_test(tc, test_desktop_numbers_count_up_per_pool);
    suite_add_tcase(s, tc);
    return s;
}
