#!/usr/bin/env python3
"""Check that alert rules and dashboards use only metric names that alpr exports.

The names in use come from the `expr` fields of the Prometheus rule files and the Grafana
dashboards. They are compared with the names registered in the Rust sources (the default), or
with the names in live `/metrics` output saved to files (--metrics-dump, repeatable, one file
per component). Names that other software exports (Prometheus' `up`, the kubelet's volume
statistics, the process metrics of the `prometheus` crate) are listed below.

Names listed in deploy/metrics-pending.txt are accepted with a warning, because the code that
exports them is not written yet. Such a name that the sources already register is an error, so
the list cannot go stale.

Exit status: 0 when every name is known, 1 otherwise, 2 for invalid input.
"""

import argparse
import json
import re
import sys
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RULE_FILES = [REPOSITORY_ROOT / "deploy/prometheus/alerts.yml"]
DEFAULT_DASHBOARD_FOLDER = REPOSITORY_ROOT / "deploy/grafana/dashboards"
PENDING_FILE = REPOSITORY_ROOT / "deploy/metrics-pending.txt"

# Series that Prometheus or the kubelet create, not alpr.
EXTERNAL_NAMES = {
    "up": "Prometheus, for every scrape target",
    "kubelet_volume_stats_used_bytes": "the kubelet, for every mounted volume claim",
    "kubelet_volume_stats_capacity_bytes": "the kubelet, for every mounted volume claim",
}

# The `process` feature of the prometheus crate (0.14, src/process_collector.rs) registers these
# in the default registry that every component's /metrics renders. Only used with the Rust
# sources: a live dump lists them itself.
PROCESS_NAMES = {
    "process_cpu_seconds_total",
    "process_open_fds",
    "process_max_fds",
    "process_virtual_memory_bytes",
    "process_virtual_memory_max_bytes",
    "process_resident_memory_bytes",
    "process_start_time_seconds",
    "process_threads",
}

PROMQL_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset", "atan2", "inf", "nan",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

# `register_int_counter_vec!(\n "name", ...` and `Opts::new("name", ...)`.
REGISTRATION = re.compile(r'register_(\w+)!\(\s*"([a-zA-Z_:][\w:]*)"')
OPTS = re.compile(r'\b(Histogram)?Opts::new\(\s*"(alpr_[\w:]*)"')
# State-store metrics are named at run time as alpr_<component>_rocksdb_<what>: the components
# come from `StateStoreMetrics::register("matcher")` calls, the suffixes from the
# `name("live_data_bytes")` calls in platform/src/state_metrics.rs.
STATE_STORE_COMPONENT = re.compile(r'StateStoreMetrics::register\(\s*"(\w+)"')
STATE_STORE_SUFFIX = re.compile(r'\bname\(\s*"(\w+)"\s*\)')
STATE_STORE_SOURCE = "platform/src/state_metrics.rs"


def registered_in_sources():
    """Return {name: kind} for every metric the workspace's Rust sources register."""
    names = {}
    for path in sorted(REPOSITORY_ROOT.glob("*/src/**/*.rs")):
        text = path.read_text()
        for macro, name in REGISTRATION.findall(text):
            names[name] = "histogram" if "histogram" in macro else "other"
        for histogram, name in OPTS.findall(text):
            names[name] = "histogram" if histogram else "other"
    suffixes = STATE_STORE_SUFFIX.findall((REPOSITORY_ROOT / STATE_STORE_SOURCE).read_text())
    for path in sorted(REPOSITORY_ROOT.glob("*/src/**/*.rs")):
        for component in STATE_STORE_COMPONENT.findall(path.read_text()):
            for suffix in suffixes:
                names[f"alpr_{component}_rocksdb_{suffix}"] = "other"
    for name in PROCESS_NAMES:
        names[name] = "other"
    return names


def registered_in_dumps(paths):
    """Return {name: kind} from the `# TYPE` lines of Prometheus text-format files."""
    names = {}
    for path in paths:
        for line in Path(path).read_text().splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[:2] == ["#", "TYPE"]:
                names[parts[2]] = "histogram" if parts[3] == "histogram" else "other"
    if not names:
        raise ValueError("no `# TYPE` lines in " + ", ".join(map(str, paths)))
    return names


def metric_names_in(expr):
    """Return the metric names an expression selects.

    This is a tokenizer, not a PromQL parser: it removes strings, label matchers, ranges and
    grouping clauses, then takes every identifier that is not a keyword or a function call.
    """
    text = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', "", expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"(?<![\w.$:])([a-zA-Z_:][\w:]*)(\s*\()?", text):
        name, is_call = match.group(1), match.group(2)
        if is_call or name.lower() in PROMQL_KEYWORDS:
            continue
        names.add(name)
    return names


def expressions_in_rules(path):
    """Yield the `expr:` values of a rule file, block scalars included, without a YAML parser."""
    lines = Path(path).read_text().splitlines()
    index = 0
    while index < len(lines):
        match = re.match(r"^(\s*)expr:\s*(.*)$", lines[index])
        index += 1
        if not match:
            continue
        indent, value = len(match.group(1)), match.group(2).strip()
        if value not in ("|", "|-", ">", ">-"):
            yield value
            continue
        block = []
        while index < len(lines) and (not lines[index].strip() or len(lines[index]) - len(lines[index].lstrip()) > indent):
            block.append(lines[index])
            index += 1
        yield "\n".join(block)


def expressions_in_dashboard(path):
    """Yield every `expr` of a Grafana dashboard's panels, nested rows included."""
    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):
                yield node["expr"]
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    yield from walk(json.loads(Path(path).read_text()))


def read_pending():
    pending = {}
    for line in PENDING_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, meaning = line.partition(" ")
            pending[name] = meaning.strip()
    return pending


def resolve(name, exported):
    """Return the exported name behind `name`, mapping histogram series to their family."""
    if name in exported:
        return name
    for suffix in HISTOGRAM_SUFFIXES:
        base = name[: -len(suffix)]
        if name.endswith(suffix) and exported.get(base) == "histogram":
            return base
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics-dump", action="append", default=[], metavar="FILE",
                        help="saved /metrics output of a component; repeat for each component")
    parser.add_argument("--rules", action="append", metavar="FILE",
                        help="Prometheus rule file (default: deploy/prometheus/alerts.yml)")
    parser.add_argument("--dashboards", type=Path, default=DEFAULT_DASHBOARD_FOLDER,
                        help="folder of Grafana dashboard JSON files")
    arguments = parser.parse_args()

    try:
        if arguments.metrics_dump:
            exported, source = registered_in_dumps(arguments.metrics_dump), "the /metrics dumps"
        else:
            exported, source = registered_in_sources(), "the Rust sources"
        pending = read_pending()
        used = {}  # name -> files that use it
        for path in arguments.rules or DEFAULT_RULE_FILES:
            for expr in expressions_in_rules(path):
                for name in metric_names_in(expr):
                    used.setdefault(name, set()).add(Path(path).name)
        dashboards = sorted(arguments.dashboards.glob("*.json"))
        for path in dashboards:
            for expr in expressions_in_dashboard(path):
                for name in metric_names_in(expr):
                    used.setdefault(name, set()).add(path.name)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not dashboards:
        print(f"error: no dashboards in {arguments.dashboards}", file=sys.stderr)
        return 2

    errors = 0
    for name in sorted(used):
        where = ", ".join(sorted(used[name]))
        if name in EXTERNAL_NAMES:
            print(f"ok       {name} (exported by {EXTERNAL_NAMES[name]})")
        elif resolve(name, exported) and name in pending:
            print(f"ERROR    {name} is exported by {source} now: remove it from {PENDING_FILE.name}")
            errors += 1
        elif resolve(name, exported):
            print(f"ok       {name}")
        elif name in pending:
            print(f"pending  {name}, used in {where}: not exported yet ({pending[name]})")
        else:
            print(f"ERROR    {name}, used in {where}, is not exported according to {source}")
            errors += 1
    print(f"{len(used)} metric names, {errors} unknown, compared with {source}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
