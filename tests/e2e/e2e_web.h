/*
 * e2e_web.h - shared by the web e2e suites (test code only): where the built web UI is
 * and where screenshots go.
 */
#ifndef PT_E2E_WEB_H
#define PT_E2E_WEB_H

/* e2e_web_root() - borrowed: <build>/web/dist, assembled by web/build.sh. */
const char *e2e_web_root(void);
/* e2e_artifacts() - borrowed until the next call: <build>/tests/e2e/artifacts/@step,
 * created. */
const char *e2e_artifacts(const char *step);
/* e2e_require_web_root() - fail the test with what to do when the UI is not built. */
void e2e_require_web_root(void);

#endif
