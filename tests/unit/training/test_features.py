import json

import numpy as np
import pandas as pd
import pytest

from training import synth
from training.features import MISSING_INDEX, UNKNOWN_INDEX, FeatureError, Preprocessor
from training.spec import FeatureSpec


@pytest.fixture(scope="module")
def fitted(orders_df, spec) -> Preprocessor:
    return Preprocessor.fit(orders_df, spec)


def test_state_is_json_and_round_trips(fitted, spec, orders_df):
    state = json.loads(json.dumps(fitted.state))
    again = Preprocessor(spec, state)
    a, b = fitted.transform(orders_df), again.transform(orders_df)
    np.testing.assert_array_equal(a.numeric, b.numeric)
    np.testing.assert_array_equal(a.categorical, b.categorical)


def test_frame_and_records_give_identical_encodings(fitted, orders_df):
    head = orders_df.head(300)
    records = [
        {k: (None if pd.isna(v) else v) for k, v in r.items()} for r in head.to_dict("records")
    ]
    a, b = fitted.transform(head), fitted.transform_records(records)
    np.testing.assert_array_equal(a.numeric, b.numeric)
    np.testing.assert_array_equal(a.categorical, b.categorical)


def test_csv_round_trip_encodes_the_same(fitted, orders_df, tmp_path):
    head = orders_df.head(300)
    head.to_csv(tmp_path / "o.csv", index=False)
    back = pd.read_csv(tmp_path / "o.csv")
    a, b = fitted.transform(head), fitted.transform(back)
    np.testing.assert_allclose(a.numeric, b.numeric, atol=1e-6)
    np.testing.assert_array_equal(a.categorical, b.categorical)


def test_unknown_and_missing_categories(fitted, orders_df):
    row = orders_df.head(2).to_dict("records")
    row[0]["region"] = "atlantis"
    row[1]["region"] = None
    enc = fitted.transform_records(row)
    col = fitted.categorical_features.index("region")
    assert enc.categorical[0, col] == UNKNOWN_INDEX
    assert enc.categorical[1, col] == MISSING_INDEX


def test_missing_numeric_is_filled_and_flagged(fitted, orders_df):
    rows = orders_df.head(2).to_dict("records")
    rows[0]["customer_tenure_years"] = None
    rows[1]["customer_tenure_years"] = fitted.state["customer_tenure_years"]["fill"]
    enc = fitted.transform_records(rows)
    cols = fitted.numeric_columns
    value = cols.index("customer_tenure_years")
    flag = cols.index("customer_tenure_years__missing")
    assert enc.numeric[0, value] == enc.numeric[1, value]  # filled with the training median
    assert enc.numeric[0, flag] == 1.0 and enc.numeric[1, flag] == 0.0


def test_error_policy_names_the_feature(fitted, orders_df):
    rows = orders_df.head(3).to_dict("records")
    rows[2]["order_value"] = None
    with pytest.raises(FeatureError, match="order_value"):
        fitted.transform_records(rows)


def test_rare_categories_share_the_unknown_bucket():
    df = pd.DataFrame(
        {"id": range(30), "y": [0, 1] * 15, "c": ["a"] * 25 + ["b"] * 4 + ["z"], "x": range(30)}
    )
    spec = FeatureSpec.from_dict(
        {
            "name": "t",
            "id_column": "id",
            "label": {"column": "y"},
            "features": {"c": {"type": "categorical", "min_count": 5}, "x": {"type": "numeric"}},
        }
    )
    pre = Preprocessor.fit(df, spec)
    assert pre.state["c"]["vocabulary"] == ["a"]
    enc = pre.transform(df)
    assert set(enc.categorical[25:, 0]) == {UNKNOWN_INDEX}


def test_booleans_from_strings_and_bad_values():
    spec = FeatureSpec.from_dict(
        {
            "name": "t",
            "id_column": "id",
            "label": {"column": "y"},
            "features": {"b": {"type": "boolean"}},
        }
    )
    df = pd.DataFrame({"id": [1, 2, 3, 4], "y": [0, 1, 0, 1], "b": ["yes", "no", "True", None]})
    pre = Preprocessor.fit(df, spec)
    assert pre.state["b"]["fill"] == 1.0  # most frequent of yes/no/True
    with pytest.raises(FeatureError, match="b: row 0: 'maybe' is not a boolean"):
        pre.transform(pd.DataFrame({"b": ["maybe"]}))


def test_missing_feature_columns_are_named(spec):
    df = synth.generate(50, seed=0).drop(columns=["region", "channel"])
    with pytest.raises(FeatureError, match="region"):
        Preprocessor.fit(df, spec)


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        (["1", "2", None, "x", "1"], [2, 3, 0, 1, 2]),  # strings: factorized, looked up once
        ([1, 2, np.nan, 3, 1], [2, 3, 0, 1, 2]),  # numbers with a missing value
        ([True, 1, "1", 1.0, None], [4, 2, 2, 2, 0]),  # hash-equal kinds: one by one
    ],
)
def test_vectorized_categories_equal_the_row_by_row_lookup(spec, column, expected):
    state = Preprocessor.fit(synth.generate(200, seed=1), spec).state
    pre = Preprocessor(spec, {**state, "region": {"vocabulary": ["1", "2", "true"]}})
    fast = pre._categories("region", pd.Series(column, dtype=object))
    slow = [int(pre._categories("region", [v])[0]) for v in column]
    assert fast.tolist() == slow == expected
    assert MISSING_INDEX == 0 and UNKNOWN_INDEX == 1
