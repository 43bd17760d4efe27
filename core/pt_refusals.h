/*
 * pt_refusals.h - which refusals of a key to log.
 *
 * A refused client retries every 100 ms or so: logging every refusal would
 * flood the log, logging none would hide a leaked or forgotten key.  This
 * small fixed table remembers when each recently refused key was last
 * logged, and says to log a key again only once PT_REFUSALS_LOG_SECONDS
 * have passed, however many keys take turns.  When the table is full, the
 * key logged longest ago makes room; it is logged again at its next
 * refusal, so more keys than the table holds are logged more often, never
 * less.
 *
 * Pure: the caller passes the time and does the logging.  A zeroed struct
 * pt_refusals is an empty table.
 */
#ifndef POVTRACK_PT_REFUSALS_H
#define POVTRACK_PT_REFUSALS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "pt_registry.h"

#define PT_REFUSALS_MAX 64         /* keys remembered */
#define PT_REFUSALS_LOG_SECONDS 60 /* one log line per key this often */

struct pt_refusal {
    uint8_t key[PT_CURVE_KEY_BYTES];
    time_t logged_at;
    bool used;
};

struct pt_refusals {
    struct pt_refusal slots[PT_REFUSALS_MAX];
};

/* Key (PT_CURVE_KEY_BYTES) is refused at now: should that be logged?  When
 * it should, the table records now as the key's last logged time. */
bool pt_refusals_due(struct pt_refusals *t, const uint8_t *key, time_t now);

#endif /* POVTRACK_PT_REFUSALS_H */
