from training.validation import check_records


def test_valid_record_has_no_problems(spec):
    record = {
        "order_value": 30000.0,
        "product_line": "suv",
        "lead_time_days": 40,
        "delivery_delay_days": 3,
        "financing_status": "approved",
        "deposit_share": 0.1,
        "payment_method": "financing",
        "customer_tenure_years": None,
        "prior_orders": 2,
        "prior_cancellations": 0,
        "region": "north",
        "channel": "online",
        "trade_in": False,
        "num_contacts": 1,
        "dealer_id": "D001",
        "order_month": 3,
    }
    assert check_records(spec, [record]) == []
    bad = {**record, "colour": "red", "order_value": "30000", "trade_in": 1, "region": 2.5}
    del bad["channel"]
    bad["deposit_share"] = float("inf")
    problems = {(p.field, p.message) for p in check_records(spec, [record, bad])}
    assert problems == {
        ("colour", "unknown feature"),
        ("channel", "missing categorical feature"),
        ("order_value", "expected a number, got str"),
        ("trade_in", "expected true or false, got int"),
        ("region", "expected a string, got float"),
        ("deposit_share", "expected a finite number"),
    }
    nulls = check_records(spec, [{**record, "order_value": None}])
    assert [(p.row, p.field, p.message) for p in nulls] == [(0, "order_value", "must not be null")]


def test_problem_count_is_bounded(spec):
    assert len(check_records(spec, [{"x": 1}] * 50, limit=30)) == 30
