/*
 * rdp_keymap.c - X11 keysyms (what guacamole-common-js sends) to RDP scancodes.
 *
 * The browser reports keys as X11 keysyms and sends Shift/AltGr as keys of their own,
 * so a printable character maps to the physical key that types it on a US layout
 * ('A' and 'a' are both KEY_A; '!' is KEY_1, with the Shift the browser already sent).
 * Characters that no US key types (e, accents, CJK, emoji) go out as Unicode keyboard
 * events instead (rdp_keysym_to_unicode()), which every RDP server since 5.0 accepts.
 */
#include <stddef.h>

#include <freerdp/scancode.h>

#include "rdp_priv.h"

struct keymap_entry {
    uint32_t keysym;
    uint32_t scancode;
};

/* Sorted by keysym for bsearch-free linear scans of small ranges: printable ASCII first
 * (0x20..0x7E, indexed directly), then the function keys. */
static const uint32_t ascii_map[0x7F - 0x20] = {
    [' ' - 0x20] = RDP_SCANCODE_SPACE,      ['!' - 0x20] = RDP_SCANCODE_KEY_1,
    ['"' - 0x20] = RDP_SCANCODE_OEM_7,      ['#' - 0x20] = RDP_SCANCODE_KEY_3,
    ['$' - 0x20] = RDP_SCANCODE_KEY_4,      ['%' - 0x20] = RDP_SCANCODE_KEY_5,
    ['&' - 0x20] = RDP_SCANCODE_KEY_7,      ['\'' - 0x20] = RDP_SCANCODE_OEM_7,
    ['(' - 0x20] = RDP_SCANCODE_KEY_9,      [')' - 0x20] = RDP_SCANCODE_KEY_0,
    ['*' - 0x20] = RDP_SCANCODE_KEY_8,      ['+' - 0x20] = RDP_SCANCODE_OEM_PLUS,
    [',' - 0x20] = RDP_SCANCODE_OEM_COMMA,  ['-' - 0x20] = RDP_SCANCODE_OEM_MINUS,
    ['.' - 0x20] = RDP_SCANCODE_OEM_PERIOD, ['/' - 0x20] = RDP_SCANCODE_OEM_2,
    ['0' - 0x20] = RDP_SCANCODE_KEY_0,      ['1' - 0x20] = RDP_SCANCODE_KEY_1,
    ['2' - 0x20] = RDP_SCANCODE_KEY_2,      ['3' - 0x20] = RDP_SCANCODE_KEY_3,
    ['4' - 0x20] = RDP_SCANCODE_KEY_4,      ['5' - 0x20] = RDP_SCANCODE_KEY_5,
    ['6' - 0x20] = RDP_SCANCODE_KEY_6,      ['7' - 0x20] = RDP_SCANCODE_KEY_7,
    ['8' - 0x20] = RDP_SCANCODE_KEY_8,      ['9' - 0x20] = RDP_SCANCODE_KEY_9,
    [':' - 0x20] = RDP_SCANCODE_OEM_1,      [';' - 0x20] = RDP_SCANCODE_OEM_1,
    ['<' - 0x20] = RDP_SCANCODE_OEM_COMMA,  ['=' - 0x20] = RDP_SCANCODE_OEM_PLUS,
    ['>' - 0x20] = RDP_SCANCODE_OEM_PERIOD, ['?' - 0x20] = RDP_SCANCODE_OEM_2,
    ['@' - 0x20] = RDP_SCANCODE_KEY_2,      ['[' - 0x20] = RDP_SCANCODE_OEM_4,
    ['\\' - 0x20] = RDP_SCANCODE_OEM_5,     [']' - 0x20] = RDP_SCANCODE_OEM_6,
    ['^' - 0x20] = RDP_SCANCODE_KEY_6,      ['_' - 0x20] = RDP_SCANCODE_OEM_MINUS,
    ['`' - 0x20] = RDP_SCANCODE_OEM_3,      ['{' - 0x20] = RDP_SCANCODE_OEM_4,
    ['|' - 0x20] = RDP_SCANCODE_OEM_5,      ['}' - 0x20] = RDP_SCANCODE_OEM_6,
    ['~' - 0x20] = RDP_SCANCODE_OEM_3,
};

static const uint32_t letter_map[26] = {
    RDP_SCANCODE_KEY_A, RDP_SCANCODE_KEY_B, RDP_SCANCODE_KEY_C, RDP_SCANCODE_KEY_D,
    RDP_SCANCODE_KEY_E, RDP_SCANCODE_KEY_F, RDP_SCANCODE_KEY_G, RDP_SCANCODE_KEY_H,
    RDP_SCANCODE_KEY_I, RDP_SCANCODE_KEY_J, RDP_SCANCODE_KEY_K, RDP_SCANCODE_KEY_L,
    RDP_SCANCODE_KEY_M, RDP_SCANCODE_KEY_N, RDP_SCANCODE_KEY_O, RDP_SCANCODE_KEY_P,
    RDP_SCANCODE_KEY_Q, RDP_SCANCODE_KEY_R, RDP_SCANCODE_KEY_S, RDP_SCANCODE_KEY_T,
    RDP_SCANCODE_KEY_U, RDP_SCANCODE_KEY_V, RDP_SCANCODE_KEY_W, RDP_SCANCODE_KEY_X,
    RDP_SCANCODE_KEY_Y, RDP_SCANCODE_KEY_Z,
};

static const struct keymap_entry special_map[] = {
    {0xff08, RDP_SCANCODE_BACKSPACE},  {0xff09, RDP_SCANCODE_TAB},
    {0xfe20, RDP_SCANCODE_TAB}, /* ISO_Left_Tab (Shift+Tab) */
    {0xff0d, RDP_SCANCODE_RETURN},     {0xff13, RDP_SCANCODE_PAUSE},
    {0xff14, RDP_SCANCODE_SCROLLLOCK}, {0xff15, RDP_SCANCODE_SYSREQ},
    {0xff1b, RDP_SCANCODE_ESCAPE},     {0xff50, RDP_SCANCODE_HOME},
    {0xff51, RDP_SCANCODE_LEFT},       {0xff52, RDP_SCANCODE_UP},
    {0xff53, RDP_SCANCODE_RIGHT},      {0xff54, RDP_SCANCODE_DOWN},
    {0xff55, RDP_SCANCODE_PRIOR},      {0xff56, RDP_SCANCODE_NEXT},
    {0xff57, RDP_SCANCODE_END},        {0xff61, RDP_SCANCODE_PRINTSCREEN},
    {0xff63, RDP_SCANCODE_INSERT},     {0xff67, RDP_SCANCODE_APPS},
    {0xff7f, RDP_SCANCODE_NUMLOCK},    {0xff8d, RDP_SCANCODE_RETURN_KP},
    {0xff95, RDP_SCANCODE_NUMPAD7},    {0xff96, RDP_SCANCODE_NUMPAD4},
    {0xff97, RDP_SCANCODE_NUMPAD8},    {0xff98, RDP_SCANCODE_NUMPAD6},
    {0xff99, RDP_SCANCODE_NUMPAD2},    {0xff9a, RDP_SCANCODE_NUMPAD9},
    {0xff9b, RDP_SCANCODE_NUMPAD3},    {0xff9c, RDP_SCANCODE_NUMPAD1},
    {0xff9d, RDP_SCANCODE_NUMPAD5},    {0xff9e, RDP_SCANCODE_NUMPAD0},
    {0xff9f, RDP_SCANCODE_DECIMAL},    {0xffaa, RDP_SCANCODE_MULTIPLY},
    {0xffab, RDP_SCANCODE_ADD},        {0xffad, RDP_SCANCODE_SUBTRACT},
    {0xffae, RDP_SCANCODE_DECIMAL},    {0xffaf, RDP_SCANCODE_DIVIDE},
    {0xffb0, RDP_SCANCODE_NUMPAD0},    {0xffb1, RDP_SCANCODE_NUMPAD1},
    {0xffb2, RDP_SCANCODE_NUMPAD2},    {0xffb3, RDP_SCANCODE_NUMPAD3},
    {0xffb4, RDP_SCANCODE_NUMPAD4},    {0xffb5, RDP_SCANCODE_NUMPAD5},
    {0xffb6, RDP_SCANCODE_NUMPAD6},    {0xffb7, RDP_SCANCODE_NUMPAD7},
    {0xffb8, RDP_SCANCODE_NUMPAD8},    {0xffb9, RDP_SCANCODE_NUMPAD9},
    {0xffbe, RDP_SCANCODE_F1},         {0xffbf, RDP_SCANCODE_F2},
    {0xffc0, RDP_SCANCODE_F3},         {0xffc1, RDP_SCANCODE_F4},
    {0xffc2, RDP_SCANCODE_F5},         {0xffc3, RDP_SCANCODE_F6},
    {0xffc4, RDP_SCANCODE_F7},         {0xffc5, RDP_SCANCODE_F8},
    {0xffc6, RDP_SCANCODE_F9},         {0xffc7, RDP_SCANCODE_F10},
    {0xffc8, RDP_SCANCODE_F11},        {0xffc9, RDP_SCANCODE_F12},
    {0xffe1, RDP_SCANCODE_LSHIFT},     {0xffe2, RDP_SCANCODE_RSHIFT},
    {0xffe3, RDP_SCANCODE_LCONTROL},   {0xffe4, RDP_SCANCODE_RCONTROL},
    {0xffe5, RDP_SCANCODE_CAPSLOCK},   {0xffe7, RDP_SCANCODE_LWIN}, /* Meta_L */
    {0xffe8, RDP_SCANCODE_RWIN},       {0xffe9, RDP_SCANCODE_LMENU},
    {0xffea, RDP_SCANCODE_RMENU},      {0xffeb, RDP_SCANCODE_LWIN},
    {0xffec, RDP_SCANCODE_RWIN},       {0xfe03, RDP_SCANCODE_RMENU}, /* AltGr */
    {0xffff, RDP_SCANCODE_DELETE},
};

uint32_t
rdp_keysym_to_scancode(uint32_t keysym)
{
    if (keysym >= 'a' && keysym <= 'z')
        return letter_map[keysym - 'a'];
    if (keysym >= 'A' && keysym <= 'Z')
        return letter_map[keysym - 'A'];
    if (keysym >= 0x20 && keysym < 0x7F)
        return ascii_map[keysym - 0x20];
    for (size_t i = 0; i < sizeof(special_map) / sizeof(special_map[0]); i++)
        if (special_map[i].keysym == keysym)
            return special_map[i].scancode;
    return 0;
}

uint32_t
rdp_keysym_to_unicode(uint32_t keysym)
{
    /* Latin-1 keysyms equal their code points; 0x01000000 + cp is the Unicode range. */
    if ((keysym >= 0x20 && keysym < 0x7F) || (keysym >= 0xA0 && keysym <= 0xFF))
        return keysym;
    if (keysym >= 0x01000100 && keysym <= 0x0110FFFF)
        return keysym - 0x01000000;
    if (keysym == 0x20AC) /* EuroSign */
        return 0x20AC;
    return 0;
}
