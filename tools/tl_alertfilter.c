/*
 * tl_alertfilter.c - which alerts a reader asked for (tl_alertfilter.h).
 */
#include "tl_alertfilter.h"

#include <string.h>

#include "tl_mp.h"

/* o is a string equal to want (or starting with it, prefix); an empty
 * want lets anything through. */
static bool str_is(const msgpack_object *o, const char *want, bool prefix)
{
    size_t n = want != NULL ? strlen(want) : 0;
    return n == 0 ||
           (o != NULL && o->type == MSGPACK_OBJECT_STR &&
            o->via.str.size >= n && (prefix || o->via.str.size == n) &&
            memcmp(o->via.str.ptr, want, n) == 0);
}

bool tl_alert_filter_match(const struct tl_alert_filter *f,
                           const msgpack_object *a)
{
    return str_is(tl_mp_get(a, "code"), f->code, true) &&
           str_is(tl_mp_get(a, "severity"), f->severity, false) &&
           str_is(tl_mp_get(a, "unit"), f->unit, false);
}

bool tl_alert_filter_none(const struct tl_alert_filter *f)
{
    return (f->code == NULL || f->code[0] == '\0') &&
           (f->severity == NULL || f->severity[0] == '\0') &&
           (f->unit == NULL || f->unit[0] == '\0');
}

bool tl_alert_severity_known(const char *v)
{
    static const char *const names[] = {"info", "warning", "critical"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(v, names[i]) == 0)
            return true;
    return false;
}
