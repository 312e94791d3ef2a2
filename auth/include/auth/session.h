/*
 * session.h - server-side sign-in sessions for the broker.
 *
 * A session id is 256 bits from RAND_bytes, sent to the browser as 64 hex characters in
 * a cookie. The table keys sessions by SHA-256(id), so whatever holds the table (memory
 * now, the shared store later) never holds a usable id. The CSRF token is derived from the
 * id (HMAC-SHA256), so it needs no storage and can be handed out again at any time; it is
 * compared in constant time. Sessions end after an idle period (sliding, refreshed by
 * every lookup) or an absolute lifetime, whichever comes first, or on logout.
 *
 * The table sits behind struct auth_session_store (a small vtable) so that a second
 * broker can later keep sessions in the shared store; the in-memory store below is the
 * only implementation today, so sessions do not survive a broker restart yet.
 *
 * Single sign-on: when a pool passes the user's own sign-in to the desktop, the broker
 * keeps the password in the session record, sealed (ChaCha20-Poly1305) under a key derived
 * from the session id. The table holds only SHA-256 of the id, so a dump of the broker's
 * heap between requests, or of a future shared store holding these records, yields
 * ciphertext nobody can open without the browser's cookie. The record is wiped when the
 * session ends (sign-out, expiry, an admin ending it).
 *
 * Thread: every function may be called from any thread (the memory store locks).
 */
#ifndef PT_AUTH_SESSION_H
#define PT_AUTH_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define AUTH_SESSION_ID_LEN        64 /* hex characters */
#define AUTH_SESSION_CSRF_LEN      64
#define AUTH_SESSION_KEY_LEN       32  /* SHA-256 of the id: the table key */
#define AUTH_SESSION_PW_MAX        256 /* bytes of a sign-in password kept for single sign-on */
#define AUTH_SESSION_PW_SEALED_MAX (12 + AUTH_SESSION_PW_MAX + 16) /* nonce, text, tag */

/* One session as stored: plain data, fixed size, so a store can copy or serialise it. */
struct auth_session {
    char user[256];    /* login as typed and accepted by the directory */
    char display[256]; /* display name, may be empty */
    char pools[1024];  /* entitled pool names, each followed by '\n' */
    bool admin;
    int64_t created_ms;   /* wall clock */
    int64_t last_seen_ms; /* wall clock, refreshed by auth_session_lookup() */
    char sso_user[256];   /* the desktop login for single sign-on ("" = none kept) */
    /* the sign-in password for single sign-on, sealed (see above; 0 = none kept). Only
     * auth_session_create() writes it and only auth_session_password() opens it. */
    unsigned char sealed_pw[AUTH_SESSION_PW_SEALED_MAX];
    size_t sealed_pw_len;
};

/* auth_session_has_pool() - true if @pool is among @s->pools. */
bool auth_session_has_pool(const struct auth_session *s, const char *pool);

/* --- the table behind an interface ------------------------------------------------ */

struct auth_session_store;
struct auth_session_store_ops {
    /* put: insert (fails with PT_E_LIMIT when full). get: 0 found, 1 absent, -1 error.
     * touch: set last_seen_ms. del: 0, 1 absent. sweep: drop sessions for which @expired
     * says so; returns how many. */
    int (*put)(struct auth_session_store *st, const unsigned char key[AUTH_SESSION_KEY_LEN],
               const struct auth_session *s, struct pt_err *err);
    int (*get)(struct auth_session_store *st, const unsigned char key[AUTH_SESSION_KEY_LEN],
               struct auth_session *out, struct pt_err *err);
    int (*touch)(struct auth_session_store *st, const unsigned char key[AUTH_SESSION_KEY_LEN],
                 int64_t last_seen_ms);
    int (*del)(struct auth_session_store *st, const unsigned char key[AUTH_SESSION_KEY_LEN]);
    size_t (*sweep)(struct auth_session_store *st,
                    bool (*expired)(const struct auth_session *s, void *opaque), void *opaque);
    size_t (*count)(struct auth_session_store *st);
    void (*free)(struct auth_session_store *st);
};
struct auth_session_store {
    const struct auth_session_store_ops *ops;
};

/* auth_session_store_memory_new() - an in-process table of at most @max sessions. New. */
struct auth_session_store *auth_session_store_memory_new(size_t max);

/* --- sessions ------------------------------------------------------------------------- */

struct auth_session_conf {
    int64_t idle_ms;     /* 30 min: ends after this long without a lookup */
    int64_t absolute_ms; /* 12 h: ends this long after sign-in regardless */
};

struct auth_sessions;

/* auth_sessions_new() - takes ownership of *@store (cleared; NULL → a memory store of
 * 100000). @conf NULL → defaults. Returns new. */
struct auth_sessions *auth_sessions_new(const struct auth_session_conf *conf,
                                        struct auth_session_store **store);
void auth_sessions_free(struct auth_sessions *ss);

/*
 * auth_session_create() - a new session for @s (user, display, pools, admin, sso_user; the
 * times are set here from @now_ms). @password (NULL: none) is kept sealed for single
 * sign-on under a key derived from the new id; @s's own sealed_pw is ignored. Writes the id
 * and its CSRF token (NUL-terminated hex) into @id and @csrf. Returns 0, or -1 (PT_E_LIMIT
 * when the table is full, PT_E_INVALID for a password over AUTH_SESSION_PW_MAX bytes,
 * PT_E_INTERNAL if the random generator or the cipher failed).
 */
int auth_session_create(struct auth_sessions *ss, const struct auth_session *s,
                        const char *password, int64_t now_ms, char id[AUTH_SESSION_ID_LEN + 1],
                        char csrf[AUTH_SESSION_CSRF_LEN + 1], struct pt_err *err);
/*
 * auth_session_password() - open the single sign-on password of @s, the record of session
 * @id (as auth_session_lookup() returned it), into @out (capacity @cap >
 * AUTH_SESSION_PW_MAX is always enough; NUL-terminated). The caller wipes @out with
 * pt_wipe(). Returns 0, or -1: PT_E_NOTFOUND when none was kept, PT_E_AUTH when it does
 * not open with @id (another session's record, or altered), PT_E_INVALID for a short @cap.
 */
int auth_session_password(const char *id, const struct auth_session *s, char *out, size_t cap,
                          struct pt_err *err);
/*
 * auth_session_lookup() - the session for @id, if it exists and has not expired; refreshes
 * its idle timer. Returns 0 and fills @out, or -1 with PT_E_AUTH ("not signed in" for an
 * unknown, malformed or expired id: the caller cannot tell which, nor can an attacker).
 */
int auth_session_lookup(struct auth_sessions *ss, const char *id, int64_t now_ms,
                        struct auth_session *out, struct pt_err *err);
/* auth_session_logout() - end the session of @id. 0, or -1 (PT_E_AUTH) if there was none. */
int auth_session_logout(struct auth_sessions *ss, const char *id, struct pt_err *err);
/* auth_sessions_sweep() - drop every expired session; returns how many. Call from a timer. */
size_t auth_sessions_sweep(struct auth_sessions *ss, int64_t now_ms);
size_t auth_sessions_count(struct auth_sessions *ss);

/* auth_session_csrf() - the CSRF token of @id (NUL-terminated hex) into @out. 0 or -1 for
 * a malformed id. */
int auth_session_csrf(const char *id, char out[AUTH_SESSION_CSRF_LEN + 1]);
/* auth_session_csrf_check() - constant-time: true if @token is @id's CSRF token. */
bool auth_session_csrf_check(const char *id, const char *token);

#endif
