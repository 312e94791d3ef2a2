/*
 * test_gw_xff.c - trusted_proxies and X-Forwarded-For: which address the per-address
 * limit and the logs see. The header is believed only from a trusted peer, read from the
 * right, and hostile values (spoofed left entries, garbage, huge lists, odd forms) never
 * produce an address no trusted proxy vouched for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "gw_priv.h"
#include "tsupport/fixture.h"

Suite *gateway_xff_suite(void);

#define MINIMAL "[gateway]\nid = gw-1\nticket_key = /etc/portico/ticket.pub\n"

/* The address gw_xff_resolve() picks for @peer and @xff with @proxies trusted. */
static const char *
pick(const char *proxies, const char *peer, const char *xff, bool *forwarded)
{
    static char out[64];
    struct gw_cidr *v;
    struct pt_err err = {0};
    size_t n;
    bool fw;

    ck_assert_msg(gw_cidr_list_parse(proxies, &v, &n, &err) == 0, "%s", err.msg);
    gw_xff_resolve(v, n, peer, xff, out, sizeof(out), forwarded ? forwarded : &fw);
    gw_cidr_list_free(v);
    return out;
}

START_TEST(test_cidr_lists_parse_ipv4_ipv6_and_refuse_garbage)
{
    static const char *good[] = {
        "",
        "10.0.0.0/8",
        "192.0.2.7 198.51.100.0/24,2001:db8::/32",
        "::1 ::ffff:10.0.0.0/104 0.0.0.0/0",
        "  127.0.0.1/32 ,, fe80::/10  ",
    };
    static const char *bad[] = {
        "10.0.0.0/33", "10.0.0.0/",   "10.0.0.0/8x",       "proxy.example.org", "1.2.3",
        "::1/129",     "10.0.0.0/-1", "::ffff:10.0.0.0/8", "1.2.3.4/ 8",
    };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct gw_cidr *v;
        size_t n;
        struct pt_err err = {0};
        ck_assert_msg(gw_cidr_list_parse(good[i], &v, &n, &err) == 0, "'%s': %s", good[i], err.msg);
        gw_cidr_list_free(v);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct gw_cidr *v;
        size_t n;
        struct pt_err err = {0};
        ck_assert_msg(gw_cidr_list_parse(bad[i], &v, &n, &err) == -1, "'%s' accepted", bad[i]);
        ck_assert_msg(strstr(err.msg, "trusted_proxies"), "%s", err.msg);
    }
}
END_TEST

START_TEST(test_conf_trusted_proxies_is_checked_at_load)
{
    struct gw_conf c;
    struct pt_err err = {0};

    ck_assert_int_eq(gw_conf_load_string(&c, MINIMAL, "g.conf", &err), 0);
    ck_assert_ptr_null(c.trusted_proxies); /* default: no proxy is trusted */
    gw_conf_free(&c);
    ck_assert_int_eq(
        gw_conf_load_string(&c, MINIMAL "trusted_proxies = 10.1.0.0/16 ::1\n", "g.conf", &err), 0);
    ck_assert_str_eq(c.trusted_proxies, "10.1.0.0/16 ::1");
    gw_conf_free(&c);
    ck_assert_int_eq(
        gw_conf_load_string(&c, MINIMAL "trusted_proxies = 10.1.0.0/99\n", "g.conf", &err), -1);
    ck_assert_msg(strstr(err.msg, "g.conf") && strstr(err.msg, "10.1.0.0/99"), "%s", err.msg);
    gw_conf_free(&c);
}
END_TEST

START_TEST(test_header_is_ignored_unless_the_peer_is_trusted)
{
    bool fw = true;

    /* No list: the peer, whatever the header says. */
    ck_assert_str_eq(pick("", "203.0.113.5", "198.51.100.1", &fw), "203.0.113.5");
    ck_assert(!fw);
    /* A list that does not hold the peer: same. */
    ck_assert_str_eq(pick("10.0.0.0/8", "203.0.113.5", "198.51.100.1", &fw), "203.0.113.5");
    ck_assert(!fw);
    /* Trusted peer without a header. */
    ck_assert_str_eq(pick("10.0.0.0/8", "10.0.0.2", NULL, &fw), "10.0.0.2");
    ck_assert(!fw);
    /* Trusted peer with one: the client. */
    ck_assert_str_eq(pick("10.0.0.0/8", "10.0.0.2", "198.51.100.1", &fw), "198.51.100.1");
    ck_assert(fw);
}
END_TEST

START_TEST(test_right_most_untrusted_entry_wins_over_spoofed_left_ones)
{
    /* The client wrote "1.1.1.1, 2.2.2.2" itself; our proxy appended what it saw. */
    ck_assert_str_eq(pick("10.0.0.0/8", "10.0.0.2", "1.1.1.1, 2.2.2.2, 198.51.100.7", NULL),
                     "198.51.100.7");
    /* Two of our proxies in a row: skip both. */
    ck_assert_str_eq(pick("10.0.0.0/8", "10.0.0.2", "6.6.6.6,198.51.100.7, 10.9.9.9", NULL),
                     "198.51.100.7");
    /* Only proxies of ours: the left-most is where the request started. */
    ck_assert_str_eq(pick("10.0.0.0/8", "10.0.0.2", "10.0.0.9, 10.0.0.3", NULL), "10.0.0.9");
}
END_TEST

START_TEST(test_malformed_entries_stop_at_the_last_vouched_hop)
{
    /* Garbage right of the client: trust ends at the proxy that handed it over. */
    ck_assert_str_eq(pick("10.0.0.0/8", "10.0.0.2", "198.51.100.7, unknown", NULL), "10.0.0.2");
    ck_assert_str_eq(pick("10.0.0.0/8", "10.0.0.2", "198.51.100.7,,", NULL), "10.0.0.2");
    ck_assert_str_eq(pick("10.0.0.0/8", "10.0.0.2", "", NULL), "10.0.0.2");
    ck_assert_str_eq(pick("10.0.0.0/8", "10.0.0.2", "   ", NULL), "10.0.0.2");
    ck_assert_str_eq(pick("10.0.0.0/8", "10.0.0.2", "1.2.3.4\r\nX: y", NULL), "10.0.0.2");
    ck_assert_str_eq(pick("10.0.0.0/8", "10.0.0.2", "999.1.1.1", NULL), "10.0.0.2");
    /* Behind a trusted hop, garbage stops at that hop. */
    ck_assert_str_eq(pick("10.0.0.0/8", "10.0.0.2", "garbage, 10.0.0.5", NULL), "10.0.0.5");
    /* Garbage left of the client is never read. */
    ck_assert_str_eq(pick("10.0.0.0/8", "10.0.0.2", "%%%, 198.51.100.7", NULL), "198.51.100.7");
}
END_TEST

START_TEST(test_ports_brackets_ipv6_and_mapped_forms_are_canonical)
{
    ck_assert_str_eq(pick("10.0.0.0/8", "10.0.0.2", "198.51.100.7:51234", NULL), "198.51.100.7");
    ck_assert_str_eq(pick("10.0.0.0/8", "10.0.0.2", "[2001:db8::1]:443", NULL), "2001:db8::1");
    ck_assert_str_eq(pick("10.0.0.0/8", "10.0.0.2", "2001:0db8:0:0::0001", NULL), "2001:db8::1");
    ck_assert_str_eq(pick("10.0.0.0/8", "10.0.0.2", "::ffff:198.51.100.7", NULL), "198.51.100.7");
    /* A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d. */
    ck_assert_str_eq(pick("10.0.0.0/8", "::ffff:10.0.0.2", "198.51.100.7", NULL), "198.51.100.7");
    ck_assert_str_eq(pick("2001:db8:aa::/48", "2001:db8:aa::5", "203.0.113.1", NULL),
                     "203.0.113.1");
    ck_assert_str_eq(pick("2001:db8:aa::/48", "2001:db8:ab::5", "203.0.113.1", NULL),
                     "2001:db8:ab::5");
    /* A bad IPv6 with a port-looking tail is not an address. */
    ck_assert_str_eq(pick("10.0.0.0/8", "10.0.0.2", "2001:db8::zz:1", NULL), "10.0.0.2");
}
END_TEST

START_TEST(test_huge_header_with_many_entries_is_linear_and_bounded)
{
    /* 20,000 entries of our own proxies, the client at the far left, then one spoofed. */
    size_t n = 20000, cap = n * 16 + 64, len = 0;
    char *h = malloc(cap);

    len += (size_t)snprintf(h + len, cap - len, "6.6.6.6, 198.51.100.9");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(h + len, cap - len, ", 10.%zu.%zu.1", (i / 250) % 250, i % 250);
    ck_assert_str_eq(pick("10.0.0.0/8", "10.0.0.2", h, NULL), "198.51.100.9");
    /* 20,000 copies of one long garbage token. */
    memset(h, 'x', cap - 1);
    h[cap - 1] = '\0';
    ck_assert_str_eq(pick("10.0.0.0/8", "10.0.0.2", h, NULL), "10.0.0.2");
    free(h);
}
END_TEST

START_TEST(test_the_example_config_trusts_no_proxy)
{
    char path[1024];
    struct gw_conf c;
    struct pt_err err = {0};

    snprintf(path, sizeof(path), "%s/etc/portico-gateway.conf.example", tf_source_dir());
    ck_assert_msg(gw_conf_load(&c, path, &err) == 0, "%s", err.msg);
    ck_assert_ptr_null(c.trusted_proxies); /* commented out: none trusted by default */
    ck_assert_str_eq(c.allowed_origins, "https://portal.example.org");
    gw_conf_free(&c);
}
END_TEST

Suite *
gateway_xff_suite(void)
{
    Suite *s = suite_create("gateway_xff");
    TCase *tc = tcase_create("xff");

    tcase_add_test(tc, test_cidr_lists_parse_ipv4_ipv6_and_refuse_garbage);
    tcase_add_test(tc, test_conf_trusted_proxies_is_checked_at_load);
    tcase_add_test(tc, test_header_is_ignored_unless_the_peer_is_trusted);
    tcase_add_test(tc, test_right_most_untrusted_entry_wins_over_spoofed_left_ones);
    tcase_add_test(tc, test_malformed_entries_stop_at_the_last_vouched_hop);
    tcase_add_test(tc, test_ports_brackets_ipv6_and_mapped_forms_are_canonical);
    tcase_add_test(tc, test_huge_header_with_many_entries_is_linear_and_bounded);
    tcase_add_test(tc, test_the_example_config_trusts_no_proxy);
    suite_add_tcase(s, tc);
    return s;
}
