/*
 * conf.h - INI configuration files.
 *
 *   [broker]                      ; a section
 *   listen = 127.0.0.1:8443       # trailing comments need white space before them
 *   [pool "engineering"]          ; a named section (git style); the name may hold spaces
 *   warm = 3
 *
 * The parser tokenises and calls back once per section header (key == NULL) and once per
 * entry. The module that owns a section validates it, usually through a table of
 * struct pt_conf_key. Unknown sections and keys are errors, always reported as
 * "file:line: ...". Values may be double-quoted to keep leading spaces or '#'.
 */
#ifndef PT_COMMON_CONF_H
#define PT_COMMON_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define PT_CONF_MAX_FILE (1024 * 1024)
#define PT_CONF_MAX_LINE 4096

struct pt_conf_entry {
    const char *file;
    int line;
    const char *section; /* "pool" */
    const char *name;    /* "engineering" for [pool "engineering"], NULL for [pool] */
    const char *key;     /* NULL for the section header callback */
    const char *value;   /* NULL for the section header callback */
};

/* Return 0 to go on, or -1 with @err set (the parser adds nothing: say file:line yourself,
 * or use pt_conf_errorf()). */
typedef int pt_conf_entry_fn(void *opaque, const struct pt_conf_entry *e, struct pt_err *err);

int pt_conf_parse_file(const char *path, pt_conf_entry_fn *fn, void *opaque, struct pt_err *err);
int pt_conf_parse_string(const char *text, const char *fname, pt_conf_entry_fn *fn, void *opaque,
                         struct pt_err *err);

/* pt_conf_errorf() - set @err to "file:line: <message>" (PT_E_INVALID). Returns -1. */
int pt_conf_errorf(struct pt_err *err, const struct pt_conf_entry *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

enum pt_conf_type {
    PT_CONF_STRING,      /* char *, owned by the struct, replaced on repeat */
    PT_CONF_INT,         /* int, within [min, max] */
    PT_CONF_BOOL,        /* bool */
    PT_CONF_DURATION_MS, /* int64_t milliseconds; "30s", "5m", ... within [min, max] ms */
    PT_CONF_LOGLEVEL,    /* int LOG_* priority */
};

/* One accepted key of a section: where it lands in the owner's struct and its bounds. */
struct pt_conf_key {
    const char *key;
    enum pt_conf_type type;
    size_t offset;
    int64_t min, max;
};

#define PT_CONF_KEY_END                                                                            \
    {                                                                                              \
        NULL, PT_CONF_STRING, 0, 0, 0                                                              \
    }

/*
 * pt_conf_key_apply() - find @e->key in @table and store the parsed value into @base.
 * Returns 0, or -1 with a file:line error for an unknown key or a bad value.
 */
int pt_conf_key_apply(const struct pt_conf_key *table, void *base, const struct pt_conf_entry *e,
                      struct pt_err *err);

/* pt_conf_key_free() - free every PT_CONF_STRING field of @base named in @table. */
void pt_conf_key_free(const struct pt_conf_key *table, void *base);

#endif
