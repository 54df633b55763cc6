"""Scores a large file straight to a Parquet file: the bulk path, no database, no emails.

For back-fills and inputs too big for one day's transaction: read (pyarrow), validate, the
served model's feature path, and the predictions written as Parquet next to a rejects file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from serving.batch.run import Scoring
from serving.batch.validate import InputError, check
from training.bands import band_array


@dataclass
class ExportTimes:
    seconds: dict[str, float] = field(default_factory=dict)
    rows: int = 0
    scored: int = 0
    rejected: int = 0

    def total(self) -> float:
        return sum(self.seconds.values())


def read_table(path: Path, columns: list[str]) -> pd.DataFrame:
    """Only the columns scoring needs (Parquet reads no others; CSV parses them in threads)."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.suffix == ".parquet":
        present = set(pq.read_schema(path).names)
        frame: pd.DataFrame = pq.read_table(
            path, columns=[c for c in columns if c in present]
        ).to_pandas()
        return frame
    if path.suffix == ".csv":
        options = pacsv.ConvertOptions(
            include_columns=columns,
            include_missing_columns=False,
            column_types={columns[0]: pa.string()},
        )
        parsed: pd.DataFrame = pacsv.read_csv(path, convert_options=options).to_pandas()
        return parsed
    raise InputError(f"{path}: expected a .csv or .parquet file")


def score_to_parquet(
    scoring: Scoring, source: Path, output: Path, rejects: Path | None = None
) -> ExportTimes:
    spec = scoring.artifact.spec
    times = ExportTimes()
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        times.seconds[name] = now - clock
        clock = now

    columns = [spec.id_column, *spec.features]
    if spec.time_column:
        columns.append(spec.time_column)
    frame = read_table(source, columns)
    lap("read")
    checked = check(frame, spec, spec.time_column)
    lap("validate")
    encoded = scoring.artifact.preprocessor.transform(checked.valid)
    lap("features")
    probabilities = scoring.artifact.predict_proba(encoded)
    lap("model")
    table = pa.table(
        {
            "order_id": pa.array(checked.valid[spec.id_column].to_numpy(), pa.string()),
            "probability": pa.array(probabilities, pa.float64()),
            "risk": pa.array(band_array(probabilities, scoring.thresholds), pa.string()),
            "model_version": pa.array([scoring.version] * len(probabilities), pa.string()),
        }
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, output)
    if rejects is not None and not checked.rejects.empty:
        checked.rejects.to_csv(rejects, index=False)
    lap("write")
    times.rows, times.scored, times.rejected = len(frame), len(table), len(checked.rejects)
    return times
