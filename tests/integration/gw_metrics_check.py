"""Parse povtrack-gw's /metrics with prometheus_client's parser (Debian's
python3-prometheus-client) and check the families test_gw expects.

    /usr/bin/python3 gw_metrics_check.py METRICS_FILE

Exit 0 when the text parses and holds them, 1 (saying why) otherwise.
"""
import sys

from prometheus_client.parser import text_string_to_metric_families

EXPECTED = {
    "povtrack_up": "gauge",
    "povtrack_log_last_seq": "gauge",
    "povtrack_events_acked": "counter",
    "povtrack_events_duplicate": "counter",
    "povtrack_events_rejected": "counter",
    "povtrack_ingest_requests_in_flight": "gauge",
    "povtrack_ingest_connections": "gauge",
    "povtrack_commit_events": "histogram",
    "povtrack_commit_seconds": "histogram",
    "povtrack_handshakes_refused": "counter",
    "povtrack_queries_parked": "gauge",
    "povtrack_alerts_published": "counter",
    "povtrack_plugin_lag_records": "gauge",
    "povtrack_plugin_lag_seconds": "gauge",
    "povtrack_plugin_quarantined": "gauge",
    "povtrack_plugin_query_seconds": "histogram",
    "povtrack_gw_http_requests": "counter",
    "povtrack_gw_http_request_seconds": "histogram",
}


def main(path):
    with open(path, encoding="utf-8") as f:
        families = {m.name: m for m in text_string_to_metric_families(f.read())}
    bad = [f"{name}: missing or not a {kind}"
           for name, kind in EXPECTED.items()
           if name not in families or families[name].type != kind]
    def value(sample, **labels):
        """The value of the sample named so with these labels, or None."""
        return next((s.value for m in families.values() for s in m.samples
                     if s.name == sample and
                     all(s.labels.get(k) == v for k, v in labels.items())),
                    None)
    if not bad:
        if value("povtrack_up") != 1:
            bad.append("povtrack_up is not 1")
        if (value("povtrack_events_acked_total") or 0) < 5:
            bad.append("povtrack_events_acked_total < 5")
        for reason in ("invalid", "rights", "duplicate_conflict", "limits",
                       "storage"):
            if value("povtrack_events_rejected_total", reason=reason) is None:
                bad.append(f"no povtrack_events_rejected_total{{reason={reason}}}")
        if (value("povtrack_events_rejected_total", reason="rights") or 0) < 1:
            bad.append("the rights rejection is not counted")
        if (value("povtrack_events_rejected_total",
                  reason="duplicate_conflict") or 0) < 1:
            bad.append("the reused id is not counted")
        if (value("povtrack_alerts_published_total",
                  code="fund.large_donation") or 0) < 1:
            bad.append("fund.large_donation is not counted")
        if value("povtrack_plugin_query_seconds_count", plugin="fund") in (None, 0):
            bad.append("no fund query counted")
        if value("povtrack_gw_http_requests_total", route="/api/v1/events",
                 code="200") in (None, 0):
            bad.append("no 200 of /api/v1/events counted")
    for line in bad:
        print("metrics:", line, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
