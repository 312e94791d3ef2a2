/*
 * tf_priv.h - helpers shared by the fixture files (tests/support/tf_*.c), not part of the
 * fixture API. Thread: test main thread, like everything in tsupport.
 */
#ifndef PT_TSUPPORT_TF_PRIV_H
#define PT_TSUPPORT_TF_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "tsupport/fixture.h"

/* tf_which() - true if @prog is an executable in $PATH, /usr/sbin or /sbin. When @out
 * is not NULL the full path is copied there (size @n). */
bool tf_which(const char *prog, char *out, size_t n);

/* tf_need() - 0 if every NULL-terminated program name is installed, else -1 with
 * PT_E_UNAVAILABLE naming the first missing one and the Debian package to install. */
int tf_need(struct pt_err *err, const char *prog, const char *package);

/*
 * tf_run() - run @argv to completion (stdout/stderr to a log named after @name), killing
 * it after @timeout_ms. Returns 0 if it exited 0, else -1 with @err saying how it ended
 * and the log's tail printed to stderr.
 */
int tf_run(const char *name, char *const argv[], char *const envp[], int timeout_ms,
           struct pt_err *err);

/* tf_run_status() - as tf_run(), but a non-zero exit is not an error: 0 with the exit
 * status (128+signal if killed) in *@status; -1 only if it could not run or timed out. */
int tf_run_status(const char *name, char *const argv[], char *const envp[], int timeout_ms,
                  int *status, struct pt_err *err);

/* tf_run_capture() - run @argv, wait up to @timeout_ms; 0 with the exit status in
 * *@status and the output (stdout+stderr, returns new) in *@out when @out is not NULL;
 * -1 if it could not run or timed out. The log is removed. */
int tf_run_capture(const char *name, char *const argv[], int timeout_ms, int *status, char **out,
                   struct pt_err *err);

/*
 * tf_proc_wait_ready() - wait until 127.0.0.1:@port accepts while @p stays alive.
 * Returns 0, or -1 with PT_E_UNAVAILABLE (the process exited; log tail printed) or
 * PT_E_TIMEOUT.
 */
int tf_proc_wait_ready(struct tf_proc *p, int port, int timeout_ms, struct pt_err *err);

/* tf_proc_spawn_fd() - tf_proc_spawn() that passes @keep_fd to the child as descriptor 3
 * (for X servers' -displayfd 3). */
int tf_proc_spawn_fd(struct tf_proc *p, const char *name, char *const argv[], char *const envp[],
                     int keep_fd, struct pt_err *err);

/* tf_proc_exited_with() - true if @p has exited; the exit status (or 128+signal) goes
 * to *@status. Does not reap. */
bool tf_proc_exited_with(const struct tf_proc *p, int *status);

/* tf_file_write() - create @path (mode @mode) holding @text. Returns 0 or -1 with @err. */
int tf_file_write(const char *path, const char *text, int mode, struct pt_err *err);

/* tf_file_contains() - true if the file at @path contains @needle (case-insensitive). */
bool tf_file_contains(const char *path, const char *needle);

/* tf_mkdir_p() - mkdir -p @path (0755). Returns 0 or -1 with @err. */
int tf_mkdir_p(const char *path, struct pt_err *err);

/* tf_subdir() - returns new: a fresh directory tf_tmpdir()/@prefix-N (N counts up). */
char *tf_subdir(const char *prefix, struct pt_err *err);

/* tf_sleep_ms() - nanosleep that survives EINTR. */
void tf_sleep_ms(int ms);

/* tf_random_hex() - fill @out with @n-1 random hex digits and a NUL. */
void tf_random_hex(char *out, size_t n);

/* tf_pid_running() - true if @pid exists and is not a zombie. */
bool tf_pid_running(long pid);

/* tf_state_dir() - borrowed: ${PORTICO_STATE:-/var/tmp/portico}, shared between runs. */
const char *tf_state_dir(void);

#endif
