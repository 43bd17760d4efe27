/*
 * tl_report.c - see tl_report.h.
 *
 * Writes go through stdio and are checked once, with ferror(), at the end
 * of tl_report_render(): stdio errors are sticky, so one check catches a
 * failure anywhere and the layout code stays readable.
 */
#include "tl_report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- labels ------------------------------------------------------------
 * Every text of the document, in both languages, in one place: the fixed
 * labels (enum lbl), the per-unit columns (cols[]) and the terms the
 * daemon sends as keys (terms[]). */

enum lbl {
    L_TITLE,
    L_UNIT,
    L_CODE,
    L_PARENT,
    L_GENERATED,
    L_TARGET_BAND,
    L_MD_TARGET_BAND,
    L_PP_PER_YEAR,
    L_SEC_POVERTY,
    L_SEC_STANDARD,
    L_SEC_FUND,
    L_SEC_RELOCATION,
    L_SEC_CREDIT,
    L_SEC_DEADLINES,
    L_SEC_ALERTS,
    L_CHART,
    L_CHART_Y,
    L_ABSENT,
    L_MET,
    L_MISSED,
    L_INDICATOR,
    L_VALUE,
    L_YEAR,
    L_COHORTS,
    L_COHORT_YEAR,
    L_COHORT_ESCAPED,
    L_RELAPSED_1Y,
    L_RELAPSED_2Y,
    L_RELAPSED_3Y,
    L_RATE_1Y,
    L_RATE_2Y,
    L_RATE_3Y,
    L_BY_INDICATOR,
    L_BY_DIMENSION,
    L_BY_PURPOSE,
    L_BY_LEVEL,
    L_MISSING,
    L_BY_REASON,
    L_PROGRAM,
    L_LOANS,
    L_DISBURSED,
    L_REPAID,
    L_OUTSTANDING,
    L_BY_PROGRAM,
    L_ORG,
    L_REPORT,
    L_DUE,
    L_SUBMITTED,
    L_STATE,
    L_LATE_OVERDUE,
    L_BY_STATE,
    L_COUNT_HDR,
    L_NONE,
    L_TIME,
    L_SEVERITY,
    L_ALERT_CODE,
    L_MESSAGE,
    L_BY_CODE,
    L_MORE_ALERTS,
    L_ALERTS_TOTAL,
    L_NOW_IN,
    /* The rest of the plan's sections. */
    L_SEC_BUDGET,
    L_SEC_PRODUCTION,
    L_SEC_PROTECTION,
    L_SEC_DONORS,
    L_SEC_COMMENDATIONS,
    L_COMPONENT,
    L_ALLOCATED,
    L_SPENT,
    L_EXECUTION,
    L_BY_COMPONENT,
    L_LINKS,
    L_LINK,
    L_PARTNER,
    L_PARTNER_KIND,
    L_PRODUCT,
    L_OCOP_STARS,
    L_HOUSEHOLDS,
    L_OCOP_BY_STARS,
    L_DONORS_LIST,
    L_DONOR,
    L_DONOR_KIND,
    L_AMOUNT,
    L_DONATIONS,
    L_IN_KIND,
    L_DONORS_TITLE,
    L_COMMENDED,
    L_DATE,
    L_RECIPIENT,
    L_RECIPIENT_KIND,
    L_AWARDED_BY,
    L_LEVEL,
    L_DECISION,
    L_MORE_ROWS,
    L_COUNT
};

static const char *const labels[L_COUNT][2] = {
    [L_TITLE] = {"Báo cáo kết quả thực hiện Chỉ thị 05-CT/TW về giảm nghèo "
                 "bền vững, năm",
                 "Report on Directive 05-CT/TW on sustainable poverty "
                 "reduction, year"},
    [L_UNIT] = {"Đơn vị", "Unit"},
    [L_CODE] = {"Mã", "Code"},
    [L_PARENT] = {"Mã đơn vị cấp trên", "Parent code"},
    [L_GENERATED] = {"Lập lúc", "Generated"},
    [L_TARGET_BAND] = {"Mục tiêu giảm tỷ lệ hộ nghèo",
                       "Target reduction of the poor rate"},
    [L_MD_TARGET_BAND] = {"Mục tiêu giảm tỷ lệ nghèo đa chiều",
                          "Target reduction of the multidimensional rate"},
    [L_PP_PER_YEAR] = {"điểm %/năm", "points a year"},
    [L_SEC_POVERTY] = {"1. Hộ nghèo, hộ cận nghèo",
                       "1. Poor and near-poor households"},
    [L_SEC_STANDARD] = {"2. Chuẩn nghèo đa chiều",
                        "2. Multidimensional poverty standard"},
    [L_SEC_FUND] = {"3. Quỹ \"Vì người nghèo\"",
                    "3. The \"For the Poor\" fund"},
    [L_SEC_RELOCATION] = {"4. Di dời, sắp xếp dân cư",
                          "4. Relocation of residents"},
    [L_SEC_CREDIT] = {"5. Tín dụng chính sách", "5. Policy credit"},
    [L_SEC_DEADLINES] = {"6. Kế hoạch, báo cáo của các cấp ủy, tổ chức",
                         "6. Plans and reports of Party committees and "
                         "organisations"},
    [L_SEC_ALERTS] = {"12. Cảnh báo trong năm", "12. Alerts of the year"},
    [L_CHART] = {"Tỷ lệ hộ nghèo theo đơn vị qua các năm",
                 "Poor-household rate by unit over the years"},
    [L_CHART_Y] = {"Tỷ lệ hộ nghèo (%)", "Poor rate (%)"},
    [L_ABSENT] = {"Phần này được bỏ qua: povtrackd chưa nạp plugin",
                  "Section left out: povtrackd has not loaded the plugin"},
    [L_MET] = {"Đạt", "Met"},
    [L_MISSED] = {"Không đạt", "Missed"},
    [L_INDICATOR] = {"Chỉ tiêu", "Indicator"},
    [L_VALUE] = {"Giá trị", "Value"},
    [L_YEAR] = {"Năm", "Year"},
    [L_COHORTS] = {"Tái nghèo của các hộ đã thoát nghèo",
                   "Relapse of households that escaped poverty"},
    [L_COHORT_YEAR] = {"Năm thoát nghèo", "Year of escape"},
    [L_COHORT_ESCAPED] = {"Hộ thoát nghèo", "Escaped"},
    [L_RELAPSED_1Y] = {"Tái nghèo sau 1 năm", "Relapsed within 1 year"},
    [L_RELAPSED_2Y] = {"Tái nghèo sau 2 năm", "Relapsed within 2 years"},
    [L_RELAPSED_3Y] = {"Tái nghèo sau 3 năm", "Relapsed within 3 years"},
    [L_RATE_1Y] = {"Tỷ lệ sau 1 năm", "Rate, 1 year"},
    [L_RATE_2Y] = {"Tỷ lệ sau 2 năm", "Rate, 2 years"},
    [L_RATE_3Y] = {"Tỷ lệ sau 3 năm", "Rate, 3 years"},
    [L_BY_INDICATOR] = {"Hộ thiếu hụt theo chỉ số",
                        "Households deprived, by indicator"},
    [L_BY_DIMENSION] = {"Hộ thiếu hụt theo chiều",
                        "Households deprived, by dimension"},
    [L_BY_PURPOSE] = {"Chi theo mục đích", "Spent by purpose"},
    [L_BY_LEVEL] = {"Chi theo cấp", "Spent by level"},
    [L_MISSING] = {"Hộ còn thiếu hỗ trợ", "Households still missing support"},
    [L_BY_REASON] = {"Hộ di dời theo nguyên nhân", "Relocated, by reason"},
    [L_PROGRAM] = {"Chương trình", "Programme"},
    [L_LOANS] = {"Số món vay", "Loans"},
    [L_DISBURSED] = {"Đã giải ngân", "Disbursed"},
    [L_REPAID] = {"Đã thu nợ", "Repaid"},
    [L_OUTSTANDING] = {"Dư nợ", "Outstanding"},
    [L_BY_PROGRAM] = {"Theo chương trình", "By programme"},
    [L_ORG] = {"Cơ quan, tổ chức", "Organisation"},
    [L_REPORT] = {"Báo cáo", "Report"},
    [L_DUE] = {"Hạn", "Due"},
    [L_SUBMITTED] = {"Ngày nộp", "Submitted"},
    [L_STATE] = {"Tình trạng", "State"},
    [L_LATE_OVERDUE] = {"Báo cáo nộp muộn hoặc quá hạn",
                        "Reports late or overdue"},
    [L_BY_STATE] = {"Theo tình trạng", "By state"},
    [L_COUNT_HDR] = {"Số lượng", "Count"},
    [L_NONE] = {"Không có.", "None."},
    [L_TIME] = {"Thời điểm", "Time"},
    [L_SEVERITY] = {"Mức độ", "Severity"},
    [L_ALERT_CODE] = {"Loại", "Code"},
    [L_MESSAGE] = {"Nội dung", "Message"},
    [L_BY_CODE] = {"Số cảnh báo theo loại", "Alerts by code"},
    [L_MORE_ALERTS] = {"cảnh báo khác không liệt kê (xem povtrack alerts)",
                       "more alerts not listed (see povtrack alerts)"},
    [L_ALERTS_TOTAL] = {"Tổng số cảnh báo", "Alerts in all"},
    [L_NOW_IN] = {"nay thuộc", "now in"},
    [L_SEC_BUDGET] = {"7. Ngân sách các Chương trình mục tiêu quốc gia",
                      "7. The National Target Programmes' budget"},
    [L_SEC_PRODUCTION] = {"8. Liên kết sản xuất và sản phẩm OCOP",
                          "8. Production links and OCOP products"},
    [L_SEC_PROTECTION] = {"9. Bảo trợ xã hội hộ nghèo không có khả năng "
                          "lao động",
                          "9. Social protection of poor households with "
                          "no labour capacity"},
    [L_SEC_DONORS] = {"10. Ghi nhận nhà hảo tâm", "10. Donors acknowledged"},
    [L_SEC_COMMENDATIONS] = {"11. Khen thưởng tập thể, cá nhân",
                             "11. Collectives and individuals commended"},
    [L_COMPONENT] = {"Dự án, tiểu dự án", "Component"},
    [L_ALLOCATED] = {"Kế hoạch vốn", "Allocated"},
    [L_SPENT] = {"Đã giải ngân", "Spent"},
    [L_EXECUTION] = {"Tỷ lệ giải ngân", "Execution rate"},
    [L_BY_COMPONENT] = {"Theo chương trình, dự án",
                        "By programme and component"},
    [L_LINKS] = {"Các liên kết sản xuất", "Production links"},
    [L_LINK] = {"Liên kết", "Link"},
    [L_PARTNER] = {"Doanh nghiệp, hợp tác xã", "Enterprise or cooperative"},
    [L_PARTNER_KIND] = {"Loại", "Kind"},
    [L_PRODUCT] = {"Sản phẩm", "Product"},
    [L_OCOP_STARS] = {"Hạng sao OCOP", "OCOP stars"},
    [L_HOUSEHOLDS] = {"Số hộ", "Households"},
    [L_OCOP_BY_STARS] = {"Sản phẩm OCOP theo hạng sao",
                         "OCOP products by stars"},
    [L_DONORS_LIST] = {"Danh sách nhà hảo tâm", "The donors"},
    [L_DONOR] = {"Nhà hảo tâm", "Donor"},
    [L_DONOR_KIND] = {"Loại", "Kind"},
    [L_AMOUNT] = {"Số tiền", "Amount"},
    [L_DONATIONS] = {"Số lượt", "Donations"},
    [L_IN_KIND] = {"Trong đó hiện vật", "Of which in kind"},
    [L_DONORS_TITLE] = {"Danh sách ghi nhận nhà hảo tâm ủng hộ Quỹ \"Vì "
                        "người nghèo\"",
                        "Donors to the \"For the Poor\" fund, with thanks"},
    [L_COMMENDED] = {"Danh sách khen thưởng", "Commendations"},
    [L_DATE] = {"Ngày", "Date"},
    [L_RECIPIENT] = {"Tập thể, cá nhân", "Commended"},
    [L_RECIPIENT_KIND] = {"Loại", "Kind"},
    [L_AWARDED_BY] = {"Cấp khen", "By"},
    [L_LEVEL] = {"Cấp", "Level"},
    [L_DECISION] = {"Quyết định", "Decision"},
    [L_MORE_ROWS] = {"dòng khác không liệt kê", "more rows not listed"},
};

static const struct {
    enum tl_rep_sec sec;
    enum tl_rep_kind kind;
    const char *label[2];
} cols[TL_COL_COUNT] = {
    [TL_COL_HOUSEHOLDS] = {TL_SEC_POVERTY,
                           TL_KIND_INT,
                           {"Số hộ", "Households"}},
    [TL_COL_POOR] = {TL_SEC_POVERTY, TL_KIND_INT, {"Hộ nghèo", "Poor"}},
    [TL_COL_POOR_RATE] = {TL_SEC_POVERTY,
                          TL_KIND_RATE,
                          {"Tỷ lệ hộ nghèo", "Poor rate"}},
    [TL_COL_NEAR] = {TL_SEC_POVERTY,
                     TL_KIND_INT,
                     {"Hộ cận nghèo", "Near-poor"}},
    [TL_COL_NEAR_RATE] = {TL_SEC_POVERTY,
                          TL_KIND_RATE,
                          {"Tỷ lệ hộ cận nghèo", "Near-poor rate"}},
    [TL_COL_REDUCTION] = {TL_SEC_POVERTY,
                          TL_KIND_PP,
                          {"Giảm (điểm %)", "Reduction (points)"}},
    [TL_COL_TARGET] = {TL_SEC_POVERTY, TL_KIND_TARGET, {"Mục tiêu", "Target"}},
    [TL_COL_MD_RATE] = {TL_SEC_POVERTY,
                        TL_KIND_RATE,
                        {"Tỷ lệ nghèo đa chiều", "Multidimensional rate"}},
    [TL_COL_MD_REDUCTION] = {TL_SEC_POVERTY,
                             TL_KIND_PP,
                             {"Giảm nghèo đa chiều (điểm %)",
                              "Multidimensional reduction (points)"}},
    [TL_COL_MD_TARGET] = {TL_SEC_POVERTY,
                          TL_KIND_TARGET,
                          {"Mục tiêu đa chiều", "Multidimensional target"}},
    [TL_COL_ESCAPED] = {TL_SEC_POVERTY,
                        TL_KIND_INT,
                        {"Thoát nghèo", "Escaped"}},
    [TL_COL_RELAPSED] = {TL_SEC_POVERTY,
                         TL_KIND_INT,
                         {"Tái nghèo", "Relapsed"}},
    [TL_COL_NEWLY] = {TL_SEC_POVERTY,
                      TL_KIND_INT,
                      {"Nghèo phát sinh", "Newly poor"}},
    [TL_COL_ASSESSED] = {TL_SEC_STANDARD,
                         TL_KIND_INT,
                         {"Hộ được rà soát", "Assessed"}},
    [TL_COL_UNRECOGNISED] = {TL_SEC_STANDARD,
                             TL_KIND_INT,
                             {"Nghèo nhưng chưa được công nhận",
                              "Poor, not recognised"}},
    [TL_COL_UNSUPPORTED] = {TL_SEC_STANDARD,
                            TL_KIND_INT,
                            {"Công nhận nghèo nhưng trên chuẩn",
                             "Recognised poor, above the line"}},
    [TL_COL_NO_ASSESSMENT] = {TL_SEC_STANDARD,
                              TL_KIND_INT,
                              {"Công nhận nghèo, chưa rà soát",
                               "Recognised poor, not assessed"}},
    [TL_COL_FUND_RECEIVED] = {TL_SEC_FUND,
                              TL_KIND_VND,
                              {"Quỹ đã vận động", "Fund raised"}},
    [TL_COL_FUND_DISBURSED] = {TL_SEC_FUND,
                               TL_KIND_VND,
                               {"Quỹ đã chi", "Fund spent"}},
    [TL_COL_FUND_BALANCE] = {TL_SEC_FUND,
                             TL_KIND_VND,
                             {"Số dư quỹ", "Fund balance"}},
    [TL_COL_RELOCATED] = {TL_SEC_RELOCATION,
                          TL_KIND_INT,
                          {"Hộ đã di dời", "Relocated"}},
    [TL_COL_FULLY_SUPPORTED] = {TL_SEC_RELOCATION,
                                TL_KIND_INT,
                                {"Hộ được hỗ trợ đủ", "Fully supported"}},
    [TL_COL_LOANS] = {TL_SEC_CREDIT, TL_KIND_INT, {"Số món vay", "Loans"}},
    [TL_COL_CREDIT_OUTSTANDING] = {TL_SEC_CREDIT,
                                   TL_KIND_VND,
                                   {"Dư nợ", "Outstanding"}},
    [TL_COL_COVERAGE_RATE] = {TL_SEC_CREDIT,
                              TL_KIND_RATE,
                              {"Hộ nghèo, cận nghèo được vay vốn",
                               "Poor and near-poor with a loan"}},
    [TL_COL_REPORTS_LATE] = {TL_SEC_DEADLINES,
                             TL_KIND_INT,
                             {"Báo cáo nộp muộn", "Reports late"}},
    [TL_COL_REPORTS_OVERDUE] = {TL_SEC_DEADLINES,
                                TL_KIND_INT,
                                {"Báo cáo quá hạn", "Reports overdue"}},
    [TL_COL_BUDGET_ALLOCATED] = {TL_SEC_BUDGET,
                                 TL_KIND_VND,
                                 {"Kế hoạch vốn CTMTQG",
                                  "Programme budget allocated"}},
    [TL_COL_BUDGET_SPENT] = {TL_SEC_BUDGET,
                             TL_KIND_VND,
                             {"Vốn CTMTQG đã giải ngân",
                              "Programme budget spent"}},
    [TL_COL_BUDGET_RATE] = {TL_SEC_BUDGET,
                            TL_KIND_RATE,
                            {"Tỷ lệ giải ngân", "Execution rate"}},
    [TL_COL_LINKED] = {TL_SEC_PRODUCTION,
                       TL_KIND_INT,
                       {"Hộ tham gia liên kết", "Households linked"}},
    [TL_COL_POOR_LINKED_SHARE] = {TL_SEC_PRODUCTION,
                                  TL_KIND_RATE,
                                  {"Tỷ lệ hộ nghèo tham gia liên kết",
                                   "Share of poor households linked"}},
    [TL_COL_OCOP] = {TL_SEC_PRODUCTION,
                     TL_KIND_INT,
                     {"Sản phẩm OCOP", "OCOP products"}},
    [TL_COL_NO_LABOUR] = {TL_SEC_PROTECTION,
                          TL_KIND_INT,
                          {"Hộ nghèo không có khả năng lao động",
                           "Poor, no labour capacity"}},
    [TL_COL_ASSISTED_SHARE] = {TL_SEC_PROTECTION,
                               TL_KIND_RATE,
                               {"Tỷ lệ được trợ cấp thường xuyên",
                                "Share with regular assistance"}},
    [TL_COL_DONORS] = {TL_SEC_DONORS,
                       TL_KIND_INT,
                       {"Số nhà hảo tâm", "Donors"}},
    [TL_COL_COMMENDATIONS] = {TL_SEC_COMMENDATIONS,
                              TL_KIND_INT,
                              {"Số khen thưởng", "Commendations"}},
};

/* Keys the plugins send (indicator codes, purposes, items, reasons,
 * states, severities, levels, result fields).  "domain:key" entries name a
 * key whose meaning depends on the section (credit's "disbursed" is a
 * loan, fund's is a grant). */
static const struct {
    const char *key, *vi, *en;
} terms[] = {
    /* deprivation indicators (Decree 07/2021, 351/2025) */
    {"employment", "Việc làm", "Employment"},
    {"dependants", "Người phụ thuộc trong hộ", "Dependants"},
    {"nutrition", "Dinh dưỡng", "Nutrition"},
    {"health_insurance", "Bảo hiểm y tế", "Health insurance"},
    {"adult_education", "Trình độ giáo dục của người lớn", "Adult education"},
    {"school_attendance", "Tình trạng đi học của trẻ em", "School attendance"},
    {"housing_quality", "Chất lượng nhà ở", "Housing quality"},
    {"housing_area", "Diện tích nhà ở bình quân đầu người", "Housing area"},
    {"water", "Nguồn nước sinh hoạt", "Water"},
    {"latrine", "Nhà tiêu hợp vệ sinh", "Latrine"},
    {"telecom", "Sử dụng dịch vụ viễn thông", "Telecommunications"},
    {"information_access", "Phương tiện tiếp cận thông tin",
     "Access to information"},
    {"waste_treatment", "Thu gom, xử lý rác thải", "Waste treatment"},
    /* dimensions */
    {"health", "Y tế", "Health"},
    {"education", "Giáo dục", "Education"},
    {"housing", "Nhà ở", "Housing"},
    {"water_sanitation", "Nước sinh hoạt và vệ sinh", "Water and sanitation"},
    {"information", "Thông tin", "Information"},
    /* fund purposes (housing, education, health above) */
    {"livelihood", "Sinh kế", "Livelihood"},
    {"tet", "Tết", "Tet"},
    {"disaster", "Thiên tai", "Disaster relief"},
    {"other", "Khác", "Other"},
    /* relocation items and reasons */
    {"land", "Đất ở, đất sản xuất", "Land"},
    {"landslide", "Sạt lở đất", "Landslide"},
    {"flood", "Lũ, ngập lụt", "Flood"},
    {"erosion", "Sạt lở bờ sông, bờ biển", "Erosion"},
    {"forest", "Rừng đặc dụng", "Special-use forest"},
    /* report states */
    {"pending", "Chưa đến hạn", "Pending"},
    {"submitted", "Đã nộp", "Submitted"},
    {"late", "Nộp muộn", "Late"},
    {"overdue", "Quá hạn, chưa nộp", "Overdue"},
    /* severities */
    {"info", "Thông tin", "Info"},
    {"warning", "Cảnh báo", "Warning"},
    {"critical", "Nghiêm trọng", "Critical"},
    /* levels */
    {"central", "Trung ương", "Central"},
    {"province", "Tỉnh", "Province"},
    {"district", "Huyện", "District"},
    {"commune", "Xã", "Commune"},
    /* standard */
    {"assessed", "Hộ được rà soát", "Households assessed"},
    {"avg_deprivations_poor", "Số chỉ số thiếu hụt bình quân của hộ nghèo",
     "Average deprivations of the poor"},
    {"unrecognised", "Hộ nghèo theo rà soát nhưng chưa được công nhận",
     "Assessed poor, not recognised"},
    {"recognition_unsupported",
     "Hộ được công nhận nghèo nhưng rà soát trên chuẩn",
     "Recognised poor, assessed above the line"},
    {"no_assessment", "Hộ được công nhận nghèo nhưng chưa rà soát",
     "Recognised poor, not assessed"},
    {"near_poor", "Hộ cận nghèo", "Near-poor"},
    {"average", "Hộ có mức sống trung bình", "Average living standard"},
    {"above", "Hộ trên mức trung bình", "Above average"},
    {"poor", "Hộ nghèo", "Poor"},
    /* fund */
    {"received", "Đã vận động được", "Raised"},
    {"donations", "Số lượt ủng hộ", "Donations"},
    {"pledged", "Đã cam kết", "Pledged"},
    {"pledge_outstanding", "Cam kết chưa thực hiện", "Pledges outstanding"},
    {"fund:disbursed", "Đã chi", "Spent"},
    {"balance", "Số dư", "Balance"},
    {"to_households", "Chi trực tiếp cho hộ", "Paid to households"},
    {"to_recognised", "Chi cho hộ nghèo, cận nghèo",
     "Paid to poor and near-poor households"},
    {"recognised_share", "Tỷ lệ chi đúng đối tượng",
     "Share paid to poor and near-poor"},
    {"beneficiaries", "Số hộ được hỗ trợ", "Households supported"},
    {"support_per_beneficiary", "Hỗ trợ bình quân mỗi hộ",
     "Support per household"},
    {"fund:month_received", "Vận động trong Tháng cao điểm vì người nghèo",
     "Raised in the month for the poor (17 Oct - 18 Nov)"},
    {"fund:month_donations", "Số lượt ủng hộ trong Tháng cao điểm",
     "Donations in the month for the poor"},
    /* relocation */
    {"relocated", "Hộ đã di dời", "Households relocated"},
    {"fully_supported", "Hộ được hỗ trợ đủ (đất, nhà, nước, sinh kế)",
     "Fully supported (land, housing, water, livelihood)"},
    {"share_fully_supported", "Tỷ lệ được hỗ trợ đủ", "Share fully supported"},
    /* credit */
    {"loans", "Số món vay", "Loans"},
    {"credit:disbursed", "Đã giải ngân", "Disbursed"},
    {"repaid", "Đã thu nợ", "Repaid"},
    {"outstanding", "Dư nợ", "Outstanding"},
    {"poor_near_poor", "Hộ nghèo, cận nghèo", "Poor and near-poor households"},
    {"with_loan", "Trong đó có vay vốn", "Of which with a loan"},
    {"rate", "Tỷ lệ được vay vốn", "Coverage"},
    /* budget */
    {"allocated", "Kế hoạch vốn", "Allocated"},
    {"spent", "Đã giải ngân", "Spent"},
    {"execution_rate", "Tỷ lệ giải ngân", "Execution rate"},
    {"budget:fund_disbursed", "Quỹ \"Vì người nghèo\" đã chi (để so sánh)",
     "The \"For the Poor\" fund spent (beside it)"},
    {"poverty_reduction", "CTMTQG giảm nghèo bền vững",
     "Sustainable poverty reduction"},
    {"ethnic_minority", "CTMTQG vùng đồng bào DTTS và miền núi",
     "Ethnic-minority and mountainous areas"},
    /* production links and OCOP */
    {"households_linked", "Hộ tham gia liên kết sản xuất",
     "Households in a production link"},
    {"links", "Số liên kết", "Links"},
    {"enterprise", "Doanh nghiệp", "Enterprise"},
    {"cooperative", "Hợp tác xã", "Cooperative"},
    {"poor_linked", "Hộ nghèo tham gia liên kết", "Poor households linked"},
    {"poor_linked_share", "Tỷ lệ hộ nghèo tham gia liên kết",
     "Share of poor households linked"},
    {"near_poor_linked", "Hộ cận nghèo tham gia liên kết",
     "Near-poor households linked"},
    {"near_poor_linked_share", "Tỷ lệ hộ cận nghèo tham gia liên kết",
     "Share of near-poor households linked"},
    {"ocop_products", "Sản phẩm OCOP đã công nhận", "OCOP products certified"},
    {"ocop_new", "Trong đó công nhận mới trong năm",
     "Of which first certified this year"},
    {"ocop:3", "3 sao", "3 stars"},
    {"ocop:4", "4 sao", "4 stars"},
    {"ocop:5", "5 sao", "5 stars"},
    /* social protection */
    {"no_labour", "Hộ nghèo không có khả năng lao động",
     "Poor households with no labour capacity"},
    {"no_labour_share", "Tỷ lệ trong số hộ nghèo", "Share of the poor"},
    {"assisted", "Được trợ cấp xã hội thường xuyên",
     "Receiving regular social assistance"},
    {"assisted_share", "Tỷ lệ được trợ cấp thường xuyên",
     "Share receiving regular assistance"},
    {"unassisted", "Chưa được trợ cấp thường xuyên",
     "Without regular assistance"},
    {"regular_amount", "Trợ cấp thường xuyên đã chi",
     "Regular assistance paid"},
    {"emergency_amount", "Trợ giúp đột xuất đã chi",
     "Emergency assistance paid"},
    /* donors */
    {"donors", "Số nhà hảo tâm", "Donors"},
    {"donors:anonymous", "Ủng hộ ẩn danh", "Given anonymously"},
    {"person", "Cá nhân", "Person"},
    {"organisation", "Tổ chức", "Organisation"},
    {"business", "Doanh nghiệp", "Business"},
    {"anonymous", "Ẩn danh", "Anonymous"},
    /* commendations */
    {"commendations", "Số khen thưởng", "Commendations"},
    {"collectives", "Tập thể", "Collectives"},
    {"individuals", "Cá nhân", "Individuals"},
    {"collective", "Tập thể", "Collective"},
    {"individual", "Cá nhân", "Individual"},
};

static const char *L(const struct tl_rep_doc *d, enum lbl l)
{
    return labels[l][d->lang == TL_REP_EN];
}

static const char *col_label(const struct tl_rep_doc *d, enum tl_rep_col c)
{
    return cols[c].label[d->lang == TL_REP_EN];
}

const char *tl_report_term(enum tl_rep_lang lang, const char *key)
{
    for (int pass = 0; pass < 2 && key != NULL; pass++) {
        for (size_t i = 0; i < sizeof(terms) / sizeof(terms[0]); i++)
            if (strcmp(terms[i].key, key) == 0)
                return lang == TL_REP_EN ? terms[i].en : terms[i].vi;
        /* "credit:foo" falls back to plain "foo". */
        const char *colon = strchr(key, ':');
        key = colon != NULL ? colon + 1 : NULL;
    }
    return NULL;
}

/* What to show for a key: its label, else the key without a domain. */
static const char *term_or_key(const struct tl_rep_doc *d, const char *key)
{
    const char *t = tl_report_term(d->lang, key);
    const char *colon;

    if (t != NULL)
        return t;
    colon = strchr(key, ':');
    return colon != NULL ? colon + 1 : key;
}

static const char *const sec_plugins[TL_SEC_COUNT] = {
    "poverty",    "standard",  "fund",          "relocation",
    "credit",     "deadlines", "budget",        "production",
    "protection", "donors",    "commendations", NULL};

const char *tl_report_sec_plugin(enum tl_rep_sec s)
{
    return s < TL_SEC_COUNT ? sec_plugins[s] : NULL;
}

static const enum lbl sec_titles[TL_SEC_COUNT] = {
    L_SEC_POVERTY,    L_SEC_STANDARD,  L_SEC_FUND,          L_SEC_RELOCATION,
    L_SEC_CREDIT,     L_SEC_DEADLINES, L_SEC_BUDGET,        L_SEC_PRODUCTION,
    L_SEC_PROTECTION, L_SEC_DONORS,    L_SEC_COMMENDATIONS, L_SEC_ALERTS};

/* ---- the document ----------------------------------------------------- */

static void kvs_free(struct tl_rep_kvs *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].key);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void plan_free(struct tl_rep_plan *p);

void tl_report_doc_free(struct tl_rep_doc *d)
{
    struct tl_rep_kvs *lists[] = {
        &d->standard,   &d->deprivation, &d->dimensions, &d->fund,
        &d->by_purpose, &d->by_level,    &d->relocation, &d->missing,
        &d->by_reason,  &d->credit};

    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
        kvs_free(lists[i]);
    for (size_t i = 0; i < d->nprograms; i++)
        free(d->programs[i].name);
    for (size_t i = 0; i < d->nreports; i++) {
        free(d->reports[i].org);
        free(d->reports[i].report);
        free(d->reports[i].unit);
        free(d->reports[i].state);
    }
    for (size_t i = 0; i < d->nalerts; i++) {
        free(d->alerts[i].code);
        free(d->alerts[i].severity);
        free(d->alerts[i].unit);
        free(d->alerts[i].message);
        free(d->alerts[i].now);
    }
    free(d->units);
    free(d->cohorts);
    free(d->programs);
    free(d->reports);
    free(d->alerts);
    plan_free(&d->plan);
    memset(d, 0, sizeof(*d));
}

int tl_report_kv_add(struct tl_rep_kvs *l, const char *key,
                     enum tl_rep_kind kind, bool known, double v)
{
    struct tl_rep_kv *p = realloc(l->v, (l->n + 1) * sizeof(*p));
    char *k;

    if (p == NULL)
        return POVTRACK_ENOMEM;
    l->v = p;
    k = strdup(key);
    if (k == NULL)
        return POVTRACK_ENOMEM;
    l->v[l->n++] = (struct tl_rep_kv){k, kind, known, v};
    return POVTRACK_OK;
}

/* ---- numbers and dates ------------------------------------------------ */

static int64_t round_i64(double v)
{
    if (!(v > -9.2e18 && v < 9.2e18))
        return 0;
    return (int64_t)llround(v);
}

/* Integer with sep between groups of three. */
static char *group(int64_t v, char sep, char *buf)
{
    char tmp[40];
    size_t n = 0, o = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    do {
        if (n > 0 && n % 3 == 0)
            tmp[o++] = sep;
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

/* Two decimals with the language's decimal mark. */
static char *fixed2(enum tl_rep_lang lang, double v, char *buf, size_t cap)
{
    char *dot;

    snprintf(buf, cap, "%.2f", v);
    if (strcmp(buf, "-0.00") == 0)
        snprintf(buf, cap, "0.00");
    dot = strchr(buf, '.');
    if (dot != NULL && lang == TL_REP_VI)
        *dot = ',';
    return buf;
}

const char *tl_report_num(enum tl_rep_lang lang, enum tl_rep_kind kind,
                          double v, char *buf)
{
    char sep = lang == TL_REP_VI ? '.' : ',';
    size_t n;

    switch (kind) {
    case TL_KIND_INT:
        return group(round_i64(v), sep, buf);
    case TL_KIND_VND:
        group(round_i64(v), sep, buf);
        strcat(buf, lang == TL_REP_VI ? " đ" : " VND");
        return buf;
    case TL_KIND_RATE:
        fixed2(lang, v, buf, 40);
        n = strlen(buf);
        snprintf(buf + n, 48 - n, "%%");
        return buf;
    case TL_KIND_TARGET:
        snprintf(buf, 48, "%s", labels[v >= 0.5 ? L_MET : L_MISSED][lang]);
        return buf;
    case TL_KIND_PP:
    case TL_KIND_NUM:
    default:
        return fixed2(lang, v, buf, 48);
    }
}

const char *tl_report_csv_num(enum tl_rep_kind kind, double v, char *buf)
{
    switch (kind) {
    case TL_KIND_INT:
    case TL_KIND_VND:
        snprintf(buf, 40, "%lld", (long long)round_i64(v));
        return buf;
    case TL_KIND_TARGET:
        snprintf(buf, 40, "%d", v >= 0.5 ? 1 : 0);
        return buf;
    default:
        return fixed2(TL_REP_EN, v, buf, 40);
    }
}

/* A date (and time) in Vietnam, UTC+7. */
const char *tl_report_date(const struct tl_rep_doc *d, int64_t t, bool hm,
                           char *buf, size_t cap)
{
    time_t tt = (time_t)(t + 7 * 3600);
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL) {
        snprintf(buf, cap, "-");
        return buf;
    }
    if (d->lang == TL_REP_VI)
        strftime(buf, cap, hm ? "%d/%m/%Y %H:%M" : "%d/%m/%Y", &tm);
    else
        strftime(buf, cap, hm ? "%Y-%m-%d %H:%M" : "%Y-%m-%d", &tm);
    return buf;
}

/* ---- escaping --------------------------------------------------------- */

int tl_report_html_escape(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            /* Control characters other than tab/newline are not allowed
             * in HTML text: show them as a replacement. */
            if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n')
                fputs("&#xFFFD;", f);
            else
                fputc(*s, f);
        }
    }
    return ferror(f) ? -1 : 0;
}

/* Markdown: backslash the punctuation that would start emphasis, links,
 * HTML or break a table cell; a newline would end the row. */
static void md_escape(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        if (strchr("\\`*_[]<>|#&~!", *s) != NULL)
            fputc('\\', f);
        if (*s == '\n' || *s == '\r')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
}

int tl_report_csv_field(FILE *f, const char *s)
{
    bool quote = strpbrk(s, ",\"\r\n") != NULL;
    bool formula = s[0] != '\0' && strchr("=+-@\t", s[0]) != NULL;

    if (quote)
        fputc('"', f);
    if (formula)
        fputc('\'', f);
    for (; *s != '\0'; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    if (quote)
        fputc('"', f);
    return ferror(f) ? -1 : 0;
}

/* ---- a small table writer shared by Markdown and HTML ----------------- */

struct out {
    FILE *f;
    const struct tl_rep_doc *d;
    enum tl_rep_format fmt;
    bool oom; /* a summary table could not be built */
};

/* Text from the daemon or the label tables, escaped for the format. */
static void text(const struct out *o, const char *s)
{
    if (o->fmt == TL_REP_HTML)
        tl_report_html_escape(o->f, s);
    else
        md_escape(o->f, s);
}

static void heading(const struct out *o, int level, const char *s)
{
    if (o->fmt == TL_REP_HTML) {
        fprintf(o->f, "<h%d>", level);
        text(o, s);
        fprintf(o->f, "</h%d>\n", level);
    } else {
        fprintf(o->f, "\n%.*s ", level, "######");
        text(o, s);
        fputs("\n\n", o->f);
    }
}

static void para_note(const struct out *o, const char *s, const char *arg)
{
    if (o->fmt == TL_REP_HTML) {
        fputs("<p class=\"note\">", o->f);
        text(o, s);
        if (arg != NULL) {
            fputs(" \"", o->f);
            text(o, arg);
            fputc('"', o->f);
        }
        fputs(".</p>\n", o->f);
    } else {
        fputs("> ", o->f);
        text(o, s);
        if (arg != NULL) {
            fputs(" \"", o->f);
            text(o, arg);
            fputc('"', o->f);
        }
        fputs(".\n", o->f);
    }
}

/* A table: begin with its header cells (right[i]: a number column). */
static void table_begin(const struct out *o, const char *caption,
                        const char *const *hdr, const bool *right, size_t n)
{
    if (o->fmt == TL_REP_HTML) {
        fputs("<table>\n", o->f);
        if (caption != NULL) {
            fputs("<caption>", o->f);
            text(o, caption);
            fputs("</caption>\n", o->f);
        }
        fputs("<thead><tr>", o->f);
        for (size_t i = 0; i < n; i++) {
            fputs(right[i] ? "<th class=\"n\">" : "<th>", o->f);
            text(o, hdr[i]);
            fputs("</th>", o->f);
        }
        fputs("</tr></thead>\n<tbody>\n", o->f);
        return;
    }
    if (caption != NULL) {
        fputs("**", o->f);
        text(o, caption);
        fputs("**\n\n", o->f);
    }
    fputc('|', o->f);
    for (size_t i = 0; i < n; i++) {
        fputc(' ', o->f);
        text(o, hdr[i]);
        fputs(" |", o->f);
    }
    fputs("\n|", o->f);
    for (size_t i = 0; i < n; i++)
        fputs(right[i] ? "---:|" : "---|", o->f);
    fputc('\n', o->f);
}

static void table_end(const struct out *o)
{
    fputs(o->fmt == TL_REP_HTML ? "</tbody>\n</table>\n" : "\n", o->f);
}

static void row_begin(const struct out *o, const char *cls)
{
    if (o->fmt == TL_REP_HTML)
        fprintf(o->f, cls ? "<tr class=\"%s\">" : "<tr>", cls);
    else
        fputc('|', o->f);
}

static void row_end(const struct out *o)
{
    fputs(o->fmt == TL_REP_HTML ? "</tr>\n" : "\n", o->f);
}

/* A cell; s is escaped.  strong: the root's row. */
static void cell(const struct out *o, const char *s, bool right, bool strong)
{
    if (o->fmt == TL_REP_HTML) {
        fputs(right ? "<td class=\"n\">" : "<td>", o->f);
        text(o, s);
        fputs("</td>", o->f);
        return;
    }
    fputs(strong ? " **" : " ", o->f);
    text(o, s);
    fputs(strong ? "** |" : " |", o->f);
}

static void num_cell(const struct out *o, enum tl_rep_kind kind, bool known,
                     double v, bool strong)
{
    char buf[48];

    cell(o, known ? tl_report_num(o->d->lang, kind, v, buf) : "-", true,
         strong);
}

/* ---- sections --------------------------------------------------------- */

/* The unit tables: name and code, then the columns given.  Units deeper
 * than max_depth are left out (communes in money tables). */
static void unit_table(const struct out *o, const enum tl_rep_col *c, size_t nc,
                       int max_depth)
{
    const struct tl_rep_doc *d = o->d;
    const char *hdr[TL_COL_COUNT + 2];
    bool right[TL_COL_COUNT + 2];

    hdr[0] = L(d, L_UNIT);
    hdr[1] = L(d, L_CODE);
    right[0] = right[1] = false;
    for (size_t i = 0; i < nc; i++) {
        hdr[i + 2] = col_label(d, c[i]);
        right[i + 2] = true;
    }
    table_begin(o, NULL, hdr, right, nc + 2);
    for (size_t u = 0; u < d->nunits; u++) {
        const struct tl_rep_unit *un = &d->units[u];
        bool strong = un->depth == 0;
        if (un->depth > max_depth)
            continue;
        row_begin(o, un->depth == 0 ? "root" : un->depth == 1 ? "d1" : "d2");
        if (o->fmt == TL_REP_MD && un->depth >= 2) {
            /* Markdown trims leading spaces in cells: an arrow shows the
             * commune sits under the district above. */
            fputs(" ↳", o->f);
        }
        cell(o, un->name, false, strong);
        cell(o, un->code, false, false);
        for (size_t i = 0; i < nc; i++)
            num_cell(o, cols[c[i]].kind, un->has[c[i]], un->v[c[i]], strong);
        row_end(o);
    }
    table_end(o);
}

static void kv_table(const struct out *o, const char *caption,
                     const struct tl_rep_kvs *l, const char *value_hdr)
{
    const struct tl_rep_doc *d = o->d;
    const char *hdr[2] = {L(d, L_INDICATOR),
                          value_hdr != NULL ? value_hdr : L(d, L_VALUE)};
    static const bool right[2] = {false, true};

    if (l->n == 0)
        return;
    table_begin(o, caption, hdr, right, 2);
    for (size_t i = 0; i < l->n; i++) {
        row_begin(o, NULL);
        cell(o, term_or_key(d, l->v[i].key), false, false);
        num_cell(o, l->v[i].kind, l->v[i].known, l->v[i].v, false);
        row_end(o);
    }
    table_end(o);
}

static void cohort_table(const struct out *o)
{
    const struct tl_rep_doc *d = o->d;
    static const enum lbl h[8] = {
        L_COHORT_YEAR, L_COHORT_ESCAPED, L_RELAPSED_1Y, L_RELAPSED_2Y,
        L_RELAPSED_3Y, L_RATE_1Y,        L_RATE_2Y,     L_RATE_3Y};
    const char *hdr[8];
    bool right[8];

    if (d->ncohorts == 0)
        return;
    for (int i = 0; i < 8; i++) {
        hdr[i] = L(d, h[i]);
        right[i] = i > 0;
    }
    table_begin(o, L(d, L_COHORTS), hdr, right, 8);
    for (size_t i = 0; i < d->ncohorts; i++) {
        const struct tl_rep_cohort *c = &d->cohorts[i];
        char y[16];
        snprintf(y, sizeof(y), "%d", c->year);
        row_begin(o, NULL);
        cell(o, y, false, false);
        for (int k = 0; k < 7; k++)
            num_cell(o, k < 4 ? TL_KIND_INT : TL_KIND_RATE, c->known[k],
                     c->v[k], false);
        row_end(o);
    }
    table_end(o);
}

static void programs_table(const struct out *o)
{
    const struct tl_rep_doc *d = o->d;
    const char *hdr[5] = {L(d, L_PROGRAM), L(d, L_LOANS), L(d, L_DISBURSED),
                          L(d, L_REPAID), L(d, L_OUTSTANDING)};
    static const bool right[5] = {false, true, true, true, true};

    if (d->nprograms == 0)
        return;
    table_begin(o, L(d, L_BY_PROGRAM), hdr, right, 5);
    for (size_t i = 0; i < d->nprograms; i++) {
        const struct tl_rep_program *p = &d->programs[i];
        row_begin(o, NULL);
        cell(o, p->name, false, false);
        for (int k = 0; k < 4; k++)
            num_cell(o, k == 0 ? TL_KIND_INT : TL_KIND_VND, p->known[k],
                     p->v[k], false);
        row_end(o);
    }
    table_end(o);
}

static bool late_or_overdue(const struct tl_rep_report *r)
{
    return r->state != NULL &&
           (strcmp(r->state, "late") == 0 || strcmp(r->state, "overdue") == 0);
}

static void reports_section(struct out *o)
{
    const struct tl_rep_doc *d = o->d;
    static const char *const states[] = {"submitted", "late", "overdue",
                                         "pending"};
    struct tl_rep_kvs by = {NULL, 0};
    const char *hdr[6] = {L(d, L_ORG), L(d, L_REPORT),    L(d, L_UNIT),
                          L(d, L_DUE), L(d, L_SUBMITTED), L(d, L_STATE)};
    static const bool right[6] = {false, false, false, true, true, false};
    size_t nlate = 0;

    for (size_t s = 0; s < sizeof(states) / sizeof(states[0]); s++) {
        size_t n = 0;
        for (size_t i = 0; i < d->nreports; i++)
            n += d->reports[i].state != NULL &&
                 strcmp(d->reports[i].state, states[s]) == 0;
        if (tl_report_kv_add(&by, states[s], TL_KIND_INT, true, (double)n) !=
            POVTRACK_OK) {
            o->oom = true;
            break;
        }
    }
    kv_table(o, L(d, L_BY_STATE), &by, L(d, L_COUNT_HDR));
    kvs_free(&by);
    for (size_t i = 0; i < d->nreports; i++)
        nlate += late_or_overdue(&d->reports[i]);
    heading(o, 3, L(d, L_LATE_OVERDUE));
    if (nlate == 0) {
        para_note(o, L(d, L_NONE), NULL);
        return;
    }
    table_begin(o, NULL, hdr, right, 6);
    for (size_t i = 0; i < d->nreports; i++) {
        const struct tl_rep_report *r = &d->reports[i];
        char due[40], sub[40];
        if (!late_or_overdue(r))
            continue;
        row_begin(o, strcmp(r->state, "overdue") == 0 ? "bad" : NULL);
        cell(o, r->org ? r->org : "-", false, false);
        cell(o, r->report ? r->report : "-", false, false);
        cell(o, r->unit ? r->unit : "-", false, false);
        cell(o,
             r->has_due ? tl_report_date(d, r->due, false, due, sizeof(due))
                        : "-",
             true, false);
        cell(o,
             r->has_submitted
                 ? tl_report_date(d, r->submitted, false, sub, sizeof(sub))
                 : "-",
             true, false);
        cell(o, term_or_key(d, r->state), false, false);
        row_end(o);
    }
    table_end(o);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void alerts_section(struct out *o)
{
    const struct tl_rep_doc *d = o->d;
    struct tl_rep_kvs by = {NULL, 0};
    const char **codes = NULL;
    const char *hdr[5] = {L(d, L_TIME), L(d, L_SEVERITY), L(d, L_ALERT_CODE),
                          L(d, L_UNIT), L(d, L_MESSAGE)};
    static const bool right[5] = {false, false, false, false, false};
    char n[48];
    size_t shown = 0;

    fputs(o->fmt == TL_REP_HTML ? "<p>" : "", o->f);
    text(o, L(d, L_ALERTS_TOTAL));
    fprintf(o->f, ": %s%s\n",
            tl_report_num(d->lang, TL_KIND_INT, (double)d->nalerts, n),
            o->fmt == TL_REP_HTML ? "</p>" : "\n");
    if (d->nalerts == 0)
        return;
    /* Count by code, codes sorted so the table is stable. */
    codes = malloc(d->nalerts * sizeof(*codes));
    if (codes != NULL) {
        for (size_t i = 0; i < d->nalerts; i++)
            codes[i] = d->alerts[i].code != NULL ? d->alerts[i].code : "?";
        qsort(codes, d->nalerts, sizeof(*codes), str_cmp);
        for (size_t i = 0; i < d->nalerts;) {
            size_t j = i;
            while (j < d->nalerts && strcmp(codes[j], codes[i]) == 0)
                j++;
            if (tl_report_kv_add(&by, codes[i], TL_KIND_INT, true,
                                 (double)(j - i)) != POVTRACK_OK) {
                o->oom = true;
                break;
            }
            i = j;
        }
        free(codes);
    } else {
        o->oom = true;
    }
    kv_table(o, L(d, L_BY_CODE), &by, L(d, L_COUNT_HDR));
    kvs_free(&by);
    table_begin(o, NULL, hdr, right, 5);
    for (size_t i = 0; i < d->nalerts && shown < d->alerts_max; i++, shown++) {
        const struct tl_rep_alert *a = &d->alerts[i];
        char when[40];
        row_begin(o, a->severity != NULL && strcmp(a->severity, "critical") == 0
                         ? "bad"
                         : NULL);
        cell(o, tl_report_date(d, a->at, true, when, sizeof(when)), false,
             false);
        cell(o, a->severity ? term_or_key(d, a->severity) : "-", false, false);
        cell(o, a->code ? a->code : "-", false, false);
        /* "593 (now in 68)": the unit it was raised on, and where that
         * unit's households are at the report's end. */
        char unit[96];
        if (a->unit != NULL && a->now != NULL)
            snprintf(unit, sizeof(unit), "%s (%s %s)", a->unit, L(d, L_NOW_IN),
                     a->now);
        else
            snprintf(unit, sizeof(unit), "%s", a->unit ? a->unit : "-");
        cell(o, unit, false, false);
        cell(o, a->message ? a->message : "-", false, false);
        row_end(o);
    }
    table_end(o);
    if (shown < d->nalerts) {
        fputs(o->fmt == TL_REP_HTML ? "<p>… " : "… ", o->f);
        fputs(tl_report_num(d->lang, TL_KIND_INT, (double)(d->nalerts - shown),
                            n),
              o->f);
        fputc(' ', o->f);
        text(o, L(d, L_MORE_ALERTS));
        fputs(o->fmt == TL_REP_HTML ? "</p>\n" : "\n", o->f);
    }
}

/* ---- the rest of the plan's sections ---------------------------------- */

static void plan_free(struct tl_rep_plan *p)
{
    struct tl_rep_kvs *lists[] = {&p->budget, &p->production,
                                  &p->ocop,   &p->protection,
                                  &p->donors, &p->commendations};

    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
        kvs_free(lists[i]);
    for (size_t i = 0; i < p->ncomponents; i++) {
        free(p->components[i].program);
        free(p->components[i].component);
    }
    for (size_t i = 0; i < p->nlinks; i++) {
        free(p->links[i].link);
        free(p->links[i].partner);
        free(p->links[i].partner_kind);
        free(p->links[i].product);
    }
    for (size_t i = 0; i < p->ndonors; i++) {
        free(p->donor_list[i].donor);
        free(p->donor_list[i].kind);
    }
    for (size_t i = 0; i < p->ncommended; i++) {
        struct tl_rep_commendation *c = &p->commended[i];
        free(c->recipient);
        free(c->kind);
        free(c->awarded_by);
        free(c->level);
        free(c->decision);
        free(c->unit);
    }
    free(p->components);
    free(p->links);
    free(p->donor_list);
    free(p->commended);
}

/* A table's header from label codes; right: the number columns. */
static void table_of(const struct out *o, enum lbl caption,
                     const enum lbl *cols_, const bool *right, size_t n)
{
    const char *hdr[8];

    for (size_t i = 0; i < n && i < 8; i++)
        hdr[i] = L(o->d, cols_[i]);
    table_begin(o, caption != L_COUNT ? L(o->d, caption) : NULL, hdr, right, n);
}

/* "… N more rows not listed", when N > 0. */
static void more_rows(const struct out *o, size_t n)
{
    char num[48];

    if (n == 0)
        return;
    fputs(o->fmt == TL_REP_HTML ? "<p>… " : "… ", o->f);
    fputs(tl_report_num(o->d->lang, TL_KIND_INT, (double)n, num), o->f);
    fputc(' ', o->f);
    text(o, L(o->d, L_MORE_ROWS));
    fputs(o->fmt == TL_REP_HTML ? "</p>\n" : "\n", o->f);
}

static const char *or_dash(const char *s)
{
    return s != NULL ? s : "-";
}

static void components_table(const struct out *o)
{
    static const enum lbl h[5] = {L_PROGRAM, L_COMPONENT, L_ALLOCATED, L_SPENT,
                                  L_EXECUTION};
    static const bool right[5] = {false, false, true, true, true};
    static const enum tl_rep_kind kinds[3] = {TL_KIND_VND, TL_KIND_VND,
                                              TL_KIND_RATE};
    const struct tl_rep_plan *p = &o->d->plan;

    if (p->ncomponents == 0)
        return;
    table_of(o, L_BY_COMPONENT, h, right, 5);
    for (size_t i = 0; i < p->ncomponents; i++) {
        const struct tl_rep_component *c = &p->components[i];
        row_begin(o, NULL);
        cell(o, term_or_key(o->d, or_dash(c->program)), false, false);
        cell(o, or_dash(c->component), false, false);
        for (int k = 0; k < 3; k++)
            num_cell(o, kinds[k], c->known[k], c->v[k], false);
        row_end(o);
    }
    table_end(o);
}

static void links_table(const struct out *o)
{
    static const enum lbl h[6] = {L_LINK,    L_PARTNER,    L_PARTNER_KIND,
                                  L_PRODUCT, L_OCOP_STARS, L_HOUSEHOLDS};
    static const bool right[6] = {false, false, false, false, true, true};
    const struct tl_rep_plan *p = &o->d->plan;

    if (p->nlinks == 0)
        return;
    table_of(o, L_LINKS, h, right, 6);
    for (size_t i = 0; i < p->nlinks; i++) {
        const struct tl_rep_link *l = &p->links[i];
        row_begin(o, NULL);
        cell(o, or_dash(l->link), false, false);
        cell(o, or_dash(l->partner), false, false);
        cell(o, term_or_key(o->d, or_dash(l->partner_kind)), false, false);
        cell(o, or_dash(l->product), false, false);
        num_cell(o, TL_KIND_INT, l->has_stars, l->stars, false);
        num_cell(o, TL_KIND_INT, true, l->households, false);
        row_end(o);
    }
    table_end(o);
    more_rows(o, p->links_more);
}

static void donors_table(const struct out *o)
{
    static const enum lbl h[5] = {L_DONOR, L_DONOR_KIND, L_AMOUNT, L_DONATIONS,
                                  L_IN_KIND};
    static const bool right[5] = {false, false, true, true, true};
    const struct tl_rep_plan *p = &o->d->plan;

    if (p->ndonors == 0)
        return;
    table_of(o, L_DONORS_LIST, h, right, 5);
    for (size_t i = 0; i < p->ndonors; i++) {
        const struct tl_rep_donor *r = &p->donor_list[i];
        row_begin(o, NULL);
        cell(o, or_dash(r->donor), false, false);
        cell(o, term_or_key(o->d, or_dash(r->kind)), false, false);
        num_cell(o, TL_KIND_VND, true, r->amount, false);
        num_cell(o, TL_KIND_INT, true, r->donations, false);
        num_cell(o, TL_KIND_VND, true, r->in_kind, false);
        row_end(o);
    }
    table_end(o);
    more_rows(o, p->donors_more);
}

static void commended_table(const struct out *o)
{
    static const enum lbl h[7] = {L_DATE,       L_RECIPIENT, L_RECIPIENT_KIND,
                                  L_AWARDED_BY, L_LEVEL,     L_DECISION,
                                  L_UNIT};
    static const bool right[7] = {false};
    const struct tl_rep_plan *p = &o->d->plan;

    if (p->ncommended == 0)
        return;
    table_of(o, L_COMMENDED, h, right, 7);
    for (size_t i = 0; i < p->ncommended; i++) {
        const struct tl_rep_commendation *c = &p->commended[i];
        char when[40];
        row_begin(o, NULL);
        cell(o, tl_report_date(o->d, c->at, false, when, sizeof(when)), false,
             false);
        cell(o, or_dash(c->recipient), false, false);
        cell(o, term_or_key(o->d, or_dash(c->kind)), false, false);
        cell(o, or_dash(c->awarded_by), false, false);
        cell(o, term_or_key(o->d, or_dash(c->level)), false, false);
        cell(o, or_dash(c->decision), false, false);
        cell(o, or_dash(c->unit), false, false);
        row_end(o);
    }
    table_end(o);
    more_rows(o, p->commended_more);
}

static void plan_section(struct out *o, enum tl_rep_sec s)
{
    const struct tl_rep_plan *p = &o->d->plan;
    static const enum tl_rep_col bud[] = {
        TL_COL_BUDGET_ALLOCATED, TL_COL_BUDGET_SPENT, TL_COL_BUDGET_RATE};
    static const enum tl_rep_col prod[] = {
        TL_COL_LINKED, TL_COL_POOR_LINKED_SHARE, TL_COL_OCOP};
    static const enum tl_rep_col prot[] = {TL_COL_NO_LABOUR,
                                           TL_COL_ASSISTED_SHARE};
    static const enum tl_rep_col don[] = {TL_COL_DONORS};
    static const enum tl_rep_col com[] = {TL_COL_COMMENDATIONS};

    switch (s) {
    case TL_SEC_BUDGET:
        kv_table(o, NULL, &p->budget, NULL);
        components_table(o);
        /* The programmes reach communes through their district: the
         * communes' rows are in the CSV. */
        unit_table(o, bud, 3, 1);
        break;
    case TL_SEC_PRODUCTION:
        kv_table(o, NULL, &p->production, NULL);
        kv_table(o, L(o->d, L_OCOP_BY_STARS), &p->ocop, NULL);
        links_table(o);
        unit_table(o, prod, 3, 2);
        break;
    case TL_SEC_PROTECTION:
        kv_table(o, NULL, &p->protection, NULL);
        unit_table(o, prot, 2, 2);
        break;
    case TL_SEC_DONORS:
        kv_table(o, NULL, &p->donors, NULL);
        donors_table(o);
        unit_table(o, don, 1, 1);
        break;
    case TL_SEC_COMMENDATIONS:
    default:
        kv_table(o, NULL, &p->commendations, NULL);
        commended_table(o);
        unit_table(o, com, 1, 1);
        break;
    }
}

static void section(struct out *o, enum tl_rep_sec s)
{
    const struct tl_rep_doc *d = o->d;
    static const enum tl_rep_col pov[] = {
        TL_COL_HOUSEHOLDS, TL_COL_POOR,      TL_COL_POOR_RATE,
        TL_COL_NEAR,       TL_COL_NEAR_RATE, TL_COL_REDUCTION,
        TL_COL_TARGET,     TL_COL_MD_RATE,   TL_COL_MD_REDUCTION,
        TL_COL_MD_TARGET,  TL_COL_ESCAPED,   TL_COL_RELAPSED,
        TL_COL_NEWLY};
    static const enum tl_rep_col std[] = {TL_COL_ASSESSED, TL_COL_UNRECOGNISED,
                                          TL_COL_UNSUPPORTED,
                                          TL_COL_NO_ASSESSMENT};
    static const enum tl_rep_col fund[] = {
        TL_COL_FUND_RECEIVED, TL_COL_FUND_DISBURSED, TL_COL_FUND_BALANCE};
    static const enum tl_rep_col rel[] = {TL_COL_RELOCATED,
                                          TL_COL_FULLY_SUPPORTED};
    static const enum tl_rep_col cre[] = {
        TL_COL_LOANS, TL_COL_CREDIT_OUTSTANDING, TL_COL_COVERAGE_RATE};
    static const enum tl_rep_col dl[] = {TL_COL_REPORTS_LATE,
                                         TL_COL_REPORTS_OVERDUE};
#define N(a) (sizeof(a) / sizeof((a)[0]))

    heading(o, 2, L(d, sec_titles[s]));
    if (!d->present[s]) {
        para_note(o, L(d, L_ABSENT), tl_report_sec_plugin(s));
        return;
    }
    switch (s) {
    case TL_SEC_POVERTY:
        unit_table(o, pov, N(pov), 2);
        if (o->fmt == TL_REP_HTML) {
            fputs("<figure>\n", o->f);
            tl_report_chart_svg(o->f, d);
            fputs("<figcaption>", o->f);
            text(o, L(d, L_CHART));
            fputs("</figcaption>\n</figure>\n", o->f);
        }
        cohort_table(o);
        break;
    case TL_SEC_STANDARD:
        kv_table(o, NULL, &d->standard, NULL);
        unit_table(o, std, N(std), 2);
        kv_table(o, L(d, L_BY_DIMENSION), &d->dimensions, NULL);
        kv_table(o, L(d, L_BY_INDICATOR), &d->deprivation, NULL);
        break;
    case TL_SEC_FUND:
        kv_table(o, NULL, &d->fund, NULL);
        kv_table(o, L(d, L_BY_PURPOSE), &d->by_purpose, NULL);
        kv_table(o, L(d, L_BY_LEVEL), &d->by_level, NULL);
        unit_table(o, fund, N(fund), 1);
        break;
    case TL_SEC_RELOCATION:
        kv_table(o, NULL, &d->relocation, NULL);
        kv_table(o, L(d, L_MISSING), &d->missing, NULL);
        kv_table(o, L(d, L_BY_REASON), &d->by_reason, NULL);
        unit_table(o, rel, N(rel), 1);
        break;
    case TL_SEC_CREDIT:
        kv_table(o, NULL, &d->credit, NULL);
        programs_table(o);
        unit_table(o, cre, N(cre), 1);
        break;
    case TL_SEC_DEADLINES:
        reports_section(o);
        unit_table(o, dl, N(dl), 1);
        break;
    case TL_SEC_BUDGET:
    case TL_SEC_PRODUCTION:
    case TL_SEC_PROTECTION:
    case TL_SEC_DONORS:
    case TL_SEC_COMMENDATIONS:
        plan_section(o, s);
        break;
    case TL_SEC_ALERTS:
    default:
        alerts_section(o);
        break;
    }
#undef N
}

/* Title, unit, time of generation and the target bands. */
static void header(const struct out *o)
{
    const struct tl_rep_doc *d = o->d;
    const struct tl_rep_unit *root = d->nunits > 0 ? &d->units[0] : NULL;
    char when[40], lo[48], hi[48], title[400];

    snprintf(title, sizeof(title), "%s %d", L(d, L_TITLE), d->year);
    if (o->fmt == TL_REP_HTML)
        fputs("<h1>", o->f);
    else
        fputs("# ", o->f);
    text(o, title);
    fputs(o->fmt == TL_REP_HTML ? "</h1>\n<p class=\"meta\"><strong>"
                                : "\n\n**",
          o->f);
    text(o, root != NULL ? root->name : "-");
    fputs(" (", o->f);
    text(o, root != NULL ? root->code : "-");
    fputs(o->fmt == TL_REP_HTML ? ")</strong> · " : ")** · ", o->f);
    text(o, L(d, L_GENERATED));
    fprintf(o->f, " %s (UTC+7) · ",
            tl_report_date(d, d->generated, true, when, sizeof(when)));
    text(o, L(d, L_TARGET_BAND));
    fprintf(o->f, ": %s–%s ", tl_report_num(d->lang, TL_KIND_PP, d->tmin, lo),
            tl_report_num(d->lang, TL_KIND_PP, d->tmax, hi));
    text(o, L(d, L_PP_PER_YEAR));
    fputs(" · ", o->f);
    text(o, L(d, L_MD_TARGET_BAND));
    fprintf(o->f, ": %s–%s ",
            tl_report_num(d->lang, TL_KIND_PP, d->md_tmin, lo),
            tl_report_num(d->lang, TL_KIND_PP, d->md_tmax, hi));
    text(o, L(d, L_PP_PER_YEAR));
    fputs(o->fmt == TL_REP_HTML ? "</p>\n" : "\n", o->f);
}

static const char html_style[] =
    "body{font-family:system-ui,'Segoe UI',Roboto,Arial,sans-serif;"
    "margin:2em auto;max-width:1200px;padding:0 1em;color:#222}"
    "h1{font-size:1.5em}h2{margin-top:2em;border-bottom:2px solid #b22;"
    "padding-bottom:.2em}"
    "table{border-collapse:collapse;margin:1em 0;font-size:.9em}"
    "caption{text-align:left;font-weight:bold;padding:.3em 0}"
    "th,td{border:1px solid #ccc;padding:.25em .5em;vertical-align:top}"
    "th{background:#f3f3f3}td.n,th.n{text-align:right;white-space:nowrap}"
    "tr.root td{font-weight:bold;background:#fdf6e3}"
    "tr.d1 td{background:#f7f7f7;font-weight:600}"
    "tr.d2 td:first-child{padding-left:2em}"
    "tr.bad td{color:#a00}"
    "p.note{color:#666;font-style:italic}p.meta{color:#444}"
    "figure{margin:1em 0}figcaption{color:#444;font-size:.9em}"
    "svg text{font-family:inherit}"
    "@media print{h2{page-break-after:avoid}table{page-break-inside:auto}}";

/* The start of a self-contained HTML document titled title - root. */
static void html_open(FILE *f, const struct tl_rep_doc *d, const char *title)
{
    fprintf(f,
            "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n"
            "<meta charset=\"utf-8\"/>\n"
            "<meta name=\"viewport\" "
            "content=\"width=device-width, initial-scale=1\"/>\n"
            "<title>",
            d->lang == TL_REP_EN ? "en" : "vi");
    tl_report_html_escape(f, title);
    if (d->nunits > 0) {
        fputs(" - ", f);
        tl_report_html_escape(f, d->units[0].name);
    }
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n", html_style);
}

/* The stream's verdict, once, at the end (see the top of the file). */
static int render_done(FILE *f, const struct out *o, struct tl_error *err)
{
    if (o->oom)
        return tl_fail(err, POVTRACK_ENOMEM, "out of memory");
    if (ferror(f))
        return tl_fail(err, POVTRACK_EIO, "cannot write the report");
    return POVTRACK_OK;
}

int tl_report_render_donors(FILE *f, const struct tl_rep_doc *d,
                            const char *period, enum tl_rep_format fmt,
                            struct tl_error *err)
{
    struct out o = {f, d, fmt, false};
    const struct tl_rep_plan *p = &d->plan;
    const struct tl_rep_unit *root = d->nunits > 0 ? &d->units[0] : NULL;
    char title[600], buf[48];

    if (fmt == TL_REP_CSV) {
        static const enum lbl h[5] = {L_DONOR, L_DONOR_KIND, L_AMOUNT,
                                      L_DONATIONS, L_IN_KIND};
        for (int i = 0; i < 5; i++) {
            tl_report_csv_field(f, L(d, h[i]));
            fputs(i < 4 ? "," : "\r\n", f);
        }
        for (size_t i = 0; i < p->ndonors; i++) {
            const struct tl_rep_donor *r = &p->donor_list[i];
            tl_report_csv_field(f, or_dash(r->donor));
            fputc(',', f);
            tl_report_csv_field(f, term_or_key(d, or_dash(r->kind)));
            fprintf(f, ",%s", tl_report_csv_num(TL_KIND_VND, r->amount, buf));
            fprintf(f, ",%s",
                    tl_report_csv_num(TL_KIND_INT, r->donations, buf));
            fprintf(f, ",%s\r\n",
                    tl_report_csv_num(TL_KIND_VND, r->in_kind, buf));
        }
        return render_done(f, &o, err);
    }
    snprintf(title, sizeof(title), "%s, %s (%s), %s", L(d, L_DONORS_TITLE),
             root != NULL ? root->name : "-", root != NULL ? root->code : "-",
             period);
    if (fmt == TL_REP_HTML)
        html_open(f, d, title);
    heading(&o, 1, title);
    kv_table(&o, NULL, &p->donors, NULL);
    donors_table(&o);
    if (fmt == TL_REP_HTML)
        fputs("</body>\n</html>\n", f);
    return render_done(f, &o, err);
}

int tl_report_render(FILE *f, const struct tl_rep_doc *d,
                     enum tl_rep_format fmt, struct tl_error *err)
{
    struct out o = {f, d, fmt, false};

    if (fmt == TL_REP_CSV) {
        const char *fixed[3] = {L(d, L_CODE), L(d, L_UNIT), L(d, L_PARENT)};
        for (int i = 0; i < 3; i++) {
            tl_report_csv_field(f, fixed[i]);
            fputc(',', f);
        }
        for (int c = 0; c < TL_COL_COUNT; c++) {
            tl_report_csv_field(f, col_label(d, (enum tl_rep_col)c));
            fputs(c + 1 < TL_COL_COUNT ? "," : "\r\n", f);
        }
        for (size_t u = 0; u < d->nunits; u++) {
            const struct tl_rep_unit *un = &d->units[u];
            char buf[48];
            tl_report_csv_field(f, un->code);
            fputc(',', f);
            tl_report_csv_field(f, un->name);
            fputc(',', f);
            tl_report_csv_field(
                f, un->parent < d->nunits ? d->units[un->parent].code : "");
            for (int c = 0; c < TL_COL_COUNT; c++) {
                fputc(',', f);
                if (un->has[c] && d->present[cols[c].sec])
                    fputs(tl_report_csv_num(cols[c].kind, un->v[c], buf), f);
            }
            fputs("\r\n", f);
        }
    } else {
        if (fmt == TL_REP_HTML) {
            char title[400];
            snprintf(title, sizeof(title), "%s %d", L(d, L_TITLE), d->year);
            html_open(f, d, title);
        }
        header(&o);
        for (int s = 0; s < TL_SEC_COUNT; s++)
            section(&o, (enum tl_rep_sec)s);
        if (fmt == TL_REP_HTML)
            fputs("</body>\n</html>\n", f);
    }
    return render_done(f, &o, err);
}

/* ---- the chart -------------------------------------------------------- */

/* Colours that stay apart for the dozen districts of a province. */
static const char *const palette[] = {
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939"};

int tl_report_chart_svg(FILE *f, const struct tl_rep_doc *d)
{
    /* Plot area inside a 760 x 380 box; the legend on the right. */
    const double W = 760, H = 380, left = 56, right = 220, top = 20,
                 bottom = 44;
    const double pw = W - left - right, ph = H - top - bottom;
    int years = d->year - d->from_year + 1;
    double ymax = 0, step;
    size_t series = 0;
    char lab[48];

    if (years < 1)
        years = 1;
    if (years > TL_REP_YEARS)
        years = TL_REP_YEARS;
    for (size_t u = 0; u < d->nunits; u++)
        for (int y = 0; y < years; y++)
            if (d->units[u].depth == 1 && d->units[u].hist_known[y] &&
                d->units[u].hist[y] > ymax)
                ymax = d->units[u].hist[y];
    /* Round the axis up to a whole step: 1 point up to 10%, else 2, 5... */
    step = ymax <= 10 ? 1 : ymax <= 20 ? 2 : ymax <= 50 ? 5 : 10;
    ymax = step * ceil(ymax / step);
    if (ymax <= 0)
        ymax = step;

#define X(i) (left + (years > 1 ? pw * (i) / (years - 1) : pw / 2))
#define Y(v) (top + ph - ph * (v) / ymax)

    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f "
            "%.0f\" width=\"%.0f\" height=\"%.0f\" role=\"img\" "
            "aria-label=\"",
            W, H, W, H);
    tl_report_html_escape(f, L(d, L_CHART));
    fputs("\">\n", f);
    /* Grid and y axis labels. */
    for (double v = 0; v <= ymax + step / 2; v += step) {
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#ddd\"/>\n",
                left, Y(v), left + pw, Y(v));
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
                "text-anchor=\"end\">%s</text>\n",
                left - 6, Y(v) + 4,
                tl_report_num(d->lang, TL_KIND_INT, v, lab));
    }
    for (int i = 0; i < years; i++)
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
                "text-anchor=\"middle\">%d</text>\n",
                X(i), top + ph + 18, d->from_year + i);
    fprintf(f,
            "<text x=\"14\" y=\"%.1f\" font-size=\"11\" "
            "transform=\"rotate(-90 14 %.1f)\" text-anchor=\"middle\">",
            top + ph / 2, top + ph / 2);
    tl_report_html_escape(f, L(d, L_CHART_Y));
    fputs("</text>\n", f);
    /* One polyline per child unit of the root, points where known. */
    for (size_t u = 0; u < d->nunits; u++) {
        const struct tl_rep_unit *un = &d->units[u];
        const char *colour =
            palette[series % (sizeof(palette) / sizeof(palette[0]))];
        double ly = top + 8 + 16.0 * (double)series;

        if (un->depth != 1)
            continue;
        fprintf(f,
                "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" "
                "stroke-width=\"2\" points=\"",
                colour);
        for (int y = 0, first = 1; y < years; y++) {
            if (!un->hist_known[y])
                continue;
            fprintf(f, "%s%.1f,%.1f", first ? "" : " ", X(y), Y(un->hist[y]));
            first = 0;
        }
        fputs("\"><title>", f);
        tl_report_html_escape(f, un->name);
        fputs("</title></polyline>\n", f);
        for (int y = 0; y < years; y++) {
            if (!un->hist_known[y])
                continue;
            fprintf(f,
                    "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\">"
                    "<title>",
                    X(y), Y(un->hist[y]), colour);
            tl_report_html_escape(f, un->name);
            fprintf(f, " %d: %s</title></circle>\n", d->from_year + y,
                    tl_report_num(d->lang, TL_KIND_RATE, un->hist[y], lab));
        }
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"4\" "
                "fill=\"%s\"/>\n<text x=\"%.1f\" y=\"%.1f\" "
                "font-size=\"11\">",
                W - right + 16, ly - 4, colour, W - right + 32, ly);
        tl_report_html_escape(f, un->name);
        fputs("</text>\n", f);
        series++;
    }
    fputs("</svg>\n", f);
#undef X
#undef Y
    return ferror(f) ? -1 : 0;
}
