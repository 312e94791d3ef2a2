/*
 * ratelimit.c - a token bucket per client address.
 *
 * The table is a fixed array indexed by a hash of the address (no allocation per client,
 * so a flood of source addresses cannot grow memory). Two clients that collide share a
 * slot and the newcomer takes it over with a full bucket: collisions make the limit more
 * lenient, never deny a well-behaved client. Loop thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "broker_priv.h"
#include "common/mem.h"

#define RL_SLOTS 4096

struct rl_slot {
    char client[48];
    double tokens;
    int64_t last_ms;
};

struct broker_ratelimit {
    int rps, burst;
    struct rl_slot *slots;
};

struct broker_ratelimit *
broker_ratelimit_new(int rps, int burst)
{
    struct broker_ratelimit *rl = pt_xcalloc(1, sizeof(*rl));

    rl->slots = pt_xcalloc(RL_SLOTS, sizeof(*rl->slots));
    broker_ratelimit_set(rl, rps, burst);
    return rl;
}

void
broker_ratelimit_free(struct broker_ratelimit *rl)
{
    if (!rl)
        return;
    free(rl->slots);
    free(rl);
}

void
broker_ratelimit_set(struct broker_ratelimit *rl, int rps, int burst)
{
    rl->rps = rps;
    rl->burst = burst < rps ? rps : burst;
}

static uint32_t
fnv1a(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

bool
broker_ratelimit_allow(struct broker_ratelimit *rl, const char *client, int64_t now_ms)
{
    struct rl_slot *s;

    if (rl->rps <= 0)
        return true;
    s = &rl->slots[fnv1a(client) % RL_SLOTS];
    if (strncmp(s->client, client, sizeof(s->client) - 1) != 0) {
        pt_strlcpy(s->client, client, sizeof(s->client));
        s->tokens = rl->burst;
        s->last_ms = now_ms;
    }
    s->tokens += (double)(now_ms - s->last_ms) * rl->rps / 1000.0;
    if (s->tokens > rl->burst)
        s->tokens = rl->burst;
    s->last_ms = now_ms;
    if (s->tokens < 1.0)
        return false;
    s->tokens -= 1.0;
    return true;
}
