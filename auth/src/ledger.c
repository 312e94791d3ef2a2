/*
 * ledger.c - how many connections each live ticket has opened, in the gateway.
 *
 * A SPICE client opens one WebSocket per channel, so a ticket allows max_conns uses
 * within its short window; the ledger counts them per ticket id. It is an open-addressing
 * hash table sized at twice @max_entries: when it would pass @max_entries, the expired
 * entries are swept out by rebuilding the table (O(n), at most once per n new tickets),
 * and if every entry is still live the new ticket is refused rather than letting a flood
 * of tickets grow memory. Owned by one thread (the gateway's event loop): no locks.
 */
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/str.h"
#include "ticket_priv.h"

struct ledger_entry {
    char id[33]; /* "" = empty slot */
    int used;
    int64_t drop_at; /* expires_at + skew */
};

struct auth_ledger {
    struct ledger_entry *slots;
    size_t cap, max, count;
};

static size_t
id_hash(const char *id)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a; ids are random already */

    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 1099511628211ull;
    return (size_t)h;
}

struct auth_ledger *
auth_ledger_new(size_t max_entries)
{
    struct auth_ledger *l = pt_xcalloc(1, sizeof(*l));

    l->max = max_entries ? max_entries : 1;
    l->cap = 4;
    while (l->cap < 2 * l->max)
        l->cap *= 2;
    l->slots = pt_xcalloc(l->cap, sizeof(*l->slots));
    return l;
}

void
auth_ledger_free(struct auth_ledger *l)
{
    if (!l)
        return;
    free(l->slots);
    free(l);
}

size_t
auth_ledger_count(const struct auth_ledger *l)
{
    return l->count;
}

static struct ledger_entry *
slot_find(struct auth_ledger *l, const char *id)
{
    size_t i = id_hash(id) & (l->cap - 1);

    while (l->slots[i].id[0] && strcmp(l->slots[i].id, id) != 0)
        i = (i + 1) & (l->cap - 1);
    return &l->slots[i];
}

static void
sweep(struct auth_ledger *l, int64_t now_ms)
{
    struct ledger_entry *old = l->slots;

    l->slots = pt_xcalloc(l->cap, sizeof(*l->slots));
    l->count = 0;
    for (size_t i = 0; i < l->cap; i++) {
        if (old[i].id[0] && old[i].drop_at >= now_ms) {
            *slot_find(l, old[i].id) = old[i];
            l->count++;
        }
    }
    free(old);
}

enum auth_ticket_reject
auth_ledger_use(struct auth_ledger *l, const struct auth_ticket_claims *c, int64_t now_ms)
{
    struct ledger_entry *e = slot_find(l, c->id);

    if (!e->id[0]) {
        if (l->count >= l->max) {
            sweep(l, now_ms);
            if (l->count >= l->max)
                return AUTH_TICKET_LEDGER_FULL;
            e = slot_find(l, c->id);
        }
        pt_strlcpy(e->id, c->id, sizeof(e->id));
        e->used = 0;
        e->drop_at = c->expires_at + AUTH_TICKET_SKEW;
        l->count++;
    }
    if (e->used >= c->max_conns)
        return AUTH_TICKET_REPLAYED;
    e->used++;
    return AUTH_TICKET_OK;
}
