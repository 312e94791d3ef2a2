/*
 * cli.h - porticoctl's pieces: an HTTPS client (OpenSSL), the saved sign-in, output.
 */
#ifndef PT_CLI_H
#define PT_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/err.h"
#include "common/str.h"

/* Exit codes (documented in --help and docs/api.md). */
enum cli_exit {
    CLI_OK = 0,
    CLI_FAILED = 1,      /* the call failed for another reason */
    CLI_USAGE = 2,       /* bad command line */
    CLI_AUTH = 3,        /* not signed in, session expired, bad credentials */
    CLI_FORBIDDEN = 4,   /* signed in but not allowed (not an admin) */
    CLI_NOTFOUND = 5,    /* no such pool, desktop, host, session or user */
    CLI_CONFLICT = 6,    /* invalid request or state conflict (400, 409, 413) */
    CLI_UNAVAILABLE = 7, /* the broker or something behind it is down (5xx, 429) */
    CLI_CONNECT = 8,     /* cannot reach the broker or TLS failed */
    CLI_TIMEOUT = 9,     /* --wait gave up */
};

/* Where to connect and who we are: kept in ~/.config/portico/token (mode 0600). */
struct cli_conf {
    char url[512];    /* https://host:port */
    char ca[1024];    /* CA or certificate file to trust; "" = system store */
    bool insecure;    /* skip verification (tests, first contact) */
    char cookie[128]; /* portico_session value */
    char csrf[128];
    char user[256];
};

/* cli_token_path() - $PORTICO_TOKEN_FILE, else $XDG_CONFIG_HOME/portico/token, else
 * ~/.config/portico/token. */
const char *cli_token_path(void);
int cli_token_load(struct cli_conf *c, struct pt_err *err);
/* cli_token_save() - write with mode 0600 (directories 0700). */
int cli_token_save(const struct cli_conf *c, struct pt_err *err);
int cli_token_remove(void);

struct cli_resp {
    int status;
    struct pt_buf body;
    json_t *json;
    char set_cookie[512];
};
void cli_resp_fini(struct cli_resp *r);

/*
 * cli_http() - one HTTPS request to @c->url + @path with the saved cookie and CSRF token.
 * @body may be NULL. Returns 0 with @out filled (any status), -1 on a connection or TLS
 * error (@err).
 */
int cli_http(const struct cli_conf *c, const char *method, const char *path, const char *body,
             struct cli_resp *out, struct pt_err *err);

/* cli_exit_for_status() - the exit code for an HTTP status. */
int cli_exit_for_status(int status);
/* cli_print_error() - "porticoctl: <message> (<code>, HTTP <status>)" on stderr. */
void cli_print_error(const struct cli_resp *r);

/* A plain text table: columns padded to the widest cell. */
struct cli_table;
struct cli_table *cli_table_new(int ncols, const char *const *headers);
void cli_table_row(struct cli_table *t, const char *const *cells);
void cli_table_print(struct cli_table *t);
void cli_table_free(struct cli_table *t);

#endif
