"""Operations: the shipped Prometheus alert rules and Grafana dashboard load, cover the seed's
critical alerts and panels, and only query metric names ZooKeeper/pyzk export (or `up` and the
node_exporter's filesystem metrics)."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from tests.servers import REPO

ALERTS = REPO / "conf" / "prometheus" / "pyzk-alerts.yml"
DASHBOARD = REPO / "conf" / "grafana" / "pyzk-dashboard.json"
JAVA_FAMILIES = REPO / "tests" / "golden" / "prometheus" / "java-3.8.0-standalone-families.txt"
# Leader-only gauges (LeaderZooKeeperServer.registerMetrics): absent from the standalone list.
LEADER_GAUGES = {"learners", "synced_followers", "synced_non_voting_followers",
                 "synced_observers", "pending_syncs", "leader_uptime", "last_proposal_size",
                 "max_proposal_size", "min_proposal_size"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "unless", "and", "or", "group_left",
                "group_right", "bool", "offset",
                # aggregation operators may take `by (...)` before their parenthesis
                "sum", "min", "max", "avg", "count", "group", "stddev", "stdvar", "topk",
                "bottomk", "quantile", "count_values"}


def known_series() -> set[str]:
    names = set(LEADER_GAUGES) | {"up"}
    for line in JAVA_FAMILIES.read_text().splitlines():
        if line and not line.startswith("#"):
            name, kind = line.split()
            names.add(name)
            if kind.startswith("summary"):
                names |= {f"{name}_sum", f"{name}_count"}
    return names


def metric_names(expr: str) -> set[str]:
    """Identifiers used as series selectors: followed by `{` or `[`, or bare before an
    operator. Function calls (name followed by `(`) and label names inside {} are skipped."""
    no_labels = re.sub(r"\{[^}]*\}", "{}", expr)
    no_ranges = re.sub(r"\[[^\]]*\]", "[]", no_labels)
    names = set()
    for m in re.finditer(r"(?<![\w.])([a-zA-Z_:][\w:]*)\s*(?=[{\[\s)*/+\-<>=!]|$)", no_ranges):
        word = m.group(1)
        after = no_ranges[m.end():].lstrip()
        if after.startswith("(") or word in PROMQL_WORDS:
            continue
        names.add(word)
    # the grouping labels of `by (...)` / `on (...)` are not series
    for grp in re.findall(r"\b(?:by|on|without|ignoring)\s*\(([^)]*)\)", no_ranges):
        names -= {g.strip() for g in grp.split(",")}
    return names


def alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_alert_rules_load_and_every_rule_is_complete() -> None:
    rules = alert_rules()
    assert rules
    for rule in rules:
        assert {"alert", "expr", "labels", "annotations"} <= rule.keys(), rule
        assert rule["labels"]["severity"] in ("critical", "warning")
        assert rule["annotations"]["summary"]


def test_alert_rules_cover_the_critical_conditions() -> None:
    names = {r["alert"] for r in alert_rules()}
    assert {"ZooKeeperMoreThanOneLeader", "ZooKeeperQuorumLost", "ZooKeeperSlowFollowerSync",
            "ZooKeeperHighRequestLatency", "ZooKeeperSlowFsync",
            "ZooKeeperDataDirDiskFilling"} <= names


def test_alert_rules_query_only_exported_metric_names() -> None:
    known = known_series()
    for rule in alert_rules():
        used = metric_names(rule["expr"])
        unknown = {n for n in used - known if not n.startswith("node_filesystem_")}
        assert not unknown, (rule["alert"], unknown)


def test_dashboard_is_valid_json_with_the_required_panels() -> None:
    dash = json.loads(DASHBOARD.read_text())
    titles = " | ".join(p["title"].lower() for p in dash["panels"])
    for topic in ("latency", "throughput", "znodes", "watches", "connections", "fsync",
                  "outstanding"):
        assert topic in titles, topic
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))


def test_dashboard_queries_only_exported_metric_names() -> None:
    known = known_series()
    dash = json.loads(DASHBOARD.read_text())
    for panel in dash["panels"]:
        for target in panel["targets"]:
            unknown = metric_names(target["expr"]) - known
            assert not unknown, (panel["title"], unknown)


def test_metric_name_extraction_skips_functions_labels_and_grouping() -> None:
    expr = ('count by (ensemble) (leader_uptime{job="zookeeper"}) > 1 unless on (ensemble) '
            'rate(fsynctime_sum{job="x"}[5m]) / max_file_descriptor_count')
    assert metric_names(expr) == {"leader_uptime", "fsynctime_sum", "max_file_descriptor_count"}
