/*
 * e2e_web.c - see e2e_web.h: where the built web UI lives and where screenshots go.
 */
#include "e2e_web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

const char *
e2e_web_root(void)
{
    static char path[1024];
    const char *bd = getenv("PORTICO_BUILD_DIR");

    snprintf(path, sizeof(path), "%s/web/dist", bd ? bd : "..");
    return path;
}

const char *
e2e_artifacts(const char *step)
{
    static char path[1024];
    const char *bd = getenv("PORTICO_BUILD_DIR");

    snprintf(path, sizeof(path), "%s/tests/e2e/artifacts", bd ? bd : ".");
    mkdir(path, 0755);
    snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s", step);
    mkdir(path, 0755);
    return path;
}

void
e2e_require_web_root(void)
{
    char index[1100], rfb[1100];

    snprintf(index, sizeof(index), "%s/index.html", e2e_web_root());
    snprintf(rfb, sizeof(rfb), "%s/vendor/novnc/core/rfb.js", e2e_web_root());
    ck_assert_msg(access(index, R_OK) == 0 && access(rfb, R_OK) == 0,
                  "%s is not built: build the portico_web target (web/build.sh; npm ci in web/ "
                  "by scripts/npm-deps.sh)",
                  e2e_web_root());
}
