/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A VNC client's keysyms turned into the guest's key presses, modifiers included. */
#include "display/vnc-keys.h"

#include <rfb/keysym.h>
#include <string.h>

struct out {
    struct hv_vnc_keys *k;
    hv_key_emit_fn emit;
    void *opaque;
};

static bool is_down(const struct hv_vnc_keys *k, uint16_t code)
{
    return k->down[code / 8] & (1u << (code % 8));
}

static void send_key(struct out *o, uint16_t code, bool down)
{
    if (code == 0 || code >= KEY_CNT)
        return;
    if (down)
        o->k->down[code / 8] |= (uint8_t)(1u << (code % 8));
    else
        o->k->down[code / 8] &= (uint8_t)~(1u << (code % 8));
    o->emit(o->opaque, code, down);
}

void hv_vnc_keys_init(struct hv_vnc_keys *k, enum hv_keymap_layout layout)
{
    memset(k, 0, sizeof(*k));
    k->layout = layout;
}

/* Tracks the modifiers the client holds, from the keys that are modifiers. */
static void track(struct hv_vnc_keys *k, uint32_t keysym, bool down)
{
    if (keysym == XK_Shift_L)
        k->shift_l = down;
    else if (keysym == XK_Shift_R)
        k->shift_r = down;
    else if (keysym == XK_ISO_Level3_Shift || keysym == XK_Mode_switch ||
             (keysym == XK_Alt_R && k->layout == HV_KEYMAP_PT_BR))
        k->altgr = down;
}

/* Presses `code` with exactly the modifiers `mods`, restoring the client's afterwards. */
static void press_with(struct out *o, uint16_t code, uint8_t mods)
{
    struct hv_vnc_keys *k = o->k;
    bool want_shift = mods & HV_KEYMOD_SHIFT, want_altgr = mods & HV_KEYMOD_ALTGR;
    bool held_shift = k->shift_l || k->shift_r;
    /* AltGr only means something on layouts that have it; a US right Alt is plain Alt. */
    bool use_altgr = k->layout == HV_KEYMAP_PT_BR;
    uint16_t fake[4];
    bool fake_down[4];
    unsigned n = 0;

    if (want_shift && !held_shift) {
        fake[n] = KEY_LEFTSHIFT, fake_down[n++] = true;
    } else if (!want_shift && held_shift) {
        if (k->shift_l)
            fake[n] = KEY_LEFTSHIFT, fake_down[n++] = false;
        if (k->shift_r)
            fake[n] = KEY_RIGHTSHIFT, fake_down[n++] = false;
    }
    if (use_altgr && want_altgr != k->altgr)
        fake[n] = KEY_RIGHTALT, fake_down[n++] = want_altgr;
    for (unsigned i = 0; i < n; i++)
        send_key(o, fake[i], fake_down[i]);
    send_key(o, code, true);
    for (unsigned i = n; i-- > 0;)
        send_key(o, fake[i], !fake_down[i]);
}

bool hv_vnc_keys_keysym(struct hv_vnc_keys *k, uint32_t keysym, bool down, hv_key_emit_fn emit,
                        void *opaque)
{
    struct out o = {k, emit, opaque};
    struct hv_keystroke ks;

    if (!hv_keymap_lookup(k->layout, keysym, &ks)) {
        /* A composed letter the layout types with a dead key: both strokes on the press. */
        uint32_t dead, base;
        struct hv_keystroke d, b;
        if (!hv_keymap_decompose(keysym, &dead, &base) ||
            !hv_keymap_lookup(k->layout, dead, &d) || !hv_keymap_lookup(k->layout, base, &b))
            return false;
        if (down) {
            press_with(&o, d.code, d.mods);
            send_key(&o, d.code, false);
            press_with(&o, b.code, b.mods);
            send_key(&o, b.code, false);
        }
        return true;
    }
    if (!ks.mods_matter) {
        track(k, keysym, down);
        /* A repeated press (client autorepeat) is one press: the guest repeats by itself. */
        if (down != is_down(k, ks.code))
            send_key(&o, ks.code, down);
        return true;
    }
    if (down)
        press_with(&o, ks.code, ks.mods);
    else if (is_down(k, ks.code))
        send_key(&o, ks.code, false);
    return true;
}

void hv_vnc_keys_raw(struct hv_vnc_keys *k, uint16_t code, bool down, hv_key_emit_fn emit,
                     void *opaque)
{
    struct out o = {k, emit, opaque};
    send_key(&o, code, down);
}

void hv_vnc_keys_release_all(struct hv_vnc_keys *k, hv_key_emit_fn emit, void *opaque)
{
    struct out o = {k, emit, opaque};
    for (uint16_t c = 1; c < KEY_CNT; c++)
        if (is_down(k, c))
            send_key(&o, c, false);
    k->shift_l = k->shift_r = k->altgr = false;
}
