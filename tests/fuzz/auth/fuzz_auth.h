/*
 * fuzz_auth.h - shared between the auth fuzz target and its replay driver.
 */
#ifndef PT_FUZZ_AUTH_H
#define PT_FUZZ_AUTH_H

#define FUZZ_NOW      1795000000000LL /* the fixed clock the seeds were signed for */
#define FUZZ_AUDIENCE "gw-fuzz"

/* Inputs the verifier accepted so far: the replay test checks that seeds still reach the
 * checks behind the signature (a stale FUZZ_NOW or key would silently make them shallow). */
extern unsigned long fuzz_auth_accepted;

/* fuzz_auth_write_seeds() - (re)write the seed corpus into @dir. 0 or -1. */
int fuzz_auth_write_seeds(const char *dir);

#endif
