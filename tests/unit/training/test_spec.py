from pathlib import Path

import pytest

from training.spec import FeatureSpec, FeatureType, SpecError, load_spec


def _base(**changes):
    spec = {
        "name": "t",
        "id_column": "id",
        "label": {"column": "y", "positive": "Canceled"},
        "features": {"x": {"type": "numeric"}, "c": {"type": "categorical"}},
    }
    spec.update(changes)
    return spec


def test_shipped_spec_loads_by_name():
    spec = load_spec("dealer_orders")
    assert spec.label.positive == "cancelled"
    assert spec.time_column == "order_date" and spec.dealer_column == "dealer_id"
    assert len(spec.features) >= 15
    assert spec.features["trade_in"].type is FeatureType.boolean
    assert spec.features["order_value"].missing_policy == "error"
    assert spec.features["region"].missing_policy == "category"  # the default for categoricals


def test_spec_loads_from_a_path(tmp_path: Path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "name: mine\nid_column: id\nlabel: {column: y}\nfeatures: {a: {type: boolean}}\n"
    )
    spec = load_spec(path)
    assert spec.name == "mine" and spec.label.positive == 1


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"features": {"x": {"type": "text"}}}, "features.x.type", "'numeric'"),
        ({"features": {"x": {"type": "numeric", "missing": "category"}}}, "features.x", "median"),
        ({"features": {"x": {"type": "numeric", "colour": 1}}}, "features.x.colour", "unknown"),
        (
            {"features": {"c": {"type": "categorical", "transform": "log1p"}}},
            "features.c",
            "numeric",
        ),
        ({"features": {}}, "features", "at least 1"),
        ({"dealer_column": "dealer"}, "dealer_column", "must be one of the features"),
        ({"features": {"y": {"type": "numeric"}}}, "label.column", "must not also be listed"),
        ({"label": {"positive": 1}}, "label.column", "Field required"),
        ({"name": "has space"}, "name", "pattern"),
    ],
)
def test_bad_spec_names_field_and_reason(changes, field, reason):
    with pytest.raises(SpecError) as err:
        FeatureSpec.from_dict(_base(**changes))
    message = str(err.value)
    assert field in message and reason in message


def test_unknown_spec_lists_the_shipped_ones():
    with pytest.raises(SpecError, match=r"shipped: .*dealer_orders"):
        load_spec("no_such_spec")


def test_bad_yaml_is_reported(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(path)
    path.write_text("- a list\n")
    with pytest.raises(SpecError, match="mapping at the top level"):
        load_spec(path)


def test_spec_round_trips_through_dict():
    spec = load_spec("dealer_orders")
    assert FeatureSpec.from_dict(spec.to_dict()) == spec


def test_protocol_fields_are_checked():
    with pytest.raises(SpecError, match=r"drop_columns \['x'\] are also used"):
        FeatureSpec.from_dict(_base(drop_columns=["x"]))
    with pytest.raises(SpecError, match="test_from needs a time_column"):
        FeatureSpec.from_dict(_base(split={"test_from": "2017-01-01"}))
    with pytest.raises(SpecError, match=r"training\.ensemble"):
        FeatureSpec.from_dict(_base(training={"ensemble": 0}))


def test_hotel_spec_declares_the_protocol():
    spec = load_spec("hotel_bookings")
    assert spec.protocol == "hotel-temporal-v1" and spec.dealer_column == "agent"
    assert set(spec.drop_columns) == {
        "reservation_status",
        "reservation_status_date",
        "assigned_room_type",
        "booking_changes",
        "days_in_waiting_list",
        "arrival_date_year",
    }
    assert str(spec.split.test_from) == "2017-01-01"
