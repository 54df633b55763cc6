"""Turning an engine's text into a subject and a body (JSON first, then a lenient reading)."""

from __future__ import annotations

import json
import re


class UnparseableOutput(ValueError):
    """The model wrote something that is not an email; counted and regenerated like a failure."""


_SUBJECT = re.compile(r"^\s*(?:\*\*)?(?:subject|betreff)(?:\*\*)?\s*:\s*(.+)$", re.IGNORECASE)
_BODY = re.compile(r"^\s*(?:\*\*)?(?:body|text)(?:\*\*)?\s*:\s*", re.IGNORECASE)


def _from_json(text: str) -> tuple[str, str] | None:
    start, end = text.find("{"), text.rfind("}")
    candidates = [text[start : end + 1]] if 0 <= start < end else []
    if start >= 0 and end < start:  # cut off by max_tokens: close the string and the object
        candidates.append(text[start:].rstrip() + '"}')
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("body"), str):
            return str(data.get("subject") or "").strip(), data["body"].strip()
    return None


def parse_email(text: str, default_subject: str = "") -> tuple[str, str]:
    """``{"subject", "body"}`` JSON, or ``Subject: ...`` then the body, or (small models often
    skip both) plain prose under ``default_subject``; raises when there is no text at all."""
    found = _from_json(text)
    if found is not None and found[1]:
        return found
    lines = text.strip().splitlines()
    for i, line in enumerate(lines):
        m = _SUBJECT.match(line)
        if m:
            rest = [_BODY.sub("", x, count=1) for x in lines[i + 1 :]]
            body = "\n".join(rest).strip()
            if body:
                return m.group(1).strip().strip('"*').strip(), body
    prose = text.strip()
    if default_subject and prose and not prose.startswith("{"):
        return default_subject, prose  # the guardrails judge whether it is an email
    raise UnparseableOutput(f"no subject and body in the model output: {text[:80]!r}")
