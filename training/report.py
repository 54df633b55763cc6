"""The training report: one self-contained HTML file with the plots a reviewer looks at.

ROC curves, a calibration plot and per-class score histograms on the test split, the metrics
table (with baselines when they ran) and global feature importance from explanations. Plots are
inline SVG, so the file opens anywhere and travels with the model in the registry.
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from training.metrics import ECE_BINS

PLOTS = ("roc-curve", "calibration", "score-histogram", "feature-importance")
REPORT_FILE = "report.html"


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog: the SVG sits inside HTML


def roc_plot(y: np.ndarray, scores: Mapping[str, np.ndarray]) -> str:
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_auc_score, roc_curve

    fig, ax = plt.subplots(figsize=(5, 4.5))
    for name, p in scores.items():
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, p):.3f})")
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve (test)")
    ax.legend(loc="lower right", fontsize=8)
    return _svg(fig)


def calibration_plot(y: np.ndarray, scores: Mapping[str, np.ndarray]) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4.5))
    edges = np.linspace(0, 1, ECE_BINS + 1)
    for name, p in scores.items():
        idx = np.minimum((p * ECE_BINS).astype(int), ECE_BINS - 1)
        used = [b for b in range(ECE_BINS) if (idx == b).any()]
        ax.plot(
            [p[idx == b].mean() for b in used],
            [y[idx == b].mean() for b in used],
            marker="o",
            ms=3,
            label=name,
        )
    ax.plot([0, 1], [0, 1], ls=":", c="grey", label="perfect")
    ax.set(
        xlabel="mean predicted probability",
        ylabel="observed cancellation rate",
        title=f"Calibration (test, {len(edges) - 1} bins)",
    )
    ax.legend(loc="upper left", fontsize=8)
    return _svg(fig)


def histogram_plot(y: np.ndarray, p: np.ndarray) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4.5))
    bins = np.linspace(0, 1, 41).tolist()
    ax.hist(p[y < 0.5], bins=bins, alpha=0.6, label="fulfilled")
    ax.hist(p[y >= 0.5], bins=bins, alpha=0.6, label="cancelled")
    ax.set(xlabel="predicted probability", ylabel="orders", title="Scores by outcome (test)")
    ax.legend(fontsize=8)
    return _svg(fig)


def importance_plot(importance: Mapping[str, float], top: int = 20) -> str:
    import matplotlib.pyplot as plt

    items = list(importance.items())[:top][::-1]
    fig, ax = plt.subplots(figsize=(5.5, 0.25 * len(items) + 1.2))
    ax.barh([k for k, _ in items], [v for _, v in items])
    ax.set(xlabel="mean |contribution| (log-odds)", title="Global feature importance (test)")
    return _svg(fig)


def _table(rows: Mapping[str, Mapping[str, float]]) -> str:
    columns = list(next(iter(rows.values())))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        f"<tr><th>{html.escape(name)}</th>"
        + "".join(f"<td>{values.get(c, float('nan')):.4f}</td>" for c in columns)
        + "</tr>"
        for name, values in rows.items()
    )
    return f"<table><tr><th></th>{head}</tr>{body}</table>"


_STYLE = """body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;
text-align:right}figure{display:inline-block;margin:.5rem;vertical-align:top}
figcaption{font-size:.85rem;color:#555}"""


def write_report(
    directory: Path,
    *,
    title: str,
    facts: Mapping[str, Any],
    metrics: Mapping[str, Mapping[str, float]],
    y_test: np.ndarray,
    scores: Mapping[str, np.ndarray],
    network: str,
    importance: Mapping[str, float],
    comparison: Mapping[str, Mapping[str, float]] | None = None,
) -> Path:
    """Write ``directory/report.html``; ``scores`` are test probabilities per model."""
    import matplotlib

    matplotlib.use("Agg")
    directory.mkdir(parents=True, exist_ok=True)
    figures = {
        "roc-curve": roc_plot(y_test, scores),
        "calibration": calibration_plot(y_test, scores),
        "score-histogram": histogram_plot(y_test, scores[network]),
        "feature-importance": importance_plot(importance),
    }
    fact_rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in facts.items()
    )
    sections = [
        f"<h1>{html.escape(title)}</h1>",
        f"<table>{fact_rows}</table>",
        "<h2>Metrics of the network</h2>",
        _table(metrics),
    ]
    if comparison:
        sections += ["<h2>Baselines on the same split (test)</h2>", _table(comparison)]
    sections.append("<h2>Plots</h2>")
    sections += [
        f'<figure id="{name}">{svg}<figcaption>{name}</figcaption></figure>'
        for name, svg in figures.items()
    ]
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title><style>{_STYLE}</style></head><body>{''.join(sections)}</body></html>"
    )
    path = directory / REPORT_FILE
    path.write_text(page)
    return path
