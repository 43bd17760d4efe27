#!/usr/bin/python3
"""An agency's publisher: the donations its own system exported, to povtrackd.

    agency_publisher.py [--unit CODE] [--prefix PREFIX] FILE.csv

FILE.csv has a header row and the columns receipt, date (YYYY-MM-DD, a day
in Vietnam), donor, donor_kind (person, organisation, business, anonymous)
and amount (VND).  Each row becomes a donation.received event of unit CODE
(default 593), with the id PREFIX-RECEIPT: running it again on the same
file stores nothing twice (povtrackd answers "duplicate").  It prints each
rejection with its row and povtrackd's reason, a summary, and then the
fund's totals for the unit, read back with min_seq so that they include
what was just sent.

The connection is configured as for the povtrack command-line tool: the
options or POVTRACK_INGEST, POVTRACK_QUERY (default tcp://127.0.0.1:7170
and :7171), and with CURVE POVTRACK_SERVER_KEY (the daemon's .pub or key)
and POVTRACK_KEY (this agency's .key from `povtrack keygen`).

Exit status: 0 every row stored (now or before), 1 some rows rejected or
the query refused, 2 usage or a bad file, 3 povtrackd unreachable.
"""

import argparse
import csv
import datetime
import os
import re
import sys

try:
    import povtrack
except ImportError as e:
    sys.exit(f"agency_publisher: {e}: run it with PYTHONPATH=tools/python "
             f"and Debian's /usr/bin/python3 (apt-get install python3-zmq "
             f"python3-msgpack)")

COLUMNS = ("receipt", "date", "donor", "donor_kind", "amount")
LEVELS = {2: "province", 3: "district", 5: "commune"}


def read_rows(path, unit, prefix):
    """The events of the CSV file, one per row, and their row numbers."""
    events, rows, problems = [], [], []
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: no column {', '.join(missing)} "
                             f"(needs {', '.join(COLUMNS)})")
        for row in reader:
            # Every problem of every row, in words, before anything is sent
            # (a Python exception's text names neither the cell nor the fix).
            where = f"{path}, row {reader.line_num}"
            day = amount = None
            try:
                day = datetime.date.fromisoformat(row["date"] or "")
            except ValueError:
                problems.append(f"{where}, column date: {row['date']!r} is "
                                f"not a date (write YYYY-MM-DD)")
            if re.fullmatch(r"[0-9]+", row["amount"] or ""):
                amount = int(row["amount"])
            else:
                problems.append(f"{where}, column amount: {row['amount']!r} "
                                f"is not a whole number of VND (digits "
                                f"only, no separators)")
            if day is None or amount is None:
                continue
            events.append(povtrack.event(
                "donation.received", f"{prefix}-{row['receipt']}", day, unit,
                {"amount": amount, "donor": row["donor"],
                 "donor_kind": row["donor_kind"],
                 "level": LEVELS.get(len(unit), "commune")}))
            rows.append(reader.line_num)
    if problems:
        raise ValueError("\n".join(problems) + "\nnothing sent")
    return events, rows


def main():
    ap = argparse.ArgumentParser(
        description="Publish an agency's donations to povtrackd.")
    ap.add_argument("file", help="CSV: receipt,date,donor,donor_kind,amount")
    ap.add_argument("--unit", default="593", help="unit code (default 593)")
    ap.add_argument("--prefix", default="agency-593",
                    help="id prefix, unique to this agency")
    ap.add_argument("--ingest", default=os.environ.get("POVTRACK_INGEST"))
    ap.add_argument("--query", default=os.environ.get("POVTRACK_QUERY"))
    ap.add_argument("--server-key",
                    default=os.environ.get("POVTRACK_SERVER_KEY"))
    ap.add_argument("--key", default=os.environ.get("POVTRACK_KEY"))
    args = ap.parse_args()

    try:
        events, rows = read_rows(args.file, args.unit, args.prefix)
        client = povtrack.Client(args.ingest, args.query,
                                 server_key=args.server_key, key=args.key)
    except (OSError, ValueError) as e:
        print(f"agency_publisher: {e}", file=sys.stderr)
        return 2
    with client:
        try:
            result = client.send(events)
            for ack in result.rejected:
                print(f"row {rows[ack.index]}: {ack.error}", file=sys.stderr)
            print(f"sent {len(events)} donations in {result.requests} "
                  f"request(s): {len(result.ok)} ok, "
                  f"{len(result.duplicates)} duplicate, "
                  f"{len(result.rejected)} rejected")
            if result.last_seq is None:
                return 1
            fund = client.query("fund", unit=args.unit,
                                min_seq=result.last_seq)
        except povtrack.Unreachable as e:
            print(f"agency_publisher: {e}", file=sys.stderr)
            return 3
        except povtrack.PovtrackError as e:
            print(f"agency_publisher: {e}", file=sys.stderr)
            return 1
    print(f"fund of unit {args.unit} (as of seq {fund.applied_seq}): "
          f"{fund.result['donations']} donations, "
          f"{fund.result['received']:,} VND received")
    return 1 if result.rejected else 0


if __name__ == "__main__":
    sys.exit(main())
