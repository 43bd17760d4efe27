/*
 * tl_import.c - see tl_import.h.
 */
#include "tl_import.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tl_csv.h"

#define DEFAULT_TYPE "donation.received"

enum field {
    F_IGNORE = 0,
    F_ID,
    F_AT,
    F_UNIT,
    F_HOUSEHOLD,
    F_AMOUNT,
    F_DONOR,
    F_DONOR_KIND,
    F_LEVEL,
    F_PLEDGE,
    F_IN_KIND,
    F_DUE,
    F_PURPOSE,
    F_COUNT
};

/* Wire name of each field; F_IGNORE is "-" in --map. */
static const char *const field_names[F_COUNT] = {
    "-",          "id",    "at",     "unit",    "household", "amount", "donor",
    "donor_kind", "level", "pledge", "in_kind", "due",       "purpose"};

/* Headers as staff write them, normalised (ASCII lower case, spaces as
 * '_'), and the field each means. */
static const struct {
    const char *header;
    enum field field;
} aliases[] = {
    {"id", F_ID},
    {"ma", F_ID},
    {"mã", F_ID},
    {"at", F_AT},
    {"date", F_AT},
    {"ngay", F_AT},
    {"ngày", F_AT},
    {"unit", F_UNIT},
    {"don_vi", F_UNIT},
    {"đơn_vị", F_UNIT},
    {"household", F_HOUSEHOLD},
    {"ma_ho", F_HOUSEHOLD},
    {"mã_hộ", F_HOUSEHOLD},
    {"amount", F_AMOUNT},
    {"so_tien", F_AMOUNT},
    {"số_tiền", F_AMOUNT},
    {"donor", F_DONOR},
    {"nha_tai_tro", F_DONOR},
    {"nhà_tài_trợ", F_DONOR},
    {"donor_kind", F_DONOR_KIND},
    {"loai", F_DONOR_KIND},
    {"loại", F_DONOR_KIND},
    {"level", F_LEVEL},
    {"cap", F_LEVEL},
    {"cấp", F_LEVEL},
    {"pledge", F_PLEDGE},
    {"ma_cam_ket", F_PLEDGE},
    {"mã_cam_kết", F_PLEDGE},
    {"in_kind", F_IN_KIND},
    {"hien_vat", F_IN_KIND},
    {"hiện_vật", F_IN_KIND},
    {"due", F_DUE},
    {"han", F_DUE},
    {"hạn", F_DUE},
    {"purpose", F_PURPOSE},
    {"muc_dich", F_PURPOSE},
    {"mục_đích", F_PURPOSE},
    /* Row numbers and remarks: expected, ignored without a note. */
    {"stt", F_IGNORE},
    {"ghi_chu", F_IGNORE},
    {"ghi_chú", F_IGNORE},
    {"note", F_IGNORE},
};

/* Vietnamese spellings of enumerated values, normalised like headers. */
static const struct {
    enum field field;
    const char *text;
    const char *wire;
} values[] = {
    {F_DONOR_KIND, "ca_nhan", "person"},
    {F_DONOR_KIND, "cá_nhân", "person"},
    {F_DONOR_KIND, "to_chuc", "organisation"},
    {F_DONOR_KIND, "tổ_chức", "organisation"},
    {F_DONOR_KIND, "doanh_nghiep", "business"},
    {F_DONOR_KIND, "doanh_nghiệp", "business"},
    {F_DONOR_KIND, "an_danh", "anonymous"},
    {F_DONOR_KIND, "ẩn_danh", "anonymous"},
    {F_LEVEL, "trung_uong", "central"},
    {F_LEVEL, "trung_ương", "central"},
    {F_LEVEL, "tinh", "province"},
    {F_LEVEL, "tỉnh", "province"},
    {F_LEVEL, "huyen", "district"},
    {F_LEVEL, "huyện", "district"},
    {F_LEVEL, "xa", "commune"},
    {F_LEVEL, "xã", "commune"},
    {F_PURPOSE, "nha_o", "housing"},
    {F_PURPOSE, "nhà_ở", "housing"},
    {F_PURPOSE, "sinh_ke", "livelihood"},
    {F_PURPOSE, "sinh_kế", "livelihood"},
    {F_PURPOSE, "giao_duc", "education"},
    {F_PURPOSE, "giáo_dục", "education"},
    {F_PURPOSE, "y_te", "health"},
    {F_PURPOSE, "y_tế", "health"},
    {F_PURPOSE, "tet", "tet"},
    {F_PURPOSE, "tết", "tet"},
    {F_PURPOSE, "thien_tai", "disaster"},
    {F_PURPOSE, "thiên_tai", "disaster"},
    {F_PURPOSE, "khac", "other"},
    {F_PURPOSE, "khác", "other"},
};

/* ---- cell parsers ----------------------------------------------------- */

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    /* Howard Hinnant's algorithm: days since 1970-01-01, proleptic
     * Gregorian, no table and no time zone involved. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Read 1..max digits at *p; returns the count read (0: none). */
static int digits(const char **p, int max, int64_t *v)
{
    int n = 0;

    *v = 0;
    while (n < max && isdigit((unsigned char)**p)) {
        *v = *v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    return n;
}

int tl_parse_date(const char *s, int64_t *at, struct tl_error *err)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
    const char *p = s;
    int64_t y, m, d;
    bool ok;

    if (*s == '\0')
        return tl_fail(err, POVTRACK_EINVALID, "empty date");
    if (digits(&p, 4, &y) == 4 && *p == '-') {
        p++;
        ok = digits(&p, 2, &m) == 2 && *p++ == '-' && digits(&p, 2, &d) == 2;
    } else {
        p = s;
        ok = digits(&p, 2, &d) >= 1 && *p++ == '/' && digits(&p, 2, &m) >= 1 &&
             *p++ == '/' && digits(&p, 4, &y) == 4;
    }
    if (!ok || *p != '\0')
        return tl_fail(err, POVTRACK_EINVALID,
                       "\"%s\" is not a date: expected YYYY-MM-DD or "
                       "DD/MM/YYYY",
                       s);
    if (m < 1 || m > 12 || d < 1 ||
        d > mdays[m - 1] + (m == 2 && leap(y) ? 1 : 0))
        return tl_fail(err, POVTRACK_EINVALID,
                       "\"%s\" is not a day of the calendar", s);
    /* Midnight in Vietnam (UTC+7). */
    *at = days_from_civil(y, m, d) * 86400 - 7 * 3600;
    return POVTRACK_OK;
}

int tl_parse_time(const char *s, int64_t *t, struct tl_error *err)
{
    const char *p = s;
    int64_t y, h = 0, mi = 0, sec = 0, off = 7 * 3600;
    char date[11];

    if (digits(&p, 4, &y) != 4 || *p != '-' || strlen(s) < 10)
        goto bad;
    memcpy(date, s, 10);
    date[10] = '\0';
    if (tl_parse_date(date, t, err) != 0)
        return POVTRACK_EINVALID;
    p = s + 10;
    if (*p == '\0')
        return POVTRACK_OK; /* a day: 00:00 in Vietnam */
    if ((*p != 'T' && *p != ' ') || (p++, digits(&p, 2, &h) != 2) ||
        *p++ != ':' || digits(&p, 2, &mi) != 2)
        goto bad;
    if (*p == ':' && (p++, digits(&p, 2, &sec) != 2))
        goto bad;
    if (*p == '.') /* fractions of a second are dropped */
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    if (*p == 'Z' || *p == 'z') {
        off = 0;
        p++;
    } else if (*p == '+' || *p == '-') {
        int64_t oh, om = 0;
        int sign = *p++ == '-' ? -1 : 1;
        if (digits(&p, 2, &oh) != 2)
            goto bad;
        if (*p == ':')
            p++;
        if (*p != '\0' && digits(&p, 2, &om) != 2)
            goto bad;
        if (oh > 23 || om > 59)
            goto bad;
        off = sign * (oh * 3600 + om * 60);
    }
    if (*p != '\0' || h > 23 || mi > 59 || sec > 60)
        goto bad;
    /* tl_parse_date gave 00:00 in Vietnam; the time and offset move it. */
    *t += 7 * 3600 - off + h * 3600 + mi * 60 + sec;
    return POVTRACK_OK;
bad:
    return tl_fail(err, POVTRACK_EINVALID,
                   "\"%s\" is not a time: expected unix seconds, YYYY-MM-DD "
                   "(00:00 in Vietnam) or YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM] "
                   "(without an offset: Vietnam time)",
                   s);
}

/* Strip a currency suffix; returns the length of what remains. */
static size_t strip_currency(const char *s, size_t n)
{
    static const char *const suffixes[] = {"VND", "vnd", "VNĐ", "vnđ",
                                           "đ",   "₫",   "Đ"};

    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        size_t k = strlen(suffixes[i]);
        if (n > k && memcmp(s + n - k, suffixes[i], k) == 0) {
            n -= k;
            while (n > 0 && s[n - 1] == ' ')
                n--;
            return n;
        }
    }
    return n;
}

int tl_parse_vnd(const char *s, int64_t *amount, struct tl_error *err)
{
    size_t n = strip_currency(s, strlen(s));
    char sep = 0;
    size_t nsep = 0, group = 0, first = 0;
    bool mixed = false;
    int64_t v = 0;

    if (n == 0)
        return tl_fail(err, POVTRACK_EINVALID, "empty amount");
    if (s[0] == '-')
        return tl_fail(err, POVTRACK_EINVALID, "negative amount \"%s\"", s);
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '.' || ch == ',') {
            if (sep != 0 && ch != sep)
                mixed = true;
            if (nsep == 0)
                first = group;
            sep = ch;
            nsep++;
            group = 0;
        } else if (isdigit((unsigned char)ch)) {
            group++;
        } else {
            return tl_fail(err, POVTRACK_EINVALID,
                           "\"%s\" is not an amount in VND", s);
        }
    }
    if (mixed || (nsep == 1 && group != 3))
        return tl_fail(err, POVTRACK_EINVALID,
                       "\"%s\" has decimals: amounts are whole VND", s);
    if (nsep > 0 && (first == 0 || first > 3 || group != 3))
        return tl_fail(err, POVTRACK_EINVALID,
                       "\"%s\": misplaced thousands separator", s);
    if (nsep > 1) {
        /* Every inner group must have three digits as well. */
        size_t run = 0;
        for (size_t i = 0, seen = 0; i < n; i++) {
            if (s[i] == sep) {
                if (seen++ > 0 && run != 3)
                    return tl_fail(err, POVTRACK_EINVALID,
                                   "\"%s\": misplaced thousands separator", s);
                run = 0;
            } else {
                run++;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == sep)
            continue;
        if (v > (INT64_MAX - (s[i] - '0')) / 10)
            return tl_fail(err, POVTRACK_EINVALID, "\"%s\" is too large", s);
        v = v * 10 + (s[i] - '0');
    }
    *amount = v;
    return POVTRACK_OK;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "x", "true", "yes", "có", "co"};
    static const char *const no[] = {"0", "false", "no", "không", "khong"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    return POVTRACK_EINVALID;
}

int tl_import_id_prefix(const char *path, char *buf, struct tl_error *err)
{
    const char *base = strrchr(path, '/');
    size_t n, o = 4;
    uint32_t h = 2166136261u; /* FNV-1a */
    bool replaced = false;

    base = base != NULL ? base + 1 : path;
    n = strlen(base);
    if (n > 4 && strcmp(base + n - 4, ".csv") == 0)
        n -= 4;
    if (n == 0)
        return tl_fail(err, POVTRACK_EINVALID,
                       "cannot derive event ids from \"%s\": use --id-prefix",
                       path);
    if (n + 4 + 9 > TL_ID_PREFIX_MAX)
        return tl_fail(err, POVTRACK_EINVALID,
                       "file name \"%s\" is too long to derive event ids "
                       "from: use --id-prefix or an id column",
                       base);
    memcpy(buf, "csv-", 4);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)base[i];
        h = (h ^ ch) * 16777619u;
        if (isalnum(ch) || ch == '.' || ch == '_' || ch == '-') {
            buf[o++] = (char)ch;
        } else {
            buf[o++] = '_';
            replaced = true;
        }
    }
    if (replaced)
        o += (size_t)snprintf(buf + o, 10, "-%08x", (unsigned)h);
    buf[o] = '\0';
    return POVTRACK_OK;
}

/* ---- the importer ----------------------------------------------------- */

struct importer {
    const struct tl_import_opts *o;
    const struct tl_import_sink *sink;
    struct tl_error *err;
    /* The data row being read, set for the call only (tl_csv_read owns it). */
    size_t row;
    char **cells;
    size_t ncells;
    /* The header: column names and what each maps to. */
    char **header;
    size_t ncols;
    enum field *map;
    bool has_field[F_COUNT];
};

static int field_by_name(const char *name, size_t len)
{
    for (int f = 0; f < F_COUNT; f++)
        if (strlen(field_names[f]) == len &&
            memcmp(field_names[f], name, len) == 0)
            return f;
    return -1;
}

static void note(struct importer *im, const char *fmt, const char *a,
                 const char *b)
{
    char msg[TL_ERROR_MAX];

    if (im->sink->note == NULL)
        return;
    snprintf(msg, sizeof(msg), fmt, a, b);
    im->sink->note(im->sink->arg, msg);
}

/* The header row (tl_csv_sink.header): keep it, then apply --map and the
 * aliases to its columns. */
static int build_map(void *arg, char **names, size_t ncols)
{
    struct importer *im = arg;
    const char *p = im->o->map;

    im->header = names;
    im->ncols = ncols;
    im->map = calloc(im->ncols > 0 ? im->ncols : 1, sizeof(*im->map));
    if (im->map == NULL)
        return tl_fail(im->err, POVTRACK_ENOMEM, "out of memory");
    bool *mapped = calloc(im->ncols > 0 ? im->ncols : 1, sizeof(bool));
    if (mapped == NULL)
        return tl_fail(im->err, POVTRACK_ENOMEM, "out of memory");
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, ',');
        const char *eq = memchr(p, '=', end ? (size_t)(end - p) : strlen(p));
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char col[256];
        int f;
        size_t c;

        if (eq == NULL || eq == p || (size_t)(eq - p) >= sizeof(col)) {
            free(mapped);
            return tl_fail(im->err, POVTRACK_EINVALID,
                           "--map: \"%.*s\" is not COLUMN=FIELD", (int)len, p);
        }
        memcpy(col, p, (size_t)(eq - p));
        col[eq - p] = '\0';
        tl_csv_normalise(col);
        f = field_by_name(eq + 1, len - (size_t)(eq - p) - 1);
        if (f < 0) {
            free(mapped);
            return tl_fail(im->err, POVTRACK_EINVALID,
                           "--map: unknown field \"%.*s\" (fields: id at "
                           "unit household amount donor donor_kind level "
                           "pledge in_kind due purpose, or - to ignore)",
                           (int)(len - (size_t)(eq - p) - 1), eq + 1);
        }
        for (c = 0; c < im->ncols; c++)
            if (strcmp(im->header[c], col) == 0)
                break;
        if (c == im->ncols) {
            free(mapped);
            return tl_fail(im->err, POVTRACK_EINVALID,
                           "--map: the header has no column \"%s\"", col);
        }
        if (f != F_IGNORE && im->has_field[f]) {
            free(mapped);
            return tl_fail(im->err, POVTRACK_EINVALID,
                           "--map: two columns map to %s", field_names[f]);
        }
        im->map[c] = (enum field)f;
        mapped[c] = true;
        im->has_field[f] = f != F_IGNORE;
        p = end != NULL ? end + 1 : NULL;
    }
    for (size_t c = 0; c < im->ncols; c++) {
        size_t a;

        if (mapped[c])
            continue;
        for (a = 0; a < sizeof(aliases) / sizeof(aliases[0]); a++)
            if (strcmp(aliases[a].header, im->header[c]) == 0)
                break;
        if (a == sizeof(aliases) / sizeof(aliases[0])) {
            note(im,
                 "column \"%s\" is not mapped and is ignored (use --map "
                 "%s=FIELD)",
                 im->header[c], im->header[c]);
            continue;
        }
        enum field f = aliases[a].field;
        if (f != F_IGNORE && im->has_field[f]) {
            /* --map chose another column for f, or two aliases collide. */
            note(im, "column \"%s\" is ignored: another column gives %s",
                 im->header[c], field_names[f]);
            continue;
        }
        im->map[c] = f;
        im->has_field[f] = f != F_IGNORE;
    }
    free(mapped);
    if (!im->has_field[F_AT])
        return tl_fail(im->err, POVTRACK_EINVALID,
                       "no date column (ngay, date): name one with --map "
                       "COLUMN=at");
    if (!im->has_field[F_UNIT] && im->o->unit == NULL)
        return tl_fail(im->err, POVTRACK_EINVALID,
                       "no unit column (don_vi, unit): give --unit CODE");
    return POVTRACK_OK;
}

static const char *level_of_code(const char *code)
{
    switch (strlen(code)) {
    case 2:
        return "province";
    case 3:
        return "district";
    case 5:
        return "commune";
    default:
        return NULL;
    }
}

/* The wire spelling of an enumerated cell: Vietnamese words are
 * translated, anything else is passed on for the daemon to judge. */
static const char *enum_value(enum field f, const char *cell, char *tmp,
                              size_t cap)
{
    snprintf(tmp, cap, "%s", cell);
    tl_csv_normalise(tmp);
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        if (values[i].field == f && strcmp(values[i].text, tmp) == 0)
            return values[i].wire;
    return cell;
}

static int set(json_t *obj, const char *key, json_t *v, struct tl_error *err)
{
    if (v == NULL || json_object_set_new(obj, key, v) != 0)
        return tl_fail(err, POVTRACK_ENOMEM, "out of memory building an event");
    return POVTRACK_OK;
}

/* jansson holds only UTF-8 (json_string() returns NULL for other bytes),
 * so a cell from a spreadsheet saved in another encoding must become a bad
 * row here, not a failure to build the event. */
static bool is_utf8(const char *s)
{
    json_t *v = json_string(s);

    json_decref(v);
    return v != NULL;
}

/* A bad row: report it through the sink; the row is skipped. */
static int bad(struct importer *im, size_t c, const char *what)
{
    char msg[TL_ERROR_MAX + 300];

    if (c < im->ncols)
        snprintf(msg, sizeof(msg), "row %zu, column %s: %s", im->row,
                 im->header[c], what);
    else
        snprintf(msg, sizeof(msg), "row %zu: %s", im->row, what);
    return im->sink->bad_row(im->sink->arg, im->row, msg);
}

/* A data row (tl_csv_sink.row): one event or one bad row. */
static int row_event(void *arg, size_t row, char **cells, size_t ncells)
{
    struct importer *im = arg;
    json_t *ev = json_object(), *data = json_object();
    const char *unit = im->o->unit, *id = NULL;
    char idbuf[TL_ID_PREFIX_MAX + 32], tmp[256];
    struct tl_error cell;
    int rc = 0;

    /* Blank rows, what spreadsheets leave at the end, never come here. */
    im->row = row;
    im->cells = cells;
    im->ncells = ncells;
    if (ev == NULL || data == NULL) {
        json_decref(ev);
        json_decref(data);
        return tl_fail(im->err, POVTRACK_ENOMEM, "out of memory");
    }
    if (im->ncells > im->ncols) {
        snprintf(tmp, sizeof(tmp), "%zu cells but the header has %zu columns",
                 im->ncells, im->ncols);
        rc = bad(im, (size_t)-1, tmp);
        goto out;
    }
    rc = set(ev, "v", json_integer(1), im->err);
    if (rc == 0)
        rc = set(ev, "id", json_null(), im->err); /* placeholder: key order */
    if (rc == 0)
        rc =
            set(ev, "type",
                json_string(im->o->type ? im->o->type : DEFAULT_TYPE), im->err);
    if (rc == 0)
        rc = set(ev, "at", json_null(), im->err);
    if (rc == 0)
        rc = set(ev, "unit", json_null(), im->err);
    for (size_t c = 0; rc == 0 && c < im->ncells; c++) {
        const char *s = im->cells[c];
        int64_t v;
        bool b;

        if (s[0] == '\0' && im->map[c] != F_AT && im->map[c] != F_AMOUNT)
            continue; /* empty optional cell: field absent */
        cell.msg[0] = '\0';
        if (im->map[c] != F_IGNORE && !is_utf8(s)) {
            tl_fail(&cell, POVTRACK_EINVALID,
                    "not UTF-8 text: save the spreadsheet as CSV UTF-8");
            goto bad_cell;
        }
        switch (im->map[c]) {
        case F_IGNORE:
            break;
        case F_ID:
            id = s;
            break;
        case F_UNIT:
            unit = s;
            break;
        case F_AT:
            if (tl_parse_date(s, &v, &cell) != 0)
                goto bad_cell;
            rc = set(ev, "at", json_integer(v), im->err);
            break;
        case F_DUE:
            if (tl_parse_date(s, &v, &cell) != 0)
                goto bad_cell;
            rc = set(data, "due", json_integer(v), im->err);
            break;
        case F_AMOUNT:
            if (tl_parse_vnd(s, &v, &cell) != 0)
                goto bad_cell;
            rc = set(data, "amount", json_integer(v), im->err);
            break;
        case F_IN_KIND:
            snprintf(tmp, sizeof(tmp), "%s", s);
            tl_csv_normalise(tmp);
            if (parse_bool(tmp, &b) != 0) {
                tl_fail(&cell, POVTRACK_EINVALID,
                        "\"%s\" is not yes/no (có/không, 1/0, x)", s);
                goto bad_cell;
            }
            rc = set(data, "in_kind", json_boolean(b), im->err);
            break;
        case F_HOUSEHOLD:
            rc = set(ev, "household", json_string(s), im->err);
            break;
        case F_DONOR_KIND:
        case F_LEVEL:
        case F_PURPOSE:
            rc = set(data, field_names[im->map[c]],
                     json_string(enum_value(im->map[c], s, tmp, sizeof(tmp))),
                     im->err);
            break;
        default:
            rc = set(data, field_names[im->map[c]], json_string(s), im->err);
            break;
        }
        continue;
    bad_cell:
        rc = bad(im, c, cell.msg);
        goto out;
    }
    if (rc != 0)
        goto out;
    if (json_is_null(json_object_get(ev, "at"))) {
        /* A row shorter than the header lacks its date cell. */
        rc = bad(im, (size_t)-1, "no date");
        goto out;
    }
    if (unit == NULL || unit[0] == '\0') {
        rc = bad(im, (size_t)-1, "no unit (empty unit cell and no --unit)");
        goto out;
    }
    if (id == NULL || id[0] == '\0') {
        snprintf(idbuf, sizeof(idbuf), "%s-r%zu", im->o->id_prefix, im->row);
        id = idbuf;
    }
    if (json_object_get(data, "level") == NULL && level_of_code(unit) != NULL &&
        (strcmp(json_string_value(json_object_get(ev, "type")),
                "donation.received") == 0 ||
         strcmp(json_string_value(json_object_get(ev, "type")),
                "fund.disbursed") == 0))
        rc = set(data, "level", json_string(level_of_code(unit)), im->err);
    if (rc == 0)
        rc = set(ev, "id", json_string(id), im->err);
    if (rc == 0)
        rc = set(ev, "unit", json_string(unit), im->err);
    if (rc == 0) {
        rc = json_object_set(ev, "data", data) != 0
                 ? tl_fail(im->err, POVTRACK_ENOMEM, "out of memory")
                 : 0;
    }
    if (rc == 0) {
        rc = im->sink->event(im->sink->arg, im->row, ev);
        ev = NULL;
    }
out:
    json_decref(ev);
    json_decref(data);
    return rc;
}

int tl_import_csv(FILE *in, const struct tl_import_opts *o,
                  const struct tl_import_sink *sink, struct tl_error *err)
{
    struct importer im;
    struct tl_csv_sink csink = {&im, build_map, row_event};
    int rc;

    memset(&im, 0, sizeof(im));
    im.o = o;
    im.sink = sink;
    im.err = err;
    rc = tl_csv_read(in, o->delim, &csink, err);
    tl_csv_free(im.header, im.ncols);
    free(im.map);
    return rc;
}
