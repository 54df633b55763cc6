"""Canary assignment, settings, analysis and the canary backend's routing (no Ray needed)."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys

import pytest

from serving.canary import CanaryError, CanarySettings, assign_track, bucket, split
from serving.canary_analysis import Thresholds, Verdict, analyze, merge_reports
from serving.canary_backend import CanaryBackend
from serving.config import load_settings
from serving.metrics import Metrics


def test_bucket_is_stable_across_processes():
    ids = [f"SO-{i}" for i in range(20)]
    here = [bucket(i) for i in ids]
    code = f"from serving.canary import bucket; print([bucket(i) for i in {ids!r}])"
    # a fresh interpreter has another hash() salt: sha256 must give the same buckets
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123"},
    )
    assert other.stdout.strip() == str(here)
    assert bucket("SO-1") == 45  # pinned: changing the hash would move every live order


def test_assignment_is_sticky_and_monotonic_in_the_weight():
    rng = random.Random(0)
    ids = [f"o-{rng.getrandbits(40):x}" for _ in range(20000)]
    for weight in (0, 1, 10, 50, 99, 100):
        share = sum(assign_track(i, weight) == "canary" for i in ids) / len(ids)
        assert abs(share - weight / 100) < 0.015, (weight, share)
    on_10 = {i for i in ids if assign_track(i, 10) == "canary"}
    on_50 = {i for i in ids if assign_track(i, 50) == "canary"}
    assert on_10 < on_50  # raising the weight never moves an order back to stable
    stable, canary = split(ids[:100], 30)
    assert sorted(stable + canary) == list(range(100))
    assert all(assign_track(ids[i], 30) == "canary" for i in canary)


def test_canary_settings_from_user_config():
    assert CanarySettings.from_user_config(None).effective_weight(True) == 0
    s = CanarySettings.from_user_config({"canary": {"enabled": True, "weight": 20}})
    assert s.effective_weight(True) == 20 and s.effective_weight(False) == 0
    shadow = CanarySettings.from_user_config(
        {"canary": {"enabled": True, "weight": 20, "shadow": True}}
    )
    assert shadow.effective_weight(True) == 0 and shadow.shadows(True)
    with pytest.raises(CanaryError, match=r"canary\.weight"):
        CanarySettings.from_user_config({"canary": {"enabled": True, "weight": 101}})
    with pytest.raises(CanaryError, match=r"canary\.wieght"):
        CanarySettings.from_user_config({"canary": {"wieght": 5}})


def _track(scores, latency=0.01, errors=0, calls=None, prefix="o"):
    return {
        "orders": len(scores),
        "calls": calls if calls is not None else len(scores) // 10,
        "errors": errors,
        "latencies_s": [latency] * max(1, len(scores) // 10),
        "scores": [[f"{prefix}{i}", s] for i, s in enumerate(scores)],
    }


def _report(stable, canary, compared=0, agreed=0):
    return {
        "tracks": {"stable": stable, "canary": canary},
        "shadow": {"compared": compared, "agreed": agreed},
    }


@pytest.fixture
def scores():
    rng = random.Random(1)
    return [rng.betavariate(2, 3) for _ in range(1000)], [
        rng.betavariate(2, 3) for _ in range(1000)
    ]


def test_analysis_promotes_equivalent_and_rolls_back_constant(scores):
    a, b = scores
    th = Thresholds()
    good = analyze(_report(_track(a), _track(b, prefix="c")), th)
    assert good.verdict is Verdict.promote, good.reasons
    bad = analyze(_report(_track(a), _track([0.38] * 1000, prefix="c")), th)
    assert bad.verdict is Verdict.rollback
    assert bad.checks["score_distribution"] is False and bad.ks_statistic > 0.5


def test_analysis_checks_errors_latency_agreement_and_accuracy(scores):
    a, b = scores
    th = Thresholds()
    errors = analyze(_report(_track(a), _track(b, errors=20, calls=100)), th)
    assert errors.verdict is Verdict.rollback and "error rate" in errors.reasons[0]
    slow = analyze(_report(_track(a, latency=0.01), _track(b, latency=0.2)), th)
    assert slow.checks["p95_latency"] is False
    noisy = analyze(_report(_track(a, latency=0.010), _track(b, latency=0.030)), th)
    assert noisy.checks["p95_latency"] is True  # 3x but only 20 ms: below min_p95_increase_s
    shadow = analyze(_report(_track(a), _track(b), compared=1000, agreed=700), th)
    assert shadow.checks["shadow_agreement"] is False and shadow.agreement == 0.7
    outcomes = {f"o{i}": s >= 0.5 for i, s in enumerate(a)}  # stable is always right
    outcomes |= {f"c{i}": s < 0.5 for i, s in enumerate(b)}  # canary always wrong
    acc = analyze(_report(_track(a), _track(b, prefix="c")), th, outcomes)
    assert acc.tracks["stable"].accuracy == 1.0 and acc.tracks["canary"].accuracy == 0.0
    assert acc.checks["realized_accuracy"] is False and acc.checks["realized_brier"] is False
    # a constant "not cancelled" on rare cancellations: accuracy holds up, Brier does not
    rare = {f"o{i}": i % 10 == 0 for i in range(1000)} | {f"c{i}": i % 10 == 0 for i in range(1000)}
    good = [0.45 if i % 10 == 0 else 0.05 for i in range(1000)]  # right on 90%, as is flat
    flat = analyze(_report(_track(good), _track([0.3] * 1000, prefix="c")), th, rare)
    assert flat.checks["realized_accuracy"] is True and flat.checks["realized_brier"] is False


def test_analysis_holds_with_too_little_traffic(scores):
    a, _ = scores
    held = analyze(_report(_track(a), _track([0.1] * 20)), Thresholds())
    assert held.verdict is Verdict.hold and "too few orders" in held.reasons[0]


def test_merge_reports_pools_replicas(scores):
    a, b = scores
    merged = merge_reports(
        [
            _report(_track(a[:500]), _track(b[:500]), 10, 9),
            _report(_track(a[500:]), _track(b[500:]), 10, 8),
        ]
    )
    assert merged["tracks"]["stable"]["orders"] == 1000
    assert len(merged["tracks"]["canary"]["scores"]) == 1000
    assert merged["shadow"] == {"compared": 20, "agreed": 17}


def test_thresholds_come_from_settings():
    th = Thresholds.from_settings(load_settings(canary_min_orders=7, canary_ks_alpha=0.05))
    assert th.min_orders == 7 and th.ks_alpha == 0.05


class Backend:
    """A real in-process scorer of fixed behaviour: a stable or canary model stand-in."""

    def __init__(self, version, score, fail=False):
        self.version, self.score, self.fail, self.calls = version, score, fail, 0

    async def describe(self):
        return {
            "tag": f"m:{self.version}",
            "version": self.version,
            "spec": {"features": {"x": {}}},
            "risk_bands": {"medium": 0.35, "high": 0.6},
        }

    async def predict(self, records):
        self.calls += 1
        if self.fail:
            raise RuntimeError("canary replica died")
        return [self.score] * len(records)


def _routed(canary, config, n=400):
    backend = CanaryBackend(Backend("s1", 0.1), canary, load_settings(), Metrics(), "r1")
    backend.configure(CanarySettings.from_user_config({"canary": config}))

    async def go():
        await backend.describe()
        ids = [f"id-{i}" for i in range(n)]
        out = await backend.predict_tracked(ids, [{} for _ in ids])
        await asyncio.sleep(0.05)  # let shadow comparisons finish
        return ids, out

    ids, out = asyncio.run(go())
    return backend, ids, out


def test_backend_routes_by_order_id_and_labels_versions():
    backend, ids, out = _routed(Backend("c1", 0.9), {"enabled": True, "weight": 30})
    for order_id, s in zip(ids, out, strict=True):
        assert s.track == assign_track(order_id, 30)
        assert (s.model_version, s.probability) == (
            ("c1", 0.9) if s.track == "canary" else ("s1", 0.1)
        )
    report = backend.report()
    assert report["tracks"]["canary"]["orders"] == sum(s.track == "canary" for s in out)
    assert report["versions"] == {"stable": "s1", "canary": "c1"} and report["replica"] == "r1"


def test_a_failing_canary_is_answered_by_stable_and_counted():
    backend, _, out = _routed(Backend("c1", 0.9, fail=True), {"enabled": True, "weight": 50})
    assert {s.track for s in out} == {"stable"} and len(out) == 400
    canary = backend.report()["tracks"]["canary"]
    assert canary["errors"] == 1 and canary["orders"] > 0


def test_shadow_answers_with_stable_and_compares():
    canary = Backend("c1", 0.9)
    backend, _, out = _routed(canary, {"enabled": True, "weight": 50, "shadow": True})
    assert {s.track for s in out} == {"stable"} and canary.calls == 1
    shadow = backend.report()["shadow"]
    assert shadow["compared"] == 400 and shadow["agreement"] == 0.0  # low vs high band


def test_a_canary_with_other_features_gets_no_traffic():
    other = Backend("c2", 0.9)

    async def describe():
        return {"tag": "m:c2", "version": "c2", "spec": {"features": {"y": {}}}}

    other.describe = describe
    backend, _, out = _routed(other, {"enabled": True, "weight": 100})
    assert {s.track for s in out} == {"stable"} and other.calls == 0
    assert "other features" in backend.report()["canary_problem"]


def test_build_app_binds_a_canary_predictor_only_with_a_canary_tag(tmp_path):
    from serving.app import build_app

    plain = build_app({"state_dir": str(tmp_path)})._bound_deployment
    assert plain.init_args[3] is None  # (predictor, settings, emails, canary)
    with_canary = build_app({"state_dir": str(tmp_path), "canary_model_tag": "cancel-predictor:x"})
    canary = with_canary._bound_deployment.init_args[3]._bound_deployment
    assert canary.name == "PredictorCanary" and canary.init_args[1] == "cancel-predictor:x"
    stable = with_canary._bound_deployment.init_args[0]._bound_deployment
    assert stable.name == "Predictor" and stable.init_args[1:] == ()


def test_a_canary_that_never_answers_does_not_hold_stable(monkeypatch):
    from serving import canary_backend

    monkeypatch.setattr(canary_backend, "DESCRIBE_TIMEOUT_S", 0.05)
    hung = Backend("c3", 0.9)

    async def never():
        await asyncio.sleep(3600)

    hung.describe = never
    backend, _, out = _routed(hung, {"enabled": True, "weight": 100})
    assert {s.track for s in out} == {"stable"} and hung.calls == 0
    assert "not ready" in backend.report()["canary_problem"]
