/*
 * canvas.c - TEST MODEL of what guacamole-common-js shows on layer 0 (see canvas.h).
 * Like Guacamole.Layer.resize(), a "size" keeps the old picture's top-left part and
 * leaves new area black (a fresh canvas is transparent; the page behind it is black).
 * Images are decoded with libpng / libjpeg, the libraries the encoder uses.
 */
#include "canvas.h"

#include <jpeglib.h> /* uses FILE: canvas.h includes stdio.h */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "rdp_priv.h"

void
h_canvas_init(struct h_canvas *c)
{
    memset(c, 0, sizeof(*c));
}

void
h_canvas_fini(struct h_canvas *c)
{
    for (int i = 0; i < H_CANVAS_STREAMS; i++)
        pt_buf_fini(&c->img[i].data);
    free(c->rgb);
    memset(c, 0, sizeof(*c));
}

static long
arg(const struct h_insn *in, int i)
{
    return i < in->argc ? strtol(in->argv[i], NULL, 10) : -1;
}

static void
resize(struct h_canvas *c, int w, int h)
{
    uint8_t *n;

    if (w <= 0 || h <= 0 || w > 8192 || h > 8192)
        return;
    n = pt_xcalloc((size_t)w * (size_t)h, 3);
    for (int y = 0; y < h && y < c->h; y++)
        memcpy(n + (size_t)y * (size_t)w * 3, c->rgb + (size_t)y * (size_t)c->w * 3,
               (size_t)(w < c->w ? w : c->w) * 3);
    free(c->rgb);
    c->rgb = n;
    c->w = w;
    c->h = h;
    c->sizes++;
}

/* Put @w x @h RGB pixels at (@x,@y), clipped to the canvas. */
static void
blit(struct h_canvas *c, const uint8_t *px, int x, int y, int w, int h)
{
    for (int j = 0; j < h; j++) {
        int dy = y + j;
        if (dy < 0 || dy >= c->h)
            continue;
        for (int i = 0; i < w; i++) {
            int dx = x + i;
            if (dx >= 0 && dx < c->w)
                memcpy(c->rgb + ((size_t)dy * (size_t)c->w + (size_t)dx) * 3,
                       px + ((size_t)j * (size_t)w + (size_t)i) * 3, 3);
        }
    }
}

static int
draw_png(struct h_canvas *c, const struct pt_buf *b, int x, int y)
{
    png_image im;
    uint8_t *px;
    int rc = -1;

    memset(&im, 0, sizeof(im));
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&im, b->data, b->len))
        return -1;
    im.format = PNG_FORMAT_RGB;
    px = pt_xmalloc(PNG_IMAGE_SIZE(im));
    if (png_image_finish_read(&im, NULL, px, 0, NULL)) {
        blit(c, px, x, y, (int)im.width, (int)im.height);
        rc = 0;
    }
    png_image_free(&im);
    free(px);
    return rc;
}

static int
draw_jpeg(struct h_canvas *c, const struct pt_buf *b, int x, int y)
{
    struct jpeg_decompress_struct d;
    struct jpeg_error_mgr e;
    uint8_t *px;

    d.err = jpeg_std_error(&e); /* a broken JPEG exits the test: acceptable for a test */
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, (const unsigned char *)b->data, (unsigned long)b->len);
    if (jpeg_read_header(&d, TRUE) != JPEG_HEADER_OK) {
        jpeg_destroy_decompress(&d);
        return -1;
    }
    d.out_color_space = JCS_RGB;
    jpeg_start_decompress(&d);
    px = pt_xmalloc((size_t)d.output_width * d.output_height * 3);
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = px + (size_t)d.output_scanline * d.output_width * 3;
        jpeg_read_scanlines(&d, &row, 1);
    }
    blit(c, px, x, y, (int)d.output_width, (int)d.output_height);
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    free(px);
    return 0;
}

static void
copy(struct h_canvas *c, int sx, int sy, int w, int h, int dx, int dy)
{
    uint8_t *tmp;

    if (w <= 0 || h <= 0 || sx < 0 || sy < 0 || sx + w > c->w || sy + h > c->h)
        return;
    tmp = pt_xmalloc((size_t)w * (size_t)h * 3);
    for (int j = 0; j < h; j++)
        memcpy(tmp + (size_t)j * (size_t)w * 3,
               c->rgb + ((size_t)(sy + j) * (size_t)c->w + (size_t)sx) * 3, (size_t)w * 3);
    blit(c, tmp, dx, dy, w, h);
    free(tmp);
}

int
h_canvas_apply(struct h_canvas *c, const struct h_insn *in)
{
    const char *op = in->op;

    if (!strcmp(op, "size") && arg(in, 0) == 0) {
        resize(c, (int)arg(in, 1), (int)arg(in, 2));
    } else if (!strcmp(op, "rect") && arg(in, 0) == 0) {
        c->rect_x = (int)arg(in, 1);
        c->rect_y = (int)arg(in, 2);
        c->rect_w = (int)arg(in, 3);
        c->rect_h = (int)arg(in, 4);
    } else if (!strcmp(op, "cfill") && arg(in, 1) == 0 && c->rect_w > 0 && c->rect_h > 0) {
        uint8_t *px = pt_xmalloc((size_t)c->rect_w * (size_t)c->rect_h * 3);
        for (size_t i = 0; i < (size_t)c->rect_w * (size_t)c->rect_h; i++) {
            px[i * 3] = (uint8_t)arg(in, 2);
            px[i * 3 + 1] = (uint8_t)arg(in, 3);
            px[i * 3 + 2] = (uint8_t)arg(in, 4);
        }
        blit(c, px, c->rect_x, c->rect_y, c->rect_w, c->rect_h);
        free(px);
        c->fills++;
    } else if (!strcmp(op, "copy") && arg(in, 0) == 0 && arg(in, 6) == 0) {
        copy(c, (int)arg(in, 1), (int)arg(in, 2), (int)arg(in, 3), (int)arg(in, 4), (int)arg(in, 7),
             (int)arg(in, 8));
    } else if (!strcmp(op, "img") && in->argc >= 6 && arg(in, 2) == 0) {
        long st = arg(in, 0);
        if (st >= 0 && st < H_CANVAS_STREAMS) {
            c->img[st].used = 1;
            c->img[st].jpeg = strcmp(in->argv[3], "image/jpeg") == 0;
            c->img[st].x = (int)arg(in, 4);
            c->img[st].y = (int)arg(in, 5);
            pt_buf_reset(&c->img[st].data);
        }
    } else if (!strcmp(op, "blob") && in->argc >= 2) {
        long st = arg(in, 0);
        if (st >= 0 && st < H_CANVAS_STREAMS && c->img[st].used)
            rdp_base64_decode(&c->img[st].data, in->argv[1], strlen(in->argv[1]));
    } else if (!strcmp(op, "end") && in->argc >= 1) {
        long st = arg(in, 0);
        if (st >= 0 && st < H_CANVAS_STREAMS && c->img[st].used) {
            int rc = c->img[st].jpeg ? draw_jpeg(c, &c->img[st].data, c->img[st].x, c->img[st].y)
                                     : draw_png(c, &c->img[st].data, c->img[st].x, c->img[st].y);
            c->img[st].used = 0;
            c->images++;
            return rc;
        }
    }
    return 0;
}

size_t
h_canvas_lit(const struct h_canvas *c)
{
    size_t n = 0;

    for (size_t i = 0; i < (size_t)c->w * (size_t)c->h; i++)
        if (c->rgb[i * 3] > 32 || c->rgb[i * 3 + 1] > 32 || c->rgb[i * 3 + 2] > 32)
            n++;
    return n;
}
