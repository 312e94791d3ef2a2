/*
 * rdp_pointer.c - the desktop's cursor for the browser: FreeRDP's pointer callbacks turn
 * each cursor shape into an RGBA PNG in buffer layer -1 plus a "cursor" instruction, both
 * gathered in s->out (posted before the next frame). The browser keeps its own pointer
 * position (the user's hand is there), so position updates are ignored. Session thread.
 */
#include <stdlib.h>
#include <string.h>

#include <freerdp/codec/color.h>
#include <freerdp/freerdp.h>
#include <freerdp/gdi/gdi.h>
#include <freerdp/graphics.h>

#include "common/mem.h"
#include "guac_proto.h"
#include "rdp_priv.h"

struct rdp_ptr {
    rdpPointer base;
    uint8_t *bgra;
};

static BOOL
cb_ptr_new(rdpContext *c, rdpPointer *p)
{
    struct rdp_ptr *rp = (struct rdp_ptr *)p;

    if (p->width == 0 || p->height == 0 || p->width > 384 || p->height > 384)
        return TRUE; /* nothing to draw; Set() shows no cursor */
    rp->bgra = pt_xcalloc((size_t)p->width * p->height, 4);
    if (!freerdp_image_copy_from_pointer_data(
            rp->bgra, PIXEL_FORMAT_BGRA32, p->width * 4, 0, 0, p->width, p->height, p->xorMaskData,
            p->lengthXorMask, p->andMaskData, p->lengthAndMask, p->xorBpp, &c->gdi->palette)) {
        free(rp->bgra);
        rp->bgra = NULL;
    }
    return TRUE;
}

static void
cb_ptr_free(rdpContext *c, rdpPointer *p)
{
    struct rdp_ptr *rp = (struct rdp_ptr *)p;

    free(rp->bgra);
    rp->bgra = NULL;
}

/* The cursor image lives in buffer layer -1; "cursor" copies it to the browser's pointer. */
static void
send_cursor(struct rdp_session *s, const uint8_t *bgra, int w, int h, int hx, int hy)
{
    struct pt_buf png = PT_BUF_INIT;

    if (rdp_png_encode(&png, bgra, w * 4, w, h, true, NULL, 0) == 0) {
        guac_enc(&s->out, "size", "iii", -1LL, (long long)w, (long long)h);
        guac_enc_image(&s->out, 64 + (s->disp.next_stream++ % 64), GUAC_MASK_SRC, -1, "image/png",
                       0, 0, png.data, png.len);
        guac_enc(&s->out, "cursor", "iiiiiii", (long long)hx, (long long)hy, -1LL, 0LL, 0LL,
                 (long long)w, (long long)h);
    }
    pt_buf_fini(&png);
}

static BOOL
cb_ptr_set(rdpContext *c, const rdpPointer *p)
{
    const struct rdp_ptr *rp = (const struct rdp_ptr *)p;

    if (rp->bgra)
        send_cursor(rdp_ctx_session(c), rp->bgra, (int)p->width, (int)p->height, (int)p->xPos,
                    (int)p->yPos);
    return TRUE;
}

static BOOL
cb_ptr_set_null(rdpContext *c)
{
    static const uint8_t clear[4];

    send_cursor(rdp_ctx_session(c), clear, 1, 1, 0, 0);
    return TRUE;
}

static BOOL
cb_ptr_set_default(rdpContext *c)
{
    return TRUE; /* the browser keeps its own arrow */
}

static BOOL
cb_ptr_set_position(rdpContext *c, UINT32 x, UINT32 y)
{
    return TRUE; /* the browser's pointer is where the user's hand is */
}

void
rdp_pointer_register(void *rdp_context)
{
    rdpContext *c = rdp_context;
    rdpPointer ptr;

    memset(&ptr, 0, sizeof(ptr));
    ptr.size = sizeof(struct rdp_ptr);
    ptr.New = cb_ptr_new;
    ptr.Free = cb_ptr_free;
    ptr.Set = cb_ptr_set;
    ptr.SetNull = cb_ptr_set_null;
    ptr.SetDefault = cb_ptr_set_default;
    ptr.SetPosition = cb_ptr_set_position;
    graphics_register_pointer(c->graphics, &ptr);
}
