"""Sticky weighted variants, the circuit breaker and reading model output."""

from __future__ import annotations

from collections import Counter

import pytest

from serving.email.breaker import CircuitBreaker
from serving.email.kinds import EmailVariant, EngineKind
from serving.email.parsing import UnparseableOutput, parse_email
from serving.email.variants import assign

VARIANTS = [
    EmailVariant(name="a", engine=EngineKind.local, weight=3),
    EmailVariant(name="b", engine=EngineKind.template, weight=1),
]


def test_assignment_is_sticky_and_follows_the_weights():
    ids = [f"ORD-{i}" for i in range(8000)]
    first = [assign(i, VARIANTS).name for i in ids]
    assert first == [assign(i, VARIANTS).name for i in ids]
    share = Counter(first)["a"] / len(ids)
    assert 0.72 < share < 0.78


def test_variant_names_must_be_unique():
    with pytest.raises(ValueError, match="unique"):
        assign("x", [VARIANTS[0], VARIANTS[0]])


def test_breaker_opens_after_k_failures_and_half_opens_after_the_cooldown():
    now = [0.0]
    breaker = CircuitBreaker(failures=3, cooldown_s=10, clock=lambda: now[0])
    for _ in range(2):
        breaker.failure()
    assert breaker.allow()
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    now[0] = 11
    assert breaker.state == "half_open" and breaker.allow()
    breaker.failure()  # the trial failed: open again at once
    assert not breaker.allow()
    now[0] = 22
    breaker.success()
    assert breaker.state == "closed" and breaker.consecutive == 0


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        ('{"subject": "Your order", "body": "Dear Anna, ..."}', "Your order"),
        ('Sure! ```json\n{"subject": "Your order", "body": "Dear Anna, ..."}\n```', "Your order"),
        ('{"subject": "Your order", "body": "Dear Anna, cut off by max tok', "Your order"),
        ("Subject: Your order\n\nDear Anna, ...", "Your order"),
        ("**Subject:** Your order\nBody: Dear Anna, ...", "Your order"),
    ],
)
def test_model_output_is_read_as_subject_and_body(text, subject):
    got_subject, body = parse_email(text)
    assert got_subject == subject and body.startswith("Dear Anna")


def test_prose_without_a_subject_gets_the_default_one_and_nothing_is_refused():
    assert parse_email("Hello Anna,\n\nyour bike ...", "Your order") == (
        "Your order",
        "Hello Anna,\n\nyour bike ...",
    )
    for empty in ("", "   ", '{"subject": "x"}'):
        with pytest.raises(UnparseableOutput):
            parse_email(empty, "Your order")
    with pytest.raises(UnparseableOutput):
        parse_email("no subject and no default")
