/*
 * auth_test_util.h - scratch directories and a standard set of claims for auth unit tests.
 */
#ifndef PT_AUTH_TEST_UTIL_H
#define PT_AUTH_TEST_UTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "auth/ticket.h"
#include "common/str.h"

static inline int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* A fresh directory under $TMPDIR or /tmp; remove it with scratch_rm(). */
static inline void
scratch_mk(char *dir, size_t n)
{
    const char *base = getenv("TMPDIR");

    snprintf(dir, n, "%s/pt-auth-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static inline void
scratch_rm(const char *dir)
{
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static inline void
claims_fill(struct auth_ticket_claims *c, int64_t now)
{
    ck_assert_int_eq(auth_ticket_claims_init(c, now, 0, NULL), 0);
    pt_strlcpy(c->session_id, "0f3c9a7e5d1b2a4c6e8f0a1b3c5d7e9f0f3c9a7e5d1b2a4c6e8f0a1b3c5d7e9f",
               sizeof(c->session_id));
    pt_strlcpy(c->user, "o*brien (ops) Zoë", sizeof(c->user));
    pt_strlcpy(c->desktop, "engineering-0007", sizeof(c->desktop));
    c->proto = AUTH_PROTO_SPICE;
    pt_strlcpy(c->host, "192.0.2.17", sizeof(c->host));
    c->port = 5901;
    pt_strlcpy(c->audience, "gw-eu-1", sizeof(c->audience));
    c->max_conns = 4;
}

#endif
