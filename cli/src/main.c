/*
 * main.c - porticoctl: the broker's admin API at a shell.
 *
 *   porticoctl [--json] [--url URL] [--ca FILE] [--insecure] NOUN VERB [ARGS]
 *
 * Sign in once (`porticoctl login --url https://broker:8443 --user bob`); the session is
 * kept in ~/.config/portico/token with mode 0600 and reused by every later call. Output
 * is a table for people, or the broker's JSON with --json. Exit codes say what went
 * wrong (see usage()). Each verb answers --help.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common/mem.h"
#include "common/str.h"

static bool opt_json;

static void
usage(FILE *f)
{
    fprintf(
        f,
        "usage: porticoctl [--json] [--url URL] [--ca FILE] [--insecure] NOUN VERB [ARGS]\n"
        "\n"
        "  login [--user NAME]        sign in (password from $PORTICO_PASSWORD or stdin)\n"
        "  logout\n"
        "  pool list | show NAME | create NAME KEY=VALUE... | resize NAME [--min N]\n"
        "       [--max N] [--warm N] [--wait] [--timeout SECS] | delete NAME [--wait]\n"
        "  desktop list [--pool NAME] | recycle ID | delete ID [--force]\n"
        "  session list | disconnect ID\n"
        "  host list | drain NAME | undrain NAME\n"
        "  user resolve NAME\n"
        "\n"
        "exit codes: 0 ok, 1 failed, 2 usage, 3 not signed in, 4 forbidden, 5 not found,\n"
        "            6 invalid or conflict, 7 broker unavailable, 8 cannot connect, 9 timeout\n");
}

static bool
wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    }
    return false;
}

/* Do one call; on a non-2xx answer print the error and return its exit code. */
static int
call(const struct cli_conf *c, const char *method, const char *path, const char *body,
     struct cli_resp *r)
{
    struct pt_err err = {0};

    if (cli_http(c, method, path, body, r, &err) < 0) {
        fprintf(stderr, "porticoctl: %s\n", err.msg);
        return CLI_CONNECT;
    }
    if (r->status < 200 || r->status >= 300) {
        cli_print_error(r);
        return cli_exit_for_status(r->status);
    }
    return CLI_OK;
}

static int
print_json(const struct cli_resp *r)
{
    char *s = json_dumps(r->json, JSON_INDENT(2));

    printf("%s\n", s ? s : "null");
    free(s);
    return CLI_OK;
}

static const char *
str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));

    return s ? s : "";
}

static const char *
num(json_t *o, const char *k, char *buf, size_t n)
{
    json_t *v = json_object_get(o, k);

    if (json_is_boolean(v))
        snprintf(buf, n, "%s", json_is_true(v) ? "yes" : "no");
    else
        snprintf(buf, n, "%lld", (long long)json_integer_value(v));
    return buf;
}

/* ---- login / logout ---------------------------------------------------------------------- */

static int
cmd_login(struct cli_conf *c, int argc, char **argv)
{
    const char *user = getenv("USER");
    char pw[1024] = "", *envpw = getenv("PORTICO_PASSWORD");
    struct cli_resp r;
    struct pt_err err = {0};
    json_t *body;
    char *s;
    int rc;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
            user = argv[++i];
    }
    if (!c->url[0]) {
        fprintf(stderr, "porticoctl: login needs --url https://BROKER:PORT\n");
        return CLI_USAGE;
    }
    if (envpw) {
        pt_strlcpy(pw, envpw, sizeof(pw));
    } else {
        struct termios old, quiet;
        bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;

        if (tty) {
            fprintf(stderr, "password for %s: ", user ? user : "?");
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO; /* do not show the password */
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        }
        if (!fgets(pw, sizeof(pw), stdin))
            pw[0] = '\0';
        if (tty) {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
            fputc('\n', stderr);
        }
        pw[strcspn(pw, "\r\n")] = '\0';
    }
    c->cookie[0] = c->csrf[0] = '\0';
    body = json_pack("{s:s,s:s}", "user", user ? user : "", "password", pw);
    pt_wipe(pw, sizeof(pw));
    s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    rc = call(c, "POST", "/api/v1/login", s, &r);
    pt_free_secret(s);
    if (rc != CLI_OK)
        goto out;
    snprintf(c->cookie, sizeof(c->cookie), "%.*s",
             (int)strcspn(r.set_cookie + strcspn(r.set_cookie, "=") + 1, ";"),
             r.set_cookie + strcspn(r.set_cookie, "=") + 1);
    pt_strlcpy(c->csrf, str(r.json, "csrf_token"), sizeof(c->csrf));
    pt_strlcpy(c->user, str(r.json, "user"), sizeof(c->user));
    if (!c->cookie[0] || !c->csrf[0]) {
        fprintf(stderr, "porticoctl: the broker sent no session\n");
        rc = CLI_FAILED;
        goto out;
    }
    if (cli_token_save(c, &err) < 0) {
        fprintf(stderr, "porticoctl: %s\n", err.msg);
        rc = CLI_FAILED;
        goto out;
    }
    if (opt_json)
        print_json(&r);
    else
        printf("signed in as %s%s (session kept in %s)\n", c->user,
               json_is_true(json_object_get(r.json, "admin")) ? " (admin)" : "", cli_token_path());
out:
    cli_resp_fini(&r);
    return rc;
}

static int
cmd_logout(struct cli_conf *c)
{
    struct cli_resp r;
    int rc = call(c, "POST", "/api/v1/logout", NULL, &r);

    cli_resp_fini(&r);
    cli_token_remove();
    if (rc == CLI_OK && !opt_json)
        printf("signed out\n");
    return rc == CLI_AUTH ? CLI_OK : rc;
}

/* ---- pools ------------------------------------------------------------------------------- */

static int
pool_list(struct cli_conf *c)
{
    struct cli_resp r;
    int rc = call(c, "GET", "/api/v1/admin/pools", NULL, &r);
    const char *h[] = {"POOL", "READY", "TOTAL", "IN USE", "MIN", "MAX", "WARM", "ACTIONS"};
    struct cli_table *t;
    size_t i;
    json_t *p;

    if (rc != CLI_OK || opt_json) {
        if (rc == CLI_OK)
            print_json(&r);
        cli_resp_fini(&r);
        return rc;
    }
    t = cli_table_new(8, h);
    json_array_foreach(json_object_get(r.json, "pools"), i, p)
    {
        char b[7][24];
        const char *row[] = {str(p, "name"),
                             num(json_object_get(p, "counts"), "ready", b[0], 24),
                             num(p, "total", b[1], 24),
                             num(p, "in_use", b[2], 24),
                             num(p, "min", b[3], 24),
                             num(p, "max", b[4], 24),
                             num(p, "warm", b[5], 24),
                             num(p, "actions", b[6], 24)};

        cli_table_row(t, row);
    }
    cli_table_print(t);
    cli_table_free(t);
    cli_resp_fini(&r);
    return CLI_OK;
}

static int
pool_show(struct cli_conf *c, const char *name)
{
    struct cli_resp r;
    char path[512];
    int rc;
    const char *k;
    json_t *v;

    snprintf(path, sizeof(path), "/api/v1/admin/pools/%s", name);
    rc = call(c, "GET", path, NULL, &r);
    if (rc == CLI_OK && opt_json) {
        print_json(&r);
    } else if (rc == CLI_OK) {
        char b[6][24];

        printf("pool %s: %s ready, %s total, %s in use (min %s, max %s, warm %s)\n", name,
               num(json_object_get(r.json, "counts"), "ready", b[0], 24),
               num(r.json, "total", b[1], 24), num(r.json, "in_use", b[2], 24),
               num(r.json, "min", b[3], 24), num(r.json, "max", b[4], 24),
               num(r.json, "warm", b[5], 24));
        json_object_foreach(json_object_get(r.json, "spec"), k, v)
        {
            printf("  %s = %s\n", k, json_string_value(v));
        }
    }
    cli_resp_fini(&r);
    return rc;
}

static int
pool_create(struct cli_conf *c, int argc, char **argv)
{
    json_t *spec = json_object(), *body;
    struct cli_resp r;
    char *s;
    int rc;

    if (argc < 1) {
        fprintf(stderr, "usage: porticoctl pool create NAME KEY=VALUE...\n");
        json_decref(spec);
        return CLI_USAGE;
    }
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');

        if (!eq) {
            fprintf(stderr, "porticoctl: expected KEY=VALUE, got %s\n", argv[i]);
            json_decref(spec);
            return CLI_USAGE;
        }
        *eq = '\0';
        json_object_set_new(spec, argv[i], json_string(eq + 1));
    }
    body = json_pack("{s:s,s:o}", "name", argv[0], "spec", spec);
    s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    rc = call(c, "POST", "/api/v1/admin/pools", s, &r);
    free(s);
    if (rc == CLI_OK)
        opt_json ? print_json(&r) : printf("pool %s created\n", argv[0]);
    cli_resp_fini(&r);
    return rc;
}

/* Poll the pool until its counts are within the spec; print progress on stderr. */
static int
pool_wait(struct cli_conf *c, const char *name, bool gone, int timeout_s)
{
    char path[512];
    time_t end = time(NULL) + timeout_s;

    snprintf(path, sizeof(path), "/api/v1/admin/pools/%s", name);
    for (;;) {
        struct cli_resp r;
        struct pt_err err = {0};
        json_t *j, *counts;
        int total, ready, minv, maxv, warm, actions;

        if (cli_http(c, "GET", path, NULL, &r, &err) < 0) {
            fprintf(stderr, "porticoctl: %s\n", err.msg);
            return CLI_CONNECT;
        }
        if (gone && r.status == 404) {
            cli_resp_fini(&r);
            fprintf(stderr, "%s: deleted\n", name);
            return CLI_OK;
        }
        if (r.status != 200) {
            cli_print_error(&r);
            cli_resp_fini(&r);
            return cli_exit_for_status(r.status);
        }
        j = r.json;
        counts = json_object_get(j, "counts");
        total = (int)json_integer_value(json_object_get(j, "total"));
        ready = (int)json_integer_value(json_object_get(counts, "ready"));
        minv = (int)json_integer_value(json_object_get(j, "min"));
        maxv = (int)json_integer_value(json_object_get(j, "max"));
        warm = (int)json_integer_value(json_object_get(j, "warm"));
        actions = (int)json_integer_value(json_object_get(j, "actions"));
        fprintf(stderr, "%s: %d ready (warm %d), %d total (min %d, max %d), %d actions\n", name,
                ready, warm, total, minv, maxv, actions);
        cli_resp_fini(&r);
        if (!gone && actions == 0 && total >= minv && total <= maxv &&
            (ready >= warm || total == maxv))
            return CLI_OK;
        if (time(NULL) >= end) {
            fprintf(stderr, "porticoctl: %s did not converge in %d s\n", name, timeout_s);
            return CLI_TIMEOUT;
        }
        usleep(500 * 1000);
        if (gone) {
            struct cli_resp d;

            snprintf(path, sizeof(path), "/api/v1/admin/pools/%s", name);
            if (cli_http(c, "DELETE", path, NULL, &d, &err) == 0)
                cli_resp_fini(&d);
        }
    }
}

static int
pool_resize(struct cli_conf *c, int argc, char **argv)
{
    json_t *body = json_object();
    bool wait = false;
    int timeout_s = 300, rc;
    struct cli_resp r;
    char path[512], *s;

    if (argc < 1) {
        json_decref(body);
        fprintf(stderr, "usage: porticoctl pool resize NAME [--min N] [--max N] [--warm N] "
                        "[--wait]\n");
        return CLI_USAGE;
    }
    for (int i = 1; i < argc; i++) {
        int64_t v;

        if (strcmp(argv[i], "--wait") == 0) {
            wait = true;
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            timeout_s = atoi(argv[++i]);
        } else if ((strcmp(argv[i], "--min") == 0 || strcmp(argv[i], "--max") == 0 ||
                    strcmp(argv[i], "--warm") == 0 || strcmp(argv[i], "--parked") == 0) &&
                   i + 1 < argc && pt_parse_i64(argv[i + 1], 0, 100000, &v) == 0) {
            json_object_set_new(body, argv[i] + 2, json_integer(v));
            i++;
        } else {
            json_decref(body);
            fprintf(stderr, "porticoctl: bad argument %s\n", argv[i]);
            return CLI_USAGE;
        }
    }
    s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    snprintf(path, sizeof(path), "/api/v1/admin/pools/%s/resize", argv[0]);
    rc = call(c, "POST", path, s, &r);
    free(s);
    if (rc == CLI_OK && opt_json)
        print_json(&r);
    else if (rc == CLI_OK)
        printf("pool %s resized\n", argv[0]);
    cli_resp_fini(&r);
    if (rc == CLI_OK && wait)
        rc = pool_wait(c, argv[0], false, timeout_s);
    return rc;
}

static int
pool_delete(struct cli_conf *c, int argc, char **argv)
{
    struct cli_resp r;
    char path[512];
    bool wait = argc > 1 && strcmp(argv[1], "--wait") == 0;
    int rc;

    if (argc < 1)
        return CLI_USAGE;
    snprintf(path, sizeof(path), "/api/v1/admin/pools/%s", argv[0]);
    rc = call(c, "DELETE", path, NULL, &r);
    if (rc == CLI_OK) {
        if (opt_json)
            print_json(&r);
        else if (r.status == 202)
            printf("pool %s is draining (%lld desktops left)\n", argv[0],
                   (long long)json_integer_value(json_object_get(r.json, "desktops_left")));
        else
            printf("pool %s deleted\n", argv[0]);
        if (r.status == 202 && wait)
            rc = pool_wait(c, argv[0], true, 600);
    }
    cli_resp_fini(&r);
    return rc;
}

/* ---- generic list / action helpers ------------------------------------------------------ */

/* GET @path and print @key's array as a table of @cols (JSON keys) under @heads. */
static int
list_table(struct cli_conf *c, const char *path, const char *key, int n, const char *const *cols,
           const char *const *heads)
{
    struct cli_resp r;
    struct cli_table *t;
    int rc = call(c, "GET", path, NULL, &r);
    size_t i;
    json_t *e;

    if (rc != CLI_OK || opt_json) {
        if (rc == CLI_OK)
            print_json(&r);
        cli_resp_fini(&r);
        return rc;
    }
    t = cli_table_new(n, heads);
    json_array_foreach(json_object_get(r.json, key), i, e)
    {
        char bufs[8][64];
        const char *row[8];

        for (int k = 0; k < n && k < 8; k++) {
            json_t *v = json_object_get(e, cols[k]);

            if (json_is_string(v))
                row[k] = json_string_value(v);
            else if (json_is_array(v))
                snprintf(bufs[k], 64, "%zu", json_array_size(v)), row[k] = bufs[k];
            else
                row[k] = num(e, cols[k], bufs[k], 64);
        }
        cli_table_row(t, row);
    }
    cli_table_print(t);
    cli_table_free(t);
    cli_resp_fini(&r);
    return CLI_OK;
}

static int
action(struct cli_conf *c, const char *method, const char *path, const char *done_msg)
{
    struct cli_resp r;
    int rc = call(c, method, path, NULL, &r);

    if (rc == CLI_OK)
        opt_json ? print_json(&r) : printf("%s\n", done_msg);
    cli_resp_fini(&r);
    return rc;
}

static int
dispatch(struct cli_conf *c, const char *noun, const char *verb, int argc, char **argv)
{
    char path[600], msg[600];
    const char *a0 = argc > 0 ? argv[0] : NULL;

    if (strcmp(noun, "pool") == 0) {
        if (strcmp(verb, "list") == 0)
            return pool_list(c);
        if (strcmp(verb, "show") == 0 && a0)
            return pool_show(c, a0);
        if (strcmp(verb, "create") == 0)
            return pool_create(c, argc, argv);
        if (strcmp(verb, "resize") == 0)
            return pool_resize(c, argc, argv);
        if (strcmp(verb, "delete") == 0)
            return pool_delete(c, argc, argv);
    } else if (strcmp(noun, "desktop") == 0) {
        if (strcmp(verb, "list") == 0) {
            const char *cols[] = {"id", "pool", "state", "user", "host"};
            const char *heads[] = {"DESKTOP", "POOL", "STATE", "USER", "HOST"};

            snprintf(path, sizeof(path), "/api/v1/admin/desktops%s%s",
                     argc > 1 && strcmp(argv[0], "--pool") == 0 ? "?pool=" : "",
                     argc > 1 && strcmp(argv[0], "--pool") == 0 ? argv[1] : "");
            return list_table(c, path, "desktops", 5, cols, heads);
        }
        if (strcmp(verb, "recycle") == 0 && a0) {
            snprintf(path, sizeof(path), "/api/v1/admin/desktops/%s/recycle", a0);
            snprintf(msg, sizeof(msg), "desktop %s is being recycled", a0);
            return action(c, "POST", path, msg);
        }
        if (strcmp(verb, "delete") == 0 && a0 && a0[0] != '-' && !strpbrk(a0, "/?#%& ") &&
            (argc == 1 || (argc == 2 && strcmp(argv[1], "--force") == 0))) {
            /* a held desktop is refused (exit 6) unless --force: it ends the user's session */
            snprintf(path, sizeof(path), "/api/v1/admin/desktops/%s%s", a0,
                     argc == 2 ? "?force=true" : "");
            snprintf(msg, sizeof(msg), "desktop %s is being deleted", a0);
            return action(c, "DELETE", path, msg);
        }
    } else if (strcmp(noun, "session") == 0) {
        if (strcmp(verb, "list") == 0) {
            const char *cols[] = {"session_id", "user", "admin", "age_s", "idle_s", "tunnels"};
            const char *heads[] = {"SESSION", "USER", "ADMIN", "AGE S", "IDLE S", "TUNNELS"};

            return list_table(c, "/api/v1/admin/sessions", "sessions", 6, cols, heads);
        }
        if (strcmp(verb, "disconnect") == 0 && a0) {
            snprintf(path, sizeof(path), "/api/v1/admin/sessions/%s/disconnect", a0);
            snprintf(msg, sizeof(msg), "session %s ended", a0);
            return action(c, "POST", path, msg);
        }
    } else if (strcmp(noun, "host") == 0) {
        if (strcmp(verb, "list") == 0) {
            const char *cols[] = {"name", "up", "draining", "desktops", "actions", "mem_free_kib"};
            const char *heads[] = {"HOST", "UP", "DRAINING", "DESKTOPS", "ACTIONS", "FREE KIB"};

            return list_table(c, "/api/v1/admin/hosts", "hosts", 6, cols, heads);
        }
        if ((strcmp(verb, "drain") == 0 || strcmp(verb, "undrain") == 0) && a0) {
            snprintf(path, sizeof(path), "/api/v1/admin/hosts/%s/%s", a0, verb);
            snprintf(msg, sizeof(msg), "host %s: %s", a0,
                     verb[0] == 'd' ? "draining (no new desktops)" : "accepting desktops");
            return action(c, "POST", path, msg);
        }
    } else if (strcmp(noun, "user") == 0 && strcmp(verb, "resolve") == 0 && a0) {
        struct cli_resp r;
        int rc;
        size_t i;
        json_t *g;

        snprintf(path, sizeof(path), "/api/v1/admin/users/%s", a0);
        rc = call(c, "GET", path, NULL, &r);
        if (rc == CLI_OK && opt_json) {
            print_json(&r);
        } else if (rc == CLI_OK) {
            printf("user %s\n  dn: %s\n  admin: %s\n  disabled: %s\n  groups:", str(r.json, "user"),
                   str(r.json, "dn"), json_is_true(json_object_get(r.json, "admin")) ? "yes" : "no",
                   json_is_true(json_object_get(r.json, "disabled")) ? "yes" : "no");
            json_array_foreach(json_object_get(r.json, "groups"), i, g)
                printf(" %s", str(g, "name"));
            printf("\n  pools:");
            json_array_foreach(json_object_get(r.json, "pools"), i, g)
                printf(" %s", json_string_value(g));
            printf("\n");
        }
        cli_resp_fini(&r);
        return rc;
    }
    fprintf(stderr, "porticoctl: unknown command: %s %s (see porticoctl --help)\n", noun, verb);
    return CLI_USAGE;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},     {"url", required_argument, NULL, 'u'},
        {"ca", required_argument, NULL, 'c'}, {"insecure", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},     {NULL, 0, NULL, 0},
    };
    struct cli_conf c;
    struct pt_err err = {0};
    const char *url = NULL, *ca = NULL;
    bool insecure = false;
    int opt, rc;

    memset(&c, 0, sizeof(c));
    /* Options before the noun only; the verbs parse their own. */
    while ((opt = getopt_long(argc, argv, "+jh", opts, NULL)) != -1) {
        switch (opt) {
        case 'j':
            opt_json = true;
            break;
        case 'u':
            url = optarg;
            break;
        case 'c':
            ca = optarg;
            break;
        case 'k':
            insecure = true;
            break;
        case 'h':
            usage(stdout);
            return CLI_OK;
        default:
            usage(stderr);
            return CLI_USAGE;
        }
    }
    argc -= optind;
    argv += optind;
    if (argc < 1) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (wants_help(argc, argv)) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[0], "login") != 0 && cli_token_load(&c, &err) < 0) {
        fprintf(stderr, "porticoctl: %s\n", err.msg);
        return err.code == PT_E_AUTH ? CLI_AUTH : CLI_FAILED;
    }
    if (url)
        pt_strlcpy(c.url, url, sizeof(c.url));
    if (ca)
        pt_strlcpy(c.ca, ca, sizeof(c.ca));
    if (insecure)
        c.insecure = true;
    if (strcmp(argv[0], "login") == 0)
        return cmd_login(&c, argc - 1, argv + 1);
    if (strcmp(argv[0], "logout") == 0)
        return cmd_logout(&c);
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    rc = dispatch(&c, argv[0], argv[1], argc - 2, argv + 2);
    pt_wipe(&c, sizeof(c));
    return rc;
}
