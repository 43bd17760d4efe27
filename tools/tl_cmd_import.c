/*
 * tl_cmd_import.c - `povtrack import-csv`: a clerk's spreadsheet, checked
 * whole, compared with what earlier imports of it stored, then sent.
 *
 * The order matters to the clerk: every problem of every row is listed
 * before anything is sent, and nothing is sent while one remains (unless
 * --partial); then the sheet is compared with the log, so that a row
 * changed or deleted since the last import is said to be so rather than
 * stored a second time.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tl_audit.h"
#include "tl_batch.h"
#include "tl_cli.h"
#include "tl_import.h"
#include "tl_mp.h"
#include "tl_unitdir.h"

#define READ_PAGE 10000 /* the most the read op returns at once */
#define UNAUTHENTICATED "unauthenticated"
#define OPTS_MAX 64

static const char import_usage[] =
    "Usage: povtrack import-csv FILE [--unit CODE] [--type TYPE]\n"
    "          [--column FIELD=HEADER]... [--set FIELD=VALUE]...\n"
    "          [--id-column HEADER] [--sheet NAME] [--publisher-name NAME]\n"
    "          [--encoding E] [--delimiter C] [--lang vi|en]\n"
    "          [--dry-run] [--partial] [--allow-duplicate-rows] [--batch N]\n"
    "          [--apply-changes [--yes] [--reason TEXT]]\n"
    "       povtrack import-csv --corrections SHEET [--yes] [--sheet NAME]\n"
    "          [--type TYPE] [--publisher-name NAME] [--lang vi|en] "
    "[--dry-run]\n"
    "\n"
    "Publish the rows of a spreadsheet saved as CSV (\"-\" reads standard\n"
    "input) as events of TYPE (default donation.received).  Every row is\n"
    "checked first, with the daemon's own rules, and every problem of every\n"
    "row is listed: \"row 7, column Ngày: 12/03/2027 is in the future\".\n"
    "Nothing is sent while a row has a problem, unless --partial.\n"
    "\n"
    "The file: UTF-8 with or without BOM (Excel's \"CSV UTF-8\"); another\n"
    "encoding only when --encoding names it (cp1258: Excel's Vietnamese,\n"
    "cp1252).  The separator (, ; or tab) is found from the header line.\n"
    "\n"
    "Columns are recognised by their header, whatever the case and the\n"
    "diacritics (Đơn vị, ĐƠN VỊ and don vi are one column):\n"
    "  Số biên lai, Biên lai, Receipt     the receipt number (stable id)\n"
    "  Ngày, Ngày nhận, Date              when (DD/MM/YYYY or YYYY-MM-DD)\n"
    "  Mã đơn vị, Đơn vị, Unit            the unit's code (or --unit)\n"
    "  Họ và tên, Tên người ủng hộ, Donor the donor\n"
    "  Số tiền, Amount                    VND: 1.500.000, 1,500,000, 2000000 "
    "đ\n"
    "  Loại, Đối tượng, Donor kind        Cá nhân, Tổ chức, Doanh nghiệp,\n"
    "                                     Ẩn danh (person, organisation...)\n"
    "  Cấp, Level                         Trung ương, Tỉnh, Huyện, Xã\n"
    "                                     (Phường, Thị trấn); default: the\n"
    "                                     unit's own level\n"
    "  Hình thức, Hiện vật, In kind       Hiện vật / Tiền mặt, Chuyển khoản\n"
    "  Mã cam kết, Pledge; Hạn, Due; Mục đích, Purpose (Nhà ở, Sinh kế,\n"
    "  Giáo dục, Y tế, Tết, Thiên tai, Khác); Mã hộ, Household; Năm, Year;\n"
    "  Tình trạng, Status (Nghèo, Cận nghèo, Trung bình, Không); Số quyết\n"
    "  định; Mã khoản vay; Chương trình; Cơ quan; Báo cáo; Hạng mục\n"
    "  STT, Ghi chú, Địa chỉ, Điện thoại ignored; other columns ignored\n"
    "  with a note.  The English wire names work as well.\n"
    "\n"
    "Options:\n"
    "  --unit CODE            the unit of rows without a unit cell\n"
    "  --column FIELD=HEADER  read FIELD from the column HEADER (fields:\n"
    "                         receipt date unit household amount donor\n"
    "                         donor_kind level pledge in_kind due purpose\n"
    "                         year status decision loan program org report\n"
    "                         item; \"-\" ignores the column); repeatable\n"
    "  --set FIELD=VALUE      FIELD of every row whose cell is empty or that\n"
    "                         has no such column (--set donor_kind=person)\n"
    "  --id-column HEADER     the column of receipt numbers\n"
    "  --sheet NAME           which of the publisher's sheets this is [the\n"
    "                         type]: part of the ids, and what \"rows no\n"
    "                         longer in the sheet\" is compared against\n"
    "  --publisher-name NAME  who imports, part of the ids [with --key: its\n"
    "                         public key; else \"unauthenticated\"]\n"
    "  --encoding E           the file's encoding when not UTF-8\n"
    "  --delimiter C          the cell separator [found]\n"
    "  --lang vi|en           the language of the messages [en]\n"
    "  --dry-run              check and compare, send nothing\n"
    "  --partial              send the good rows even when some have\n"
    "                         problems or stored rows left the sheet\n"
    "  --allow-duplicate-rows identical rows are separate events (ids\n"
    "                         ending .2, .3...), not repeats\n"
    "  --batch N              events per frame [1000]\n"
    "  --apply-changes        put the log right as the sheet now says: a\n"
    "                         changed row becomes a correction of its stored\n"
    "                         record (record.corrected), a stored row no\n"
    "                         longer in the sheet is voided (record.voided);\n"
    "                         they are listed, then confirmed on a terminal\n"
    "  --yes                  with --apply-changes: do not ask (needed when\n"
    "                         standard input is not a terminal)\n"
    "  --reason TEXT          with --apply-changes: why, kept with each\n"
    "                         correction and void [the row, or \"no longer\n"
    "                         in the sheet\"]\n"
    "  --corrections SHEET    import a correction sheet instead: columns Số\n"
    "                         biên lai (a receipt number of the sheet\n"
    "                         --sheet, a record's id, or #N), Trường (the\n"
    "                         field, as a column header or amount, unit,\n"
    "                         at...), Giá trị mới (the new value, written as\n"
    "                         in a data sheet; empty removes an optional\n"
    "                         field), Lý do (why); the rows of one record\n"
    "                         make one correction, shown, then confirmed\n"
    "                         (--yes)\n"
    "\n"
    "Ids never come from the file's name or the row's position: from the\n"
    "receipt number when the sheet has one, else from the row's content\n"
    "and the publisher (csv-P-SHEET-bl-RECEIPT, csv-P-SHEET-hHASH).  So the\n"
    "same sheet imported again, under any name, with rows added, deleted or\n"
    "moved, stores only the new rows.  Before sending, the rows are compared\n"
    "with what the log holds of this publisher's sheet (the read op: with\n"
    "CURVE the publisher needs query = log): a row whose receipt number is\n"
    "stored with other content is reported as changed since the last\n"
    "import and not sent; a stored row that the sheet no longer has is\n"
    "reported too, and then nothing is sent (a row corrected without a\n"
    "receipt number has a new id, and would count twice) unless --partial.\n"
    "Two identical rows are imported once and reported.\n"
    "\n"
    "Exit status: 0 every row stored (or stored before); 1 a row has a\n"
    "problem, was refused, repeats another, changed or disappeared since\n"
    "the last import (nothing is sent for problems without --partial);\n"
    "2 a usage error or a sheet that cannot be imported (not UTF-8, CSV\n"
    "syntax, a required column missing); 3 povtrackd did not answer.\n";

enum say {
    S_CHANGED,
    S_VOIDED,
    S_GONE,
    S_PUT_RIGHT,
    S_WILL_CORRECT,
    S_WILL_VOID,
    S_HELD,
    S_HELD_GONE,
    S_DRY,
    S_SUMMARY,
    S_NOT_COMPARED,
    S_READING,
    S_COUNT
};

static const char *const words[S_COUNT][2] = {
    [S_CHANGED] = {"row %zu: changed since the last import (stored at #%llu: "
                   "%s)%s",
                   "dòng %zu: đã khác so với lần nhập trước (đã lưu ở #%llu: "
                   "%s)%s"},
    [S_VOIDED] = {"row %zu: voided since it was imported (#%llu): counted "
                  "nowhere, not sent again; delete the row from the sheet "
                  "(`povtrack audit '#%llu'` shows who voided it and why)",
                  "dòng %zu: đã bị hủy sau khi nhập (#%llu): không được tính, "
                  "không gửi lại; hãy xóa dòng này khỏi bảng (`povtrack audit "
                  "'#%llu'` cho biết ai đã hủy và vì sao)"},
    [S_GONE] = {"#%llu (%s) is no longer in the sheet%s",
                "#%llu (%s) không còn trong bảng%s"},
    /* What to do about a changed or vanished row; with --apply-changes,
     * what it is about to do. */
    [S_PUT_RIGHT] = {": use `povtrack correct`/`void` or `import-csv "
                     "--apply-changes`",
                     ": dùng `povtrack correct`/`void` hoặc `import-csv "
                     "--apply-changes`"},
    [S_WILL_CORRECT] = {": --apply-changes corrects it as the row says",
                        ": --apply-changes sẽ sửa bản đã lưu theo dòng này"},
    [S_WILL_VOID] = {": --apply-changes voids it",
                     ": --apply-changes sẽ hủy bản đã lưu này"},
    [S_HELD] = {"nothing sent: %zu row%s with problems; fix them, or give "
                "--partial to send the good rows",
                "chưa gửi gì: %zu dòng có lỗi; hãy sửa, hoặc dùng --partial "
                "để gửi các dòng đúng"},
    [S_HELD_GONE] = {"nothing sent: %zu stored row%s of this sheet %s no "
                     "longer in it, and a row corrected since would count "
                     "twice; put them right first (or, if this file is "
                     "another sheet, give --sheet NAME; --partial sends the "
                     "new rows anyway)",
                     "chưa gửi gì: %zu dòng đã lưu của bảng này không còn "
                     "trong bảng%.0s%.0s, và một dòng đã sửa sẽ bị tính hai "
                     "lần; hãy sửa chúng trước (nếu tệp này là bảng khác, "
                     "dùng --sheet TÊN; --partial vẫn gửi các dòng mới)"},
    [S_DRY] = {"dry run: nothing sent", "chạy thử: chưa gửi gì"},
    [S_SUMMARY] = {"import-csv: %zu rows: %zu new, %zu already stored, %zu "
                   "changed, %zu no longer in the sheet, %zu repeated, %zu "
                   "with problems%s",
                   "import-csv: %zu dòng: %zu mới, %zu đã lưu trước, %zu đã "
                   "khác, %zu không còn trong bảng, %zu lặp lại, %zu có "
                   "lỗi%s"},
    [S_NOT_COMPARED] = {" (not compared with the log)",
                        " (chưa so với sổ dữ liệu)"},
    [S_READING] = {"reading the log: %llu records", "đọc sổ dữ liệu: %llu bản"},
};

struct run {
    struct tl_cli *cli;
    struct tl_import_opts o;
    struct tl_import_sheet s;
    const char *path;
    bool dry_run, partial;
    bool apply, yes;    /* --apply-changes, --yes */
    const char *fixes;  /* --corrections SHEET */
    const char *reason; /* --reason */
    bool applying;      /* the changes listed are being sent, confirmed */
    size_t batch;
    bool tty;
    /* Counted while sending. */
    bool sent;
    size_t acked_ok, acked_duplicate;
    size_t changed_late; /* refused by the daemon as changed */
    const char *cols[OPTS_MAX], *sets[OPTS_MAX];
    char publisher[64];
};

static const char *w(const struct run *r, enum say k)
{
    return words[k][r->o.lang == TL_LANG_VI ? 1 : 0];
}

/* A line of the report on standard output: text, or with --json an
 * object of the fields given. */
static int report(struct run *r, json_t *obj, const char *text)
{
    int rc = 0;

    if (r->cli->json) {
        if (obj == NULL)
            return TL_EXIT_FAIL;
        json_object_set_new(obj, "message", json_string(text));
        rc = json_dumpf(obj, r->cli->out, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(obj);
        if (rc == 0 && fputc('\n', r->cli->out) == EOF)
            rc = -1;
    } else {
        json_decref(obj);
        rc = fprintf(r->cli->out, "%s\n", text) < 0 ? -1 : 0;
    }
    return rc == 0 ? 0 : TL_EXIT_FAIL;
}

static int print_problems(struct run *r)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < r->s.nproblems; i++) {
        const struct tl_import_problem *p = &r->s.problems[i];
        json_t *o = json_pack("{s:s,s:I,s:s?,s:s?,s:s}", "status", "problem",
                              "row", (json_int_t)p->row, "column", p->column,
                              "value", p->value, "error", p->reason);
        rc = report(r, o, p->text);
    }
    return rc;
}

static void print_notes(struct run *r)
{
    for (size_t i = 0; i < r->s.nnotes; i++)
        fprintf(stderr, "povtrack import-csv: %s\n", r->s.notes[i]);
}

/* Is code the unit of one of the rows [0, n)? */
static bool row_unit_in(const struct tl_import_sheet *s, size_t n,
                        const char *code)
{
    for (size_t k = 0; k < n; k++)
        if (strcmp(code, json_string_value(
                             json_object_get(s->rows[k].event, "unit"))) == 0)
            return true;
    return false;
}

/* Ask d for code; one it does not know is reported and taken off the
 * rows and the list of the bad rows' units (*removed).  0, or an exit
 * code. */
static int ask_unit(struct tl_unitdir *d, struct tl_import_sheet *s,
                    const char *code, struct tl_error *err, bool *removed)
{
    const struct tl_unit *u;
    int rc = tl_unitdir_find(d, code, &u);
    *removed = rc == POVTRACK_ENOTFOUND;
    if (*removed)
        return tl_import_unknown_unit(s, code, err) != 0 ? TL_EXIT_FAIL : 0;
    return rc;
}

/* The units of the rows, asked of the daemon: a code it does not know
 * makes its rows problems. */
static int check_units(struct run *r)
{
    struct tl_unitdir *d = tl_unitdir_new(r->cli);
    struct tl_error err = {{0}};
    int rc = d != NULL ? 0 : TL_EXIT_FAIL;
    bool removed;

    for (size_t i = 0; rc == 0 && i < r->s.nrows; i++) {
        const char *code =
            json_string_value(json_object_get(r->s.rows[i].event, "unit"));
        /* Each code once: an earlier row with it was looked up. */
        if (row_unit_in(&r->s, i, code))
            continue;
        rc = ask_unit(d, &r->s, code, &err, &removed);
        if (removed)
            i--; /* the rows moved down */
    }
    /* The units of the rows with other problems, so that the clerk hears
     * of a unit typo in the same round.  A code seen above, or earlier in
     * this list, is known: an unknown one was taken off both lists. */
    for (size_t i = 0; rc == 0 && i < r->s.nbad_row_units; i++) {
        const char *code = r->s.bad_row_units[i].code;
        bool asked = row_unit_in(&r->s, r->s.nrows, code);
        for (size_t k = 0; k < i && !asked; k++)
            asked = strcmp(code, r->s.bad_row_units[k].code) == 0;
        if (asked)
            continue;
        rc = ask_unit(d, &r->s, code, &err, &removed);
        if (removed)
            i--; /* the list moved down */
    }
    if (err.msg[0] != '\0')
        fprintf(stderr, "povtrack import-csv: %s\n", err.msg);
    tl_unitdir_free(d);
    return rc;
}

/* Every record of the log, to find what earlier imports of this sheet
 * stored.  A refusal (the publisher may not read the log) is said and the
 * rows stay unknown: the daemon still refuses a changed row when it is
 * sent. */
static int compare_with_log(struct run *r)
{
    struct tl_error err = {{0}};
    unsigned long long from = 1, read = 0;
    int rc = 0;

    for (;;) {
        struct povtrack_client_msg reply;
        msgpack_sbuffer sb;
        const msgpack_object *recs;
        json_t *req = json_pack("{s:s,s:I,s:i}", "op", "read", "from",
                                (json_int_t)from, "limit", READ_PAGE);

        msgpack_sbuffer_init(&sb);
        rc = req != NULL ? tl_cli_pack(req, &sb) : TL_EXIT_FAIL;
        json_decref(req);
        if (rc == 0)
            rc = povtrack_client_request(r->cli->client, sb.data, sb.size,
                                         &reply);
        msgpack_sbuffer_destroy(&sb);
        if (rc == POVTRACK_CLIENT_EREFUSED) {
            fprintf(stderr,
                    "povtrack import-csv: cannot compare with earlier "
                    "imports: %s; a row changed since then is found when "
                    "povtrackd refuses it, a row deleted from the sheet is "
                    "not found\n",
                    povtrack_client_error(r->cli->client));
            povtrack_client_msg_free(&reply);
            return 0;
        }
        if (rc != 0) {
            povtrack_client_msg_free(&reply);
            return rc > 0 ? rc : tl_cli_client_fail(r->cli, rc);
        }
        recs = tl_mp_get(&reply.obj, "records");
        uint32_t n = recs != NULL && recs->type == MSGPACK_OBJECT_ARRAY
                         ? recs->via.array.size
                         : 0;
        for (uint32_t i = 0; rc == 0 && i < n; i++) {
            const msgpack_object *rec = &recs->via.array.ptr[i];
            int64_t seq;
            if (!tl_mp_i64(rec, "seq", &seq))
                continue;
            rc = tl_import_compare(&r->s, (uint64_t)seq,
                                   tl_mp_get(rec, "event"), &err);
            from = (unsigned long long)seq + 1;
        }
        povtrack_client_msg_free(&reply);
        read += n;
        /* A count while pages follow: a long log takes seconds. */
        if (r->tty && n == READ_PAGE) {
            fputc('\r', stderr);
            fprintf(stderr, w(r, S_READING), read);
        }
        if (rc != 0) {
            fprintf(stderr, "povtrack import-csv: %s\n", err.msg);
            return TL_EXIT_FAIL;
        }
        if (n < READ_PAGE)
            break;
    }
    if (r->tty && read >= READ_PAGE)
        fprintf(stderr, "\r%*s\r", 60, "");
    return tl_import_compared(&r->s, &err) == 0 ? 0 : TL_EXIT_FAIL;
}

static int print_changes(struct run *r)
{
    char what[512], line[1024];
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < r->s.nrows; i++) {
        const struct tl_import_row *row = &r->s.rows[i];
        if (row->state != TL_ROW_CHANGED)
            continue;
        tl_import_describe(&r->s, row->stored, what, sizeof(what));
        snprintf(line, sizeof(line), w(r, S_CHANGED), row->row,
                 (unsigned long long)row->seq, what,
                 w(r, r->apply ? S_WILL_CORRECT : S_PUT_RIGHT));
        rc = report(r,
                    json_pack("{s:s,s:I,s:s,s:I}", "status", "changed", "row",
                              (json_int_t)row->row, "id", row->id, "seq",
                              (json_int_t)row->seq),
                    line);
    }
    for (size_t i = 0; rc == 0 && i < r->s.nrows; i++) {
        const struct tl_import_row *row = &r->s.rows[i];
        if (row->state != TL_ROW_VOIDED)
            continue;
        snprintf(line, sizeof(line), w(r, S_VOIDED), row->row,
                 (unsigned long long)row->seq, (unsigned long long)row->seq);
        rc = report(r,
                    json_pack("{s:s,s:I,s:s,s:I}", "status", "voided", "row",
                              (json_int_t)row->row, "id", row->id, "seq",
                              (json_int_t)row->seq),
                    line);
    }
    for (size_t i = 0; rc == 0 && i < r->s.ngone; i++) {
        const struct tl_import_gone *g = &r->s.gone[i];
        tl_import_describe(&r->s, g->event, what, sizeof(what));
        snprintf(line, sizeof(line), w(r, S_GONE), (unsigned long long)g->seq,
                 what, w(r, r->apply ? S_WILL_VOID : S_PUT_RIGHT));
        rc =
            report(r,
                   json_pack("{s:s,s:s?,s:I}", "status", "gone", "id",
                             json_string_value(json_object_get(g->event, "id")),
                             "seq", (json_int_t)g->seq),
                   line);
    }
    return rc;
}

/* A rejection by the daemon (tl_batch.on_rejected): a receipt number
 * stored with other content is a change since the last import, said as
 * such; anything else as the daemon said it, at its row. */
static int on_rejected(void *arg, size_t row, const char *id, const char *error)
{
    struct run *r = arg;
    char line[1024];

    if (strncmp(error, "id: reused with different content", 33) == 0) {
        const char *at = strstr(error, "seq ");
        unsigned long long seq = at != NULL ? strtoull(at + 4, NULL, 10) : 0;
        r->changed_late++;
        snprintf(line, sizeof(line), w(r, S_CHANGED), row, seq, id,
                 w(r, S_PUT_RIGHT));
        return report(r,
                      json_pack("{s:s,s:I,s:s?,s:I}", "status", "changed",
                                "row", (json_int_t)row, "id", id, "seq",
                                (json_int_t)seq),
                      line);
    }
    snprintf(line, sizeof(line),
             r->o.lang == TL_LANG_VI ? "dòng %zu: povtrackd từ chối: %s"
                                     : "row %zu: povtrackd refused it: %s",
             row, error);
    return report(r,
                  json_pack("{s:s,s:I,s:s?,s:s}", "status", "rejected", "row",
                            (json_int_t)row, "id", id, "error", error),
                  line);
}

/* The correction that makes the stored record of a changed row what the
 * row now says. */
static json_t *correction_of(const struct run *r,
                             const struct tl_import_row *row)
{
    char id[TL_IMPORT_ID_MAX + 1], why[128];
    if (!tl_audit_id(id, "fix-", row->id, row->corrections + 1))
        return NULL;
    snprintf(why, sizeof why,
             r->o.lang == TL_LANG_VI ? "sửa theo bảng, dòng %zu"
                                     : "corrected in the sheet, row %zu",
             row->row);
    return tl_audit_corrected(id, row->id, r->s.type, row->event,
                              r->reason != NULL ? r->reason : why);
}

/* The void of a stored record the sheet no longer has. */
static json_t *void_of(const struct run *r, const struct tl_import_gone *g)
{
    char id[TL_IMPORT_ID_MAX + 1];
    const char *target = json_string_value(json_object_get(g->event, "id"));
    if (target == NULL || !tl_audit_id(id, "void-", target, 0))
        return NULL;
    return tl_audit_voided(
        id, target, r->s.type, json_object_get(g->event, "unit"), r->o.now,
        r->reason != NULL         ? r->reason
        : r->o.lang == TL_LANG_VI ? "không còn trong bảng"
                                  : "no longer in the sheet");
}

/* --apply-changes: the corrections and voids of what was listed as
 * changed or no longer in the sheet, confirmed; *n how many.  0, or an
 * exit code after saying why. */
static int confirm_changes(struct run *r, size_t *n)
{
    size_t changed = 0;
    for (size_t i = 0; i < r->s.nrows; i++)
        changed += r->s.rows[i].state == TL_ROW_CHANGED;
    *n = changed + r->s.ngone;
    if (*n == 0 || r->dry_run)
        return 0;
    bool vi = r->o.lang == TL_LANG_VI;
    /* November's book imported without --sheet after October's: every
     * October record is "no longer in the sheet", and applying the
     * changes would void a month of donations.  When the file shares not
     * one row with what the default sheet stored, it is another book:
     * refuse unless the sheet is named. */
    size_t known = 0;
    for (size_t i = 0; i < r->s.nrows; i++)
        known += r->s.rows[i].state != TL_ROW_NEW &&
                 r->s.rows[i].state != TL_ROW_UNKNOWN;
    if (r->o.sheet == NULL && r->s.ngone > 0 && known == 0) {
        fprintf(stderr,
                vi ? "povtrack import-csv: chưa gửi gì: không dòng nào của "
                     "tệp này đã lưu trong sổ mặc định, và --apply-changes "
                     "sẽ hủy cả %zu bản ghi đã lưu của sổ ấy. Nếu đây là sổ "
                     "khác (tháng khác), đặt tên riêng cho nó bằng --sheet "
                     "TÊN; nếu thật muốn hủy chúng, ghi rõ --sheet %s\n"
                   : "povtrack import-csv: nothing sent: not one row of this "
                     "file is stored in the default sheet, and "
                     "--apply-changes would void all %zu records stored "
                     "for it.  If this file is another book (another "
                     "month's), give it a name of its own with --sheet "
                     "NAME; to void them indeed, name the sheet: "
                     "--sheet %s\n",
                r->s.ngone,
                r->o.type != NULL ? r->o.type : TL_IMPORT_DEFAULT_TYPE);
        return TL_EXIT_FAIL;
    }
    if (!r->yes && !isatty(STDIN_FILENO)) {
        fprintf(stderr,
                vi ? "povtrack import-csv: chưa xác nhận: đầu vào không phải "
                     "thiết bị đầu cuối; dùng --yes để sửa không hỏi\n"
                   : "povtrack import-csv: not confirmed: standard input is "
                     "not a terminal; give --yes to apply the changes "
                     "without asking\n");
        return TL_EXIT_FAIL;
    }
    if (!r->yes) {
        char line[16];
        if (vi)
            fprintf(stderr,
                    "Sửa %zu bản ghi và hủy %zu bản ghi như trên? [y/N] ",
                    changed, r->s.ngone);
        else
            fprintf(stderr,
                    "Correct %zu stored record%s and void %zu as listed "
                    "above? [y/N] ",
                    changed, changed == 1 ? "" : "s", r->s.ngone);
        if (fgets(line, sizeof line, stdin) == NULL ||
            (line[0] != 'y' && line[0] != 'Y')) {
            fprintf(stderr, "povtrack import-csv: %s\n",
                    vi ? "chưa gửi gì" : "nothing sent");
            return TL_EXIT_FAIL;
        }
    }
    r->applying = true;
    return 0;
}

/* Queue the corrections and voids (after the rows: their targets are in
 * the log already). */
static int send_changes(struct run *r, struct tl_batch *b, struct tl_error *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < r->s.nrows; i++) {
        const struct tl_import_row *row = &r->s.rows[i];
        if (row->state != TL_ROW_CHANGED)
            continue;
        json_t *c = correction_of(r, row);
        rc = c != NULL ? tl_batch_add(b, row->row, c, err)
                       : tl_fail(err, POVTRACK_EINVALID,
                                 "row %zu: its correction's id would be "
                                 "longer than %d bytes",
                                 row->row, TL_IMPORT_ID_MAX);
        json_decref(c);
    }
    for (size_t i = 0; rc == 0 && i < r->s.ngone; i++) {
        json_t *v = void_of(r, &r->s.gone[i]);
        rc = v != NULL ? tl_batch_add(b, 0, v, err)
                       : tl_fail(err, POVTRACK_EINVALID,
                                 "#%llu: its void's id would be longer than "
                                 "%d bytes",
                                 (unsigned long long)r->s.gone[i].seq,
                                 TL_IMPORT_ID_MAX);
        json_decref(v);
    }
    return rc;
}

/* Send the corrections and voids confirmed, in frames of their own after
 * the rows, with a summary of their own; refusals add to *trouble. */
static int apply_changes(struct run *r, size_t *trouble)
{
    struct tl_batch b;
    struct tl_error err = {{0}};
    if (tl_batch_init(&b, r->cli->client, "row", r->batch, r->cli->out,
                      r->cli->json, false) != 0) {
        fprintf(stderr, "povtrack: out of memory\n");
        return TL_EXIT_FAIL;
    }
    int rc = send_changes(r, &b, &err);
    if (rc == 0)
        rc = tl_batch_flush(&b, &err);
    if (rc != 0 && b.client_rc != 0)
        rc = tl_cli_client_fail(r->cli, b.client_rc);
    else if (rc != 0) {
        fprintf(stderr, "povtrack import-csv: %s\n", err.msg);
        rc = TL_EXIT_FAIL;
    } else {
        rc = tl_batch_summary(&b) == 0 ? 0 : TL_EXIT_FAIL;
    }
    *trouble += b.rejected;
    tl_batch_free(&b);
    return rc;
}

/* Send the rows to store: new ones, and those stored already (the daemon
 * acks them as duplicates, which is the clerk's proof). */
static int send_rows(struct run *r, struct tl_batch *b)
{
    struct tl_error err = {{0}};
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < r->s.nrows; i++) {
        const struct tl_import_row *row = &r->s.rows[i];
        if (row->repeats != 0 || !tl_import_row_sent(row))
            continue;
        rc = tl_batch_add(b, row->row, row->event, &err);
    }
    if (rc == 0)
        rc = tl_batch_flush(b, &err);
    if (rc != 0 && b->client_rc != 0) {
        if (b->progress)
            fputc('\n', stderr);
        return tl_cli_client_fail(r->cli, b->client_rc);
    }
    if (rc != 0) {
        fprintf(stderr, "povtrack import-csv: %s\n", err.msg);
        return TL_EXIT_FAIL;
    }
    return tl_batch_summary(b) == 0 ? 0 : TL_EXIT_FAIL;
}

/* The rows with problems (a row may have several). */
static size_t problem_rows(const struct tl_import_sheet *s)
{
    size_t rows = 0, last = 0;

    for (size_t i = 0; i < s->nproblems; i++) {
        rows += s->problems[i].row != last;
        last = s->problems[i].row;
    }
    return rows;
}

/* The last line: what became of every row.  Adds to *trouble the rows
 * that were not stored as the sheet has them. */
static int summary(struct run *r, size_t *trouble)
{
    size_t fresh = 0, stored = 0, changed = r->changed_late, repeated = 0;
    size_t amended = 0, voided = 0;
    size_t bad_rows = problem_rows(&r->s);
    char line[512];

    for (size_t i = 0; i < r->s.nrows; i++) {
        const struct tl_import_row *row = &r->s.rows[i];
        repeated += row->repeats != 0;
        fresh += row->repeats == 0 &&
                 (row->state == TL_ROW_NEW || row->state == TL_ROW_UNKNOWN);
        stored += row->state == TL_ROW_UNCHANGED;
        changed += row->state == TL_ROW_CHANGED;
        amended += row->state == TL_ROW_CORRECTED;
        voided += row->state == TL_ROW_VOIDED;
    }
    /* Once sent, the daemon's acks say which rows were new. */
    if (r->sent) {
        fresh = r->acked_ok;
        stored = r->acked_duplicate;
    }
    /* Rows stored before and corrected or voided since are stored rows,
     * not sent again. */
    stored += amended + voided;
    /* Changes applied: only their refusals (counted while sending) are
     * trouble. */
    *trouble += bad_rows + repeated + voided +
                (r->applying ? r->changed_late : changed + r->s.ngone);
    snprintf(line, sizeof(line), w(r, S_SUMMARY), r->s.data_rows, fresh, stored,
             changed, r->s.ngone, repeated, bad_rows,
             r->s.compared ? "" : w(r, S_NOT_COMPARED));
    return report(r,
                  json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b}", "status",
                            "summary", "rows", (json_int_t)r->s.data_rows,
                            "new", (json_int_t)fresh, "stored",
                            (json_int_t)stored, "changed", (json_int_t)changed,
                            "gone", (json_int_t)r->s.ngone, "repeated",
                            (json_int_t)repeated, "problems",
                            (json_int_t)bad_rows, "compared", r->s.compared),
                  line);
}

/* Who imports, for the ids: --publisher-name, else the public key of
 * --key, else the name plain mode gives every client. */
static void publisher(struct run *r, const char *name)
{
    snprintf(r->publisher, sizeof(r->publisher), "%s",
             name != NULL                    ? name
             : r->cli->public_key[0] != '\0' ? r->cli->public_key
                                             : UNAUTHENTICATED);
    r->o.publisher = r->publisher;
}

static int options(struct run *r, int argc, char **argv)
{
    static const struct option longopts[] = {
        TL_COMMON_OPTIONS,
        {"unit", required_argument, NULL, 'u'},
        {"type", required_argument, NULL, 't'},
        {"column", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"id-column", required_argument, NULL, 'i'},
        {"sheet", required_argument, NULL, 'S'},
        {"publisher-name", required_argument, NULL, 'P'},
        {"encoding", required_argument, NULL, 'E'},
        {"delimiter", required_argument, NULL, 'd'},
        {"lang", required_argument, NULL, 'L'},
        {"dry-run", no_argument, NULL, 'n'},
        {"partial", no_argument, NULL, 'p'},
        {"allow-duplicate-rows", no_argument, NULL, 'D'},
        {"batch", required_argument, NULL, 'b'},
        {"apply-changes", no_argument, NULL, 'A'},
        {"yes", no_argument, NULL, 'y'},
        {"reason", required_argument, NULL, 'R'},
        {"corrections", required_argument, NULL, 'C'},
        {0}};
    const char *name = NULL;
    int c, rc = 0;

    while ((c = getopt_long(argc, argv, "u:t:c:s:i:S:P:E:d:L:npDb:", longopts,
                            NULL)) != -1) {
        switch (c) {
        case 'A':
            r->apply = true;
            break;
        case 'C':
            r->fixes = optarg;
            break;
        case 'y':
            r->yes = true;
            break;
        case 'R':
            if (optarg[0] == '\0')
                return tl_cli_usage("import-csv", "--reason must not be empty");
            r->reason = optarg;
            break;
        case TL_OPT_HELP:
            fputs(import_usage, stdout);
            return TL_EXIT_HELP_SHOWN;
        case 'u':
            r->o.unit = optarg;
            break;
        case 't':
            r->o.type = optarg;
            break;
        case 'c':
        case 's':
            if ((c == 'c' ? r->o.ncolumns : r->o.nsets) == OPTS_MAX)
                return tl_cli_usage("import-csv", "at most %d of --%s",
                                    OPTS_MAX, c == 'c' ? "column" : "set");
            if (c == 'c')
                r->cols[r->o.ncolumns++] = optarg;
            else
                r->sets[r->o.nsets++] = optarg;
            break;
        case 'i':
            r->o.id_column = optarg;
            break;
        case 'S':
            r->o.sheet = optarg;
            break;
        case 'P':
            if (strlen(optarg) == 0 || strlen(optarg) >= sizeof(r->publisher))
                return tl_cli_usage("import-csv",
                                    "--publisher-name must have 1..%zu bytes",
                                    sizeof(r->publisher) - 1);
            name = optarg;
            break;
        case 'E':
            r->o.encoding = optarg;
            break;
        case 'd':
            rc = tl_cli_delimiter("import-csv", optarg, &r->o.delim);
            break;
        case 'L':
            if (strcmp(optarg, "vi") != 0 && strcmp(optarg, "en") != 0)
                return tl_cli_usage("import-csv", "--lang is vi or en");
            r->o.lang = optarg[0] == 'v' ? TL_LANG_VI : TL_LANG_EN;
            break;
        case 'n':
            r->dry_run = true;
            break;
        case 'p':
            r->partial = true;
            break;
        case 'D':
            r->o.allow_duplicate_rows = true;
            break;
        case 'b':
            rc = tl_cli_batch("import-csv", optarg, &r->batch);
            break;
        case '?':
            return tl_cli_badopt("import-csv");
        default:
            rc = tl_cli_common(r->cli, c, optarg);
            break;
        }
        if (rc != 0)
            return rc;
    }
    if (r->fixes != NULL && (argc - optind != 0 || r->apply))
        return tl_cli_usage("import-csv",
                            "--corrections SHEET is the only file: no FILE, "
                            "no --apply-changes");
    if (r->fixes == NULL && argc - optind != 1)
        return tl_cli_usage("import-csv", "give exactly one FILE");
    if (r->reason != NULL && !r->apply)
        return tl_cli_usage("import-csv", "--reason goes with --apply-changes");
    if (r->yes && !r->apply && r->fixes == NULL)
        return tl_cli_usage("import-csv",
                            "--yes goes with --apply-changes or --corrections");
    r->path = r->fixes != NULL ? r->fixes : argv[optind];
    r->o.columns = r->cols;
    r->o.sets = r->sets;
    publisher(r, name);
    return 0;
}

/* Read and check the sheet, then the units and the log: 0, or an exit
 * code. */
static int prepare(struct run *r)
{
    struct tl_error err = {{0}};
    FILE *in;
    int rc = tl_cli_open("import-csv", r->path, &in);

    if (rc != 0)
        return rc;
    rc = tl_import_read(in, &r->o, &r->s, &err);
    tl_cli_close(in);
    print_notes(r);
    if (rc == POVTRACK_EINVALID) {
        for (size_t i = 0; i < r->s.nproblems; i++)
            if (r->s.problems[i].row == 0)
                fprintf(stderr, "povtrack import-csv: %s\n",
                        r->s.problems[i].text);
        fprintf(stderr, "povtrack import-csv: %s: %s\n", r->path, err.msg);
        return TL_EXIT_USAGE;
    }
    if (rc != 0) {
        fprintf(stderr, "povtrack import-csv: %s: %s\n", r->path, err.msg);
        return TL_EXIT_FAIL;
    }
    rc = check_units(r);
    if (rc == 0)
        rc = compare_with_log(r);
    return rc;
}

/* The corrections of one record, from the rows of a correction sheet. */
struct fix_group {
    const struct tl_import_fix *first;
    json_t *event; /* the correction, or NULL */
};

/* One record of a correction sheet: fetch it as it stands, apply the rows
 * naming it, show what changes; *event the correction, or NULL (said why,
 * *bad set) when the record cannot take it. */
static int fix_record(struct run *r, const struct tl_import_fix *fx, size_t n,
                      size_t at, json_t **event, bool *bad)
{
    struct tl_audit a;
    const char *target = fx[at].target;
    *event = NULL;
    int rc = tl_audit_fetch(r->cli, "import-csv", target, &a);
    if (rc != 0) {
        *bad = true;
        return rc == TL_EXIT_UNREACHABLE ? rc : 0;
    }
    if (tl_audit_check("correct", target, &a) != 0) {
        *bad = true;
        tl_audit_free(&a);
        return 0;
    }
    json_t *now = json_deep_copy(a.current);
    char reason[1024] = "", rows[256] = "";
    size_t rl = 0, wl = 0;
    for (size_t i = at; now != NULL && i < n; i++) {
        if (strcmp(fx[i].target, target) != 0)
            continue;
        tl_audit_put(now, fx[i].field, fx[i].value);
        /* Each reason once, in the order of the rows. */
        if (strstr(reason, fx[i].reason) == NULL && rl < sizeof reason)
            rl += (size_t)snprintf(reason + rl, sizeof reason - rl, "%s%s",
                                   rl > 0 ? "; " : "", fx[i].reason);
        if (wl < sizeof rows)
            wl += (size_t)snprintf(rows + wl, sizeof rows - wl, "%s%zu",
                                   wl > 0 ? ", " : "", fx[i].row);
    }
    char id[TL_AUDIT_ID_MAX + 1];
    if (now == NULL) {
        rc = TL_EXIT_FAIL;
    } else {
        fprintf(r->cli->out, "%s %s: %s  %s (%s)\n",
                r->o.lang == TL_LANG_VI ? "dòng" : "row", rows, a.id, a.type,
                a.corrections > 0 ? "as corrected" : "as entered");
        if (tl_audit_diff(r->cli->out, "  ", a.current, now) == 0) {
            /* Corrected already (the sheet imported before): nothing to
             * send, nothing wrong. */
            fprintf(r->cli->out, "  %s\n",
                    r->o.lang == TL_LANG_VI
                        ? "đã đúng: bản ghi đã có các giá trị này"
                        : "already so: the record has these values");
        } else if (!tl_audit_id(id, "fix-", a.id, a.corrections + 1)) {
            fprintf(stderr,
                    "povtrack import-csv: %s: a correction's id would be "
                    "longer than %d bytes\n",
                    a.id, TL_AUDIT_ID_MAX);
            *bad = true;
        } else if ((*event = tl_audit_corrected(id, a.id, a.type, now,
                                                reason)) == NULL) {
            rc = TL_EXIT_FAIL;
        }
    }
    json_decref(now);
    tl_audit_free(&a);
    return rc;
}

/* --corrections SHEET: every row checked, each record fetched and its
 * correction shown, then, confirmed, the corrections sent. */
static int run_fixes(struct run *r)
{
    struct tl_error err = {{0}};
    struct tl_import_fix *fx = NULL;
    size_t n = 0, bad = 0, ready = 0;
    FILE *in;
    int rc = tl_cli_open("import-csv", r->path, &in);
    if (rc != 0)
        return rc;
    rc = tl_import_read_fixes(in, &r->o, &r->s, &fx, &n, &err);
    tl_cli_close(in);
    if (rc != 0) {
        fprintf(stderr, "povtrack import-csv: %s: %s\n", r->path, err.msg);
        tl_import_free(&r->s);
        return rc == POVTRACK_EINVALID ? TL_EXIT_USAGE : TL_EXIT_FAIL;
    }
    rc = print_problems(r);
    struct fix_group *g = calloc(n > 0 ? n : 1, sizeof *g);
    size_t ng = 0;
    if (g == NULL)
        rc = TL_EXIT_FAIL;
    for (size_t i = 0; rc == 0 && r->s.nproblems == 0 && i < n; i++) {
        bool seen = false, no = false;
        for (size_t k = 0; k < ng && !seen; k++)
            seen = strcmp(g[k].first->target, fx[i].target) == 0;
        if (seen)
            continue;
        g[ng].first = &fx[i];
        rc = fix_record(r, fx, n, i, &g[ng].event, &no);
        bad += no;
        ready += g[ng].event != NULL;
        ng++;
    }
    bool vi = r->o.lang == TL_LANG_VI;
    if (rc == 0 && r->s.nproblems > 0)
        fprintf(stderr, "povtrack import-csv: %s\n",
                vi ? "chưa gửi gì: hãy sửa các dòng có lỗi"
                   : "nothing sent: put the rows with problems right");
    else if (rc == 0 && bad > 0)
        fprintf(stderr, "povtrack import-csv: %s\n",
                vi ? "chưa gửi gì: có bản ghi không sửa được (xem trên)"
                   : "nothing sent: a record cannot be corrected (above)");
    else if (rc == 0 && r->dry_run)
        fprintf(stderr, "povtrack import-csv: %s\n", w(r, S_DRY));
    else if (rc == 0 && ready > 0 && !r->yes && !isatty(STDIN_FILENO)) {
        fprintf(stderr, "povtrack import-csv: %s\n",
                vi ? "chưa xác nhận: đầu vào không phải thiết bị đầu cuối; "
                     "dùng --yes để sửa không hỏi"
                   : "not confirmed: standard input is not a terminal; give "
                     "--yes to send the corrections without asking");
        rc = TL_EXIT_FAIL;
    } else if (rc == 0 && ready > 0) {
        char line[16] = "y";
        if (!r->yes) {
            fprintf(stderr,
                    vi ? "Gửi %zu bản sửa? [y/N] "
                       : "Send %zu corrections? [y/N] ",
                    ready);
            if (fgets(line, sizeof line, stdin) == NULL)
                line[0] = 'n';
        }
        struct tl_batch b;
        if (line[0] != 'y' && line[0] != 'Y') {
            fprintf(stderr, "povtrack import-csv: %s\n",
                    vi ? "chưa gửi gì" : "nothing sent");
            rc = TL_EXIT_FAIL;
        } else if (tl_batch_init(&b, r->cli->client, "row", r->batch,
                                 r->cli->out, r->cli->json, false) != 0) {
            rc = TL_EXIT_FAIL;
        } else {
            for (size_t k = 0; rc == 0 && k < ng; k++)
                if (g[k].event != NULL)
                    rc = tl_batch_add(&b, g[k].first->row, g[k].event, &err);
            if (rc == 0)
                rc = tl_batch_flush(&b, &err);
            if (rc != 0 && b.client_rc != 0)
                rc = tl_cli_client_fail(r->cli, b.client_rc);
            else if (rc != 0) {
                fprintf(stderr, "povtrack import-csv: %s\n", err.msg);
                rc = TL_EXIT_FAIL;
            } else if (tl_batch_summary(&b) != 0 || b.rejected > 0) {
                rc = TL_EXIT_FAIL;
            }
            tl_batch_free(&b);
        }
    }
    if (rc == 0 && (r->s.nproblems > 0 || bad > 0))
        rc = TL_EXIT_FAIL;
    for (size_t k = 0; g != NULL && k < ng; k++)
        json_decref(g[k].event);
    free(g);
    tl_import_fixes_free(fx, n);
    tl_import_free(&r->s);
    return rc;
}

int tl_cmd_import_csv(struct tl_cli *cli, int argc, char **argv)
{
    struct run r;
    struct tl_batch b;
    size_t trouble = 0, good = 0;
    int rc;

    memset(&r, 0, sizeof(r));
    r.cli = cli;
    r.batch = TL_BATCH_DEFAULT;
    r.o.now = (int64_t)time(NULL);
    r.tty = isatty(STDERR_FILENO);
    rc = options(&r, argc, argv);
    if (rc != 0)
        return rc == TL_EXIT_HELP_SHOWN ? TL_EXIT_OK : rc;
    if (r.fixes != NULL)
        return run_fixes(&r);
    rc = prepare(&r);
    if (rc == 0)
        rc = print_problems(&r);
    if (rc == 0)
        rc = print_changes(&r);
    size_t changes = 0;
    if (rc == 0 && r.apply && (r.s.nproblems == 0 || r.partial))
        rc = confirm_changes(&r, &changes);
    for (size_t i = 0; i < r.s.nrows; i++)
        good += r.s.rows[i].repeats == 0 && tl_import_row_sent(&r.s.rows[i]);
    if (r.applying)
        good += changes;
    if (rc == 0 && r.dry_run) {
        fprintf(stderr, "povtrack import-csv: %s\n", w(&r, S_DRY));
    } else if (rc == 0 && r.s.nproblems > 0 && !r.partial) {
        char line[256];
        size_t rows = problem_rows(&r.s);
        snprintf(line, sizeof(line), w(&r, S_HELD), rows, rows == 1 ? "" : "s");
        fprintf(stderr, "povtrack import-csv: %s\n", line);
    } else if (rc == 0 && r.s.ngone > 0 && !r.partial && !r.applying) {
        /* Without receipt numbers a corrected row has a new id: sent now
         * while its old version stays, it would be counted twice. */
        char line[512];
        snprintf(line, sizeof(line), w(&r, S_HELD_GONE), r.s.ngone,
                 r.s.ngone == 1 ? "" : "s", r.s.ngone == 1 ? "is" : "are");
        fprintf(stderr, "povtrack import-csv: %s\n", line);
    } else if (rc == 0 && good > 0) {
        if (tl_batch_init(&b, cli->client, "row", r.batch, cli->out, cli->json,
                          r.tty) != 0) {
            tl_import_free(&r.s);
            fprintf(stderr, "povtrack: out of memory\n");
            return TL_EXIT_FAIL;
        }
        b.on_rejected = on_rejected;
        b.arg = &r;
        rc = good > changes || !r.applying ? send_rows(&r, &b) : 0;
        r.sent = true;
        r.acked_ok = b.ok;
        r.acked_duplicate = b.duplicate;
        trouble += b.rejected - r.changed_late;
        tl_batch_free(&b);
        if (rc == 0 && r.applying)
            rc = apply_changes(&r, &trouble);
    }
    if (rc == 0)
        rc = summary(&r, &trouble);
    tl_import_free(&r.s);
    if (rc != 0)
        return rc;
    return trouble > 0 ? TL_EXIT_FAIL : TL_EXIT_OK;
}
