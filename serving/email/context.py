"""What prompts and templates see of an order: sanitized facts, offer lines, a stable hash."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from serving.email.schemas import EmailRequest, Offer

LANGUAGE_NAMES = {"en": "English", "de": "German"}
# Characters that would read as markup or placeholders if a name carried them.
_UNSAFE = re.compile(r"[<>\[\]{}\\|`]")


def clean(text: str) -> str:
    """A name or label safe to put into a template: no markup characters, one line."""
    return " ".join(_UNSAFE.sub("", text).split())


def number(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.2f}"


def offer_text(offer: Offer, currency: str, language: str) -> str:
    """An offer written from its structured fields, so the wording can't drift from the catalog."""
    code = clean(offer.code)
    if offer.percent is not None:
        what = f"{number(offer.percent)}% " + ("Rabatt" if language == "de" else "off your order")
    elif offer.amount is not None:
        what = f"{number(offer.amount)} {currency} " + (
            "Rabatt" if language == "de" else "off your order"
        )
    else:
        what = clean(offer.description)
    label = "Code" if language == "de" else "code"
    return f"{what} ({label} {code})"


def order_url(template: str, request: EmailRequest) -> str:
    return template.replace("{order_id}", request.order_id) if template else ""


def variables(request: EmailRequest, url_template: str = "") -> dict[str, Any]:
    """Template variables; every free-text field is cleaned, notes are passed as data only."""
    if request.delivery_status == "delayed" and request.delay_days:
        delivery = f"delayed by {request.delay_days} days"
    else:
        delivery = request.delivery_status.replace("_", " ")
    return {
        "order_id": request.order_id,
        "dealer_name": clean(request.dealer_name),
        "first_name": clean(request.customer.first_name),
        "product": clean(request.product),
        "order_value": number(request.order_value),
        "currency": request.currency,
        "delivery_status": request.delivery_status,
        "delay_days": request.delay_days,
        "delivery": delivery,
        "factors": ", ".join(clean(f) for f in request.top_factors) or "not given",
        "notes": clean(request.notes).replace('"""', "'") or "none",
        "offers": [
            {"code": o.code, "text": offer_text(o, request.currency, request.language)}
            for o in request.allowed_offers
        ],
        "language": request.language,
        "language_name": LANGUAGE_NAMES[request.language],
        "order_url": order_url(url_template, request),
        "strict": False,
        "reasons": [],
    }


def context_hash(request: EmailRequest) -> str:
    """Same order facts, same hash (key order and formatting don't matter)."""
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
