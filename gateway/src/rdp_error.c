/*
 * rdp_error.c - FreeRDP failures in words a person understands.
 *
 * FreeRDP reports why a connection failed through freerdp_get_last_error() (our side:
 * DNS, TCP, TLS, NLA) and why the server ended a session through the server's
 * "error info" PDU (freerdp_error_info(): logged off by an admin, idle timeout, another
 * connection took over, no licence). The viewer shows our sentence and acts on the
 * Guacamole status code (e.g. offer to re-enter a password on 0x0301).
 */
#include <stdarg.h>
#include <stdio.h>

#include <freerdp/error.h>

#include "guac_proto.h"
#include "rdp_priv.h"

static void fail(struct rdp_failure *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(struct rdp_failure *out, int status, const char *fmt, ...)
{
    va_list ap;

    out->guac_status = status;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
    va_end(ap);
}

void
rdp_error_describe(uint32_t last_error, uint32_t error_info, const char *host, int port,
                   struct rdp_failure *out)
{
    /* The server's own reason wins: it is the more specific one. */
    switch (error_info) {
    case ERRINFO_RPC_INITIATED_DISCONNECT:
    case ERRINFO_RPC_INITIATED_LOGOFF:
        return fail(out, GUAC_STATUS_SESSION_CLOSED, "An administrator ended the session on %s:%d.",
                    host, port);
    case ERRINFO_IDLE_TIMEOUT:
    case ERRINFO_LOGON_TIMEOUT:
        return fail(out, GUAC_STATUS_SESSION_TIMEOUT,
                    "The desktop %s:%d ended the session after a timeout.", host, port);
    case ERRINFO_DISCONNECTED_BY_OTHER_CONNECTION:
        return fail(out, GUAC_STATUS_SESSION_CONFLICT,
                    "The session on %s:%d was taken over by another connection.", host, port);
    case ERRINFO_SERVER_DENIED_CONNECTION:
    case ERRINFO_LICENSE_NO_LICENSE_SERVER:
    case ERRINFO_LICENSE_NO_LICENSE:
        return fail(out, GUAC_STATUS_UPSTREAM_UNAVAILABLE,
                    "The desktop %s:%d is full or has no licence for another session; try "
                    "again later.",
                    host, port);
    case ERRINFO_SERVER_INSUFFICIENT_PRIVILEGES:
        return fail(out, GUAC_STATUS_CLIENT_FORBIDDEN,
                    "This account may not sign in to the desktop %s:%d.", host, port);
    case ERRINFO_LOGOFF_BY_USER:
    case ERRINFO_RPC_INITIATED_DISCONNECT_BY_USER:
        return fail(out, GUAC_STATUS_SUCCESS, "You signed out of %s:%d.", host, port);
    default:
        break;
    }
    switch (last_error) {
    case FREERDP_ERROR_SUCCESS:
        return fail(out, GUAC_STATUS_UPSTREAM_ERROR, "The desktop %s:%d closed the connection.",
                    host, port);
    case FREERDP_ERROR_AUTHENTICATION_FAILED:
    case FREERDP_ERROR_CONNECT_LOGON_FAILURE:
    case FREERDP_ERROR_CONNECT_WRONG_PASSWORD:
    case FREERDP_ERROR_CONNECT_NO_OR_MISSING_CREDENTIALS:
    case FREERDP_ERROR_CONNECT_ACCESS_DENIED:
        return fail(out, GUAC_STATUS_CLIENT_UNAUTHORIZED,
                    "The desktop %s:%d refused the user name or password.", host, port);
    case FREERDP_ERROR_CONNECT_PASSWORD_EXPIRED:
    case FREERDP_ERROR_CONNECT_PASSWORD_CERTAINLY_EXPIRED:
    case FREERDP_ERROR_CONNECT_PASSWORD_MUST_CHANGE:
        return fail(out, GUAC_STATUS_CLIENT_UNAUTHORIZED,
                    "The password for %s:%d has expired; change it, then sign in again.", host,
                    port);
    case FREERDP_ERROR_CONNECT_ACCOUNT_DISABLED:
    case FREERDP_ERROR_CONNECT_ACCOUNT_LOCKED_OUT:
    case FREERDP_ERROR_CONNECT_ACCOUNT_EXPIRED:
    case FREERDP_ERROR_CONNECT_ACCOUNT_RESTRICTION:
    case FREERDP_ERROR_INSUFFICIENT_PRIVILEGES:
        return fail(out, GUAC_STATUS_CLIENT_FORBIDDEN,
                    "The account is disabled, locked or not allowed on %s:%d.", host, port);
    case FREERDP_ERROR_DNS_NAME_NOT_FOUND:
        return fail(out, GUAC_STATUS_UPSTREAM_NOT_FOUND,
                    "The desktop's name %s (port %d) does not resolve.", host, port);
    case FREERDP_ERROR_CONNECT_FAILED:
    case FREERDP_ERROR_CONNECT_TRANSPORT_FAILED:
        return fail(out, GUAC_STATUS_UPSTREAM_NOT_FOUND,
                    "The desktop %s:%d cannot be reached: it is off, starting, or a firewall is "
                    "in the way.",
                    host, port);
    case FREERDP_ERROR_TLS_CONNECT_FAILED:
        return fail(out, GUAC_STATUS_UPSTREAM_ERROR,
                    "The secure connection to %s:%d failed: its certificate does not match what "
                    "this gateway trusts, or TLS could not be agreed.",
                    host, port);
    case FREERDP_ERROR_SECURITY_NEGO_CONNECT_FAILED:
        return fail(out, GUAC_STATUS_UPSTREAM_ERROR,
                    "The desktop %s:%d and the gateway share no security protocol (TLS, NLA, "
                    "RDP).",
                    host, port);
    case FREERDP_ERROR_SERVER_DENIED_CONNECTION:
        return fail(out, GUAC_STATUS_UPSTREAM_UNAVAILABLE,
                    "The desktop %s:%d is full or refused another session; try again later.", host,
                    port);
    case FREERDP_ERROR_CONNECT_CANCELLED:
        return fail(out, GUAC_STATUS_SUCCESS, "The connection to %s:%d was cancelled.", host, port);
    default:
        return fail(out, GUAC_STATUS_UPSTREAM_ERROR, "The connection to %s:%d failed.", host, port);
    }
}

void
rdp_error_refine_reachable(uint32_t last_error, bool had_credentials, const char *host, int port,
                           struct rdp_failure *f)
{
    /* FreeRDP reports a server that hangs up during security negotiation (a rejected NLA
     * sign-in, for one) as a transport failure, like a host that is down. The caller
     * found the port open, so the host is up: say what that means. */
    if (last_error != FREERDP_ERROR_CONNECT_TRANSPORT_FAILED &&
        last_error != FREERDP_ERROR_CONNECT_FAILED)
        return;
    if (had_credentials)
        fail(f, GUAC_STATUS_CLIENT_UNAUTHORIZED,
             "The desktop %s:%d ended the connection during sign-in: check the user name and "
             "password.",
             host, port);
    else
        fail(f, GUAC_STATUS_UPSTREAM_ERROR,
             "The desktop %s:%d ended the connection during sign-in: it may require a user "
             "name and password.",
             host, port);
}
