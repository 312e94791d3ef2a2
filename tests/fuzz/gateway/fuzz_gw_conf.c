/*
 * fuzz_gw_conf.c - libFuzzer target for the gateway's config loader
 * (gateway/src/gw_conf.c: gw_conf_load_string(), the [gateway] key table over common/'s
 * INI parser, and conf_validate()). It reads no file named in the config.
 *
 * Properties: a loaded config has a listen address that parses with a port in 1..65535,
 * a non-empty id and a ticket key, both or neither of tls_cert/tls_key, and integer keys
 * within their table bounds; a refusal always names the file. gw_conf_free() is called
 * either way (the loader fills defaults first, so a refused config still owns strings).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/str.h"
#include "gw_priv.h"

static unsigned long loaded; /* for the replay note */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    struct gw_conf c;
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
    if (gw_conf_load_string(&c, text, "fuzz-gateway.conf", &err) < 0) {
        if (err.code == PT_E_OK || !strstr(err.msg, "fuzz-gateway.conf"))
            abort();
    } else {
        loaded++;
        if (!c.listen || pt_parse_hostport(c.listen, host, sizeof(host), &port) < 0 || port < 1 ||
            !c.id || !c.id[0] || !c.ticket_key || (c.tls_cert == NULL) != (c.tls_key == NULL) ||
            c.max_conns_per_addr < 1 || c.max_message < 1024 || c.max_tunnels < 1)
            abort();
    }
    gw_conf_free(&c);
    free(text);
    return 0;
}

const char *fuzz_replay_note(void);

const char *
fuzz_replay_note(void)
{
    static char note[48];

    snprintf(note, sizeof(note), "%lu configs loaded", loaded);
    return note;
}
