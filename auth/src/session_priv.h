/*
 * session_priv.h - internals shared by session.c and session_secret.c.
 */
#ifndef PT_AUTH_SESSION_PRIV_H
#define PT_AUTH_SESSION_PRIV_H

#include "auth/session.h"

/* auth_session_id_decode() - 64 lower-case hex characters -> 32 bytes; -1 otherwise. */
int auth_session_id_decode(const char *id, unsigned char raw[32]);
/* auth_session_seal_pw() - seal @password (<= AUTH_SESSION_PW_MAX bytes) into @rec's
 * sealed_pw under the key derived from the raw session id @raw_id, bound to @rec->user.
 * Returns 0 or -1 (PT_E_INTERNAL). */
int auth_session_seal_pw(const unsigned char raw_id[32], struct auth_session *rec,
                         const char *password, struct pt_err *err);

#endif
