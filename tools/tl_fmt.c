/*
 * tl_fmt.c - see tl_fmt.h.
 */
#include "tl_fmt.h"

#include <string.h>
#include <time.h>

#include <povtrack/errors.h>

const char *tl_fmt_int(int64_t v, char *buf)
{
    char tmp[TL_FMT_INT_MAX];
    size_t n = 0, o = 0;
    /* Through uint64_t so that INT64_MIN has a magnitude. */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    do {
        if (n > 0 && n % 3 == 0)
            tmp[o++] = ',';
        tmp[o++] = (char)('0' + u % 10);
        u /= 10;
        n++;
    } while (u != 0);
    if (v < 0)
        tmp[o++] = '-';
    for (size_t i = 0; i < o; i++)
        buf[i] = tmp[o - 1 - i];
    buf[o] = '\0';
    return buf;
}

const char *tl_fmt_vnd(int64_t v, char *buf)
{
    tl_fmt_int(v, buf);
    strcat(buf, " VND");
    return buf;
}

const char *tl_fmt_time(int64_t t, bool micro, char *buf)
{
    int64_t sec = micro ? t / 1000000 : t;
    int64_t us = micro ? t % 1000000 : 0;
    struct tm tm;
    time_t tt;
    size_t n;

    if (us < 0) {
        us += 1000000;
        sec -= 1;
    }
    tt = (time_t)sec;
    if (gmtime_r(&tt, &tm) == NULL) {
        snprintf(buf, TL_FMT_TIME_MAX, "@%lld", (long long)t);
        return buf;
    }
    n = strftime(buf, TL_FMT_TIME_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
    if (us != 0)
        snprintf(buf + n, TL_FMT_TIME_MAX - n, ".%06lldZ", (long long)us);
    else
        snprintf(buf + n, TL_FMT_TIME_MAX - n, "Z");
    return buf;
}

static const char *vn(int64_t t, const char *fmt, char *buf)
{
    struct tm tm;
    time_t tt;

    if (t > INT64_MAX - TL_VN_OFFSET) {
        snprintf(buf, TL_FMT_TIME_MAX, "@%lld", (long long)t);
        return buf;
    }
    tt = (time_t)(t + TL_VN_OFFSET);
    if (gmtime_r(&tt, &tm) == NULL ||
        strftime(buf, TL_FMT_TIME_MAX, fmt, &tm) == 0)
        snprintf(buf, TL_FMT_TIME_MAX, "@%lld", (long long)t);
    return buf;
}

const char *tl_fmt_vn_date(int64_t t, char *buf)
{
    return vn(t, "%Y-%m-%d", buf);
}

const char *tl_fmt_vn_time(int64_t t, char *buf)
{
    return vn(t, "%Y-%m-%d %H:%M +07", buf);
}

size_t tl_utf8_width(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t w = 0;

    while (*p != '\0') {
        /* U+0300..U+036F is 0xCC 0x80 .. 0xCD 0xAF in UTF-8. */
        if ((p[0] == 0xcc && p[1] >= 0x80 && p[1] <= 0xbf) ||
            (p[0] == 0xcd && p[1] >= 0x80 && p[1] <= 0xaf)) {
            p += 2;
            continue;
        }
        if ((*p & 0xc0) != 0x80)
            w++;
        p++;
    }
    return w;
}

int tl_print_cell(FILE *f, const char *s, size_t width, bool right)
{
    size_t w = tl_utf8_width(s);
    size_t pad = w < width ? width - w : 0;

    if (right && fprintf(f, "%*s", (int)pad, "") < 0)
        return POVTRACK_EIO;
    if (fputs(s, f) == EOF)
        return POVTRACK_EIO;
    if (!right && fprintf(f, "%*s", (int)pad, "") < 0)
        return POVTRACK_EIO;
    return 0;
}
