/*
 * throttle.h - brute-force throttling of sign-ins, per user and per source address.
 *
 * After max_failures failed sign-ins within window_ms, the user (or the address) is locked
 * for lock_ms: sign-ins are refused without asking the directory, with a message that
 * says for how many more minutes. Each lock and each refusal produces an audit event the
 * caller logs (and may store). A success clears the user's count, not the address's: one
 * valid account must not reset an address that is guessing other accounts. User keys are
 * compared case-insensitively (ASCII), as directories match names.
 *
 * Memory is bounded by max_entries; when full, expired entries are dropped and then the
 * oldest. Thread: any (one mutex).
 */
#ifndef PT_AUTH_THROTTLE_H
#define PT_AUTH_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct auth_throttle_conf {
    int user_max_failures; /* 5 */
    int addr_max_failures; /* 20: offices share addresses behind NAT */
    int64_t window_ms;     /* 15 min */
    int64_t lock_ms;       /* 5 min */
    size_t max_entries;    /* 100000 */
};

enum auth_audit_kind {
    AUTH_AUDIT_NONE,
    AUTH_AUDIT_USER_LOCKED,    /* this failure locked the user */
    AUTH_AUDIT_ADDR_LOCKED,    /* this failure locked the address */
    AUTH_AUDIT_REFUSED_LOCKED, /* a sign-in was refused because of a lock */
};
const char *auth_audit_kind_str(enum auth_audit_kind k); /* "user_locked", ... */

/* An event worth an audit record: what happened, to whom, from where, until when. */
struct auth_audit_event {
    enum auth_audit_kind kind;
    char user[256];
    char addr[64];
    int failures;
    int64_t until_ms;
};

struct auth_throttle;

/* auth_throttle_new() - @conf NULL → defaults (zero fields take defaults too). New. */
struct auth_throttle *auth_throttle_new(const struct auth_throttle_conf *conf);
void auth_throttle_free(struct auth_throttle *t);

/*
 * auth_throttle_check() - before asking the directory. Returns 0, or -1 with PT_E_LIMIT
 * and a message for the person ("Too many failed sign-ins for this account. Try again in
 * 4 minutes.") and @ev (may be NULL) set to AUTH_AUDIT_REFUSED_LOCKED.
 */
int auth_throttle_check(struct auth_throttle *t, const char *user, const char *addr, int64_t now_ms,
                        struct auth_audit_event *ev, struct pt_err *err);
/* auth_throttle_failure() - count a failed sign-in; @ev (may be NULL) gets USER_LOCKED or
 * ADDR_LOCKED when this failure set a lock, else AUTH_AUDIT_NONE. */
void auth_throttle_failure(struct auth_throttle *t, const char *user, const char *addr,
                           int64_t now_ms, struct auth_audit_event *ev);
/* auth_throttle_success() - a successful sign-in clears @user's failures. */
void auth_throttle_success(struct auth_throttle *t, const char *user);

#endif
