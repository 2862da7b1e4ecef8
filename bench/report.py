"""Medians, oriented ratios, the terminal table and the JSON files under bench/results/.

Every ratio is oriented so that above 1 means mailhost did better: mailhost / Dovecot for
rates, Dovecot / mailhost for times, latencies and memory. A target is met when the ratio is
at least the target, so "memory at most 0.1x Dovecot's" is the oriented target 10.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.core import Metric
from bench.stats import median

SERVERS = ("mailhost", "dovecot")


@dataclass
class Row:
    metric: Metric
    workload: str
    rounds: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in SERVERS})

    def median(self, server: str) -> float | None:
        values = self.rounds[server]
        return median(values) if values else None

    def ratio(self) -> float | None:
        ours, theirs = self.median("mailhost"), self.median("dovecot")
        if ours is None or theirs is None or ours <= 0 or theirs <= 0:
            return None
        return ours / theirs if self.metric.higher_is_better else theirs / ours

    def verdict(self) -> str:
        ratio = self.ratio()
        if self.metric.target is None:
            return ""
        if ratio is None:
            return "n/a"
        return "met" if ratio >= self.metric.target else "MISSED"


@dataclass
class Results:
    started: datetime
    machine: dict[str, Any]
    settings: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    facts: dict[str, dict[str, dict[str, list[float]]]] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    load: dict[str, list[float]] = field(default_factory=dict)
    profiles: dict[str, str] = field(default_factory=dict)

    def add_round(self, workload: str, metrics: tuple[Metric, ...], server: str,
                  values: dict[str, float]) -> None:
        known = {m.key for m in metrics}
        for metric in metrics:
            row = next((r for r in self.rows if r.metric.key == metric.key), None)
            if row is None:
                row = Row(metric, workload)
                self.rows.append(row)
            if metric.key in values:
                row.rounds[server].append(values[metric.key])
        for key, value in values.items():
            if key not in known:
                per_server = self.facts.setdefault(key, {}).setdefault(server, {})
                per_server.setdefault("rounds", []).append(value)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.4f}"


def _target(metric: Metric) -> str:
    return "" if metric.target is None else f">={metric.target:g}x"


def table(results: Results) -> str:
    """The terminal / README table (Markdown, readable as plain text)."""
    lines = [
        "| workload | unit | mailhost | Dovecot | ratio (>1: mailhost better) | target "
        "| verdict |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for row in results.rows:
        ratio = row.ratio()
        lines.append(
            f"| {row.metric.label} | {row.metric.unit} | {_number(row.median('mailhost'))} "
            f"| {_number(row.median('dovecot'))} "
            f"| {'-' if ratio is None else f'{ratio:.3g}x'} | {_target(row.metric)} "
            f"| {row.verdict()} |")
    for workload, reason in results.pending.items():
        lines.append(f"| {workload} | | | | | | {reason} |")
    return "\n".join(lines)


def to_json(results: Results) -> dict[str, Any]:
    return {
        "date": results.started.isoformat(timespec="seconds"),
        "machine": results.machine,
        "settings": results.settings,
        "orientation": "ratio > 1 means mailhost is better (rates: mailhost/Dovecot; "
                       "times, latencies, memory: Dovecot/mailhost)",
        "load_average": results.load,
        "metrics": [
            {
                "key": row.metric.key, "workload": row.workload, "label": row.metric.label,
                "unit": row.metric.unit, "higher_is_better": row.metric.higher_is_better,
                "mailhost": {"rounds": row.rounds["mailhost"], "median": row.median("mailhost")},
                "dovecot": {"rounds": row.rounds["dovecot"], "median": row.median("dovecot")},
                "ratio": row.ratio(), "target": row.metric.target, "verdict": row.verdict(),
            }
            for row in results.rows
        ],
        "facts": results.facts,
        "pending": results.pending,
        "profiles": results.profiles,
        "notes": results.notes,
    }


def write(results: Results, directory: Path, latest: bool) -> Path:
    """``<timestamp>.json``, and ``latest.json`` too if ``latest``; returns the first path.

    A profiled run is slowed by the sampler, so it never becomes ``latest.json``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_json(results), indent=2, ensure_ascii=False) + "\n"
    suffix = "" if latest else "-profiled"
    path = directory / f"{results.started.strftime('%Y%m%dT%H%M%S')}{suffix}.json"
    path.write_text(text)
    if latest:
        (directory / "latest.json").write_text(text)
    return path
