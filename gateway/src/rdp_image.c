/*
 * rdp_image.c - PNG (libpng) and JPEG (libjpeg-turbo) encoding of BGRX32 pixels.
 *
 * Text-like regions have few colours, so they go out as 8-bit paletted PNG: lossless,
 * small, and cheap to deflate. Photo-like regions go out as JPEG straight from BGRX
 * (libjpeg-turbo's JCS_EXT_BGRX, no conversion pass). Both write into a struct pt_buf.
 * Both libraries report errors by longjmp()/error_exit, contained in this file.
 */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* jpeglib.h uses FILE and size_t without including their headers */
#include <jpeglib.h>

#include "common/mem.h"
#include "rdp_priv.h"

/* --- PNG ---------------------------------------------------------------------------- */

static void
png_write_buf(png_structp png, png_bytep data, png_size_t len)
{
    pt_buf_append(png_get_io_ptr(png), data, len);
}

static void
png_flush_nop(png_structp png)
{
    (void)png;
}

/* Colour -> palette index through a small open-addressed table (<= 256 entries). */
struct pal_map {
    uint32_t key[512];
    int16_t idx[512];
};

static int
pal_lookup(const struct pal_map *m, uint32_t c)
{
    uint32_t h = (c * 2654435761u) >> 23;

    while (m->idx[h] >= 0) {
        if (m->key[h] == c)
            return m->idx[h];
        h = (h + 1) & 511;
    }
    return 0;
}

int
rdp_png_encode(struct pt_buf *out, const uint8_t *px, int stride, int w, int h, bool alpha,
               const uint32_t *palette, int ncolors)
{
    png_structp png = NULL;
    png_infop info = NULL;
    uint8_t *volatile row = NULL; /* volatile: survives longjmp */
    struct pal_map *volatile map = NULL;
    int rc = -1;

    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    if (!png)
        return -1;
    info = png_create_info_struct(png);
    if (!info)
        goto out;
    row = pt_xmalloc((size_t)w * 4);
    if (palette) {
        png_color pc[256];

        map = pt_xmalloc(sizeof(*map));
        memset(map->idx, 0xFF, sizeof(map->idx));
        for (int i = 0; i < ncolors; i++) {
            uint32_t c = palette[i], hsh = (c * 2654435761u) >> 23;
            while (map->idx[hsh] >= 0)
                hsh = (hsh + 1) & 511;
            map->key[hsh] = c;
            map->idx[hsh] = (int16_t)i;
            pc[i].red = (c >> 16) & 0xFF;
            pc[i].green = (c >> 8) & 0xFF;
            pc[i].blue = c & 0xFF;
        }
        if (setjmp(png_jmpbuf(png)))
            goto out;
        png_set_PLTE(png, info, pc, ncolors);
    }
    if (setjmp(png_jmpbuf(png)))
        goto out;
    png_set_write_fn(png, out, png_write_buf, png_flush_nop);
    /* speed over size: paletted text already deflates to a few bytes per line */
    png_set_compression_level(png, palette ? 3 : 2);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8,
                 palette ? PNG_COLOR_TYPE_PALETTE
                         : (alpha ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_RGB),
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (palette)
        png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
    else
        png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) {
        const uint8_t *s = px + (size_t)y * (size_t)stride;
        if (palette) {
            for (int x = 0; x < w; x++) {
                uint32_t c = (uint32_t)s[4 * x + 2] << 16 | (uint32_t)s[4 * x + 1] << 8 | s[4 * x];
                row[x] = (uint8_t)pal_lookup(map, c);
            }
        } else if (alpha) {
            for (int x = 0; x < w; x++) {
                row[4 * x] = s[4 * x + 2];
                row[4 * x + 1] = s[4 * x + 1];
                row[4 * x + 2] = s[4 * x];
                row[4 * x + 3] = s[4 * x + 3];
            }
        } else {
            for (int x = 0; x < w; x++) {
                row[3 * x] = s[4 * x + 2];
                row[3 * x + 1] = s[4 * x + 1];
                row[3 * x + 2] = s[4 * x];
            }
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    rc = 0;
out:
    png_destroy_write_struct(&png, info ? &info : NULL);
    free(row);
    free(map);
    return rc;
}

/* --- JPEG --------------------------------------------------------------------------- */

struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jmp;
};

static void
jpeg_error_exit_jmp(j_common_ptr cinfo)
{
    longjmp(((struct jpeg_err *)cinfo->err)->jmp, 1);
}

static void
jpeg_output_quiet(j_common_ptr cinfo)
{
    (void)cinfo;
}

int
rdp_jpeg_encode(struct pt_buf *out, const uint8_t *px, int stride, int w, int h, int quality)
{
    struct jpeg_compress_struct cinfo;
    struct jpeg_err jerr;
    unsigned char *mem = NULL;
    unsigned long memlen = 0;
    int rc = -1;

    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = jpeg_error_exit_jmp;
    jerr.pub.output_message = jpeg_output_quiet;
    if (setjmp(jerr.jmp)) {
        /* @mem may be stale here (set after setjmp): leak it rather than free garbage;
         * libjpeg only fails on programming errors with in-memory output */
        jpeg_destroy_compress(&cinfo);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &mem, &memlen);
    cinfo.image_width = (JDIMENSION)w;
    cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = 4;
    cinfo.in_color_space = JCS_EXT_BGRX;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    cinfo.dct_method = JDCT_IFAST;
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW r = (JSAMPROW)(px + (size_t)cinfo.next_scanline * (size_t)stride);
        jpeg_write_scanlines(&cinfo, &r, 1);
    }
    jpeg_finish_compress(&cinfo);
    pt_buf_append(out, mem, memlen);
    rc = 0;
    jpeg_destroy_compress(&cinfo);
    free(mem);
    return rc;
}
