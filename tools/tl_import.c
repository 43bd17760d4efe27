/*
 * tl_import.c - see tl_import.h.
 *
 * The sheet is read whole (tl_csv), each row checked as it comes, and the
 * good rows kept with their events and ids; nothing here talks to the
 * daemon.  The tables below are the importer's knowledge of spreadsheets:
 * which headers mean which field, which words mean which value.  What an
 * event must hold is the catalogue's (ev_field_rule, ev_decode).
 */
#include "tl_import.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ev_event.h"
#include "tl_csv.h"
#include "tl_fmt.h"
#include "tl_fold.h"
#include "tl_json.h"
#include "tl_unitdir.h"

#define LANGS 2
#define RECEIPT_MAX 40 /* bytes of a receipt in an id, hash included */
#define RECEIPT_CUT 31

/* ---- words ------------------------------------------------------------ */

enum msg {
    M_AT_CELL,   /* row, column, reason */
    M_AT_OPTION, /* row, option, reason */
    M_AT_ROW,    /* row, reason */
    M_EMPTY,
    M_NOT_DATE,
    M_NOT_DAY,
    M_FUTURE,
    M_PAST,
    M_DECIMALS,
    M_SEPARATOR,
    M_NOT_AMOUNT,
    M_NEGATIVE,
    M_TOO_LARGE,
    M_NOT_POSITIVE,
    M_TOO_LONG,
    M_NOT_VALUE,
    M_NOT_BOOL,
    M_NOT_UNIT,
    M_UNKNOWN_UNIT,
    M_NOT_YEAR,
    M_RANGE,
    M_CELLS,
    M_RECEIPT_TWICE,
    M_RECEIPT_EMPTY,
    M_REJECTED,
    M_NO_COLUMN,
    M_NO_COLUMN_UNKNOWN,
    M_NO_COLUMN_SET,
    M_NO_UNIT_COLUMN,
    M_NOT_TAKEN,
    N_IGNORED,
    N_OTHER_GIVES,
    N_NOT_TAKEN,
    N_REPEATS,
    N_REPEATS_KEPT,
    N_ALLOW_DUPLICATES,
    M_COUNT
};

/* English, then Vietnamese.  %s and %zu in the order the code passes
 * them. */
static const char *const msgs[M_COUNT][LANGS] = {
    [M_AT_CELL] = {"row %zu, column %s: %s", "dòng %zu, cột %s: %s"},
    [M_AT_OPTION] = {"row %zu, %s: %s", "dòng %zu, %s: %s"},
    [M_AT_ROW] = {"row %zu: %s", "dòng %zu: %s"},
    [M_EMPTY] = {"empty, and the %s is required", "ô trống, nhưng cần có %s"},
    [M_NOT_DATE] = {"%s is not a date (write DD/MM/YYYY or YYYY-MM-DD)",
                    "%s không phải là ngày (viết DD/MM/YYYY hoặc "
                    "YYYY-MM-DD)"},
    [M_NOT_DAY] = {"%s is not a day of the calendar",
                   "%s không phải là một ngày có thật"},
    [M_FUTURE] = {"%s is in the future", "%s là ngày trong tương lai"},
    [M_PAST] = {"%s is before the year 2000", "%s là trước năm 2000"},
    [M_DECIMALS] = {"%s has decimals: amounts are whole VND",
                    "%s có phần lẻ: số tiền phải là số đồng chẵn"},
    [M_SEPARATOR] = {"%s: a thousands separator is out of place",
                     "%s: dấu phân cách hàng nghìn đặt sai chỗ"},
    [M_NOT_AMOUNT] = {"%s is not an amount in VND",
                      "%s không phải là số tiền (đồng)"},
    [M_NEGATIVE] = {"%s is negative", "%s là số âm"},
    [M_TOO_LARGE] = {"%s is too large", "%s quá lớn"},
    [M_NOT_POSITIVE] = {"%s: the amount must be more than 0",
                        "%s: số tiền phải lớn hơn 0"},
    [M_TOO_LONG] = {"too long: %zu bytes, at most %zu (about %zu "
                    "Vietnamese characters)",
                    "dài quá: %zu byte, tối đa %zu (khoảng %zu chữ tiếng "
                    "Việt)"},
    [M_NOT_VALUE] = {"%s is not a %s: write %s",
                     "%s không phải là %s: viết %s"},
    [M_NOT_BOOL] = {"%s is not yes or no: write %s",
                    "%s không phải là có hay không: viết %s"},
    [M_NOT_UNIT] = {"%s is not a unit code (2, 3 or 5 digits; a lost leading "
                    "zero? keep codes as text)",
                    "%s không phải là mã đơn vị (2, 3 hoặc 5 chữ số; mất số "
                    "0 ở đầu? hãy để mã ở dạng văn bản)"},
    [M_UNKNOWN_UNIT] = {"unit %s is not defined in povtrackd",
                        "đơn vị %s chưa được khai báo trong povtrackd"},
    [M_NOT_YEAR] = {"%s is not a year", "%s không phải là năm"},
    [M_RANGE] = {"%s is out of range (%s)", "%s nằm ngoài giới hạn (%s)"},
    [M_CELLS] = {"%zu cells but the header has %zu columns",
                 "%zu ô nhưng dòng tiêu đề có %zu cột"},
    [M_RECEIPT_TWICE] = {"receipt %s is also on row %zu, with other content",
                         "biên lai %s cũng có ở dòng %zu, với nội dung khác"},
    [M_RECEIPT_EMPTY] = {"%s has no letter or digit to tell it apart",
                         "%s không có chữ hay số nào để phân biệt"},
    [M_REJECTED] = {"%s", "không hợp lệ: %s"},
    [M_NO_COLUMN] = {"the sheet has no %s column (%s): add one, or give "
                     "--column %s=HEADER",
                     "bảng không có cột %s (%s): thêm cột, hoặc dùng "
                     "--column %s=TÊN_CỘT"},
    [M_NO_COLUMN_UNKNOWN] = {"%s is not a column I know; the sheet has no %s "
                             "column (%s): rename it or give --column "
                             "%s=\"%s\"",
                             "%s không phải là cột tôi biết; bảng không có "
                             "cột %s (%s): đổi tên cột hoặc dùng --column "
                             "%s=\"%s\""},
    [M_NO_COLUMN_SET] = {"the sheet has no %s column (%s): add one, or give "
                         "--set %s=VALUE for every row",
                         "bảng không có cột %s (%s): thêm cột, hoặc dùng "
                         "--set %s=GIÁ_TRỊ cho mọi dòng"},
    [M_NO_UNIT_COLUMN] = {"the sheet has no unit column (%s): add one, or "
                          "give --unit CODE",
                          "bảng không có cột đơn vị (%s): thêm cột, hoặc "
                          "dùng --unit MÃ"},
    [M_NOT_TAKEN] = {"%s: %s takes no %s", "%s: %s không có %s"},
    [N_IGNORED] = {"column %s is not one I know: ignored",
                   "cột %s không phải là cột tôi biết: bỏ qua"},
    [N_OTHER_GIVES] = {"column %s is ignored: column %s gives the %s",
                       "bỏ qua cột %s: cột %s đã cho %s"},
    [N_NOT_TAKEN] = {"column %s is ignored: %s takes no %s",
                     "bỏ qua cột %s: %s không có %s"},
    [N_REPEATS] = {"row %zu repeats row %zu: not imported twice (if they are "
                   "two donations, %s)",
                   "dòng %zu lặp lại dòng %zu: không nhập hai lần (nếu đó là "
                   "hai lần ủng hộ, %s)"},
    [N_ALLOW_DUPLICATES] = {"give --allow-duplicate-rows",
                            "dùng --allow-duplicate-rows"},
    [N_REPEATS_KEPT] = {"row %zu repeats row %zu: imported as another one "
                        "(id %s)",
                        "dòng %zu lặp lại dòng %zu: nhập thành một bản "
                        "nữa (mã %s)"},
};

/* ---- fields ----------------------------------------------------------- */

enum field {
    F_IGNORE = 0,
    F_RECEIPT,
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
    F_YEAR,
    F_STATUS,
    F_DECISION,
    F_LOAN,
    F_PROGRAM,
    F_ORG,
    F_REPORT,
    F_ITEM,
    F_COUNT
};

enum fkind {
    FK_NONE,
    FK_RECEIPT,
    FK_AT,
    FK_UNIT,
    FK_HOUSEHOLD,
    FK_AMOUNT,
    FK_TEXT,
    FK_ENUM,
    FK_BOOL,
    FK_DATE,
    FK_YEAR
};

/* A word of a spreadsheet (a key, tl_fold_key) and the wire value it
 * means. */
struct syn {
    const char *key;
    const char *wire;
};

static const struct syn donor_kinds[] = {{"ca_nhan", "person"},
                                         {"person", "person"},
                                         {"individual", "person"},
                                         {"to_chuc", "organisation"},
                                         {"co_quan", "organisation"},
                                         {"organisation", "organisation"},
                                         {"organization", "organisation"},
                                         {"doanh_nghiep", "business"},
                                         {"cong_ty", "business"},
                                         {"business", "business"},
                                         {"company", "business"},
                                         {"an_danh", "anonymous"},
                                         {"khuyet_danh", "anonymous"},
                                         {"giau_ten", "anonymous"},
                                         {"anonymous", "anonymous"},
                                         {NULL, NULL}};
static const struct syn levels[] = {{"trung_uong", "central"},
                                    {"tw", "central"},
                                    {"cap_trung_uong", "central"},
                                    {"central", "central"},
                                    {"tinh", "province"},
                                    {"cap_tinh", "province"},
                                    {"province", "province"},
                                    {"huyen", "district"},
                                    {"quan", "district"},
                                    {"thi_xa", "district"},
                                    {"cap_huyen", "district"},
                                    {"district", "district"},
                                    {"xa", "commune"},
                                    {"phuong", "commune"},
                                    {"thi_tran", "commune"},
                                    {"cap_xa", "commune"},
                                    {"commune", "commune"},
                                    {"ward", "commune"},
                                    {NULL, NULL}};
static const struct syn purposes[] = {{"nha_o", "housing"},
                                      {"xay_nha", "housing"},
                                      {"sua_nha", "housing"},
                                      {"nha", "housing"},
                                      {"housing", "housing"},
                                      {"sinh_ke", "livelihood"},
                                      {"livelihood", "livelihood"},
                                      {"giao_duc", "education"},
                                      {"hoc_bong", "education"},
                                      {"education", "education"},
                                      {"y_te", "health"},
                                      {"health", "health"},
                                      {"tet", "tet"},
                                      {"qua_tet", "tet"},
                                      {"thien_tai", "disaster"},
                                      {"bao_lu", "disaster"},
                                      {"disaster", "disaster"},
                                      {"khac", "other"},
                                      {"other", "other"},
                                      {NULL, NULL}};
static const struct syn statuses[] = {{"ngheo", "poor"},
                                      {"ho_ngheo", "poor"},
                                      {"poor", "poor"},
                                      {"can_ngheo", "near_poor"},
                                      {"ho_can_ngheo", "near_poor"},
                                      {"near_poor", "near_poor"},
                                      {"trung_binh", "average"},
                                      {"muc_song_trung_binh", "average"},
                                      {"average", "average"},
                                      {"khong", "none"},
                                      {"none", "none"},
                                      {NULL, NULL}};
static const struct syn items[] = {{"dat", "land"},
                                   {"dat_o", "land"},
                                   {"land", "land"},
                                   {"nha_o", "housing"},
                                   {"nha", "housing"},
                                   {"housing", "housing"},
                                   {"nuoc", "water"},
                                   {"nuoc_sach", "water"},
                                   {"water", "water"},
                                   {"sinh_ke", "livelihood"},
                                   {"livelihood", "livelihood"},
                                   {NULL, NULL}};
/* in_kind: "true" and "false" as the wire's booleans. */
static const struct syn yes_no[] = {{"co", "true"},
                                    {"x", "true"},
                                    {"1", "true"},
                                    {"true", "true"},
                                    {"yes", "true"},
                                    {"hien_vat", "true"},
                                    {"in_kind", "true"},
                                    {"khong", "false"},
                                    {"0", "false"},
                                    {"false", "false"},
                                    {"no", "false"},
                                    {"tien_mat", "false"},
                                    {"chuyen_khoan", "false"},
                                    {"tien", "false"},
                                    {"cash", "false"},
                                    {"transfer", "false"},
                                    {NULL, NULL}};

struct fdesc {
    const char *name; /* --column, --set; the data field's wire name */
    enum fkind kind;
    const char *label[LANGS];
    /* Header keys, the best first (when two columns give the field, the
     * one whose header comes first here wins). */
    const char *const *headers;
    const char *shown; /* headers as a message lists them */
    const struct syn *values;
    const char *words[LANGS]; /* what to write, for messages */
};

#define H(...) ((const char *const[]){__VA_ARGS__, NULL})

static const struct fdesc fields[F_COUNT] = {
    [F_IGNORE] = {"-",
                  FK_NONE,
                  {"", ""},
                  H("stt", "tt", "so_thu_tu", "ghi_chu", "note", "notes",
                    "dia_chi", "address", "dien_thoai", "phone"),
                  "",
                  NULL,
                  {NULL, NULL}},
    [F_RECEIPT] = {"receipt",
                   FK_RECEIPT,
                   {"receipt number", "số biên lai"},
                   H("so_bien_lai", "bien_lai", "so_bl", "ma_bien_lai",
                     "so_chung_tu", "chung_tu", "receipt", "receipt_no",
                     "receipt_number", "id", "ma"),
                   "Số biên lai, Biên lai, Receipt",
                   NULL,
                   {NULL, NULL}},
    [F_AT] = {"date",
              FK_AT,
              {"date", "ngày"},
              H("ngay", "ngay_nhan", "ngay_ung_ho", "ngay_thang", "ngay_chi",
                "ngay_giai_ngan", "ngay_thu", "ngay_tra", "date", "at"),
              "Ngày, Ngày nhận, Date",
              NULL,
              {NULL, NULL}},
    [F_UNIT] = {"unit",
                FK_UNIT,
                {"unit", "đơn vị"},
                H("ma_don_vi", "ma_dv", "ma_xa", "unit_code", "don_vi", "unit"),
                "Mã đơn vị, Đơn vị, Unit",
                NULL,
                {NULL, NULL}},
    [F_HOUSEHOLD] = {"household",
                     FK_HOUSEHOLD,
                     {"household", "mã hộ"},
                     H("ma_ho", "ma_ho_gia_dinh", "household", "household_id"),
                     "Mã hộ, Household",
                     NULL,
                     {NULL, NULL}},
    [F_AMOUNT] = {"amount",
                  FK_AMOUNT,
                  {"amount", "số tiền"},
                  H("so_tien", "so_tien_vnd", "so_tien_dong", "so_tien_ung_ho",
                    "thanh_tien", "tien", "gia_tri", "amount"),
                  "Số tiền, Amount",
                  NULL,
                  {NULL, NULL}},
    [F_DONOR] = {"donor",
                 FK_TEXT,
                 {"donor", "người ủng hộ"},
                 H("ho_va_ten", "ho_ten", "ten_nguoi_ung_ho", "nguoi_ung_ho",
                   "nha_tai_tro", "nha_hao_tam", "don_vi_ung_ho",
                   "don_vi_ca_nhan_ung_ho", "ten", "donor", "name"),
                 "Họ và tên, Tên người ủng hộ, Donor",
                 NULL,
                 {NULL, NULL}},
    [F_DONOR_KIND] = {"donor_kind",
                      FK_ENUM,
                      {"donor kind", "loại người ủng hộ"},
                      H("loai", "loai_nguoi_ung_ho", "doi_tuong", "thanh_phan",
                        "loai_nha_tai_tro", "donor_kind", "kind"),
                      "Loại, Đối tượng, Donor kind",
                      donor_kinds,
                      {"Cá nhân, Tổ chức, Doanh nghiệp or Ẩn danh (person, "
                       "organisation, business, anonymous)",
                       "Cá nhân, Tổ chức, Doanh nghiệp hoặc Ẩn danh"}},
    [F_LEVEL] = {"level",
                 FK_ENUM,
                 {"level", "cấp"},
                 H("cap", "cap_tiep_nhan", "level"),
                 "Cấp, Level",
                 levels,
                 {"Trung ương, Tỉnh, Huyện or Xã (Phường, Thị trấn) (central, "
                  "province, district, commune)",
                  "Trung ương, Tỉnh, Huyện hoặc Xã (Phường, Thị trấn)"}},
    [F_PLEDGE] = {"pledge",
                  FK_TEXT,
                  {"pledge", "mã cam kết"},
                  H("ma_cam_ket", "cam_ket", "pledge"),
                  "Mã cam kết, Pledge",
                  NULL,
                  {NULL, NULL}},
    [F_IN_KIND] = {"in_kind",
                   FK_BOOL,
                   {"in kind", "hiện vật"},
                   H("hinh_thuc", "hien_vat", "in_kind"),
                   "Hình thức, Hiện vật, In kind",
                   yes_no,
                   {"Hiện vật or Tiền mặt, Chuyển khoản (or Có/Không, x, 1/0)",
                    "Hiện vật hoặc Tiền mặt, Chuyển khoản (hay Có/Không, x, "
                    "1/0)"}},
    [F_DUE] = {"due",
               FK_DATE,
               {"due date", "hạn"},
               H("han", "han_nop", "han_cam_ket", "due"),
               "Hạn, Due",
               NULL,
               {NULL, NULL}},
    [F_PURPOSE] = {"purpose",
                   FK_ENUM,
                   {"purpose", "mục đích"},
                   H("muc_dich", "noi_dung_chi", "purpose"),
                   "Mục đích, Purpose",
                   purposes,
                   {"Nhà ở, Sinh kế, Giáo dục, Y tế, Tết, Thiên tai or Khác "
                    "(housing, livelihood, education, health, tet, disaster, "
                    "other)",
                    "Nhà ở, Sinh kế, Giáo dục, Y tế, Tết, Thiên tai hoặc "
                    "Khác"}},
    [F_YEAR] = {"year",
                FK_YEAR,
                {"year", "năm"},
                H("nam", "year"),
                "Năm, Year",
                NULL,
                {NULL, NULL}},
    [F_STATUS] = {"status",
                  FK_ENUM,
                  {"status", "tình trạng"},
                  H("tinh_trang", "phan_loai", "status"),
                  "Tình trạng, Phân loại, Status",
                  statuses,
                  {"Nghèo, Cận nghèo, Trung bình or Không (poor, near_poor, "
                   "average, none)",
                   "Nghèo, Cận nghèo, Trung bình hoặc Không"}},
    [F_DECISION] = {"decision",
                    FK_TEXT,
                    {"decision", "quyết định"},
                    H("so_quyet_dinh", "quyet_dinh", "decision"),
                    "Số quyết định, Decision",
                    NULL,
                    {NULL, NULL}},
    [F_LOAN] = {"loan",
                FK_TEXT,
                {"loan", "khoản vay"},
                H("ma_khoan_vay", "so_khe_uoc", "khoan_vay", "loan"),
                "Mã khoản vay, Số khế ước, Loan",
                NULL,
                {NULL, NULL}},
    [F_PROGRAM] = {"program",
                   FK_TEXT,
                   {"programme", "chương trình"},
                   H("chuong_trinh", "program", "programme"),
                   "Chương trình, Program",
                   NULL,
                   {NULL, NULL}},
    [F_ORG] = {"org",
               FK_TEXT,
               {"organisation", "cơ quan"},
               H("co_quan", "org", "organisation"),
               "Cơ quan, Org",
               NULL,
               {NULL, NULL}},
    [F_REPORT] = {"report",
                  FK_TEXT,
                  {"report", "báo cáo"},
                  H("ten_bao_cao", "bao_cao", "report"),
                  "Báo cáo, Report",
                  NULL,
                  {NULL, NULL}},
    [F_ITEM] = {"item",
                FK_ENUM,
                {"support item", "hạng mục hỗ trợ"},
                H("hang_muc", "item"),
                "Hạng mục, Item",
                items,
                {"Đất, Nhà ở, Nước or Sinh kế (land, housing, water, "
                 "livelihood)",
                 "Đất, Nhà ở, Nước hoặc Sinh kế"}},
};

static const char *say(enum tl_lang lang, enum msg m)
{
    return msgs[m][lang == TL_LANG_VI ? 1 : 0];
}

static const char *label(enum tl_lang lang, enum field f)
{
    return fields[f].label[lang == TL_LANG_VI ? 1 : 0];
}

/* The wire value a cell's word means, or NULL. */
static const char *synonym(const struct syn *values, const char *cell)
{
    char key[128];

    snprintf(key, sizeof(key), "%s", cell);
    tl_fold_key(key);
    for (size_t i = 0; values[i].key != NULL; i++)
        if (strcmp(values[i].key, key) == 0)
            return values[i].wire;
    return NULL;
}

static enum field field_by_name(const char *name, size_t len)
{
    /* The wire's names too: "at" and "id". */
    if (len == 2 && memcmp(name, "at", 2) == 0)
        return F_AT;
    if (len == 2 && memcmp(name, "id", 2) == 0)
        return F_RECEIPT;
    for (int f = 0; f < F_COUNT; f++)
        if (strlen(fields[f].name) == len &&
            memcmp(fields[f].name, name, len) == 0)
            return (enum field)f;
    return F_COUNT;
}

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

/* Why a cell could not be read: a message of msgs[], M_COUNT when it
 * could. */
static enum msg parse_date(const char *s, int64_t *at)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
    const char *p = s;
    int64_t y, m, d;
    bool ok;

    if (*s == '\0')
        return M_EMPTY;
    if (digits(&p, 4, &y) == 4 && *p == '-') {
        p++;
        ok = digits(&p, 2, &m) == 2 && *p++ == '-' && digits(&p, 2, &d) == 2;
    } else {
        p = s;
        ok = digits(&p, 2, &d) >= 1 && *p++ == '/' && digits(&p, 2, &m) >= 1 &&
             *p++ == '/' && digits(&p, 4, &y) == 4;
    }
    if (!ok || *p != '\0')
        return M_NOT_DATE;
    if (m < 1 || m > 12 || d < 1 ||
        d > mdays[m - 1] + (m == 2 && leap(y) ? 1 : 0))
        return M_NOT_DAY;
    /* Midnight in Vietnam. */
    *at = days_from_civil(y, m, d) * 86400 - TL_VN_OFFSET;
    return M_COUNT;
}

int tl_parse_date(const char *s, int64_t *at, struct tl_error *err)
{
    switch (parse_date(s, at)) {
    case M_COUNT:
        return POVTRACK_OK;
    case M_EMPTY:
        return tl_fail(err, POVTRACK_EINVALID, "empty date");
    case M_NOT_DAY:
        return tl_fail(err, POVTRACK_EINVALID,
                       "\"%s\" is not a day of the calendar", s);
    default:
        return tl_fail(err, POVTRACK_EINVALID,
                       "\"%s\" is not a date: expected YYYY-MM-DD or "
                       "DD/MM/YYYY",
                       s);
    }
}

int tl_parse_time(const char *s, int64_t *t, struct tl_error *err)
{
    const char *p = s;
    int64_t y, h = 0, mi = 0, sec = 0, off = TL_VN_OFFSET;
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
    *t += TL_VN_OFFSET - off + h * 3600 + mi * 60 + sec;
    return POVTRACK_OK;
bad:
    return tl_fail(err, POVTRACK_EINVALID,
                   "\"%s\" is not a time: expected unix seconds, YYYY-MM-DD "
                   "(00:00 in Vietnam) or YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM] "
                   "(without an offset: Vietnam time)",
                   s);
}

/* One time field of obj given as text: unix seconds in its place. */
static int event_time(json_t *obj, const char *key, const char *path,
                      struct tl_error *err)
{
    json_t *v = json_object_get(obj, key);
    struct tl_error why = {{0}};
    int64_t t;

    if (!json_is_string(v))
        return 0;
    if (tl_parse_time(json_string_value(v), &t, &why) != 0)
        return tl_fail(err, POVTRACK_EINVALID, "%s: %s", path, why.msg);
    if (json_object_set_new(obj, key, json_integer(t)) != 0)
        return tl_fail(err, POVTRACK_ENOMEM, "out of memory");
    return 0;
}

int tl_event_times(json_t *ev, struct tl_error *err)
{
    json_t *data = json_object_get(ev, "data");
    int rc = event_time(ev, "at", "at", err);
    if (rc == 0 && json_is_object(data))
        rc = event_time(data, "effective", "data.effective", err);
    if (rc == 0 && json_is_object(data))
        rc = event_time(data, "due", "data.due", err);
    return rc;
}

/* Strip a currency suffix and the spaces before it; returns the length
 * of what remains. */
static size_t strip_currency(const char *s, size_t n)
{
    static const char *const suffixes[] = {"VND", "vnd", "VNĐ", "vnđ",
                                           "đ",   "₫",   "Đ",   "đồng"};

    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        size_t k = strlen(suffixes[i]);
        if (n > k && memcmp(s + n - k, suffixes[i], k) == 0) {
            n -= k;
            for (;;) {
                if (n > 0 && s[n - 1] == ' ')
                    n--;
                else if (n > 1 && memcmp(s + n - 2, "\xC2\xA0", 2) == 0)
                    n -= 2; /* a no-break space */
                else
                    return n;
            }
        }
    }
    return n;
}

static enum msg parse_vnd(const char *s, int64_t *amount)
{
    size_t n = strip_currency(s, strlen(s));
    char sep = 0;
    size_t nsep = 0, group = 0, first = 0;
    bool mixed = false;
    int64_t v = 0;

    if (n == 0)
        return s[0] == '\0' ? M_EMPTY : M_NOT_AMOUNT;
    if (s[0] == '-')
        return M_NEGATIVE;
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
            return M_NOT_AMOUNT;
        }
    }
    if (mixed || (nsep == 1 && group != 3))
        return M_DECIMALS;
    if (nsep > 0 && (first == 0 || first > 3 || group != 3))
        return M_SEPARATOR;
    if (nsep > 1) {
        /* Every inner group must have three digits as well. */
        size_t run = 0;
        for (size_t i = 0, seen = 0; i < n; i++) {
            if (s[i] == sep) {
                if (seen++ > 0 && run != 3)
                    return M_SEPARATOR;
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
            return M_TOO_LARGE;
        v = v * 10 + (s[i] - '0');
    }
    *amount = v;
    return M_COUNT;
}

int tl_parse_vnd(const char *s, int64_t *amount, struct tl_error *err)
{
    switch (parse_vnd(s, amount)) {
    case M_COUNT:
        return POVTRACK_OK;
    case M_EMPTY:
        return tl_fail(err, POVTRACK_EINVALID, "empty amount");
    case M_NEGATIVE:
        return tl_fail(err, POVTRACK_EINVALID, "negative amount \"%s\"", s);
    case M_DECIMALS:
        return tl_fail(err, POVTRACK_EINVALID,
                       "\"%s\" has decimals: amounts are whole VND", s);
    case M_SEPARATOR:
        return tl_fail(err, POVTRACK_EINVALID,
                       "\"%s\": misplaced thousands separator", s);
    case M_TOO_LARGE:
        return tl_fail(err, POVTRACK_EINVALID, "\"%s\" is too large", s);
    default:
        return tl_fail(err, POVTRACK_EINVALID, "\"%s\" is not an amount in VND",
                       s);
    }
}

static enum msg parse_year(const char *s, int64_t *year)
{
    const char *p = s;

    if (*s == '\0')
        return M_EMPTY;
    if (digits(&p, 4, year) != 4 || *p != '\0')
        return M_NOT_YEAR;
    return M_COUNT;
}

/* ---- hashes ----------------------------------------------------------- */

static uint32_t fnv32(const void *p, size_t n, uint32_t h)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

static uint64_t fnv64(const void *p, size_t n, uint64_t h)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * UINT64_C(1099511628211);
    return h;
}

#define FNV32_BASIS 2166136261u
#define FNV64_BASIS UINT64_C(14695981039346656037)

/* s folded to [a-z0-9-] for an id ("BL/2024-012" -> "bl-2024-012"), at
 * most max bytes (a longer one cut and a hash of it appended); "" when it
 * has no letter or digit. */
static void id_slug(const char *s, char *out, size_t max)
{
    char buf[512];
    size_t o = 0;

    snprintf(buf, sizeof(buf), "%s", s);
    tl_fold_key(buf);
    for (const char *p = buf; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        bool word = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (word)
            buf[o++] = (char)c;
        else if (o > 0 && buf[o - 1] != '-')
            buf[o++] = '-';
    }
    while (o > 0 && buf[o - 1] == '-')
        o--;
    buf[o] = '\0';
    if (o <= max) {
        memcpy(out, buf, o + 1);
        return;
    }
    snprintf(out, max + 1, "%.*s-%08" PRIx32, (int)(max - 9), buf,
             fnv32(buf, o, FNV32_BASIS));
}

/* ---- the importer ----------------------------------------------------- */

/* A value given on the command line for a field (--set, --unit). */
struct given {
    const char *option; /* "--set donor_kind", "--unit" */
    const char *value;
};

struct importer {
    const struct tl_import_opts *o;
    struct tl_import_sheet *s;
    struct tl_error *err;
    enum ev_type type;
    const char *type_name;
    char publisher_hash[9];
    /* The header, as written, and each column's field. */
    char **header;
    size_t ncols;
    enum field *map;
    long col_of[F_COUNT]; /* the column giving each field, -1: none */
    struct given given[F_COUNT];
    char set_option[F_COUNT][48];
    bool takes[F_COUNT]; /* the type takes the field */
    /* The row in hand, for the call only (tl_csv owns the cells). */
    size_t row;
    char **cells;
    size_t ncells;
    bool row_bad;
};

static int nomem(struct tl_error *err)
{
    return tl_fail(err, POVTRACK_ENOMEM, "out of memory");
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static char *vformat(const char *fmt, va_list ap)
{
    va_list copy;
    int n;
    char *p;

    va_copy(copy, ap);
    n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0 || (p = malloc((size_t)n + 1)) == NULL)
        return NULL;
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

static char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *format(const char *fmt, ...)
{
    va_list ap;
    char *p;

    va_start(ap, fmt);
    p = vformat(fmt, ap);
    va_end(ap);
    return p;
}

/* Record a problem of row (0: the sheet) at column (the header or the
 * option; NULL: the row as a whole) with value, in row order. */
static int add_problem(struct tl_import_sheet *s, size_t row,
                       const char *column, const char *value,
                       const char *reason, struct tl_error *err)
{
    struct tl_import_problem p = {row, NULL, NULL, NULL, NULL}, *a;
    size_t at;
    bool option = column != NULL && column[0] == '-';

    p.column = dup_or_null(column);
    p.value = dup_or_null(value);
    p.reason = strdup(reason);
    if (row == 0)
        p.text = strdup(reason);
    else if (column == NULL)
        p.text = format(say(s->lang, M_AT_ROW), row, reason);
    else
        p.text = format(say(s->lang, option ? M_AT_OPTION : M_AT_CELL), row,
                        column, reason);
    a = realloc(s->problems, (s->nproblems + 1) * sizeof(*a));
    if (a == NULL || p.reason == NULL || p.text == NULL ||
        (column != NULL && p.column == NULL) ||
        (value != NULL && p.value == NULL)) {
        if (a != NULL)
            s->problems = a;
        free(p.column);
        free(p.value);
        free(p.reason);
        free(p.text);
        return nomem(err);
    }
    s->problems = a;
    for (at = s->nproblems; at > 0 && a[at - 1].row > row; at--)
        ;
    memmove(a + at + 1, a + at, (s->nproblems - at) * sizeof(*a));
    a[at] = p;
    s->nproblems++;
    return POVTRACK_OK;
}

static int add_note(struct tl_import_sheet *s, char *note, struct tl_error *err)
{
    char **a;

    if (note == NULL)
        return nomem(err);
    a = realloc(s->notes, (s->nnotes + 1) * sizeof(*a));
    if (a == NULL) {
        free(note);
        return nomem(err);
    }
    s->notes = a;
    s->notes[s->nnotes++] = note;
    return POVTRACK_OK;
}

/* A problem of the row in hand at the column giving f (or the option that
 * gave it, or the row). */
static int row_problem(struct importer *im, enum field f, const char *value,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int row_problem(struct importer *im, enum field f, const char *value,
                       const char *fmt, ...)
{
    const char *column = NULL;
    char option[96];
    va_list ap;
    char *reason;
    int rc;

    if (f != F_COUNT && im->col_of[f] >= 0 &&
        (size_t)im->col_of[f] < im->ncells &&
        im->cells[im->col_of[f]][0] != '\0') {
        column = im->header[im->col_of[f]];
    } else if (f != F_COUNT && im->given[f].option != NULL) {
        snprintf(option, sizeof(option), "%s %s", im->given[f].option,
                 im->given[f].value);
        column = option;
    } else if (f != F_COUNT && im->col_of[f] >= 0) {
        column = im->header[im->col_of[f]];
    }
    va_start(ap, fmt);
    reason = vformat(fmt, ap);
    va_end(ap);
    if (reason == NULL)
        return nomem(im->err);
    im->row_bad = true;
    rc = add_problem(im->s, im->row, column, value, reason, im->err);
    free(reason);
    return rc;
}

/* --column FIELD=Header, --id-column Header: the column a field comes
 * from. */
static int map_option(struct importer *im, const char *spec, bool *mapped)
{
    const char *eq = strchr(spec, '=');
    enum field f;
    char key[256];
    size_t c;

    if (eq == NULL || eq == spec)
        return tl_fail(im->err, POVTRACK_EINVALID,
                       "--column %s: write FIELD=HEADER", spec);
    f = field_by_name(spec, (size_t)(eq - spec));
    if (f == F_COUNT)
        return tl_fail(im->err, POVTRACK_EINVALID,
                       "--column %s: no field \"%.*s\" (fields: receipt date "
                       "unit household amount donor donor_kind level pledge "
                       "in_kind due purpose year status decision loan "
                       "program org report item, or - to ignore a column)",
                       spec, (int)(eq - spec), spec);
    snprintf(key, sizeof(key), "%s", eq + 1);
    tl_fold_key(key);
    for (c = 0; c < im->ncols; c++) {
        char hk[256];
        snprintf(hk, sizeof(hk), "%s", im->header[c]);
        tl_fold_key(hk);
        if (strcmp(hk, key) == 0)
            break;
    }
    if (c == im->ncols)
        return tl_fail(im->err, POVTRACK_EINVALID,
                       "--column %s: the sheet has no column \"%s\"", spec,
                       eq + 1);
    if (f != F_IGNORE && im->col_of[f] >= 0)
        return tl_fail(im->err, POVTRACK_EINVALID,
                       "--column %s: column \"%s\" gives %s already", spec,
                       im->header[im->col_of[f]], fields[f].name);
    im->map[c] = f;
    mapped[c] = true;
    if (f != F_IGNORE)
        im->col_of[f] = (long)c;
    return POVTRACK_OK;
}

/* The field a header means, and how good a match (lower is better). */
static enum field field_of_header(const char *key, size_t *rank)
{
    for (int f = 0; f < F_COUNT; f++)
        for (size_t i = 0; fields[f].headers[i] != NULL; i++)
            if (strcmp(fields[f].headers[i], key) == 0) {
                *rank = i;
                return (enum field)f;
            }
    return F_COUNT;
}

/* Is field f given for every row: by a column, an option, or derived? */
static bool covered(const struct importer *im, enum field f)
{
    if (im->col_of[f] >= 0 || im->given[f].option != NULL)
        return true;
    /* The level of the row's unit. */
    return f == F_LEVEL;
}

/* The fields the event type needs that the sheet does not give: one
 * problem each, naming the unknown columns that could be it. */
static int check_required(struct importer *im, char **unknown, size_t nunknown)
{
    enum tl_lang lang = im->o->lang;
    int rc = 0, missing = 0;

    for (int f = F_AT; rc == 0 && f < F_COUNT; f++) {
        bool required =
            f == F_AT || f == F_UNIT ||
            ev_field_rule(im->type, fields[f].name) == EV_RULE_REQUIRED;
        char *text;

        if (!required || covered(im, (enum field)f))
            continue;
        missing++;
        if (f == F_UNIT)
            text = format(say(lang, M_NO_UNIT_COLUMN), fields[f].shown);
        else if (nunknown > 0)
            text = format(say(lang, M_NO_COLUMN_UNKNOWN), unknown[0],
                          label(lang, (enum field)f), fields[f].shown,
                          fields[f].name, unknown[0]);
        else if (fields[f].kind == FK_ENUM || fields[f].kind == FK_BOOL)
            text =
                format(say(lang, M_NO_COLUMN_SET), label(lang, (enum field)f),
                       fields[f].shown, fields[f].name);
        else
            text = format(say(lang, M_NO_COLUMN), label(lang, (enum field)f),
                          fields[f].shown, fields[f].name);
        if (text == NULL)
            return nomem(im->err);
        rc = add_problem(im->s, 0, NULL, NULL, text, im->err);
        free(text);
    }
    if (rc == 0 && missing > 0)
        rc = tl_fail(im->err, POVTRACK_EINVALID,
                     lang == TL_LANG_VI
                         ? "bảng thiếu %d cột cần có: không nhập được"
                         : "the sheet lacks %d column%s it needs: nothing "
                           "imported",
                     missing, lang == TL_LANG_VI || missing == 1 ? "" : "s");
    return rc;
}

/* The header row (tl_csv_sink.header): keep it, map its columns. */
static int build_map(void *arg, char **names, size_t ncols)
{
    struct importer *im = arg;
    enum tl_lang lang = im->o->lang;
    size_t rank[F_COUNT] = {0};
    char **unknown = NULL;
    size_t nunknown = 0;
    bool *mapped;
    int rc = 0;

    im->header = names;
    im->ncols = ncols;
    im->map = calloc(ncols > 0 ? ncols : 1, sizeof(*im->map));
    mapped = calloc(ncols > 0 ? ncols : 1, sizeof(*mapped));
    unknown = calloc(ncols > 0 ? ncols : 1, sizeof(*unknown));
    if (im->map == NULL || mapped == NULL || unknown == NULL) {
        free(mapped);
        free(unknown);
        return nomem(im->err);
    }
    for (size_t i = 0; rc == 0 && i < im->o->ncolumns; i++)
        rc = map_option(im, im->o->columns[i], mapped);
    if (rc == 0 && im->o->id_column != NULL) {
        char *spec = format("receipt=%s", im->o->id_column);
        rc = spec != NULL ? map_option(im, spec, mapped) : nomem(im->err);
        free(spec);
    }
    for (size_t c = 0; rc == 0 && c < ncols; c++) {
        char key[512];
        size_t r = 0;
        enum field f;

        if (mapped[c])
            continue;
        snprintf(key, sizeof(key), "%s", names[c]);
        tl_fold_key(key);
        f = field_of_header(key, &r);
        if (f == F_COUNT) {
            if (key[0] != '\0')
                unknown[nunknown++] = names[c];
            continue;
        }
        if (f == F_IGNORE)
            continue;
        if (!im->takes[f]) {
            rc = add_note(im->s,
                          format(say(lang, N_NOT_TAKEN), names[c],
                                 im->type_name, label(lang, f)),
                          im->err);
            continue;
        }
        if (im->col_of[f] >= 0 && (mapped[im->col_of[f]] || rank[f] <= r)) {
            rc = add_note(im->s,
                          format(say(lang, N_OTHER_GIVES), names[c],
                                 names[im->col_of[f]], label(lang, f)),
                          im->err);
            continue;
        }
        if (im->col_of[f] >= 0) {
            /* This header says it better ("Mã đơn vị" over "Đơn vị"). */
            size_t old = (size_t)im->col_of[f];
            im->map[old] = F_IGNORE;
            rc = add_note(im->s,
                          format(say(lang, N_OTHER_GIVES), names[old], names[c],
                                 label(lang, f)),
                          im->err);
        }
        im->map[c] = f;
        im->col_of[f] = (long)c;
        rank[f] = r;
    }
    /* A column given by --column for a field the type does not take. */
    for (int f = F_RECEIPT; rc == 0 && f < F_COUNT; f++)
        if (im->col_of[f] >= 0 && !im->takes[f])
            rc = tl_fail(im->err, POVTRACK_EINVALID, say(lang, M_NOT_TAKEN),
                         names[im->col_of[f]], im->type_name,
                         label(lang, (enum field)f));
    if (rc == 0 && im->col_of[F_UNIT] >= 0)
        snprintf(im->s->unit_column, sizeof(im->s->unit_column), "%s",
                 names[im->col_of[F_UNIT]]);
    if (rc == 0)
        rc = check_required(im, unknown, nunknown);
    for (size_t i = 0; rc == 0 && i < nunknown; i++)
        rc = add_note(im->s, format(say(lang, N_IGNORED), unknown[i]), im->err);
    free(mapped);
    free(unknown);
    return rc;
}

/* ---- one row ---------------------------------------------------------- */

/* The cell giving f in the row in hand, or the value given for it, or ""
 * (and *from_option says which). */
static const char *value_of(const struct importer *im, enum field f,
                            bool *from_option)
{
    long c = im->col_of[f];
    const char *cell = c >= 0 && (size_t)c < im->ncells ? im->cells[c] : "";

    *from_option = cell[0] == '\0' && im->given[f].option != NULL;
    return *from_option ? im->given[f].value : cell;
}

static int set(json_t *obj, const char *key, json_t *v, struct tl_error *err)
{
    if (v == NULL || json_object_set_new(obj, key, v) != 0)
        return tl_fail(err, POVTRACK_ENOMEM, "out of memory building an event");
    return POVTRACK_OK;
}

/* Read field f's value v (not empty) into the event; a problem of the row
 * when it cannot be read.  *at and *unit for the caller. */
static int read_field(struct importer *im, enum field f, const char *v,
                      json_t *ev, json_t *data, int64_t *at, const char **unit,
                      const char **receipt)
{
    enum tl_lang lang = im->o->lang;
    const struct fdesc *fd = &fields[f];
    const char *wire;
    enum msg why;
    int64_t n = 0;

    switch (fd->kind) {
    case FK_RECEIPT:
        *receipt = v;
        return POVTRACK_OK;
    case FK_AT:
        if ((why = parse_date(v, at)) != M_COUNT)
            return row_problem(im, f, v, say(lang, why), v);
        return set(ev, "at", json_integer(*at), im->err);
    case FK_UNIT:
        *unit = v;
        return set(ev, "unit", json_string(v), im->err);
    case FK_HOUSEHOLD:
        return set(ev, "household", json_string(v), im->err);
    case FK_AMOUNT:
        if ((why = parse_vnd(v, &n)) != M_COUNT)
            return row_problem(im, f, v, say(lang, why), v);
        return set(data, fd->name, json_integer(n), im->err);
    case FK_DATE:
        if ((why = parse_date(v, &n)) != M_COUNT)
            return row_problem(im, f, v, say(lang, why), v);
        return set(data, fd->name, json_integer(n), im->err);
    case FK_YEAR:
        if ((why = parse_year(v, &n)) != M_COUNT)
            return row_problem(im, f, v, say(lang, why), v);
        return set(data, fd->name, json_integer(n), im->err);
    case FK_ENUM:
        if ((wire = synonym(fd->values, v)) == NULL)
            return row_problem(im, f, v, say(lang, M_NOT_VALUE), v,
                               label(lang, f), fd->words[lang]);
        return set(data, fd->name, json_string(wire), im->err);
    case FK_BOOL:
        if ((wire = synonym(fd->values, v)) == NULL)
            return row_problem(im, f, v, say(lang, M_NOT_BOOL), v,
                               fd->words[lang]);
        return set(data, fd->name, json_boolean(wire[0] == 't'), im->err);
    case FK_TEXT:
        return set(data, fd->name, json_string(v), im->err);
    case FK_NONE:
        break;
    }
    return POVTRACK_OK;
}

/* The field of an ev_decode path ("at", "data.amount"...), F_COUNT when
 * none of the sheet's. */
static enum field field_of_path(const char *msg)
{
    const char *colon = strchr(msg, ':');
    size_t n = colon != NULL ? (size_t)(colon - msg) : 0;

    if (n > 5 && memcmp(msg, "data.", 5) == 0)
        return field_by_name(msg + 5, n - 5);
    if (n == 2 && memcmp(msg, "at", 2) == 0)
        return F_AT;
    if (n == 4 && memcmp(msg, "unit", 4) == 0)
        return F_UNIT;
    if (n == 9 && memcmp(msg, "household", 9) == 0)
        return F_HOUSEHOLD;
    return F_COUNT;
}

/* The catalogue refused the row's event: say so at the cell the field
 * came from, in words for it. */
static int rejected(struct importer *im, const struct ev_error *e)
{
    enum tl_lang lang = im->o->lang;
    enum field f = field_of_path(e->msg);
    const char *colon = strchr(e->msg, ':');
    const char *detail = colon != NULL ? colon + 2 : e->msg;
    bool from_option;
    const char *v = f != F_COUNT ? value_of(im, f, &from_option) : NULL;

    (void)from_option;
    if (f == F_COUNT)
        return row_problem(im, F_COUNT, NULL, say(lang, M_REJECTED), e->msg);
    switch (e->why) {
    case EV_WHY_TOO_LATE:
        return row_problem(im, f, v, say(lang, M_FUTURE), v);
    case EV_WHY_TOO_EARLY:
        return row_problem(im, f, v, say(lang, M_PAST), v);
    case EV_WHY_RANGE:
        if (f == F_AMOUNT)
            return row_problem(im, f, v, say(lang, M_NOT_POSITIVE), v);
        return row_problem(im, f, v, say(lang, M_RANGE), v, detail);
    case EV_WHY_TOO_LONG: {
        size_t max = f == F_HOUSEHOLD ? EV_HOUSEHOLD_MAX : EV_TEXT_MAX;
        return row_problem(im, f, v, say(lang, M_TOO_LONG), strlen(v), max,
                           max / 3);
    }
    case EV_WHY_FORMAT:
        if (f == F_UNIT)
            return row_problem(im, f, v, say(lang, M_NOT_UNIT), v);
        break;
    default:
        break;
    }
    return row_problem(im, f, v, say(lang, M_REJECTED), detail);
}

/* The canonical bytes of event without its id (what makes two rows, or a
 * row and a record of the log, the same), checked by the catalogue with
 * "at" up to max_at.  POVTRACK_EINVALID with e set when it is not a valid
 * event. */
static int canonical(const msgpack_object *event, int64_t max_at,
                     unsigned char **out, size_t *len, struct ev_error *e,
                     struct tl_error *err)
{
    struct ev_event ev;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int rc = ev_decode(event, max_at, &ev, e);

    if (rc != POVTRACK_OK)
        return rc == POVTRACK_EINVALID ? rc : nomem(err);
    ev.id.ptr = "-";
    ev.id.len = 1;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (ev_encode(&ev, &pk) != POVTRACK_OK) {
        msgpack_sbuffer_destroy(&sb);
        return nomem(err);
    }
    *len = sb.size;
    *out = (unsigned char *)msgpack_sbuffer_release(&sb);
    return *out != NULL ? POVTRACK_OK : nomem(err);
}

/* The same for an event built here, as JSON. */
static int canonical_json(const json_t *event, int64_t max_at,
                          unsigned char **out, size_t *len, struct ev_error *e,
                          struct tl_error *err)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked up;
    size_t off = 0;
    int rc;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_unpacked_init(&up);
    rc = tl_json_pack(event, &pk, err);
    if (rc == 0 && msgpack_unpack_next(&up, sb.data, sb.size, &off) !=
                       MSGPACK_UNPACK_SUCCESS)
        rc = nomem(err);
    if (rc == 0)
        rc = canonical(&up.data, max_at, out, len, e, err);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* The id of a good row: from its receipt number, else from its content
 * (see tl_import.h). */
static int make_id(struct importer *im, struct tl_import_row *r)
{
    char key[RECEIPT_MAX + 8];

    if (r->receipt != NULL) {
        char slug[RECEIPT_MAX + 1];
        id_slug(r->receipt, slug, RECEIPT_MAX);
        if (slug[0] == '\0')
            return row_problem(im, F_RECEIPT, r->receipt,
                               say(im->o->lang, M_RECEIPT_EMPTY), r->receipt);
        snprintf(key, sizeof(key), "bl-%s", slug);
    } else {
        const char *p = im->o->publisher;
        uint64_t h = fnv64(p, strlen(p) + 1, FNV64_BASIS);
        h = fnv64(r->content, r->content_len, h);
        snprintf(key, sizeof(key), "h%016" PRIx64, h);
    }
    snprintf(r->id, sizeof(r->id), "%s%s", im->s->prefix, key);
    return POVTRACK_OK;
}

/* A row already kept with the id r would get (before any occurrence
 * suffix): the first such, or NULL. */
static const struct tl_import_row *same_id(const struct tl_import_sheet *s,
                                           const char *id)
{
    for (size_t i = 0; i < s->nrows; i++)
        if (s->rows[i].repeats == 0 && strcmp(s->rows[i].id, id) == 0)
            return &s->rows[i];
    return NULL;
}

/* Keep a good row, or say what it repeats. */
static int keep_row(struct importer *im, struct tl_import_row *r)
{
    struct tl_import_sheet *s = im->s;
    const struct tl_import_row *first = same_id(s, r->id);
    struct tl_import_row *a;
    size_t n = 1;

    if (first != NULL && (first->content_len != r->content_len ||
                          memcmp(first->content, r->content, r->content_len)))
        return row_problem(im, F_RECEIPT, r->receipt,
                           say(im->o->lang, M_RECEIPT_TWICE), r->receipt,
                           first->row);
    if (first != NULL && im->o->allow_duplicate_rows) {
        /* The n-th of identical rows gets ".n" (a slug never holds a
         * '.'), stable as long as the sheet keeps that many. */
        char base[96]; /* an id before the suffix: at most 89 bytes */
        size_t blen;

        snprintf(base, sizeof(base), "%.95s", r->id);
        blen = strlen(base);
        for (size_t i = 0; i < s->nrows; i++)
            n += strncmp(s->rows[i].id, base, blen) == 0 &&
                 (s->rows[i].id[blen] == '\0' || s->rows[i].id[blen] == '.');
        snprintf(r->id, sizeof(r->id), "%.95s.%zu", base, n);
        int rc = add_note(
            s,
            format(say(im->o->lang, N_REPEATS_KEPT), r->row, first->row, r->id),
            im->err);
        if (rc != 0)
            return rc;
    } else if (first != NULL) {
        r->repeats = first->row;
        int rc =
            add_note(s,
                     format(say(im->o->lang, N_REPEATS), r->row, first->row,
                            im->o->allow_duplicates_how != NULL
                                ? im->o->allow_duplicates_how
                                : say(im->o->lang, N_ALLOW_DUPLICATES)),
                     im->err);
        if (rc != 0)
            return rc;
    }
    if (json_object_set_new(r->event, "id", json_string(r->id)) != 0)
        return nomem(im->err);
    a = realloc(s->rows, (s->nrows + 1) * sizeof(*a));
    if (a == NULL)
        return nomem(im->err);
    s->rows = a;
    s->rows[s->nrows++] = *r;
    memset(r, 0, sizeof(*r));
    return POVTRACK_OK;
}

static void row_free(struct tl_import_row *r)
{
    free(r->receipt);
    json_decref(r->event);
    free(r->content);
    json_decref(r->stored);
}

/* The unit of a row not kept for its problems, for the unit check. */
static int add_bad_row_unit(struct tl_import_sheet *s, size_t row,
                            const char *code, struct tl_error *err)
{
    struct tl_import_unit_ref *a =
        realloc(s->bad_row_units, (s->nbad_row_units + 1) * sizeof(*a));

    if (a == NULL)
        return nomem(err);
    s->bad_row_units = a;
    a[s->nbad_row_units].row = row;
    snprintf(a[s->nbad_row_units].code, sizeof(a->code), "%s", code);
    s->nbad_row_units++;
    return 0;
}

/* A data row (tl_csv_sink.row): checked, kept when good. */
static int read_row(void *arg, size_t row, char **cells, size_t ncells)
{
    struct importer *im = arg;
    enum tl_lang lang = im->o->lang;
    struct tl_import_row r;
    json_t *data = json_object();
    const char *unit = NULL, *receipt = NULL;
    struct ev_error e = {0};
    int64_t at = 0;
    int rc = 0;

    memset(&r, 0, sizeof(r));
    r.row = row;
    r.event = json_object();
    im->row = row;
    im->cells = cells;
    im->ncells = ncells;
    im->row_bad = false;
    im->s->data_rows++;
    if (r.event == NULL || data == NULL) {
        json_decref(data);
        json_decref(r.event);
        return nomem(im->err);
    }
    if (ncells > im->ncols) {
        rc = row_problem(im, F_COUNT, NULL, say(lang, M_CELLS), ncells,
                         im->ncols);
        goto out;
    }
    /* The envelope first, in the wire's order; the id comes last. */
    rc = set(r.event, "v", json_integer(EV_VERSION), im->err);
    if (rc == 0)
        rc = set(r.event, "id", json_string("-"), im->err);
    if (rc == 0)
        rc = set(r.event, "type", json_string(im->type_name), im->err);
    for (int f = F_RECEIPT; rc == 0 && f < F_COUNT; f++) {
        bool from_option;
        const char *v;

        if (!im->takes[f])
            continue;
        v = value_of(im, (enum field)f, &from_option);
        if (v[0] != '\0') {
            rc = read_field(im, (enum field)f, v, r.event, data, &at, &unit,
                            &receipt);
            continue;
        }
        /* An empty cell: the field is absent, which a required field may
         * not be (the level of the unit stands in for a level, below). */
        if (f != F_LEVEL &&
            (f == F_AT || f == F_UNIT ||
             ev_field_rule(im->type, fields[f].name) == EV_RULE_REQUIRED))
            rc = row_problem(im, (enum field)f, NULL, say(lang, M_EMPTY),
                             label(lang, (enum field)f));
    }
    if (rc != 0 || im->row_bad)
        goto out;
    if (im->takes[F_LEVEL] && json_object_get(data, "level") == NULL &&
        unit != NULL && tl_unit_level(unit) != NULL)
        rc = set(data, "level", json_string(tl_unit_level(unit)), im->err);
    if (rc == 0 && json_object_set(r.event, "data", data) != 0)
        rc = nomem(im->err);
    if (rc != 0)
        goto out;
    rc = canonical_json(r.event, im->o->now + EV_AT_SLACK, &r.content,
                        &r.content_len, &e, im->err);
    if (rc == POVTRACK_EINVALID) {
        rc = rejected(im, &e);
        goto out;
    }
    if (rc == 0 && receipt != NULL && (r.receipt = strdup(receipt)) == NULL)
        rc = nomem(im->err);
    if (rc == 0)
        rc = make_id(im, &r);
    if (rc == 0 && !im->row_bad)
        rc = keep_row(im, &r);
out:
    if (rc == 0 && im->row_bad && unit != NULL && tl_unit_level(unit) != NULL)
        rc = add_bad_row_unit(im->s, row, unit, im->err);
    json_decref(data);
    row_free(&r);
    return rc;
}

/* ---- the sheet -------------------------------------------------------- */

/* --set FIELD=value: checked now, as a cell would be. */
static int set_option(struct importer *im, const char *spec)
{
    const char *eq = strchr(spec, '=');
    enum field f;

    if (eq == NULL || eq == spec || eq[1] == '\0')
        return tl_fail(im->err, POVTRACK_EINVALID,
                       "--set %s: write FIELD=VALUE", spec);
    f = field_by_name(spec, (size_t)(eq - spec));
    if (f == F_COUNT || f == F_IGNORE || f == F_RECEIPT)
        return tl_fail(im->err, POVTRACK_EINVALID,
                       "--set %s: no field \"%.*s\" to set (fields: date unit "
                       "household amount donor donor_kind level pledge "
                       "in_kind due purpose year status decision loan "
                       "program org report item)",
                       spec, (int)(eq - spec), spec);
    if (!im->takes[f])
        return tl_fail(im->err, POVTRACK_EINVALID, "--set %s: %s takes no %s",
                       spec, im->type_name, fields[f].name);
    if (im->given[f].option != NULL)
        return tl_fail(im->err, POVTRACK_EINVALID,
                       "--set %s: %s is given twice", spec, fields[f].name);
    snprintf(im->set_option[f], sizeof(im->set_option[f]), "--set %s",
             fields[f].name);
    im->given[f].option = im->set_option[f];
    im->given[f].value = eq + 1;
    /* Read it once as a cell, so that a bad value stops here. */
    json_t *ev = json_object(), *data = json_object();
    const char *unit = NULL, *receipt = NULL;
    int64_t at;
    int rc = ev != NULL && data != NULL ? 0 : nomem(im->err);
    size_t before = im->s->nproblems;

    im->row = 0;
    im->ncells = 0;
    if (rc == 0)
        rc = read_field(im, f, eq + 1, ev, data, &at, &unit, &receipt);
    if (rc == 0 && im->s->nproblems > before)
        rc = tl_fail(im->err, POVTRACK_EINVALID, "--set %s: %s", spec,
                     im->s->problems[before].reason);
    json_decref(ev);
    json_decref(data);
    return rc;
}

static int sheet_prefix(struct importer *im)
{
    const char *sheet = im->o->sheet != NULL ? im->o->sheet : im->type_name;
    char slug[TL_IMPORT_SHEET_MAX + 1];
    const char *pub = im->o->publisher;

    id_slug(sheet, slug, TL_IMPORT_SHEET_MAX);
    if (slug[0] == '\0')
        return tl_fail(im->err, POVTRACK_EINVALID,
                       "--sheet %s: a sheet's name needs a letter or a digit",
                       sheet);
    snprintf(im->s->prefix, sizeof(im->s->prefix), "csv-%08" PRIx32 "-%s-",
             fnv32(pub, strlen(pub), FNV32_BASIS), slug);
    return POVTRACK_OK;
}

bool tl_import_type_ok(const char *name)
{
    enum ev_type t = ev_type_from_name(name, strlen(name));

    return t != EV_TYPE_NONE && t != EV_UNIT_DEFINED && t != EV_UNIT_CHANGED &&
           t != EV_HOUSEHOLD_ASSESSED;
}

int tl_import_read(FILE *in, const struct tl_import_opts *o,
                   struct tl_import_sheet *s, struct tl_error *err)
{
    struct importer im;
    struct tl_csv_sink sink = {&im, build_map, read_row};
    struct tl_csv_opts copts = {o->delim, o->encoding};
    int rc = 0;

    memset(s, 0, sizeof(*s));
    memset(&im, 0, sizeof(im));
    s->lang = o->lang;
    im.o = o;
    im.s = s;
    im.err = err;
    im.type_name = o->type != NULL ? o->type : TL_IMPORT_DEFAULT_TYPE;
    im.type = ev_type_from_name(im.type_name, strlen(im.type_name));
    if (!tl_import_type_ok(im.type_name))
        return tl_fail(err, POVTRACK_EINVALID,
                       "--type %s: not a type a spreadsheet can give "
                       "(units: povtrack units import, povtrack unitmap)",
                       im.type_name);
    snprintf(s->type, sizeof(s->type), "%s", im.type_name);
    if (o->publisher == NULL || o->publisher[0] == '\0')
        return tl_fail(err, POVTRACK_EINVALID, "no publisher name for ids");
    for (int f = 0; f < F_COUNT; f++) {
        im.col_of[f] = -1;
        im.takes[f] = f == F_RECEIPT || f == F_AT || f == F_UNIT ||
                      ev_field_rule(im.type, fields[f].name) != EV_RULE_NONE;
    }
    if (o->unit != NULL) {
        im.given[F_UNIT].option = "--unit";
        im.given[F_UNIT].value = o->unit;
        snprintf(s->unit_default, sizeof(s->unit_default), "%s", o->unit);
    }
    rc = sheet_prefix(&im);
    for (size_t i = 0; rc == 0 && i < o->nsets; i++)
        rc = set_option(&im, o->sets[i]);
    if (rc == 0)
        rc = tl_csv_read(in, &copts, &sink, err);
    tl_csv_free(im.header, im.ncols);
    free(im.map);
    return rc;
}

/* ---- correction sheets ------------------------------------------------ */

enum fix_col { X_TARGET, X_FIELD, X_VALUE, X_REASON, X_COUNT };

static const char *const *const fix_headers[X_COUNT] = {
    [X_TARGET] = H("so_bien_lai", "bien_lai", "so_bl", "ma_bien_lai", "receipt",
                   "receipt_number", "id", "ma", "ban_ghi", "record"),
    [X_FIELD] = H("truong", "truong_sua", "cot", "field", "column"),
    [X_VALUE] = H("gia_tri_moi", "gia_tri", "sua_thanh", "new_value", "value"),
    [X_REASON] = H("ly_do", "ly_do_sua", "reason", "why"),
};
static const char *const fix_labels[X_COUNT][LANGS] = {
    [X_TARGET] = {"Số biên lai / Receipt / id", "Số biên lai"},
    [X_FIELD] = {"Trường / Field", "Trường"},
    [X_VALUE] = {"Giá trị mới / New value", "Giá trị mới"},
    [X_REASON] = {"Lý do / Reason", "Lý do"},
};

struct fixer {
    struct importer im;
    long col[X_COUNT];
    struct tl_import_fix *fixes;
    size_t n, cap;
};

static int fix_header(void *arg, char **names, size_t ncols)
{
    struct fixer *x = arg;
    struct importer *im = &x->im;
    im->header = names;
    im->ncols = ncols;
    for (int c = 0; c < X_COUNT; c++)
        x->col[c] = -1;
    for (size_t i = 0; i < ncols; i++) {
        char key[512];
        snprintf(key, sizeof key, "%s", names[i]);
        tl_fold_key(key);
        for (int c = 0; c < X_COUNT; c++)
            for (size_t k = 0; x->col[c] < 0 && fix_headers[c][k] != NULL; k++)
                if (strcmp(fix_headers[c][k], key) == 0)
                    x->col[c] = (long)i;
    }
    for (int c = 0; c < X_COUNT; c++)
        if (x->col[c] < 0)
            return tl_fail(im->err, POVTRACK_EINVALID,
                           im->o->lang == TL_LANG_VI
                               ? "bảng sửa không có cột %s (cần: Số biên lai, "
                                 "Trường, Giá trị mới, Lý do)"
                               : "the correction sheet has no %s column "
                                 "(it needs: Số biên lai, Trường, Giá trị "
                                 "mới, Lý do)",
                           fix_labels[c][im->o->lang == TL_LANG_VI ? 1 : 0]);
    return 0;
}

static const char *fix_cell(const struct fixer *x, enum fix_col c)
{
    size_t i = (size_t)x->col[c];
    return i < x->im.ncells ? x->im.cells[i] : "";
}

/* A problem of the correction row in hand, at column c. */
static int fix_problem(struct fixer *x, enum fix_col c, const char *value,
                       const char *reason)
{
    x->im.row_bad = true;
    return add_problem(x->im.s, x->im.row, x->im.header[x->col[c]], value,
                       reason, x->im.err);
}

/* The record a target cell names: #N, an id of this publisher's sheets
 * (csv-...), or a receipt number of this sheet. */
static int fix_target(struct fixer *x, const char *v, char *out)
{
    enum tl_lang lang = x->im.o->lang;
    if ((v[0] == '#' && v[1] >= '0' && v[1] <= '9') ||
        strncmp(v, "csv-", 4) == 0) {
        if (strlen(v) > TL_IMPORT_ID_MAX)
            return fix_problem(x, X_TARGET, v,
                               lang == TL_LANG_VI ? "quá dài" : "too long");
        snprintf(out, TL_IMPORT_ID_MAX + 1, "%s", v);
        return 0;
    }
    char slug[RECEIPT_MAX + 1];
    id_slug(v, slug, RECEIPT_MAX);
    if (slug[0] == '\0') {
        char *why = format(say(lang, M_RECEIPT_EMPTY), v);
        int rc =
            why != NULL ? fix_problem(x, X_TARGET, v, why) : nomem(x->im.err);
        free(why);
        return rc;
    }
    snprintf(out, TL_IMPORT_ID_MAX + 1, "%sbl-%s", x->im.s->prefix, slug);
    return 0;
}

static int fix_row(void *arg, size_t row, char **cells, size_t ncells)
{
    struct fixer *x = arg;
    struct importer *im = &x->im;
    enum tl_lang lang = im->o->lang;
    struct tl_import_fix fx = {.row = row};
    im->row = row;
    im->cells = cells;
    im->ncells = ncells;
    im->row_bad = false;
    im->s->data_rows++;

    const char *target = fix_cell(x, X_TARGET), *field = fix_cell(x, X_FIELD);
    const char *value = fix_cell(x, X_VALUE), *reason = fix_cell(x, X_REASON);
    int rc = 0;
    for (int c = 0; rc == 0 && c < X_COUNT; c++)
        if (c != X_VALUE && fix_cell(x, (enum fix_col)c)[0] == '\0')
            rc = fix_problem(x, (enum fix_col)c, NULL,
                             lang == TL_LANG_VI ? "ô trống" : "empty");
    if (rc == 0 && !im->row_bad)
        rc = fix_target(x, target, fx.target);
    /* The field, as a data sheet's header or by its wire name. */
    char key[512];
    size_t rank;
    snprintf(key, sizeof key, "%s", field);
    tl_fold_key(key);
    enum field f = field_of_header(key, &rank);
    if (f == F_COUNT)
        f = field_by_name(field, strlen(field));
    if (rc == 0 && !im->row_bad &&
        (f == F_COUNT || f == F_IGNORE || f == F_RECEIPT || !im->takes[f])) {
        char *why = format(lang == TL_LANG_VI
                               ? "%s không phải là trường của %s có thể sửa"
                               : "%s is not a field of a %s that can be "
                                 "corrected",
                           field, im->type_name);
        rc = why != NULL ? fix_problem(x, X_FIELD, field, why) : nomem(im->err);
        free(why);
    }
    if (rc != 0 || im->row_bad)
        return rc;
    snprintf(fx.field, sizeof fx.field, "%s",
             f == F_AT ? "at" : fields[f].name);
    if (value[0] != '\0') {
        /* Read as a cell of that column would be, the value column named
         * in the problems. */
        json_t *ev = json_object(), *data = json_object();
        const char *unit = NULL, *receipt = NULL;
        int64_t at = 0;
        im->col_of[f] = x->col[X_VALUE];
        rc = ev != NULL && data != NULL
                 ? read_field(im, f, value, ev, data, &at, &unit, &receipt)
                 : nomem(im->err);
        im->col_of[f] = -1;
        json_t *v = json_object_get(ev, fx.field);
        if (v == NULL)
            v = json_object_get(data, fx.field);
        if (rc == 0 && !im->row_bad && v != NULL)
            fx.value = json_incref(v);
        json_decref(ev);
        json_decref(data);
        if (rc != 0 || im->row_bad)
            return rc;
    }
    if ((fx.reason = strdup(reason)) == NULL) {
        json_decref(fx.value);
        return nomem(im->err);
    }
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 16;
        void *p = realloc(x->fixes, cap * sizeof *x->fixes);
        if (p == NULL) {
            json_decref(fx.value);
            free(fx.reason);
            return nomem(im->err);
        }
        x->fixes = p;
        x->cap = cap;
    }
    x->fixes[x->n++] = fx;
    return 0;
}

int tl_import_read_fixes(FILE *in, const struct tl_import_opts *o,
                         struct tl_import_sheet *s,
                         struct tl_import_fix **fixes, size_t *nfixes,
                         struct tl_error *err)
{
    struct fixer x;
    struct tl_csv_sink sink = {&x, fix_header, fix_row};
    struct tl_csv_opts copts = {o->delim, o->encoding};
    memset(s, 0, sizeof(*s));
    memset(&x, 0, sizeof(x));
    s->lang = o->lang;
    x.im.o = o;
    x.im.s = s;
    x.im.err = err;
    x.im.type_name = o->type != NULL ? o->type : TL_IMPORT_DEFAULT_TYPE;
    x.im.type = ev_type_from_name(x.im.type_name, strlen(x.im.type_name));
    if (!ev_type_amendable(x.im.type))
        return tl_fail(err, POVTRACK_EINVALID,
                       "--type %s: a correction sheet corrects donations, "
                       "pledges, fund disbursements, loans, repayments or "
                       "relocation records",
                       x.im.type_name);
    snprintf(s->type, sizeof(s->type), "%s", x.im.type_name);
    if (o->publisher == NULL || o->publisher[0] == '\0')
        return tl_fail(err, POVTRACK_EINVALID, "no publisher name for ids");
    for (int f = 0; f < F_COUNT; f++) {
        x.im.col_of[f] = -1;
        x.im.takes[f] =
            f == F_AT || f == F_UNIT ||
            ev_field_rule(x.im.type, fields[f].name) != EV_RULE_NONE;
    }
    int rc = sheet_prefix(&x.im);
    if (rc == 0)
        rc = tl_csv_read(in, &copts, &sink, err);
    tl_csv_free(x.im.header, x.im.ncols);
    if (rc != 0) {
        tl_import_fixes_free(x.fixes, x.n);
        return rc;
    }
    *fixes = x.fixes;
    *nfixes = x.n;
    return 0;
}

void tl_import_fixes_free(struct tl_import_fix *fixes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_decref(fixes[i].value);
        free(fixes[i].reason);
    }
    free(fixes);
}

/* Row row's unit code is unknown to the daemon: its problem, on the unit
 * column, or on --unit when the row took the code from it. */
static int unknown_unit_problem(struct tl_import_sheet *s, size_t row,
                                const char *code, struct tl_error *err)
{
    char option[64];
    const char *column = s->unit_column[0] != '\0' ? s->unit_column : NULL;
    char *reason;
    int rc;

    if (column == NULL || strcmp(code, s->unit_default) == 0) {
        snprintf(option, sizeof(option), "--unit %s", code);
        column = s->unit_default[0] != '\0' ? option : column;
    }
    reason = format(say(s->lang, M_UNKNOWN_UNIT), code);
    rc = reason != NULL ? add_problem(s, row, column, code, reason, err)
                        : nomem(err);
    free(reason);
    return rc;
}

int tl_import_unknown_unit(struct tl_import_sheet *s, const char *unit_code,
                           struct tl_error *err)
{
    char code[32];
    size_t w = 0;
    int rc = 0;

    /* unit_code may be a row's, freed below. */
    snprintf(code, sizeof(code), "%s", unit_code);

    for (size_t i = 0; i < s->nrows; i++) {
        struct tl_import_row *r = &s->rows[i];
        const char *unit = json_string_value(json_object_get(r->event, "unit"));

        if (rc != 0 || unit == NULL || strcmp(unit, code) != 0) {
            s->rows[w++] = *r;
            continue;
        }
        rc = unknown_unit_problem(s, r->row, code, err);
        row_free(r);
    }
    s->nrows = w;
    /* The rows with other problems that have this unit too. */
    w = 0;
    for (size_t i = 0; i < s->nbad_row_units; i++) {
        const struct tl_import_unit_ref *u = &s->bad_row_units[i];

        if (rc != 0 || strcmp(u->code, code) != 0)
            s->bad_row_units[w++] = *u;
        else
            rc = unknown_unit_problem(s, u->row, code, err);
    }
    s->nbad_row_units = w;
    return rc;
}

/* ---- against the log -------------------------------------------------- */

static const msgpack_object *mp_get(const msgpack_object *map, const char *key)
{
    size_t n = strlen(key);

    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == n &&
            memcmp(kv->key.via.str.ptr, key, n) == 0)
            return &kv->val;
    }
    return NULL;
}

static bool str_is(const msgpack_object *o, const char *s, size_t n)
{
    return o != NULL && o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

/* The gone record with id id (n bytes), or NULL. */
static struct tl_import_gone *gone_with(struct tl_import_sheet *s,
                                        const char *id, size_t n)
{
    for (size_t i = 0; i < s->ngone; i++) {
        const char *g =
            json_string_value(json_object_get(s->gone[i].event, "id"));
        if (g != NULL && strlen(g) == n && memcmp(g, id, n) == 0)
            return &s->gone[i];
    }
    return NULL;
}

/* A correction as the record it holds: {"v", "id": the target, "type":
 * data.type, "at", "unit", "household"?, "data": data.record}. */
static json_t *corrected_record(const json_t *c)
{
    const json_t *data = json_object_get(c, "data");
    json_t *ev = json_pack(
        "{s:i, s:O, s:O, s:O, s:O, s:O}", "v", 1, "id",
        json_object_get(data, "target"), "type", json_object_get(data, "type"),
        "at", json_object_get(c, "at"), "unit", json_object_get(c, "unit"),
        "data", json_object_get(data, "record"));
    if (ev != NULL && json_object_get(c, "household") != NULL)
        json_object_set(ev, "household", json_object_get(c, "household"));
    return ev;
}

/* A void or correction in the log: when it amends a record of this sheet,
 * that record is compared as it now stands. */
static int compare_amend(struct tl_import_sheet *s, const msgpack_object *event,
                         bool voided, struct tl_error *err)
{
    const msgpack_object *data = mp_get(event, "data");
    const msgpack_object *target = mp_get(data, "target");
    size_t plen = strlen(s->prefix);
    struct tl_import_row *match = NULL;

    if (target == NULL || target->type != MSGPACK_OBJECT_STR ||
        target->via.str.size <= plen ||
        memcmp(target->via.str.ptr, s->prefix, plen) != 0 ||
        !str_is(mp_get(data, "type"), s->type, strlen(s->type)))
        return POVTRACK_OK;
    const char *id = target->via.str.ptr;
    size_t n = target->via.str.size;
    for (size_t i = 0; i < s->nrows && match == NULL; i++)
        if (s->rows[i].repeats == 0 && s->rows[i].state != TL_ROW_UNKNOWN &&
            str_is(target, s->rows[i].id, strlen(s->rows[i].id)))
            match = &s->rows[i];
    struct tl_import_gone *g = match == NULL ? gone_with(s, id, n) : NULL;
    if (voided && match != NULL) {
        match->state = TL_ROW_VOIDED;
    } else if (voided && g != NULL) {
        json_decref(g->event);
        *g = s->gone[--s->ngone];
    }
    if (voided || (match == NULL && g == NULL))
        return POVTRACK_OK;

    json_t *c = NULL, *now;
    int rc = tl_json_from_msgpack(event, &c, err);
    if (rc != 0)
        return rc == POVTRACK_EINVALID ? POVTRACK_OK : rc;
    now = corrected_record(c);
    json_decref(c);
    if (now == NULL)
        return nomem(err);
    if (g != NULL) {
        json_decref(g->event);
        g->event = now;
        return POVTRACK_OK;
    }
    match->corrections++;
    unsigned char *content = NULL;
    struct ev_error e = {0};
    size_t len = 0;
    rc = canonical_json(now, INT64_MAX, &content, &len, &e, err);
    if (rc != 0 && rc != POVTRACK_EINVALID) {
        json_decref(now);
        return rc;
    }
    bool same = rc == 0 && len == match->content_len &&
                memcmp(content, match->content, len) == 0;
    free(content);
    json_decref(match->stored);
    match->stored = same ? NULL : now;
    match->state = same ? TL_ROW_CORRECTED : TL_ROW_CHANGED;
    if (same)
        json_decref(now);
    return POVTRACK_OK;
}

int tl_import_compare(struct tl_import_sheet *s, uint64_t seq,
                      const msgpack_object *event, struct tl_error *err)
{
    const msgpack_object *id = mp_get(event, "id");
    size_t plen = strlen(s->prefix);
    struct tl_import_row *match = NULL;
    unsigned char *content = NULL;
    struct ev_error e = {0};
    size_t len = 0;
    json_t *stored = NULL;
    int rc;

    const msgpack_object *type = mp_get(event, "type");
    if (str_is(type, "record.voided", 13) ||
        str_is(type, "record.corrected", 16))
        return compare_amend(s, event, str_is(type, "record.voided", 13), err);
    if (id == NULL || id->type != MSGPACK_OBJECT_STR ||
        id->via.str.size <= plen || id->via.str.size > TL_IMPORT_ID_MAX ||
        memcmp(id->via.str.ptr, s->prefix, plen) != 0 ||
        !str_is(mp_get(event, "type"), s->type, strlen(s->type)))
        return POVTRACK_OK;
    for (size_t i = 0; i < s->nrows && match == NULL; i++)
        if (s->rows[i].repeats == 0 &&
            str_is(id, s->rows[i].id, strlen(s->rows[i].id)))
            match = &s->rows[i];
    if (match != NULL) {
        rc = canonical(event, INT64_MAX, &content, &len, &e, err);
        if (rc != 0 && rc != POVTRACK_EINVALID)
            return rc;
        match->seq = seq;
        if (rc == 0 && len == match->content_len &&
            memcmp(content, match->content, len) == 0) {
            match->state = TL_ROW_UNCHANGED;
            free(content);
            return POVTRACK_OK;
        }
        free(content);
        match->state = TL_ROW_CHANGED;
        json_decref(match->stored);
        match->stored = NULL;
        rc = tl_json_from_msgpack(event, &match->stored, err);
        return rc == POVTRACK_EINVALID ? POVTRACK_OK : rc;
    }
    /* A record of this sheet that no row gives any more. */
    rc = tl_json_from_msgpack(event, &stored, err);
    if (rc != 0)
        return rc == POVTRACK_EINVALID ? POVTRACK_OK : rc;
    struct tl_import_gone *a =
        realloc(s->gone, (s->ngone + 1) * sizeof(*s->gone));
    if (a == NULL) {
        json_decref(stored);
        return nomem(err);
    }
    s->gone = a;
    s->gone[s->ngone].seq = seq;
    s->gone[s->ngone++].event = stored;
    return POVTRACK_OK;
}

bool tl_import_row_sent(const struct tl_import_row *row)
{
    return row->state == TL_ROW_NEW || row->state == TL_ROW_UNCHANGED ||
           row->state == TL_ROW_UNKNOWN;
}

int tl_import_compared(struct tl_import_sheet *s, struct tl_error *err)
{
    (void)err;
    for (size_t i = 0; i < s->nrows; i++)
        if (s->rows[i].state == TL_ROW_UNKNOWN && s->rows[i].repeats == 0)
            s->rows[i].state = TL_ROW_NEW;
    s->compared = true;
    return POVTRACK_OK;
}

void tl_import_describe(const struct tl_import_sheet *s, const json_t *event,
                        char *buf, size_t cap)
{
    const json_t *data = json_object_get(event, "data");
    const json_t *amount = json_object_get(data, "amount");
    const char *donor = json_string_value(json_object_get(data, "donor"));
    const char *unit = json_string_value(json_object_get(event, "unit"));
    char money[TL_FMT_VND_MAX], date[TL_FMT_TIME_MAX];
    bool vi = s->lang == TL_LANG_VI;
    size_t o = 0;

    buf[0] = '\0';
    if (amount != NULL)
        o += (size_t)snprintf(buf + o, cap - o, "%s, ",
                              tl_fmt_vnd(json_integer_value(amount), money));
    if (donor != NULL && o < cap)
        o += (size_t)snprintf(buf + o, cap - o, "%s, ", donor);
    if (o < cap)
        snprintf(buf + o, cap - o, "%s, %s %s",
                 tl_fmt_vn_date(
                     json_integer_value(json_object_get(event, "at")), date),
                 vi ? "đơn vị" : "unit", unit != NULL ? unit : "?");
}

const char *tl_import_word(const char *field, const char *word)
{
    enum field f = field_by_name(field, strlen(field));

    if (f == F_COUNT || fields[f].values == NULL)
        return NULL;
    return synonym(fields[f].values, word);
}

int tl_import_check(const json_t *event, int64_t max_at, struct tl_error *err)
{
    unsigned char *content = NULL;
    struct ev_error e = {0};
    size_t len;
    int rc = canonical_json(event, max_at, &content, &len, &e, err);

    free(content);
    if (rc == POVTRACK_EINVALID)
        return tl_fail(err, rc, "%s", e.msg);
    return rc;
}

void tl_import_free(struct tl_import_sheet *s)
{
    for (size_t i = 0; i < s->nrows; i++)
        row_free(&s->rows[i]);
    free(s->rows);
    for (size_t i = 0; i < s->nproblems; i++) {
        free(s->problems[i].column);
        free(s->problems[i].value);
        free(s->problems[i].reason);
        free(s->problems[i].text);
    }
    free(s->problems);
    for (size_t i = 0; i < s->nnotes; i++)
        free(s->notes[i]);
    free(s->notes);
    for (size_t i = 0; i < s->ngone; i++)
        json_decref(s->gone[i].event);
    free(s->gone);
    free(s->bad_row_units);
    memset(s, 0, sizeof(*s));
}
