/*
 * tf_host2.c - a second libvirt "host" on this machine for migration tests: one instance
 * of scripts/fixtures/libvirtd2.sh (an independent system libvirtd in its own mount + UTS
 * namespace). See fixture.h. The script does the namespace work; this file starts it,
 * reads what it prints, stops it by the PID it recorded, and reaps the daemons of killed
 * runs (their state directory names a test pid that is gone).
 */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/str.h"
#include "tf_priv.h"

static void
script_path(char *out, size_t n)
{
    snprintf(out, n, "%s/scripts/fixtures/libvirtd2.sh", tf_source_dir());
}

static const char *
state_dir(void)
{
    const char *s = getenv("PORTICO_STATE");

    return s && s[0] ? s : "/var/tmp/portico";
}

/* Run @cmd through the shell; say so on stderr when it fails (teardown goes on). */
static void
run(const char *cmd)
{
    if (system(cmd) != 0)
        fprintf(stderr, "tf_host2: %s failed\n", cmd);
}

void
tf_host2_reap_stale(const char *tag)
{
    char pat[700], sh[600], cmd[2400];
    glob_t g;

    script_path(sh, sizeof(sh));
    snprintf(pat, sizeof(pat), "%s/lv2-%s-*-?", state_dir(), tag);
    if (glob(pat, 0, NULL, &g) != 0)
        return;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *p = g.gl_pathv[i] + strlen(pat) - 3; /* the pid after "lv2-TAG-" */
        char proc[64];

        snprintf(proc, sizeof(proc), "/proc/%d", atoi(p));
        if (access(proc, F_OK) == 0)
            continue;
        fprintf(stderr, "tf_host2: stopping a stale host from a killed run: %s\n", g.gl_pathv[i]);
        snprintf(cmd, sizeof(cmd), "'%s' stop '%s'; rm -rf '%s'", sh, g.gl_pathv[i], g.gl_pathv[i]);
        run(cmd);
    }
    globfree(&g);
}

int
tf_host2_start(struct tf_host2 *h, const char *tag, int index, char letter, const char *golden,
               struct pt_err *err)
{
    char sh[600], cmd[2400], line[1100];
    int64_t t0 = pt_time_mono_ms();
    FILE *f;
    int rc;

    memset(h, 0, sizeof(*h));
    script_path(sh, sizeof(sh));
    snprintf(h->dir, sizeof(h->dir), "%s/lv2-%s-%d-%c", state_dir(), tag, (int)getpid(), letter);
    snprintf(cmd, sizeof(cmd), "PORTICO_LV2_INDEX=%d '%s' start '%s' '%s'", index, sh, h->dir,
             golden);
    f = popen(cmd, "r");
    if (!f)
        return pt_err_set(err, PT_E_IO, "cannot run %s", sh);
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "URI=", 4) == 0)
            pt_strlcpy(h->uri, line + 4, sizeof(h->uri));
        else if (strncmp(line, "DISPLAY_PORTS=", 14) == 0 &&
                 sscanf(line + 14, "%d-%d", &h->ports[0], &h->ports[1]) != 2)
            h->ports[0] = 0;
    }
    rc = pclose(f);
    if (rc != 0 || !h->uri[0] || !h->ports[0]) {
        tf_host2_stop(h);
        return pt_err_set(err, PT_E_UNAVAILABLE, "%s failed (see its message above)", cmd);
    }
    fprintf(stderr, "tf_host2: host %c up in %lld ms: %s\n", letter,
            (long long)(pt_time_mono_ms() - t0), h->uri);
    return 0;
}

void
tf_host2_stop(struct tf_host2 *h)
{
    char sh[600], cmd[2400];

    if (!h->dir[0])
        return;
    script_path(sh, sizeof(sh));
    snprintf(cmd, sizeof(cmd), "'%s' stop '%s'", sh, h->dir);
    run(cmd);
    if (!getenv("PORTICO_KEEP_TMP")) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
        run(cmd);
    }
    h->dir[0] = '\0';
}
