/*
 * gw_queue.c - the bounded FIFO of messages between a browser and a desktop.
 *
 * Each message is one allocation with LWS_PRE bytes of headroom in front of the payload,
 * so the WebSocket framer writes its header in place: a byte travels with one copy into
 * the queue and none out of it. The queue itself never refuses: callers bound it by
 * looking at q->bytes against their high-water mark and pausing the producer.
 */
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "common/mem.h"
#include "gw_priv.h"

void
gw_queue_push(struct gw_queue *q, const void *data, size_t len, bool binary)
{
    unsigned char *raw = pt_xmalloc(sizeof(struct gw_msg) + LWS_PRE + len + 1);
    struct gw_msg *m = (struct gw_msg *)raw;

    m->next = NULL;
    m->len = len;
    m->off = 0;
    m->binary = binary;
    m->data = raw + sizeof(*m) + LWS_PRE;
    if (len)
        memcpy(m->data, data, len);
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
    q->bytes += len;
    q->count++;
}

struct gw_msg *
gw_queue_pop(struct gw_queue *q)
{
    struct gw_msg *m = q->head;

    if (!m)
        return NULL;
    q->head = m->next;
    if (!q->head)
        q->tail = NULL;
    q->bytes -= m->len;
    q->count--;
    m->next = NULL;
    return m;
}

void
gw_queue_move(struct gw_queue *to, struct gw_queue *from)
{
    if (!from->head)
        return;
    if (to->tail)
        to->tail->next = from->head;
    else
        to->head = from->head;
    to->tail = from->tail;
    to->bytes += from->bytes;
    to->count += from->count;
    from->head = from->tail = NULL;
    from->bytes = from->count = 0;
}

void
gw_queue_clear(struct gw_queue *q)
{
    struct gw_msg *m;

    while ((m = gw_queue_pop(q)) != NULL) {
        pt_wipe(m->data, m->len); /* may hold keystrokes */
        free(m);
    }
}
