/*
 * fuzz_ws_frame.c - libFuzzer target for the WebSocket frame reader the gateway uses on
 * relay tunnels (gateway/src/ws_frame.c): what a hostile browser sends, parsed straight
 * out of the socket's read buffer.
 *
 * Input: [1 byte: piece size seed][stream]. The stream is fed in pieces, as reads would
 * deliver it, and again whole; both must give the same payload bytes and events.
 *
 * Properties: each call consumes at most what it was given and something unless the
 * piece is empty; data events point inside the piece; payload delivered never exceeds the
 * stream; control payloads fit 125 bytes; a violation carries 1002 and a reason, and
 * nothing is reported after it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws_frame.h"

static unsigned long messages; /* whole messages the seeds reached, for the replay note */

struct tally {
    uint64_t data_sum; /* a checksum of the payload bytes, position-weighted */
    size_t data_len;
    int events[WS_RX_ERROR + 1];
};

static void
run(const uint8_t *in, size_t size, size_t step, struct tally *t)
{
    struct ws_rx rx;
    unsigned char *buf = malloc(size ? size : 1);
    bool failed = false;

    memcpy(buf, in, size);
    memset(t, 0, sizeof(*t));
    ws_rx_init(&rx);
    for (size_t at = 0; at < size;) {
        size_t n = step && step < size - at ? step : size - at, off = 0;
        while (off < n) {
            struct ws_rx_event ev;
            size_t used = ws_rx_next(&rx, buf + at + off, n - off, &ev);
            if (used > n - off || (used == 0 && ev.kind == WS_RX_NONE))
                abort();
            if (failed && ev.kind != WS_RX_NONE)
                abort(); /* nothing after a violation */
            switch (ev.kind) {
            case WS_RX_DATA:
                if (ev.data < buf + at + off || ev.data + ev.len > buf + at + off + used)
                    abort();
                for (size_t i = 0; i < ev.len; i++)
                    t->data_sum = t->data_sum * 131 + ev.data[i];
                t->data_len += ev.len;
                if (ev.message_end && step == 0)
                    messages++;
                break;
            case WS_RX_PING:
            case WS_RX_PONG:
            case WS_RX_CLOSE:
                if (ev.len > WS_CONTROL_MAX)
                    abort();
                break;
            case WS_RX_ERROR:
                if (ev.close_code != 1002 || !ev.error || !ev.error[0])
                    abort();
                failed = true;
                break;
            case WS_RX_NONE:
                break;
            }
            t->events[ev.kind]++;
            off += used;
        }
        at += n;
    }
    if (t->data_len > size)
        abort();
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tally whole, pieces;

    if (size < 1)
        return 0;
    run(data + 1, size - 1, 0, &whole);
    run(data + 1, size - 1, 1 + data[0] % 23, &pieces);
    /* DATA and NONE counts depend on the split; payload and the other events do not */
    if (whole.data_len != pieces.data_len || whole.data_sum != pieces.data_sum ||
        whole.events[WS_RX_PING] != pieces.events[WS_RX_PING] ||
        whole.events[WS_RX_PONG] != pieces.events[WS_RX_PONG] ||
        whole.events[WS_RX_CLOSE] != pieces.events[WS_RX_CLOSE] ||
        whole.events[WS_RX_ERROR] != pieces.events[WS_RX_ERROR])
        abort();
    return 0;
}

const char *fuzz_replay_note(void);

const char *
fuzz_replay_note(void)
{
    static char note[48];

    snprintf(note, sizeof(note), "%lu whole messages", messages);
    return note;
}
