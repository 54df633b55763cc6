import numpy as np
import pytest

from training.pipeline import register
from training.registry import MODEL_NAME, Registry, RegistryError


def test_save_load_list_and_metadata(tmp_path, trained, orders_df):
    reg = Registry(tmp_path)
    first = register(trained, reg, source="a.parquet")
    second = register(trained, reg, source="b.parquet", labels={"stage": "production"})
    assert first.startswith(f"{MODEL_NAME}:") and first != second
    assert [r.tag for r in reg.list()] == [second, first]  # newest first
    assert reg.load("latest").tag == second
    version_only = first.split(":", 1)[1]
    assert reg.load(version_only).tag == first
    record = reg.record(second)
    assert record.labels == {"spec": "dealer_orders", "stage": "production"}
    meta = record.metadata
    assert meta["data_source"] == "b.parquet" and meta["data_fingerprint"]
    assert meta["metrics"]["test"]["roc_auc"] == pytest.approx(trained.metrics["test"]["roc_auc"])
    assert meta["spec"]["name"] == "dealer_orders"
    assert meta["params"]["seed"] == 0 and meta["code_version"]
    head = orders_df.head(50)
    np.testing.assert_array_equal(
        reg.load(first).predict_frame(head), trained.artifact.predict_frame(head)
    )


def test_unknown_tag_says_what_to_do(tmp_path):
    with pytest.raises(RegistryError, match="ocs train"):
        Registry(tmp_path).load("latest")
    with pytest.raises(RegistryError, match="nope"):
        Registry(tmp_path).record("cancel-predictor:nope")
