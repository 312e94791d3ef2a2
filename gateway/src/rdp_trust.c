/*
 * rdp_trust.c - certificate trust-on-first-use per pool: the first certificate a desktop
 * shows is remembered, any other one later is refused with "certificate changed".
 *
 * With gw_rdp_conf.cert_trust_dir set (and ignore_cert false) FreeRDP hands us the
 * server's certificate (ExternalCertificateManagement + VerifyX509Certificate) instead of
 * checking it against the system CAs and its own known_hosts file. We hash the PEM
 * (SHA-256) and keep it in <cert_trust_dir>/<scope>@<host>:<port>, one file per
 * pool/desktop scope and endpoint, created with O_EXCL so two first sessions racing
 * cannot both write. An administrator who replaces a desktop's certificate deletes that
 * file (the refusal names it). Session thread (FreeRDP calls back during connect).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <freerdp/freerdp.h>
#include <winpr/crypto.h>

#include "common/log.h"
#include "common/str.h"
#include "guac_proto.h"
#include "rdp_priv.h"

/* File-name-safe copy of @in (letters, digits, '-', '_', '.'; others become '_'). */
static void
safe_name(char *out, size_t len, const char *in)
{
    size_t i = 0;

    for (; in[i] && i + 1 < len; i++) {
        char c = in[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        out[i] = ok && !(i == 0 && c == '.') ? c : '_';
    }
    out[i] = 0;
}

int
rdp_trust_path(const struct rdp_session *s, char *out, size_t len)
{
    char scope[128], host[256];

    safe_name(scope, sizeof(scope), s->conf.cert_scope[0] ? s->conf.cert_scope : "default");
    safe_name(host, sizeof(host), s->host);
    return snprintf(out, len, "%s/%s@%s:%d", s->conf.cert_trust_dir, scope, host, s->port) <
                   (int)len
               ? 0
               : -1;
}

/* Returns 1 (accept) or 0 (refuse; s->cert_changed says whether because it changed). */
static int
cb_verify_x509(freerdp *instance, const BYTE *pem, size_t len, const char *hostname, UINT16 port,
               DWORD flags)
{
    struct rdp_session *s = rdp_ctx_session(instance->context);
    BYTE md[WINPR_SHA256_DIGEST_LENGTH];
    char hex[2 * sizeof(md) + 2], stored[sizeof(hex)], path[1024];
    ssize_t n;
    int fd;

    (void)hostname, (void)port, (void)flags;
    if (rdp_trust_path(s, path, sizeof(path)) < 0 ||
        !winpr_Digest(WINPR_MD_SHA256, pem, len, md, sizeof(md)))
        return 0;
    for (size_t i = 0; i < sizeof(md); i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[2 * sizeof(md)] = '\n';
    hex[2 * sizeof(md) + 1] = 0;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) { /* first use: remember it */
        bool ok = write(fd, hex, strlen(hex)) == (ssize_t)strlen(hex);
        ok = close(fd) == 0 && ok;
        pt_log(LOG_NOTICE, "%s event=rdp_cert_first_use sha256=%.64s stored=%d path=%s", s->log_id,
               hex, ok, path);
        if (!ok)
            unlink(path);
        return ok ? 2 : 0;
    }
    if (errno != EEXIST) {
        pt_log(LOG_ERR, "%s event=rdp_cert_store_failed path=%s error=\"%s\"", s->log_id, path,
               strerror(errno));
        return 0;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    n = fd >= 0 ? read(fd, stored, sizeof(stored) - 1) : -1;
    if (fd >= 0)
        close(fd);
    stored[n > 0 ? n : 0] = 0;
    if (strcmp(stored, hex) == 0)
        return 2;
    pt_log(LOG_WARNING, "%s event=rdp_cert_changed sha256=%.64s known=%.64s path=%s", s->log_id,
           hex, stored, path);
    s->cert_changed = true;
    return 0;
}

void
rdp_trust_configure(struct rdp_session *s, void *instance)
{
    freerdp *inst = instance;

    if (s->conf.ignore_cert || !s->conf.cert_trust_dir[0])
        return; /* ignore, or FreeRDP's own checks (system CAs) */
    mkdir(s->conf.cert_trust_dir, 0700);
    freerdp_settings_set_bool(inst->settings, FreeRDP_ExternalCertificateManagement, TRUE);
    inst->VerifyX509Certificate = cb_verify_x509;
}

void
rdp_trust_describe_change(const struct rdp_session *s, struct rdp_failure *f)
{
    char path[1024];
    struct pt_buf b = PT_BUF_INIT;

    if (rdp_trust_path(s, path, sizeof(path)) < 0)
        path[0] = 0;
    f->guac_status = GUAC_STATUS_UPSTREAM_ERROR;
    /* a long path is cut off the end of the sentence, never the start */
    pt_buf_appendf(&b,
                   "The certificate of %s:%d changed since the first connection; if that is "
                   "expected, an administrator removes %s",
                   s->host, s->port, path);
    pt_strlcpy(f->reason, b.data, sizeof(f->reason));
    pt_buf_fini(&b);
}
