/*
 * fuzz_broker_conf.c - libFuzzer target for the broker's config loader
 * (broker_conf_load_string(): the [broker] key table, the sections kept for other modules,
 * and the cross-key checks and defaults of conf_finish()).
 *
 * Inputs naming gateway_secret_file are skipped: that key makes the loader open the file
 * it names, and a fuzzer that learns "/dev/stdin" or a FIFO would block, not find a bug.
 *
 * Properties: a loaded config has every default filled (listen parses as host:port,
 * state_dir, tls pair, db and event_loop set), rate_limit_burst >= rate_limit_rps, and
 * every kept item has a section; a refusal always has a message naming the file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_priv.h"

static unsigned long loaded, items; /* for the replay note */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    struct broker_conf *c;
    struct pt_err err = {0};
    char *text, host[256];
    int port;

    if (!quiet) {
        pt_log_set_level(LOG_CRIT);
        quiet = 1;
    }
    if (size > 64 * 1024)
        return 0;
    text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    if (strstr(text, "secret_file")) {
        free(text);
        return 0;
    }
    c = broker_conf_load_string(text, "fuzz-broker.conf", &err);
    if (!c) {
        if (err.code == PT_E_OK || !strstr(err.msg, "fuzz-broker.conf"))
            abort();
    } else {
        loaded++;
        items += c->nitems;
        if (!c->listen || pt_parse_hostport(c->listen, host, sizeof(host), &port) < 0 ||
            !c->state_dir || !c->tls_cert || !c->tls_key || !c->db || !c->event_loop ||
            !c->ticket_key_file || !c->gateway_audience ||
            c->rate_limit_burst < c->rate_limit_rps || !c->path)
            abort();
        for (size_t i = 0; i < c->nitems; i++)
            if (!c->items[i].section || !c->items[i].file || c->items[i].line < 1)
                abort();
        broker_conf_free(c);
    }
    free(text);
    return 0;
}

const char *fuzz_replay_note(void);

const char *
fuzz_replay_note(void)
{
    static char note[64];

    snprintf(note, sizeof(note), "%lu configs loaded, %lu kept items", loaded, items);
    return note;
}
