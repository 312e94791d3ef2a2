/*
 * fuzz_conf.c - libFuzzer target for common/'s INI parser, the code every daemon runs on
 * its config file: pt_conf_parse_string() tokenising the whole input, and
 * pt_conf_key_apply() storing each entry through a key table that has one key of every
 * type (string, int, bool, duration, log level), in a plain and a named section.
 *
 * Properties checked besides "does not crash": an error always carries "file:line: " of a
 * line that exists; values that were applied lie within the table's bounds; a section name
 * handed to the callback is never empty and a named section's name has no '"'.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/log.h"

struct fuzz_conf {
    char *name;
    int count;
    bool on;
    int64_t timeout_ms;
    int level;
    int lines; /* lines in the input, for the error check */
};

static const struct pt_conf_key fuzz_keys[] = {
    {"name", PT_CONF_STRING, offsetof(struct fuzz_conf, name), 0, 0},
    {"count", PT_CONF_INT, offsetof(struct fuzz_conf, count), -5, 1000},
    {"on", PT_CONF_BOOL, offsetof(struct fuzz_conf, on), 0, 0},
    {"timeout", PT_CONF_DURATION_MS, offsetof(struct fuzz_conf, timeout_ms), 0, 86400000},
    {"log_level", PT_CONF_LOGLEVEL, offsetof(struct fuzz_conf, level), 0, 0},
    PT_CONF_KEY_END,
};

static unsigned long applied; /* entries stored through the key table */

static int
fuzz_entry(void *opaque, const struct pt_conf_entry *e, struct pt_err *err)
{
    struct fuzz_conf *c = opaque;

    if (!e->section || !e->section[0] || e->line < 1 || e->line > c->lines)
        abort();
    if (e->name && (!e->name[0] || strchr(e->name, '"')))
        abort();
    if (strcmp(e->section, "s") != 0 && strcmp(e->section, "pool") != 0)
        return pt_conf_errorf(err, e, "unknown section [%s]", e->section);
    if (!e->key)
        return 0;
    if (!e->value)
        abort();
    if (pt_conf_key_apply(fuzz_keys, c, e, err) < 0)
        return -1;
    applied++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    struct fuzz_conf c = {.count = 0, .timeout_ms = 0};
    struct pt_err err = {0};
    char *text, prefix[32];
    int rc;

    if (!quiet) {
        pt_log_set_level(LOG_CRIT); /* the parser may warn; keep the fuzzer's output readable */
        quiet = true;
    }
    if (size > PT_CONF_MAX_FILE)
        return 0;
    text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    c.lines = 1;
    for (const char *p = text; *p; p++)
        c.lines += *p == '\n';
    rc = pt_conf_parse_string(text, "fuzz.conf", fuzz_entry, &c, &err);
    if (rc < 0) {
        long line;
        if (err.code == PT_E_OK || sscanf(err.msg, "fuzz.conf:%ld: ", &line) != 1 || line < 1 ||
            line > c.lines)
            abort(); /* every parse error names file:line of a real line */
        snprintf(prefix, sizeof(prefix), "fuzz.conf:%ld: ", line);
        if (strncmp(err.msg, prefix, strlen(prefix)) != 0 || !err.msg[strlen(prefix)])
            abort();
    } else if (rc != 0) {
        abort();
    }
    if (c.count < -5 || c.count > 1000 || c.timeout_ms < 0 || c.timeout_ms > 86400000)
        abort();
    pt_conf_key_free(fuzz_keys, &c);
    free(text);
    return 0;
}

const char *fuzz_replay_note(void);

const char *
fuzz_replay_note(void)
{
    static char note[48];

    snprintf(note, sizeof(note), "%lu applied entries", applied);
    return note;
}
