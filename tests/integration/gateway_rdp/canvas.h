/*
 * canvas.h - TEST MODEL of the browser's default layer: applies the drawing instructions
 * the RDP backend sends (size, rect+cfill, copy, img+blob+end with PNG or JPEG) to an RGB
 * picture, the way guacamole-common-js draws them, so a test can ask what the browser
 * would show (e.g. "is it all black?") without a browser.
 */
#ifndef PT_TEST_RDP_CANVAS_H
#define PT_TEST_RDP_CANVAS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h> /* before jpeglib.h in canvas.c */

#include "common/str.h"
#include "harness.h"

#define H_CANVAS_STREAMS 64

struct h_canvas {
    int w, h;
    uint8_t *rgb; /* w * h * 3, owned */
    int rect_x, rect_y, rect_w, rect_h;
    struct {
        int used, x, y, jpeg;
        struct pt_buf data;
    } img[H_CANVAS_STREAMS];
    int images, fills, sizes; /* instructions applied, by kind */
};

void h_canvas_init(struct h_canvas *c);
void h_canvas_fini(struct h_canvas *c);
/* h_canvas_apply() - draw @in if it concerns layer 0; other instructions are ignored.
 * Returns -1 when an image does not decode (the browser would show nothing), else 0. */
int h_canvas_apply(struct h_canvas *c, const struct h_insn *in);
/* h_canvas_lit() - pixels whose R, G or B is above 32 (not black). */
size_t h_canvas_lit(const struct h_canvas *c);

#endif
