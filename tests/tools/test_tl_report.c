/*
 * test_tl_report.c - the report's rendering on a small hand-built document:
 * Markdown, CSV and HTML in both languages, escaping of hostile strings from
 * the daemon, the chart's geometry, CSV number formatting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tl_report.h"

#define HOSTILE "<script>alert(\"x\")</script>&'"

static void set(struct tl_rep_unit *u, enum tl_rep_col c, double v)
{
    u->has[c] = true;
    u->v[c] = v;
}

static void unit(struct tl_rep_doc *d, const char *code, const char *name,
                 size_t parent, int depth)
{
    struct tl_rep_unit *u;

    d->units = realloc(d->units, (d->nunits + 1) * sizeof(*d->units));
    assert_non_null(d->units);
    u = &d->units[d->nunits++];
    memset(u, 0, sizeof(*u));
    snprintf(u->code, sizeof(u->code), "%s", code);
    snprintf(u->name, sizeof(u->name), "%s", name);
    u->parent = parent;
    u->depth = depth;
}

/* A province, two districts (one named by an attacker, one whose chart
 * has a gap), a commune; standard and relocation not loaded. */
static void build(struct tl_rep_doc *d, enum tl_rep_lang lang)
{
    memset(d, 0, sizeof(*d));
    d->lang = lang;
    d->year = 2024;
    d->from_year = 2021;
    d->tmin = 0.7;
    d->tmax = 1.0;
    d->md_tmin = 1.0;
    d->md_tmax = 1.5;
    d->generated = 1764200000;
    d->alerts_max = 1;
    for (int s = 0; s < TL_SEC_COUNT; s++)
        d->present[s] = true;
    d->present[TL_SEC_STANDARD] = false;
    d->present[TL_SEC_RELOCATION] = false;

    unit(d, "60", "Tỉnh Bình Thuận", SIZE_MAX, 0);
    unit(d, "593", HOSTILE, 0, 1);
    unit(d, "22870", "=SUM(A1), \"Xã\" | *A*_b_", 1, 2);
    unit(d, "594", "Huyện Tuy Phong", 0, 1);
    struct tl_rep_unit *p = &d->units[0], *a = &d->units[1], *c = &d->units[2],
                       *b = &d->units[3];
    set(p, TL_COL_HOUSEHOLDS, 1500000);
    set(p, TL_COL_POOR_RATE, 3.1234);
    set(p, TL_COL_REDUCTION, 0.85);
    set(p, TL_COL_TARGET, 1);
    set(p, TL_COL_MD_RATE, 4.5);
    set(p, TL_COL_MD_REDUCTION, 1.2);
    set(p, TL_COL_MD_TARGET, 1);
    set(p, TL_COL_FUND_RECEIVED, 1500000);
    set(a, TL_COL_POOR_RATE, 4.5);
    set(a, TL_COL_REDUCTION, 0.4);
    set(a, TL_COL_TARGET, 0);
    set(a, TL_COL_MD_REDUCTION, 0.3);
    set(a, TL_COL_MD_TARGET, 0);
    set(c, TL_COL_POOR_RATE, -0.001);
    set(c, TL_COL_ASSESSED, 12); /* standard absent: never shown */
    for (int y = 0; y < 4; y++) {
        a->hist_known[y] = true;
        a->hist[y] = 6.0 - y;
        b->hist_known[y] = y != 1; /* a gap */
        b->hist[y] = 3.0 - 0.5 * y;
    }
    assert_int_equal(tl_report_kv_add(&d->fund, "fund:disbursed", TL_KIND_VND,
                                      true, 2500000),
                     0);
    assert_int_equal(
        tl_report_kv_add(&d->by_purpose, "housing", TL_KIND_VND, true, 1e6), 0);
    assert_int_equal(
        tl_report_kv_add(&d->by_purpose, HOSTILE, TL_KIND_VND, false, 0), 0);
    d->alerts = calloc(2, sizeof(*d->alerts));
    assert_non_null(d->alerts);
    d->nalerts = 2;
    d->alerts[0].code = strdup("poverty.target_missed");
    d->alerts[0].severity = strdup("warning");
    d->alerts[0].unit = strdup("593");
    d->alerts[0].message = strdup(HOSTILE);
    d->alerts[0].at = 1734220800;
    d->alerts[1].code = strdup("fund.large_donation");
    d->alerts[1].severity = strdup("info");
    d->alerts[1].at = 1734220800;
}

/* The rendering as a string (caller frees). */
static char *render(const struct tl_rep_doc *d, enum tl_rep_format fmt)
{
    char *buf = NULL;
    size_t len = 0;
    struct tl_error err = {{0}};
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    assert_int_equal(tl_report_render(f, d, fmt, &err), 0);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void test_markdown_vi(void **state)
{
    struct tl_rep_doc d;
    char *md;

    (void)state;
    build(&d, TL_REP_VI);
    md = render(&d, TL_REP_MD);
    assert_non_null(strstr(md, "# Báo cáo"));
    assert_non_null(strstr(md, "| Tỷ lệ hộ nghèo |"));
    assert_non_null(strstr(md, "Hộ cận nghèo"));
    assert_non_null(strstr(md, "Giảm (điểm %)"));
    assert_non_null(strstr(md, "| **Đạt** |"));
    assert_non_null(strstr(md, "| Không đạt |"));
    /* Vietnamese numbers: dots for thousands, comma for decimals. */
    assert_non_null(strstr(md, "**1.500.000**"));
    assert_non_null(strstr(md, "**3,12%**"));
    assert_non_null(strstr(md, "0,70–1,00 điểm %/năm"));
    /* Both rates, both reductions, both bands. */
    assert_non_null(strstr(md, "Mục tiêu giảm tỷ lệ nghèo đa chiều: "
                               "1,00–1,50 điểm %/năm"));
    assert_non_null(strstr(md, "| Tỷ lệ nghèo đa chiều |"));
    assert_non_null(strstr(md, "| Giảm nghèo đa chiều (điểm %) |"));
    assert_non_null(strstr(md, "| Mục tiêu đa chiều |"));
    /* 60: 0.85 met, then 4.50% and 1.20 met; 593: 0.40 and 0.30 missed. */
    assert_non_null(
        strstr(md, "| **0,85** | **Đạt** | **4,50%** | **1,20** | **Đạt** |"));
    assert_non_null(strstr(md, "| 0,40 | Không đạt | - | 0,30 | Không đạt |"));
    assert_non_null(strstr(md, "| 0,00% |")); /* no "-0,00" */
    /* A missing plugin leaves a note, not a table. */
    assert_non_null(strstr(md, "chưa nạp plugin \"standard\""));
    assert_non_null(strstr(md, "chưa nạp plugin \"relocation\""));
    assert_null(strstr(md, "| 12 |"));
    /* Terms translated; an unknown key shown as it came, escaped. */
    assert_non_null(strstr(md, "| Đã chi | 2.500.000 đ |"));
    assert_non_null(strstr(md, "| Nhà ở | 1.000.000 đ |"));
    /* Daemon strings cannot break the table or open HTML. */
    assert_null(strstr(md, "<script>"));
    assert_non_null(strstr(md, "\\<script\\>"));
    assert_non_null(strstr(md, "\\| \\*A\\*\\_b\\_"));
    /* Communes under their district. */
    assert_true(strstr(md, "↳") > strstr(md, "| 593 |"));
    /* One alert listed, the other counted. */
    assert_non_null(strstr(md, "Tổng số cảnh báo: 2"));
    assert_non_null(strstr(md, "… 1 cảnh báo khác"));
    free(md);
    tl_report_doc_free(&d);
}

static void test_markdown_en(void **state)
{
    struct tl_rep_doc d;
    char *md;

    (void)state;
    build(&d, TL_REP_EN);
    md = render(&d, TL_REP_MD);
    assert_non_null(strstr(md, "| Poor rate |"));
    assert_non_null(strstr(md, "Near-poor"));
    assert_non_null(strstr(md, "Reduction (points)"));
    assert_non_null(strstr(md, "| **Met** |"));
    assert_non_null(strstr(md, "| Missed |"));
    assert_non_null(strstr(md, "**1,500,000**"));
    assert_non_null(strstr(md, "**3.12%**"));
    assert_non_null(strstr(md, "Target reduction of the poor rate: "
                               "0.70–1.00 points a year · Target reduction of "
                               "the multidimensional rate: 1.00–1.50 points a "
                               "year"));
    assert_non_null(strstr(md, "| Multidimensional rate |"));
    assert_non_null(strstr(md, "| Multidimensional reduction (points) |"));
    assert_non_null(strstr(md, "| Multidimensional target |"));
    assert_non_null(strstr(md, "| Spent | 2,500,000 VND |"));
    assert_non_null(strstr(md, "has not loaded the plugin \"standard\""));
    assert_null(strstr(md, "Tỷ lệ hộ nghèo"));
    free(md);
    tl_report_doc_free(&d);
}

static void test_csv(void **state)
{
    struct tl_rep_doc d;
    char *csv, *line2;

    (void)state;
    build(&d, TL_REP_VI);
    csv = render(&d, TL_REP_CSV);
    assert_int_equal(strncmp(csv, "Mã,Đơn vị,Mã đơn vị cấp trên,Số hộ,",
                             strlen("Mã,Đơn vị,Mã đơn vị cấp trên,Số hộ,")),
                     0);
    assert_non_null(strstr(csv, ",Tỷ lệ hộ nghèo,"));
    assert_non_null(strstr(csv, ",Giảm (điểm %),Mục tiêu,Tỷ lệ nghèo đa chiều,"
                                "Giảm nghèo đa chiều (điểm %),Mục tiêu đa "
                                "chiều,Thoát nghèo,"));
    /* One header and one row per unit. */
    assert_int_equal(count(csv, "\r\n"), 1 + d.nunits);
    /* Machine numbers: no separators, rates with two decimals, target as
     * 1/0, unknown empty. */
    line2 = strstr(csv, "\r\n60,");
    assert_non_null(line2);
    assert_int_equal(
        strncmp(line2,
                "\r\n60,Tỉnh Bình Thuận,,1500000,,3.12,,,0.85,1,4.50,1.20,1,",
                strlen("\r\n60,Tỉnh Bình Thuận,,1500000,,3.12,,,0.85,1,4.50,"
                       "1.20,1,")),
        0);
    assert_non_null(strstr(csv, ",4.50,,,0.40,0,,0.30,0,"));
    assert_non_null(strstr(csv, ",0.00,"));
    /* Quoting and no formula: the commune's name. */
    assert_non_null(strstr(csv, "\r\n22870,\"'=SUM(A1), \"\"Xã\"\" | *A*_b_\","
                                "593,"));
    assert_non_null(strstr(csv, ",1500000,")); /* fund received, raw */
    /* A section whose plugin is absent stays empty even with a value. */
    assert_null(strstr(csv, ",12,"));
    free(csv);
    tl_report_doc_free(&d);

    build(&d, TL_REP_EN);
    csv = render(&d, TL_REP_CSV);
    assert_int_equal(strncmp(csv, "Code,Unit,Parent code,Households,",
                             strlen("Code,Unit,Parent code,Households,")),
                     0);
    assert_non_null(strstr(csv, "\r\n60,Tỉnh Bình Thuận,,1500000,,3.12,"));
    free(csv);
    tl_report_doc_free(&d);
}

static void test_csv_numbers(void **state)
{
    char b[48];

    (void)state;
    assert_string_equal(tl_report_csv_num(TL_KIND_VND, 1500000, b), "1500000");
    assert_string_equal(tl_report_csv_num(TL_KIND_INT, 1234567890123.0, b),
                        "1234567890123");
    assert_string_equal(tl_report_csv_num(TL_KIND_RATE, 3.1234, b), "3.12");
    assert_string_equal(tl_report_csv_num(TL_KIND_RATE, 12.0, b), "12.00");
    assert_string_equal(tl_report_csv_num(TL_KIND_PP, -0.456, b), "-0.46");
    assert_string_equal(tl_report_csv_num(TL_KIND_PP, -0.001, b), "0.00");
    assert_string_equal(tl_report_csv_num(TL_KIND_TARGET, 1, b), "1");
    assert_string_equal(tl_report_num(TL_REP_VI, TL_KIND_INT, 1234567, b),
                        "1.234.567");
    assert_string_equal(tl_report_num(TL_REP_EN, TL_KIND_INT, -1234567, b),
                        "-1,234,567");
    assert_string_equal(tl_report_num(TL_REP_VI, TL_KIND_RATE, 3.5, b),
                        "3,50%");
    assert_string_equal(tl_report_num(TL_REP_EN, TL_KIND_VND, 2e6, b),
                        "2,000,000 VND");
    assert_string_equal(tl_report_num(TL_REP_VI, TL_KIND_TARGET, 0, b),
                        "Không đạt");
}

static void test_escaping(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    (void)state;
    assert_non_null(f);
    assert_int_equal(tl_report_html_escape(f, "a<b>&\"'\x01 Xã"), 0);
    assert_int_equal(fputc('|', f), '|');
    assert_int_equal(tl_report_csv_field(f, "plain"), 0);
    assert_int_equal(fputc('|', f), '|');
    assert_int_equal(tl_report_csv_field(f, "@x,\"y\"\n"), 0);
    assert_int_equal(fputc('|', f), '|');
    assert_int_equal(tl_report_csv_field(f, "-1"), 0);
    assert_int_equal(fclose(f), 0);
    assert_string_equal(
        buf,
        "a&lt;b&gt;&amp;&quot;&#39;&#xFFFD; Xã|plain|\"'@x,\"\"y\"\"\n\"|'-1");
    free(buf);
}

static void test_html(void **state)
{
    struct tl_rep_doc d;
    char *html;

    (void)state;
    build(&d, TL_REP_VI);
    html = render(&d, TL_REP_HTML);
    assert_int_equal(strncmp(html, "<!DOCTYPE html>\n<html lang=\"vi\">", 31),
                     0);
    assert_non_null(strstr(html, "<meta charset=\"utf-8\"/>"));
    assert_non_null(strstr(html, "<style>"));
    assert_non_null(strstr(html, "</body>\n</html>\n"));
    /* Nothing hostile survives, nothing is fetched. */
    assert_null(strstr(html, "<script"));
    assert_non_null(strstr(
        html, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"));
    assert_null(strstr(html, "src="));
    assert_null(strstr(html, "href="));
    assert_int_equal(count(html, "http"), 1); /* the SVG namespace only */
    /* Balanced structure. */
    assert_int_equal(count(html, "<table>"), count(html, "</table>"));
    assert_int_equal(count(html, "<tr"), count(html, "</tr>"));
    assert_int_equal(count(html, "<td"), count(html, "</td>"));
    assert_int_equal(count(html, "<svg"), 1);
    assert_int_equal(count(html, "</svg>"), 1);
    assert_non_null(strstr(html, "<td class=\"n\">3,12%</td>"));
    assert_non_null(strstr(html, "Đạt"));
    assert_non_null(strstr(html, "<p class=\"note\">"));
    free(html);
    tl_report_doc_free(&d);

    build(&d, TL_REP_EN);
    html = render(&d, TL_REP_HTML);
    assert_non_null(strstr(html, "<html lang=\"en\">"));
    assert_non_null(strstr(html, "Poor rate"));
    free(html);
    tl_report_doc_free(&d);
}

static void test_chart(void **state)
{
    struct tl_rep_doc d;
    char *svg = NULL, *p;
    size_t len = 0;
    FILE *f;

    (void)state;
    build(&d, TL_REP_VI);
    f = open_memstream(&svg, &len);
    assert_non_null(f);
    assert_int_equal(tl_report_chart_svg(f, &d), 0);
    assert_int_equal(fclose(f), 0);
    /* One polyline per district (depth 1), none for the root or the
     * commune; a point per known year. */
    assert_int_equal(count(svg, "<polyline"), 2);
    assert_int_equal(count(svg, "<circle"), 4 + 3);
    assert_non_null(strstr(svg, "&lt;script&gt;"));
    assert_null(strstr(svg, "<script"));
    /* Year labels 2021..2024; axis up to 6%: the first district's 2021
     * point sits on the top of the plot (y = 20), its 2024 point (3%)
     * halfway down a 316-high plot. */
    for (int y = 2021; y <= 2024; y++) {
        char lab[16];
        snprintf(lab, sizeof(lab), ">%d<", y);
        assert_non_null(strstr(svg, lab));
    }
    p = strstr(svg, "points=\"");
    assert_non_null(p);
    assert_int_equal(strncmp(p, "points=\"56.0,20.0 ", 18), 0);
    assert_non_null(strstr(p, " 540.0,178.0\""));
    /* The gap: the second district has three points. */
    p = strstr(p + 1, "points=\"");
    assert_non_null(p);
    assert_int_equal(strncmp(p, "points=\"56.0,178.0 378.7,", 25), 0);
    free(svg);
    tl_report_doc_free(&d);
}

/* The rest of the plan's sections (7 to 11) on the document of build():
 * the budget beside the fund, links and OCOP, social protection, donors
 * (the anonymous ones as the daemon names them), commendations. */
static char *xstrdup(const char *s)
{
    char *c = strdup(s);
    assert_non_null(c);
    return c;
}

static void build_plan(struct tl_rep_doc *d)
{
    struct tl_rep_plan *p = &d->plan;
    struct tl_rep_unit *root = &d->units[0], *c = &d->units[2];

    set(root, TL_COL_BUDGET_ALLOCATED, 2e9);
    set(root, TL_COL_BUDGET_SPENT, 1.1e9);
    set(root, TL_COL_BUDGET_RATE, 55.0);
    set(c, TL_COL_OCOP, 3);
    set(root, TL_COL_DONORS, 7);
    assert_int_equal(
        tl_report_kv_add(&p->budget, "allocated", TL_KIND_VND, true, 2e9), 0);
    assert_int_equal(tl_report_kv_add(&p->budget, "budget:fund_disbursed",
                                      TL_KIND_VND, true, 2500000),
                     0);
    p->components = calloc(1, sizeof(*p->components));
    assert_non_null(p->components);
    p->ncomponents = 1;
    p->components[0].program = xstrdup("poverty_reduction");
    p->components[0].component = xstrdup(HOSTILE);
    p->components[0].known[0] = p->components[0].known[1] = true;
    p->components[0].v[0] = 1.5e9;
    p->components[0].v[1] = 8e8;
    assert_int_equal(tl_report_kv_add(&p->ocop, "ocop:4", TL_KIND_INT, true, 2),
                     0);
    p->links = calloc(1, sizeof(*p->links));
    assert_non_null(p->links);
    p->nlinks = 1;
    p->links[0].link = xstrdup("LK-1");
    p->links[0].partner = xstrdup("HTX Thanh Long");
    p->links[0].partner_kind = xstrdup("cooperative");
    p->links[0].product = xstrdup("Thanh long");
    p->links[0].has_stars = true;
    p->links[0].stars = 4;
    p->links[0].households = 12;
    p->links_more = 2;
    assert_int_equal(
        tl_report_kv_add(&p->protection, "no_labour", TL_KIND_INT, true, 5), 0);
    p->donor_list = calloc(2, sizeof(*p->donor_list));
    assert_non_null(p->donor_list);
    p->ndonors = 2;
    p->donor_list[0].donor = xstrdup("=Công ty A, \"HN\"");
    p->donor_list[0].kind = xstrdup("business");
    p->donor_list[0].amount = 150e6;
    p->donor_list[0].donations = 2;
    p->donor_list[1].donor = xstrdup("Ẩn danh / anonymous");
    p->donor_list[1].kind = xstrdup("anonymous");
    p->donor_list[1].amount = 8e6;
    p->donor_list[1].donations = 2;
    p->donor_list[1].in_kind = 1e6;
    p->donors_more = 5;
    p->commended = calloc(1, sizeof(*p->commended));
    assert_non_null(p->commended);
    p->ncommended = 1;
    p->commended[0].recipient = xstrdup("Hội Nông dân xã Hàm Chính");
    p->commended[0].kind = xstrdup("collective");
    p->commended[0].awarded_by = xstrdup("UBND tỉnh");
    p->commended[0].level = xstrdup("province");
    p->commended[0].unit = xstrdup("60");
    p->commended[0].at = 1717200000; /* 2024-06-01 07:00 +07 */
}

static void test_plan_sections(void **state)
{
    struct tl_rep_doc d;
    char *md, *csv, *html;

    (void)state;
    build(&d, TL_REP_VI);
    build_plan(&d);
    d.present[TL_SEC_PROTECTION] = false;
    md = render(&d, TL_REP_MD);
    /* In order, the alerts last. */
    const char *titles[] = {"## 6. ",
                            "## 7. Ngân sách các Chương trình",
                            "## 8. Liên kết sản xuất",
                            "## 9. Bảo trợ xã hội",
                            "## 10. Ghi nhận nhà hảo tâm",
                            "## 11. Khen thưởng",
                            "## 12. Cảnh báo trong năm"};
    for (size_t i = 1; i < sizeof(titles) / sizeof(titles[0]); i++) {
        assert_non_null(strstr(md, titles[i]));
        assert_true(strstr(md, titles[i - 1]) < strstr(md, titles[i]));
    }
    assert_non_null(strstr(md, "| Kế hoạch vốn | 2.000.000.000 đ |"));
    assert_non_null(strstr(md, "| Quỹ \"Vì người nghèo\" đã chi (để so sánh) | "
                               "2.500.000 đ |"));
    assert_non_null(strstr(md, "| CTMTQG giảm nghèo bền vững | "
                               "\\<script\\>"));
    assert_non_null(strstr(md, "| 1.500.000.000 đ | 800.000.000 đ | - |"));
    assert_non_null(strstr(md, "| **2.000.000.000 đ** | **1.100.000.000 đ** "
                               "| **55,00%** |"));
    assert_non_null(strstr(md, "| 4 sao | 2 |"));
    assert_non_null(
        strstr(md, "| LK-1 | HTX Thanh Long | Hợp tác xã | Thanh long | 4 | "
                   "12 |"));
    assert_non_null(strstr(md, "… 2 dòng khác không liệt kê"));
    assert_non_null(strstr(md, "chưa nạp plugin \"protection\""));
    assert_non_null(strstr(md, "| =Công ty A, \"HN\" | Doanh nghiệp | "
                               "150.000.000 đ | 2 | 0 đ |"));
    assert_non_null(strstr(md, "| Ẩn danh / anonymous | Ẩn danh | 8.000.000 "
                               "đ | 2 | 1.000.000 đ |"));
    assert_non_null(strstr(md, "… 5 dòng khác"));
    assert_non_null(strstr(md, "| 01/06/2024 | Hội Nông dân xã Hàm Chính | "
                               "Tập thể | UBND tỉnh | Tỉnh | - | 60 |"));
    free(md);

    csv = render(&d, TL_REP_CSV);
    assert_non_null(strstr(csv, ",Kế hoạch vốn CTMTQG,Vốn CTMTQG đã giải "
                                "ngân,Tỷ lệ giải ngân,Hộ tham gia liên kết,"));
    assert_non_null(strstr(csv, ",Số nhà hảo tâm,Số khen thưởng\r\n"));
    /* The root: budget, then production empty, protection absent, donors
     * 7, commendations unknown. */
    assert_non_null(strstr(csv, ",2000000000,1100000000,55.00,,,,,,7,\r\n"));
    free(csv);

    html = render(&d, TL_REP_HTML);
    assert_null(strstr(html, "<script"));
    assert_int_equal(count(html, "<table>"), count(html, "</table>"));
    assert_int_equal(count(html, "<tr"), count(html, "</tr>"));
    free(html);
    tl_report_doc_free(&d);

    build(&d, TL_REP_EN);
    build_plan(&d);
    md = render(&d, TL_REP_MD);
    assert_non_null(strstr(md, "## 7. The National Target Programmes' budget"));
    assert_non_null(strstr(md, "| Sustainable poverty reduction |"));
    assert_non_null(strstr(md, "## 12. Alerts of the year"));
    assert_non_null(strstr(md, "| 2024-06-01 | Hội Nông dân xã Hàm Chính | "
                               "Collective | UBND tỉnh | Province |"));
    free(md);
    tl_report_doc_free(&d);
}

/* povtrack donors: the list alone, as CSV for a spreadsheet or a page. */
static void test_donors_list(void **state)
{
    struct tl_rep_doc d;
    char *buf = NULL;
    size_t len = 0;
    struct tl_error err = {{0}};
    FILE *f;

    (void)state;
    build(&d, TL_REP_VI);
    build_plan(&d);
    assert_int_equal(
        tl_report_kv_add(&d.plan.donors, "received", TL_KIND_VND, true, 158e6),
        0);
    f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(tl_report_render_donors(f, &d, "2024", TL_REP_CSV, &err),
                     0);
    assert_int_equal(fclose(f), 0);
    assert_string_equal(buf,
                        "Nhà hảo tâm,Loại,Số tiền,Số lượt,Trong đó hiện "
                        "vật\r\n"
                        "\"'=Công ty A, \"\"HN\"\"\",Doanh "
                        "nghiệp,150000000,2,0\r\n"
                        "Ẩn danh / anonymous,Ẩn danh,8000000,2,1000000\r\n");
    free(buf);

    d.lang = TL_REP_EN;
    f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(tl_report_render_donors(f, &d, "2024", TL_REP_MD, &err),
                     0);
    assert_int_equal(fclose(f), 0);
    assert_non_null(strstr(buf, "# Donors to the \"For the Poor\" fund, with "
                                "thanks, Tỉnh Bình Thuận (60), 2024"));
    assert_non_null(strstr(buf, "| Raised | 158,000,000 VND |"));
    assert_non_null(strstr(buf, "| Business | 150,000,000 VND | 2 |"));
    assert_non_null(strstr(buf, "… 5 more rows not listed"));
    free(buf);

    f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(tl_report_render_donors(f, &d, "2024", TL_REP_HTML, &err),
                     0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(strncmp(buf, "<!DOCTYPE html>", 15), 0);
    assert_non_null(strstr(buf, "<td>=Công ty A, &quot;HN&quot;</td>"));
    assert_non_null(strstr(buf, "</body>\n</html>\n"));
    free(buf);
    tl_report_doc_free(&d);
}

static void test_terms(void **state)
{
    (void)state;
    assert_string_equal(tl_report_term(TL_REP_VI, "credit:disbursed"),
                        "Đã giải ngân");
    assert_string_equal(tl_report_term(TL_REP_VI, "fund:disbursed"), "Đã chi");
    assert_string_equal(tl_report_term(TL_REP_EN, "housing_quality"),
                        "Housing quality");
    assert_string_equal(tl_report_term(TL_REP_VI, "overdue"),
                        "Quá hạn, chưa nộp");
    assert_null(tl_report_term(TL_REP_VI, "no_such_term"));
    assert_string_equal(tl_report_sec_plugin(TL_SEC_DEADLINES), "deadlines");
    assert_string_equal(tl_report_sec_plugin(TL_SEC_COMMENDATIONS),
                        "commendations");
    assert_string_equal(tl_report_term(TL_REP_EN, "ethnic_minority"),
                        "Ethnic-minority and mountainous areas");
    assert_null(tl_report_sec_plugin(TL_SEC_ALERTS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_markdown_vi),
        cmocka_unit_test(test_markdown_en),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_csv_numbers),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_html),
        cmocka_unit_test(test_chart),
        cmocka_unit_test(test_terms),
        cmocka_unit_test(test_plan_sections),
        cmocka_unit_test(test_donors_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
