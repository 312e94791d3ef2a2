/*
 * replay.c - runs any libFuzzer target over files and directories without libFuzzer, so
 * the committed seeds run in every ordinary ctest build under ASan/UBSan. Shared by the
 * common/, gateway/ and broker/ fuzz targets (tests/fuzz/common/fuzz.cmake links it in).
 *
 * A target may define fuzz_replay_note() to print how deep the seeds went (e.g. "7 parsed
 * instructions"); the ctest's PASS_REGULAR_EXPRESSION then checks that the seeds still
 * reach the code behind the first checks, so a format change cannot make them shallow.
 * Inputs are copied into a malloc'd buffer of exactly their size, as libFuzzer does, so
 * ASan catches a read one byte past the end.
 *
 * Usage: <target>_replay DIR_OR_FILE...
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional, defined by the target: a short note on what the seeds reached. */
const char *fuzz_replay_note(void) __attribute__((weak));

static int
replay_file(const char *path)
{
    struct stat st;
    unsigned char *buf;
    FILE *f = fopen(path, "rb");
    size_t n;

    if (!f || fstat(fileno(f), &st) < 0 || st.st_size > 1 << 20) {
        fprintf(stderr, "replay: cannot read %s (missing or over 1 MiB)\n", path);
        if (f)
            fclose(f);
        return -1;
    }
    buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!buf)
        abort();
    n = fread(buf, 1, (size_t)st.st_size, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of @dir, in name order (so a failure is reproducible). */
static int
replay_dir(const char *dir, int *files)
{
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    DIR *d = opendir(dir);
    int rc = 0;

    if (!d) {
        fprintf(stderr, "replay: cannot open %s\n", dir);
        return -1;
    }
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        names = realloc(names, (n + 1) * sizeof(*names));
        if (!names || !(names[n] = strdup(e->d_name)))
            abort();
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof(*names), name_cmp);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        struct stat st;

        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            rc |= replay_file(path);
            (*files)++;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int
main(int argc, char **argv)
{
    int files = 0, rc = 0;

    for (int i = 1; i < argc; i++) {
        struct stat st;

        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            rc |= replay_dir(argv[i], &files);
        } else {
            rc |= replay_file(argv[i]);
            files++;
        }
    }
    printf("replay: %d inputs, %s, %s\n", files, fuzz_replay_note ? fuzz_replay_note() : "-",
           rc ? "read errors" : "clean");
    return rc || files == 0 ? 1 : 0;
}
