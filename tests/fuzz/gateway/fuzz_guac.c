/*
 * fuzz_guac.c - libFuzzer target for the Guacamole client-instruction parser
 * (gateway/src/guac_proto.c), the first code that reads what a browser sends on an RDP
 * tunnel. The input is one WebSocket text message; it is parsed the way rdp_backend.c
 * does it: instruction after instruction until the message is used up or refused.
 *
 * Properties checked for every instruction the parser accepts:
 * - it consumed at least one byte and no more than it was given;
 * - each argument is NUL-terminated at its announced byte length and is strict UTF-8;
 * - every proper prefix of the instruction is "need more" (0), never an error or a
 *   different instruction (the checked prefixes: empty, half, all but the ';');
 * - encoding the parsed instruction again (guac_enc_str) and parsing that gives the same
 *   opcode and arguments (the encoder and the parser agree on lengths in code points).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guac_proto.h"

static struct guac_parser parser, parser2; /* 64 KiB each: not on the stack */
static unsigned long parsed;               /* instructions accepted, for the replay note */

static void
fail(const char *what)
{
    fprintf(stderr, "fuzz_guac: property failed: %s\n", what);
    abort();
}

static const char *
wire_name(enum guac_op op)
{
    return op == GUAC_OP_INTERNAL ? "" : guac_op_str(op);
}

static void
check_prefixes(const char *buf, size_t used)
{
    size_t cuts[3] = {0, used / 2, used - 1};
    struct guac_msg m;
    struct pt_err err = {0};
    size_t u = 0;

    for (int i = 0; i < 3; i++) {
        if (cuts[i] >= used)
            continue;
        if (guac_parser_next(&parser2, buf, cuts[i], &u, &m, &err) != 0)
            fail("a prefix of an accepted instruction was not \"need more\"");
    }
}

static void
check_reencode(const struct guac_msg *m)
{
    struct pt_buf b = PT_BUF_INIT;
    struct guac_msg m2;
    struct pt_err err = {0};
    size_t used = 0;
    const char *name = wire_name(m->op);

    guac_enc_op(&b, name, strlen(name));
    for (size_t i = 0; i < m->argc; i++)
        guac_enc_str(&b, m->argv[i], m->argl[i]);
    guac_enc_end(&b);
    if (guac_parser_next(&parser2, b.data, b.len, &used, &m2, &err) != 1 || used != b.len ||
        m2.op != m->op || m2.argc != m->argc)
        fail("guac_enc_str() output does not parse back to the same instruction");
    for (size_t i = 0; i < m->argc; i++)
        if (m2.argl[i] != m->argl[i] || memcmp(m2.argv[i], m->argv[i], m->argl[i]) != 0 ||
            m2.num[i] != m->num[i])
            fail("guac_enc_str() output parses back with different arguments");
    pt_buf_fini(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    size_t off = 0;

    while (off < size) {
        struct guac_msg m;
        struct pt_err err = {0};
        size_t used = 0, bad;
        int rc = guac_parser_next(&parser, buf + off, size - off, &used, &m, &err);

        if (rc < 0) {
            if (err.code == PT_E_OK || !err.msg[0])
                abort(); /* a refusal must say why (it becomes the close reason) */
            break;
        }
        if (rc == 0)
            break;
        if (rc != 1 || used == 0 || used > size - off || m.argc > GUAC_MAX_ELEMENTS - 1)
            abort();
        for (size_t i = 0; i < m.argc; i++)
            if (strlen(m.argv[i]) != m.argl[i] || !guac_utf8_valid(m.argv[i], m.argl[i], &bad))
                abort();
        parsed++;
        /* the checks below reuse parser2, so they run before m's strings could move */
        check_reencode(&m);
        check_prefixes(buf + off, used);
        off += used;
    }
    return 0;
}

const char *fuzz_replay_note(void);

const char *
fuzz_replay_note(void)
{
    static char note[48];

    snprintf(note, sizeof(note), "%lu parsed instructions", parsed);
    return note;
}
