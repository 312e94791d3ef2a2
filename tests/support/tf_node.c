/*
 * tf_node.c - run the e2e scripts of tests/e2e with node: playwright-core (from
 * tests/e2e/node_modules, installed by scripts/npm-deps.sh from the lockfile) driving
 * Debian's /usr/bin/chromium headless. The script's output goes to a log whose tail is
 * printed when it fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/mem.h"
#include "tf_priv.h"
#include "tsupport/fixture.h"

#define MAX_ARGS 32

int
tf_node_run(const char *script, char *const args[], int timeout_ms, struct pt_err *err)
{
    PT_AUTOFREE char *e2e = pt_xasprintf("%s/tests/e2e", tf_source_dir());
    PT_AUTOFREE char *pw = pt_xasprintf("%s/node_modules/playwright-core", e2e);
    PT_AUTOFREE char *path = NULL;
    PT_AUTOFREE char *node_path = pt_xasprintf("NODE_PATH=%s/node_modules", e2e);
    const char *chromium = getenv("PORTICO_CHROMIUM");
    char *argv[MAX_ARGS + 3];
    char *envp[8];
    char env_path[1024], env_home[600], env_chromium[600], env_shots[700];
    int n = 0, ne = 0, status = 0;

    if (tf_need(err, "node", "nodejs") < 0)
        return -1;
    if (access(chromium ? chromium : "/usr/bin/chromium", X_OK) != 0)
        return pt_err_set(err, PT_E_UNAVAILABLE,
                          "chromium is not installed: apt-get install chromium "
                          "(scripts/install-deps.sh)");
    if (access(pw, R_OK) != 0)
        return pt_err_set(err, PT_E_UNAVAILABLE,
                          "%s is missing: run scripts/npm-deps.sh (npm ci from the lockfile)", pw);
    path = script[0] == '/' ? pt_xstrdup(script) : pt_xasprintf("%s/%s", e2e, script);
    if (access(path, R_OK) != 0)
        return pt_err_set(err, PT_E_NOTFOUND, "e2e script %s: %s", path, strerror(errno));
    argv[n++] = (char *)"node";
    argv[n++] = path;
    for (int i = 0; args && args[i]; i++) {
        if (n >= MAX_ARGS + 2)
            return pt_err_set(err, PT_E_INVALID, "tf_node_run: more than %d arguments", MAX_ARGS);
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    /* a small, explicit environment: no ASAN_OPTIONS or LD_PRELOAD leak into chromium */
    snprintf(env_path, sizeof(env_path), "PATH=%s",
             getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    snprintf(env_home, sizeof(env_home), "HOME=%s", tf_tmpdir());
    envp[ne++] = env_path;
    envp[ne++] = env_home;
    envp[ne++] = node_path;
    if (chromium) {
        snprintf(env_chromium, sizeof(env_chromium), "PORTICO_CHROMIUM=%s", chromium);
        envp[ne++] = env_chromium;
    }
    snprintf(env_shots, sizeof(env_shots), "PORTICO_E2E_SHOTS=%s", tf_tmpdir());
    envp[ne++] = env_shots;
    envp[ne] = NULL;
    if (tf_run_status("node", argv, envp, timeout_ms, &status, err) < 0)
        return -1;
    return status;
}
