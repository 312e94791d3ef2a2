/*
 * main.c - portico-gateway: parse options and the config, then run the event loop.
 *
 *   portico-gateway [-n] [-d] -c FILE
 *     -n   check the configuration, print "configuration OK" and exit (relayd's -n)
 *     -d   log at debug level regardless of the config
 *
 *   SIGTERM/SIGINT stop; SIGHUP re-reads the config file (gw_reload.c).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "gw_priv.h"
#if defined(GW_HAVE_RDP)
#include "rdp.h"
#endif

static struct gw *the_gw;

static void
on_signal(int sig)
{
    (void)sig;
    if (the_gw)
        gw_stop(the_gw);
}

static void
on_hangup(int sig)
{
    (void)sig;
    gw_conf_reload_request(the_gw); /* the loop's next tick re-reads the file */
}

static void
usage(void)
{
    fprintf(stderr, "usage: portico-gateway [-n] [-d] -c FILE\n"
                    "  -c FILE  configuration (INI, section [gateway]; see docs/gateway.md)\n"
                    "  -n       check the configuration and exit\n"
                    "  -d       debug logging\n");
}

/* One loop process: the whole gateway, or one of its workers (gw_workers.c). */
static int
serve(struct gw_conf *conf, struct gw_shared *sh, int worker)
{
    struct pt_err err = {0};
    struct sigaction sa;
    int rc = 1;

#if defined(GW_HAVE_RDP)
    /* First: it forks the RDP session launcher, which must not inherit anything secret
     * (a TLS key freshly generated below would otherwise sit in its heap). */
    gw_rdp_configure(&conf->rdp);
#endif
    if (gw_tls_ensure(conf, &err) < 0) {
        pt_log(LOG_CRIT, "event=start_failed %s", err.msg);
        return 1;
    }
    the_gw = gw_new_worker(conf, sh, worker, &err);
    if (!the_gw) {
        pt_log(LOG_CRIT, "event=start_failed %s", err.msg);
        return 1;
    }
    the_gw->conf_path = conf->path;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_hangup;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = on_signal;
    sa.sa_flags = 0;
    sigaction(SIGTERM, &sa, NULL);
    if (!the_gw->event_lib)
        sigaction(SIGINT, &sa, NULL); /* with libev, lws's own SIGINT watcher stops the loop */
    if (conf->reload_at_start)
        gw_conf_reload_request(the_gw); /* the others have re-read the file since it was read */
    rc = gw_run(the_gw);
    gw_free(the_gw);
    the_gw = NULL;
    return rc;
}

int
main(int argc, char **argv)
{
    struct gw_conf conf;
    struct pt_err err = {0};
    const char *path = NULL;
    bool check = false, debug = false;
    int opt, rc;

    while ((opt = getopt(argc, argv, "c:ndh")) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 'n':
            check = true;
            break;
        case 'd':
            debug = true;
            break;
        default:
            usage();
            return 2;
        }
    }
    if (!path || optind != argc) {
        usage();
        return 2;
    }
    pt_log_init("portico-gateway", PT_LOG_STDERR, LOG_INFO);
    if (gw_conf_load(&conf, path, &err) < 0) {
        fprintf(stderr, "portico-gateway: %s\n", err.msg);
        gw_conf_free(&conf);
        return 1;
    }
    if (check) {
        printf("configuration OK\n");
        gw_conf_free(&conf);
        return 0;
    }
    pt_log_set_level(debug ? LOG_DEBUG : conf.log_level);
    signal(SIGPIPE, SIG_IGN);
    conf.path = path;
    if (conf.workers > 1)
        rc = gw_workers_run(&conf, serve);
    else
        rc = serve(&conf, NULL, 0);
    gw_conf_free(&conf);
    return rc;
}
