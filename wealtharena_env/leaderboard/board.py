"""Rank results files per task: Markdown table and a static HTML page.

Primary score
-------------
Entries are ranked, per task, by the **mean Sharpe ratio of the focal agents over every evaluation
episode** (all scenarios pooled; per episode: annualised Sharpe of daily simple returns of portfolio value
net of costs, 252 periods, risk-free 0, sample std, averaged over the task's focal agents). An episode held
entirely in cash, whose returns are all exactly 0, scores 0 (see
:func:`~wealtharena_env.kernels.metrics.sharpe_ratio`), so stepping aside ranks above losing money. The
table shows its 95 % stratified-bootstrap interval (strata = scenarios), the interquartile mean, the
probability of improvement over the ``equal_weight`` baseline (when it is on the board), the score per
scenario (held-out
regimes and background populations are marked ``†``) and the secondary metrics (focal means: total
return, annual volatility, max drawdown, Sortino, CVaR 95 %, turnover, costs). Entries with failed
episodes are ranked on the episodes that completed and show the failure count.

Only results of the same task version (same fingerprint) and the same budget (evaluation seeds and
episode length) are ranked together; each combination is its own table.

Historical tasks add a second table per group when the results hold market benchmarks
(:mod:`~wealtharena_env.leaderboard.market_benchmarks`): every entry against buy-and-hold SPY, QQQ and IWM
over the same bars at the same costs (the ETF's own return and Sharpe, excess return, beta, alpha, tracking
error, information ratio, up- and down-capture; means over episodes).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wealtharena_env.leaderboard import aggregate as agg
from wealtharena_env.leaderboard.results import read_results

#: The reference entry of the "P(> ref)" column.
REFERENCE_ENTRY = "equal_weight"

#: Secondary columns: (label, metric, format, higher_is_better)
SECONDARY = (
    ("return", "total_return", "pct", True),
    ("ann. vol", "annual_volatility", "pct", False),
    ("max DD", "max_drawdown", "pct", False),
    ("Sortino", "sortino_ratio", "num", True),
    ("CVaR95", "historical_cvar", "pct", False),
    ("turnover", "average_turnover", "pct", False),
    ("costs", "total_cost", "money", False),
)


@dataclass
class Row:
    entry: str
    policy: str
    score: dict[str, Any]
    iqm: dict[str, Any]
    by_scenario: dict[str, float | None]
    metrics: dict[str, float | None]
    n_ok: int
    n_failed: int
    strata: dict[str, list[float]]
    p_improvement: float | None = None
    source: str = ""
    #: historical tasks: ``aggregates["market_benchmarks"]`` (per ETF, relative metrics with intervals)
    market: dict[str, Any] = field(default_factory=dict)


@dataclass
class Group:
    task_key: str
    fingerprint: str
    n_seeds: int
    episode_length: int
    official: bool
    scenarios: list[dict[str, Any]]
    has_data_hash: str | None
    rows: list[Row] = field(default_factory=list)

    @property
    def title(self) -> str:
        budget = (
            f"{self.n_seeds} evaluation seeds x {len(self.scenarios)} scenario(s), "
            f"{self.episode_length} steps"
        )
        return f"{self.task_key} ({budget}{'' if self.official else ', reduced budget'})"


def _strata(doc: dict[str, Any]) -> dict[str, list[float]]:
    metric = doc["task"]["primary_metric"]
    out: dict[str, list[float]] = {s["name"]: [] for s in doc["task"]["scenarios"]}
    for ep in doc["episodes"]:
        if ep["status"] == "ok" and ep["focal"] is not None and ep["focal"].get(metric) is not None:
            out[ep["scenario"]].append(float(ep["focal"][metric]))
    return out


def _market(doc: dict[str, Any]) -> dict[str, Any]:
    """``aggregates["market_benchmarks"]``, each ETF with ``"returns"``: ``"price"`` or ``"total"`` (from the
    results' ``market_benchmark_data``)."""
    provenance = (doc.get("market_benchmark_data") or {}).get("tickers") or {}
    out = {}
    for ticker, m in (doc["aggregates"].get("market_benchmarks") or {}).items():
        kind = (provenance.get(ticker) or {}).get("returns", "")
        out[ticker] = {**m, "returns": "total" if kind.startswith("total") else "price" if kind else ""}
    return out


def _sort_key(row: Row) -> tuple:
    point = row.score.get("point")
    return (0 if point is not None else 1, -(point if point is not None else 0.0), row.entry)


def build_board(docs: Iterable[dict[str, Any]], sources: Sequence[str] | None = None) -> list[Group]:
    """Group results by (task, fingerprint, budget) and rank each group by the primary score."""
    groups: dict[tuple, Group] = {}
    docs = list(docs)
    for k, doc in enumerate(docs):
        task, budget = doc["task"], doc["budget"]
        key = (task["key"], task["fingerprint"], budget["n_seeds"], budget["episode_length"])
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group(
                task["key"],
                task["fingerprint"],
                int(budget["n_seeds"]),
                int(budget["episode_length"]),
                bool(budget["official"]),
                task["scenarios"],
                (doc.get("data") or {}).get("content_hash"),
            )
        a = doc["aggregates"]
        group.rows.append(
            Row(
                entry=doc["entry"],
                policy=doc["policy"]["spec"],
                score=a["score"]["mean"],
                iqm=a["score"]["iqm"],
                by_scenario={name: s["score"]["point"] for name, s in a["by_scenario"].items()},
                metrics={m: (a["metrics"].get(m) or {}).get("point") for _, m, _, _ in SECONDARY},
                n_ok=int(a["n_ok"]),
                n_failed=int(a["n_failed"]),
                strata=_strata(doc),
                source=sources[k] if sources else "",
                market=_market(doc),
            )
        )
    for group in groups.values():
        group.rows.sort(key=_sort_key)
        ref = next((r for r in group.rows if r.entry == REFERENCE_ENTRY), None)
        if ref is not None:
            for row in group.rows:
                if row is not ref:
                    row.p_improvement = agg.probability_of_improvement(row.strata, ref.strata)
    return sorted(groups.values(), key=lambda g: (g.task_key, not g.official, -g.n_seeds, -g.episode_length))


def load_board(paths: Iterable[str | Path]) -> list[Group]:
    """:func:`build_board` over results files (see :func:`~.evaluate.read_results`)."""
    path_list = [Path(p) for p in paths]
    return build_board([read_results(p) for p in path_list], [p.name for p in path_list])


def _fmt(value: Any, kind: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if kind == "pct":
        return f"{100 * value:.1f}%"
    if kind == "money":
        return f"{value:,.0f}"
    return f"{value:.2f}"


def _cells(group: Group, row: Row, rank: int) -> list[str]:
    ci = f"[{_fmt(row.score.get('low'), 'num')}, {_fmt(row.score.get('high'), 'num')}]"
    cells = [
        str(rank),
        row.entry,
        _fmt(row.score.get("point"), "num"),
        ci,
        _fmt(row.iqm.get("point"), "num"),
        _fmt(row.p_improvement, "num") if row.entry != REFERENCE_ENTRY else "ref",
    ]
    if len(group.scenarios) > 1:
        cells += [_fmt(row.by_scenario.get(s["name"]), "num") for s in group.scenarios]
    cells += [_fmt(row.metrics.get(m), kind) for _, m, kind, _ in SECONDARY]
    cells.append(str(row.n_failed) if row.n_failed else "0")
    return cells


def _headers(group: Group) -> list[str]:
    heads = ["#", "entry", "Sharpe (mean)", "95% CI", "IQM", f"P(>{REFERENCE_ENTRY})"]
    if len(group.scenarios) > 1:
        heads += [s["name"] + (" †" if s.get("held_out") else "") for s in group.scenarios]
    heads += [label for label, _, _, _ in SECONDARY]
    heads.append("failed")
    return heads


#: Columns of the market-benchmark table: (label, metric, format); ``benchmark:`` metrics are the ETF's own.
MARKET_COLUMNS = (
    ("ETF return", "benchmark:total_return", "pct"),
    ("ETF Sharpe", "benchmark:sharpe_ratio", "num"),
    ("excess return", "excess_return", "pct"),
    ("beta", "beta", "num"),
    ("alpha", "alpha", "pct"),
    ("tracking error", "tracking_error", "pct"),
    ("IR", "information_ratio", "num"),
    ("up capture", "up_capture", "num"),
    ("down capture", "down_capture", "num"),
)

MARKET_NOTE = (
    "Against the market: each episode compared with buying and holding the ETF over the same bars at the "
    "same costs (mean over episodes; alpha annualised; capture ratios of mean returns on the ETF's up / down "
    "days; ETF price or total return as its data allow)."
)


def _market_table(group: Group) -> tuple[list[str], list[list[str]]]:
    """Headers and rows (entry x ETF, in board order) of the market-benchmark table; no rows without data."""
    heads = ["entry", "vs"] + [label for label, _, _ in MARKET_COLUMNS]
    rows = []
    for row in group.rows:
        for ticker, m in row.market.items():
            cells = [row.entry, f"{ticker} ({m['returns']})" if m.get("returns") else ticker]
            for _, metric, kind in MARKET_COLUMNS:
                if metric.startswith("benchmark:"):
                    value = (m.get("benchmark") or {}).get(metric.split(":", 1)[1])
                else:
                    value = ((m.get("metrics") or {}).get(metric) or {}).get("point")
                cells.append(_fmt(value, kind))
            rows.append(cells)
    return heads, rows


def to_markdown(groups: Sequence[Group]) -> str:
    """The board as Markdown: one table per task and budget."""
    lines: list[str] = []
    for group in groups:
        lines.append(f"### {group.title}")
        lines.append("")
        notes = [f"task fingerprint `{group.fingerprint}`"]
        if group.has_data_hash:
            notes.append(f"data hash `{group.has_data_hash[:16]}`")
        lines.append(", ".join(notes) + ". Ranked by mean focal Sharpe; † = held-out scenario.")
        lines.append("")
        heads = _headers(group)
        lines.append("| " + " | ".join(heads) + " |")
        lines.append("|" + "|".join("---:" if i != 1 else "---" for i in range(len(heads))) + "|")
        for rank, row in enumerate(group.rows, 1):
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in _cells(group, row, rank)) + " |")
        lines.append("")
        heads, market_rows = _market_table(group)
        if market_rows:
            lines += [MARKET_NOTE, ""]
            lines.append("| " + " | ".join(heads) + " |")
            lines.append("|" + "|".join("---" if i < 2 else "---:" for i in range(len(heads))) + "|")
            lines += ["| " + " | ".join(cells) + " |" for cells in market_rows]
            lines.append("")
    return "\n".join(lines)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1400px;\
color:#222;
padding:0 1.5rem;box-sizing:border-box}
.scroll{overflow-x:auto;max-width:100%;margin:.5rem 0 1rem}.scroll table{margin:0}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .55rem;text-align:right;white-space:nowrap}
th{white-space:normal;vertical-align:bottom;min-width:4.5rem}
th{background:#f4f6f8;position:sticky;top:0}td.entry,th.entry{text-align:left;font-weight:600}
tr:first-child td{background:#eef7ee}.note{color:#666;font-size:.85rem}
"""


def to_html(groups: Sequence[Group], title: str = "WealthArena leaderboard") -> str:
    """A self-contained static HTML page of the board."""
    e = html.escape
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{e(title)}</title>",
        f"<style>{_CSS}</style></head><body><h1>{e(title)}</h1>",
        (
            "<p class='note'>Ranked per task by the mean Sharpe ratio of the focal agents over the "
            "evaluation episodes, with 95% stratified-bootstrap intervals (strata: scenarios). IQM = "
            f"interquartile mean; P(&gt;{e(REFERENCE_ENTRY)}) = probability of improvement over the "
            "equal-weight baseline. † = held-out scenario (market regime or co-player population not seen in "
            "training).</p>"
        ),
    ]
    for group in groups:
        parts.append(f"<h2>{e(group.title)}</h2>")
        note = f"task fingerprint <code>{e(group.fingerprint)}</code>"
        if group.has_data_hash:
            note += f", data hash <code>{e(group.has_data_hash[:16])}</code>"
        parts.append(f"<p class='note'>{note}</p><div class='scroll'><table><thead><tr>")
        for i, h in enumerate(_headers(group)):
            parts.append(f"<th{' class=entry' if i == 1 else ''}>{e(h)}</th>")
        parts.append("</tr></thead><tbody>")
        for rank, row in enumerate(group.rows, 1):
            parts.append(
                "<tr>"
                + "".join(
                    f"<td{' class=entry' if i == 1 else ''}>{e(c)}</td>"
                    for i, c in enumerate(_cells(group, row, rank))
                )
                + "</tr>"
            )
        parts.append("</tbody></table></div>")
        heads, market_rows = _market_table(group)
        if market_rows:
            parts.append(f"<p class='note'>{e(MARKET_NOTE)}</p><div class='scroll'><table><thead><tr>")
            parts += [f"<th{' class=entry' if i == 0 else ''}>{e(h)}</th>" for i, h in enumerate(heads)]
            parts.append("</tr></thead><tbody>")
            for cells in market_rows:
                parts.append(
                    "<tr>"
                    + "".join(
                        f"<td{' class=entry' if i == 0 else ''}>{e(c)}</td>" for i, c in enumerate(cells)
                    )
                    + "</tr>"
                )
            parts.append("</tbody></table></div>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


__all__ = [
    "MARKET_COLUMNS",
    "REFERENCE_ENTRY",
    "Group",
    "Row",
    "build_board",
    "load_board",
    "to_html",
    "to_markdown",
]
