/*
 * store_sqlite.c - the SQLite backend: connection settings, schema migrations,
 * transactions and the prepared statement cache. The queries live in store_sqlite_ops.c.
 *
 * Settings, and why:
 * - WAL: readers never block the writer and a process killed at any instant leaves a
 *   database that opens cleanly (the crash test kills the broker ~20 times).
 * - synchronous=NORMAL: in WAL mode a commit survives a process crash; only a power
 *   loss may drop the last commits, which reconcile repairs from the hypervisors.
 * - foreign_keys=ON: SQLite leaves them off by default, per connection.
 * - busy_timeout: a second broker thread or process waits for the write lock instead
 *   of failing at once; transactions begin IMMEDIATE so read-then-write never deadlocks.
 *
 * Migrations are an ordered list of SQL scripts; schema_version holds how many ran.
 * Each runs in its own transaction, so a crash mid-migration leaves the old version.
 * No SQL is ever built from input: every value is a bound parameter.
 */
#include "store_sqlite.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/str.h"

#define SQ_BUSY_TIMEOUT_MS 5000

static const char *const migrations[] = {
    /* 1: the first schema */
    "CREATE TABLE pools ("
    " name TEXT PRIMARY KEY,"
    " image_version TEXT NOT NULL DEFAULT '',"
    " min_size INTEGER NOT NULL DEFAULT 0 CHECK (min_size >= 0),"
    " max_size INTEGER NOT NULL DEFAULT 0 CHECK (max_size >= 0),"
    " warm INTEGER NOT NULL DEFAULT 0 CHECK (warm >= 0),"
    " parked INTEGER NOT NULL DEFAULT 0 CHECK (parked >= 0),"
    " spec TEXT NOT NULL DEFAULT '',"
    " next_seq INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL);"
    "CREATE TABLE desktops ("
    " id TEXT PRIMARY KEY,"
    " pool TEXT NOT NULL REFERENCES pools(name) ON DELETE RESTRICT,"
    " host TEXT NOT NULL DEFAULT '',"
    " domain TEXT NOT NULL DEFAULT '',"
    " state TEXT NOT NULL,"
    " user_name TEXT,"
    " image_version TEXT NOT NULL DEFAULT '',"
    " created_ms INTEGER NOT NULL,"
    " state_ms INTEGER NOT NULL,"
    " assigned_ms INTEGER NOT NULL DEFAULT 0,"
    " activity_ms INTEGER NOT NULL DEFAULT 0);"
    /* one desktop per user per pool: the database refuses a second, whatever the code does */
    "CREATE UNIQUE INDEX desktops_pool_user ON desktops(pool, user_name)"
    " WHERE user_name IS NOT NULL;"
    "CREATE INDEX desktops_pool_state ON desktops(pool, state, state_ms);"
    /* history outlives the desktop row, so no foreign key to desktops */
    "CREATE TABLE desktop_events ("
    " id INTEGER PRIMARY KEY,"
    " desktop TEXT NOT NULL,"
    " pool TEXT NOT NULL REFERENCES pools(name) ON DELETE CASCADE,"
    " from_state TEXT NOT NULL,"
    " to_state TEXT NOT NULL,"
    " user_name TEXT NOT NULL DEFAULT '',"
    " reason TEXT NOT NULL DEFAULT '',"
    " time_ms INTEGER NOT NULL);"
    "CREATE INDEX desktop_events_desktop ON desktop_events(desktop, id);"
    "CREATE TABLE claims ("
    " id INTEGER PRIMARY KEY,"
    " pool TEXT NOT NULL REFERENCES pools(name) ON DELETE CASCADE,"
    " user_name TEXT NOT NULL,"
    " desktop TEXT NOT NULL DEFAULT '',"
    " outcome TEXT NOT NULL,"
    " warm INTEGER NOT NULL,"
    " time_ms INTEGER NOT NULL,"
    " ready_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX claims_desktop ON claims(desktop, id);"
    "CREATE INDEX claims_pool_time ON claims(pool, time_ms);"
    "CREATE TABLE audit ("
    " id INTEGER PRIMARY KEY,"
    " time_ms INTEGER NOT NULL,"
    " actor TEXT NOT NULL,"
    " action TEXT NOT NULL,"
    " target TEXT NOT NULL DEFAULT '',"
    " result TEXT NOT NULL,"
    " detail TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE schedules ("
    " id INTEGER PRIMARY KEY,"
    " pool TEXT NOT NULL REFERENCES pools(name) ON DELETE CASCADE,"
    " days INTEGER NOT NULL CHECK (days BETWEEN 1 AND 127),"
    " minute INTEGER NOT NULL CHECK (minute BETWEEN 0 AND 1439),"
    " warm INTEGER NOT NULL DEFAULT -1,"
    " min_size INTEGER NOT NULL DEFAULT -1,"
    " max_size INTEGER NOT NULL DEFAULT -1);",
};
#define SQ_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

static const char *const stmt_sql[SQ_COUNT] = {
    [SQ_POOL_PUT] = "INSERT INTO pools (name, image_version, min_size, max_size, warm, parked,"
                    " spec, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)"
                    " ON CONFLICT(name) DO UPDATE SET image_version = ?2, min_size = ?3,"
                    " max_size = ?4, warm = ?5, parked = ?6, spec = ?7, updated_ms = ?8",
    [SQ_POOL_GET] = "SELECT name, image_version, min_size, max_size, warm, parked, spec,"
                    " created_ms, updated_ms FROM pools WHERE name = ?1",
    [SQ_POOL_LIST] = "SELECT name, image_version, min_size, max_size, warm, parked, spec,"
                     " created_ms, updated_ms FROM pools ORDER BY name",
    [SQ_POOL_DELETE] = "DELETE FROM pools WHERE name = ?1",
    [SQ_POOL_SEQ] = "UPDATE pools SET next_seq = next_seq + 1 WHERE name = ?1 RETURNING next_seq",
    [SQ_DESKTOP_INSERT] = "INSERT INTO desktops (id, pool, host, domain, state, user_name,"
                          " image_version, created_ms, state_ms, assigned_ms, activity_ms)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [SQ_DESKTOP_UPDATE] = "UPDATE desktops SET host = ?2, domain = ?3, state = ?4,"
                          " user_name = ?5, image_version = ?6, state_ms = ?7,"
                          " assigned_ms = ?8, activity_ms = ?9"
                          " WHERE id = ?1 AND (?10 IS NULL OR state = ?10)",
    [SQ_DESKTOP_GET] = "SELECT id, pool, host, domain, state, user_name, image_version,"
                       " created_ms, state_ms, assigned_ms, activity_ms FROM desktops"
                       " WHERE id = ?1",
    [SQ_DESKTOP_LIST] = "SELECT id, pool, host, domain, state, user_name, image_version,"
                        " created_ms, state_ms, assigned_ms, activity_ms FROM desktops"
                        " ORDER BY id",
    [SQ_DESKTOP_LIST_POOL] = "SELECT id, pool, host, domain, state, user_name, image_version,"
                             " created_ms, state_ms, assigned_ms, activity_ms FROM desktops"
                             " WHERE pool = ?1 ORDER BY id",
    [SQ_DESKTOP_FIND_USER] = "SELECT id, pool, host, domain, state, user_name, image_version,"
                             " created_ms, state_ms, assigned_ms, activity_ms FROM desktops"
                             " WHERE pool = ?1 AND user_name = ?2",
    [SQ_DESKTOP_PICK] = "SELECT id, pool, host, domain, state, user_name, image_version,"
                        " created_ms, state_ms, assigned_ms, activity_ms FROM desktops"
                        " WHERE pool = ?1 AND state = ?2 AND user_name IS NULL"
                        " ORDER BY (?3 IS NOT NULL AND image_version = ?3) DESC, state_ms, id"
                        " LIMIT 1",
    [SQ_DESKTOP_DELETE] = "DELETE FROM desktops WHERE id = ?1",
    [SQ_EVENT_APPEND] = "INSERT INTO desktop_events (desktop, pool, from_state, to_state,"
                        " user_name, reason, time_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [SQ_EVENT_LIST] = "SELECT * FROM (SELECT id, desktop, pool, from_state, to_state, user_name,"
                      " reason, time_ms FROM desktop_events WHERE desktop = ?1"
                      " ORDER BY id DESC LIMIT ?2) ORDER BY id",
    [SQ_EVENT_LIST_ALL] = "SELECT * FROM (SELECT id, desktop, pool, from_state, to_state,"
                          " user_name, reason, time_ms FROM desktop_events"
                          " ORDER BY id DESC LIMIT ?1) ORDER BY id",
    [SQ_CLAIM_INSERT] = "INSERT INTO claims (pool, user_name, desktop, outcome, warm, time_ms,"
                        " ready_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [SQ_CLAIM_FINISH] = "UPDATE claims SET ready_ms = ?2 WHERE id = (SELECT id FROM claims"
                        " WHERE desktop = ?1 AND ready_ms = 0 ORDER BY id DESC LIMIT 1)",
    [SQ_CLAIM_STATS] = "SELECT count(*), coalesce(sum(warm), 0),"
                       " coalesce(sum(ready_ms > 0), 0),"
                       " coalesce(avg(CASE WHEN ready_ms > 0 THEN ready_ms - time_ms END), 0),"
                       " coalesce(max(CASE WHEN ready_ms > 0 THEN ready_ms - time_ms END), 0)"
                       " FROM claims WHERE (?1 IS NULL OR pool = ?1) AND time_ms >= ?2",
    [SQ_AUDIT_APPEND] = "INSERT INTO audit (time_ms, actor, action, target, result, detail)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [SQ_AUDIT_LIST] = "SELECT id, time_ms, actor, action, target, result, detail FROM audit"
                      " ORDER BY id DESC LIMIT ?1",
    [SQ_SCHEDULE_ADD] = "INSERT INTO schedules (pool, days, minute, warm, min_size, max_size)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [SQ_SCHEDULE_LIST] = "SELECT id, pool, days, minute, warm, min_size, max_size"
                         " FROM schedules ORDER BY pool, minute, id",
    [SQ_SCHEDULE_LIST_POOL] = "SELECT id, pool, days, minute, warm, min_size, max_size"
                              " FROM schedules WHERE pool = ?1 ORDER BY minute, id",
    [SQ_SCHEDULE_DELETE] = "DELETE FROM schedules WHERE id = ?1",
};

int
sq_fail(struct sq *q, int rc, const char *what, struct pt_err *err)
{
    const char *msg = q && q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc);
    int ext = q && q->db ? sqlite3_extended_errcode(q->db) : rc;

    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        if (ext == SQLITE_CONSTRAINT_FOREIGNKEY)
            return pt_err_set(err, PT_E_CONFLICT,
                              "store: %s: a referenced row is missing or "
                              "still referenced (%s)",
                              what, msg);
        return pt_err_set(err, PT_E_CONFLICT, "store: %s: %s", what, msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return pt_err_set(err, PT_E_UNAVAILABLE,
                          "store: %s: the database stayed locked for %d ms (%s); retry", what,
                          SQ_BUSY_TIMEOUT_MS, msg);
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_PERM:
        return pt_err_set(err, PT_E_IO, "store: %s: %s", what, msg);
    default:
        return pt_err_set(err, PT_E_INTERNAL, "store: %s: %s", what, msg);
    }
}

sqlite3_stmt *
sq_prepare(struct sq *q, enum sq_stmt id, struct pt_err *err)
{
    int rc;

    if (!q->stmt[id]) {
        rc = sqlite3_prepare_v3(q->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &q->stmt[id],
                                NULL);
        if (rc != SQLITE_OK) {
            sq_fail(q, rc, "prepare", err);
            return NULL;
        }
    }
    sqlite3_reset(q->stmt[id]);
    sqlite3_clear_bindings(q->stmt[id]);
    return q->stmt[id];
}

void
sq_text(sqlite3_stmt *s, int col, char *dst, size_t n)
{
    const unsigned char *t = sqlite3_column_text(s, col);

    pt_strlcpy(dst, t ? (const char *)t : "", n);
}

int
sq_bind_opt(sqlite3_stmt *s, int idx, const char *v)
{
    if (!v || !*v)
        return sqlite3_bind_null(s, idx);
    return sqlite3_bind_text(s, idx, v, -1, SQLITE_STATIC);
}

static int
exec(struct sq *q, const char *sql, const char *what, struct pt_err *err)
{
    int rc = sqlite3_exec(q->db, sql, NULL, NULL, NULL);

    return rc == SQLITE_OK ? 0 : sq_fail(q, rc, what, err);
}

static int
read_version(struct sq *q, int *out, struct pt_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc;

    if (exec(q, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
             "create schema_version", err) < 0)
        return -1;
    rc = sqlite3_prepare_v2(q->db, "SELECT max(version) FROM schema_version", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, "read schema version", err);
    rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW)
        return sq_fail(q, rc, "read schema version", err);
    return 0;
}

/* migrate() - run every migration newer than the file's version, one transaction each. */
static int
migrate(struct sq *q, struct pt_err *err)
{
    sqlite3_stmt *s = NULL;
    int v = 0, rc;

    for (;;) {
        if (exec(q, "BEGIN IMMEDIATE", "begin migration", err) < 0)
            return -1;
        if (read_version(q, &v, err) < 0)
            goto fail;
        if (v > SQ_VERSION) {
            pt_err_set(err, PT_E_INVALID,
                       "store: the database has schema version %d but this broker knows only "
                       "up to %d; run a newer broker or restore a backup",
                       v, SQ_VERSION);
            goto fail;
        }
        if (v == SQ_VERSION) {
            q->version = v;
            return exec(q, "COMMIT", "commit", err);
        }
        if (exec(q, migrations[v], "migrate schema", err) < 0) {
            pt_err_prefix(err, "migration %d", v + 1);
            goto fail;
        }
        rc = sqlite3_prepare_v2(q->db, "INSERT INTO schema_version (version) VALUES (?1)", -1, &s,
                                NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int(s, 1, v + 1);
            rc = sqlite3_step(s);
        }
        sqlite3_finalize(s);
        s = NULL;
        if (rc != SQLITE_DONE) {
            sq_fail(q, rc, "record schema version", err);
            goto fail;
        }
        if (exec(q, "COMMIT", "commit migration", err) < 0)
            goto fail;
        pt_info("event=store_migrated version=%d", v + 1);
    }
fail:
    sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int
sq_open(struct store *st, const char *path, struct pt_err *err)
{
    struct sq *q = pt_xcalloc(1, sizeof(*q));
    sqlite3_stmt *s = NULL;
    const unsigned char *mode;
    int rc;

    rc = sqlite3_open_v2(path, &q->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        sq_fail(q, rc, "open", err);
        pt_err_prefix(err, "%s", path);
        goto fail;
    }
    sqlite3_extended_result_codes(q->db, 1);
    sqlite3_busy_timeout(q->db, SQ_BUSY_TIMEOUT_MS);
    /* journal_mode answers with the mode in force: anything but "wal" (e.g. a read-only
     * directory, a network file system) is an error, not a silent downgrade */
    rc = sqlite3_prepare_v2(q->db, "PRAGMA journal_mode=WAL", -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sq_fail(q, rc, "enable WAL", err);
        sqlite3_finalize(s);
        goto fail;
    }
    mode = sqlite3_column_text(s, 0);
    if (!mode || strcmp((const char *)mode, "wal") != 0) {
        pt_err_set(err, PT_E_IO,
                   "store: %s: cannot use WAL journal (got '%s'); put the "
                   "database on a local file system",
                   path, mode ? (const char *)mode : "?");
        sqlite3_finalize(s);
        goto fail;
    }
    sqlite3_finalize(s);
    if (exec(q, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", "set pragmas", err) < 0)
        goto fail;
    st->priv = q;
    if (migrate(q, err) < 0) {
        pt_err_prefix(err, "%s", path);
        st->priv = NULL;
        goto fail;
    }
    return 0;
fail:
    sqlite3_close(q->db);
    free(q);
    return -1;
}

static void
sq_close(struct store *st)
{
    struct sq *q = st->priv;

    if (!q)
        return;
    if (q->tx_depth > 0)
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    for (int i = 0; i < SQ_COUNT; i++)
        sqlite3_finalize(q->stmt[i]);
    sqlite3_close(q->db);
    free(q);
    st->priv = NULL;
}

static int
sq_schema_version(struct store *st)
{
    return ((struct sq *)st->priv)->version;
}

static int
sq_tx_begin(struct store *st, struct pt_err *err)
{
    struct sq *q = st->priv;

    if (q->tx_depth == 0) {
        if (exec(q, "BEGIN IMMEDIATE", "begin transaction", err) < 0)
            return -1;
        q->tx_failed = false;
    }
    q->tx_depth++;
    return 0;
}

static int
sq_tx_commit(struct store *st, struct pt_err *err)
{
    struct sq *q = st->priv;

    if (q->tx_depth <= 0)
        return pt_err_set(err, PT_E_INTERNAL, "store: commit without a transaction");
    if (--q->tx_depth > 0)
        return 0;
    if (q->tx_failed) {
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
        return pt_err_set(err, PT_E_CONFLICT,
                          "store: the transaction was rolled back by an inner step");
    }
    if (exec(q, "COMMIT", "commit", err) < 0) {
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

static void
sq_tx_rollback(struct store *st)
{
    struct sq *q = st->priv;

    if (q->tx_depth <= 0)
        return;
    if (--q->tx_depth > 0) {
        q->tx_failed = true;
        return;
    }
    sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
}

const struct store_driver store_sqlite_driver = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .schema_version = sq_schema_version,
    .tx_begin = sq_tx_begin,
    .tx_commit = sq_tx_commit,
    .tx_rollback = sq_tx_rollback,
    .pool_put = sq_pool_put,
    .pool_get = sq_pool_get,
    .pool_list = sq_pool_list,
    .pool_delete = sq_pool_delete,
    .pool_seq_next = sq_pool_seq_next,
    .desktop_insert = sq_desktop_insert,
    .desktop_update = sq_desktop_update,
    .desktop_get = sq_desktop_get,
    .desktop_list = sq_desktop_list,
    .desktop_find_user = sq_desktop_find_user,
    .desktop_pick = sq_desktop_pick,
    .desktop_delete = sq_desktop_delete,
    .event_append = sq_event_append,
    .event_list = sq_event_list,
    .claim_insert = sq_claim_insert,
    .claim_finish = sq_claim_finish,
    .claim_stats = sq_claim_stats,
    .audit_append = sq_audit_append,
    .audit_list = sq_audit_list,
    .schedule_add = sq_schedule_add,
    .schedule_list = sq_schedule_list,
    .schedule_delete = sq_schedule_delete,
};
