/*
 * launch_rdp.h - the RDP credentials and session policy of a launch (launch_rdp.c).
 */
#ifndef PT_BROKER_LAUNCH_RDP_H
#define PT_BROKER_LAUNCH_RDP_H

#include "app_priv.h"

#ifdef PORTICO_HAVE_POOL
struct broker_rdp_launch {
    char pool[POOL_NAME_MAX];
    enum pool_rdp_creds mode;
    char user[256], domain[256], pw_file[1024];
    char password[AUTH_SESSION_PW_MAX + 1]; /* secret: broker_rdp_launch_wipe() */
    bool sso_missing;                       /* prepare failed: no kept sign-in password */
    enum auth_clip_dir clip;
    uint32_t clip_max;
    bool audio;
};

/* broker_rdp_launch_prepare() - loop thread: the pool's mode and policy from @spec; for
 * sso, the user's kept password opened with @s's cookie. 0, or -1 (PT_E_AUTH: sign in
 * again). */
int broker_rdp_launch_prepare(struct broker_rdp_launch *l, const struct pool_spec *spec,
                              const struct broker_sess *s, struct pt_err *err);
/* broker_rdp_launch_load() - worker: read the fixed password file, which must be a
 * file directly in @pw_dir ([broker] rdp_password_dir). 0, or -1 (PT_E_UNAVAILABLE with a
 * message for the user naming the pool and what the admin fixes). */
int broker_rdp_launch_load(struct broker_rdp_launch *l, const char *pw_dir, struct pt_err *err);
/* broker_rdp_launch_seal() - loop thread: the policy claims into @tc and, unless the mode
 * is none, the sealed "user\npassword[\ndomain]" (after auth_ticket_claims_init: the
 * ticket id is the associated data). 0, or -1 (PT_E_LIMIT: too long for a ticket;
 * PT_E_UNAVAILABLE: no sealing key). */
int broker_rdp_launch_seal(const struct broker_rdp_launch *l, const struct auth_sealer *sealer,
                           struct auth_ticket_claims *tc, struct pt_err *err);
void broker_rdp_launch_wipe(struct broker_rdp_launch *l);
#endif

#endif
