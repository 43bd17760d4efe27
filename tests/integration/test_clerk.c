/*
 * test_clerk.c - a Fatherland Front clerk's cycle, end to end: the real
 * povtrackd, the real `povtrack units import` and `povtrack import-csv`,
 * the sample sheets of examples/clerk/ (UTF-8 with BOM and CRLF, headers
 * in capitals, ';' as Excel writes it in a Vietnamese locale, Windows-1258)
 * and the mistakes issue 15 found: a unit typo, a blank row, a repeated
 * row, a donation filed under the wrong commune and moved, the same file
 * saved under another name.  The fund figures are asked back after every
 * step (`povtrack query fund --json`, once the plugin has applied the whole
 * log) and must be what the clerk's sheet says, never counted twice.
 *
 * The figures, by hand (VND):
 *   so-ung-ho-2024.csv          refused as a whole: row 6's unit 99999
 *                               is not defined; nothing stored
 *   so-ung-ho-2024-sua-ma.csv   BL-001 1.5M, BL-002 150M (a large donation),
 *                               BL-003 0.5M, BL-006 1M at 22957 = 153M;
 *                               BL-004 0.2M, BL-005 3M at 22960 = 3.2M;
 *                               593: 156.2M; row 8 repeats row 4 (BL-003)
 *   the same, another name      nothing new
 *   ...-sua-don-vi.csv (';')    BL-006 moved to 22960: changed since the
 *                               last import, not sent; BL-007 2M new at
 *                               22960: 22957 153M, 22960 5.2M, 593 158.2M
 *   ...-cp1258.csv              refused without --encoding; with it, the
 *                               same as the UTF-8 sheet: nothing new
 *   hom-cong-duc.csv            no receipts: 0.5M + 0.5M at 22963, the third
 *                               row repeats the second (1M); with
 *                               --allow-duplicate-rows, 1.5M
 *   hom-cong-duc-sua.csv        the third row moved to 22966: the stored
 *                               one is no longer in the sheet, nothing sent
 * One fund.large_donation alert in all (BL-002), however often imported.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "daemon.h"

#define CLERK POVTRACK_SOURCE_DIR "/examples/clerk/"
#define OUT_MAX 65536

/* The daemon (td_setup_started) and the CLI's last output. */
struct fx {
    struct td *d;
    char out[OUT_MAX], err[OUT_MAX];
};

/* Run povtrack CMD with the daemon's endpoints and args; its output in
 * f->out and f->err. */
static int cli(struct fx *f, const char *cmd, const char *const *args)
{
    const char *argv[15] = {cmd, "--ingest", f->d->ingest, "--query",
                            f->d->query};
    size_t n = 5;
    for (size_t i = 0; args[i] != NULL && n < 14; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return td_cli_run(f->d->dir, argv, f->out, sizeof f->out, f->err,
                      sizeof f->err);
}

/* `povtrack import-csv FILE args...`: its exit status must be want. */
static void import(struct fx *f, const char *file, int want,
                   const char *const *args)
{
    const char *argv[12] = {file};
    size_t n = 1;
    for (size_t i = 0; args != NULL && args[i] != NULL; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int rc = cli(f, "import-csv", argv);
    if (rc != want)
        fail_msg("povtrack import-csv %s: exit %d, wanted %d\n%s\n%s", file, rc,
                 want, f->out, f->err);
}

static void has(const char *text, const char *want)
{
    if (strstr(text, want) == NULL)
        fail_msg("\"%s\" is not in:\n%s", want, text);
}

static void has_not(const char *text, const char *want)
{
    if (strstr(text, want) != NULL)
        fail_msg("\"%s\" should not be in:\n%s", want, text);
}

static uint64_t last_seq(struct fx *f)
{
    assert_int_equal(cli(f, "stats", (const char *[]){"--json", NULL}), 0);
    json_t *j = json_loads(f->out, 0, NULL);
    assert_non_null(j);
    uint64_t v = (uint64_t)json_integer_value(json_object_get(j, "last_seq"));
    json_decref(j);
    return v;
}

/* What the fund plugin counts as received at unit, once it has applied
 * the whole log. */
static int64_t received(struct fx *f, const char *unit, int64_t *donations)
{
    char minseq[32], unit_kv[32];
    snprintf(minseq, sizeof minseq, "%" PRIu64, last_seq(f));
    snprintf(unit_kv, sizeof unit_kv, "unit=%s", unit);
    int rc = cli(
        f, "query",
        (const char *[]){"fund", unit_kv, "--min-seq", minseq, "--json", NULL});
    if (rc != 0)
        fail_msg("povtrack query fund %s: exit %d\n%s", unit, rc, f->err);
    json_t *j = json_loads(f->out, 0, NULL);
    assert_non_null(j);
    json_t *res = json_object_get(j, "result");
    int64_t v = (int64_t)json_integer_value(json_object_get(res, "received"));
    if (donations != NULL)
        *donations =
            (int64_t)json_integer_value(json_object_get(res, "donations"));
    json_decref(j);
    return v;
}

static void figures(struct fx *f, int64_t c22957, int64_t c22960,
                    int64_t c22963)
{
    assert_int_equal(received(f, "22957", NULL), c22957);
    assert_int_equal(received(f, "22960", NULL), c22960);
    assert_int_equal(received(f, "22963", NULL), c22963);
    assert_int_equal(received(f, "593", NULL), c22957 + c22960 + c22963);
}

/* Alerts of a code, as `povtrack alerts --json` lists them. */
static size_t alerts_of(struct fx *f, const char *code)
{
    char needle[96];
    size_t n = 0;
    assert_int_equal(cli(f, "alerts", (const char *[]){"--json", NULL}), 0);
    snprintf(needle, sizeof needle, "\"code\":\"%s\"", code);
    for (const char *p = f->out; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[4096];
    size_t n;
    assert_non_null(in);
    assert_non_null(out);
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

#define M(x) INT64_C(x##000000)

/* The number after the first needle in text (a "#N" the CLI printed). */
static unsigned long long after(const char *text, const char *needle)
{
    const char *p = strstr(text, needle);
    if (p == NULL)
        fail_msg("\"%s\" is not in:\n%s", needle, text);
    return strtoull(p + strlen(needle), NULL, 10);
}

/* `povtrack CMD ID args...` (correct, void): its exit status must be
 * want. */
static void amend(struct fx *f, const char *cmd, const char *id,
                  const char *const *args, int want)
{
    const char *argv[12] = {id};
    size_t n = 1;
    for (size_t i = 0; args[i] != NULL; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int rc = cli(f, cmd, argv);
    if (rc != want)
        fail_msg("povtrack %s %s: exit %d, wanted %d\n%s\n%s", cmd, id, rc,
                 want, f->out, f->err);
}

static void test_clerk_cycle(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char renamed[sizeof f->d->dir + 64];

    assert_non_null(f);
    f->d = *state;

    /* The units, from the official list; loading it again is harmless. */
    assert_int_equal(
        cli(f, "units",
            (const char *[]){"import", CLERK "units-phan-thiet.csv", NULL}),
        0);
    has(f->out, "sent 17 events: 17 ok, 0 duplicate, 0 rejected");
    has(f->err, "17 units: 1 province, 1 district, 15 communes");
    assert_int_equal(
        cli(f, "units",
            (const char *[]){"import", CLERK "units-phan-thiet.csv", NULL}),
        0);
    has(f->out, "sent 17 events: 0 ok, 17 duplicate, 0 rejected");

    /* 1. The first sheet: a unit typo.  Every problem is listed with its
     * row and column as the sheet has them, and nothing is sent. */
    import(f, CLERK "so-ung-ho-2024.csv", 1, NULL);
    has(f->out, "row 6, column ĐƠN VỊ: unit 99999 is not defined in "
                "povtrackd");
    has(f->err, "row 8 repeats row 4");
    has(f->err, "nothing sent: 1 row with problems");
    has_not(f->out, "sent ");
    figures(f, 0, 0, 0);
    /* The same in Vietnamese, as a dry run. */
    import(f, CLERK "so-ung-ho-2024.csv", 1,
           (const char *[]){"--lang", "vi", "--dry-run", NULL});
    has(f->out, "dòng 6, cột ĐƠN VỊ: đơn vị 99999 chưa được khai báo trong "
                "povtrackd");

    /* A unit typo in a row with other problems is listed with them, in
     * the same round; a known unit in such a row is not. */
    char typos[sizeof f->d->dir + 64];
    snprintf(typos, sizeof typos, "%s/typos.csv", f->d->dir);
    FILE *tf = fopen(typos, "w");
    assert_non_null(tf);
    fputs("Ngày,Họ và tên,Số tiền,Loại,Đơn vị\n"
          "31/11/2024,A,100.000,Cá nhân,99999\n"
          "17/10/2024,B,-5,Cá nhân,22960\n"
          "17/10/2024,C,100.000,Cá nhân,22957\n",
          tf);
    assert_int_equal(fclose(tf), 0);
    import(f, typos, 1, (const char *[]){"--dry-run", NULL});
    has(f->out, "row 2, column Ngày: 31/11/2024 is not a day of the calendar");
    has(f->out, "row 2, column Đơn vị: unit 99999 is not defined in "
                "povtrackd");
    has(f->out, "row 3, column Số tiền: -5 is negative");
    has_not(f->out, "unit 22960");
    has(f->out, "1 new, 0 already stored, 0 changed, 0 no longer in the "
                "sheet, 0 repeated, 2 with problems");

    /* 2. The typo fixed: stored, the repeated row once, the blank row
     * skipped (rows keep the spreadsheet's numbers). */
    import(f, CLERK "so-ung-ho-2024-sua-ma.csv", 1, NULL);
    has(f->out, "sent 6 events: 6 ok, 0 duplicate, 0 rejected");
    has(f->out, "import-csv: 7 rows: 6 new, 0 already stored, 0 changed, 0 "
                "no longer in the sheet, 1 repeated, 0 with problems");
    figures(f, M(153), INT64_C(3200000), 0);
    assert_int_equal(alerts_of(f, "fund.large_donation"), 1);

    /* 3. The same file saved under another name: nothing twice. */
    snprintf(renamed, sizeof renamed, "%s/Bản sao của sổ ủng hộ.csv",
             f->d->dir);
    copy_file(CLERK "so-ung-ho-2024-sua-ma.csv", renamed);
    import(f, renamed, 1, NULL);
    has(f->out, "sent 6 events: 0 ok, 6 duplicate, 0 rejected");
    figures(f, M(153), INT64_C(3200000), 0);
    assert_int_equal(alerts_of(f, "fund.large_donation"), 1);

    /* 4. The repeated and blank rows deleted, BL-006 moved to its right
     * commune, a new donation: saved with ';'.  The moved one is said to
     * have changed and is not stored again; the new one is stored. */
    import(f, CLERK "so-ung-ho-2024-sua-don-vi.csv", 1, NULL);
    has(f->out, "row 7: changed since the last import (stored at #");
    char bl006[24];
    snprintf(bl006, sizeof bl006, "#%llu", after(f->out, "stored at #"));
    has(f->out, "1,000,000 VND, Lê Văn Cường, 2024-10-22, unit 22957): use "
                "`povtrack correct`/`void` or `import-csv --apply-changes`");
    has(f->out, "sent 6 events: 1 ok, 5 duplicate, 0 rejected");
    has(f->out, "1 changed, 0 no longer in the sheet, 0 repeated");
    figures(f, M(153), INT64_C(5200000), 0);

    /* 5. The same sheet from Excel's legacy Vietnamese code page: refused
     * with what to do, then read when named, to the same events. */
    import(f, CLERK "so-ung-ho-2024-sua-don-vi-cp1258.csv", 2, NULL);
    has(f->err, "not UTF-8 text");
    has(f->err, "save the spreadsheet as CSV UTF-8, or give --encoding "
                "cp1258");
    import(f, CLERK "so-ung-ho-2024-sua-don-vi-cp1258.csv", 1,
           (const char *[]){"--encoding", "cp1258", NULL});
    has(f->out, "sent 6 events: 0 ok, 6 duplicate, 0 rejected");
    figures(f, M(153), INT64_C(5200000), 0);

    /* 6. A donation box kept without receipt numbers: ids from the
     * content.  Two identical rows are one donation unless the clerk says
     * they are two. */
    static const char *const hom[] = {"--sheet", "hòm công đức", "--set",
                                      "donor_kind=Ẩn danh", NULL};
    import(f, CLERK "hom-cong-duc.csv", 1, hom);
    has(f->err, "row 4 repeats row 3");
    figures(f, M(153), INT64_C(5200000), M(1));
    static const char *const hom_twice[] = {"--sheet",
                                            "hòm công đức",
                                            "--set",
                                            "donor_kind=Ẩn danh",
                                            "--allow-duplicate-rows",
                                            NULL};
    import(f, CLERK "hom-cong-duc.csv", 0, hom_twice);
    has(f->out, "sent 3 events: 1 ok, 2 duplicate, 0 rejected");
    figures(f, M(153), INT64_C(5200000), INT64_C(1500000));

    /* 7. One of them moved to another commune: without a receipt number
     * it has a new id, so the stored one is no longer in the sheet and
     * nothing is sent: the moved donation would count twice. */
    import(f, CLERK "hom-cong-duc-sua.csv", 1, hom_twice);
    has(f->out, "is no longer in the sheet: use `povtrack correct`/`void` or "
                "`import-csv --apply-changes`");
    has(f->err, "nothing sent: 1 stored row of this sheet is no longer in it");
    char gone[24];
    snprintf(gone, sizeof gone, "#%llu", after(f->out, "#"));
    figures(f, M(153), INT64_C(5200000), INT64_C(1500000));
    assert_int_equal(received(f, "22966", NULL), 0);

    /* 8. BL-006 corrected where the import named it (#N): moved to its
     * commune, the original kept; the sheet then imports clean. */
    static const char *const fix[] = {"--set",       "unit=22960", "--reason",
                                      "nhập sai xã", "--yes",      NULL};
    amend(f, "correct", bl006, fix, 0);
    has(f->err, "unit: 22957 -> 22960");
    has(f->out, "corrected csv-");
    figures(f, M(152), INT64_C(6200000), INT64_C(1500000));
    import(f, CLERK "so-ung-ho-2024-sua-don-vi.csv", 0, NULL);
    has(f->out, "sent 6 events: 0 ok, 6 duplicate, 0 rejected");
    has(f->out, "7 rows: 0 new, 7 already stored, 0 changed, 0 no longer in "
                "the sheet");
    figures(f, M(152), INT64_C(6200000), INT64_C(1500000));
    assert_int_equal(cli(f, "audit", (const char *[]){bl006, NULL}), 0);
    has(f->out, "donation.received\n  entered    seq ");
    has(f->out, "  corrected  seq ");
    has(f->out, "reason: nhập sai xã");
    has(f->out, "unit: 22957 -> 22960");
    has(f->out, "now: as corrected (1 correction)");
    /* Nothing to change is said, and nothing sent. */
    amend(f, "correct", bl006, fix, 1);
    has(f->err, "nothing to correct");

    /* 9. The donation of the box that moved: the stored one voided (it
     * asks first; --yes from a script), the sheet imported again: the
     * moved row is stored anew, nothing counted twice. */
    static const char *const why[] = {"--reason", "chuyển sang xã 22966", NULL};
    amend(f, "void", gone, why, 1);
    has(f->err, "give --yes to void without asking");
    static const char *const why_yes[] = {"--reason", "chuyển sang xã 22966",
                                          "--yes", NULL};
    amend(f, "void", gone, why_yes, 0);
    has(f->out, "voided csv-");
    assert_int_equal(received(f, "22963", NULL), M(1));
    import(f, CLERK "hom-cong-duc-sua.csv", 0, hom_twice);
    has(f->out, "sent 3 events: 1 ok, 2 duplicate, 0 rejected");
    assert_int_equal(received(f, "22963", NULL), M(1));
    assert_int_equal(received(f, "22966", NULL), INT64_C(500000));
    assert_int_equal(received(f, "593", NULL), INT64_C(159700000));
    assert_int_equal(cli(f, "audit", (const char *[]){gone, NULL}), 0);
    has(f->out, "  voided     seq ");
    has(f->out, "reason: chuyển sang xã 22966");
    has(f->out, "now: voided, counted nowhere");
    /* A voided record takes nothing more, said in words. */
    amend(f, "void", gone, why_yes, 1);
    has(f->err, "a voided record cannot be voided again");
    amend(f, "correct", gone, fix, 1);
    has(f->err, "a voided record cannot be corrected");
    amend(f, "void", "no-such-record", why_yes, 1);
    has(f->err, "no record with id \"no-such-record\" in the log");

    assert_int_equal(alerts_of(f, "fund.large_donation"), 1);
    /* The summary names the district and its communes. */
    assert_int_equal(cli(f, "summary", (const char *[]){"--unit", "593", NULL}),
                     0);
    has(f->out, "Thành phố Phan Thiết (593)");
    has(f->out, "Xã Thiện Nghiệp (22957)");
    has(f->out, "+07  info      fund.large_donation  unit Xã Thiện Nghiệp "
                "(22957)");

    /* 10. BL-002 was 15,000,000, not 150,000,000: corrected, its large
     * donation alert is resolved (kept, shown with --resolved), and the
     * old sheet now differs from the record as corrected. */
    assert_int_equal(cli(f, "alerts", (const char *[]){"--json", NULL}), 0);
    char bl002[24];
    snprintf(bl002, sizeof bl002, "#%llu", after(f->out, "\"seq\":"));
    static const char *const zero[] = {"--set",    "amount=15.000.000",
                                       "--reason", "thừa một số 0",
                                       "--yes",    NULL};
    amend(f, "correct", bl002, zero, 0);
    has(f->err, "amount: 150,000,000 -> 15,000,000");
    assert_int_equal(received(f, "22957", NULL), M(17));
    assert_int_equal(received(f, "593", NULL), INT64_C(24700000));
    assert_int_equal(alerts_of(f, "fund.large_donation"), 0);
    assert_int_equal(cli(f, "alerts", (const char *[]){"--resolved", NULL}), 0);
    has(f->out, "fund.large_donation");
    has(f->out, "[resolved at #");
    has(f->out, ": corrected (thừa một số 0)]");
    /* Only some: by code prefix, unit and severity, as the gateway's. */
    assert_int_equal(cli(f, "alerts",
                         (const char *[]){"--resolved", "--code", "fund.large",
                                          "--unit", "22957", NULL}),
                     0);
    has(f->out, "fund.large_donation");
    assert_int_equal(
        cli(f, "alerts",
            (const char *[]){"--resolved", "--severity", "critical", NULL}),
        0);
    has_not(f->out, "fund.large_donation");
    assert_int_equal(cli(f, "alerts",
                         (const char *[]){"--resolved", "--unit", "22960",
                                          "--code", "fund.large", NULL}),
                     0);
    has_not(f->out, "fund.large_donation");
    assert_int_equal(
        cli(f, "alerts", (const char *[]){"--severity", "warn", NULL}), 2);
    has(f->err, "--severity: must be info, warning or critical, not \"warn\"");
    import(f, CLERK "so-ung-ho-2024-sua-don-vi.csv", 1, NULL);
    has(f->out, "row 3: changed since the last import (stored at #");
    has(f->out, "15,000,000 VND, Công ty TNHH Thanh Long");
    assert_int_equal(received(f, "22957", NULL), M(17));

    /* 11. The book checked against the fund's cash book and fixed: BL-002
     * as corrected, BL-005 3,500,000 not 3,000,000, BL-004 (entered by
     * mistake) deleted.  --apply-changes lists the correction and the void,
     * asks (--yes from a script), sends them; the book then imports clean. */
    const char *const check[] = {"--apply-changes", "--reason",
                                 "đối chiếu sổ quỹ", NULL};
    import(f, CLERK "so-ung-ho-2024-doi-chieu.csv", 1, check);
    has(f->err, "give --yes to apply the changes without asking");
    assert_int_equal(received(f, "22960", NULL), INT64_C(6200000));
    const char *const check_yes[] = {"--apply-changes", "--yes", "--reason",
                                     "đối chiếu sổ quỹ", NULL};
    import(f, CLERK "so-ung-ho-2024-doi-chieu.csv", 0, check_yes);
    /* Each listed with what --apply-changes is doing to it, not with
     * the advice to use it. */
    has(f->out, "row 5: changed since the last import (stored at #");
    has(f->out, "22960): --apply-changes corrects it as the row says\n");
    has(f->out, "(200,000 VND, Ẩn danh, 2024-10-20, unit 22960) is no longer "
                "in the sheet: --apply-changes voids it\n");
    assert_null(strstr(f->out, "or `import-csv --apply-changes`"));
    has(f->out, "sent 2 events: 2 ok, 0 duplicate, 0 rejected");
    assert_int_equal(received(f, "22957", NULL), M(17));
    assert_int_equal(received(f, "22960", NULL), INT64_C(6500000));
    import(f, CLERK "so-ung-ho-2024-doi-chieu.csv", 0, NULL);
    has(f->out, "6 rows: 0 new, 6 already stored, 0 changed, 0 no longer in "
                "the sheet, 0 repeated, 0 with problems");

    /* 12. A correction sheet: one row per field (receipt, field as the
     * book's header says it, new value, reason); the rows of one record
     * make one correction, shown first, then sent with --yes. */
    const char *const fixes[] = {"--corrections", CLERK "sua-loi-2024.csv",
                                 NULL};
    assert_int_equal(cli(f, "import-csv", fixes), 1);
    has(f->out, "row 2, 3: csv-");
    has(f->out, "  amount: 500,000 -> 700,000");
    has(f->out, "  donor: Trần Thị Bình -> Trần Thị Bình An");
    has(f->out, "row 4: csv-");
    has(f->out, "  at: 2024-10-25 -> 2024-10-26");
    has(f->err, "give --yes to send the corrections without asking");
    assert_int_equal(received(f, "22957", NULL), M(17));
    const char *const fixes_yes[] = {"--corrections", CLERK "sua-loi-2024.csv",
                                     "--yes", NULL};
    assert_int_equal(cli(f, "import-csv", fixes_yes), 0);
    has(f->out, "sent 2 events: 2 ok, 0 duplicate, 0 rejected");
    assert_int_equal(received(f, "22957", NULL), INT64_C(17200000));
    assert_int_equal(received(f, "22960", NULL), INT64_C(6500000));
    /* Again: the records already say so, nothing is sent. */
    assert_int_equal(cli(f, "import-csv", fixes_yes), 0);
    has(f->out, "already so: the record has these values");
    has_not(f->out, "sent ");

    /* 13. November's book, imported without --sheet after October's with
     * --apply-changes --yes: it shares no row with what the default sheet
     * stored, so it is another book, and voiding October is refused. */
    char nov[400];
    snprintf(nov, sizeof nov, "%s/so-ung-ho-2024-11.csv", f->d->dir);
    FILE *book = fopen(nov, "w");
    assert_non_null(book);
    fputs("STT;SỐ BIÊN LAI;NGÀY;HỌ VÀ TÊN;SỐ TIỀN;LOẠI;ĐƠN VỊ;GHI CHÚ\n"
          "1;BL-101;05/11/2024;Lê Văn Cường;2.000.000;Cá nhân;22957;\n",
          book);
    assert_int_equal(fclose(book), 0);
    int64_t before = received(f, "22957", NULL);
    import(f, nov, 1, (const char *[]){"--apply-changes", "--yes", NULL});
    has(f->err, "not one row of this file is stored in the default sheet");
    has(f->err, "give it a name of its own with --sheet NAME");
    has(f->err, "to void them indeed, name the sheet: --sheet "
                "donation.received");
    assert_int_equal(received(f, "22957", NULL), before);
    import(f, nov, 0,
           (const char *[]){"--sheet", "thang-11", "--apply-changes", "--yes",
                            NULL});
    assert_int_equal(received(f, "22957", NULL), before + M(2));

    /* 14. The district's fund pays households of commune 22960 more than
     * the commune received: its balance is negative, and the query says
     * why rather than leaving the clerk to guess at a deficit. */
    char path[400];
    snprintf(path, sizeof path, "%s/disbursed.jsonl", f->d->dir);
    FILE *ev = fopen(path, "w");
    assert_non_null(ev);
    fputs("{\"v\":1,\"id\":\"chi-593-1\",\"type\":\"fund.disbursed\","
          "\"at\":1730000000,\"unit\":\"22960\",\"data\":{\"amount\":"
          "10000000,\"purpose\":\"housing\",\"level\":\"district\"}}\n",
          ev);
    assert_int_equal(fclose(ev), 0);
    assert_int_equal(cli(f, "send", (const char *[]){path, NULL}), 0);
    assert_int_equal(
        cli(f, "query", (const char *[]){"fund", "unit=22960", NULL}), 0);
    has(f->out, "balance             -3,500,000 VND (more paid out here than "
                "received here, as when a higher level's fund pays "
                "households of this unit)");

    /* send takes times as the gateway does: an ISO date is that day in
     * Vietnam; a date that is none is refused naming the field. */
    ev = fopen(path, "w");
    assert_non_null(ev);
    fputs("{\"v\":1,\"id\":\"chi-593-2\",\"type\":\"fund.disbursed\","
          "\"at\":\"2024-11-05\",\"unit\":\"22960\",\"data\":{\"amount\":"
          "1000000,\"purpose\":\"housing\",\"level\":\"district\"}}\n"
          "{\"v\":1,\"id\":\"chi-593-3\",\"type\":\"fund.disbursed\","
          "\"at\":\"2024-13-05\",\"unit\":\"22960\",\"data\":{\"amount\":"
          "1000000,\"purpose\":\"housing\",\"level\":\"district\"}}\n",
          ev);
    assert_int_equal(fclose(ev), 0);
    assert_int_equal(cli(f, "send", (const char *[]){path, NULL}), 1);
    has(f->out, "line 2: at: \"2024-13-05\" is not a day of the calendar");
    has(f->out, "sent 2 events: 1 ok, 0 duplicate, 1 rejected");
    assert_int_equal(cli(f, "log", (const char *[]){"--json", NULL}), 0);
    /* 2024-11-05 00:00 in Vietnam (UTC+7) */
    has(f->out, "\"id\":\"chi-593-2\",\"type\":\"fund.disbursed\","
                "\"at\":1730739600");
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clerk_cycle, td_setup_started,
                                        td_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
