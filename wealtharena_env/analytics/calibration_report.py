"""The stylized-facts report of a calibrated market: the real data next to the synthetic market fitted to it.

:func:`write_calibration_report` writes one self-contained HTML page (plots embedded as PNG data URIs):

* the market-wide stylized facts (:func:`~wealtharena_env.calibration.compare_stylized_facts`);
* per asset: annual volatility, kurtosis, lag-1 autocorrelation and leverage ``corr(r_t, |r_{t+1}|)``, real
  and synthetic (:func:`~wealtharena_env.calibration.compare_assets`);
* plots (matplotlib, extra ``plot``; without it the page has the tables and says how to get the plots):
  volatility per asset, the correlation matrices (real, synthetic, difference), the |r| autocorrelation and
  leverage curves over lags 1-20 (synthetic: mean and 10-90 % band over the paths), and the real prices next
  to one simulated panel.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wealtharena_env.calibration import compare_assets, compare_stylized_facts, simulate_prices
from wealtharena_env.config import MarketConfig
from wealtharena_env.data.market_data import MarketData

__all__ = ["calibration_plots", "write_calibration_report"]

_REAL = "#1f4e99"
_SYNTHETIC = "#d9822b"


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None}, bbox_inches="tight")
    return buffer.getvalue()


def _plot_volatility(assets: pd.DataFrame) -> bytes:
    n = len(assets)
    fig = _figure(max(7.0, 0.45 * n + 2.0), 3.6)
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(n)
    ax.bar(x - 0.2, assets["real_volatility"] * 100, 0.4, label="real", color=_REAL)
    ax.bar(
        x + 0.2,
        assets["synthetic_volatility"] * 100,
        0.4,
        label="synthetic (mean of paths)",
        color=_SYNTHETIC,
    )
    ax.set_xticks(x, [str(t) for t in assets.index], rotation=60 if n > 12 else 0, fontsize=8)
    ax.set_ylabel("annual volatility (%)")
    ax.set_title("Each asset's own volatility")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def _plot_correlation(real: np.ndarray, synthetic: np.ndarray, tickers: list[str]) -> bytes:
    n = len(tickers)
    size = max(3.6, 0.22 * n + 1.6)
    fig = _figure(3 * size + 1.5, size + 0.4)
    axes = fig.subplots(1, 3, gridspec_kw={"wspace": 0.12})
    panels = (
        ("real", real, "RdBu_r", 1.0),
        ("synthetic (mean of paths)", synthetic, "RdBu_r", 1.0),
        ("synthetic - real", synthetic - real, "PuOr_r", 0.3),
    )
    labels = tickers if n <= 40 else [""] * n
    font = 6 if n > 15 else 8
    for k, (title, matrix, cmap, limit) in enumerate(panels):
        ax = axes[k]
        image = ax.imshow(matrix, cmap=cmap, vmin=-limit, vmax=limit)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(n), labels, rotation=90, fontsize=font)
        ax.set_yticks(range(n), labels if k == 0 else [""] * n, fontsize=font)
        if k >= 1:  # one colour bar for real and synthetic (same scale), one for the difference
            fig.colorbar(
                image, ax=list(axes[:2]) if k == 1 else ax, fraction=0.046 if k == 2 else 0.023, pad=0.02
            )
    fig.suptitle("Correlation of daily log returns", fontsize=11)
    return _png(fig)


def _plot_curves(real_facts: dict[str, Any], synthetic_facts: list[dict[str, Any]]) -> bytes:
    fig = _figure(11.0, 3.6)
    for k, (key, title) in enumerate(
        (
            ("abs_autocorr", "Volatility clustering: corr(|r_t|, |r_t+k|)"),
            ("leverage", "Leverage effect: corr(r_t, |r_t+k|)"),
        )
    ):
        ax = fig.add_subplot(1, 2, k + 1)
        lags = np.arange(1, len(real_facts[key]) + 1)
        stack = np.array([f[key] for f in synthetic_facts])
        ax.fill_between(
            lags,
            np.quantile(stack, 0.1, axis=0),
            np.quantile(stack, 0.9, axis=0),
            color=_SYNTHETIC,
            alpha=0.25,
            label="synthetic 10-90 %",
        )
        ax.plot(lags, stack.mean(axis=0), color=_SYNTHETIC, label="synthetic (mean)")
        ax.plot(lags, real_facts[key], color=_REAL, marker="o", markersize=3, label="real")
        ax.axhline(0.0, color="#888", linewidth=0.8)
        ax.set_xlabel("lag k (bars)")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8)
    return _png(fig)


def _plot_prices(data: MarketData, simulated: pd.DataFrame) -> bytes:
    fig = _figure(12.0, 4.0)
    axes = fig.subplots(1, 2, sharey=True)
    real_close = np.asarray(data.adjusted().close)
    sim_close = simulated.pivot(index="date", columns="ticker", values="close")[list(data.tickers)].to_numpy()
    for ax, title, close, dates in (
        (axes[0], "real", real_close, pd.DatetimeIndex(data.dates)),
        (axes[1], "one simulated panel (seed 0)", sim_close, None),
    ):
        x = dates if dates is not None else np.arange(close.shape[0])
        for i, ticker in enumerate(data.tickers):
            ax.plot(
                x,
                close[:, i] / close[0, i],
                linewidth=0.7,
                label=str(ticker),
                color=f"C{i % 10}",
                linestyle="-" if i < 10 else "--",
            )
        ax.set_yscale("log")
        ax.set_title(f"Price / first price, {title}", fontsize=10)
        ax.set_xlabel("date" if dates is not None else "bar")
        ax.grid(alpha=0.3)
    if len(data.tickers) <= 30:
        axes[1].legend(
            fontsize=7,
            frameon=False,
            loc="center left",
            bbox_to_anchor=(1.01, 0.5),
            ncol=1 + len(data.tickers) // 16,
        )
    return _png(fig)


def calibration_plots(data: MarketData, config: MarketConfig, comparison: dict[str, Any]) -> dict[str, bytes]:
    """The report's PNGs (name -> bytes) for a :func:`~wealtharena_env.calibration.compare_assets` result.

    Raises:
        ImportError: matplotlib is not installed (``pip install 'wealtharena-env[plot]'``).
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError("the report's plots need matplotlib: pip install 'wealtharena-env[plot]'") from exc
    tickers = [str(t) for t in comparison["assets"].index]
    plots = {"volatility": _plot_volatility(comparison["assets"])}
    if len(tickers) > 1:
        plots["correlation"] = _plot_correlation(
            comparison["real_correlation"], comparison["synthetic_correlation"], tickers
        )
    plots["clustering"] = _plot_curves(comparison["real_facts"], comparison["synthetic_facts"])
    plots["prices"] = _plot_prices(data, simulate_prices(config, data.n_steps, seed=0))
    return plots


def _table(frame: pd.DataFrame, digits: int = 3) -> str:
    e = html.escape
    head = "".join(f"<th>{e(str(c))}</th>" for c in [frame.index.name or "", *frame.columns])
    rows = []
    for name, row in frame.iterrows():
        cells = "".join(
            f"<td>{'' if not np.isfinite(v) else f'{v:.{digits}f}'}</td>" for v in row.to_numpy(dtype=float)
        )
        rows.append(f"<tr><td>{e(str(name))}</td>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def write_calibration_report(
    data: MarketData,
    config: MarketConfig,
    path: str | Path,
    *,
    n_seeds: int = 20,
    title: str | None = None,
) -> Path:
    """Write the stylized-facts report (one HTML file, plots embedded) of ``config`` against ``data``.

    Args:
        data: the real data (what ``config`` was fitted to).
        config: the synthetic market, usually ``calibrate(data)``.
        path: the HTML file to write (its folder is created).
        n_seeds: simulated paths, each as long as the data.
        title: the page's title (default: the data's description).

    Returns:
        The path written. Without matplotlib the page has the tables and a note instead of the plots.
    """
    from wealtharena_env._files import atomic_write

    facts = compare_stylized_facts(data, config, n_seeds=n_seeds)
    comparison = compare_assets(data, config, n_seeds=n_seeds)
    try:
        plots = calibration_plots(data, config, comparison)
        missing = ""
    except ImportError as exc:
        plots, missing = {}, str(exc)
    e = html.escape
    title = title or f"Calibrated market vs {data!r}"
    assets = comparison["assets"].copy()
    assets.columns = [c.replace("_", " ") for c in assets.columns]
    structure = (
        f"{config.n_factors} factors, regime factor weights "
        + ", ".join(f"{c:.2f}" for c in config.regime_factor_scale)
        if config.factor_loadings is not None
        else f"equicorrelation {', '.join(f'{c:.2f}' for c in config.regime_correlation)}"
    )
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        (
            f"<title>{e(title)}</title><style>"
            "body{font-family:system-ui,sans-serif;max-width:1150px;margin:2rem auto;"
            "color:#222;padding:0 1rem}"
            "table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1.2rem}"
            "td,th{border-bottom:1px solid #ddd;padding:.25rem .6rem;text-align:right}"
            "th:first-child,td:first-child{text-align:left}img{max-width:100%;margin:.5rem 0}"
            ".note{color:#666;font-size:.85rem}.warn{color:#b00}</style></head><body>"
        ),
        f"<h1>{e(title)}</h1>",
        (
            f"<p class='note'>{comparison['n_seeds']} synthetic paths of {comparison['n_bars']} bars each, "
            f"seeds 0-{comparison['n_seeds'] - 1}. "
            "Synthetic figures are means over the paths (kurtosis: median). "
            f"Market: {e(structure)}; GARCH a = {config.garch_alpha:.3f}, b = {config.garch_beta:.3f}, "
            f"GJR g = {config.garch_gamma:.3f}, Student-t dof {config.student_t_dof:.2f}, "
            f"jumps {config.jump_intensity:.2f} per asset-year.</p>"
        ),
    ]
    if missing:
        parts.append(f"<p class='warn'>No plots: {e(missing)}</p>")
    parts += ["<h2>Stylized facts (mean over assets)</h2>", _table(facts)]
    if "volatility" in plots:
        parts.append(_img(plots["volatility"], "volatility per asset"))
    parts += ["<h2>Per asset</h2>", _table(assets)]
    if config.n_assets > 1:
        parts.append(
            f"<h2>Correlation</h2><p>Largest absolute difference of an off-diagonal entry: "
            f"<b>{comparison['max_correlation_error']:.3f}</b>; mean: "
            f"<b>{comparison['mean_correlation_error']:.3f}</b>.</p>"
        )
        if "correlation" in plots:
            parts.append(_img(plots["correlation"], "correlation matrices"))
    if "clustering" in plots:
        parts += ["<h2>Volatility clustering and leverage</h2>", _img(plots["clustering"], "curves")]
    if "prices" in plots:
        parts += ["<h2>Prices</h2>", _img(plots["prices"], "prices")]
    parts.append("</body></html>\n")
    return atomic_write(path, "".join(parts))


def _img(png: bytes, alt: str) -> str:
    return (
        f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'>"
    )
