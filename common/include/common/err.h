/*
 * err.h - the one error type that crosses module boundaries.
 *
 * Functions return 0 / -1 (or a pointer / NULL) and fill an optional struct pt_err.
 * Library errors (libvirt, libldap, OpenSSL, lws) are copied into msg at the module
 * boundary; their own error objects never travel further.
 */
#ifndef PT_COMMON_ERR_H
#define PT_COMMON_ERR_H

enum pt_errc {
    PT_E_OK = 0,
    PT_E_INVALID,     /* the caller's input is wrong: fix the request */
    PT_E_AUTH,        /* not signed in, wrong credentials */
    PT_E_FORBIDDEN,   /* signed in but not allowed */
    PT_E_NOTFOUND,    /* no such object */
    PT_E_CONFLICT,    /* the state does not allow it now */
    PT_E_LIMIT,       /* a size or rate limit was hit */
    PT_E_UNAVAILABLE, /* a dependency (directory, host) is down: retry later */
    PT_E_TIMEOUT,     /* a deadline passed */
    PT_E_IO,          /* file or socket error */
    PT_E_INTERNAL,    /* a bug or an impossible state */
};

struct pt_err {
    enum pt_errc code;
    char msg[256];
};

/*
 * pt_err_set() - record an error in @err (which may be NULL).
 * Always returns -1, so callers can write `return pt_err_set(err, ...)`.
 * A second call overwrites the first; use pt_err_is_set() to keep the first cause.
 */
int pt_err_set(struct pt_err *err, enum pt_errc code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* pt_err_prefix() - prepend "what we were doing: " to an error already set. Returns -1. */
int pt_err_prefix(struct pt_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* pt_err_clear() - reset @err to PT_E_OK and an empty message. NULL-safe. */
void pt_err_clear(struct pt_err *err);

/* pt_err_is_set() - true if @err holds an error. NULL-safe (false). */
int pt_err_is_set(const struct pt_err *err);

/* pt_errc_str() - stable lower-case name of @code ("invalid", "not_found", ...) for APIs. */
const char *pt_errc_str(enum pt_errc code);

#endif
