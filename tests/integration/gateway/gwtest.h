/*
 * gwtest.h - helpers for the gateway's integration tests: a real portico-gateway process
 * with fresh keys, tickets signed by the real auth_signer, and small TCP backends (echo,
 * endless source) and a fake broker (the real broker is not linked into gateway tests;
 * named as such) that records tunnel reports.
 */
#ifndef PT_TEST_GWTEST_H
#define PT_TEST_GWTEST_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/ticket.h"
#include "tsupport/fixture.h"

struct gwt {
    char dir[512];
    char conf_path[600];
    char id[64];
    int port;
    bool tls;
    struct tf_proc proc;
    struct auth_signer *signer;
    struct auth_sealer *sealer;
};

/* gwt_start() - keys + config ([gateway] lines of @extra appended) + process; waits for
 * the port. Aborts the test on failure. */
void gwt_start(struct gwt *g, bool tls, const char *extra);
void gwt_stop(struct gwt *g);
/* gwt_write_conf() - (re)write the gateway's config file atomically: the lines gwt_start()
 * writes, the ticket key @ticket_key (NULL: the signer's), then @extra. */
void gwt_write_conf(const struct gwt *g, const char *ticket_key, const char *extra);
/* gwt_wait_log_count() - wait until @needle is in at least @n lines of the gateway's log;
 * returns the count seen (less than @n on timeout). */
int gwt_wait_log_count(const struct gwt *g, const char *needle, int n, int timeout_ms);
/* gwt_wait_log() - 0 once a line of the gateway's log contains @needle, -1 after
 * @timeout_ms. */
int gwt_wait_log(const struct gwt *g, const char *needle, int timeout_ms);
/* gwt_dump_state() - print the gateway's process state, sockets and thread stacks to
 * stderr (diagnosis of a test that waited in vain). */
void gwt_dump_state(const struct gwt *g);
/* gwt_dump_current() - log tail and gwt_dump_state() of the gateway last started here. */
void gwt_dump_current(void);
/* gwt_ticket() - returns new: a ticket for @host:@port. @audience NULL: this gateway;
 * @ttl_ms <= 0: default; @issued_delta_ms shifts issued_at (negative: in the past). */
char *gwt_ticket(struct gwt *g, enum auth_proto proto, const char *host, int port, int max_conns,
                 const char *audience, int64_t issued_delta_ms, int64_t ttl_ms, const char *secret);
/* gwt_path() - "/tunnel?ticket=<t>" into @out. */
const char *gwt_path(const char *ticket, char *out, size_t n);
/* gwt_rss_kib() - VmRSS of the gateway process. */
long gwt_rss_kib(const struct gwt *g);
/* gwt_metrics() - returns new body of /metrics. */
char *gwt_metrics(const struct gwt *g);

/* A TCP echo server (each connection echoed by its own thread) or a source that sends
 * the xorshift stream seeded 42 forever. */
struct tcp_backend {
    int port, lfd;
    bool source;
    volatile bool stop;
    pthread_t th;
};
void tcp_backend_start(struct tcp_backend *b, bool source);
void tcp_backend_stop(struct tcp_backend *b);

/* The deterministic byte stream the source sends, and a checker for it. */
struct prng {
    uint64_t s;
    uint64_t cur;
    int left;
};
void prng_init(struct prng *p, uint64_t seed);
void prng_fill(struct prng *p, unsigned char *out, size_t n);

/* A fake broker: accepts POSTs, keeps the last 64 bodies and Authorization headers.
 * With fake_broker_start_tls() it speaks HTTPS with a self-signed certificate. */
struct ssl_ctx_st;
struct fake_broker {
    int port, lfd;
    struct ssl_ctx_st *tls; /* NULL: plain HTTP */
    int handshakes_failed;  /* TLS clients that gave up (e.g. refused our certificate) */
    volatile bool stop;
    pthread_t th;
    pthread_mutex_t lock;
    int n;
    char bodies[64][512];
    char auth[64][128];
};
/* fake_broker_start() - on @port (0: any free port). */
void fake_broker_start(struct fake_broker *b, int port);
/* fake_broker_start_tls() - the same over TLS, with a fresh self-signed certificate for
 * CN=localhost, IP 127.0.0.1 (made with the openssl command in @dir). */
void fake_broker_start_tls(struct fake_broker *b, const char *dir);
void fake_broker_stop(struct fake_broker *b);
/* fake_broker_wait() - until @n reports arrived or @timeout_ms passed; returns the count. */
int fake_broker_wait(struct fake_broker *b, int n, int timeout_ms);

#endif
