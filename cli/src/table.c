/*
 * table.c - human-readable tables: left-aligned columns padded to the widest cell,
 * headers in capitals, no borders (easy to read, easy to grep).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/mem.h"

struct cli_table {
    int ncols;
    char **cells; /* rows * ncols, row 0 = headers */
    size_t nrows;
};

struct cli_table *
cli_table_new(int ncols, const char *const *headers)
{
    struct cli_table *t = pt_xcalloc(1, sizeof(*t));

    t->ncols = ncols;
    cli_table_row(t, headers);
    return t;
}

void
cli_table_row(struct cli_table *t, const char *const *cells)
{
    t->cells = pt_xreallocarray(t->cells, (t->nrows + 1) * (size_t)t->ncols, sizeof(char *));
    for (int i = 0; i < t->ncols; i++)
        t->cells[t->nrows * (size_t)t->ncols + (size_t)i] =
            pt_xstrdup(cells[i] && cells[i][0] ? cells[i] : "-");
    t->nrows++;
}

void
cli_table_print(struct cli_table *t)
{
    size_t *w = pt_xcalloc((size_t)t->ncols, sizeof(size_t));

    for (size_t r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            size_t l = strlen(t->cells[r * (size_t)t->ncols + (size_t)c]);

            if (l > w[c])
                w[c] = l;
        }
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];

            if (c == t->ncols - 1)
                printf("%s\n", s);
            else
                printf("%-*s  ", (int)w[c], s);
        }
    }
    free(w);
}

void
cli_table_free(struct cli_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}
