#!/usr/bin/env python3
"""Write alpr's Grafana dashboards to deploy/grafana/dashboards/ as JSON.

The dashboards are generated so that every panel has the same layout, units and variables,
and a reviewer reads queries instead of Grafana's JSON. With --check the script writes
nothing and fails when a committed file differs from what it would write.

Every dashboard has two variables: `datasource`, a Prometheus data source, and `namespace`, the
Kubernetes namespace. The "All" value of `namespace` matches any value, so series scraped
without the label show too.
"""

import argparse
import json
import sys
from pathlib import Path

DASHBOARD_FOLDER = Path(__file__).resolve().parent / "dashboards"

# Label matcher added to every selector, so one Grafana can show several deployments.
NAMESPACE_MATCHER = 'namespace=~"$namespace"'


def panel(title, queries, unit, description, kind="timeseries", width=12, height=8):
    """Return a panel definition. `queries` is a list of (PromQL, legend) pairs."""
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {
                "refId": chr(ord("A") + index),
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "expr": expr,
                "legendFormat": legend,
            }
            for index, (expr, legend) in enumerate(queries)
        ],
        "gridPos": {"w": width, "h": height},
    }


def dashboard(uid, title, description, panels):
    """Return a dashboard with the panels laid out two per row."""
    x, y = 0, 0
    for index, item in enumerate(panels, start=1):
        item["id"] = index
        width, height = item["gridPos"]["w"], item["gridPos"]["h"]
        if x + width > 24:
            x, y = 0, y + height
        item["gridPos"].update({"x": x, "y": y})
        x += width
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["alpr"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Data source",
                    "type": "datasource",
                    "query": "prometheus",
                },
                {
                    "name": "namespace",
                    "label": "Namespace",
                    "type": "query",
                    "datasource": {"type": "prometheus", "uid": "${datasource}"},
                    "query": 'label_values(up{job=~"alpr-.*"}, namespace)',
                    "includeAll": True,
                    "allValue": ".*",
                    "current": {"text": "All", "value": "$__all"},
                    "refresh": 2,
                },
            ]
        },
        "panels": panels,
    }


def pipeline_overview():
    return dashboard(
        "alpr-pipeline",
        "alpr / Pipeline overview",
        "Reads from the cameras to the alerts that dispatch receives.",
        [
            panel(
                "Reads per second, in and out",
                [
                    (f"sum by (path) (rate(alpr_ingest_reads_accepted_total{{{NAMESPACE_MATCHER}}}[5m]))", "in: {{path}}"),
                    (f"sum(rate(alpr_matcher_reads_total{{{NAMESPACE_MATCHER}}}[5m]))", "out: checked by the matcher"),
                ],
                "reqps",
                "Reads that ingest landed on alpr.reads.v1, by intake path, beside the reads the "
                "matcher checked. A widening gap shows up as lag.",
            ),
            panel(
                "Alerts per second by list",
                [(f"sum by (list) (rate(alpr_matcher_alerts_total{{{NAMESPACE_MATCHER}}}[5m]))", "{{list}}")],
                "reqps",
                "Alerts committed to alpr.alerts.v1. Suppressed repeats are not counted here.",
            ),
            panel(
                "Capture-to-alert latency",
                [
                    (
                        "histogram_quantile(0.5, sum by (le) "
                        f"(rate(alpr_matcher_capture_to_alert_seconds_bucket{{{NAMESPACE_MATCHER}}}[5m])))",
                        "p50",
                    ),
                    (
                        "histogram_quantile(0.99, sum by (le) "
                        f"(rate(alpr_matcher_capture_to_alert_seconds_bucket{{{NAMESPACE_MATCHER}}}[5m])))",
                        "p99",
                    ),
                ],
                "s",
                "From the camera's capture time to the broker's acknowledgement of the alert. "
                "Camera clock errors show up here. The alert AlprAlertLatencyHigh fires above 2 s.",
            ),
            panel(
                "Matcher consumer lag",
                [
                    (
                        "sum(max by (partition) "
                        f"(alpr_matcher_consumer_lag_records{{{NAMESPACE_MATCHER}}}))",
                        "all partitions",
                    ),
                    (
                        f"max by (partition) (alpr_matcher_consumer_lag_records{{{NAMESPACE_MATCHER}}})",
                        "partition {{partition}}",
                    ),
                ],
                "short",
                "Reads on alpr.reads.v1 not yet consumed, from librdkafka statistics (every 5 s).",
            ),
            panel(
                "Dead letters per second by reason",
                [(f"sum by (reason) (rate(alpr_ingest_dead_letters_total{{{NAMESPACE_MATCHER}}}[5m]))", "{{reason}}")],
                "reqps",
                "Raw-topic records sent to alpr.reads.dlq, with the reason that is also in the "
                "record's alpr.reject.reason header.",
            ),
            panel(
                "Rejected reads per second by reason",
                [
                    (
                        f"sum by (path, reason) (rate(alpr_ingest_reads_rejected_total{{{NAMESPACE_MATCHER}}}[5m]))",
                        "{{path}}: {{reason}}",
                    )
                ],
                "reqps",
                "Reads that ingest did not accept. unauthenticated and forbidden point at camera "
                "credentials, queue_full at broker back-pressure.",
            ),
            panel(
                "Share of reads rejected, by reason",
                [
                    (
                        f"sum by (reason) (rate(alpr_ingest_reads_rejected_total{{{NAMESPACE_MATCHER}}}[5m])) "
                        f"/ scalar(sum(rate(alpr_ingest_reads_accepted_total{{{NAMESPACE_MATCHER}}}[5m])) "
                        f"+ sum(rate(alpr_ingest_reads_rejected_total{{{NAMESPACE_MATCHER}}}[5m])))",
                        "{{reason}}",
                    )
                ],
                "percentunit",
                "Rejected reads of each reason as a share of all reads ingest received. A share "
                "that jumps points at one camera model or firmware sending a new format.",
            ),
            panel(
                "Suppressed repeat alerts per second by list",
                [(f"sum by (list) (rate(alpr_matcher_alerts_suppressed_total{{{NAMESPACE_MATCHER}}}[5m]))", "{{list}}")],
                "reqps",
                "Repeats of a plate, entry and camera within the suppression window.",
            ),
            panel(
                "Broker acknowledgement time of ingest batches",
                [
                    (
                        "histogram_quantile(0.99, sum by (le) "
                        f"(rate(alpr_ingest_publish_seconds_bucket{{{NAMESPACE_MATCHER}}}[5m])))",
                        "p99",
                    ),
                ],
                "s",
                "Time until the broker acknowledged a batch of reads; cameras wait this long.",
            ),
        ],
    )


def hotlist():
    return dashboard(
        "alpr-hotlist",
        "alpr / Hotlists",
        "Size and freshness of every hotlist on every matcher instance.",
        [
            panel(
                "Entries per list",
                [(f"max by (list) (alpr_matcher_hotlist_entries{{{NAMESPACE_MATCHER}}})", "{{list}}")],
                "short",
                "Entries in the matcher's index. Every instance holds every list, so the largest "
                "value over the instances is shown.",
            ),
            panel(
                "Age per list",
                [
                    (f"max by (list) (alpr_matcher_hotlist_age_seconds{{{NAMESPACE_MATCHER}}})", "{{list}} age"),
                    (f"max by (list) (alpr_matcher_hotlist_max_age_seconds{{{NAMESPACE_MATCHER}}})", "{{list}} limit"),
                ],
                "s",
                "Time since each list's last import beside its configured maximum age. Above the "
                "limit AlprHotlistStale fires.",
            ),
            panel(
                "Stale lists per matcher",
                [(f"alpr_matcher_hotlists_stale{{{NAMESPACE_MATCHER}}}", "{{instance}}")],
                "short",
                "Lists whose last import is older than their limit, as each instance sees them.",
            ),
            panel(
                "Alerts per second by match kind",
                [(f"sum by (kind) (rate(alpr_matcher_alerts_total{{{NAMESPACE_MATCHER}}}[5m]))", "{{kind}}")],
                "reqps",
                "EXACT, OCR_VARIANT, PARTIAL or WILDCARD. A jump in OCR variants can mean a "
                "camera with a dirty lens.",
            ),
        ],
    )


def retention():
    # NOTE: the retention worker does not export these metrics yet; deploy/metrics-pending.txt
    # lists each with the meaning the panels assume.
    return dashboard(
        "alpr-retention",
        "alpr / Retention",
        "Deletion of reads after the retention period, and evidence holds that stop it.",
        [
            panel(
                "Oldest unexpired read",
                [
                    (f"max(alpr_retention_oldest_unheld_read_age_seconds{{{NAMESPACE_MATCHER}}})", "oldest read"),
                    (f"max(alpr_retention_period_seconds{{{NAMESPACE_MATCHER}}})", "retention period"),
                ],
                "s",
                "Age of the oldest read that has neither a tombstone nor an evidence hold. It "
                "should stay below the retention period plus one sweep interval.",
            ),
            panel(
                "Tombstones per day",
                [(f"sum(increase(alpr_retention_tombstones_written_total{{{NAMESPACE_MATCHER}}}[1d]))", "tombstones")],
                "short",
                "Reads deleted in the last 24 hours. In a steady state this equals the reads "
                "accepted 30 days earlier, less the held ones.",
            ),
            panel(
                "Held reads",
                [(f"sum(alpr_retention_held_reads{{{NAMESPACE_MATCHER}}})", "held")],
                "short",
                "Reads under an evidence hold, which are kept past the retention period.",
            ),
            panel(
                "Reads accepted per day",
                [(f"sum(increase(alpr_ingest_reads_accepted_total{{{NAMESPACE_MATCHER}}}[1d]))", "accepted")],
                "short",
                "For comparison with the tombstones of the same day 30 days later.",
            ),
        ],
    )


def state_stores():
    def rocksdb_panel(title, name, unit, description, function="max"):
        return panel(
            title,
            [
                (f"{function} by (column_family) (alpr_matcher_{name}{{{NAMESPACE_MATCHER}}})", "matcher: {{column_family}}"),
                (f"{function} by (column_family) (alpr_retention_{name}{{{NAMESPACE_MATCHER}}})", "retention: {{column_family}}"),
            ],
            unit,
            description,
        )

    volume_selector = f'{NAMESPACE_MATCHER}, persistentvolumeclaim=~"state-alpr-.*"'
    return dashboard(
        "alpr-state-stores",
        "alpr / State stores",
        "RocksDB stores of the matcher and the retention worker, and their volumes.",
        [
            panel(
                "State volume used",
                [
                    (
                        f"kubelet_volume_stats_used_bytes{{{volume_selector}}} "
                        f"/ kubelet_volume_stats_capacity_bytes{{{volume_selector}}}",
                        "{{persistentvolumeclaim}}",
                    )
                ],
                "percentunit",
                "Share of each state volume in use, from the kubelet. RocksDB needs free space "
                "for compaction, so act well before 100 %.",
            ),
            # NOTE: the RocksDB metrics below are not exported yet; deploy/metrics-pending.txt
            # lists them.
            rocksdb_panel(
                "Live data size",
                "rocksdb_live_data_bytes",
                "bytes",
                "Size of the live data in each column family.",
            ),
            rocksdb_panel(
                "Pending compaction",
                "rocksdb_pending_compaction_bytes",
                "bytes",
                "Bytes that compaction still has to rewrite. A steady rise ends in write stalls.",
            ),
            panel(
                "Write stalls per second",
                [
                    (
                        f"sum by (column_family) (rate(alpr_matcher_rocksdb_write_stalls_total{{{NAMESPACE_MATCHER}}}[5m]))",
                        "matcher: {{column_family}}",
                    ),
                    (
                        f"sum by (column_family) (rate(alpr_retention_rocksdb_write_stalls_total{{{NAMESPACE_MATCHER}}}[5m]))",
                        "retention: {{column_family}}",
                    ),
                ],
                "short",
                "RocksDB slowing or stopping writes because compaction falls behind.",
            ),
            panel(
                "Resident memory",
                [(f'process_resident_memory_bytes{{{NAMESPACE_MATCHER}, job=~"alpr-.*"}}', "{{job}} {{instance}}")],
                "bytes",
                "Memory of each alpr process, including RocksDB's block cache.",
            ),
            panel(
                "Open file descriptors",
                [
                    (f'process_open_fds{{{NAMESPACE_MATCHER}, job=~"alpr-.*"}}', "{{job}} {{instance}} open"),
                    (f'process_max_fds{{{NAMESPACE_MATCHER}, job=~"alpr-.*"}}', "{{job}} {{instance}} limit"),
                ],
                "short",
                "RocksDB keeps its table files open, so the count grows with the store.",
            ),
        ],
    )


DASHBOARDS = {
    "pipeline-overview.json": pipeline_overview,
    "hotlist.json": hotlist,
    "retention.json": retention,
    "state-stores.json": state_stores,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    arguments = parser.parse_args()

    stale = []
    DASHBOARD_FOLDER.mkdir(exist_ok=True)
    for file_name, build in DASHBOARDS.items():
        path = DASHBOARD_FOLDER / file_name
        text = json.dumps(build(), indent=2, sort_keys=True) + "\n"
        if arguments.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        print("error: dashboards out of date, run deploy/grafana/generate.py: " + ", ".join(stale), file=sys.stderr)
        return 1
    if arguments.check:
        print(f"{len(DASHBOARDS)} dashboards match generate.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
