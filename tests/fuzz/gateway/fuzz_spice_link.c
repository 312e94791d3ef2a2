/*
 * fuzz_spice_link.c - libFuzzer target for the SPICE link rewriter
 * (gateway/src/spice_link.c): the code that reads the browser's SpiceLinkMess and the
 * desktop's SpiceLinkReply as they pass through the relay and swaps the browser's ticket
 * for the real password, RSA-OAEP encrypted with the key from the desktop's reply.
 *
 * The input is a script of chunks, as the two sockets would deliver them:
 *   [dir: 1 byte, bit 0 = 1 desktop->gateway, 0 browser->gateway][len: 2 bytes LE][bytes]
 * (a len past the end takes what is left). The seeds carry a real 1024-bit RSA public key
 * in the reply, so they reach the encryption and the plain-relay state.
 *
 * Properties: a chunk is always fully consumed or refused with a message; what goes to the
 * desktop never exceeds what the browser sent plus the 128-byte ticket we add; once the
 * link is done, browser bytes pass through unchanged and in full.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "gw_priv.h"

static unsigned long relayed; /* links that reached the plain relay, for the replay note */

struct sink {
    size_t bytes;
    const unsigned char *last;
    size_t last_len;
};

static void
sink_emit(void *opaque, const void *data, size_t len)
{
    struct sink *s = opaque;

    s->bytes += len;
    s->last = data;
    s->last_len = len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Browser bytes; -1 when refused. */
static int
feed_client(struct spice_link *sl, const uint8_t *p, size_t len, struct sink *out,
            struct pt_err *err)
{
    enum spice_link_state before = sl->state;
    size_t was = out->bytes;

    if (spice_link_client(sl, p, len, sink_emit, out, err) < 0)
        return -1;
    if (before == SPICE_LINK_DONE &&
        (out->bytes - was != len || (len && memcmp(out->last, p, len) != 0)))
        abort(); /* the plain relay must pass browser bytes through as they are */
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    struct spice_link sl;
    struct sink out = {0};
    size_t off = 0, client_in = 0;
    int failed = 0;

    if (!quiet) {
        pt_log_set_level(LOG_CRIT);
        quiet = 1;
    }
    spice_link_init(&sl, "fuzz-password");
    while (off + 3 <= size && !failed) {
        int dir = data[off] & 1;
        size_t len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;
        struct pt_err err = {0};

        off += 3;
        if (len > size - off)
            len = size - off;
        if (dir) {
            if (spice_link_server(&sl, data + off, len, &err) < 0)
                failed = 1;
        } else {
            client_in += len;
            if (feed_client(&sl, data + off, len, &out, &err) < 0)
                failed = 1;
        }
        if (failed && (err.code == PT_E_OK || !err.msg[0]))
            abort();
        if (out.bytes > client_in + 128)
            abort();
        off += len;
    }
    if (sl.state == SPICE_LINK_DONE && sl.server_done)
        relayed++;
    spice_link_fini(&sl);
    return 0;
}

const char *fuzz_replay_note(void);

const char *
fuzz_replay_note(void)
{
    static char note[48];

    snprintf(note, sizeof(note), "%lu relayed links", relayed);
    return note;
}
