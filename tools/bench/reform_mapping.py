#!/usr/bin/env python3
"""A synthetic mapping table of the July 2025 reorganisation, for
tools/bench/run-reform.sh.

The official table (old code -> new code) is not in this repository, so this
derives one from the pre-reform unit list (code,name,type,parent,level, e.g.
../shared/data/units-vn-2025-03-01.csv) with the shape of the real one:

  - provinces, sorted by code: the first 29 pairs merge, the second of each
    pair into the first, which keeps its code and name; the rest are kept
    as they are (no row): 63 -> 34 provinces, as in the resolution;
  - districts: every one abolished (empty new_code);
  - communes: within each district, sorted by code, consecutive groups of
    three merge into the group's first code, which keeps its name; a
    remainder of one joins the group before it (four), of two is a group
    of two, a district of one commune is a group of one (kept, moved).
    Every new commune's parent is the new province of its old district's
    province: about 10,000 -> 3,350 communes (the real count was 3,321).

Output, on standard output (or -o FILE), the columns `povtrack unitmap`
reads: old_code,new_code,effective,new_name,new_parent; one row per old unit
that changes, all with one effective date (--effective, default
2025-07-01).  A summary goes to standard error.  The same input gives the
same bytes.

  tools/bench/reform_mapping.py UNITS.csv [--effective YYYY-MM-DD] [-o FILE]
"""

import argparse
import csv
import sys

PROVINCE_MERGES = 29  # 63 - 34


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("units", help="pre-reform units CSV (code,name,type,parent,level)")
    ap.add_argument("--effective", default="2025-07-01")
    ap.add_argument("-o", "--output", help="write here instead of standard output")
    a = ap.parse_args()

    units = {}
    with open(a.units, newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            units[row["code"]] = row
    provinces = sorted(c for c, u in units.items() if u["level"] == "province")
    districts = sorted(c for c, u in units.items() if u["level"] == "district")
    communes = sorted(c for c, u in units.items() if u["level"] == "commune")
    if len(provinces) < 2 * PROVINCE_MERGES:
        sys.exit("reform_mapping.py: %d provinces, need at least %d"
                 % (len(provinces), 2 * PROVINCE_MERGES))

    def province_of(code):
        while units[code]["level"] != "province":
            code = units[code]["parent"]
        return code

    rows = []  # (old, new, name, parent)
    new_province = {p: p for p in provinces}
    for i in range(PROVINCE_MERGES):
        keep, gone = provinces[2 * i], provinces[2 * i + 1]
        new_province[gone] = keep
        name = units[keep]["name"]
        rows.append((keep, keep, name, ""))
        rows.append((gone, keep, name, ""))
    for d in districts:
        rows.append((d, "", "", ""))

    by_parent = {}
    for c in communes:
        by_parent.setdefault(units[c]["parent"], []).append(c)
    groups = []
    for parent in sorted(by_parent):
        cs = by_parent[parent]
        g = [cs[i:i + 3] for i in range(0, len(cs), 3)]
        if len(g) > 1 and len(g[-1]) == 1:
            last = g.pop()
            g[-1] += last
        groups += g
    for g in groups:
        head = g[0]
        parent = new_province[province_of(head)]
        for c in g:
            rows.append((c, head, units[head]["name"], parent))

    out = open(a.output, "w", newline="", encoding="utf-8") if a.output else sys.stdout
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["old_code", "new_code", "effective", "new_name", "new_parent"])
    for old, new, name, parent in rows:
        w.writerow([old, new, a.effective, name, parent])
    if a.output:
        out.close()
    sizes = {}
    for g in groups:
        sizes[len(g)] = sizes.get(len(g), 0) + 1
    print("reform_mapping.py: %d rows: provinces %d -> %d (%d merges), "
          "districts %d -> 0, communes %d -> %d (groups of %s), effective %s"
          % (len(rows), len(provinces), len(provinces) - PROVINCE_MERGES,
             PROVINCE_MERGES, len(districts), len(communes), len(groups),
             ", ".join("%d: %d" % (k, sizes[k]) for k in sorted(sizes)),
             a.effective), file=sys.stderr)


if __name__ == "__main__":
    main()
