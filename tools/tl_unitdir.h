/*
 * tl_unitdir.h - the units the daemon knows, looked up by code: their
 * names for the listings people read (alerts, summary) and whether a code
 * is defined at all (the CSV importer).
 *
 * The daemon answers {"op": "units", "parent": P} with the children of
 * one unit (as each last stood), so finding a code means walking the
 * tree.  The directory remembers every listing it asked for, and walks
 * the way the GSO numbers units: codes of one level rise with their
 * parents' codes (the communes of district 593 come after those of 592),
 * so a code is found by halving the candidate parents, a few requests for
 * a commune of the whole country.  Where that order does not hold (units
 * moved by a reorganisation) it falls back to listing what is left, so a
 * code the daemon does not know costs a walk of the whole tree once.
 */
#ifndef POVTRACK_TL_UNITDIR_H
#define POVTRACK_TL_UNITDIR_H

#include <stdbool.h>
#include <stddef.h>

#include "tl_cli.h"

#define TL_UNIT_CODE_MAX 8
#define TL_UNIT_NAME_MAX 256

struct tl_unit {
    char code[TL_UNIT_CODE_MAX];
    char name[TL_UNIT_NAME_MAX];
    char parent[TL_UNIT_CODE_MAX]; /* "" for a province */
    char level[12];
};

struct tl_unitdir;

/* The level a unit code's form says (the GSO's): "province" for 2 decimal
 * digits, "district" for 3, "commune" for 5; NULL for anything else. */
const char *tl_unit_level(const char *code);

/* A directory asking through cli (its query endpoint); NULL when out of
 * memory. */
struct tl_unitdir *tl_unitdir_new(struct tl_cli *cli);
void tl_unitdir_free(struct tl_unitdir *d);

/* The unit of code in *u (the directory's, valid until it is freed):
 * 0; POVTRACK_ENOTFOUND when the daemon does not know it (or code is not
 * a unit code); otherwise the exit code of a failed request, printed
 * already (tl_cli_request). */
int tl_unitdir_find(struct tl_unitdir *d, const char *code,
                    const struct tl_unit **u);

/* The children of parent (NULL: the provinces) as the daemon lists them,
 * sorted by code, in *units[0..*n) (the directory's).  0 or an exit
 * code. */
int tl_unitdir_children(struct tl_unitdir *d, const char *parent,
                        const struct tl_unit *const **units, size_t *n);

/* "Thành phố Phan Thiết (593)" into buf, or the code alone when the
 * daemon does not know it or cannot be asked (never an error: a name is
 * a courtesy of the listing). */
const char *tl_unitdir_label(struct tl_unitdir *d, const char *code, char *buf,
                             size_t cap);

#endif /* POVTRACK_TL_UNITDIR_H */
