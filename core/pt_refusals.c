/*
 * pt_refusals.c - a table of recently refused keys and when each was last
 * logged.
 */
#include "pt_refusals.h"

#include <string.h>

bool pt_refusals_due(struct pt_refusals *t, const uint8_t *key, time_t now)
{
    struct pt_refusal *slot = NULL;
    for (size_t i = 0; i < PT_REFUSALS_MAX && slot == NULL; i++)
        if (t->slots[i].used &&
            memcmp(t->slots[i].key, key, PT_CURVE_KEY_BYTES) == 0)
            slot = &t->slots[i];
    if (slot != NULL) {
        /* A clock set back must not silence a key for the difference. */
        if (now >= slot->logged_at &&
            now - slot->logged_at < PT_REFUSALS_LOG_SECONDS)
            return false;
        slot->logged_at = now;
        return true;
    }
    /* A free slot, else the one logged longest ago. */
    slot = &t->slots[0];
    for (size_t i = 0; i < PT_REFUSALS_MAX && slot->used; i++)
        if (!t->slots[i].used || t->slots[i].logged_at < slot->logged_at)
            slot = &t->slots[i];
    memcpy(slot->key, key, PT_CURVE_KEY_BYTES);
    slot->logged_at = now;
    slot->used = true;
    return true;
}
