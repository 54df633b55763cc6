"""Classical baselines fitted on the same split and the same encoded features as the network.

Every model reads the preprocessor's output (standardized numerics, category indices with rare
and unseen categories bucketed), so the comparison is between learners, not feature pipelines.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from training.data import Split, labels
from training.features import Encoded, Preprocessor
from training.metrics import binary_metrics

_HGB_MAX_CATEGORIES = 254  # HistGradientBoosting's native categories must fit in its bins


@dataclass(frozen=True)
class Fitted:
    name: str
    predict: Callable[[Encoded], np.ndarray]
    fit_seconds: float


def _dense(e: Encoded) -> np.ndarray:
    return np.hstack([e.numeric.astype(np.float64), e.categorical.astype(np.float64)])


def logistic_regression(train: Encoded, y: np.ndarray, pre: Preprocessor, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import OneHotEncoder

    categories: Any = [np.arange(c) for c in pre.cardinalities]
    onehot = OneHotEncoder(categories=categories, handle_unknown="ignore")
    onehot.fit(train.categorical)
    from scipy import sparse

    def design(e: Encoded) -> Any:
        return sparse.hstack(
            [sparse.csr_matrix(e.numeric), onehot.transform(e.categorical)]
        ).tocsr()

    model = LogisticRegression(C=1.0, max_iter=2000, random_state=seed).fit(design(train), y)
    return lambda e: model.predict_proba(design(e))[:, 1]


def hist_gradient_boosting(train: Encoded, y: np.ndarray, pre: Preprocessor, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    n_num = train.numeric.shape[1]
    native = [card <= _HGB_MAX_CATEGORIES for card in pre.cardinalities]
    mask = [False] * n_num + native
    model = HistGradientBoostingClassifier(categorical_features=mask, random_state=seed)
    model.fit(_dense(train), y)
    return lambda e: model.predict_proba(_dense(e))[:, 1]


def lightgbm(train: Encoded, y: np.ndarray, pre: Preprocessor, seed: int) -> Any:
    import lightgbm as lgb

    n_num = train.numeric.shape[1]
    cats = list(range(n_num, n_num + len(pre.cardinalities)))
    model = lgb.LGBMClassifier(random_state=seed, n_jobs=1, deterministic=True, verbose=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model.fit(_dense(train), y, categorical_feature=cats)
    proba: Any = model.predict_proba
    return lambda e: proba(_dense(e))[:, 1]


BASELINES: dict[str, Callable[[Encoded, np.ndarray, Preprocessor, int], Any]] = {
    "logistic_regression": logistic_regression,
    "hist_gradient_boosting": hist_gradient_boosting,
    "lightgbm": lightgbm,
}


def predict_ms_per_1000(predict: Callable[[Encoded], np.ndarray], data: Encoded) -> float:
    rows = min(len(data), 5000)
    sample = Encoded(data.numeric[:rows], data.categorical[:rows])
    predict(sample)  # warm-up
    started = time.perf_counter()
    predict(sample)
    return (time.perf_counter() - started) * 1000 * 1000 / rows


def compare(
    parts: Split,
    pre: Preprocessor,
    network: Callable[[Encoded], np.ndarray],
    network_fit_seconds: float,
    seed: int,
    names: list[str] | None = None,
) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """Test metrics of the network and each baseline (rows are models), and their test scores."""
    spec = pre.spec
    train, test = pre.transform(parts.train), pre.transform(parts.test)
    y_train, y_test = labels(parts.train, spec), labels(parts.test, spec)
    predictors: dict[str, tuple[Callable[[Encoded], np.ndarray], float]] = {
        "torch_mlp": (network, network_fit_seconds)
    }
    for name in names or list(BASELINES):
        started = time.perf_counter()
        predictors[name] = (
            BASELINES[name](train, y_train, pre, seed),
            time.perf_counter() - started,
        )
    table, scores = {}, {}
    for name, (predict, seconds) in predictors.items():
        scores[name] = predict(test)
        row = binary_metrics(y_test, scores[name])
        table[name] = {
            "roc_auc": row["roc_auc"],
            "accuracy": row["accuracy"],
            "log_loss": row["log_loss"],
            "brier": row["brier"],
            "ece": row["ece"],
            "fit_seconds": seconds,
            "predict_ms_per_1000": predict_ms_per_1000(predict, test),
        }
    return table, scores
