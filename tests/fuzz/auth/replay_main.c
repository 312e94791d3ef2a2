/*
 * replay_main.c - runs a libFuzzer target over a corpus without libFuzzer, so the seeds
 * (and any crash reproducer added to the corpus) run in every ordinary ctest build under
 * the sanitizers. Usage: replay DIR_OR_FILE...   or   replay --write-seeds DIR
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    buf = malloc((size_t)st.st_size + 1);
    n = fread(buf, 1, (size_t)st.st_size, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

int
main(int argc, char **argv)
{
    int files = 0, rc = 0;

    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
        return fuzz_auth_write_seeds(argv[2]) == 0 ? 0 : 1;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;
            while (d && (e = readdir(d))) {
                char path[4096];
                if (e->d_name[0] == '.')
                    continue;
                snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
                rc |= replay_file(path);
                files++;
            }
            if (d)
                closedir(d);
        } else {
            rc |= replay_file(argv[i]);
            files++;
        }
    }
    printf("replay: %d inputs, %lu accepted tickets, %s\n", files, fuzz_auth_accepted,
           rc ? "read errors" : "clean");
    return rc || files == 0 ? 1 : 0;
}
