/*
 * ledger.c - how many connections each live ticket has opened, in the gateway.
 *
 * A SPICE client opens one WebSocket per channel, so a ticket allows max_conns uses
 * within its short window; the ledger counts them per ticket id. It is an open-addressing
 * hash table sized at twice @max_entries: when it would pass @max_entries, the expired
 * entries are swept out by rebuilding the table in place (O(n), at most once per n new
 * tickets), and if every entry is still live the new ticket is refused rather than
 * letting a flood of tickets grow memory.
 *
 * Private ledger: owned by one thread (the gateway's event loop), no locks. Shared ledger
 * (auth_ledger_new_shared()): header and table live in one MAP_SHARED anonymous mapping
 * made before the gateway forks its workers, so a ticket's allowance is counted once for
 * all of them; a process-shared robust mutex guards it (a worker that dies holding it
 * leaves at worst one half-written entry, which the next holder accepts as it is).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/shm.h"
#include "common/str.h"
#include "ticket_priv.h"

struct ledger_entry {
    char id[33]; /* "" = empty slot */
    int used;
    int64_t drop_at; /* expires_at + skew */
};

/* One allocation (or mapping): this header, then the slots. */
struct ledger_table {
    pthread_mutex_t lock; /* used only when shared */
    size_t cap, max, count;
    struct ledger_entry slots[];
};

struct auth_ledger {
    struct ledger_table *t;
    size_t bytes; /* of the mapping, when shared; 0 when private */
};

static size_t
id_hash(const char *id)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a; ids are random already */

    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 1099511628211ull;
    return (size_t)h;
}

static size_t
table_cap(size_t max)
{
    size_t cap = 4;

    while (cap < 2 * max)
        cap *= 2;
    return cap;
}

struct auth_ledger *
auth_ledger_new(size_t max_entries)
{
    struct auth_ledger *l = pt_xcalloc(1, sizeof(*l));
    size_t max = max_entries ? max_entries : 1, cap = table_cap(max);

    l->t = pt_xcalloc(1, sizeof(*l->t) + cap * sizeof(struct ledger_entry));
    l->t->cap = cap;
    l->t->max = max;
    return l;
}

struct auth_ledger *
auth_ledger_new_shared(size_t max_entries, struct pt_err *err)
{
    size_t max = max_entries ? max_entries : 1, cap = table_cap(max);
    size_t bytes = sizeof(struct ledger_table) + cap * sizeof(struct ledger_entry);
    struct auth_ledger *l;
    void *m;

    /* Untouched pages of the mapping cost nothing until a ticket lands there. */
    m = pt_shm_map(bytes, "a shared ticket ledger", err);
    if (!m)
        return NULL;
    l = pt_xcalloc(1, sizeof(*l));
    l->t = m;
    l->bytes = bytes;
    l->t->cap = cap;
    l->t->max = max;
    pt_shm_mutex_init(&l->t->lock);
    return l;
}

void
auth_ledger_free(struct auth_ledger *l)
{
    if (!l)
        return;
    if (l->bytes)
        munmap(l->t, l->bytes); /* this process's view; others keep theirs */
    else
        free(l->t);
    free(l);
}

static void
ledger_lock(struct auth_ledger *l)
{
    if (l->bytes)
        pt_shm_mutex_lock(&l->t->lock, "the ticket ledger");
}

static void
ledger_unlock(struct auth_ledger *l)
{
    if (l->bytes)
        pthread_mutex_unlock(&l->t->lock);
}

size_t
auth_ledger_count(struct auth_ledger *l)
{
    size_t n;

    ledger_lock(l);
    n = l->t->count;
    ledger_unlock(l);
    return n;
}

static struct ledger_entry *
slot_find(struct ledger_table *t, const char *id)
{
    size_t i = id_hash(id) & (t->cap - 1);

    while (t->slots[i].id[0] && strcmp(t->slots[i].id, id) != 0)
        i = (i + 1) & (t->cap - 1);
    return &t->slots[i];
}

/* Drop expired entries: copy the live ones aside, clear the table, put them back. */
static void
sweep(struct ledger_table *t, int64_t now_ms)
{
    struct ledger_entry *live = pt_xreallocarray(NULL, t->count ? t->count : 1, sizeof(*live));
    size_t n = 0;

    for (size_t i = 0; i < t->cap && n < t->count; i++)
        if (t->slots[i].id[0] && t->slots[i].drop_at >= now_ms)
            live[n++] = t->slots[i];
    memset(t->slots, 0, t->cap * sizeof(t->slots[0]));
    for (size_t i = 0; i < n; i++)
        *slot_find(t, live[i].id) = live[i];
    t->count = n;
    free(live);
}

static enum auth_ticket_reject
use_locked(struct ledger_table *t, const struct auth_ticket_claims *c, int64_t now_ms)
{
    struct ledger_entry *e = slot_find(t, c->id);

    if (!e->id[0]) {
        if (t->count >= t->max) {
            sweep(t, now_ms);
            if (t->count >= t->max)
                return AUTH_TICKET_LEDGER_FULL;
            e = slot_find(t, c->id);
        }
        pt_strlcpy(e->id, c->id, sizeof(e->id));
        e->used = 0;
        e->drop_at = c->expires_at + AUTH_TICKET_SKEW;
        t->count++;
    }
    if (e->used >= c->max_conns)
        return AUTH_TICKET_REPLAYED;
    e->used++;
    return AUTH_TICKET_OK;
}

enum auth_ticket_reject
auth_ledger_use(struct auth_ledger *l, const struct auth_ticket_claims *c, int64_t now_ms)
{
    enum auth_ticket_reject r;

    ledger_lock(l);
    r = use_locked(l->t, c, now_ms);
    ledger_unlock(l);
    return r;
}
