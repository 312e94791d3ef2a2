/*
 * static.c - the web UI's files under the web root.
 *
 * The URL path (already URL-decoded by lws) is split on '/', and refused if any segment is "." or
 * ".." or holds a NUL or a backslash; what is left is joined under the root, so a request can never
 * name a file outside it (symlinks placed inside the root by whoever built it are followed: the
 * tree is trusted, the URL is not). Directories map to index.html. Files are read whole (the UI is
 * a few hundred KiB; a cap refuses anything huge) and go out through the same response path as API
 * replies, so they get the same security headers. MIME types come from a small table; unknown
 * extensions are application/octet-stream and nosniff keeps browsers from guessing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker_priv.h"
#include "common/mem.h"

#define STATIC_MAX_FILE (32 * 1024 * 1024)

static const struct {
    const char *ext;
    const char *type;
} mime_table[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"ico", "image/x-icon"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
    {"wasm", "application/wasm"},
    {"txt", "text/plain; charset=utf-8"},
    {"wav", "audio/wav"},
    {"ogg", "audio/ogg"},
};

const char *
broker_mime_type(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');

    if (dot) {
        for (size_t i = 0; i < sizeof(mime_table) / sizeof(mime_table[0]); i++) {
            if (strcasecmp(dot + 1, mime_table[i].ext) == 0)
                return mime_table[i].type;
        }
    }
    return "application/octet-stream";
}

int
broker_static_resolve(const char *root, const char *path, char *out, size_t n)
{
    char dec[BROKER_MAX_PATH];
    struct pt_buf b = PT_BUF_INIT;
    struct stat st;
    char *seg, *save = NULL;
    int rc = -1;

    if (!root[0] || path[0] != '/')
        return -1;
    /* lws has URL-decoded the path already: decoding again would turn %252e into '.' */
    if (strlen(path) >= sizeof(dec))
        return -1;
    pt_strlcpy(dec, path, sizeof(dec));
    if (strchr(dec, '\\'))
        return -1;
    pt_buf_appends(&b, root);
    for (seg = strtok_r(dec, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
        if (strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0)
            goto out;
        pt_buf_appendf(&b, "/%s", seg);
    }
    if (stat(b.data, &st) == 0 && S_ISDIR(st.st_mode))
        pt_buf_appends(&b, "/index.html");
    if (b.len >= n)
        goto out;
    memcpy(out, b.data, b.len + 1);
    rc = 0;
out:
    pt_buf_fini(&b);
    return rc;
}

void
broker_static_serve(struct broker_req *r)
{
    char file[4096];
    struct stat st;
    int fd = -1;
    char *data = NULL;
    size_t got = 0;

    if (broker_static_resolve(r->b->static_root, r->path, file, sizeof(file)) < 0)
        goto not_found;
    fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        goto not_found;
    if (st.st_size > STATIC_MAX_FILE) {
        close(fd);
        broker_req_error(r, 500, "file_too_large", "%s is larger than %d bytes: not served",
                         r->path, STATIC_MAX_FILE);
        return;
    }
    data = pt_xmalloc((size_t)st.st_size + 1);
    while (got < (size_t)st.st_size) {
        ssize_t k = read(fd, data + got, (size_t)st.st_size - got);

        if (k <= 0) {
            if (k < 0 && errno == EINTR)
                continue;
            break;
        }
        got += (size_t)k;
    }
    close(fd);
    if (got != (size_t)st.st_size) {
        free(data);
        broker_req_error(r, 500, "io", "reading %s failed; see the broker log", r->path);
        pt_logc(&r->log, LOG_WARNING, "event=static_read_failed file=%s", file);
        return;
    }
    broker_req_add_header(r, "cache-control:", "no-cache");
    broker_req_reply(r, 200, broker_mime_type(file), data, got);
    free(data);
    return;
not_found:
    if (fd >= 0)
        close(fd);
    broker_req_error(r, 404, "not_found", "no such page or API path: %s", r->path);
}
