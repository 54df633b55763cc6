"""The drift report: one self-contained HTML page (inline SVG, as the training report).

An overview of every feature's drift against its threshold, the score distribution of the
reference and the new sample, and the bin shares of the most drifted features.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from training.drift import DriftResult, FeatureDrift
from training.report import _STYLE, _svg

DRIFT_PLOTS = ("drift-overview", "score-distribution")
DETAIL_PLOTS = 6  # features with their own bin-share plot: all alarms, else the top ones
DRIFT_REPORT_FILE = "drift.html"


def overview_plot(result: DriftResult) -> str:
    import matplotlib.pyplot as plt

    rows = sorted(result.features, key=lambda f: f.value / f.threshold)
    fig, ax = plt.subplots(figsize=(6, 0.28 * len(rows) + 1.4))
    ratios = [f.value / f.threshold for f in rows]
    colors = ["#c0392b" if f.alarm else "#4a78b5" for f in rows]
    ax.barh([f"{f.feature} ({f.method})" for f in rows], ratios, color=colors)
    ax.axvline(1.0, ls="--", c="grey")
    ax.set(
        xlabel="drift / alarm threshold (PSI for numeric, JS distance for categorical)",
        title="Feature drift (red: alarm)",
    )
    return _svg(fig)


def shares_plot(f: FeatureDrift, title: str, max_bins: int = 25) -> str:
    import matplotlib.pyplot as plt

    order = np.argsort(-np.abs(np.subtract(f.current_share, f.reference_share)))[:max_bins]
    order = np.sort(order) if f.method == "psi" else order  # numeric bins keep their order
    labels = [f.bins[i] for i in order]
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(max(5.0, 0.35 * len(labels) + 2), 3.6))
    ax.bar(x - 0.2, [f.reference_share[i] for i in order], 0.4, label="reference")
    ax.bar(x + 0.2, [f.current_share[i] for i in order], 0.4, label="new sample")
    ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
    ax.set(ylabel="share of orders", title=title)
    ax.legend(fontsize=8)
    return _svg(fig)


def _feature_table(result: DriftResult) -> str:
    head = "<tr><th>feature</th><th>method</th><th>value</th><th>threshold</th>"
    head += "<th>noise floor</th><th>alarm</th><th>largest shift</th></tr>"
    rows = "".join(
        f"<tr><th>{html.escape(f.feature)}</th><td>{f.method}</td><td>{f.value:.4f}</td>"
        f"<td>{f.threshold}</td><td>{f.noise_floor:.4f}</td><td>{'yes' if f.alarm else ''}</td>"
        f"<td>{html.escape(f.top_shift())}</td></tr>"
        for f in [*result.features, result.score]
    )
    return f"<table>{head}{rows}</table>"


def write_drift_report(path: Path, result: DriftResult, facts: Mapping[str, Any]) -> Path:
    """Write the report to ``path`` (a file, or a folder that gets ``drift.html``)."""
    import matplotlib

    matplotlib.use("Agg")
    if path.suffix != ".html":
        path = path / DRIFT_REPORT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    ranked = sorted(result.features, key=lambda f: -f.value / f.threshold)
    detail = [f for f in ranked if f.alarm] or ranked
    figures = {
        "drift-overview": overview_plot(result),
        "score-distribution": shares_plot(result.score, "Calibrated scores (reference bins)"),
    }
    for f in detail[:DETAIL_PLOTS]:
        figures[f"feature-{f.feature}"] = shares_plot(
            f, f"{f.feature}: {f.method.upper()} {f.value:.3f}"
        )
    verdict = {"ok": "no drift", "drift": "DRIFT", "insufficient_data": "too few rows to judge"}
    alarms = "".join(f"<li>{html.escape(a)}</li>" for a in result.alarms) or "<li>none</li>"
    fact_rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in {
            "verdict": verdict[result.status],
            "model": result.model_tag,
            "rows (new / reference)": f"{result.rows} / {result.reference_rows}",
            "estimated accuracy (CBPE)": f"{result.estimated_accuracy:.4f}",
            "reference estimated accuracy": f"{result.reference_accuracy:.4f}",
            "score PSI": f"{result.score.value:.4f}",
            "not compared": ", ".join(result.ignored) or "-",
            **facts,
        }.items()
    )
    title = f"Drift report: {result.model_tag}"
    sections = [
        f"<h1>{html.escape(title)}</h1>",
        f"<table>{fact_rows}</table>",
        f"<h2>Alarms</h2><ul>{alarms}</ul>",
        "<h2>Plots</h2>",
        *(
            f'<figure id="{html.escape(name)}">{svg}<figcaption>{html.escape(name)}</figcaption>'
            "</figure>"
            for name, svg in figures.items()
        ),
        "<h2>Every feature</h2>",
        _feature_table(result),
    ]
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title><style>{_STYLE}</style></head><body>{''.join(sections)}</body></html>"
    )
    path.write_text(page)
    return path
