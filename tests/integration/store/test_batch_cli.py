"""`ocs batch run` as the CronJob runs it (a real process), and `--ray` giving the same scores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from serving.batch.run import run_batch
from serving.batch.scoring import load_scoring, ray_scorer
from serving.store.db import Database
from serving.store.migrate import upgrade
from serving.store.models import Prediction
from training import synth

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def ocs(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "serving", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_batch_run_from_a_file_then_from_the_database(deployment, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCS_")}
    env |= {
        "PYTHONPATH": str(ROOT),
        "OCS_STATE_DIR": str(tmp_path / "state"),
        "OCS_REGISTRY_DIR": str(deployment.state_dir / "registry"),
        "OCS_DATABASE_URL": f"sqlite:///{tmp_path / 'ocs.db'}",
    }
    frame = synth.generate(300, seed=31)
    frame["deposit_share"] = frame["deposit_share"].astype(object)
    frame.loc[4, "deposit_share"] = "half"
    frame.to_csv(tmp_path / "day.csv", index=False)
    behind = ocs(
        ["batch", "run", "--input", "day.csv"],
        {**env, "OCS_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none"},
        tmp_path,
    )
    assert behind.returncode == 2 and "error:" in behind.stderr

    first = ocs(
        ["batch", "run", "--input", "day.csv", "--date", "2026-12-03", "--json"], env, tmp_path
    )
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert (summary["scored"], summary["rejected"]) == (299, 1)
    rejects = pd.read_csv(summary["rejects_file"])
    assert rejects["row"].tolist() == [5] and rejects["reasons"][0] == "deposit_share: not a number"
    text = ocs(["batch", "run", "--input", "day.csv", "--date", "2026-12-03"], env, tmp_path)
    assert "already scored earlier 299" in text.stdout and "emails queued 0" in text.stdout

    valid = frame.drop(index=4)
    day = pd.to_datetime(valid["order_date"]).dt.date.value_counts().index[0]
    placed = int((pd.to_datetime(valid["order_date"]).dt.date == day).sum())
    from_db = ocs(["batch", "run", "--from-db", "--date", str(day), "--json"], env, tmp_path)
    assert from_db.returncode == 0, from_db.stderr
    stored = json.loads(from_db.stdout)
    assert (stored["rows"], stored["scored"], stored["rejected"]) == (placed, placed, 0)


@pytest.mark.slow
def test_ray_data_scores_equal_the_in_process_scores(deployment, tmp_path):
    ray = pytest.importorskip("ray")
    url = f"sqlite:///{tmp_path / 'ocs.db'}"
    upgrade(url)
    settings = deployment.settings(database_url=url, batch_chunk_rows=1000)
    scoring = load_scoring(settings)
    frame = synth.generate(3000, seed=32)
    db = Database(url)
    try:
        got = ray_scorer(scoring)(frame)
        summary = run_batch(
            settings,
            db,
            scoring,
            frame,
            date(2026, 12, 3),
            source_name="day",
            with_orders=True,
            stream=None,
            progress=False,
            score=ray_scorer(scoring),
            score_at_once=True,
        )
    finally:
        ray.shutdown()
    expected = scoring.probabilities(frame)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    assert summary.scored == 3000
    with db.session() as session:
        stored = dict(session.execute(select(Prediction.order_id, Prediction.probability)).all())
    np.testing.assert_allclose([stored[o] for o in frame["order_id"]], expected, rtol=0, atol=1e-9)
    db.dispose()


def count_predictions(url: str) -> int:
    db = Database(url)
    try:
        with db.session() as session:
            return len(session.execute(select(Prediction.order_id)).all())
    finally:
        db.dispose()


@pytest.mark.slow
def test_a_batch_killed_with_sigkill_resumes_without_duplicates(deployment, tmp_path):
    """A real `ocs batch run` process is killed mid-day; the re-run scores only what is left."""
    import signal
    import time

    url = f"sqlite:///{tmp_path / 'ocs.db'}"
    upgrade(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCS_")}
    env |= {
        "PYTHONPATH": str(ROOT),
        "OCS_STATE_DIR": str(tmp_path / "state"),
        "OCS_REGISTRY_DIR": str(deployment.state_dir / "registry"),
        "OCS_DATABASE_URL": url,
        "OCS_BATCH_CHUNK_ROWS": "5",  # many small commits: the kill lands between two of them
    }
    frame = synth.generate(4000, seed=33)
    frame.to_csv(tmp_path / "day.csv", index=False)
    args = [sys.executable, "-m", "serving", "batch", "run", "--input", "day.csv", "--json"]
    args += ["--date", "2026-12-03"]
    proc = subprocess.Popen(args, env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while count_predictions(url) < 500 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL, "the batch finished before it could be killed"
    stored = count_predictions(url)
    assert 500 <= stored < 4000

    again = ocs(args[3:], env, tmp_path)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["scored"] == 4000 - stored  # a chunk is stored whole or not at all
    assert count_predictions(url) == 4000
    db = Database(url)
    with db.session() as session:  # exactly one prediction per order
        ids = [r[0] for r in session.execute(select(Prediction.order_id)).all()]
    db.dispose()
    assert sorted(ids) == sorted(frame["order_id"])
