/*
 * fuzz_str.c - libFuzzer target for common/'s small parsers of config and wire values:
 * pt_parse_hostport() (listen addresses, broker_url hosts), pt_parse_duration_ms(),
 * pt_parse_i64(), pt_parse_bool() and pt_str_trim().
 *
 * The first input byte picks the host buffer size handed to pt_parse_hostport() (1..64),
 * so the "host does not fit" edge is reached; the rest is the string. Properties checked:
 * a parsed host fits its buffer, is non-empty and formats back ("h:p" or "[h]:p") to a
 * string that parses to the same host and port; a duration is never negative (an
 * overflow would wrap); an integer parse respects its bounds; trim leaves no white space
 * at either end.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/str.h"

static unsigned long hostports, durations; /* accepted values, for the replay note */

static void
check_hostport(const char *s, size_t hn)
{
    char host[64], again[64], text[160];
    int port, port2;

    if (pt_parse_hostport(s, host, hn, &port) < 0)
        return;
    hostports++;
    if (!host[0] || strlen(host) >= hn || port < 0 || port > 65535)
        abort();
    if (strchr(host, ':'))
        snprintf(text, sizeof(text), "[%s]:%d", host, port);
    else
        snprintf(text, sizeof(text), "%s:%d", host, port);
    /* "[[]:1" parses to host "[", which no form writes back: brackets are left out */
    if (!strpbrk(host, "[]") && (pt_parse_hostport(text, again, sizeof(again), &port2) < 0 ||
                                 strcmp(host, again) != 0 || port != port2))
        abort(); /* what we parsed must format back to the same address */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s, *t;
    int64_t v;
    bool b;
    size_t hn;

    if (size < 1 || size > 4096)
        return 0;
    hn = 1 + data[0] % 64;
    s = malloc(size);
    if (!s)
        abort();
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';

    check_hostport(s, hn);

    if (pt_parse_duration_ms(s, &v) == 0) {
        durations++;
        if (v < 0)
            abort();
    }
    if (pt_parse_i64(s, -1000, 1000, &v) == 0 && (v < -1000 || v > 1000))
        abort();
    if (pt_parse_i64(s, INT64_MIN, INT64_MAX, &v) == 0 && isspace((unsigned char)s[0]))
        abort();
    if (pt_parse_bool(s, &b) == 0 && strlen(s) > 5)
        abort();

    t = pt_str_trim(s);
    if (*t && (isspace((unsigned char)t[0]) || isspace((unsigned char)t[strlen(t) - 1])))
        abort();
    free(s);
    return 0;
}

const char *fuzz_replay_note(void);

const char *
fuzz_replay_note(void)
{
    static char note[64];

    snprintf(note, sizeof(note), "%lu host:ports, %lu durations", hostports, durations);
    return note;
}
