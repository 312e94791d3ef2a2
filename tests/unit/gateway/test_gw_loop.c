/*
 * test_gw_loop.c - the gateway's event loop in this process: a gateway made with gw_new()
 * (plain ws, libev or poll loop) and a client on a real loopback socket whose bytes are
 * queued before the loop thread starts, so the order of events is the test's.
 *
 * Regression: with lws 4.1.6's libev plugin, lws initialises the vhost's protocols (which
 * applies our "default" pvo: "binary" serves WebSockets that name no subprotocol) only on
 * some later loop event, not before the first accept. A WebSocket already waiting when the
 * loop first ran was upgraded onto protocol 0 ("http"): the client got its 101 and then
 * nothing, because our tunnel code never saw ESTABLISHED. A TCP probe right after start
 * (load balancer health check, tf_wait_port()) made that likely; here it is certain.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "common/str.h"
#include "gw_priv.h"
#include "tsupport/fixture.h"

Suite *gateway_loop_suite(void);

struct loop_fixture {
    struct gw_conf conf;
    struct gw *g;
    int port;
};

static void
fixture_start(struct loop_fixture *f, bool event_lib)
{
    struct pt_err err = {0};
    char dir[600], path[700], text[2048];
    struct auth_signer *s;

    snprintf(dir, sizeof(dir), "%s/gwloop-%d", tf_tmpdir(), (int)getpid());
    mkdir(dir, 0700);
    snprintf(path, sizeof(path), "%s/ticket.key", dir);
    s = auth_signer_load_or_create(path, &err);
    ck_assert_msg(s, "%s", err.msg);
    auth_signer_free(s);
    f->port = tf_free_port();
    snprintf(text, sizeof(text),
             "[gateway]\nlisten = 127.0.0.1:%d\ntls = no\nstate_dir = %s\nid = gw-loop\n"
             "ticket_key = %s.pub\nevent_lib = %s\nlog_level = warning\n",
             f->port, dir, path, event_lib ? "yes" : "no");
    ck_assert_msg(gw_conf_load_string(&f->conf, text, "loop.conf", &err) == 0, "%s", err.msg);
    f->g = gw_new(&f->conf, &err);
    ck_assert_msg(f->g, "%s", err.msg);
}

static void
fixture_stop(struct loop_fixture *f)
{
    gw_free(f->g);
    gw_conf_free(&f->conf);
}

static int
client_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_ge(fd, 0);
    ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect: %s",
                  strerror(errno));
    return fd;
}

/* The upgrade without a subprotocol (as noVNC sends it) and a first masked text frame in
 * the same write, as a browser's first message can arrive in the upgrade's segment. */
static void
client_send_upgrade_and_frame(int fd, int port)
{
    char req[1024];
    static const unsigned char frame[] = {0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2};
    int n = snprintf(req, sizeof(req),
                     "GET /tunnel HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     port);

    memcpy(req + n, frame, sizeof(frame));
    ck_assert_int_eq(send(fd, req, (size_t)n + sizeof(frame), MSG_NOSIGNAL),
                     n + (int)sizeof(frame));
}

static void *
loop_thread(void *arg)
{
    gw_run(arg);
    return NULL;
}

/* Read until the client holds a close frame or @ms pass. Returns the close code, 0 if none
 * came (the bytes seen so far go to @got). */
static int
read_until_close(int fd, int ms, char *got, size_t gotn)
{
    unsigned char buf[4096];
    size_t have = 0;
    int64_t end = pt_time_mono_ms() + ms;

    got[0] = '\0';
    while (have < sizeof(buf) && pt_time_mono_ms() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(end - pt_time_mono_ms())) != 1)
            break;
        ssize_t r = recv(fd, buf + have, sizeof(buf) - have, 0);
        if (r <= 0)
            break;
        have += (size_t)r;
        snprintf(got, gotn, "%.*s", (int)(have < gotn - 1 ? have : gotn - 1), (char *)buf);
        const unsigned char *body = memmem(buf, have, "\r\n\r\n", 4);
        if (body && (size_t)(body + 4 - buf) + 4 <= have && body[4] == 0x88)
            return body[6] << 8 | body[7];
    }
    return 0;
}

static void
check_first_websocket_is_served(bool event_lib, bool probe)
{
    struct loop_fixture f;
    char got[200];
    int fd;

    fixture_start(&f, event_lib);
    /* Everything below reaches the listen socket before the loop has run once. */
    if (probe)
        close(client_connect(f.port));
    fd = client_connect(f.port);
    client_send_upgrade_and_frame(fd, f.port);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, loop_thread, f.g), 0);
    int code = read_until_close(fd, 3000, got, sizeof(got));
    gw_stop(f.g);
    pthread_join(th, NULL);
    ck_assert_msg(strstr(got, " 101 "), "no 101: %s", got);
    ck_assert_msg(code == 4000, "the WebSocket got its 101 and then no close 4000 (got %d): %s",
                  code, got);
    close(fd);
    fixture_stop(&f);
}

START_TEST(test_libev_serves_a_websocket_waiting_before_the_loop_first_ran)
{
    check_first_websocket_is_served(true, false);
}
END_TEST

START_TEST(test_libev_serves_a_websocket_after_a_connect_and_close_probe)
{
    check_first_websocket_is_served(true, true);
}
END_TEST

START_TEST(test_poll_serves_a_websocket_after_a_connect_and_close_probe)
{
    check_first_websocket_is_served(false, true);
}
END_TEST

Suite *
gateway_loop_suite(void)
{
    Suite *s = suite_create("gateway_loop");
    TCase *tc = tcase_create("loop");

    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_libev_serves_a_websocket_waiting_before_the_loop_first_ran);
    tcase_add_test(tc, test_libev_serves_a_websocket_after_a_connect_and_close_probe);
    tcase_add_test(tc, test_poll_serves_a_websocket_after_a_connect_and_close_probe);
    suite_add_tcase(s, tc);
    return s;
}
