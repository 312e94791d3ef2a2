/*
 * main.c - portico-broker: parse the options, load and check the configuration, run.
 *
 *   portico-broker [-n] [-d] -c FILE
 *     -n  check the configuration (and the TLS files it names) and exit
 *     -d  log at debug level regardless of log_level
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app_priv.h"

static void
usage(FILE *f)
{
    fprintf(f, "usage: portico-broker [-n] [-d] -c FILE\n"
               "  -c FILE  configuration file (docs/config.md)\n"
               "  -n       check the configuration and exit: prints \"configuration OK\"\n"
               "  -d       debug logging\n");
}

int
main(int argc, char **argv)
{
    const char *path = NULL;
    bool check = false, debug = false;
    struct pt_err err = {0};
    struct broker_conf *conf;
    struct broker *b;
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
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!path || optind != argc) {
        usage(stderr);
        return 2;
    }
    pt_log_init("portico-broker", PT_LOG_STDERR, LOG_NOTICE);
    conf = broker_conf_load(path, &err);
    if (!conf) {
        fprintf(stderr, "portico-broker: %s\n", err.msg);
        return 1;
    }
    if (check) {
        if (broker_app_check(conf, &err) < 0) {
            broker_conf_free(conf);
            fprintf(stderr, "portico-broker: %s\n", err.msg);
            return 1;
        }
        broker_conf_free(conf);
        printf("configuration OK\n");
        return 0;
    }
    pt_log_set_level(debug ? LOG_DEBUG : conf->log_level);
    if (debug)
        conf->log_level = LOG_DEBUG;
    b = broker_new(&conf, &err);
    if (!b) {
        broker_conf_free(conf);
        fprintf(stderr, "portico-broker: %s\n", err.msg);
        return 1;
    }
    rc = broker_run(b);
    broker_free(b);
    return rc;
}
