"""Checks of incoming order records against a spec, reporting every problem with its field."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from training.spec import FeatureSpec, FeatureType


@dataclass(frozen=True)
class FieldProblem:
    row: int
    field: str
    message: str


def _type_problem(ftype: FeatureType, value: Any) -> str | None:
    if ftype is FeatureType.numeric:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"expected a number, got {type(value).__name__}"
        if isinstance(value, float) and not math.isfinite(value):
            return "expected a finite number"
    elif ftype is FeatureType.boolean:
        if not isinstance(value, bool):
            return f"expected true or false, got {type(value).__name__}"
    elif isinstance(value, bool) or not isinstance(value, str | int):
        return f"expected a string, got {type(value).__name__}"
    return None


def check_records(
    spec: FeatureSpec, records: Sequence[Mapping[str, Any]], limit: int = 100
) -> list[FieldProblem]:
    """Every unknown, missing, mistyped or disallowed-null feature, up to ``limit`` problems."""
    problems: list[FieldProblem] = []
    features = spec.features
    for row, record in enumerate(records):
        for name in record:
            if name not in features:
                problems.append(FieldProblem(row, name, "unknown feature"))
        for name, feat in features.items():
            if name not in record:
                problems.append(FieldProblem(row, name, f"missing {feat.type.value} feature"))
                continue
            value = record[name]
            if value is None:
                if feat.missing_policy == "error":
                    problems.append(FieldProblem(row, name, "must not be null"))
                continue
            problem = _type_problem(feat.type, value)
            if problem:
                problems.append(FieldProblem(row, name, problem))
        if len(problems) >= limit:
            return problems[:limit]
    return problems
