"""Tear sheets from a results JSON: PNG plots and an HTML page (``wealtharena report results.json``).

Plots (matplotlib, extra ``plot``; drawn on the Agg canvas, no window, no pyplot state):

* ``equity.png``    the focal agents' equity against the equal-weight benchmark, one panel per scenario
                    (the first recorded trajectory of each), background agents thin and grey;
* ``drawdown.png``  the same agents' drawdown from their running peak;
* ``weights.png``   the first focal agent's weights over time (stacked; cash on top, grey);
* ``risk_events.png`` risk events per step and agent (risk-layer events from ``info["risk_events"]`` and
                    sanitised NaN / clipped actions);
* ``agents.png``    per-agent comparison over every completed episode: mean Sharpe and total return, focal
                    agents highlighted;
* ``scores.png``    the score per scenario with its 95 % interval.

Results of a historical task with market benchmarks get an "Against the market" table: the focal agents
against buy-and-hold SPY, QQQ and IWM over the same bars at the same costs
(``aggregates["market_benchmarks"]``), or which benchmark data was missing.

The series plots need trajectories in the results (``wealtharena evaluate --trajectories 1``, the
default); without them the tear sheet holds the tables and the summary plots only.

:func:`write_journal_report` draws the same equity, drawdown, weights and risk-event plots from a trading
journal (``wealtharena report run.journal.sqlite``), with a table per agent and the journal's problems
(refused bars, policy errors, halts).
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import numpy as np

from wealtharena_env._files import atomic_write
from wealtharena_env.leaderboard.results import read_results

PLOT_NAMES = ("equity", "drawdown", "weights", "risk_events", "agents", "scores")


def _mpl():
    try:
        from matplotlib import colormaps
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("reports need matplotlib: pip install 'wealtharena-env[plot]'") from exc
    return Figure, FigureCanvasAgg, colormaps


def _figure(width: float = 10.0, height: float = 4.5):
    Figure, FigureCanvasAgg, _ = _mpl()
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, format="png", dpi=100, metadata={"Software": None})
    return path


def _series(values: list[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _drawdown(equity: np.ndarray) -> np.ndarray:
    peak = np.fmax.accumulate(np.where(np.isfinite(equity), equity, -np.inf))
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 - equity / peak


def _first_per_scenario(doc: dict[str, Any]) -> list[dict[str, Any]]:
    seen, out = set(), []
    for t in doc.get("trajectories") or []:
        if t["scenario"] not in seen:
            seen.add(t["scenario"])
            out.append(t)
    return out


def _panels(n: int, width: float = 11.0, height_per_row: float = 3.2):
    cols = min(n, 2)
    rows = math.ceil(n / cols)
    fig = _figure(width, max(3.2, height_per_row * rows))
    axes = [fig.add_subplot(rows, cols, k + 1) for k in range(n)]
    return fig, axes


def plot_equity(doc: dict[str, Any], path: Path, drawdown: bool = False) -> Path | None:
    """Equity (or drawdown) of the first trajectory of every scenario against the benchmark."""
    trajs = _first_per_scenario(doc)
    if not trajs:
        return None
    fig, axes = _panels(len(trajs))
    _, _, colormaps = _mpl()
    cmap = colormaps["tab10"]
    for ax, t in zip(axes, trajs):
        k = 0
        for name, a in t["agents"].items():
            eq = _series(a["equity"])
            y = _drawdown(eq) if drawdown else eq
            if a["role"] == "focal":
                ax.plot(np.arange(y.size), y, lw=1.8, color=cmap(k % 10), label=f"{name} (focal)")
                k += 1
            else:
                ax.plot(
                    np.arange(y.size),
                    y,
                    lw=0.8,
                    color="#aaaaaa",
                    label=f"{name} ({a['role'].split(':')[-1]})",
                )
        bench = _series(t["benchmark_equity"])
        yb = _drawdown(bench) if drawdown else bench
        ax.plot(np.arange(yb.size), yb, "k--", lw=1.0, label="equal weight")
        if drawdown:
            ax.invert_yaxis()
            ax.set_ylabel("drawdown")
        else:
            ax.axhline(1.0, color="#999", lw=0.5)
            ax.set_ylabel("equity (x initial)")
        ax.set_title(f"{t['scenario']}  (seed {t['seed']})", fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="best")
    fig.suptitle(
        f"{doc['task']['key']} — {doc['entry']}: {'drawdown' if drawdown else 'equity vs benchmark'}"
    )
    fig.tight_layout()
    return _save(fig, path)


def plot_weights(doc: dict[str, Any], path: Path) -> Path | None:
    """Stacked weights over time of the first focal agent in the first trajectory."""
    trajs = _first_per_scenario(doc)
    if not trajs:
        return None
    t = trajs[0]
    focal = next((n for n, a in t["agents"].items() if a["role"] == "focal" and a.get("weights")), None)
    if focal is None:
        return None
    w = np.array(
        [[np.nan if v is None else v for v in row] for row in t["agents"][focal]["weights"]], dtype=float
    )
    w = np.nan_to_num(np.clip(w, 0.0, None))
    tickers = t.get("tickers") or [f"asset {i}" for i in range(w.shape[1] - 1)]
    _, _, colormaps = _mpl()
    cmap = colormaps["tab20"]
    fig = _figure(10, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    colors = [cmap(i % 20) for i in range(w.shape[1] - 1)] + ["#cccccc"]
    ax.stackplot(np.arange(w.shape[0]), w.T, labels=list(tickers) + ["cash"], colors=colors)
    ax.set_xlim(0, max(w.shape[0] - 1, 1))
    ax.set_ylim(0, max(1.0, float(w.sum(axis=1).max())))
    ax.set_xlabel("step")
    ax.set_ylabel("weight")
    ax.set_title(
        f"{doc['task']['key']} — {doc['entry']}: weights of {focal} ({t['scenario']}, seed {t['seed']})"
    )
    ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return _save(fig, path)


def plot_risk_events(doc: dict[str, Any], path: Path) -> Path | None:
    """Risk events per step and agent (every recorded trajectory of the first scenario)."""
    trajs = _first_per_scenario(doc)
    if not trajs:
        return None
    t = trajs[0]
    fig = _figure(10, 3.8)
    ax = fig.add_subplot(1, 1, 1)
    names = list(t["agents"])
    kinds: dict[str, int] = {}
    markers = "o^sDvP*Xh"
    total = 0
    _, _, colormaps = _mpl()
    cmap = colormaps["tab10"]
    for y, name in enumerate(names):
        for kind, steps in sorted(t["agents"][name]["risk_events"].items()):
            first = kind not in kinds
            k = kinds.setdefault(kind, len(kinds))
            uniq, counts = np.unique(np.asarray(steps, dtype=np.int64), return_counts=True)
            ax.scatter(
                uniq,
                np.full(uniq.size, y + 0.25 * (k % 3 - 1)),
                marker=markers[k % len(markers)],
                color=cmap(k % 10),
                s=10 + 8 * np.minimum(counts, 6),
                label=kind if first else None,
            )
            total += len(steps)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlim(0, max(len(t["agents"][names[0]]["equity"]) - 1, 1))
    ax.set_ylim(-0.5, len(names) - 0.5)
    ax.set_xlabel("step")
    if total == 0:
        ax.text(0.5, 0.5, "no risk events", transform=ax.transAxes, ha="center", va="center", color="#666")
    else:
        ax.legend(fontsize=7, loc="upper right")
    ax.set_title(f"{doc['task']['key']} — {doc['entry']}: risk events ({t['scenario']}, seed {t['seed']})")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def agent_summary(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per agent: role and the mean of each metric over completed episodes.

    A seat played by different baselines in different scenarios (a task's co-player populations) gets the
    role ``"background: a / b / ..."`` listing every one, since its numbers average over all of them.
    """
    out: dict[str, dict[str, Any]] = {}
    for ep in doc["episodes"]:
        if ep["status"] != "ok" or not ep["agents"]:
            continue
        for name, m in ep["agents"].items():
            row = out.setdefault(name, {"role": m["role"], "_roles": [], "_values": {}})
            if m["role"] not in row["_roles"]:
                row["_roles"].append(m["role"])
            for key, value in m.items():
                if key != "role" and value is not None:
                    row["_values"].setdefault(key, []).append(float(value))
    for row in out.values():
        roles = row.pop("_roles")
        if len(roles) > 1:
            kinds = {r.split(":", 1)[0] for r in roles}
            row["role"] = (f"{kinds.pop()}: " if len(kinds) == 1 else "") + " / ".join(
                r.split(":", 1)[-1] for r in roles
            )
        values = row.pop("_values")
        for key, vals in values.items():
            finite = [v for v in vals if math.isfinite(v)]
            row[key] = float(np.mean(finite)) if finite else None
    return out


def plot_agents(doc: dict[str, Any], path: Path) -> Path | None:
    """Bar charts of mean Sharpe and total return per agent (focal agents coloured)."""
    summary = agent_summary(doc)
    if not summary:
        return None
    names = list(summary)
    fig = _figure(10, 3.8)
    for k, (metric, label) in enumerate(
        (("sharpe_ratio", "mean Sharpe"), ("total_return", "mean total return"))
    ):
        ax = fig.add_subplot(1, 2, k + 1)
        vals = [summary[n].get(metric) or 0.0 for n in names]
        colors = ["#1f77b4" if summary[n]["role"] == "focal" else "#aaaaaa" for n in names]
        ax.bar(range(len(names)), vals, color=colors)
        ax.set_xticks(
            range(len(names)), [f"{n}\n{summary[n]['role'].split(':')[-1]}" for n in names], fontsize=7
        )
        ax.axhline(0, color="#666", lw=0.6)
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(f"{doc['task']['key']} — {doc['entry']}: per-agent comparison (all completed episodes)")
    fig.tight_layout()
    return _save(fig, path)


def plot_scores(doc: dict[str, Any], path: Path) -> Path | None:
    """The primary score per scenario with its 95 % interval, and the overall score."""
    by = doc["aggregates"]["by_scenario"]
    names = list(by) + ["overall"]
    points = [by[n]["score"]["point"] for n in by] + [doc["aggregates"]["score"]["mean"]["point"]]
    lows = [by[n]["score"]["low"] for n in by] + [doc["aggregates"]["score"]["mean"]["low"]]
    highs = [by[n]["score"]["high"] for n in by] + [doc["aggregates"]["score"]["mean"]["high"]]
    fig = _figure(8, 0.6 * len(names) + 1.6)
    ax = fig.add_subplot(1, 1, 1)
    for y, (p, lo, hi, n) in enumerate(zip(points, lows, highs, names)):
        if p is None:
            continue
        color = "#d62728" if n == "overall" else ("#ff7f0e" if by.get(n, {}).get("held_out") else "#1f77b4")
        ax.errorbar(
            [p],
            [y],
            xerr=[[p - (lo if lo is not None else p)], [(hi if hi is not None else p) - p]],
            fmt="o",
            color=color,
            capsize=3,
        )
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="#666", lw=0.6)
    ax.set_xlabel(f"mean {doc['task']['primary_metric']} (95% CI); orange = held out")
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return _save(fig, path)


def _fmt(v: Any, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{100 * v:.2f}%" if pct else f"{v:.3f}" if isinstance(v, float) else str(v)


_PCT = {
    "total_return",
    "cagr",
    "annual_volatility",
    "max_drawdown",
    "historical_cvar",
    "win_rate",
    "average_turnover",
    "tracking_error",
}


#: The relative metrics of the market-benchmark table and whether they are percentages.
_MARKET = (
    ("excess return", "excess_return", True),
    ("beta", "beta", False),
    ("alpha (annual)", "alpha", True),
    ("tracking error", "tracking_error", True),
    ("information ratio", "information_ratio", False),
    ("up capture", "up_capture", False),
    ("down capture", "down_capture", False),
)


def market_benchmark_table(doc: dict[str, Any]) -> str:
    """HTML section: the focal agents against buy-and-hold SPY / QQQ / IWM over the same bars and costs
    (historical tasks; ``aggregates["market_benchmarks"]``), or why there is none."""
    e = html.escape
    market = doc["aggregates"].get("market_benchmarks") or {}
    provenance = doc.get("market_benchmark_data") or {}
    parts = ["<h2>Against the market</h2>"]
    missing = provenance.get("unavailable") or {}
    if missing:
        parts.append(
            "<p class='warn'>No benchmark data for "
            + ", ".join(f"{e(t)} ({e(why)})" for t, why in missing.items())
            + ": re-run <code>wealtharena evaluate</code> with <code>--benchmark-data PATH</code>.</p>"
        )
    if not market:
        return "".join(parts)
    tickers = list(market)
    parts.append("<table><tr><th>metric (mean over episodes)</th>")
    parts += [f"<th>vs {e(t)}</th><th>95% CI</th>" for t in tickers]
    parts.append("</tr><tr><td>ETF return / Sharpe</td>")
    for t in tickers:
        b = market[t]["benchmark"]
        parts.append(
            f"<td>{_fmt(b.get('total_return'), True)}</td><td>Sharpe {_fmt(b.get('sharpe_ratio'))}</td>"
        )
    parts.append("</tr>")
    for label, metric, pct in _MARKET:
        parts.append(f"<tr><td>{e(label)}</td>")
        for t in tickers:
            iv = market[t]["metrics"][metric]
            parts.append(
                f"<td>{_fmt(iv['point'], pct)}</td><td>[{_fmt(iv['low'], pct)}, {_fmt(iv['high'], pct)}]</td>"
            )
        parts.append("</tr>")
    parts.append("</table>")
    kinds = {t: (provenance.get("tickers") or {}).get(t, {}).get("returns", "?") for t in tickers}
    parts.append(
        "<p class='note'>Each episode against buying and holding the ETF over the same bars, at the same "
        "costs (one purchase at the first decision, through the env's execution kernel). ETF returns: "
        + ", ".join(f"{e(t)} {e(k)}" for t, k in kinds.items())
        + f"; source {e(str(provenance.get('source', '?')))}.</p>"
    )
    return "".join(parts)


def write_report(results: str | Path | dict[str, Any], out_dir: str | Path) -> Path:
    """Write the PNGs and ``index.html`` (the tear sheet) into ``out_dir``; return the HTML path."""
    doc = results if isinstance(results, dict) else read_results(results)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    made: dict[str, Path | None] = {
        "equity": plot_equity(doc, out / "equity.png"),
        "drawdown": plot_equity(doc, out / "drawdown.png", drawdown=True),
        "weights": plot_weights(doc, out / "weights.png"),
        "risk_events": plot_risk_events(doc, out / "risk_events.png"),
        "agents": plot_agents(doc, out / "agents.png"),
        "scores": plot_scores(doc, out / "scores.png"),
    }
    e = html.escape
    a = doc["aggregates"]
    task = doc["task"]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        (
            f"<title>{e(task['key'])} — {e(doc['entry'])}</title><style>"
            "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2rem auto;color:#222}"
            "table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1.2rem}"
            "td,th{border-bottom:1px solid #ddd;padding:.25rem .6rem;text-align:right}"
            "th:first-child,td:first-child{text-align:left}img{max-width:100%;margin:.5rem 0}"
            ".warn{color:#b00}.note{color:#666;font-size:.85rem}</style></head><body>"
        ),
        f"<h1>{e(task['key'])} — {e(doc['entry'])}</h1>",
        (
            f"<p class='note'>policy <code>{e(doc['policy']['spec'])}</code>; "
            f"env <code>{e(task['env_id'])}</code>; "
            f"task fingerprint <code>{e(task['fingerprint'])}</code>; wealtharena-env "
            f"{e(doc['package']['version'])}; {doc['budget']['n_seeds']} evaluation seeds x "
            f"{doc['budget']['n_scenarios']} scenario(s), {doc['budget']['episode_length']} steps"
            f"{'' if doc['budget']['official'] else ' (reduced budget)'}; "
            f"created {e(doc['created_utc'])}.</p>"
        ),
    ]
    if doc.get("data"):
        d = doc["data"]
        parts.append(
            f"<p class='note'>data: {e(', '.join(d['tickers']))} {e(d['first_date'])}..{e(d['last_date'])}, "
            f"content hash <code>{e(d['content_hash'])}</code></p>"
        )
    s = a["score"]
    parts.append(
        "<h2>Score</h2><table><tr><th>statistic</th><th>value</th><th>95% CI</th><th>episodes</th></tr>"
    )
    for name in ("mean", "iqm", "median"):
        parts.append(
            f"<tr><td>{name} {e(a['primary_metric'])}</td><td>{_fmt(s[name]['point'])}</td>"
            f"<td>[{_fmt(s[name]['low'])}, {_fmt(s[name]['high'])}]</td><td>{s[name]['n']}</td></tr>"
        )
    parts.append("</table>")
    if a["n_failed"]:
        parts.append(f"<p class='warn'>{a['n_failed']} of {a['n_episodes']} episodes failed:</p><ul>")
        for f in doc["failures"][:50]:
            parts.append(
                f"<li class='warn'>{e(f['scenario'])} seed {f['seed']} step {f['step']}"
                f"{' agent ' + e(str(f['agent'])) if f.get('agent') else ''}: {e(f['message'])}</li>"
            )
        parts.append("</ul>")
    parts.append(
        "<h2>Focal metrics (mean over episodes)</h2><table><tr><th>metric</th><th>mean</th>"
        "<th>95% CI</th></tr>"
    )
    for m, iv in a["metrics"].items():
        pct = m in _PCT
        parts.append(
            f"<tr><td>{e(m)}</td><td>{_fmt(iv['point'], pct)}</td>"
            f"<td>[{_fmt(iv['low'], pct)}, {_fmt(iv['high'], pct)}]</td></tr>"
        )
    parts.append(
        "</table><h2>Scenarios</h2><table><tr><th>scenario</th><th>held out</th><th>background</th>"
        "<th>score</th><th>95% CI</th><th>return</th><th>max DD</th><th>ok / failed</th></tr>"
    )
    for name, sc in a["by_scenario"].items():
        parts.append(
            f"<tr><td>{e(name)}</td><td>{'yes' if sc['held_out'] else 'no'}</td>"
            f"<td>{e(str(sc['background'] or '–'))}</td><td>{_fmt(sc['score']['point'])}</td>"
            f"<td>[{_fmt(sc['score']['low'])}, {_fmt(sc['score']['high'])}]</td>"
            f"<td>{_fmt(sc['metrics']['total_return'], True)}</td>"
            f"<td>{_fmt(sc['metrics']['max_drawdown'], True)}</td>"
            f"<td>{sc['n_ok']} / {sc['n_failed']}</td></tr>"
        )
    bench = a.get("benchmark") or {}
    parts.append(
        f"</table><p class='note'>equal-weight benchmark (cost free): mean Sharpe "
        f"{_fmt(bench.get('sharpe_ratio'))}, mean return {_fmt(bench.get('total_return'), True)}, "
        f"mean max drawdown {_fmt(bench.get('max_drawdown'), True)}.</p>"
    )
    market = a.get("market_benchmarks")
    if market is not None:
        parts.append(market_benchmark_table(doc))
    parts.append(
        "<h2>Agents</h2><table><tr><th>agent</th><th>role</th><th>Sharpe</th><th>return</th>"
        "<th>max DD</th><th>costs</th><th>risk events</th></tr>"
    )
    for name, row in agent_summary(doc).items():
        parts.append(
            f"<tr><td>{e(name)}</td><td>{e(row['role'])}</td><td>{_fmt(row.get('sharpe_ratio'))}</td>"
            f"<td>{_fmt(row.get('total_return'), True)}</td><td>{_fmt(row.get('max_drawdown'), True)}</td>"
            f"<td>{_fmt(row.get('total_cost'))}</td><td>{_fmt(row.get('risk_events'))}</td></tr>"
        )
    parts.append("</table><h2>Plots</h2>")
    if not doc.get("trajectories"):
        parts.append(
            "<p class='note'>No trajectories in these results: re-run <code>wealtharena evaluate</code> "
            "with <code>--trajectories 1</code> for equity, drawdown, weights and risk-event plots.</p>"
        )
    for name in PLOT_NAMES:
        if made.get(name) is not None:
            parts.append(f"<h3>{e(name.replace('_', ' '))}</h3><img src='{name}.png' alt='{e(name)}'>")
    parts.append(
        "<p class='note'>Simulated and historical results measure a policy under this protocol; they "
        "promise nothing about future returns.</p></body></html>"
    )
    return atomic_write(out / "index.html", "\n".join(parts) + "\n")


def journal_trajectory(path: str | Path) -> dict[str, Any]:
    """A trading journal as a results-like document: one trajectory whose agents' equity (value / initial),
    weights and risk events (per rule, the step they happened at) come from the journaled steps, the
    benchmark an equal-weight buy of the journaled closes, plus the journal's problems and counts."""
    from wealtharena_env.live.journal import Journal
    from wealtharena_env.market_sources import OHLCV

    with Journal(path) as journal:
        meta = journal.meta()
        steps = [p for _, _, _, p in journal.entries("step")]
        warmup = journal.get("warmup")
        bars = [p for _, _, _, p in journal.entries("bar")]
        problems = [
            (bar, kind, p.get("message", ""))
            for bar, kind, _, p in journal.entries()
            if kind in ("refused_bar", "policy_error", "halt")
        ]
        counts = {
            k: journal.count(k) for k in ("bar", "refused_bar", "decision", "order", "fill", "policy_error")
        }
        initial_cash = journal.get("initial_cash")
    if not steps or warmup is None or initial_cash is None:
        from wealtharena_env.errors import ConfigError

        raise ConfigError(f"journal {path} has no traded bar yet: nothing to report.")
    names = list(steps[0]["agents"])
    close = OHLCV.index(
        "close"
    )  # the warm-up is journaled as the Simulation's bars, whose first rows these are
    closes = [np.asarray(warmup["bars"])[-1, close]] + [np.asarray(b["fields"])[close] for b in bars]
    closes_arr = np.asarray(closes[: len(steps) + 1], dtype=np.float64)
    bench = (closes_arr / closes_arr[0]).mean(axis=1)
    agents: dict[str, Any] = {}
    for name in names:
        events: dict[str, list[int]] = {}
        for k, step in enumerate(steps):
            for event in step["agents"][name]["risk_events"]:
                events.setdefault(event["rule"], []).append(k + 1)
        n_weights = len(steps[0]["agents"][name]["weights"])
        agents[name] = {
            "values": [step["agents"][name]["value"] for step in steps],
            "initial": float(initial_cash[name]),
            "weights": [[0.0] * (n_weights - 1) + [1.0]]
            + [step["agents"][name]["weights"] for step in steps],
            "risk_events": events,
            "cost": float(sum(step["agents"][name]["cost"] for step in steps)),
        }
    return {
        "meta": meta,
        "names": names,
        "dates": [warmup["dates"][-1]] + [s["date"] for s in steps],
        "benchmark": bench.tolist(),
        "agents": agents,
        "problems": problems,
        "counts": counts,
    }


def write_journal_report(journal: str | Path, out_dir: str | Path) -> Path:
    """Equity, drawdown, weights and risk-event plots and an HTML page for a trading journal; return the HTML.

    Equity is each agent's value over its initial cash (both journaled); the benchmark is the equal-weight
    buy-and-hold of the journaled closes from the first decision bar.
    """
    doc = journal_trajectory(journal)
    meta = doc["meta"]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    trajectory_agents = {}
    rows = []
    for name, a in doc["agents"].items():
        equity = [1.0] + [v / a["initial"] for v in a["values"]]
        trajectory_agents[name] = {
            "role": "focal",
            "equity": equity,
            "weights": a["weights"],
            "risk_events": a["risk_events"],
        }
        drawdown = float(np.max(_drawdown(np.asarray(equity))))
        rows.append(
            (name, equity[-1] - 1.0, drawdown, a["cost"], sum(len(v) for v in a["risk_events"].values()))
        )
    results_doc = {
        "task": {"key": f"live:{meta.get('run_id', '?')}"},
        "entry": str(meta.get("policy", "?")),
        "trajectories": [
            {
                "scenario": f"{meta.get('broker', '?')} broker",
                "seed": 0,
                "tickers": meta.get("tickers"),
                "agents": trajectory_agents,
                "benchmark_equity": doc["benchmark"],
            }
        ],
    }
    made = {
        "equity": plot_equity(results_doc, out / "equity.png"),
        "drawdown": plot_equity(results_doc, out / "drawdown.png", drawdown=True),
        "weights": plot_weights(results_doc, out / "weights.png"),
        "risk_events": plot_risk_events(results_doc, out / "risk_events.png"),
    }
    e = html.escape
    c = doc["counts"]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        (
            f"<title>trading journal {e(str(meta.get('run_id')))}</title><style>"
            "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2rem auto;color:#222}"
            "table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1.2rem}"
            "td,th{border-bottom:1px solid #ddd;padding:.25rem .6rem;text-align:right}"
            "th:first-child,td:first-child{text-align:left}img{max-width:100%;margin:.5rem 0}"
            ".warn{color:#b00}.note{color:#666;font-size:.85rem}</style></head><body>"
        ),
        f"<h1>Trading journal — run {e(str(meta.get('run_id')))}</h1>",
        (
            f"<p class='note'>policy <code>{e(str(meta.get('policy')))}</code>; "
            f"broker {e(str(meta.get('broker')))}{' (dry run)' if meta.get('dry_run') else ''}; "
            f"tickers {e(', '.join(meta.get('tickers') or []))}; "
            f"bars {e(doc['dates'][0])} .. {e(doc['dates'][-1])}; {c['bar']} bars traded, "
            f"{c['refused_bar']} refused, {c['decision']} decisions, {c['order']} orders, "
            f"{c['fill']} agent fills, {c['policy_error']} policy errors.</p>"
        ),
        (
            "<h2>Agents</h2><table><tr><th>agent</th><th>return</th><th>max DD</th><th>costs</th>"
            "<th>risk events</th></tr>"
        ),
    ]
    for name, ret, dd, cost, n in rows:
        parts.append(
            f"<tr><td>{e(name)}</td><td>{_fmt(ret, True)}</td><td>{_fmt(dd, True)}</td><td>{cost:,.2f}</td>"
            f"<td>{n}</td></tr>"
        )
    parts.append("</table>")
    if doc["problems"]:
        parts.append("<h2>Problems</h2><ul>")
        for bar, kind, message in doc["problems"][:200]:
            parts.append(f"<li class='warn'>bar {bar} ({e(kind)}): {e(message)}</li>")
        parts.append("</ul>")
    parts.append("<h2>Plots</h2>")
    for name, made_path in made.items():
        if made_path is not None:
            parts.append(f"<h3>{e(name.replace('_', ' '))}</h3><img src='{name}.png' alt='{e(name)}'>")
    parts.append(
        "<p class='note'>A journal records what was decided and what the broker reported; it promises "
        "nothing about future returns.</p></body></html>"
    )
    return atomic_write(out / "index.html", "\n".join(parts) + "\n")


__all__ = [
    "PLOT_NAMES",
    "agent_summary",
    "journal_trajectory",
    "plot_agents",
    "plot_equity",
    "plot_risk_events",
    "plot_scores",
    "plot_weights",
    "write_journal_report",
    "write_report",
]
