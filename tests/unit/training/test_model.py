import numpy as np
import pytest
import torch

from training import synth
from training.artifact import ModelArtifact
from training.data import DataError, labels, split
from training.model import ModelConfig, TabularNet, embedding_dim
from training.spec import FeatureSpec
from training.train import TrainParams, train


def test_forward_shape_and_embedding_sizes():
    net = TabularNet(ModelConfig(n_numeric=3, cardinalities=[5, 300]))
    out = net(torch.zeros(7, 3), torch.zeros(7, 2, dtype=torch.long))
    assert out.shape == (7,)
    assert [e.embedding_dim for e in net.embeddings] == [embedding_dim(5), 16]


def test_trained_model_learns_and_reports_metrics(trained):
    test = trained.metrics["test"]
    assert trained.split_kind == "temporal"
    assert test["roc_auc"] > 0.7
    assert test["accuracy_vs_bayes"] > 0.9
    assert set(test) >= {"roc_auc", "accuracy", "log_loss", "brier", "bayes_accuracy"}
    assert trained.best_epoch >= 1


def test_training_is_reproducible(orders_df, spec):
    params = TrainParams(epochs=2, seed=5)
    a = train(orders_df.head(2000), spec, params, progress=False)
    b = train(orders_df.head(2000), spec, params, progress=False)
    for part in ("valid", "test"):
        for name, value in a.metrics[part].items():
            assert b.metrics[part][name] == pytest.approx(value, abs=1e-6)


def test_artifact_round_trip(trained, orders_df, tmp_path):
    trained.artifact.save(tmp_path)
    loaded = ModelArtifact.load(tmp_path)
    head = orders_df.head(100)
    np.testing.assert_array_equal(trained.artifact.predict_frame(head), loaded.predict_frame(head))


def test_temporal_split_keeps_the_future_out(orders_df, spec):
    parts = split(orders_df, spec, seed=0)
    assert parts.train["order_date"].max() <= parts.valid["order_date"].min()
    assert parts.valid["order_date"].max() <= parts.test["order_date"].min()
    assert len(parts.train) + len(parts.valid) + len(parts.test) == len(orders_df)


def test_label_errors(spec):
    df = synth.generate(100, seed=0)
    df.loc[3, "outcome"] = None
    with pytest.raises(DataError, match="1 missing values"):
        labels(df, spec)
    other = FeatureSpec.from_dict(
        {**spec.to_dict(), "label": {"column": "outcome", "positive": "x"}}
    )
    with pytest.raises(DataError, match="never occurs"):
        labels(synth.generate(100, seed=0), other)


def test_too_few_rows(spec):
    with pytest.raises(DataError, match="each part needs at least 10"):
        train(synth.generate(30, seed=0), spec, progress=False)
