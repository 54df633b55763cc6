"""Email requests for the batch's at-risk orders, from the contact columns of the day's file.

Columns read (those of ``ocs data synth`` and a typical OMS export): ``customer_email``
(required), ``customer_first_name``, ``customer_last_name``, ``dealer_name``, ``product`` or
``product_line``, ``order_value``, ``delivery_delay_days``, ``currency``, ``language``.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from pydantic import ValidationError

from serving.email.schemas import EmailRequest


def _text(row: dict[str, Any], *names: str) -> str:
    for name in names:
        value = row.get(name)
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            text = str(value).strip()
            if text:
                return text
    return ""


def email_request(row: dict[str, Any], probability: float) -> EmailRequest | str:
    """The request for one order, or why there can't be one (no usable contact)."""
    email = _text(row, "customer_email")
    if not email:
        return "no customer_email"
    delay_raw = row.get("delivery_delay_days")
    delay = 0
    if isinstance(delay_raw, int | float) and math.isfinite(delay_raw):
        delay = int(min(max(delay_raw, 0), 365))
    value_raw = row.get("order_value")
    value = float(value_raw) if isinstance(value_raw, int | float) and value_raw >= 0 else 0.0
    try:
        return EmailRequest.model_validate(
            {
                "order_id": str(row["order_id"]),
                "dealer_id": _text(row, "dealer_id") or "unknown",
                "dealer_name": _text(row, "dealer_name", "dealer_id") or "your dealer",
                "customer": {
                    "first_name": _text(row, "customer_first_name") or "customer",
                    "last_name": _text(row, "customer_last_name"),
                    "email": email,
                },
                "product": _text(row, "product", "product_line") or "your order",
                "order_value": value,
                "currency": _text(row, "currency") or "EUR",
                "delivery_status": "delayed" if delay > 0 else "on_time",
                "delay_days": delay,
                "risk": round(float(probability), 6),
                "language": _text(row, "language") or "en",
            }
        )
    except ValidationError as exc:
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


def email_requests(
    frame: pd.DataFrame, probabilities: Any
) -> tuple[list[EmailRequest], list[tuple[str, str]]]:
    """Requests for every row of ``frame`` and the (order_id, reason) of rows without one."""
    requests: list[EmailRequest] = []
    skipped: list[tuple[str, str]] = []
    for row, p in zip(frame.to_dict("records"), probabilities, strict=True):
        made = email_request({str(k): v for k, v in row.items()}, p)
        if isinstance(made, str):
            skipped.append((str(row["order_id"]), made))
        else:
            requests.append(made)
    return requests, skipped
