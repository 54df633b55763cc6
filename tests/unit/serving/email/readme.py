"""The README's curl example for /v1/emails, as the JSON body it sends."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[4] / "README.md"


def example_body() -> dict[str, Any]:
    text = README.read_text()
    block = text.split("<!-- email-example -->", 1)[1]
    match = re.search(r"-d '(.*?)'\n", block, re.DOTALL)
    assert match, "README: the email example has no -d '...' body"
    body: dict[str, Any] = json.loads(match.group(1))
    return body
