/*
 * conf.c - the INI tokenizer and typed key tables.
 *
 * The input is untrusted in the sense that a typo must produce a precise message, not
 * a crash or a silently ignored line: every line is bounded, every byte is accounted
 * for, and each error carries file:line.
 */
#include "common/conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/str.h"

int
pt_conf_errorf(struct pt_err *err, const struct pt_conf_entry *e, const char *fmt, ...)
{
    char msg[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return pt_err_set(err, PT_E_INVALID, "%s:%d: %s", e->file, e->line, msg);
}

static bool
is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

/* Strip a trailing comment (" #" or " ;") outside quotes, then white space. */
static void
strip_comment(char *s)
{
    bool quoted = false;

    for (char *p = s; *p; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (!quoted && (*p == '#' || *p == ';') && (p == s || p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            break;
        }
    }
}

static int
parse_header(char *s, struct pt_conf_entry *e, char *sec, size_t secn, char *name, size_t namen,
             struct pt_err *err)
{
    char *p = s + 1, *end = strrchr(s, ']');
    size_t n = 0;

    if (!end || pt_str_trim(end + 1)[0] != '\0')
        return pt_conf_errorf(err, e, "section header must end with ']'");
    *end = '\0';
    while (*p == ' ' || *p == '\t')
        p++;
    while (is_name_char(p[n]))
        n++;
    if (n == 0 || n >= secn)
        return pt_conf_errorf(err, e, "bad section name");
    memcpy(sec, p, n);
    sec[n] = '\0';
    p = pt_str_trim(p + n);
    name[0] = '\0';
    e->name = NULL;
    if (*p) {
        size_t len = strlen(p);
        if (len < 2 || p[0] != '"' || p[len - 1] != '"')
            return pt_conf_errorf(err, e, "section name must be quoted: [%s \"name\"]", sec);
        if (len - 2 == 0 || len - 2 >= namen)
            return pt_conf_errorf(err, e, "section name is empty or too long");
        memcpy(name, p + 1, len - 2);
        name[len - 2] = '\0';
        if (strchr(name, '"'))
            return pt_conf_errorf(err, e, "section name may not contain '\"'");
        e->name = name;
    }
    e->section = sec;
    return 0;
}

static int
parse_line(char *line, struct pt_conf_entry *e, char *sec, size_t secn, char *name, size_t namen,
           pt_conf_entry_fn *fn, void *opaque, struct pt_err *err)
{
    char *s = pt_str_trim(line), *eq, *key, *val;
    size_t vlen;

    if (*s == '\0' || *s == '#' || *s == ';')
        return 0;
    strip_comment(s);
    s = pt_str_trim(s);
    if (*s == '[') {
        if (parse_header(s, e, sec, secn, name, namen, err) < 0)
            return -1;
        e->key = e->value = NULL;
        return fn(opaque, e, err);
    }
    if (!e->section)
        return pt_conf_errorf(err, e, "entry before any [section]");
    eq = strchr(s, '=');
    if (!eq)
        return pt_conf_errorf(err, e, "expected 'key = value'");
    *eq = '\0';
    key = pt_str_trim(s);
    val = pt_str_trim(eq + 1);
    if (!*key)
        return pt_conf_errorf(err, e, "missing key before '='");
    for (char *k = key; *k; k++)
        if (!is_name_char(*k))
            return pt_conf_errorf(err, e, "bad character in key '%s'", key);
    vlen = strlen(val);
    if (vlen && val[0] == '"') {
        if (vlen < 2 || val[vlen - 1] != '"')
            return pt_conf_errorf(err, e, "unterminated quoted value for '%s'", key);
        val[vlen - 1] = '\0';
        val++;
    }
    e->key = key;
    e->value = val;
    return fn(opaque, e, err);
}

int
pt_conf_parse_string(const char *text, const char *fname, pt_conf_entry_fn *fn, void *opaque,
                     struct pt_err *err)
{
    struct pt_conf_entry e = {.file = fname ? fname : "<string>"};
    char sec[64], name[128], line[PT_CONF_MAX_LINE + 1];
    const char *p = text;
    int rc = 0;

    e.section = NULL;
    while (*p && rc == 0) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);

        e.line++;
        if (n > PT_CONF_MAX_LINE)
            return pt_conf_errorf(err, &e, "line longer than %d bytes", PT_CONF_MAX_LINE);
        memcpy(line, p, n);
        line[n] = '\0';
        if (memchr(line, '\0', n) || strchr(line, '\r'))
            for (size_t i = 0; i < n; i++)
                if (line[i] == '\r')
                    line[i] = ' ';
        rc = parse_line(line, &e, sec, sizeof(sec), name, sizeof(name), fn, opaque, err);
        p += n + (nl ? 1 : 0);
    }
    return rc;
}

int
pt_conf_parse_file(const char *path, pt_conf_entry_fn *fn, void *opaque, struct pt_err *err)
{
    FILE *f = NULL;
    char *text = NULL;
    size_t n;
    int rc = -1;

    f = fopen(path, "re");
    if (!f) {
        pt_err_set(err, errno == ENOENT ? PT_E_NOTFOUND : PT_E_IO, "%s: cannot open: %s", path,
                   strerror(errno));
        goto out;
    }
    text = pt_xmalloc(PT_CONF_MAX_FILE + 1);
    n = fread(text, 1, PT_CONF_MAX_FILE + 1, f);
    if (ferror(f)) {
        pt_err_set(err, PT_E_IO, "%s: read error", path);
        goto out;
    }
    if (n > PT_CONF_MAX_FILE) {
        pt_err_set(err, PT_E_INVALID, "%s: larger than %d bytes", path, PT_CONF_MAX_FILE);
        goto out;
    }
    if (memchr(text, '\0', n)) {
        pt_err_set(err, PT_E_INVALID, "%s: contains a NUL byte (not a text file?)", path);
        goto out;
    }
    text[n] = '\0';
    rc = pt_conf_parse_string(text, path, fn, opaque, err);
out:
    free(text);
    if (f)
        fclose(f);
    return rc;
}

int
pt_conf_key_apply(const struct pt_conf_key *table, void *base, const struct pt_conf_entry *e,
                  struct pt_err *err)
{
    const struct pt_conf_key *k;
    char *field;
    int64_t v;
    bool b;
    int lvl;

    for (k = table; k->key; k++)
        if (strcmp(k->key, e->key) == 0)
            break;
    if (!k->key)
        return pt_conf_errorf(err, e, "unknown key '%s' in section [%s]", e->key, e->section);
    field = (char *)base + k->offset;
    switch (k->type) {
    case PT_CONF_STRING:
        free(*(char **)field);
        *(char **)field = pt_xstrdup(e->value);
        return 0;
    case PT_CONF_INT:
        if (pt_parse_i64(e->value, k->min, k->max, &v) < 0)
            return pt_conf_errorf(err, e, "%s must be a whole number from %lld to %lld, not '%s'",
                                  e->key, (long long)k->min, (long long)k->max, e->value);
        *(int *)field = (int)v;
        return 0;
    case PT_CONF_BOOL:
        if (pt_parse_bool(e->value, &b) < 0)
            return pt_conf_errorf(err, e, "%s must be yes or no, not '%s'", e->key, e->value);
        *(bool *)field = b;
        return 0;
    case PT_CONF_DURATION_MS:
        if (pt_parse_duration_ms(e->value, &v) < 0 || v < k->min || v > k->max)
            return pt_conf_errorf(err, e,
                                  "%s must be a duration such as 30s or 5m, from %lldms to %lldms, "
                                  "not '%s'",
                                  e->key, (long long)k->min, (long long)k->max, e->value);
        *(int64_t *)field = v;
        return 0;
    case PT_CONF_LOGLEVEL:
        lvl = pt_log_level_parse(e->value);
        if (lvl < 0)
            return pt_conf_errorf(err, e, "%s must be error, warning, notice, info or debug",
                                  e->key);
        *(int *)field = lvl;
        return 0;
    }
    return pt_conf_errorf(err, e, "internal: bad key type for '%s'", e->key);
}

void
pt_conf_key_free(const struct pt_conf_key *table, void *base)
{
    for (const struct pt_conf_key *k = table; k->key; k++) {
        if (k->type == PT_CONF_STRING) {
            char **f = (char **)((char *)base + k->offset);
            free(*f);
            *f = NULL;
        }
    }
}
