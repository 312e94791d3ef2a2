/*
 * rdp_input.c - browser input into RDP input events (session thread).
 *
 * Guacamole sends the whole button mask with every mouse event; RDP wants one event per
 * button change, so the last mask is kept and only differences become button events
 * (wheel "buttons" 8/16 become one wheel notch each when pressed). Keys go by scancode
 * when a US key types the keysym, else as a Unicode keyboard event (rdp_keymap.c).
 */
#include <freerdp/freerdp.h>
#include <freerdp/input.h>

#include "rdp_priv.h"

static void
send_mouse(struct rdp_session *s, rdpInput *in, const struct rdp_in_event *ev)
{
    static const struct {
        int bit;
        UINT16 flag;
    } buttons[] = {{1, PTR_FLAGS_BUTTON1}, {2, PTR_FLAGS_BUTTON3}, {4, PTR_FLAGS_BUTTON2}};
    int mask = (int)ev->c, changed = mask ^ s->last_mouse_mask;
    UINT16 x = (UINT16)(ev->a < 0 ? 0 : ev->a >= s->disp.width ? s->disp.width - 1 : ev->a);
    UINT16 y = (UINT16)(ev->b < 0 ? 0 : ev->b >= s->disp.height ? s->disp.height - 1 : ev->b);
    bool sent = false;

    for (size_t i = 0; i < 3; i++) {
        if (changed & buttons[i].bit) {
            freerdp_input_send_mouse_event(
                in, buttons[i].flag | ((mask & buttons[i].bit) ? PTR_FLAGS_DOWN : 0), x, y);
            sent = true;
        }
    }
    if ((changed & 8) && (mask & 8)) { /* wheel up pressed */
        freerdp_input_send_mouse_event(in, PTR_FLAGS_WHEEL | 0x78, x, y);
        sent = true;
    }
    if ((changed & 16) && (mask & 16)) { /* wheel down pressed */
        freerdp_input_send_mouse_event(in, PTR_FLAGS_WHEEL | PTR_FLAGS_WHEEL_NEGATIVE | 0x88, x, y);
        sent = true;
    }
    if (!sent)
        freerdp_input_send_mouse_event(in, PTR_FLAGS_MOVE, x, y);
    s->last_mouse_mask = mask;
}

static void
send_key(rdpInput *in, uint32_t keysym, bool down)
{
    uint32_t sc = rdp_keysym_to_scancode(keysym), cp;

    if (sc) {
        freerdp_input_send_keyboard_event_ex(in, down, sc);
        return;
    }
    cp = rdp_keysym_to_unicode(keysym);
    if (cp == 0)
        return;
    if (cp > 0xFFFF) { /* UTF-16 surrogate pair */
        cp -= 0x10000;
        freerdp_input_send_unicode_keyboard_event(in, down ? 0 : KBD_FLAGS_RELEASE,
                                                  (UINT16)(0xD800 + (cp >> 10)));
        freerdp_input_send_unicode_keyboard_event(in, down ? 0 : KBD_FLAGS_RELEASE,
                                                  (UINT16)(0xDC00 + (cp & 0x3FF)));
        return;
    }
    freerdp_input_send_unicode_keyboard_event(in, down ? 0 : KBD_FLAGS_RELEASE, (UINT16)cp);
}

void
rdp_input_inject(struct rdp_session *s, struct rdp_input *in, const struct rdp_in_event *ev)
{
    if (ev->type == RDP_IN_MOUSE)
        send_mouse(s, in, ev);
    else if (ev->type == RDP_IN_KEY)
        send_key(in, (uint32_t)ev->a, ev->b != 0);
}
