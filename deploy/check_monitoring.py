"""Check that alerts and the Grafana dashboard query only metrics the API really exports.

The exported names are read from ``app/observability.py`` (the instruments it creates), so a
renamed metric breaks ``make deploy-check`` instead of silently emptying a panel or an alert.
Also writes the dashboard's queries as a rules file for ``promtool check rules`` (PromQL syntax).

Usage: python deploy/check_monitoring.py RULES_OUT  (run by deploy/check.sh)
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OBSERVABILITY = ROOT / "app" / "observability.py"
ALERTS = ROOT / "deploy" / "monitoring" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "monitoring" / "grafana" / "supportbot.json"
# What each instrument exposes (prometheus_client's exposition names).
SUFFIXES = {
    "Counter": ("_total",),
    "CounterMetricFamily": ("_total",),
    "Histogram": ("_bucket", "_count", "_sum"),
    "GaugeMetricFamily": ("",),
}
BUILTIN = {"up"}  # written by Prometheus itself for every target
SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*\{")


def _loop_values(tree: ast.AST, var: str) -> list[str]:
    """String constants a ``for (var, ...) in ((...), ...)`` loop binds to ``var``."""
    found: list[str] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.For) and isinstance(node.target, ast.Tuple)):
            continue
        names = [t.id if isinstance(t, ast.Name) else None for t in node.target.elts]
        if var not in names or not isinstance(node.iter, ast.Tuple):
            continue
        index = names.index(var)
        for item in node.iter.elts:
            if isinstance(item, ast.Tuple) and isinstance(item.elts[index], ast.Constant):
                found.append(str(item.elts[index].value))
    return found


def exported_metrics(source: Path = OBSERVABILITY) -> set[str]:
    """Every series name the API's instruments expose, suffixes included."""
    tree = ast.parse(source.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        kind = getattr(node.func, "id", None)
        if kind not in SUFFIXES:
            continue
        first = node.args[0]
        if isinstance(first, ast.Constant):
            bases = [str(first.value)]
        elif isinstance(first, ast.Name):
            bases = _loop_values(tree, first.id)
        else:
            bases = []
        names |= {base + suffix for base in bases for suffix in SUFFIXES[kind]}
    return names


def alert_queries() -> dict[str, str]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {r["alert"]: r["expr"] for g in groups for r in g["rules"]}


def dashboard_queries() -> dict[str, str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return {
        f"panel {p['id']} ({p['title']}) {t['refId']}": t["expr"]
        for p in panels
        for t in p.get("targets", [])
    }


def unknown_metrics(queries: dict[str, str], known: set[str]) -> list[str]:
    """``where: metric`` for each selector that names no exported series."""
    return [
        f"{where}: {name}"
        for where, expr in queries.items()
        for name in SELECTOR.findall(expr)
        if name not in known
    ]


def write_rules(queries: dict[str, str], out: Path) -> None:
    """The dashboard's queries as recording rules, so promtool parses each one."""
    rules = [{"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(queries.values())]
    out.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))


def main(argv: list[str]) -> int:
    known = exported_metrics() | BUILTIN
    if len(known) < 10:
        print(f"found only {sorted(known)} in {OBSERVABILITY}: the parser is out of date")
        return 1
    dashboard = dashboard_queries()
    problems = unknown_metrics(alert_queries(), known) + unknown_metrics(dashboard, known)
    for problem in problems:
        print(f"unknown metric in {problem}")
    write_rules(dashboard, Path(argv[1]))
    used = f"alerts and {len(dashboard)} dashboard queries"
    print(f"{len(known)} exported series names; {used} use only them")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
